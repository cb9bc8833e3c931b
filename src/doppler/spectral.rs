//! Pulsed-wave spectral Doppler: the sonogram of one sample gate, its maximum- and mean-velocity
//! traces, and its grey-level display.
//!
//! **Input.** The gate's slow-time signal `[slow_time, gate_samples]`: for each firing, the
//! baseband IQ samples that fall inside the gate (one column for a one-sample gate, or a slice with
//! [`SpectralDoppler::sonogram_1d`]). Samples are taken at the pulse repetition frequency `prf_hz`.
//!
//! **Columns.** Column `k` covers the firings `k·hop .. k·hop + window_len`. Each gate sample's
//! segment is windowed, zero-padded to `fft_len` and Fourier transformed; the column's spectrum is
//! the sum over gate samples of `|X|²`, divided by `Σ w²` (so white noise of variance σ² per
//! sample gives a mean of `gate_samples · σ²` in every bin). `power_db` holds `10·log10` of it
//! (zero power gives −376 dB, the logarithm of `f32::MIN_POSITIVE`).
//!
//! **Velocity axis.** Bins are reordered so that the velocity grows with the bin index. Without a
//! baseline shift, bin `i` holds the Doppler frequency `f = (i − N/2)·prf/N` (`N = fft_len`), so 0
//! lies at bin `N/2` and the range is `[−prf/2, prf/2)`. A baseline `b` (a fraction of the range,
//! `−0.5..=0.5`) moves the range to `[(b − ½)·prf, (b + ½)·prf)`, rounded to whole bins: `b > 0`
//! shows more of the positive velocities (the zero line moves down on the display), and a
//! frequency outside the range shows where it aliases, `f ± prf`. Each frequency becomes the
//! velocity `v = c·f / (2·f0·cos θ)` with the beam-to-flow angle θ; positive is toward the probe.
//!
//! **Maximum velocity.** Per column, with `r = ⌈fft_len / window_len⌉` (bins per resolution
//! cell): the spectrum is smoothed over `2r + 1` bins; the noise floor is
//! the mean of its lowest quarter of bins (which assumes that noise fills at least a quarter of
//! the range, and lies a few dB under the noise's mean); the flow direction is the sign (positive
//! or negative velocities) holding more power above that floor. The detection level is the higher
//! of `trace_threshold_db` above the floor and `trace_below_peak_db` below the column's strongest
//! smoothed bin. The search starts at the outermost bin on the flow's side, moves inward toward
//! zero and stops at the first run of `r + 1` consecutive bins that all exceed the level. Searching
//! inward from the edge follows the envelope of the spectrum, which is what an examiner reads as
//! the peak velocity (a percentile of the cumulative power sits inside the envelope by an amount
//! that depends on the spectrum's shape). That bin is then refined: the edge value is the largest
//! smoothed power within two spreads inside it (the spread being the window's main lobe plus the
//! smoothing, in bins), and the trace is the outermost velocity, interpolated between bins, at
//! which the spectrum smoothed over only three bins still reaches half of that value. A spectrum
//! ending sharply at v_max, seen through any symmetric spreading (the window, the smoothing,
//! broadening that spreads velocities both ways), falls to half its edge value at v_max itself,
//! so the trace does not read high by the smoothing's width. The level above the floor, the
//! smoothing and the run rule keep noise from being taken for flow. A column without such a run reports 0 m/s. The mean velocity is
//! the power-weighted mean of the bins' velocities, with the noise floor subtracted from each bin
//! (negative remainders count as zero).
//!
//! ```
//! use ndarray::Array2;
//! use num_complex::Complex32;
//! use sonochip::doppler::spectral::SpectralDoppler;
//!
//! let cfg = SpectralDoppler { prf_hz: 4000.0, fft_len: 128, window_len: 64, hop: 32, ..Default::default() };
//! // A tone at +500 Hz: v = 1540 · 500 / (2 · 5 MHz) = 0.077 m/s toward the probe.
//! let iq = Array2::from_shape_fn((1024, 2), |(n, _)| {
//!     Complex32::from_polar(1.0, (2.0 * std::f64::consts::PI * 500.0 * n as f64 / 4000.0) as f32)
//! });
//! let s = cfg.sonogram(iq.view()).unwrap();
//! let peak = s.power_db.row(3).iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
//! assert!((s.velocity_m_s[peak] - 0.077).abs() < 0.01);
//! let grey = s.render(100, 200).unwrap(); // 100 rows (velocity), 200 columns (time)
//! assert_eq!(grey.dim(), (100, 200));
//! ```

use crate::bmode::{MAX_DB, MIN_DYNAMIC_RANGE_DB};
use crate::error::{Error, Result, in_range, plausible};
use crate::frame::MAX_RASTER_SIDE_PX;
use crate::medium::SOUND_SPEED_RANGE_M_S;
use crate::pulse::FC_RANGE_HZ;
use ndarray::{Array2, ArrayView2, Axis};
use num_complex::Complex32;
use rayon::prelude::*;
use rustfft::FftPlanner;
use std::path::Path;

/// Longest FFT (and analysis window), samples.
pub const MAX_FFT_LEN: usize = 4096;

/// Shortest FFT, samples.
pub const MIN_FFT_LEN: usize = 8;

/// Plausible pulse repetition frequencies, Hz.
pub const PRF_RANGE_HZ: (f64, f64) = (1.0, 1e6);

/// Largest number of cells (columns × velocity bins) of one sonogram: 64 MiB of `f32`.
pub const MAX_SONOGRAM_CELLS: usize = 1 << 24;

/// The closest the beam-to-flow angle may come to 90°, degrees (the cosine correction diverges).
pub const MIN_ANGLE_FROM_PERPENDICULAR_DEG: f64 = 1.0;

