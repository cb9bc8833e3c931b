//! Every SIMD kernel the host supports equals the scalar reference kernel (within 1e-4 of the image
//! peak) on random geometries, configurations and data; results do not depend on the thread count.
//! On a host without AVX-512 the AVX-512 kernel cannot run: the tests say so on stderr.

use ndarray::{Array2, Array3};
use num_complex::Complex32;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sonochip::beamform::{BeamformConfig, Beamformer, Interpolation, KernelChoice, Window};
use sonochip::channel_data::{Metadata, Sampling};
use sonochip::grid::Grid;
use sonochip::probe::{Aperture, ChannelMode, Probe};
use sonochip::sequence::{Sequence, TxEvent, TxKind};

#[derive(Debug, Clone)]
struct Case {
    n_ch: usize,
    pitch_m: f64,
    planar: bool,
    kind: u8,
    param: f64,
    n_samples: usize,
    t0_s: f64,
    interp: u8,
    window: u8,
    f_number: Option<f64>,
    accept: Option<f64>,
    grid: u8,
    z_max_m: f64,
    n_lines: usize,
    n_depths: usize,
    seed: u64,
    n_tx: usize,
    cf: bool,
}

fn case() -> impl Strategy<Value = Case> {
    (
        (1usize..40, 1e-4f64..5e-4, any::<bool>(), 0u8..3, -0.5f64..0.5),
        (
            1usize..900,
            -2e-6f64..4e-6,
            0u8..3,
            0u8..4,
            prop::option::of(0.5f64..4.0),
        ),
        (
            prop::option::of(0.3f64..1.5),
            0u8..3,
            0.003f64..0.05,
            1usize..12,
            1usize..300,
            any::<u64>(),
        ),
        (1usize..20, any::<bool>()),
    )
        .prop_map(|(a, b, c, d)| Case {
            n_ch: a.0,
            pitch_m: a.1,
            planar: a.2,
            kind: a.3,
            param: a.4,
            n_samples: b.0,
            t0_s: b.1,
            interp: b.2,
            window: b.3,
            f_number: b.4,
            accept: c.0,
            grid: c.1,
            z_max_m: c.2,
            n_lines: c.3,
            n_depths: c.4,
            seed: c.5,
            n_tx: d.0,
            cf: d.1,
        })
}

struct Setup {
    meta: Metadata,
    grid: Grid,
    cfg: BeamformConfig,
    rng: ChaCha8Rng,
}

