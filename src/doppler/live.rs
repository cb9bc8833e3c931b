//! The live colour-flow pipeline: ensembles of RF in, B-mode with the colour overlay out.
//!
//! A [`ColorFlowImager`] is planned once for a channel-data description, a grid, a raster and an
//! ensemble length. Each [`process`](ColorFlowImager::process) runs:
//! 1. demodulation, beamforming and carrier removal of every frame (one plan,
//!    `EnsembleBeamformer`);
//! 2. the B-mode raster from the newest frame (bicubic IQ interpolation, `|IQ|`, log compression
//!    over the B-mode dynamic range), from all its transmits or only the middle one
//!    ([`BModeTransmits`]);
//! 3. the clutter filter on a copy of the stack (the stack itself is kept for re-rendering);
//! 4. the colour estimator (power, velocity, variance on the grid);
//! 5. scan conversion of velocity and power to the raster, and the overlay.
//!
//! Settings that do not change the acquisition take effect without re-planning:
//! [`set_display`](ColorFlowImager::set_display) (colour gain, thresholds) only re-renders the
//! overlay, [`set_clutter`](ColorFlowImager::set_clutter) (wall filter) and
//! [`set_estimator`](ColorFlowImager::set_estimator) re-run steps 3–5 on the kept stack
//! ([`rerender`](ColorFlowImager::rerender)). A new PRF (the colour scale) changes the slow-time
//! rate the estimator assumes ([`set_slow_time_rate_hz`](ColorFlowImager::set_slow_time_rate_hz));
//! a new ensemble length, grid or sequence needs a new imager. Nothing is allocated per frame
//! except by the SVD filter (its Gram matrix and eigenvectors).
//!
//! The other live pipelines sit beside it and are re-exported here: the spectral Doppler
//! [`SpectralImager`] (module `live_spectral`) and the [`MModeImager`] (module `live_mmode`).

pub use super::live_mmode::MModeImager;
pub use super::live_spectral::{
    SonogramDisplay, SonogramMode, SonogramStream, SpectralGate, SpectralImager, SpectralImagerConfig,
};

use super::clutter::ClutterFilter;
use super::color::ColorFlowDisplay;
use super::estimate::{ColorEstimator, ColorMaps, Method};
use super::pipeline::EnsembleBeamformer;
use crate::beamform::BeamformConfig;
use crate::channel_data::{ChannelData, Metadata};
use crate::error::{DEFAULT_MEMORY_CAP_BYTES, Error, Result, check_size, plausible};
use crate::grid::Grid;
use crate::scan_convert::{RasterSpec, ScanConverter};
use crate::sequence::Sequence;
use crate::sim::ensemble::Ensemble;
use ndarray::{Array2, Array3, ArrayView3, Axis};
use num_complex::Complex32;
use std::time::{Duration, Instant};

/// How a [`ColorFlowImager`] processes and shows an ensemble.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorFlowConfig {
    /// Frames per ensemble (2..=`MAX_FRAMES`).
    pub ensemble_len: usize,
    /// Wall (clutter) filter.
    pub clutter: ClutterFilter,
    /// Velocity estimator.
    pub method: Method,
    /// Estimator averaging window `(lines, depths)`, odd sizes.
    pub average: (usize, usize),
    /// Colour display settings.
    pub display: ColorFlowDisplay,
    /// Dynamic range of the B-mode underneath, dB (1–120).
    pub bmode_dynamic_range_db: f64,
    /// Which transmits of the newest frame form the B-mode underneath.
    pub bmode_transmits: BModeTransmits,
}

/// Which transmit events of an ensemble's newest frame the B-mode under the colour is beamformed
/// from. The colour always uses every event of every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BModeTransmits {
    /// Every event, compounded: the B-mode of the frame's full sequence.
    #[default]
    All,
    /// The middle event only (for three plane waves at −a, 0, +a, the straight one): a third of
    /// the B-mode's beamforming for three events, with the side lobes and clutter of a single
    /// uncompounded wave. Scanners commonly lower the B-mode's quality in colour mode to keep the
    /// colour frame rate.
    Middle,
}

impl Default for ColorFlowConfig {
    /// 12 frames, a second-order polynomial wall filter, Loupas over 3 × 5, the default display,
    /// 55 dB B-mode from every transmit.
    fn default() -> Self {
        ColorFlowConfig {
            ensemble_len: 12,
            clutter: ClutterFilter::Polynomial { order: 2 },
            method: Method::Loupas,
            average: (3, 5),
            display: ColorFlowDisplay::default(),
            bmode_dynamic_range_db: 55.0,
            bmode_transmits: BModeTransmits::All,
        }
    }
}

