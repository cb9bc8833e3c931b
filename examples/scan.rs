//! The main job: every clinical preset images its built-in scene (phantom and the attenuation map
//! of its tissues; simulated RF → live B-mode pipeline) and writes one PNG each, with a depth ruler, under `out/scan/`; prints per-preset frame
//! timings.
//!
//! Run with `cargo run --release --example scan`. The phantoms are 2D slices (1 mm thick) at 0.6
//! (deep presets) or 1 (superficial) scatterers per nominal cell of 1.5 λ × λ, 0.6–1.2 per real
//! resolution cell at the image's middle, so that all eight presets simulate in well under a minute
//! on two cores; the speckle is coarser than fully developed speckle.
//!
//! `cargo run --release --example scan -- --per-cell 10` draws every scene at 10 scatterers per
//! real resolution cell at the image's middle (`Preset::resolved_speckle_density`): fully
//! developed speckle, at 8.5–16.6 times the scatterers and about that much more time (PNGs under
//! `out/scan_10_per_cell/`).

use sonochip::prelude::*;
use std::time::Instant;

/// `--per-cell N` from the command line: scatterers per real resolution cell, if given.
fn per_cell_arg() -> Option<f64> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == "--per-cell")?;
    match args.get(i + 1).and_then(|v| v.parse::<f64>().ok()) {
        Some(v) if v > 0.0 && v.is_finite() => Some(v),
        _ => {
            eprintln!("--per-cell takes a positive number of scatterers per resolution cell");
            std::process::exit(2);
        }
    }
}

fn main() -> sonochip::Result<()> {
    let resolved = per_cell_arg();
    let dir = match resolved {
        Some(n) => format!("out/scan_{n}_per_cell"),
        None => "out/scan".to_string(),
    };
    let out = std::path::Path::new(&dir);
    let start = Instant::now();
    println!(
        "{:<9} {:>10} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "preset", "scatterers", "sim s", "grid", "demod ms", "beamf ms", "detect ms", "map ms", "fps"
    );
    for (i, kind) in PresetKind::ALL.iter().enumerate() {
        let mut imager = Imager::new(*kind)?;
        let preset = imager.preset().clone();
        let seed = 100 + i as u64;
        let anatomy = match resolved {
            Some(n) => preset.anatomy_at_density(preset.resolved_speckle_density(n)?, seed)?,
            None => preset.anatomy(if preset.fc_hz > 5e6 { 1.0 } else { 0.6 }, seed)?,
        };
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
