//! The live B-mode pipeline.
//!
//! An [`Imager`] owns the plans of every stage for one preset and depth — demodulation, the
//! beamformer, envelope detection, B-mode mapping and scan conversion — and the buffers between them,
//! so [`Imager::process`] turns each RF [`ChannelData`] frame into a [`BModeFrame`] without
//! allocating. Display controls ([`Imager::set_gain_control`], [`Imager::set_dynamic_range_db`],
//! [`Imager::set_tgc`]) only change the mapping: they take effect on the next frame, and
//! [`Imager::remap`] re-renders the last frame with them without beamforming again. Depth and preset
//! changes re-plan ([`Imager::set_depth`], [`Imager::set_preset`]), validated against the preset's
//! depth bounds.
//!
//! Run the live loop on a rayon worker (inside `ThreadPool::install`): a caller outside the pool
//! hands each parallel stage to rayon's global queue, which allocates one 1.5 KB block per 63 jobs.
//!
//! The pipeline is the IQ path: RF is demodulated at the centre frequency and decimated by 2, the
//! beamformer interpolates complex samples and rotates their phase, and the envelope is `|IQ|`
//! (beamformed RF would need depth sampling finer than λ/4, which the live grids don't have).
//!
//! ```no_run
//! # fn main() -> sonochip::Result<()> {
//! use sonochip::{imager::Imager, medium::Medium, preset::PresetKind, sim::Simulator};
//! let mut imager = Imager::new(PresetKind::Vascular)?;
//! let s = imager.setup().clone();
//! let phantom = imager.preset().phantom(2.0, 1)?;
//! let rf = Simulator::new(&s.aperture, &s.sequence, Medium::soft_tissue(), s.pulse, s.sampling)?.run(&phantom)?;
//! imager.set_gain_control(60.0)?;
//! let frame = imager.process(&rf)?;
//! frame.save_png_with_depth_scale("out/vascular.png")?;
//! # Ok(()) }
//! ```

use crate::beamform::{BeamformConfig, Beamformer, DataLayout, RxArray, Window};
use crate::bmode::{BModeMapper, Tgc};
use crate::channel_data::ChannelData;
use crate::demod::{DemodConfig, Demodulator};
use crate::envelope::EnvelopeDetector;
use crate::error::{Error, Result};
use crate::frame::BModeFrame;
use crate::grid::{Grid, GridKind};
use crate::preset::{Family, Preset, PresetKind};
use crate::probe::Aperture;
use crate::scan_convert::{RasterSpec, ScanConverter};
use crate::workload::Workload;
use ndarray::{Array2, Array3};
use num_complex::Complex32;
use std::time::{Duration, Instant};

/// Height of the raster sector and curved presets are scan-converted to, pixels (the width follows
/// from square pixels).
pub const SECTOR_RASTER_PX: usize = 512;

/// Receive F-number of the linear presets.
pub const LIVE_F_NUMBER: f64 = 1.5;

/// Element acceptance angle of the sector (curved and phased) presets, degrees.
pub const SECTOR_ACCEPTANCE_DEG: f64 = 50.0;

/// Beamforming of the live pipeline: linear presets use a dynamic receive aperture at F# 1.5 with a
/// Hann window; sector presets (curved, phased) image far off the array's axis, where an F-number
/// aperture measured laterally from the pixel would hold no channel, so they use every channel
/// within an element acceptance angle of 50° instead.
pub fn live_beamform_config(family: Family) -> BeamformConfig {
    match family {
        Family::Linear => BeamformConfig {
            f_number: Some(LIVE_F_NUMBER),
            window: Window::Hann,
            ..BeamformConfig::default()
        },
        _ => BeamformConfig {
            f_number: None,
            acceptance_angle_rad: Some(SECTOR_ACCEPTANCE_DEG.to_radians()),
            ..BeamformConfig::default()
        },
    }
}

/// Wall-clock time of each stage of the last processed frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StageTimings {
    /// RF → IQ.
    pub demod: Duration,
    /// Delay-and-sum (all transmits, compounded).
    pub beamform: Duration,
    /// `|IQ|`.
    pub envelope: Duration,
    /// Log compression, gain, TGC, dynamic range.
    pub bmode: Duration,
    /// Scan conversion to the raster.
    pub scan_convert: Duration,
}

