//! The propagation medium: speed of sound and frequency-linear attenuation, homogeneous
//! ([`Medium`]) or varying with the tissue ([`AttenuationMap`]).
//!
//! Both parameters have plausible ranges ([`SOUND_SPEED_RANGE_M_S`],
//! [`MAX_ATTENUATION_DB_CM_MHZ`]), checked by [`Medium::new`] and when a medium is deserialised.
//!
//! An [`AttenuationMap`] gives regions of the x–z image plane (extruded along y: disks, ellipses,
//! rectangles, layers) their own attenuation, the medium's applying elsewhere; the last region
//! containing a point decides, as with a phantom's painted features. The simulator integrates it
//! along each echo's path (`Simulator::with_attenuation`), so fluid gives posterior enhancement
//! and bone a shadow (`docs/physics.md#propagation-effects`).
//!
//! ```
//! use sonochip::medium::Medium;
//! let m = Medium::soft_tissue();
//! assert_eq!(m.c_m_s(), 1540.0);
//! // 0.5 dB/(cm·MHz) over 2 cm of path at 5 MHz = 5 dB.
//! let db = m.loss_db(5e6, 0.02);
//! assert!((db - 5.0).abs() < 1e-12);
//! ```

use crate::error::{Error, Result, finite, plausible, positive};
use serde::{Deserialize, Serialize};

/// The speed of sound scanners assume for soft tissue, m/s (a convention: delays, depth scales and
/// beamformers use it unless told otherwise).
pub const SCANNER_C_M_S: f64 = 1540.0;
/// Speeds of sound a medium may have, m/s.
pub const SOUND_SPEED_RANGE_M_S: (f64, f64) = (300.0, 5000.0);
/// Largest attenuation a medium may have, dB/(cm·MHz) (soft tissue: about 0.5; bone: about 20).
pub const MAX_ATTENUATION_DB_CM_MHZ: f64 = 20.0;
/// Attenuation of water-like fluids (bile, urine, amniotic fluid, cyst contents), dB/(cm·MHz):
/// about 0.002 at diagnostic frequencies (water's loss grows as f², 0.0022 dB/(cm·MHz²); the map
/// is linear in frequency, so this is its value near 1 MHz, an upper bound below it).
pub const FLUID_DB_CM_MHZ: f64 = 0.002;
/// Attenuation of blood, dB/(cm·MHz) (0.15–0.2 in the literature).
pub const BLOOD_DB_CM_MHZ: f64 = 0.18;
/// Attenuation of cortical bone, dB/(cm·MHz) (10–20 in the literature; the largest a medium or
/// region may have).
pub const BONE_DB_CM_MHZ: f64 = 20.0;
/// Most regions an [`AttenuationMap`] may hold (each echo's path is intersected with every one).
pub const MAX_ATTENUATION_REGIONS: usize = 64;
/// Largest coordinate magnitude of a region, metres (as a phantom's: a map given in millimetres is
/// refused).
const MAX_REGION_EXTENT_M: f64 = 1.0;

/// Converts an attenuation in dB/(cm·MHz) into nepers per metre per hertz.
pub fn db_cm_mhz_to_np_m_hz(attenuation_db_cm_mhz: f64) -> f64 {
    attenuation_db_cm_mhz * (std::f64::consts::LN_10 / 20.0) / (1e-2 * 1e6)
}

/// Speed of sound and attenuation of a homogeneous medium.
///
/// Built by [`Medium::new`], [`Medium::soft_tissue`] or [`Medium::lossless`]; deserialising one
/// validates it as `new` does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MediumFields")]
pub struct Medium {
    c_m_s: f64,
    attenuation_db_cm_mhz: f64,
}

#[derive(Deserialize)]
struct MediumFields {
    c_m_s: f64,
    attenuation_db_cm_mhz: f64,
}

impl TryFrom<MediumFields> for Medium {
    type Error = Error;
    fn try_from(f: MediumFields) -> Result<Medium> {
        Medium::new(f.c_m_s, f.attenuation_db_cm_mhz)
    }
}

