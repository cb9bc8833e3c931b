//! The delay-and-sum kernels, one file per instruction set, and what they share.
//!
//! A kernel sees only plain arrays: a [`Tile`] (pixel positions and transmit tables in sample
//! units), the [`KernelParams`] of the plan and the data of a chunk of transmits. It accumulates
//! into [`Sums`]. The scalar kernel ([`scalar`]) is the reference every SIMD kernel is tested
//! against; a new instruction set adds a file here and one arm to [`rf`] and [`iq`].

#[cfg(target_arch = "x86_64")]
pub(crate) use super::apodization::COS_HALF_PI_POLY;
pub(crate) use super::apodization::WindowCode;
use super::apodization::window_weight;
use super::config::Kernel;
use super::tile::{Sums, Tile};
use num_complex::Complex32;

#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx512;
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
pub(crate) mod scalar;

pub(crate) use super::tile::LANES;

/// Working memory the SIMD kernels borrow with each tile (from the plan's pooled tile buffer, never
/// the stack). All-zero bytes are a valid value.
#[repr(C)]
pub(crate) struct KernelScratch {
    #[cfg(target_arch = "x86_64")]
    pub avx2: avx2::Scratch,
    #[cfg(target_arch = "x86_64")]
    pub avx512: avx512::Scratch,
    /// Keeps the struct non-empty where no SIMD kernel needs memory.
    pub _none: u8,
}

/// Interpolation code seen by the kernels.
pub(crate) const INTERP_NEAREST: u8 = 0;
pub(crate) const INTERP_LINEAR: u8 = 1;
pub(crate) const INTERP_CUBIC: u8 = 2;

/// Everything a kernel needs besides geometry and data (plain values).
#[derive(Debug, Clone, Copy)]
pub(crate) struct KernelParams {
    pub n_samples: usize,
    pub interp: u8,
    pub window: WindowCode,
    /// Tukey: flat part `1 − α` and `1 / α`.
    pub tukey_flat: f32,
    pub tukey_inv_alpha: f32,
    /// `cos(acceptance angle)`, or −2 (no limit).
    pub cos_accept: f32,
    /// IQ rotation: `frac(f_demod · t0)` in turns and `f_demod / fs` in turns per sample.
    pub phase0_turns: f32,
    pub turns_per_sample: f32,
    /// True when the two-way delays of 8 consecutive depths of a line span less than 15 samples
    /// (twice the largest distance between depths `k` and `k + 7`), so the SIMD kernels read the
    /// taps of a vector from one contiguous window.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub windowed: bool,
}

impl KernelParams {
    /// `(shift, in_lo, in_hi, out_lo, out_hi)`: with `y = idx + shift` and `q = floor(y)`, all taps
    /// lie inside the record iff `in_lo ≤ y < in_hi`, all outside iff `y < out_lo || y ≥ out_hi`.
    pub fn tap_bounds(&self) -> (f32, f32, f32, f32, f32) {
        let n = self.n_samples as f32;
        let (shift, jmin, jmax) = match self.interp {
            INTERP_NEAREST => (0.5, 0.0, 0.0),
            INTERP_LINEAR => (0.0, 0.0, 1.0),
            _ => (0.0, -1.0, 2.0),
        };
        (shift, -jmin, n - jmax, -jmax, n - jmin)
    }

    /// The receive window's weight at `u2 = u²` (`u2 ≤ 1`).
    #[inline(always)]
    pub fn window_weight(&self, u2: f32) -> f32 {
        window_weight(self.window, self.tukey_flat, self.tukey_inv_alpha, u2)
    }
}

/// `sin(2π·x)` for `x` in turns within `[-0.5, 0.5]` (polynomial, error < 1e-6). Shared by kernels.
#[inline(always)]
pub(crate) fn sin_turns(x: f32) -> f32 {
    // Reflect into [-0.25, 0.25]: sin(2π(0.5 − x)) = sin(2πx).
    let ax = x.abs();
    let r = 0.25 - (0.25 - ax).abs();
    let r = if x < 0.0 { -r } else { r };
    let y = r * std::f32::consts::TAU;
    let y2 = y * y;
    let mut p = SIN_POLY[0];
    for &k in &SIN_POLY[1..] {
        p = p * y2 + k;
    }
    p * y
}

/// Taylor coefficients of `sin(y)/y` in `y²`, highest first.
pub(crate) const SIN_POLY: [f32; 7] = [
    1.0 / 6_227_020_800.0,
    -1.0 / 39_916_800.0,
    1.0 / 362_880.0,
    -1.0 / 5040.0,
    1.0 / 120.0,
    -1.0 / 6.0,
    1.0,
];

