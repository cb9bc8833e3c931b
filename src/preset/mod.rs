//! Clinical presets of the one-probe scanner: how the probe is driven and how the image is shown.
//!
//! The 2D CMUT array emulates three probes electronically (`docs/physics.md#probe-families`):
//! * **linear** ([`Family::Linear`]: vascular, MSK, nerve) — all 140 columns, steered plane waves,
//!   a Cartesian grid as wide as the aperture;
//! * **curved** ([`Family::Curved`]: abdomen, OB, bladder) — all 140 columns, diverging waves from
//!   sources behind the array and a curved grid from a virtual apex, as a convex probe would image;
//! * **phased** ([`Family::Phased`]: cardiac, lung) — the 96 central columns (a 20 mm footprint to
//!   fit between ribs), diverging waves and a 90° polar sector. With the 208 µm pitch the sector is
//!   free of grating lobes below about 3.7 MHz, so phased presets stay at 2.5–3 MHz.
//!
//! A [`Preset`] is a plain value: [`Preset::get`] gives a built-in one, and its public fields are the
//! way to customise it (more transmits, another window or F-number, a fixed dB reference, other
//! depth bounds). [`Preset::validate`] checks every field (the `Imager`
//! and [`Preset::acquisition`] call it); [`Preset::acquisition`] builds the [`Acquisition`] for a
//! depth. Where the real device's value is not public the value is a clinically usual one.
//!
//! ```
//! use sonochip::prelude::*;
//! # fn main() -> sonochip::Result<()> {
//! let p = Preset::get(PresetKind::Cardiac);
//! let acq = p.acquisition(p.default_depth_m)?;
//! assert_eq!(acq.aperture().n_channels(), 96);
//! assert!(p.acquisition(0.5).is_err()); // outside the preset's depth bounds
//!
//! // Customised: nine plane waves, a Hann window at F# 2.
//! let mut v = Preset::get(PresetKind::Vascular);
//! v.n_tx = 9;
//! v.window = Window::Hann;
//! v.f_number = Some(2.0);
//! assert_eq!(v.acquisition(0.04)?.sequence().len(), 9);
//! v.n_tx = 0;
//! assert!(v.validate().is_err());
//! # Ok(()) }
//! ```

use crate::acquisition::{Acquisition, SOUND_SPEED_RANGE_M_S};
use crate::beamform::{BeamformConfig, Window};
use crate::bmode::{DbReference, MAX_DB};
use crate::channel_data::{MAX_DEPTH_M, MIN_DEPTH_M};
use crate::error::{Error, Result, in_range, plausible};
use crate::frame::MAX_RASTER_SIDE_PX;
use crate::grid::Grid;
use crate::medium::SCANNER_C_M_S;
use crate::phantom::{Anatomy, Phantom, density_for};
use crate::probe::{Aperture, ChannelMode, Probe};
use crate::pulse::Pulse;
use crate::sequence::Sequence;
use std::ops::Range;

pub mod flow;
mod grid_density;
use grid_density::Field;
pub use grid_density::{GridDensity, MAX_DERIVED_SAMPLES};

/// Which probe the CMUT array emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// Linear array: plane waves, Cartesian image.
    Linear,
    /// Convex array via a virtual apex: diverging waves, curved image.
    Curved,
    /// Phased array: central columns, diverging waves, polar sector.
    Phased,
}

/// The built-in clinical presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PresetKind {
    /// Abdomen (curved, 3.5 MHz).
    Abdomen,
    /// Bladder (curved, 3 MHz).
    Bladder,
    /// Obstetrics (curved, 3.5 MHz).
    Ob,
    /// Cardiac (phased, 2.5 MHz).
    Cardiac,
    /// Lung (phased, 3 MHz).
    Lung,
    /// Vascular (linear, 7.5 MHz).
    Vascular,
    /// Musculoskeletal (linear, 6 MHz).
    Msk,
    /// Nerve (linear, 8 MHz).
    Nerve,
}

