//! The live pipeline and the clinical presets.

use sonochip::Error;
use sonochip::bmode::DbReference;
use sonochip::frame::BModeFrame;
use sonochip::imager::Imager;
use sonochip::medium::Medium;
use sonochip::metrics::{Region, contrast};
use sonochip::phantom::SpeckleBuilder;
use sonochip::preset::{GridDensity, Preset, PresetKind};

fn simulate(imager: &Imager, per_cell: f64, seed: u64) -> sonochip::channel_data::ChannelData {
    let anatomy = imager.preset().anatomy(per_cell, seed).unwrap();
    imager.simulate_anatomy(&anatomy, Medium::soft_tissue()).unwrap()
}

#[test]
fn gain_changes_remap_without_beamforming_and_depth_is_bounded() {
    let mut imager = Imager::new(PresetKind::Nerve).unwrap();
    let rf = simulate(&imager, 0.3, 1);
    let first = imager.process(&rf).unwrap().clone();
    assert_eq!(imager.beamform_count(), 1);
    imager.set_gain_control(80.0).unwrap();
    let brighter = imager.remap().unwrap().clone();
    assert_eq!(imager.beamform_count(), 1, "a gain change must not beamform again");
    let (a, b) = (first.pixels(), brighter.pixels());
    assert!(
        a.iter().zip(b.iter()).all(|(x, y)| y >= x),
        "more gain never darkens a pixel"
    );
    assert!(b.iter().map(|&v| v as u64).sum::<u64>() > a.iter().map(|&v| v as u64).sum::<u64>());
    imager.set_dynamic_range_db(40.0).unwrap();
    imager.remap().unwrap();
    assert_eq!(imager.beamform_count(), 1);
    assert!(imager.set_gain_control(120.0).is_err());
    let bounds = imager.preset().depth_bounds_m;
    assert!(matches!(
        imager.set_depth(bounds.1 + 0.01),
        Err(Error::DepthOutOfRange { .. })
    ));
    assert!(matches!(
        imager.set_depth(bounds.0 - 0.001),
        Err(Error::DepthOutOfRange { .. })
    ));
    imager.set_depth(0.03).unwrap();
    assert_eq!(imager.depth_m(), 0.03);
    let (z0, z1) = imager.frame().depth_extent_m();
    assert!(z0 <= 0.0021 && (z1 - 0.03).abs() < 1e-3, "depth extent {z0}..{z1}");
    // Data of the old depth no longer fits the new plan.
    assert!(matches!(imager.process(&rf), Err(Error::ShapeMismatch { .. })));
    imager.set_preset(PresetKind::Cardiac).unwrap();
    assert_eq!(imager.preset().kind, PresetKind::Cardiac);
}

/// Every preset images its phantom: an anechoic (or dark) region known from the phantom is darker
/// than a speckle region, and the frame is neither blank nor saturated.
#[test]
fn every_preset_renders_its_phantom_with_the_known_contrast() {
    let mm = |x: f64, z: f64| [x * 1e-3, z * 1e-3];
    let disk = |x: f64, z: f64, r: f64| Region::Disk {
        center_m: mm(x, z),
        radius_m: r * 1e-3,
    };
    // (preset, dark region, reference region)
    let cases = [
        (PresetKind::Abdomen, disk(-25.0, 70.0, 6.0), disk(-5.0, 95.0, 6.0)),
        (PresetKind::Bladder, disk(0.0, 60.0, 12.0), disk(0.0, 100.0, 5.0)),
        (PresetKind::Ob, disk(-35.0, 85.0, 6.0), disk(0.0, 17.0, 4.0)),
        (PresetKind::Cardiac, disk(0.0, 90.0, 10.0), disk(0.0, 20.0, 5.0)),
        (
            PresetKind::Lung,
            disk(0.0, 70.0, 8.0),
            Region::Box {
                x_range_m: (-0.01, 0.01),
                z_range_m: (0.0245, 0.0275),
            },
        ),
        (PresetKind::Vascular, disk(2.0, 18.0, 2.0), disk(8.0, 24.0, 3.0)),
        (PresetKind::Msk, disk(0.0, 40.0, 3.0), disk(0.0, 27.0, 3.0)),
        (PresetKind::Nerve, disk(7.0, 17.0, 2.0), disk(-8.0, 25.0, 3.0)),
    ];
    for (i, (kind, dark, reference)) in cases.into_iter().enumerate() {
        let mut imager = Imager::new(kind).unwrap();
        let per_cell = if Preset::get(kind).fc_hz > 5e6 { 0.4 } else { 0.25 };
        let rf = simulate(&imager, per_cell, 10 + i as u64);
        let frame = imager.process(&rf).unwrap();
        let px = frame.pixels();
        let mean = px.iter().map(|&v| v as f64).sum::<f64>() / px.len() as f64;
        assert!(mean > 5.0 && mean < 200.0, "{kind:?}: mean grey {mean}");
        let c = contrast(imager.envelope().t(), imager.raster_grid(), &dark, &reference).unwrap();
        let cr = c.cr_db.unwrap();
        assert!(
            cr < -6.0,
            "{kind:?}: contrast {cr:.1} dB between the dark and the reference region"
        );
    }
}

