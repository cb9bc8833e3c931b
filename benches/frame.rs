//! End-to-end frame rate (RF channel data in memory → u8 raster): every preset's live `Imager` on
//! its derived grid with each SIMD kernel (`frame/live/{preset}/{kernel}/threads=N`, run alone
//! with `cargo bench --bench frame -- live`); the `vascular`, `cardiac` and `abdomen` imagers with
//! the kernel `Auto` picks, and their display stage alone (B-mode mapping on the raster). Throughput is in
//! frames/s ("elem/s" = frames). For comparing kernels, the imager's IQ beamforming alone (its
//! plan's configuration and data) runs once with each SIMD kernel the CPU has
//! (`frame/cardiac/beamform_iq/Avx2/threads=2`, …).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array3;
use rand::{Rng, SeedableRng};
use sonochip::beamform::{BeamformConfig, Beamformer, KernelChoice};
use sonochip::channel_data::ChannelData;
use sonochip::demod::Demodulator;
use sonochip::imager::{Imager, iq_demod_config};
use sonochip::preset::PresetKind;

fn noise_frame(imager: &Imager) -> ChannelData<f32> {
    let meta = imager.metadata().clone();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let data = Array3::from_shape_fn(meta.data_shape(), |_| rng.random::<f32>() - 0.5);
    ChannelData::new(data, meta).unwrap()
}

/// `frame/live/{preset}/{kernel}/threads=N`: every preset's live `Imager` (its derived grid),
/// RF in memory → u8 raster, once with each SIMD kernel the CPU has.
fn live(c: &mut Criterion) {
    let threads = rayon::current_num_threads();
    let mut g = c.benchmark_group("frame/live");
    g.sample_size(10)
        .measurement_time(std::time::Duration::from_secs(2))
        .warm_up_time(std::time::Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    for kind in PresetKind::ALL {
        let mut imager = Imager::new(kind).unwrap();
        let rf = noise_frame(&imager);
        let name = imager.preset().name.clone();
        let (lines, depths) = imager.acquisition().grid().shape();
        for kernel in KernelChoice::supported() {
            if kernel == KernelChoice::Scalar {
                continue;
            }
            imager.set_kernel(kernel).unwrap();
            imager.process(&rf).unwrap();
            let t = imager.timings();
            println!(
                "frame bench: live {name} on {lines} x {depths}, {kernel:?}: demod {:.2} ms, beamform {:.2} ms, \
                 detect {:.2} ms, map {:.2} ms",
                t.demod.as_secs_f64() * 1e3,
                t.beamform.as_secs_f64() * 1e3,
                t.detect.as_secs_f64() * 1e3,
                t.map.as_secs_f64() * 1e3
            );
            g.bench_function(format!("{name}/{kernel:?}/threads={threads}"), |b| {
                b.iter(|| imager.process(&rf).unwrap().width())
            });
        }
    }
    g.finish();
}

fn frames(c: &mut Criterion) {
    let threads = rayon::current_num_threads();
    let mut g = c.benchmark_group("frame");
    g.sample_size(10)
        .measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_secs(1));
    g.throughput(Throughput::Elements(1));
    let simd: Vec<KernelChoice> = KernelChoice::supported()
        .into_iter()
        .filter(|&k| k != KernelChoice::Scalar)
        .collect();
    println!(
        "frame bench: kernels this CPU runs {:?}; Auto picks {:?}",
        KernelChoice::supported(),
        KernelChoice::best()
    );
    for (name, kind) in [
        ("vascular", PresetKind::Vascular),
        ("cardiac", PresetKind::Cardiac),
        ("abdomen", PresetKind::Abdomen),
    ] {
        let mut imager = Imager::new(kind).unwrap();
        println!(
            "frame bench: {name} beamforms with the {:?} kernel",
            imager.beamformer().kernel()
        );
        let rf = noise_frame(&imager);
        imager.process(&rf).unwrap();
        g.bench_function(format!("{name}/end_to_end/threads={threads}"), |b| {
            b.iter(|| imager.process(&rf).unwrap().width())
        });
        g.bench_function(format!("{name}/bmode_map/threads={threads}"), |b| {
            b.iter(|| imager.remap().unwrap().width())
        });
        // The imager's IQ beamforming with each SIMD kernel.
        let iq = Demodulator::for_data(&rf, iq_demod_config(rf.meta().fc_hz()))
            .unwrap()
            .demodulate(&rf)
            .unwrap();
        let mut img = ndarray::Array2::zeros(imager.beamformer().image_shape());
        for &kernel in &simd {
            let cfg = BeamformConfig {
                kernel,
                ..imager.preset().beamform_config()
            };
            let bf = Beamformer::new(imager.beamformer().metadata(), imager.acquisition().grid(), cfg).unwrap();
            g.bench_function(format!("{name}/beamform_iq/{kernel:?}/threads={threads}"), |b| {
                b.iter(|| bf.beamform_iq_into(&iq, img.view_mut()).unwrap())
            });
        }
    }
    g.finish();
}

criterion_group!(benches, live, frames);
criterion_main!(benches);
