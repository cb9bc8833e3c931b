//! A reproducible image-quality validation: resolution and contrast/speckle phantoms simulated,
//! beamformed and measured with [`crate::metrics`], next to the theory of `docs/physics.md` (resolution, speckle, contrast).
//!
//! [`validate`] runs one configuration (an [`Acquisition`] plus beamforming settings) and
//! returns a [`ValidationRow`]; [`markdown_table`] and `serde_json` turn rows into the report that
//! `examples/validate.rs` writes under `out/validate/`, so a change that degrades image quality shows
//! up in a diff. The resolution phantom is simulated without attenuation (so the measured widths
//! compare with formulas at the nominal fc); the contrast phantom in soft tissue (0.5 dB/(cm·MHz)).
//!
//! ```no_run
//! # fn main() -> sonochip::Result<()> {
//! use sonochip::validation::{validate, ValidationOptions, markdown_table};
//! use sonochip::workload::Workload;
//! let row = validate("PICMUS 11 PW", &Workload::picmus(11)?.acquisition, &ValidationOptions::default())?;
//! println!("{}", markdown_table(&[row]));
//! # Ok(()) }
//! ```

use crate::acquisition::Acquisition;
use crate::beamform::{BeamformConfig, Window};
use crate::error::Result;
use crate::grid::Grid;
use crate::imager::envelope_image;
use crate::medium::Medium;
use crate::metrics::{ContrastMetrics, Region, SpeckleMetrics, contrast, point_target, speckle};
use crate::phantom::{Feature, Phantom, SpeckleBuilder, density_for};
use crate::sim::Simulator;
use serde::Serialize;

/// What [`validate`] simulates and how it beamforms.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationOptions {
    /// Receive F-number (rectangular window for the resolution phantom, Hann for contrast).
    pub f_number: f64,
    /// Scatterers per resolution cell of the speckle phantom (fully developed speckle needs ≥ 10; `docs/physics.md#speckle`).
    pub scatterers_per_cell: f64,
    /// Half-width of the speckle phantom, metres (its depth range is 2.5 times this, centred on the
    /// cyst).
    pub speckle_half_width_m: f64,
    /// Depth of the cyst, metres.
    pub cyst_depth_m: f64,
    /// Radius of the cyst, metres.
    pub cyst_radius_m: f64,
    /// Depths of the resolution wires (x = 0), metres.
    pub wire_depths_m: Vec<f64>,
    /// Seed of the speckle.
    pub seed: u64,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        ValidationOptions {
            f_number: 1.5,
            scatterers_per_cell: 10.0,
            speckle_half_width_m: 0.006,
            cyst_depth_m: 0.02,
            cyst_radius_m: 0.003,
            wire_depths_m: vec![0.01, 0.02, 0.03],
            seed: 1,
        }
    }
}

/// Measured image quality of one configuration, with the theoretical references.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationRow {
    /// Configuration label.
    pub label: String,
    /// Transmits compounded.
    pub n_tx: usize,
    /// Wavelength at fc, mm.
    pub wavelength_mm: f64,
    /// Mean axial −6 dB width over the wires, mm.
    pub axial_fwhm_mm: f64,
    /// Theory: c/2 × the −6 dB envelope duration of the pulse ([`crate::pulse::Pulse::axial_resolution_m`];
    /// 0.44·c/Δf for a Gaussian pulse), mm.
    pub axial_theory_mm: f64,
    /// 0.44·c/Δf with Δf the pulse-echo −6 dB bandwidth, mm (the Gaussian formula of `docs/physics.md#resolution`).
    pub axial_gaussian_mm: f64,
    /// Mean lateral −6 dB width over the wires, mm.
    pub lateral_fwhm_mm: f64,
    /// Theory: two-way 0.886·λ·F#, mm.
    pub lateral_two_way_mm: f64,
    /// Theory: one-way 1.207·λ·F#, mm.
    pub lateral_one_way_mm: f64,
    /// Largest distance between a wire's image maximum and its true position, mm.
    pub max_position_error_mm: f64,
    /// Anechoic cyst contrast ratio, dB (envelope means).
    pub cr_db: f64,
    /// Anechoic cyst CNR, envelope form.
    pub cnr: f64,
    /// Anechoic cyst CNR, PICMUS dB form.
    pub cnr_picmus_db: f64,
    /// Anechoic cyst gCNR.
    pub gcnr: f64,
    /// Speckle SNR (mean/std of the envelope); Rayleigh: 1.91.
    pub speckle_snr: f64,
    /// Kolmogorov–Smirnov test of the speckle against a fitted Rayleigh law (α = 0.05).
    pub ks_pass: bool,
    /// The KS p-value.
    pub ks_p_value: f64,
}

