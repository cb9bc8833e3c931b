//! Live spectral (pulsed-wave) Doppler: firings streamed in, a scrolling or sweeping sonogram out.
//!
//! Two layers:
//!
//! - A [`SonogramStream`] takes the gate's slow-time signal `[firings, gate samples]` in pieces of
//!   any length and computes each sonogram column as soon as its window is complete. Column `k`
//!   covers the firings `k·hop .. k·hop + window_len` of the whole stream, whatever the pieces
//!   were, with the same arithmetic as the offline [`SpectralDoppler::sonogram`] (the two share
//!   the column code): fed the same signal in pieces of any sizes, it gives the offline columns bit
//!   for bit. It keeps the last `window_len` firings (a ring), the last `columns` spectra (a ring
//!   of linear and dB power in FFT order, with their traces), and an RGB display `[height_px,
//!   columns, 3]`: one pixel column per sonogram column, velocity up (row 0 is the highest bin),
//!   grey as [`Sonogram::render`] maps it (the strongest power on display white, plus the display
//!   gain, `dynamic_range_db` below black), the maximum-velocity trace in [`TRACE_RGB`] and a
//!   dashed zero-velocity line in [`BASELINE_RGB`]. [`SonogramMode::Scroll`] shows the columns
//!   oldest left, newest right (filling from the left until the display is full);
//!   [`SonogramMode::Sweep`] writes column `k` at display column `k mod columns` and blanks
//!   [`ERASE_BAR_COLUMNS`] columns ahead of the newest one.
//! - A [`SpectralImager`] is planned once from a channel-data description, a sample gate on one
//!   beam line, a beamforming configuration and a [`SpectralImagerConfig`]. Each
//!   [`push`](SpectralImager::push) of an ensemble (any number of frames, one firing of the gate
//!   per frame) demodulates and beamforms each frame on the gate's samples only
//!   (`EnsembleBeamformer` with a one-line grid: the gate's depths, a quarter wavelength apart),
//!   runs the [`StreamingWallFilter`] on each gate sample's slow-time signal, and feeds the result
//!   to its stream. The gate's samples are analysed as the offline path does: their spectra are
//!   summed (incoherent averaging over the gate's depths).
//!
//! **Settings.** The analysis' layout — `prf_hz` (the slow-time rate: frames per second), `fft_len`,
//! `window_len`, `hop` and `window` — is planned; changing it needs a new imager. Everything else
//! of the [`SpectralDoppler`] (baseline, angle correction, sound speed and frequency of the
//! velocity scale, dynamic range, trace levels) changes live with
//! [`set_doppler`](SonogramStream::set_doppler): the kept spectra are re-ordered for the new
//! baseline, their traces recomputed and the display re-rendered, without any FFT.
//! [`set_display`](SonogramStream::set_display) (mode, gain, overlay) only re-renders.
//!
//! **Bounds and cost.** After planning nothing is allocated per push: the buffers are the firing
//! ring (`window_len × gate samples` complex), the column ring (`columns × fft_len × 8` bytes plus
//! the traces), the display (`height_px × columns × 3` bytes), one FFT buffer, and the beamformer's
//! one-frame plan; their total is checked against the default memory cap. A push costs the
//! beamforming of each frame on the gate's samples, `5·order` multiply–adds per gate sample and
//! firing for the wall filter, one `fft_len`-point FFT per gate sample and new column, a sort of
//! each new column's `fft_len` bins (the traces), and, when a column was added, one re-render of
//! the display (`height_px × columns` pixels).

use super::clutter::{ClutterFilter, StreamingWallFilter};
use super::mmode::ERASE_BAR_COLUMNS;
use super::pipeline::EnsembleBeamformer;
use super::spectral::{ColumnPlan, ColumnScratch, Sonogram, SpectralDoppler, TraceScratch, to_db, traces};
use crate::beamform::BeamformConfig;
use crate::channel_data::Metadata;
use crate::error::{DEFAULT_MEMORY_CAP_BYTES, Error, Result, check_size, plausible};
use crate::frame::MAX_RASTER_SIDE_PX;
use crate::grid::{Grid, MAX_COORDINATE_M};
use crate::sim::ensemble::Ensemble;
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use num_complex::Complex32;

