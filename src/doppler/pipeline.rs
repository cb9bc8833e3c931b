//! From an ensemble of channel data to the baseband image stack the slow-time estimators read.
//!
//! An [`EnsembleBeamformer`] is planned once for a channel-data description, a grid and an
//! ensemble length: it demodulates each frame (the crate's IQ imaging demodulation, mixing at the
//! pulse's centre frequency and decimating by 2), beamforms it with one beamformer plan, and
//! removes the nominal two-way carrier `exp(i·4π·f_demod·d/c)` along the lines, writing image `k`
//! of a `[slow_time, lines, depths]` stack. Every frame goes through the same plan and the same
//! phasors, so the slow-time phase of a pixel changes only with what moved. It allocates nothing
//! after planning.
//!
//! **Samples demodulated.** Only the RF samples the grid's echoes can reach are demodulated: from
//! the earliest to the latest `transmit arrival + distance to a receive channel` over the grid's
//! pixels, the events and every channel (at the beamformer's speed of sound), widened by
//! [`ECHO_WINDOW_MARGIN_PERIODS`] periods of the centre frequency plus the demodulation filter's
//! half-length on each side, and aligned to the decimation so that the IQ samples are those of the
//! whole record. A colour box at 10–30 mm of a 40 mm record, or a spectral gate, needs a fraction
//! of the record (the vascular colour box: [`EnsembleBeamformer::rf_window`]).
//!
//! Only the nominal carrier is removed (not the residual carrier the B-mode path measures per
//! frame): a per-frame correction would add its own slow-time phase. The echoes' mean frequency,
//! lowered by attenuation, stays in the image as a phase ramp along depth, which is what the
//! Loupas estimator measures.

use super::estimate::{ColorEstimator, Method};
use crate::beamform::{BeamformConfig, Beamformer};
use crate::channel_data::{ChannelData, Metadata, Sampling};
use crate::demod::{DemodConfig, Demodulator};
use crate::error::{DEFAULT_MEMORY_CAP_BYTES, Error, Result, check_size};
use crate::grid::Grid;
use crate::scan_convert::{baseband_phasors, remove_carrier};
use crate::sim::ensemble::{Ensemble, MAX_FRAMES};
use ndarray::{Array2, Array3, ArrayView3, Axis, s};
use num_complex::Complex32;

/// Periods of the centre frequency added to each side of the RF window a plan demodulates (the
/// pulse's length and the interpolation's reach), besides the demodulation filter's half-length.
pub const ECHO_WINDOW_MARGIN_PERIODS: f64 = 8.0;

/// Demodulation, beamforming and carrier removal for every frame of an ensemble (see the
/// [module docs](self)).
#[derive(Debug)]
pub struct EnsembleBeamformer {
    demod: Demodulator,
    /// The RF samples demodulated, `[first, end)`.
    window: (usize, usize),
    beamformer: Beamformer,
    phasors: Vec<Complex32>,
    iq: Array3<Complex32>,
    stack: Array3<Complex32>,
    frame_meta: Metadata,
    axial_step_m: f64,
    c_m_s: f64,
}