fn setup(c: &Case, iq: bool) -> Option<Setup> {
    let mut rng = ChaCha8Rng::seed_from_u64(c.seed);
    let probe = Probe::linear(c.n_ch, c.pitch_m, 0.9 * c.pitch_m, 5e-3, 1).ok()?;
    let ap = Aperture::columns(&probe, 0..c.n_ch, ChannelMode::Elements).ok()?;
    let c_m_s = 1540.0;
    let kind = match c.kind {
        0 => TxKind::Plane { angle_rad: c.param },
        1 => TxKind::Diverging {
            virtual_source_m: [c.param * 0.01, 0.0, -0.005 - c.param.abs() * 0.01],
        },
        _ => TxKind::Focused {
            focus_m: [c.param * 0.01, 0.0, 0.01 + c.param.abs() * 0.02],
        },
    };
    let ev = TxEvent::new(&ap, kind, vec![1.0; c.n_ch], c_m_s).ok()?;
    let mut events = vec![ev];
    for i in 1..c.n_tx {
        let angle_rad = -0.1 + 0.02 * i as f64;
        events.push(TxEvent::new(&ap, TxKind::Plane { angle_rad }, vec![1.0; c.n_ch], c_m_s).ok()?);
    }
    let seq = Sequence::from_events(events).ok()?;
    let mut positions = ap.channel_positions();
    let mut normals = vec![[0.0, 0.0, 1.0]; c.n_ch];
    if !c.planar {
        for (p, n) in positions.iter_mut().zip(normals.iter_mut()) {
            p[1] = rng.random_range(-1e-3..1e-3);
            p[2] = rng.random_range(-2e-4..2e-4);
            let t: f64 = rng.random_range(-0.3..0.3);
            *n = [t.sin(), 0.0, t.cos()];
        }
    }

    let half = 0.5 * c.n_ch as f64 * c.pitch_m + 2e-3;
    let grid = match c.grid {
        0 => Grid::cartesian((-half, half), c.n_lines, (0.001, c.z_max_m), c.n_depths).ok()?,
        1 => Grid::sector((-0.6, 0.6), c.n_lines, (0.002, c.z_max_m), c.n_depths).ok()?,
        _ => Grid::curved(0.02, (-0.4, 0.4), c.n_lines, (0.0, c.z_max_m), c.n_depths).ok()?,
    };
    let fs = 20e6;
    let sampling = Sampling::new(fs, c.t0_s, c.n_samples).ok()?;
    let meta = Metadata::new(sampling, 5e6, seq, positions, normals).ok()?;
    let meta = if iq {
        meta.demodulated(sampling, 5e6).ok()?
    } else {
        meta
    };
    let cfg = BeamformConfig {
        interpolation: [Interpolation::Nearest, Interpolation::Linear, Interpolation::Cubic][c.interp as usize],
        f_number: c.f_number,
        window: [
            Window::Rectangular,
            Window::Hann,
            Window::Hamming,
            Window::Tukey { alpha: 0.5 },
        ][c.window as usize],
        acceptance_angle_rad: c.accept,
        tx_weights: Some((0..c.n_tx).map(|i| if i % 2 == 0 { 1.0 } else { 0.5 }).collect()),
        coherence_factor: c.cf,
        ..BeamformConfig::default()
    };
    Some(Setup { meta, grid, cfg, rng })
}

fn plan(s: &Setup, k: KernelChoice) -> Option<Beamformer> {
    let cfg = BeamformConfig {
        kernel: k,
        ..s.cfg.clone()
    };
    // Grids entirely outside the record are rejected (a tested error); skip those cases.
    Beamformer::new(&s.meta, &s.grid, cfg).ok()
}

/// True when this CPU has what the AVX-512 kernel needs (checked independently of
/// `KernelChoice::supported`, so that a detection fault cannot skip the kernel silently).
fn host_has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The SIMD kernels this host runs (every one is compared with the scalar kernel); notes once per
/// test binary when the AVX-512 kernel is not among them.
fn simd_kernels() -> Vec<KernelChoice> {
    static NOTE: std::sync::Once = std::sync::Once::new();
    let kernels: Vec<KernelChoice> = KernelChoice::supported()
        .into_iter()
        .filter(|k| *k != KernelChoice::Scalar)
        .collect();
    if !kernels.contains(&KernelChoice::Avx512) {
        NOTE.call_once(|| {
            eprintln!(
                "note: this CPU lacks AVX-512 (F, DQ, VL) + FMA; the AVX-512 kernel was not tested \
                 against the scalar kernel (tested: {kernels:?})"
            )
        });
    }
    kernels
}