impl PresetKind {
    /// Every preset, in display order.
    pub const ALL: [PresetKind; 8] = [
        PresetKind::Abdomen,
        PresetKind::Bladder,
        PresetKind::Ob,
        PresetKind::Cardiac,
        PresetKind::Lung,
        PresetKind::Vascular,
        PresetKind::Msk,
        PresetKind::Nerve,
    ];
}

/// Columns of the default CMUT array.
pub const ARRAY_COLUMNS: usize = 140;
/// Rows of the default CMUT array.
pub const ARRAY_ROWS: usize = 64;
/// Element pitch of the default CMUT array, metres.
pub const ARRAY_PITCH_M: f64 = 208e-6;

/// A clinical preset: how the probe is driven and how the image is shown. See the
/// [module docs](self); every field is checked by [`Preset::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// The built-in preset this one derives from (its phantom is [`Preset::phantom`]).
    pub kind: PresetKind,
    /// Short lower-case name (file names, reports).
    pub name: String,
    /// Emulated probe.
    pub family: Family,
    /// Centre frequency, Hz (0.5–15 MHz).
    pub fc_hz: f64,
    /// Pulse-echo −6 dB fractional bandwidth (0.05–2; CMUTs are broadband: about 1).
    pub fractional_bandwidth: f64,
    /// Receive sampling rate, Hz (at least the pulse band's Nyquist rate; 4 × fc by default).
    pub fs_hz: f64,
    /// Active columns of the 140-column array.
    pub columns: Range<usize>,
    /// Active rows of the 64-row array: the 24 central rows (5 mm, the elevation height of a
    /// conventional linear probe) for the superficial linear presets, whose elevation focus is
    /// shallow, all 64 (13.3 mm) otherwise.
    pub rows: Range<usize>,
    /// Electronic elevation focus of the column channels, metres (`None`: 45 % of the imaged
    /// depth, within 15–70 mm; see [`elevation_focus_for`]).
    pub elevation_focus_m: Option<f64>,
    /// Transmits per frame (1–256).
    pub n_tx: usize,
    /// Plane waves: largest steering angle; diverging waves: tilt of the outermost wave (degrees,
    /// 0–45).
    pub steer_deg: f64,
    /// Half-opening of the sector (curved and phased), degrees (1–80; unused by linear presets).
    pub half_sector_deg: f64,
    /// Shallowest imaged depth, metres (below the smallest depth bound).
    pub top_depth_m: f64,
    /// Depth shown when the preset is selected, metres.
    pub default_depth_m: f64,
    /// Smallest and largest depth the user may choose, metres (within 1 mm–30 cm).
    pub depth_bounds_m: (f64, f64),
    /// How dense the beamforming grid is: derived from the physics (the built-in presets:
    /// [`GridDensity::DERIVED`]) or fixed line and depth counts (such as the dense grids of the
    /// benchmark workloads, [`Preset::dense_grid`]).
    pub grid: GridDensity,
    /// Receive F-number (`None`: every channel within the acceptance angle). Linear presets use
    /// 1.5; sector presets image far off the array's axis, where an F-number aperture measured
    /// laterally from the pixel would hold no channel, so they use none.
    pub f_number: Option<f64>,
    /// Receive window over the F-number aperture.
    pub window: Window,
    /// Element acceptance angle, degrees (`None`: no limit; sector presets: 50°).
    pub acceptance_angle_deg: Option<f64>,
    /// Speed of sound the delays and the beamformer assume, m/s (1540 by convention).
    pub sound_speed_m_s: f64,
    /// Height of the display raster, pixels (the width follows from square pixels).
    pub raster_height_px: usize,
    /// Display dynamic range, dB.
    pub dynamic_range_db: f64,
    /// Digital TGC slope applied by default, dB per cm of depth (about half the two-way loss of
    /// 0.5 dB/(cm·MHz) tissue at fc: users fine-tune with the TGC control).
    pub tgc_db_per_cm: f64,
    /// What 0 dB of the display means (see [`DbReference`]; the built-in presets use the frame
    /// maximum, since the absolute scale of channel data depends on the front end).
    pub db_reference: DbReference,
}

