//! What the preset scenes look like, measured on their simulated images.

use sonochip::prelude::*;

/// MSK: under the bone cortex (a specular interface over bone's attenuation) the image is dark
/// all across, with no tent of clutter. With the cortex modelled as a 1.5 mm band of strong
/// random scatterers, the plane-wave point-spread tails of those scatterers reached 2–5 mm under
/// it, deepest at the sides where the receive aperture is one-sided: about 20 dB under the tissue
/// 0.5–3 mm below the band and 30 dB at 5–8 mm at the sides (measured on the band alone, session
/// 9). Measured here: −36 to −37 dB and −49 to −51 dB, within 2 dB across the width.
#[test]
fn msk_bone_has_no_clutter_tent_beneath_it() {
    let mut imager = Imager::new(PresetKind::Msk).unwrap();
    let preset = imager.preset().clone();
    let scene = preset.anatomy(1.0, 7).unwrap();
    let rf = imager.simulate_anatomy(&scene, Medium::soft_tissue()).unwrap();
    imager.process(&rf).unwrap();
    // The envelope on the display raster, `[row (z), col (x)]`, with the frame's geometry.
    let env = imager.envelope().clone();
    let frame = imager.frame().clone();
    let (rows, cols) = env.dim();
    let power = |z: (f64, f64), c: std::ops::Range<usize>| {
        let (mut s, mut n) = (0.0, 0usize);
        for col in c {
            for row in 0..rows {
                let [_, zm] = frame.pixel_to_m(row as f64, col as f64);
                if zm >= z.0 && zm < z.1 {
                    s += f64::from(env[[row, col]]).powi(2);
                    n += 1;
                }
            }
        }
        s / n as f64
    };
    let tissue = power((0.024, 0.030), 0..cols);
    let third = cols / 3;
    let parts = [0..third, third..2 * third, 2 * third..cols];
    for (name, z) in [
        ("0.5–3 mm under the cortex", (0.0335, 0.035)),
        ("3–8 mm under it", (0.035, 0.040)),
    ] {
        let db: Vec<f64> = parts
            .iter()
            .map(|l| 10.0 * (power(z, l.clone()) / tissue).log10())
            .collect();
        eprintln!(
            "{name}: left / centre / right {:.1} / {:.1} / {:.1} dB against the tissue above",
            db[0], db[1], db[2]
        );
        assert!(db.iter().all(|&d| d < -30.0), "{name}: {db:?}");
        let spread = db.iter().cloned().fold(f64::MIN, f64::max) - db.iter().cloned().fold(f64::MAX, f64::min);
        assert!(spread < 6.0, "{name}: a tent of {spread:.1} dB across the width");
    }
}