impl EnsembleBeamformer {
    /// A plan for ensembles of `n_frames` frames of RF described by `meta`, beamformed on `grid`
    /// (Cartesian or sector: the carrier is removed along its lines) with `config`.
    ///
    /// Errors: `n_frames` outside 1..=`MAX_FRAMES`; a grid of points (`grid`); those of
    /// [`Demodulator::new`] and [`Beamformer::new`]; [`Error::TooLarge`] when the stack, the IQ
    /// buffer and the beamformer plan together exceed the default memory cap. Cost: the plans, one
    /// frame of IQ channel data and the `n_frames × lines × depths` complex stack.
    pub fn new(meta: &Metadata, grid: &Grid, config: BeamformConfig, n_frames: usize) -> Result<EnsembleBeamformer> {
        if !(1..=MAX_FRAMES).contains(&n_frames) {
            return Err(Error::invalid("n_frames", format!("1..={MAX_FRAMES} frames"), n_frames));
        }
        let depths_m = grid.line_depths_m()?;
        let demod_config = DemodConfig::iq_imaging(meta.fc_hz());
        let full = Demodulator::new(meta.sampling(), demod_config)?;
        let window = echo_window(meta, grid, config.sound_speed_m_s, &full)?;
        let sampling = meta.sampling();
        let windowed = Sampling::new(sampling.fs_hz(), sampling.time_s(window.0), window.1 - window.0)?;
        let sub_meta = Metadata::new(
            windowed,
            meta.fc_hz(),
            meta.sequence().clone(),
            meta.channel_positions_m().to_vec(),
            meta.channel_normals().to_vec(),
        )?;
        let demod = Demodulator::new(windowed, demod_config)?;
        let iq_meta = demod.output_metadata(&sub_meta)?;
        let beamformer = Beamformer::new(&iq_meta, grid, config)?;
        let (n_tx, n_ch, _) = meta.data_shape();
        let (n_lines, n_depths) = beamformer.image_shape();
        let bytes = (n_tx * n_ch * demod.output_len()) as u128 * 8 + (n_frames * n_lines * n_depths) as u128 * 8;
        check_size(
            "ensemble buffers",
            bytes + beamformer.memory_bytes(),
            DEFAULT_MEMORY_CAP_BYTES,
        )?;
        let c_m_s = meta.sequence().c_m_s();
        let phasors = baseband_phasors(depths_m, demod.config().demod_hz, c_m_s)?;
        let axial_step_m = if depths_m.len() > 1 {
            (depths_m[depths_m.len() - 1] - depths_m[0]) / (depths_m.len() - 1) as f64
        } else {
            0.0
        };
        Ok(EnsembleBeamformer {
            window,
            iq: Array3::zeros((n_tx, n_ch, demod.output_len())),
            stack: Array3::zeros((n_frames, n_lines, n_depths)),
            frame_meta: meta.clone(),
            demod,
            beamformer,
            phasors,
            axial_step_m,
            c_m_s,
        })
    }

    /// Demodulates, beamforms and brings to baseband every frame of `ensemble`, returning the
    /// `[slow_time, lines, depths]` stack (valid until the next call). Errors: an ensemble of
    /// another length (`ensemble`) or other metadata (`ensemble`), and those of the stages.
    pub fn process(&mut self, ensemble: &Ensemble) -> Result<ArrayView3<'_, Complex32>> {
        if ensemble.len() != self.stack.len_of(Axis(0)) {
            return Err(Error::shape(
                "ensemble",
                format!("{} frames", self.stack.len_of(Axis(0))),
                ensemble.len().to_string(),
            ));
        }
        if ensemble.metadata() != &self.frame_meta {
            return Err(Error::invalid(
                "ensemble",
                "frames described by the metadata this plan was made for",
                "other metadata",
            ));
        }
        for (k, frame) in ensemble.frames().iter().enumerate() {
            self.process_frame_into(frame, k)?;
        }
        Ok(self.stack.view())
    }

    /// One frame into slot `k` of the stack (for streaming: frames as they arrive, in a ring).
    /// Errors: `k` beyond the stack, data of another shape.
    pub fn process_frame_into(&mut self, frame: &ChannelData<f32>, k: usize) -> Result<()> {
        if k >= self.stack.len_of(Axis(0)) {
            return Err(Error::invalid(
                "k",
                format!("a slot below {}", self.stack.len_of(Axis(0))),
                k,
            ));
        }
        if frame.data().dim() != self.frame_meta.data_shape() {
            return Err(Error::shape(
                "frame",
                format!("{:?} (tx, channels, samples)", self.frame_meta.data_shape()),
                format!("{:?}", frame.data().dim()),
            ));
        }
        let rf = frame.data().slice(s![.., .., self.window.0..self.window.1]);
        self.demod.demodulate_into(rf, self.iq.view_mut())?;
        let mut image = self.stack.index_axis_mut(Axis(0), k);
        self.beamformer.beamform_iq_raw_into(self.iq.view(), image.view_mut())?;
        remove_carrier(image, &self.phasors)
    }

    /// The stack of the last [`process`](Self::process).
    pub fn stack(&self) -> ArrayView3<'_, Complex32> {
        self.stack.view()
    }

    /// `|IQ|` of image `k` of the stack (a B-mode envelope on the grid), or `None` beyond it.
    pub fn envelope(&self, k: usize) -> Option<Array2<f32>> {
        (k < self.stack.len_of(Axis(0))).then(|| self.stack.index_axis(Axis(0), k).mapv(|v| v.norm()))
    }

    /// The frequency the carrier was removed at (the demodulation frequency), Hz.
    pub fn f_demod_hz(&self) -> f64 {
        self.demod.config().demod_hz
    }

    /// Depth spacing of the grid's lines, metres (for the Loupas estimator).
    pub fn axial_step_m(&self) -> f64 {
        self.axial_step_m
    }

    /// The speed of sound the beamformer assumes, m/s.
    pub fn c_m_s(&self) -> f64 {
        self.c_m_s
    }

    /// A colour estimator for this plan's stacks: its demodulation frequency, sound speed and
    /// depth spacing, with the slow-time rate, method and averaging window given (validated when
    /// it runs).
    pub fn estimator(&self, slow_time_rate_hz: f64, method: Method, average: (usize, usize)) -> ColorEstimator {
        ColorEstimator {
            prf_hz: slow_time_rate_hz,
            f_demod_hz: self.f_demod_hz(),
            c_m_s: self.c_m_s,
            axial_step_m: self.axial_step_m,
            method,
            average,
        }
    }

    /// The beamformer plan.
    pub fn beamformer(&self) -> &Beamformer {
        &self.beamformer
    }

    /// The RF samples each frame's demodulation reads, `[first, end)` of the record (see the
    /// [module docs](self)).
    pub fn rf_window(&self) -> (usize, usize) {
        self.window
    }
}

