//! The named benchmark workloads of WORKLOADS.md, built from the crate's own types so benches,
//! examples and presets share one definition.
//!
//! Each [`Workload`] bundles the receive/transmit aperture, the transmit sequence, the pulse, the
//! sampling and the image grid. All CMUT workloads use the default 140 × 64 grid at 208 µm with
//! column channels (each column's 64 elements focused electronically in elevation) unless noted.
//!
//! ```
//! use sonochip::workload::Workload;
//! let w = Workload::vascular().unwrap();
//! assert_eq!(w.grid.shape(), (256, 512));
//! assert_eq!(w.points_per_frame(), 256 * 512 * 140 * 5);
//! ```

use crate::error::Result;
use crate::grid::Grid;
use crate::preset::{Preset, PresetKind};
use crate::probe::{Aperture, ChannelMode, Probe};
use crate::pulse::Pulse;
use crate::sequence::Sequence;
use crate::sim::Sampling;

/// Speed of sound of every workload, m/s.
pub const C_M_S: f64 = 1540.0;

/// One named workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Name as in WORKLOADS.md.
    pub name: &'static str,
    /// Active aperture and its channels.
    pub aperture: Aperture,
    /// Transmit events of one frame.
    pub sequence: Sequence,
    /// Pulse (centre frequency, bandwidth).
    pub pulse: Pulse,
    /// Receive sampling.
    pub sampling: Sampling,
    /// Image grid.
    pub grid: Grid,
    /// Imaged depth range, metres.
    pub depth_range_m: (f64, f64),
}

/// Elevation focus used for CMUT column channels when imaging to `depth_max_m`: about 45 % of the
/// deepest depth, within 15–70 mm (a documented assumption; the device's value is not public).
pub fn elevation_focus_for(depth_max_m: f64) -> f64 {
    (0.45 * depth_max_m).clamp(0.015, 0.07)
}

impl Workload {
    /// Bundles an acquisition: the receive sampling at `fs_hz` is long enough for echoes from the
    /// deepest depth of `depth_range_m` ([`Sampling::for_depth`]).
    pub fn assemble(
        name: &'static str,
        aperture: Aperture,
        sequence: Sequence,
        pulse: Pulse,
        fs_hz: f64,
        grid: Grid,
        depth_range_m: (f64, f64),
    ) -> Result<Workload> {
        let sampling = Sampling::for_depth(fs_hz, depth_range_m.1, &sequence, &pulse)?;
        Ok(Workload {
            name,
            aperture,
            sequence,
            pulse,
            sampling,
            grid,
            depth_range_m,
        })
    }

    /// Pixels × receive channels × transmits of one frame.
    pub fn points_per_frame(&self) -> usize {
        self.grid.n_pixels() * self.aperture.n_channels() * self.sequence.len()
    }

    /// `vascular`: linear, 140 columns, 7.5 MHz, fs 30 MHz, 5–40 mm, 5 plane waves −8°…8°,
    /// Cartesian 256 × 512 over the aperture width (the vascular preset at 40 mm).
    pub fn vascular() -> Result<Workload> {
        Preset::get(PresetKind::Vascular).setup(0.04)
    }

    /// `cardiac`: phased, 96 central columns, 2.5 MHz, fs 10 MHz, 10–160 mm, 5 diverging waves,
    /// polar 192 beams × 800 depths over a 90° sector (the cardiac preset at 160 mm).
    pub fn cardiac() -> Result<Workload> {
        Preset::get(PresetKind::Cardiac).setup(0.16)
    }

    /// `abdomen`: curved via a virtual apex, 140 columns, 3.5 MHz, fs 14 MHz, 20–160 mm, 5 diverging
    /// waves, curved grid 256 rays × 800 depths over 60° (the abdomen preset at 160 mm).
    pub fn abdomen() -> Result<Workload> {
        Preset::get(PresetKind::Abdomen).setup(0.16)
    }

    /// `full2d`: every element a channel (8,960), 3.5 MHz, fs 14 MHz, 10–80 mm, 1 plane wave,
    /// Cartesian 256 × 256 in the y = 0 plane.
    pub fn full2d() -> Result<Workload> {
        let probe = Probe::cmut_9000();
        let depth = (0.01, 0.08);
        let aperture = Aperture::columns(&probe, 0..140, ChannelMode::Elements)?;
        let sequence = Sequence::plane_waves(&aperture, &[0.0], C_M_S)?;
        let pulse = Pulse::new(3.5e6, 1.0, 1.0)?;
        let half = 0.5 * aperture.width_m();
        let grid = Grid::cartesian((-half, half), 256, depth, 256)?;
        Workload::assemble("full2d", aperture, sequence, pulse, 14e6, grid, depth)
    }

    /// `picmus`: the PICMUS L11-4v-like probe (128 elements, 0.3 mm pitch), 5.208 MHz, fs 20.832 MHz,
    /// 67 % bandwidth, 2.5 cycles, 5–50 mm, `n_waves` plane waves over ±16° (1, 11 or 75), grid
    /// 387 × 609 over 38.1 mm × (5–50 mm).
    pub fn picmus(n_waves: usize) -> Result<Workload> {
        let probe = Probe::picmus_l11_4v(1)?;
        let depth = (0.005, 0.05);
        let aperture = Aperture::full(&probe, None)?;
        let sequence = Sequence::plane_wave_fan(&aperture, 16f64.to_radians(), n_waves, C_M_S)?;
        let pulse = Pulse::new(5.208e6, 0.67, 2.5)?;
        let grid = Grid::cartesian((-0.01905, 0.01905), 387, depth, 609)?;
        Workload::assemble("picmus", aperture, sequence, pulse, 20.832e6, grid, depth)
    }

    /// `sim`: the `abdomen` aperture, sequence, pulse and sampling (the grid is unused).
    pub fn sim() -> Result<Workload> {
        let mut w = Workload::abdomen()?;
        w.name = "sim";
        Ok(w)
    }

    /// Every workload by name (`picmus` with 11 waves).
    pub fn by_name(name: &str) -> Option<Result<Workload>> {
        Some(match name {
            "vascular" => Workload::vascular(),
            "cardiac" => Workload::cardiac(),
            "abdomen" => Workload::abdomen(),
            "full2d" => Workload::full2d(),
            "picmus" => Workload::picmus(11),
            "sim" => Workload::sim(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_per_frame_match_workloads_md() {
        let approx = |w: Workload, expected: f64| {
            let p = w.points_per_frame() as f64;
            assert!((p / expected - 1.0).abs() < 0.05, "{}: {p:e} vs {expected:e}", w.name);
        };
        approx(Workload::vascular().unwrap(), 9.2e7);
        approx(Workload::cardiac().unwrap(), 7.4e7);
        approx(Workload::abdomen().unwrap(), 1.4e8);
        approx(Workload::full2d().unwrap(), 5.9e8);
        approx(Workload::picmus(1).unwrap(), 3.0e7);
        assert!(Workload::by_name("nope").is_none());
    }
}
