//! Physics of the delay-and-sum beamformer against formulas (`docs/physics.md#resolution`), on simulated data.

use ndarray::Array2;
use sonochip::Error;
use sonochip::beamform::{BeamformConfig, Beamformer, Interpolation, KernelChoice, Window};
use sonochip::channel_data::ChannelData;
use sonochip::channel_data::{Metadata, Sampling};
use sonochip::demod::{DemodConfig, Demodulator};
use sonochip::envelope::EnvelopeDetector;
use sonochip::grid::Grid;
use sonochip::medium::Medium;
use sonochip::metrics::{PointTargetMetrics, point_target};
use sonochip::phantom::{Phantom, SpeckleBuilder, density_for};
use sonochip::probe::{Aperture, ChannelMode, Probe};
use sonochip::pulse::Pulse;
use sonochip::sequence::Sequence;
use sonochip::sim::{SimOptions, Simulator, Subelements};

const C: f64 = 1540.0;
const FC: f64 = 5e6;
const LAMBDA: f64 = C / FC;

/// A 1D linear array of `n` elements at 0.3 mm pitch, every element a channel.
fn linear(n: usize) -> Aperture {
    let probe = Probe::linear(n, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    Aperture::columns(&probe, 0..n, ChannelMode::Elements).unwrap()
}

fn simulate(ap: &Aperture, seq: &Sequence, pulse: Pulse, fs: f64, depth: f64, ph: &Phantom) -> ChannelData {
    let s = Sampling::for_depth(fs, depth, seq, &pulse).unwrap();
    Simulator::from_parts(ap, seq, Medium::lossless(), pulse, s)
        .unwrap()
        .run(ph)
        .unwrap()
}

/// Data of one point at 10 mm depth (Gaussian pulse at `FC`, record to 20 mm), sampled at `fs`.
fn one_point(ap: &Aperture, seq: &Sequence, fs: f64) -> ChannelData {
    let pulse = Pulse::new(FC, 1.0, 1.0).unwrap();
    simulate(ap, seq, pulse, fs, 0.02, &Phantom::points(&[[0.0, 0.0, 0.01]]).unwrap())
}

fn config(f_number: Option<f64>, window: Window) -> BeamformConfig {
    BeamformConfig {
        f_number,
        window,
        ..BeamformConfig::default()
    }
}

/// RF beamforming followed by envelope detection along depth.
fn rf_envelope(data: &ChannelData, grid: &Grid, cfg: BeamformConfig) -> Array2<f32> {
    let bf = Beamformer::for_data(data, grid, cfg).unwrap();
    let img = bf.beamform(data).unwrap();
    EnvelopeDetector::new(grid.shape().1)
        .unwrap()
        .detect_rf(img.view())
        .unwrap()
}

/// A Cartesian grid of ±`hx` × ±`hz` around `p`, with spacings `dx`, `dz`.
fn box_grid(p: [f64; 3], hx: f64, hz: f64, dx: f64, dz: f64) -> Grid {
    let nx = (2.0 * hx / dx).round() as usize + 1;
    let nz = (2.0 * hz / dz).round() as usize + 1;
    Grid::cartesian((p[0] - hx, p[0] + hx), nx, (p[2] - hz, p[2] + hz), nz).unwrap()
}

fn measure(env: &Array2<f32>, grid: &Grid, p: [f64; 3]) -> PointTargetMetrics {
    point_target(env.view(), grid, p, 0.6e-3).unwrap()
}

#[test]
fn point_targets_land_within_a_quarter_wavelength() {
    let ap = linear(64);
    let pulse = Pulse::new(FC, 1.0, 1.0).unwrap();
    let fs = 40e6;
    let points = [[0.0, 0.0, 0.015], [3e-3, 0.0, 0.02]];
    let phantom = Phantom::points(&points).unwrap();
    let seqs = [
        ("plane", Sequence::plane_waves(&ap, &[0.0, 0.15], C).unwrap()),
        (
            "diverging",
            Sequence::diverging_waves(&ap, &[[0.0, 0.0, -0.01], [2e-3, 0.0, -0.008]], C).unwrap(),
        ),
        (
            "focused",
            Sequence::focused(&ap, &[[0.0, 0.0, 0.02], [3e-3, 0.0, 0.02]], C).unwrap(),
        ),
    ];
    let apex = 0.02;
    let mut worst = 0.0f64;
    for (name, seq) in &seqs {
        let data = simulate(&ap, seq, pulse, fs, 0.03, &phantom);
        for p in points {
            let r = (p[0] * p[0] + p[2] * p[2]).sqrt();
            let th = p[0].atan2(p[2]);
            let rc = (p[0] * p[0] + (p[2] + apex).powi(2)).sqrt();
            let thc = p[0].atan2(p[2] + apex);
            let grids = [
                ("cartesian", box_grid(p, 1e-3, 1e-3, LAMBDA / 8.0, LAMBDA / 16.0)),
                (
                    "sector",
                    Grid::sector((th - 1e-3 / r, th + 1e-3 / r), 41, (r - 1e-3, r + 1e-3), 81).unwrap(),
                ),
                (
                    "curved",
                    Grid::curved(
                        apex,
                        (thc - 1e-3 / rc, thc + 1e-3 / rc),
                        41,
                        (rc - apex - 1e-3, rc - apex + 1e-3),
                        81,
                    )
                    .unwrap(),
                ),
            ];
            for (gname, grid) in &grids {
                let env = rf_envelope(&data, grid, config(Some(1.5), Window::Hann));
                let m = measure(&env, grid, p);
                assert!(
                    m.distance_m < LAMBDA / 4.0,
                    "{name} / {gname}: point {p:?} found at {:?} ({:.3} λ off)",
                    m.position_m,
                    m.distance_m / LAMBDA
                );
                worst = worst.max(m.distance_m);
            }
        }
    }
    eprintln!("worst point-target error: {:.3} λ", worst / LAMBDA);
}

/// Lateral and axial −6 dB widths of a point at 20 mm under `seq` with receive F-number 2.
fn widths(seq: &Sequence, ap: &Aperture, pulse: Pulse, window: Window) -> (f64, f64) {
    let p = [0.0, 0.0, 0.02];
    let data = simulate(ap, seq, pulse, 40e6, 0.025, &Phantom::points(&[p]).unwrap());
    let grid = box_grid(p, 2.5e-3, 1e-3, LAMBDA / 20.0, LAMBDA / 20.0);
    let mut cfg = config(Some(2.0), window);
    cfg.interpolation = Interpolation::Cubic;
    let env = rf_envelope(&data, &grid, cfg);
    let m = measure(&env, &grid, p);
    (m.lateral_fwhm_m.unwrap(), m.axial_fwhm_m.unwrap())
}

#[test]
fn lateral_and_axial_resolution_follow_the_formulas() {
    let ap = linear(64);
    let pulse = Pulse::new(FC, 0.6, 2.0).unwrap();
    let f_number = 2.0;
    // One plane wave, rectangular receive apodization: one-way width.
    let single = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
    let (lat1, ax1) = widths(&single, &ap, pulse, Window::Rectangular);
    let want1 = 1.207 * LAMBDA * f_number;
    eprintln!("one-way lateral {:.3} mm, expected {:.3} mm", lat1 * 1e3, want1 * 1e3);
    assert!((lat1 / want1 - 1.0).abs() < 0.15, "one-way lateral {lat1} vs {want1}");
    // Axial: 0.44 c / Δf.
    let want_ax = 0.44 * C / pulse.pulse_echo_bandwidth_hz();
    eprintln!("axial {:.3} mm, expected {:.3} mm", ax1 * 1e3, want_ax * 1e3);
    assert!((ax1 / want_ax - 1.0).abs() < 0.15, "axial {ax1} vs {want_ax}");
    // Hann widens it.
    let (lat_hann, _) = widths(&single, &ap, pulse, Window::Hann);
    let want_hann = 2.001 * LAMBDA * f_number;
    eprintln!(
        "one-way Hann {:.3} mm, expected {:.3} mm",
        lat_hann * 1e3,
        want_hann * 1e3
    );
    assert!(
        (lat_hann / want_hann - 1.0).abs() < 0.15,
        "Hann {lat_hann} vs {want_hann}"
    );
    // Compounding 15 angles spanning the receive aperture's angular extent narrows it towards two-way.
    let half_angle = (0.5 / f_number).atan();
    let fan = Sequence::plane_wave_fan(&ap, half_angle, 15, C).unwrap();
    let (lat_c, _) = widths(&fan, &ap, pulse, Window::Rectangular);
    let want2 = 0.886 * LAMBDA * f_number;
    eprintln!("compounded {:.3} mm, two-way {:.3} mm", lat_c * 1e3, want2 * 1e3);
    assert!(lat_c < 0.9 * lat1, "compounding did not narrow: {lat_c} vs {lat1}");
    assert!((lat_c / want2 - 1.0).abs() < 0.15, "compounded {lat_c} vs {want2}");
}

#[test]
fn speckle_is_rayleigh() {
    let ap = linear(64);
    let pulse = Pulse::new(FC, 1.0, 1.0).unwrap();
    let seq = Sequence::plane_wave_fan(&ap, 0.1, 5, C).unwrap();
    let f_number = 1.5;
    let lat = 1.207 * LAMBDA * f_number;
    let ax = 0.44 * C / pulse.pulse_echo_bandwidth_hz();
    let density = density_for(12.0, lat, ax);
    let ph = SpeckleBuilder::new((-6e-3, 6e-3), (0.012, 0.028), density)
        .unwrap()
        .build(7)
        .unwrap();
    let data = simulate(&ap, &seq, pulse, 20e6, 0.03, &ph);
    let grid = Grid::cartesian((-4e-3, 4e-3), 81, (0.015, 0.025), 261).unwrap();
    let env = rf_envelope(&data, &grid, config(Some(f_number), Window::Rectangular));
    let v: Vec<f64> = env.iter().map(|&e| e as f64).collect();
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    eprintln!("speckle mean/std = {:.3}", mean / sd);
    assert!((mean / sd - 1.913).abs() < 0.15, "speckle SNR {}", mean / sd);
}

#[test]
fn rf_and_iq_images_agree() {
    let ap = linear(48);
    let pulse = Pulse::new(FC, 0.8, 1.5).unwrap();
    let seq = Sequence::plane_wave_fan(&ap, 0.1, 3, C).unwrap();
    let points = [[0.0, 0.0, 0.012], [2e-3, 0.0, 0.018], [-2.5e-3, 0.0, 0.015]];
    // Far-field elements (`Subelements::None`): split into sub-elements, the 5 mm elements'
    // elevation near field (to h²/λ = 81 mm) changes the echoes' spectrum at 12–18 mm, and the
    // RF and IQ images then differ by up to 0.57 dB on a bright pixel. The test compares the two
    // beamformers on the data it was written for, not the simulator's near field.
    let s = Sampling::for_depth(40e6, 0.022, &seq, &pulse).unwrap();
    let data = Simulator::from_parts(&ap, &seq, Medium::lossless(), pulse, s)
        .unwrap()
        .with_options(SimOptions {
            subelements: Subelements::None,
            ..SimOptions::default()
        })
        .unwrap()
        .run(&Phantom::points(&points).unwrap())
        .unwrap();
    let grid = Grid::cartesian((-4e-3, 4e-3), 81, (0.01, 0.02), 400).unwrap();
    let mut cfg = config(Some(1.5), Window::Hann);
    cfg.interpolation = Interpolation::Cubic;
    let env_rf = rf_envelope(&data, &grid, cfg.clone());
    let dm = Demodulator::for_data(&data, DemodConfig::new(FC, 4e6, 4)).unwrap();
    let iq = dm.demodulate(&data).unwrap();
    assert_eq!(iq.meta().demod_hz(), Some(FC));
    assert_eq!(iq.fs_hz(), 10e6);
    assert_eq!(iq.t0_s(), data.t0_s());
    let bf = Beamformer::for_data(&iq, &grid, cfg).unwrap();
    let img = bf.beamform_iq(&iq).unwrap();
    let peak = env_rf.iter().cloned().fold(0.0f32, f32::max);
    let mut worst = 0.0f64;
    let mut n = 0;
    for (a, b) in env_rf.iter().zip(img.iter()) {
        if *a > 0.5 * peak {
            let db = 20.0 * (b.norm() as f64 / *a as f64).log10();
            worst = worst.max(db.abs());
            n += 1;
        }
    }
    eprintln!("RF vs IQ over {n} bright pixels: worst {worst:.3} dB");
    assert!(n > 20 && worst < 0.5, "RF and IQ differ by {worst} dB");
}

#[test]
fn demodulation_round_trip() {
    // A Gaussian pulse at fc: |IQ| matches the analytic envelope, and remodulating the IQ (upsampled
    // by the decimation factor) gives back the RF.
    let (fs, n) = (40e6, 512);
    let t0 = 1e-6;
    let rf: Vec<f32> = (0..n)
        .map(|k| {
            let t = t0 + k as f64 / fs - t0 - 256.0 / fs;
            ((-(t / 0.2e-6).powi(2)).exp() * (2.0 * std::f64::consts::PI * FC * (t0 + k as f64 / fs)).cos()) as f32
        })
        .collect();
    let arr = ndarray::Array3::from_shape_vec((1, 1, n), rf.clone()).unwrap();
    let dm = Demodulator::new(Sampling::new(fs, t0, n).unwrap(), DemodConfig::new(FC, 5e6, 2)).unwrap();
    let mut iq = ndarray::Array3::zeros((1, 1, dm.output_len()));
    dm.demodulate_into(arr.view(), iq.view_mut()).unwrap();
    for m in (0..dm.output_len()).step_by(7) {
        let k = 2 * m;
        let t = t0 + k as f64 / fs;
        let env = (-((k as f64 - 256.0) / fs / 0.2e-6).powi(2)).exp();
        let back =
            (iq[[0, 0, m]] * num_complex::Complex32::from_polar(1.0, (2.0 * std::f64::consts::PI * FC * t) as f32)).re;
        assert!((iq[[0, 0, m]].norm() as f64 - env).abs() < 1e-2, "envelope at {k}");
        assert!((back - rf[k]).abs() < 1e-2, "remodulated at {k}: {back} vs {}", rf[k]);
    }
}

#[test]
fn errors_for_mismatches() {
    let ap = linear(16);
    let seq = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
    let data = one_point(&ap, &seq, 20e6);
    let grid = Grid::cartesian((-2e-3, 2e-3), 8, (0.005, 0.015), 32).unwrap();
    let bf = Beamformer::for_data(&data, &grid, BeamformConfig::default()).unwrap();
    // Wrong image shape.
    let mut small = Array2::zeros((8, 31));
    assert!(matches!(
        bf.beamform_into(&data, small.view_mut()),
        Err(Error::ShapeMismatch { .. })
    ));
    // Data of another shape (more transmits).
    let seq2 = Sequence::plane_waves(&ap, &[0.0, 0.1], C).unwrap();
    let data2 = one_point(&ap, &seq2, 20e6);
    assert!(matches!(bf.beamform(&data2), Err(Error::ShapeMismatch { .. })));
    // Other sampling rate.
    let data3 = one_point(&ap, &seq, 25e6);
    assert!(bf.beamform(&data3).is_err());
    // Empty aperture.
    let m = data.meta();
    assert!(matches!(
        Metadata::new(m.sampling(), m.fc_hz(), seq.clone(), vec![], vec![]).and_then(|meta| Beamformer::new(
            &meta,
            &grid,
            BeamformConfig::default()
        )),
        Err(Error::Empty { .. })
    ));
    // A grid entirely beyond the record.
    let far = Grid::cartesian((-2e-3, 2e-3), 4, (0.5, 0.6), 8).unwrap();
    assert!(matches!(
        Beamformer::for_data(&data, &far, BeamformConfig::default()),
        Err(Error::InvalidParameter { name: "grid", .. })
    ));
    // Bad configurations.
    for cfg in [
        BeamformConfig {
            f_number: Some(-1.0),
            ..BeamformConfig::default()
        },
        BeamformConfig {
            acceptance_angle_rad: Some(2.0),
            ..BeamformConfig::default()
        },
        BeamformConfig {
            tx_weights: Some(vec![1.0, 2.0]),
            ..BeamformConfig::default()
        },
        BeamformConfig {
            f_number: Some(1.0),
            window: Window::Tukey { alpha: 1.5 },
            ..BeamformConfig::default()
        },
    ] {
        assert!(Beamformer::for_data(&data, &grid, cfg).is_err());
    }
    // An unsupported kernel is an error, a supported one is not.
    let cfg = BeamformConfig {
        kernel: KernelChoice::Avx2,
        ..BeamformConfig::default()
    };
    assert_eq!(
        Beamformer::for_data(&data, &grid, cfg).is_ok(),
        KernelChoice::supported().contains(&KernelChoice::Avx2)
    );
    // RF data into an IQ plan and vice versa.
    let iq = Demodulator::for_data(&data, DemodConfig::new(FC, 2.5e6, 4))
        .unwrap()
        .demodulate(&data)
        .unwrap();
    let bf_iq = Beamformer::for_data(&iq, &grid, BeamformConfig::default()).unwrap();
    assert!(
        bf_iq
            .beamform_raw_into(data.data().view(), Array2::zeros((8, 32)).view_mut())
            .is_err()
    );
    assert!(bf.beamform_iq(&iq).is_err());
}

#[test]
fn transmit_weights_scale_contributions() {
    let ap = linear(16);
    let seq = Sequence::plane_waves(&ap, &[0.0, 0.1], C).unwrap();
    let data = one_point(&ap, &seq, 20e6);
    let grid = Grid::cartesian((-2e-3, 2e-3), 8, (0.005, 0.015), 40).unwrap();
    let img = |w: Vec<f32>| {
        let cfg = BeamformConfig {
            tx_weights: Some(w),
            ..BeamformConfig::default()
        };
        Beamformer::for_data(&data, &grid, cfg)
            .unwrap()
            .beamform(&data)
            .unwrap()
    };
    let (a, b, ab) = (img(vec![1.0, 0.0]), img(vec![0.0, 2.0]), img(vec![1.0, 2.0]));
    for ((x, y), z) in a.iter().zip(b.iter()).zip(ab.iter()) {
        assert!((x + y - z).abs() <= 1e-4 * (x.abs() + y.abs() + 1e-3));
    }
}

/// The coherence factor of every pixel, `image_with_cf / image` (IQ, so the ratio is defined
/// wherever the coherent sum is not zero).
fn coherence_map(data: &ChannelData<num_complex::Complex32>, grid: &Grid, cfg: BeamformConfig) -> Array2<f32> {
    let plain = Beamformer::for_data(data, grid, cfg.clone())
        .unwrap()
        .beamform_iq(data)
        .unwrap();
    let cf_cfg = BeamformConfig {
        coherence_factor: true,
        ..cfg
    };
    let weighted = Beamformer::for_data(data, grid, cf_cfg)
        .unwrap()
        .beamform_iq(data)
        .unwrap();
    ndarray::Zip::from(&weighted)
        .and(&plain)
        .map_collect(|w, p| if p.norm() > 0.0 { w.norm() / p.norm() } else { 0.0 })
}

/// IQ channel data of `ap` with every sample drawn by `f(tx, channel, sample)`.
fn iq_data(
    ap: &Aperture,
    seq: &Sequence,
    n: usize,
    mut f: impl FnMut(usize, usize, usize) -> num_complex::Complex32,
) -> ChannelData<num_complex::Complex32> {
    let sampling = Sampling::new(10e6, 0.0, n).unwrap();
    let meta = Metadata::for_aperture(sampling, FC, seq.clone(), ap)
        .and_then(|m| m.demodulated(sampling, FC))
        .unwrap();
    let d = ndarray::Array3::from_shape_fn((seq.len(), ap.n_channels(), n), |(t, c, k)| f(t, c, k));
    ChannelData::new(d, meta).unwrap()
}

#[test]
fn coherence_factor_matches_its_definition() {
    let ap = linear(32);
    let seq = Sequence::plane_waves(&ap, &[-0.05, 0.0, 0.05], C).unwrap();
    let grid = Grid::cartesian((-4e-3, 4e-3), 9, (5e-3, 25e-3), 40).unwrap();
    // Constant data (taps inside the record everywhere): every channel's signal has the same
    // magnitude, so CF = (Σ w)² / (N Σ w²): 1 for a rectangular window, less for Hann.
    let data = iq_data(&ap, &seq, 800, |_, _, _| num_complex::Complex32::new(1.0, 0.0));
    for k in KernelChoice::supported() {
        let cfg = BeamformConfig {
            kernel: k,
            ..BeamformConfig::default()
        };
        let cf = coherence_map(&data, &grid, cfg.clone());
        // The receive phasors differ between channels, so the channels are not in phase: compute
        // the expected value from the definition with the plan's geometry.
        let pos = ap.channel_positions();
        for (l, d) in [(0usize, 0usize), (4, 20), (8, 39)] {
            let p = grid.position(l, d);
            let (mut sr, mut si, mut inc) = (0.0f64, 0.0f64, 0.0f64);
            for q in &pos {
                let r = ((p[0] - q[0]).powi(2) + (p[2] - q[2]).powi(2)).sqrt();
                let ph = 2.0 * std::f64::consts::PI * FC * r / C;
                // Σ over transmits of exp(i·2π·fc·τ_tx) is common to all channels: it cancels.
                sr += ph.cos();
                si += ph.sin();
                inc += 1.0;
            }
            let want = (sr * sr + si * si) / (pos.len() as f64 * inc);
            let got = cf[[l, d]] as f64;
            assert!(
                (got - want).abs() < 1e-3,
                "{k:?} pixel ({l}, {d}): CF {got}, expected {want}"
            );
        }
        assert!(cf.iter().all(|&v| (0.0..=1.0 + 1e-5).contains(&v)), "{k:?}");
    }
}

#[test]
fn coherence_factor_of_noise_is_one_over_n() {
    // Independent noise on every channel: E|Σ s|² = Σ E|s|², so CF ≈ 1/N on average.
    use rand::{Rng, SeedableRng};
    let ap = linear(32);
    let seq = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
    let grid = Grid::cartesian((-4e-3, 4e-3), 41, (5e-3, 25e-3), 200).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let data = iq_data(&ap, &seq, 800, |_, _, _| {
        num_complex::Complex32::new(rng.random_range(-1.0..1.0), rng.random_range(-1.0..1.0))
    });
    let cf = coherence_map(&data, &grid, BeamformConfig::default());
    let mean = cf.iter().map(|&v| v as f64).sum::<f64>() / cf.len() as f64;
    assert!(
        (mean * 32.0 - 1.0).abs() < 0.2,
        "mean CF {mean}, expected about {}",
        1.0 / 32.0
    );
}

#[test]
fn coherence_factor_suppresses_side_lobes() {
    // A point target imaged with one plane wave: CF keeps the target and darkens the side lobes.
    let ap = linear(64);
    let pulse = Pulse::new(FC, 1.0, 1.0).unwrap();
    let seq = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
    let p = [0.0, 0.0, 0.02];
    let data = simulate(&ap, &seq, pulse, 40e6, 0.03, &Phantom::points(&[p]).unwrap());
    let grid = box_grid(p, 6e-3, 2e-3, LAMBDA / 4.0, LAMBDA / 8.0);
    let plain = rf_envelope(&data, &grid, config(Some(1.5), Window::Rectangular));
    let cf = rf_envelope(
        &data,
        &grid,
        BeamformConfig {
            coherence_factor: true,
            ..config(Some(1.5), Window::Rectangular)
        },
    );
    // Side-lobe level: the largest envelope more than 2 mm lateral from the target, in dB of the peak.
    let side = |env: &Array2<f32>| {
        let peak = env.iter().fold(0.0f32, |a, &v| a.max(v));
        let (nl, nd) = env.dim();
        let mut s = 0.0f32;
        for l in 0..nl {
            for d in 0..nd {
                if (grid.position(l, d)[0] - p[0]).abs() > 2e-3 {
                    s = s.max(env[[l, d]]);
                }
            }
        }
        20.0 * (s / peak).log10()
    };
    let (a, b) = (side(&plain), side(&cf));
    assert!(b < a - 10.0, "side lobes {a:.1} dB without CF, {b:.1} dB with CF");
    let m = measure(&cf, &grid, p);
    assert!(m.distance_m < LAMBDA / 4.0, "position error {} m", m.distance_m);
}

/// An explicit delay table (another toolbox's transmit, given per channel) images a point where
/// the analytic model does: plane-wave and diverging-wave delays passed as tables put the point
/// within λ/8 of the analytic model's image, with the same peak within 2 %.
#[test]
fn explicit_delay_tables_image_like_the_analytic_models() {
    let ap = linear(64);
    let p = [2e-3, 0.0, 0.015];
    let analytic = [
        Sequence::plane_waves(&ap, &[-0.1, 0.1], C).unwrap(),
        Sequence::diverging_waves(&ap, &[[0.0, 0.0, -0.01]], C).unwrap(),
    ];
    let pulse = Pulse::new(FC, 1.0, 1.0).unwrap();
    let grid = box_grid(p, 1e-3, 1e-3, LAMBDA / 8.0, LAMBDA / 16.0);
    for seq in &analytic {
        let delays: Vec<Vec<f64>> = seq.events().iter().map(|e| e.delays_s().to_vec()).collect();
        let apod: Vec<Vec<f32>> = seq.events().iter().map(|e| e.apod().to_vec()).collect();
        let table = Sequence::from_delays(&ap, &delays, &apod, C).unwrap();
        let phantom = Phantom::points(&[p]).unwrap();
        let (a, t) = (
            simulate(&ap, seq, pulse, 40e6, 0.03, &phantom),
            simulate(&ap, &table, pulse, 40e6, 0.03, &phantom),
        );
        let (ea, et) = (
            rf_envelope(&a, &grid, config(Some(1.5), Window::Hann)),
            rf_envelope(&t, &grid, config(Some(1.5), Window::Hann)),
        );
        let (ma, mt) = (measure(&ea, &grid, p), measure(&et, &grid, p));
        let shift =
            ((ma.position_m[0] - mt.position_m[0]).powi(2) + (ma.position_m[1] - mt.position_m[1]).powi(2)).sqrt();
        assert!(shift <= LAMBDA / 8.0, "peak moved {shift:e} m");
        assert!(
            mt.distance_m < LAMBDA / 4.0,
            "table: {:e} m from the point",
            mt.distance_m
        );
        let (pa, pt) = (
            ea.iter().fold(0f32, |m, v| m.max(*v)),
            et.iter().fold(0f32, |m, v| m.max(*v)),
        );
        assert!((pa / pt - 1.0).abs() < 0.02, "peaks {pa} vs {pt}");
    }
}

/// Data recorded in a medium at 1580 m/s: a beamformer that assumes 1580 m/s puts the point where
/// it is and focuses it better than one that assumes the sequence's 1540 m/s.
#[test]
fn the_assumed_speed_of_sound_focuses_a_mismatched_medium() {
    let ap = linear(96);
    let seq = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
    let pulse = Pulse::new(FC, 1.0, 1.0).unwrap();
    let p = [0.0, 0.0, 0.025];
    let s = Sampling::for_depth(40e6, 0.04, &seq, &pulse).unwrap();
    let medium = Medium::new(1580.0, 0.0).unwrap();
    let data = Simulator::from_parts(&ap, &seq, medium, pulse, s)
        .unwrap()
        .run(&Phantom::points(&[p]).unwrap())
        .unwrap();
    // The point appears deeper by 1580/1540 when imaged at 1540 m/s: a grid around both.
    let grid = Grid::cartesian((-2e-3, 2e-3), 81, (0.0235, 0.0275), 161).unwrap();
    let run = |c: Option<f64>| {
        let cfg = BeamformConfig {
            sound_speed_m_s: c,
            ..config(Some(1.5), Window::Rectangular)
        };
        let env = rf_envelope(&data, &grid, cfg);
        let peak = env.iter().fold(0f32, |m, v| m.max(*v));
        (measure(&env, &grid, p), peak)
    };
    let ((matched, peak_m), (nominal, peak_n)) = (run(Some(1580.0)), run(None));
    assert!(matched.distance_m < LAMBDA / 4.0, "matched: {:e} m", matched.distance_m);
    assert!(
        nominal.distance_m > matched.distance_m,
        "{:e} vs {:e}",
        nominal.distance_m,
        matched.distance_m
    );
    assert!(peak_m > peak_n, "matched peak {peak_m} vs {peak_n}");
    let bad = BeamformConfig {
        sound_speed_m_s: Some(f64::NAN),
        ..BeamformConfig::default()
    };
    assert!(matches!(
        Beamformer::for_data(&data, &grid, bad),
        Err(Error::InvalidParameter {
            name: "sound_speed_m_s",
            ..
        })
    ));
}