/// Most samples a gate may hold.
pub const MAX_GATE_SAMPLES: usize = 1024;

/// Largest display gain magnitude, dB.
pub const MAX_GAIN_DB: f64 = 60.0;

/// Colour of the maximum-velocity trace on the display.
pub const TRACE_RGB: [u8; 3] = [255, 200, 0];

/// Colour of the dashed zero-velocity line on the display.
pub const BASELINE_RGB: [u8; 3] = [70, 130, 255];

/// How the display advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SonogramMode {
    /// Oldest column left, newest right; the image moves left as columns arrive.
    #[default]
    Scroll,
    /// Columns written left to right at a cursor that wraps, with an erase bar ahead of it.
    Sweep,
}

/// Display settings of a [`SonogramStream`] that change without re-planning.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SonogramDisplay {
    /// Scrolling or sweeping.
    pub mode: SonogramMode,
    /// Brightness added to every cell, dB (±[`MAX_GAIN_DB`]); 0 maps the strongest cell on display
    /// to white.
    pub gain_db: f64,
    /// Draw the maximum-velocity trace and the zero-velocity line.
    pub overlay: bool,
}

impl Default for SonogramDisplay {
    /// Scrolling, no gain, with the overlay.
    fn default() -> Self {
        SonogramDisplay {
            mode: SonogramMode::Scroll,
            gain_db: 0.0,
            overlay: true,
        }
    }
}

impl SonogramDisplay {
    /// Checks the gain (named `gain_db`).
    pub fn validate(&self) -> Result<()> {
        plausible("gain_db", self.gain_db, -MAX_GAIN_DB, MAX_GAIN_DB, "dB")?;
        Ok(())
    }
}

/// A streaming sonogram (see the [module docs](self)).
#[derive(Debug)]
pub struct SonogramStream {
    doppler: SpectralDoppler,
    plan: ColumnPlan,
    scratch: ColumnScratch,
    trace_scratch: TraceScratch,
    n_gate: usize,
    /// `[window_len, gate]`: firing `s` in row `s mod window_len`.
    history: Array2<Complex32>,
    received: u64,
    next_column: u64,
    /// `[columns, fft_len]`, column `k` in row `k mod columns`, FFT order.
    spectra: Array2<f32>,
    power_db: Array2<f32>,
    /// Largest finite dB of each kept column.
    top_db: Vec<f32>,
    /// Maximum-velocity bin (display order) of each kept column.
    max_m_s: Vec<Option<f64>>,
    mean_m_s: Vec<f64>,
    /// Display bin → FFT bin.
    src: Vec<usize>,
    velocity_m_s: Vec<f64>,
    /// One column in display order (scratch).
    row: Vec<f32>,
    zero_bin: usize,
    run: usize,
    display: SonogramDisplay,
    rgb: Array3<u8>,
}

