//! AVX2 + FMA kernel: 8 pixels (consecutive depths of one line) per vector, transmits innermost.
//!
//! For each channel and vector the receive geometry (lateral distance, F-number mask, `vsqrtps`
//! distance, acceptance angle, window) is computed once, with the scalar kernel's operations in the
//! same order and without fused multiply-adds, so both kernels make the same aperture decisions.
//! The transmits then only add the tile's precomputed transmit delays, split the index, load the
//! taps and accumulate; the apodization weight (and, for IQ, the receive phasor) multiplies the
//! transmit sum once. Taps are loaded lane by lane (one 64- or 128-bit load per lane, then a
//! transpose), which on this generation of CPUs is about twice as fast as the hardware gathers.
//! A vector takes this fast path when the tile's smallest and largest transmit delays prove that
//! every tap of every transmit lies inside the record (lanes that do not take part are moved to a
//! safe index); otherwise its taking-part lanes run the scalar per-lane code, so nothing is read
//! out of bounds and samples outside the record count as zero. RF tiles with a single transmit
//! skip the per-channel state and run geometry, tap and sum of each vector in one pass
//! ([`rf_single`]). The per-vector state arrays, like the tile's arrays, are padded by a cache
//! line so that equal entries of different arrays do not compete for one L1 set.
//!
//! Why each path exists and what was measured against it is recorded in `docs/performance.md`
//! (beamformer section).

use super::scalar::{iq_lane, rf_lane};
use super::{
    COS_HALF_PI_POLY, INTERP_CUBIC, INTERP_LINEAR, INTERP_NEAREST, KernelParams, LANES, SIN_POLY, Sums, Tile,
    WindowCode,
};
use num_complex::Complex32;
use std::arch::x86_64::*;

// Closures do not inherit `#[target_feature]`, and LLVM may leave them out of line, where the
// intrinsics they call become slow function calls: the helpers below are `#[inline(always)]`
// functions instead.

/// `cos(π·u/2)` of 8 lanes from `s = u²`, same operations as the scalar `cos_half_pi_sq`.
#[inline(always)]
unsafe fn cos_half_pi_sq(s: __m256) -> __m256 {
    // SAFETY: only called from functions compiled with AVX2.
    unsafe {
        let mut c = _mm256_set1_ps(COS_HALF_PI_POLY[0]);
        for &k in &COS_HALF_PI_POLY[1..] {
            c = _mm256_add_ps(_mm256_mul_ps(c, s), _mm256_set1_ps(k));
        }
        c
    }
}

/// Window weight of 8 pixels (lanes outside the aperture may hold garbage; the caller masks them).
#[inline(always)]
unsafe fn window(p: &KernelParams, u2: __m256) -> __m256 {
    // SAFETY (whole function): only called from functions compiled with AVX2 + FMA.
    unsafe {
        match p.window {
            WindowCode::Rect => _mm256_set1_ps(1.0),
            WindowCode::Hann => {
                let c = cos_half_pi_sq(u2);
                _mm256_mul_ps(c, c)
            }
            WindowCode::Hamming => {
                let c = cos_half_pi_sq(u2);
                _mm256_add_ps(
                    _mm256_set1_ps(0.08),
                    _mm256_mul_ps(_mm256_set1_ps(0.92), _mm256_mul_ps(c, c)),
                )
            }
            WindowCode::Tukey => {
                let v = _mm256_mul_ps(
                    _mm256_sub_ps(_mm256_sqrt_ps(u2), _mm256_set1_ps(p.tukey_flat)),
                    _mm256_set1_ps(p.tukey_inv_alpha),
                );
                let v = _mm256_max_ps(v, _mm256_setzero_ps());
                let c = cos_half_pi_sq(_mm256_mul_ps(v, v));
                _mm256_mul_ps(c, c)
            }
        }
    }
}

/// Loop-invariant vectors of a tile.
struct Consts {
    one: __m256,
    cos_accept: __m256,
    shift: __m256,
    in_lo: __m256,
    in_hi: __m256,
    /// `in_lo − shift + 0.5`: minus a pixel's smallest transmit delay, a receive distance that keeps
    /// every tap inside (used for lanes that do not take part).
    safe: __m256,
    tps: __m256,
}

impl Consts {
    #[inline(always)]
    unsafe fn new(p: &KernelParams) -> Consts {
        let (shift, in_lo, in_hi, ..) = p.tap_bounds();
        // SAFETY: only called from functions compiled with AVX2.
        unsafe {
            Consts {
                one: _mm256_set1_ps(1.0),
                cos_accept: _mm256_set1_ps(p.cos_accept),
                shift: _mm256_set1_ps(shift),
                in_lo: _mm256_set1_ps(in_lo),
                in_hi: _mm256_set1_ps(in_hi),
                safe: _mm256_set1_ps(in_lo - shift + 0.5),
                tps: _mm256_set1_ps(p.turns_per_sample),
            }
        }
    }
}

