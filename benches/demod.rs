//! Demodulation throughput (RF → IQ: mix, low-pass, decimate) on a frame of the `abdomen` shape:
//! 5 transmits × 140 channels × 2900 samples at 14 MHz, mixed at 3.5 MHz with the live pipeline's
//! settings ([`sonochip::imager::iq_demod_config`]: cut-off 0.9·fc, decimation 2). The RF is uniform
//! noise (the work does not depend on the content). Throughput is in input RF samples/s; the bench
//! name carries the rayon thread count.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array3;
use num_complex::Complex32;
use rand::{Rng, SeedableRng};
use sonochip::channel_data::Sampling;
use sonochip::demod::Demodulator;
use sonochip::imager::iq_demod_config;
use std::time::Duration;

fn demod(c: &mut Criterion) {
    let threads = rayon::current_num_threads();
    let (n_tx, n_ch, n) = (5, 140, 2900);
    let (fs, fc) = (14e6, 3.5e6);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let rf = Array3::from_shape_fn((n_tx, n_ch, n), |_| rng.random::<f32>() - 0.5);
    let plan = Demodulator::new(Sampling::new(fs, 0.0, n).unwrap(), iq_demod_config(fc)).unwrap();
    let mut iq = Array3::<Complex32>::zeros((n_tx, n_ch, plan.output_len()));
    plan.demodulate_into(rf.view(), iq.view_mut()).unwrap();

    let mut g = c.benchmark_group("demod");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(rf.len() as u64));
    g.bench_function(format!("abdomen/threads={threads}"), |b| {
        b.iter(|| plan.demodulate_into(rf.view(), iq.view_mut()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, demod);
criterion_main!(benches);