impl SonogramStream {
    /// A stream of `n_gate`-sample gate signals (1..=[`MAX_GATE_SAMPLES`]) analysed with `doppler`,
    /// shown on a display `height_px` rows (velocity, 2..=`MAX_RASTER_SIDE_PX`) by `columns` columns
    /// (the sonogram columns kept, 2..=`MAX_RASTER_SIDE_PX`).
    ///
    /// Errors: the settings (named, as [`SpectralDoppler::validate`] and
    /// [`SonogramDisplay::validate`]), the sizes (named), `TooLarge` when the buffers exceed the
    /// default memory cap.
    pub fn new(
        doppler: SpectralDoppler,
        n_gate: usize,
        height_px: usize,
        columns: usize,
        display: SonogramDisplay,
    ) -> Result<SonogramStream> {
        doppler.validate()?;
        display.validate()?;
        if !(1..=MAX_GATE_SAMPLES).contains(&n_gate) {
            return Err(Error::invalid(
                "n_gate",
                format!("1..={MAX_GATE_SAMPLES} samples"),
                n_gate,
            ));
        }
        for (name, n) in [("height_px", height_px), ("columns", columns)] {
            if !(2..=MAX_RASTER_SIDE_PX).contains(&n) {
                return Err(Error::invalid(name, format!("2..={MAX_RASTER_SIDE_PX}"), n));
            }
        }
        let n = doppler.fft_len;
        let bytes = (doppler.window_len * n_gate) as u128 * 8
            + (columns * n) as u128 * 8
            + columns as u128 * 32
            + (height_px * columns) as u128 * 3
            + n as u128 * 64;
        check_size("sonogram stream buffers", bytes, DEFAULT_MEMORY_CAP_BYTES)?;
        let plan = ColumnPlan::new(&doppler);
        let mut s = SonogramStream {
            scratch: plan.scratch(),
            plan,
            trace_scratch: TraceScratch::new(n),
            n_gate,
            history: Array2::zeros((doppler.window_len, n_gate)),
            received: 0,
            next_column: 0,
            spectra: Array2::zeros((columns, n)),
            power_db: Array2::zeros((columns, n)),
            top_db: vec![f32::NEG_INFINITY; columns],
            max_m_s: vec![None; columns],
            mean_m_s: vec![0.0; columns],
            src: doppler.display_order(),
            velocity_m_s: vec![0.0; n],
            row: vec![0.0; n],
            zero_bin: 0,
            run: doppler.trace_run(),
            display,
            rgb: Array3::zeros((height_px, columns, 3)),
            doppler,
        };
        s.set_axis();
        s.render();
        Ok(s)
    }

    /// The velocity axis, the display order and the zero bin of the current settings.
    fn set_axis(&mut self) {
        let n = self.doppler.fft_len as i64;
        let shift = (self.doppler.baseline * n as f64).round() as i64;
        for (i, s) in self.src.iter_mut().enumerate() {
            *s = (i as i64 - n / 2 + shift).rem_euclid(n) as usize;
        }
        self.doppler.fill_velocity_axis(&mut self.velocity_m_s);
        self.zero_bin = self.velocity_m_s.partition_point(|&v| v < 0.0);
    }

    /// Adds the firings `iq` `[firings, n_gate]` (any number, any strides) and returns the number of
    /// new columns; the display is re-rendered when there are any. Errors (nothing is taken): another
    /// gate size or a non-finite sample (`iq`). Allocates nothing.
    pub fn push(&mut self, iq: ArrayView2<'_, Complex32>) -> Result<usize> {
        if iq.ncols() != self.n_gate {
            return Err(Error::shape(
                "iq",
                format!("[firings, {}] gate samples", self.n_gate),
                format!("{}×{}", iq.nrows(), iq.ncols()),
            ));
        }
        if let Some(bad) = iq.iter().find(|z| !(z.re.is_finite() && z.im.is_finite())) {
            return Err(Error::invalid("iq", "finite samples", bad));
        }
        let mut new = 0;
        for firing in iq.outer_iter() {
            new += usize::from(self.push_firing(firing.iter().copied()));
        }
        if new > 0 {
            self.render();
        }
        Ok(new)
    }

    /// One firing (`n_gate` samples, already checked) into the ring; computes the column it
    /// completes, if any (the display is not re-rendered). Returns whether it did.
    fn push_firing(&mut self, firing: impl Iterator<Item = Complex32>) -> bool {
        let wl = self.doppler.window_len as u64;
        let slot = (self.received % wl) as usize;
        for (h, x) in self.history.row_mut(slot).iter_mut().zip(firing) {
            *h = x;
        }
        self.received += 1;
        if self.received != self.next_column * self.doppler.hop as u64 + wl {
            return false;
        }
        let start = self.next_column * self.doppler.hop as u64;
        let hist = &self.history;
        let segments = (0..self.n_gate).map(|g| (0..wl).map(move |j| hist[[((start + j) % wl) as usize, g]]));
        self.plan.column(segments, &mut self.scratch);
        let cap = self.spectra.nrows() as u64;
        let slot = (self.next_column % cap) as usize;
        let acc = &self.scratch.acc;
        let mut top = f32::NEG_INFINITY;
        for ((lin, db), &p) in self
            .spectra
            .row_mut(slot)
            .iter_mut()
            .zip(self.power_db.row_mut(slot).iter_mut())
            .zip(acc)
        {
            *lin = p;
            *db = to_db(p);
            if db.is_finite() && *db > top {
                top = *db;
            }
        }
        self.top_db[slot] = top;
        self.next_column += 1;
        self.trace(slot);
        true
    }

