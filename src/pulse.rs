//! The pulse: excitation burst and the transducer's two-way impulse response.
//!
//! The pulse-echo spectrum is `S(f) = E(f) · H(f)` where
//! * `E(f)` is the spectrum of the excitation, a burst of `cycles` periods of `cos(2π·fc·t)` centred
//!   on `t = 0` (real and even, so it adds no delay);
//! * `H(f) = exp(−(|f| − fc)² / (2σ²))` is the transducer's two-way (transmit × receive) response,
//!   a zero-phase Gaussian whose −6 dB full width is `fractional_bandwidth · fc`
//!   (`σ = fractional_bandwidth · fc / (2·√(2 ln 2))`).
//!
//! The echo of a point scatterer after `path_m` of propagation in a medium with attenuation `a`
//! (Np/(m·Hz)) has the spectrum `S(f)·exp(−a·|f|·path)`: real and even, so its envelope peaks exactly
//! at the travel time (the crate's time-zero convention: the system delay is compensated). Attenuation
//! lowers the echo's centre frequency with depth, as in tissue; dispersion is neglected.
//!
//! ```
//! use sonochip::pulse::Pulse;
//! let p = Pulse::new(5e6, 0.8, 1.0).unwrap();
//! let (lo, hi) = p.band_edges_hz();
//! assert!(lo < 5e6 && hi > 5e6);
//! ```

use crate::error::{Error, Result, in_range, positive};
use rustfft::FftPlanner;
use rustfft::num_complex::Complex;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Excitation and two-way impulse response. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pulse {
    fc_hz: f64,
    fractional_bandwidth: f64,
    cycles: f64,
}

/// A pulse-echo waveform sampled on a regular grid: `values[k]` is the waveform at time
/// `(k as f64 - center as f64) / rate_hz`.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledPulse {
    /// Sampling rate, Hz.
    pub rate_hz: f64,
    /// Index of `t = 0`.
    pub center: usize,
    /// Samples.
    pub values: Vec<f32>,
}

impl Pulse {
    /// A pulse at centre frequency `fc_hz` (0.1–50 MHz) with the transducer's two-way −6 dB
    /// `fractional_bandwidth` (0.05–2) and an excitation of `cycles` periods (0.5–64).
    pub fn new(fc_hz: f64, fractional_bandwidth: f64, cycles: f64) -> Result<Pulse> {
        in_range("fc_hz", fc_hz, 1e5, 5e7)?;
        in_range("fractional_bandwidth", fractional_bandwidth, 0.05, 2.0)?;
        in_range("cycles", cycles, 0.5, 64.0)?;
        Ok(Pulse {
            fc_hz,
            fractional_bandwidth,
            cycles,
        })
    }

    /// Centre frequency, Hz.
    pub fn fc_hz(&self) -> f64 {
        self.fc_hz
    }
    /// The transducer's two-way −6 dB fractional bandwidth.
    pub fn fractional_bandwidth(&self) -> f64 {
        self.fractional_bandwidth
    }
    /// Excitation length in periods.
    pub fn cycles(&self) -> f64 {
        self.cycles
    }

    fn sigma_hz(&self) -> f64 {
        self.fractional_bandwidth * self.fc_hz / (2.0 * (2.0 * 2f64.ln()).sqrt())
    }

    /// Pulse-echo amplitude spectrum `S(f)` (without attenuation), normalised to 1 at its maximum
    /// over f ≥ 0 (approximately; exactly 1 at `fc` for a long burst).
    pub fn spectrum(&self, f_hz: f64) -> f64 {
        let f = f_hz.abs();
        let s = self.sigma_hz();
        let h = (-(f - self.fc_hz).powi(2) / (2.0 * s * s)).exp();
        let t = self.cycles / self.fc_hz;
        let sinc = |x: f64| {
            if x.abs() < 1e-12 {
                1.0
            } else {
                (PI * x).sin() / (PI * x)
            }
        };
        let e = 0.5 * (sinc((f - self.fc_hz) * t) + sinc((f + self.fc_hz) * t));
        e * h
    }

