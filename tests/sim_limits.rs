//! The simulator's limits: valid inputs never panic, abort or allocate without bound, and never
//! give NaN or infinite RF. Each test reproduces a defect that existed before its fix.

use sonochip::channel_data::{ChannelData, Sampling};
use sonochip::medium::Medium;
use sonochip::phantom::Phantom;
use sonochip::probe::{Aperture, ArraySpec, ChannelMode, Probe};
use sonochip::pulse::Pulse;
use sonochip::sequence::Sequence;
use sonochip::sim::Simulator;

const C: f64 = 1540.0;

fn all_finite(rf: &ChannelData<f32>) -> bool {
    rf.data().iter().all(|v| v.is_finite())
}

/// The repro: a scatterer behind the face of a convex probe, next to an edge element.
/// Elements facing away gave zero-amplitude taps that the incident wave's time span left out but
/// its histogram still wrote (`index out of bounds: the len is 532 but the index is 993`).
#[test]
fn convex_probe_with_a_scatterer_behind_its_face() {
    let probe = Probe::convex(64, 5e-4, 4.5e-4, 5e-3, 0.02).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::diverging_sector(&ap, 0.6, 0.0, 1, C).unwrap();
    let pulse = Pulse::new(3.5e6, 0.8, 1.0).unwrap();
    let s = Sampling::for_depth(14e6, 0.05, &seq, &pulse).unwrap();
    let sim = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s).unwrap();
    let rf = sim.run(&Phantom::points(&[[0.016, 0.0, -0.002]]).unwrap()).unwrap();
    assert!(all_finite(&rf));
    assert!(
        rf.data().iter().any(|v| *v != 0.0),
        "the elements facing the scatterer see it"
    );
}

/// The second repro: the abdomen phantom (whose capsule starts 10 mm deep, beside the arc)
/// on a 128-element convex probe of radius 40 mm with a diverging sector.
#[test]
fn abdomen_phantom_on_a_convex_probe() {
    let probe = Probe::convex(128, 5e-4, 4.5e-4, 5e-3, 0.04).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::diverging_sector(&ap, 0.6, 0.0, 1, C).unwrap();
    let pulse = Pulse::new(3.5e6, 0.8, 1.0).unwrap();
    let s = Sampling::for_depth(14e6, 0.16, &seq, &pulse).unwrap();
    let sim = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s).unwrap();
    let rf = sim.run(&Phantom::abdomen(0.01, 1).unwrap()).unwrap();
    assert!(all_finite(&rf));
}

/// A scatterer exactly on an element (r = 0: the obliquity factor was 0/0), on the face between
/// elements, and a hair in front of an element (where 1/r alone would overflow), on a one-row
/// linear probe (element path) and on a probe of columns (binned path). Before the fix the first
/// case panicked (`index out of bounds: the len is 132 but the index is 136`).
#[test]
fn scatterers_on_and_next_to_the_probe_face() {
    let linear = Probe::linear(16, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let cols = Probe::new(ArraySpec {
        name: "cols".into(),
        cols: 16,
        rows: 8,
        ..ArraySpec::cmut_9000()
    })
    .unwrap();
    let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
    for (probe, mode) in [
        (&linear, ChannelMode::Elements),
        (
            &cols,
            ChannelMode::Columns {
                elevation_focus_m: Some(0.01),
            },
        ),
        (&cols, ChannelMode::Elements),
    ] {
        let ap = Aperture::columns(probe, 0..16, mode).unwrap();
        let seq = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
        let s = Sampling::for_depth(20e6, 0.02, &seq, &pulse).unwrap();
        let sim = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s).unwrap();
        let e = probe.element(3, 0).position_m;
        let between = [0.5 * (e[0] + probe.element(4, 0).position_m[0]), e[1], e[2]];
        for p in [
            e,
            between,
            [e[0], e[1], e[2] + 1e-300],
            [e[0], e[1], e[2] + 1e-9],
            [e[0], 0.0, 1e-7],
        ] {
            let rf = sim.run(&Phantom::points(&[p]).unwrap()).unwrap();
            assert!(all_finite(&rf), "{mode:?}, scatterer at {p:?}");
        }
    }
}
