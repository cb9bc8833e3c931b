//! The main job: simulate the built-in phantoms and write one image per transmit under `out/scan/`
//! (channels across, time down, log-compressed channel data).
use sonochip::frame::BModeFrame;
use sonochip::medium::Medium;
use sonochip::phantom::Phantom;
use sonochip::sim::Simulator;
use sonochip::workload::Workload;

fn main() -> sonochip::Result<()> {
    std::fs::create_dir_all("out/scan").map_err(|e| sonochip::Error::Io {
        path: "out/scan".into(),
        message: e.to_string(),
    })?;
    let jobs = [
        ("vascular", Phantom::vessel(2.0, 1)?),
        ("abdomen", Phantom::abdomen(0.05, 2)?),
        ("cardiac", Phantom::heart(0.05, 3)?),
    ];
    for (name, phantom) in jobs {
        let w = Workload::by_name(name).expect("known workload")?;
        let t = std::time::Instant::now();
        let rf = Simulator::new(&w.aperture, &w.sequence, Medium::soft_tissue(), w.pulse, w.sampling)?.run(&phantom)?;
        println!(
            "{name}: {} scatterers, {} tx x {} ch x {} samples in {:.2} s",
            phantom.len(),
            rf.n_tx(),
            rf.n_channels(),
            rf.n_samples(),
            t.elapsed().as_secs_f64()
        );
        let (_, nc, ns) = rf.data().dim();
        let tx = rf.n_tx() / 2;
        let trace = rf.data().index_axis(ndarray::Axis(0), tx);
        let peak = trace.iter().fold(0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
        let px = ndarray::Array2::from_shape_fn((ns, nc), |(k, c)| {
            let db = 20.0 * (trace[[c, k]].abs() / peak).max(1e-6).log10();
            (255.0 * (1.0 + db / 60.0)).clamp(0.0, 255.0) as u8
        });
        let frame = BModeFrame::new(px, [0.0, 0.0], [1e-4, 1e-4])?;
        frame.save_png(format!("out/scan/{name}_channels_tx{tx}.png"))?;
    }
    Ok(())
}