impl Medium {
    /// A medium with speed of sound `c_m_s` ([`SOUND_SPEED_RANGE_M_S`]: 300–5000 m/s) and
    /// attenuation `attenuation_db_cm_mhz` (0–[`MAX_ATTENUATION_DB_CM_MHZ`] dB/(cm·MHz), linear
    /// in frequency). A value outside its range is an [`Error::InvalidParameter`] naming the
    /// field, the range and the unit.
    pub fn new(c_m_s: f64, attenuation_db_cm_mhz: f64) -> Result<Medium> {
        plausible("c_m_s", c_m_s, SOUND_SPEED_RANGE_M_S.0, SOUND_SPEED_RANGE_M_S.1, "m/s")?;
        plausible(
            "attenuation_db_cm_mhz",
            attenuation_db_cm_mhz,
            0.0,
            MAX_ATTENUATION_DB_CM_MHZ,
            "dB/(cm·MHz)",
        )?;
        Ok(Medium {
            c_m_s,
            attenuation_db_cm_mhz,
        })
    }

    /// Soft tissue: 1540 m/s, 0.5 dB/(cm·MHz) (`docs/physics.md#propagation`).
    pub fn soft_tissue() -> Medium {
        Medium {
            c_m_s: 1540.0,
            attenuation_db_cm_mhz: 0.5,
        }
    }

    /// A lossless medium at 1540 m/s.
    pub fn lossless() -> Medium {
        Medium {
            c_m_s: 1540.0,
            attenuation_db_cm_mhz: 0.0,
        }
    }

    /// Speed of sound, m/s.
    pub fn c_m_s(&self) -> f64 {
        self.c_m_s
    }

    /// Attenuation coefficient, dB/(cm·MHz).
    pub fn attenuation_db_cm_mhz(&self) -> f64 {
        self.attenuation_db_cm_mhz
    }

    /// Attenuation coefficient in nepers per metre per hertz (amplitude factor `exp(-a·f·path)`).
    pub fn alpha_np_per_m_hz(&self) -> f64 {
        db_cm_mhz_to_np_m_hz(self.attenuation_db_cm_mhz)
    }

    /// Loss in dB of an amplitude at frequency `f_hz` over `path_m` of propagation (no range
    /// check: a plain product).
    pub fn loss_db(&self, f_hz: f64, path_m: f64) -> f64 {
        self.attenuation_db_cm_mhz * (path_m * 100.0) * (f_hz * 1e-6)
    }
}

impl Default for Medium {
    fn default() -> Self {
        Medium::soft_tissue()
    }
}

/// A region of the x–z plane (extruded along y) with its own attenuation, for an
/// [`AttenuationMap`]. Shapes and containment are those of the phantom's painted features: an
/// ellipse's inside is strict, a layer holds `z_top ≤ z < z_bottom`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum AttenuationRegion {
    /// An ellipse with centre `(x, z)` and semi-axes `(a_x, a_z)` before rotation by `angle_rad`.
    Ellipse {
        /// Centre (x, z), metres.
        center_m: [f64; 2],
        /// Semi-axes along x and z before rotation, metres.
        semi_axes_m: [f64; 2],
        /// Rotation, radians.
        angle_rad: f64,
        /// Attenuation inside, dB/(cm·MHz).
        attenuation_db_cm_mhz: f64,
    },
    /// The rectangle `x_lo ≤ x ≤ x_hi`, `z_lo ≤ z ≤ z_hi`.
    Rect {
        /// Lateral range (lo, hi), metres.
        x_range_m: (f64, f64),
        /// Depth range (lo, hi), metres.
        z_range_m: (f64, f64),
        /// Attenuation inside, dB/(cm·MHz).
        attenuation_db_cm_mhz: f64,
    },
    /// The band `z_top ≤ z < z_bottom`.
    Layer {
        /// Top depth, metres.
        z_top_m: f64,
        /// Bottom depth, metres.
        z_bottom_m: f64,
        /// Attenuation inside, dB/(cm·MHz).
        attenuation_db_cm_mhz: f64,
    },
}

