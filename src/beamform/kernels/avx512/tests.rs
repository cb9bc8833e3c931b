//! Unit tests of the AVX-512 kernel's helpers (run only where the CPU has AVX-512).

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
