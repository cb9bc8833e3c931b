//! The live B-mode pipeline.
//!
//! An [`Imager`] owns the plans of every stage for one [`Preset`] and depth — demodulation, the
//! beamformer, envelope detection, B-mode mapping and scan conversion — and the buffers between
//! them, so [`Imager::process`] turns each RF [`ChannelData`] frame into a [`BModeFrame`] without
//! allocating. Display controls ([`Imager::set_gain_control`], [`Imager::set_dynamic_range_db`],
//! [`Imager::set_tgc`], [`Imager::set_db_reference`]) only change the mapping: they take effect
//! on the next frame, and [`Imager::remap`] re-renders the last frame with them without
//! beamforming again. Depth and preset changes re-plan ([`Imager::set_depth`],
//! [`Imager::set_preset`]), validated against the preset's depth bounds; data acquired before a
//! re-plan is then refused with an error saying so.
//!
//! Any [`Preset`] value works, built-in or edited ([`Preset::validate`] is checked), and
//! [`Imager::simulate`] makes a frame of channel data of the imager's own acquisition from a
//! phantom.
//!
//! The 0 dB reference of the display is the preset's [`DbReference`]: the frame maximum for the
//! built-in presets (the absolute scale of channel data depends on the front end, simulated units
//! or an ADC's full scale, which the crate cannot know; so every frame shows its echoes), or a
//! fixed amplitude, which makes gain absolute as on a scanner: brightness then follows the echo
//! strength from frame to frame, and one bright reflector no longer darkens the rest.
//! [`Imager::hold_reference`] fixes it at the current frame's maximum.
//!
//! Run the live loop on a rayon worker (inside `ThreadPool::install`): a caller outside the pool
//! hands each parallel stage to rayon's global queue, which allocates one 1.5 KB block per 63 jobs.
//!
//! The pipeline is the IQ path:
//! 1. RF is demodulated at the centre frequency and decimated by 2.
//! 2. The beamformer interpolates complex samples and rotates their phase, on the preset's grid
//!    (derived from the physics for the built-in presets: see [`crate::preset::GridDensity`]).
//! 3. The image is brought to baseband along its lines
//!    ([`Baseband`]: the nominal carrier and the one measured on
//!    the image), interpolated to the display raster (bicubic), and detected there as `|IQ|`.
//! 4. It is mapped to grey levels with each pixel's TGC gain.
//!
//! Beamformed RF would need depth sampling finer than λ/4, which the live grids don't have.
//!
//! ```
//! # fn main() -> sonochip::Result<()> {
//! use sonochip::prelude::*;
//! let mut imager = Imager::new(PresetKind::Vascular)?;
//! let phantom = Phantom::points(&[[0.0, 0.0, 0.02], [0.005, 0.0, 0.03]])?;
//! let rf = imager.simulate(&phantom, Medium::soft_tissue())?;
//! imager.set_gain_control(60.0)?;
//! let frame = imager.process(&rf)?;
//! assert_eq!(frame.height(), 512);
//! # Ok(()) }
//! ```

use crate::acquisition::Acquisition;
use crate::beamform::{BeamformConfig, Beamformer, KernelChoice};
use crate::bmode::{BModeMapper, DbReference, Tgc};
use crate::channel_data::{ChannelData, Metadata, check_fits};
use crate::demod::{DemodConfig, Demodulator};
use crate::error::{DEFAULT_MEMORY_CAP_BYTES, Error, Result, check_size};
use crate::frame::BModeFrame;
use crate::grid::Grid;
use crate::medium::Medium;
use crate::phantom::{Anatomy, Phantom};
use crate::preset::{Family, Preset};
use crate::scan_convert::{Baseband, RasterSpec, ScanConverter};
use crate::sim::{SimOptions, Simulator};
use ndarray::{Array2, Array3};
use num_complex::Complex32;
use std::time::{Duration, Instant};