/// The AVX-512 kernel is offered exactly when the CPU has its features (and then every test here
/// compares it with the scalar kernel); without them, choosing it is an error.
#[test]
fn avx512_kernel_is_offered_where_the_cpu_has_it() {
    let offered = simd_kernels().contains(&KernelChoice::Avx512);
    assert_eq!(offered, host_has_avx512());
    if offered {
        eprintln!("AVX-512 kernel: compared with the scalar kernel on this host");
    }
    let s = setup(&windowed_case(50e-6, 1, 201), false).unwrap();
    assert_eq!(plan(&s, KernelChoice::Avx512).is_some(), offered);
    if offered {
        assert_eq!(plan(&s, KernelChoice::Avx512).unwrap().kernel(), KernelChoice::Avx512);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn simd_rf_equals_scalar(c in case()) {
        let Some(mut s) = setup(&c, false) else { return Ok(()); };
        let Some(reference) = plan(&s, KernelChoice::Scalar) else { return Ok(()); };
        let data = Array3::from_shape_fn((c.n_tx, c.n_ch, c.n_samples), |_| s.rng.random_range(-1.0f32..1.0));
        let mut want = Array2::zeros(s.grid.shape());
        reference.beamform_raw_into(data.view(), want.view_mut()).unwrap();
        let peak = want.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        for k in simd_kernels() {
            let bf = plan(&s, k).unwrap();
            let mut got = Array2::zeros(s.grid.shape());
            bf.beamform_raw_into(data.view(), got.view_mut()).unwrap();
            let err = got.iter().zip(want.iter()).fold(0.0f32, |a, (x, y)| a.max((x - y).abs()));
            prop_assert!(err <= 1e-4 * peak + 1e-6, "{k:?}: max error {err}, peak {peak}");
        }
    }

    #[test]
    fn simd_iq_equals_scalar(c in case()) {
        let Some(mut s) = setup(&c, true) else { return Ok(()); };
        let Some(reference) = plan(&s, KernelChoice::Scalar) else { return Ok(()); };
        let data = Array3::from_shape_fn((c.n_tx, c.n_ch, c.n_samples), |_| {
            Complex32::new(s.rng.random_range(-1.0f32..1.0), s.rng.random_range(-1.0f32..1.0))
        });
        let mut want = Array2::zeros(s.grid.shape());
        reference.beamform_iq_raw_into(data.view(), want.view_mut()).unwrap();
        let peak = want.iter().fold(0.0f32, |a, v| a.max(v.norm()));
        for k in simd_kernels() {
            let bf = plan(&s, k).unwrap();
            let mut got = Array2::zeros(s.grid.shape());
            bf.beamform_iq_raw_into(data.view(), got.view_mut()).unwrap();
            let err = got.iter().zip(want.iter()).fold(0.0f32, |a, (x, y)| a.max((x - y).norm()));
            prop_assert!(err <= 1e-4 * peak + 1e-6, "{k:?}: max error {err}, peak {peak}");
        }
    }
}

#[test]
fn output_does_not_depend_on_thread_count() {
    let c = Case {
        n_ch: 32,
        pitch_m: 3e-4,
        planar: true,
        kind: 1,
        param: 0.2,
        n_samples: 800,
        t0_s: 0.0,
        interp: 1,
        window: 1,
        f_number: Some(1.5),
        accept: None,
        grid: 0,
        z_max_m: 0.03,
        n_lines: 37,
        n_depths: 301,
        seed: 3,
        n_tx: 2,
        cf: true,
    };
    let mut s = setup(&c, false).unwrap();
    let data = Array3::from_shape_fn((2, 32, 800), |_| s.rng.random_range(-1.0f32..1.0));
    for k in KernelChoice::supported() {
        let bf = plan(&s, k).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let mut img = Array2::zeros(s.grid.shape());
            pool.install(|| bf.beamform_raw_into(data.view(), img.view_mut()).unwrap());
            img
        };
        let one = run(1);
        assert_eq!(one, run(2), "{k:?}");
        assert_eq!(one, run(3), "{k:?}");
    }
}

#[test]
fn points_grid_and_non_standard_data() {
    let c = Case {
        n_ch: 8,
        pitch_m: 3e-4,
        planar: false,
        kind: 2,
        param: 0.1,
        n_samples: 500,
        t0_s: 1e-7,
        interp: 2,
        window: 3,
        f_number: Some(1.0),
        accept: Some(0.8),
        grid: 0,
        z_max_m: 0.02,
        n_lines: 3,
        n_depths: 50,
        seed: 9,
        n_tx: 2,
        cf: false,
    };
    let mut s = setup(&c, false).unwrap();
    s.grid = Grid::points(
        (0..700)
            .map(|i| [1e-5 * i as f64, 1e-4, 0.002 + 2e-5 * i as f64])
            .collect(),
    )
    .unwrap();
    let data = Array3::from_shape_fn((2, 500, 8), |_| s.rng.random_range(-1.0f32..1.0));
    let data = data.view().permuted_axes([0, 2, 1]);
    let mut images = vec![];
    for k in KernelChoice::supported() {
        let bf = plan(&s, k).unwrap();
        let mut img = Array2::zeros(s.grid.shape());
        bf.beamform_raw_into(data.view(), img.view_mut()).unwrap();
        images.push(img);
    }
    let peak = images[0].iter().fold(0.0f32, |a, v| a.max(v.abs()));
    assert!(peak > 0.0);
    for img in &images[1..] {
        let err = img
            .iter()
            .zip(images[0].iter())
            .fold(0.0f32, |a, (x, y)| a.max((x - y).abs()));
        assert!(err <= 1e-4 * peak);
    }
}