impl AttenuationRegion {
    /// A disk of radius `radius_m` centred on `(x, z)`.
    pub fn disk(center_m: [f64; 2], radius_m: f64, attenuation_db_cm_mhz: f64) -> AttenuationRegion {
        AttenuationRegion::ellipse(center_m, [radius_m, radius_m], 0.0, attenuation_db_cm_mhz)
    }

    /// An ellipse (see [`AttenuationRegion::Ellipse`]).
    pub fn ellipse(
        center_m: [f64; 2],
        semi_axes_m: [f64; 2],
        angle_rad: f64,
        attenuation_db_cm_mhz: f64,
    ) -> AttenuationRegion {
        AttenuationRegion::Ellipse {
            center_m,
            semi_axes_m,
            angle_rad,
            attenuation_db_cm_mhz,
        }
    }

    /// A rectangle (see [`AttenuationRegion::Rect`]).
    pub fn rect(x_range_m: (f64, f64), z_range_m: (f64, f64), attenuation_db_cm_mhz: f64) -> AttenuationRegion {
        AttenuationRegion::Rect {
            x_range_m,
            z_range_m,
            attenuation_db_cm_mhz,
        }
    }

    /// A layer (see [`AttenuationRegion::Layer`]).
    pub fn layer(z_top_m: f64, z_bottom_m: f64, attenuation_db_cm_mhz: f64) -> AttenuationRegion {
        AttenuationRegion::Layer {
            z_top_m,
            z_bottom_m,
            attenuation_db_cm_mhz,
        }
    }

    /// Attenuation inside, dB/(cm·MHz).
    pub fn attenuation_db_cm_mhz(&self) -> f64 {
        match *self {
            AttenuationRegion::Ellipse {
                attenuation_db_cm_mhz, ..
            }
            | AttenuationRegion::Rect {
                attenuation_db_cm_mhz, ..
            }
            | AttenuationRegion::Layer {
                attenuation_db_cm_mhz, ..
            } => attenuation_db_cm_mhz,
        }
    }

    /// Whether `(x, z)` lies inside.
    pub fn contains(&self, x: f64, z: f64) -> bool {
        match *self {
            AttenuationRegion::Ellipse {
                center_m,
                semi_axes_m,
                angle_rad,
                ..
            } => {
                let (u, v) = ellipse_coords(center_m, semi_axes_m, angle_rad, x, z);
                u * u + v * v < 1.0
            }
            AttenuationRegion::Rect {
                x_range_m, z_range_m, ..
            } => x >= x_range_m.0 && x <= x_range_m.1 && z >= z_range_m.0 && z <= z_range_m.1,
            AttenuationRegion::Layer {
                z_top_m, z_bottom_m, ..
            } => z >= z_top_m && z < z_bottom_m,
        }
    }

    /// The longest straight chord through the region, metres (infinite for a layer).
    pub(crate) fn max_chord_m(&self) -> f64 {
        match *self {
            AttenuationRegion::Ellipse { semi_axes_m, .. } => 2.0 * semi_axes_m[0].max(semi_axes_m[1]),
            AttenuationRegion::Rect {
                x_range_m, z_range_m, ..
            } => (x_range_m.1 - x_range_m.0).hypot(z_range_m.1 - z_range_m.0),
            AttenuationRegion::Layer { .. } => f64::INFINITY,
        }
    }

