//! An image-based phantom (Field II style): scatterer amplitudes follow a grayscale picture — here a
//! procedurally drawn kidney-like organ with cortex, medulla pyramids and a bright sinus — imaged
//! with the vascular (linear) preset; writes the source picture and the B-mode image under
//! `out/image_phantom/`.

use ndarray::Array2;
use sonochip::frame::BModeFrame;
use sonochip::imager::Imager;
use sonochip::medium::Medium;
use sonochip::phantom::Phantom;
use sonochip::preset::PresetKind;

/// Echogenicity picture `[z, x]` over 30 mm × 36 mm (values 0–2).
fn kidney(rows: usize, cols: usize) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let (x, z) = (c as f32 / cols as f32 * 2.0 - 1.0, r as f32 / rows as f32 * 2.0 - 1.0);
        let e = (x / 0.8).powi(2) + ((z - 0.05) / 0.55).powi(2);
        if e > 1.0 {
            return 0.8; // surrounding tissue
        }
        if e > 0.8 {
            return 1.6; // capsule
        }
        let sinus = (x / 0.3).powi(2) + ((z - 0.05) / 0.22).powi(2) < 1.0;
        if sinus {
            return 2.0;
        }
        let ang = (z - 0.05).atan2(x);
        let pyramid = (ang * 3.0).sin() > 0.55 && e > 0.3 && e < 0.7;
        if pyramid { 0.15 } else { 0.9 }
    })
}

fn main() -> sonochip::Result<()> {
    let picture = kidney(240, 200);
    let grey = picture.mapv(|v| (v / 2.0 * 255.0) as u8);
    BModeFrame::new(grey, [-0.015, 0.004], [0.03 / 200.0, 0.036 / 240.0])?.save_png("out/image_phantom/source.png")?;
    let mut imager = Imager::new(PresetKind::Vascular)?;
    let density = imager.preset().speckle_density(1.5);
    let phantom = Phantom::from_image(picture.view(), (-0.015, 0.015), (0.004, 0.04), density, 5)?;
    let rf = imager.simulate(&phantom, Medium::soft_tissue())?;
    imager
        .process(&rf)?
        .save_png_with_depth_scale("out/image_phantom/bmode.png")?;
    println!(
        "{} scatterers from a {}x{} picture; wrote out/image_phantom/source.png and bmode.png",
        phantom.len(),
        240,
        200
    );
    Ok(())
}
