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
                        var[i] = if p0 > 0.0 {
                            (1.0 - p1 / p0).clamp(0.0, 1.0) as f32
                        } else {
                            0.0
                        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A complex Gaussian sample of total power `power` (Box–Muller).
    fn cgauss(rng: &mut ChaCha8Rng, power: f64) -> Complex64 {
        let r = (-(1.0 - rng.random::<f64>()).ln() * power).sqrt();
        Complex64::from_polar(r, 2.0 * PI * rng.random::<f64>())
    }

    fn est(method: Method, average: (usize, usize)) -> ColorEstimator {
        ColorEstimator {
            prf_hz: 5000.0,
            f_demod_hz: 5e6,
            c_m_s: 1540.0,
            axial_step_m: 50e-6,
            method,
            average,
        }
    }

    /// `x[k] = exp(i·(2π·f·k + φ_pixel))` plus complex noise of power `noise`, `f` in cycles per
    /// firing.
    fn tone(n: usize, lines: usize, depths: usize, f: f64, noise: f64, seed: u64) -> Array3<Complex32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let phases: Vec<f64> = (0..lines * depths).map(|_| 2.0 * PI * rng.random::<f64>()).collect();
        Array3::from_shape_fn((n, lines, depths), |(k, l, d)| {
            let z =
                Complex64::from_polar(1.0, 2.0 * PI * f * k as f64 + phases[l * depths + d]) + cgauss(&mut rng, noise);
            Complex32::new(z.re as f32, z.im as f32)
        })
    }

    /// Kasai within 3 % of the true velocity from 0.1 to 0.9 v_N (SNR 20 dB, 16 firings, 3 × 3
    /// window), of either sign; beyond v_N the estimate is the aliased `v − 2·v_N`; power and
    /// variance as for a tone in weak noise.
    #[test]
    fn kasai_velocity_sign_and_aliasing() {
        let e = est(Method::Kasai, (3, 3));
        let vn = e.nyquist_velocity_m_s().unwrap();
        assert!((vn - 1540.0 * 5000.0 / (4.0 * 5e6)).abs() < 1e-12);
        let mut worst = 0.0f64;
        for (i, frac) in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, -0.5, 1.3, -1.4]
            .into_iter()
            .enumerate()
        {
            // v = frac·v_N  ⟺  f_D = 2·v·f0/c = frac·PRF/2.
            let ens = tone(16, 4, 8, frac / 2.0, 0.01, i as u64);
            let maps = e.estimate(ens.view()).unwrap();
            let want = if frac > 1.0 {
                (frac - 2.0) * vn
            } else if frac < -1.0 {
                (frac + 2.0) * vn
            } else {
                frac * vn
            };
            for &v in maps.velocity_m_s.iter() {
                let rel = (f64::from(v) - want).abs() / want.abs();
                worst = worst.max(rel);
                assert!(rel < 0.03, "frac {frac}: got {v} want {want}");
                assert_eq!(v > 0.0, want > 0.0);
            }
            for (&p, &s) in maps.power.iter().zip(maps.variance.iter()) {
                assert!((f64::from(p) - 1.01).abs() < 0.05, "power {p}");
                assert!(s < 0.03, "variance {s}");
            }
        }
        println!("Kasai: worst relative velocity error {:.2} %", worst * 100.0);
    }

    /// Loupas: depth samples carrying the phase ramp `4π·(f_mean − f_demod)·Δz/c` give `f_mean`
    /// within 0.5 % and the velocity computed with `f_mean` (within 1 %), where Kasai, using
    /// `f_demod`, is off by the ratio `f_mean / f_demod`.
    #[test]
    fn loupas_recovers_mean_frequency_and_velocity() {
        let e = est(Method::Loupas, (1, 5));
        let (f_mean, v) = (4.5e6, 0.2);
        let dphi = 4.0 * PI * (f_mean - e.f_demod_hz) * e.axial_step_m / e.c_m_s;
        let fd = 2.0 * v * f_mean / e.c_m_s / e.prf_hz; // cycles per firing
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let ens = Array3::from_shape_fn((12, 3, 40), |(k, l, d)| {
            let z = Complex64::from_polar(1.0, dphi * d as f64 + 2.0 * PI * fd * k as f64 + l as f64)
                + cgauss(&mut rng, 1e-4);
            Complex32::new(z.re as f32, z.im as f32)
        });
        let maps = e.estimate(ens.view()).unwrap();
        let (mut wf, mut wv) = (0.0f64, 0.0f64);
        for (&f, &vv) in maps.mean_freq_hz.iter().zip(maps.velocity_m_s.iter()) {
            wf = wf.max((f64::from(f) - f_mean).abs() / f_mean);
            wv = wv.max((f64::from(vv) - v).abs() / v);
        }
        let kasai = est(Method::Kasai, (1, 5)).estimate(ens.view()).unwrap();
        let vk = f64::from(kasai.velocity_m_s[[1, 20]]);
        println!(
            "Loupas: worst f_mean error {:.3} %, velocity error {:.3} %; Kasai {vk:.4} m/s",
            wf * 100.0,
            wv * 100.0
        );
        assert!(wf < 0.005 && wv < 0.01);
        assert!((vk - v * f_mean / e.f_demod_hz).abs() < 0.01 * v);
    }

    /// Kasai against an independent estimate: the mean frequency of the slow-time power spectrum
    /// (Hann-windowed FFT, averaged over pixels) of a broadband ensemble with a Gaussian Doppler
    /// spectrum (centre 0.15, width σ = 0.04 cycles per firing, 64 firings, noise −30 dB). They
    /// agree within 0.005 cycles per firing (1 % of the PRF).
    #[test]
    fn kasai_matches_spectral_mean_frequency() {
        let (n, lines, depths) = (64, 8, 32);
        let (fc, sigma) = (0.15, 0.04);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut ens = Array3::<Complex32>::zeros((n, lines, depths));
        for l in 0..lines {
            for d in 0..depths {
                let tones: Vec<(f64, Complex64)> = (0..20)
                    .map(|_| {
                        let g = cgauss(&mut rng, 2.0);
                        (fc + sigma * g.re, cgauss(&mut rng, 1.0 / 20.0))
                    })
                    .collect();
                for k in 0..n {
                    let z: Complex64 = tones
                        .iter()
                        .map(|(f, a)| a * Complex64::from_polar(1.0, 2.0 * PI * f * k as f64))
                        .sum::<Complex64>()
                        + cgauss(&mut rng, 1e-3);
                    ens[[k, l, d]] = Complex32::new(z.re as f32, z.im as f32);
                }
            }
        }
        let e = est(Method::Kasai, (5, 5));
        let maps = e.estimate(ens.view()).unwrap();
        // v = c·PRF·φ/(4π·f0) and f = φ/2π  ⟹  f = 2·v·f0/(c·PRF).
        let to_f = 2.0 * e.f_demod_hz / (e.c_m_s * e.prf_hz);
        let f_kasai = maps.velocity_m_s.iter().map(|&v| f64::from(v) * to_f).sum::<f64>() / (lines * depths) as f64;
        let mut planner = rustfft::FftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(n);
        let mut psd = vec![0.0f64; n];
        for l in 0..lines {
            for d in 0..depths {
                let mut buf: Vec<Complex64> = (0..n)
                    .map(|k| {
                        let w = 0.5 - 0.5 * (2.0 * PI * k as f64 / n as f64).cos();
                        c64(ens[[k, l, d]]) * w
                    })
                    .collect();
                fft.process(&mut buf);
                psd.iter_mut().zip(&buf).for_each(|(p, b)| *p += b.norm_sqr());
            }
        }
        let freq = |i: usize| {
            if i < n / 2 {
                i as f64 / n as f64
            } else {
                i as f64 / n as f64 - 1.0
            }
        };
        let f_fft = (0..n).map(|i| freq(i) * psd[i]).sum::<f64>() / psd.iter().sum::<f64>();
        println!("mean Doppler frequency: Kasai {f_kasai:.4}, spectrum {f_fft:.4}, centre {fc}");
        assert!((f_kasai - f_fft).abs() < 0.005);
        assert!((f_kasai - fc).abs() < 0.01);
    }

    /// The windowed sums against a direct per-pixel computation (random data, Loupas, windows
    /// clipped at every edge, 129 depths so that a chunk of depths starts at the last one), and
    /// bit-equal results with 1 and 3 threads.
    #[test]
    fn window_sums_match_direct_computation() {
        let (n, lines, depths) = (5, 5, 129);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let ens = Array3::from_shape_fn((n, lines, depths), |_| {
            let z = cgauss(&mut rng, 1.0);
            Complex32::new(z.re as f32, z.im as f32)
        });
        for average in [(1, 1), (3, 5), (5, 3)] {
            let e = est(Method::Loupas, average);
            let maps = e.estimate(ens.view()).unwrap();
            let (hl, hd) = (average.0 as i64 / 2, average.1 as i64 / 2);
            for l in 0..lines as i64 {
                for d in 0..depths as i64 {
                    let (mut r0, mut r1, mut rd, mut px) =
                        (0.0, Complex64::new(0.0, 0.0), Complex64::new(0.0, 0.0), 0.0);
                    let mut pairs = 0;
                    for m in (l - hl).max(0)..=(l + hl).min(lines as i64 - 1) {
                        for j in (d - hd).max(0)..=(d + hd).min(depths as i64 - 1) {
                            px += 1.0;
                            let (m, j) = (m as usize, j as usize);
                            for k in 0..n {
                                let x = c64(ens[[k, m, j]]);
                                r0 += x.norm_sqr();
                                if k + 1 < n {
                                    r1 += c64(ens[[k + 1, m, j]]) * x.conj();
                                }
                                if j + 1 < depths {
                                    rd += c64(ens[[k, m, j + 1]]) * x.conj();
                                }
                            }
                            pairs += usize::from(j + 1 < depths);
                        }
                        if pairs == 0 {
                            // At the last depth without a window: the pair before it.
                            let (m, j) = (m as usize, depths - 2);
                            for k in 0..n {
                                rd += c64(ens[[k, m, j + 1]]) * c64(ens[[k, m, j]]).conj();
                            }
                        }
                    }
                    let fe = e.f_demod_hz + e.c_m_s * rd.arg() / (4.0 * PI * e.axial_step_m);
                    let f = if fe > 0.25 * e.f_demod_hz { fe } else { e.f_demod_hz };
                    let v = e.c_m_s * e.prf_hz * r1.arg() / (4.0 * PI * f);
                    let p = r0 / (n as f64 * px);
                    let s = 1.0 - r1.norm() / ((n - 1) as f64 * px) / p;
                    let (l, d) = (l as usize, d as usize);
                    assert!(
                        (f64::from(maps.mean_freq_hz[[l, d]]) - f).abs() < 1e-5 * f,
                        "{average:?} {l} {d}"
                    );
                    assert!((f64::from(maps.velocity_m_s[[l, d]]) - v).abs() < 1e-5 * v.abs().max(1e-3));
                    assert!((f64::from(maps.power[[l, d]]) - p).abs() < 1e-5 * p);
                    assert!((f64::from(maps.variance[[l, d]]) - s.clamp(0.0, 1.0)).abs() < 1e-5);
                }
            }
            let run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                pool.install(|| e.estimate(ens.view()).unwrap())
            };
            assert_eq!(run(1), run(3));
        }
    }

    #[test]
    fn angle_correction() {
        let v = angle_corrected(0.5, 60f64.to_radians()).unwrap();
        assert!((v - 1.0).abs() < 1e-12);
        assert!((angle_corrected(-0.3, PI).unwrap() - 0.3).abs() < 1e-12);
        let mut m = Array2::from_elem((2, 3), 0.5f32);
        angle_correct_map(m.view_mut(), 60f64.to_radians()).unwrap();
        assert!(m.iter().all(|&x| (x - 1.0).abs() < 1e-6));
        for bad in [89.5f64.to_radians(), -90.5f64.to_radians(), f64::NAN, f64::INFINITY] {
            let e = angle_corrected(1.0, bad).unwrap_err();
            assert_eq!(e.parameter(), Some("beam_to_flow_angle_rad"));
            assert_eq!(
                angle_correct_map(m.view_mut(), bad).unwrap_err().parameter(),
                Some("beam_to_flow_angle_rad")
            );
        }
        assert!(angle_corrected(1.0, 88.9f64.to_radians()).is_ok());
        assert_eq!(angle_corrected(f64::NAN, 0.0).unwrap_err().parameter(), Some("v_axial"));
    }

    /// Every bad setting or input is refused with an error naming it.
    #[test]
    fn errors_name_the_parameter() {
        let ens = Array3::<Complex32>::zeros((4, 2, 3));
        let name = |e: ColorEstimator| e.estimate(ens.view()).unwrap_err().parameter();
        let ok = est(Method::Loupas, (3, 3));
        for v in [f64::NAN, f64::INFINITY, -1.0, 0.0] {
            assert_eq!(name(ColorEstimator { prf_hz: v, ..ok }), Some("prf_hz"));
            assert_eq!(name(ColorEstimator { f_demod_hz: v, ..ok }), Some("f_demod_hz"));
            assert_eq!(name(ColorEstimator { c_m_s: v, ..ok }), Some("c_m_s"));
            assert_eq!(name(ColorEstimator { axial_step_m: v, ..ok }), Some("axial_step_m"));
        }
        // Out of the plausible ranges (a value in the wrong unit).
        assert_eq!(name(ColorEstimator { prf_hz: 2e6, ..ok }), Some("prf_hz"));
        assert_eq!(name(ColorEstimator { f_demod_hz: 5.0, ..ok }), Some("f_demod_hz"));
        assert_eq!(name(ColorEstimator { c_m_s: 1.54, ..ok }), Some("c_m_s"));
        assert_eq!(
            name(ColorEstimator {
                axial_step_m: 0.05,
                ..ok
            }),
            Some("axial_step_m")
        );
        for a in [(0, 1), (1, 2), (131, 1), (3, 4)] {
            assert_eq!(name(ColorEstimator { average: a, ..ok }), Some("average"));
        }
        for shape in [(0, 2, 3), (4, 0, 3), (4, 2, 0), (1, 2, 3), (MAX_ENSEMBLE + 1, 1, 1)] {
            let bad = Array3::<Complex32>::zeros(shape);
            assert_eq!(
                ok.estimate(bad.view()).unwrap_err().parameter(),
                Some("ens"),
                "{shape:?}"
            );
        }
        let mut out = ColorMaps::zeros(2, 3);
        assert!(ok.estimate_into(ens.view(), &mut out).is_ok());
        out.variance = Array2::zeros((3, 2));
        assert_eq!(
            ok.estimate_into(ens.view(), &mut out).unwrap_err().parameter(),
            Some("out.variance")
        );
        let mut out = ColorMaps::zeros(2, 4);
        assert_eq!(
            ok.estimate_into(ens.view(), &mut out).unwrap_err().parameter(),
            Some("out.velocity_m_s")
        );
        for (p, f, c, name) in [
            (f64::NAN, 5e6, 1540.0, "prf_hz"),
            (5e3, 0.0, 1540.0, "f0_hz"),
            (5e3, 5e6, f64::INFINITY, "c_m_s"),
        ] {
            assert_eq!(nyquist_velocity_m_s(p, f, c).unwrap_err().parameter(), Some(name));
        }
        // Zero power: velocity and variance 0, no NaN.
        let maps = ok.estimate(ens.view()).unwrap();
        assert!(maps.velocity_m_s.iter().chain(maps.variance.iter()).all(|&v| v == 0.0));
    }
}