/// Power assigned to an empty bin before the logarithm (−376 dB).
const POWER_FLOOR: f32 = f32::MIN_POSITIVE;

/// The analysis window of each column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SpectralWindow {
    /// `w[n] = 1`: the narrowest main lobe, sidelobes at −13 dB.
    Rectangular,
    /// `w[n] = sin²(π (n + ½) / L)`: sidelobes at −31 dB, falling 18 dB per octave.
    #[default]
    Hann,
}

impl SpectralWindow {
    /// Half-width of the main lobe (centre to first zero) in units of `fft_len / window_len` bins.
    fn main_lobe_half_width(self) -> usize {
        match self {
            SpectralWindow::Rectangular => 1,
            SpectralWindow::Hann => 2,
        }
    }

    /// The `len` window coefficients. Cost: O(len).
    fn coefficients(self, len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| match self {
                SpectralWindow::Rectangular => 1.0,
                SpectralWindow::Hann => {
                    let s = (std::f64::consts::PI * (n as f64 + 0.5) / len as f64).sin();
                    (s * s) as f32
                }
            })
            .collect()
    }
}

/// Settings of a pulsed-wave spectral Doppler analysis. See the [module docs](self).
///
/// The fields are public; [`validate`](SpectralDoppler::validate) checks them (the analysis
/// methods call it first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectralDoppler {
    /// Pulse repetition frequency (the slow-time sampling rate), Hz, in [`PRF_RANGE_HZ`].
    pub prf_hz: f64,
    /// Transmit (demodulation) frequency, Hz, in [`FC_RANGE_HZ`].
    pub f0_hz: f64,
    /// Speed of sound, m/s, in [`SOUND_SPEED_RANGE_M_S`].
    pub c_m_s: f64,
    /// Angle between the beam and the flow, radians, for the angle correction `1 / cos θ`; at most
    /// 89° ([`MIN_ANGLE_FROM_PERPENDICULAR_DEG`] from perpendicular) either way.
    pub angle_rad: f64,
    /// FFT length = number of velocity bins, in `MIN_FFT_LEN..=MAX_FFT_LEN` (any length; powers of
    /// two are fastest).
    pub fft_len: usize,
    /// Firings per column, in `2..=fft_len` (zero-padded to `fft_len`).
    pub window_len: usize,
    /// Firings between columns, in `1..=MAX_FFT_LEN`.
    pub hop: usize,
    /// Analysis window.
    pub window: SpectralWindow,
    /// Shift of the velocity range as a fraction of it, in `[−0.5, 0.5]`; positive shows more of
    /// the positive (toward the probe) velocities.
    pub baseline: f64,
    /// Display dynamic range, dB, in `[MIN_DYNAMIC_RANGE_DB, MAX_DB]` (copied into the sonogram).
    pub dynamic_range_db: f64,
    /// Level above the noise floor at which the maximum-velocity trace detects flow, dB, in
    /// `[0.5, MAX_DB]`.
    pub trace_threshold_db: f64,
    /// Level below the column's strongest (smoothed) bin at which the maximum-velocity trace
    /// detects flow, dB, in `[0.5, MAX_DB]`; the higher of the two levels applies.
    pub trace_below_peak_db: f64,
}

impl Default for SpectralDoppler {
    /// 5 kHz PRF, 5 MHz, 1540 m/s, no angle correction, 128-point FFT of 128 firings every 32,
    /// Hann window, no baseline shift, 40 dB dynamic range, trace levels 15 dB above the noise
    /// floor and 6 dB below the peak.
    fn default() -> Self {
        SpectralDoppler {
            prf_hz: 5e3,
            f0_hz: 5e6,
            c_m_s: 1540.0,
            angle_rad: 0.0,
            fft_len: 128,
            window_len: 128,
            hop: 32,
            window: SpectralWindow::Hann,
            baseline: 0.0,
            dynamic_range_db: 40.0,
            trace_threshold_db: 15.0,
            trace_below_peak_db: 6.0,
        }
    }
}

impl SpectralDoppler {
    /// Checks every field against the ranges its docs state. Errors name the field, the expected
    /// range (with its unit) and the value. Cost: O(1).
    pub fn validate(&self) -> Result<()> {
        plausible("prf_hz", self.prf_hz, PRF_RANGE_HZ.0, PRF_RANGE_HZ.1, "Hz")?;
        plausible("f0_hz", self.f0_hz, FC_RANGE_HZ.0, FC_RANGE_HZ.1, "Hz")?;
        let (c_lo, c_hi) = SOUND_SPEED_RANGE_M_S;
        plausible("c_m_s", self.c_m_s, c_lo, c_hi, "m/s")?;
        let max_angle = (90.0 - MIN_ANGLE_FROM_PERPENDICULAR_DEG).to_radians();
        plausible("angle_rad", self.angle_rad, -max_angle, max_angle, "rad")?;
        if !(MIN_FFT_LEN..=MAX_FFT_LEN).contains(&self.fft_len) {
            return Err(Error::invalid(
                "fft_len",
                format!("a length in {MIN_FFT_LEN}..={MAX_FFT_LEN}"),
                self.fft_len,
            ));
        }
        if !(2..=self.fft_len).contains(&self.window_len) {
            return Err(Error::invalid(
                "window_len",
                format!("a length in 2..={} (fft_len)", self.fft_len),
                self.window_len,
            ));
        }
        if !(1..=MAX_FFT_LEN).contains(&self.hop) {
            return Err(Error::invalid("hop", format!("a count in 1..={MAX_FFT_LEN}"), self.hop));
        }
        in_range("baseline", self.baseline, -0.5, 0.5)?;
        dynamic_range(self.dynamic_range_db)?;
        plausible("trace_threshold_db", self.trace_threshold_db, 0.5, MAX_DB, "dB")?;
        plausible("trace_below_peak_db", self.trace_below_peak_db, 0.5, MAX_DB, "dB")?;
        Ok(())
    }

