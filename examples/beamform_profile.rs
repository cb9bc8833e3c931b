//! Runs a few frames of a named workload through the beamformer (for `perf`):
//! `cargo run --release --example beamform_profile -- picmus11 Avx2 3` (kernels: `Scalar`, `Avx2`,
//! `Avx512`, anything else `Auto`). Environment: `IQ=1` beamforms
//! IQ data (decimated by 2), `FNUM`/`ACC` set the F-number (0: none) and acceptance angle (degrees),
//! `LIVE=1` takes the live imager's configuration instead, `CF=1` adds the coherence factor.

use ndarray::{Array2, Array3};
use num_complex::Complex32;
use sonochip::beamform::{BeamformConfig, Beamformer, KernelChoice};
use sonochip::demod::Demodulator;
use sonochip::imager::iq_demod_config;
use sonochip::preset::{Preset, PresetKind};
use sonochip::workload::Workload;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let name = args.get(1).map_or("picmus11", |s| s.as_str());
    let w = match name {
        "picmus1" => Workload::picmus(1),
        "picmus11" => Workload::picmus(11),
        "picmus75" => Workload::picmus(75),
        other => Workload::by_name(other).expect("a workload name"),
    }
    .unwrap()
    .acquisition;
    let kernel = match args.get(2).map_or("Auto", |s| s.as_str()) {
        "Scalar" => KernelChoice::Scalar,
        "Avx2" => KernelChoice::Avx2,
        "Avx512" => KernelChoice::Avx512,
        _ => KernelChoice::Auto,
    };
    let frames: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
    let cfg = BeamformConfig {
        kernel,
        f_number: std::env::var("FNUM")
            .ok()
            .map_or(Some(1.5), |s| s.parse().ok().filter(|&f: &f64| f > 0.0)),
        acceptance_angle_rad: std::env::var("ACC")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .map(f64::to_radians),
        ..BeamformConfig::default()
    };
    // LIVE=1: the live imager's configuration for the workload's preset (the vascular preset's
    // for `vascular`, the abdomen preset's for the others).
    let cfg = if std::env::var("LIVE").is_ok() {
        let kind = if name == "vascular" {
            PresetKind::Vascular
        } else {
            PresetKind::Abdomen
        };
        BeamformConfig {
            kernel,
            ..Preset::get(kind).beamform_config()
        }
    } else {
        cfg
    };
    // CF=1: with the coherence factor.
    let cfg = BeamformConfig {
        coherence_factor: std::env::var("CF").is_ok(),
        ..cfg
    };
    let iq = std::env::var("IQ").is_ok();
    let rf_meta = w.metadata().unwrap();
    let meta = if iq {
        // As the live imager: decimated by 2.
        let demod = Demodulator::new(w.sampling(), iq_demod_config(w.pulse().fc_hz())).unwrap();
        demod.output_metadata(&rf_meta).unwrap()
    } else {
        rf_meta
    };
    let bf = Beamformer::new(&meta, w.grid(), cfg).unwrap();
    let data = Array3::from_shape_fn(bf.data_shape(), |(a, b, c)| {
        ((a * 7 + b * 13 + c * 31) % 17) as f32 - 8.0
    });
    let iq_data = data.mapv(|v| Complex32::new(v, 0.5 * v));
    let mut img = Array2::zeros(bf.image_shape());
    let mut iq_img = Array2::zeros(bf.image_shape());
    let mut frame = || {
        if iq {
            bf.beamform_iq_raw_into(iq_data.view(), iq_img.view_mut()).unwrap();
        } else {
            bf.beamform_raw_into(data.view(), img.view_mut()).unwrap();
        }
    };
    // Best and median frame of `frames` (the machine is shared; the best frame is the least
    // disturbed).
    let mut times: Vec<f64> = (0..frames.max(1))
        .map(|_| {
            let t = std::time::Instant::now();
            frame();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let points = bf.points_per_frame() as f64;
    println!(
        "{name} {} {:?}: {:.3e} points/s, best of {} frames ({:.3e} median; {} threads)",
        if iq { "IQ" } else { "RF" },
        bf.kernel(),
        points / times[0],
        times.len(),
        points / times[times.len() / 2],
        rayon::current_num_threads()
    );
}