/// Wall-clock time of each stage of the last processed frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimings {
    /// RF → IQ.
    pub demod: Duration,
    /// Delay-and-sum (all transmits, compounded).
    pub beamform: Duration,
    /// Scan conversion and detection: the IQ image brought to baseband, interpolated to the
    /// raster and `|IQ|` taken there.
    pub detect: Duration,
    /// Log compression, gain, TGC and dynamic range on the raster.
    pub map: Duration,
}

impl StageTimings {
    /// Sum of the stages.
    pub fn total(&self) -> Duration {
        self.demod + self.beamform + self.detect + self.map
    }
}

/// The live pipeline. See the [module docs](self).
pub struct Imager {
    preset: Preset,
    depth_m: f64,
    acquisition: Acquisition,
    /// The RF data the imager accepts, and what it accepted before the last re-plan.
    rf_meta: Metadata,
    previous_meta: Option<Metadata>,
    demod: Demodulator,
    beamformer: Beamformer,
    converter: ScanConverter,
    raster_grid: Grid,
    mapper: BModeMapper,
    /// Removes the image's carrier along its lines before interpolation.
    baseband: Baseband,
    /// Depth along its line of every raster pixel (NaN outside the field of view), for the TGC.
    pixel_depths_m: Array2<f32>,
    /// The TGC gain of every raster pixel, dB (NaN outside), rebuilt when the TGC changes.
    gains_db: Array2<f32>,
    iq: Array3<Complex32>,
    image: Array2<Complex32>,
    envelope: Array2<f32>,
    frame: BModeFrame,
    timings: StageTimings,
    beamform_count: u64,
    frames: u64,
}

impl std::fmt::Debug for Imager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Imager")
            .field("preset", &self.preset.name)
            .field("depth_m", &self.depth_m)
            .field("data_shape", &self.rf_meta.data_shape())
            .field("image_shape", &self.beamformer.image_shape())
            .field("kernel", &self.beamformer.kernel())
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

/// The demodulation the IQ path uses: [`DemodConfig::iq_imaging`] (mixing at `fc_hz`, low-pass
/// at 0.9·fc, decimation by 2).
pub fn iq_demod_config(fc_hz: f64) -> DemodConfig {
    DemodConfig::iq_imaging(fc_hz)
}

/// One-shot IQ imaging (no live state): demodulates `rf` ([`iq_demod_config`]), beamforms it on
/// `grid` with `config` and returns the envelope `|IQ|` `[line, depth]`.
pub fn envelope_image(rf: &ChannelData<f32>, grid: &Grid, config: BeamformConfig) -> Result<Array2<f32>> {
    let iq = Demodulator::for_data(rf, iq_demod_config(rf.meta().fc_hz()))?.demodulate(rf)?;
    let bf = Beamformer::new(iq.meta(), grid, config)?;
    Ok(bf.beamform_iq(&iq)?.mapv(|v| v.norm()))
}

/// The TGC curve a preset starts with: `tgc_db_per_cm` from the top to the deepest depth.
pub fn default_tgc(preset: &Preset, depth_m: f64) -> Result<Tgc> {
    Tgc::new(vec![(0.0, 0.0), (depth_m, preset.tgc_db_per_cm * depth_m * 100.0)])
}

impl Imager {
    /// An imager for `preset` (a [`PresetKind`](crate::preset::PresetKind) or any [`Preset`]
    /// value, validated) at its default depth.
    pub fn new(preset: impl Into<Preset>) -> Result<Imager> {
        let preset = preset.into();
        let d = preset.default_depth_m;
        Imager::with_depth(preset, d)
    }

    /// An imager for `preset` at `depth_m` (within the preset's bounds).
    pub fn with_depth(preset: impl Into<Preset>, depth_m: f64) -> Result<Imager> {
        let preset = preset.into();
        preset.validate()?;
        preset.check_depth(depth_m)?;
        let mut mapper = BModeMapper::new();
        mapper.set_dynamic_range_db(preset.dynamic_range_db)?;
        mapper.set_reference(preset.db_reference)?;
        mapper.set_tgc(default_tgc(&preset, depth_m)?);
        Imager::plan(preset, depth_m, mapper, KernelChoice::Auto)
    }