    /// The velocity (m/s, angle-corrected, positive toward the probe) of a Doppler frequency `f_hz`.
    pub fn velocity_of(&self, f_hz: f64) -> f64 {
        self.c_m_s * f_hz / (2.0 * self.f0_hz * self.angle_rad.cos())
    }

    /// The Nyquist velocity `c·prf / (4·f0·cos θ)`: half the unshifted velocity range, m/s.
    pub fn nyquist_velocity_m_s(&self) -> f64 {
        self.velocity_of(0.5 * self.prf_hz)
    }

    /// The baseline shift in whole bins, `round(baseline · fft_len)`.
    fn shift_bins(&self) -> i64 {
        (self.baseline * self.fft_len as f64).round() as i64
    }

    /// The bin centres' velocities in display order (increasing), m/s, after the baseline shift and
    /// the angle correction: bin `i` is the frequency `(i − N/2 + shift)·prf/N`. Errors as
    /// [`validate`](SpectralDoppler::validate). Cost: O(fft_len).
    pub fn velocity_axis_m_s(&self) -> Result<Vec<f64>> {
        self.validate()?;
        let mut v = vec![0.0; self.fft_len];
        self.fill_velocity_axis(&mut v);
        Ok(v)
    }

    /// [`velocity_axis_m_s`](Self::velocity_axis_m_s) written into `out` (its first `fft_len`
    /// entries), without validating.
    pub(crate) fn fill_velocity_axis(&self, out: &mut [f64]) {
        let n = self.fft_len as i64;
        let s = self.shift_bins();
        for (i, o) in (0..n).zip(out.iter_mut()) {
            *o = self.velocity_of((i - n / 2 + s) as f64 * self.prf_hz / n as f64);
        }
    }

    /// The centre time of column `k`'s window, s from the first firing:
    /// `(k·hop + (window_len − 1)/2) / prf_hz`.
    pub fn column_time_s(&self, k: u64) -> f64 {
        ((k * self.hop as u64) as f64 + 0.5 * (self.window_len as f64 - 1.0)) / self.prf_hz
    }

    /// For each display bin `i`, the FFT bin it shows: `(i − N/2 + shift) mod N`.
    pub(crate) fn display_order(&self) -> Vec<usize> {
        let n = self.fft_len as i64;
        let shift = self.shift_bins();
        (0..n).map(|i| (i - n / 2 + shift).rem_euclid(n) as usize).collect()
    }

    /// Bins per resolution cell, plus one (zero-padded bins are correlated): the run length of the
    /// maximum-velocity search.
    pub(crate) fn trace_run(&self) -> usize {
        self.fft_len.div_ceil(self.window_len) + 1
    }

    /// How far, in bins, the analysis spreads a sharp spectral edge: the window's main lobe plus
    /// the smoothing of the trace search (see the [module docs](self)).
    pub(crate) fn trace_spread(&self) -> usize {
        self.window.main_lobe_half_width() * self.fft_len.div_ceil(self.window_len) + self.trace_run() - 1
    }

    /// The number of columns for `n_slow` firings: `(n_slow − window_len) / hop + 1`, or 0 when
    /// there are fewer firings than `window_len`.
    pub fn n_columns(&self, n_slow: usize) -> usize {
        if n_slow < self.window_len || self.hop == 0 {
            0
        } else {
            (n_slow - self.window_len) / self.hop + 1
        }
    }

    /// The sonogram of a one-sample gate. As [`sonogram`](SpectralDoppler::sonogram) with one gate
    /// sample.
    pub fn sonogram_1d(&self, iq: &[Complex32]) -> Result<Sonogram> {
        let view =
            ArrayView2::from_shape((iq.len(), 1), iq).map_err(|e| Error::shape("iq", "a slice", e.to_string()))?;
        self.sonogram(view)
    }

    /// The sonogram of the gate signal `iq` `[slow_time, gate_samples]` (any strides). See the
    /// [module docs](self) for the columns, the axis and the traces.
    ///
    /// Errors: the settings as [`validate`](SpectralDoppler::validate); `iq` when it has no gate
    /// sample, fewer firings than `window_len`, a non-finite sample, or so many columns that the
    /// sonogram would exceed [`MAX_SONOGRAM_CELLS`] (checked before allocating).
    ///
    /// Cost: one `fft_len`-point FFT per gate sample and column (`O(cols · gates · N log N)`),
    /// parallel over columns, then a sort of each column's spectrum for the traces; allocates the
    /// `[columns, fft_len]` result (converted to dB in place), one FFT buffer per worker thread
    /// and two scratch spectra for the traces.
    pub fn sonogram(&self, iq: ArrayView2<'_, Complex32>) -> Result<Sonogram> {
        self.validate()?;
        let (n_slow, n_gate) = iq.dim();
        let iq_shape = |expected: String| Error::shape("iq", expected, format!("{n_slow}×{n_gate}"));
        if n_gate == 0 {
            return Err(iq_shape("at least one gate sample (column)".into()));
        }
        let n_cols = self.n_columns(n_slow);
        if n_cols == 0 {
            return Err(iq_shape(format!(
                "at least window_len = {} firings (rows)",
                self.window_len
            )));
        }
        let n = self.fft_len;
        if n_cols.saturating_mul(n) > MAX_SONOGRAM_CELLS {
            return Err(Error::shape(
                "iq",
                format!("at most {MAX_SONOGRAM_CELLS} sonogram cells (columns × fft_len)"),
                format!("{n_cols} columns × {n}"),
            ));
        }
        if let Some(bad) = iq.iter().find(|z| !(z.re.is_finite() && z.im.is_finite())) {
            return Err(Error::invalid("iq", "finite samples", bad));
        }

        let plan = ColumnPlan::new(self);
        let src = self.display_order();
        let mut linear = Array2::<f32>::zeros((n_cols, n));
        linear.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each_init(
            || plan.scratch(),
            |scratch, (k, mut row)| {
                let start = k * self.hop;
                let segments = (0..n_gate).map(|g| iq.slice(ndarray::s![start..start + self.window_len, g]));
                plan.column(segments.map(|seg| seg.into_iter().copied()), scratch);
                for (out, &j) in row.iter_mut().zip(&src) {
                    *out = scratch.acc[j];
                }
            },
        );

        let velocity_m_s = self.velocity_axis_m_s()?;
        let zero_bin = velocity_m_s.partition_point(|&v| v < 0.0);
        let (run, spread) = (self.trace_run(), self.trace_spread());
        let mut trace_scratch = TraceScratch::new(n);
        let mut max_velocity_m_s = Vec::with_capacity(n_cols);
        let mut mean_velocity_m_s = Vec::with_capacity(n_cols);
        for row in linear.axis_iter(Axis(0)) {
            let row = row.as_slice().unwrap_or(&[]);
            let levels = (self.trace_threshold_db, self.trace_below_peak_db);
            let (vmax, vmean) = traces(row, &velocity_m_s, zero_bin, (run, spread), levels, &mut trace_scratch);
            max_velocity_m_s.push(vmax.unwrap_or(0.0));
            mean_velocity_m_s.push(vmean);
        }
        let time_s = (0..n_cols).map(|k| self.column_time_s(k as u64)).collect();
        let mut power_db = linear;
        power_db.mapv_inplace(to_db);
        Ok(Sonogram {
            power_db,
            velocity_m_s,
            time_s,
            max_velocity_m_s,
            mean_velocity_m_s,
            dynamic_range_db: self.dynamic_range_db,
        })
    }
}

