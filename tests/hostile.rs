//! Hostile input: every public constructor and entry point driven with values a careless or
//! malicious caller could pass — NaN, ±∞, 0, negative, subnormal, ±1e300, empty, mismatched shapes,
//! huge sizes, malicious JSON. Each case must end in a typed error that names the field, or in a
//! correct result; none may panic, hang or allocate without bound. Files and the simulator have
//! suites of their own (`io_limits.rs`, `sim_limits.rs`); random end-to-end configurations are in
//! `end_to_end_proptest.rs`.

use sonochip::prelude::*;
use sonochip::sequence::TxKind;
use std::cell::Cell;
use std::fmt::Debug;

/// Floating-point values that no physical parameter of the crate accepts everywhere.
const HOSTILE: [f64; 10] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    0.0,
    -1.0,
    5e-324,
    1e-300,
    1e300,
    -1e300,
    f64::MAX,
];

thread_local! {
    static CASES: Cell<usize> = const { Cell::new(0) };
}

fn counted() {
    CASES.with(|c| c.set(c.get() + 1));
}

/// `r` is an error naming `field`.
#[track_caller]
fn refused<T: Debug>(r: sonochip::Result<T>, field: &str) {
    counted();
    match r {
        Err(e) => assert_eq!(e.parameter(), Some(field), "wrong field in: {e}"),
        Ok(v) => panic!("expected an error naming `{field}`, got Ok({v:?})"),
    }
}

/// `r` is an error naming one of `fields`.
#[track_caller]
fn refused_any<T: Debug>(r: sonochip::Result<T>, fields: &[&str]) {
    counted();
    match r {
        Err(e) => assert!(
            e.parameter().is_some_and(|p| fields.contains(&p)),
            "expected a field of {fields:?}: {e}"
        ),
        Ok(v) => panic!("expected an error naming one of {fields:?}, got Ok({v:?})"),
    }
}

/// Each hostile value `v` (other than those `allowed`) makes `f(v)` an error naming `field`; an
/// allowed value must succeed.
#[track_caller]
fn each<T: Debug>(field: &str, allowed: &[f64], f: impl Fn(f64) -> sonochip::Result<T>) {
    for v in HOSTILE {
        if allowed.iter().any(|a| a.to_bits() == v.to_bits()) {
            counted();
            assert!(f(v).is_ok(), "`{field}` = {v} should be accepted");
        } else {
            refused(f(v), field);
        }
    }
}

fn aperture(n: usize) -> Aperture {
    Aperture::full(&Probe::linear(n, 3e-4, 2.7e-4, 5e-3, 1).unwrap(), None).unwrap()
}

