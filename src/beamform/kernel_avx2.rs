//! AVX2 + FMA kernel: 8 consecutive depths of one line per vector.
//!
//! Per (8 pixels, channel): lateral distance and F-number mask first (channels outside the aperture
//! of all 8 pixels are skipped before the square root), then the receive distance (`vsqrtps`),
//! acceptance angle, window, fractional sample index, the taps and the accumulation. Linear
//! interpolation reads each lane's sample pair `(s[q], s[q+1])` with one 64-bit gather element
//! (two 4-element gathers per vector instead of two 8-element ones) and de-interleaves them with
//! shuffles. Lanes whose taps straddle an end of the record take the scalar per-point path, so
//! nothing is read out of bounds and the result equals the scalar kernel's. The geometry operations
//! are the scalar kernel's, in the same order and without fused multiply-adds, so both kernels make
//! the same aperture and acceptance decisions; only the accumulation uses FMA.

use super::kernel_scalar::{point, rotation, sample_iq, sample_rf};
use super::{
    BLOCK, Block, COS_HALF_PI_POLY, ChannelArrays, INTERP_CUBIC, INTERP_LINEAR, INTERP_NEAREST, KernelParams, SIN_POLY,
    WindowCode,
};
use num_complex::Complex32;
use std::arch::x86_64::*;

const LANES: usize = 8;

/// Window weight of 8 pixels (lanes outside the aperture may hold garbage; the caller masks them).
#[inline(always)]
unsafe fn window(p: &KernelParams, u2: __m256) -> __m256 {
    // SAFETY (whole function): only called from functions compiled with AVX2 + FMA.
    unsafe {
        let poly = |s: __m256| {
            let mut c = _mm256_set1_ps(COS_HALF_PI_POLY[0]);
            for &k in &COS_HALF_PI_POLY[1..] {
                c = _mm256_add_ps(_mm256_mul_ps(c, s), _mm256_set1_ps(k));
            }
            c
        };
        match p.window {
            WindowCode::Rect => _mm256_set1_ps(1.0),
            WindowCode::Hann => {
                let c = poly(u2);
                _mm256_mul_ps(c, c)
            }
            WindowCode::Hamming => {
                let c = poly(u2);
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
                let c = poly(_mm256_mul_ps(v, v));
                _mm256_mul_ps(c, c)
            }
        }
    }
}

/// Loop-invariant vectors of one block.
struct Consts {
    one: __m256,
    cos_accept: __m256,
    txw: __m256,
    shift: __m256,
    in_lo: __m256,
    in_hi: __m256,
    out_lo: __m256,
    out_hi: __m256,
}

impl Consts {
    #[inline(always)]
    unsafe fn new(p: &KernelParams, tx_w: f32) -> Consts {
        let (shift, in_lo, in_hi, out_lo, out_hi) = p.tap_bounds();
        // SAFETY: only called from functions compiled with AVX2.
        unsafe {
            Consts {
                one: _mm256_set1_ps(1.0),
                cos_accept: _mm256_set1_ps(p.cos_accept),
                txw: _mm256_set1_ps(tx_w),
                shift: _mm256_set1_ps(shift),
                in_lo: _mm256_set1_ps(in_lo),
                in_hi: _mm256_set1_ps(in_hi),
                out_lo: _mm256_set1_ps(out_lo),
                out_hi: _mm256_set1_ps(out_hi),
            }
        }
    }
}