    /// The parameters `t ∈ [0, 1]` of the segment `a + t·(b − a)` that lie inside, as one interval
    /// (every shape is convex), or `None`.
    fn interval(&self, a: [f64; 2], b: [f64; 2]) -> Option<(f64, f64)> {
        let (t0, t1) = match *self {
            AttenuationRegion::Ellipse {
                center_m,
                semi_axes_m,
                angle_rad,
                ..
            } => {
                // In the ellipse's unit-circle coordinates the segment is P0 + t·D.
                let p0 = ellipse_coords(center_m, semi_axes_m, angle_rad, a[0], a[1]);
                let p1 = ellipse_coords(center_m, semi_axes_m, angle_rad, b[0], b[1]);
                let d = (p1.0 - p0.0, p1.1 - p0.1);
                let qa = d.0 * d.0 + d.1 * d.1;
                let qb = p0.0 * d.0 + p0.1 * d.1;
                let qc = p0.0 * p0.0 + p0.1 * p0.1 - 1.0;
                if qa <= 1e-24 {
                    // A segment along y (or of no length): inside everywhere or nowhere.
                    if qc < 0.0 { (0.0, 1.0) } else { return None }
                } else {
                    let disc = qb * qb - qa * qc;
                    if disc <= 0.0 {
                        return None;
                    }
                    let sq = disc.sqrt();
                    ((-qb - sq) / qa, (-qb + sq) / qa)
                }
            }
            AttenuationRegion::Rect {
                x_range_m, z_range_m, ..
            } => {
                let (x0, x1) = slab(a[0], b[0], x_range_m)?;
                let (z0, z1) = slab(a[1], b[1], z_range_m)?;
                (x0.max(z0), x1.min(z1))
            }
            AttenuationRegion::Layer {
                z_top_m, z_bottom_m, ..
            } => slab(a[1], b[1], (z_top_m, z_bottom_m))?,
        };
        let (t0, t1) = (t0.max(0.0), t1.min(1.0));
        (t1 > t0).then_some((t0, t1))
    }

    fn validate(&self) -> Result<()> {
        plausible(
            "attenuation_db_cm_mhz",
            self.attenuation_db_cm_mhz(),
            0.0,
            MAX_ATTENUATION_DB_CM_MHZ,
            "dB/(cm·MHz)",
        )?;
        let coord = |name, v| plausible(name, v, -MAX_REGION_EXTENT_M, MAX_REGION_EXTENT_M, "m");
        let ordered = |name: &'static str, r: (f64, f64)| -> Result<()> {
            coord(name, r.0)?;
            coord(name, r.1)?;
            if r.1 > r.0 {
                Ok(())
            } else {
                Err(Error::invalid(
                    name,
                    "a range (lo, hi) with hi > lo, in metres",
                    format!("({}, {})", r.0, r.1),
                ))
            }
        };
        match *self {
            AttenuationRegion::Ellipse {
                center_m,
                semi_axes_m,
                angle_rad,
                ..
            } => {
                coord("center_m", center_m[0])?;
                coord("center_m", center_m[1])?;
                for s in semi_axes_m {
                    plausible("semi_axes_m", s, 0.0, MAX_REGION_EXTENT_M, "m")?;
                    positive("semi_axes_m", s)?;
                }
                finite("angle_rad", angle_rad)?;
            }
            AttenuationRegion::Rect {
                x_range_m, z_range_m, ..
            } => {
                ordered("x_range_m", x_range_m)?;
                ordered("z_range_m", z_range_m)?;
            }
            AttenuationRegion::Layer {
                z_top_m, z_bottom_m, ..
            } => ordered("z_top_m..z_bottom_m", (z_top_m, z_bottom_m))?,
        }
        Ok(())
    }
}

/// `(x, z)` in the unit-circle coordinates of an ellipse.
fn ellipse_coords(center_m: [f64; 2], semi_axes_m: [f64; 2], angle_rad: f64, x: f64, z: f64) -> (f64, f64) {
    let (s, c) = angle_rad.sin_cos();
    let (dx, dz) = (x - center_m[0], z - center_m[1]);
    ((c * dx + s * dz) / semi_axes_m[0], (-s * dx + c * dz) / semi_axes_m[1])
}

/// The parameters `t` at which `a + t·(b − a)` lies in `[lo, hi]` (unbounded when `a = b` inside).
fn slab(a: f64, b: f64, (lo, hi): (f64, f64)) -> Option<(f64, f64)> {
    let d = b - a;
    if d.abs() <= 1e-12 * (1.0 + a.abs()) {
        return (a >= lo && a <= hi).then_some((f64::NEG_INFINITY, f64::INFINITY));
    }
    let (t0, t1) = ((lo - a) / d, (hi - a) / d);
    Some((t0.min(t1), t0.max(t1)))
}