#[test]
fn sampling_and_metadata() {
    each("fs_hz", &[], |v| Sampling::new(v, 0.0, 100));
    each("t0_s", &[0.0, 5e-324, 1e-300, -1.0], |v| {
        Sampling::new(20e6, if v == -1.0 { -1e-6 } else { v }, 100)
    });
    refused(Sampling::new(20e6, 0.0, 0), "n_samples");
    refused(Sampling::new(20e6, 0.0, usize::MAX), "n_samples");
    let ap = aperture(8);
    let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0).unwrap();
    let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
    each("fs_hz", &[], |v| Sampling::for_depth(v, 0.03, &seq, &pulse));
    for v in HOSTILE {
        refused(Sampling::for_depth(20e6, v, &seq, &pulse), "depth_max_m");
    }
    let s = Sampling::new(20e6, 0.0, 100).unwrap();
    let pos = ap.channel_positions();
    let up = vec![[0.0, 0.0, 1.0]; 8];
    each("fc_hz", &[], |v| {
        Metadata::new(s, v, seq.clone(), pos.clone(), up.clone())
    });
    for v in HOSTILE {
        let mut p = pos.clone();
        p[3][0] = v;
        if v.abs() <= 10.0 && v.is_finite() {
            counted();
            assert!(Metadata::new(s, 5e6, seq.clone(), p, up.clone()).is_ok());
        } else {
            refused(Metadata::new(s, 5e6, seq.clone(), p, up.clone()), "channel_positions_m");
        }
        let mut n = up.clone();
        n[2] = [v, 0.0, v];
        let r = Metadata::new(s, 5e6, seq.clone(), pos.clone(), n);
        if v.is_finite() && v != 0.0 {
            counted();
            let m = r.unwrap();
            let u = m.channel_normals()[2];
            assert!((u[0] * u[0] + u[2] * u[2] - 1.0).abs() < 1e-12, "{v}: {u:?}");
        } else {
            refused(r, "channel_normals");
        }
    }
    refused(
        Metadata::new(s, 5e6, seq.clone(), vec![], vec![]),
        "channel_positions_m",
    );
    refused(
        Metadata::new(s, 5e6, seq.clone(), pos.clone(), up[..7].to_vec()),
        "channel_normals",
    );
    let m = Metadata::new(s, 5e6, seq.clone(), pos.clone(), up.clone()).unwrap();
    for v in HOSTILE.iter().filter(|v| v.is_nan() || v.abs() > 1e9) {
        refused(m.demodulated(s, *v), "demod_hz");
    }
    // Samples whose shape or kind does not fit the description.
    refused(ChannelData::new(Array3::<f32>::zeros((1, 8, 99)), m.clone()), "data");
    refused(ChannelData::new(Array3::<f32>::zeros((2, 8, 100)), m.clone()), "data");
    refused(ChannelData::new(Array3::<f32>::zeros((1, 0, 100)), m.clone()), "data");
    refused(ChannelData::new(Array3::<Complex32>::zeros((1, 8, 100)), m), "demod_hz");
}

