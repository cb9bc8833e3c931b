//! Element directivity across the band (`SimOptions::directivity`): the broadband model against
//! the exact far-field response of a rectangle, `sinc(f·w·sinθ_u/c)·sinc(f·h·sinθ_y/c)·cosθ` per
//! leg, computed here at each frequency; the column path against the element-by-element one.
//! (Every kernel against the scalar one: `tests/sim_physics.rs`
//! `every_kernel_gives_the_same_rf_bit_for_bit`.)

mod common;

use common::dtft_mag;
use ndarray::s;
use sonochip::channel_data::Sampling;
use sonochip::medium::Medium;
use sonochip::phantom::Phantom;
use sonochip::probe::{Aperture, ChannelMode, Probe};
use sonochip::pulse::Pulse;
use sonochip::sequence::Sequence;
use sonochip::sim::{Directivity, ElevationModel, Propagation, SimOptions, Simulator};

const C: f64 = 1540.0;

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
    }
}

fn db(x: f64) -> f64 {
    20.0 * x.abs().log10()
}

/// One 0.3 × 0.3 mm element (0.97 λ at 5 MHz, not split), 80 % bandwidth; scatterers 30 mm away
/// at 15°, 30° and 45° in azimuth and in elevation. The two-way response (echo spectrum at f over
/// the on-axis echo's) at nine frequencies across the −6 dB band: broadband within 0.5 dB of the
/// exact `[sinc(f·s·sinθ/c)·cosθ]²` where that is above −20 dB, and within 0.01 of the on-axis
/// response (−40 dB) where it is below; the fc model departs from it by up to 32 dB (printed).
#[test]
fn broadband_directivity_follows_the_exact_response_across_the_band() {
    angular_response(Propagation::Spherical, &["azimuth", "elevation"]);
}

/// The same in 2-D (line sources: the azimuth factor only).
#[test]
fn broadband_directivity_follows_the_exact_response_in_2d() {
    angular_response(Propagation::Cylindrical, &["azimuth"]);
}