/// An edited preset drives the imager; an invalid one is refused naming the field.
#[test]
fn custom_presets_are_validated_and_used() {
    let mut p = Preset::get(PresetKind::Nerve);
    p.n_tx = 3;
    p.grid = GridDensity::Fixed {
        lines: 96,
        depth_samples: 200,
    };
    let imager = Imager::new(p.clone()).unwrap();
    assert_eq!(imager.acquisition().sequence().len(), 3);
    assert_eq!(imager.acquisition().grid().shape(), (96, 200));
    p.n_tx = 0;
    let e = Imager::new(p.clone()).err().unwrap();
    assert_eq!(e.parameter(), Some("n_tx"), "{e}");
    p.n_tx = 3;
    let e = Imager::with_depth(p, f64::NAN).err().unwrap();
    assert!(matches!(e, Error::DepthOutOfRange { name: "depth_m", .. }), "{e}");
}

/// With a fixed dB reference the brightness of the speckle stays when a bright reflector appears;
/// with the frame maximum as 0 dB the same frame darkens.
#[test]
fn a_fixed_reference_keeps_brightness_when_a_bright_wire_appears() {
    let mut imager = Imager::new(PresetKind::Nerve).unwrap();
    assert!(matches!(imager.remap(), Err(Error::NotReady { .. })));
    assert!(imager.hold_reference().is_err());
    let density = imager.preset().speckle_density(1.0);
    let speckle = |wire: Option<f32>| {
        let mut b = SpeckleBuilder::new((-0.01, 0.01), (0.005, 0.03), density).unwrap();
        if let Some(a) = wire {
            b = b.point([0.0, 0.0, 0.015], a);
        }
        b.build(4).unwrap()
    };
    let grey = |f: &BModeFrame| f.pixels().iter().map(|&v| v as f64).sum::<f64>() / f.pixels().len() as f64;
    let plain = imager.simulate(&speckle(None), Medium::soft_tissue()).unwrap();
    let g0 = grey(imager.process(&plain).unwrap());
    let amplitude = imager.hold_reference().unwrap();
    assert_eq!(imager.preset().db_reference, DbReference::Fixed(amplitude));
    let bright = imager.simulate(&speckle(Some(300.0)), Medium::soft_tissue()).unwrap();
    let g_fixed = grey(imager.process(&bright).unwrap());
    imager.set_db_reference(DbReference::FrameMax).unwrap();
    let g_max = grey(imager.remap().unwrap());
    // The wire and its side lobes only add echo: nothing darkens, and the frame stays about as bright.
    assert!(
        g_fixed >= 0.98 * g0 && g_fixed <= 1.15 * g0,
        "fixed reference: mean grey {g0:.1} then {g_fixed:.1}"
    );
    assert!(g_max < 0.6 * g0, "frame maximum: mean grey {g0:.1} then {g_max:.1}");
    // The reference survives a depth change.
    imager.set_db_reference(DbReference::Fixed(amplitude)).unwrap();
    imager.set_depth(0.03).unwrap();
    assert_eq!(imager.mapper().reference(), DbReference::Fixed(amplitude));
}

/// Data of the acquisition before a re-plan is refused with an error that says so.
#[test]
fn stale_data_after_a_depth_change_says_the_acquisition_changed() {
    let mut imager = Imager::new(PresetKind::Nerve).unwrap();
    let rf = simulate(&imager, 0.05, 2);
    imager.process(&rf).unwrap();
    imager.set_depth(0.03).unwrap();
    let e = imager.process(&rf).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::ShapeMismatch { name: "data", .. }));
    assert!(
        msg.contains("acquisition changed") && msg.contains("simulated"),
        "{msg}"
    );
    // Data of an unrelated acquisition says what differs instead.
    let other = Imager::new(PresetKind::Vascular).unwrap();
    let e = imager.process(&simulate(&other, 0.05, 2)).unwrap_err().to_string();
    assert!(e.contains("another acquisition"), "{e}");
}
