//! Contrast and speckle: the PICMUS-like linear probe images an anechoic cyst and a +6 dB
//! hyperechoic inclusion in fully developed speckle (≥ 10 scatterers per resolution cell) with 11
//! compounded plane waves; prints CR, CNR, gCNR and speckle statistics and writes
//! `out/cyst/cyst.png`.

use sonochip::imager::envelope_image;
use sonochip::metrics::{Region, contrast, speckle};
use sonochip::phantom::density_for;
use sonochip::prelude::*;
use sonochip::workload::Workload;

fn main() -> sonochip::Result<()> {
    let w = Workload::picmus(11)?.acquisition;
    let lambda = w.sound_speed_m_s() / w.pulse().fc_hz();
    let density = density_for(12.0, 1.5 * lambda, lambda);
    let (xr, zr) = ((-0.01, 0.01), (0.01, 0.03));
    let phantom = Phantom::cyst(xr, zr, 0.02, 0.003, density, 7)?;
    let t = std::time::Instant::now();
    let rf = Simulator::new(&w, Medium::soft_tissue())?.run(&phantom)?;
    println!(
        "simulated {} scatterers ({density:.0}/mm², 12 per cell) in {:.1} s",
        phantom.len(),
        t.elapsed().as_secs_f64()
    );
    let grid = Grid::cartesian(xr, 200, zr, 400)?;
    let config = BeamformConfig {
        f_number: Some(1.5),
        window: Window::Hann,
        ..BeamformConfig::default()
    };
    let env = envelope_image(&rf, &grid, config)?;
    let dx = 0.25 * (xr.1 - xr.0) * 0.8;
    let cyst = Region::Disk {
        center_m: [-dx, 0.02],
        radius_m: 0.0025,
    };
    let bright = Region::Disk {
        center_m: [dx, 0.02],
        radius_m: 0.0025,
    };
    // References at the same depth: rings around each inclusion (1.2 r to 1.6 r).
    let ring = |x: f64| Region::Annulus {
        center_m: [x, 0.02],
        inner_m: 0.003,
        outer_m: 0.004,
    };
    let c = contrast(env.view(), &grid, &cyst, &ring(-dx))?;
    let h = contrast(env.view(), &grid, &bright, &ring(dx))?;
    let s = speckle(env.view(), &grid, &ring(-dx), (4, 4))?;
    println!(
        "anechoic cyst:  CR {:.1} dB, CNR {:.2}, gCNR {:.3}",
        c.cr_db.unwrap_or(f64::NAN),
        c.cnr.unwrap_or(f64::NAN),
        c.gcnr
    );
    println!(
        "+6 dB inclusion: CR {:.1} dB (phantom +6.0 dB), gCNR {:.3}",
        h.cr_db.unwrap_or(f64::NAN),
        h.gcnr
    );
    println!(
        "speckle: SNR {:.2} (Rayleigh 1.91), KS p = {:.2} ({})",
        s.snr,
        s.ks.p_value,
        if s.ks.pass { "pass" } else { "fail" }
    );
    let depths: Vec<f64> = (0..400).map(|k| grid.position(0, k)[2]).collect();
    let mapped = BModeMapper::new().map(env.view(), &depths)?;
    let conv = ScanConverter::new(&grid, RasterSpec::square_pixels_for(&grid, 400)?)?;
    let mut frame = conv.new_frame()?;
    conv.convert_into_frame(mapped.view(), &mut frame)?;
    frame.save_png_with_depth_scale("out/cyst/cyst.png")?;
    println!("wrote out/cyst/cyst.png");
    Ok(())
}