/// Receive geometry of vector `v` for channel `c` (see the scalar kernel's `receive`):
/// `(weight, r, taking-part mask)`, `None` if no lane takes part.
#[inline(always)]
unsafe fn receive<const PLANAR: bool>(
    p: &KernelParams,
    k: &Consts,
    t: &Tile<'_>,
    c: usize,
    v: usize,
) -> Option<(__m256, __m256, __m256)> {
    // SAFETY: only called from functions compiled with AVX2 + FMA; `c < t.ch.len()` and
    // `(v + 1) · LANES ≤ t.px.len()` (callers' loops).
    unsafe {
        let ch = t.ch;
        let o = v * LANES;
        let px = _mm256_loadu_ps(t.px.as_ptr().add(o));
        let pz = _mm256_loadu_ps(t.pz.as_ptr().add(o));
        let ih2 = _mm256_loadu_ps(t.ih2.as_ptr().add(o));
        let dx = _mm256_sub_ps(px, _mm256_set1_ps(*ch.x.get_unchecked(c)));
        let dz = _mm256_sub_ps(pz, _mm256_set1_ps(*ch.z.get_unchecked(c)));
        let (lat2, dy) = if PLANAR {
            (_mm256_mul_ps(dx, dx), _mm256_setzero_ps())
        } else {
            let py = _mm256_loadu_ps(t.py.as_ptr().add(o));
            let dy = _mm256_sub_ps(py, _mm256_set1_ps(*ch.y.get_unchecked(c)));
            (_mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dy, dy)), dy)
        };
        let u2 = _mm256_mul_ps(lat2, ih2);
        let inside = _mm256_cmp_ps::<_CMP_LE_OQ>(u2, k.one);
        if _mm256_movemask_ps(inside) == 0 {
            return None;
        }
        let r = _mm256_sqrt_ps(_mm256_add_ps(lat2, _mm256_mul_ps(dz, dz)));
        let dot = if PLANAR {
            dz
        } else {
            _mm256_add_ps(
                _mm256_add_ps(
                    _mm256_mul_ps(_mm256_set1_ps(*ch.nx.get_unchecked(c)), dx),
                    _mm256_mul_ps(_mm256_set1_ps(*ch.ny.get_unchecked(c)), dy),
                ),
                _mm256_mul_ps(_mm256_set1_ps(*ch.nz.get_unchecked(c)), dz),
            )
        };
        let accepted = _mm256_cmp_ps::<_CMP_GE_OQ>(dot, _mm256_mul_ps(k.cos_accept, r));
        let w = _mm256_and_ps(window(p, u2), _mm256_and_ps(inside, accepted));
        let active = _mm256_cmp_ps::<_CMP_NEQ_OQ>(w, _mm256_setzero_ps());
        if _mm256_movemask_ps(active) == 0 {
            return None;
        }
        Some((w, r, active))
    }
}

/// The receive distance the fast path uses (lanes that do not take part moved to a safe index), or
/// `None` when some tap of some transmit may lie outside the record.
#[inline(always)]
unsafe fn fast_r(k: &Consts, t: &Tile<'_>, v: usize, r: __m256, active: __m256) -> Option<__m256> {
    // SAFETY: AVX2 arithmetic; `(v + 1) · LANES ≤ t.hints.lo.len() = t.hints.hi.len()`.
    unsafe {
        let lo = _mm256_loadu_ps(t.hints.lo.as_ptr().add(v * LANES));
        let hi = _mm256_loadu_ps(t.hints.hi.as_ptr().add(v * LANES));
        // Lanes whose own distance keeps every tap inside keep it (their loads then share cache
        // lines with their neighbours'); the others, if they do not take part, move to a safe
        // distance; a taking-part lane outside sends the vector to the slow path.
        let ok = taps_inside(k, r, lo, hi);
        let bits = _mm256_movemask_ps(ok);
        if bits == 0xFF {
            return Some(r);
        }
        if _mm256_movemask_ps(_mm256_andnot_ps(ok, active)) != 0 {
            return None;
        }
        let rr = _mm256_blendv_ps(_mm256_sub_ps(k.safe, lo), r, ok);
        (_mm256_movemask_ps(taps_inside(k, rr, lo, hi)) == 0xFF).then_some(rr)
    }
}

/// Sample position of the vector whose transmit-table entry starts at `e`, at receive distance `r`:
/// `(y, floor(y), floor(y) as i32)`.
#[inline(always)]
unsafe fn position<const INTERP: u8>(k: &Consts, t: &Tile<'_>, r: __m256, e: usize) -> (__m256, __m256, __m256i) {
    // SAFETY: callers compile with AVX2; `e + LANES ≤ t.tx.len()`.
    unsafe {
        let y = _mm256_add_ps(r, _mm256_loadu_ps(t.tx.as_ptr().add(e)));
        // The shift is 0 except for nearest (adding 0 only changes the sign of a zero).
        let y = if INTERP == INTERP_NEAREST {
            _mm256_add_ps(y, k.shift)
        } else {
            y
        };
        let q = _mm256_floor_ps(y);
        (y, q, _mm256_cvttps_epi32(q))
    }
}

/// Lanes whose taps at receive distance `r` lie inside the record for every transmit delay in
/// `[lo, hi]`.
#[inline(always)]
unsafe fn taps_inside(k: &Consts, r: __m256, lo: __m256, hi: __m256) -> __m256 {
    // SAFETY: only called from functions compiled with AVX2.
    unsafe {
        let ylo = _mm256_add_ps(_mm256_add_ps(r, lo), k.shift);
        let yhi = _mm256_add_ps(_mm256_add_ps(r, hi), k.shift);
        _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GE_OQ>(ylo, k.in_lo),
            _mm256_cmp_ps::<_CMP_LT_OQ>(yhi, k.in_hi),
        )
    }
}

/// The 8 lanes of `i` as an array (for lane-wise loads).
#[inline(always)]
unsafe fn lanes(i: __m256i) -> [isize; 8] {
    let mut a = [0i32; 8];
    // One store and 8 loads (volatile, so that LLVM does not turn them into `vpextrd`, two
    // micro-ops each and on the critical path).
    // SAFETY: an unaligned store into, and reads from, a local array of 8 i32.
    unsafe {
        _mm256_storeu_si256(a.as_mut_ptr().cast(), i);
        let p = a.as_ptr();
        [0, 1, 2, 3, 4, 5, 6, 7].map(|j| std::ptr::read_volatile(p.add(j)) as isize)
    }
}