/// Per (8 pixels, channel) geometry: weight (with the transmit weight, zero for excluded lanes),
/// sample index `idx`, `y = idx + shift` and the lane masks. `None` if no lane takes part.
struct Lanes {
    w: __m256,
    idx: __m256,
    y: __m256,
    /// Lanes whose taps are all inside the record (weights masked by it go to the gather path).
    inside: __m256,
    /// Bit mask of lanes that take part but straddle an end of the record.
    edge: i32,
    /// Bit mask of lanes that take part and are inside.
    fast: i32,
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn lanes<const PLANAR: bool>(
    p: &KernelParams,
    k: &Consts,
    ch: &ChannelArrays,
    c: usize,
    px: __m256,
    py: __m256,
    pz: __m256,
    ih2: __m256,
    tx: __m256,
) -> Option<Lanes> {
    // SAFETY: only called from functions compiled with AVX2 + FMA; `c < ch.len()` (caller's loop).
    unsafe {
        let dx = _mm256_sub_ps(px, _mm256_set1_ps(*ch.x.get_unchecked(c)));
        let dz = _mm256_sub_ps(pz, _mm256_set1_ps(*ch.z.get_unchecked(c)));
        let (lat2, dy) = if PLANAR {
            (_mm256_mul_ps(dx, dx), _mm256_setzero_ps())
        } else {
            let dy = _mm256_sub_ps(py, _mm256_set1_ps(*ch.y.get_unchecked(c)));
            (_mm256_add_ps(_mm256_mul_ps(dx, dx), _mm256_mul_ps(dy, dy)), dy)
        };
        let u2 = _mm256_mul_ps(lat2, ih2);
        let m1 = _mm256_cmp_ps::<_CMP_LE_OQ>(u2, k.one);
        if _mm256_movemask_ps(m1) == 0 {
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
        let m = _mm256_and_ps(m1, _mm256_cmp_ps::<_CMP_GE_OQ>(dot, _mm256_mul_ps(k.cos_accept, r)));
        let mb = _mm256_movemask_ps(m);
        if mb == 0 {
            return None;
        }
        let w = _mm256_mul_ps(_mm256_and_ps(window(p, u2), m), k.txw);
        let idx = _mm256_add_ps(tx, r);
        let y = _mm256_add_ps(idx, k.shift);
        let inside = _mm256_and_ps(
            _mm256_cmp_ps::<_CMP_GE_OQ>(y, k.in_lo),
            _mm256_cmp_ps::<_CMP_LT_OQ>(y, k.in_hi),
        );
        let outside = _mm256_or_ps(
            _mm256_cmp_ps::<_CMP_LT_OQ>(y, k.out_lo),
            _mm256_cmp_ps::<_CMP_GE_OQ>(y, k.out_hi),
        );
        let ib = _mm256_movemask_ps(inside);
        Some(Lanes {
            w,
            idx,
            y,
            inside,
            edge: mb & !ib & !_mm256_movemask_ps(outside),
            fast: mb & ib,
        })
    }
}

/// `(floor(y), y − floor(y))` of the inside lanes (others replaced by a safe in-range value).
#[inline(always)]
unsafe fn split_index(k: &Consts, l: &Lanes) -> (__m256i, __m256) {
    // SAFETY: only called from functions compiled with AVX2.
    unsafe {
        let yc = _mm256_blendv_ps(k.in_lo, l.y, l.inside);
        let q = _mm256_floor_ps(yc);
        (_mm256_cvttps_epi32(q), _mm256_sub_ps(yc, q))
    }
}

/// Gathers the 64-bit pairs at `base + 4·q` for 8 lanes and returns them de-interleaved:
/// `(first halves, second halves)`.
#[inline(always)]
unsafe fn gather_pairs(base: *const f32, q: __m256i) -> (__m256, __m256) {
    // SAFETY: the caller guarantees `base + q[l]` and `base + q[l] + 1` are in bounds for all lanes.
    unsafe {
        let g0 = _mm256_castsi256_ps(_mm256_i32gather_epi64::<4>(
            base as *const i64,
            _mm256_castsi256_si128(q),
        ));
        let g1 = _mm256_castsi256_ps(_mm256_i32gather_epi64::<4>(
            base as *const i64,
            _mm256_extracti128_si256::<1>(q),
        ));
        let a = _mm256_shuffle_ps::<0b10_00_10_00>(g0, g1);
        let b = _mm256_shuffle_ps::<0b11_01_11_01>(g0, g1);
        (
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(a))),
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(b))),
        )
    }
}

