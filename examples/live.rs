//! Live imaging: streams simulated frames through one `Imager` while sweeping the gain control and
//! stepping the depth, and prints frames/s. Gain changes only re-map; depth changes re-plan.

use sonochip::imager::Imager;
use sonochip::medium::Medium;
use sonochip::preset::PresetKind;
use sonochip::sim::Simulator;
use std::time::Instant;

fn main() -> sonochip::Result<()> {
    let mut imager = Imager::new(PresetKind::Vascular)?;
    for depth_m in [0.03, 0.04, 0.05] {
        imager.set_depth(depth_m)?;
        let s = imager.setup().clone();
        let phantom = imager.preset().phantom(0.5, 9)?;
        let rf = Simulator::new(&s.aperture, &s.sequence, Medium::soft_tissue(), s.pulse, s.sampling)?.run(&phantom)?;
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
            "vascular at {:.0} mm: {fps:.1} frames/s over {n} frames ({} beamforms); last frame {:.1} ms (beamform {:.1} ms)",
            depth_m * 1e3,
            imager.beamform_count() - before,
            tm.total().as_secs_f64() * 1e3,
            tm.beamform.as_secs_f64() * 1e3
        );
        let t = Instant::now();
        for g in 0..=100 {
            imager.set_gain_control(g as f64)?;
            imager.remap()?;
        }
        println!(
            "  101 gain changes re-rendered without beamforming in {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    Ok(())
}
