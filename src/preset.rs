//! Clinical presets of the one-probe scanner.
//!
//! The 2D CMUT array emulates three probes electronically (PHYSICS.md):
//! * **linear** ([`Family::Linear`]: vascular, MSK, nerve) — all 140 columns, steered plane waves,
//!   a Cartesian grid as wide as the aperture;
//! * **curved** ([`Family::Curved`]: abdomen, OB, bladder) — all 140 columns, diverging waves from
//!   sources behind the array and a curved grid from a virtual apex, as a convex probe would image;
//! * **phased** ([`Family::Phased`]: cardiac, lung) — the 96 central columns (a 20 mm footprint to
//!   fit between ribs), diverging waves and a 90° polar sector. With the 208 µm pitch the sector is
//!   free of grating lobes below about 3.7 MHz, so phased presets stay at 2.5–3 MHz.
//!
//! Every preset has its centre frequency, transmit scheme, default depth and depth bounds, a display
//! dynamic range and TGC slope, and a matching built-in phantom. Where the real device's value is
//! not public the value is a clinically usual one (documented on each constructor).
//!
//! ```
//! use sonochip::preset::{Preset, PresetKind};
//! let p = Preset::get(PresetKind::Cardiac);
//! let setup = p.setup(p.default_depth_m).unwrap();
//! assert_eq!(setup.aperture.n_channels(), 96);
//! assert!(p.setup(0.5).is_err()); // outside the preset's depth bounds
//! ```

use crate::error::{Error, Result};
use crate::grid::Grid;
use crate::phantom::{Phantom, density_for};
use crate::probe::{Aperture, ChannelMode, Probe};
use crate::pulse::Pulse;
use crate::sequence::Sequence;
use crate::workload::{C_M_S, Workload, elevation_focus_for};
use std::ops::Range;

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

/// The clinical presets.
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

/// A clinical preset: how the probe is driven and how the image is shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// Which preset.
    pub kind: PresetKind,
    /// Short lower-case name (file names, reports).
    pub name: &'static str,
    /// Emulated probe.
    pub family: Family,
    /// Centre frequency, Hz.
    pub fc_hz: f64,
    /// Receive sampling rate, Hz (4 × fc).
    pub fs_hz: f64,
    /// Active columns of the 140-column array.
    pub columns: Range<usize>,
    /// Active rows of the 64-row array: the 24 central rows (5 mm, the elevation height of a
    /// conventional linear probe) for the superficial linear presets, whose elevation focus is
    /// shallow, all 64 (13.3 mm) otherwise.
    pub rows: Range<usize>,
    /// Transmits per frame.
    pub n_tx: usize,
    /// Plane waves: largest steering angle; diverging waves: tilt of the outermost wave (degrees).
    pub steer_deg: f64,
    /// Half-opening of the sector (curved and phased), degrees.
    pub half_sector_deg: f64,
    /// Shallowest imaged depth, metres.
    pub top_depth_m: f64,
    /// Depth shown when the preset is selected, metres.
    pub default_depth_m: f64,
    /// Smallest and largest depth the user may choose, metres.
    pub depth_bounds_m: (f64, f64),
    /// Image lines (x positions, rays or beams).
    pub lines: usize,
    /// Depth samples per line.
    pub depth_samples: usize,
    /// Display dynamic range, dB.
    pub dynamic_range_db: f64,
    /// Digital TGC slope applied by default, dB per cm of depth (about half the two-way loss of
    /// 0.5 dB/(cm·MHz) tissue at fc: users fine-tune with the TGC control).
    pub tgc_db_per_cm: f64,
}

impl Preset {
    /// The preset's parameters.
    pub fn get(kind: PresetKind) -> Preset {
        use Family::*;
        use PresetKind::*;
        let base = |name, family, fc_hz: f64, n_tx, steer_deg, half_sector_deg, top, default, bounds| {
            let columns = if family == Phased { 22..118 } else { 0..140 };
            let rows = if family == Linear { 20..44 } else { 0..64 };
            let (lines, depth_samples) = match family {
                Linear => (256, 512),
                Curved => (256, 800),
                Phased => (192, 800),
            };
            Preset {
                kind,
                name,
                family,
                fc_hz,
                fs_hz: 4.0 * fc_hz,
                columns,
                rows,
                n_tx,
                steer_deg,
                half_sector_deg,
                top_depth_m: top,
                default_depth_m: default,
                depth_bounds_m: bounds,
                lines,
                depth_samples,
                dynamic_range_db: if family == Linear { 60.0 } else { 55.0 },
                tgc_db_per_cm: 0.5 * fc_hz * 1e-6,
            }
        };
        match kind {
            Abdomen => base("abdomen", Curved, 3.5e6, 5, 10.0, 30.0, 0.02, 0.16, (0.08, 0.30)),
            Bladder => base("bladder", Curved, 3.0e6, 5, 10.0, 30.0, 0.01, 0.12, (0.06, 0.20)),
            Ob => base("ob", Curved, 3.5e6, 5, 10.0, 30.0, 0.01, 0.14, (0.08, 0.25)),
            Cardiac => base("cardiac", Phased, 2.5e6, 5, 15.0, 45.0, 0.01, 0.16, (0.08, 0.24)),
            Lung => base("lung", Phased, 3.0e6, 5, 15.0, 45.0, 0.005, 0.12, (0.04, 0.24)),
            Vascular => base("vascular", Linear, 7.5e6, 5, 8.0, 0.0, 0.005, 0.04, (0.02, 0.06)),
            Msk => base("msk", Linear, 6.0e6, 5, 8.0, 0.0, 0.003, 0.045, (0.015, 0.06)),
            Nerve => base("nerve", Linear, 8.0e6, 5, 8.0, 0.0, 0.002, 0.035, (0.01, 0.05)),
        }
    }