/// Elevation focus used for CMUT column channels when imaging to `depth_max_m`: about 45 % of the
/// deepest depth, within 15–70 mm (a documented assumption; the device's value is not public).
pub fn elevation_focus_for(depth_max_m: f64) -> f64 {
    (0.45 * depth_max_m).clamp(0.015, 0.07)
}

impl From<PresetKind> for Preset {
    fn from(kind: PresetKind) -> Preset {
        Preset::get(kind)
    }
}

impl Preset {
    /// The built-in preset `kind`.
    pub fn get(kind: PresetKind) -> Preset {
        use Family::*;
        use PresetKind::*;
        let base = |name: &str, family, fc_hz: f64, steer_deg, half_sector_deg, top, default, bounds| {
            let columns = if family == Phased { 22..118 } else { 0..ARRAY_COLUMNS };
            let rows = if family == Linear { 20..44 } else { 0..ARRAY_ROWS };
            let linear = family == Linear;
            Preset {
                kind,
                name: name.to_string(),
                family,
                fc_hz,
                fractional_bandwidth: 1.0,
                fs_hz: 4.0 * fc_hz,
                columns,
                rows,
                elevation_focus_m: None,
                n_tx: 5,
                steer_deg,
                half_sector_deg,
                top_depth_m: top,
                default_depth_m: default,
                depth_bounds_m: bounds,
                grid: GridDensity::DERIVED,
                f_number: if linear { Some(1.5) } else { None },
                window: if linear { Window::Hann } else { Window::Rectangular },
                acceptance_angle_deg: if linear { None } else { Some(50.0) },
                sound_speed_m_s: SCANNER_C_M_S,
                raster_height_px: 512,
                dynamic_range_db: if linear { 60.0 } else { 55.0 },
                tgc_db_per_cm: 0.5 * fc_hz * 1e-6,
                db_reference: DbReference::FrameMax,
            }
        };
        match kind {
            Abdomen => base("abdomen", Curved, 3.5e6, 10.0, 30.0, 0.02, 0.16, (0.08, 0.30)),
            Bladder => base("bladder", Curved, 3.0e6, 10.0, 30.0, 0.01, 0.12, (0.06, 0.20)),
            Ob => base("ob", Curved, 3.5e6, 10.0, 30.0, 0.01, 0.14, (0.08, 0.25)),
            Cardiac => base("cardiac", Phased, 2.5e6, 15.0, 45.0, 0.01, 0.16, (0.08, 0.24)),
            Lung => base("lung", Phased, 3.0e6, 15.0, 45.0, 0.005, 0.12, (0.04, 0.24)),
            Vascular => base("vascular", Linear, 7.5e6, 8.0, 0.0, 0.005, 0.04, (0.02, 0.06)),
            Msk => base("msk", Linear, 6.0e6, 8.0, 0.0, 0.003, 0.045, (0.015, 0.06)),
            Nerve => base("nerve", Linear, 8.0e6, 8.0, 0.0, 0.002, 0.035, (0.01, 0.05)),
        }
    }

    /// Every built-in preset.
    pub fn all() -> Vec<Preset> {
        PresetKind::ALL.iter().map(|&k| Preset::get(k)).collect()
    }

