//! NEON (aarch64) kernel. For now it runs the scalar reference code, which LLVM auto-vectorises in
//! part; a hand-written NEON version (4 depths per vector) would follow the AVX2 kernel's structure.

use super::{Block, ChannelArrays, KernelParams, kernel_scalar};

/// RF kernel entry point (the scalar kernel).
pub(crate) fn rf_block(
    p: &KernelParams,
    ch: &ChannelArrays,
    data: &[f32],
    blk: &Block<'_>,
    tx_w: f32,
    acc: &mut [f32],
) {
    kernel_scalar::rf_block(p, ch, data, blk, tx_w, acc)
}