    /// Every preset.
    pub fn all() -> Vec<Preset> {
        PresetKind::ALL.iter().map(|&k| Preset::get(k)).collect()
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
        0.5 * self.columns.len() as f64 * 208e-6 / self.half_sector_deg.to_radians().tan()
    }

    /// Aperture, sequence, pulse, sampling and grid for imaging to `depth_m` (within the bounds).
    pub fn setup(&self, depth_m: f64) -> Result<Workload> {
        self.check_depth(depth_m)?;
        let probe = Probe::cmut_9000();
        let depth = (self.top_depth_m, depth_m);
        let mode = ChannelMode::Columns {
            elevation_focus_m: Some(elevation_focus_for(depth_m)),
        };
        let aperture = Aperture::new(&probe, self.columns.clone(), self.rows.clone(), mode)?;
        let half = self.half_sector_deg.to_radians();
        let sequence = match self.family {
            Family::Linear => Sequence::plane_wave_fan(&aperture, self.steer_deg.to_radians(), self.n_tx, C_M_S)?,
            _ => Sequence::diverging_sector(&aperture, half, self.steer_deg.to_radians(), self.n_tx, C_M_S)?,
        };
        let pulse = Pulse::new(self.fc_hz, 1.0, 1.0)?;
        let grid = match self.family {
            Family::Linear => {
                let w = 0.5 * aperture.width_m();
                Grid::cartesian((-w, w), self.lines, depth, self.depth_samples)?
            }
            Family::Curved => Grid::curved(
                self.apex_distance_m(),
                (-half, half),
                self.lines,
                depth,
                self.depth_samples,
            )?,
            Family::Phased => Grid::sector((-half, half), self.lines, depth, self.depth_samples)?,
        };
        Workload::assemble(self.name, aperture, sequence, pulse, self.fs_hz, grid, depth)
    }

    /// Speckle density (scatterers per mm²) that puts `per_cell` scatterers in a resolution cell of
    /// this preset (lateral λ·F# with F# ≈ 1.5, axial λ).
    pub fn speckle_density(&self, per_cell: f64) -> f64 {
        let lambda = C_M_S / self.fc_hz;
        density_for(per_cell, 1.5 * lambda, lambda)
    }

    /// The built-in phantom of this preset at `per_cell` scatterers per resolution cell.
    pub fn phantom(&self, per_cell: f64, seed: u64) -> Result<Phantom> {
        let d = self.speckle_density(per_cell);
        match self.kind {
            PresetKind::Abdomen => Phantom::abdomen(d, seed),
            PresetKind::Bladder => Phantom::bladder(d, seed),
            PresetKind::Ob => Phantom::obstetric(d, seed),
            PresetKind::Cardiac => Phantom::heart(d, seed),
            PresetKind::Lung => Phantom::lung(d, seed),
            PresetKind::Vascular => Phantom::vessel(d, seed),
            PresetKind::Msk => Phantom::tendon(d, seed),
            PresetKind::Nerve => Phantom::nerve(d, seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_builds_at_its_default_depth_and_refuses_outside_bounds() {
        for p in Preset::all() {
            let s = p.setup(p.default_depth_m).unwrap();
            assert_eq!(s.grid.shape(), (p.lines, p.depth_samples));
            assert!(p.depth_bounds_m.0 <= p.default_depth_m && p.default_depth_m <= p.depth_bounds_m.1);
            assert!(matches!(
                p.setup(p.depth_bounds_m.1 * 1.01),
                Err(Error::DepthOutOfRange { .. })
            ));
            assert!(p.setup(f64::NAN).is_err());
            // Phased presets stay below the grating-lobe limit of the 208 µm pitch (PHYSICS.md).
            if p.family == Family::Phased {
                let lambda = C_M_S / p.fc_hz;
                let s = p.half_sector_deg.to_radians().sin();
                assert!(208e-6 <= lambda / (1.0 + s), "{}", p.name);
            }
        }
    }
}