    /// Checks every field: its plausible range (the message names the field and its unit) and that
    /// the fields fit together (depth bounds around the default depth, columns and rows inside the
    /// array).
    pub fn validate(&self) -> Result<()> {
        plausible("fc_hz", self.fc_hz, 0.5e6, 15e6, "Hz")?;
        in_range("fractional_bandwidth", self.fractional_bandwidth, 0.05, 2.0)?;
        plausible("fs_hz", self.fs_hz, self.fc_hz, 1e9, "Hz")?;
        check_span("columns", &self.columns, ARRAY_COLUMNS)?;
        check_span("rows", &self.rows, ARRAY_ROWS)?;
        if let Some(f) = self.elevation_focus_m {
            plausible("elevation_focus_m", f, 1e-3, 0.3, "m")?;
        }
        if !(1..=256).contains(&self.n_tx) {
            return Err(Error::invalid("n_tx", "1..=256 transmits per frame", self.n_tx));
        }
        plausible("steer_deg", self.steer_deg, 0.0, 45.0, "degrees")?;
        if self.family != Family::Linear {
            plausible("half_sector_deg", self.half_sector_deg, 1.0, 80.0, "degrees")?;
        }
        let (lo, hi) = self.depth_bounds_m;
        plausible("depth_bounds_m.0", lo, MIN_DEPTH_M, MAX_DEPTH_M, "m")?;
        plausible("depth_bounds_m.1", hi, lo, MAX_DEPTH_M, "m")?;
        plausible(
            "default_depth_m",
            self.default_depth_m,
            lo,
            hi,
            "m (within depth_bounds_m)",
        )?;
        plausible(
            "top_depth_m",
            self.top_depth_m,
            0.0,
            0.999 * lo,
            "m (above the smallest depth)",
        )?;
        self.grid.validate()?;
        if let Some(f) = self.f_number {
            in_range("f_number", f, 0.1, 20.0)?;
        }
        if let Window::Tukey { alpha } = self.window {
            in_range("window.alpha", alpha, 0.0, 1.0)?;
        }
        if let Some(a) = self.acceptance_angle_deg {
            plausible("acceptance_angle_deg", a, 1.0, 90.0, "degrees")?;
        }
        plausible(
            "sound_speed_m_s",
            self.sound_speed_m_s,
            SOUND_SPEED_RANGE_M_S.0,
            SOUND_SPEED_RANGE_M_S.1,
            "m/s",
        )?;
        if !(16..=MAX_RASTER_SIDE_PX).contains(&self.raster_height_px) {
            return Err(Error::invalid(
                "raster_height_px",
                format!("16..={MAX_RASTER_SIDE_PX} pixels"),
                self.raster_height_px,
            ));
        }
        plausible("dynamic_range_db", self.dynamic_range_db, 1.0, MAX_DB, "dB")?;
        plausible("tgc_db_per_cm", self.tgc_db_per_cm, 0.0, 20.0, "dB/cm")?;
        if let DbReference::Fixed(a) = self.db_reference
            && !(a.is_finite() && a >= f32::MIN_POSITIVE)
        {
            return Err(Error::invalid("db_reference", "a finite amplitude > 0", a));
        }
        Ok(())
    }

    /// Checks a requested depth against the preset's bounds.
    pub fn check_depth(&self, depth_m: f64) -> Result<()> {
        let (lo, hi) = self.depth_bounds_m;
        if depth_m.is_finite() && depth_m >= lo && depth_m <= hi {
            Ok(())
        } else {
            Err(Error::DepthOutOfRange {
                name: "depth_m",
                got_m: depth_m,
                min_m: lo,
                max_m: hi,
            })
        }
    }

    /// Distance of the virtual apex behind the array (curved family): the apex from which the
    /// aperture subtends the sector.
    pub fn apex_distance_m(&self) -> f64 {
        0.5 * self.columns.len() as f64 * ARRAY_PITCH_M / self.half_sector_deg.to_radians().tan()
    }

