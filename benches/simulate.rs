//! Simulator throughput on the `sim` workload (WORKLOADS.md): the `abdomen` aperture (140 column
//! channels of the default CMUT grid), 3.5 MHz, fs 14 MHz, 20–160 mm, 5 diverging waves,
//! 20,000 scatterers. Throughput is reported in scatterer × channel × transmit per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sonochip::medium::Medium;
use sonochip::phantom::SpeckleBuilder;
use sonochip::probe::{Aperture, Probe};
use sonochip::pulse::Pulse;
use sonochip::sequence::Sequence;
use sonochip::sim::{Sampling, Simulator};

fn sim_workload(c: &mut Criterion) {
    let probe = Probe::cmut_9000();
    let ap = Aperture::full(&probe, Some(0.07)).unwrap();
    let seq = Sequence::diverging_sector(&ap, 30f64.to_radians(), 10f64.to_radians(), 5, 1540.0).unwrap();
    let pulse = Pulse::new(3.5e6, 1.0, 1.0).unwrap();
    let sampling = Sampling::for_depth(14e6, 0.16, &seq, &pulse).unwrap();
    let sim = Simulator::new(&ap, &seq, Medium::soft_tissue(), pulse, sampling).unwrap();
    // 20,000 scatterers over the 60° sector's bounding box, 20–160 mm.
    let area_mm2 = 160.0 * 140.0;
    let phantom = SpeckleBuilder::new(
        (-0.08, 0.08),
        (0.02, 0.16),
        20_000.0 / area_mm2 * (140.0 / 160.0) * (160.0 / 140.0),
    )
    .unwrap()
    .thickness(3e-3)
    .build(1)
    .unwrap();
    let points = phantom.len() as u64 * ap.n_channels() as u64 * seq.len() as u64;
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(points));
    g.bench_function(
        format!(
            "sim/{}_scatterers/threads={}",
            phantom.len(),
            rayon::current_num_threads()
        ),
        |b| b.iter(|| sim.run(&phantom).unwrap()),
    );
    g.finish();
}

criterion_group!(benches, sim_workload);
criterion_main!(benches);