/// `(cos, sin)` of `2π·x` for `x` in turns (any magnitude; reduced to `[−0.5, 0.5]` first).
///
/// The reduction rounds with the `1.5·2²³` trick (to nearest, ties to even, like the AVX2
/// kernel's `vroundps`), exact for `|x| < 2²²` turns; beyond, where an `f32` no longer resolves
/// half a turn, the clamp keeps the result in range. Unlike `f32::round` (a library call on the
/// baseline x86-64 target) it is branch-free, so the per-tile phasor tables vectorise.
#[inline(always)]
pub(crate) fn phasor(x: f32) -> (f32, f32) {
    const MAGIC: f32 = 12_582_912.0;
    let x = (x - ((x + MAGIC) - MAGIC)).clamp(-0.5, 0.5);
    (sin_turns(0.25 - x.abs()), sin_turns(x))
}

/// Runs the RF kernel `kernel` on one tile and chunk of transmits (`data` holds the chunk's traces).
#[inline]
#[allow(unused_variables)] // `sc` is used by the x86-64 kernels only
pub(crate) fn rf(
    kernel: Kernel,
    coherence: bool,
    p: &KernelParams,
    t: &Tile<'_>,
    data: &[f32],
    s: &mut Sums<'_>,
    sc: &mut KernelScratch,
) {
    match (kernel, coherence) {
        (Kernel::Scalar, false) => scalar::rf_tile::<false>(p, t, data, s),
        (Kernel::Scalar, true) => scalar::rf_tile::<true>(p, t, data, s),
        // SAFETY: `Kernel::Avx2` is only chosen after detecting AVX2 and FMA; the tile's slices
        // have the lengths the tile pass gives them and `data` holds the chunk's transmits.
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx2, false) => unsafe { avx2::rf_tile::<false>(p, t, data, s, &mut sc.avx2) },
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx2, true) => unsafe { avx2::rf_tile::<true>(p, t, data, s, &mut sc.avx2) },
        // SAFETY: `Kernel::Avx512` is only chosen after detecting AVX-512 F, DQ, VL and FMA; as
        // above for the slices.
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx512, false) => unsafe { avx512::rf_tile::<false>(p, t, data, s, &mut sc.avx512) },
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx512, true) => unsafe { avx512::rf_tile::<true>(p, t, data, s, &mut sc.avx512) },
        #[cfg(target_arch = "aarch64")]
        (Kernel::Neon, cf) => neon::rf_tile(p, t, data, s, cf),
    }
}

/// Runs the IQ kernel `kernel` on one tile and chunk of transmits.
#[inline]
#[allow(unused_variables)] // `sc` is used by the x86-64 kernels only
pub(crate) fn iq(
    kernel: Kernel,
    coherence: bool,
    p: &KernelParams,
    t: &Tile<'_>,
    data: &[Complex32],
    s: &mut Sums<'_>,
    sc: &mut KernelScratch,
) {
    match (kernel, coherence) {
        (Kernel::Scalar, false) => scalar::iq_tile::<false>(p, t, data, s),
        (Kernel::Scalar, true) => scalar::iq_tile::<true>(p, t, data, s),
        // SAFETY: as in `rf`.
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx2, false) => unsafe { avx2::iq_tile::<false>(p, t, data, s, &mut sc.avx2) },
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx2, true) => unsafe { avx2::iq_tile::<true>(p, t, data, s, &mut sc.avx2) },
        // SAFETY: as in `rf`.
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx512, false) => unsafe { avx512::iq_tile::<false>(p, t, data, s, &mut sc.avx512) },
        #[cfg(target_arch = "x86_64")]
        (Kernel::Avx512, true) => unsafe { avx512::iq_tile::<true>(p, t, data, s, &mut sc.avx512) },
        #[cfg(target_arch = "aarch64")]
        (Kernel::Neon, cf) => neon::iq_tile(p, t, data, s, cf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sine_polynomial_is_accurate() {
        for i in 0..=100 {
            let x = -0.5 + i as f32 / 100.0;
            assert!((sin_turns(x) - (std::f32::consts::TAU * x).sin()).abs() < 2e-6, "{x}");
        }
    }

    #[test]
    fn phasor_reduces_any_phase() {
        // Against f64 (the f32 input's exact value): integers, ties, fractions and thousands of
        // turns (IQ phases reach that many), both signs.
        let mut xs = vec![
            0.0f32,
            0.5,
            -0.5,
            1.5,
            -2.5,
            0.25,
            -0.75,
            3.999_999_8,
            1234.567,
            -4321.125,
            40_000.3,
        ];
        xs.extend((0..2000).map(|i| (i as f32 - 1000.0) * 0.618_034 + 0.001 * i as f32));
        for &x in &xs {
            let (c, s) = phasor(x);
            let a = std::f64::consts::TAU * (x as f64);
            assert!((c as f64 - a.cos()).abs() < 3e-6, "cos at {x}: {c} vs {}", a.cos());
            assert!((s as f64 - a.sin()).abs() < 3e-6, "sin at {x}: {s} vs {}", a.sin());
        }
        // Beyond 2^22 turns an f32 no longer resolves half a turn: still a unit phasor.
        for x in [4.2e6f32, -8.4e6, 1e9, -3e12, f32::MAX] {
            let (c, s) = phasor(x);
            assert!(((c * c + s * s) - 1.0).abs() < 1e-5, "{x}: ({c}, {s})");
        }
    }
}
