//! AVX-512 kernel (F, DQ, VL, with FMA): 16 pixels per vector, transmits innermost.
//!
//! The tile layout groups 8 consecutive depths per vector ([`LANES`]); a 16-lane vector here is
//! two consecutive 8-lane vectors of the tile (`2u` and `2u + 1`), so on lines of whole pairs it
//! covers 16 consecutive depths. When a tile has an odd number of 8-lane vectors, the last 16-lane
//! vector repeats its lower half in its upper lanes: those lanes compute what the lower ones do,
//! never take part (the validity mask clears them) and are never stored (masked stores), so nothing
//! beyond a slice's end is read or written.
//!
//! The structure is the AVX2 kernel's (`avx2.rs`), with the same paths: per channel and vector the
//! receive geometry is computed once, with the scalar kernel's operations in the same order and
//! without fused multiply-adds, so all kernels make the same aperture decisions; the aperture,
//! acceptance and range tests produce mask registers instead of vector masks. Transmits only add
//! the tabulated delays, split the index, load the taps and accumulate. Windowed RF plans read a
//! vector's taps from a 33-sample window with two `vpermt2ps` (16 consecutive depths span about
//! twice the AVX2 window), proven once per (channel, vector) when the chunk has enough transmits;
//! other plans load taps lane by lane. RF tiles with a single transmit run geometry, tap and sum
//! of each vector in one pass. Vectors whose taps may leave the record run the scalar per-lane
//! code. Working state lives in [`Scratch`] (pooled with the tile buffer), not on the stack.
//!
//! Cost: per (channel, 16 pixels) one receive geometry; per point one interpolation and
//! accumulation. What was measured against each path is in `docs/performance.md`.

use super::scalar::{iq_lane, rf_lane};
use super::{
    COS_HALF_PI_POLY, INTERP_CUBIC, INTERP_LINEAR, INTERP_NEAREST, KernelParams, LANES, SIN_POLY, Sums, Tile,
    WindowCode,
};
use num_complex::Complex32;
use std::arch::x86_64::*;

/// Pixels per vector (two of the tile layout's vectors).
const W: usize = 2 * LANES;

/// Most 16-lane vectors of a tile.
const MAX_NU: usize = super::super::tile::TILE_MAX / W;

/// Padding of the per-vector arrays (one vector, one cache line), so that the same vector of
/// different 4 KiB arrays does not share an L1 set.
const VSPREAD: usize = 1;

/// Linear interpolation reading the taps through [`window2`] (plans with
/// [`KernelParams::windowed`]); a kernel-internal interpolation code.
const LINEAR_WINDOWED: u8 = 3;

/// Samples of the window the windowed path reads (taps `off` and `off + 1` for offsets `0..32`).
const WINDOW: usize = 2 * W + 1;

// Closures do not inherit `#[target_feature]`: the helpers below are `#[inline(always)]` functions
// instead, so that the intrinsics stay in the entry points' feature context.

/// A 16-lane vector of the tile: its two 8-lane vectors (`lo`, and `hi = lo + 1`, or `hi = lo` for
/// an odd last vector) and the mask of its pixels.
#[derive(Clone, Copy)]
struct Pair {
    lo: usize,
    hi: usize,
    valid: __mmask16,
}

impl Pair {
    /// The `u`-th 16-lane vector of tile `t`.
    #[inline(always)]
    fn of(t: &Tile<'_>, u: usize) -> Pair {
        let lo = 2 * u;
        let full = lo + 1 < t.nv;
        Pair {
            lo,
            hi: if full { lo + 1 } else { lo },
            valid: if full { 0xFFFF } else { 0x00FF },
        }
    }

    /// True when both halves are pixels of the tile.
    #[inline(always)]
    fn full(self) -> bool {
        self.hi != self.lo
    }

    /// Offset of the first pixel.
    #[inline(always)]
    fn o(self) -> usize {
        self.lo * LANES
    }
}

/// The 16 per-pixel values of `a` (laid out as the tile's pixels) for vector `g`.
#[inline(always)]
unsafe fn ld(a: &[f32], g: Pair) -> __m512 {
    // SAFETY: callers compile with AVX-512 F + DQ; `(g.hi + 1) · LANES ≤ a.len()` (the tile's
    // per-pixel arrays hold `nv · LANES` entries and `g.hi < nv`).
    unsafe {
        let p = a.as_ptr().add(g.o());
        if g.full() {
            _mm512_loadu_ps(p)
        } else {
            _mm512_broadcast_f32x8(_mm256_loadu_ps(p))
        }
    }
}

/// The 16 transmit-table entries of vector `g` starting at `e` (its lower half) and `e + d1`
/// (its upper half; `d1 = (g.hi − g.lo) · nk · LANES`).
#[inline(always)]
unsafe fn ld_table(a: *const f32, e: usize, d1: usize) -> __m512 {
    // SAFETY: callers compile with AVX-512 F + DQ and keep `e + d1 + LANES` within the table.
    unsafe {
        _mm512_insertf32x8::<1>(
            _mm512_castps256_ps512(_mm256_loadu_ps(a.add(e))),
            _mm256_loadu_ps(a.add(e + d1)),
        )
    }
}

/// `cos(π·u/2)` of 16 lanes from `s = u²`, same operations as the scalar `cos_half_pi_sq`.
#[inline(always)]
unsafe fn cos_half_pi_sq(s: __m512) -> __m512 {
    // SAFETY: only called from functions compiled with AVX-512 F.
    unsafe {
        let mut c = _mm512_set1_ps(COS_HALF_PI_POLY[0]);
        for &k in &COS_HALF_PI_POLY[1..] {
            c = _mm512_add_ps(_mm512_mul_ps(c, s), _mm512_set1_ps(k));
        }
        c
    }
}

/// Window weight of 16 pixels (lanes outside the aperture may hold garbage; the caller masks them).
#[inline(always)]
unsafe fn window(p: &KernelParams, u2: __m512) -> __m512 {
    // SAFETY: only called from functions compiled with AVX-512 F.
    unsafe {
        match p.window {
            WindowCode::Rect => _mm512_set1_ps(1.0),
            WindowCode::Hann => {
                let c = cos_half_pi_sq(u2);
                _mm512_mul_ps(c, c)
            }
            WindowCode::Hamming => {
                let c = cos_half_pi_sq(u2);
                _mm512_add_ps(
                    _mm512_set1_ps(0.08),
                    _mm512_mul_ps(_mm512_set1_ps(0.92), _mm512_mul_ps(c, c)),
                )
            }
            WindowCode::Tukey => {
                let v = _mm512_mul_ps(
                    _mm512_sub_ps(_mm512_sqrt_ps(u2), _mm512_set1_ps(p.tukey_flat)),
                    _mm512_set1_ps(p.tukey_inv_alpha),
                );
                let v = _mm512_max_ps(v, _mm512_setzero_ps());
                let c = cos_half_pi_sq(_mm512_mul_ps(v, v));
                _mm512_mul_ps(c, c)
            }
        }
    }
}

/// Loop-invariant vectors of a tile.
struct Consts {
    one: __m512,
    cos_accept: __m512,
    shift: __m512,
    in_lo: __m512,
    in_hi: __m512,
    /// `in_lo − shift + 0.5`: minus a pixel's smallest transmit delay, a receive distance that keeps
    /// every tap inside (used for lanes that do not take part).
    safe: __m512,
    tps: __m512,
}