/// Where the last colour frame's time went.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ColorTimings {
    /// Demodulation, beamforming and carrier removal of every frame on the colour grid.
    pub beamform: Duration,
    /// The B-mode raster (with the newest frame's beamforming on the B-mode grid, for a colour
    /// box).
    pub bmode: Duration,
    /// The clutter filter.
    pub clutter: Duration,
    /// The estimator.
    pub estimate: Duration,
    /// Scan conversion of the maps and the overlay.
    pub display: Duration,
}

impl ColorTimings {
    /// The sum of the stages.
    pub fn total(&self) -> Duration {
        self.beamform + self.bmode + self.clutter + self.estimate + self.display
    }
}

/// The live colour-flow pipeline (see the [module docs](self)).
#[derive(Debug)]
pub struct ColorFlowImager {
    beamformer: EnsembleBeamformer,
    /// The B-mode grid's beamformer, when the colour grid is another one (a colour box) or the
    /// B-mode uses only some of the transmits.
    bmode_beamformer: Option<EnsembleBeamformer>,
    /// The newest frame's events that form the B-mode (`BModeTransmits::Middle`), copied out of
    /// the frame: `None` when the B-mode uses every event.
    bmode_frame: Option<(usize, ChannelData<f32>)>,
    converter: ScanConverter,
    /// Colour grid → the B-mode raster (the same raster as `converter`).
    color_converter: ScanConverter,
    estimator: ColorEstimator,
    config: ColorFlowConfig,
    filtered: Array3<Complex32>,
    maps: ColorMaps,
    envelope: Array2<f32>,
    bmode: Array2<u8>,
    velocity: Array2<f32>,
    power: Array2<f32>,
    rgb: Array3<u8>,
    frames: usize,
    timings: ColorTimings,
}

impl ColorFlowImager {
    /// An imager for ensembles of RF described by `meta`, beamformed on `grid` with `beamform`
    /// (B-mode and colour on the same grid), fired at `slow_time_rate_hz` frames per second, shown
    /// on a raster `raster_height_px` tall with square pixels (16..=`MAX_RASTER_SIDE_PX`).
    ///
    /// Errors: the settings (named), those of `EnsembleBeamformer::new` and `ScanConverter::new`,
    /// and `TooLarge` when the imager's buffers exceed the default memory cap.
    pub fn new(
        meta: &Metadata,
        grid: &Grid,
        beamform: BeamformConfig,
        slow_time_rate_hz: f64,
        raster_height_px: usize,
        config: ColorFlowConfig,
    ) -> Result<ColorFlowImager> {
        ColorFlowImager::with_color_box(meta, grid, grid, beamform, slow_time_rate_hz, raster_height_px, config)
    }