/// Gather-free `(s[q], s[q + 1])` for 8 lanes whose indices lie within 15 samples of lane 0's
/// (the usual case along depth): two contiguous loads of 8 samples from `q[0]` and in-register
/// permutes. `None` when the indices spread further or the window would leave the trace.
#[inline(always)]
unsafe fn window_pairs(base: *const f32, ns: usize, q: __m256i) -> Option<(__m256, __m256)> {
    // SAFETY: AVX2 is enabled by the callers; the loads read `base[q0 .. q0 + 16]`, checked to lie
    // inside the trace of `ns` samples.
    unsafe {
        let q0 = _mm256_cvtsi256_si32(q);
        let d = _mm256_sub_epi32(q, _mm256_set1_epi32(q0));
        let max_d = _mm256_set1_epi32(14);
        // Unsigned max: negative offsets count as huge.
        let ok = _mm256_movemask_epi8(_mm256_cmpeq_epi32(_mm256_max_epu32(d, max_d), max_d)) == -1;
        if !ok || q0 < 0 || q0 as usize + 16 > ns {
            return None;
        }
        let lo = _mm256_loadu_ps(base.add(q0 as usize));
        let hi = _mm256_loadu_ps(base.add(q0 as usize + 8));
        let pick = |d: __m256i| {
            let a = _mm256_permutevar8x32_ps(lo, d);
            let b = _mm256_permutevar8x32_ps(hi, d);
            _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32::<28>(d)))
        };
        Some((pick(d), pick(_mm256_add_epi32(d, _mm256_set1_epi32(1)))))
    }
}

/// Catmull-Rom weights, same operations as [`super::kernel_scalar::cubic_weights`].
#[inline(always)]
unsafe fn cubic_weights(f: __m256) -> [__m256; 4] {
    // SAFETY: only called from functions compiled with AVX2.
    unsafe {
        let h = _mm256_set1_ps(0.5);
        let f2 = _mm256_mul_ps(f, f);
        let f3 = _mm256_mul_ps(f2, f);
        let s = |a: f32, x: __m256| _mm256_mul_ps(_mm256_set1_ps(a), x);
        [
            _mm256_mul_ps(h, _mm256_sub_ps(_mm256_sub_ps(s(2.0, f2), f3), f)),
            _mm256_mul_ps(
                h,
                _mm256_add_ps(_mm256_sub_ps(s(3.0, f3), s(5.0, f2)), _mm256_set1_ps(2.0)),
            ),
            _mm256_mul_ps(h, _mm256_add_ps(_mm256_sub_ps(s(4.0, f2), s(3.0, f3)), f)),
            _mm256_mul_ps(h, _mm256_sub_ps(f3, f2)),
        ]
    }
}

