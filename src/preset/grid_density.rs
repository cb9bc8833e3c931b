//! Beamforming grids sampled from the physics: how many lines and depth samples an acquisition
//! resolves, so that a live preset beamforms no more points than its aperture and bandwidth can
//! tell apart and lets scan conversion interpolate to the display raster.
//!
//! The derivation (`docs/physics.md`, "Beamforming grids from the physics"):
//!
//! * **Axial.** Along a line, the beamformed IQ image brought to baseband (the carrier removed)
//!   occupies the pulse-echo band shifted to zero, and the clutter inside dark regions fills it to
//!   its edges: two-sided width `B` = the band to −20 dB (`fractional_bandwidth · fc · √(20/6)`
//!   for a Gaussian spectrum), at most the demodulator's pass band `1.8·fc`. A complex signal of
//!   two-sided width `B` Hz is sampled without aliasing when the spacing in two-way travel time
//!   is at most `1/B`, that is `Δd ≤ c / (2·B)`; the grid uses `Δd = c / (2·B·m_axial)`.
//! * **Lateral.** A receive channel seen from a pixel at angle `ψ` off the line's normal adds the
//!   lateral spatial frequency `sin ψ / λ`; a transmitted wave travelling at angle `φ` adds
//!   `sin φ / λ`. The image's lateral spectrum at the pixel reaches
//!   `f_max = max(|max sin ψ + max sin φ|, |min sin ψ + min sin φ|) / λ` over the channels the
//!   beamformer uses there (F-number aperture and acceptance angle) and the transmits compounded,
//!   and a complex signal needs spacing `≤ 1 / (2·f_max)`. The grid uses
//!   `Δx = 1 / (2·f_max·m_lateral)` at the pixel where that is smallest, in metres on a Cartesian
//!   grid and in radians (divided by the radius from the apex) on a sector or curved grid.
//!   `λ = c / fc`: the upper half of the band is covered by the margin `m_lateral`.
//!
//! Scan conversion interpolates the grid with cubic (Catmull-Rom) weights, so the margins can stay
//! near 1. They are measured: with [`GridDensity::DERIVED`] every preset's images on the derived
//! grid lie as close to images beamformed directly at every display pixel as those of the dense
//! grids of the benchmark workloads do (`tests/derived_grids.rs`).

use crate::error::{Error, Result, plausible};
use crate::probe::Aperture;
use crate::sequence::Sequence;

/// Points across the field of view, and depths, at which the lateral bound is evaluated.
const PROBE_LATERAL: usize = 17;
const PROBE_DEPTHS: usize = 48;

/// Largest line or depth count a derived grid may have (the preset's bound).
pub const MAX_DERIVED_SAMPLES: usize = 4096;

/// How dense a preset's beamforming grid is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GridDensity {
    /// Sampled from the physics (see `docs/physics.md`, "Beamforming grids from the physics"): axial spacing from the IQ
    /// bandwidth, lateral spacing from the two-way aperture, each divided by its oversampling
    /// margin (≥ 1).
    Derived {
        /// Axial oversampling over the Nyquist spacing of the −20 dB IQ band.
        axial: f64,
        /// Lateral oversampling over the Nyquist spacing of the two-way aperture at `fc`.
        lateral: f64,
    },
    /// A fixed number of lines and depth samples (1–4096 each), such as the dense grids of the
    /// benchmark workloads.
    Fixed {
        /// Image lines (x positions, rays or beams).
        lines: usize,
        /// Depth samples per line.
        depth_samples: usize,
    },
}

impl GridDensity {
    /// The built-in presets' margins, those the proof test (`tests/derived_grids.rs`) needs: 1.0
    /// axially (the −20 dB band is itself a margin over the −6 dB one), 1.25 laterally.
    pub const DERIVED: GridDensity = GridDensity::Derived {
        axial: 1.0,
        lateral: 1.25,
    };

    /// Checks the counts or margins (named `grid.lines`, `grid.depth_samples`, `grid.axial`,
    /// `grid.lateral`).
    pub fn validate(&self) -> Result<()> {
        match *self {
            GridDensity::Derived { axial, lateral } => {
                plausible("grid.axial", axial, 1.0, 8.0, "(oversampling factor)")?;
                plausible("grid.lateral", lateral, 1.0, 8.0, "(oversampling factor)")?;
            }
            GridDensity::Fixed { lines, depth_samples } => {
                for (name, n) in [("grid.lines", lines), ("grid.depth_samples", depth_samples)] {
                    if !(1..=MAX_DERIVED_SAMPLES).contains(&n) {
                        return Err(Error::invalid(name, "1..=4096", n));
                    }
                }
            }
        }
        Ok(())
    }
}

