//! The live spectral Doppler and M-mode pipelines: streamed slow time gives the offline analysis
//! exactly, whatever the pieces; simulated motion is recovered (a translating target's velocity,
//! a wall's period); bad settings and mismatched ensembles are refused by name.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sonochip::doppler::clutter::{ClutterFilter, StreamingWallFilter};
use sonochip::doppler::live::{
    MModeImager, SonogramDisplay, SonogramMode, SonogramStream, SpectralGate, SpectralImager, SpectralImagerConfig,
};
use sonochip::doppler::pipeline::EnsembleBeamformer;
use sonochip::doppler::spectral::{Sonogram, SpectralDoppler};
use sonochip::phantom::motion::{Motion, MovingPhantom};
use sonochip::prelude::*;
use sonochip::sim::ensemble::Ensemble;
use std::f64::consts::PI;

const C: f64 = 1540.0;
const F0: f64 = 5e6;

/// A slow-time signal `[n, n_gate]`: per gate sample, three tones (one beyond the unshifted
/// Nyquist range, so it aliases), a chirp and white noise.
fn signal(n: usize, n_gate: usize, prf: f64, seed: u64) -> Array2<Complex32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Array2::zeros((n, n_gate));
    for g in 0..n_gate {
        let phase: [f64; 4] = std::array::from_fn(|_| rng.random::<f64>() * 2.0 * PI);
        for k in 0..n {
            let t = k as f64 / prf;
            let mut z = num_complex::Complex64::from_polar(1.0, 2.0 * PI * 0.21 * prf * t + phase[0])
                + num_complex::Complex64::from_polar(0.3, -2.0 * PI * 0.37 * prf * t + phase[1])
                + num_complex::Complex64::from_polar(0.1, 2.0 * PI * 0.61 * prf * t + phase[2])
                + num_complex::Complex64::from_polar(0.5, 2.0 * PI * (0.05 * prf * t + 0.2 * prf * t * t) + phase[3]);
            z += num_complex::Complex64::new(rng.random::<f64>() - 0.5, rng.random::<f64>() - 0.5) * 0.2;
            out[[k, g]] = Complex32::new(z.re as f32, z.im as f32);
        }
    }
    out
}

/// `a` holds the last `a`-many columns of `b`, bit for bit.
fn assert_tail_equal(a: &Sonogram, b: &Sonogram, what: &str) {
    let (na, nb) = (a.time_s.len(), b.time_s.len());
    assert!(na <= nb, "{what}: {na} columns against {nb}");
    let off = nb - na;
    assert_eq!(a.velocity_m_s, b.velocity_m_s, "{what}: axis");
    assert_eq!(a.time_s[..], b.time_s[off..], "{what}: times");
    assert_eq!(a.power_db, b.power_db.slice(s![off.., ..]), "{what}: power");
    assert_eq!(a.max_velocity_m_s[..], b.max_velocity_m_s[off..], "{what}: max trace");
    assert_eq!(
        a.mean_velocity_m_s[..],
        b.mean_velocity_m_s[off..],
        "{what}: mean trace"
    );
    assert_eq!(a.dynamic_range_db, b.dynamic_range_db);
}

fn push_in_pieces(stream: &mut SonogramStream, iq: ArrayView2<'_, Complex32>, piece: usize) -> usize {
    let mut new = 0;
    let mut first = 0;
    while first < iq.nrows() {
        let last = (first + piece).min(iq.nrows());
        new += stream.push(iq.slice(s![first..last, ..])).unwrap();
        first = last;
    }
    new
}