    fn plan(preset: Preset, depth_m: f64, mapper: BModeMapper, kernel: KernelChoice) -> Result<Imager> {
        let acquisition = preset.acquisition(depth_m)?;
        let rf_meta = acquisition.metadata()?;
        let fc = acquisition.pulse().fc_hz();
        let demod = Demodulator::new(acquisition.sampling(), iq_demod_config(fc))?;
        let beamformer = Beamformer::new(
            &demod.output_metadata(&rf_meta)?,
            acquisition.grid(),
            BeamformConfig {
                kernel,
                ..preset.beamform_config()
            },
        )?;
        let grid = acquisition.grid();
        let (n_lines, n_depths) = grid.shape();
        let h = preset.raster_height_px;
        let spec = match preset.family {
            Family::Linear => RasterSpec::square_pixels_for(grid, h)?,
            _ => RasterSpec::new(h, h)
                .with_z_range_m((0.0, depth_m))
                .with_square_pixels(grid)?,
        };
        let converter = ScanConverter::new(grid, spec)?;
        let depths_m = grid.line_depths_m()?.to_vec();
        // The residual carrier is averaged over about 2 mm of depth.
        let step = (depths_m.last().unwrap_or(&0.0) - depths_m[0]) / depths_m.len().max(2) as f64;
        let half_window = (1e-3 / step.max(1e-9)).clamp(4.0, 256.0) as usize;
        let baseband = Baseband::new(&depths_m, demod.config().demod_hz, preset.sound_speed_m_s, half_window)?;
        let (n_tx, n_ch, _) = rf_meta.data_shape();
        // The imager's own frame buffers (IQ channel data, complex image, raster envelope, pixel
        // depths, frame), on top of the beamformer's plan, checked before they are allocated.
        let raster_px = (converter.height_px() * converter.width_px()) as u128;
        let buffers =
            (n_tx * n_ch * demod.output_len()) as u128 * 8 + (n_lines * n_depths) as u128 * 8 + raster_px * 13;
        check_size(
            "imager buffers",
            buffers + beamformer.memory_bytes(),
            DEFAULT_MEMORY_CAP_BYTES,
        )?;
        let pixel_depths_m = converter.pixel_depths_m(&depths_m)?;
        Ok(Imager {
            iq: Array3::zeros((n_tx, n_ch, demod.output_len())),
            image: Array2::zeros((n_lines, n_depths)),
            envelope: Array2::zeros(converter.output_shape()),
            gains_db: mapper.tgc_gains_db(pixel_depths_m.view()),
            pixel_depths_m,
            raster_grid: converter.raster_grid()?,
            frame: converter.new_frame()?,
            baseband,
            preset,
            depth_m,
            acquisition,
            rf_meta,
            previous_meta: None,
            demod,
            beamformer,
            converter,
            mapper,
            timings: StageTimings::default(),
            beamform_count: 0,
            frames: 0,
        })
    }

    /// Simulates one frame of RF channel data of this imager's acquisition: `phantom` in `medium`
    /// (noise, TGC and ADC off; see [`Imager::simulate_with`]).
    pub fn simulate(&self, phantom: &Phantom, medium: Medium) -> Result<ChannelData<f32>> {
        self.simulate_with(phantom, medium, SimOptions::default())
    }

    /// As [`Imager::simulate`], with the simulator's options (noise, analog TGC, ADC, …).
    pub fn simulate_with(&self, phantom: &Phantom, medium: Medium, options: SimOptions) -> Result<ChannelData<f32>> {
        Simulator::new(&self.acquisition, medium)?
            .with_options(options)?
            .run(phantom)
    }

    /// Simulates one frame of a scene with the attenuation map of its tissues (a preset's
    /// `Preset::anatomy`): `anatomy.phantom` in `medium`, attenuated along each echo's path by
    /// `anatomy.attenuation` (noise, TGC and ADC off).
    pub fn simulate_anatomy(&self, anatomy: &Anatomy, medium: Medium) -> Result<ChannelData<f32>> {
        Simulator::new(&self.acquisition, medium)?
            .with_attenuation(anatomy.attenuation.clone())
            .run(&anatomy.phantom)
    }