/// The case of the windowed tests: plane waves, F# 1.5, `n_depths` depths from 1 mm to
/// `4 mm + 200 · dz_m` (running past the end of the record).
fn windowed_case(dz_m: f64, n_tx: usize, n_depths: usize) -> Case {
    Case {
        n_ch: 48,
        pitch_m: 3e-4,
        planar: true,
        kind: 0,
        param: 0.05,
        n_samples: 300,
        t0_s: 0.0,
        interp: 1,
        window: 0,
        f_number: Some(1.5),
        accept: None,
        grid: 0,
        z_max_m: 0.004 + 200.0 * dz_m,
        n_lines: 24,
        n_depths,
        seed: 7,
        n_tx,
        cf: false,
    }
}

/// Plans whose 8 consecutive depths span less than 15 samples read their taps from contiguous
/// windows (with the range proven once per channel and vector where it can be): SIMD equals scalar
/// with several plane waves, an F-number and a grid running past the end of the record. `dz_m` =
/// 63 µm puts the depth step at 78 µm (2.03 samples two-way): 8 depths span 14.2 samples, just
/// inside the AVX2 window, and 16 depths 30.4, just inside the AVX-512 one (31). Also with the
/// coherence factor, and with tiles whose last 16-lane vector has only 8 depths (211 depths).
#[test]
fn windowed_plans_equal_scalar() {
    // 7 plane waves (the window-proof path) and 1 (the single-transmit path).
    for (dz_m, window, n_tx, n_depths, cf) in [
        (50e-6, Window::Rectangular, 7, 201, false),
        (78e-6, Window::Hann, 7, 201, false),
        (50e-6, Window::Rectangular, 1, 201, false),
        (78e-6, Window::Hann, 1, 201, false),
        (63e-6, Window::Rectangular, 7, 201, false),
        (63e-6, Window::Hann, 1, 201, false),
        (63e-6, Window::Hann, 7, 211, true),
        (63e-6, Window::Rectangular, 3, 211, false),
        (63e-6, Window::Rectangular, 1, 211, true),
        (50e-6, Window::Hamming, 4, 211, false),
    ] {
        let c = Case {
            cf,
            ..windowed_case(dz_m, n_tx, n_depths)
        };
        let mut s = setup(&c, false).unwrap();
        s.cfg.window = window;
        let reference = plan(&s, KernelChoice::Scalar).unwrap();
        let data = Array3::from_shape_fn((c.n_tx, c.n_ch, c.n_samples), |_| s.rng.random_range(-1.0f32..1.0));
        let mut want = Array2::zeros(s.grid.shape());
        reference.beamform_raw_into(data.view(), want.view_mut()).unwrap();
        let peak = want.iter().fold(0.0f32, |a, v| a.max(v.abs()));
        assert!(peak > 0.0);
        for k in simd_kernels() {
            let bf = plan(&s, k).unwrap();
            let mut got = Array2::zeros(s.grid.shape());
            bf.beamform_raw_into(data.view(), got.view_mut()).unwrap();
            let err = got
                .iter()
                .zip(want.iter())
                .fold(0.0f32, |a, (x, y)| a.max((x - y).abs()));
            assert!(
                err <= 1e-4 * peak,
                "{k:?}, dz {dz_m}, {n_tx} tx, {n_depths} depths, CF {cf}: max error {err}, peak {peak}"
            );
        }
    }
}