/// Checks a dynamic range as [`SpectralDoppler::dynamic_range_db`] documents it.
fn dynamic_range(db: f64) -> Result<f64> {
    plausible("dynamic_range_db", db, MIN_DYNAMIC_RANGE_DB, MAX_DB, "dB")
}

/// A column's power in dB: `10·log10` of it, [`POWER_FLOOR`] for an empty bin.
pub(crate) fn to_db(p: f32) -> f32 {
    10.0 * p.max(POWER_FLOOR).log10()
}

/// The FFT, window and buffers of one column: what the offline sonogram and the live stream share,
/// so that both compute a column with the same arithmetic.
#[derive(Clone)]
pub(crate) struct ColumnPlan {
    fft: std::sync::Arc<dyn rustfft::Fft<f32>>,
    window: Vec<f32>,
    /// `1 / Σ w²`.
    norm: f32,
}

impl std::fmt::Debug for ColumnPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColumnPlan")
            .field("fft_len", &self.fft.len())
            .field("window_len", &self.window.len())
            .finish()
    }
}

/// The buffers one column needs; `acc` holds the column's power in FFT order after
/// [`ColumnPlan::column`].
#[derive(Debug, Clone)]
pub(crate) struct ColumnScratch {
    buf: Vec<Complex32>,
    fft_scratch: Vec<Complex32>,
    pub(crate) acc: Vec<f32>,
}

impl ColumnPlan {
    /// The plan of `cfg` (assumed valid). Cost: an FFT plan and the window.
    pub(crate) fn new(cfg: &SpectralDoppler) -> ColumnPlan {
        let window = cfg.window.coefficients(cfg.window_len);
        let norm = 1.0 / window.iter().map(|x| x * x).sum::<f32>().max(f32::MIN_POSITIVE);
        ColumnPlan {
            fft: FftPlanner::<f32>::new().plan_fft_forward(cfg.fft_len),
            window,
            norm,
        }
    }

    /// Buffers for [`column`](Self::column).
    pub(crate) fn scratch(&self) -> ColumnScratch {
        let n = self.fft.len();
        ColumnScratch {
            buf: vec![Complex32::ZERO; n],
            fft_scratch: vec![Complex32::ZERO; self.fft.get_inplace_scratch_len()],
            acc: vec![0.0; n],
        }
    }

    /// One column's power spectrum into `s.acc` (FFT order, normalised by `Σ w²`): each segment
    /// (one gate sample's `window_len` firings) windowed, zero-padded and transformed, `|X|²` summed
    /// over the segments. Allocates nothing.
    pub(crate) fn column<I, S>(&self, segments: I, s: &mut ColumnScratch)
    where
        I: Iterator<Item = S>,
        S: Iterator<Item = Complex32>,
    {
        s.acc.fill(0.0);
        let len = self.window.len();
        for seg in segments {
            for (b, (x, wn)) in s.buf.iter_mut().zip(seg.zip(&self.window)) {
                *b = x * wn;
            }
            s.buf[len..].fill(Complex32::ZERO);
            self.fft.process_with_scratch(&mut s.buf, &mut s.fft_scratch);
            for (a, z) in s.acc.iter_mut().zip(s.buf.iter()) {
                *a += z.norm_sqr();
            }
        }
        for a in s.acc.iter_mut() {
            *a *= self.norm;
        }
    }
}

/// Buffers of [`traces`], sized once for `fft_len` bins.
#[derive(Debug, Clone)]
pub(crate) struct TraceScratch {
    smooth: Vec<f64>,
    light: Vec<f64>,
    sorted: Vec<f64>,
}

impl TraceScratch {
    pub(crate) fn new(n: usize) -> TraceScratch {
        TraceScratch {
            smooth: vec![0.0; n],
            light: vec![0.0; n],
            sorted: vec![0.0; n],
        }
    }
}

