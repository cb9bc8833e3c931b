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
//! Every parameter has a plausible range ([`FC_RANGE_HZ`], [`FRACTIONAL_BANDWIDTH_RANGE`],
//! [`CYCLES_RANGE`]), checked by [`Pulse::new`] and when a pulse is deserialised, so that the
//! waveform's length — at most about 64 periods of `fc` on each side — and the memory of
//! [`Pulse::sample`] stay bounded.
//!
//! ```
//! use sonochip::pulse::Pulse;
//! let p = Pulse::new(5e6, 0.8, 1.0).unwrap();
//! let (lo, hi) = p.band_edges_hz();
//! assert!(lo < 5e6 && hi > 5e6);
//! // A rate in MHz instead of Hz is refused, naming the parameter, the range and the unit.
//! let e = p.sample(40.0, 0.0, 0.0).unwrap_err();
//! assert!(e.to_string().contains("rate_hz") && e.to_string().contains("Hz"));
//! ```

use crate::error::{Error, Result, plausible, positive};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::sync::Arc;

/// Centre frequencies a pulse may have, Hz.
pub const FC_RANGE_HZ: (f64, f64) = (1e5, 5e7);
/// Two-way −6 dB fractional bandwidths a pulse may have (fraction of `fc`).
pub const FRACTIONAL_BANDWIDTH_RANGE: (f64, f64) = (0.05, 2.0);
/// Excitation lengths a pulse may have, periods of `fc`.
pub const CYCLES_RANGE: (f64, f64) = (0.5, 64.0);
/// Most samples per period of `fc` that [`Pulse::sample`] takes: `rate_hz` lies in
/// `[fc_hz, MAX_SAMPLES_PER_PERIOD · fc_hz]`. The simulator's fine grid needs at most 10⁴ (a
/// 1 GHz record of a 100 kHz pulse).
pub const MAX_SAMPLES_PER_PERIOD: f64 = 1e4;
/// Largest attenuation [`Pulse::sample`] accepts, Np/(m·Hz) (about 87 dB/(cm·MHz); a
/// [`Medium`](crate::medium::Medium) has at most 20).
pub const MAX_ALPHA_NP_PER_M_HZ: f64 = 1e-3;
/// Longest propagation path [`Pulse::sample`] accepts, metres.
pub const MAX_PATH_M: f64 = 10.0;

/// Excitation and two-way impulse response. See the [module docs](self).
///
/// Built by [`Pulse::new`]; deserialising one validates it the same way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PulseFields")]
pub struct Pulse {
    fc_hz: f64,
    fractional_bandwidth: f64,
    cycles: f64,
}

#[derive(Deserialize)]
struct PulseFields {
    fc_hz: f64,
    fractional_bandwidth: f64,
    cycles: f64,
}

impl TryFrom<PulseFields> for Pulse {
    type Error = Error;
    fn try_from(f: PulseFields) -> Result<Pulse> {
        Pulse::new(f.fc_hz, f.fractional_bandwidth, f.cycles)
    }
}

/// The sizes of a waveform sampled at one rate: `len = 2·half + 1` samples with `t = 0` at index
/// `half`, computed from an FFT of `fft_len` points (a power of two ≥ 8·`len`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SampleShape {
    pub(crate) half: usize,
    pub(crate) len: usize,
    pub(crate) fft_len: usize,
}

