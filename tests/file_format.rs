//! Records written by an earlier version still load: `testdata/point_target_rf/` is a small RF
//! record (8 elements of a linear probe, one plane wave, one point target at 10 mm, soft tissue)
//! saved with `ChannelData::save` and committed. The test loads it with today's code and checks
//! its description and its samples against a fresh simulation of the same setup.
//!
//! A change that makes the committed record unreadable (a renamed or newly required field of
//! `meta.json`, another `.npy` layout) is a break for every user with saved data, and fails here.
//! A deliberate change of the simulator's model may move the samples: then (and only then) run the
//! test with `SONOCHIP_BLESS=1` to write the record again, and say why in the commit.

use sonochip::channel_data::{ChannelData, Sampling};
use sonochip::medium::Medium;
use sonochip::phantom::Phantom;
use sonochip::probe::{Aperture, Probe};
use sonochip::pulse::Pulse;
use sonochip::sequence::Sequence;
use sonochip::sim::Simulator;
use std::path::PathBuf;

fn record_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/point_target_rf")
}

/// The record's setup, simulated now.
fn simulate() -> ChannelData<f32> {
    let probe = Probe::linear(8, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0).unwrap();
    let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
    let sampling = Sampling::new(20e6, 10e-6, 120).unwrap();
    Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, sampling)
        .unwrap()
        .run(&Phantom::points(&[[0.0, 0.0, 0.01]]).unwrap())
        .unwrap()
}

#[test]
fn the_committed_record_loads_and_matches_the_simulator() {
    let fresh = simulate();
    if std::env::var_os("SONOCHIP_BLESS").is_some() {
        fresh.save(record_dir()).unwrap();
    }
    let saved = ChannelData::<f32>::load(record_dir()).unwrap();
    assert_eq!(saved.data().dim(), (1, 8, 120));
    assert_eq!(saved.fs_hz(), 20e6);
    assert_eq!(saved.t0_s(), 10e-6);
    assert_eq!(saved.meta().fc_hz(), 5e6);
    assert_eq!(saved.sequence().len(), 1);
    assert_eq!(
        saved.meta(),
        fresh.meta(),
        "the description as the code writes it today"
    );
    // The echo of a point at 10 mm arrives about 13 µs after the plane wave leaves: in the record.
    let peak = saved.data().iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(peak > 0.0);
    // Samples: the model of today within 1e-5 of the peak (the record holds f32; any larger
    // difference is a change of the simulator's output, see the module docs).
    let worst = saved
        .data()
        .iter()
        .zip(fresh.data())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= 1e-5 * peak,
        "largest difference {worst} against a peak of {peak}"
    );
}
