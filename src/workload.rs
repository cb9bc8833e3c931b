//! The named benchmark workloads (`docs/workloads.md`), built from the crate's own types so that
//! benches, examples and profiles share one definition.
//!
//! Workloads sit above the presets: `vascular`, `cardiac` and `abdomen` are the acquisitions of
//! those presets at a fixed depth; `full2d` and `picmus` are built here. Their dense grids are
//! throughput benchmarks (points/s), not the grids a live preset must use.
//!
//! ```
//! use sonochip::workload::Workload;
//! let w = Workload::vascular().unwrap();
//! assert_eq!(w.acquisition.grid().shape(), (256, 512));
//! assert_eq!(w.acquisition.points_per_frame(), 256 * 512 * 140 * 5);
//! ```

use crate::acquisition::Acquisition;
use crate::error::Result;
use crate::grid::Grid;
use crate::medium::SCANNER_C_M_S;
use crate::preset::{Preset, PresetKind};
use crate::probe::{Aperture, ChannelMode, Probe};
use crate::pulse::Pulse;
use crate::sequence::Sequence;

/// One named workload.
#[derive(Debug, Clone)]
pub struct Workload {
    /// Name as in `docs/workloads.md`.
    pub name: &'static str,
    /// Aperture, sequence, pulse, sampling and grid.
    pub acquisition: Acquisition,
    /// Imaged depth range, metres.
    pub depth_range_m: (f64, f64),
}

impl Workload {
    fn from_preset(name: &'static str, kind: PresetKind, depth_m: f64) -> Result<Workload> {
        let mut p = Preset::get(kind);
        p.grid = Preset::dense_grid(p.family);
        Ok(Workload {
            name,
            acquisition: p.acquisition(depth_m)?,
            depth_range_m: (p.top_depth_m, depth_m),
        })
    }

    /// Pixels × receive channels × transmits of one frame.
    pub fn points_per_frame(&self) -> usize {
        self.acquisition.points_per_frame()
    }

    /// `vascular`: linear, 140 columns, 7.5 MHz, fs 30 MHz, 5–40 mm, 5 plane waves −8°…8°,
    /// Cartesian 256 × 512 over the aperture width (the vascular preset at 40 mm).
    pub fn vascular() -> Result<Workload> {
        Workload::from_preset("vascular", PresetKind::Vascular, 0.04)
    }

    /// `cardiac`: phased, 96 central columns, 2.5 MHz, fs 10 MHz, 10–160 mm, 5 diverging waves,
    /// polar 192 beams × 800 depths over a 90° sector (the cardiac preset at 160 mm).
    pub fn cardiac() -> Result<Workload> {
        Workload::from_preset("cardiac", PresetKind::Cardiac, 0.16)
    }

    /// `abdomen`: curved via a virtual apex, 140 columns, 3.5 MHz, fs 14 MHz, 20–160 mm, 5 diverging
    /// waves, curved grid 256 rays × 800 depths over 60° (the abdomen preset at 160 mm).
    pub fn abdomen() -> Result<Workload> {
        Workload::from_preset("abdomen", PresetKind::Abdomen, 0.16)
    }

    /// `full2d`: every element a channel (8,960), 3.5 MHz, fs 14 MHz, 10–80 mm, 1 plane wave,
    /// Cartesian 256 × 256 in the y = 0 plane.
    pub fn full2d() -> Result<Workload> {
        let probe = Probe::cmut_9000();
        let depth = (0.01, 0.08);
        let aperture = Aperture::columns(&probe, 0..140, ChannelMode::Elements)?;
        let sequence = Sequence::plane_waves(&aperture, &[0.0], SCANNER_C_M_S)?;
        let pulse = Pulse::new(3.5e6, 1.0, 1.0)?;
        let half = 0.5 * aperture.width_m();
        let grid = Grid::cartesian((-half, half), 256, depth, 256)?;
        Ok(Workload {
            name: "full2d",
            acquisition: Acquisition::for_depth(aperture, sequence, pulse, 14e6, grid, depth.1)?,
            depth_range_m: depth,
        })
    }

    /// `picmus`: the PICMUS L11-4v-like probe (128 elements, 0.3 mm pitch), 5.208 MHz, fs 20.832 MHz,
    /// 67 % bandwidth, 2.5 cycles, 5–50 mm, `n_waves` plane waves over ±16° (1, 11 or 75), grid
    /// 387 × 609 over 38.1 mm × (5–50 mm).
    pub fn picmus(n_waves: usize) -> Result<Workload> {
        let probe = Probe::picmus_l11_4v(1)?;
        let depth = (0.005, 0.05);
        // The L11-4v's elevation lens focuses its 5 mm tall elements at about 20 mm.
        let aperture = Aperture::full(&probe, Some(0.02))?;
        let sequence = Sequence::plane_wave_fan(&aperture, 16f64.to_radians(), n_waves, SCANNER_C_M_S)?;
        let pulse = Pulse::new(5.208e6, 0.67, 2.5)?;
        let grid = Grid::cartesian((-0.01905, 0.01905), 387, depth, 609)?;
        Ok(Workload {
            name: "picmus",
            acquisition: Acquisition::for_depth(aperture, sequence, pulse, 20.832e6, grid, depth.1)?,
            depth_range_m: depth,
        })
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
    fn points_per_frame_match_the_workload_table() {
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
