//! Receive apodization: the F-number aperture, its window, and the element acceptance angle.
//!
//! A channel takes part in pixel `p` when its lateral distance to the pixel (in the x–y plane) is
//! at most `z_p / (2·F#)`; inside that aperture it is weighted by a [`Window`] of the normalised
//! lateral distance `u` (0 at the centre, 1 at the edge). An optional acceptance angle excludes
//! channels that see the pixel more than that angle off their normal.
//!
//! A new window is added here (the public [`Window`], its kernel code and its scalar weight
//! [`window_weight`]) and in the SIMD kernels' vector version of the weight.

use crate::error::{Result, in_range};

/// Receive apodization window over the F-number aperture (u = 0 at the centre, 1 at the edge).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Window {
    /// 1 everywhere inside the aperture.
    #[default]
    Rectangular,
    /// `cos²(π u / 2)` (0 at the edge).
    Hann,
    /// `0.54 + 0.46 cos(π u)` (0.08 at the edge).
    Hamming,
    /// Flat for `u ≤ 1 − alpha`, then a Hann taper to 0 at the edge; `alpha` in `[0, 1]`
    /// (0 = rectangular, 1 = Hann).
    Tukey {
        /// Tapered fraction of the half-aperture.
        alpha: f64,
    },
}

/// Window code seen by the kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowCode {
    Rect,
    Hann,
    Hamming,
    Tukey,
}

/// The kernels' form of a window: `(code, flat part 1 − α, 1 / α)` (the last two for Tukey only).
/// Without an F-number there is no aperture to window, so the window is rectangular.
pub(crate) fn window_code(f_number: Option<f64>, window: Window) -> Result<(WindowCode, f32, f32)> {
    Ok(match (f_number, window) {
        (None, _) | (_, Window::Rectangular) => (WindowCode::Rect, 1.0, 1.0),
        (_, Window::Hann) => (WindowCode::Hann, 1.0, 1.0),
        (_, Window::Hamming) => (WindowCode::Hamming, 1.0, 1.0),
        (_, Window::Tukey { alpha }) => {
            in_range("window.alpha", alpha, 0.0, 1.0)?;
            if alpha == 0.0 {
                (WindowCode::Rect, 1.0, 1.0)
            } else {
                (WindowCode::Tukey, (1.0 - alpha) as f32, (1.0 / alpha) as f32)
            }
        }
    })
}

/// `cos(π·u/2)` as a polynomial in `s = u²` (`u ∈ [0, 1]`, error < 1e-8). Shared by all kernels.
#[inline(always)]
pub(crate) fn cos_half_pi_sq(s: f32) -> f32 {
    let mut c = COS_HALF_PI_POLY[0];
    for &k in &COS_HALF_PI_POLY[1..] {
        c = c * s + k;
    }
    c
}

/// Taylor coefficients of `cos(π u / 2)` in `u²`, highest first.
pub(crate) const COS_HALF_PI_POLY: [f32; 7] = [
    4.710_874_8e-7,
    -2.520_204_2e-5,
    9.192_602_7e-4,
    -2.086_348e-2,
    2.536_695e-1,
    -1.233_700_6,
    1.0,
];

/// Window weight at `u2 = u²` (the caller checks `u2 ≤ 1`), for the window `code` with the Tukey
/// parameters `flat` and `inv_alpha`. Shared by all kernels' scalar code.
#[inline(always)]
pub(crate) fn window_weight(code: WindowCode, flat: f32, inv_alpha: f32, u2: f32) -> f32 {
    match code {
        WindowCode::Rect => 1.0,
        WindowCode::Hann => {
            let c = cos_half_pi_sq(u2);
            c * c
        }
        WindowCode::Hamming => {
            let c = cos_half_pi_sq(u2);
            0.08 + 0.92 * (c * c)
        }
        WindowCode::Tukey => {
            let v = ((u2.sqrt() - flat) * inv_alpha).max(0.0);
            let c = cos_half_pi_sq(v * v);
            c * c
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polynomial_is_accurate() {
        for i in 0..=100 {
            let u = i as f32 / 100.0;
            let c = cos_half_pi_sq(u * u);
            assert!((c - (std::f32::consts::FRAC_PI_2 * u).cos()).abs() < 2e-6, "{u}");
        }
    }

    /// Each window against its closed form (`u` from the centre to the edge).
    #[test]
    fn windows_match_their_definitions() {
        use std::f64::consts::PI;
        for i in 0..=20 {
            let u = i as f64 / 20.0;
            let u2 = (u * u) as f32;
            let w = |win| {
                let (c, f, a) = window_code(Some(1.5), win).unwrap();
                window_weight(c, f, a, u2) as f64
            };
            assert!((w(Window::Rectangular) - 1.0).abs() < 1e-6);
            assert!((w(Window::Hann) - (PI * u / 2.0).cos().powi(2)).abs() < 1e-5, "{u}");
            assert!(
                (w(Window::Hamming) - (0.54 + 0.46 * (PI * u).cos())).abs() < 1e-5,
                "{u}"
            );
            let alpha = 0.5;
            let tukey = if u <= 1.0 - alpha {
                1.0
            } else {
                (PI * (u - (1.0 - alpha)) / (2.0 * alpha)).cos().powi(2)
            };
            assert!((w(Window::Tukey { alpha }) - tukey).abs() < 1e-5, "{u}");
        }
        assert!(window_code(Some(1.0), Window::Tukey { alpha: 2.0 }).is_err());
        assert_eq!(window_code(None, Window::Hann).unwrap().0, WindowCode::Rect);
    }
}