/// Attenuation that depends on the tissue: [`AttenuationRegion`]s of the x–z plane, each with its
/// own attenuation, over a medium whose value applies elsewhere. Later regions win where regions
/// overlap (a skull ring is a bone ellipse with a brain ellipse inside it).
///
/// The map is plain data (an empty map is the homogeneous medium); [`AttenuationMap::new`] and
/// deserialisation validate it. Its use is the straight-path integral
/// [`AttenuationMap::path_db_per_mhz`], computed exactly from the segment's intersections with
/// each region (no sampling), in `O(regions²)` work on the stack.
///
/// ```
/// use sonochip::medium::{AttenuationMap, AttenuationRegion, Medium, FLUID_DB_CM_MHZ};
/// // A 2 cm fluid-filled cyst centred at 3 cm in tissue.
/// let map = AttenuationMap::new(vec![AttenuationRegion::disk([0.0, 0.03], 0.01, FLUID_DB_CM_MHZ)])?;
/// let tissue = Medium::soft_tissue();
/// // Down to 5 cm: 3 cm of tissue and 2 cm of fluid, dB per MHz.
/// let db = map.path_db_per_mhz(&tissue, [0.0; 3], [0.0, 0.0, 0.05]);
/// assert!((db - (3.0 * 0.5 + 2.0 * FLUID_DB_CM_MHZ)).abs() < 1e-9);
/// # Ok::<(), sonochip::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(try_from = "AttenuationMapFields")]
pub struct AttenuationMap {
    regions: Vec<AttenuationRegion>,
}

#[derive(Deserialize)]
struct AttenuationMapFields {
    regions: Vec<AttenuationRegion>,
}

impl TryFrom<AttenuationMapFields> for AttenuationMap {
    type Error = Error;
    fn try_from(f: AttenuationMapFields) -> Result<AttenuationMap> {
        AttenuationMap::new(f.regions)
    }
}

impl AttenuationMap {
    /// A map of `regions` (at most [`MAX_ATTENUATION_REGIONS`]), each checked: attenuation in
    /// 0–[`MAX_ATTENUATION_DB_CM_MHZ`] dB/(cm·MHz), coordinates within ±1 m, positive semi-axes,
    /// ranges with hi > lo (`InvalidParameter` naming the field and unit otherwise).
    pub fn new(regions: Vec<AttenuationRegion>) -> Result<AttenuationMap> {
        if regions.len() > MAX_ATTENUATION_REGIONS {
            return Err(Error::invalid(
                "regions",
                format!("at most {MAX_ATTENUATION_REGIONS} attenuation regions"),
                regions.len(),
            ));
        }
        for r in &regions {
            r.validate()?;
        }
        Ok(AttenuationMap { regions })
    }

    /// The regions, in painting order.
    pub fn regions(&self) -> &[AttenuationRegion] {
        &self.regions
    }

    /// True when the map has no region (the medium is homogeneous).
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// The attenuation at `(x, z)` in `medium`, dB/(cm·MHz): the last region containing the point,
    /// or the medium's.
    pub fn attenuation_at(&self, medium: &Medium, x: f64, z: f64) -> f64 {
        self.regions
            .iter()
            .rev()
            .find(|r| r.contains(x, z))
            .map_or(medium.attenuation_db_cm_mhz(), AttenuationRegion::attenuation_db_cm_mhz)
    }

    /// The attenuation integrated along the straight path from `from_m` to `to_m` in `medium`,
    /// `∫α ds` in dB per MHz: the one-way loss at `f` MHz is this times `f`. Exact (the path is
    /// cut at its intersections with the regions).
    pub fn path_db_per_mhz(&self, medium: &Medium, from_m: [f64; 3], to_m: [f64; 3]) -> f64 {
        let len_cm = 100.0
            * ((to_m[0] - from_m[0]).powi(2) + (to_m[1] - from_m[1]).powi(2) + (to_m[2] - from_m[2]).powi(2)).sqrt();
        let excess = self.mean_excess_db_cm_mhz(medium.attenuation_db_cm_mhz(), from_m, to_m);
        len_cm * (medium.attenuation_db_cm_mhz() + excess)
    }

