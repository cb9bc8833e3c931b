//! The live colour-flow pipeline: its frame equals the stages run by hand, and settings that do
//! not change the acquisition take effect without beamforming again.

use sonochip::doppler::clutter::ClutterFilter;
use sonochip::doppler::color::ColorFlowDisplay;
use sonochip::doppler::estimate::Method;
use sonochip::doppler::live::{ColorFlowConfig, ColorFlowImager};
use sonochip::doppler::pipeline::EnsembleBeamformer;
use sonochip::phantom::motion::{FlowProfile, Motion, MovingPhantom, Vessel};
use sonochip::prelude::*;

#[test]
fn live_colour_frames_match_the_stages_and_settings_rerender() {
    let probe = Probe::linear(48, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let aperture = Aperture::full(&probe, None).unwrap();
    let sequence = Sequence::plane_wave_fan(&aperture, 0.0, 1, 1540.0).unwrap();
    let grid = Grid::cartesian((-0.004, 0.004), 33, (0.012, 0.022), 130).unwrap();
    let acq = Acquisition::for_depth(
        aperture,
        sequence,
        Pulse::new(5e6, 0.6, 2.0).unwrap(),
        20e6,
        grid.clone(),
        0.025,
    )
    .unwrap();
    let vessel = Vessel::new([0.0, 0.0, 0.017], 70f64.to_radians(), 0.002, 0.02).unwrap();
    let tissue = SpeckleBuilder::new((-0.006, 0.006), (0.01, 0.024), 6.0)
        .unwrap()
        .thickness(2e-3)
        .build(2)
        .unwrap();
    let mut m = MovingPhantom::still(vessel.clear_lumen(&tissue));
    m.push(
        vessel.blood(10.0, -30.0, 3).unwrap(),
        Motion::Flow {
            vessel,
            profile: FlowProfile::Plug { v_m_s: -0.4 },
            waveform: None,
        },
    )
    .unwrap();
    let config = ColorFlowConfig {
        ensemble_len: 8,
        display: ColorFlowDisplay {
            power_threshold_db: -20.0,
            ..ColorFlowDisplay::default()
        },
        ..ColorFlowConfig::default()
    };
    let bfc = BeamformConfig {
        f_number: Some(1.5),
        window: Window::Hann,
        ..BeamformConfig::default()
    };
    let ens = Simulator::new(&acq, Medium::soft_tissue())
        .unwrap()
        .run_ensemble(&m, 4000.0, 8)
        .unwrap();
    let mut live = ColorFlowImager::new(ens.metadata(), &grid, bfc.clone(), 4000.0, 200, config).unwrap();
    assert!(
        live.rerender().is_err(),
        "nothing to re-render before the first ensemble"
    );
    let first = live.process(&ens).unwrap().to_owned();
    assert!(live.timings().total() > std::time::Duration::ZERO);

    // The same stages by hand.
    let mut bf = EnsembleBeamformer::new(ens.metadata(), &grid, bfc.clone(), 8).unwrap();
    let mut stack = bf.process(&ens).unwrap().to_owned();
    ClutterFilter::Polynomial { order: 2 }.apply(stack.view_mut()).unwrap();
    let maps = bf
        .estimator(4000.0, Method::Loupas, (3, 5))
        .estimate(stack.view())
        .unwrap();
    assert_eq!(&maps, live.maps());
    // Colour shows inside the vessel (flow toward the probe: red dominates) and not far from it.
    let conv = live.converter();
    let (mut inside, mut outside) = (0usize, 0usize);
    for ((r, c), _) in live.bmode().indexed_iter() {
        let [x, z] = conv.pixel_centre_m(r, c);
        let px = first.slice(ndarray::s![r, c, ..]);
        let coloured = px[0] != px[1] || px[1] != px[2];
        if vessel.contains([x, 0.0, z]) {
            inside += usize::from(coloured && px[0] > px[2]);
        } else if !Vessel::new([0.0, 0.0, 0.017], 70f64.to_radians(), 0.0035, 0.02)
            .unwrap()
            .contains([x, 0.0, z])
        {
            outside += usize::from(coloured);
        }
    }
    println!("red pixels inside the vessel: {inside}; coloured pixels well outside it: {outside}");
    assert!(inside > 1000 && outside < inside / 20, "{inside} {outside}");

    // More colour gain re-renders the overlay only; a harsher wall filter re-runs the slow-time
    // stages on the kept stack; neither beamforms again (the stack is unchanged).
    let stack_before = live.beamformer().stack().to_owned();
    live.set_display(ColorFlowDisplay {
        gain_db: 10.0,
        power_threshold_db: -20.0,
        ..ColorFlowDisplay::default()
    })
    .unwrap();
    let regained = live.rgb().to_owned();
    assert_ne!(regained, first);
    live.set_clutter(ClutterFilter::Iir { cutoff: 0.2, order: 2 }).unwrap();
    let refiltered = live.rerender().unwrap().to_owned();
    assert_ne!(refiltered, regained);
    assert_eq!(live.beamformer().stack(), stack_before.view());
    let v_n = live.nyquist_velocity_m_s().unwrap();
    live.set_slow_time_rate_hz(8000.0).unwrap();
    assert!((live.nyquist_velocity_m_s().unwrap() / v_n - 2.0).abs() < 1e-9);
    assert_eq!(
        live.set_clutter(ClutterFilter::Iir { cutoff: 0.7, order: 2 })
            .unwrap_err()
            .parameter(),
        Some("cutoff")
    );
    assert_eq!(
        live.set_estimator(Method::Kasai, (2, 5)).unwrap_err().parameter(),
        Some("average")
    );

    // A colour box over the left half of the image at a coarser spacing: colour only inside it,
    // the B-mode on its own grid unchanged.
    let box_grid = Grid::cartesian((-0.004, 0.0), 9, (0.014, 0.02), 40).unwrap();
    let mut boxed =
        ColorFlowImager::with_color_box(ens.metadata(), &grid, &box_grid, bfc, 4000.0, 200, config).unwrap();
    let rgb = boxed.process(&ens).unwrap().to_owned();
    assert_eq!(boxed.bmode(), live.bmode());
    let conv = boxed.converter();
    let (mut in_box, mut out_box) = (0usize, 0usize);
    for ((r, c), _) in boxed.bmode().indexed_iter() {
        let [x, z] = conv.pixel_centre_m(r, c);
        let px = rgb.slice(ndarray::s![r, c, ..]);
        let coloured = px[0] != px[1] || px[1] != px[2];
        if x > 0.0001 || !(0.0139..=0.0201).contains(&z) {
            out_box += usize::from(coloured);
        } else if vessel.contains([x, 0.0, z]) {
            in_box += usize::from(coloured);
        }
    }
    println!("colour box: {in_box} coloured vessel pixels inside, {out_box} outside");
    assert!(in_box > 300 && out_box == 0, "{in_box} {out_box}");
}

/// `BModeTransmits::Middle`: the B-mode under the colour is the middle transmit's alone. It equals,
/// pixel for pixel, the B-mode of an imager fed only that transmit's RF, differs from the
/// compounded B-mode, and leaves the colour (every transmit of every frame) unchanged.
#[test]
fn middle_transmit_bmode_is_that_transmits_alone() {
    use sonochip::doppler::live::BModeTransmits;
    use sonochip::sim::ensemble::Ensemble;
    let grid = Grid::cartesian((-0.003, 0.003), 25, (0.008, 0.016), 100).unwrap();
    let ens = three_wave_ensemble(
        &grid,
        0.02,
        ((-0.005, 0.005), (0.006, 0.018)),
        5,
        (0.1, -0.05),
        6000.0,
        4,
    );
    let config = ColorFlowConfig {
        ensemble_len: 4,
        ..ColorFlowConfig::default()
    };
    let box_grid = Grid::cartesian((-0.002, 0.002), 9, (0.01, 0.014), 30).unwrap();
    let imager = |meta: &sonochip::channel_data::Metadata, transmits| {
        ColorFlowImager::with_color_box(
            meta,
            &grid,
            &box_grid,
            BeamformConfig::default(),
            2000.0,
            120,
            ColorFlowConfig {
                bmode_transmits: transmits,
                ..config
            },
        )
        .unwrap()
    };
    let mut all = imager(ens.metadata(), BModeTransmits::All);
    let mut middle = imager(ens.metadata(), BModeTransmits::Middle);
    all.process(&ens).unwrap();
    middle.process(&ens).unwrap();

    // The middle event's RF alone, as a one-transmit record.
    let meta = ens.metadata();
    let one = Sequence::from_events(vec![meta.sequence().events()[1].clone()]).unwrap();
    let one_meta = sonochip::channel_data::Metadata::new(
        meta.sampling(),
        meta.fc_hz(),
        one,
        meta.channel_positions_m().to_vec(),
        meta.channel_normals().to_vec(),
    )
    .unwrap();
    let frames = ens
        .frames()
        .iter()
        .map(|f| {
            let rf = f.data().slice(ndarray::s![1..2, .., ..]).to_owned();
            sonochip::channel_data::ChannelData::new(rf, one_meta.clone()).unwrap()
        })
        .collect();
    let single = Ensemble::new(ens.prf_hz(), frames).unwrap();
    let mut reference = imager(&one_meta, BModeTransmits::All);
    reference.process(&single).unwrap();

    assert_eq!(middle.bmode(), reference.bmode());
    let differing = middle
        .bmode()
        .iter()
        .zip(all.bmode().iter())
        .filter(|(a, b)| a != b)
        .count();
    assert!(differing > middle.bmode().len() / 4, "{differing} pixels differ");
    assert_eq!(middle.maps(), all.maps());
}

/// The ensemble beamformer demodulates only the RF samples its grid's echoes can reach, and its
/// images are the ones the whole record gives: a colour box at 12–18 mm of a 30 mm record reads a
/// part of each trace, and its envelopes equal the one-shot IQ imaging of every frame on the whole
/// record (`imager::envelope_image`).
#[test]
fn ensemble_beamformer_demodulates_only_the_window_it_needs() {
    use sonochip::doppler::pipeline::EnsembleBeamformer;
    use sonochip::imager::envelope_image;
    let full_grid = Grid::cartesian((-0.004, 0.004), 33, (0.005, 0.03), 200).unwrap();
    let ens = three_wave_ensemble(
        &full_grid,
        0.03,
        ((-0.006, 0.006), (0.004, 0.03)),
        9,
        (0.3, 0.02),
        5000.0,
        3,
    );
    let box_grid = Grid::cartesian((-0.002, 0.002), 17, (0.012, 0.018), 60).unwrap();
    let cfg = BeamformConfig {
        f_number: Some(1.5),
        window: Window::Hann,
        ..BeamformConfig::default()
    };
    let mut bf = EnsembleBeamformer::new(ens.metadata(), &box_grid, cfg.clone(), 3).unwrap();
    bf.process(&ens).unwrap();
    let n = ens.metadata().n_samples();
    let (first, end) = bf.rf_window();
    println!("colour box 12–18 mm: RF samples {first}..{end} of {n}");
    assert!(
        first > 0 && end < n && (end - first) * 10 < n * 8,
        "{first}..{end} of {n}"
    );
    for (k, frame) in ens.frames().iter().enumerate() {
        let windowed = bf.envelope(k).unwrap();
        let whole = envelope_image(frame, &box_grid, cfg.clone()).unwrap();
        let peak = whole.iter().fold(0f32, |m, v| m.max(*v));
        let worst = windowed
            .iter()
            .zip(whole.iter())
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(worst <= 1e-4 * peak, "frame {k}: {worst} against a peak of {peak}");
    }
}

/// `n` frames at `prf` of three plane waves over ±6° from a 32-element, 0.3 mm pitch linear probe at
/// 5 MHz, recorded to `depth_m` for `grid`: speckle over `region` (x, z ranges; 1 mm thick,
/// seeded) that stays, plus a copy at `moving.0` of its amplitude translating in depth at
/// `moving.1` m/s.
fn three_wave_ensemble(
    grid: &Grid,
    depth_m: f64,
    region: ((f64, f64), (f64, f64)),
    seed: u64,
    moving: (f32, f64),
    prf: f64,
    n: usize,
) -> sonochip::sim::ensemble::Ensemble {
    let probe = Probe::linear(32, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let aperture = Aperture::full(&probe, None).unwrap();
    let sequence = Sequence::plane_wave_fan(&aperture, 6f64.to_radians(), 3, 1540.0).unwrap();
    let pulse = Pulse::new(5e6, 0.6, 2.0).unwrap();
    let acq = Acquisition::for_depth(aperture, sequence, pulse, 20e6, grid.clone(), depth_m).unwrap();
    let tissue = SpeckleBuilder::new(region.0, region.1, 4.0)
        .unwrap()
        .thickness(1e-3)
        .build(seed)
        .unwrap();
    let mut scene = MovingPhantom::still(tissue.clone());
    let velocity_m_s = [0.0, 0.0, moving.1];
    scene
        .push(tissue.scaled(moving.0).unwrap(), Motion::Translation { velocity_m_s })
        .unwrap();
    Simulator::new(&acq, Medium::soft_tissue())
        .unwrap()
        .run_ensemble(&scene, prf, n)
        .unwrap()
}