    /// The acquisition for imaging to `depth_m` (validated; within the depth bounds): the CMUT
    /// aperture, the transmit sequence, the pulse, a sampling long enough for `depth_m`, the grid.
    pub fn acquisition(&self, depth_m: f64) -> Result<Acquisition> {
        self.check_depth(depth_m)?;
        self.validate()?;
        let probe = Probe::cmut_9000();
        let mode = ChannelMode::Columns {
            elevation_focus_m: Some(self.elevation_focus_m.unwrap_or_else(|| elevation_focus_for(depth_m))),
        };
        let aperture = Aperture::new(&probe, self.columns.clone(), self.rows.clone(), mode)?;
        let c = self.sound_speed_m_s;
        let half = self.half_sector_deg.to_radians();
        let steer = self.steer_deg.to_radians();
        let sequence = match self.family {
            Family::Linear => Sequence::plane_wave_fan(&aperture, steer, self.n_tx, c)?,
            _ => Sequence::diverging_sector(&aperture, half, steer, self.n_tx, c)?,
        };
        let pulse = Pulse::new(self.fc_hz, self.fractional_bandwidth, 1.0)?;
        let depth = (self.top_depth_m, depth_m);
        let (lines, depth_samples) = self.grid_shape(depth_m, &aperture, &sequence)?;
        let grid = match self.family {
            Family::Linear => {
                let w = 0.5 * aperture.width_m();
                Grid::cartesian((-w, w), lines, depth, depth_samples)?
            }
            Family::Curved => Grid::curved(self.apex_distance_m(), (-half, half), lines, depth, depth_samples)?,
            Family::Phased => Grid::sector((-half, half), lines, depth, depth_samples)?,
        };
        Acquisition::for_depth(aperture, sequence, pulse, self.fs_hz, grid, depth_m)
    }

    /// The dense grid of the benchmark workloads for `family`: 256 × 512 (linear), 256 × 800
    /// (curved), 192 × 800 (phased) lines × depth samples.
    pub fn dense_grid(family: Family) -> GridDensity {
        let (lines, depth_samples) = match family {
            Family::Linear => (256, 512),
            Family::Curved => (256, 800),
            Family::Phased => (192, 800),
        };
        GridDensity::Fixed { lines, depth_samples }
    }

    /// `(lines, depth_samples)` of the grid for imaging to `depth_m` with `aperture` and
    /// `sequence` (this preset's): fixed, or derived from the physics (see [`GridDensity`]).
    /// Errors: a derived count over 4096 (`grid`).
    fn grid_shape(&self, depth_m: f64, aperture: &Aperture, sequence: &Sequence) -> Result<(usize, usize)> {
        let (axial, lateral) = match self.grid {
            GridDensity::Fixed { lines, depth_samples } => return Ok((lines, depth_samples)),
            GridDensity::Derived { axial, lateral } => (axial, lateral),
        };
        let half = self.half_sector_deg.to_radians();
        let (apex_z_m, lat) = match self.family {
            Family::Linear => (None, (-0.5 * aperture.width_m(), 0.5 * aperture.width_m())),
            Family::Curved => (Some(-self.apex_distance_m()), (-half, half)),
            Family::Phased => (Some(0.0), (-half, half)),
        };
        let field = Field {
            apex_z_m,
            lateral: lat,
            depths_m: (self.top_depth_m, depth_m),
            f_number: self.f_number,
            acceptance_rad: self.acceptance_angle_deg.map(f64::to_radians),
            fc_hz: self.fc_hz,
            // The pulse-echo band to −20 dB (a Gaussian spectrum's −6 dB width × √(20/6)), at most
            // what the demodulator passes (0.9·fc on each side of the carrier).
            bandwidth_hz: (self.fractional_bandwidth * self.fc_hz * (20.0f64 / 6.0).sqrt()).min(1.8 * self.fc_hz),
            c_m_s: self.sound_speed_m_s,
        };
        let (lines, depths) = field.counts(aperture, sequence, axial, lateral);
        for (n, what) in [(lines, "lines"), (depths, "depth samples")] {
            if n > grid_density::MAX_DERIVED_SAMPLES {
                return Err(Error::invalid(
                    "grid",
                    "a derived grid of at most 4096 lines and depth samples (lower the oversampling or use GridDensity::Fixed)",
                    format!("{n} {what}"),
                ));
            }
        }
        Ok((lines, depths))
    }

