//! A flat specular interface parallel to the probe face and its reverberations, as coherent lines
//! of point scatterers (`docs/physics.md#propagation-effects`).
//!
//! # Model
//!
//! A mirror at depth `d` with amplitude reflection coefficient `R` returns, to a point-like element
//! on the probe face, the wave of an image source at `2d`: amplitude `R / (2d)` in the simulator's
//! units (where a point scatterer of amplitude `a` at range `r` returns `a / r²`). The simulator
//! knows only point scatterers (Born approximation), so the interface is a line of scatterers in
//! the image plane (`y = 0`) at depth `d`, spaced `Δx = λ/4` (no grating echo at any angle in the
//! band), summed coherently. By stationary phase, the line returns
//! `(a / Δx) · √(λ·d / 2) / d²` at `fc`, so each scatterer has
//!
//! `a = R · Δx · √(d / (2λ))`
//!
//! (times [`SpecularInterface::units_per_m`], the conversion into the phantom's amplitude units).
//!
//! **Reverberation.** The interface's echo bounces off the probe face (reflection `R_p`) and back
//! down: the `k`-th arrival has met the interface `k` times and the face `k − 1` times, and
//! travelled `2k·d`. Unfolding the path, it is the echo of a mirror at `k·d` with coefficient
//! `R^k · R_p^(k−1)`, for any pair of transmit and receive elements on the face (the unfolded
//! path from element `i` to element `j` crosses depth `k·d` half way, and its real reflection points
//! lie between the two elements). So the `k`-th reverberation is an image line at `k·d` with that
//! coefficient: echoes at round-trip times `2k·d / c`, falling per repeat by
//! `20·log10|R·R_p| + 20·log10(k/(k+1))` dB (spreading of the image sources) plus one more round
//! trip's attenuation through the tissue above. The simulator attenuates a scatterer along the
//! straight ray to it, which for an image line crosses the region *beneath* the interface: that
//! region's attenuation must be the tissue above's (for an air interface, where nothing is
//! transmitted and nothing lies beneath, this is a modelling device, not a claim about air).
//!
//! **Approximations** (stated so the numbers can be judged): the line lies in `y = 0`, so its
//! echo is the plane's for an element without elevation focusing; an elevation lens changes the
//! level of each line by its gain at that depth. The line's stationary-phase sum carries a factor
//! `√λ` (a spectral tilt `f^(−1/2)`, about a 9 % lower centre frequency for a 100 % band) and a
//! −45° phase that a plane's echo has not; the level is exact at `fc`. The ends are tapered (Hann,
//! [`SpecularInterface::taper_m`]) so that they do not ring as point targets. Transmission losses
//! across the interface and multiple scattering of anything else are not modelled.

use super::{MAX_EXTENT_M, MAX_SCATTERERS, Phantom, Scatterer};
use crate::error::{Error, Result, in_range, non_negative, plausible, positive};

/// Most reverberations a [`SpecularInterface`] may model.
pub const MAX_REVERBERATIONS: usize = 64;

/// A specular interface at a depth, parallel to the probe face (`z = 0`), and its reverberations
/// with the face. Plain data; [`SpecularInterface::phantom`] validates it and makes the
/// scatterers. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpecularInterface {
    /// Depth of the interface, metres (> 0).
    pub depth_m: f64,
    /// Lateral extent of the interface (and of its images), metres.
    pub x_range_m: (f64, f64),
    /// Amplitude reflection coefficient of the interface, −1 to 1 (soft tissue to air: −0.9995).
    pub reflection: f64,
    /// Amplitude reflection coefficient of the probe face, −1 to 1 (0: no reverberation).
    pub probe_reflection: f64,
    /// Reverberations after the interface's own echo (image lines at 2d, 3d, …), at most
    /// [`MAX_REVERBERATIONS`].
    pub reverberations: usize,
    /// Width of the Hann taper at each end of the lines, metres (≥ 0).
    pub taper_m: f64,
    /// Phantom amplitude units per metre of the scatterers' physical amplitude (> 0): sets the
    /// interface's level against the phantom's speckle, whose unit is arbitrary.
    pub units_per_m: f64,
}

