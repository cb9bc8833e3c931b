//! The scalar reference kernel (the oracle of the SIMD kernels) and the per-point helpers the SIMD
//! kernels share with it: receive geometry, interpolation of one lane, and the slow path for lanes
//! whose taps reach beyond the record.

use super::{INTERP_LINEAR, INTERP_NEAREST, KernelParams, LANES, Sums, Tile, phasor};
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

/// `y.floor()` for `|y| < 2²³` (the callers return early for `y` outside `[−4, n + 4)`, `n` at
/// most 2¹⁷), without the library call that `f32::floor` is on the baseline x86-64 target:
/// truncation is exact in that range and is one below the floor for negative non-integers.
#[inline(always)]
fn floor_small(y: f32) -> f32 {
    let t = y as i32 as f32;
    if t > y { t - 1.0 } else { t }
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
    let q = floor_small(y);
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
    let q = floor_small(y);
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

/// Receive geometry of tile pixel `o` for channel `c`: `(weight, r)` with `r` the receive distance in
/// samples and `weight = 0` when the channel does not take part. The SIMD kernels compute exactly
/// these operations in the same order.
#[inline(always)]
pub(crate) fn receive(p: &KernelParams, t: &Tile<'_>, c: usize, o: usize) -> (f32, f32) {
    let ch = t.ch;
    let dx = t.px[o] - ch.x[c];
    let dy = t.py[o] - ch.y[c];
    let dz = t.pz[o] - ch.z[c];
    let lat2 = dx * dx + dy * dy;
    let u2 = lat2 * t.ih2[o];
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
    (p.window_weight(u2), r)
}

/// Sum over the tile's transmits of the weighted RF samples of channel `c` at pixel `o` (receive
/// distance `r`), reading through the bounds-checked taps.
#[inline(always)]
pub(crate) fn rf_lane(p: &KernelParams, t: &Tile<'_>, data: &[f32], c: usize, o: usize, r: f32) -> f32 {
    let ns = p.n_samples;
    let per_tx = t.ch.len() * ns;
    let (shift, ..) = p.tap_bounds();
    let (v, l) = (o / LANES, o % LANES);
    let mut acc = 0.0f32;
    for k in 0..t.nk {
        let trace = &data[k * per_tx + c * ns..][..ns];
        let y = (r + t.tx[(v * t.nk + k) * LANES + l]) + shift;
        acc += t.tw[k] * sample_rf(trace, y, p.interp);
    }
    acc
}

/// Sum over the tile's transmits of the IQ samples of channel `c` at pixel `o`, each rotated by its
/// transmit phasor (which carries the transmit weight), as `(re, im)`.
#[inline(always)]
pub(crate) fn iq_lane(p: &KernelParams, t: &Tile<'_>, data: &[Complex32], c: usize, o: usize, r: f32) -> (f32, f32) {
    let ns = p.n_samples;
    let per_tx = t.ch.len() * ns;
    let (shift, ..) = p.tap_bounds();
    let (v, l) = (o / LANES, o % LANES);
    let (mut ar, mut ai) = (0.0f32, 0.0f32);
    for k in 0..t.nk {
        let trace = &data[k * per_tx + c * ns..][..ns];
        let j = (v * t.nk + k) * LANES + l;
        let (vr, vi) = sample_iq(trace, (r + t.tx[j]) + shift, p.interp);
        let (co, si) = (t.tcos[j], t.tsin[j]);
        ar += vr * co - vi * si;
        ai += vr * si + vi * co;
    }
    (ar, ai)
}

/// Accumulates every channel's contribution to the RF pixels of tile `t` into `s` (`s.re`, and the
/// coherence-factor sums when `CF`).
#[inline]
pub(crate) fn rf_tile<const CF: bool>(p: &KernelParams, t: &Tile<'_>, data: &[f32], s: &mut Sums<'_>) {
    for c in 0..t.ch.len() {
        for o in 0..t.nv * LANES {
            let (w, r) = receive(p, t, c, o);
            if w == 0.0 {
                continue;
            }
            let a = w * rf_lane(p, t, data, c, o, r);
            s.re[o] += a;
            if CF {
                s.inc[o] += a * a;
                s.cnt[o] += 1.0;
            }
        }
    }
}

/// Accumulates every channel's contribution to the IQ pixels of tile `t` into `s`: the transmit sum
/// of each channel is rotated by the receive phasor `exp(i·2π·f_demod·r/fs)` and weighted.
#[inline]
pub(crate) fn iq_tile<const CF: bool>(p: &KernelParams, t: &Tile<'_>, data: &[Complex32], s: &mut Sums<'_>) {
    for c in 0..t.ch.len() {
        for o in 0..t.nv * LANES {
            let (w, r) = receive(p, t, c, o);
            if w == 0.0 {
                continue;
            }
            let (ar, ai) = iq_lane(p, t, data, c, o, r);
            let (co, si) = phasor(r * p.turns_per_sample);
            let br = w * (ar * co - ai * si);
            let bi = w * (ar * si + ai * co);
            s.re[o] += br;
            s.im[o] += bi;
            if CF {
                s.inc[o] += br * br + bi * bi;
                s.cnt[o] += 1.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free floor equals `f32::floor` over the range the samplers use, at integers,
    /// just below and above them, and at fractions.
    #[test]
    fn floor_small_is_floor() {
        let mut ys = vec![-4.0f32, -3.5, -1.0, -0.5, -1e-7, -0.0, 0.0, 1e-7, 0.5, 1.0, 131_075.9];
        for i in -40_000..40_000 {
            let y = i as f32 * 3.3;
            ys.extend([y, y.next_up(), y.next_down()]);
        }
        for y in ys {
            assert_eq!(floor_small(y), y.floor(), "{y}");
        }
    }
}