impl Consts {
    #[inline(always)]
    unsafe fn new(p: &KernelParams) -> Consts {
        let (shift, in_lo, in_hi, ..) = p.tap_bounds();
        // SAFETY: only called from functions compiled with AVX-512 F.
        unsafe {
            Consts {
                one: _mm512_set1_ps(1.0),
                cos_accept: _mm512_set1_ps(p.cos_accept),
                shift: _mm512_set1_ps(shift),
                in_lo: _mm512_set1_ps(in_lo),
                in_hi: _mm512_set1_ps(in_hi),
                safe: _mm512_set1_ps(in_lo - shift + 0.5),
                tps: _mm512_set1_ps(p.turns_per_sample),
            }
        }
    }
}

/// Receive geometry of vector `g` for channel `c` (see the scalar kernel's `receive`):
/// `(weight, r, taking-part mask)`, `None` if no lane takes part.
#[inline(always)]
unsafe fn receive<const PLANAR: bool>(
    p: &KernelParams,
    k: &Consts,
    t: &Tile<'_>,
    c: usize,
    g: Pair,
) -> Option<(__m512, __m512, __mmask16)> {
    // SAFETY: only called from functions compiled with AVX-512 F + DQ; `c < t.ch.len()` and
    // `g.hi < t.nv` (callers' loops).
    unsafe {
        let ch = t.ch;
        let px = ld(t.px, g);
        let pz = ld(t.pz, g);
        let ih2 = ld(t.ih2, g);
        let dx = _mm512_sub_ps(px, _mm512_set1_ps(*ch.x.get_unchecked(c)));
        let dz = _mm512_sub_ps(pz, _mm512_set1_ps(*ch.z.get_unchecked(c)));
        let (lat2, dy) = if PLANAR {
            (_mm512_mul_ps(dx, dx), _mm512_setzero_ps())
        } else {
            let py = ld(t.py, g);
            let dy = _mm512_sub_ps(py, _mm512_set1_ps(*ch.y.get_unchecked(c)));
            (_mm512_add_ps(_mm512_mul_ps(dx, dx), _mm512_mul_ps(dy, dy)), dy)
        };
        let u2 = _mm512_mul_ps(lat2, ih2);
        let inside = _mm512_mask_cmp_ps_mask::<_CMP_LE_OQ>(g.valid, u2, k.one);
        if inside == 0 {
            return None;
        }
        let r = _mm512_sqrt_ps(_mm512_add_ps(lat2, _mm512_mul_ps(dz, dz)));
        let dot = if PLANAR {
            dz
        } else {
            _mm512_add_ps(
                _mm512_add_ps(
                    _mm512_mul_ps(_mm512_set1_ps(*ch.nx.get_unchecked(c)), dx),
                    _mm512_mul_ps(_mm512_set1_ps(*ch.ny.get_unchecked(c)), dy),
                ),
                _mm512_mul_ps(_mm512_set1_ps(*ch.nz.get_unchecked(c)), dz),
            )
        };
        let accepted = _mm512_mask_cmp_ps_mask::<_CMP_GE_OQ>(inside, dot, _mm512_mul_ps(k.cos_accept, r));
        let w = _mm512_maskz_mov_ps(accepted, window(p, u2));
        let active = _mm512_mask_cmp_ps_mask::<_CMP_NEQ_OQ>(accepted, w, _mm512_setzero_ps());
        if active == 0 {
            return None;
        }
        Some((w, r, active))
    }
}

/// Lanes whose taps at receive distance `r` lie inside the record for every transmit delay in
/// `[lo, hi]`.
#[inline(always)]
unsafe fn taps_inside(k: &Consts, r: __m512, lo: __m512, hi: __m512) -> __mmask16 {
    // SAFETY: only called from functions compiled with AVX-512 F.
    unsafe {
        let ylo = _mm512_add_ps(_mm512_add_ps(r, lo), k.shift);
        let yhi = _mm512_add_ps(_mm512_add_ps(r, hi), k.shift);
        let ge = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(ylo, k.in_lo);
        _mm512_mask_cmp_ps_mask::<_CMP_LT_OQ>(ge, yhi, k.in_hi)
    }
}

/// The receive distance the fast path uses (lanes that do not take part moved to a safe index), or
/// `None` when some tap of some transmit may lie outside the record.
#[inline(always)]
unsafe fn fast_r(k: &Consts, t: &Tile<'_>, g: Pair, r: __m512, active: __mmask16) -> Option<__m512> {
    // SAFETY: AVX-512 arithmetic; `g.hi < t.nv` and `t.hints.lo`, `t.hints.hi` hold `nv · LANES` entries.
    unsafe {
        let lo = ld(t.hints.lo, g);
        let hi = ld(t.hints.hi, g);
        // As in the AVX2 kernel: lanes whose own distance keeps every tap inside keep it; the
        // others, if they do not take part, move to a safe distance; a taking-part lane outside
        // sends the vector to the slow path.
        let ok = taps_inside(k, r, lo, hi);
        if ok == 0xFFFF {
            return Some(r);
        }
        if active & !ok != 0 {
            return None;
        }
        let rr = _mm512_mask_blend_ps(ok, _mm512_sub_ps(k.safe, lo), r);
        (taps_inside(k, rr, lo, hi) == 0xFFFF).then_some(rr)
    }
}

/// Sample position at receive distance `r` and transmit delays `tx`: `(y, floor(y), floor(y) as
/// i32)`.
#[inline(always)]
unsafe fn position<const INTERP: u8>(k: &Consts, r: __m512, tx: __m512) -> (__m512, __m512, __m512i) {
    // SAFETY: callers compile with AVX-512 F.
    unsafe {
        let y = _mm512_add_ps(r, tx);
        // The shift is 0 except for nearest (adding 0 only changes the sign of a zero).
        let y = if INTERP == INTERP_NEAREST {
            _mm512_add_ps(y, k.shift)
        } else {
            y
        };
        let q = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(y);
        (y, q, _mm512_cvttps_epi32(q))
    }
}

/// The 16 lanes of `i`, stored for [`half_lanes`].
#[inline(always)]
unsafe fn store_lanes(i: __m512i) -> [i32; W] {
    let mut a = [0i32; W];
    // SAFETY: an unaligned store into a local array of 16 i32; compiled with AVX-512 F.
    unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), i) };
    a
}

/// Lanes `8h .. 8h + 8` of a stored index vector, read as four 64-bit loads (volatile, so that
/// LLVM neither merges them into lane extracts nor reads all 16 at once and spills them; half a
/// vector at a time keeps the indices in registers).
#[inline(always)]
unsafe fn half_lanes(a: &[i32; W], h: usize) -> [isize; LANES] {
    // SAFETY: reads of `a[8h .. 8h + 8]` (`h < 2`) as four unaligned 64-bit values.
    unsafe {
        let p = a.as_ptr().add(LANES * h).cast::<i64>();
        let q: [i64; 4] = std::array::from_fn(|j| std::ptr::read_volatile(p.add(j)));
        std::array::from_fn(|j| (q[j / 2] >> (32 * (j % 2))) as i32 as isize)
    }
}

/// Joins two 8-lane halves.
#[inline(always)]
unsafe fn join(lo: __m256, hi: __m256) -> __m512 {
    // SAFETY: compiled with AVX-512 F + DQ.
    unsafe { _mm512_insertf32x8::<1>(_mm512_castps256_ps512(lo), hi) }
}

