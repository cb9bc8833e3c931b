//! Tap access of the AVX-512 kernel: sample positions, lane loads (half a vector at a time),
//! 33-sample windows picked with `vpermt2ps`, the window proof and the interpolation weights.

use super::*;

/// Sample position at receive distance `r` and transmit delays `tx`: `(y, floor(y), floor(y) as
/// i32)`.
#[inline(always)]
pub(super) unsafe fn position<const INTERP: u8>(k: &Consts, r: __m512, tx: __m512) -> (__m512, __m512, __m512i) {
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
pub(super) unsafe fn store_lanes(i: __m512i) -> [i32; W] {
    let mut a = [0i32; W];
    // SAFETY: an unaligned store into a local array of 16 i32; compiled with AVX-512 F.
    unsafe { _mm512_storeu_si512(a.as_mut_ptr().cast(), i) };
    a
}

/// Lanes `8h .. 8h + 8` of a stored index vector, read as four 64-bit loads (volatile, so that
/// LLVM neither merges them into lane extracts nor reads all 16 at once and spills them; half a
/// vector at a time keeps the indices in registers).
#[inline(always)]
pub(super) unsafe fn half_lanes(a: &[i32; W], h: usize) -> [isize; LANES] {
    // SAFETY: reads of `a[8h .. 8h + 8]` (`h < 2`) as four unaligned 64-bit values.
    unsafe {
        let p = a.as_ptr().add(LANES * h).cast::<i64>();
        let q: [i64; 4] = std::array::from_fn(|j| std::ptr::read_volatile(p.add(j)));
        std::array::from_fn(|j| (q[j / 2] >> (32 * (j % 2))) as i32 as isize)
    }
}

/// Joins two 8-lane halves.
#[inline(always)]
pub(super) unsafe fn join(lo: __m256, hi: __m256) -> __m512 {
    // SAFETY: compiled with AVX-512 F + DQ.
    unsafe { _mm512_insertf32x8::<1>(_mm512_castps256_ps512(lo), hi) }
}

/// `base[i]` of each lane.
#[inline(always)]
pub(super) unsafe fn load1(base: *const f32, i: __m512i) -> __m512 {
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
pub(super) unsafe fn load_pair(p: *const f32) -> __m128 {
    // SAFETY: the caller guarantees `p[0..2]` readable (unaligned); SSE2 is baseline on x86-64.
    unsafe { _mm_castpd_ps(_mm_load_sd(p.cast())) }
}

/// `(base[i], base[i + 1])` of lanes `8h .. 8h + 8` of `a`: one 64-bit load per lane (straight
/// into vector registers) and a de-interleave.
#[inline(always)]
pub(super) unsafe fn load2_half(base: *const f32, a: &[i32; W], h: usize) -> (__m256, __m256) {
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
pub(super) unsafe fn load2(base: *const f32, i: __m512i) -> (__m512, __m512) {
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
pub(super) unsafe fn load4_half(base: *const f32, a: &[i32; W], h: usize) -> [__m256; 4] {
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
pub(super) unsafe fn load4(base: *const f32, i: __m512i) -> [__m512; 4] {
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
pub(super) unsafe fn window_taps(w: *const f32, off: __m512i) -> (__m512, __m512) {
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
pub(super) unsafe fn window2(base: *const f32, i: __m512i, last: isize) -> Option<(__m512, __m512)> {
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
pub(super) unsafe fn window_step(k: &Consts, tr: *const f32, ns: usize, r: __m512, tx: __m512) -> __m512 {
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
pub(super) unsafe fn window_proof(t: &Tile<'_>, g: Pair, r: __m512, dlo: __m512, dhi: __m512, end: f32) -> bool {
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
pub(super) unsafe fn delay_spreads(t: &Tile<'_>, dlo: &mut [__m512], dhi: &mut [__m512]) {
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
pub(super) unsafe fn cubic_weights(f: __m512) -> [__m512; 4] {
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
pub(super) unsafe fn mix4(w: &[__m512; 4], a: __m512, b: __m512, c: __m512, d: __m512) -> __m512 {
    // SAFETY: only called from functions compiled with AVX-512 F (FMA included).
    unsafe {
        _mm512_fmadd_ps(
            w[3],
            d,
            _mm512_fmadd_ps(w[2], c, _mm512_fmadd_ps(w[1], b, _mm512_mul_ps(w[0], a))),
        )
    }
}