/// `base[i]` of each lane.
#[inline(always)]
unsafe fn load1(base: *const f32, i: __m256i) -> __m256 {
    // SAFETY: the caller guarantees `base + i` in bounds for every lane.
    unsafe {
        let a = lanes(i);
        _mm256_setr_ps(
            *base.offset(a[0]),
            *base.offset(a[1]),
            *base.offset(a[2]),
            *base.offset(a[3]),
            *base.offset(a[4]),
            *base.offset(a[5]),
            *base.offset(a[6]),
            *base.offset(a[7]),
        )
    }
}

/// `(base[i], base[i + 1])` of each lane: one 64-bit load per lane and a de-interleave.
#[inline(always)]
unsafe fn load2(base: *const f32, i: __m256i) -> (__m256, __m256) {
    // SAFETY: the caller guarantees `base + i`, `base + i + 1` in bounds for every lane; the loads
    // are unaligned reads.
    unsafe {
        let a = lanes(i);
        let g = |j: usize| (base.offset(a[j]) as *const i64).read_unaligned();
        let g = [g(0), g(1), g(2), g(3), g(4), g(5), g(6), g(7)];
        // 64-bit lanes [0, 1 | 4, 5] and [2, 3 | 6, 7].
        let x = _mm256_castsi256_ps(_mm256_set_epi64x(g[5], g[4], g[1], g[0]));
        let y = _mm256_castsi256_ps(_mm256_set_epi64x(g[7], g[6], g[3], g[2]));
        (
            _mm256_shuffle_ps::<0b10_00_10_00>(x, y),
            _mm256_shuffle_ps::<0b11_01_11_01>(x, y),
        )
    }
}

/// `(base[i], base[i + 1])` of each lane when all lanes lie within 15 samples after lane 0's index
/// `b ≤ last` (always the case, except near the end of a trace, for plans whose 8 consecutive depths
/// span less than 15 samples: [`KernelParams::windowed`]): two contiguous 16-sample windows (at `b`
/// and `b + 1`) and in-register permutes instead of 8 separate loads. `None` otherwise.
#[inline(always)]
unsafe fn window2(base: *const f32, i: __m256i, last: isize) -> Option<(__m256, __m256)> {
    // SAFETY: the loads read `base[b .. b + 17]`, inside the trace because every lane (hence `b`) is
    // ≥ 0 (the caller's range check) and `b ≤ last = n − 17`.
    unsafe {
        let b = _mm256_cvtsi256_si32(i);
        let off = _mm256_sub_epi32(i, _mm256_set1_epi32(b));
        let in_window = _mm256_cmpeq_epi32(_mm256_min_epu32(off, _mm256_set1_epi32(15)), off);
        if _mm256_movemask_epi8(in_window) != -1 || b as isize > last {
            return None;
        }
        Some(window_taps(base.offset(b as isize), off))
    }
}

/// `(w[off], w[off + 1])` of each lane, `off` in `0..16`: the in-register picks of [`window2`].
#[inline(always)]
unsafe fn window_taps(w: *const f32, off: __m256i) -> (__m256, __m256) {
    // SAFETY: the caller guarantees `w[0 .. 17]` readable; compiled with AVX2.
    unsafe {
        let hi = _mm256_castsi256_ps(_mm256_cmpgt_epi32(off, _mm256_set1_epi32(7)));
        (
            pick16(_mm256_loadu_ps(w), _mm256_loadu_ps(w.add(8)), off, hi),
            pick16(_mm256_loadu_ps(w.add(1)), _mm256_loadu_ps(w.add(9)), off, hi),
        )
    }
}

/// The linearly interpolated sample of a vector that [`window_proof`] admitted, at receive distance
/// `r` and transmit-table entry `e`, from trace `tr` (`ns` samples); also warms the next channel's
/// window.
#[inline(always)]
unsafe fn window_step(k: &Consts, t: &Tile<'_>, tr: *const f32, ns: usize, r: __m256, e: usize) -> __m256 {
    // SAFETY: compiled with AVX2 + FMA; `window_proof` keeps `tr[b .. b + 17]` inside the trace
    // and every lane's offset in `0..16`; `e + LANES ≤ t.tx.len()`.
    unsafe {
        let (y, q, i) = position::<INTERP_LINEAR>(k, t, r, e);
        let b = _mm256_cvtsi256_si32(i);
        // As in `rf_impl`: warm the next channel's window (one trace later, nearly the same samples).
        _mm_prefetch::<_MM_HINT_T0>(tr.wrapping_add(ns).wrapping_offset(b as isize).cast());
        let (s0, s1) = window_taps(tr.offset(b as isize), _mm256_sub_epi32(i, _mm256_set1_epi32(b)));
        _mm256_fmadd_ps(_mm256_sub_ps(y, q), _mm256_sub_ps(s1, s0), s0)
    }
}

/// True if, for every transmit of the chunk, the first taps of vector `v` at fast-path receive
/// distance `r` lie 0 to 15 samples after lane 0's, and lane 0's window of 17 samples inside the
/// trace (`end = n_samples − 16.5`): the vector can then read [`window_taps`] without per-step
/// checks. With `y_l = r_l + tx_l`, it asks `0.01 ≤ y_l − y_0 ≤ 14.9` for lanes `l ≥ 1` (so that
/// the floors, after the rounding of the sums, differ by 0 to 15) from the tile's per-lane extreme
/// transmit-delay differences, and `r_0 + max tx_0 < end`.
#[inline(always)]
unsafe fn window_proof(t: &Tile<'_>, v: usize, r: __m256, end: f32) -> bool {
    // SAFETY: AVX2 arithmetic; `(v + 1) · LANES ≤ t.hints.dlo.len() = t.hints.dhi.len() = t.hints.hi.len()`.
    unsafe {
        let o = v * LANES;
        let dr = _mm256_sub_ps(r, _mm256_permutevar8x32_ps(r, _mm256_setzero_si256()));
        let lo = _mm256_add_ps(dr, _mm256_loadu_ps(t.hints.dlo.as_ptr().add(o)));
        let hi = _mm256_add_ps(dr, _mm256_loadu_ps(t.hints.dhi.as_ptr().add(o)));
        let floor = _mm256_setr_ps(-1.0, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01);
        let ok = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GE_OQ>(lo, floor),
            _mm256_cmp_ps::<_CMP_LE_OQ>(hi, _mm256_set1_ps(14.9)),
        );
        _mm256_movemask_ps(ok) == 0xFF && _mm256_cvtss_f32(r) + *t.hints.hi.get_unchecked(o) < end
    }
}