/// `base[i]` of each lane.
#[inline(always)]
unsafe fn load1(base: *const f32, i: __m512i) -> __m512 {
    // SAFETY: the caller guarantees `base + i` in bounds for every lane; compiled with AVX-512.
    unsafe {
        let a = store_lanes(i);
        let h = |h: usize| half_lanes(&a, h).map(|o| *base.offset(o));
        let (lo, hi) = (h(0), h(1));
        join(_mm256_loadu_ps(lo.as_ptr()), _mm256_loadu_ps(hi.as_ptr()))
    }
}

/// `(p[0], p[1], 0, 0)`: one 64-bit load.
#[inline(always)]
unsafe fn load_pair(p: *const f32) -> __m128 {
    // SAFETY: the caller guarantees `p[0..2]` readable (unaligned); SSE2 is baseline on x86-64.
    unsafe { _mm_castpd_ps(_mm_load_sd(p.cast())) }
}

/// `(base[i], base[i + 1])` of lanes `8h .. 8h + 8` of `a`: one 64-bit load per lane (straight
/// into vector registers) and a de-interleave.
#[inline(always)]
unsafe fn load2_half(base: *const f32, a: &[i32; W], h: usize) -> (__m256, __m256) {
    // SAFETY: the caller guarantees `base + i`, `base + i + 1` in bounds for every lane; compiled
    // with AVX2.
    unsafe {
        let a = half_lanes(a, h);
        let q = |j: usize| base.offset(a[j]);
        // Pairs of lanes [0, 1 | 4, 5] and [2, 3 | 6, 7].
        let x = _mm256_set_m128(
            _mm_movelh_ps(load_pair(q(4)), load_pair(q(5))),
            _mm_movelh_ps(load_pair(q(0)), load_pair(q(1))),
        );
        let y = _mm256_set_m128(
            _mm_movelh_ps(load_pair(q(6)), load_pair(q(7))),
            _mm_movelh_ps(load_pair(q(2)), load_pair(q(3))),
        );
        (
            _mm256_shuffle_ps::<0b10_00_10_00>(x, y),
            _mm256_shuffle_ps::<0b11_01_11_01>(x, y),
        )
    }
}

/// `(base[i], base[i + 1])` of each lane.
#[inline(always)]
unsafe fn load2(base: *const f32, i: __m512i) -> (__m512, __m512) {
    // SAFETY: forwarded; compiled with AVX-512 F + DQ.
    unsafe {
        let a = store_lanes(i);
        let (s0, s1) = load2_half(base, &a, 0);
        let (t0, t1) = load2_half(base, &a, 1);
        (join(s0, t0), join(s1, t1))
    }
}

