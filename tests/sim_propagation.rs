//! Propagation a sonographer expects (`docs/physics.md#propagation-effects`): attenuation that
//! depends on the tissue along the path (posterior enhancement behind fluid, shadows behind
//! strongly attenuating tissue, the frequency downshift of the equivalent path), and a specular
//! interface with its reverberations (A-lines). Each against formulas computed here, independently
//! of the simulator's path integral.

mod common;

use common::{dtft_mag, envelope};
use ndarray::s;
use sonochip::channel_data::Sampling;
use sonochip::medium::{AttenuationMap, AttenuationRegion, FLUID_DB_CM_MHZ, Medium};
use sonochip::phantom::{Phantom, SpecularInterface};
use sonochip::probe::{Aperture, Probe};
use sonochip::pulse::Pulse;
use sonochip::sequence::Sequence;
use sonochip::sim::Simulator;

const C: f64 = 1540.0;
const FS: f64 = 40e6;

/// One small element transmitting and receiving (an A-line).
fn one_element(fc: f64, depth: f64) -> (Aperture, Sequence, Pulse, Sampling) {
    let probe = Probe::linear(1, 3e-4, 2.7e-4, 3e-4, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::synthetic_aperture(&ap, C).unwrap();
    let pulse = Pulse::new(fc, 0.8, 1.0).unwrap();
    let s = Sampling::for_depth(FS, depth, &seq, &pulse).unwrap();
    (ap, seq, pulse, s)
}

/// The trace of channel 0, event 0.
fn trace(sim: &Simulator, ph: &Phantom) -> Vec<f32> {
    sim.run(ph).unwrap().data().slice(s![0, 0, ..]).to_vec()
}

/// Length of the chord of a disk (centre `c`, radius `r`) cut by the line from the origin through
/// `p`, in the x–z plane, metres: `2·√(r² − b²)` with `b` the line's distance from the centre.
fn chord(c: [f64; 2], r: f64, p: [f64; 2]) -> f64 {
    let n = (p[0] * p[0] + p[1] * p[1]).sqrt();
    let b = (c[0] * p[1] - c[1] * p[0]).abs() / n;
    2.0 * (r * r - b * b).max(0.0).sqrt()
}

/// Posterior enhancement behind a fluid disk and a shadow behind a strongly attenuating
/// rectangle: the echo of a point target behind each changes, at fc, by
/// `−2·(α_region − α_tissue)·f·chord` dB, the chord along the ray from the probe, within 0.25 dB
/// (on axis and off axis; one element, and a 32-element array whose channels all see the
/// scatterer through the centre ray's tissue).
#[test]
fn enhancement_behind_fluid_and_shadow_behind_an_attenuating_region() {
    let fc = 5e6;
    let tissue = Medium::soft_tissue();
    let (ap, seq, pulse, s) = one_element(fc, 0.05);
    let plain = Simulator::from_parts(&ap, &seq, tissue, pulse, s).unwrap();
    let (cyst, r) = ([0.0, 0.02], 0.008);
    let fluid = AttenuationMap::new(vec![AttenuationRegion::disk(cyst, r, FLUID_DB_CM_MHZ)]).unwrap();
    let bone_db = 10.0;
    let (x_r, z_r) = ((-0.004, 0.004), (0.018, 0.022));
    let block = AttenuationMap::new(vec![AttenuationRegion::rect(x_r, z_r, bone_db)]).unwrap();
    let db = |a: &[f32], b: &[f32]| 20.0 * (dtft_mag(a, FS, fc) / dtft_mag(b, FS, fc)).log10();
    for p in [[0.0, 0.04], [0.003, 0.04]] {
        let ph = Phantom::points(&[[p[0], 0.0, p[1]]]).unwrap();
        let reference = trace(&plain, &ph);
        // Fluid: the ray crosses a chord of the disk with 0.002 instead of 0.5 dB/(cm·MHz).
        let with_fluid = trace(&plain.clone().with_attenuation(fluid.clone()), &ph);
        let measured = db(&with_fluid, &reference);
        let expected = -2.0 * (FLUID_DB_CM_MHZ - 0.5) * (fc * 1e-6) * chord(cyst, r, p) * 100.0;
        eprintln!(
            "enhancement at x = {} mm: {measured:.2} dB, expected {expected:.2} dB",
            p[0] * 1e3
        );
        assert!((measured - expected).abs() < 0.25, "{measured} vs {expected}");
        assert!(expected > 5.0);
        // The block: a path of (z_hi − z_lo)/cos θ through 10 dB/(cm·MHz).
        let with_block = trace(&plain.clone().with_attenuation(block.clone()), &ph);
        let measured = db(&with_block, &reference);
        let path = (z_r.1 - z_r.0) * (p[0] * p[0] + p[1] * p[1]).sqrt() / p[1];
        let expected = -2.0 * (bone_db - 0.5) * (fc * 1e-6) * path * 100.0;
        eprintln!(
            "shadow at x = {} mm: {measured:.2} dB, expected {expected:.2} dB",
            p[0] * 1e3
        );
        assert!((measured - expected).abs() < 0.25, "{measured} vs {expected}");
        assert!(expected < -30.0);
    }
    // A 32-element array, plane wave: every channel's echo is enhanced alike.
    let probe = Probe::linear(32, 3e-4, 2.7e-4, 3e-4, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
    let s = Sampling::for_depth(FS, 0.05, &seq, &pulse).unwrap();
    let plain = Simulator::from_parts(&ap, &seq, tissue, pulse, s).unwrap();
    let ph = Phantom::points(&[[0.0, 0.0, 0.04]]).unwrap();
    let (a, b) = (
        plain.clone().with_attenuation(fluid).run(&ph).unwrap(),
        plain.run(&ph).unwrap(),
    );
    let expected = -2.0 * (FLUID_DB_CM_MHZ - 0.5) * (fc * 1e-6) * 2.0 * r * 100.0;
    for ch in [0, 16, 31] {
        let (x, y) = (
            a.data().slice(s![0, ch, ..]).to_vec(),
            b.data().slice(s![0, ch, ..]).to_vec(),
        );
        let measured = db(&x, &y);
        assert!(
            (measured - expected).abs() < 1.0,
            "channel {ch}: {measured} vs {expected}"
        );
    }
}

/// A linear array's plane wave goes straight down and its receive aperture sits above the
/// scatterer: a point target at x = 8 mm under a fluid-filled block at 6–12 mm is enhanced by both
/// legs' vertical paths through the block (4.98 dB at 5 MHz for 10 mm), not by the oblique ray
/// from the aperture's centre (which crosses 1.3 mm of it, 0.6 dB).
#[test]
fn linear_array_enhancement_follows_the_vertical_paths() {
    let fc = 5e6;
    let probe = Probe::linear(64, 3e-4, 2.7e-4, 3e-4, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
    let pulse = Pulse::new(fc, 0.8, 1.0).unwrap();
    let s = Sampling::for_depth(FS, 0.04, &seq, &pulse).unwrap();
    let plain = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s).unwrap();
    let (z0, z1) = (0.01, 0.02);
    let map = AttenuationMap::new(vec![AttenuationRegion::rect((0.005, 0.011), (z0, z1), FLUID_DB_CM_MHZ)]).unwrap();
    let ph = Phantom::points(&[[0.008, 0.0, 0.03]]).unwrap();
    let (a, b) = (
        plain.clone().with_attenuation(map).run(&ph).unwrap(),
        plain.run(&ph).unwrap(),
    );
    let expected = -2.0 * (FLUID_DB_CM_MHZ - 0.5) * (fc * 1e-6) * (z1 - z0) * 100.0;
    // The channel above the target.
    let ch = 58;
    let (x, y) = (
        a.data().slice(s![0, ch, ..]).to_vec(),
        b.data().slice(s![0, ch, ..]).to_vec(),
    );
    let measured = 20.0 * (dtft_mag(&x, FS, fc) / dtft_mag(&y, FS, fc)).log10();
    eprintln!("linear array: {measured:.2} dB, expected {expected:.2} dB");
    assert!((measured - expected).abs() < 0.25, "{measured} vs {expected}");
}

/// Least-squares slope of `ln|X(f)| − ln|Y(f)|` over `f` (Np/Hz) on the band `fc ± 0.6·fc·B/2`.
fn log_ratio_slope(x: &[f32], y: &[f32], fc: f64) -> f64 {
    let fs: Vec<f64> = (0..41).map(|i| fc * (0.76 + 0.012 * i as f64)).collect();
    let v: Vec<f64> = fs
        .iter()
        .map(|&f| (dtft_mag(x, FS, f) / dtft_mag(y, FS, f)).ln())
        .collect();
    let n = fs.len() as f64;
    let (mf, mv) = (fs.iter().sum::<f64>() / n, v.iter().sum::<f64>() / n);
    let cov: f64 = fs.iter().zip(&v).map(|(f, v)| (f - mf) * (v - mv)).sum();
    let var: f64 = fs.iter().map(|f| (f - mf).powi(2)).sum();
    cov / var
}

/// The frequency downshift follows the tissue on the path: the spectrum of an echo behind an
/// attenuating layer, over the same echo without any loss, is `exp(−|f|·A)` with
/// `A = 2·∫α ds` — the slope of its logarithm over the band is the path's integral (within 2 %),
/// in soft tissue and in a lossless medium with the map alone (where the table has no medium
/// attenuation to measure paths in) — and the echo's peak frequency is that of a homogeneous path
/// of the equivalent length.
#[test]
fn frequency_downshift_matches_the_equivalent_path() {
    let fc = 5e6;
    let (ap, seq, pulse, s) = one_element(fc, 0.05);
    let (z0, z1, layer_db) = (0.01, 0.02, 3.0);
    let map = AttenuationMap::new(vec![AttenuationRegion::layer(z0, z1, layer_db)]).unwrap();
    let np = |db_cm_mhz: f64, m: f64| db_cm_mhz * (std::f64::consts::LN_10 / 20.0) / 1e4 * m;
    let z = 0.035;
    let ph = Phantom::points(&[[0.0, 0.0, z]]).unwrap();
    let lossless = trace(
        &Simulator::from_parts(&ap, &seq, Medium::lossless(), pulse, s).unwrap(),
        &ph,
    );
    for (name, medium) in [("soft tissue", Medium::soft_tissue()), ("lossless", Medium::lossless())] {
        let a_m = medium.attenuation_db_cm_mhz();
        let sim = Simulator::from_parts(&ap, &seq, medium, pulse, s)
            .unwrap()
            .with_attenuation(map.clone());
        let echo = trace(&sim, &ph);
        let expected = 2.0 * (np(a_m, z - (z1 - z0)) + np(layer_db, z1 - z0));
        let measured = -log_ratio_slope(&echo, &lossless, fc);
        eprintln!("{name}: 2∫α ds = {expected:.4e} Np/Hz, measured slope {measured:.4e}");
        assert!(
            (measured / expected - 1.0).abs() < 0.02,
            "{name}: {measured} vs {expected}"
        );
    }
    // The same downshift as a homogeneous tissue path of the equivalent length L_eq.
    let sim = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s)
        .unwrap()
        .with_attenuation(map);
    let echo = trace(&sim, &ph);
    let z_eq = z - (z1 - z0) + (z1 - z0) * layer_db / 0.5;
    let homogeneous_medium = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, {
        Sampling::for_depth(FS, z_eq + 0.01, &seq, &pulse).unwrap()
    })
    .unwrap();
    let homogeneous = trace(&homogeneous_medium, &Phantom::points(&[[0.0, 0.0, z_eq]]).unwrap());
    let (f_map, f_eq, f_0) = (
        common::peak_frequency(&echo, FS),
        common::peak_frequency(&homogeneous, FS),
        common::peak_frequency(&lossless, FS),
    );
    eprintln!("peak frequency: lossless {f_0:.0} Hz, behind the layer {f_map:.0} Hz, at L_eq {f_eq:.0} Hz");
    assert!(f_0 - f_map > 0.5e6, "{f_0} -> {f_map}");
    assert!((f_map - f_eq).abs() < 0.03e6, "{f_map} vs {f_eq}");
}

