//! Random valid configurations through the whole chain — probe, aperture, sequence (every transmit
//! type), pulse, sampling, medium, phantom (scatterers anywhere, also behind and on the probe
//! face), simulator, demodulator, beamformer (every option) and the live imager with edited
//! presets — never panic: each run ends in finite output or a typed error. The number of random
//! chains is `SONOCHIP_E2E_CASES` (default 2000); the edited presets, which each plan a whole live
//! imager, run a tenth of that.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use sonochip::prelude::*;
use sonochip::preset::MAX_DERIVED_SAMPLES;

fn cases() -> u32 {
    std::env::var("SONOCHIP_E2E_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

#[derive(Debug, Clone)]
struct Config {
    probe: u8,
    n: usize,
    pitch_m: f64,
    radius_m: f64,
    elements: bool,
    tx: u8,
    n_tx: usize,
    angle: f64,
    fc_hz: f64,
    bandwidth: f64,
    cycles: f64,
    fs_factor: f64,
    depth_m: f64,
    c_m_s: f64,
    attenuation: f64,
    points: Vec<[f64; 3]>,
    grid: u8,
    lines: usize,
    depths: usize,
    iq: bool,
    interp: u8,
    window: u8,
    f_number: Option<f64>,
    accept: Option<f64>,
    cf: bool,
    assumed_c: Option<f64>,
    seed: u64,
}

fn config() -> impl Strategy<Value = Config> {
    (
        (0u8..4, 2usize..48, 1e-4f64..6e-4, 0.005f64..0.06, any::<bool>()),
        (0u8..5, 1usize..6, -0.4f64..0.4),
        (1e6f64..10e6, 0.3f64..1.5, 0.5f64..4.0, 1.0f64..3.0, 0.005f64..0.05),
        (1400.0f64..1650.0, 0.0f64..3.0),
        prop::collection::vec((-0.03f64..0.03, -0.004f64..0.004, -0.005f64..0.06), 0..6),
        (0u8..4, 1usize..24, 1usize..80, any::<bool>()),
        (
            0u8..3,
            0u8..4,
            prop::option::of(0.3f64..4.0),
            prop::option::of(0.2f64..1.5),
            any::<bool>(),
            prop::option::of(1400.0f64..1650.0),
            any::<u64>(),
        ),
    )
        .prop_map(|(p, t, s, m, pts, g, b)| Config {
            probe: p.0,
            n: p.1,
            pitch_m: p.2,
            radius_m: p.3,
            elements: p.4,
            tx: t.0,
            n_tx: t.1,
            angle: t.2,
            fc_hz: s.0,
            bandwidth: s.1,
            cycles: s.2,
            fs_factor: s.3,
            depth_m: s.4,
            c_m_s: m.0,
            attenuation: m.1,
            points: pts.into_iter().map(|(x, y, z)| [x, y, z]).collect(),
            grid: g.0,
            lines: g.1,
            depths: g.2,
            iq: g.3,
            interp: b.0,
            window: b.1,
            f_number: b.2,
            accept: b.3,
            cf: b.4,
            assumed_c: b.5,
            seed: b.6,
        })
}

/// Builds and runs one configuration; `Ok(None)` when a constructor refused it with a typed error.
fn run(c: &Config) -> sonochip::Result<Option<Array2<f32>>> {
    let probe = match c.probe {
        0 => Probe::linear(c.n, c.pitch_m, 0.9 * c.pitch_m, 5e-3, 1)?,
        1 => Probe::convex(c.n, c.pitch_m, 0.9 * c.pitch_m, 5e-3, c.radius_m)?,
        2 => Probe::phased(c.n, c.pitch_m, 0.9 * c.pitch_m, 5e-3)?,
        _ => Probe::cmut_9000(),
    };
    let aperture = if c.probe == 3 {
        let cols = 60..60 + c.n.min(24);
        let mode = if c.elements {
            ChannelMode::Elements
        } else {
            ChannelMode::Columns {
                elevation_focus_m: Some(c.depth_m * 0.5),
            }
        };
        Aperture::new(&probe, cols, 28..36, mode)?
    } else {
        Aperture::full(&probe, if c.elements { None } else { Some(0.02) })?
    };
    let n_ch = aperture.n_channels();
    let sequence = match c.tx {
        0 => Sequence::plane_wave_fan(&aperture, c.angle.abs(), c.n_tx, c.c_m_s)?,
        1 => Sequence::diverging_sector(&aperture, 0.2 + c.angle.abs(), 0.1, c.n_tx, c.c_m_s)?,
        2 => Sequence::focused(&aperture, &[[c.angle * 0.02, 0.0, 0.5 * c.depth_m + 0.002]], c.c_m_s)?,
        3 if n_ch <= 24 => Sequence::synthetic_aperture(&aperture, c.c_m_s)?,
        _ => {
            let delays: Vec<Vec<f64>> = (0..c.n_tx)
                .map(|k| (0..n_ch).map(|i| ((i * (k + 1)) % 7) as f64 * 2e-8).collect())
                .collect();
            let apod = vec![vec![1.0f32; n_ch]; c.n_tx];
            Sequence::from_delays(&aperture, &delays, &apod, c.c_m_s)?
        }
    };
    let pulse = Pulse::new(c.fc_hz, c.bandwidth, c.cycles)?;
    let fs = pulse.nyquist_rate_hz() * c.fs_factor;
    let medium = Medium::new(c.c_m_s, c.attenuation)?;
    let w = 0.5 * aperture.width_m().max(0.002);
    let grid = match c.grid {
        0 => Grid::cartesian((-w, w), c.lines, (0.002, c.depth_m), c.depths)?,
        1 => Grid::sector((-0.6, 0.6), c.lines, (0.002, c.depth_m), c.depths)?,
        2 => Grid::curved(0.02, (-0.4, 0.4), c.lines, (0.0, c.depth_m), c.depths)?,
        _ => Grid::points(
            c.points
                .iter()
                .map(|p| [p[0], 0.0, p[2].abs() + 1e-3])
                .chain([[0.0, 0.0, 0.01]])
                .collect(),
        )?,
    };
    let acq = Acquisition::for_depth(aperture, sequence, pulse, fs, grid, c.depth_m)?;
    let phantom = Phantom::points(&c.points)?;
    let rf = Simulator::new(&acq, medium)?.run(&phantom)?;
    if rf.data().iter().any(|v| !v.is_finite()) {
        return Err(sonochip::Error::invalid("rf", "finite samples", "a non-finite sample"));
    }
    let cfg = BeamformConfig {
        interpolation: [Interpolation::Nearest, Interpolation::Linear, Interpolation::Cubic][c.interp as usize],
        window: [
            Window::Rectangular,
            Window::Hann,
            Window::Hamming,
            Window::Tukey { alpha: 0.3 },
        ][c.window as usize],
        f_number: c.f_number,
        acceptance_angle_rad: c.accept,
        coherence_factor: c.cf,
        sound_speed_m_s: c.assumed_c,
        ..BeamformConfig::default()
    };
    let env = if c.iq {
        let d = Demodulator::for_data(&rf, DemodConfig::new(c.fc_hz, (0.45 * fs).min(c.fc_hz), 2))?;
        let iq = d.demodulate(&rf)?;
        Beamformer::new(iq.meta(), acq.grid(), cfg)?
            .beamform_iq(&iq)?
            .mapv(|v| v.norm())
    } else {
        Beamformer::new(rf.meta(), acq.grid(), cfg)?
            .beamform(&rf)?
            .mapv(f32::abs)
    };
    let _ = c.seed;
    Ok(Some(env))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_chains_end_in_finite_output_or_a_typed_error(c in config()) {
        match run(&c) {
            Ok(Some(env)) => prop_assert!(env.iter().all(|v| v.is_finite()), "non-finite pixel: {c:?}"),
            Ok(None) => {}
            Err(e) => {
                // Typed and named; a non-finite simulation is a defect, not a refusal.
                prop_assert!(e.parameter().is_some() || matches!(e.kind(), ErrorKind::Limits), "{e}");
                prop_assert!(e.parameter() != Some("rf"), "non-finite RF for {c:?}");
            }
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases() / 10, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn edited_presets_image_or_refuse(
        kind in 0usize..8,
        n_tx in 1usize..9,
        lines in 4usize..64,
        depths in 8usize..128,
        depth in 0.0f64..1.0,
        fc_scale in 0.7f64..1.3,
        f_number in prop::option::of(0.5f64..3.0),
        points in prop::collection::vec((-0.02f64..0.02, 0.001f64..0.1), 1..4),
    ) {
        let mut p = Preset::get(PresetKind::ALL[kind]);
        p.n_tx = n_tx;
        // Even line counts: a fixed grid; odd ones: a derived grid with margins 1–1.5.
        let derived = lines % 2 == 1;
        p.grid = if !derived {
            GridDensity::Fixed { lines, depth_samples: depths }
        } else {
            GridDensity::Derived { axial: 1.0 + depths as f64 / 256.0, lateral: 1.0 + lines as f64 / 128.0 }
        };
        p.fc_hz *= fc_scale;
        p.fs_hz = 4.0 * p.fc_hz;
        p.f_number = f_number;
        let (lo, hi) = p.depth_bounds_m;
        let d = lo + depth * (hi - lo);
        let r = Imager::with_depth(p, d).and_then(|mut imager| {
            let pts: Vec<[f64; 3]> = points.iter().map(|&(x, z)| [x, 0.0, z]).collect();
            let rf = imager.simulate(&Phantom::points(&pts)?, Medium::soft_tissue())?;
            imager.process(&rf)?;
            Ok(imager.envelope().iter().all(|v| v.is_finite()))
        });
        match r {
            Ok(finite) => prop_assert!(finite),
            // A derived grid follows the physics, so raising fc and the margins at the deepest
            // depth can ask for more than the 4096-sample cap: that one refusal is legitimate,
            // and it must name the grid and report a count over the cap.
            Err(e) if derived && e.parameter() == Some("grid") => {
                let over = e
                    .to_string()
                    .split("got ")
                    .nth(1)
                    .and_then(|g| g.split_whitespace().next())
                    .and_then(|n| n.parse::<usize>().ok())
                    .is_some_and(|n| n > MAX_DERIVED_SAMPLES);
                prop_assert!(over, "a grid refusal without a count over the cap: {e}");
            }
            Err(e) => return Err(TestCaseError::fail(format!("a valid edited preset failed: {e}"))),
        }
    }
}