/// The maximum velocity (`None` where no flow is detected) and the mean velocity of one column's
/// linear spectrum `p` (display order) as the module docs describe; `zero_bin` is the first bin
/// with a velocity ≥ 0, `run` and `spread` are [`SpectralDoppler::trace_run`] and
/// [`SpectralDoppler::trace_spread`]. Allocates nothing (`scratch` holds `p.len()` bins).
pub(crate) fn traces(
    p: &[f32],
    v: &[f64],
    zero_bin: usize,
    (run, spread): (usize, usize),
    levels_db: (f64, f64),
    scratch: &mut TraceScratch,
) -> (Option<f64>, f64) {
    let (threshold_db, below_peak_db) = levels_db;
    let n = p.len();
    if n == 0 || v.len() != n || scratch.smooth.len() != n || scratch.sorted.len() != n {
        return (None, 0.0);
    }
    let half = run.saturating_sub(1).max(1);
    let smooth = &mut scratch.smooth;
    for (i, s) in smooth.iter_mut().enumerate() {
        let lo = i.saturating_sub(half);
        let hi = (i + half).min(n - 1);
        *s = p[lo..=hi].iter().map(|&x| f64::from(x)).sum::<f64>() / (hi - lo + 1) as f64;
    }
    let light = &mut scratch.light;
    for (i, s) in light.iter_mut().enumerate() {
        let (lo, hi) = (i.saturating_sub(1), (i + 1).min(n - 1));
        *s = p[lo..=hi].iter().map(|&x| f64::from(x)).sum::<f64>() / (hi - lo + 1) as f64;
    }
    let (smooth, light) = (&scratch.smooth, &scratch.light);
    let sorted = &mut scratch.sorted;
    sorted.copy_from_slice(smooth);
    sorted.sort_unstable_by(f64::total_cmp);
    let quarter = (n / 4).max(1);
    let noise = sorted[..quarter].iter().sum::<f64>() / quarter as f64;
    let (mut pos, mut neg, mut total, mut moment) = (0.0, 0.0, 0.0, 0.0);
    for (&pi, &vi) in p.iter().zip(v) {
        let e = (f64::from(pi) - noise).max(0.0);
        if vi >= 0.0 {
            pos += e;
        } else {
            neg += e;
        }
        total += e;
        moment += e * vi;
    }
    let mean = if total > 0.0 { moment / total } else { 0.0 };
    let peak = sorted[n - 1];
    let floor_level = noise * 10f64.powf(threshold_db / 10.0);
    let level = floor_level.max(peak * 10f64.powf(-below_peak_db / 10.0));
    let above = |i: usize| smooth[i] > level;
    // From the outermost bin of the flow's side inward: the first bin that starts a run of `run`
    // bins above the level, the run lying between it and the zero bin.
    let edge = Edge {
        smooth,
        light,
        v,
        zero: zero_bin,
        spread,
        floor_level,
    };
    let vmax = if pos >= neg {
        (zero_bin + run..n)
            .rev()
            .find(|&i| (i + 1 - run..=i).all(above))
            .map(|i| edge.refine(i, 1))
    } else {
        (0..(zero_bin + 1).saturating_sub(run))
            .find(|&i| (i..i + run).all(above))
            .map(|i| edge.refine(i, -1))
    };
    (vmax, mean)
}

/// A column's spectra for refining the maximum-velocity trace (see [`Edge::refine`]).
struct Edge<'a> {
    /// Smoothed over `2·run − 1` bins, and over three.
    smooth: &'a [f64],
    light: &'a [f64],
    /// The bins' velocities.
    v: &'a [f64],
    /// The first bin with a velocity ≥ 0.
    zero: usize,
    /// [`SpectralDoppler::trace_spread`].
    spread: usize,
    /// The trace threshold over the noise floor.
    floor_level: f64,
}

impl Edge<'_> {
    /// Refines the outermost bin `edge` above the detection level on the flow's side `dir` (+1:
    /// velocities ≥ 0, bins growing outward; −1: negative velocities, bins shrinking outward). The
    /// edge value is the largest smoothed power within `2·spread` bins inside `edge` (not past
    /// zero), and the trace is the outermost velocity, interpolated between bins, up to `spread`
    /// bins beyond `edge`, at which the three-bin spectrum still reaches half of it. A sharp edge
    /// (a spectrum ending at v_max, flat or rising toward it) seen through the analysis's
    /// symmetric spreading crosses half its edge value at the edge itself, and a lone tone
    /// crosses it at the half-width of the window's main lobe: the estimate does not grow with
    /// the wide smoothing that the detection needs against noise, as a fixed level below the
    /// peak would. Falls back to the bin's own velocity when half the edge value is not above the
    /// trace threshold over the noise floor.
    fn refine(&self, edge: usize, dir: isize) -> f64 {
        let n = self.v.len() as isize;
        let spread = self.spread.max(1) as isize;
        // Positions counted outward from zero: bin(x) = edge + dir·(x − e).
        let bin = |x: isize| (edge as isize + dir * x) as usize;
        let inner = if dir > 0 {
            (2 * spread).min(edge as isize - self.zero as isize)
        } else {
            (2 * spread).min(self.zero as isize - 1 - edge as isize)
        }
        .max(0);
        let outer = if dir > 0 {
            spread.min(n - 1 - edge as isize)
        } else {
            spread.min(edge as isize)
        };
        let half = 0.5 * (-inner..=0).map(|x| self.smooth[bin(x)]).fold(0.0f64, f64::max);
        if half <= self.floor_level {
            return self.v[edge];
        }
        match (-inner..=outer).rev().find(|&x| self.light[bin(x)] >= half) {
            Some(x) if x < outer => {
                let (a, b) = (self.light[bin(x)], self.light[bin(x + 1)]);
                let f = (a - half) / (a - b);
                self.v[bin(x)] + f * (self.v[bin(x + 1)] - self.v[bin(x)])
            }
            Some(x) => self.v[bin(x)],
            None => self.v[edge],
        }
    }
}