/// `base[i + j]` for `j = 0..4` of lanes `8h .. 8h + 8` of `a`: one 128-bit load per lane and a
/// 4 × 4 transpose.
#[inline(always)]
unsafe fn load4_half(base: *const f32, a: &[i32; W], h: usize) -> [__m256; 4] {
    // SAFETY: the caller guarantees `base + i ..= base + i + 3` in bounds for every lane; compiled
    // with AVX2.
    unsafe {
        let a = half_lanes(a, h);
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

/// `base[i + j]` for `j = 0..4` of each lane.
#[inline(always)]
unsafe fn load4(base: *const f32, i: __m512i) -> [__m512; 4] {
    // SAFETY: forwarded; compiled with AVX-512 F + DQ.
    unsafe {
        let a = store_lanes(i);
        let [l0, l1, l2, l3] = load4_half(base, &a, 0);
        let [h0, h1, h2, h3] = load4_half(base, &a, 1);
        [join(l0, h0), join(l1, h1), join(l2, h2), join(l3, h3)]
    }
}

/// `(w[off], w[off + 1])` of each lane, `off` in `0..32`: two 32-sample windows (at `w` and
/// `w + 1`) picked with one two-source permute each.
#[inline(always)]
unsafe fn window_taps(w: *const f32, off: __m512i) -> (__m512, __m512) {
    // SAFETY: the caller guarantees `w[0 .. WINDOW]` readable; compiled with AVX-512 F.
    unsafe {
        (
            _mm512_permutex2var_ps(_mm512_loadu_ps(w), off, _mm512_loadu_ps(w.add(W))),
            _mm512_permutex2var_ps(_mm512_loadu_ps(w.add(1)), off, _mm512_loadu_ps(w.add(W + 1))),
        )
    }
}

/// `(base[i], base[i + 1])` of each lane when all lanes lie within 31 samples after lane 0's index
/// `b ≤ last`: [`window_taps`] instead of 16 separate loads. `None` otherwise.
#[inline(always)]
unsafe fn window2(base: *const f32, i: __m512i, last: isize) -> Option<(__m512, __m512)> {
    // SAFETY: the loads read `base[b .. b + WINDOW]`, inside the trace because every lane (hence
    // `b`) is ≥ 0 (the caller's range check) and `b ≤ last = n − WINDOW`.
    unsafe {
        let b = _mm512_cvtsi512_si32(i);
        let off = _mm512_sub_epi32(i, _mm512_set1_epi32(b));
        let in_window = _mm512_cmple_epu32_mask(off, _mm512_set1_epi32(2 * W as i32 - 1));
        if in_window != 0xFFFF || b as isize > last {
            return None;
        }
        Some(window_taps(base.offset(b as isize), off))
    }
}

/// The linearly interpolated sample of a vector that [`window_proof`] admitted, at receive distance
/// `r` and transmit delays `tx`, from trace `tr` (`ns` samples); also warms the next channel's
/// window.
#[inline(always)]
unsafe fn window_step(k: &Consts, tr: *const f32, ns: usize, r: __m512, tx: __m512) -> __m512 {
    // SAFETY: compiled with AVX-512 F + FMA; `window_proof` keeps `tr[b .. b + WINDOW]` inside the
    // trace and every lane's offset in `0..32`.
    unsafe {
        let (y, q, i) = position::<INTERP_LINEAR>(k, r, tx);
        let b = _mm512_cvtsi512_si32(i);
        // As the AVX2 kernel: warm the next channel's window (one trace later, nearly the same
        // samples).
        _mm_prefetch::<_MM_HINT_T0>(tr.wrapping_add(ns).wrapping_offset(b as isize).cast());
        let (s0, s1) = window_taps(tr.offset(b as isize), _mm512_sub_epi32(i, _mm512_set1_epi32(b)));
        _mm512_fmadd_ps(_mm512_sub_ps(y, q), _mm512_sub_ps(s1, s0), s0)
    }
}

/// True if, for every transmit of the chunk, the first taps of vector `g` at fast-path receive
/// distance `r` lie 0 to 31 samples after lane 0's, and lane 0's window of [`WINDOW`] samples
/// inside the trace (`end = n_samples − WINDOW + 0.5`): the vector can then read [`window_taps`]
/// without per-step checks. With `y_l = r_l + tx_l`, it asks `0.01 ≤ y_l − y_0 ≤ 30.9` for lanes
/// `l ≥ 1` (so that the floors, after the rounding of the sums, differ by 0 to 31) from the
/// extreme transmit-delay differences `dlo`, `dhi` of each lane from lane 0 ([`delay_spreads`]),
/// and `r_0 + max tx_0 < end`.
#[inline(always)]
unsafe fn window_proof(t: &Tile<'_>, g: Pair, r: __m512, dlo: __m512, dhi: __m512, end: f32) -> bool {
    // SAFETY: AVX-512 arithmetic; `g.lo < t.nv` and `t.hints.hi` holds `nv · LANES` entries.
    unsafe {
        let r0 = _mm512_cvtss_f32(r);
        let dr = _mm512_sub_ps(r, _mm512_set1_ps(r0));
        let lo = _mm512_add_ps(dr, dlo);
        let hi = _mm512_add_ps(dr, dhi);
        let mut floor = [0.01f32; W];
        floor[0] = -1.0;
        let ge = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(lo, _mm512_loadu_ps(floor.as_ptr()));
        let ok = _mm512_mask_cmp_ps_mask::<_CMP_LE_OQ>(ge, hi, _mm512_set1_ps(30.9));
        ok == 0xFFFF && r0 + *t.hints.hi.get_unchecked(g.o()) < end
    }
}

/// For every 16-lane vector of the tile, the smallest and largest difference over the chunk's
/// transmits between each lane's transmit delay and lane 0's (the tile's own `dlo`, `dhi` are
/// relative to each 8-lane vector's lane 0).
#[inline(always)]
unsafe fn delay_spreads(t: &Tile<'_>, dlo: &mut [__m512], dhi: &mut [__m512]) {
    let nk = t.nk;
    // SAFETY: compiled with AVX-512 F + DQ; the table reads stay within `t.tx` (`nv · nk · LANES`
    // entries, `g.hi < nv`); `u < nv.div_ceil(2) ≤ MAX_NU ≤ dlo.len() = dhi.len()`.
    unsafe {
        for u in 0..t.nv.div_ceil(2) {
            let g = Pair::of(t, u);
            let d1 = (g.hi - g.lo) * nk * LANES;
            let mut lo = _mm512_set1_ps(f32::INFINITY);
            let mut hi = _mm512_set1_ps(f32::NEG_INFINITY);
            for j in 0..nk {
                let x = ld_table(t.tx.as_ptr(), (g.lo * nk + j) * LANES, d1);
                let d = _mm512_sub_ps(x, _mm512_set1_ps(_mm512_cvtss_f32(x)));
                lo = _mm512_min_ps(lo, d);
                hi = _mm512_max_ps(hi, d);
            }
            *dlo.get_unchecked_mut(u) = lo;
            *dhi.get_unchecked_mut(u) = hi;
        }
    }
}

/// Catmull-Rom weights, same operations as the scalar kernel's `cubic_weights`.
#[inline(always)]
unsafe fn cubic_weights(f: __m512) -> [__m512; 4] {
    // SAFETY: only called from functions compiled with AVX-512 F.
    unsafe {
        let h = _mm512_set1_ps(0.5);
        let f2 = _mm512_mul_ps(f, f);
        let f3 = _mm512_mul_ps(f2, f);
        let c = _mm512_set1_ps;
        [
            _mm512_mul_ps(h, _mm512_sub_ps(_mm512_sub_ps(_mm512_mul_ps(c(2.0), f2), f3), f)),
            _mm512_mul_ps(
                h,
                _mm512_add_ps(
                    _mm512_sub_ps(_mm512_mul_ps(c(3.0), f3), _mm512_mul_ps(c(5.0), f2)),
                    c(2.0),
                ),
            ),
            _mm512_mul_ps(
                h,
                _mm512_add_ps(_mm512_sub_ps(_mm512_mul_ps(c(4.0), f2), _mm512_mul_ps(c(3.0), f3)), f),
            ),
            _mm512_mul_ps(h, _mm512_sub_ps(f3, f2)),
        ]
    }
}

/// `w[0]·a + w[1]·b + w[2]·c + w[3]·d`.
#[inline(always)]
unsafe fn mix4(w: &[__m512; 4], a: __m512, b: __m512, c: __m512, d: __m512) -> __m512 {
    // SAFETY: only called from functions compiled with AVX-512 F (FMA included).
    unsafe {
        _mm512_fmadd_ps(
            w[3],
            d,
            _mm512_fmadd_ps(w[2], c, _mm512_fmadd_ps(w[1], b, _mm512_mul_ps(w[0], a))),
        )
    }
}

/// Adds the weighted channel result `br` (and `bi` for IQ) of vector `g` to the sums (and, with a
/// coherence factor, its energy and the count of the taking-part lanes `active`). Stores only the
/// vector's own pixels.
#[inline(always)]
unsafe fn accumulate<const CF: bool>(
    k: &Consts,
    s: &mut Sums<'_>,
    g: Pair,
    br: __m512,
    bi: Option<__m512>,
    active: __mmask16,
) {
    // Adds `x` to the 16 (or, for an odd last vector, 8) sums at `p`.
    #[inline(always)]
    unsafe fn add(p: *mut f32, g: Pair, x: __m512) {
        // SAFETY: `p + 16` (full) or `p + 8` (masked to the lower half) lies within the sums;
        // masked-out lanes are neither read nor written.
        unsafe {
            if g.full() {
                _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), x));
            } else {
                _mm512_mask_storeu_ps(p, g.valid, _mm512_add_ps(_mm512_maskz_loadu_ps(g.valid, p), x));
            }
        }
    }
    // SAFETY: `(g.hi + 1) · LANES` ≤ the sums' lengths (callers' loops); compiled with AVX-512 F.
    unsafe {
        let o = g.o();
        add(s.re.as_mut_ptr().add(o), g, br);
        let mut e = _mm512_mul_ps(br, br);
        if let Some(bi) = bi {
            add(s.im.as_mut_ptr().add(o), g, bi);
            e = _mm512_add_ps(e, _mm512_mul_ps(bi, bi));
        }
        if CF {
            add(s.inc.as_mut_ptr().add(o), g, e);
            add(s.cnt.as_mut_ptr().add(o), g, _mm512_maskz_mov_ps(active, k.one));
        }
    }
}

/// The slow path of vector `g` (receive distances `r`, taking-part mask `active`): `lane(pixel,
/// r)` (the scalar per-lane code, `(re, im)`) for each taking-part lane, zero for the others.
#[inline(always)]
unsafe fn slow_lanes(
    g: Pair,
    r: __m512,
    active: __mmask16,
    mut lane: impl FnMut(usize, f32) -> (f32, f32),
) -> (__m512, __m512) {
    let mut rs = [0.0f32; W];
    // SAFETY: AVX-512 stores/loads of local arrays (callers compile with AVX-512 F).
    unsafe {
        _mm512_storeu_ps(rs.as_mut_ptr(), r);
        let (mut a, mut b) = ([0.0f32; W], [0.0f32; W]);
        for l in 0..W {
            // `active` is within `g.valid`, so lane `l` is pixel `o + l` of the tile.
            if active & (1 << l) != 0 {
                (a[l], b[l]) = lane(g.o() + l, rs[l]);
            }
        }
        (_mm512_loadu_ps(a.as_ptr()), _mm512_loadu_ps(b.as_ptr()))
    }
}

/// RF kernel entry point.
///
/// # Safety
/// The CPU must support AVX-512 F, DQ and VL and FMA. The tile's slices must have the lengths the
/// beamformer's tile pass gives them and `data` must hold the chunk's `nk` transmits.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
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