/// The RF samples `[first, end)` that the echoes of `grid`'s pixels can reach (see the [module
/// docs](self)), for the demodulation `full` of the whole record. Cost: pixels × (events +
/// channels) distances.
fn echo_window(meta: &Metadata, grid: &Grid, c_override: Option<f64>, full: &Demodulator) -> Result<(usize, usize)> {
    let c = c_override.unwrap_or(meta.c_m_s());
    let sampling = meta.sampling();
    let (n, fs) = (sampling.n_samples(), sampling.fs_hz());
    let channels = meta.channel_positions_m();
    let dist =
        |a: [f64; 3], b: [f64; 3]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
    let (mut t_lo, mut t_hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for p in grid.positions() {
        let (near, far) = channels
            .iter()
            .map(|&x| dist(p, x))
            .fold((f64::INFINITY, 0.0f64), |(lo, hi), d| (lo.min(d), hi.max(d)));
        for ev in meta.sequence().events() {
            let t = ev.arrival_time_at(p, c);
            t_lo = t_lo.min(t + near / c);
            t_hi = t_hi.max(t + far / c);
        }
    }
    if !(t_lo.is_finite() && t_hi.is_finite()) {
        return Ok((0, n));
    }
    let cfg = full.config();
    let d = cfg.decimation.max(1);
    // The demodulation filter's reach, generously: its whole default length (about 8·fs/cutoff
    // taps, twice its half-length) plus a decimation step, so that no IQ sample a pixel reads
    // sees the zeros beyond the window.
    let filter = cfg.n_taps.unwrap_or((8.0 * fs / cfg.cutoff_hz).ceil() as usize) + d;
    let margin = (ECHO_WINDOW_MARGIN_PERIODS * fs / meta.fc_hz()).ceil() as usize + filter;
    let first = ((t_lo - sampling.t0_s()) * fs).floor();
    let end = ((t_hi - sampling.t0_s()) * fs).ceil();
    let first = if first.is_finite() {
        (first.max(0.0) as usize).saturating_sub(margin)
    } else {
        0
    };
    let end = if end.is_finite() {
        (end.max(0.0) as usize).saturating_add(margin + 1).min(n)
    } else {
        n
    };
    // Aligned to the decimation: the windowed IQ samples are the whole record's.
    let first = (first / d) * d;
    if end <= first {
        return Ok((0, n));
    }
    Ok((first, end))
}
