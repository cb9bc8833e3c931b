//! Colour-flow frame rate: the vascular colour preset (`FlowPreset` `VascularColor`: the `vascular` preset's CMUT
//! aperture, 7.5 MHz, three plane waves over ±8°, its derived grid, ensembles of 12 frames at a
//! 12 kHz PRF, so 4 kHz slow time), an RF ensemble in memory → B-mode + colour RGB raster
//! (`doppler/color/vascular/{kernel}/threads=N`, colour frames/s as "elem/s"), printing each
//! stage's time; the same with the preset's colour box (`doppler/color_box/vascular/{kernel}/threads=N`:
//! colour on the middle 60 % of the width, 10–30 mm, every second line and third depth of the
//! B-mode grid, which the newest frame is beamformed on for the B-mode); the colour box with the
//! B-mode from the middle transmit only (`doppler/color_box_middle/...`, `BModeTransmits::Middle`);
//! and the SVD wall filter alone on the same ensemble's stack
//! (`doppler/svd/vascular/threads=N`), whose cost depends on the ensemble length, not the grid
//! alone. The channel data is uniform noise: the cost does not depend on it.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ndarray::Array3;
use rand::{Rng, SeedableRng};
use sonochip::beamform::{BeamformConfig, KernelChoice};
use sonochip::channel_data::ChannelData;
use sonochip::doppler::clutter::{ClutterFilter, SvdRank};
use sonochip::doppler::live::{BModeTransmits, ColorFlowConfig, ColorFlowImager};
use sonochip::preset::flow::{FlowPreset, FlowPresetKind};
use sonochip::sim::ensemble::Ensemble;

fn vascular_color(c: &mut Criterion) {
    let threads = rayon::current_num_threads();
    let flow = FlowPreset::get(FlowPresetKind::VascularColor);
    let preset = &flow.bmode;
    let acq = preset.acquisition(preset.default_depth_m).unwrap();
    let meta = acq.metadata().unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let frames = (0..flow.color.ensemble_len)
        .map(|_| {
            let data = Array3::from_shape_fn(meta.data_shape(), |_| rng.random::<f32>() - 0.5);
            ChannelData::new(data, meta.clone()).unwrap()
        })
        .collect();
    let ens = Ensemble::new(flow.prf_hz, frames).unwrap();
    let (lines, depths) = acq.grid().shape();
    let mut g = c.benchmark_group("doppler");
    g.sample_size(10)
        .measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_millis(500));
    g.throughput(Throughput::Elements(1));
    let config = flow.color;
    let box_grid = flow.color_box.grid(acq.grid()).unwrap();
    let mut last = None;
    let cases = [
        ("color", acq.grid(), BModeTransmits::All),
        ("color_box", &box_grid, BModeTransmits::All),
        ("color_box_middle", &box_grid, BModeTransmits::Middle),
    ];
    for (case, color_grid, bmode_transmits) in cases {
        let config = ColorFlowConfig {
            bmode_transmits,
            ..config
        };
        let (cl, cd) = color_grid.shape();
        for kernel in KernelChoice::supported() {
            if kernel == KernelChoice::Scalar {
                continue;
            }
            let bf = BeamformConfig {
                kernel,
                ..preset.beamform_config()
            };
            let mut imager = ColorFlowImager::with_color_box(
                &meta,
                acq.grid(),
                color_grid,
                bf,
                ens.slow_time_rate_hz(),
                preset.raster_height_px,
                config,
            )
            .unwrap();
            imager.process(&ens).unwrap();
            let t = imager.timings();
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
            println!(
                "doppler bench: vascular {case} on {cl} x {cd} (B-mode {lines} x {depths}), {} frames of 3 plane \
                 waves, {kernel:?}: beamform {:.2} ms, B-mode {:.2} ms, wall filter {:.2} ms, estimator {:.2} ms, \
                 display {:.2} ms (slow-time stages {:.1} % of the frame)",
                flow.color.ensemble_len,
                ms(t.beamform),
                ms(t.bmode),
                ms(t.clutter),
                ms(t.estimate),
                ms(t.display),
                100.0 * (t.clutter + t.estimate).as_secs_f64() / t.total().as_secs_f64()
            );
            g.bench_function(format!("{case}/vascular/{kernel:?}/threads={threads}"), |b| {
                b.iter(|| imager.process(&ens).unwrap().len())
            });
            if case == "color" {
                last = Some(imager);
            }
        }
    }
    if let Some(imager) = last {
        let stack = imager.beamformer().stack().to_owned();
        let svd = ClutterFilter::Svd { rank: SvdRank::Auto };
        g.bench_function(format!("svd/vascular/threads={threads}"), |b| {
            b.iter_batched_ref(
                || stack.clone(),
                |s| svd.apply(s.view_mut()).unwrap(),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, vascular_color);
criterion_main!(benches);
