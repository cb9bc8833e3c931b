//! AVX-512F kernel (RF): 16 consecutive depths of one line per vector, the same operations as the
//! scalar and AVX2 kernels, with mask registers instead of vector masks and plain 16-lane gathers.
//! Used only when the CPU reports AVX-512F (and AVX2 + FMA, which the IQ path borrows). Lanes whose
//! taps straddle an end of the record take the scalar per-point path.

use super::kernel_scalar::{point, sample_rf};
use super::{BLOCK, Block, COS_HALF_PI_POLY, ChannelArrays, INTERP_LINEAR, INTERP_NEAREST, KernelParams, WindowCode};
use std::arch::x86_64::*;

const LANES: usize = 16;

#[inline(always)]
unsafe fn window(p: &KernelParams, u2: __m512) -> __m512 {
    // SAFETY (whole function): only called from functions compiled with AVX-512F.
    unsafe {
        let poly = |s: __m512| {
            let mut c = _mm512_set1_ps(COS_HALF_PI_POLY[0]);
            for &k in &COS_HALF_PI_POLY[1..] {
                c = _mm512_add_ps(_mm512_mul_ps(c, s), _mm512_set1_ps(k));
            }
            c
        };
        match p.window {
            WindowCode::Rect => _mm512_set1_ps(1.0),
            WindowCode::Hann => {
                let c = poly(u2);
                _mm512_mul_ps(c, c)
            }
            WindowCode::Hamming => {
                let c = poly(u2);
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
                let c = poly(_mm512_mul_ps(v, v));
                _mm512_mul_ps(c, c)
            }
        }
    }
}