fn angular_response(propagation: Propagation, planes: &[&'static str]) {
    let w = 3e-4;
    let probe = Probe::linear(1, w, w, w, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::synthetic_aperture(&ap, C).unwrap();
    let (fc, fs) = (5e6, 40e6);
    let pulse = Pulse::new(fc, 0.8, 1.0).unwrap();
    let (lo, hi) = pulse.band_edges_hz();
    let r = 0.03;
    let s = Sampling::for_depth(fs, 0.035, &seq, &pulse).unwrap();
    let sim = |directivity| {
        Simulator::from_parts(&ap, &seq, Medium::lossless(), pulse, s)
            .unwrap()
            .with_options(SimOptions {
                directivity,
                propagation,
                ..SimOptions::default()
            })
            .unwrap()
    };
    let (broad, centre) = (sim(Directivity::Broadband), sim(Directivity::CentreFrequency));
    let echo = |sim: &Simulator, p: [f64; 3]| -> Vec<f32> {
        let rf = sim.run(&Phantom::points(&[p]).unwrap()).unwrap();
        rf.data().slice(s![0, 0, ..]).to_vec()
    };
    let axis = [0.0, 0.0, r];
    let (axis_b, axis_c) = (echo(&broad, axis), echo(&centre, axis));
    let (mut worst_db, mut worst_lin, mut worst_fc) = (0.0f64, 0.0f64, 0.0f64);
    for (plane, deg) in [15.0f64, 30.0, 45.0]
        .into_iter()
        .flat_map(|d| planes.iter().map(move |&p| (p, d)))
    {
        let (st, ct) = deg.to_radians().sin_cos();
        let p = if plane == "azimuth" {
            [r * st, 0.0, r * ct]
        } else {
            [0.0, r * st, r * ct]
        };
        let (e_b, e_c) = (echo(&broad, p), echo(&centre, p));
        for i in 0..9 {
            let f = lo + (hi - lo) * i as f64 / 8.0;
            let exact = (sinc(w * st * f / C) * ct).powi(2);
            let got = dtft_mag(&e_b, fs, f) / dtft_mag(&axis_b, fs, f);
            let fc_model = dtft_mag(&e_c, fs, f) / dtft_mag(&axis_c, fs, f);
            eprintln!(
                "{plane:9} {deg:2}° {:.2} MHz: exact {:+7.2} dB, broadband {:+7.2} dB, fc model {:+7.2} dB",
                f * 1e-6,
                db(exact),
                db(got),
                db(fc_model)
            );
            worst_fc = worst_fc.max((db(fc_model) - db(exact)).abs());
            if db(exact) > -20.0 {
                worst_db = worst_db.max((db(got) - db(exact)).abs());
            } else {
                worst_lin = worst_lin.max((got - exact).abs());
            }
        }
    }
    eprintln!(
        "{propagation:?}: largest error: broadband {worst_db:.2} dB (above −20 dB), {worst_lin:.4} linear (below); fc model \
         {worst_fc:.1} dB"
    );
    assert!(worst_db < 0.5, "{worst_db} dB");
    assert!(worst_lin < 0.01, "{worst_lin}");
    assert!(worst_fc > 10.0, "the fc model should be far off at 45°: {worst_fc} dB");
}

/// On axis the factor is 1 at every frequency: the broadband echo is the fc model's.
#[test]
fn broadband_directivity_is_the_fc_model_broadside() {
    let probe = Probe::linear(1, 3e-4, 3e-4, 3e-4, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::synthetic_aperture(&ap, C).unwrap();
    let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
    let s = Sampling::for_depth(40e6, 0.035, &seq, &pulse).unwrap();
    let run = |directivity| {
        Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s)
            .unwrap()
            .with_options(SimOptions {
                directivity,
                ..SimOptions::default()
            })
            .unwrap()
            .run(&Phantom::points(&[[0.0, 0.0, 0.03]]).unwrap())
            .unwrap()
    };
    let (a, b) = (run(Directivity::Broadband), run(Directivity::CentreFrequency));
    let peak = b.data().iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let err = a
        .data()
        .iter()
        .zip(b.data())
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    eprintln!("broadside: largest difference {:.2e} of the peak", err / peak);
    assert!(peak > 0.0 && err < 2e-3 * peak, "{err} vs {peak}");
}

/// Columns behind an elevation lens: the binned column path with broadband directivity against
/// every element as its own broadband impulse, RMS within the binned model's 3 % of the peak.
#[test]
fn broadband_binned_columns_agree_with_exact() {
    let cmut = Probe::cmut_9000();
    let ap = Aperture::new(
        &cmut,
        60..80,
        0..64,
        ChannelMode::Columns {
            elevation_focus_m: Some(0.03),
        },
    )
    .unwrap();
    let seq = Sequence::diverging_sector(&ap, 0.5, 0.2, 2, C).unwrap();
    let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
    let s = Sampling::for_depth(20e6, 0.045, &seq, &pulse).unwrap();
    let ph = Phantom::points(&[[0.0, 0.0, 0.03], [0.004, 0.002, 0.02], [-0.005, -0.003, 0.04]]).unwrap();
    let run = |elevation| {
        Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s)
            .unwrap()
            .with_options(SimOptions {
                elevation,
                directivity: Directivity::Broadband,
                ..SimOptions::default()
            })
            .unwrap()
            .run(&ph)
            .unwrap()
    };
    let (binned, exact) = (run(ElevationModel::Binned), run(ElevationModel::Exact));
    let peak = exact.data().iter().fold(0.0f32, |m, v| m.max(v.abs())) as f64;
    let n = exact.data().len() as f64;
    let rms = (binned
        .data()
        .iter()
        .zip(exact.data())
        .map(|(a, b)| ((a - b) as f64).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    let signal = (exact.data().iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / n).sqrt();
    eprintln!(
        "broadband binned vs exact: RMS {:.3} % of the peak ({:.1} % of the signal's RMS)",
        100.0 * rms / peak,
        100.0 * rms / signal
    );
    assert!(peak > 0.0 && rms < 0.03 * peak, "{rms} vs {peak}");
}
