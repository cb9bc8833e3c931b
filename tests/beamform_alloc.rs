//! The run methods of a beamformer and a demodulator plan allocate nothing per frame (checked with a
//! counting global allocator; this test binary has its own allocator).

use ndarray::{Array2, Array3};
use num_complex::Complex32;
use sonochip::beamform::{BeamformConfig, Beamformer, Interpolation, KernelChoice, Window};
use sonochip::channel_data::Sampling;
use sonochip::demod::{DemodConfig, Demodulator};
use sonochip::grid::Grid;
use sonochip::medium::Medium;
use sonochip::phantom::Phantom;
use sonochip::probe::{Aperture, ChannelMode, Probe};
use sonochip::pulse::Pulse;
use sonochip::sequence::Sequence;
use sonochip::sim::Simulator;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{Counting, allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn frames_allocate_nothing() {
    let probe = Probe::linear(32, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let ap = Aperture::columns(&probe, 0..32, ChannelMode::Elements).unwrap();
    let seq = Sequence::plane_wave_fan(&ap, 0.1, 3, 1540.0).unwrap();
    let pulse = Pulse::new(5e6, 1.0, 1.0).unwrap();
    let s = Sampling::for_depth(20e6, 0.03, &seq, &pulse).unwrap();
    let data = Simulator::from_parts(&ap, &seq, Medium::lossless(), pulse, s)
        .unwrap()
        .run(&Phantom::points(&[[0.0, 0.0, 0.015]]).unwrap())
        .unwrap();
    let grid = Grid::sector((-0.5, 0.5), 40, (0.005, 0.03), 300).unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let dm = Demodulator::for_data(&data, DemodConfig::new(5e6, 2.5e6, 4)).unwrap();
    let iq = dm.demodulate(&data).unwrap();
    let mut iq_buf = Array3::<Complex32>::zeros(iq.data().dim());
    for k in KernelChoice::supported() {
        let cfg = BeamformConfig {
            kernel: k,
            f_number: Some(1.5),
            window: Window::Hann,
            interpolation: Interpolation::Cubic,
            ..BeamformConfig::default()
        };
        let bf = Beamformer::for_data(&data, &grid, cfg.clone()).unwrap();
        let bf_iq = Beamformer::for_data(&iq, &grid, cfg).unwrap();
        let mut img = Array2::<f32>::zeros(grid.shape());
        let mut img_iq = Array2::<Complex32>::zeros(grid.shape());
        pool.install(|| {
            // Warm-up: the pool's threads and thread-locals exist after the first frame.
            bf.beamform_into(&data, img.view_mut()).unwrap();
            bf_iq.beamform_iq_into(&iq, img_iq.view_mut()).unwrap();
            dm.demodulate_into(data.data().view(), iq_buf.view_mut()).unwrap();
            let before = allocations();
            for _ in 0..3 {
                bf.beamform_into(&data, img.view_mut()).unwrap();
                bf_iq.beamform_iq_into(&iq, img_iq.view_mut()).unwrap();
                dm.demodulate_into(data.data().view(), iq_buf.view_mut()).unwrap();
            }
            let after = allocations();
            assert_eq!(after - before, 0, "{k:?}: {} allocations in 3 frames", after - before);
        });
        assert!(img.iter().any(|v| *v != 0.0));
    }
}