#[test]
fn sequences_and_events() {
    let ap = aperture(16);
    each("c_m_s", &[], |v| Sequence::plane_waves(&ap, &[0.0], v));
    each("angle_rad", &[0.0, 5e-324, 1e-300, -1.0], |v| {
        Sequence::plane_waves(&ap, &[v], 1540.0)
    });
    refused(Sequence::plane_waves(&ap, &[], 1540.0), "events");
    refused(Sequence::plane_wave_fan(&ap, 0.1, 0, 1540.0), "events");
    refused(Sequence::plane_wave_fan(&ap, 0.1, usize::MAX, 1540.0), "events");
    each(
        "max_angle_rad",
        &[0.0, 5e-324, 1e-300, -1.0, 1e300, -1e300, f64::MAX],
        |v| Sequence::plane_wave_fan(&ap, v, 1, 1540.0),
    );
    for v in HOSTILE {
        // A source must be behind the probe and within 10 m.
        refused_any(
            Sequence::diverging_waves(&ap, &[[0.0, 0.0, -v.abs().max(1e-3) * 1e6]], 1540.0),
            &["virtual_source_m"],
        );
        refused_any(
            Sequence::focused(&ap, &[[v, 0.0, 0.03]], 1540.0)
                .map(|_| ())
                .and(if v.abs() <= 1.0 {
                    Err(sonochip::Error::invalid("focus_m", "", ""))
                } else {
                    Ok(())
                }),
            &["focus_m"],
        );
    }
    refused(Sequence::focused(&ap, &[[0.0, 0.0, -0.01]], 1540.0), "focus_m[2]");
    each("half_angle_rad", &[1.0 - 0.0], |v| {
        Sequence::diverging_sector(&ap, v, 0.0, 3, 1540.0)
    });
    refused(Sequence::diverging_sector(&ap, 0.5, 0.0, 0, 1540.0), "events");
    // Weights: wrong count, negative, NaN, all zero.
    let plane = TxKind::Plane { angle_rad: 0.0 };
    refused(TxEvent::new(&ap, plane, vec![1.0; 15], 1540.0), "apod");
    refused(TxEvent::new(&ap, plane, vec![f32::NAN; 16], 1540.0), "apod");
    refused(TxEvent::new(&ap, plane, vec![-1.0; 16], 1540.0), "apod");
    refused(TxEvent::new(&ap, plane, vec![0.0; 16], 1540.0), "apod");
    refused(TxEvent::new(&ap, TxKind::Explicit, vec![1.0; 16], 1540.0), "kind");
    // Explicit delay tables.
    for v in HOSTILE {
        let mut d = vec![0.0; 16];
        d[5] = v;
        let r = TxEvent::from_delays(&ap, d, vec![1.0; 16], 1540.0);
        if v.is_finite() && v.abs() <= 1e-3 {
            counted();
            assert!(r.is_ok(), "{v}");
        } else {
            refused(r, "delays_s");
        }
    }
    refused(
        TxEvent::from_delays(&ap, vec![0.0; 17], vec![1.0; 16], 1540.0),
        "delays_s",
    );
    refused(Sequence::from_delays(&ap, &[vec![0.0; 16]], &[], 1540.0), "apod");
    refused(Sequence::from_delays(&ap, &[], &[], 1540.0), "events");
    // Events for different channel counts or speeds of sound in one sequence.
    let a = TxEvent::new(&ap, plane, vec![1.0; 16], 1540.0).unwrap();
    let b = TxEvent::new(&aperture(8), plane, vec![1.0; 8], 1540.0).unwrap();
    let c = TxEvent::new(&ap, plane, vec![1.0; 16], 1500.0).unwrap();
    refused(Sequence::from_events(vec![a.clone(), b]), "events");
    refused(Sequence::from_events(vec![a.clone(), c]), "events");
    refused(a.element_delays(&aperture(8)), "aperture");
    // 4096 waves on 100,000 channels would hold 15 GB of delays: refused before building.
    let wide = Aperture::full(&Probe::linear(100_000, 3e-6, 2.7e-6, 5e-3, 1).unwrap(), None).unwrap();
    refused(Sequence::plane_wave_fan(&wide, 0.1, 4096, 1540.0), "sequence");
}

#[test]
fn grids() {
    each("x_range_m", &[0.0, 5e-324, 1e-300], |v| {
        Grid::cartesian((-0.01, 0.01 + v), 4, (0.01, 0.02), 4)
    });
    for v in HOSTILE {
        let r = Grid::cartesian((-0.01, 0.01), 4, (v, 0.02), 4);
        if v.is_finite() && v < 0.02 && v.abs() <= 10.0 {
            counted();
            assert!(r.is_ok(), "{v}");
        } else {
            refused(r, "z_range_m");
        }
    }
    refused(Grid::cartesian((-0.01, 0.01), 0, (0.01, 0.02), 4), "nx");
    refused(Grid::cartesian((-0.01, 0.01), 4, (0.01, 0.02), 0), "nz");
    refused(Grid::cartesian((-0.01, 0.01), usize::MAX, (0.01, 0.02), 2), "grid size");
    refused(Grid::cartesian_from_axes(vec![], vec![0.01], 0.0), "x_m");
    refused(Grid::cartesian_from_axes(vec![0.0, f64::NAN], vec![0.01], 0.0), "x_m");
    refused(Grid::cartesian_from_axes(vec![0.0], vec![0.01], f64::NAN), "y_m");
    refused(Grid::sector((-2.0, 2.0), 4, (0.01, 0.1), 4), "angle_range_rad");
    refused(Grid::sector((-0.5, 0.5), 4, (-0.01, 0.1), 4), "depth_range_m");
    each("apex_distance_m", &[5e-324, 1e-300], |v| {
        Grid::curved(v, (-0.5, 0.5), 4, (0.0, 0.1), 4)
    });
    refused(
        Grid::polar([0.0, 0.0, f64::NAN], 0.0, vec![0.0], vec![0.01]),
        "apex_m[2]",
    );
    refused(Grid::polar([0.0; 3], -1.0, vec![0.0], vec![0.01]), "radius_offset_m");
    refused(Grid::points(vec![]), "points_m");
    refused(Grid::points(vec![[f64::INFINITY, 0.0, 0.0]]), "points_m");
    // Malicious JSON: each must be refused by the grid's own validation.
    for json in [
        r#"{"kind":{"Points":{"points_m":[]}}}"#,
        r#"{"kind":{"Points":{"points_m":[[0,0,1e308]]}}}"#,
        r#"{"kind":{"Cartesian":{"x_m":[],"z_m":[0.01],"y_m":0}}}"#,
        r#"{"kind":{"Cartesian":{"x_m":[0.0,-1.0],"z_m":[0.01],"y_m":0}}}"#,
        r#"{"kind":{"Sector":{"apex_m":[0,0,0],"angles_rad":[0.1],"depths_m":[-5],"radius_offset_m":0}}}"#,
        r#"{"kind":{"Sector":{"apex_m":[0,0,0],"angles_rad":[0.1],"depths_m":[0.01],"radius_offset_m":-1}}}"#,
    ] {
        counted();
        assert!(serde_json::from_str::<Grid>(json).is_err(), "{json}");
    }
}