    /// How the preset beamforms: its F-number, window and acceptance angle.
    pub fn beamform_config(&self) -> BeamformConfig {
        BeamformConfig {
            f_number: self.f_number,
            window: self.window,
            acceptance_angle_rad: self.acceptance_angle_deg.map(f64::to_radians),
            sound_speed_m_s: Some(self.sound_speed_m_s),
            ..BeamformConfig::default()
        }
    }

    /// Speckle density (scatterers per mm²) that puts `per_cell` scatterers in a resolution cell of
    /// this preset (lateral λ·F# with F# ≈ 1.5, axial λ).
    pub fn speckle_density(&self, per_cell: f64) -> f64 {
        let lambda = self.sound_speed_m_s / self.fc_hz;
        density_for(per_cell, 1.5 * lambda, lambda)
    }

    /// The −6 dB resolution cell of this preset's image at `depth_m`, metres `(lateral, axial)`:
    /// lateral `λ·max(F#, depth / aperture width)` (the receive aperture it beamforms with: its
    /// F#, or the whole aperture where it sets none), axial the pulse-echo resolution
    /// ([`Pulse::axial_resolution_m`]). Errors: the preset's own validation, and a depth that is
    /// not positive and finite (`depth_m`). Cost: one acquisition plan at the default depth.
    pub fn resolution_cell_m(&self, depth_m: f64) -> Result<(f64, f64)> {
        in_range("depth_m", depth_m, f64::MIN_POSITIVE, MAX_DEPTH_M)?;
        let acq = self.acquisition(self.default_depth_m)?;
        let lambda = self.sound_speed_m_s / self.fc_hz;
        let f_number = self.f_number.unwrap_or(0.0).max(depth_m / acq.aperture().width_m());
        Ok((lambda * f_number, acq.pulse().axial_resolution_m(self.sound_speed_m_s)))
    }

    /// The depth at which [`Preset::resolved_speckle_density`] counts scatterers per cell: the
    /// middle of the image, 50 % of the default depth for the linear presets (an F# or a linear
    /// grid), 60 % for the sector ones. Errors: the preset's own validation.
    pub fn speckle_reference_depth_m(&self) -> Result<f64> {
        let acq = self.acquisition(self.default_depth_m)?;
        let linear = acq.grid().line_depths_m().is_err() || self.f_number.is_some();
        Ok(self.default_depth_m * if linear { 0.5 } else { 0.6 })
    }

    /// Speckle density (scatterers per mm²) that puts `per_cell` scatterers in this preset's
    /// resolution cell ([`Preset::resolution_cell_m`]) at [`Preset::speckle_reference_depth_m`]:
    /// 10 or more give fully developed speckle there (`tests/preset_speckle.rs`), and deeper on
    /// the sector presets, whose cells grow with depth. Errors: as
    /// [`Preset::resolution_cell_m`], and a `per_cell` that is not positive and finite.
    pub fn resolved_speckle_density(&self, per_cell: f64) -> Result<f64> {
        in_range("per_cell", per_cell, f64::MIN_POSITIVE, 1e4)?;
        let (lateral, axial) = self.resolution_cell_m(self.speckle_reference_depth_m()?)?;
        Ok(density_for(per_cell, lateral, axial))
    }

    /// The built-in phantom of this preset's kind at `per_cell` scatterers per resolution cell
    /// (the scatterers of [`Preset::anatomy`], without its attenuation map).
    pub fn phantom(&self, per_cell: f64, seed: u64) -> Result<Phantom> {
        Ok(self.anatomy(per_cell, seed)?.phantom)
    }

    /// The built-in scene of this preset's kind at `per_cell` scatterers per resolution cell, with
    /// the attenuation map of its tissues (fluid, blood, bone).
    /// `Imager::simulate_anatomy` simulates it.
    pub fn anatomy(&self, per_cell: f64, seed: u64) -> Result<Anatomy> {
        self.anatomy_at_density(self.speckle_density(per_cell), seed)
    }

