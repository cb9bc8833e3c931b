//! End-to-end frame rate (RF channel data in memory → u8 raster) for the `vascular`, `cardiac` and
//! `abdomen` workloads through the live `Imager`, and the display stages alone (envelope + log
//! compression + scan conversion). Throughput is in frames/s ("elem/s" = frames).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array3;
use rand::{Rng, SeedableRng};
use sonochip::channel_data::ChannelData;
use sonochip::imager::Imager;
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
    }
    g.finish();
}

criterion_group!(benches, frames);
criterion_main!(benches);
