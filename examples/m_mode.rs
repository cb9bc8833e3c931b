//! M-mode: a wall moving 1.5 mm at 1.2 Hz under static speckle, one focused line fired at
//! 400 Hz and streamed in pieces through the live M-mode imager (`doppler::live::MModeImager`),
//! shown on a 400-column sweep with its erase bar. Writes `out/m_mode/m_mode.png` (depth
//! down, time to the right).
//!
//! `cargo run --release --example m_mode`

use sonochip::doppler::live::MModeImager;
use sonochip::phantom::motion::{Motion, MovingPhantom};
use sonochip::prelude::*;

const C: f64 = 1540.0;
const F0: f64 = 5e6;

fn main() -> sonochip::Result<()> {
    std::fs::create_dir_all("out/m_mode").map_err(|e| Error::io("out/m_mode", e))?;
    m_mode()
}

/// A 64-element, 0.3 mm pitch linear probe with 5 mm tall elements.
fn probe_aperture() -> sonochip::Result<Aperture> {
    let probe = Probe::linear(64, 3e-4, 2.7e-4, 5e-3, 1)?;
    Aperture::full(&probe, None)
}

/// M-mode of a wall moving 1.5 mm at 1.2 Hz under static speckle, one focused line at 400 Hz.
fn m_mode() -> sonochip::Result<()> {
    let aperture = probe_aperture()?;
    let sequence = Sequence::focused(&aperture, &[[0.0, 0.0, 0.02]], C)?;
    let dz = C / F0 / 4.0;
    let zs: Vec<f64> = (0..((0.026 / dz) as usize)).map(|k| 0.006 + k as f64 * dz).collect();
    let grid = Grid::cartesian_from_axes(vec![0.0], zs, 0.0)?;
    let acq = Acquisition::for_depth(aperture, sequence, Pulse::new(F0, 0.6, 2.0)?, 20e6, grid.clone(), 0.034)?;
    let tissue = SpeckleBuilder::new((-0.004, 0.004), (0.005, 0.033), 12.0)?
        .thickness(3e-3)
        .build(4)?;
    let wall: Vec<[f64; 3]> = (0..161).map(|i| [-0.004 + i as f64 * 5e-5, 0.0, 0.02]).collect();
    let mut moving = MovingPhantom::still(tissue);
    moving.push(
        Phantom::points(&wall)?.scaled(8.0)?,
        Motion::Oscillation {
            amplitude_m: [0.0, 0.0, 0.0015],
            period_s: 1.0 / 1.2,
        },
    )?;
    let (prf, n) = (400.0, 480);
    // The live pipeline: the line beamformed per firing, each firing the sweep's next column;
    // the firings arrive in pieces of 48 as a scanner streams them.
    let mut live = MModeImager::new(&acq.metadata()?, &grid, 0, BeamformConfig::default(), 400, 50.0)?;
    let sim = Simulator::new(&acq, Medium::soft_tissue())?;
    for first in (0..n).step_by(48) {
        live.push(&sim.run_frames(&moving, prf, first, 48.min(n - first))?)?;
    }
    let img = live.image();
    let (h, w) = img.dim();
    let raw: Vec<u8> = img.iter().copied().collect();
    image::GrayImage::from_raw(w as u32, h as u32, raw)
        .ok_or_else(|| Error::shape("m_mode", "an image", "none"))?
        .save("out/m_mode/m_mode.png")
        .map_err(|e| Error::io("out/m_mode/m_mode.png", std::io::Error::other(e)))?;
    println!("M-mode: {n} firings at {prf} Hz on a 400-column sweep; wrote out/m_mode/m_mode.png");
    Ok(())
}