impl StageTimings {
    /// Sum of the stages.
    pub fn total(&self) -> Duration {
        self.demod + self.beamform + self.envelope + self.bmode + self.scan_convert
    }
}

/// The live pipeline. See the [module docs](self).
pub struct Imager {
    preset: Preset,
    depth_m: f64,
    setup: Workload,
    demod: Demodulator,
    beamformer: Beamformer,
    detector: EnvelopeDetector,
    converter: ScanConverter,
    mapper: BModeMapper,
    depths_m: Vec<f64>,
    iq: Array3<Complex32>,
    image: Array2<Complex32>,
    envelope: Array2<f32>,
    mapped: Array2<u8>,
    frame: BModeFrame,
    timings: StageTimings,
    beamform_count: u64,
    frames: u64,
}

/// The demodulation the IQ path uses: mixing at `fc_hz`, low-pass at 0.9·fc, decimation by 2.
pub fn iq_demod_config(fc_hz: f64) -> DemodConfig {
    DemodConfig::new(fc_hz, 0.9 * fc_hz, 2)
}

/// One-shot IQ imaging (no live state): demodulates `rf`, beamforms it on `grid` with `config` for
/// the receive channels of `aperture` and returns the envelope `|IQ|` `[line, depth]`.
pub fn envelope_image(
    rf: &ChannelData<f32>,
    aperture: &Aperture,
    grid: &Grid,
    config: BeamformConfig,
) -> Result<Array2<f32>> {
    let iq = Demodulator::for_data(rf, iq_demod_config(rf.meta().fc_hz))?.demodulate(rf)?;
    let bf = Beamformer::new(
        &RxArray::from_aperture(aperture),
        rf.sequence(),
        grid,
        DataLayout::of(&iq),
        config,
    )?;
    Ok(bf.beamform_iq(&iq)?.mapv(|v| v.norm()))
}

/// The TGC curve a preset starts with: `tgc_db_per_cm` from the top to the deepest depth.
pub fn default_tgc(preset: &Preset, depth_m: f64) -> Result<Tgc> {
    Tgc::new(vec![(0.0, 0.0), (depth_m, preset.tgc_db_per_cm * depth_m * 100.0)])
}

impl Imager {
    /// An imager for `kind` at its default depth.
    pub fn new(kind: PresetKind) -> Result<Imager> {
        let p = Preset::get(kind);
        let d = p.default_depth_m;
        Imager::with_depth(kind, d)
    }

    /// An imager for `kind` at `depth_m` (within the preset's bounds).
    pub fn with_depth(kind: PresetKind, depth_m: f64) -> Result<Imager> {
        let preset = Preset::get(kind);
        let mut mapper = BModeMapper::new();
        mapper.set_dynamic_range_db(preset.dynamic_range_db)?;
        mapper.set_tgc(default_tgc(&preset, depth_m)?);
        Imager::plan(preset, depth_m, mapper)
    }

    fn plan(preset: Preset, depth_m: f64, mapper: BModeMapper) -> Result<Imager> {
        let setup = preset.setup(depth_m)?;
        let s = setup.sampling;
        let fc = setup.pulse.fc_hz();
        let demod = Demodulator::new(s.fs_hz, s.t0_s, s.n_samples, iq_demod_config(fc))?;
        let layout = DataLayout::iq(demod.output_fs_hz(), s.t0_s, demod.output_len(), fc, fc);
        let config = live_beamform_config(preset.family);
        let beamformer = Beamformer::new(
            &RxArray::from_aperture(&setup.aperture),
            &setup.sequence,
            &setup.grid,
            layout,
            config,
        )?;
        let (n_lines, n_depths) = setup.grid.shape();
        let detector = EnvelopeDetector::new(n_depths)?;
        let spec = match preset.family {
            Family::Linear => RasterSpec::square_pixels_for(&setup.grid, n_depths)?,
            _ => RasterSpec::new(SECTOR_RASTER_PX, SECTOR_RASTER_PX)
                .with_z_range_m((0.0, depth_m))
                .with_square_pixels(&setup.grid)?,
        };
        let converter = ScanConverter::new(&setup.grid, spec)?;
        let frame = converter.new_frame()?;
        let depths_m = match setup.grid.kind() {
            GridKind::Cartesian { z_m, .. } => z_m.clone(),
            GridKind::Sector { depths_m, .. } => depths_m.clone(),
            _ => return Err(Error::invalid("grid", "a Cartesian or sector grid", "a point list")),
        };
        let (n_tx, n_ch) = (setup.sequence.len(), setup.aperture.n_channels());
        Ok(Imager {
            iq: Array3::zeros((n_tx, n_ch, demod.output_len())),
            image: Array2::zeros((n_lines, n_depths)),
            envelope: Array2::zeros((n_lines, n_depths)),
            mapped: Array2::zeros((n_lines, n_depths)),
            preset,
            depth_m,
            setup,
            demod,
            beamformer,
            detector,
            converter,
            mapper,
            depths_m,
            frame,
            timings: StageTimings::default(),
            beamform_count: 0,
            frames: 0,
        })
    }