/// The stream fed in pieces of 1, 7, 16 and all at once gives the offline sonogram of the whole
/// signal bit for bit, for one- and three-sample gates, overlapping and gapped windows, and a
/// column ring that wraps; its scrolling display is the offline rendering; display-side settings
/// re-render the kept columns as the offline analysis with those settings computes them.
#[test]
fn streamed_columns_equal_the_offline_sonogram_for_any_pieces() {
    let prf = 4000.0;
    for (fft_len, window_len, hop) in [(128, 96, 16), (64, 40, 50)] {
        let cfg = SpectralDoppler {
            prf_hz: prf,
            f0_hz: F0,
            c_m_s: C,
            fft_len,
            window_len,
            hop,
            ..Default::default()
        };
        for n_gate in [1, 3] {
            let iq = signal(1000, n_gate, prf, 7 + n_gate as u64);
            let offline = if n_gate == 1 {
                cfg.sonogram_1d(iq.column(0).to_vec().as_slice()).unwrap()
            } else {
                cfg.sonogram(iq.view()).unwrap()
            };
            let n_cols = offline.time_s.len();
            for piece in [1, 7, 16, iq.nrows()] {
                for columns in [n_cols, 11] {
                    let mut stream = SonogramStream::new(cfg, n_gate, 96, columns, SonogramDisplay::default()).unwrap();
                    assert_eq!(push_in_pieces(&mut stream, iq.view(), piece), n_cols);
                    assert_eq!(stream.firings(), 1000);
                    let what = format!(
                        "fft {fft_len} window {window_len} hop {hop}, gate {n_gate}, pieces of {piece}, ring {columns}"
                    );
                    assert_tail_equal(&stream.sonogram().unwrap(), &offline, &what);
                    assert_eq!(
                        stream.latest_max_velocity_m_s(),
                        offline.max_velocity_m_s.last().copied()
                    );
                }
            }
        }
    }

    // The display: without the overlay it is the offline rendering; the overlay draws the trace.
    let cfg = SpectralDoppler {
        prf_hz: prf,
        f0_hz: F0,
        c_m_s: C,
        fft_len: 128,
        window_len: 96,
        hop: 16,
        ..Default::default()
    };
    let iq = signal(1000, 2, prf, 3);
    let offline = cfg.sonogram(iq.view()).unwrap();
    let n_cols = offline.time_s.len();
    let plain = SonogramDisplay {
        overlay: false,
        ..SonogramDisplay::default()
    };
    let mut stream = SonogramStream::new(cfg, 2, 100, n_cols, plain).unwrap();
    push_in_pieces(&mut stream, iq.view(), 13);
    let grey = stream.rgb().index_axis(ndarray::Axis(2), 0).to_owned();
    assert_eq!(grey, offline.render(100, n_cols).unwrap());

    // Display-side analysis settings: the kept columns equal the offline analysis with them.
    let changed = SpectralDoppler {
        baseline: 0.25,
        angle_rad: 60f64.to_radians(),
        dynamic_range_db: 30.0,
        trace_below_peak_db: 10.0,
        ..cfg
    };
    stream.set_doppler(changed).unwrap();
    let expected = changed.sonogram(iq.view()).unwrap();
    assert_tail_equal(&stream.sonogram().unwrap(), &expected, "changed settings");
    let grey = stream.rgb().index_axis(ndarray::Axis(2), 0).to_owned();
    assert_eq!(grey, expected.render(100, n_cols).unwrap());
    // Gain brightens every pixel; the overlay paints the trace.
    let before = stream.rgb().to_owned();
    stream.set_display(SonogramDisplay { gain_db: 6.0, ..plain }).unwrap();
    assert!(ndarray::Zip::from(&stream.rgb()).and(&before).all(|a, b| a >= b));
    assert!(stream.rgb().iter().zip(before.iter()).any(|(a, b)| a > b));
    stream.set_display(SonogramDisplay::default()).unwrap();
    let trace_pixels = stream
        .rgb()
        .outer_iter()
        .flat_map(|row| row.outer_iter().map(|p| [p[0], p[1], p[2]]).collect::<Vec<_>>())
        .filter(|p| *p == sonochip::doppler::live_spectral::TRACE_RGB)
        .count();
    assert!(trace_pixels >= n_cols * 9 / 10, "{trace_pixels} trace pixels");

    // Sweep: column k sits at display column k mod width, an erase bar ahead of the newest.
    let width = 20;
    let mut sweep = SonogramStream::new(
        cfg,
        2,
        64,
        width,
        SonogramDisplay {
            mode: SonogramMode::Sweep,
            ..plain
        },
    )
    .unwrap();
    push_in_pieces(&mut sweep, iq.view(), 64);
    let newest = (n_cols - 1) % width;
    let img = sweep.rgb();
    for c in 1..=sonochip::doppler::mmode::ERASE_BAR_COLUMNS {
        let col = (newest + c) % width;
        assert!(img.slice(s![.., col, ..]).iter().all(|&v| v == 0), "erase bar at {col}");
    }
    assert!(img.slice(s![.., newest, ..]).iter().any(|&v| v > 0));
}

