//! Flow presets: colour flow and spectral Doppler built on the B-mode presets.
//!
//! A [`FlowPreset`] is a plain value like [`Preset`]: the B-mode preset it extends (whose `n_tx`
//! is the number of transmits of each ensemble frame), the pulse repetition frequency of the
//! transmit events, the colour pipeline's settings with its [`ColorBox`], and for spectral presets
//! the sample gate. [`FlowPreset::color_imager`] plans the live colour pipeline at the preset's
//! default depth. The built-in ones:
//! * **vascular colour** — the vascular preset with three plane waves, 12 kHz PRF (4 kHz slow
//!   time, Nyquist 0.21 m/s at 7.5 MHz), ensembles of 12, a box over the middle 60 % and 10–30 mm;
//! * **cardiac colour** — the cardiac preset with three diverging waves, 4.5 kHz PRF (the most a
//!   16 cm depth allows is 4.8 kHz), ensembles of 10, a box over the middle half of the sector and
//!   4–12 cm;
//! * **carotid spectral** — the vascular preset with one transmit, 5 kHz PRF, a 1.5 mm gate at
//!   20 mm, flow at 60° to the beam, baseline shifted toward positive velocities.

use super::{Preset, PresetKind};
use crate::doppler::clutter::ClutterFilter;
use crate::doppler::live::{
    ColorFlowConfig, ColorFlowImager, MModeImager, SpectralGate, SpectralImager, SpectralImagerConfig,
};
use crate::doppler::spectral::SpectralDoppler;
use crate::error::{Error, Result, in_range, plausible};
use crate::grid::{Grid, GridKind};

/// The built-in flow presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FlowPresetKind {
    /// Colour flow on the vascular preset.
    VascularColor,
    /// Colour flow on the cardiac preset.
    CardiacColor,
    /// Spectral Doppler on the carotid (vascular preset).
    CarotidSpectral,
}

/// The region the colour is computed on: the middle `width_fraction` of the B-mode grid's lines,
/// its depths within `depth_range_m`, every `lateral_step`-th line and `axial_step`-th depth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorBox {
    /// Share of the lines, centred (0.05–1).
    pub width_fraction: f64,
    /// Depths the box spans, metres.
    pub depth_range_m: (f64, f64),
    /// Keep every n-th line (1–16).
    pub lateral_step: usize,
    /// Keep every n-th depth (1–16).
    pub axial_step: usize,
}

impl ColorBox {
    /// The box's grid inside `bmode` (Cartesian or sector). Errors: a setting out of range (named),
    /// a point-list grid, or a box holding fewer than 2 lines or 2 depths (`color_box`).
    pub fn grid(&self, bmode: &Grid) -> Result<Grid> {
        in_range("width_fraction", self.width_fraction, 0.05, 1.0)?;
        for (name, n) in [("lateral_step", self.lateral_step), ("axial_step", self.axial_step)] {
            if !(1..=16).contains(&n) {
                return Err(Error::invalid(name, "1..=16", n));
            }
        }
        let (lo, hi) = self.depth_range_m;
        plausible("depth_range_m.1", hi, lo, 1.0, "m")?;
        let pick = |axis: &[f64], a: f64, b: f64, step: usize| -> Vec<f64> {
            axis.iter()
                .copied()
                .filter(|v| (a..=b).contains(v))
                .step_by(step)
                .collect()
        };
        let middle = |axis: &[f64]| {
            let (a, b) = (axis[0], axis[axis.len() - 1]);
            let (c, h) = (0.5 * (a + b), 0.5 * self.width_fraction * (b - a));
            (c - h, c + h)
        };
        let enough = |lines: &[f64], depths: &[f64]| {
            if lines.len() < 2 || depths.len() < 2 {
                return Err(Error::invalid(
                    "color_box",
                    "a box holding at least 2 lines and 2 depths of the B-mode grid",
                    format!("{} lines × {} depths", lines.len(), depths.len()),
                ));
            }
            Ok(())
        };
        match bmode.kind() {
            GridKind::Cartesian { x_m, z_m, y_m } => {
                let (a, b) = middle(x_m);
                let (x, z) = (pick(x_m, a, b, self.lateral_step), pick(z_m, lo, hi, self.axial_step));
                enough(&x, &z)?;
                Grid::cartesian_from_axes(x, z, *y_m)
            }
            GridKind::Sector {
                apex_m,
                angles_rad,
                depths_m,
                radius_offset_m,
            } => {
                let (a, b) = middle(angles_rad);
                let (t, d) = (
                    pick(angles_rad, a, b, self.lateral_step),
                    pick(depths_m, lo, hi, self.axial_step),
                );
                enough(&t, &d)?;
                Grid::polar(*apex_m, *radius_offset_m, t, d)
            }
            _ => Err(Error::invalid("grid", "a Cartesian or sector grid", "a point list")),
        }
    }
}