/// RF kernel entry point.
///
/// # Safety
/// The CPU must support AVX2 and FMA. Slices must have the lengths the plan gives them: `data`
/// holds `ch.len()` traces of `p.n_samples`, every `blk` slice and `acc` have the same length.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn rf_block(
    p: &KernelParams,
    ch: &ChannelArrays,
    data: &[f32],
    blk: &Block<'_>,
    tx_w: f32,
    acc: &mut [f32],
) {
    // SAFETY: same contract as this function.
    unsafe {
        match (blk.planar, p.interp) {
            (true, INTERP_NEAREST) => rf_impl::<true, INTERP_NEAREST>(p, ch, data, blk, tx_w, acc),
            (true, INTERP_LINEAR) => rf_impl::<true, INTERP_LINEAR>(p, ch, data, blk, tx_w, acc),
            (true, _) => rf_impl::<true, INTERP_CUBIC>(p, ch, data, blk, tx_w, acc),
            (false, INTERP_NEAREST) => rf_impl::<false, INTERP_NEAREST>(p, ch, data, blk, tx_w, acc),
            (false, INTERP_LINEAR) => rf_impl::<false, INTERP_LINEAR>(p, ch, data, blk, tx_w, acc),
            (false, _) => rf_impl::<false, INTERP_CUBIC>(p, ch, data, blk, tx_w, acc),
        }
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn rf_impl<const PLANAR: bool, const INTERP: u8>(
    p: &KernelParams,
    ch: &ChannelArrays,
    data: &[f32],
    blk: &Block<'_>,
    tx_w: f32,
    acc: &mut [f32],
) {
    let ns = p.n_samples;
    let n = blk.n;
    let nv = n / LANES * LANES;
    let k = unsafe { Consts::new(p, tx_w) };
    let (shift, ..) = p.tap_bounds();
    for c in 0..ch.len() {
        let trace = &data[c * ns..(c + 1) * ns];
        for j in 0..blk.lines {
            let (g, o) = (j * blk.stride, j * BLOCK);
            let mut i = 0;
            while i < nv {
                // SAFETY: g + i + 8 ≤ g + n ≤ the geometry slices' length; o + i + 8 ≤ TILE_LINES·BLOCK
                // = the length of `tx` and `acc`. AVX2/FMA are enabled; `c < ch.len()`.
                let lanes = unsafe {
                    lanes::<PLANAR>(
                        p,
                        &k,
                        ch,
                        c,
                        _mm256_loadu_ps(blk.px.as_ptr().add(g + i)),
                        _mm256_loadu_ps(blk.py.as_ptr().add(g + i)),
                        _mm256_loadu_ps(blk.pz.as_ptr().add(g + i)),
                        _mm256_loadu_ps(blk.ih2.as_ptr().add(g + i)),
                        _mm256_loadu_ps(blk.tx.as_ptr().add(o + i)),
                    )
                };
                let Some(l) = lanes else {
                    i += LANES;
                    continue;
                };
                // SAFETY: as above for `acc`.
                let mut a = unsafe { _mm256_loadu_ps(acc.as_ptr().add(o + i)) };
                if l.fast != 0 {
                    // SAFETY: inside lanes have all taps in [0, ns); others were replaced by `in_lo`,
                    // whose taps are in range too (when no lane can be inside, `fast == 0`).
                    unsafe {
                        let (q, f) = split_index(&k, &l);
                        let base = trace.as_ptr();
                        let v = match INTERP {
                            INTERP_NEAREST => _mm256_i32gather_ps::<4>(base, q),
                            INTERP_LINEAR => {
                                let (s0, s1) = match window_pairs(base, ns, q) {
                                    Some(pair) => pair,
                                    None => gather_pairs(base, q),
                                };
                                _mm256_add_ps(s0, _mm256_mul_ps(f, _mm256_sub_ps(s1, s0)))
                            }
                            _ => {
                                let (sm, s0) = gather_pairs(base, _mm256_sub_epi32(q, _mm256_set1_epi32(1)));
                                let (s1, s2) = gather_pairs(base, _mm256_add_epi32(q, _mm256_set1_epi32(1)));
                                let w = cubic_weights(f);
                                _mm256_add_ps(
                                    _mm256_add_ps(
                                        _mm256_add_ps(_mm256_mul_ps(w[0], sm), _mm256_mul_ps(w[1], s0)),
                                        _mm256_mul_ps(w[2], s1),
                                    ),
                                    _mm256_mul_ps(w[3], s2),
                                )
                            }
                        };
                        a = _mm256_fmadd_ps(_mm256_and_ps(l.w, l.inside), v, a);
                    }
                }
                if l.edge != 0 {
                    let (mut ys, mut ws, mut av) = ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
                    // SAFETY: stores of vectors into stack arrays of 8 lanes.
                    unsafe {
                        _mm256_storeu_ps(ys.as_mut_ptr(), l.y);
                        _mm256_storeu_ps(ws.as_mut_ptr(), l.w);
                        _mm256_storeu_ps(av.as_mut_ptr(), a);
                    }
                    for lane in 0..LANES {
                        if l.edge & (1 << lane) != 0 {
                            av[lane] += ws[lane] * sample_rf(trace, ys[lane], INTERP);
                        }
                    }
                    // SAFETY: load of the 8-lane stack array.
                    a = unsafe { _mm256_loadu_ps(av.as_ptr()) };
                }
                // SAFETY: o + i + 8 ≤ the length of `acc`.
                unsafe { _mm256_storeu_ps(acc.as_mut_ptr().add(o + i), a) };
                i += LANES;
            }
            for i in nv..n {
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
                    acc[o + i] += (w * tx_w) * sample_rf(trace, idx + shift, p.interp);
                }
            }
        }
    }
}

/// Gathers complex samples `trace[q + off]` of 8 lanes, de-interleaved to `(re, im)`.
#[inline(always)]
unsafe fn gather_complex(base: *const Complex32, q: __m256i, off: i32) -> (__m256, __m256) {
    // SAFETY: the caller guarantees in-bounds indices; a Complex32 is two f32 (repr(C)), so the pair
    // at float offset 2·(q + off) is the complex sample.
    unsafe {
        let q2 = _mm256_slli_epi32::<1>(_mm256_add_epi32(q, _mm256_set1_epi32(off)));
        gather_pairs(base as *const f32, q2)
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
/// As [`rf_block`].
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn iq_block(
    p: &KernelParams,
    ch: &ChannelArrays,
    data: &[Complex32],
    blk: &Block<'_>,
    tx_w: f32,
    re: &mut [f32],
    im: &mut [f32],
) {
    // SAFETY: same contract as this function.
    unsafe {
        match (blk.planar, p.interp) {
            (true, INTERP_NEAREST) => iq_impl::<true, INTERP_NEAREST>(p, ch, data, blk, tx_w, re, im),
            (true, INTERP_LINEAR) => iq_impl::<true, INTERP_LINEAR>(p, ch, data, blk, tx_w, re, im),
            (true, _) => iq_impl::<true, INTERP_CUBIC>(p, ch, data, blk, tx_w, re, im),
            (false, INTERP_NEAREST) => iq_impl::<false, INTERP_NEAREST>(p, ch, data, blk, tx_w, re, im),
            (false, INTERP_LINEAR) => iq_impl::<false, INTERP_LINEAR>(p, ch, data, blk, tx_w, re, im),
            (false, _) => iq_impl::<false, INTERP_CUBIC>(p, ch, data, blk, tx_w, re, im),
        }
    }
}

#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn iq_impl<const PLANAR: bool, const INTERP: u8>(
    p: &KernelParams,
    ch: &ChannelArrays,
    data: &[Complex32],
    blk: &Block<'_>,
    tx_w: f32,
    re: &mut [f32],
    im: &mut [f32],
) {
    let ns = p.n_samples;
    let n = blk.n;
    let nv = n / LANES * LANES;
    let k = unsafe { Consts::new(p, tx_w) };
    let (shift, ..) = p.tap_bounds();
    let (ph0, tps) = (_mm256_set1_ps(p.phase0_turns), _mm256_set1_ps(p.turns_per_sample));
    for c in 0..ch.len() {
        let trace = &data[c * ns..(c + 1) * ns];
        for j in 0..blk.lines {
            let (g, o) = (j * blk.stride, j * BLOCK);
            let mut i = 0;
            while i < nv {
                // SAFETY: in-bounds loads as in `rf_impl`; AVX2/FMA enabled; `c < ch.len()`.
                let lanes = unsafe {
                    lanes::<PLANAR>(
                        p,
                        &k,
                        ch,
                        c,
                        _mm256_loadu_ps(blk.px.as_ptr().add(g + i)),
                        _mm256_loadu_ps(blk.py.as_ptr().add(g + i)),
                        _mm256_loadu_ps(blk.pz.as_ptr().add(g + i)),
                        _mm256_loadu_ps(blk.ih2.as_ptr().add(g + i)),
                        _mm256_loadu_ps(blk.tx.as_ptr().add(o + i)),
                    )
                };
                let Some(l) = lanes else {
                    i += LANES;
                    continue;
                };
                // SAFETY: vector arithmetic; loads/stores of `re`/`im` at o + i + 8 ≤ their length;
                // gathers only at in-range indices (see `rf_impl`).
                unsafe {
                    let mut ar = _mm256_loadu_ps(re.as_ptr().add(o + i));
                    let mut ai = _mm256_loadu_ps(im.as_ptr().add(o + i));
                    let t = _mm256_add_ps(ph0, _mm256_mul_ps(l.idx, tps));
                    let x = _mm256_sub_ps(
                        t,
                        _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(t),
                    );
                    let ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0), x);
                    let co = sin_turns(_mm256_sub_ps(_mm256_set1_ps(0.25), ax));
                    let si = sin_turns(x);
                    if l.fast != 0 {
                        let (q, f) = split_index(&k, &l);
                        let base = trace.as_ptr();
                        let (vr, vi) = match INTERP {
                            INTERP_NEAREST => gather_complex(base, q, 0),
                            INTERP_LINEAR => {
                                let (r0, i0) = gather_complex(base, q, 0);
                                let (r1, i1) = gather_complex(base, q, 1);
                                (
                                    _mm256_add_ps(r0, _mm256_mul_ps(_mm256_sub_ps(r1, r0), f)),
                                    _mm256_add_ps(i0, _mm256_mul_ps(_mm256_sub_ps(i1, i0), f)),
                                )
                            }
                            _ => {
                                let w = cubic_weights(f);
                                let mut sr = _mm256_setzero_ps();
                                let mut sim = _mm256_setzero_ps();
                                for (tap, wt) in w.iter().enumerate() {
                                    let (r, im_) = gather_complex(base, q, tap as i32 - 1);
                                    sr = _mm256_add_ps(sr, _mm256_mul_ps(r, *wt));
                                    sim = _mm256_add_ps(sim, _mm256_mul_ps(im_, *wt));
                                }
                                (sr, sim)
                            }
                        };
                        let w = _mm256_and_ps(l.w, l.inside);
                        let rr = _mm256_sub_ps(_mm256_mul_ps(vr, co), _mm256_mul_ps(vi, si));
                        let ri = _mm256_add_ps(_mm256_mul_ps(vr, si), _mm256_mul_ps(vi, co));
                        ar = _mm256_fmadd_ps(w, rr, ar);
                        ai = _mm256_fmadd_ps(w, ri, ai);
                    }
                    if l.edge != 0 {
                        let (mut ys, mut ws, mut idx) = ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
                        let (mut vr, mut vi) = ([0.0f32; LANES], [0.0f32; LANES]);
                        _mm256_storeu_ps(ys.as_mut_ptr(), l.y);
                        _mm256_storeu_ps(ws.as_mut_ptr(), l.w);
                        _mm256_storeu_ps(idx.as_mut_ptr(), l.idx);
                        _mm256_storeu_ps(vr.as_mut_ptr(), ar);
                        _mm256_storeu_ps(vi.as_mut_ptr(), ai);
                        for lane in 0..LANES {
                            if l.edge & (1 << lane) != 0 {
                                let (sr, s_i) = sample_iq(trace, ys[lane], INTERP);
                                let (c_, s_) = rotation(p, idx[lane]);
                                vr[lane] += ws[lane] * (sr * c_ - s_i * s_);
                                vi[lane] += ws[lane] * (sr * s_ + s_i * c_);
                            }
                        }
                        ar = _mm256_loadu_ps(vr.as_ptr());
                        ai = _mm256_loadu_ps(vi.as_ptr());
                    }
                    _mm256_storeu_ps(re.as_mut_ptr().add(o + i), ar);
                    _mm256_storeu_ps(im.as_mut_ptr().add(o + i), ai);
                }
                i += LANES;
            }
            for i in nv..n {
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
                    let (vr, vi) = sample_iq(trace, idx + shift, p.interp);
                    let (co, si) = rotation(p, idx);
                    let w = w * tx_w;
                    re[o + i] += w * (vr * co - vi * si);
                    im[o + i] += w * (vr * si + vi * co);
                }
            }
        }
    }
}