/// Lane `l` of the result is element `off[l]` (0..16) of the 16-element window `lo ++ up`
/// (`hi`: lanes with `off ≥ 8`).
#[inline(always)]
unsafe fn pick16(lo: __m256, up: __m256, off: __m256i, hi: __m256) -> __m256 {
    // SAFETY: only called from functions compiled with AVX2.
    unsafe { _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, off), _mm256_permutevar8x32_ps(up, off), hi) }
}

/// `base[i + j]` for `j = 0..4` of each lane: one 128-bit load per lane and a 4 × 4 transpose.
#[inline(always)]
unsafe fn load4(base: *const f32, i: __m256i) -> [__m256; 4] {
    // SAFETY: the caller guarantees `base + i ..= base + i + 3` in bounds for every lane.
    unsafe {
        let a = lanes(i);
        let a0 = _mm256_loadu2_m128(base.offset(a[4]), base.offset(a[0]));
        let a1 = _mm256_loadu2_m128(base.offset(a[5]), base.offset(a[1]));
        let a2 = _mm256_loadu2_m128(base.offset(a[6]), base.offset(a[2]));
        let a3 = _mm256_loadu2_m128(base.offset(a[7]), base.offset(a[3]));
        let t0 = _mm256_unpacklo_ps(a0, a1);
        let t1 = _mm256_unpackhi_ps(a0, a1);
        let t2 = _mm256_unpacklo_ps(a2, a3);
        let t3 = _mm256_unpackhi_ps(a2, a3);
        [
            _mm256_shuffle_ps::<0x44>(t0, t2),
            _mm256_shuffle_ps::<0xEE>(t0, t2),
            _mm256_shuffle_ps::<0x44>(t1, t3),
            _mm256_shuffle_ps::<0xEE>(t1, t3),
        ]
    }
}

/// Catmull-Rom weights, same operations as the scalar kernel's `cubic_weights`.
#[inline(always)]
unsafe fn cubic_weights(f: __m256) -> [__m256; 4] {
    // SAFETY: only called from functions compiled with AVX2.
    unsafe {
        let h = _mm256_set1_ps(0.5);
        let f2 = _mm256_mul_ps(f, f);
        let f3 = _mm256_mul_ps(f2, f);
        [
            _mm256_mul_ps(
                h,
                _mm256_sub_ps(_mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(2.0), f2), f3), f),
            ),
            _mm256_mul_ps(
                h,
                _mm256_add_ps(
                    _mm256_sub_ps(
                        _mm256_mul_ps(_mm256_set1_ps(3.0), f3),
                        _mm256_mul_ps(_mm256_set1_ps(5.0), f2),
                    ),
                    _mm256_set1_ps(2.0),
                ),
            ),
            _mm256_mul_ps(
                h,
                _mm256_add_ps(
                    _mm256_sub_ps(
                        _mm256_mul_ps(_mm256_set1_ps(4.0), f2),
                        _mm256_mul_ps(_mm256_set1_ps(3.0), f3),
                    ),
                    f,
                ),
            ),
            _mm256_mul_ps(h, _mm256_sub_ps(f3, f2)),
        ]
    }
}

/// `w[0]·a + w[1]·b + w[2]·c + w[3]·d`.
#[inline(always)]
unsafe fn mix4(w: &[__m256; 4], a: __m256, b: __m256, c: __m256, d: __m256) -> __m256 {
    // SAFETY: only called from functions compiled with AVX2 + FMA.
    unsafe {
        _mm256_fmadd_ps(
            w[3],
            d,
            _mm256_fmadd_ps(w[2], c, _mm256_fmadd_ps(w[1], b, _mm256_mul_ps(w[0], a))),
        )
    }
}

/// `Σ w_k tw_k ...` bookkeeping shared by the RF and IQ tiles: adds the weighted channel result to
/// the sums of vector `v`.
#[inline(always)]
unsafe fn accumulate<const CF: bool>(
    k: &Consts,
    s: &mut Sums<'_>,
    v: usize,
    br: __m256,
    bi: Option<__m256>,
    active: __m256,
) {
    // SAFETY: `(v + 1) · LANES` ≤ the sums' lengths (callers' loops).
    unsafe {
        let o = v * LANES;
        let re = s.re.as_mut_ptr().add(o);
        _mm256_storeu_ps(re, _mm256_add_ps(_mm256_loadu_ps(re), br));
        let mut e = _mm256_mul_ps(br, br);
        if let Some(bi) = bi {
            let im = s.im.as_mut_ptr().add(o);
            _mm256_storeu_ps(im, _mm256_add_ps(_mm256_loadu_ps(im), bi));
            e = _mm256_add_ps(e, _mm256_mul_ps(bi, bi));
        }
        if CF {
            let inc = s.inc.as_mut_ptr().add(o);
            _mm256_storeu_ps(inc, _mm256_add_ps(_mm256_loadu_ps(inc), e));
            let cnt = s.cnt.as_mut_ptr().add(o);
            _mm256_storeu_ps(cnt, _mm256_add_ps(_mm256_loadu_ps(cnt), _mm256_and_ps(active, k.one)));
        }
    }
}

