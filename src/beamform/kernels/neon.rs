//! NEON (aarch64) kernel. For now it runs the scalar reference code, which LLVM auto-vectorises in
//! part; a hand-written NEON version (4 depths per vector) would follow the AVX2 kernel's structure.

use super::{KernelParams, Sums, Tile, scalar};
use num_complex::Complex32;

/// RF kernel entry point (the scalar kernel).
pub(crate) fn rf_tile(p: &KernelParams, t: &Tile<'_>, data: &[f32], s: &mut Sums<'_>, cf: bool) {
    if cf {
        scalar::rf_tile::<true>(p, t, data, s)
    } else {
        scalar::rf_tile::<false>(p, t, data, s)
    }
}

/// IQ kernel entry point (the scalar kernel).
pub(crate) fn iq_tile(p: &KernelParams, t: &Tile<'_>, data: &[Complex32], s: &mut Sums<'_>, cf: bool) {
    if cf {
        scalar::iq_tile::<true>(p, t, data, s)
    } else {
        scalar::iq_tile::<false>(p, t, data, s)
    }
}