/// Beamformed envelope of `phantom` acquired with `w` on a Cartesian grid `(x, z)` of pitch λ/4.
fn envelope(
    w: &Acquisition,
    medium: Medium,
    phantom: &Phantom,
    x: (f64, f64),
    z: (f64, f64),
    config: BeamformConfig,
) -> Result<(Grid, ndarray::Array2<f32>)> {
    let rf = Simulator::new(w, medium)?.run(phantom)?;
    let step = w.sound_speed_m_s() / w.pulse().fc_hz() / 4.0;
    let nx = ((x.1 - x.0) / step).round() as usize + 1;
    let nz = ((z.1 - z.0) / step).round() as usize + 1;
    let grid = Grid::cartesian(x, nx, z, nz)?;
    let env = envelope_image(&rf, &grid, config)?;
    Ok((grid, env))
}

/// Mean axial and lateral −6 dB widths and the largest position error of wires on the axis
/// (rectangular receive window at the F-number), metres.
fn resolution(w: &Acquisition, o: &ValidationOptions) -> Result<(f64, f64, f64)> {
    let wires: Vec<[f64; 3]> = o.wire_depths_m.iter().map(|&z| [0.0, 0.0, z]).collect();
    let zs = (
        o.wire_depths_m.iter().cloned().fold(f64::INFINITY, f64::min) - 0.003,
        o.wire_depths_m.iter().cloned().fold(0.0, f64::max) + 0.003,
    );
    let rect = BeamformConfig {
        f_number: Some(o.f_number),
        window: Window::Rectangular,
        ..BeamformConfig::default()
    };
    // Lossless: attenuation lowers a broadband pulse's centre frequency with depth (by 30 % at 20 mm
    // for 7.5 MHz, 100 % bandwidth), which widens the beam beyond the λ(fc)·F# formulas.
    let phantom = Phantom::points(&wires)?;
    let (grid, env) = envelope(w, Medium::lossless(), &phantom, (-0.004, 0.004), zs, rect)?;
    let (mut ax, mut lat, mut err) = (0.0, 0.0, 0.0f64);
    for p in &wires {
        let m = point_target(env.view(), &grid, *p, 1e-3)?;
        ax += m.axial_fwhm_m.unwrap_or(f64::NAN) / wires.len() as f64;
        lat += m.lateral_fwhm_m.unwrap_or(f64::NAN) / wires.len() as f64;
        err = err.max(m.distance_m);
    }
    Ok((ax, lat, err))
}

