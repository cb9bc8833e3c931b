//! The simulator's inner loops on each instruction set: the same arithmetic, in the same order, on
//! every path, so that a run's RF is identical bit for bit whichever kernel runs.

use super::wave::EchoTap;
use crate::error::{Error, Result};
use crate::simd::KernelChoice;

/// The instruction set a run's inner loops use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Simd {
    /// Plain Rust (the reference; the compiler vectorises what it can for the baseline target).
    Scalar,
    /// AVX2 + FMA (x86-64).
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Simd {
    /// The kernel for `choice` on this CPU. `Auto` takes AVX2 where the CPU has it (the
    /// simulator has no AVX-512 or NEON loops of its own: `Avx512` runs the AVX2 loops, `Neon`
    /// the plain ones); an explicit choice the CPU lacks is an error.
    pub(super) fn select(choice: KernelChoice) -> Result<Simd> {
        let supported = KernelChoice::supported();
        if choice != KernelChoice::Auto && !supported.contains(&choice) {
            return Err(Error::Unsupported {
                name: "options.kernel",
                requested: format!("{choice:?}"),
                available: format!("{supported:?}"),
            });
        }
        Ok(match choice {
            KernelChoice::Scalar | KernelChoice::Neon => Simd::Scalar,
            #[cfg(target_arch = "x86_64")]
            KernelChoice::Avx2 | KernelChoice::Avx512 => Simd::Avx2,
            #[cfg(target_arch = "x86_64")]
            KernelChoice::Auto if has_avx2_fma() => Simd::Avx2,
            _ => Simd::Scalar,
        })
    }

    /// Adds the echoes `taps` of one wave (`poly`, its padded polyphase rows) to `trace[n0..n1]`:
    /// `trace[n] += w0·poly[off0 + n] + w1·poly[off1 + n]` for each tap in turn. The caller
    /// guarantees `0 ≤ off + n < poly.len()` for every tap and `n` in the range, and `n1 ≤
    /// trace.len()`.
    #[inline(always)]
    pub(super) fn echoes(self, trace: &mut [f32], n0: usize, n1: usize, poly: &[f32], taps: &[EchoTap]) {
        debug_assert!(n1 <= trace.len() && n0 <= n1);
        debug_assert!(taps.iter().all(|t| {
            let (a, b) = (t.off0.min(t.off1) + n0 as isize, t.off0.max(t.off1) + n1 as isize);
            a >= 0 && b <= poly.len() as isize
        }));
        match self {
            Simd::Scalar => echoes_scalar(trace, n0, n1, poly, taps),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Avx2` is only selected when the CPU has AVX2 and FMA; the bounds are the
            // caller's contract above, checked in debug builds.
            Simd::Avx2 => unsafe { echoes_avx2(trace, n0, n1, poly, taps) },
        }
    }
}

impl Simd {
    /// The convolution of a histogram with the pulse: `u[k] = Σ_j g[j]·hist[k + L − 1 − j]` over
    /// `j` in order with `g[j] ≠ 0`, starting from 0 (`L = g.len()`). The caller guarantees
    /// `hist.len() ≥ u.len() + L − 1`.
    #[inline(always)]
    pub(super) fn convolve(self, u: &mut [f32], hist: &[f32], g: &[f32]) {
        debug_assert!(!g.is_empty() && hist.len() + 1 >= u.len() + g.len());
        match self {
            Simd::Scalar => convolve_scalar(u, 0, hist, g),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Avx2` is only selected when the CPU has AVX2 and FMA; the bound on
            // `hist` is the caller's contract, checked in debug builds.
            Simd::Avx2 => unsafe { convolve_avx2(u, hist, g) },
        }
    }
}

/// The reference loop of [`Simd::convolve`], from output `k0` on.
#[inline(always)]
fn convolve_scalar(u: &mut [f32], k0: usize, hist: &[f32], g: &[f32]) {
    let last = g.len() - 1;
    for (k, o) in u.iter_mut().enumerate().skip(k0) {
        let mut acc = 0.0f32;
        for (j, &gj) in g.iter().enumerate() {
            if gj != 0.0 {
                acc += gj * hist[k + last - j];
            }
        }
        *o = acc;
    }
}

