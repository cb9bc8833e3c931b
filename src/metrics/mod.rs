//! Image-quality metrics as the ultrasound community computes them (PICMUS challenge, gCNR).
//!
//! Inputs are **envelope** images (linear amplitude, not dB) of shape `[n_lines, n_depths]` on a
//! [`Grid`]; every function checks the shape against the grid and requires finite, non-negative
//! pixels. Regions and results are in metres, in the x–z image plane (y is ignored).
//!
//! * [`point_target`]: position of a point target's maximum (sub-pixel) and its axial and lateral
//!   −6 dB full widths;
//! * [`contrast`]: contrast ratio, CNR (envelope form and PICMUS dB form) and gCNR between two
//!   [`Region`]s;
//! * [`speckle`]: speckle SNR and a Kolmogorov–Smirnov test against a fitted Rayleigh law;
//! * slice helpers: [`fwhm_of_profile`], [`gcnr_of_samples`], [`ks_rayleigh`], [`RegionStats::from_samples`].
//!
//! "−6 dB" always means **half amplitude** (20·log10(0.5) = −6.02 dB): for an amplitude Gaussian
//! `exp(−x²/2σ²)` the −6 dB full width is `2σ·√(2 ln 2)`.
//!
//! ```
//! use ndarray::Array2;
//! use sonochip::grid::Grid;
//! use sonochip::metrics::{Region, contrast, point_target};
//!
//! // A point target: amplitude Gaussian of σ = 0.2 mm at (1 mm, 20 mm) over a 1e-3 floor.
//! let grid = Grid::cartesian((-0.005, 0.005), 201, (0.015, 0.025), 201).unwrap();
//! let sigma = 0.2e-3;
//! let env = Array2::from_shape_fn(grid.shape(), |(l, k)| {
//!     let p = grid.position(l, k);
//!     let r2 = (p[0] - 0.001).powi(2) + (p[2] - 0.02).powi(2);
//!     ((-r2 / (2.0 * sigma * sigma)).exp() + 1e-3) as f32
//! });
//! let m = point_target(env.view(), &grid, [0.001, 0.0, 0.02], 1e-3).unwrap();
//! let fwhm = 2.0 * (2.0 * 2f64.ln()).sqrt() * sigma;
//! assert!((m.axial_fwhm_m.unwrap() - fwhm).abs() < 0.01 * fwhm);
//! assert!(m.distance_m < 1e-6);
//!
//! // Contrast between the target's core and the background.
//! let core = Region::Disk { center_m: [0.001, 0.02], radius_m: 0.1e-3 };
//! let background = Region::Box { x_range_m: (-0.005, -0.003), z_range_m: (0.015, 0.025) };
//! let c = contrast(env.view(), &grid, &core, &background).unwrap();
//! assert!(c.cr_db.unwrap() > 55.0 && c.gcnr > 0.99);
//! ```

use crate::error::{Error, Result, count_at_least, finite, finite_point, non_negative, plausible, positive};
use crate::grid::{Grid, GridKind};
use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

/// Significance level of the speckle Kolmogorov–Smirnov test (as in PICMUS).
pub const KS_ALPHA: f64 = 0.05;

/// Fewest histogram bins [`gcnr_of_samples`] uses.
pub const GCNR_MIN_BINS: usize = 16;

/// Most histogram bins [`gcnr_of_samples`] uses.
pub const GCNR_MAX_BINS: usize = 256;

/// Largest bin count [`gcnr_with_bins`] accepts.
const GCNR_BIN_LIMIT: usize = 1 << 16;

fn check_env(env: ArrayView2<'_, f32>, grid: &Grid) -> Result<()> {
    let (nl, nd) = grid.shape();
    if env.dim() != (nl, nd) {
        return Err(Error::shape(
            "env",
            format!("[{nl}, {nd}] (the grid's shape)"),
            format!("{:?}", env.shape()),
        ));
    }
    match env.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
        Some(v) => Err(Error::invalid("env", "finite, non-negative envelope amplitudes", v)),
        None => Ok(()),
    }
}

fn check_samples(name: &'static str, s: &[f64]) -> Result<()> {
    if s.is_empty() {
        return Err(Error::empty(name, "at least one sample"));
    }
    match s.iter().find(|v| !v.is_finite()) {
        Some(v) => Err(Error::invalid(name, "finite samples", v)),
        None => Ok(()),
    }
}