/// A 32-element linear probe fired with one line focused at `depth_focus_m`, 5 MHz, with the
/// transducer's fractional bandwidth `bandwidth` and `cycles` cycles of excitation.
fn line_acquisition(depth_focus_m: f64, grid: Grid, depth_m: f64, bandwidth: f64, cycles: f64) -> Acquisition {
    let probe = Probe::linear(32, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let aperture = Aperture::full(&probe, None).unwrap();
    let sequence = Sequence::focused(&aperture, &[[0.0, 0.0, depth_focus_m]], C).unwrap();
    let pulse = Pulse::new(F0, bandwidth, cycles).unwrap();
    Acquisition::for_depth(aperture, sequence, pulse, 20e6, grid, depth_m).unwrap()
}

/// Speckle translating toward the probe at 0.05 m/s through a 1 mm gate, behind a stationary
/// reflector ~20 dB stronger in the gate, fired at 2 kHz: with the streaming wall filter the
/// time-averaged sonogram peaks within one velocity bin of the true velocity (without it, at the
/// reflector's 0 m/s); the maximum-velocity trace lies at or above it. Streaming the ensemble in
/// pieces of 1, 7, 16 and 64 firings, or all at once, gives the same sonogram as beamforming the
/// whole ensemble, wall-filtering it and analysing it offline.
#[test]
fn live_spectral_finds_a_translating_target() {
    let gate_z = 0.015;
    let grid = Grid::cartesian((-0.002, 0.002), 3, (0.012, 0.018), 40).unwrap();
    // A narrow band, as pulsed-wave Doppler uses long bursts: with axial motion every frequency f
    // of the echo shifts by 2·v·f/c, so the Doppler spectrum is the echo's spectrum scaled, and a
    // narrow one peaks sharply at 2·v·f0/c. No attenuation, which would lower the echo's mean
    // frequency.
    let acq = line_acquisition(gate_z, grid, 0.03, 0.2, 8.0);
    let v = 0.05;
    let speckle = SpeckleBuilder::new((-0.0015, 0.0015), (0.012, 0.027), 8.0)
        .unwrap()
        .build(5)
        .unwrap();
    let mut moving = MovingPhantom::still(Phantom::points(&[[0.0, 0.0, gate_z]]).unwrap().scaled(30.0).unwrap());
    moving
        .push(
            speckle,
            Motion::Translation {
                velocity_m_s: [0.0, 0.0, -v],
            },
        )
        .unwrap();
    let (prf, n) = (2000.0, 384);
    let t = std::time::Instant::now();
    let ens = Simulator::new(&acq, Medium::lossless())
        .unwrap()
        .run_ensemble(&moving, prf, n)
        .unwrap();
    eprintln!("spectral: {n} firings simulated in {:.2} s", t.elapsed().as_secs_f64());
    let doppler = SpectralDoppler {
        prf_hz: prf,
        f0_hz: F0,
        c_m_s: C,
        fft_len: 128,
        window_len: 128,
        hop: 32,
        ..Default::default()
    };
    let gate = SpectralGate {
        x_m: 0.0,
        depth_m: gate_z,
        length_m: 0.001,
    };
    let config = SpectralImagerConfig {
        doppler,
        wall: ClutterFilter::Iir { cutoff: 0.03, order: 4 },
        height_px: 128,
        columns: 64,
        ..SpectralImagerConfig::default()
    };
    let bfc = BeamformConfig::default();
    let piece = |len: usize, k: usize| {
        let (a, b) = (k * len, ((k + 1) * len).min(n));
        Ensemble::new(ens.prf_hz(), ens.frames()[a..b].to_vec()).unwrap()
    };
    let mut results = Vec::new();
    for len in [1, 7, 16, 64, n] {
        let mut live = SpectralImager::new(ens.metadata(), gate, bfc.clone(), config).unwrap();
        for k in 0..n.div_ceil(len) {
            live.push(&piece(len, k)).unwrap();
        }
        results.push(live.stream().sonogram().unwrap());
    }
    let expected_cols = doppler.n_columns(n);
    for r in &results {
        assert_eq!(r.time_s.len(), expected_cols);
        assert_tail_equal(r, &results[0], "pieces");
    }
    // The same through the offline pieces: the whole ensemble beamformed on the gate, the wall
    // filter run over slow time, the offline analysis.
    let live = SpectralImager::new(ens.metadata(), gate, bfc.clone(), config).unwrap();
    let gate_grid = Grid::cartesian_from_axes(vec![0.0], live.gate_depths_m().to_vec(), 0.0).unwrap();
    let mut bf = EnsembleBeamformer::new(ens.metadata(), &gate_grid, bfc.clone(), n).unwrap();
    let mut iq = bf.process(&ens).unwrap().index_axis(ndarray::Axis(1), 0).to_owned();
    let mut wall = StreamingWallFilter::new(config.wall, iq.ncols()).unwrap();
    for mut row in iq.outer_iter_mut() {
        wall.process(row.as_slice_mut().unwrap()).unwrap();
    }
    assert_tail_equal(&results[0], &doppler.sonogram(iq.view()).unwrap(), "offline");

    // Physics: the time-averaged spectrum peaks at 2·v·f0/c, within one bin.
    let bin_m_s = doppler.velocity_of(prf / doppler.fft_len as f64);
    let peak_velocity = |s: &Sonogram| {
        let mean: Vec<f64> = (0..s.velocity_m_s.len())
            .map(|i| s.power_db.column(i).iter().map(|&p| 10f64.powf(p as f64 / 10.0)).sum())
            .collect();
        let i = (0..mean.len()).max_by(|&a, &b| mean[a].total_cmp(&mean[b])).unwrap();
        let centroid: f64 = (i.saturating_sub(8)..(i + 9).min(mean.len()))
            .map(|j| mean[j] * s.velocity_m_s[j])
            .sum::<f64>()
            / (i.saturating_sub(8)..(i + 9).min(mean.len()))
                .map(|j| mean[j])
                .sum::<f64>();
        eprintln!(
            "  peak bin {i}: {:.4} m/s, centroid ±8 bins {centroid:.4}",
            s.velocity_m_s[i]
        );
        s.velocity_m_s[i]
    };
    let filtered = peak_velocity(&results[0]);
    let mut no_wall = SpectralImager::new(
        ens.metadata(),
        gate,
        bfc,
        SpectralImagerConfig {
            wall: ClutterFilter::None,
            ..config
        },
    )
    .unwrap();
    no_wall.push(&ens).unwrap();
    let unfiltered = peak_velocity(&no_wall.stream().sonogram().unwrap());
    let trace = &results[0].max_velocity_m_s;
    let trace_mean = trace.iter().sum::<f64>() / trace.len() as f64;
    eprintln!(
        "spectral: peak {filtered:.4} m/s with the wall filter (true {v}, bin {bin_m_s:.4}), {unfiltered:.4} without; \
         max trace mean {trace_mean:.4}"
    );
    assert!((filtered - v).abs() <= bin_m_s, "peak {filtered} against {v}");
    assert!(unfiltered.abs() <= bin_m_s, "unfiltered peak {unfiltered}");
    assert!(
        trace
            .iter()
            .all(|&t| t >= v - bin_m_s && t < doppler.nyquist_velocity_m_s()),
        "{trace:?}"
    );
}

/// A wall oscillating as `z(t) = 20 mm + 1 mm·sin(2π·t/0.1 s)` on line 1 of a three-line grid,
/// fired at 400 Hz and streamed in pieces of 16 firings: the live M-mode image's wall depth
/// (envelope peak per column, parabolic fit) recovers the period within 5 %; a narrower sweep fed
/// the same pieces holds the newest firings in time order; a lower dynamic range blackens more.
#[test]
fn live_mmode_recovers_a_wall_period() {
    let dz = C / F0 / 4.0;
    let zs: Vec<f64> = (0..((0.012 / dz) as usize)).map(|k| 0.014 + k as f64 * dz).collect();
    let grid = Grid::cartesian_from_axes(vec![-0.001, 0.0, 0.001], zs.clone(), 0.0).unwrap();
    let acq = line_acquisition(0.02, grid.clone(), 0.03, 0.6, 2.0);
    let wall: Vec<[f64; 3]> = (0..41).map(|i| [-0.002 + i as f64 * 1e-4, 0.0, 0.02]).collect();
    let (period, prf, n) = (0.1, 400.0, 100);
    let mut m = MovingPhantom::new();
    m.push(
        Phantom::points(&wall).unwrap(),
        Motion::Oscillation {
            amplitude_m: [0.0, 0.0, 1e-3],
            period_s: period,
        },
    )
    .unwrap();
    let ens = Simulator::new(&acq, Medium::soft_tissue())
        .unwrap()
        .run_ensemble(&m, prf, n)
        .unwrap();
    let bfc = BeamformConfig::default();
    let mut full = MModeImager::new(ens.metadata(), &grid, 1, bfc.clone(), n, 50.0).unwrap();
    let mut narrow = MModeImager::new(ens.metadata(), &grid, 1, bfc, 32, 50.0).unwrap();
    for k in 0..n.div_ceil(16) {
        let part = Ensemble::new(prf, ens.frames()[16 * k..(16 * k + 16).min(n)].to_vec()).unwrap();
        full.push(&part).unwrap();
        narrow.push(&part).unwrap();
    }
    assert_eq!(full.firings(), n as u64);
    assert_eq!(full.depths_m(), &zs[..]);
    let env = full.sweep().in_time_order();
    assert_eq!(env.ncols(), n);
    assert_eq!(narrow.sweep().in_time_order(), env.slice(s![.., n - 32..]));
    let depth: Vec<f64> = (0..n)
        .map(|k| {
            let col = env.column(k);
            let i = (1..col.len() - 1).max_by(|&a, &b| col[a].total_cmp(&col[b])).unwrap();
            let (a, b, c) = (col[i - 1] as f64, col[i] as f64, col[i + 1] as f64);
            zs[i] + dz * 0.5 * (a - c) / (a - 2.0 * b + c)
        })
        .collect();
    let mean = depth.iter().sum::<f64>() / n as f64;
    let crossings: Vec<f64> = (0..n - 1)
        .filter(|&k| (depth[k] - mean) * (depth[k + 1] - mean) < 0.0)
        .map(|k| (k as f64 + (mean - depth[k]) / (depth[k + 1] - depth[k])) / prf)
        .collect();
    assert!(crossings.len() >= 3, "{crossings:?}");
    let t_est = 2.0 * (crossings[crossings.len() - 1] - crossings[0]) / (crossings.len() - 1) as f64;
    let swing = depth.iter().fold(f64::MIN, |a, &b| a.max(b)) - depth.iter().fold(f64::MAX, |a, &b| a.min(b));
    eprintln!(
        "M-mode: period {t_est:.4} s (true {period}), peak-to-peak {:.3} mm (true 2)",
        swing * 1e3
    );
    assert!((t_est / period - 1.0).abs() < 0.05, "period {t_est}");
    assert!((swing / 2e-3 - 1.0).abs() < 0.1, "swing {swing}");
    // The wall is the brightest row of each column's image.
    let img = full.image().to_owned();
    assert_eq!(img.dim(), (zs.len(), n));
    let black = |a: &Array2<u8>| a.iter().filter(|&&v| v == 0).count();
    full.set_dynamic_range_db(20.0).unwrap();
    assert!(black(&full.image().to_owned()) > black(&img));
    full.set_dynamic_range_db(50.0).unwrap();
    assert_eq!(full.image(), img);
}

/// Bad settings, inputs and mismatched ensembles are refused with the parameter's name, and a
/// refused push takes nothing.
#[test]
fn bad_parameters_and_mismatched_ensembles_are_named() {
    let cfg = SpectralDoppler {
        prf_hz: 4000.0,
        fft_len: 64,
        window_len: 64,
        hop: 16,
        ..Default::default()
    };
    let d = SonogramDisplay::default();
    let param = |r: sonochip::Result<SonogramStream>| r.unwrap_err().parameter();
    assert_eq!(param(SonogramStream::new(cfg, 0, 64, 64, d)), Some("n_gate"));
    assert_eq!(param(SonogramStream::new(cfg, 1, 1, 64, d)), Some("height_px"));
    assert_eq!(param(SonogramStream::new(cfg, 1, 64, 100_000, d)), Some("columns"));
    assert_eq!(
        param(SonogramStream::new(SpectralDoppler { hop: 0, ..cfg }, 1, 64, 64, d)),
        Some("hop")
    );
    assert_eq!(
        param(SonogramStream::new(
            cfg,
            1,
            64,
            64,
            SonogramDisplay { gain_db: f64::NAN, ..d }
        )),
        Some("gain_db")
    );
    let mut s = SonogramStream::new(cfg, 2, 64, 64, d).unwrap();
    assert_eq!(s.sonogram().unwrap_err().parameter(), Some("sonogram"));
    assert_eq!(
        s.push(Array2::zeros((10, 3)).view()).unwrap_err().parameter(),
        Some("iq")
    );
    let mut bad = Array2::<Complex32>::zeros((10, 2));
    bad[[9, 1]].re = f32::INFINITY;
    assert_eq!(s.push(bad.view()).unwrap_err().parameter(), Some("iq"));
    assert_eq!(s.firings(), 0, "a refused push takes nothing");
    for (edit, name) in [
        (SpectralDoppler { fft_len: 128, ..cfg }, "fft_len"),
        (SpectralDoppler { prf_hz: 5000.0, ..cfg }, "prf_hz"),
        (SpectralDoppler { hop: 8, ..cfg }, "hop"),
        (SpectralDoppler { baseline: 0.9, ..cfg }, "baseline"),
    ] {
        assert_eq!(s.set_doppler(edit).unwrap_err().parameter(), Some(name));
    }
    assert_eq!(*s.doppler(), cfg, "a refused setting changes nothing");

    // The imagers: one small record, one line.
    let dz = C / F0 / 4.0;
    let zs: Vec<f64> = (0..40).map(|k| 0.014 + k as f64 * dz).collect();
    let grid = Grid::cartesian_from_axes(vec![0.0], zs, 0.0).unwrap();
    let acq = line_acquisition(0.015, grid.clone(), 0.02, 0.6, 2.0);
    let other = line_acquisition(0.015, grid.clone(), 0.025, 0.6, 2.0);
    let still = MovingPhantom::still(Phantom::points(&[[0.0, 0.0, 0.015]]).unwrap());
    let sim = Simulator::new(&acq, Medium::soft_tissue()).unwrap();
    let ens = sim.run_ensemble(&still, 4000.0, 3).unwrap();
    let other_ens = Simulator::new(&other, Medium::soft_tissue())
        .unwrap()
        .run_ensemble(&still, 4000.0, 3)
        .unwrap();
    let meta = acq.metadata().unwrap();
    let gate = SpectralGate {
        x_m: 0.0,
        depth_m: 0.015,
        length_m: 0.001,
    };
    let config = SpectralImagerConfig {
        doppler: cfg,
        ..SpectralImagerConfig::default()
    };
    let bfc = BeamformConfig::default();
    let new = |g: SpectralGate, c: SpectralImagerConfig| {
        SpectralImager::new(&meta, g, bfc.clone(), c).unwrap_err().parameter()
    };
    assert_eq!(
        new(
            SpectralGate {
                depth_m: f64::NAN,
                ..gate
            },
            config
        ),
        Some("depth_m")
    );
    assert_eq!(
        new(
            SpectralGate {
                depth_m: 0.0005,
                ..gate
            },
            config
        ),
        Some("depth_m")
    );
    assert_eq!(new(SpectralGate { length_m: 0.03, ..gate }, config), Some("length_m"));
    assert_eq!(new(SpectralGate { x_m: 20.0, ..gate }, config), Some("x_m"));
    let with_wall = |wall| SpectralImagerConfig { wall, ..config };
    assert_eq!(
        new(gate, with_wall(ClutterFilter::Polynomial { order: 2 })),
        Some("clutter")
    );
    assert_eq!(
        new(gate, with_wall(ClutterFilter::Iir { cutoff: 0.0, order: 2 })),
        Some("cutoff")
    );
    assert_eq!(
        new(gate, SpectralImagerConfig { columns: 1, ..config }),
        Some("columns")
    );
    let mut live = SpectralImager::new(&meta, gate, bfc.clone(), config).unwrap();
    assert_eq!(live.push(&other_ens).unwrap_err().parameter(), Some("ensemble"));
    let fast = Ensemble::new(8000.0, ens.frames().to_vec()).unwrap();
    assert_eq!(live.push(&fast).unwrap_err().parameter(), Some("ensemble"));
    assert_eq!(live.stream().firings(), 0);
    assert_eq!(live.push(&ens).unwrap(), 0);
    assert_eq!(live.stream().firings(), 3);
    assert_eq!(
        live.set_wall(ClutterFilter::Svd {
            rank: sonochip::doppler::clutter::SvdRank::Auto
        })
        .unwrap_err()
        .parameter(),
        Some("clutter")
    );

    let mmode = |g: &Grid, line, cols, dr| MModeImager::new(&meta, g, line, bfc.clone(), cols, dr);
    assert_eq!(mmode(&grid, 1, 64, 50.0).unwrap_err().parameter(), Some("line"));
    let points = Grid::points(vec![[0.0, 0.0, 0.015]]).unwrap();
    assert_eq!(mmode(&points, 0, 64, 50.0).unwrap_err().parameter(), Some("grid"));
    assert_eq!(mmode(&grid, 0, 1, 50.0).unwrap_err().parameter(), Some("n_columns"));
    assert_eq!(
        mmode(&grid, 0, 64, 0.0).unwrap_err().parameter(),
        Some("dynamic_range_db")
    );
    let mut m = mmode(&grid, 0, 64, 50.0).unwrap();
    assert_eq!(m.push(&other_ens).unwrap_err().parameter(), Some("ensemble"));
    assert_eq!(m.firings(), 0);
    m.push(&ens).unwrap();
    assert_eq!(
        m.set_dynamic_range_db(500.0).unwrap_err().parameter(),
        Some("dynamic_range_db")
    );
    assert_eq!(m.sweep().filled(), 3);
}