/// [`Simd::convolve`] with AVX2: 32 outputs per step in four registers, each pulse sample
/// broadcast once per step.
///
/// # Safety
/// The CPU has AVX2 and FMA; `hist.len() ≥ u.len() + g.len() − 1`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn convolve_avx2(u: &mut [f32], hist: &[f32], g: &[f32]) {
    use std::arch::x86_64::*;
    const STEP: usize = 32;
    let last = g.len() - 1;
    let h = hist.as_ptr();
    let mut k = 0;
    while k + STEP <= u.len() {
        let mut acc = [_mm256_setzero_ps(); 4];
        for (j, &gj) in g.iter().enumerate() {
            if gj == 0.0 {
                continue;
            }
            let gv = _mm256_set1_ps(gj);
            // SAFETY: k + last − j + STEP ≤ u.len() + last ≤ hist.len().
            let src = unsafe { h.add(k + last - j) };
            for (r, a) in acc.iter_mut().enumerate() {
                // acc + g·hist (no FMA: the scalar loop's rounding).
                let x = unsafe { _mm256_loadu_ps(src.add(8 * r)) };
                *a = _mm256_add_ps(*a, _mm256_mul_ps(gv, x));
            }
        }
        for (r, a) in acc.iter().enumerate() {
            // SAFETY: k + STEP ≤ u.len().
            unsafe { _mm256_storeu_ps(u.as_mut_ptr().add(k + 8 * r), *a) };
        }
        k += STEP;
    }
    convolve_scalar(u, k, hist, g);
}

#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// The reference loop of [`Simd::echoes`].
#[inline(always)]
fn echoes_scalar(trace: &mut [f32], n0: usize, n1: usize, poly: &[f32], taps: &[EchoTap]) {
    for (n, o) in trace[n0..n1].iter_mut().enumerate().map(|(k, o)| (n0 + k, o)) {
        let mut acc = *o;
        for t in taps {
            let u0 = poly[(t.off0 + n as isize) as usize];
            let u1 = poly[(t.off1 + n as isize) as usize];
            acc += t.w0 * u0 + t.w1 * u1;
        }
        *o = acc;
    }
}

/// [`Simd::echoes`] with AVX2: eight output samples per step, each loaded and stored once for all
/// taps; one to four taps keep their weights in registers.
///
/// # Safety
/// The CPU has AVX2 and FMA; the bounds of [`Simd::echoes`] hold.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn echoes_avx2(trace: &mut [f32], n0: usize, n1: usize, poly: &[f32], taps: &[EchoTap]) {
    // SAFETY (all four): the caller's contract.
    unsafe {
        match taps.len() {
            1 => echoes_avx2_n::<1>(trace, n0, n1, poly, taps),
            2 => echoes_avx2_n::<2>(trace, n0, n1, poly, taps),
            3 => echoes_avx2_n::<3>(trace, n0, n1, poly, taps),
            4 => echoes_avx2_n::<4>(trace, n0, n1, poly, taps),
            _ => {
                for chunk in taps.chunks(4) {
                    echoes_avx2(trace, n0, n1, poly, chunk);
                }
            }
        }
    }
}

/// [`echoes_avx2`] for exactly `T` taps.
///
/// # Safety
/// As [`echoes_avx2`], and `taps.len() == T`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn echoes_avx2_n<const T: usize>(trace: &mut [f32], n0: usize, n1: usize, poly: &[f32], taps: &[EchoTap]) {
    use std::arch::x86_64::*;
    let out = trace.as_mut_ptr();
    let base = poly.as_ptr();
    let mut w0 = [_mm256_setzero_ps(); T];
    let mut w1 = [_mm256_setzero_ps(); T];
    let mut p0 = [base; T];
    let mut p1 = [base; T];
    for (k, t) in taps.iter().take(T).enumerate() {
        w0[k] = _mm256_set1_ps(t.w0);
        w1[k] = _mm256_set1_ps(t.w1);
        // In bounds for every n the loops below use (the caller's contract).
        p0[k] = base.wrapping_offset(t.off0);
        p1[k] = base.wrapping_offset(t.off1);
    }
    let mut n = n0;
    // SAFETY: n + 8 ≤ n1 ≤ trace.len(), and every poly index off + n..off + n + 8 is below
    // off + n1 ≤ poly.len() and at least off + n0 ≥ 0.
    unsafe {
        while n + 8 <= n1 {
            let mut acc = _mm256_loadu_ps(out.add(n));
            for k in 0..T {
                let u0 = _mm256_loadu_ps(p0[k].add(n));
                let u1 = _mm256_loadu_ps(p1[k].add(n));
                // acc + (w0·u0 + w1·u1): the scalar loop's rounding (one FMA for w1·u1 + the
                // product w0·u0 would round differently, so none is used).
                let s = _mm256_add_ps(_mm256_mul_ps(w0[k], u0), _mm256_mul_ps(w1[k], u1));
                acc = _mm256_add_ps(acc, s);
            }
            _mm256_storeu_ps(out.add(n), acc);
            n += 8;
        }
    }
    echoes_scalar(trace, n, n1, poly, taps);
}