/// What the lateral bound needs to know about the field of view and the receive aperture.
pub(crate) struct Field {
    /// Grid geometry: `None` for Cartesian (lateral = x), `Some(apex z)` for a sector or curved
    /// grid whose rays leave the apex `(0, 0, apex_z)` (lateral = normal to the ray).
    pub apex_z_m: Option<f64>,
    /// Lateral extent: x range (Cartesian) or angle range in radians (sector).
    pub lateral: (f64, f64),
    /// Depth range along the lines, metres from the probe face (Cartesian z; sector: radius
    /// from the apex minus the apex distance).
    pub depths_m: (f64, f64),
    pub f_number: Option<f64>,
    pub acceptance_rad: Option<f64>,
    pub fc_hz: f64,
    pub bandwidth_hz: f64,
    pub c_m_s: f64,
}

impl Field {
    /// `(lines, depth_samples)` of the derived grid with margins `m_axial`, `m_lateral`.
    pub fn counts(&self, aperture: &Aperture, sequence: &Sequence, m_axial: f64, m_lateral: f64) -> (usize, usize) {
        let (d0, d1) = self.depths_m;
        let dd = self.c_m_s / (2.0 * self.bandwidth_hz * m_axial);
        let depths = ((d1 - d0) / dd).ceil() as usize + 1;
        let lambda = self.c_m_s / self.fc_hz;
        let mut step = f64::INFINITY;
        for i in 0..PROBE_DEPTHS {
            let d = d0 + (d1 - d0) * i as f64 / (PROBE_DEPTHS - 1) as f64;
            for j in 0..PROBE_LATERAL {
                let l = self.lateral.0 + (self.lateral.1 - self.lateral.0) * j as f64 / (PROBE_LATERAL - 1) as f64;
                let (p, u, scale) = match self.apex_z_m {
                    None => ([l, 0.0, d], [1.0, 0.0, 0.0], 1.0),
                    Some(az) => {
                        let r = d - az;
                        ([r * l.sin(), 0.0, az + r * l.cos()], [l.cos(), 0.0, -l.sin()], 1.0 / r)
                    }
                };
                let Some(f_max) = self.f_max(aperture, sequence, p, u) else {
                    continue;
                };
                step = step.min(scale * lambda / (2.0 * f_max * m_lateral));
            }
        }
        let span = self.lateral.1 - self.lateral.0;
        let lines = if step.is_finite() {
            (span / step).ceil() as usize + 1
        } else {
            2
        };
        (lines.max(2), depths.max(2))
    }

    /// `λ·f_max` at `p` for the lateral direction `u`: the largest |sum of the extreme sines| of
    /// the receive channels used at `p` and the transmitted waves; `None` where no channel is used.
    fn f_max(&self, aperture: &Aperture, sequence: &Sequence, p: [f64; 3], u: [f64; 3]) -> Option<f64> {
        let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
        let unit = |a: [f64; 3], b: [f64; 3]| {
            let v = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
            let n = dot(v, v).sqrt();
            (n > 0.0).then(|| [v[0] / n, v[1] / n, v[2] / n])
        };
        let (mut rx_lo, mut rx_hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for ch in aperture.channels() {
            let e = ch.position_m;
            if let Some(f) = self.f_number
                && (e[0] - p[0]).hypot(e[1] - p[1]) > p[2] / (2.0 * f)
            {
                continue;
            }
            let Some(v) = unit(p, e) else { continue };
            if let Some(a) = self.acceptance_rad
                && -dot(v, ch.normal) < a.cos()
            {
                continue;
            }
            // The receive path |p − e| changes along u at the rate −v·u.
            let s = -dot(v, u);
            rx_lo = rx_lo.min(s);
            rx_hi = rx_hi.max(s);
        }
        if rx_lo > rx_hi {
            return None;
        }
        // Transmit: the local direction of each wave, from the gradient of its arrival time.
        let (mut tx_lo, mut tx_hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let h = 1e-6;
        for ev in sequence.events() {
            let t = |q: [f64; 3]| ev.arrival_time_s(q);
            let g: Vec<f64> = (0..3)
                .map(|k| {
                    let (mut a, mut b) = (p, p);
                    a[k] += h;
                    b[k] -= h;
                    (t(a) - t(b)) / (2.0 * h)
                })
                .collect();
            let n = (g[0] * g[0] + g[1] * g[1] + g[2] * g[2]).sqrt();
            if !(n.is_finite() && n > 0.0) {
                continue;
            }
            // The wave travels along +∇τ; its lateral sine is that direction's component on u.
            let s = (g[0] * u[0] + g[1] * u[1] + g[2] * u[2]) / n;
            tx_lo = tx_lo.min(s);
            tx_hi = tx_hi.max(s);
        }
        if tx_lo > tx_hi {
            (tx_lo, tx_hi) = (0.0, 0.0);
        }
        Some((rx_hi + tx_hi).abs().max((rx_lo + tx_lo).abs()))
    }
}