    /// Checks that `data` was acquired with this imager's acquisition; the error says when it was
    /// acquired with the one before the last re-plan.
    fn check_data(&self, data: &ChannelData<f32>) -> Result<()> {
        let Err(e) = check_fits(&self.rf_meta, data.meta()) else {
            return Ok(());
        };
        let (nt, nc, ns) = self.rf_meta.data_shape();
        let expected = format!(
            "RF of the imager's acquisition ({} at {:.0} mm: {nt} transmits × {nc} channels × {ns} samples at {} Hz)",
            self.preset.name,
            self.depth_m * 1e3,
            self.rf_meta.fs_hz()
        );
        let stale = self
            .previous_meta
            .as_ref()
            .is_some_and(|m| check_fits(m, data.meta()).is_ok());
        let got = if stale {
            "data of the acquisition before the last set_depth or set_preset: the acquisition changed, so \
             the data must be acquired (or simulated) again"
                .to_string()
        } else {
            format!("data of another acquisition ({e})")
        };
        Err(Error::ShapeMismatch {
            name: "data",
            expected,
            got,
        })
    }

    /// Turns one RF frame, acquired as [`Imager::acquisition`] describes, into a B-mode frame.
    ///
    /// Errors: `ShapeMismatch` on `data` when it comes from another acquisition (other shape,
    /// sampling, channels or transmits), saying when the acquisition changed since it was acquired.
    pub fn process(&mut self, data: &ChannelData<f32>) -> Result<&BModeFrame> {
        self.check_data(data)?;
        let t = Instant::now();
        self.demod.demodulate_into(data.data().view(), self.iq.view_mut())?;
        self.timings.demod = t.elapsed();
        let t = Instant::now();
        self.beamformer
            .beamform_iq_raw_into(self.iq.view(), self.image.view_mut())?;
        self.beamform_count += 1;
        self.timings.beamform = t.elapsed();
        let t = Instant::now();
        self.baseband.apply(self.image.view_mut())?;
        self.converter
            .detect_iq_into(self.image.view(), self.envelope.view_mut())?;
        self.timings.detect = t.elapsed();
        self.frames += 1;
        self.render()
    }

    /// Re-renders the last frame with the current display settings, without beamforming.
    ///
    /// Errors: `NotReady` before the first frame.
    pub fn remap(&mut self) -> Result<&BModeFrame> {
        if self.frames == 0 {
            return Err(Error::NotReady {
                name: "frame",
                needs: "process a frame before re-rendering it",
            });
        }
        self.render()
    }

    fn render(&mut self) -> Result<&BModeFrame> {
        let t = Instant::now();
        self.mapper.map_with_gains_into(
            self.envelope.view(),
            self.gains_db.view(),
            self.converter.background(),
            self.frame.pixels_mut(),
        )?;
        self.timings.map = t.elapsed();
        Ok(&self.frame)
    }

    /// Gain control 0–100 (50 = 0 dB; see [`crate::bmode::gain_from_control`]).
    pub fn set_gain_control(&mut self, control: f64) -> Result<()> {
        self.mapper.set_gain_control(control)
    }

    /// Gain in dB.
    pub fn set_gain_db(&mut self, gain_db: f64) -> Result<()> {
        self.mapper.set_gain_db(gain_db)
    }

    /// Displayed dynamic range, dB.
    pub fn set_dynamic_range_db(&mut self, dynamic_range_db: f64) -> Result<()> {
        self.mapper.set_dynamic_range_db(dynamic_range_db)
    }

    /// TGC curve over depth.
    pub fn set_tgc(&mut self, tgc: Tgc) {
        self.mapper.set_tgc(tgc);
        self.gains_db = self.mapper.tgc_gains_db(self.pixel_depths_m.view());
    }

    /// What 0 dB of the display means (see the [module docs](self)); kept across depth changes.
    pub fn set_db_reference(&mut self, reference: DbReference) -> Result<()> {
        self.mapper.set_reference(reference)?;
        self.preset.db_reference = reference;
        Ok(())
    }

