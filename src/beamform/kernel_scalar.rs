//! The scalar reference kernel (the oracle of the SIMD kernels) and the per-point helpers the SIMD
//! kernels use for their tails and for lanes whose taps straddle the ends of the record.

use super::{BLOCK, Block, ChannelArrays, INTERP_LINEAR, INTERP_NEAREST, KernelParams, sin_turns, window_weight};
use num_complex::Complex32;

/// Sample `i` of `trace`, zero outside.
#[inline(always)]
fn tap<T: Copy + Default>(trace: &[T], i: i64) -> T {
    if i >= 0 && (i as usize) < trace.len() {
        trace[i as usize]
    } else {
        T::default()
    }
}

/// Catmull-Rom weights of taps −1, 0, 1, 2 at fraction `f`.
#[inline(always)]
pub(crate) fn cubic_weights(f: f32) -> [f32; 4] {
    let f2 = f * f;
    let f3 = f2 * f;
    [
        0.5 * (2.0 * f2 - f3 - f),
        0.5 * (3.0 * f3 - 5.0 * f2 + 2.0),
        0.5 * (4.0 * f2 - 3.0 * f3 + f),
        0.5 * (f3 - f2),
    ]
}

/// The RF trace interpolated at `y = idx + shift` (see [`KernelParams::tap_bounds`]).
#[inline(always)]
pub(crate) fn sample_rf(trace: &[f32], y: f32, interp: u8) -> f32 {
    let n = trace.len() as f32;
    if !(y >= -4.0 && y < n + 4.0) {
        return 0.0;
    }
    let q = y.floor();
    let f = y - q;
    let i = q as i64;
    match interp {
        INTERP_NEAREST => tap(trace, i),
        INTERP_LINEAR => {
            let (a, b) = (tap(trace, i), tap(trace, i + 1));
            a + f * (b - a)
        }
        _ => {
            let w = cubic_weights(f);
            w[0] * tap(trace, i - 1) + w[1] * tap(trace, i) + w[2] * tap(trace, i + 1) + w[3] * tap(trace, i + 2)
        }
    }
}

/// The IQ trace interpolated at `y`, as `(re, im)`.
#[inline(always)]
pub(crate) fn sample_iq(trace: &[Complex32], y: f32, interp: u8) -> (f32, f32) {
    let n = trace.len() as f32;
    if !(y >= -4.0 && y < n + 4.0) {
        return (0.0, 0.0);
    }
    let q = y.floor();
    let f = y - q;
    let i = q as i64;
    let v = match interp {
        INTERP_NEAREST => tap(trace, i),
        INTERP_LINEAR => {
            let (a, b) = (tap(trace, i), tap(trace, i + 1));
            a + (b - a) * f
        }
        _ => {
            let w = cubic_weights(f);
            tap(trace, i - 1) * w[0] + tap(trace, i) * w[1] + tap(trace, i + 1) * w[2] + tap(trace, i + 2) * w[3]
        }
    };
    (v.re, v.im)
}

/// Receive geometry of one pixel for one channel: `(weight, idx)` with `weight = 0` when the channel
/// does not take part. The SIMD kernels compute exactly these operations in the same order.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn point(
    p: &KernelParams,
    ch: &ChannelArrays,
    c: usize,
    px: f32,
    py: f32,
    pz: f32,
    ih2: f32,
    tx: f32,
) -> (f32, f32) {
    let dx = px - ch.x[c];
    let dy = py - ch.y[c];
    let dz = pz - ch.z[c];
    let lat2 = dx * dx + dy * dy;
    let u2 = lat2 * ih2;
    // NaN-safe: anything not provably inside the aperture is excluded.
    let in_aperture = u2 <= 1.0;
    if !in_aperture {
        return (0.0, 0.0);
    }
    let r = (lat2 + dz * dz).sqrt();
    let dot = ch.nx[c] * dx + ch.ny[c] * dy + ch.nz[c] * dz;
    let accepted = dot >= p.cos_accept * r;
    if !accepted {
        return (0.0, 0.0);
    }
    (window_weight(p, u2), tx + r)
}

/// Visits every (channel, pixel) of `blk` with a non-zero weight: `f(channel, output index, weight,
/// fractional sample index)`.
#[inline(always)]
fn for_each_point(p: &KernelParams, ch: &ChannelArrays, blk: &Block<'_>, mut f: impl FnMut(usize, usize, f32, f32)) {
    for c in 0..ch.len() {
        for j in 0..blk.lines {
            let (g, o) = (j * blk.stride, j * BLOCK);
            for i in 0..blk.n {
                let (w, idx) = point(
                    p,
                    ch,
                    c,
                    blk.px[g + i],
                    blk.py[g + i],
                    blk.pz[g + i],
                    blk.ih2[g + i],
                    blk.tx[o + i],
                );
                if w != 0.0 {
                    f(c, o + i, w, idx);
                }
            }
        }
    }
}

/// Accumulates every channel's contribution to the RF pixels of `blk` (one transmit) into `acc`.
pub(crate) fn rf_block(
    p: &KernelParams,
    ch: &ChannelArrays,
    data: &[f32],
    blk: &Block<'_>,
    tx_w: f32,
    acc: &mut [f32],
) {
    let ns = p.n_samples;
    let (shift, ..) = p.tap_bounds();
    for_each_point(p, ch, blk, |c, o, w, idx| {
        let trace = &data[c * ns..(c + 1) * ns];
        acc[o] += (w * tx_w) * sample_rf(trace, idx + shift, p.interp);
    });
}

/// `(cos, sin)` of the IQ rotation `2π·(phase0 + idx·turns_per_sample)`.
#[inline(always)]
pub(crate) fn rotation(p: &KernelParams, idx: f32) -> (f32, f32) {
    let t = p.phase0_turns + idx * p.turns_per_sample;
    let x = t - t.round();
    let ax = x.abs();
    (sin_turns(0.25 - ax), sin_turns(x))
}

/// Accumulates every channel's contribution to the IQ pixels of `blk` into `re`, `im`.
pub(crate) fn iq_block(
    p: &KernelParams,
    ch: &ChannelArrays,
    data: &[Complex32],
    blk: &Block<'_>,
    tx_w: f32,
    re: &mut [f32],
    im: &mut [f32],
) {
    let ns = p.n_samples;
    let (shift, ..) = p.tap_bounds();
    for_each_point(p, ch, blk, |c, o, w, idx| {
        let trace = &data[c * ns..(c + 1) * ns];
        let (vr, vi) = sample_iq(trace, idx + shift, p.interp);
        let (co, si) = rotation(p, idx);
        let w = w * tx_w;
        re[o] += w * (vr * co - vi * si);
        im[o] += w * (vr * si + vi * co);
    });
}