    /// Lower and upper −6 dB edges of the pulse-echo spectrum `S(f)`, Hz (found numerically).
    pub fn band_edges_hz(&self) -> (f64, f64) {
        let n = 4000;
        let df = 4.0 * self.fc_hz / n as f64;
        let vals: Vec<f64> = (0..=n).map(|i| self.spectrum(i as f64 * df)).collect();
        let (imax, vmax) = vals
            .iter()
            .enumerate()
            .fold((0, 0.0), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        let half = 0.5 * vmax;
        let mut lo = 0.0;
        for i in (1..=imax).rev() {
            if vals[i - 1] < half {
                lo = (i as f64 - 1.0 + (half - vals[i - 1]) / (vals[i] - vals[i - 1])) * df;
                break;
            }
        }
        let mut hi = n as f64 * df;
        for i in imax..n {
            if vals[i + 1] < half {
                hi = (i as f64 + (vals[i] - half) / (vals[i] - vals[i + 1])) * df;
                break;
            }
        }
        (lo, hi)
    }

    /// Pulse-echo −6 dB bandwidth Δf, Hz (axial resolution ≈ 0.44·c/Δf, `docs/physics.md#resolution`).
    pub fn pulse_echo_bandwidth_hz(&self) -> f64 {
        let (lo, hi) = self.band_edges_hz();
        hi - lo
    }

    /// Pulse-echo axial resolution: `c/2` times the −6 dB (half-amplitude) duration of the
    /// waveform's envelope, computed from the sampled waveform and its analytic signal. For a Gaussian
    /// spectrum this equals `0.44·c/Δf` (`docs/physics.md#resolution`); a rectangular burst makes it longer.
    pub fn axial_resolution_m(&self, c_m_s: f64) -> f64 {
        let rate = 64.0 * self.fc_hz;
        let s = self.sample(rate, 0.0, 0.0);
        let n = (4 * s.values.len()).next_power_of_two();
        let mut buf: Vec<Complex<f64>> = (0..n)
            .map(|i| Complex::new(s.values.get(i).copied().unwrap_or(0.0) as f64, 0.0))
            .collect();
        let mut planner = FftPlanner::new();
        planner.plan_fft_forward(n).process(&mut buf);
        for (k, v) in buf.iter_mut().enumerate() {
            if k > 0 && k < n / 2 {
                *v *= 2.0;
            } else if k > n / 2 {
                *v = Complex::new(0.0, 0.0);
            }
        }
        planner.plan_fft_inverse(n).process(&mut buf);
        let env: Vec<f64> = buf.iter().take(s.values.len()).map(|v| v.norm()).collect();
        let peak = env[s.center];
        let half = 0.5 * peak;
        let cross = |step: isize| -> f64 {
            let mut i = s.center as isize;
            while i + step >= 0 && ((i + step) as usize) < env.len() && env[(i + step) as usize] >= half {
                i += step;
            }
            let (a, b) = (env[i as usize], env.get((i + step) as usize).copied().unwrap_or(0.0));
            i as f64 + step as f64 * (a - half) / (a - b).max(1e-300)
        };
        (cross(1) - cross(-1)) / rate * c_m_s / 2.0
    }

    /// Smallest sampling rate that represents the pulse band: twice the upper −6 dB edge.
    pub fn nyquist_rate_hz(&self) -> f64 {
        2.0 * self.band_edges_hz().1
    }

    /// Checks that `fs_hz` is at or above [`Pulse::nyquist_rate_hz`].
    pub fn check_sampling(&self, fs_hz: f64) -> Result<()> {
        positive("fs_hz", fs_hz)?;
        let (_, hi) = self.band_edges_hz();
        if fs_hz < 2.0 * hi {
            return Err(Error::BelowNyquist {
                fs_hz,
                required_hz: 2.0 * hi,
                f_high_hz: hi,
            });
        }
        Ok(())
    }

    /// Half-length in seconds beyond which the pulse-echo waveform is negligible (< 1e-4 of peak).
    pub fn half_length_s(&self) -> f64 {
        // Gaussian time spread of H convolved with the burst's half length.
        let sigma_t = 1.0 / (2.0 * PI * self.sigma_hz());
        0.5 * self.cycles / self.fc_hz + 4.3 * sigma_t
    }

    /// The pulse-echo waveform after `path_m` of propagation with attenuation `alpha_np_per_m_hz`,
    /// sampled at `rate_hz`, normalised so that its spectrum at `fc` is `exp(−alpha·fc·path)` times
    /// that of the unattenuated waveform, whose envelope peak is about 1.
    pub fn sample(&self, rate_hz: f64, alpha_np_per_m_hz: f64, path_m: f64) -> SampledPulse {
        let mut planner = FftPlanner::new();
        self.sample_with(&mut planner, rate_hz, alpha_np_per_m_hz, path_m)
    }

    /// As [`Pulse::sample`], reusing an FFT planner (for building tables).
    pub fn sample_with(&self, planner: &mut FftPlanner<f64>, rate_hz: f64, alpha: f64, path_m: f64) -> SampledPulse {
        let half = (self.half_length_s() * rate_hz).ceil() as usize + 1;
        let len = 2 * half + 1;
        // Frequency resolution well below the band: FFT size ≥ 8 × the waveform length.
        let n = (8 * len).next_power_of_two().max(256);
        let df = rate_hz / n as f64;
        let mut spec: Vec<Complex<f64>> = (0..n)
            .map(|k| {
                let f = if k <= n / 2 {
                    k as f64 * df
                } else {
                    (k as f64 - n as f64) * df
                };
                Complex::new(self.spectrum(f) * (-alpha * f.abs() * path_m).exp(), 0.0)
            })
            .collect();
        planner.plan_fft_inverse(n).process(&mut spec);
        // Scale so that the continuous-time waveform has S(f) as its spectrum: g(t) = Σ S df e^{…}.
        // Normalise the unattenuated peak to ~1 by the spectrum's integral ∫S df.
        let area: f64 = (0..n)
            .map(|k| {
                let f = if k <= n / 2 {
                    k as f64 * df
                } else {
                    (k as f64 - n as f64) * df
                };
                self.spectrum(f)
            })
            .sum();
        let values = (0..len)
            .map(|i| {
                let k = (i as isize - half as isize).rem_euclid(n as isize) as usize;
                (spec[k].re / area) as f32
            })
            .collect();
        SampledPulse {
            rate_hz,
            center: half,
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_burst_is_narrowband_and_short_is_broadband() {
        let wide = Pulse::new(5e6, 1.0, 0.5).unwrap();
        let narrow = Pulse::new(5e6, 1.0, 8.0).unwrap();
        assert!(wide.pulse_echo_bandwidth_hz() > 3.0 * narrow.pulse_echo_bandwidth_hz());
        // The transducer Gaussian alone (very short burst) approaches the stated bandwidth.
        let g = Pulse::new(5e6, 0.6, 0.5).unwrap().pulse_echo_bandwidth_hz();
        assert!((g - 3e6).abs() < 0.1 * 3e6, "{g}");
    }

    #[test]
    fn sampled_pulse_peaks_at_zero_and_is_even() {
        let p = Pulse::new(3.5e6, 1.0, 1.0).unwrap();
        let s = p.sample(56e6, 0.0, 0.0);
        let (imax, _) = s
            .values
            .iter()
            .enumerate()
            .fold((0, 0f32), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
        assert_eq!(imax, s.center);
        for k in 1..s.center {
            assert!((s.values[s.center + k] - s.values[s.center - k]).abs() < 1e-6);
        }
        assert!((s.values[s.center] - 1.0).abs() < 0.05, "{}", s.values[s.center]);
        assert!(s.values[0].abs() < 1e-3 && s.values[s.values.len() - 1].abs() < 1e-3);
    }

    #[test]
    fn gaussian_pulse_axial_resolution_matches_the_time_bandwidth_product() {
        // A very short burst leaves the Gaussian transducer response: 0.44·c/Δf (`docs/physics.md#resolution`).
        let p = Pulse::new(5e6, 0.6, 0.5).unwrap();
        let expected = 0.44 * 1540.0 / p.pulse_echo_bandwidth_hz();
        let got = p.axial_resolution_m(1540.0);
        assert!((got / expected - 1.0).abs() < 0.05, "{got} vs {expected}");
        // A 2.5-cycle burst is longer than its bandwidth suggests.
        let b = Pulse::new(5.208e6, 0.67, 2.5).unwrap();
        assert!(b.axial_resolution_m(1540.0) > 1.1 * 0.44 * 1540.0 / b.pulse_echo_bandwidth_hz());
    }

    #[test]
    fn nyquist_check() {
        let p = Pulse::new(3.5e6, 1.0, 1.0).unwrap();
        assert!(p.check_sampling(14e6).is_ok());
        assert!(matches!(p.check_sampling(6e6), Err(Error::BelowNyquist { .. })));
        assert!(Pulse::new(0.0, 1.0, 1.0).is_err());
    }
}