/// Contrast of an anechoic cyst in speckle and the speckle statistics of the background below it
/// (Hann window), in soft tissue.
fn contrast_and_speckle(
    w: &Acquisition,
    o: &ValidationOptions,
    lambda: f64,
) -> Result<(ContrastMetrics, SpeckleMetrics)> {
    let half = o.speckle_half_width_m;
    let zc = o.cyst_depth_m;
    let z = (zc - 1.25 * half, zc + 1.25 * half);
    let density = density_for(o.scatterers_per_cell, 1.5 * lambda, lambda);
    let phantom = SpeckleBuilder::new((-half, half), z, density)?
        .thickness(0.5e-3)
        .feature(Feature::disk([0.0, zc], o.cyst_radius_m, 0.0))
        .build(o.seed)?;
    let hann = BeamformConfig {
        f_number: Some(o.f_number),
        window: Window::Hann,
        ..BeamformConfig::default()
    };
    let (grid, env) = envelope(w, Medium::soft_tissue(), &phantom, (-half, half), z, hann)?;
    let r = o.cyst_radius_m;
    let inside = Region::Disk {
        center_m: [0.0, zc],
        radius_m: 0.8 * r,
    };
    let outside = Region::Annulus {
        center_m: [0.0, zc],
        inner_m: 1.2 * r,
        outer_m: 1.2 * r + 0.6 * r,
    };
    let k = contrast(env.view(), &grid, &inside, &outside)?;
    let bg = Region::Box {
        x_range_m: (-half + 0.0005, half - 0.0005),
        z_range_m: (zc + r + 0.001, z.1 - 0.0005),
    };
    // KS on samples about one resolution cell apart (λ/4 pixels: every 4th line and depth).
    let s = speckle(env.view(), &grid, &bg, (4, 4))?;
    Ok((k, s))
}

/// Simulates, beamforms and measures one configuration. See the [module docs](self).
pub fn validate(label: &str, w: &Acquisition, o: &ValidationOptions) -> Result<ValidationRow> {
    let c = w.sound_speed_m_s();
    let lambda = c / w.pulse().fc_hz();
    let (ax, lat, err) = resolution(w, o)?;
    let (k, s) = contrast_and_speckle(w, o, lambda)?;
    Ok(ValidationRow {
        label: label.to_string(),
        n_tx: w.sequence().len(),
        wavelength_mm: lambda * 1e3,
        axial_fwhm_mm: ax * 1e3,
        axial_theory_mm: w.pulse().axial_resolution_m(c) * 1e3,
        axial_gaussian_mm: 0.44 * c / w.pulse().pulse_echo_bandwidth_hz() * 1e3,
        lateral_fwhm_mm: lat * 1e3,
        lateral_two_way_mm: 0.886 * lambda * o.f_number * 1e3,
        lateral_one_way_mm: 1.207 * lambda * o.f_number * 1e3,
        max_position_error_mm: err * 1e3,
        cr_db: k.cr_db.unwrap_or(f64::NAN),
        cnr: k.cnr.unwrap_or(f64::NAN),
        cnr_picmus_db: k.cnr_picmus_db.unwrap_or(f64::NAN),
        gcnr: k.gcnr,
        speckle_snr: s.snr,
        ks_pass: s.ks.pass,
        ks_p_value: s.ks.p_value,
    })
}

/// The rows as a Markdown table (measured value, theory in brackets).
pub fn markdown_table(rows: &[ValidationRow]) -> String {
    let mut s = String::from(
        "| configuration | tx | axial FWHM mm (pulse envelope; 0.44c/Δf) | lateral FWHM mm (two-way … one-way) | max position error mm (λ/4) | CR dB | CNR | CNR PICMUS dB | gCNR | speckle SNR (1.91) | KS |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s += &format!(
            "| {} | {} | {:.3} ({:.3}; {:.3}) | {:.3} ({:.3} … {:.3}) | {:.3} ({:.3}) | {:.1} | {:.2} | {:.1} | {:.3} | {:.2} | {} (p = {:.2}) |\n",
            r.label,
            r.n_tx,
            r.axial_fwhm_mm,
            r.axial_theory_mm,
            r.axial_gaussian_mm,
            r.lateral_fwhm_mm,
            r.lateral_two_way_mm,
            r.lateral_one_way_mm,
            r.max_position_error_mm,
            r.wavelength_mm / 4.0,
            r.cr_db,
            r.cnr,
            r.cnr_picmus_db,
            r.gcnr,
            r.speckle_snr,
            if r.ks_pass { "pass" } else { "fail" },
            r.ks_p_value
        );
    }
    s
}