#[test]
fn phantoms() {
    each("x_range_m", &[0.0, 5e-324, 1e-300], |v| {
        SpeckleBuilder::new((-0.01, v), (0.01, 0.02), 1.0)
    });
    each("density_per_mm2", &[5e-324, 1e-300], |v| {
        SpeckleBuilder::new((-0.01, 0.01), (0.01, 0.02), v).and_then(|b| b.build(1))
    });
    let b = SpeckleBuilder::new((-0.01, 0.01), (0.01, 0.02), 10.0).unwrap();
    refused(b.clone().thickness(f64::NAN).build(1), "thickness_m");
    refused(b.clone().thickness(-1.0).build(1), "thickness_m");
    refused(b.clone().point([0.0, 0.0, f64::NAN], 1.0).build(1), "point");
    refused(b.clone().point([0.0, 0.0, 0.01], f32::INFINITY).build(1), "amplitude");
    refused(
        b.clone().feature(Feature::disk([0.0, f64::NAN], 0.003, 0.0)).build(1),
        "center_m",
    );
    refused(
        b.clone().feature(Feature::disk([0.0, 0.02], 3.0, 0.0)).build(1),
        "semi_axes_m",
    );
    refused(
        b.clone().feature(Feature::disk([0.0, 0.02], 0.003, -1.0)).build(1),
        "echogenicity",
    );
    refused(
        b.clone().feature(Feature::disk([0.0, 0.02], 0.003, f64::NAN)).build(1),
        "echogenicity",
    );
    refused(Phantom::points(&[[0.0, 0.0, f64::NAN]]), "position_m");
    refused(Phantom::points(&[[0.0, 0.0, 1e300]]), "position_m");
    refused(Phantom::points(&[[0.0, 0.0, 0.01]]).unwrap().scaled(f32::NAN), "k");
    refused(Phantom::points(&[[0.0, 0.0, 0.01]]).unwrap().scaled(1e30), "k");
    let big = vec![0.01; 1 << 16];
    refused(Phantom::wire_grid(&big, &big), "x_m");
    let img = Array2::from_elem((4, 4), 3e38f32);
    refused(
        Phantom::from_image(img.view(), (-0.01, 0.01), (0.01, 0.02), 10.0, 1),
        "image",
    );
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 2.0, 1e300, -1e300, f64::MAX] {
        refused(Phantom::resolution(0.01, v, 0.02, 0.002, 0.004), "z_last_m");
    }
    for v in [0.0, 5e-324, -1.0, 0.005] {
        refused(Phantom::resolution(0.01, v, 0.02, 0.002, 0.004), "z_last_m - z_first_m");
    }
    for v in [0.0, -1.0, f64::NAN] {
        refused(Phantom::resolution(0.01, 0.03, 0.02, v, 0.004), "spacing_m");
    }
    refused(
        SpeckleBuilder::new((-0.01, 0.01), (0.01, 0.02), 1e9).unwrap().build(1),
        "density_per_mm2",
    );
}