/// The vascular presets' colour box: the middle 60 % of the lines, 10–30 mm, every second line
/// and every third depth.
const VASCULAR_BOX: ColorBox = ColorBox {
    width_fraction: 0.6,
    depth_range_m: (0.01, 0.03),
    lateral_step: 2,
    axial_step: 3,
};

/// A spectral Doppler sample gate on the line straight down from the probe's centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleGate {
    /// Depth of the gate's centre, metres.
    pub depth_m: f64,
    /// Gate length, metres.
    pub length_m: f64,
    /// The spectral analysis (its PRF and centre frequency follow the preset's).
    pub doppler: SpectralDoppler,
}

/// A flow preset (see the [module docs](self)); every field is checked by
/// [`FlowPreset::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct FlowPreset {
    /// The built-in flow preset this one derives from.
    pub kind: FlowPresetKind,
    /// Short lower-case name.
    pub name: String,
    /// The B-mode preset underneath; its `n_tx` is the transmits of each ensemble frame.
    pub bmode: Preset,
    /// Transmit events per second, Hz.
    pub prf_hz: f64,
    /// The colour pipeline (ensemble length, wall filter, estimator, display).
    pub color: ColorFlowConfig,
    /// The colour box.
    pub color_box: ColorBox,
    /// The sample gate of a spectral preset (`None` for colour presets).
    pub gate: Option<SampleGate>,
}

impl FlowPreset {
    /// The built-in flow preset `kind`.
    pub fn get(kind: FlowPresetKind) -> FlowPreset {
        let with_tx = |k, n_tx| Preset { n_tx, ..Preset::get(k) };
        match kind {
            FlowPresetKind::VascularColor => FlowPreset {
                kind,
                name: "vascular-color".into(),
                bmode: with_tx(PresetKind::Vascular, 3),
                prf_hz: 12_000.0,
                color: ColorFlowConfig::default(),
                color_box: VASCULAR_BOX,
                gate: None,
            },
            FlowPresetKind::CardiacColor => FlowPreset {
                kind,
                name: "cardiac-color".into(),
                bmode: with_tx(PresetKind::Cardiac, 3),
                prf_hz: 4_500.0,
                color: ColorFlowConfig {
                    ensemble_len: 10,
                    clutter: ClutterFilter::Polynomial { order: 1 },
                    ..ColorFlowConfig::default()
                },
                color_box: ColorBox {
                    width_fraction: 0.5,
                    depth_range_m: (0.04, 0.12),
                    lateral_step: 2,
                    axial_step: 3,
                },
                gate: None,
            },
            FlowPresetKind::CarotidSpectral => {
                let bmode = with_tx(PresetKind::Vascular, 1);
                let prf_hz = 5_000.0;
                FlowPreset {
                    kind,
                    name: "carotid-spectral".into(),
                    gate: Some(SampleGate {
                        depth_m: 0.02,
                        length_m: 0.0015,
                        doppler: SpectralDoppler {
                            prf_hz,
                            f0_hz: bmode.fc_hz,
                            c_m_s: bmode.sound_speed_m_s,
                            angle_rad: 60f64.to_radians(),
                            fft_len: 128,
                            window_len: 96,
                            hop: 16,
                            baseline: 0.3,
                            ..SpectralDoppler::default()
                        },
                    }),
                    bmode,
                    prf_hz,
                    color: ColorFlowConfig::default(),
                    color_box: VASCULAR_BOX,
                }
            }
        }
    }