    /// As [`new`](Self::new), with the colour processed on its own grid `color_grid` (a colour
    /// box: usually a region of the B-mode grid, sampled more coarsely): every frame of the
    /// ensemble is beamformed on it, and only the newest frame on `bmode_grid` for the B-mode.
    /// Colour shows only inside the box. When the two grids are equal nothing is beamformed twice.
    pub fn with_color_box(
        meta: &Metadata,
        bmode_grid: &Grid,
        color_grid: &Grid,
        beamform: BeamformConfig,
        slow_time_rate_hz: f64,
        raster_height_px: usize,
        config: ColorFlowConfig,
    ) -> Result<ColorFlowImager> {
        config.display.validate()?;
        config.clutter.validate()?;
        plausible(
            "bmode_dynamic_range_db",
            config.bmode_dynamic_range_db,
            1.0,
            120.0,
            "dB",
        )?;
        if config.ensemble_len < 2 {
            return Err(Error::invalid(
                "ensemble_len",
                "at least 2 frames (a lag-one estimate)",
                config.ensemble_len,
            ));
        }
        let beamformer = EnsembleBeamformer::new(meta, color_grid, beamform.clone(), config.ensemble_len)?;
        let (n_tx, n_ch, n_s) = meta.data_shape();
        let bmode_frame = match config.bmode_transmits {
            BModeTransmits::Middle if n_tx > 1 => {
                let event = n_tx / 2;
                let sequence = Sequence::from_events(vec![meta.sequence().events()[event].clone()])?;
                let sub = Metadata::new(
                    meta.sampling(),
                    meta.fc_hz(),
                    sequence,
                    meta.channel_positions_m().to_vec(),
                    meta.channel_normals().to_vec(),
                )?;
                Some((event, ChannelData::new(Array3::zeros((1, n_ch, n_s)), sub)?))
            }
            _ => None,
        };
        let bmode_beamformer = match &bmode_frame {
            Some((_, frame)) => Some(EnsembleBeamformer::new(frame.meta(), bmode_grid, beamform, 1)?),
            None if bmode_grid != color_grid => Some(EnsembleBeamformer::new(meta, bmode_grid, beamform, 1)?),
            None => None,
        };
        let spec = RasterSpec::square_pixels_for(bmode_grid, raster_height_px)?;
        let converter = ScanConverter::new(bmode_grid, spec)?;
        let raster = converter.output_shape();
        let color_spec = RasterSpec::new(raster.1, raster.0)
            .with_x_range_m(converter.x_range_m())
            .with_z_range_m(converter.z_range_m());
        let color_converter = ScanConverter::new(color_grid, color_spec)?;
        let estimator = beamformer.estimator(slow_time_rate_hz, config.method, config.average);
        estimator.validate()?;
        let (n_lines, n_depths) = color_converter.input_shape();
        let bytes = (config.ensemble_len * n_lines * n_depths) as u128 * 8
            + (n_lines * n_depths) as u128 * 16
            + (raster.0 * raster.1) as u128 * 16
            + bmode_frame.as_ref().map_or(0, |_| (n_ch * n_s) as u128 * 4);
        check_size("colour imager buffers", bytes, DEFAULT_MEMORY_CAP_BYTES)?;
        Ok(ColorFlowImager {
            filtered: Array3::zeros((config.ensemble_len, n_lines, n_depths)),
            maps: ColorMaps::zeros(n_lines, n_depths),
            envelope: Array2::zeros(raster),
            bmode: Array2::zeros(raster),
            velocity: Array2::zeros(raster),
            power: Array2::zeros(raster),
            rgb: Array3::zeros((raster.0, raster.1, 3)),
            beamformer,
            bmode_beamformer,
            bmode_frame,
            converter,
            color_converter,
            estimator,
            config,
            frames: 0,
            timings: ColorTimings::default(),
        })
    }