#[test]
fn demodulator() {
    let s = Sampling::new(20e6, 0.0, 400).unwrap();
    for v in HOSTILE {
        let r = Demodulator::new(s, DemodConfig::new(5e6, v, 2));
        refused(r, "cutoff_hz");
        let r = Demodulator::new(s, DemodConfig::new(v, 4e6, 2));
        if v.abs() <= 20e6 {
            counted();
            assert!(r.is_ok(), "demod_hz {v}");
        } else {
            refused(r, "demod_hz");
        }
    }
    refused(Demodulator::new(s, DemodConfig::new(5e6, 4e6, 0)), "decimation");
    refused(Demodulator::new(s, DemodConfig::new(5e6, 4e6, 401)), "decimation");
    let mut c = DemodConfig::new(5e6, 4e6, 2);
    c.n_taps = Some(4);
    refused(Demodulator::new(s, c), "n_taps");
    c.n_taps = Some(usize::MAX);
    refused(Demodulator::new(s, c), "n_taps");
    let d = Demodulator::new(s, DemodConfig::new(5e6, 4e6, 2)).unwrap();
    let mut out = Array3::<Complex32>::zeros((1, 2, d.output_len()));
    refused(
        d.demodulate_into(Array3::<f32>::zeros((1, 2, 399)).view(), out.view_mut()),
        "rf",
    );
    let mut small = Array3::<Complex32>::zeros((1, 2, 3));
    refused(
        d.demodulate_into(Array3::<f32>::zeros((1, 2, 400)).view(), small.view_mut()),
        "out",
    );
}

#[test]
fn beamformer_configuration_and_data() {
    let ap = aperture(16);
    let seq = Sequence::plane_waves(&ap, &[0.0, 0.1], 1540.0).unwrap();
    let meta = Metadata::for_aperture(Sampling::new(20e6, 0.0, 800).unwrap(), 5e6, seq, &ap).unwrap();
    let grid = Grid::cartesian((-0.003, 0.003), 8, (0.005, 0.02), 32).unwrap();
    let with = |f: &dyn Fn(&mut BeamformConfig)| {
        let mut c = BeamformConfig::default();
        f(&mut c);
        Beamformer::new(&meta, &grid, c)
    };
    for v in HOSTILE {
        refused_any(
            with(&|c| c.f_number = Some(if v > 0.0 && v < 1.0 { 1e-9 } else { v })),
            &["f_number"],
        );
        refused(with(&|c| c.acceptance_angle_rad = Some(v)), "acceptance_angle_rad");
        refused(with(&|c| c.focal_zone_wavelengths = v), "focal_zone_wavelengths");
        refused(with(&|c| c.sound_speed_m_s = Some(v)), "sound_speed_m_s");
        if !v.is_finite() {
            refused(with(&|c| c.tx_weights = Some(vec![1.0, v as f32])), "tx_weights");
        }
        if !(0.0..=1.0).contains(&v) {
            refused(
                with(&|c| {
                    c.f_number = Some(1.5);
                    c.window = Window::Tukey { alpha: v };
                }),
                "window.alpha",
            );
        }
    }
    refused(with(&|c| c.tx_weights = Some(vec![1.0])), "tx_weights");
    refused(with(&|c| c.memory_cap_bytes = 1000), "beamformer plan");
    // A grid far from the probe, or one whose echoes all lie outside the record.
    let far = Grid::cartesian((-0.003, 0.003), 8, (9.5, 9.6), 4).unwrap();
    refused(Beamformer::new(&meta, &far, BeamformConfig::default()), "grid");
    let beyond = Grid::cartesian((-0.003, 0.003), 8, (0.5, 0.6), 4).unwrap();
    refused(Beamformer::new(&meta, &beyond, BeamformConfig::default()), "grid");
    // Data and image shapes.
    let bf = Beamformer::new(&meta, &grid, BeamformConfig::default()).unwrap();
    let mut img = Array2::<f32>::zeros((8, 32));
    refused(
        bf.beamform_raw_into(Array3::<f32>::zeros((2, 16, 799)).view(), img.view_mut()),
        "data",
    );
    refused(
        bf.beamform_raw_into(
            Array3::<f32>::zeros((2, 16, 800)).view(),
            Array2::<f32>::zeros((8, 31)).view_mut(),
        ),
        "image",
    );
    let mut iq_img = Array2::<Complex32>::zeros((8, 32));
    refused(
        bf.beamform_iq_raw_into(Array3::<Complex32>::zeros((2, 16, 800)).view(), iq_img.view_mut()),
        "data",
    );
    // Non-finite samples stay in the pixels that read them, and never panic.
    let mut nan = Array3::<f32>::zeros((2, 16, 800));
    nan[[0, 3, 100]] = f32::NAN;
    nan[[1, 5, 200]] = f32::INFINITY;
    counted();
    bf.beamform_raw_into(nan.view(), img.view_mut()).unwrap();
}