    /// Recomputes the traces of the column in `slot` with the current settings.
    fn trace(&mut self, slot: usize) {
        let lin = self.spectra.row(slot);
        for (r, &j) in self.row.iter_mut().zip(&self.src) {
            *r = lin[j];
        }
        let d = &self.doppler;
        let levels = (d.trace_threshold_db, d.trace_below_peak_db);
        let (vmax, mean) = traces(
            &self.row,
            &self.velocity_m_s,
            self.zero_bin,
            (self.run, self.doppler.trace_spread()),
            levels,
            &mut self.trace_scratch,
        );
        self.max_m_s[slot] = vmax;
        self.mean_m_s[slot] = mean;
    }

    /// Columns on display (at most `columns`).
    pub fn filled(&self) -> usize {
        (self.next_column.min(self.spectra.nrows() as u64)) as usize
    }

    /// The kept column shown at display column `c`, as a slot of the rings, or `None` for an empty
    /// or erased display column.
    fn slot_at(&self, c: usize) -> Option<usize> {
        let cap = self.spectra.nrows();
        let filled = self.filled();
        match self.display.mode {
            SonogramMode::Scroll => {
                let first = self.next_column - filled as u64;
                (c < filled).then(|| ((first + c as u64) % cap as u64) as usize)
            }
            SonogramMode::Sweep => {
                let cursor = (self.next_column % cap as u64) as usize;
                let erased = filled == cap && (c + cap - cursor) % cap < ERASE_BAR_COLUMNS.min(cap - 1);
                (c < filled && !erased).then_some(c)
            }
        }
    }

    /// The display row showing display bin `i`.
    /// The bin nearest velocity `v` (the axis is uniform).
    fn bin_of(&self, v: f64) -> usize {
        let (v0, n) = (self.velocity_m_s[0], self.velocity_m_s.len());
        let dv = if n > 1 { self.velocity_m_s[1] - v0 } else { 1.0 };
        (((v - v0) / dv).round().max(0.0) as usize).min(n - 1)
    }

    fn row_of(&self, i: usize) -> usize {
        let (h, n) = (self.rgb.len_of(Axis(0)), self.src.len());
        ((n - 1 - i) * h).div_ceil(n).min(h - 1)
    }

    /// Re-renders the whole display from the kept columns.
    fn render(&mut self) {
        let (h, w, _) = self.rgb.dim();
        let n = self.src.len();
        let filled = self.filled();
        let top = (0..filled).map(|k| self.top_db[k]).fold(f32::NEG_INFINITY, f32::max);
        let dr = self.doppler.dynamic_range_db as f32;
        let scale = 255.0 / dr;
        let gain = self.display.gain_db as f32;
        let zero_row = (self.zero_bin < n).then(|| self.row_of(self.zero_bin));
        for c in 0..w {
            let slot = self.slot_at(c);
            for r in 0..h {
                let g = match slot {
                    Some(s) => {
                        let bin = n - 1 - r * n / h;
                        // As `Sonogram::render`, plus the gain.
                        let v = (self.power_db[[s, self.src[bin]]] - top + dr + gain) * scale;
                        if v.is_nan() {
                            0
                        } else {
                            v.round().clamp(0.0, 255.0) as u8
                        }
                    }
                    None => 0,
                };
                for ch in 0..3 {
                    self.rgb[[r, c, ch]] = g;
                }
            }
            if self.display.overlay {
                if let Some(r) = zero_row.filter(|_| c % 4 < 2) {
                    self.paint(r, c, BASELINE_RGB);
                }
                if let Some(v) = slot.and_then(|s| self.max_m_s[s]) {
                    let r = self.row_of(self.bin_of(v));
                    self.paint(r, c, TRACE_RGB);
                }
            }
        }
    }

    fn paint(&mut self, r: usize, c: usize, rgb: [u8; 3]) {
        for (ch, v) in rgb.into_iter().enumerate() {
            self.rgb[[r, c, ch]] = v;
        }
    }