/// RF kernel entry point.
///
/// # Safety
/// The CPU must support AVX-512F. Slice lengths as in the AVX2 kernel.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn rf_block(
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
    let (shift, in_lo, in_hi, out_lo, out_hi) = p.tap_bounds();
    let interp = p.interp;
    for c in 0..ch.len() {
        let trace = &data[c * ns..(c + 1) * ns];
        let base = trace.as_ptr();
        for j in 0..blk.lines {
            let (g, o) = (j * blk.stride, j * BLOCK);
            let mut i = 0;
            while i < nv {
                // SAFETY: AVX-512F is enabled; g + i + 16 ≤ g + n ≤ the geometry slices' length and
                // o + i + 16 ≤ TILE_LINES·BLOCK = the length of `tx` and `acc`; gathers are masked to
                // lanes whose taps are inside the record; the scalar path handles lanes straddling an
                // end.
                unsafe {
                    let px = _mm512_loadu_ps(blk.px.as_ptr().add(g + i));
                    let py = _mm512_loadu_ps(blk.py.as_ptr().add(g + i));
                    let pz = _mm512_loadu_ps(blk.pz.as_ptr().add(g + i));
                    let ih2 = _mm512_loadu_ps(blk.ih2.as_ptr().add(g + i));
                    let tx = _mm512_loadu_ps(blk.tx.as_ptr().add(o + i));
                    let dx = _mm512_sub_ps(px, _mm512_set1_ps(ch.x[c]));
                    let dy = _mm512_sub_ps(py, _mm512_set1_ps(ch.y[c]));
                    let dz = _mm512_sub_ps(pz, _mm512_set1_ps(ch.z[c]));
                    let lat2 = _mm512_add_ps(_mm512_mul_ps(dx, dx), _mm512_mul_ps(dy, dy));
                    let u2 = _mm512_mul_ps(lat2, ih2);
                    let m1 = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(u2, _mm512_set1_ps(1.0));
                    if m1 == 0 {
                        i += LANES;
                        continue;
                    }
                    let r = _mm512_sqrt_ps(_mm512_add_ps(lat2, _mm512_mul_ps(dz, dz)));
                    let dot = _mm512_add_ps(
                        _mm512_add_ps(
                            _mm512_mul_ps(_mm512_set1_ps(ch.nx[c]), dx),
                            _mm512_mul_ps(_mm512_set1_ps(ch.ny[c]), dy),
                        ),
                        _mm512_mul_ps(_mm512_set1_ps(ch.nz[c]), dz),
                    );
                    let m = m1 & _mm512_cmp_ps_mask::<_CMP_GE_OQ>(dot, _mm512_mul_ps(_mm512_set1_ps(p.cos_accept), r));
                    if m == 0 {
                        i += LANES;
                        continue;
                    }
                    let w = _mm512_mul_ps(_mm512_maskz_mov_ps(m, window(p, u2)), _mm512_set1_ps(tx_w));
                    let y = _mm512_add_ps(_mm512_add_ps(tx, r), _mm512_set1_ps(shift));
                    let inside = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(y, _mm512_set1_ps(in_lo))
                        & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(y, _mm512_set1_ps(in_hi));
                    let outside = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(y, _mm512_set1_ps(out_lo))
                        | _mm512_cmp_ps_mask::<_CMP_GE_OQ>(y, _mm512_set1_ps(out_hi));
                    let fast = m & inside;
                    let edge = m & !inside & !outside;
                    let mut a = _mm512_loadu_ps(acc.as_ptr().add(o + i));
                    if fast != 0 {
                        let yc = _mm512_mask_mov_ps(_mm512_set1_ps(in_lo), inside, y);
                        let q = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC }>(yc);
                        let f = _mm512_sub_ps(yc, q);
                        let qi = _mm512_cvttps_epi32(q);
                        let g = |off: i32| {
                            _mm512_mask_i32gather_ps::<4>(
                                _mm512_setzero_ps(),
                                fast,
                                _mm512_add_epi32(qi, _mm512_set1_epi32(off)),
                                base,
                            )
                        };
                        let v = match interp {
                            INTERP_NEAREST => g(0),
                            INTERP_LINEAR => {
                                let (s0, s1) = (g(0), g(1));
                                _mm512_add_ps(s0, _mm512_mul_ps(f, _mm512_sub_ps(s1, s0)))
                            }
                            _ => {
                                let h = _mm512_set1_ps(0.5);
                                let f2 = _mm512_mul_ps(f, f);
                                let f3 = _mm512_mul_ps(f2, f);
                                let s = |k: f32, x: __m512| _mm512_mul_ps(_mm512_set1_ps(k), x);
                                let w0 = _mm512_mul_ps(h, _mm512_sub_ps(_mm512_sub_ps(s(2.0, f2), f3), f));
                                let w1 = _mm512_mul_ps(
                                    h,
                                    _mm512_add_ps(_mm512_sub_ps(s(3.0, f3), s(5.0, f2)), _mm512_set1_ps(2.0)),
                                );
                                let w2 = _mm512_mul_ps(h, _mm512_add_ps(_mm512_sub_ps(s(4.0, f2), s(3.0, f3)), f));
                                let w3 = _mm512_mul_ps(h, _mm512_sub_ps(f3, f2));
                                _mm512_add_ps(
                                    _mm512_add_ps(
                                        _mm512_add_ps(_mm512_mul_ps(w0, g(-1)), _mm512_mul_ps(w1, g(0))),
                                        _mm512_mul_ps(w2, g(1)),
                                    ),
                                    _mm512_mul_ps(w3, g(2)),
                                )
                            }
                        };
                        a = _mm512_mask3_fmadd_ps(w, v, a, fast);
                    }
                    if edge != 0 {
                        let (mut ys, mut ws, mut av) = ([0.0f32; LANES], [0.0f32; LANES], [0.0f32; LANES]);
                        _mm512_storeu_ps(ys.as_mut_ptr(), y);
                        _mm512_storeu_ps(ws.as_mut_ptr(), w);
                        _mm512_storeu_ps(av.as_mut_ptr(), a);
                        for lane in 0..LANES {
                            if edge & (1 << lane) != 0 {
                                av[lane] += ws[lane] * sample_rf(trace, ys[lane], interp);
                            }
                        }
                        a = _mm512_loadu_ps(av.as_ptr());
                    }
                    _mm512_storeu_ps(acc.as_mut_ptr().add(o + i), a);
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
                    acc[o + i] += (w * tx_w) * sample_rf(trace, idx + shift, p.interp);
                }
            }
        }
    }
}