/// The interpolated RF sample of one fast-path step: transmit delays `tx`, receive distance `r`,
/// trace `tr` (`ns` samples).
#[inline(always)]
unsafe fn fast_value<const INTERP: u8>(k: &Consts, tr: *const f32, ns: usize, r: __m512, tx: __m512) -> __m512 {
    // SAFETY: the caller's `fast_r` proved every tap inside the trace; compiled with AVX-512 F + DQ.
    unsafe {
        let (y, q, i) = position::<INTERP>(k, r, tx);
        if INTERP == LINEAR_WINDOWED {
            // Warm the next channel's window, as the AVX2 kernel (windowed path only).
            let next = tr.wrapping_add(ns).wrapping_offset(_mm512_cvtsi512_si32(i) as isize);
            _mm_prefetch::<_MM_HINT_T0>(next.cast());
        }
        match INTERP {
            INTERP_NEAREST => load1(tr, i),
            INTERP_LINEAR => {
                let (s0, s1) = load2(tr, i);
                _mm512_fmadd_ps(_mm512_sub_ps(y, q), _mm512_sub_ps(s1, s0), s0)
            }
            LINEAR_WINDOWED => {
                let (s0, s1) = match window2(tr, i, ns as isize - WINDOW as isize) {
                    Some(pair) => pair,
                    None => load2(tr, i),
                };
                _mm512_fmadd_ps(_mm512_sub_ps(y, q), _mm512_sub_ps(s1, s0), s0)
            }
            _ => {
                let [a, b, c2, d] = load4(tr.sub(1), i);
                mix4(&cubic_weights(_mm512_sub_ps(y, q)), a, b, c2, d)
            }
        }
    }
}

/// RF with a single transmit in the tile: geometry, tap and accumulation in one pass per vector,
/// with no per-channel state arrays or lists (the AVX2 kernel's `rf_single`).
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
    // `c · ns` and the transmit table has the pixels' layout; `fast_r` proves a vector's taps
    // inside the trace before the fast path reads them.
    unsafe {
        let tw = _mm512_set1_ps(*t.tw.get_unchecked(0));
        let (shift, in_lo, in_hi, ..) = p.tap_bounds();
        for c in 0..t.ch.len() {
            let tr = data.as_ptr().add(c * ns);
            let inside = t.taps_inside(c, shift, in_lo, in_hi);
            for u in 0..t.nv.div_ceil(2) {
                let g = Pair::of(t, u);
                let Some((w, r, active)) = receive::<PLANAR>(p, k, t, c, g) else {
                    continue;
                };
                let a = match if inside { Some(r) } else { fast_r(k, t, g, r, active) } {
                    Some(rr) => _mm512_mul_ps(tw, fast_value::<INTERP>(k, tr, ns, rr, ld(t.tx, g))),
                    None => slow_lanes(g, r, active, |o, r| (rf_lane(p, t, data, c, o, r), 0.0)).0,
                };
                accumulate::<CF>(k, s, g, _mm512_mul_ps(w, a), None, active);
            }
        }
    }
}

/// The RF tile loop: per channel, prepare the vectors' receive geometry, then run the proven-window
/// vectors (up to four transmits per pass), the fast vectors and the checked ones. One function
/// for the reasons of the AVX2 kernel's `rf_impl`.
#[inline(always)]
unsafe fn rf_impl<const CF: bool, const PLANAR: bool, const INTERP: u8>(
    p: &KernelParams,
    t: &Tile<'_>,
    data: &[f32],
    s: &mut Sums<'_>,
    sc: &mut Scratch,
) {
    let ns = p.n_samples;
    let nk = t.nk;
    let per_tx = t.ch.len() * ns;
    debug_assert!(data.len() >= nk * per_tx && t.tx.len() >= t.nv * nk * LANES);
    // SAFETY (whole body): compiled with AVX-512 F + DQ + VL and FMA (inlined into `rf_tile`).
    // Fast-path loads stay inside the chunk's traces because `fast_r` proved every tap index in
    // `[0, ns)`; table loads are within `t.tx` (length `nv · nk · LANES`, `g.hi < nv`).
    unsafe {
        let k = Consts::new(p);
        if nk == 1 {
            return rf_single::<CF, PLANAR, INTERP>(p, &k, t, data, s);
        }
        let Scratch { st, acc, dlo, dhi, .. } = sc;
        let windowed = INTERP == LINEAR_WINDOWED && !t.hints.dlo.is_empty();
        if windowed {
            delay_spreads(t, dlo, dhi);
        }
        let tx = t.tx.as_ptr();
        for c in 0..t.ch.len() {
            let spreads = windowed.then_some((&dlo[..], &dhi[..]));
            if !st.prepare::<PLANAR>(p, &k, t, c, spreads) {
                continue;
            }
            let base = data.as_ptr().add(c * ns);
            for &u in st.fast[..st.n_fast].iter().chain(&st.win[..st.n_win]) {
                *acc.get_unchecked_mut(u as usize) = _mm512_setzero_ps();
            }
            // Vectors proven to stay in one window: no per-step checks, and up to four transmits
            // per pass over the vectors, sharing each vector's bookkeeping.
            let mut j = 0;
            while j < nk {
                let n = if j + 4 <= nk {
                    4
                } else if j + 2 <= nk {
                    2
                } else {
                    1
                };
                let trs = [0, 1, 2, 3].map(|m| base.add((j + m.min(n - 1)) * per_tx));
                // (No closure around the intrinsic: closures lose the target features.)
                let tw_at = |m: usize| *t.tw.get_unchecked(j + m.min(n - 1));
                let tws = [
                    _mm512_set1_ps(tw_at(0)),
                    _mm512_set1_ps(tw_at(1)),
                    _mm512_set1_ps(tw_at(2)),
                    _mm512_set1_ps(tw_at(3)),
                ];
                for &u in &st.win[..st.n_win] {
                    let u = u as usize;
                    let g = Pair::of(t, u);
                    let (e, d1) = ((g.lo * nk + j) * LANES, (g.hi - g.lo) * nk * LANES);
                    let r = *st.r.get_unchecked(u);
                    let mut a = *acc.get_unchecked(u);
                    a = _mm512_fmadd_ps(tws[0], window_step(&k, trs[0], ns, r, ld_table(tx, e, d1)), a);
                    if n >= 2 {
                        let x = ld_table(tx, e + LANES, d1);
                        a = _mm512_fmadd_ps(tws[1], window_step(&k, trs[1], ns, r, x), a);
                    }
                    if n == 4 {
                        let x = ld_table(tx, e + 2 * LANES, d1);
                        a = _mm512_fmadd_ps(tws[2], window_step(&k, trs[2], ns, r, x), a);
                        let x = ld_table(tx, e + 3 * LANES, d1);
                        a = _mm512_fmadd_ps(tws[3], window_step(&k, trs[3], ns, r, x), a);
                    }
                    *acc.get_unchecked_mut(u) = a;
                }
                j += n;
            }
            // The other fast vectors: transmits outside, vectors inside, so that each transmit's
            // trace window is read once for the whole tile.
            for j in 0..nk {
                let tr = base.add(j * per_tx);
                let tw = _mm512_set1_ps(*t.tw.get_unchecked(j));
                for &u in &st.fast[..st.n_fast] {
                    let u = u as usize;
                    let g = Pair::of(t, u);
                    let x = ld_table(tx, (g.lo * nk + j) * LANES, (g.hi - g.lo) * nk * LANES);
                    let val = fast_value::<INTERP>(&k, tr, ns, *st.r.get_unchecked(u), x);
                    let a = acc.get_unchecked_mut(u);
                    *a = _mm512_fmadd_ps(tw, val, *a);
                }
            }
            for &u in &st.slow[..st.n_slow] {
                let u = u as usize;
                let g = Pair::of(t, u);
                let (a, _) = slow_lanes(g, st.r[u], st.active[u], |o, r| (rf_lane(p, t, data, c, o, r), 0.0));
                acc[u] = a;
            }
            for &u in st.fast[..st.n_fast]
                .iter()
                .chain(&st.win[..st.n_win])
                .chain(&st.slow[..st.n_slow])
            {
                let u = u as usize;
                let g = Pair::of(t, u);
                accumulate::<CF>(&k, s, g, _mm512_mul_ps(st.w[u], acc[u]), None, st.active[u]);
            }
        }
    }
}