impl SpecularInterface {
    /// The scatterers of the interface and its image lines for a pulse of centre frequency `fc_hz`
    /// in a medium of speed of sound `c_m_s` (the spacing is `λ/4` and the level is calibrated at
    /// `fc`). Errors (`InvalidParameter` naming the field): a depth, range or taper outside the
    /// phantom's extent, coefficients outside −1..1, too many reverberations or scatterers, or
    /// amplitudes beyond the phantom's limit.
    pub fn phantom(&self, fc_hz: f64, c_m_s: f64) -> Result<Phantom> {
        plausible("fc_hz", fc_hz, 1e5, 1e8, "Hz")?;
        plausible("c_m_s", c_m_s, 300.0, 5000.0, "m/s")?;
        plausible("depth_m", self.depth_m, 0.0, MAX_EXTENT_M, "m")?;
        positive("depth_m", self.depth_m)?;
        for v in [self.x_range_m.0, self.x_range_m.1] {
            plausible("x_range_m", v, -MAX_EXTENT_M, MAX_EXTENT_M, "m")?;
        }
        positive("x_range_m", self.x_range_m.1 - self.x_range_m.0)?;
        in_range("reflection", self.reflection, -1.0, 1.0)?;
        in_range("probe_reflection", self.probe_reflection, -1.0, 1.0)?;
        non_negative("taper_m", self.taper_m)?;
        plausible("taper_m", self.taper_m, 0.0, MAX_EXTENT_M, "m")?;
        positive("units_per_m", self.units_per_m)?;
        if self.reverberations > MAX_REVERBERATIONS {
            return Err(Error::invalid(
                "reverberations",
                format!("at most {MAX_REVERBERATIONS}"),
                self.reverberations,
            ));
        }
        let images = self.reverberations + 1;
        if images as f64 * self.depth_m > MAX_EXTENT_M {
            return Err(Error::invalid(
                "reverberations",
                format!("image lines within {MAX_EXTENT_M} m ((reverberations + 1) × depth_m)"),
                self.reverberations,
            ));
        }
        let lambda = c_m_s / fc_hz;
        let dx = lambda / 4.0;
        let (x0, x1) = self.x_range_m;
        let n = ((x1 - x0) / dx).floor() as usize + 1;
        if n.saturating_mul(images) > MAX_SCATTERERS {
            return Err(Error::invalid(
                "x_range_m",
                format!("at most {MAX_SCATTERERS} scatterers (λ/4 spacing × lines)"),
                n.saturating_mul(images),
            ));
        }
        let taper = |x: f64| {
            let edge = (x - x0).min(x1 - x);
            if edge >= self.taper_m {
                1.0
            } else {
                0.5 * (1.0 - (std::f64::consts::PI * edge / self.taper_m).cos())
            }
        };
        let mut scatterers = Vec::with_capacity(n * images);
        for k in 1..=images {
            let d = k as f64 * self.depth_m;
            let r = self.reflection.powi(k as i32) * self.probe_reflection.powi(k as i32 - 1);
            let a = self.units_per_m * r * dx * (d / (2.0 * lambda)).sqrt();
            scatterers.extend((0..n).map(|j| x0 + j as f64 * dx).filter_map(|x| {
                let amp = (a * taper(x)) as f32;
                (amp != 0.0).then_some(Scatterer {
                    position_m: [x, 0.0, d],
                    amplitude: amp,
                })
            }));
        }
        Phantom::new(scatterers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pleura() -> SpecularInterface {
        SpecularInterface {
            depth_m: 0.02,
            x_range_m: (-0.01, 0.01),
            reflection: -0.9,
            probe_reflection: 0.5,
            reverberations: 2,
            taper_m: 0.002,
            units_per_m: 1.0,
        }
    }

    #[test]
    fn lines_at_multiples_of_the_depth_with_the_products_of_the_coefficients() {
        let ph = pleura().phantom(3e6, 1540.0).unwrap();
        let lambda = 1540.0 / 3e6;
        let centre = |k: f64| {
            ph.scatterers()
                .iter()
                .filter(|s| (s.position_m[2] - k * 0.02).abs() < 1e-9)
                .map(|s| s.amplitude as f64)
                .fold(0.0f64, |m, a| if a.abs() > m.abs() { a } else { m })
        };
        for (k, r) in [(1.0f64, -0.9f64), (2.0, 0.81 * 0.5), (3.0, -0.729 * 0.25)] {
            let want = r * lambda / 4.0 * (k * 0.02 / (2.0 * lambda)).sqrt();
            assert!(
                (centre(k) - want).abs() < 1e-6 * want.abs(),
                "{k}: {} vs {want}",
                centre(k)
            );
        }
        assert_eq!(ph.len() % 3, 0);
    }

    #[test]
    fn bad_interfaces_name_the_field() {
        let e = SpecularInterface {
            depth_m: 20.0,
            ..pleura()
        }
        .phantom(3e6, 1540.0)
        .unwrap_err();
        assert_eq!(e.parameter(), Some("depth_m"), "{e}");
        let e = SpecularInterface {
            reflection: 1.5,
            ..pleura()
        }
        .phantom(3e6, 1540.0)
        .unwrap_err();
        assert_eq!(e.parameter(), Some("reflection"), "{e}");
        let e = SpecularInterface {
            reverberations: 1000,
            ..pleura()
        }
        .phantom(3e6, 1540.0)
        .unwrap_err();
        assert_eq!(e.parameter(), Some("reverberations"), "{e}");
        let e = SpecularInterface {
            x_range_m: (0.01, -0.01),
            ..pleura()
        }
        .phantom(3e6, 1540.0)
        .unwrap_err();
        assert_eq!(e.parameter(), Some("x_range_m"), "{e}");
    }
}