    /// Fixes the 0 dB reference at the last frame's largest envelope value, so that later frames
    /// keep their absolute brightness; returns that amplitude.
    ///
    /// Errors: `NotReady` before the first frame or when the last frame has no echo.
    pub fn hold_reference(&mut self) -> Result<f32> {
        let a = self.envelope.iter().fold(0.0f32, |m, &v| if v > m { v } else { m });
        if self.frames == 0 || !(a.is_finite() && a >= f32::MIN_POSITIVE) {
            return Err(Error::NotReady {
                name: "reference",
                needs: "process a frame with echoes first",
            });
        }
        self.set_db_reference(DbReference::Fixed(a))?;
        Ok(a)
    }

    /// Changes the displayed depth: re-plans every stage (error outside the preset's bounds; the
    /// imager is unchanged then). The TGC curve is reset to the preset's default for that depth;
    /// gain, dynamic range and dB reference are kept.
    pub fn set_depth(&mut self, depth_m: f64) -> Result<()> {
        self.preset.check_depth(depth_m)?;
        let mut mapper = self.mapper.clone();
        mapper.set_tgc(default_tgc(&self.preset, depth_m)?);
        let previous = self.rf_meta.clone();
        *self = Imager::plan(self.preset.clone(), depth_m, mapper, self.beamformer.kernel())?;
        self.previous_meta = Some(previous);
        Ok(())
    }

    /// Beamforms with `kernel` from the next frame on (re-plans the beamformer only; the default
    /// is `Auto`, the fastest kernel the CPU has). Errors: `Unsupported` for a kernel the CPU
    /// lacks; the imager is unchanged then.
    pub fn set_kernel(&mut self, kernel: KernelChoice) -> Result<()> {
        let config = BeamformConfig {
            kernel,
            ..self.preset.beamform_config()
        };
        let meta = self.beamformer.metadata().clone();
        self.beamformer = Beamformer::new(&meta, self.acquisition.grid(), config)?;
        Ok(())
    }

    /// Switches preset (at its default depth, with its default display settings).
    pub fn set_preset(&mut self, preset: impl Into<Preset>) -> Result<()> {
        let previous = self.rf_meta.clone();
        *self = Imager::new(preset)?;
        self.previous_meta = Some(previous);
        Ok(())
    }

    /// The preset (with the display reference currently in use).
    pub fn preset(&self) -> &Preset {
        &self.preset
    }
    /// The displayed depth, metres.
    pub fn depth_m(&self) -> f64 {
        self.depth_m
    }
    /// Aperture, sequence, pulse, sampling and grid the imager expects its data from.
    pub fn acquisition(&self) -> &Acquisition {
        &self.acquisition
    }
    /// The description of the RF data [`Imager::process`] accepts.
    pub fn metadata(&self) -> &Metadata {
        &self.rf_meta
    }
    /// Stage timings of the last frame.
    pub fn timings(&self) -> StageTimings {
        self.timings
    }
    /// How many times the beamformer ran.
    pub fn beamform_count(&self) -> u64 {
        self.beamform_count
    }
    /// The last frame (blank before the first).
    pub fn frame(&self) -> &BModeFrame {
        &self.frame
    }
    /// The last envelope on the display raster, `[row, col]` like the frame (0 outside the field
    /// of view): the IQ image interpolated to the raster and detected there. Metrics take it
    /// transposed with [`Imager::raster_grid`]: `contrast(env.t(), imager.raster_grid(), ..)`.
    pub fn envelope(&self) -> &Array2<f32> {
        &self.envelope
    }
    /// The display raster's pixel centres as a Cartesian grid (see
    /// [`ScanConverter::raster_grid`]).
    pub fn raster_grid(&self) -> &Grid {
        &self.raster_grid
    }
    /// The scan-conversion plan (raster geometry and lookup table).
    pub fn converter(&self) -> &ScanConverter {
        &self.converter
    }
    /// The display mapper (gain, dynamic range, TGC, dB reference).
    pub fn mapper(&self) -> &BModeMapper {
        &self.mapper
    }
    /// The beamformer plan (its kernel, memory, points per frame).
    pub fn beamformer(&self) -> &Beamformer {
        &self.beamformer
    }
}