    /// The mean of `α − medium_db` over the straight segment from `a` to `b`, dB/(cm·MHz): the
    /// segment is cut at every region's entry and exit, and each piece takes the last region
    /// containing it. No allocation (at most [`MAX_ATTENUATION_REGIONS`] intervals on the stack).
    pub(crate) fn mean_excess_db_cm_mhz(&self, medium_db: f64, a: [f64; 3], b: [f64; 3]) -> f64 {
        let n = self.regions.len().min(MAX_ATTENUATION_REGIONS);
        if n == 0 {
            return 0.0;
        }
        let (a2, b2) = ([a[0], a[2]], [b[0], b[2]]);
        let mut iv = [(0.0f64, 0.0f64); MAX_ATTENUATION_REGIONS];
        let mut cuts = [0.0f64; 2 * MAX_ATTENUATION_REGIONS + 2];
        let mut n_cuts = 2;
        cuts[1] = 1.0;
        for (i, r) in self.regions[..n].iter().enumerate() {
            // An empty interval (t1 < t0) contains nothing.
            iv[i] = r.interval(a2, b2).unwrap_or((2.0, 1.0));
            if iv[i].0 <= iv[i].1 {
                cuts[n_cuts] = iv[i].0;
                cuts[n_cuts + 1] = iv[i].1;
                n_cuts += 2;
            }
        }
        let cuts = &mut cuts[..n_cuts];
        cuts.sort_unstable_by(f64::total_cmp);
        let mut sum = 0.0;
        for w in cuts.windows(2) {
            let (t0, t1) = (w[0], w[1]);
            if t1 <= t0 {
                continue;
            }
            let mid = 0.5 * (t0 + t1);
            if let Some(i) = (0..n).rev().find(|&i| iv[i].0 <= mid && mid <= iv[i].1) {
                sum += (t1 - t0) * (self.regions[i].attenuation_db_cm_mhz() - medium_db);
            }
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nepers_agree_with_db() {
        let m = Medium::new(1540.0, 0.7).unwrap();
        let (f, l) = (3e6, 0.08);
        let np = m.alpha_np_per_m_hz() * f * l;
        assert!((20.0 * np / std::f64::consts::LN_10 - m.loss_db(f, l)).abs() < 1e-9);
        assert!(Medium::new(f64::NAN, 0.5).is_err());
        assert!(Medium::new(1540.0, -0.1).is_err());
        let e = Medium::new(1540.0, 25.0).unwrap_err().to_string();
        assert!(e.contains("attenuation_db_cm_mhz") && e.contains("dB/(cm·MHz)"), "{e}");
    }

    /// The exact path integral agrees with a fine midpoint sum over random segments through
    /// overlapping regions of every shape.
    #[test]
    fn path_integral_matches_a_midpoint_sum() {
        let map = AttenuationMap::new(vec![
            AttenuationRegion::layer(0.01, 0.02, 1.5),
            AttenuationRegion::ellipse([0.004, 0.03], [0.012, 0.006], 0.4, 0.002),
            AttenuationRegion::rect((-0.01, 0.0), (0.025, 0.045), 12.0),
            AttenuationRegion::disk([-0.003, 0.04], 0.004, 0.3),
        ])
        .unwrap();
        let m = Medium::soft_tissue();
        let mut seed = 1u64;
        let mut rnd = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..50 {
            let a = [(rnd() - 0.5) * 0.03, (rnd() - 0.5) * 0.01, rnd() * 0.01];
            let b = [(rnd() - 0.5) * 0.04, (rnd() - 0.5) * 0.01, 0.02 + rnd() * 0.04];
            let exact = map.path_db_per_mhz(&m, a, b);
            let n = 20_000;
            let len_cm = 100.0 * ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2) + (b[2] - a[2]).powi(2)).sqrt();
            let sum: f64 = (0..n)
                .map(|i| {
                    let t = (i as f64 + 0.5) / n as f64;
                    map.attenuation_at(&m, a[0] + t * (b[0] - a[0]), a[2] + t * (b[2] - a[2]))
                })
                .sum::<f64>()
                * len_cm
                / n as f64;
            assert!((exact - sum).abs() < 2e-3 * (1.0 + sum), "{exact} vs {sum}");
        }
        // A vertical path straight down through the layer only: 1 cm of 1.5, the rest tissue.
        let db = map.path_db_per_mhz(&m, [0.02, 0.0, 0.0], [0.02, 0.0, 0.025]);
        assert!((db - (1.5 + 1.5 * 0.5)).abs() < 1e-12, "{db}");
        // Along y only: the region the point lies in.
        let db = map.path_db_per_mhz(&m, [0.02, 0.0, 0.015], [0.02, 0.01, 0.015]);
        assert!((db - 1.5).abs() < 1e-12, "{db}");
    }