/// A spectral Doppler display: power over time and velocity, with its axes and traces.
///
/// The fields are public so that an app can read and post-process them; [`render`](Sonogram::render)
/// checks that they still fit together.
#[derive(Debug, Clone, PartialEq)]
pub struct Sonogram {
    /// Power `[columns (time), velocity bins]`, dB (see the [module docs](self)).
    pub power_db: Array2<f32>,
    /// Bin centres, m/s, increasing (baseline-shifted, angle-corrected; positive toward the probe).
    pub velocity_m_s: Vec<f64>,
    /// Centre time of each column's window, s, from the first firing.
    pub time_s: Vec<f64>,
    /// Maximum-velocity trace, m/s, signed in the flow's direction (0 where no flow is detected).
    pub max_velocity_m_s: Vec<f64>,
    /// Mean-velocity trace, m/s (power-weighted, noise floor subtracted).
    pub mean_velocity_m_s: Vec<f64>,
    /// Dynamic range [`render`](Sonogram::render) maps to grey, dB.
    pub dynamic_range_db: f64,
}

impl Sonogram {
    /// The grey image of the sonogram: `[height_px, width_px]`, velocity vertical (row 0 = the
    /// highest velocity bin, positive velocities up), time to the right. Each pixel shows its
    /// nearest cell; the largest finite power is white and `dynamic_range_db` below it black.
    ///
    /// Errors: `height_px` or `width_px` outside `1..=MAX_RASTER_SIDE_PX`; `power_db` when its shape
    /// does not match `time_s` × `velocity_m_s` or is empty; `dynamic_range_db` as in
    /// [`SpectralDoppler::validate`]. Cost: O(height · width) plus one pass over `power_db`.
    pub fn render(&self, height_px: usize, width_px: usize) -> Result<Array2<u8>> {
        for (name, n) in [("height_px", height_px), ("width_px", width_px)] {
            if !(1..=MAX_RASTER_SIDE_PX).contains(&n) {
                return Err(Error::invalid(name, format!("a size in 1..={MAX_RASTER_SIDE_PX}"), n));
            }
        }
        let (n_cols, n_bins) = self.power_db.dim();
        if n_cols == 0 || n_bins == 0 || n_cols != self.time_s.len() || n_bins != self.velocity_m_s.len() {
            return Err(Error::shape(
                "power_db",
                format!(
                    "time_s × velocity_m_s = {}×{}, not empty",
                    self.time_s.len(),
                    self.velocity_m_s.len()
                ),
                format!("{n_cols}×{n_bins}"),
            ));
        }
        let dr = dynamic_range(self.dynamic_range_db)? as f32;
        let top = self
            .power_db
            .iter()
            .copied()
            .filter(|p| p.is_finite())
            .fold(f32::NEG_INFINITY, f32::max);
        let scale = 255.0 / dr;
        let col_of: Vec<usize> = (0..width_px).map(|c| c * n_cols / width_px).collect();
        Ok(Array2::from_shape_fn((height_px, width_px), |(r, c)| {
            let bin = n_bins - 1 - r * n_bins / height_px;
            let p = self.power_db[[col_of[c], bin]];
            let g = (p - top + dr) * scale;
            if g.is_nan() {
                0
            } else {
                g.round().clamp(0.0, 255.0) as u8
            }
        }))
    }