    /// New analysis settings. Only the display side may change (baseline, angle, sound speed and
    /// frequency of the velocity scale, dynamic range, trace levels): the kept columns are
    /// re-ordered, re-traced and re-rendered. Errors: the settings (named); a planned field
    /// (`prf_hz`, `fft_len`, `window_len`, `hop`, `window`) that differs, named (a new plan is
    /// needed to change it). Cost: the traces of the kept columns and one render.
    pub fn set_doppler(&mut self, doppler: SpectralDoppler) -> Result<()> {
        doppler.validate()?;
        let d = &self.doppler;
        let planned = |name: &'static str, same: bool, was: String, got: String| {
            if same {
                Ok(())
            } else {
                Err(Error::invalid(
                    name,
                    format!("the planned {was} (plan a new stream to change it)"),
                    got,
                ))
            }
        };
        planned(
            "prf_hz",
            doppler.prf_hz == d.prf_hz,
            d.prf_hz.to_string(),
            doppler.prf_hz.to_string(),
        )?;
        planned(
            "fft_len",
            doppler.fft_len == d.fft_len,
            d.fft_len.to_string(),
            doppler.fft_len.to_string(),
        )?;
        planned(
            "window_len",
            doppler.window_len == d.window_len,
            d.window_len.to_string(),
            doppler.window_len.to_string(),
        )?;
        planned("hop", doppler.hop == d.hop, d.hop.to_string(), doppler.hop.to_string())?;
        planned(
            "window",
            doppler.window == d.window,
            format!("{:?}", d.window),
            format!("{:?}", doppler.window),
        )?;
        self.doppler = doppler;
        self.set_axis();
        for slot in 0..self.filled() {
            self.trace(slot);
        }
        self.render();
        Ok(())
    }

    /// New display settings; the display is re-rendered. Errors: the gain (`gain_db`).
    pub fn set_display(&mut self, display: SonogramDisplay) -> Result<()> {
        display.validate()?;
        self.display = display;
        self.render();
        Ok(())
    }

    /// Forgets every firing and column (for instance after the gate moved); the display goes
    /// black.
    pub fn reset(&mut self) {
        self.received = 0;
        self.next_column = 0;
        self.render();
    }

    /// The display `[height_px, columns, 3]` (see the [module docs](self)).
    pub fn rgb(&self) -> ArrayView3<'_, u8> {
        self.rgb.view()
    }

    /// The analysis settings.
    pub fn doppler(&self) -> &SpectralDoppler {
        &self.doppler
    }

    /// The display settings.
    pub fn display(&self) -> SonogramDisplay {
        self.display
    }

    /// Gate samples per firing.
    pub fn n_gate(&self) -> usize {
        self.n_gate
    }

    /// Firings received since planning or [`reset`](Self::reset).
    pub fn firings(&self) -> u64 {
        self.received
    }

    /// Columns computed since planning or [`reset`](Self::reset) (the next column's index).
    pub fn columns_done(&self) -> u64 {
        self.next_column
    }

    /// The velocity axis, m/s, display order (increasing), as
    /// [`SpectralDoppler::velocity_axis_m_s`].
    pub fn velocity_axis_m_s(&self) -> &[f64] {
        &self.velocity_m_s
    }

    /// The newest column's maximum velocity, m/s (0 where no flow is detected), or `None` before
    /// the first column.
    pub fn latest_max_velocity_m_s(&self) -> Option<f64> {
        let k = self.next_column.checked_sub(1)?;
        let slot = (k % self.spectra.nrows() as u64) as usize;
        Some(self.max_m_s[slot].unwrap_or(0.0))
    }

    /// The kept columns as a [`Sonogram`], oldest first (power in display order, times from the
    /// first firing since planning or reset, traces). Errors: `NotReady` before the first column.
    /// Cost: allocates the `[kept columns, fft_len]` result.
    pub fn sonogram(&self) -> Result<Sonogram> {
        let filled = self.filled();
        if filled == 0 {
            return Err(Error::NotReady {
                name: "sonogram",
                needs: "push at least window_len firings",
            });
        }
        let cap = self.spectra.nrows() as u64;
        let first = self.next_column - filled as u64;
        let slot = |k: usize| ((first + k as u64) % cap) as usize;
        let power_db = Array2::from_shape_fn((filled, self.src.len()), |(k, i)| self.power_db[[slot(k), self.src[i]]]);
        Ok(Sonogram {
            power_db,
            velocity_m_s: self.velocity_m_s.clone(),
            time_s: (0..filled)
                .map(|k| self.doppler.column_time_s(first + k as u64))
                .collect(),
            max_velocity_m_s: (0..filled).map(|k| self.max_m_s[slot(k)].unwrap_or(0.0)).collect(),
            mean_velocity_m_s: (0..filled).map(|k| self.mean_m_s[slot(k)]).collect(),
            dynamic_range_db: self.doppler.dynamic_range_db,
        })
    }
}