/// Linear interpolation reading the taps through [`window2`] (plans with
/// [`KernelParams::windowed`]); a kernel-internal interpolation code.
const LINEAR_WINDOWED: u8 = 3;

/// RF kernel entry point.
///
/// # Safety
/// The CPU must support AVX2 and FMA. The tile's slices must have the lengths
/// the beamformer's tile pass gives them and `data` must hold the chunk's `nk` transmits.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn rf_tile<const CF: bool>(
    p: &KernelParams,
    t: &Tile<'_>,
    data: &[f32],
    s: &mut Sums<'_>,
    sc: &mut Scratch,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match (t.hints.planar, p.interp) {
            (true, INTERP_NEAREST) => rf_impl::<CF, true, INTERP_NEAREST>(p, t, data, s, sc),
            (true, INTERP_LINEAR) if p.windowed => rf_impl::<CF, true, LINEAR_WINDOWED>(p, t, data, s, sc),
            (true, INTERP_LINEAR) => rf_impl::<CF, true, INTERP_LINEAR>(p, t, data, s, sc),
            (true, _) => rf_impl::<CF, true, INTERP_CUBIC>(p, t, data, s, sc),
            (false, INTERP_NEAREST) => rf_impl::<CF, false, INTERP_NEAREST>(p, t, data, s, sc),
            (false, INTERP_LINEAR) if p.windowed => rf_impl::<CF, false, LINEAR_WINDOWED>(p, t, data, s, sc),
            (false, INTERP_LINEAR) => rf_impl::<CF, false, INTERP_LINEAR>(p, t, data, s, sc),
            (false, _) => rf_impl::<CF, false, INTERP_CUBIC>(p, t, data, s, sc),
        }
    }
}

/// The interpolated RF sample of one fast-path step: the vector whose transmit-table entry starts
/// at `e`, at receive distance `r`, read from trace `tr` (`ns` samples).
#[inline(always)]
unsafe fn fast_value<const INTERP: u8>(
    k: &Consts,
    t: &Tile<'_>,
    tr: *const f32,
    ns: usize,
    r: __m256,
    e: usize,
) -> __m256 {
    // SAFETY: the caller's `fast_r` proved every tap inside the trace; compiled with AVX2 + FMA.
    unsafe {
        let (y, q, i) = position::<INTERP>(k, t, r, e);
        if INTERP == LINEAR_WINDOWED {
            // Warm the next channel's window (nearly the same samples, one trace later): measured
            // +40-70 % on `picmus` 11 and 75 waves; on the lane-load paths (vascular RF, IQ) it
            // cost 5-15 %, so only here.
            let next = tr.wrapping_add(ns).wrapping_offset(_mm256_cvtsi256_si32(i) as isize);
            _mm_prefetch::<_MM_HINT_T0>(next.cast());
        }
        match INTERP {
            INTERP_NEAREST => load1(tr, i),
            INTERP_LINEAR => {
                let (s0, s1) = load2(tr, i);
                _mm256_fmadd_ps(_mm256_sub_ps(y, q), _mm256_sub_ps(s1, s0), s0)
            }
            LINEAR_WINDOWED => {
                // Largest first index of a 17-sample window inside the trace.
                let (s0, s1) = match window2(tr, i, ns as isize - 17) {
                    Some(pair) => pair,
                    None => load2(tr, i),
                };
                _mm256_fmadd_ps(_mm256_sub_ps(y, q), _mm256_sub_ps(s1, s0), s0)
            }
            _ => {
                let [a, b, c2, d] = load4(tr.sub(1), i);
                mix4(&cubic_weights(_mm256_sub_ps(y, q)), a, b, c2, d)
            }
        }
    }
}

/// RF with a single transmit in the tile: geometry, tap and accumulation in one pass per vector,
/// with no per-channel state arrays or lists (+20 % on `picmus` 1 wave against the general
/// path, which amortises the geometry over transmits that are not there). Same operations, in
/// the same order, as the general path, so the results are identical.
#[inline(always)]
unsafe fn rf_single<const CF: bool, const PLANAR: bool, const INTERP: u8>(
    p: &KernelParams,
    k: &Consts,
    t: &Tile<'_>,
    data: &[f32],
    s: &mut Sums<'_>,
) {
    let ns = p.n_samples;
    // SAFETY: as in `rf_impl`; the chunk holds one transmit, so channel `c`'s trace starts at
    // `c · ns`, and `fast_r` proves a vector's taps inside it before the fast path reads them.
    unsafe {
        let tw = _mm256_set1_ps(*t.tw.get_unchecked(0));
        let (shift, in_lo, in_hi, ..) = p.tap_bounds();
        for c in 0..t.ch.len() {
            let tr = data.as_ptr().add(c * ns);
            let inside = t.taps_inside(c, shift, in_lo, in_hi);
            for v in 0..t.nv {
                let Some((w, r, active)) = receive::<PLANAR>(p, k, t, c, v) else {
                    continue;
                };
                let a = match if inside { Some(r) } else { fast_r(k, t, v, r, active) } {
                    Some(rr) => _mm256_fmadd_ps(
                        tw,
                        fast_value::<INTERP>(k, t, tr, ns, rr, v * LANES),
                        _mm256_setzero_ps(),
                    ),
                    None => slow_lanes(v, r, active, |o, r| (rf_lane(p, t, data, c, o, r), 0.0)).0,
                };
                accumulate::<CF>(k, s, v, _mm256_mul_ps(w, a), None, active);
            }
        }
    }
}

