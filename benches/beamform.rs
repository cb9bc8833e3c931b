//! Beamformer throughput on the named workloads (`docs/workloads.md`), in points/s (pixels × receive
//! channels × transmits): linear interpolation, receive F-number 1.5 with a rectangular window.
//!
//! Cases per workload: the scalar kernel on 1 thread, and for each SIMD kernel the CPU runs (AVX2,
//! AVX-512, NEON) 1 thread, all threads (a rayon pool installed per case), and on all threads the
//! IQ path (data demodulated and decimated by 2, as the live imager uses it) and RF with the
//! coherence factor; ids name the kernel (`beamform/picmus11/Avx2/threads=2`,
//! `beamform/picmus11/Avx512/threads=2`, …). The channel data is uniform noise of the workload's
//! shape (the work does not depend on the content). The scalar case runs on a grid with every 8th
//! line (same depths) to keep the bench short; throughput counts the points it computes.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::{Array2, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sonochip::beamform::{BeamformConfig, Beamformer, KernelChoice};
use sonochip::demod::Demodulator;
use sonochip::grid::{Grid, GridKind};
use sonochip::imager::iq_demod_config;
use sonochip::workload::Workload;
use std::time::Duration;

/// The grid with every `step`-th line.
fn thin(grid: &Grid, step: usize) -> Grid {
    let n = grid.shape().0.div_ceil(step);
    match grid.kind() {
        GridKind::Cartesian { x_m, z_m, y_m } => {
            Grid::cartesian_from_axes(x_m.iter().step_by(step).copied().collect(), z_m.clone(), *y_m).unwrap()
        }
        GridKind::Sector {
            angles_rad,
            depths_m,
            radius_offset_m,
            ..
        } => {
            let a = (angles_rad[0], angles_rad[angles_rad.len() - 1]);
            let d = (depths_m[0], depths_m[depths_m.len() - 1]);
            if *radius_offset_m == 0.0 {
                Grid::sector(a, n, d, depths_m.len()).unwrap()
            } else {
                Grid::curved(*radius_offset_m, a, n, d, depths_m.len()).unwrap()
            }
        }
        _ => grid.clone(),
    }
}

fn bench_workload(c: &mut Criterion, w: &Workload, label: &str) {
    let acq = &w.acquisition;
    let meta = acq.metadata().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let data = Array3::from_shape_fn(meta.data_shape(), |_| rng.random_range(-1.0f32..1.0));
    let simd = simd_kernels();
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let grid = acq.grid();
    let thin_grid = thin(grid, 8);
    let mut cases = vec![(KernelChoice::Scalar, 1, &thin_grid)];
    for &k in &simd {
        cases.extend([(k, 1, grid), (k, all, grid)]);
    }
    let mut g = c.benchmark_group(format!("beamform/{label}"));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));
    let all_pool = rayon::ThreadPoolBuilder::new().num_threads(all).build().unwrap();
    for (kernel, threads, grid) in cases {
        let cfg = BeamformConfig {
            kernel,
            f_number: Some(1.5),
            ..BeamformConfig::default()
        };
        let bf = Beamformer::new(&meta, grid, cfg).unwrap();
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut img = Array2::<f32>::zeros(grid.shape());
        g.throughput(Throughput::Elements(bf.points_per_frame() as u64));
        g.bench_function(format!("{kernel:?}/threads={threads}"), |b| {
            b.iter(|| pool.install(|| bf.beamform_raw_into(data.view(), img.view_mut()).unwrap()))
        });
    }
    // The IQ path and the coherence factor, each SIMD kernel, all threads.
    let demod = Demodulator::new(acq.sampling(), iq_demod_config(acq.pulse().fc_hz())).unwrap();
    let iq_meta = demod.output_metadata(&meta).unwrap();
    let iq_shape = iq_meta.data_shape();
    let iq = Array3::from_shape_fn(iq_shape, |_| {
        num_complex::Complex32::new(rng.random_range(-1.0f32..1.0), rng.random_range(-1.0f32..1.0))
    });
    for &kernel in &simd {
        let cfg = BeamformConfig {
            kernel,
            f_number: Some(1.5),
            ..BeamformConfig::default()
        };
        let bf = Beamformer::new(&iq_meta, grid, cfg.clone()).unwrap();
        let mut iq_img = Array2::zeros(grid.shape());
        g.throughput(Throughput::Elements(bf.points_per_frame() as u64));
        g.bench_function(format!("{kernel:?}/iq/threads={all}"), |b| {
            b.iter(|| all_pool.install(|| bf.beamform_iq_raw_into(iq.view(), iq_img.view_mut()).unwrap()))
        });
        let cf = BeamformConfig {
            coherence_factor: true,
            ..cfg
        };
        if let Ok(bf) = Beamformer::new(&meta, grid, cf) {
            let mut img = Array2::<f32>::zeros(grid.shape());
            g.throughput(Throughput::Elements(bf.points_per_frame() as u64));
            g.bench_function(format!("{kernel:?}/coherence_factor/threads={all}"), |b| {
                b.iter(|| all_pool.install(|| bf.beamform_raw_into(data.view(), img.view_mut()).unwrap()))
            });
        }
    }
    g.finish();
}

/// The SIMD kernels this CPU runs (the scalar one alone where there is none).
fn simd_kernels() -> Vec<KernelChoice> {
    let v: Vec<KernelChoice> = KernelChoice::supported()
        .into_iter()
        .filter(|&k| k != KernelChoice::Scalar)
        .collect();
    if v.is_empty() { vec![KernelChoice::Scalar] } else { v }
}

/// A workload constructor.
type MakeWorkload = fn() -> sonochip::Result<Workload>;

fn workloads(c: &mut Criterion) {
    println!(
        "beamform bench: kernels this CPU runs {:?}; SIMD cases run with each of {:?}; Auto picks {:?}",
        KernelChoice::supported(),
        simd_kernels(),
        KernelChoice::best()
    );
    let filter = std::env::var("SONOCHIP_BENCH_WORKLOADS").unwrap_or_default();
    let all: [(&str, MakeWorkload); 7] = [
        ("vascular", Workload::vascular),
        ("cardiac", Workload::cardiac),
        ("abdomen", Workload::abdomen),
        ("full2d", Workload::full2d),
        ("picmus1", || Workload::picmus(1)),
        ("picmus11", || Workload::picmus(11)),
        ("picmus75", || Workload::picmus(75)),
    ];
    for (label, make) in all {
        if filter.is_empty() || filter.split(',').any(|f| f == label) {
            bench_workload(c, &make().unwrap(), label);
        }
    }
}

criterion_group!(benches, workloads);
criterion_main!(benches);
