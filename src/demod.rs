//! RF → baseband IQ: mix, low-pass, decimate.
//!
//! Each trace is multiplied by `exp(−i·2π·f_demod·t)` with the **absolute** sample time
//! `t = t0 + k / fs` (so the phase of the IQ data refers to time zero of [`crate::sequence`], which
//! is what the beamformer's IQ rotation assumes), low-pass filtered by a linear-phase windowed-sinc
//! FIR (Blackman window, odd length, applied centred so its delay is compensated exactly: output
//! sample `m` is the filtered value at input sample `m·D`), scaled by 2 (so `|IQ|` is the envelope
//! of the RF) and decimated by `D`. The output keeps `t0`, has `fs / D` and `ceil(n / D)` samples.
//!
//! The plan ([`Demodulator::new`]) precomputes the mixer and the filter;
//! [`Demodulator::demodulate_into`] allocates nothing.
//!
//! ```
//! use ndarray::Array3;
//! use sonochip::demod::{DemodConfig, Demodulator};
//! let (fs, fc, n) = (40e6, 5e6, 400);
//! let plan = Demodulator::new(fs, 0.0, n, DemodConfig::new(fc, fc, 4)).unwrap();
//! // A tone at fc with amplitude 1: its IQ magnitude is 1 away from the ends.
//! let rf = Array3::from_shape_fn((1, 1, n), |(_, _, k)| (2.0 * std::f64::consts::PI * fc * k as f64 / fs).cos() as f32);
//! let mut iq = Array3::zeros((1, 1, plan.output_len()));
//! plan.demodulate_into(rf.view(), iq.view_mut()).unwrap();
//! assert!((iq[[0, 0, 50]].norm() - 1.0).abs() < 1e-2);
//! ```

use crate::channel_data::{ChannelData, Metadata};
use crate::error::{Error, Result, finite, positive};
use ndarray::{Array3, ArrayView3, ArrayViewMut3, Axis, Zip};
use num_complex::Complex32;

/// Longest FIR the demodulator accepts.
pub const MAX_TAPS: usize = 4097;

/// What a [`Demodulator`] does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemodConfig {
    /// Mixing frequency, Hz (usually the pulse's centre frequency).
    pub demod_hz: f64,
    /// Low-pass cut-off (−6 dB point of the FIR), Hz, in `(0, fs / (2·D)]` so that the kept band
    /// `±cutoff` fits the complex output rate `fs / D`.
    pub cutoff_hz: f64,
    /// Decimation factor `D` ≥ 1.
    pub decimation: usize,
    /// FIR length (odd, 3..=[`MAX_TAPS`]); `None`: about `8·fs / cutoff` taps.
    pub n_taps: Option<usize>,
}

impl DemodConfig {
    /// Mixing at `demod_hz`, low-pass at `cutoff_hz`, decimation `decimation`, default FIR length.
    pub fn new(demod_hz: f64, cutoff_hz: f64, decimation: usize) -> DemodConfig {
        DemodConfig {
            demod_hz,
            cutoff_hz,
            decimation,
            n_taps: None,
        }
    }
}

/// A demodulation plan for traces of a fixed length and sampling. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Demodulator {
    fs_hz: f64,
    t0_s: f64,
    n_in: usize,
    n_out: usize,
    config: DemodConfig,
    /// Twice the normalised FIR taps (DC gain 2), centred at `half`.
    taps: Vec<f32>,
    half: usize,
    /// `exp(−i·2π·f_demod·(t0 + k/fs))`.
    mixer: Vec<Complex32>,
}

impl Demodulator {
    /// Plans demodulation of traces of `n_samples` samples at `fs_hz` starting at `t0_s`.
    pub fn new(fs_hz: f64, t0_s: f64, n_samples: usize, config: DemodConfig) -> Result<Demodulator> {
        positive("fs_hz", fs_hz)?;
        finite("t0_s", t0_s)?;
        finite("demod_hz", config.demod_hz)?;
        if n_samples == 0 || n_samples > crate::sim::MAX_SAMPLES {
            return Err(Error::invalid(
                "n_samples",
                format!("1..={}", crate::sim::MAX_SAMPLES),
                n_samples,
            ));
        }
        if config.decimation == 0 || config.decimation > n_samples {
            return Err(Error::invalid(
                "decimation",
                format!("1..={n_samples} (the trace length)"),
                config.decimation,
            ));
        }
        let out_nyquist = fs_hz / (2.0 * config.decimation as f64);
        if !(config.cutoff_hz.is_finite() && config.cutoff_hz > 0.0 && config.cutoff_hz <= out_nyquist) {
            return Err(Error::invalid(
                "cutoff_hz",
                format!("a frequency in (0, fs / (2 D)] = (0, {out_nyquist}] Hz"),
                config.cutoff_hz,
            ));
        }
        let n_taps = match config.n_taps {
            Some(n) => n,
            None => (2 * ((4.0 * fs_hz / config.cutoff_hz).round() as usize) + 1).min(MAX_TAPS),
        };
        if !(3..=MAX_TAPS).contains(&n_taps) || n_taps % 2 == 0 {
            return Err(Error::invalid(
                "n_taps",
                format!("an odd count in 3..={MAX_TAPS}"),
                n_taps,
            ));
        }
        let half = n_taps / 2;
        let fc = config.cutoff_hz / fs_hz;
        let pi = std::f64::consts::PI;
        let mut h: Vec<f64> = (0..n_taps)
            .map(|j| {
                let m = j as f64 - half as f64;
                let sinc = if m == 0.0 {
                    2.0 * fc
                } else {
                    (2.0 * pi * fc * m).sin() / (pi * m)
                };
                let x = 2.0 * pi * j as f64 / (n_taps - 1) as f64;
                sinc * (0.42 - 0.5 * x.cos() + 0.08 * (2.0 * x).cos())
            })
            .collect();
        let sum: f64 = h.iter().sum();
        for v in &mut h {
            *v *= 2.0 / sum;
        }
        let mixer = (0..n_samples)
            .map(|k| {
                let turns = config.demod_hz * (t0_s + k as f64 / fs_hz);
                let ph = -2.0 * pi * (turns - turns.floor());
                Complex32::new(ph.cos() as f32, ph.sin() as f32)
            })
            .collect();
        Ok(Demodulator {
            fs_hz,
            t0_s,
            n_in: n_samples,
            n_out: (n_samples - 1) / config.decimation + 1,
            config,
            taps: h.into_iter().map(|v| v as f32).collect(),
            half,
            mixer,
        })
    }