/// The slow path of vector `v` (receive distances `r`, taking-part mask `active`): `lane(pixel,
/// r)` (the scalar per-lane code, `(re, im)`) for each taking-part lane, zero for the others.
#[inline(always)]
unsafe fn slow_lanes(
    v: usize,
    r: __m256,
    active: __m256,
    mut lane: impl FnMut(usize, f32) -> (f32, f32),
) -> (__m256, __m256) {
    let mut rs = [0.0f32; LANES];
    // SAFETY: AVX stores/loads of local arrays (callers compile with AVX2).
    unsafe {
        _mm256_storeu_ps(rs.as_mut_ptr(), r);
        let bits = _mm256_movemask_ps(active);
        let (mut a, mut b) = ([0.0f32; LANES], [0.0f32; LANES]);
        for l in 0..LANES {
            if bits & (1 << l) != 0 {
                (a[l], b[l]) = lane(v * LANES + l, rs[l]);
            }
        }
        (_mm256_loadu_ps(a.as_ptr()), _mm256_loadu_ps(b.as_ptr()))
    }
}

/// The RF tile loop: per channel, prepare the vectors' receive geometry, then run the proven-window
/// vectors (up to four transmits per pass), the fast vectors and the checked ones.
///
/// Kept as one function on purpose: the per-channel state and the accumulators live on one stack
/// frame across the three vector classes, and every helper it calls is `#[inline(always)]` so that
/// the intrinsics stay in the `target_feature` context (the paths are described in
/// `docs/performance.md#avx2-kernel-paths`).
#[inline(always)]
unsafe fn rf_impl<const CF: bool, const PLANAR: bool, const INTERP: u8>(
    p: &KernelParams,
    t: &Tile<'_>,
    data: &[f32],
    s: &mut Sums<'_>,
    sc: &mut Scratch,
) {
    let ns = p.n_samples;
    let per_tx = t.ch.len() * ns;
    debug_assert!(data.len() >= t.nk * per_tx && t.tx.len() >= t.nv * t.nk * LANES);
    // SAFETY (whole body): compiled with AVX2 + FMA (inlined into `rf_tile`). Fast-path loads stay
    // inside the chunk's traces because `fast_r` proved every tap index in `[0, ns)`; table loads
    // are within `t.tx` (length `nv · nk · LANES`).
    unsafe {
        let k = Consts::new(p);
        if t.nk == 1 {
            return rf_single::<CF, PLANAR, INTERP>(p, &k, t, data, s);
        }
        let Scratch { st, acc, .. } = sc;
        for c in 0..t.ch.len() {
            if !st.prepare::<PLANAR>(p, &k, t, c, INTERP == LINEAR_WINDOWED && !t.hints.dlo.is_empty()) {
                continue;
            }
            let base = data.as_ptr().add(c * ns);
            for &v in st.fast[..st.n_fast].iter().chain(&st.win[..st.n_win]) {
                *acc.get_unchecked_mut(v as usize) = _mm256_setzero_ps();
            }
            // Vectors proven to stay in one window: no per-step checks, and up to four transmits
            // per pass over the vectors, sharing each vector's bookkeeping (+7-13 % on `picmus`
            // against one transmit per pass; four traces interleaved still fit L1's ways).
            let mut j = 0;
            while j < t.nk {
                let g = if j + 4 <= t.nk {
                    4
                } else if j + 2 <= t.nk {
                    2
                } else {
                    1
                };
                let trs = [0, 1, 2, 3].map(|m| base.add((j + m.min(g - 1)) * per_tx));
                // (No closure around the intrinsic: closures lose the target features.)
                let tw_at = |m: usize| *t.tw.get_unchecked(j + m.min(g - 1));
                let tws = [
                    _mm256_set1_ps(tw_at(0)),
                    _mm256_set1_ps(tw_at(1)),
                    _mm256_set1_ps(tw_at(2)),
                    _mm256_set1_ps(tw_at(3)),
                ];
                for &v in &st.win[..st.n_win] {
                    let v = v as usize;
                    let e = (v * t.nk + j) * LANES;
                    let r = *st.r.get_unchecked(v);
                    let mut a = *acc.get_unchecked(v);
                    a = _mm256_fmadd_ps(tws[0], window_step(&k, t, trs[0], ns, r, e), a);
                    if g >= 2 {
                        a = _mm256_fmadd_ps(tws[1], window_step(&k, t, trs[1], ns, r, e + LANES), a);
                    }
                    if g == 4 {
                        a = _mm256_fmadd_ps(tws[2], window_step(&k, t, trs[2], ns, r, e + 2 * LANES), a);
                        a = _mm256_fmadd_ps(tws[3], window_step(&k, t, trs[3], ns, r, e + 3 * LANES), a);
                    }
                    *acc.get_unchecked_mut(v) = a;
                }
                j += g;
            }
            // The other fast vectors: transmits outside, vectors inside, so that each transmit's
            // trace window is read once for the whole tile (the windows of different transmits
            // alias in L1 when interleaved).
            for j in 0..t.nk {
                let tr = base.add(j * per_tx);
                let tw = _mm256_set1_ps(*t.tw.get_unchecked(j));
                for &v in &st.fast[..st.n_fast] {
                    let v = v as usize;
                    let e = (v * t.nk + j) * LANES;
                    let val = fast_value::<INTERP>(&k, t, tr, ns, *st.r.get_unchecked(v), e);
                    let a = acc.get_unchecked_mut(v);
                    *a = _mm256_fmadd_ps(tw, val, *a);
                }
            }
            for &v in &st.slow[..st.n_slow] {
                let v = v as usize;
                let (a, _) = st.slow_lanes(v, |o, r| (rf_lane(p, t, data, c, o, r), 0.0));
                acc[v] = a;
            }
            for &v in st.fast[..st.n_fast]
                .iter()
                .chain(&st.win[..st.n_win])
                .chain(&st.slow[..st.n_slow])
            {
                let v = v as usize;
                accumulate::<CF>(&k, s, v, _mm256_mul_ps(st.w[v], acc[v]), None, st.active[v]);
            }
        }
    }
}