    /// [`render`](Sonogram::render) written as an 8-bit greyscale PNG at `path`, creating missing
    /// parent folders. Errors: those of `render`; [`Error::Io`] naming the path when a folder or
    /// the file cannot be written; [`Error::Format`] when the encoder fails. Cost: the rendering,
    /// one copy and the encoding.
    pub fn save_png(&self, path: impl AsRef<Path>, height_px: usize, width_px: usize) -> Result<()> {
        let grey = self.render(height_px, width_px)?;
        let (h, w) = grey.dim();
        let raw: Vec<u8> = grey.iter().copied().collect();
        let img = image::GrayImage::from_raw(w as u32, h as u32, raw)
            .ok_or_else(|| Error::shape("power_db", "a renderable image", format!("{h}×{w}")))?;
        super::color::write_png(&img, path.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};
    use std::f64::consts::PI;

    const C: f64 = 1540.0;
    const F0: f64 = 5e6;

    /// `exp(i·2π·f·n/prf)`, phase accumulated in f64.
    fn tone(n: usize, f_hz: f64, prf_hz: f64) -> Vec<Complex32> {
        (0..n)
            .map(|k| Complex32::from_polar(1.0, (2.0 * PI * f_hz * k as f64 / prf_hz).rem_euclid(2.0 * PI) as f32))
            .collect()
    }

    /// Settings at 5 MHz, 1540 m/s and 0°, with the given PRF and column layout.
    fn setup(prf_hz: f64, fft_len: usize, window_len: usize, hop: usize) -> SpectralDoppler {
        let (f0_hz, c_m_s) = (F0, C);
        SpectralDoppler {
            prf_hz,
            f0_hz,
            c_m_s,
            fft_len,
            window_len,
            hop,
            ..Default::default()
        }
    }

    fn peak_bin(s: &Sonogram, col: usize) -> usize {
        let row = s.power_db.row(col);
        (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap()
    }

    /// Test 1: a pure tone peaks within one bin of `c·f_D / (2·f0·cos θ)`, at 0° and 60°, for
    /// positive, negative and zero Doppler shifts.
    #[test]
    fn tone_peaks_at_its_velocity() {
        let prf = 6000.0;
        let mut worst_bins: f64 = 0.0;
        for angle_deg in [0.0f64, 60.0] {
            let cfg = SpectralDoppler {
                angle_rad: angle_deg.to_radians(),
                ..setup(prf, 256, 128, 64)
            };
            let bin_m_s = C * (prf / 256.0) / (2.0 * F0 * angle_deg.to_radians().cos());
            for f_d in [-2900.0, -1234.5, -300.0, 0.0, 171.0, 1000.0, 2777.7] {
                let truth = C * f_d / (2.0 * F0 * angle_deg.to_radians().cos());
                let s = cfg.sonogram_1d(&tone(1024, f_d, prf)).unwrap();
                assert_eq!(s.power_db.dim(), (15, 256));
                for col in 0..s.time_s.len() {
                    let err_bins = (s.velocity_m_s[peak_bin(&s, col)] - truth).abs() / bin_m_s;
                    worst_bins = worst_bins.max(err_bins);
                    assert!(err_bins <= 1.0, "{angle_deg}° {f_d} Hz col {col}: {err_bins} bins");
                }
            }
        }
        eprintln!("tone peak: worst error {worst_bins:.3} bins");
    }

    /// Test 1, baseline: the axis moves by `baseline · fft_len` bins, and a tone outside the shown
    /// range appears where it aliases (`f ± prf`).
    #[test]
    fn baseline_shifts_the_axis_and_the_alias() {
        let prf = 8000.0;
        let n = 128;
        let base = setup(prf, n, 128, 128);
        let v = |f: f64| C * f / (2.0 * F0);
        let bin_m_s = v(prf / n as f64);
        for (b, f_tone, f_shown) in [
            (0.0, -0.4 * prf, -0.4 * prf),
            (0.25, -0.4 * prf, 0.6 * prf),
            (-0.25, 0.4 * prf, -0.6 * prf),
            (0.5, -0.1 * prf, 0.9 * prf),
        ] {
            let cfg = SpectralDoppler { baseline: b, ..base };
            let axis = cfg.velocity_axis_m_s().unwrap();
            // Independent: the shown range is [(b − ½)·prf, (b + ½)·prf) in steps of prf/N.
            let lo = (b - 0.5) * prf;
            assert!((axis[0] - v(lo)).abs() < 1e-9, "b = {b}: {} vs {}", axis[0], v(lo));
            assert!((axis[n - 1] - v(lo + prf * (n as f64 - 1.0) / n as f64)).abs() < 1e-9);
            let zero = axis.iter().position(|&x| x.abs() < 1e-12).map(|i| i as i64);
            let expect_zero = n as i64 / 2 - (b * n as f64).round() as i64;
            assert_eq!(zero, (expect_zero < n as i64).then_some(expect_zero), "b = {b}");
            let s = cfg.sonogram_1d(&tone(512, f_tone, prf)).unwrap();
            for col in 0..s.time_s.len() {
                let got = s.velocity_m_s[peak_bin(&s, col)];
                assert!((got - v(f_shown)).abs() <= bin_m_s, "b = {b}: {got} vs {}", v(f_shown));
            }
        }
    }

    /// A carotid-like maximum-velocity waveform over a 1 s cycle: systolic peak 0.1 + 0.38 m/s at
    /// 0.15 s, a smaller wave at 0.38 s, diastolic floor 0.1 m/s.
    fn carotid(t: f64) -> f64 {
        let tau = t.rem_euclid(1.0);
        let g = |c: f64, w: f64| (-((tau - c) / w).powi(2)).exp();
        0.10 + 0.38 * g(0.15, 0.05) + 0.08 * g(0.38, 0.06)
    }

    /// Test 2: scatterers with velocities `a·v(t)`, `a` spread evenly over (0, 1], in four gate
    /// samples with independent phases, plus white noise. The maximum-velocity trace follows v(t)
    /// within 5 % RMS of the peak; the mean trace lies below it, near the scatterers' mean velocity.
    #[test]
    fn max_velocity_trace_follows_a_pulsatile_waveform() {
        let prf = 10_000.0;
        let (n_slow, n_gate, m) = (12_000, 4, 24);
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let noise = Normal::new(0.0, (0.24f64 / 2.0).sqrt()).unwrap();
        // Phase of a scatterer moving at a·v(t): 2π ∫ 2·f0·a·v/c dt, summed firing by firing.
        let mut unit_phase = vec![0.0f64; n_slow];
        for k in 1..n_slow {
            let t_mid = (k as f64 - 0.5) / prf;
            unit_phase[k] = unit_phase[k - 1] + 2.0 * PI * 2.0 * F0 * carotid(t_mid) / C / prf;
        }
        let mut iq = Array2::<Complex32>::zeros((n_slow, n_gate));
        for g in 0..n_gate {
            let phases: Vec<f64> = (0..m).map(|_| rng.random::<f64>() * 2.0 * PI).collect();
            for k in 0..n_slow {
                let mut z = num_complex::Complex64::new(noise.sample(&mut rng), noise.sample(&mut rng));
                for (j, p0) in phases.iter().enumerate() {
                    let a = (j + 1) as f64 / m as f64;
                    z += num_complex::Complex64::from_polar(1.0, p0 + a * unit_phase[k]);
                }
                iq[[k, g]] = Complex32::new(z.re as f32, z.im as f32);
            }
        }
        let cfg = setup(prf, 256, 96, 48);
        let s = cfg.sonogram(iq.view()).unwrap();
        let peak = 0.48;
        let (mut se_max, mut se_mean, mut worst) = (0.0, 0.0, 0.0f64);
        let n = s.time_s.len();
        for k in 0..n {
            let truth = carotid(s.time_s[k]);
            let e = s.max_velocity_m_s[k] - truth;
            se_max += e * e;
            worst = worst.max(e.abs());
            // Equal-amplitude scatterers at (j + 1)/m of v: mean (m + 1)/(2m) of v.
            se_mean += (s.mean_velocity_m_s[k] - truth * (m + 1) as f64 / (2 * m) as f64).powi(2);
            assert!(
                s.mean_velocity_m_s[k] < s.max_velocity_m_s[k] && s.mean_velocity_m_s[k] > 0.0,
                "column {k}: mean {} max {}",
                s.mean_velocity_m_s[k],
                s.max_velocity_m_s[k]
            );
        }
        let rms_max = (se_max / n as f64).sqrt() / peak;
        let rms_mean = (se_mean / n as f64).sqrt() / peak;
        eprintln!(
            "pulsatile: {n} columns, max-trace RMS error {:.2} % of peak (worst {:.3} m/s), mean-trace RMS {:.2} %",
            100.0 * rms_max,
            worst,
            100.0 * rms_mean
        );
        assert!(rms_max < 0.05, "max trace RMS {rms_max}");
        assert!(rms_mean < 0.10, "mean trace RMS {rms_mean}");
        // Noise alone (one gate sample, the least averaged case) is seldom taken for flow.
        let white: Vec<Complex32> = (0..n_slow)
            .map(|_| Complex32::new(noise.sample(&mut rng) as f32, noise.sample(&mut rng) as f32))
            .collect();
        let s = cfg.sonogram_1d(&white).unwrap();
        let false_flow = s.max_velocity_m_s.iter().filter(|&&v| v != 0.0).count();
        eprintln!("noise only: {false_flow} of {} columns report flow", s.time_s.len());
        assert!(false_flow * 20 <= s.time_s.len(), "{false_flow} columns");
    }

    #[test]
    fn render_puts_positive_velocities_up() {
        let prf = 4000.0;
        let cfg = setup(prf, 64, 64, 32);
        let mut sig = tone(320, 1000.0, prf); // +prf/4: a quarter of the height above the centre
        sig.extend(tone(320, -1000.0, prf));
        let s = cfg.sonogram_1d(&sig).unwrap();
        let img = s.render(64, s.time_s.len()).unwrap();
        let brightest = |c: usize| (0..64).max_by_key(|&r| img[[r, c]]).unwrap();
        // Row r shows bin 63 − r; +prf/4 is bin 48 (row 15), −prf/4 bin 16 (row 47).
        assert_eq!(brightest(0), 15);
        assert_eq!(brightest(s.time_s.len() - 1), 47);
        assert_eq!(img.iter().copied().max(), Some(255));
        let dir = std::env::temp_dir().join(format!("sonochip-sonogram-{}", std::process::id()));
        s.save_png(dir.join("a/s.png"), 50, 30).unwrap();
        let back = image::open(dir.join("a/s.png")).unwrap().into_luma8();
        assert_eq!((back.width(), back.height()), (30, 50));
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Test 4: every bad setting or input is refused with an error naming it.
    #[test]
    fn bad_parameters_are_named() {
        let ok = SpectralDoppler::default();
        ok.validate().unwrap();
        let with = |f: fn(&mut SpectralDoppler)| {
            let mut c = ok;
            f(&mut c);
            c
        };
        type Edit = fn(&mut SpectralDoppler);
        let cases: [(Edit, &str); 15] = [
            (|c| c.prf_hz = 0.0, "prf_hz"),
            (|c| c.prf_hz = f64::NAN, "prf_hz"),
            (|c| c.f0_hz = 5.0, "f0_hz"),
            (|c| c.c_m_s = f64::INFINITY, "c_m_s"),
            (|c| c.angle_rad = 89.5f64.to_radians(), "angle_rad"),
            (|c| c.angle_rad = -PI / 2.0, "angle_rad"),
            (|c| c.fft_len = 8192, "fft_len"),
            (|c| c.fft_len = 4, "fft_len"),
            (|c| c.window_len = 129, "window_len"),
            (|c| c.window_len = 1, "window_len"),
            (|c| c.hop = 0, "hop"),
            (|c| c.baseline = 0.6, "baseline"),
            (|c| c.dynamic_range_db = 0.0, "dynamic_range_db"),
            (|c| c.trace_threshold_db = f64::NAN, "trace_threshold_db"),
            (|c| c.trace_below_peak_db = 0.0, "trace_below_peak_db"),
        ];
        let sig = tone(256, 100.0, 5000.0);
        for (f, name) in cases {
            let cfg = with(f);
            assert_eq!(cfg.validate().unwrap_err().parameter(), Some(name), "{cfg:?}");
            assert_eq!(cfg.sonogram_1d(&sig).unwrap_err().parameter(), Some(name));
        }
        // 88.9° is allowed; the correction is large but finite.
        assert!(with(|c| c.angle_rad = 88.9f64.to_radians()).validate().is_ok());
        let param = |r: Result<Sonogram>| r.unwrap_err().parameter();
        assert_eq!(param(ok.sonogram(Array2::zeros((256, 0)).view())), Some("iq"));
        assert_eq!(param(ok.sonogram_1d(&sig[..127])), Some("iq"));
        let mut nan = sig.clone();
        nan[7].im = f32::NAN;
        assert_eq!(param(ok.sonogram_1d(&nan)), Some("iq"));
        // 4,097 columns of 4,096 bins would exceed the cell cap: refused before allocating.
        let long = setup(5e3, 4096, 4096, 1);
        assert_eq!(param(long.sonogram_1d(&vec![Complex32::ZERO; 8192])), Some("iq"));
        // A sonogram whose fields no longer fit together, and bad image sizes.
        let mut s = ok.sonogram_1d(&sig).unwrap();
        assert_eq!(s.render(0, 10).unwrap_err().parameter(), Some("height_px"));
        assert_eq!(
            s.render(10, MAX_RASTER_SIDE_PX + 1).unwrap_err().parameter(),
            Some("width_px")
        );
        s.dynamic_range_db = -3.0;
        assert_eq!(s.render(10, 10).unwrap_err().parameter(), Some("dynamic_range_db"));
        s.velocity_m_s.pop();
        assert_eq!(s.render(10, 10).unwrap_err().parameter(), Some("power_db"));
    }
}