    /// A plan for data like `data`.
    pub fn for_data(data: &ChannelData<f32>, config: DemodConfig) -> Result<Demodulator> {
        Demodulator::new(data.fs_hz(), data.t0_s(), data.n_samples(), config)
    }

    /// Samples per output trace.
    pub fn output_len(&self) -> usize {
        self.n_out
    }
    /// Output sampling rate, Hz.
    pub fn output_fs_hz(&self) -> f64 {
        self.fs_hz / self.config.decimation as f64
    }
    /// The configuration.
    pub fn config(&self) -> DemodConfig {
        self.config
    }

    /// Demodulates `rf` `[tx, channel, sample]` into `out` `[tx, channel, output_len]` in parallel,
    /// allocating nothing. Errors on shapes that do not fit the plan.
    pub fn demodulate_into(&self, rf: ArrayView3<'_, f32>, mut out: ArrayViewMut3<'_, Complex32>) -> Result<()> {
        let (a, b, n) = rf.dim();
        if n != self.n_in {
            return Err(Error::shape(
                "rf",
                format!("{} samples per trace", self.n_in),
                n.to_string(),
            ));
        }
        if out.dim() != (a, b, self.n_out) {
            return Err(Error::shape(
                "out",
                format!("{:?}", (a, b, self.n_out)),
                format!("{:?}", out.dim()),
            ));
        }
        let d = self.config.decimation;
        Zip::from(rf.lanes(Axis(2)))
            .and(out.lanes_mut(Axis(2)))
            .par_for_each(|x, mut y| {
                for (m, o) in y.iter_mut().enumerate() {
                    let centre = m * d;
                    let lo = centre.saturating_sub(self.half);
                    let hi = (centre + self.half).min(self.n_in - 1);
                    let mut acc = Complex32::new(0.0, 0.0);
                    for k in lo..=hi {
                        let h = self.taps[k + self.half - centre];
                        acc += self.mixer[k] * (x[k] * h);
                    }
                    *o = acc;
                }
            });
        Ok(())
    }

    /// Demodulates RF channel data: IQ channel data with `demod_hz` set, `fs / D`, the same `t0`.
    pub fn demodulate(&self, data: &ChannelData<f32>) -> Result<ChannelData<Complex32>> {
        let m = data.meta();
        if (m.fs_hz - self.fs_hz).abs() > 1e-9 * self.fs_hz || (m.t0_s - self.t0_s).abs() > 1e-3 / self.fs_hz {
            return Err(Error::invalid(
                "data",
                format!("fs_hz = {} and t0_s = {} (the plan's)", self.fs_hz, self.t0_s),
                format!("fs_hz = {}, t0_s = {}", m.fs_hz, m.t0_s),
            ));
        }
        let (a, b, _) = data.data().dim();
        let mut out = Array3::zeros((a, b, self.n_out));
        self.demodulate_into(data.data().view(), out.view_mut())?;
        ChannelData::new(
            out,
            Metadata {
                fs_hz: self.output_fs_hz(),
                demod_hz: Some(self.config.demod_hz),
                ..m.clone()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_configs() {
        assert!(Demodulator::new(40e6, 0.0, 100, DemodConfig::new(5e6, 5e6, 0)).is_err());
        assert!(Demodulator::new(40e6, 0.0, 100, DemodConfig::new(5e6, 30e6, 1)).is_err());
        assert!(Demodulator::new(40e6, 0.0, 0, DemodConfig::new(5e6, 5e6, 1)).is_err());
        let mut c = DemodConfig::new(5e6, 5e6, 2);
        c.n_taps = Some(4);
        assert!(Demodulator::new(40e6, 0.0, 100, c).is_err());
        let p = Demodulator::new(40e6, 1e-6, 101, DemodConfig::new(5e6, 5e6, 4)).unwrap();
        assert_eq!(p.output_len(), 26);
        assert!(
            p.demodulate_into(
                ndarray::Array3::zeros((1, 1, 100)).view(),
                ndarray::Array3::zeros((1, 1, 26)).view_mut()
            )
            .is_err()
        );
    }
}