/// Padding of the per-vector arrays (two vectors, one cache line), so that the same vector of
/// different 4 KiB arrays does not share an L1 set (as the tile's `SPREAD`).
const VSPREAD: usize = 2;

/// Most vectors of a tile.
const MAX_NV: usize = super::super::tile::TILE_MAX / LANES;

/// Receive geometry of every vector of a tile for one channel: weights, receive distances (the
/// fast-path distances for vectors on the fast path), taking-part masks, and the lists of vectors
/// on the fast and on the slow path, in vector order.
#[repr(C)]
struct ChannelState {
    w: [__m256; MAX_NV + VSPREAD],
    r: [__m256; MAX_NV + VSPREAD],
    /// The pixels' receive distances (IQ phasors), where `r` holds fast-path distances.
    r_true: [__m256; MAX_NV + VSPREAD],
    /// Whether each vector is on the fast path.
    on_fast: [bool; MAX_NV],
    active: [__m256; MAX_NV + VSPREAD],
    fast: [u16; MAX_NV],
    n_fast: usize,
    /// Fast vectors whose taps [`window_proof`] keeps in one window for every transmit (only when
    /// `prepare` is asked to sort them out).
    win: [u16; MAX_NV],
    n_win: usize,
    slow: [u16; MAX_NV],
    n_slow: usize,
}

/// The kernels' working state of a tile: the per-channel vector state and the per-vector transmit
/// accumulators (about 26 KiB). It lives in the plan's pooled tile buffer rather than on the stack,
/// so the kernels run on threads with small stacks. Nothing carries over between tiles or channels:
/// `prepare` writes every entry it later reads, and the accumulators of the listed vectors are
/// zeroed per channel. All-zero bytes are a valid value.
#[repr(C)]
pub(crate) struct Scratch {
    st: ChannelState,
    acc: [__m256; MAX_NV + VSPREAD],
    acc_i: [__m256; MAX_NV + VSPREAD],
}

impl ChannelState {
    /// Fills the state for channel `c`; false if no lane of the tile takes part.
    /// With `windowed`, fast vectors that pass [`window_proof`] go to the `win` list.
    #[inline(always)]
    unsafe fn prepare<const PLANAR: bool>(
        &mut self,
        p: &KernelParams,
        k: &Consts,
        t: &Tile<'_>,
        c: usize,
        windowed: bool,
    ) -> bool {
        self.n_fast = 0;
        self.n_win = 0;
        self.n_slow = 0;
        let end = p.n_samples as f32 - 16.5;
        let (shift, in_lo, in_hi, ..) = p.tap_bounds();
        let inside = t.taps_inside(c, shift, in_lo, in_hi);
        debug_assert!(t.nv <= MAX_NV);
        // SAFETY: callers compile with AVX2 + FMA; `v < t.nv ≤ MAX_NV`.
        unsafe {
            for v in 0..t.nv {
                let Some((w, r, active)) = receive::<PLANAR>(p, k, t, c, v) else {
                    continue;
                };
                *self.w.get_unchecked_mut(v) = w;
                *self.active.get_unchecked_mut(v) = active;
                match if inside { Some(r) } else { fast_r(k, t, v, r, active) } {
                    Some(rr) => {
                        *self.r.get_unchecked_mut(v) = rr;
                        *self.r_true.get_unchecked_mut(v) = r;
                        *self.on_fast.get_unchecked_mut(v) = true;
                        if windowed && window_proof(t, v, rr, end) {
                            *self.win.get_unchecked_mut(self.n_win) = v as u16;
                            self.n_win += 1;
                        } else {
                            *self.fast.get_unchecked_mut(self.n_fast) = v as u16;
                            self.n_fast += 1;
                        }
                    }
                    None => {
                        *self.r.get_unchecked_mut(v) = r;
                        *self.on_fast.get_unchecked_mut(v) = false;
                        *self.slow.get_unchecked_mut(self.n_slow) = v as u16;
                        self.n_slow += 1;
                    }
                }
            }
        }
        self.n_fast + self.n_win + self.n_slow > 0
    }

    /// The slow path of vector `v`: `lane(pixel, r)` (the scalar per-lane code, `(re, im)`) for
    /// each taking-part lane, zero for the others.
    #[inline(always)]
    unsafe fn slow_lanes(&self, v: usize, lane: impl FnMut(usize, f32) -> (f32, f32)) -> (__m256, __m256) {
        // SAFETY: forwarded (callers compile with AVX2).
        unsafe { slow_lanes(v, self.r[v], self.active[v], lane) }
    }

    /// True if vector `v` (taking part) is on the fast path.
    #[inline(always)]
    fn is_fast(&self, v: usize) -> bool {
        self.on_fast[v]
    }
}

/// `sin(2π x)` of 8 lanes in turns within [−0.5, 0.5], same operations as [`super::sin_turns`].
#[inline(always)]
unsafe fn sin_turns(x: __m256) -> __m256 {
    // SAFETY: only called from functions compiled with AVX2.
    unsafe {
        let sign = _mm256_set1_ps(-0.0);
        let q = _mm256_set1_ps(0.25);
        let ax = _mm256_andnot_ps(sign, x);
        let r = _mm256_sub_ps(q, _mm256_andnot_ps(sign, _mm256_sub_ps(q, ax)));
        let r = _mm256_or_ps(r, _mm256_and_ps(sign, x));
        let y = _mm256_mul_ps(r, _mm256_set1_ps(std::f32::consts::TAU));
        let y2 = _mm256_mul_ps(y, y);
        let mut pv = _mm256_set1_ps(SIN_POLY[0]);
        for &c in &SIN_POLY[1..] {
            pv = _mm256_add_ps(_mm256_mul_ps(pv, y2), _mm256_set1_ps(c));
        }
        _mm256_mul_ps(pv, y)
    }
}