/// Receive geometry of every vector of a tile for one channel: weights, receive distances (the
/// fast-path distances for vectors on the fast path), taking-part masks, and the lists of vectors
/// on the fast, proven-window and slow paths, in vector order.
#[repr(C)]
struct ChannelState {
    w: [__m512; MAX_NU + VSPREAD],
    r: [__m512; MAX_NU + VSPREAD],
    /// The pixels' receive distances (IQ phasors), where `r` holds fast-path distances.
    r_true: [__m512; MAX_NU + VSPREAD],
    active: [__mmask16; MAX_NU],
    /// Whether each vector is on the fast path.
    on_fast: [bool; MAX_NU],
    fast: [u8; MAX_NU],
    n_fast: usize,
    /// Fast vectors whose taps [`window_proof`] keeps in one window for every transmit.
    win: [u8; MAX_NU],
    n_win: usize,
    slow: [u8; MAX_NU],
    n_slow: usize,
}

/// The AVX-512 kernel's working state of a tile (about 29 KiB): the per-channel vector state, the
/// per-vector transmit accumulators and the window proof's per-tile delay spreads. It lives in the
/// plan's pooled tile buffer rather than on the stack, so the kernel runs on threads with small
/// stacks. Nothing carries over between tiles or channels: `prepare` writes every entry it later
/// reads, the accumulators of the listed vectors are zeroed per channel and the spreads are
/// filled per tile before use. All-zero bytes are a valid value.
#[repr(C)]
pub(crate) struct Scratch {
    st: ChannelState,
    acc: [__m512; MAX_NU + VSPREAD],
    acc_i: [__m512; MAX_NU + VSPREAD],
    dlo: [__m512; MAX_NU + VSPREAD],
    dhi: [__m512; MAX_NU + VSPREAD],
}

impl ChannelState {
    /// Fills the state for channel `c`; false if no lane of the tile takes part. With `spreads`
    /// (the window proof's per-vector delay spreads), fast vectors that pass [`window_proof`] go
    /// to the `win` list.
    #[inline(always)]
    unsafe fn prepare<const PLANAR: bool>(
        &mut self,
        p: &KernelParams,
        k: &Consts,
        t: &Tile<'_>,
        c: usize,
        spreads: Option<(&[__m512], &[__m512])>,
    ) -> bool {
        self.n_fast = 0;
        self.n_win = 0;
        self.n_slow = 0;
        let end = (p.n_samples as f32) - WINDOW as f32 + 0.5;
        let (shift, in_lo, in_hi, ..) = p.tap_bounds();
        let inside = t.taps_inside(c, shift, in_lo, in_hi);
        let nu = t.nv.div_ceil(2);
        debug_assert!(nu <= MAX_NU);
        // SAFETY: callers compile with AVX-512 F + DQ and FMA; `u < nu ≤ MAX_NU`, and the spreads
        // hold `MAX_NU` vectors.
        unsafe {
            for u in 0..nu {
                let g = Pair::of(t, u);
                let Some((w, r, active)) = receive::<PLANAR>(p, k, t, c, g) else {
                    continue;
                };
                *self.w.get_unchecked_mut(u) = w;
                *self.active.get_unchecked_mut(u) = active;
                match if inside { Some(r) } else { fast_r(k, t, g, r, active) } {
                    Some(rr) => {
                        *self.r.get_unchecked_mut(u) = rr;
                        *self.r_true.get_unchecked_mut(u) = r;
                        *self.on_fast.get_unchecked_mut(u) = true;
                        let proven = spreads.is_some_and(|(dlo, dhi)| {
                            window_proof(t, g, rr, *dlo.get_unchecked(u), *dhi.get_unchecked(u), end)
                        });
                        if proven {
                            *self.win.get_unchecked_mut(self.n_win) = u as u8;
                            self.n_win += 1;
                        } else {
                            *self.fast.get_unchecked_mut(self.n_fast) = u as u8;
                            self.n_fast += 1;
                        }
                    }
                    None => {
                        *self.r.get_unchecked_mut(u) = r;
                        *self.on_fast.get_unchecked_mut(u) = false;
                        *self.slow.get_unchecked_mut(self.n_slow) = u as u8;
                        self.n_slow += 1;
                    }
                }
            }
        }
        self.n_fast + self.n_win + self.n_slow > 0
    }
}

/// `sin(2π x)` of 16 lanes in turns within [−0.5, 0.5], same operations as [`super::sin_turns`].
#[inline(always)]
unsafe fn sin_turns(x: __m512) -> __m512 {
    // SAFETY: only called from functions compiled with AVX-512 F + DQ.
    unsafe {
        let sign = _mm512_set1_ps(-0.0);
        let q = _mm512_set1_ps(0.25);
        let ax = _mm512_abs_ps(x);
        let r = _mm512_sub_ps(q, _mm512_abs_ps(_mm512_sub_ps(q, ax)));
        let r = _mm512_or_ps(r, _mm512_and_ps(sign, x));
        let y = _mm512_mul_ps(r, _mm512_set1_ps(std::f32::consts::TAU));
        let y2 = _mm512_mul_ps(y, y);
        let mut pv = _mm512_set1_ps(SIN_POLY[0]);
        for &c in &SIN_POLY[1..] {
            pv = _mm512_add_ps(_mm512_mul_ps(pv, y2), _mm512_set1_ps(c));
        }
        _mm512_mul_ps(pv, y)
    }
}

