//! Per-thread scratch of a run: a pool of buffer sets made before the run, one per thread, lent
//! to the parallel loops and returned after each use. Buffers never live on the stack (apps run
//! rayon pools with 64 KiB stacks) and are never allocated inside the loops.

use super::taps::ColumnScratch;
use super::wave::WaveScratch;
use std::mem::size_of;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex, PoisonError};

/// Sizes of one scratch set, in elements.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sizes {
    /// Most elements in a channel (column passes).
    pub(super) column: usize,
    /// Fine samples of the longest incident wave (histogram and convolution).
    pub(super) wave: usize,
    /// Samples of the pulse on the fine grid (blended waveform).
    pub(super) pulse: usize,
    /// Broadband directivity (a second histogram, more convolutions and blended pulses).
    pub(super) broadband: bool,
    /// Points of the fit table along the elevation angle (0 without broadband directivity).
    pub(super) fit_rows: usize,
}

/// One thread's buffers (`Default`: none, which allocates nothing).
#[derive(Default)]
pub(super) struct Scratch {
    pub(super) column: ColumnScratch,
    pub(super) wave: WaveScratch,
}

impl Scratch {
    fn new(sizes: Sizes) -> Scratch {
        Scratch {
            column: ColumnScratch::new(sizes.column, sizes.fit_rows),
            wave: WaveScratch::new(sizes.wave, sizes.pulse, sizes.broadband),
        }
    }

    fn bytes(sizes: Sizes) -> u128 {
        ColumnScratch::bytes(sizes.column, sizes.fit_rows).saturating_add(WaveScratch::bytes(
            sizes.wave,
            sizes.pulse,
            sizes.broadband,
        ))
    }
}

/// The scratch sets of a run.
pub(super) struct Pool {
    sets: Mutex<Vec<Scratch>>,
    sizes: Sizes,
}

impl Pool {
    /// `n` sets of `sizes`, allocated now.
    pub(super) fn new(n: usize, sizes: Sizes) -> Pool {
        let mut sets = Vec::with_capacity(n);
        sets.extend((0..n).map(|_| Scratch::new(sizes)));
        Pool {
            sets: Mutex::new(sets),
            sizes,
        }
    }

    /// Heap of `n` sets of `sizes`.
    pub(super) fn bytes(n: usize, sizes: Sizes) -> u128 {
        (n as u128).saturating_mul(Scratch::bytes(sizes).saturating_add(size_of::<Scratch>() as u128))
    }

    /// Lends a set until the lease is dropped. No more sets are in use at once than the pool's
    /// threads; should one be missing all the same, a new one is made (correct, but beyond the
    /// estimate).
    pub(super) fn lease(&self) -> Lease<'_> {
        let set = self.sets.lock().unwrap_or_else(PoisonError::into_inner).pop();
        Lease {
            pool: self,
            set: set.unwrap_or_else(|| Scratch::new(self.sizes)),
        }
    }
}

/// A scratch set lent by a [`Pool`]; returned to it on drop.
pub(super) struct Lease<'a> {
    pool: &'a Pool,
    set: Scratch,
}

impl Deref for Lease<'_> {
    type Target = Scratch;
    fn deref(&self) -> &Scratch {
        &self.set
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Scratch {
        &mut self.set
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let set = std::mem::take(&mut self.set);
        self.pool.sets.lock().unwrap_or_else(PoisonError::into_inner).push(set);
    }
}