/// A sample gate on a vertical beam line: its samples lie at `x = x_m`, `y = 0`, depths centred on
/// `depth_m` over `length_m`, a quarter wavelength (at the pulse's centre frequency and the
/// record's speed of sound) apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectralGate {
    /// Lateral position of the beam line, metres.
    pub x_m: f64,
    /// Depth of the gate's centre, metres.
    pub depth_m: f64,
    /// Gate length, metres (0–20 mm; 0 is a one-sample gate).
    pub length_m: f64,
}

/// How a [`SpectralImager`] analyses and shows its gate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectralImagerConfig {
    /// The analysis; its `prf_hz` is the slow-time rate (frames per second), which every pushed
    /// ensemble must match.
    pub doppler: SpectralDoppler,
    /// Wall filter: [`ClutterFilter::None`] or [`ClutterFilter::Iir`] (run as a
    /// [`StreamingWallFilter`]).
    pub wall: ClutterFilter,
    /// Display rows (velocity).
    pub height_px: usize,
    /// Display columns (sonogram columns kept).
    pub columns: usize,
    /// Display settings.
    pub display: SonogramDisplay,
}

impl Default for SpectralImagerConfig {
    /// The default analysis, a fourth-order Butterworth wall filter at 2 % of the slow-time rate,
    /// a 256 × 512 scrolling display.
    fn default() -> Self {
        SpectralImagerConfig {
            doppler: SpectralDoppler::default(),
            wall: ClutterFilter::Iir { cutoff: 0.02, order: 4 },
            height_px: 256,
            columns: 512,
            display: SonogramDisplay::default(),
        }
    }
}

/// The live spectral Doppler pipeline (see the [module docs](self)).
#[derive(Debug)]
pub struct SpectralImager {
    beamformer: EnsembleBeamformer,
    meta: Metadata,
    wall: StreamingWallFilter,
    stream: SonogramStream,
    gate_row: Vec<Complex32>,
    gate_depths_m: Vec<f64>,
}

impl SpectralImager {
    /// An imager for frames of RF described by `meta` (one firing of the gate's line per frame),
    /// beamformed with `beamform` at the samples of `gate`.
    ///
    /// Errors: the gate (`x_m`, `depth_m`: at least half the gate plus 1 mm deep, `length_m`: at
    /// most [`MAX_GATE_SAMPLES`] samples), the config (named), those of `EnsembleBeamformer::new`
    /// and [`SonogramStream::new`].
    pub fn new(
        meta: &Metadata,
        gate: SpectralGate,
        beamform: BeamformConfig,
        config: SpectralImagerConfig,
    ) -> Result<SpectralImager> {
        plausible("x_m", gate.x_m, -MAX_COORDINATE_M, MAX_COORDINATE_M, "m")?;
        plausible("length_m", gate.length_m, 0.0, 0.02, "m")?;
        plausible("depth_m", gate.depth_m, 0.5 * gate.length_m + 1e-3, 1.0, "m")?;
        let dz = meta.c_m_s() / (4.0 * meta.fc_hz());
        let n_gate = (gate.length_m / dz + 1e-9).floor() as usize + 1;
        if n_gate > MAX_GATE_SAMPLES {
            return Err(Error::invalid(
                "length_m",
                format!("a gate of at most {MAX_GATE_SAMPLES} samples, {dz} m apart"),
                gate.length_m,
            ));
        }
        let z0 = gate.depth_m - 0.5 * (n_gate - 1) as f64 * dz;
        let gate_depths_m: Vec<f64> = (0..n_gate).map(|k| z0 + k as f64 * dz).collect();
        let wall = StreamingWallFilter::new(config.wall, n_gate)?;
        let stream = SonogramStream::new(config.doppler, n_gate, config.height_px, config.columns, config.display)?;
        let grid = Grid::cartesian_from_axes(vec![gate.x_m], gate_depths_m.clone(), 0.0)?;
        let beamformer = EnsembleBeamformer::new(meta, &grid, beamform, 1)?;
        Ok(SpectralImager {
            beamformer,
            meta: meta.clone(),
            wall,
            stream,
            gate_row: vec![Complex32::ZERO; n_gate],
            gate_depths_m,
        })
    }