/// IQ kernel entry point.
///
/// # Safety
/// As [`rf_tile`].
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
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
/// over the transmits, then rotate by the receive phasor and accumulate.
#[inline(always)]
unsafe fn iq_impl<const CF: bool, const PLANAR: bool, const INTERP: u8>(
    p: &KernelParams,
    t: &Tile<'_>,
    data: &[Complex32],
    s: &mut Sums<'_>,
    sc: &mut Scratch,
) {
    let ns = p.n_samples;
    let nk = t.nk;
    let per_tx = t.ch.len() * ns;
    debug_assert!(data.len() >= nk * per_tx && t.tcos.len() >= t.nv * nk * LANES);
    // SAFETY (whole body): as in `rf_impl`; a `Complex32` is two `f32` (`repr(C)`), so complex
    // sample `q` of a trace is the float pair at `2q`; `t.tcos`, `t.tsin` have `t.tx`'s layout.
    unsafe {
        let k = Consts::new(p);
        let Scratch {
            st, acc: acc_r, acc_i, ..
        } = sc;
        let (tx, tc, ts) = (t.tx.as_ptr(), t.tcos.as_ptr(), t.tsin.as_ptr());
        for c in 0..t.ch.len() {
            if !st.prepare::<PLANAR>(p, &k, t, c, None) {
                continue;
            }
            let base = (data.as_ptr() as *const f32).add(2 * c * ns);
            for &u in &st.fast[..st.n_fast] {
                *acc_r.get_unchecked_mut(u as usize) = _mm512_setzero_ps();
                *acc_i.get_unchecked_mut(u as usize) = _mm512_setzero_ps();
            }
            for j in 0..nk {
                let tr = base.add(2 * j * per_tx);
                for &u in &st.fast[..st.n_fast] {
                    let u = u as usize;
                    let g = Pair::of(t, u);
                    let (e, d1) = ((g.lo * nk + j) * LANES, (g.hi - g.lo) * nk * LANES);
                    let (y, q, i) = position::<INTERP>(&k, *st.r.get_unchecked(u), ld_table(tx, e, d1));
                    let i2 = _mm512_add_epi32(i, i);
                    let (vr, vi) = match INTERP {
                        INTERP_NEAREST => load2(tr, i2),
                        INTERP_LINEAR => {
                            let [r0, i0, r1, i1] = load4(tr, i2);
                            let f = _mm512_sub_ps(y, q);
                            (
                                _mm512_fmadd_ps(_mm512_sub_ps(r1, r0), f, r0),
                                _mm512_fmadd_ps(_mm512_sub_ps(i1, i0), f, i0),
                            )
                        }
                        _ => {
                            let [rm, im, r0, i0] = load4(tr.sub(2), i2);
                            let [r1, i1, r2, i2v] = load4(tr.add(2), i2);
                            let cw = cubic_weights(_mm512_sub_ps(y, q));
                            (mix4(&cw, rm, r0, r1, r2), mix4(&cw, im, i0, i1, i2v))
                        }
                    };
                    let co = ld_table(tc, e, d1);
                    let si = ld_table(ts, e, d1);
                    let ar = acc_r.get_unchecked_mut(u);
                    *ar = _mm512_fnmadd_ps(vi, si, _mm512_fmadd_ps(vr, co, *ar));
                    let ai = acc_i.get_unchecked_mut(u);
                    *ai = _mm512_fmadd_ps(vi, co, _mm512_fmadd_ps(vr, si, *ai));
                }
            }
            for &u in &st.slow[..st.n_slow] {
                let u = u as usize;
                let g = Pair::of(t, u);
                (acc_r[u], acc_i[u]) = slow_lanes(g, st.r[u], st.active[u], |o, r| iq_lane(p, t, data, c, o, r));
            }
            for &u in st.fast[..st.n_fast].iter().chain(&st.slow[..st.n_slow]) {
                let u = u as usize;
                let g = Pair::of(t, u);
                // The receive distance of the pixel (not the fast-path one) sets the phasor; lanes
                // that do not take part have weight 0.
                let r = if st.on_fast[u] { st.r_true[u] } else { st.r[u] };
                let (ar, ai) = (acc_r[u], acc_i[u]);
                // Receive phasor exp(i·2π·r·f_demod/fs), as the scalar `phasor`.
                let x = _mm512_mul_ps(r, k.tps);
                let x = _mm512_sub_ps(
                    x,
                    _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(x),
                );
                let co = sin_turns(_mm512_sub_ps(_mm512_set1_ps(0.25), _mm512_abs_ps(x)));
                let si = sin_turns(x);
                let w = st.w[u];
                let br = _mm512_mul_ps(w, _mm512_sub_ps(_mm512_mul_ps(ar, co), _mm512_mul_ps(ai, si)));
                let bi = _mm512_mul_ps(w, _mm512_add_ps(_mm512_mul_ps(ar, si), _mm512_mul_ps(ai, co)));
                accumulate::<CF>(&k, s, g, br, Some(bi), st.active[u]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beamform::tile::ChannelArrays;
    use crate::beamform::tile::SimdHints;
    use rand::{Rng, SeedableRng};

    /// True when the host runs this kernel; otherwise prints a note (the tests then check nothing).
    fn host_has_avx512(test: &str) -> bool {
        let ok = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512dq")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("fma");
        if !ok {
            eprintln!("note: {test}: this CPU lacks AVX-512 F/DQ/VL; the AVX-512 kernel was not tested");
        }
        ok
    }

    fn to_array(v: __m512) -> [f32; W] {
        let mut a = [0.0f32; W];
        // SAFETY: an unaligned store of 16 floats into a local array (AVX-512 checked by callers).
        unsafe { _mm512_storeu_ps(a.as_mut_ptr(), v) };
        a
    }

    /// The lane loads and the window picks read, lane by lane, the samples their indices name.
    #[test]
    fn lane_loads_and_window_picks() {
        if !host_has_avx512("lane_loads_and_window_picks") {
            return;
        }
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
        unsafe fn check() {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
            let trace: Vec<f32> = (0..200).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            for _ in 0..500 {
                let idx: [i32; W] = std::array::from_fn(|_| rng.random_range(0..196));
                // SAFETY: every index + 3 < 200; AVX-512 enabled by the enclosing function.
                unsafe {
                    let i = _mm512_loadu_si512(idx.as_ptr().cast());
                    let base = trace.as_ptr();
                    let one = to_array(load1(base, i));
                    let (a, b) = load2(base, i);
                    let (a, b) = (to_array(a), to_array(b));
                    let four = load4(base, i).map(to_array);
                    for l in 0..W {
                        let q = idx[l] as usize;
                        assert_eq!(one[l], trace[q]);
                        assert_eq!((a[l], b[l]), (trace[q], trace[q + 1]), "lane {l}");
                        for (j, f) in four.iter().enumerate() {
                            assert_eq!(f[l], trace[q + j], "lane {l}, tap {j}");
                        }
                    }
                    // Offsets 0..32 after lane 0's index: picked from the window; anything else
                    // (beyond 31, before lane 0, or a window past `last`) is refused.
                    let b0 = rng.random_range(0..(200 - WINDOW) as i32);
                    let mut off: [i32; W] = std::array::from_fn(|_| rng.random_range(0..32));
                    off[0] = 0;
                    let with = |off: &[i32; W]| _mm512_loadu_si512(off.map(|o| b0 + o).as_ptr().cast());
                    let (s0, s1) = window2(base, with(&off), (200 - WINDOW) as isize).unwrap();
                    let (s0, s1) = (to_array(s0), to_array(s1));
                    for l in 0..W {
                        let q = (b0 + off[l]) as usize;
                        assert_eq!((s0[l], s1[l]), (trace[q], trace[q + 1]), "window lane {l}");
                    }
                    assert!(window2(base, with(&off), b0 as isize - 1).is_none());
                    let l = rng.random_range(1..W);
                    let mut far = off;
                    far[l] = 32;
                    assert!(window2(base, with(&far), 200).is_none());
                    if b0 > 0 {
                        far[l] = -1;
                        assert!(window2(base, with(&far), 200).is_none());
                    }
                }
            }
        }
        // SAFETY: the CPU has the features `check` enables.
        unsafe { check() }
    }

    /// The vector sine equals the scalar one bit for bit (same operations, same order).
    #[test]
    fn sine_matches_the_scalar_kernel() {
        if !host_has_avx512("sine_matches_the_scalar_kernel") {
            return;
        }
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
        unsafe fn check() {
            for i in 0..64 {
                let x: [f32; W] = std::array::from_fn(|l| -0.5 + (i * W + l) as f32 / (64 * W) as f32);
                // SAFETY: loads from a local array; AVX-512 enabled by the enclosing function.
                let s = to_array(unsafe { sin_turns(_mm512_loadu_ps(x.as_ptr())) });
                for l in 0..W {
                    assert_eq!(s[l].to_bits(), super::super::sin_turns(x[l]).to_bits(), "{}", x[l]);
                }
            }
        }
        // SAFETY: the CPU has the features `check` enables.
        unsafe { check() }
    }

    /// An odd last vector repeats its lower half, is valid in its lower half only, and its sums
    /// are written there only (the slices end after the lower half).
    #[test]
    fn odd_last_vector_stays_inside_its_slices() {
        if !host_has_avx512("odd_last_vector_stays_inside_its_slices") {
            return;
        }
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
        unsafe fn check() {
            let ch = ChannelArrays::default();
            let px: Vec<f32> = (0..3 * LANES).map(|i| i as f32).collect();
            let t = Tile {
                ch: &ch,
                px: &px,
                py: &px,
                pz: &px,
                ih2: &px,
                nv: 3,
                nk: 1,
                tx: &px,
                tcos: &[],
                tsin: &[],
                tw: &[1.0],
                hints: SimdHints {
                    lo: &px,
                    hi: &px,
                    dlo: &[],
                    dhi: &[],
                    planar: true,
                    bbox: [0.0; 6],
                    tx_range: (0.0, 0.0),
                },
            };
            let g = Pair::of(&t, 1);
            assert_eq!((g.lo, g.hi, g.valid, g.full()), (2, 2, 0x00FF, false));
            let full = Pair::of(&t, 0);
            assert_eq!((full.lo, full.hi, full.valid, full.full()), (0, 1, 0xFFFF, true));
            // SAFETY: reads and writes within the slices; AVX-512 enabled by the enclosing function.
            unsafe {
                let v = to_array(ld(&px, g));
                for (l, x) in v.iter().enumerate() {
                    assert_eq!(*x, (2 * LANES + l % LANES) as f32);
                }
                let k = Consts::new(&KernelParams {
                    n_samples: 10,
                    interp: INTERP_LINEAR,
                    window: WindowCode::Rect,
                    tukey_flat: 1.0,
                    tukey_inv_alpha: 1.0,
                    cos_accept: -2.0,
                    phase0_turns: 0.0,
                    turns_per_sample: 0.0,
                    windowed: false,
                });
                let mut bufs = [[0.0f32; 3 * LANES]; 4];
                let [re, im, inc, cnt] = &mut bufs;
                let mut s = Sums {
                    re: &mut re[..],
                    im: &mut im[..],
                    inc: &mut inc[..],
                    cnt: &mut cnt[..],
                };
                let x = _mm512_set1_ps(2.0);
                accumulate::<true>(&k, &mut s, g, x, Some(x), 0x00F0);
                accumulate::<true>(&k, &mut s, full, x, None, 0xFFFF);
                for o in 0..3 * LANES {
                    assert_eq!((re[o], im[o]), (2.0, if o >= 2 * LANES { 2.0 } else { 0.0 }), "{o}");
                    assert_eq!(inc[o], if o >= 2 * LANES { 8.0 } else { 4.0 });
                    let counted = o < 2 * LANES || (2 * LANES + 4..2 * LANES + 8).contains(&o);
                    assert_eq!(cnt[o], if counted { 1.0 } else { 0.0 }, "{o}");
                }
            }
        }
        // SAFETY: the CPU has the features `check` enables.
        unsafe { check() }
    }

    /// Whenever [`window_proof`] admits a vector, every transmit's taps lie 0 to 31 samples after
    /// lane 0's, inside the trace: random delays near the proof's limits, both answers occurring.
    #[test]
    fn window_proof_is_sound() {
        if !host_has_avx512("window_proof_is_sound") {
            return;
        }
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
        unsafe fn check() {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
            let ch = ChannelArrays::default();
            let (mut admitted, mut total) = (0, 0);
            let ns = 4000usize;
            let end = ns as f32 - WINDOW as f32 + 0.5;
            for _ in 0..3000 {
                let (nv, nk) = (rng.random_range(1..5usize), rng.random_range(1..6usize));
                // Depth steps up to beyond the window's limit (2.07 samples per depth fills 31
                // samples over 15 steps), jittered transmit delays, and a far end of the record.
                let step = rng.random_range(1.0f32..2.2);
                // (Lane 0's taps start inside the trace: the kernel's range check before the
                // proof.)
                let base = rng.random_range(60.0f32..4000.0);
                let jitter = rng.random_range(0.0f32..0.3);
                let r: Vec<f32> = (0..nv * LANES).map(|o| base + step * 0.5 * o as f32).collect();
                let mut tx = vec![0.0f32; nv * nk * LANES];
                let (mut lo, mut hi) = (vec![f32::INFINITY; nv * LANES], vec![f32::NEG_INFINITY; nv * LANES]);
                let t0: Vec<f32> = (0..nk).map(|_| rng.random_range(-50.0f32..50.0)).collect();
                for v in 0..nv {
                    for (j, t0) in t0.iter().enumerate() {
                        for l in 0..LANES {
                            let o = v * LANES + l;
                            let d = t0 + step * 0.5 * o as f32 + rng.random_range(-jitter..jitter);
                            tx[(v * nk + j) * LANES + l] = d;
                            lo[o] = lo[o].min(d);
                            hi[o] = hi[o].max(d);
                        }
                    }
                }
                let t = Tile {
                    ch: &ch,
                    px: &r,
                    py: &r,
                    pz: &r,
                    ih2: &r,
                    nv,
                    nk,
                    tx: &tx,
                    tcos: &[],
                    tsin: &[],
                    tw: &[],
                    hints: SimdHints {
                        lo: &lo,
                        hi: &hi,
                        dlo: &[],
                        dhi: &[],
                        planar: true,
                        bbox: [0.0; 6],
                        tx_range: (0.0, 0.0),
                    },
                };
                let mut dlo = [_mm512_setzero_ps(); MAX_NU];
                let mut dhi = [_mm512_setzero_ps(); MAX_NU];
                // SAFETY: the tile's slices have the lengths the kernel expects; AVX-512 enabled by
                // the enclosing function.
                unsafe {
                    delay_spreads(&t, &mut dlo, &mut dhi);
                    for u in 0..nv.div_ceil(2) {
                        let g = Pair::of(&t, u);
                        let rv = ld(&r, g);
                        total += 1;
                        if !window_proof(&t, g, rv, dlo[u], dhi[u], end) {
                            continue;
                        }
                        admitted += 1;
                        let ra = to_array(rv);
                        for j in 0..nk {
                            let e = (g.lo * nk + j) * LANES;
                            let x = to_array(ld_table(tx.as_ptr(), e, (g.hi - g.lo) * nk * LANES));
                            let q: [f32; W] = std::array::from_fn(|l| (ra[l] + x[l]).floor());
                            assert!(q[0] >= 0.0 && q[0] as usize + WINDOW <= ns);
                            for l in 0..W {
                                let off = q[l] - q[0];
                                assert!((0.0..32.0).contains(&off), "lane {l}: offset {off}");
                            }
                        }
                    }
                }
            }
            assert!(admitted > total / 10 && admitted < total, "{admitted} of {total}");
        }
        // SAFETY: the CPU has the features `check` enables.
        unsafe { check() }
    }
}