    /// Checks every field: the B-mode preset, a PRF the default depth allows (the echoes of one
    /// event must return before the next: PRF ≤ c/(2·depth)), the colour settings, and the gate
    /// (inside the depth bounds, 0.2–20 mm long, its analysis at the preset's PRF and frequency).
    pub fn validate(&self) -> Result<()> {
        self.bmode.validate()?;
        let max_prf = self.bmode.sound_speed_m_s / (2.0 * self.bmode.default_depth_m);
        plausible("prf_hz", self.prf_hz, 1.0, max_prf, "Hz (at most c/(2·depth))")?;
        self.color.display.validate()?;
        self.color.clutter.validate()?;
        if let Some(g) = &self.gate {
            plausible("gate.depth_m", g.depth_m, 1e-3, self.bmode.default_depth_m, "m")?;
            plausible("gate.length_m", g.length_m, 2e-4, 0.02, "m")?;
            g.doppler.validate()?;
            if g.doppler.prf_hz != self.prf_hz || g.doppler.f0_hz != self.bmode.fc_hz {
                return Err(Error::invalid(
                    "gate.doppler",
                    "the preset's PRF and centre frequency",
                    format!("{} Hz PRF at {} Hz", g.doppler.prf_hz, g.doppler.f0_hz),
                ));
            }
        }
        Ok(())
    }

    /// The live colour pipeline at the B-mode preset's default depth: its acquisition, the B-mode
    /// grid and raster, the colour box, the slow-time rate `prf_hz / n_tx`. Errors: those of
    /// [`validate`](Self::validate), `Preset::acquisition`, [`ColorBox::grid`] and
    /// `ColorFlowImager::with_color_box`.
    pub fn color_imager(&self) -> Result<ColorFlowImager> {
        self.validate()?;
        let acq = self.bmode.acquisition(self.bmode.default_depth_m)?;
        let box_grid = self.color_box.grid(acq.grid())?;
        ColorFlowImager::with_color_box(
            &acq.metadata()?,
            acq.grid(),
            &box_grid,
            self.bmode.beamform_config(),
            self.prf_hz / self.bmode.n_tx as f64,
            self.bmode.raster_height_px,
            self.color,
        )
    }

    /// The live spectral Doppler of the preset's gate, on the line straight down from the probe's
    /// centre, at the B-mode preset's default depth: its acquisition, its beamforming settings, the
    /// gate's analysis at the slow-time rate `prf_hz / n_tx`, and the default wall filter and
    /// display of [`SpectralImagerConfig`]. Errors: `gate` for a preset without one; those of
    /// [`validate`](Self::validate), `Preset::acquisition` and `SpectralImager::new`.
    pub fn spectral_imager(&self) -> Result<SpectralImager> {
        self.validate()?;
        let g = self
            .gate
            .ok_or_else(|| Error::invalid("gate", "a spectral preset (one with a sample gate)", "none"))?;
        let acq = self.bmode.acquisition(self.bmode.default_depth_m)?;
        let config = SpectralImagerConfig {
            doppler: SpectralDoppler {
                prf_hz: self.prf_hz / self.bmode.n_tx as f64,
                ..g.doppler
            },
            ..SpectralImagerConfig::default()
        };
        let gate = SpectralGate {
            x_m: 0.0,
            depth_m: g.depth_m,
            length_m: g.length_m,
        };
        SpectralImager::new(&acq.metadata()?, gate, self.bmode.beamform_config(), config)
    }

