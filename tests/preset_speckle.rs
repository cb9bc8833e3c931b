//! Fully developed speckle in every preset: a homogeneous region at 10 scatterers per resolution
//! cell of the preset (lateral λ·max(F#, depth / aperture width), axial the pulse-echo
//! resolution, at the region's depth), simulated and imaged with the preset's own acquisition and
//! beamforming, has the envelope statistics of fully developed speckle — speckle SNR (mean over
//! standard deviation) 1.91 ± 0.1 and a Kolmogorov–Smirnov test against a fitted Rayleigh law
//! passing on samples about one resolution cell apart.
//!
//! The medium is lossless, and each depth of the region is normalised by its mean (ideal TGC), so
//! that neither attenuation nor spreading lowers the SNR without changing the speckle. The region spans 40 wavelengths
//! across and 30 in depth around 60 % of the default depth (50 % for the linear presets), with
//! speckle four lateral resolution cells and five wavelengths in depth beyond it.

use sonochip::imager::envelope_image;
use sonochip::metrics::{Region, speckle};
use sonochip::phantom::density_for;
use sonochip::prelude::*;

#[test]
fn every_preset_images_fully_developed_speckle_at_ten_per_cell() {
    let mut report = Vec::new();
    for (i, kind) in PresetKind::ALL.iter().enumerate() {
        let preset = Preset::get(*kind);
        let acq = preset.acquisition(preset.default_depth_m).unwrap();
        let c = preset.sound_speed_m_s;
        let lambda = c / preset.fc_hz;
        let linear = acq.grid().line_depths_m().is_err() || preset.f_number.is_some();
        let zc = preset.default_depth_m * if linear { 0.5 } else { 0.6 };
        // Resolution cell: lateral λ·max(F#, depth / aperture width), axial the pulse-echo
        // resolution.
        let width = acq.aperture().width_m();
        let f_number = preset.f_number.unwrap_or(0.0).max(zc / width);
        let lateral_cell = lambda * f_number;
        let axial_cell = acq.pulse().axial_resolution_m(c);
        // The preset's own account of its cell and reference depth (what the `scan` example's
        // `--per-cell` uses) is this one.
        let (lat, ax) = preset.resolution_cell_m(zc).unwrap();
        assert!((lat - lateral_cell).abs() < 1e-12 && (ax - axial_cell).abs() < 1e-12);
        assert_eq!(preset.speckle_reference_depth_m().unwrap(), zc);
        let density = density_for(10.0, lateral_cell, axial_cell);
        assert!((preset.resolved_speckle_density(10.0).unwrap() - density).abs() < 1e-9 * density);
        // Speckle reaches four lateral cells (the PSF's side lobes) and five wavelengths in depth
        // beyond the region, so that its edges see as many scatterers as its centre.
        let (hw, hd) = (20.0 * lambda, 15.0 * lambda);
        let (mx, mz) = (4.0 * lateral_cell, 5.0 * lambda);
        let phantom = SpeckleBuilder::new((-hw - mx, hw + mx), (zc - hd - mz, zc + hd + mz), density)
            .unwrap()
            .thickness(1e-3)
            .build(40 + i as u64)
            .unwrap();
        let rf = Simulator::new(&acq, Medium::lossless()).unwrap().run(&phantom).unwrap();
        let grid = acq.grid();
        let mut env = envelope_image(&rf, grid, preset.beamform_config()).unwrap();
        // Samples about one resolution cell apart, the grid's spacing measured near the region's
        // centre.
        let (lines, depths) = grid.shape();
        let (mut best, mut at) = (f64::INFINITY, (0, 0));
        for l in 0..lines.saturating_sub(1) {
            for k in 0..depths.saturating_sub(1) {
                let p = grid.position(l, k);
                let d = p[0].abs() + (p[2] - zc).abs();
                if d < best {
                    best = d;
                    at = (l, k);
                }
            }
        }
        let dist = |a: [f64; 3], b: [f64; 3]| ((a[0] - b[0]).powi(2) + (a[2] - b[2]).powi(2)).sqrt();
        let p = grid.position(at.0, at.1);
        let dx = dist(p, grid.position(at.0 + 1, at.1));
        let dz = dist(p, grid.position(at.0, at.1 + 1));
        let stride = (
            (lateral_cell / dx).ceil().max(1.0) as usize,
            (axial_cell / dz).ceil().max(1.0) as usize,
        );
        let region = Region::Box {
            x_range_m: (-hw, hw),
            z_range_m: (zc - hd, zc + hd),
        };
        // Ideal time-gain compensation: each depth sample (radius on a sector grid) divided by the
        // region's mean there, so that spreading (the echoes of a lossless medium still fall
        // about as 1/r² in amplitude, a quarter across the deep regions) does not pass for
        // speckle variance.
        let inside = |p: [f64; 3]| p[0].abs() <= hw && (p[2] - zc).abs() <= hd;
        for k in 0..depths {
            let row: Vec<f64> = (0..lines)
                .filter(|&l| inside(grid.position(l, k)))
                .map(|l| f64::from(env[[l, k]]))
                .collect();
            if !row.is_empty() {
                let mean = row.iter().sum::<f64>() / row.len() as f64;
                for l in 0..lines {
                    env[[l, k]] = (f64::from(env[[l, k]]) / mean) as f32;
                }
            }
        }
        let m = speckle(env.view(), grid, &region, stride).unwrap();
        report.push(format!(
            "{:<9} {:>6} scatterers, SNR {:.3}, KS D {:.3} p {:.3} on {} samples (stride {:?}), cell {:.2} x {:.2} wavelengths",
            preset.name,
            phantom.len(),
            m.snr,
            m.ks.d,
            m.ks.p_value,
            m.ks.n,
            stride,
            lateral_cell / lambda,
            axial_cell / lambda
        ));
        eprintln!("{}", report.last().unwrap());
        assert!((m.snr - 1.91).abs() <= 0.1, "{}", report.last().unwrap());
        assert!(m.ks.pass, "{}", report.last().unwrap());
    }
}
