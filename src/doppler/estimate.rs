//! Mean axial velocity, power and spectral width of flow from a slow-time ensemble, by
//! autocorrelation: the Kasai estimator (lag one in slow time, demodulation frequency as the
//! carrier) and the Loupas 2-D autocorrelator (lag one in slow time and in depth, so that the
//! carrier is the echoes' own mean frequency, which attenuation lowers with depth).
//!
//! A scatterer moving at axial velocity `v` toward the probe advances its baseband phase by
//! `4π·f·v/c` per firing (`f` the echo frequency, `c` the sound speed), i.e. a Doppler frequency
//! `f_D = 2·v·f/c`. The lag-one slow-time autocorrelation `R(1,0) = Σ_k x[k+1]·conj(x[k])` has
//! the phase `2π·f_D/PRF`, so `v = c·PRF·arg R(1,0) / (4π·f)`. Phases are known modulo `2π`:
//! beyond the Nyquist velocity `v_N = c·PRF/(4·f)` an estimate wraps to `v − 2·v_N`.

use crate::error::{Error, Result, plausible};
use ndarray::{Array2, ArrayView3, ArrayViewMut2, Axis, Zip};
use num_complex::{Complex32, Complex64};
use std::f64::consts::PI;

/// The longest ensemble (firings per estimate) the doppler functions accept. Longer ones are
/// refused (named `ens`), which bounds every allocation that depends on the ensemble length.
pub const MAX_ENSEMBLE: usize = 1024;

/// The largest averaging window, in lines or in depth samples.
pub const MAX_AVERAGE: usize = 129;

/// Checks an ensemble's shape `[n, lines, depths]`: no empty axis, `min_n ≤ n ≤ MAX_ENSEMBLE`.
pub(super) fn check_ensemble(shape: &[usize], min_n: usize) -> Result<()> {
    if shape.contains(&0) {
        return Err(Error::empty(
            "ens",
            format!("at least one firing, line and depth (got shape {shape:?})"),
        ));
    }
    if shape[0] < min_n || shape[0] > MAX_ENSEMBLE {
        return Err(Error::invalid(
            "ens",
            format!("an ensemble of {min_n}..={MAX_ENSEMBLE} firings"),
            shape[0],
        ));
    }
    Ok(())
}

/// The Nyquist velocity `c·PRF/(4·f0)`, in m/s: the largest axial speed whose lag-one phase
/// stays within `±π` at a slow-time rate `prf_hz` and carrier `f0_hz`.
///
/// Errors: `prf_hz` outside 1 Hz–1 MHz, `f0_hz` outside 100 kHz–1 GHz, `c_m_s` outside
/// 100–10,000 m/s (named).
pub fn nyquist_velocity_m_s(prf_hz: f64, f0_hz: f64, c_m_s: f64) -> Result<f64> {
    plausible("prf_hz", prf_hz, 1.0, 1e6, "Hz")?;
    plausible("f0_hz", f0_hz, 1e5, 1e9, "Hz")?;
    plausible("c_m_s", c_m_s, 100.0, 1e4, "m/s")?;
    Ok(c_m_s * prf_hz / (4.0 * f0_hz))
}

/// The velocity along the flow from the axial velocity `v_axial` (m/s) and the angle between the
/// beam and the flow: `v_axial / cos θ`.
///
/// Errors: a non-finite `v_axial`; a non-finite angle or one within 1° of ±90° (where `cos θ`
/// vanishes and any noise is amplified without bound), named `beam_to_flow_angle_rad`.
pub fn angle_corrected(v_axial: f64, beam_to_flow_angle_rad: f64) -> Result<f64> {
    crate::error::finite("v_axial", v_axial)?;
    Ok(v_axial / angle_cosine(beam_to_flow_angle_rad)?)
}

/// [`angle_corrected`] applied in place to a velocity map (m/s), with one angle for the whole
/// map. Errors as [`angle_corrected`] for the angle; non-finite velocities stay non-finite.
pub fn angle_correct_map(mut velocity_m_s: ArrayViewMut2<'_, f32>, beam_to_flow_angle_rad: f64) -> Result<()> {
    let k = (1.0 / angle_cosine(beam_to_flow_angle_rad)?) as f32;
    velocity_m_s.mapv_inplace(|v| v * k);
    Ok(())
}

fn angle_cosine(theta: f64) -> Result<f64> {
    let c = theta.cos();
    if theta.is_finite() && c.abs() >= 1f64.to_radians().sin() {
        Ok(c)
    } else {
        Err(Error::invalid(
            "beam_to_flow_angle_rad",
            "a finite angle at least 1° away from ±90° (|cos θ| ≥ sin 1°)",
            theta,
        ))
    }
}

/// Which autocorrelation estimator turns the slow-time phase into a velocity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Lag one in slow time; the carrier is the demodulation frequency.
    Kasai,
    /// Lag one in slow time and in depth; the carrier is the mean echo frequency measured on
    /// the ensemble itself (one more complex multiply-add per sample).
    Loupas,
}

