//! The live pipeline allocates nothing per frame in steady state (counted by a global allocator).

use sonochip::imager::Imager;
use sonochip::medium::Medium;
use sonochip::preset::PresetKind;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::{Counting, allocations};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_frames_do_not_allocate() {
    let mut imager = Imager::new(PresetKind::Nerve).unwrap();
    let phantom = imager.preset().phantom(0.05, 3).unwrap();
    let rf = imager.simulate(&phantom, Medium::soft_tissue()).unwrap();
    // The live loop runs on a rayon worker: called from outside the pool, every parallel stage
    // would be injected through rayon's global queue, which allocates a 1.5 KB block per 63 jobs
    // (amortised, not per frame, and not the pipeline's own allocation).
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let count = pool.install(|| {
        for _ in 0..3 {
            imager.process(&rf).unwrap();
        }
        let before = allocations();
        for g in 0..20 {
            imager.set_gain_control(40.0 + g as f64).unwrap();
            imager.process(&rf).unwrap();
            imager.remap().unwrap();
        }
        allocations() - before
    });
    assert_eq!(count, 0, "allocations in 20 steady-state frames");
}