    /// Turns one RF frame (laid out as [`Imager::setup`] describes) into a B-mode frame.
    pub fn process(&mut self, data: &ChannelData<f32>) -> Result<&BModeFrame> {
        let expected = (
            self.setup.sequence.len(),
            self.setup.aperture.n_channels(),
            self.setup.sampling.n_samples,
        );
        if data.data().dim() != expected {
            return Err(Error::shape(
                "data",
                format!("{expected:?} (the preset's acquisition)"),
                format!("{:?}", data.data().dim()),
            ));
        }
        let t = Instant::now();
        self.demod.demodulate_into(data.data().view(), self.iq.view_mut())?;
        self.timings.demod = t.elapsed();
        let t = Instant::now();
        self.beamformer
            .beamform_iq_raw_into(self.iq.view(), self.image.view_mut())?;
        self.beamform_count += 1;
        self.timings.beamform = t.elapsed();
        let t = Instant::now();
        self.detector
            .detect_iq_into(self.image.view(), self.envelope.view_mut())?;
        self.timings.envelope = t.elapsed();
        self.frames += 1;
        self.render()
    }

    /// Re-renders the last frame with the current display settings, without beamforming.
    pub fn remap(&mut self) -> Result<&BModeFrame> {
        if self.frames == 0 {
            return Err(Error::invalid("remap", "a processed frame first", "no frame yet"));
        }
        self.render()
    }

    fn render(&mut self) -> Result<&BModeFrame> {
        let t = Instant::now();
        self.mapper
            .map_into(self.envelope.view(), &self.depths_m, self.mapped.view_mut())?;
        self.timings.bmode = t.elapsed();
        let t = Instant::now();
        self.converter.convert_into_frame(self.mapped.view(), &mut self.frame)?;
        self.timings.scan_convert = t.elapsed();
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
    }

    /// Changes the displayed depth: re-plans every stage (error outside the preset's bounds; the
    /// imager is unchanged then). The TGC curve is reset to the preset's default for that depth.
    pub fn set_depth(&mut self, depth_m: f64) -> Result<()> {
        self.preset.check_depth(depth_m)?;
        let mut mapper = self.mapper.clone();
        mapper.set_tgc(default_tgc(&self.preset, depth_m)?);
        *self = Imager::plan(self.preset.clone(), depth_m, mapper)?;
        Ok(())
    }

    /// Switches preset (at its default depth, with its default display settings).
    pub fn set_preset(&mut self, kind: PresetKind) -> Result<()> {
        *self = Imager::new(kind)?;
        Ok(())
    }

    /// The preset.
    pub fn preset(&self) -> &Preset {
        &self.preset
    }
    /// The displayed depth, metres.
    pub fn depth_m(&self) -> f64 {
        self.depth_m
    }
    /// Aperture, sequence, pulse, sampling and grid the imager expects its data from.
    pub fn setup(&self) -> &Workload {
        &self.setup
    }
    /// Stage timings of the last frame.
    pub fn timings(&self) -> StageTimings {
        self.timings
    }
    /// How many times the beamformer ran.
    pub fn beamform_count(&self) -> u64 {
        self.beamform_count
    }
    /// The last frame.
    pub fn frame(&self) -> &BModeFrame {
        &self.frame
    }
    /// The last envelope image `[line, depth]` on the preset's grid.
    pub fn envelope(&self) -> &Array2<f32> {
        &self.envelope
    }
    /// The display mapper (gain, dynamic range, TGC).
    pub fn mapper(&self) -> &BModeMapper {
        &self.mapper
    }
}
