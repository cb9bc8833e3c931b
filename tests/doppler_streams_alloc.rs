//! The live spectral Doppler and M-mode imagers allocate nothing per push after planning, whatever
//! the ensembles' lengths (counted by a global allocator).

use sonochip::doppler::clutter::ClutterFilter;
use sonochip::doppler::live::{MModeImager, SpectralGate, SpectralImager, SpectralImagerConfig};
use sonochip::doppler::spectral::SpectralDoppler;
use sonochip::phantom::motion::{Motion, MovingPhantom};
use sonochip::prelude::*;
use sonochip::sim::ensemble::Ensemble;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{Counting, allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn pushes_do_not_allocate() {
    let probe = Probe::linear(16, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let aperture = Aperture::full(&probe, None).unwrap();
    let sequence = Sequence::focused(&aperture, &[[0.0, 0.0, 0.012]], 1540.0).unwrap();
    let grid = Grid::cartesian((-0.001, 0.001), 3, (0.010, 0.014), 50).unwrap();
    let acq = Acquisition::for_depth(
        aperture,
        sequence,
        Pulse::new(5e6, 0.6, 2.0).unwrap(),
        20e6,
        grid.clone(),
        0.016,
    )
    .unwrap();
    let mut moving = MovingPhantom::new();
    moving
        .push(
            Phantom::points(&[[0.0, 0.0, 0.012], [0.0003, 0.0, 0.0125]]).unwrap(),
            Motion::Translation {
                velocity_m_s: [0.0, 0.0, -0.05],
            },
        )
        .unwrap();
    let prf = 4000.0;
    let ens = Simulator::new(&acq, Medium::soft_tissue())
        .unwrap()
        .run_ensemble(&moving, prf, 40)
        .unwrap();
    let pieces: Vec<Ensemble> = [1, 7, 16, 3, 13]
        .iter()
        .scan(0, |first, &len| {
            let e = Ensemble::new(prf, ens.frames()[*first..*first + len].to_vec()).unwrap();
            *first += len;
            Some(e)
        })
        .collect();
    let config = SpectralImagerConfig {
        doppler: SpectralDoppler {
            prf_hz: prf,
            fft_len: 16,
            window_len: 12,
            hop: 3,
            ..Default::default()
        },
        wall: ClutterFilter::Iir { cutoff: 0.05, order: 3 },
        height_px: 32,
        columns: 8,
        ..SpectralImagerConfig::default()
    };
    let gate = SpectralGate {
        x_m: 0.0,
        depth_m: 0.012,
        length_m: 0.0005,
    };
    let meta = acq.metadata().unwrap();
    let mut spectral = SpectralImager::new(&meta, gate, BeamformConfig::default(), config).unwrap();
    let mut mmode = MModeImager::new(&meta, &grid, 1, BeamformConfig::default(), 16, 40.0).unwrap();
    // The pushes run on the one worker of a one-thread pool. With two workers, one or two blocks
    // (1,520 and 2,304 bytes) were allocated in about a third of the runs here, with timing-
    // dependent counts: most likely rayon's scheduling of the demodulator's and beamformer's
    // parallel jobs (the live imagers' own code runs none), not traced further. The beamformer's
    // and demodulator's own promise is tested by `beamform_alloc`.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let (count, columns) = pool.install(|| {
        // Warm-up: the beamformer's per-worker tile buffers are taken from its pool the first time
        // a worker runs a tile (once per thread, not per push).
        for _ in 0..3 {
            for p in &pieces {
                spectral.push(p).unwrap();
                mmode.push(p).unwrap();
            }
        }
        let before = allocations();
        let mut columns = 0;
        for _ in 0..3 {
            for p in &pieces {
                columns += spectral.push(p).unwrap();
                mmode.push(p).unwrap();
            }
        }
        (allocations() - before, columns)
    });
    assert!(columns > 8, "the column ring wrapped: {columns} columns");
    assert_eq!(count, 0, "allocations in 15 pushes of each imager");
}