#[test]
fn presets_and_the_imager() {
    for v in HOSTILE {
        refused(Imager::with_depth(PresetKind::Vascular, v), "depth_m");
        let mut p = Preset::get(PresetKind::Cardiac);
        p.fc_hz = v;
        refused(Imager::new(p), "fc_hz");
        let mut p = Preset::get(PresetKind::Cardiac);
        p.sound_speed_m_s = v;
        refused(Imager::new(p), "sound_speed_m_s");
        let mut p = Preset::get(PresetKind::Cardiac);
        p.half_sector_deg = v;
        refused(Imager::new(p), "half_sector_deg");
        let mut p = Preset::get(PresetKind::Cardiac);
        p.dynamic_range_db = v;
        refused(Imager::new(p), "dynamic_range_db");
        let mut p = Preset::get(PresetKind::Cardiac);
        p.top_depth_m = v;
        if (0.0..1e-3).contains(&v) {
            counted();
            assert!(Imager::new(p).is_ok(), "top depth {v}");
        } else {
            refused(Imager::new(p), "top_depth_m");
        }
    }
    let mut p = Preset::get(PresetKind::Nerve);
    p.grid = GridDensity::Fixed {
        lines: usize::MAX,
        depth_samples: 64,
    };
    refused(Imager::new(p.clone()), "grid.lines");
    p.grid = GridDensity::Derived {
        axial: f64::NAN,
        lateral: 1.5,
    };
    refused(Imager::new(p.clone()), "grid.axial");
    p.grid = GridDensity::Derived {
        axial: 8.0,
        lateral: 8.0,
    };
    let mut deep = Preset::get(PresetKind::Abdomen);
    deep.grid = p.grid;
    refused(Imager::with_depth(deep, 0.3), "grid");
    p.grid = GridDensity::DERIVED;
    p.columns = 0..usize::MAX;
    refused(Imager::new(p), "columns");
    let mut imager = Imager::new(PresetKind::Nerve).unwrap();
    refused(imager.remap(), "frame");
    refused(imager.hold_reference(), "reference");
    for v in HOSTILE {
        if !(0.0..=100.0).contains(&v) {
            refused(imager.set_gain_control(v), "control");
        }
        if v.is_nan() || v.abs() > 200.0 {
            refused(imager.set_gain_db(v), "gain_db");
        }
        refused(imager.set_depth(v), "depth_m");
    }
    refused(imager.set_db_reference(DbReference::Fixed(f32::NAN)), "reference");
    refused(imager.set_db_reference(DbReference::Fixed(-1.0)), "reference");
    // Data of another acquisition.
    let other = Imager::new(PresetKind::Vascular).unwrap();
    let rf = other
        .simulate(&Phantom::points(&[[0.0, 0.0, 0.01]]).unwrap(), Medium::lossless())
        .unwrap();
    refused(imager.process(&rf), "data");
    counted();
    assert_eq!(
        imager.depth_m(),
        Preset::get(PresetKind::Nerve).default_depth_m,
        "a refused change leaves the imager as it was"
    );
}