    #[test]
    fn bad_maps_are_refused_with_the_field() {
        let e = AttenuationMap::new(vec![AttenuationRegion::disk([0.0, 0.02], 0.003, 25.0)]).unwrap_err();
        assert_eq!(e.parameter(), Some("attenuation_db_cm_mhz"), "{e}");
        let e = AttenuationMap::new(vec![AttenuationRegion::disk([0.0, 20.0], 0.003, 1.0)]).unwrap_err();
        assert_eq!(e.parameter(), Some("center_m"), "{e}");
        let e = AttenuationMap::new(vec![AttenuationRegion::disk([0.0, 0.02], 0.0, 1.0)]).unwrap_err();
        assert_eq!(e.parameter(), Some("semi_axes_m"), "{e}");
        let e = AttenuationMap::new(vec![AttenuationRegion::rect((0.01, 0.0), (0.0, 0.01), 1.0)]).unwrap_err();
        assert_eq!(e.parameter(), Some("x_range_m"), "{e}");
        let e = AttenuationMap::new(vec![AttenuationRegion::layer(0.02, 0.01, 1.0)]).unwrap_err();
        assert_eq!(e.parameter(), Some("z_top_m..z_bottom_m"), "{e}");
        let e = AttenuationMap::new(vec![AttenuationRegion::layer(0.0, 0.01, f64::NAN)]).unwrap_err();
        assert_eq!(e.parameter(), Some("attenuation_db_cm_mhz"), "{e}");
        let many = vec![AttenuationRegion::layer(0.0, 0.01, 1.0); MAX_ATTENUATION_REGIONS + 1];
        assert_eq!(AttenuationMap::new(many).unwrap_err().parameter(), Some("regions"));
        let json = r#"{"regions":[{"Layer":{"z_top_m":0.02,"z_bottom_m":0.01,"attenuation_db_cm_mhz":1.0}}]}"#;
        assert!(serde_json::from_str::<AttenuationMap>(json).is_err());
        let ok = AttenuationMap::new(vec![AttenuationRegion::layer(0.0, 0.01, 1.0)]).unwrap();
        let back: AttenuationMap = serde_json::from_str(&serde_json::to_string(&ok).unwrap()).unwrap();
        assert_eq!(back, ok);
    }

    #[test]
    fn deserialised_media_are_validated() {
        let m: Medium = serde_json::from_str(&serde_json::to_string(&Medium::soft_tissue()).unwrap()).unwrap();
        assert_eq!(m, Medium::soft_tissue());
        let e = serde_json::from_str::<Medium>(r#"{"c_m_s": 1.54, "attenuation_db_cm_mhz": 0.5}"#).unwrap_err();
        assert!(e.to_string().contains("c_m_s") && e.to_string().contains("m/s"), "{e}");
        assert!(serde_json::from_str::<Medium>(r#"{"c_m_s": 1540, "attenuation_db_cm_mhz": 1e9}"#).is_err());
    }
}