fn finite_opt(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// A power of two within a factor 2 of the largest magnitude in `s` (1 if all are zero). Dividing
/// by it is exact for normal numbers and brings the values into (−2, 2), so that their sums and
/// squares neither overflow nor underflow: statistics are computed on the scaled values and scaled
/// back.
fn pow2_scale(s: &[f64]) -> f64 {
    let m = s.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    if !(m > 0.0 && m.is_finite()) {
        return 1.0;
    }
    let e = (m.log2().floor() as i32).clamp(-1022, 1023);
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// Where `t` lies between `a` and `b` (`a ≠ b`) as a fraction `(t − a)/(b − a)`, computed on halved
/// values (exact for normal numbers) so that differences of values near ±`f64::MAX` do not
/// overflow.
fn fraction(a: f64, b: f64, t: f64) -> f64 {
    (0.5 * t - 0.5 * a) / (0.5 * b - 0.5 * a)
}

// ---------------------------------------------------------------------------------------------
// Regions
// ---------------------------------------------------------------------------------------------

/// A region of the x–z image plane, metres. Boundaries are inclusive.
///
/// A plain value with public fields: every function that uses a region checks it first with
/// [`Region::validate`], and a deserialised region is validated on reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RegionFields")]
pub enum Region {
    /// Pixels within `radius_m` of `center_m` (x, z).
    Disk {
        /// Centre (x, z), metres.
        center_m: [f64; 2],
        /// Radius, metres (> 0).
        radius_m: f64,
    },
    /// Pixels whose distance to `center_m` (x, z) lies in `[inner_m, outer_m]`.
    Annulus {
        /// Centre (x, z), metres.
        center_m: [f64; 2],
        /// Inner radius, metres (≥ 0).
        inner_m: f64,
        /// Outer radius, metres (> `inner_m`).
        outer_m: f64,
    },
    /// Pixels with x in `x_range_m` and z in `z_range_m` (each `(lo, hi)`, `lo ≤ hi`).
    Box {
        /// Lateral range, metres.
        x_range_m: (f64, f64),
        /// Depth range, metres.
        z_range_m: (f64, f64),
    },
}

/// The serialised form of [`Region`], validated into one.
#[derive(Deserialize)]
enum RegionFields {
    Disk {
        center_m: [f64; 2],
        radius_m: f64,
    },
    Annulus {
        center_m: [f64; 2],
        inner_m: f64,
        outer_m: f64,
    },
    Box {
        x_range_m: (f64, f64),
        z_range_m: (f64, f64),
    },
}

impl TryFrom<RegionFields> for Region {
    type Error = Error;
    fn try_from(f: RegionFields) -> Result<Region> {
        let r = match f {
            RegionFields::Disk { center_m, radius_m } => Region::Disk { center_m, radius_m },
            RegionFields::Annulus {
                center_m,
                inner_m,
                outer_m,
            } => Region::Annulus {
                center_m,
                inner_m,
                outer_m,
            },
            RegionFields::Box { x_range_m, z_range_m } => Region::Box { x_range_m, z_range_m },
        };
        r.validate()?;
        Ok(r)
    }
}

/// Largest magnitude of a region's coordinates and radii, metres (the extent of any grid:
/// [`crate::grid::MAX_COORDINATE_M`] each way).
pub const MAX_REGION_COORDINATE_M: f64 = 2.0 * crate::grid::MAX_COORDINATE_M;

impl Region {
    /// Checks the region's parameters: coordinates, radii and range ends finite and within
    /// ±[`MAX_REGION_COORDINATE_M`] metres, radii > 0 (inner ≥ 0 and outer > inner for an
    /// annulus), ranges ordered (`lo ≤ hi`). The error names the field (`center_m`, `radius_m`,
    /// `inner_m`, `outer_m`, `x_range_m`, `z_range_m`). Cost: O(1).
    pub fn validate(&self) -> Result<()> {
        let m = MAX_REGION_COORDINATE_M;
        let range = |name, r: (f64, f64)| {
            if r.0.is_finite() && r.1.is_finite() && r.0 <= r.1 && r.0.abs() <= m && r.1.abs() <= m {
                Ok(())
            } else {
                Err(Error::invalid(
                    name,
                    format!("a range (lo, hi) with lo <= hi within ±{m} m, in metres"),
                    format!("{r:?}"),
                ))
            }
        };
        let centre = |c: [f64; 2]| {
            finite_point("center_m", [c[0], 0.0, c[1]])?;
            if c[0].abs() > m || c[1].abs() > m {
                return Err(Error::invalid(
                    "center_m",
                    format!("(x, z) within ±{m} m, in metres"),
                    format!("{c:?}"),
                ));
            }
            Ok(())
        };
        match *self {
            Region::Disk { center_m, radius_m } => {
                centre(center_m)?;
                positive("radius_m", radius_m)?;
                plausible("radius_m", radius_m, 0.0, m, "m")?;
            }
            Region::Annulus {
                center_m,
                inner_m,
                outer_m,
            } => {
                centre(center_m)?;
                non_negative("inner_m", inner_m)?;
                plausible("inner_m", inner_m, 0.0, m, "m")?;
                finite("outer_m", outer_m)?;
                plausible("outer_m", outer_m, 0.0, m, "m")?;
                if outer_m <= inner_m {
                    return Err(Error::invalid(
                        "outer_m",
                        format!("a radius > inner_m = {inner_m}"),
                        outer_m,
                    ));
                }
            }
            Region::Box { x_range_m, z_range_m } => {
                range("x_range_m", x_range_m)?;
                range("z_range_m", z_range_m)?;
            }
        }
        Ok(())
    }

    /// Whether the point `(x_m, z_m)` lies in the region (boundaries inclusive; false for NaN
    /// coordinates). Meaningful for a region that [`Region::validate`] accepts. Cost: O(1).
    pub fn contains(&self, x_m: f64, z_m: f64) -> bool {
        let dist2 = |c: [f64; 2]| (x_m - c[0]).powi(2) + (z_m - c[1]).powi(2);
        match *self {
            Region::Disk { center_m, radius_m } => dist2(center_m) <= radius_m * radius_m,
            Region::Annulus {
                center_m,
                inner_m,
                outer_m,
            } => (inner_m * inner_m..=outer_m * outer_m).contains(&dist2(center_m)),
            Region::Box { x_range_m, z_range_m } => {
                (x_range_m.0..=x_range_m.1).contains(&x_m) && (z_range_m.0..=z_range_m.1).contains(&z_m)
            }
        }
    }

    /// The region as a pixel mask in image order (`line * n_depths + k`), after
    /// [`Region::validate`]. Cost: one `bool` per grid pixel (and the grid's positions).
    pub fn mask(&self, grid: &Grid) -> Result<Vec<bool>> {
        self.validate()?;
        Ok(grid.positions().iter().map(|p| self.contains(p[0], p[2])).collect())
    }

    /// The envelope values of the pixels inside the region, in image order. Errors if the region is
    /// invalid ([`Region::validate`]), the image does not fit the grid (`env`), holds a non-finite
    /// or negative value (`env`), or no pixel lies in the region (`region`). Cost: one pass over
    /// the grid, one `f64` per selected pixel.
    pub fn values(&self, env: ArrayView2<'_, f32>, grid: &Grid) -> Result<Vec<f64>> {
        self.values_strided(env, grid, (1, 1))
    }

    /// Like [`Region::values`], keeping only pixels `(line, k)` with `line % stride.0 == 0` and
    /// `k % stride.1 == 0` (to thin out correlated speckle samples); both strides ≥ 1 (`stride`).
    /// Errors and cost as [`Region::values`].
    pub fn values_strided(&self, env: ArrayView2<'_, f32>, grid: &Grid, stride: (usize, usize)) -> Result<Vec<f64>> {
        self.validate()?;
        check_env(env, grid)?;
        count_at_least("stride", stride.0.min(stride.1), 1)?;
        let (nl, nd) = grid.shape();
        let mut v = Vec::new();
        for l in (0..nl).step_by(stride.0) {
            for k in (0..nd).step_by(stride.1) {
                let p = grid.position(l, k);
                if self.contains(p[0], p[2]) {
                    v.push(f64::from(env[[l, k]]));
                }
            }
        }
        if v.is_empty() {
            return Err(Error::empty(
                "region",
                format!("at least one selected pixel of the grid in {self:?}"),
            ));
        }
        Ok(v)
    }

    /// [`RegionStats`] of the envelope inside the region. Errors and cost as [`Region::values`].
    pub fn stats(&self, env: ArrayView2<'_, f32>, grid: &Grid) -> Result<RegionStats> {
        RegionStats::from_samples(&self.values(env, grid)?)
    }
}

/// Sample count, mean and standard deviation of a set of values.
///
/// Made by [`RegionStats::from_samples`]; a deserialised one is checked (`n ≥ 1`, finite mean,
/// finite `std ≥ 0`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RegionStatsFields")]
pub struct RegionStats {
    /// Number of samples.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Population standard deviation (normalised by `n`, not `n − 1`).
    pub std: f64,
}

#[derive(Deserialize)]
struct RegionStatsFields {
    n: usize,
    mean: f64,
    std: f64,
}

impl TryFrom<RegionStatsFields> for RegionStats {
    type Error = Error;
    fn try_from(f: RegionStatsFields) -> Result<RegionStats> {
        count_at_least("n", f.n, 1)?;
        finite("mean", f.mean)?;
        non_negative("std", f.std)?;
        Ok(RegionStats {
            n: f.n,
            mean: f.mean,
            std: f.std,
        })
    }
}

impl RegionStats {
    /// Statistics of `samples` (non-empty, finite; errors name `samples`). Values of any finite
    /// magnitude give finite, correct statistics: the samples are scaled by a power of two near
    /// their largest magnitude before summing (exact for normal numbers), so neither `±1e308`
    /// nor `1e-300` overflows or underflows. Cost: two passes, no allocation.
    pub fn from_samples(samples: &[f64]) -> Result<RegionStats> {
        check_samples("samples", samples)?;
        let k = pow2_scale(samples);
        let n = samples.len() as f64;
        let mean = samples.iter().map(|x| x / k).sum::<f64>() / n;
        let var = samples.iter().map(|x| (x / k - mean).powi(2)).sum::<f64>() / n;
        let (mean, std) = (mean * k, var.sqrt() * k);
        if !(mean.is_finite() && std.is_finite()) {
            return Err(Error::invalid(
                "samples",
                "samples whose mean and standard deviation are finite",
                format!("mean {mean}, std {std}"),
            ));
        }
        Ok(RegionStats {
            n: samples.len(),
            mean,
            std,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Point targets
// ---------------------------------------------------------------------------------------------

mod contrast;
mod point;
mod speckle;
pub use contrast::*;
pub use point::*;
pub use speckle::*;

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// −6 dB full width of an amplitude Gaussian in units of σ: 2√(2 ln 2).
    fn k_fwhm() -> f64 {
        2.0 * (2.0 * std::f64::consts::LN_2).sqrt()
    }

    fn image(grid: &Grid, f: impl Fn([f64; 3]) -> f64) -> Array2<f32> {
        Array2::from_shape_fn(grid.shape(), |(l, k)| f(grid.position(l, k)) as f32)
    }

    fn rayleigh(n: usize, sigma: f64, seed: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| sigma * (-2.0 * (1.0 - rng.random::<f64>()).ln()).sqrt())
            .collect()
    }

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn gaussian_blob_on_cartesian_grid() {
        // 50 µm pixels; blob off-grid by a fraction of a pixel in both axes.
        let grid = Grid::cartesian((-3e-3, 3e-3), 121, (17e-3, 23e-3), 121).unwrap();
        let (x0, z0, sx, sz) = (0.327e-3, 20.013e-3, 0.3e-3, 0.25e-3);
        let env = image(&grid, |p| {
            (-(p[0] - x0).powi(2) / (2.0 * sx * sx) - (p[2] - z0).powi(2) / (2.0 * sz * sz)).exp()
        });
        let m = point_target(env.view(), &grid, [0.3e-3, 0.0, 20e-3], 1e-3).unwrap();
        assert_eq!(m.peak_pixel, [67, 60]);
        assert!((m.position_m[0] - x0).abs() < 0.02 * 50e-6, "{m:?}");
        assert!((m.position_m[1] - z0).abs() < 0.02 * 50e-6, "{m:?}");
        assert!((m.error_m[0] - 27e-6).abs() < 1e-6 && (m.error_m[1] - 13e-6).abs() < 1e-6);
        assert!((m.distance_m - 27e-6f64.hypot(13e-6)).abs() < 1e-6);
        assert!(rel(m.axial_fwhm_m.unwrap(), k_fwhm() * sz) < 0.01, "{m:?}");
        assert!(rel(m.lateral_fwhm_m.unwrap(), k_fwhm() * sx) < 0.01, "{m:?}");
    }

    #[test]
    fn gaussian_blob_on_sector_and_curved_grids() {
        // Blob separable in (r, θ) about the grid's apex: axial width K·σr, lateral arc K·σθ·r0.
        let (r0, t0, sr, st) = (0.04012, 0.1013, 0.25e-3, 0.015);
        for (grid, apex_z) in [
            (Grid::sector((-0.3, 0.3), 241, (0.03, 0.05), 401).unwrap(), 0.0),
            (Grid::curved(0.02, (-0.3, 0.3), 241, (0.01, 0.03), 401).unwrap(), -0.02),
        ] {
            let env = image(&grid, |p| {
                let (r, t) = (p[0].hypot(p[2] - apex_z), p[0].atan2(p[2] - apex_z));
                (-(r - r0).powi(2) / (2.0 * sr * sr) - (t - t0).powi(2) / (2.0 * st * st)).exp()
            });
            let truth = [r0 * t0.sin(), apex_z + r0 * t0.cos()];
            let m = point_target(env.view(), &grid, [truth[0], 0.0, truth[1]], 2e-3).unwrap();
            assert!(
                (m.position_m[0] - truth[0]).hypot(m.position_m[1] - truth[1]) < 2e-6,
                "{m:?}"
            );
            assert!(m.distance_m < 2e-6);
            assert!(rel(m.axial_fwhm_m.unwrap(), k_fwhm() * sr) < 0.01, "{m:?}");
            assert!(rel(m.lateral_fwhm_m.unwrap(), k_fwhm() * st * r0) < 0.01, "{m:?}");
        }
    }

    #[test]
    fn profile_widths() {
        let tri = [0.0, 1.0, 2.0, 3.0, 4.0, 3.0, 2.0, 1.0, 0.0];
        assert_eq!(fwhm_of_profile(&tri, 0.5).unwrap(), Some(2.0));
        // Crossing between samples: half of 4 is 2, reached at 1.5 on the left (1 → 3) and 5.5 on the right.
        assert_eq!(
            fwhm_of_profile(&[0.0, 1.0, 3.0, 4.0, 4.0, 3.0, 1.0], 1.0).unwrap(),
            Some(4.0)
        );
        assert_eq!(fwhm_of_profile(&[1.0, 2.0, 3.0, 2.5], 1.0).unwrap(), None);
        assert!(fwhm_of_profile(&[], 1.0).is_err());
        assert!(fwhm_of_profile(&[1.0, f64::NAN], 1.0).is_err());
        assert!(fwhm_of_profile(&[0.0, 0.0], 1.0).is_err());
        assert!(fwhm_of_profile(&tri, -1.0).is_err());
        // A target at the image edge: one side never falls to half.
        let grid = Grid::cartesian((0.0, 1e-3), 11, (0.0, 1e-3), 11).unwrap();
        let env = image(&grid, |p| (-(p[0] * p[0] + (p[2] - 0.5e-3).powi(2)) / 2e-8).exp());
        let m = point_target(env.view(), &grid, [0.0, 0.0, 0.5e-3], 1e-4).unwrap();
        assert_eq!(m.lateral_fwhm_m, None);
        assert!(m.axial_fwhm_m.is_some());
    }

    #[test]
    fn contrast_of_known_regions() {
        // Left half alternates 3, 5 (μ 4, σ 1); right half alternates 0.5, 1.5 (μ 1, σ 0.5).
        let grid = Grid::cartesian((0.0, 19e-3), 20, (0.0, 19e-3), 20).unwrap();
        let env = Array2::from_shape_fn((20, 20), |(l, k)| {
            let odd = (l + k) % 2 == 1;
            match (l < 10, odd) {
                (true, false) => 3.0,
                (true, true) => 5.0,
                (false, false) => 0.5,
                (false, true) => 1.5,
            }
        });
        let inside = Region::Box {
            x_range_m: (0.0, 9.5e-3),
            z_range_m: (0.0, 19e-3),
        };
        let outside = Region::Box {
            x_range_m: (9.5e-3, 19e-3),
            z_range_m: (0.0, 19e-3),
        };
        let c = contrast(env.view(), &grid, &inside, &outside).unwrap();
        assert_eq!((c.inside.n, c.outside.n), (200, 200));
        assert!((c.inside.mean - 4.0).abs() < 1e-12 && (c.inside.std - 1.0).abs() < 1e-12);
        assert!((c.outside.mean - 1.0).abs() < 1e-12 && (c.outside.std - 0.5).abs() < 1e-12);
        assert!((c.cr_db.unwrap() - 20.0 * 4f64.log10()).abs() < 1e-9);
        assert!((c.cnr.unwrap() - 3.0 / 1.25f64.sqrt()).abs() < 1e-12);
        let db = |v: f64| 20.0 * v.log10();
        let (mi, si) = ((db(3.0) + db(5.0)) / 2.0, (db(5.0) - db(3.0)) / 2.0);
        let (mo, so) = ((db(0.5) + db(1.5)) / 2.0, (db(1.5) - db(0.5)) / 2.0);
        let picmus = 20.0 * ((mi - mo) / ((si * si + so * so) / 2.0).sqrt()).log10();
        assert!((c.cnr_picmus_db.unwrap() - picmus).abs() < 1e-9);
        assert_eq!(c.gcnr, 1.0);
        assert_eq!(c.gcnr_bins, GCNR_MIN_BINS);
        let json = serde_json::to_string(&c).unwrap();
        assert!(json.contains("\"cnr_picmus_db\""), "{json}");
        // A zero pixel makes the dB form undefined; a zero outside mean makes CR infinite.
        let zero = Array2::from_shape_fn((20, 20), |(l, _)| if l < 10 { 1.0 } else { 0.0 });
        let c = contrast(zero.view(), &grid, &inside, &outside).unwrap();
        assert_eq!((c.cr_db, c.cnr_picmus_db), (None, None));
        assert_eq!(c.gcnr, 1.0);
    }

    #[test]
    fn gcnr_known_answers() {
        let a: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 2.0).collect();
        assert_eq!(gcnr_of_samples(&a, &b).unwrap(), 1.0);
        assert!(gcnr_of_samples(&a, &a).unwrap() < 0.02);
        assert_eq!(gcnr_of_samples(&[2.0; 5], &[2.0; 7]).unwrap(), 0.0);
        // U[0, 1) vs U[0.5, 1.5): the densities overlap by one half.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let u: Vec<f64> = (0..100_000).map(|_| rng.random::<f64>()).collect();
        let v: Vec<f64> = (0..100_000).map(|_| 0.5 + rng.random::<f64>()).collect();
        assert!((gcnr_of_samples(&u, &v).unwrap() - 0.5).abs() < 0.02);
        assert_eq!(default_gcnr_bins(100_000, 1_000_000), GCNR_MAX_BINS);
        assert_eq!(default_gcnr_bins(1000, 5000), 32);
        assert!(gcnr_of_samples(&[], &a).is_err());
        assert!(gcnr_of_samples(&a, &[f64::NAN]).is_err());
        assert!(gcnr_with_bins(&a, &b, 0).is_err());
    }

    #[test]
    fn kolmogorov_distribution_values() {
        assert_eq!(kolmogorov_q(0.0), 1.0);
        assert!((kolmogorov_q(0.5) - 0.963945).abs() < 1e-5);
        assert!((kolmogorov_q(1.0) - 0.269999).abs() < 1e-5);
        assert!((kolmogorov_q(1.3581) - 0.05).abs() < 1e-4);
        assert!((kolmogorov_q(2.0) - 0.000671).abs() < 1e-6);
        // Both branches agree at the switch.
        assert!((kolmogorov_q(1.18 - 1e-12) - kolmogorov_q(1.18)).abs() < 1e-9);
    }

    #[test]
    fn rayleigh_speckle_passes_uniform_fails() {
        let x = rayleigh(100_000, 2.5, 42);
        let s = RegionStats::from_samples(&x).unwrap();
        assert!((s.mean / s.std - 1.913).abs() < 0.05, "{s:?}");
        let ks = ks_rayleigh(&x).unwrap();
        assert!(ks.pass && ks.p_value > KS_ALPHA, "{ks:?}");
        assert!(rel(ks.sigma, 2.5) < 0.01);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let u: Vec<f64> = (0..100_000).map(|_| rng.random::<f64>()).collect();
        let ks = ks_rayleigh(&u).unwrap();
        assert!(!ks.pass && ks.p_value < 1e-6, "{ks:?}");
        assert!(ks_rayleigh(&[0.0; 4]).is_err());
        assert!(ks_rayleigh(&[1.0, -1.0]).is_err());
        assert!(ks_rayleigh(&[]).is_err());
    }

    #[test]
    fn speckle_on_an_image_with_stride() {
        let grid = Grid::cartesian((-0.02, 0.02), 400, (0.01, 0.05), 400).unwrap();
        let x = rayleigh(grid.n_pixels(), 1.0, 11);
        let env = Array2::from_shape_fn(grid.shape(), |(l, k)| x[l * 400 + k] as f32);
        let region = Region::Disk {
            center_m: [0.0, 0.03],
            radius_m: 0.015,
        };
        let all = speckle(env.view(), &grid, &region, (1, 1)).unwrap();
        let thin = speckle(env.view(), &grid, &region, (2, 2)).unwrap();
        assert!((all.snr - 1.913).abs() < 0.05 && all.ks.pass, "{all:?}");
        assert_eq!(all.stats, thin.stats);
        assert!(thin.ks.pass && (thin.ks.n as f64 - all.ks.n as f64 / 4.0).abs() < 0.02 * all.ks.n as f64);
        assert!(serde_json::to_string(&thin).unwrap().contains("\"p_value\""));
        let flat = Array2::from_elem(grid.shape(), 1.0f32);
        assert!(speckle(flat.view(), &grid, &region, (1, 1)).is_err());
        assert!(speckle(env.view(), &grid, &region, (0, 1)).is_err());
    }

    #[test]
    fn regions_and_masks() {
        let grid = Grid::cartesian((-2e-3, 2e-3), 5, (1e-3, 5e-3), 5).unwrap();
        let disk = Region::Disk {
            center_m: [0.0, 3e-3],
            radius_m: 1.01e-3,
        };
        assert_eq!(disk.mask(&grid).unwrap().iter().filter(|&&b| b).count(), 5);
        let ring = Region::Annulus {
            center_m: [0.0, 3e-3],
            inner_m: 0.5e-3,
            outer_m: 1.5e-3,
        };
        assert_eq!(ring.mask(&grid).unwrap().iter().filter(|&&b| b).count(), 8);
        let env = image(&grid, |p| 3.0 + p[0] * 1e3);
        let s = ring.stats(env.view(), &grid).unwrap();
        assert!((s.mean - 3.0).abs() < 1e-6 && s.n == 8);
        // Regions work on point-list grids too.
        let pts = Grid::points(vec![[0.0, 0.0, 3e-3], [5e-3, 0.0, 3e-3]]).unwrap();
        let v = disk.values(Array2::from_elem((1, 2), 2.0f32).view(), &pts).unwrap();
        assert_eq!(v, vec![2.0]);
    }

    #[test]
    fn errors() {
        let grid = Grid::cartesian((-2e-3, 2e-3), 5, (1e-3, 5e-3), 5).unwrap();
        let env = Array2::from_elem((5, 5), 1.0f32);
        let inside = Region::Disk {
            center_m: [0.0, 3e-3],
            radius_m: 1e-3,
        };
        let far = Region::Disk {
            center_m: [0.5, 3e-3],
            radius_m: 1e-3,
        };
        assert!(matches!(
            contrast(env.view(), &grid, &inside, &far),
            Err(Error::Empty { .. })
        ));
        let small = Array2::from_elem((3, 5), 1.0f32);
        assert!(matches!(
            contrast(small.view(), &grid, &inside, &inside),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            point_target(small.view(), &grid, [0.0, 0.0, 3e-3], 1e-3),
            Err(Error::ShapeMismatch { .. })
        ));
        let mut nan = env.clone();
        nan[[1, 1]] = f32::NAN;
        assert!(matches!(
            contrast(nan.view(), &grid, &inside, &inside),
            Err(Error::InvalidParameter { name: "env", .. })
        ));
        assert!(point_target(nan.view(), &grid, [0.0, 0.0, 3e-3], 1e-3).is_err());
        assert!(speckle(nan.view(), &grid, &inside, (1, 1)).is_err());
        let mut neg = env.clone();
        neg[[0, 0]] = -1.0;
        assert!(inside.values(neg.view(), &grid).is_err());
        assert!(matches!(
            point_target(env.view(), &grid, [0.5, 0.0, 3e-3], 1e-3),
            Err(Error::Empty { .. })
        ));
        assert!(point_target(env.view(), &grid, [0.0, 0.0, 3e-3], 0.0).is_err());
        assert!(point_target(env.view(), &grid, [f64::NAN, 0.0, 3e-3], 1e-3).is_err());
        let zeros = Array2::zeros((5, 5));
        assert!(point_target(zeros.view(), &grid, [0.0, 0.0, 3e-3], 1e-3).is_err());
        let pts = Grid::points(vec![[0.0, 0.0, 3e-3]]).unwrap();
        assert!(point_target(Array2::ones((1, 1)).view(), &pts, [0.0, 0.0, 3e-3], 1e-3).is_err());
        for bad in [
            Region::Disk {
                center_m: [0.0, 0.0],
                radius_m: -1.0,
            },
            Region::Disk {
                center_m: [f64::NAN, 0.0],
                radius_m: 1.0,
            },
            Region::Annulus {
                center_m: [0.0, 0.0],
                inner_m: 2.0,
                outer_m: 1.0,
            },
            Region::Box {
                x_range_m: (1.0, 0.0),
                z_range_m: (0.0, 1.0),
            },
        ] {
            assert!(
                bad.mask(&grid).is_err() && bad.values(env.view(), &grid).is_err(),
                "{bad:?}"
            );
        }
    }

    /// Formerly gCNR of two separable sets at ±1e308 was 0 (the joint range overflowed) and the
    /// mean of two 1e308 samples was infinite; statistics are now computed on scaled values.
    #[test]
    fn extreme_magnitudes_give_correct_statistics() {
        let a = vec![-1e308; 50];
        let b = vec![1e308; 50];
        assert_eq!(gcnr_of_samples(&a, &b).unwrap(), 1.0);
        let a: Vec<f64> = (0..1000).map(|i| -f64::MAX + i as f64 * 1e300).collect();
        let b: Vec<f64> = a.iter().map(|x| -x).collect();
        assert_eq!(gcnr_of_samples(&a, &b).unwrap(), 1.0);
        assert!(gcnr_of_samples(&a, &a).unwrap() < 0.05);
        let s = RegionStats::from_samples(&[1e308, 1e308]).unwrap();
        assert_eq!((s.mean, s.std), (1e308, 0.0));
        let s = RegionStats::from_samples(&[f64::MAX, -f64::MAX]).unwrap();
        assert_eq!((s.mean, s.std), (0.0, f64::MAX));
        // Squares of 1e-300 underflow to 0 without scaling.
        let s = RegionStats::from_samples(&[1e-300, 3e-300]).unwrap();
        assert!(rel(s.mean, 2e-300) < 1e-15 && rel(s.std, 1e-300) < 1e-15, "{s:?}");
        let small = ks_rayleigh(&[1.0, 2.0, 3.0, 2.5]).unwrap();
        let huge = ks_rayleigh(&[1e300, 2e300, 3e300, 2.5e300]).unwrap();
        assert_eq!((small.d, small.p_value), (huge.d, huge.p_value));
        assert!(rel(huge.sigma, small.sigma * 1e300) < 1e-15);
        assert!(
            rel(
                ks_rayleigh(&[1e-300, 2e-300]).unwrap().sigma,
                ks_rayleigh(&[1.0, 2.0]).unwrap().sigma * 1e-300
            ) < 1e-12
        );
        // A profile spanning ±1.5e308: formerly a NaN width.
        assert_eq!(fwhm_of_profile(&[-1.5e308, 1.5e308, -1.5e308], 1.0).unwrap(), Some(0.5));
        let e = fwhm_of_profile(&[0.0, 4.0, 4.0, 0.0], f64::MAX).unwrap_err();
        assert_eq!(e.parameter(), Some("spacing"), "{e}");
        for bad in [f64::NAN, f64::INFINITY] {
            assert_eq!(
                RegionStats::from_samples(&[1.0, bad]).unwrap_err().parameter(),
                Some("samples")
            );
            assert_eq!(gcnr_of_samples(&[bad], &[1.0]).unwrap_err().parameter(), Some("a"));
            assert_eq!(ks_rayleigh(&[bad]).unwrap_err().parameter(), Some("samples"));
            assert_eq!(fwhm_of_profile(&[bad], 1.0).unwrap_err().parameter(), Some("values"));
            assert!(fwhm_of_profile(&[1.0], bad).is_err());
        }
        assert_eq!(RegionStats::from_samples(&[]).unwrap_err().parameter(), Some("samples"));
    }

    /// Regions are checked against plausible metres everywhere they are used, and on reading.
    #[test]
    fn regions_are_plausible_and_validated_when_deserialised() {
        let grid = Grid::cartesian((-2e-3, 2e-3), 5, (1e-3, 5e-3), 5).unwrap();
        let env = Array2::from_elem((5, 5), 1.0f32);
        for (bad, name) in [
            (
                Region::Disk {
                    center_m: [0.0, 30.0],
                    radius_m: 1e-3,
                },
                "center_m",
            ),
            (
                Region::Disk {
                    center_m: [0.0, 3e-3],
                    radius_m: 1e300,
                },
                "radius_m",
            ),
            (
                Region::Annulus {
                    center_m: [0.0, 3e-3],
                    inner_m: 0.0,
                    outer_m: 1e300,
                },
                "outer_m",
            ),
            (
                Region::Box {
                    x_range_m: (-1e300, 1e300),
                    z_range_m: (0.0, 1.0),
                },
                "x_range_m",
            ),
            (
                Region::Box {
                    x_range_m: (0.0, 1.0),
                    z_range_m: (f64::NEG_INFINITY, 1.0),
                },
                "z_range_m",
            ),
        ] {
            assert_eq!(bad.validate().unwrap_err().parameter(), Some(name), "{bad:?}");
            assert!(bad.values(env.view(), &grid).is_err() && bad.mask(&grid).is_err());
            assert!(contrast(env.view(), &grid, &bad, &bad).is_err());
            assert!(speckle(env.view(), &grid, &bad, (1, 1)).is_err());
        }
        let good = Region::Annulus {
            center_m: [0.0, 3e-3],
            inner_m: 0.5e-3,
            outer_m: 1.5e-3,
        };
        let json = serde_json::to_string(&good).unwrap();
        assert_eq!(serde_json::from_str::<Region>(&json).unwrap(), good);
        for bad in [
            r#"{"Disk":{"center_m":[0.0,0.02],"radius_m":-1.0}}"#,
            r#"{"Disk":{"center_m":[0.0,1e300],"radius_m":1.0}}"#,
            r#"{"Annulus":{"center_m":[0.0,0.02],"inner_m":2.0,"outer_m":1.0}}"#,
            r#"{"Box":{"x_range_m":[1.0,0.0],"z_range_m":[0.0,1.0]}}"#,
        ] {
            assert!(serde_json::from_str::<Region>(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<RegionStats>(r#"{"n":0,"mean":1.0,"std":0.0}"#).is_err());
        assert!(serde_json::from_str::<RegionStats>(r#"{"n":2,"mean":1.0,"std":-1.0}"#).is_err());
        assert!(serde_json::from_str::<RegionStats>(r#"{"n":2,"mean":1.0,"std":0.5}"#).is_ok());
        // A huge search radius selects every pixel (its square is infinite): the global maximum.
        let blob = image(&grid, |p| (-(p[0] * p[0] + (p[2] - 3e-3).powi(2)) / 2e-7).exp());
        let m = point_target(blob.view(), &grid, [0.0, 0.0, 3e-3], 1e300).unwrap();
        assert_eq!(m.peak_pixel, [2, 2]);
    }
}