#[test]
fn malicious_json_for_the_record_types() {
    let ap = aperture(4);
    let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0).unwrap();
    let meta = Metadata::for_aperture(Sampling::new(20e6, 0.0, 16).unwrap(), 5e6, seq.clone(), &ap).unwrap();
    let good = serde_json::to_value(&meta).unwrap();
    assert_eq!(serde_json::from_value::<Metadata>(good.clone()).unwrap(), meta);
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("fs 0", Box::new(|v| v["fs_hz"] = 0.0.into())),
        ("fs 1e300", Box::new(|v| v["fs_hz"] = 1e300.into())),
        ("t0 1e300", Box::new(|v| v["t0_s"] = 1e300.into())),
        ("no samples", Box::new(|v| v["n_samples"] = 0.into())),
        ("fc negative", Box::new(|v| v["fc_hz"] = (-5e6).into())),
        ("c disagrees", Box::new(|v| v["c_m_s"] = 1.0.into())),
        (
            "no channels",
            Box::new(|v| v["channel_positions_m"] = serde_json::json!([])),
        ),
        (
            "position 1e300",
            Box::new(|v| v["channel_positions_m"][0][2] = 1e300.into()),
        ),
        (
            "zero normal",
            Box::new(|v| v["channel_normals"][1] = serde_json::json!([0.0, 0.0, 0.0])),
        ),
        (
            "no events",
            Box::new(|v| v["sequence"]["events"] = serde_json::json!([])),
        ),
        (
            "empty apod",
            Box::new(|v| v["sequence"]["events"][0]["apod"] = serde_json::json!([])),
        ),
        (
            "negative delay",
            Box::new(|v| v["sequence"]["events"][0]["delays_s"][0] = (-1.0).into()),
        ),
        ("c 0", Box::new(|v| v["sequence"]["events"][0]["c_m_s"] = 0.0.into())),
        (
            "angle 99",
            Box::new(|v| v["sequence"]["events"][0]["kind"]["Plane"]["angle_rad"] = 99.0.into()),
        ),
        ("demod huge", Box::new(|v| v["demod_hz"] = 1e300.into())),
    ];
    for (what, edit) in edits {
        let mut v = good.clone();
        edit(&mut v);
        counted();
        assert!(serde_json::from_value::<Metadata>(v).is_err(), "{what} was accepted");
    }
    for bad in ["", "{", "[]", "null", r#"{"fs_hz":"NaN"}"#, &"[".repeat(100_000)] {
        counted();
        assert!(serde_json::from_str::<Metadata>(bad).is_err());
        assert!(serde_json::from_str::<Sequence>(bad).is_err());
        assert!(serde_json::from_str::<Phantom>(bad).is_err());
    }
}

/// Prints how many hostile cases this suite ran (read by `cargo test -- --nocapture`).
#[test]
fn z_case_count() {
    // Runs the other checks' bodies again in this thread to count them in one place.
    sampling_and_metadata();
    sequences_and_events();
    grids();
    phantoms();
    demodulator();
    beamformer_configuration_and_data();
    malicious_json_for_the_record_types();
    let n = CASES.with(|c| c.get());
    eprintln!("hostile cases checked: {n}");
    assert!(n > 300, "{n}");
}
