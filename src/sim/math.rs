//! Numeric helpers of the simulator: distances, sinc, and fast f32 sine, cosine and sinc.

use std::f64::consts::PI;

/// Euclidean distance of two points.
pub(super) fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// sin and cos of a small angle (|x| ≤ π/4): Taylor series, error < 4e-7.
#[inline(always)]
pub(super) fn small_sin_cos(x: f32) -> (f32, f32) {
    let x2 = x * x;
    let s = x * (1.0 + x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 - x2 / 5040.0)));
    let c = 1.0 + x2 * (-0.5 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0 + x2 / 40320.0)));
    (s, c)
}

/// sinc(x) = sin(πx)/(πx) in f32, branch-free: sin(πx) from a Taylor polynomial on [0, π/2] after
/// reducing πx by multiples of π (with the sign of each half period) and folding sin(y) = sin(π − y);
/// error < 2e-6 for |x| < 1000.
#[inline(always)]
pub(super) fn sinc_small(x: f32) -> f32 {
    use std::f32::consts::PI as PI32;
    let y = (PI32 * x).abs();
    let k = (y * (1.0 / PI32)).floor();
    let r = y - k * PI32;
    let sign = 1.0 - 2.0 * (k - 2.0 * (k * 0.5).floor());
    let t = r.min(PI32 - r);
    let t2 = t * t;
    let s = t
        * (1.0
            + t2 * (-1.0 / 6.0 + t2 * (1.0 / 120.0 + t2 * (-1.0 / 5040.0 + t2 * (1.0 / 362880.0 - t2 / 39916800.0)))));
    if y < 1e-6 { 1.0 } else { sign * s / y }
}

/// Largest |x| for which [`sinc_series`] is accurate (error < 2e-6).
pub(super) const SINC_SERIES_MAX: f32 = 1.0;

/// sinc(x) = sin(πx)/(πx) for |x| ≤ [`SINC_SERIES_MAX`] in f32 without a division: the Taylor
/// series of sin(y)/y in y² = (πx)² to the y¹⁶ term (the first term left out is below 1e-8 at
/// |x| = 1).
#[inline(always)]
pub(super) fn sinc_series(x: f32) -> f32 {
    use std::f32::consts::PI as PI32;
    let y2 = (PI32 * x) * (PI32 * x);
    // Coefficients (−1)^k / (2k + 1)!, k = 0..8.
    const C: [f32; 9] = [
        1.0,
        -1.0 / 6.0,
        1.0 / 120.0,
        -1.0 / 5040.0,
        1.0 / 362_880.0,
        -1.0 / 39_916_800.0,
        1.0 / 6_227_020_800.0,
        -1.0 / 1_307_674_368_000.0,
        1.0 / 355_687_428_096_000.0,
    ];
    let mut acc = C[8];
    for &c in C[..8].iter().rev() {
        acc = acc * y2 + c;
    }
    acc
}

/// sinc(x) = sin(πx)/(πx) in f64.
pub(super) fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-9 { 1.0 } else { (PI * x).sin() / (PI * x) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_sinc_matches_the_definition() {
        for i in -4000..4000 {
            let x = i as f32 * 0.00097;
            let exact = if x == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * x as f64).sin() / (std::f64::consts::PI * x as f64)
            };
            assert!((sinc_small(x) as f64 - exact).abs() < 2e-6, "{x}");
            if x.abs() <= SINC_SERIES_MAX {
                assert!((sinc_series(x) as f64 - exact).abs() < 2e-6, "{x}");
            }
        }
    }
}