    /// The built-in scene of this preset's kind (as [`Preset::anatomy`]) with its speckle at
    /// `d` scatterers per mm² of the image plane (for instance
    /// [`Preset::resolved_speckle_density`]).
    pub fn anatomy_at_density(&self, d: f64, seed: u64) -> Result<Anatomy> {
        match self.kind {
            PresetKind::Abdomen => Anatomy::abdomen(d, seed),
            PresetKind::Bladder => Anatomy::bladder(d, seed),
            PresetKind::Ob => Anatomy::obstetric(d, seed),
            PresetKind::Cardiac => Anatomy::heart(d, seed),
            PresetKind::Lung => Anatomy::lung(d, self.fc_hz, seed),
            PresetKind::Vascular => Anatomy::vessel(d, seed),
            PresetKind::Msk => Anatomy::tendon(d, self.fc_hz, seed),
            PresetKind::Nerve => Anatomy::nerve(d, seed),
        }
    }
}

fn check_span(name: &'static str, r: &Range<usize>, n: usize) -> Result<()> {
    if r.start < r.end && r.end <= n {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!("a non-empty range within 0..{n}"),
            format!("{r:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_builds_at_its_default_depth_and_refuses_outside_bounds() {
        for p in Preset::all() {
            p.validate().unwrap();
            let s = p.acquisition(p.default_depth_m).unwrap();
            let (lines, depths) = s.grid().shape();
            assert!(
                (16..=1024).contains(&lines) && (64..=2048).contains(&depths),
                "{}",
                p.name
            );
            assert!(p.depth_bounds_m.0 <= p.default_depth_m && p.default_depth_m <= p.depth_bounds_m.1);
            assert!(matches!(
                p.acquisition(p.depth_bounds_m.1 * 1.01),
                Err(Error::DepthOutOfRange { .. })
            ));
            assert!(p.acquisition(f64::NAN).is_err());
            // Phased presets stay below the grating-lobe limit of the 208 µm pitch
            // (`docs/physics.md#grating-lobes`).
            if p.family == Family::Phased {
                let lambda = SCANNER_C_M_S / p.fc_hz;
                let s = p.half_sector_deg.to_radians().sin();
                assert!(ARRAY_PITCH_M <= lambda / (1.0 + s), "{}", p.name);
            }
        }
    }

    /// A derived grid follows the physics, so an edit can ask for more than the cap: the abdomen
    /// preset at its deepest 0.30 m with fc raised 30 % and 1.4× axial oversampling needs about
    /// 4,200 depth samples. That is refused with the count (the case the end-to-end property test
    /// found), and the same edit at the default margins builds.
    #[test]
    fn resolution_cells_grow_with_depth_on_sector_presets_and_bad_inputs_are_named() {
        let abdomen = Preset::get(PresetKind::Abdomen);
        let (l1, a1) = abdomen.resolution_cell_m(0.04).unwrap();
        let (l2, a2) = abdomen.resolution_cell_m(0.12).unwrap();
        assert!((l2 / l1 - 3.0).abs() < 1e-9 && a1 == a2, "{l1} {l2}");
        // A linear preset's F# holds the lateral cell at λ·F# where the aperture is wider.
        let vascular = Preset::get(PresetKind::Vascular);
        let lambda = vascular.sound_speed_m_s / vascular.fc_hz;
        let (l, _) = vascular.resolution_cell_m(0.02).unwrap();
        assert!((l - lambda * vascular.f_number.unwrap()).abs() < 1e-12);
        assert_eq!(
            vascular.speckle_reference_depth_m().unwrap(),
            0.5 * vascular.default_depth_m
        );
        assert_eq!(
            abdomen.speckle_reference_depth_m().unwrap(),
            0.6 * abdomen.default_depth_m
        );
        let name = |e: Error| match e {
            Error::InvalidParameter { name, .. } => name,
            e => panic!("{e:?}"),
        };
        assert_eq!(name(abdomen.resolution_cell_m(-0.01).unwrap_err()), "depth_m");
        assert_eq!(name(abdomen.resolution_cell_m(f64::NAN).unwrap_err()), "depth_m");
        assert_eq!(name(abdomen.resolved_speckle_density(0.0).unwrap_err()), "per_cell");
        assert_eq!(
            name(abdomen.resolved_speckle_density(f64::INFINITY).unwrap_err()),
            "per_cell"
        );
        assert!(abdomen.resolved_speckle_density(10.0).unwrap() > abdomen.speckle_density(10.0) / 2.0);
    }

    #[test]
    fn derived_grid_over_the_cap_is_refused_with_its_count() {
        let mut p = Preset::get(PresetKind::Abdomen);
        p.fc_hz *= 1.3;
        p.fs_hz = 4.0 * p.fc_hz;
        p.grid = GridDensity::Derived {
            axial: 1.4,
            lateral: 1.25,
        };
        let e = p.acquisition(p.depth_bounds_m.1).unwrap_err();
        assert_eq!(e.parameter(), Some("grid"), "{e}");
        let n: usize = e
            .to_string()
            .split("got ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!((4097..4400).contains(&n), "{e}");
        p.grid = GridDensity::DERIVED;
        let (_, depths) = p.acquisition(p.depth_bounds_m.1).unwrap().grid().shape();
        assert!((2900..=MAX_DERIVED_SAMPLES).contains(&depths), "{depths}");
    }

    /// Each field's check names the field (and, where a unit mistake is likely, its unit).
    #[test]
    fn invalid_fields_are_named() {
        let base = Preset::get(PresetKind::Vascular);
        type Edit = Box<dyn Fn(&mut Preset)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("fc_hz", Box::new(|p| p.fc_hz = 7.5)),
            ("columns", Box::new(|p| p.columns = 100..150)),
            ("rows", Box::new(|p| p.rows = 10..10)),
            ("n_tx", Box::new(|p| p.n_tx = 0)),
            ("steer_deg", Box::new(|p| p.steer_deg = f64::NAN)),
            ("depth_bounds_m.1", Box::new(|p| p.depth_bounds_m = (0.02, 60.0))),
            ("default_depth_m", Box::new(|p| p.default_depth_m = 40.0)),
            ("top_depth_m", Box::new(|p| p.top_depth_m = 0.03)),
            (
                "grid.lines",
                Box::new(|p| {
                    p.grid = GridDensity::Fixed {
                        lines: 0,
                        depth_samples: 100,
                    }
                }),
            ),
            (
                "grid.lateral",
                Box::new(|p| {
                    p.grid = GridDensity::Derived {
                        axial: 1.0,
                        lateral: 0.5,
                    }
                }),
            ),
            ("f_number", Box::new(|p| p.f_number = Some(-1.0))),
            ("window.alpha", Box::new(|p| p.window = Window::Tukey { alpha: 3.0 })),
            ("sound_speed_m_s", Box::new(|p| p.sound_speed_m_s = 1.54)),
            ("raster_height_px", Box::new(|p| p.raster_height_px = 1 << 20)),
            ("dynamic_range_db", Box::new(|p| p.dynamic_range_db = 0.0)),
            (
                "db_reference",
                Box::new(|p| p.db_reference = DbReference::Fixed(f32::NAN)),
            ),
        ];
        for (field, edit) in cases {
            let mut p = base.clone();
            edit(&mut p);
            let e = p.validate().unwrap_err();
            assert_eq!(e.parameter(), Some(field), "{e}");
            assert!(p.acquisition(0.04).is_err());
        }
        let e = {
            let mut p = base.clone();
            p.fc_hz = 7.5;
            p.validate().unwrap_err().to_string()
        };
        assert!(e.contains("Hz"), "the unit is named: {e}");
    }
}