/// A colour-flow estimator: slow-time rate, carrier, sound speed, depth spacing, method and
/// spatial averaging window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorEstimator {
    /// Slow-time sampling rate (rate of whole transmit sequences), Hz.
    pub prf_hz: f64,
    /// Frequency the ensemble was brought to baseband with, Hz.
    pub f_demod_hz: f64,
    /// Sound speed, m/s.
    pub c_m_s: f64,
    /// Depth spacing of the image grid, m (used by [`Method::Loupas`] only, checked always).
    pub axial_step_m: f64,
    /// Estimator.
    pub method: Method,
    /// Averaging window `(lines, depths)`, odd sizes `1..=MAX_AVERAGE`, centred on each pixel
    /// and clipped at the image edges; `(1, 1)` is no averaging.
    pub average: (usize, usize),
}

/// Colour-flow maps, each `[lines, depths]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColorMaps {
    /// Mean axial velocity, m/s, positive toward the probe.
    pub velocity_m_s: Array2<f32>,
    /// Mean power `|x|²` over the firings and the window.
    pub power: Array2<f32>,
    /// Normalised spectral width `1 − |R(1,0)|/R(0,0)` (both as means per product), in `[0, 1]`.
    pub variance: Array2<f32>,
    /// Carrier used for the velocity, Hz: `f_demod_hz` for Kasai, the measured mean echo
    /// frequency for Loupas.
    pub mean_freq_hz: Array2<f32>,
}

impl ColorMaps {
    /// Zeroed maps for `lines × depths` pixels (for [`ColorEstimator::estimate_into`]).
    pub fn zeros(lines: usize, depths: usize) -> ColorMaps {
        ColorMaps {
            velocity_m_s: Array2::zeros((lines, depths)),
            power: Array2::zeros((lines, depths)),
            variance: Array2::zeros((lines, depths)),
            mean_freq_hz: Array2::zeros((lines, depths)),
        }
    }
}

/// Depth samples processed together: the window sums of one output line are built for this many
/// depths (plus the window's margins) in fixed-size stack buffers.
const CHUNK: usize = 64;
const BUF: usize = CHUNK + MAX_AVERAGE; // CHUNK + 2·(MAX_AVERAGE/2) + 1

impl ColorEstimator {
    /// Checks every field. Errors (named): `prf_hz` outside 1 Hz–1 MHz, `f_demod_hz` outside
    /// 100 kHz–1 GHz, `c_m_s` outside 100–10,000 m/s, `axial_step_m` outside 100 nm–10 mm,
    /// `average` with an even, zero or larger than `MAX_AVERAGE` size.
    pub fn validate(&self) -> Result<()> {
        plausible("prf_hz", self.prf_hz, 1.0, 1e6, "Hz")?;
        plausible("f_demod_hz", self.f_demod_hz, 1e5, 1e9, "Hz")?;
        plausible("c_m_s", self.c_m_s, 100.0, 1e4, "m/s")?;
        plausible("axial_step_m", self.axial_step_m, 1e-7, 1e-2, "m")?;
        let (a, b) = self.average;
        for s in [a, b] {
            if s == 0 || s % 2 == 0 || s > MAX_AVERAGE {
                return Err(Error::invalid(
                    "average",
                    format!("odd window sizes in 1..={MAX_AVERAGE}"),
                    format!("{:?}", self.average),
                ));
            }
        }
        Ok(())
    }

    /// The Nyquist velocity at the demodulation frequency, m/s. Errors as [`validate`](Self::validate).
    pub fn nyquist_velocity_m_s(&self) -> Result<f64> {
        self.validate()?;
        nyquist_velocity_m_s(self.prf_hz, self.f_demod_hz, self.c_m_s)
    }

    /// Estimates the colour maps of `ens` (`[firings, lines, depths]`), allocating them.
    /// Errors as [`estimate_into`](Self::estimate_into).
    pub fn estimate(&self, ens: ArrayView3<'_, Complex32>) -> Result<ColorMaps> {
        self.validate()?;
        check_ensemble(ens.shape(), 2)?;
        let mut out = ColorMaps::zeros(ens.shape()[1], ens.shape()[2]);
        self.estimate_into(ens, &mut out)?;
        Ok(out)
    }

