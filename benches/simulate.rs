//! Simulator throughput on the `sim` workload (`docs/workloads.md`): the `abdomen` aperture (140 column
//! channels of the default CMUT grid), 3.5 MHz, fs 14 MHz, 20–160 mm, 5 diverging waves,
//! 20,000 scatterers. Throughput is reported in scatterer × channel × transmit per second. The
//! second case is the same run with broadband element directivity (`Directivity::Broadband`).
//!
//! `preset/…`: each clinical preset's built-in scene (phantom and attenuation map) at the density
//! the `scan` example uses (0.6 scatterers per nominal resolution cell, 1.0 above 5 MHz), with its
//! own acquisition at its default depth; the scatterer count is in the name.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sonochip::medium::Medium;
use sonochip::phantom::SpeckleBuilder;
use sonochip::preset::{Preset, PresetKind};
use sonochip::sim::{Directivity, SimOptions, Simulator};
use sonochip::workload::Workload;

fn sim_workload(c: &mut Criterion) {
    let w = Workload::sim().unwrap();
    let (ap, seq) = (w.acquisition.aperture(), w.acquisition.sequence());
    let sim = Simulator::new(&w.acquisition, Medium::soft_tissue()).unwrap();
    // 20,000 scatterers over the 60° sector's bounding box (±80 mm × 20–160 mm), 3 mm thick.
    let phantom = SpeckleBuilder::new((-0.08, 0.08), (0.02, 0.16), 20_000.0 / (160.0 * 140.0))
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
    let broadband = sim
        .clone()
        .with_options(SimOptions {
            directivity: Directivity::Broadband,
            ..SimOptions::default()
        })
        .unwrap();
    g.bench_function(
        format!(
            "sim/broadband/{}_scatterers/threads={}",
            phantom.len(),
            rayon::current_num_threads()
        ),
        |b| b.iter(|| broadband.run(&phantom).unwrap()),
    );
    g.finish();
}

fn presets(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10);
    for (i, kind) in PresetKind::ALL.iter().enumerate() {
        let preset = Preset::get(*kind);
        let acq = preset.acquisition(preset.default_depth_m).unwrap();
        // The scan example's density and seeds.
        let per_cell = if preset.fc_hz > 5e6 { 1.0 } else { 0.6 };
        let anatomy = preset.anatomy(per_cell, 100 + i as u64).unwrap();
        let sim = Simulator::new(&acq, Medium::soft_tissue())
            .unwrap()
            .with_attenuation(anatomy.attenuation.clone());
        let points = anatomy.phantom.len() as u64 * acq.aperture().n_channels() as u64 * acq.sequence().len() as u64;
        g.throughput(Throughput::Elements(points));
        g.bench_function(
            format!(
                "preset/{}/{}_scatterers/threads={}",
                preset.name,
                anatomy.phantom.len(),
                rayon::current_num_threads()
            ),
            |b| b.iter(|| sim.run(&anatomy.phantom).unwrap()),
        );
    }
    g.finish();
}

criterion_group!(benches, sim_workload, presets);
criterion_main!(benches);
