//! The beamformer's memory estimate ([`Beamformer::memory_bytes`], checked against the cap before
//! anything large is allocated) is within 20 % of the peak it really allocates while planning,
//! measured by a global allocator that tracks live bytes; and a cap below the estimate is refused
//! before the large allocations happen.

use sonochip::prelude::*;
use sonochip::workload::Workload;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Tracking;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only counts.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::SeqCst) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::SeqCst);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::SeqCst);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Peak bytes allocated above the level at the start while `f` runs, and its result.
fn peak_of<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let r = f();
    (PEAK.load(Ordering::SeqCst) - base, r)
}

#[test]
fn plan_memory_estimate_is_within_20_percent_of_the_peak() {
    // One thread at a time: the counters are global.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    pool.install(|| {
        let mut cases: Vec<(String, Metadata, Grid, BeamformConfig)> = Vec::new();
        for (name, w) in [
            ("vascular RF", Workload::vascular().unwrap()),
            ("picmus 75 RF", Workload::picmus(75).unwrap()),
            ("abdomen RF", Workload::abdomen().unwrap()),
        ] {
            let meta = w.acquisition.metadata().unwrap();
            cases.push((
                name.into(),
                meta,
                w.acquisition.grid().clone(),
                BeamformConfig::default(),
            ));
        }
        // IQ of the cardiac preset, as the imager plans it.
        let p = Preset::get(PresetKind::Cardiac);
        let acq = p.acquisition(p.default_depth_m).unwrap();
        let demod = Demodulator::new(acq.sampling(), DemodConfig::new(2.5e6, 2.25e6, 2)).unwrap();
        let iq = demod.output_metadata(&acq.metadata().unwrap()).unwrap();
        cases.push(("cardiac IQ".into(), iq, acq.grid().clone(), p.beamform_config()));
        // Explicit delay tables: their per-pixel tables dominate.
        let probe = Probe::linear(64, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
        let ap = Aperture::full(&probe, None).unwrap();
        let delays: Vec<Vec<f64>> = (0..4)
            .map(|k| (0..64).map(|i| (i * k) as f64 * 1e-9).collect())
            .collect();
        let seq = Sequence::from_delays(&ap, &delays, &vec![vec![1.0; 64]; 4], 1540.0).unwrap();
        let meta = Metadata::for_aperture(Sampling::new(20e6, 0.0, 1500).unwrap(), 5e6, seq, &ap).unwrap();
        let grid = Grid::cartesian((-0.01, 0.01), 300, (0.005, 0.05), 600).unwrap();
        cases.push(("explicit delays".into(), meta, grid, BeamformConfig::default()));
        for (name, meta, grid, cfg) in cases {
            let (peak, bf) = peak_of(|| Beamformer::new(&meta, &grid, cfg.clone()).unwrap());
            let est = bf.memory_bytes() as f64;
            let ratio = est / peak as f64;
            eprintln!("{name}: estimate {est:.3e} B, measured peak {peak:.3e} B, ratio {ratio:.3}");
            assert!((0.8..=1.2).contains(&ratio), "{name}: estimate {est} vs peak {peak}");
            // Under a cap just below the estimate, the plan is refused, and refused cheaply.
            let capped = BeamformConfig {
                memory_cap_bytes: (est * 0.95) as u64,
                ..cfg
            };
            let (peak, r) = peak_of(|| Beamformer::new(&meta, &grid, capped));
            assert!(matches!(r, Err(Error::TooLarge { .. })), "{name}");
            assert!(
                (peak as f64) < 0.05 * est,
                "{name}: {peak} bytes allocated before refusing"
            );
        }
        // A grid of 2^26 lines of one depth each pads every pixel to a whole vector: refused by
        // the size bound before the pixel arrays (1.5 GiB) are allocated.
        let probe = Probe::linear(16, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
        let ap = Aperture::full(&probe, None).unwrap();
        let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0).unwrap();
        let meta = Metadata::for_aperture(Sampling::new(20e6, 0.0, 800).unwrap(), 5e6, seq, &ap).unwrap();
        let n = 1usize << 26;
        let x: Vec<f64> = (0..n).map(|i| -0.01 + 0.02 * i as f64 / n as f64).collect();
        let grid = Grid::cartesian_from_axes(x, vec![0.01], 0.0).unwrap();
        let (peak, r) = peak_of(|| Beamformer::new(&meta, &grid, BeamformConfig::default()));
        assert!(matches!(r, Err(Error::InvalidParameter { name: "grid", .. })), "{r:?}");
        assert!(peak < 1 << 20, "{peak} bytes allocated before refusing a 2^26 x 1 grid");
    });
}