    /// Estimates the colour maps of `ens` into `out`, whose maps must be `[lines, depths]`;
    /// allocates nothing. In parallel over lines; every pixel's sums run in a fixed order, so the
    /// result does not depend on the thread count. Sums are in `f64`. A pixel whose window holds
    /// no power gets velocity 0 and variance 0; non-finite samples give non-finite outputs.
    ///
    /// For Loupas, the depth lag pairs `(d, d+1)` inside the window (at the last depth, the pair
    /// before it) give `R(0,1)` and `f_mean = f_demod + c·arg R(0,1)/(4π·axial_step)`; where this
    /// is not above `f_demod/4` (no signal, or noise), `f_demod` is used instead.
    ///
    /// Cost: per pixel `3·n·w_lines` complex multiply-adds (4 for Loupas) plus `w_depths` window
    /// additions, `n` the ensemble length. Errors: the fields as [`validate`](Self::validate);
    /// `ens` empty, or with fewer than 2 or more than [`MAX_ENSEMBLE`] firings; an output map of
    /// another shape (named `out.velocity_m_s`, `out.power`, `out.variance`, `out.mean_freq_hz`).
    pub fn estimate_into(&self, ens: ArrayView3<'_, Complex32>, out: &mut ColorMaps) -> Result<()> {
        self.validate()?;
        check_ensemble(ens.shape(), 2)?;
        let (n, lines, depths) = ens.dim();
        for (name, m) in [
            ("out.velocity_m_s", &out.velocity_m_s),
            ("out.power", &out.power),
            ("out.variance", &out.variance),
            ("out.mean_freq_hz", &out.mean_freq_hz),
        ] {
            if m.dim() != (lines, depths) {
                return Err(Error::shape(
                    name,
                    format!("[{lines}, {depths}] (lines, depths of the ensemble)"),
                    format!("{:?}", m.shape()),
                ));
            }
        }
        let loupas = self.method == Method::Loupas;
        let (hl, hd) = (self.average.0 / 2, self.average.1 / 2);
        let kasai_scale = self.c_m_s * self.prf_hz / (4.0 * PI);
        let depth_scale = self.c_m_s / (4.0 * PI * self.axial_step_m);
        let f_demod = self.f_demod_hz;
        let zero = Complex64::new(0.0, 0.0);
        Zip::indexed(out.velocity_m_s.rows_mut())
            .and(out.power.rows_mut())
            .and(out.variance.rows_mut())
            .and(out.mean_freq_hz.rows_mut())
            .par_for_each(|l, mut vel, mut pow, mut var, mut fm| {
                let (l0, l1) = (l.saturating_sub(hl), (l + hl).min(lines - 1));
                let window_lines = (l1 - l0 + 1) as f64;
                let mut r0 = [0.0f64; BUF];
                let mut r1 = [zero; BUF];
                let mut rd = [zero; BUF];
                for d0 in (0..depths).step_by(CHUNK) {
                    let d1 = (d0 + CHUNK).min(depths);
                    // Input depths [a, b) cover every window of the chunk and, one depth before
                    // it, the depth pair used at the last depth.
                    let a = d0.saturating_sub(hd + 1);
                    let b = (d1 + hd).min(depths);
                    let w = b - a;
                    r0[..w].fill(0.0);
                    r1[..w].fill(zero);
                    rd[..w].fill(zero);
                    for m in l0..=l1 {
                        let plane = ens.index_axis(Axis(1), m);
                        for k in 0..n {
                            let row = plane.row(k);
                            let next = plane.row((k + 1).min(n - 1));
                            for j in 0..w {
                                let x = c64(row[a + j]);
                                r0[j] += x.norm_sqr();
                                if k + 1 < n {
                                    r1[j] += c64(next[a + j]) * x.conj();
                                }
                                if loupas && a + j + 1 < depths {
                                    rd[j] += c64(row[a + j + 1]) * x.conj();
                                }
                            }
                        }
                    }
                    for d in d0..d1 {
                        let (lo, hi) = (d.saturating_sub(hd) - a, (d + hd).min(depths - 1) - a);
                        let pixels = (hi - lo + 1) as f64 * window_lines;
                        let s0: f64 = r0[lo..=hi].iter().sum();
                        let s1: Complex64 = r1[lo..=hi].iter().sum();
                        let p0 = s0 / (n as f64 * pixels);
                        let p1 = s1.norm() / ((n - 1) as f64 * pixels);
                        let mut f = f_demod;
                        if loupas && depths > 1 {
                            // Pairs (j, j+1) with j in the window and j + 1 inside the image.
                            let top = (d + hd).min(depths - 2);
                            let bottom = d.saturating_sub(hd).min(top);
                            let sd: Complex64 = rd[bottom - a..=top - a].iter().sum();
                            let fe = f_demod + depth_scale * sd.arg();
                            if fe > 0.25 * f_demod {
                                f = fe;
                            }
                        }
                        let i = d;
                        vel[i] = (kasai_scale * s1.arg() / f) as f32;
                        pow[i] = p0 as f32;
                        var[i] = if p0 > 0.0 { (1.0 - p1 / p0).clamp(0.0, 1.0) as f32 } else { 0.0 };
                        fm[i] = f as f32;
                    }
                }
            });
        Ok(())
    }
}

#[inline(always)]
fn c64(z: Complex32) -> Complex64 {
    Complex64::new(f64::from(z.re), f64::from(z.im))
}
