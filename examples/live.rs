//! Live imaging: streams simulated frames through one `Imager` while sweeping the gain control and
//! stepping the depth, and prints frames/s. Gain changes only re-map; depth changes re-plan. Writes
//! the last frame at each depth as `out/live/vascular_{depth}mm.png` and a strip of frames along
//! the gain sweep as `out/live/gain_sweep.png`.

use sonochip::prelude::*;
use std::time::Instant;

fn main() -> sonochip::Result<()> {
    let mut imager = Imager::new(PresetKind::Vascular)?;
    let mut strip: Vec<BModeFrame> = Vec::new();
    for depth_m in [0.03, 0.04, 0.05] {
        imager.set_depth(depth_m)?;
        let phantom = imager.preset().phantom(0.5, 9)?;
        let rf = imager.simulate(&phantom, Medium::soft_tissue())?;
        let n = 60;
        let t = Instant::now();
        let before = imager.beamform_count();
        for i in 0..n {
            imager.set_gain_control(30.0 + 40.0 * (i as f64 / n as f64))?;
            imager.process(&rf)?;
        }
        let fps = n as f64 / t.elapsed().as_secs_f64();
        let tm = imager.timings();
        println!(
            "vascular at {:.0} mm: {fps:.1} frames/s over {n} frames ({} beamforms, {:?} kernel); last frame {:.1} ms (beamform {:.1} ms)",
            depth_m * 1e3,
            imager.beamform_count() - before,
            imager.beamformer().kernel(),
            tm.total().as_secs_f64() * 1e3,
            tm.beamform.as_secs_f64() * 1e3
        );
        imager
            .frame()
            .save_png_with_depth_scale(format!("out/live/vascular_{:.0}mm.png", depth_m * 1e3))?;
        let t = Instant::now();
        for g in 0..=100 {
            imager.set_gain_control(g as f64)?;
            let frame = imager.remap()?;
            if depth_m == 0.04 && g % 25 == 0 {
                strip.push(frame.clone());
            }
        }
        println!(
            "  101 gain changes re-rendered without beamforming in {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    // The gain sweep at 40 mm, side by side (gain control 0, 25, 50, 75, 100).
    let (w, h) = (strip[0].width(), strip[0].height());
    let mut pixels = Array2::<u8>::zeros((h, w * strip.len()));
    for (i, f) in strip.iter().enumerate() {
        pixels.slice_mut(s![.., i * w..(i + 1) * w]).assign(&f.pixels());
    }
    let first = &strip[0];
    BModeFrame::new(pixels, first.origin_m(), first.pixel_size_m())?.save_png("out/live/gain_sweep.png")?;
    println!("wrote out/live/vascular_30mm.png, _40mm.png, _50mm.png and gain_sweep.png");
    Ok(())
}
