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

mod taps;
use taps::*;

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
mod tests;