    /// Beamforms the gate in every frame of `ensemble` (in firing order, continuing the stream),
    /// wall-filters it and adds it to the sonogram; returns the number of new columns. Errors:
    /// `ensemble` when its metadata are not the planned ones or its slow-time rate is not the
    /// analysis' `prf_hz` (nothing is taken); those of the stages. Allocates nothing.
    pub fn push(&mut self, ensemble: &Ensemble) -> Result<usize> {
        if ensemble.metadata() != &self.meta {
            return Err(Error::invalid(
                "ensemble",
                "frames described by the metadata this plan was made for",
                "other metadata",
            ));
        }
        let rate = self.stream.doppler.prf_hz;
        if (ensemble.slow_time_rate_hz() / rate - 1.0).abs() > 1e-9 {
            return Err(Error::invalid(
                "ensemble",
                format!("frames at the analysis' slow-time rate, {rate} Hz"),
                format!("{} Hz", ensemble.slow_time_rate_hz()),
            ));
        }
        let mut new = 0;
        for frame in ensemble.frames() {
            self.beamformer.process_frame_into(frame, 0)?;
            let stack = self.beamformer.stack();
            for (g, &v) in self.gate_row.iter_mut().zip(stack.index_axis(Axis(0), 0).row(0)) {
                *g = v;
            }
            self.wall.process(&mut self.gate_row)?;
            if let Some(bad) = self.gate_row.iter().find(|z| !(z.re.is_finite() && z.im.is_finite())) {
                return Err(Error::invalid(
                    "ensemble",
                    "frames that beamform to finite samples",
                    bad,
                ));
            }
            new += usize::from(self.stream.push_firing(self.gate_row.iter().copied()));
        }
        if new > 0 {
            self.stream.render();
        }
        Ok(new)
    }

    /// New analysis settings (display side only), as [`SonogramStream::set_doppler`].
    pub fn set_doppler(&mut self, doppler: SpectralDoppler) -> Result<()> {
        self.stream.set_doppler(doppler)
    }

    /// New display settings, as [`SonogramStream::set_display`].
    pub fn set_display(&mut self, display: SonogramDisplay) -> Result<()> {
        self.stream.set_display(display)
    }

    /// A new wall filter, which starts afresh at the next firing (the kept columns stay). Errors:
    /// as [`StreamingWallFilter::new`].
    pub fn set_wall(&mut self, wall: ClutterFilter) -> Result<()> {
        self.wall = StreamingWallFilter::new(wall, self.gate_row.len())?;
        Ok(())
    }

    /// Forgets every firing and column, and restarts the wall filter.
    pub fn reset(&mut self) {
        self.wall.reset();
        self.stream.reset();
    }

    /// The display `[height_px, columns, 3]`.
    pub fn rgb(&self) -> ArrayView3<'_, u8> {
        self.stream.rgb()
    }

    /// The streaming sonogram (columns, traces, axis, settings).
    pub fn stream(&self) -> &SonogramStream {
        &self.stream
    }

    /// The depths of the gate's samples, metres.
    pub fn gate_depths_m(&self) -> &[f64] {
        &self.gate_depths_m
    }

    /// The wall filter's settings.
    pub fn wall(&self) -> ClutterFilter {
        self.wall.filter()
    }

    /// The one-line beamformer of the gate.
    pub fn beamformer(&self) -> &EnsembleBeamformer {
        &self.beamformer
    }
}
