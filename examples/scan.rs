//! The main job: every clinical preset images its built-in scene (phantom and the attenuation map
//! of its tissues; simulated RF → live B-mode pipeline) and writes one PNG each, with a depth ruler, under `out/scan/`; prints per-preset frame
//! timings.
//!
//! Run with `cargo run --release --example scan`. The phantoms are 2D slices (1 mm thick) at about
//! 0.6 (deep presets) to 1 (superficial) scatterers per resolution cell so that all eight presets simulate in well under a minute on
//! two cores; `examples/cyst.rs` shows fully developed speckle at ≥ 10 per cell.

use sonochip::prelude::*;
use std::time::Instant;

fn main() -> sonochip::Result<()> {
    let out = std::path::Path::new("out/scan");
    let start = Instant::now();
    println!(
        "{:<9} {:>10} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "preset", "scatterers", "sim s", "grid", "demod ms", "beamf ms", "detect ms", "map ms", "fps"
    );
    for (i, kind) in PresetKind::ALL.iter().enumerate() {
        let mut imager = Imager::new(*kind)?;
        let preset = imager.preset().clone();
        let per_cell = if preset.fc_hz > 5e6 { 1.0 } else { 0.6 };
        let anatomy = preset.anatomy(per_cell, 100 + i as u64)?;
        let t = Instant::now();
        let rf = imager.simulate_anatomy(&anatomy, Medium::soft_tissue())?;
        let sim_s = t.elapsed().as_secs_f64();
        // Twice: the first frame warms caches; timings are from the second.
        imager.process(&rf)?;
        let frame = imager.process(&rf)?.clone();
        let tm = imager.timings();
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let (lines, depths) = imager.acquisition().grid().shape();
        println!(
            "{:<9} {:>10} {:>8.2} {:>10} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.1}",
            preset.name,
            anatomy.phantom.len(),
            sim_s,
            format!("{lines}x{depths}"),
            ms(tm.demod),
            ms(tm.beamform),
            ms(tm.detect),
            ms(tm.map),
            1.0 / tm.total().as_secs_f64()
        );
        frame.save_png_with_depth_scale(out.join(format!("{}.png", preset.name)))?;
    }
    println!(
        "wrote {} PNGs to {} in {:.1} s",
        PresetKind::ALL.len(),
        out.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