    /// A live M-mode on the centre line of the B-mode grid at the default depth (the middle ray of
    /// a sector), fired with the preset's sequence, on a sweep of `sweep_columns` firings over the
    /// B-mode preset's dynamic range. Errors: those of [`validate`](Self::validate),
    /// `Preset::acquisition` and `MModeImager::new` (`n_columns` for the sweep's width).
    pub fn mmode_imager(&self, sweep_columns: usize) -> Result<MModeImager> {
        self.validate()?;
        let acq = self.bmode.acquisition(self.bmode.default_depth_m)?;
        let grid = acq.grid();
        MModeImager::new(
            &acq.metadata()?,
            grid,
            grid.shape().0 / 2,
            self.bmode.beamform_config(),
            sweep_columns,
            self.bmode.dynamic_range_db,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every built-in flow preset validates; the colour presets plan their pipelines with a box
    /// inside the B-mode grid; the Nyquist velocity follows from the slow-time rate.
    #[test]
    fn built_in_flow_presets_plan() {
        for kind in [
            FlowPresetKind::VascularColor,
            FlowPresetKind::CardiacColor,
            FlowPresetKind::CarotidSpectral,
        ] {
            let p = FlowPreset::get(kind);
            p.validate().unwrap();
            if p.gate.is_some() {
                continue;
            }
            let imager = p.color_imager().unwrap();
            let (bl, bd) = p.bmode.acquisition(p.bmode.default_depth_m).unwrap().grid().shape();
            let (cl, cd) = imager.beamformer().stack().shape()[1..3]
                .try_into()
                .map(|s: [usize; 2]| (s[0], s[1]))
                .unwrap();
            assert!(
                cl * cd * 10 < bl * bd,
                "{}: box {cl} x {cd} against {bl} x {bd}",
                p.name
            );
            let v_n = imager.nyquist_velocity_m_s().unwrap();
            let expected = p.bmode.sound_speed_m_s * p.prf_hz / p.bmode.n_tx as f64 / (4.0 * p.bmode.fc_hz);
            assert!((v_n / expected - 1.0).abs() < 1e-9, "{}", p.name);
        }
        // The spectral preset plans its live sonogram: the gate's samples span its length around its
        // depth, the scale is the preset's (Nyquist c·prf/(4·f0·cos 60°)); the colour presets
        // have no gate.
        let p = FlowPreset::get(FlowPresetKind::CarotidSpectral);
        let s = p.spectral_imager().unwrap();
        let g = p.gate.unwrap();
        let z = s.gate_depths_m();
        assert!((0.5 * (z[0] + z[z.len() - 1]) - g.depth_m).abs() < 1e-9);
        assert!((z[z.len() - 1] - z[0] - g.length_m).abs() < p.bmode.sound_speed_m_s / p.bmode.fc_hz / 4.0);
        let v_n = s.stream().doppler().nyquist_velocity_m_s();
        let expected = p.bmode.sound_speed_m_s * p.prf_hz / (4.0 * p.bmode.fc_hz * 0.5);
        assert!((v_n / expected - 1.0).abs() < 1e-9);
        let cardiac = FlowPreset::get(FlowPresetKind::CardiacColor);
        assert_eq!(cardiac.spectral_imager().unwrap_err().parameter(), Some("gate"));
        // M-mode on the cardiac sector's middle ray, over the whole default depth.
        let m = cardiac.mmode_imager(300).unwrap();
        let acq = cardiac.bmode.acquisition(cardiac.bmode.default_depth_m).unwrap();
        assert_eq!(m.image().dim(), (acq.grid().shape().1, 300));
        assert_eq!(cardiac.mmode_imager(1).unwrap_err().parameter(), Some("n_columns"));
        let mut p = FlowPreset::get(FlowPresetKind::CardiacColor);
        p.prf_hz = 10_000.0;
        assert_eq!(p.validate().unwrap_err().parameter(), Some("prf_hz"));
        let mut p = FlowPreset::get(FlowPresetKind::VascularColor);
        p.color_box.depth_range_m = (0.031, 0.0311);
        assert_eq!(p.color_imager().unwrap_err().parameter(), Some("color_box"));
    }
}