/// The interface's reflection coefficient sets its echo: `R/(2d)` against `1/d²` for a point
/// scatterer of unit amplitude at the same depth (the simulator's units), within 1 dB at fc.
#[test]
fn specular_interface_echo_is_calibrated_to_its_reflection_coefficient() {
    let fc = 3e6;
    let d = 0.02;
    let (ap, seq, pulse, s) = one_element(fc, 0.03);
    let sim = Simulator::from_parts(&ap, &seq, Medium::lossless(), pulse, s).unwrap();
    let interface = SpecularInterface {
        depth_m: d,
        x_range_m: (-0.025, 0.025),
        reflection: 0.7,
        probe_reflection: 0.0,
        reverberations: 0,
        taper_m: 0.006,
        units_per_m: 1.0,
    };
    let sheet = trace(&sim, &interface.phantom(fc, C).unwrap());
    let point = trace(&sim, &Phantom::points(&[[0.0, 0.0, d]]).unwrap());
    let measured = 20.0 * (dtft_mag(&sheet, FS, fc) / dtft_mag(&point, FS, fc)).log10();
    let expected = 20.0 * (0.7 / (2.0 * d) / (1.0 / (d * d))).log10();
    eprintln!("interface over point: {measured:.2} dB, expected {expected:.2} dB");
    assert!((measured - expected).abs() < 1.0, "{measured} vs {expected}");
}