/// IQ kernel entry point.
///
/// # Safety
/// As [`rf_tile`].
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn iq_tile<const CF: bool>(
    p: &KernelParams,
    t: &Tile<'_>,
    data: &[Complex32],
    s: &mut Sums<'_>,
    sc: &mut Scratch,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        match (t.hints.planar, p.interp) {
            (true, INTERP_NEAREST) => iq_impl::<CF, true, INTERP_NEAREST>(p, t, data, s, sc),
            (true, INTERP_LINEAR) => iq_impl::<CF, true, INTERP_LINEAR>(p, t, data, s, sc),
            (true, _) => iq_impl::<CF, true, INTERP_CUBIC>(p, t, data, s, sc),
            (false, INTERP_NEAREST) => iq_impl::<CF, false, INTERP_NEAREST>(p, t, data, s, sc),
            (false, INTERP_LINEAR) => iq_impl::<CF, false, INTERP_LINEAR>(p, t, data, s, sc),
            (false, _) => iq_impl::<CF, false, INTERP_CUBIC>(p, t, data, s, sc),
        }
    }
}

/// The IQ tile loop: per channel, prepare the receive geometry, sum each vector's rotated IQ taps
/// over the transmits, then rotate by the receive phasor and accumulate. One function for the same
/// reason as [`rf_impl`].
#[inline(always)]
unsafe fn iq_impl<const CF: bool, const PLANAR: bool, const INTERP: u8>(
    p: &KernelParams,
    t: &Tile<'_>,
    data: &[Complex32],
    s: &mut Sums<'_>,
    sc: &mut Scratch,
) {
    let ns = p.n_samples;
    let per_tx = t.ch.len() * ns;
    debug_assert!(data.len() >= t.nk * per_tx && t.tcos.len() >= t.nv * t.nk * LANES);
    // SAFETY (whole body): as in `rf_impl`; a `Complex32` is two `f32` (`repr(C)`), so complex
    // sample `q` of a trace is the float pair at `2q`.
    unsafe {
        let k = Consts::new(p);
        let Scratch { st, acc: acc_r, acc_i } = sc;
        for c in 0..t.ch.len() {
            if !st.prepare::<PLANAR>(p, &k, t, c, false) {
                continue;
            }
            let base = (data.as_ptr() as *const f32).add(2 * c * ns);
            for &v in &st.fast[..st.n_fast] {
                *acc_r.get_unchecked_mut(v as usize) = _mm256_setzero_ps();
                *acc_i.get_unchecked_mut(v as usize) = _mm256_setzero_ps();
            }
            for j in 0..t.nk {
                let tr = base.add(2 * j * per_tx);
                for &v in &st.fast[..st.n_fast] {
                    let v = v as usize;
                    let e = (v * t.nk + j) * LANES;
                    let (y, q, i) = position::<INTERP>(&k, t, *st.r.get_unchecked(v), e);
                    let i2 = _mm256_add_epi32(i, i);
                    let (vr, vi) = match INTERP {
                        INTERP_NEAREST => load2(tr, i2),
                        INTERP_LINEAR => {
                            let [r0, i0, r1, i1] = load4(tr, i2);
                            let f = _mm256_sub_ps(y, q);
                            (
                                _mm256_fmadd_ps(_mm256_sub_ps(r1, r0), f, r0),
                                _mm256_fmadd_ps(_mm256_sub_ps(i1, i0), f, i0),
                            )
                        }
                        _ => {
                            let [rm, im, r0, i0] = load4(tr.sub(2), i2);
                            let [r1, i1, r2, i2v] = load4(tr.add(2), i2);
                            let cw = cubic_weights(_mm256_sub_ps(y, q));
                            (mix4(&cw, rm, r0, r1, r2), mix4(&cw, im, i0, i1, i2v))
                        }
                    };
                    let co = _mm256_loadu_ps(t.tcos.as_ptr().add(e));
                    let si = _mm256_loadu_ps(t.tsin.as_ptr().add(e));
                    let ar = acc_r.get_unchecked_mut(v);
                    *ar = _mm256_fnmadd_ps(vi, si, _mm256_fmadd_ps(vr, co, *ar));
                    let ai = acc_i.get_unchecked_mut(v);
                    *ai = _mm256_fmadd_ps(vi, co, _mm256_fmadd_ps(vr, si, *ai));
                }
            }
            for &v in &st.slow[..st.n_slow] {
                let v = v as usize;
                (acc_r[v], acc_i[v]) = st.slow_lanes(v, |o, r| iq_lane(p, t, data, c, o, r));
            }
            for &v in st.fast[..st.n_fast].iter().chain(&st.slow[..st.n_slow]) {
                let v = v as usize;
                // The receive distance of the pixel (not the fast-path one) sets the phasor; lanes
                // that do not take part have weight 0.
                let r = if st.is_fast(v) { st.r_true[v] } else { st.r[v] };
                let (ar, ai) = (acc_r[v], acc_i[v]);
                // Receive phasor exp(i·2π·r·f_demod/fs), as `kernel_scalar::phasor`.
                let x = _mm256_mul_ps(r, k.tps);
                let x = _mm256_sub_ps(
                    x,
                    _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x),
                );
                let ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0), x);
                let co = sin_turns(_mm256_sub_ps(_mm256_set1_ps(0.25), ax));
                let si = sin_turns(x);
                let w = st.w[v];
                let br = _mm256_mul_ps(w, _mm256_sub_ps(_mm256_mul_ps(ar, co), _mm256_mul_ps(ai, si)));
                let bi = _mm256_mul_ps(w, _mm256_add_ps(_mm256_mul_ps(ar, si), _mm256_mul_ps(ai, co)));
                accumulate::<CF>(&k, s, v, br, Some(bi), st.active[v]);
            }
        }
    }
}
