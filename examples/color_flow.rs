//! Colour flow and power Doppler: two vessels with opposite Poiseuille flow in speckle, 16 frames of
//! three compounded plane waves, a polynomial wall filter and the Loupas estimator. Writes
//! `out/color_flow/color.png` (B-mode, colour overlay and the ±Nyquist scale bar) and
//! `out/color_flow/power.png`, and prints the estimated and true velocities on the vessels' axes.
//!
//! `cargo run --release --example color_flow`

use sonochip::doppler::clutter::ClutterFilter;
use sonochip::doppler::color::{ColorFlowDisplay, to_rgb_image, velocity_scale_bar};
use sonochip::doppler::estimate::{Method, nyquist_velocity_m_s};
use sonochip::doppler::pipeline::EnsembleBeamformer;
use sonochip::phantom::motion::{FlowProfile, Motion, MovingPhantom, Vessel};
use sonochip::prelude::*;
use std::time::Instant;

const C: f64 = 1540.0;
const F0: f64 = 5e6;

fn main() -> sonochip::Result<()> {
    std::fs::create_dir_all("out/color_flow").map_err(|e| Error::io("out/color_flow", e))?;
    color_flow()
}

/// A 64-element, 0.3 mm pitch linear probe with a 5 mm element and an elevation lens at 20 mm.
fn probe_aperture() -> sonochip::Result<Aperture> {
    let probe = Probe::linear(64, 3e-4, 2.7e-4, 5e-3, 4)?;
    Aperture::full(&probe, Some(0.02))
}

/// Grey levels of an envelope raster: white `gain_db` below its maximum, black `dr` below that.
fn grey(env: &Array2<f32>, dr: f32, gain_db: f32) -> Array2<u8> {
    let max = env.iter().fold(0.0f32, |m, &v| m.max(v)).max(f32::MIN_POSITIVE);
    env.mapv(|v| {
        let db = 20.0 * (v.max(f32::MIN_POSITIVE) / max).log10() + gain_db;
        (255.0 * (db + dr) / dr).clamp(0.0, 255.0) as u8
    })
}

fn color_flow() -> sonochip::Result<()> {
    let aperture = probe_aperture()?;
    let sequence = Sequence::plane_wave_fan(&aperture, 6f64.to_radians(), 3, C)?;
    let lambda = C / F0;
    let grid = Grid::cartesian((-0.009, 0.009), 91, (0.008, 0.032), (0.024 / (lambda / 4.0)) as usize)?;
    let acq = Acquisition::for_depth(aperture, sequence, Pulse::new(F0, 0.6, 2.0)?, 20e6, grid.clone(), 0.035)?;
    // Two vessels: the upper one carries flow down and to the right (away from the probe), the
    // lower one up and to the right (toward it); Poiseuille, 0.35 m/s on the axis.
    let away = Vessel::new([0.0, 0.0, 0.015], 75f64.to_radians(), 0.0025, 0.03)?;
    let toward = Vessel::new([0.0, 0.0, 0.025], 105f64.to_radians(), 0.002, 0.03)?;
    let tissue = SpeckleBuilder::new((-0.013, 0.013), (0.004, 0.036), 12.0)?
        .thickness(3e-3)
        .build(1)?;
    let tissue = toward.clear_lumen(&away.clear_lumen(&tissue));
    let mut moving = MovingPhantom::still(tissue);
    for (i, v) in [away, toward].into_iter().enumerate() {
        moving.push(
            v.blood(15.0, -35.0, 10 + i as u64)?,
            Motion::Flow {
                vessel: v,
                profile: FlowProfile::Poiseuille { v_max_m_s: 0.35 },
                waveform: None,
            },
        )?;
    }
    let (prf, n) = (9000.0, 16);
    let t = Instant::now();
    let ens = Simulator::new(&acq, Medium::soft_tissue())?.run_ensemble(&moving, prf, n)?;
    println!(
        "colour flow: {} scatterers, {n} frames of 3 plane waves at {prf} Hz ({} Hz slow time) simulated in {:.1} s",
        moving.len(),
        ens.slow_time_rate_hz(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let mut bf = EnsembleBeamformer::new(
        ens.metadata(),
        &grid,
        BeamformConfig {
            f_number: Some(1.5),
            ..Default::default()
        },
        n,
    )?;
    let mut stack = bf.process(&ens)?.to_owned();
    let t_bf = t.elapsed();
    let converter = ScanConverter::new(&grid, RasterSpec::square_pixels_for(&grid, 400)?)?;
    let bmode = grey(
        &converter.detect_iq(stack.index_axis(ndarray::Axis(0), 0))?,
        50.0,
        -12.0,
    );
    let t = Instant::now();
    ClutterFilter::Polynomial { order: 2 }.apply(stack.view_mut())?;
    let est = bf.estimator(ens.slow_time_rate_hz(), Method::Loupas, (3, 5));
    let maps = est.estimate(stack.view())?;
    let t_est = t.elapsed();
    let v_n = nyquist_velocity_m_s(ens.slow_time_rate_hz(), F0, C)?;
    println!(
        "  beamformed in {:.0} ms, clutter filter + Loupas in {:.0} ms; Nyquist velocity {v_n:.3} m/s",
        t_bf.as_secs_f64() * 1e3,
        t_est.as_secs_f64() * 1e3
    );
    // The true axial velocities on the vessels' axes, for comparison.
    for (name, vessel, sign) in [("upper (away)", away, -1.0), ("lower (toward)", toward, 1.0)] {
        let c = vessel.centre_m();
        let (l, d) = nearest(&grid, c[0], c[2]);
        let truth = sign * 0.35 * vessel.angle_rad().cos().abs();
        println!(
            "  {name} vessel centre: estimated {:+.3} m/s axial, true {truth:+.3} m/s",
            maps.velocity_m_s[[l, d]]
        );
    }
    let velocity = converter.convert_f32(maps.velocity_m_s.view(), 0.0)?;
    let power = converter.convert_f32(maps.power.view(), 0.0)?;
    let display = ColorFlowDisplay::default();
    let rgb = display.overlay(bmode.view(), velocity.view(), power.view(), v_n)?;
    let bar = velocity_scale_bar(rgb.dim().0, 16, v_n)?;
    let both = ndarray::concatenate(
        ndarray::Axis(1),
        &[rgb.view(), Array3::zeros((rgb.dim().0, 6, 3)).view(), bar.image.view()],
    )
    .map_err(|e| Error::shape("scale bar", "the overlay's height", e.to_string()))?;
    save(&both, "out/color_flow/color.png")?;
    let pw = display.power_overlay(bmode.view(), power.view())?;
    save(&pw, "out/color_flow/power.png")?;
    println!("  wrote out/color_flow/color.png (scale bar ±{v_n:.3} m/s) and out/color_flow/power.png");
    Ok(())
}

fn nearest(grid: &Grid, x: f64, z: f64) -> (usize, usize) {
    match grid.kind() {
        sonochip::grid::GridKind::Cartesian { x_m, z_m, .. } => {
            let near = |v: &[f64], t: f64| {
                (0..v.len())
                    .min_by(|&a, &b| (v[a] - t).abs().total_cmp(&(v[b] - t).abs()))
                    .unwrap_or(0)
            };
            (near(x_m, x), near(z_m, z))
        }
        _ => (0, 0),
    }
}

fn save(rgb: &Array3<u8>, path: &str) -> sonochip::Result<()> {
    to_rgb_image(rgb.view())?
        .save(path)
        .map_err(|e| Error::io(path, std::io::Error::other(e)))
}
