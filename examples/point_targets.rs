//! Resolution: wires imaged by the PICMUS-like linear probe with 1 and 11 compounded plane waves;
//! prints each wire's position error and axial / lateral −6 dB widths next to theory, and writes
//! `out/point_targets/pw1.png` and `pw11.png`.

use sonochip::imager::envelope_image;
use sonochip::metrics::point_target;
use sonochip::prelude::*;
use sonochip::workload::Workload;

fn main() -> sonochip::Result<()> {
    let phantom = Phantom::resolution(0.01, 0.04, 0.025, 0.004, 0.012)?;
    let f_number = 1.5;
    for n in [1usize, 11] {
        let w = Workload::picmus(n)?.acquisition;
        let (fc, c) = (w.pulse().fc_hz(), w.sound_speed_m_s());
        let lambda = c / fc;
        let rf = Simulator::new(&w, Medium::soft_tissue())?.run(&phantom)?;
        let config = BeamformConfig {
            f_number: Some(f_number),
            window: Window::Rectangular,
            ..BeamformConfig::default()
        };
        let env = envelope_image(&rf, w.grid(), config)?;
        println!("{n} plane wave(s), F# {f_number}, λ = {:.3} mm", lambda * 1e3);
        println!(
            "  theory: lateral {:.3} mm (two-way) … {:.3} mm (one-way); axial {:.3} mm",
            0.886 * lambda * f_number * 1e3,
            1.207 * lambda * f_number * 1e3,
            0.44 * c / w.pulse().pulse_echo_bandwidth_hz() * 1e3
        );
        for s in phantom.scatterers() {
            let m = point_target(env.view(), w.grid(), s.position_m, 1e-3)?;
            let f = |v: Option<f64>| v.map_or("  n/a".to_string(), |v| format!("{:.3}", v * 1e3));
            println!(
                "  wire ({:+5.1}, {:4.1}) mm: error {:.3} mm ({:.2} λ), axial {} mm, lateral {} mm",
                s.position_m[0] * 1e3,
                s.position_m[2] * 1e3,
                m.distance_m * 1e3,
                m.distance_m / lambda,
                f(m.axial_fwhm_m),
                f(m.lateral_fwhm_m)
            );
        }
        let depths: Vec<f64> = (0..w.grid().shape().1).map(|k| w.grid().position(0, k)[2]).collect();
        let mapped = BModeMapper::new().map(env.view(), &depths)?;
        let conv = ScanConverter::new(w.grid(), RasterSpec::square_pixels_for(w.grid(), 600)?)?;
        let mut frame = conv.new_frame()?;
        conv.convert_into_frame(mapped.view(), &mut frame)?;
        frame.save_png_with_depth_scale(format!("out/point_targets/pw{n}.png"))?;
    }
    println!("wrote out/point_targets/pw1.png and pw11.png");
    Ok(())
}
