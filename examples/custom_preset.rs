//! The front door: an edited preset, a phantom of your own, live controls.
//!
//! 1. The vascular preset with 9 plane waves, a Hann window at F# 1.8 and a 55 dB display.
//! 2. A phantom of our own: speckle with two anechoic cysts and three wires at chosen places.
//! 3. A fixed dB reference: the first frame calibrates 0 dB ([`Imager::hold_reference`]), so a
//!    bright reflector that appears later does not darken the rest of the image (with the frame
//!    maximum as 0 dB it would).
//! 4. Live: gain up and a deeper depth, re-planned, simulated and imaged again.
//!
//! Writes `out/custom_preset/{first,bright_wire_fixed,bright_wire_frame_max,deeper}.png`.
//!
//! `cargo run --release --example custom_preset`

use sonochip::prelude::*;

fn mean_grey(frame: &BModeFrame) -> f64 {
    let p = frame.pixels();
    p.iter().map(|&v| v as f64).sum::<f64>() / p.len() as f64
}

fn main() -> sonochip::Result<()> {
    let out = std::path::Path::new("out/custom_preset");

    // 1. Edit a preset: every field is public; the imager validates the whole preset.
    let mut preset = Preset::get(PresetKind::Vascular);
    preset.name = "vascular-9pw".into();
    preset.n_tx = 9;
    preset.window = Window::Hann;
    preset.f_number = Some(1.8);
    preset.dynamic_range_db = 55.0;
    let mut imager = Imager::new(preset)?;
    println!(
        "{}: {} transmits, {} channels, grid {:?}, {:?} kernel",
        imager.preset().name,
        imager.acquisition().sequence().len(),
        imager.acquisition().aperture().n_channels(),
        imager.acquisition().grid().shape(),
        imager.beamformer().kernel()
    );

    // 2. A phantom of our own (metres: x lateral, z depth). Speckle at about 2 scatterers per
    //    resolution cell keeps the simulation to a few seconds.
    let density = imager.preset().speckle_density(2.0);
    let build = |extra_wire: Option<f32>| -> sonochip::Result<Phantom> {
        let mut b = SpeckleBuilder::new((-0.014, 0.014), (0.006, 0.04), density)?
            .feature(Feature::disk([-0.006, 0.015], 0.003, 0.0))
            .feature(Feature::disk([0.005, 0.027], 0.004, 0.0))
            .point([0.0, 0.0, 0.01], 60.0)
            .point([0.008, 0.0, 0.018], 60.0)
            .point([-0.007, 0.0, 0.032], 60.0);
        if let Some(a) = extra_wire {
            b = b.point([0.002, 0.0, 0.022], a);
        }
        b.build(11)
    };
    let rf = imager.simulate(&build(None)?, Medium::soft_tissue())?;
    let first = imager.process(&rf)?;
    first.save_png_with_depth_scale(out.join("first.png"))?;
    println!("first frame: mean grey {:.0}", mean_grey(first));

    // 3. Fix 0 dB at this frame's maximum, then add a wire 20 dB brighter than the others.
    let reference = imager.hold_reference()?;
    println!(
        "0 dB fixed at envelope amplitude {reference:.3e} ({:?})",
        imager.preset().db_reference
    );
    let bright = imager.simulate(&build(Some(600.0))?, Medium::soft_tissue())?;
    let fixed = imager.process(&bright)?;
    fixed.save_png_with_depth_scale(out.join("bright_wire_fixed.png"))?;
    let fixed_grey = mean_grey(fixed);
    imager.set_db_reference(DbReference::FrameMax)?;
    let frame_max = imager.remap()?;
    frame_max.save_png_with_depth_scale(out.join("bright_wire_frame_max.png"))?;
    println!(
        "with a bright wire: mean grey {fixed_grey:.0} with the fixed reference, {:.0} with the frame maximum",
        mean_grey(frame_max)
    );
    imager.set_db_reference(DbReference::Fixed(reference))?;

    // 4. Live controls: more gain (re-map only) and a deeper field of view (re-plan). Data of the
    //    old depth is refused with an error saying why, so simulate again.
    imager.set_gain_control(60.0)?;
    imager.set_depth(0.05)?;
    if let Err(e) = imager.process(&rf) {
        println!("old data after the depth change: {e}");
    }
    let rf = imager.simulate(&build(None)?, Medium::soft_tissue())?;
    let deeper = imager.process(&rf)?;
    deeper.save_png_with_depth_scale(out.join("deeper.png"))?;
    let grey = mean_grey(deeper);
    println!(
        "at {:.0} mm with gain control 60: mean grey {grey:.0}; frame {:.1} ms",
        imager.depth_m() * 1e3,
        imager.timings().total().as_secs_f64() * 1e3
    );
    println!(
        "wrote {}/first.png, bright_wire_fixed.png, bright_wire_frame_max.png and deeper.png",
        out.display()
    );
    Ok(())
}