/// A-lines under a pleura-like interface at depth d: the echoes repeat every `2d/c` (within one
/// sample), and each repeat falls by `20·log10|R·R_p| + 20·log10(k/(k+1)) − 2·α·f·d` dB (the
/// coefficients, the image sources' spreading, one more round trip through the tissue above),
/// within 1 dB at fc.
#[test]
fn a_lines_repeat_at_the_interface_depth_and_fall_as_the_model_says() {
    let fc = 3e6;
    let d = 0.015;
    let k_max = 4;
    let (ap, seq, pulse, s) = one_element(fc, d * k_max as f64 + 0.01);
    let tissue = Medium::soft_tissue();
    let sim = Simulator::from_parts(&ap, &seq, tissue, pulse, s).unwrap();
    let (r, r_p) = (-0.9, 0.5);
    let pleura = SpecularInterface {
        depth_m: d,
        x_range_m: (-0.03, 0.03),
        reflection: r,
        probe_reflection: r_p,
        reverberations: k_max - 1,
        taper_m: 0.008,
        units_per_m: 1.0,
    };
    let rf = trace(&sim, &pleura.phantom(fc, C).unwrap());
    let env = envelope(&rf);
    let t_of = |i: f64| s.t0_s() + i / FS;
    let idx = |t: f64| ((t - s.t0_s()) * FS).round() as usize;
    let half_gap = d / C;
    let mut peaks = vec![];
    let mut levels = vec![];
    for k in 1..=k_max {
        let t = 2.0 * k as f64 * d / C;
        let (a, b) = (idx(t - half_gap), idx(t + half_gap).min(rf.len()));
        let (i, _) = (a..b).fold((a, 0.0), |m, i| if env[i] > m.1 { (i, env[i]) } else { m });
        // Parabolic refinement of the envelope peak.
        let (p, q, u) = (env[i - 1], env[i], env[i + 1]);
        peaks.push(t_of(i as f64 + 0.5 * (p - u) / (p - 2.0 * q + u)));
        levels.push(20.0 * dtft_mag(&rf[a..b], FS, fc).log10());
    }
    for k in 1..k_max {
        let spacing_samples = (peaks[k] - peaks[k - 1]) * FS;
        let want = 2.0 * d / C * FS;
        let fall = levels[k] - levels[k - 1];
        let model =
            20.0 * (r * r_p).abs().log10() + 20.0 * (k as f64 / (k + 1) as f64).log10() - tissue.loss_db(fc, 2.0 * d);
        eprintln!(
            "repeat {k}: spacing {spacing_samples:.2} samples (2d/c = {want:.2}), fall {fall:.2} dB (model {model:.2})"
        );
        assert!((spacing_samples - want).abs() < 1.0, "{spacing_samples} vs {want}");
        assert!((fall - model).abs() < 1.0, "{fall} vs {model}");
    }
}