    /// Beamforms `ensemble` and renders the colour frame `[rows, cols, 3]` (RGB). Errors: an
    /// ensemble of another length or metadata (`ensemble`), and those of the stages.
    pub fn process(&mut self, ensemble: &Ensemble) -> Result<ArrayView3<'_, u8>> {
        let t = Instant::now();
        self.beamformer.process(ensemble)?;
        self.timings.beamform = t.elapsed();
        let t = Instant::now();
        let newest = self.beamformer.stack().len_of(Axis(0)) - 1;
        let frame = &ensemble.frames()[newest];
        let bmode_image = match &mut self.bmode_beamformer {
            Some(bf) => {
                match &mut self.bmode_frame {
                    Some((event, sub)) => {
                        sub.data_mut()
                            .index_axis_mut(Axis(0), 0)
                            .assign(&frame.data().index_axis(Axis(0), *event));
                        bf.process_frame_into(sub, 0)?;
                    }
                    None => bf.process_frame_into(frame, 0)?,
                }
                bf.stack().index_axis_move(Axis(0), 0)
            }
            None => self.beamformer.stack().index_axis_move(Axis(0), newest),
        };
        self.converter.detect_iq_into(bmode_image, self.envelope.view_mut())?;
        log_grey(&self.envelope, self.config.bmode_dynamic_range_db, &mut self.bmode);
        self.timings.bmode = t.elapsed();
        self.frames += 1;
        self.rerender()
    }

    /// Re-runs the clutter filter, the estimator and the overlay on the last ensemble's stack,
    /// without beamforming. Errors: `NotReady` before the first ensemble.
    pub fn rerender(&mut self) -> Result<ArrayView3<'_, u8>> {
        if self.frames == 0 {
            return Err(Error::NotReady {
                name: "ensemble",
                needs: "process an ensemble before re-rendering it",
            });
        }
        let t = Instant::now();
        self.filtered.assign(&self.beamformer.stack());
        self.config.clutter.apply(self.filtered.view_mut())?;
        self.timings.clutter = t.elapsed();
        let t = Instant::now();
        self.estimator.estimate_into(self.filtered.view(), &mut self.maps)?;
        self.timings.estimate = t.elapsed();
        let t = Instant::now();
        self.color_converter
            .convert_f32_into(self.maps.velocity_m_s.view(), self.velocity.view_mut(), 0.0)?;
        self.color_converter
            .convert_f32_into(self.maps.power.view(), self.power.view_mut(), 0.0)?;
        self.render_overlay()?;
        self.timings.display = t.elapsed();
        Ok(self.rgb.view())
    }

    fn render_overlay(&mut self) -> Result<()> {
        let v_n = self.estimator.nyquist_velocity_m_s()?;
        self.config.display.overlay_into(
            self.bmode.view(),
            self.velocity.view(),
            self.power.view(),
            v_n,
            self.rgb.view_mut(),
        )
    }

    /// New display settings (colour gain, thresholds): the overlay is re-rendered from the kept
    /// maps (nothing else runs; before the first ensemble the settings are only stored). Errors:
    /// the settings (named).
    pub fn set_display(&mut self, display: ColorFlowDisplay) -> Result<()> {
        display.validate()?;
        self.config.display = display;
        if self.frames > 0 {
            self.render_overlay()?;
        }
        Ok(())
    }

    /// A new wall filter (for instance another cut-off), used from the next
    /// [`rerender`](Self::rerender) or [`process`](Self::process). Errors: the filter's settings.
    pub fn set_clutter(&mut self, clutter: ClutterFilter) -> Result<()> {
        clutter.validate()?;
        self.config.clutter = clutter;
        Ok(())
    }

    /// A new estimator method and window. Errors: the window (named).
    pub fn set_estimator(&mut self, method: Method, average: (usize, usize)) -> Result<()> {
        let e = ColorEstimator {
            method,
            average,
            ..self.estimator
        };
        e.validate()?;
        self.estimator = e;
        self.config.method = method;
        self.config.average = average;
        Ok(())
    }

    /// The slow-time rate (frames per second) the next ensembles are fired at: the colour scale
    /// (Nyquist velocity) follows it. Errors: outside the estimator's range (named `prf_hz`).
    pub fn set_slow_time_rate_hz(&mut self, rate_hz: f64) -> Result<()> {
        let e = ColorEstimator {
            prf_hz: rate_hz,
            ..self.estimator
        };
        e.validate()?;
        self.estimator = e;
        Ok(())
    }

    /// The Nyquist velocity of the colour scale, m/s.
    pub fn nyquist_velocity_m_s(&self) -> Result<f64> {
        self.estimator.nyquist_velocity_m_s()
    }

    /// The last colour frame `[rows, cols, 3]`.
    pub fn rgb(&self) -> ArrayView3<'_, u8> {
        self.rgb.view()
    }

    /// The last B-mode raster under the overlay.
    pub fn bmode(&self) -> &Array2<u8> {
        &self.bmode
    }

    /// The last maps on the grid (velocity, power, variance, mean frequency).
    pub fn maps(&self) -> &ColorMaps {
        &self.maps
    }

    /// The last velocity and power rasters.
    pub fn rasters(&self) -> (&Array2<f32>, &Array2<f32>) {
        (&self.velocity, &self.power)
    }

    /// The scan converter (raster geometry).
    pub fn converter(&self) -> &ScanConverter {
        &self.converter
    }

    /// The ensemble beamformer (and its stack).
    pub fn beamformer(&self) -> &EnsembleBeamformer {
        &self.beamformer
    }

    /// The current settings.
    pub fn config(&self) -> &ColorFlowConfig {
        &self.config
    }

    /// Where the last frame's time went.
    pub fn timings(&self) -> ColorTimings {
        self.timings
    }
}

/// Grey levels of `env` over `dr_db` below its maximum, into `out` (same shape).
fn log_grey(env: &Array2<f32>, dr_db: f64, out: &mut Array2<u8>) {
    let max = env.iter().fold(0.0f32, |m, &v| if v > m { v } else { m });
    let dr = dr_db as f32;
    let k = 255.0 / dr;
    ndarray::Zip::from(out).and(env).for_each(|o, &v| {
        let db = if max > 0.0 && v > 0.0 {
            20.0 * (v / max).log10()
        } else {
            -dr
        };
        *o = ((db + dr) * k).clamp(0.0, 255.0) as u8;
    });
}