impl SampleShape {
    /// Peak heap bytes of synthesising waveforms of this shape ([`Synth`]): the spectrum `S(f)`
    /// (8 B per FFT point), the FFT buffer and its scratch (16 B each) and rustfft's plan (16 B per
    /// point and 4 KiB, measured with rustfft 6.4 for powers of two).
    pub(crate) fn synth_bytes(&self) -> u128 {
        (8 + 16 + 16 + 16) * self.fft_len as u128 + 4096
    }
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
    /// A pulse at centre frequency `fc_hz` ([`FC_RANGE_HZ`]: 0.1–50 MHz) with the transducer's
    /// two-way −6 dB `fractional_bandwidth` ([`FRACTIONAL_BANDWIDTH_RANGE`]: 0.05–2) and an
    /// excitation of `cycles` periods ([`CYCLES_RANGE`]: 0.5–64). A value outside its range is an
    /// [`Error::InvalidParameter`] naming the field, the range and the unit.
    pub fn new(fc_hz: f64, fractional_bandwidth: f64, cycles: f64) -> Result<Pulse> {
        plausible("fc_hz", fc_hz, FC_RANGE_HZ.0, FC_RANGE_HZ.1, "Hz")?;
        plausible(
            "fractional_bandwidth",
            fractional_bandwidth,
            FRACTIONAL_BANDWIDTH_RANGE.0,
            FRACTIONAL_BANDWIDTH_RANGE.1,
            "(a fraction of fc_hz)",
        )?;
        plausible("cycles", cycles, CYCLES_RANGE.0, CYCLES_RANGE.1, "periods of fc_hz")?;
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
    /// over f ≥ 0 (approximately; exactly 1 at `fc` for a long burst). Cost: O(1).
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
    /// Cost: 4,001 evaluations of `S(f)` over `[0, 4·fc]` and 32 KB of heap.
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
    /// Cost: as [`Pulse::band_edges_hz`].
    pub fn pulse_echo_bandwidth_hz(&self) -> f64 {
        let (lo, hi) = self.band_edges_hz();
        hi - lo
    }

    /// Pulse-echo axial resolution: `c/2` times the −6 dB (half-amplitude) duration of the
    /// waveform's envelope, computed from the sampled waveform and its analytic signal. For a Gaussian
    /// spectrum this equals `0.44·c/Δf` (`docs/physics.md#resolution`); a rectangular burst makes it longer.
    /// Cost: the waveform at 64 samples per period (at most about 8,300 samples, from an FFT of at
    /// most 131,072 points) and its analytic signal (an FFT of at most 65,536 points): at most
    /// about 7.5 MB of heap.
    pub fn axial_resolution_m(&self, c_m_s: f64) -> f64 {
        let rate = 64.0 * self.fc_hz;
        let s = Synth::new(self, rate, self.shape(rate)).sampled(0.0, 0.0);
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

    /// Smallest sampling rate that represents the pulse band: twice the upper −6 dB edge. Cost: as
    /// [`Pulse::band_edges_hz`].
    pub fn nyquist_rate_hz(&self) -> f64 {
        2.0 * self.band_edges_hz().1
    }

    /// Checks that `fs_hz` is at or above [`Pulse::nyquist_rate_hz`]: [`Error::BelowNyquist`]
    /// otherwise (`InvalidParameter` for a value that is not finite and positive). Cost: as
    /// [`Pulse::band_edges_hz`].
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

    /// Half-length in seconds beyond which the pulse-echo waveform is negligible (< 1e-4 of peak):
    /// at most about 64 periods of `fc` (64 cycles at the narrowest bandwidth). Cost: O(1).
    pub fn half_length_s(&self) -> f64 {
        // Gaussian time spread of H convolved with the burst's half length.
        let sigma_t = 1.0 / (2.0 * PI * self.sigma_hz());
        0.5 * self.cycles / self.fc_hz + 4.3 * sigma_t
    }

    /// The shape of the waveform at `rate_hz` (within range: no check).
    fn shape(&self, rate_hz: f64) -> SampleShape {
        let half = (self.half_length_s() * rate_hz).ceil() as usize + 1;
        let len = 2 * half + 1;
        // Frequency resolution well below the band: FFT size ≥ 8 × the waveform length.
        let fft_len = (8 * len).next_power_of_two().max(256);
        SampleShape { half, len, fft_len }
    }

    /// The shape of the waveform at `rate_hz`, which must lie in `[fc_hz, `
    /// [`MAX_SAMPLES_PER_PERIOD`]` · fc_hz]` Hz.
    pub(crate) fn sample_shape(&self, rate_hz: f64) -> Result<SampleShape> {
        plausible(
            "rate_hz",
            rate_hz,
            self.fc_hz,
            MAX_SAMPLES_PER_PERIOD * self.fc_hz,
            "Hz (from fc_hz to 1e4 samples per period)",
        )?;
        Ok(self.shape(rate_hz))
    }

    /// Peak heap bytes of [`Pulse::sample`] at `rate_hz` (the same range check): about
    /// `56 · next_pow2(8 · len)` bytes for a waveform of `len ≈ 2 · half_length_s · rate_hz`
    /// samples, at most about 0.95 GB (64 cycles at the narrowest bandwidth and the highest rate).
    pub fn sample_memory_bytes(&self, rate_hz: f64) -> Result<u128> {
        let shape = self.sample_shape(rate_hz)?;
        Ok(shape.synth_bytes() + 4 * shape.len as u128)
    }

    /// The pulse-echo waveform after `path_m` of propagation with attenuation `alpha_np_per_m_hz`,
    /// sampled at `rate_hz`, normalised so that its spectrum at `fc` is `exp(−alpha·fc·path)` times
    /// that of the unattenuated waveform, whose envelope peak is about 1.
    ///
    /// Ranges (an [`Error::InvalidParameter`] naming the parameter, the range and the unit
    /// otherwise): `rate_hz` in `[fc_hz, `[`MAX_SAMPLES_PER_PERIOD`]` · fc_hz]` Hz,
    /// `alpha_np_per_m_hz` in `[0, `[`MAX_ALPHA_NP_PER_M_HZ`]`]` Np/(m·Hz), `path_m` in
    /// `[0, `[`MAX_PATH_M`]`]` m.
    ///
    /// Cost: one inverse FFT of `next_pow2(8 · len)` points and [`Pulse::sample_memory_bytes`] of
    /// heap, for a waveform of `len ≈ 2 · half_length_s · rate_hz` samples.
    pub fn sample(&self, rate_hz: f64, alpha_np_per_m_hz: f64, path_m: f64) -> Result<SampledPulse> {
        let mut planner = FftPlanner::new();
        self.sample_with(&mut planner, rate_hz, alpha_np_per_m_hz, path_m)
    }

    /// As [`Pulse::sample`] (the same ranges, errors and cost), planning the FFT with `planner`,
    /// which keeps the plan for the next call at the same rate.
    pub fn sample_with(
        &self,
        planner: &mut FftPlanner<f64>,
        rate_hz: f64,
        alpha_np_per_m_hz: f64,
        path_m: f64,
    ) -> Result<SampledPulse> {
        let shape = self.sample_shape(rate_hz)?;
        check_propagation(alpha_np_per_m_hz, path_m)?;
        let fft = planner.plan_fft_inverse(shape.fft_len);
        Ok(Synth::with_fft(self, rate_hz, shape, fft).sampled(alpha_np_per_m_hz, path_m))
    }
}

/// Checks the attenuation and path of [`Pulse::sample`].
fn check_propagation(alpha_np_per_m_hz: f64, path_m: f64) -> Result<()> {
    plausible(
        "alpha_np_per_m_hz",
        alpha_np_per_m_hz,
        0.0,
        MAX_ALPHA_NP_PER_M_HZ,
        "Np/(m·Hz)",
    )?;
    plausible("path_m", path_m, 0.0, MAX_PATH_M, "m")?;
    Ok(())
}

/// Synthesises pulse-echo waveforms of one shape and rate for any attenuation and path: the
/// spectrum `S(f)` and its integral are computed once, the FFT buffers are reused. Its heap is
/// [`SampleShape::synth_bytes`].
pub(crate) struct Synth {
    rate_hz: f64,
    shape: SampleShape,
    /// `S(f)` at the FFT's frequencies (`k·df`, then negative frequencies).
    s: Vec<f64>,
    /// `Σ S df / df`: normalises the unattenuated peak to about 1.
    area: f64,
    fft: Arc<dyn Fft<f64>>,
    spec: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
}

impl Synth {
    /// A synthesiser for `pulse` at `rate_hz` with the (checked) `shape` of that rate.
    pub(crate) fn new(pulse: &Pulse, rate_hz: f64, shape: SampleShape) -> Synth {
        let fft = FftPlanner::new().plan_fft_inverse(shape.fft_len);
        Synth::with_fft(pulse, rate_hz, shape, fft)
    }

    fn with_fft(pulse: &Pulse, rate_hz: f64, shape: SampleShape, fft: Arc<dyn Fft<f64>>) -> Synth {
        let n = shape.fft_len;
        let df = rate_hz / n as f64;
        let s: Vec<f64> = (0..n)
            .map(|k| {
                let f = if k <= n / 2 {
                    k as f64 * df
                } else {
                    (k as f64 - n as f64) * df
                };
                pulse.spectrum(f)
            })
            .collect();
        // Scale so that the continuous-time waveform has S(f) as its spectrum: g(t) = Σ S df e^{…}.
        // Normalise the unattenuated peak to ~1 by the spectrum's integral ∫S df.
        let area: f64 = s.iter().sum();
        let scratch = vec![Complex::new(0.0, 0.0); fft.get_inplace_scratch_len()];
        Synth {
            rate_hz,
            shape,
            s,
            area,
            fft,
            spec: vec![Complex::new(0.0, 0.0); n],
            scratch,
        }
    }

    /// Computes the waveform after `path_m` with attenuation `alpha` (Np/(m·Hz)); read it with
    /// [`Synth::values`].
    pub(crate) fn compute(&mut self, alpha: f64, path_m: f64) {
        let n = self.shape.fft_len;
        let df = self.rate_hz / n as f64;
        for (k, (o, &s)) in self.spec.iter_mut().zip(&self.s).enumerate() {
            let f = if k <= n / 2 {
                k as f64 * df
            } else {
                (k as f64 - n as f64) * df
            };
            *o = Complex::new(s * (-alpha * f.abs() * path_m).exp(), 0.0);
        }
        self.fft.process_with_scratch(&mut self.spec, &mut self.scratch);
    }

    /// The `len` samples of the last computed waveform, in f64, `t = 0` at index `half`.
    pub(crate) fn values(&self) -> impl Iterator<Item = f64> + '_ {
        let n = self.shape.fft_len;
        let half = self.shape.half;
        (0..self.shape.len).map(move |i| {
            let k = (i as isize - half as isize).rem_euclid(n as isize) as usize;
            self.spec[k].re / self.area
        })
    }

    /// The waveform as a [`SampledPulse`].
    fn sampled(mut self, alpha: f64, path_m: f64) -> SampledPulse {
        self.compute(alpha, path_m);
        let values = self.values().map(|v| v as f32).collect();
        SampledPulse {
            rate_hz: self.rate_hz,
            center: self.shape.half,
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
        let s = p.sample(56e6, 0.0, 0.0).unwrap();
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
    fn parameters_and_rates_have_plausible_ranges() {
        let e = Pulse::new(5.0, 0.8, 1.0).unwrap_err().to_string();
        assert!(e.contains("fc_hz") && e.contains("Hz") && e.contains("50000000"), "{e}");
        assert!(Pulse::new(5e6, 0.8, 65.0).unwrap_err().to_string().contains("periods"));
        let p = Pulse::new(5e6, 0.8, 1.0).unwrap();
        for (rate, alpha, path, name) in [
            (1e30, 0.0, 0.0, "rate_hz"),
            (1e13, 0.0, 0.0, "rate_hz"),
            (f64::NAN, 0.0, 0.0, "rate_hz"),
            (4e6, 0.0, 0.0, "rate_hz"),
            (40e6, 0.5, 0.01, "alpha_np_per_m_hz"),
            (40e6, -1e-6, 0.01, "alpha_np_per_m_hz"),
            (40e6, 1e-5, 1e9, "path_m"),
        ] {
            let e = p.sample(rate, alpha, path).unwrap_err();
            assert_eq!(e.parameter(), Some(name), "{e}");
        }
        // The largest waveform the ranges allow stays under 1 GB of work memory.
        let long = Pulse::new(1e5, 0.05, 64.0).unwrap();
        let worst = long.sample_memory_bytes(1e4 * 1e5).unwrap();
        assert!(worst < 1 << 30, "{worst}");
        assert!(long.sample_memory_bytes(1.0001e9).is_err());
    }

    #[test]
    fn deserialised_pulses_are_validated() {
        let p = Pulse::new(5e6, 0.8, 1.5).unwrap();
        let back: Pulse = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        // fc in kHz by mistake: would ask for a waveform of 17.6 TB.
        let e = serde_json::from_str::<Pulse>(r#"{"fc_hz": 1e-3, "fractional_bandwidth": 0.8, "cycles": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("fc_hz") && e.contains("Hz"), "{e}");
        assert!(serde_json::from_str::<Pulse>(r#"{"fc_hz": 5e6, "fractional_bandwidth": 0, "cycles": 1}"#).is_err());
    }

    #[test]
    fn nyquist_check() {
        let p = Pulse::new(3.5e6, 1.0, 1.0).unwrap();
        assert!(p.check_sampling(14e6).is_ok());
        assert!(matches!(p.check_sampling(6e6), Err(Error::BelowNyquist { .. })));
        assert!(Pulse::new(0.0, 1.0, 1.0).is_err());
    }
}
