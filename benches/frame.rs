//! End-to-end frame rate (RF channel data in memory → u8 raster) for the `vascular`, `cardiac` and
//! `abdomen` workloads through the live `Imager` (which runs the kernel `Auto` picks, printed), and
//! the display stages alone (envelope + log compression + scan conversion). Throughput is in
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
        g.bench_function(format!("{name}/bmode_and_scan_convert/threads={threads}"), |b| {
            b.iter(|| imager.remap().unwrap().width())
        });
        let env = imager.envelope().clone();
        let det = sonochip::envelope::EnvelopeDetector::new(env.dim().1).unwrap();
        let mut out = env.clone();
        g.bench_function(format!("{name}/envelope_rf_fft/threads={threads}"), |b| {
            b.iter(|| det.detect_rf_into(env.view(), out.view_mut()).unwrap())
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

criterion_group!(benches, frames);
criterion_main!(benches);
