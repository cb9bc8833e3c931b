//! Pixel grids on which images are formed.
//!
//! Every grid is a set of *lines* (image columns: x positions, beams or rays) each holding
//! *depth samples*; images on a grid are `ndarray` arrays of shape `[n_lines, n_depths]` in C order,
//! so one line is contiguous along depth (the direction the beamformer vectorises).
//!
//! * [`Grid::cartesian`]: x × z in the `y = y_m` plane (lines are x positions);
//! * [`Grid::sector`]: a polar sector from the aperture centre (lines are beams at angle θ from +z,
//!   positive towards +x; depth is the radius);
//! * [`Grid::curved`]: rays from a virtual apex a distance `d` behind the array, as a convex probe of
//!   radius `d` would see them; depth is measured along each ray from the arc of radius `d`;
//! * [`Grid::points`]: an arbitrary list of 3D points (one line).
//!
//! ```
//! use sonochip::grid::Grid;
//! let g = Grid::cartesian((-0.01, 0.01), 64, (0.005, 0.04), 128).unwrap();
//! assert_eq!(g.shape(), (64, 128));
//! let p = g.position(0, 0);
//! assert!((p[0] + 0.01).abs() < 1e-12 && (p[2] - 0.005).abs() < 1e-12);
//! ```

use crate::error::{Error, Result, count_at_least, finite, finite_point, plausible, positive};
use serde::{Deserialize, Serialize};

/// Largest number of pixels a grid may hold (guards allocations made from a grid).
pub const MAX_PIXELS: usize = 1 << 26;

/// The geometry family of a grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum GridKind {
    /// Lines are x positions (`x_m`), depths are z positions (`z_m`), in the plane `y = y_m`.
    Cartesian {
        /// Lateral positions, metres, increasing.
        x_m: Vec<f64>,
        /// Depths, metres, increasing.
        z_m: Vec<f64>,
        /// The elevation of the plane, metres.
        y_m: f64,
    },
    /// Lines are rays from `apex_m` at angles `angles_rad` (from +z towards +x); sample `k` of a
    /// ray lies at radius `radius_offset_m + depths_m[k]` from the apex. A polar sector has its apex
    /// at the origin and no offset; a curved grid has its apex at `(0, 0, -d)` and offset `d`.
    Sector {
        /// Apex of the rays, metres.
        apex_m: [f64; 3],
        /// Ray angles, radians, increasing.
        angles_rad: Vec<f64>,
        /// Depths along each ray, metres, increasing (measured from the offset radius).
        depths_m: Vec<f64>,
        /// Radius at which depth zero lies (0 for a polar sector, `d` for a curved grid).
        radius_offset_m: f64,
    },
    /// An arbitrary list of points (one line).
    Points {
        /// The points, metres.
        points_m: Vec<[f64; 3]>,
    },
}

/// Axis-aligned bounding box of a grid in the x–z plane, metres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Extent {
    /// Smallest x.
    pub x_min_m: f64,
    /// Largest x.
    pub x_max_m: f64,
    /// Smallest z.
    pub z_min_m: f64,
    /// Largest z.
    pub z_max_m: f64,
}

/// A pixel grid. See the [module docs](self).
///
/// Built by the constructors below (validated); a deserialised grid is validated the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "GridFields")]
pub struct Grid {
    kind: GridKind,
}

#[derive(Deserialize)]
struct GridFields {
    kind: GridKind,
}

impl TryFrom<GridFields> for Grid {
    type Error = Error;
    fn try_from(f: GridFields) -> Result<Grid> {
        match f.kind {
            GridKind::Cartesian { x_m, z_m, y_m } => Grid::cartesian_from_axes(x_m, z_m, y_m),
            GridKind::Sector {
                apex_m,
                angles_rad,
                depths_m,
                radius_offset_m,
            } => Grid::polar(apex_m, radius_offset_m, angles_rad, depths_m),
            GridKind::Points { points_m } => Grid::points(points_m),
        }
    }
}

/// Largest magnitude of a grid coordinate, metres (plausibility: a value in millimetres where
/// metres are expected is refused rather than imaged as nothing).
pub const MAX_COORDINATE_M: f64 = 10.0;

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![0.5 * (a + b)];
    }
    let step = (b - a) / (n - 1) as f64;
    (0..n).map(|i| a + step * i as f64).collect()
}

fn check_axis(name: &'static str, v: &[f64]) -> Result<()> {
    if v.is_empty() {
        return Err(Error::empty(name, "at least one value"));
    }
    for w in v.windows(2) {
        if w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater) {
            return Err(Error::invalid(
                name,
                "strictly increasing finite values",
                format!("{} then {}", w[0], w[1]),
            ));
        }
    }
    for &x in v {
        plausible(name, x, -MAX_COORDINATE_M, MAX_COORDINATE_M, "m")?;
    }
    Ok(())
}

fn check_pixels(a: usize, b: usize) -> Result<()> {
    match a.checked_mul(b) {
        Some(n) if n <= MAX_PIXELS => Ok(()),
        _ => Err(Error::invalid(
            "grid size",
            format!("at most {MAX_PIXELS} pixels"),
            format!("{a} x {b}"),
        )),
    }
}

fn check_range(name: &'static str, r: (f64, f64), n: usize) -> Result<()> {
    finite(name, r.0)?;
    finite(name, r.1)?;
    if r.0.abs().max(r.1.abs()) > MAX_COORDINATE_M {
        return Err(Error::invalid(
            name,
            format!("a range within ±{MAX_COORDINATE_M} (metres or radians)"),
            format!("({}, {})", r.0, r.1),
        ));
    }
    if n > 1 && r.1.partial_cmp(&r.0) != Some(std::cmp::Ordering::Greater) {
        return Err(Error::invalid(
            name,
            "a range (lo, hi) with hi > lo",
            format!("({}, {})", r.0, r.1),
        ));
    }
    Ok(())
}

impl Grid {
    /// Cartesian grid in the `y = 0` plane: `nx` lines evenly spaced over `x_range_m` (inclusive), `nz`
    /// depths evenly spaced over `z_range_m` (inclusive).
    pub fn cartesian(x_range_m: (f64, f64), nx: usize, z_range_m: (f64, f64), nz: usize) -> Result<Grid> {
        count_at_least("nx", nx, 1)?;
        count_at_least("nz", nz, 1)?;
        check_pixels(nx, nz)?;
        check_range("x_range_m", x_range_m, nx)?;
        check_range("z_range_m", z_range_m, nz)?;
        Grid::cartesian_from_axes(
            linspace(x_range_m.0, x_range_m.1, nx),
            linspace(z_range_m.0, z_range_m.1, nz),
            0.0,
        )
    }

    /// Cartesian grid from explicit, strictly increasing axes, in the plane `y = y_m`.
    pub fn cartesian_from_axes(x_m: Vec<f64>, z_m: Vec<f64>, y_m: f64) -> Result<Grid> {
        check_axis("x_m", &x_m)?;
        check_axis("z_m", &z_m)?;
        plausible("y_m", y_m, -MAX_COORDINATE_M, MAX_COORDINATE_M, "m")?;
        check_pixels(x_m.len(), z_m.len())?;
        Ok(Grid {
            kind: GridKind::Cartesian { x_m, z_m, y_m },
        })
    }

    /// Polar sector from the aperture centre: `n_beams` angles evenly spaced over `angle_range_rad`
    /// (radians from +z, positive towards +x), `n_depths` radii over `depth_range_m`.
    pub fn sector(
        angle_range_rad: (f64, f64),
        n_beams: usize,
        depth_range_m: (f64, f64),
        n_depths: usize,
    ) -> Result<Grid> {
        Grid::rays([0.0; 3], 0.0, angle_range_rad, n_beams, depth_range_m, n_depths)
    }

    /// Curved grid: rays from a virtual apex `apex_distance_m` behind the array centre, as a convex
    /// probe of that radius would image; depth is measured along each ray from the arc of that radius.
    pub fn curved(
        apex_distance_m: f64,
        angle_range_rad: (f64, f64),
        n_rays: usize,
        depth_range_m: (f64, f64),
        n_depths: usize,
    ) -> Result<Grid> {
        positive("apex_distance_m", apex_distance_m)?;
        plausible("apex_distance_m", apex_distance_m, 0.0, MAX_COORDINATE_M, "m")?;
        Grid::rays(
            [0.0, 0.0, -apex_distance_m],
            apex_distance_m,
            angle_range_rad,
            n_rays,
            depth_range_m,
            n_depths,
        )
    }

    fn rays(
        apex_m: [f64; 3],
        offset: f64,
        ang: (f64, f64),
        n_beams: usize,
        dep: (f64, f64),
        n_depths: usize,
    ) -> Result<Grid> {
        count_at_least("n_beams", n_beams, 1)?;
        count_at_least("n_depths", n_depths, 1)?;
        check_pixels(n_beams, n_depths)?;
        check_range("angle_range_rad", ang, n_beams)?;
        check_range("depth_range_m", dep, n_depths)?;
        Grid::polar(
            apex_m,
            offset,
            linspace(ang.0, ang.1, n_beams),
            linspace(dep.0, dep.1, n_depths),
        )
    }

    /// Polar grid from explicit axes (uniform or not): rays from `apex_m` at `angles_rad` (strictly
    /// increasing, inside (−π/2, π/2), from +z towards +x); sample `k` of a ray lies at radius
    /// `radius_offset_m + depths_m[k]` from the apex (`depths_m` strictly increasing, ≥ 0). A sector
    /// from the aperture centre has its apex at the origin and no offset; a convex probe of radius
    /// `R` centred at `(0, 0, −R)` has apex `(0, 0, −R)` and offset `R`.
    pub fn polar(apex_m: [f64; 3], radius_offset_m: f64, angles_rad: Vec<f64>, depths_m: Vec<f64>) -> Result<Grid> {
        check_axis("angles_rad", &angles_rad)?;
        check_axis("depths_m", &depths_m)?;
        check_pixels(angles_rad.len(), depths_m.len())?;
        for (k, &a) in apex_m.iter().enumerate() {
            plausible(
                ["apex_m[0]", "apex_m[1]", "apex_m[2]"][k],
                a,
                -MAX_COORDINATE_M,
                MAX_COORDINATE_M,
                "m",
            )?;
        }
        plausible("radius_offset_m", radius_offset_m, 0.0, MAX_COORDINATE_M, "m")?;
        let half_pi = std::f64::consts::FRAC_PI_2;
        let (a0, a1) = (angles_rad[0], angles_rad[angles_rad.len() - 1]);
        if a0 <= -half_pi || a1 >= half_pi {
            return Err(Error::invalid(
                "angle_range_rad",
                "angles strictly inside (-pi/2, pi/2)",
                format!("({a0}, {a1})"),
            ));
        }
        if depths_m[0] < 0.0 {
            return Err(Error::invalid("depth_range_m", "non-negative depths", depths_m[0]));
        }
        Ok(Grid {
            kind: GridKind::Sector {
                apex_m,
                angles_rad,
                depths_m,
                radius_offset_m,
            },
        })
    }

    /// An arbitrary list of 3D points (for volumes, biplanes or single probes).
    pub fn points(points_m: Vec<[f64; 3]>) -> Result<Grid> {
        if points_m.is_empty() {
            return Err(Error::empty("points_m", "at least one point"));
        }
        check_pixels(1, points_m.len())?;
        for p in &points_m {
            finite_point("points_m", *p)?;
            if p.iter().any(|v| v.abs() > MAX_COORDINATE_M) {
                return Err(Error::invalid(
                    "points_m",
                    format!("points within ±{MAX_COORDINATE_M} m, in metres"),
                    format!("{p:?}"),
                ));
            }
        }
        Ok(Grid {
            kind: GridKind::Points { points_m },
        })
    }

    /// The geometry family and its axes.
    pub fn kind(&self) -> &GridKind {
        &self.kind
    }

    /// `(n_lines, n_depths)`: the shape of an image on this grid.
    pub fn shape(&self) -> (usize, usize) {
        match &self.kind {
            GridKind::Cartesian { x_m, z_m, .. } => (x_m.len(), z_m.len()),
            GridKind::Sector {
                angles_rad, depths_m, ..
            } => (angles_rad.len(), depths_m.len()),
            GridKind::Points { points_m } => (1, points_m.len()),
        }
    }

    /// Number of pixels.
    pub fn n_pixels(&self) -> usize {
        let (a, b) = self.shape();
        a * b
    }

    /// Position of pixel `(line, k)`, metres, or `None` outside [`Grid::shape`].
    pub fn get_position(&self, line: usize, k: usize) -> Option<[f64; 3]> {
        let (nl, nd) = self.shape();
        (line < nl && k < nd).then(|| self.position(line, k))
    }

    /// Position of pixel `(line, k)`, metres.
    ///
    /// # Panics
    ///
    /// Like slice indexing, if `(line, k)` lies outside [`Grid::shape`] (a programming error);
    /// [`Grid::get_position`] returns `None` instead.
    pub fn position(&self, line: usize, k: usize) -> [f64; 3] {
        match &self.kind {
            GridKind::Cartesian { x_m, z_m, y_m } => [x_m[line], *y_m, z_m[k]],
            GridKind::Sector {
                apex_m,
                angles_rad,
                depths_m,
                radius_offset_m,
            } => {
                let (s, c) = angles_rad[line].sin_cos();
                let r = radius_offset_m + depths_m[k];
                [apex_m[0] + r * s, apex_m[1], apex_m[2] + r * c]
            }
            GridKind::Points { points_m } => {
                assert_eq!(line, 0, "a point grid has one line");
                points_m[k]
            }
        }
    }

    /// All pixel positions in image order (`line * n_depths + k`).
    pub fn positions(&self) -> Vec<[f64; 3]> {
        let (nl, nd) = self.shape();
        let mut v = Vec::with_capacity(nl * nd);
        for l in 0..nl {
            for k in 0..nd {
                v.push(self.position(l, k));
            }
        }
        v
    }

    /// The depth of every sample of the grid's lines, metres: Cartesian z, or the depth along a
    /// ray of a sector. Errors: a point list, whose pixels lie on no lines (`grid`).
    pub fn line_depths_m(&self) -> Result<&[f64]> {
        match &self.kind {
            GridKind::Cartesian { z_m, .. } => Ok(z_m),
            GridKind::Sector { depths_m, .. } => Ok(depths_m),
            _ => Err(Error::invalid("grid", "a Cartesian or sector grid", "a point list")),
        }
    }

    /// The one-line grid of line `line` (a Cartesian column or a sector ray, with all its depths):
    /// what an M-mode or a sample gate beamforms. Errors: a point list (`grid`), a line beyond the
    /// grid (`line`).
    pub fn line_grid(&self, line: usize) -> Result<Grid> {
        let n_lines = self.shape().0;
        let beyond = || Error::invalid("line", format!("a line below {n_lines}"), line);
        match &self.kind {
            GridKind::Cartesian { x_m, z_m, y_m } => {
                let x = *x_m.get(line).ok_or_else(beyond)?;
                Grid::cartesian_from_axes(vec![x], z_m.clone(), *y_m)
            }
            GridKind::Sector {
                apex_m,
                angles_rad,
                depths_m,
                radius_offset_m,
            } => {
                let a = *angles_rad.get(line).ok_or_else(beyond)?;
                Grid::polar(*apex_m, *radius_offset_m, vec![a], depths_m.clone())
            }
            _ => Err(Error::invalid("grid", "a Cartesian or sector grid", "a point list")),
        }
    }

    /// Bounding box of the pixels in the x–z plane.
    pub fn extent(&self) -> Extent {
        let mut e = Extent {
            x_min_m: f64::INFINITY,
            x_max_m: f64::NEG_INFINITY,
            z_min_m: f64::INFINITY,
            z_max_m: f64::NEG_INFINITY,
        };
        let (nl, nd) = self.shape();
        let mut add = |p: [f64; 3]| {
            e.x_min_m = e.x_min_m.min(p[0]);
            e.x_max_m = e.x_max_m.max(p[0]);
            e.z_min_m = e.z_min_m.min(p[2]);
            e.z_max_m = e.z_max_m.max(p[2]);
        };
        match &self.kind {
            GridKind::Points { points_m } => points_m.iter().for_each(|p| add(*p)),
            GridKind::Cartesian { .. } => {
                add(self.position(0, 0));
                add(self.position(nl - 1, nd - 1));
            }
            GridKind::Sector { .. } => {
                // Edges of the sector and the arc tops (z extremes lie on edges or on the axis).
                for l in 0..nl {
                    add(self.position(l, 0));
                    add(self.position(l, nd - 1));
                }
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sector_positions_follow_polar_convention() {
        let g = Grid::sector((-0.5, 0.5), 3, (0.01, 0.1), 10).unwrap();
        let p = g.position(2, 9);
        assert!((p[0] - 0.1 * 0.5f64.sin()).abs() < 1e-12);
        assert!((p[2] - 0.1 * 0.5f64.cos()).abs() < 1e-12);
        let e = g.extent();
        assert!(e.x_min_m < 0.0 && e.x_max_m > 0.0 && (e.z_max_m - 0.1).abs() < 1e-3 + 0.1 * (1.0 - 0.5f64.cos()));
    }

    #[test]
    fn curved_depth_zero_on_arc() {
        let g = Grid::curved(0.03, (-0.5, 0.5), 5, (0.0, 0.1), 11).unwrap();
        let p = g.position(2, 0);
        assert!(p[0].abs() < 1e-12 && p[2].abs() < 1e-12);
        let q = g.position(4, 10);
        assert!((q[2] - (0.13 * 0.5f64.cos() - 0.03)).abs() < 1e-12);
    }

    #[test]
    fn bad_grids_are_errors() {
        assert!(Grid::cartesian((0.0, 0.0), 2, (0.0, 1.0), 2).is_err());
        assert!(Grid::cartesian((0.0, 1.0), 0, (0.0, 1.0), 2).is_err());
        assert!(Grid::sector((-2.0, 2.0), 4, (0.0, 1.0), 2).is_err());
        assert!(Grid::points(vec![]).is_err());
        assert!(Grid::cartesian((0.0, 1.0), 1 << 14, (0.0, 1.0), 1 << 14).is_err());
        assert!(Grid::cartesian_from_axes(vec![0.0, 0.0], vec![1.0], 0.0).is_err());
        // Millimetres where metres are expected.
        let e = Grid::cartesian((-20.0, 20.0), 8, (5.0, 40.0), 8).unwrap_err();
        assert!(e.to_string().contains("x_range_m"), "{e}");
        assert!(Grid::points(vec![[0.0, 0.0, 30.0]]).is_err());
    }

    #[test]
    fn positions_inside_and_outside() {
        let g = Grid::cartesian((-0.01, 0.01), 3, (0.01, 0.02), 4).unwrap();
        assert_eq!(g.get_position(2, 3), Some(g.position(2, 3)));
        assert_eq!(g.get_position(3, 0), None);
        assert_eq!(g.get_position(0, 4), None);
        let p = Grid::points(vec![[0.0, 0.0, 0.01]]).unwrap();
        assert_eq!(p.get_position(1, 0), None);
    }

    #[test]
    fn polar_grids_from_explicit_axes() {
        // A convex probe's grid with non-uniform depths.
        let g = Grid::polar([0.001, 0.0, -0.04], 0.04, vec![-0.3, 0.0, 0.2], vec![0.0, 0.01, 0.03]).unwrap();
        assert_eq!(g.shape(), (3, 3));
        let p = g.position(1, 2);
        assert!((p[0] - 0.001).abs() < 1e-12 && (p[2] - 0.03).abs() < 1e-12);
        let curved = Grid::curved(0.04, (-0.3, 0.2), 2, (0.0, 0.03), 2).unwrap();
        let same = Grid::polar([0.0, 0.0, -0.04], 0.04, vec![-0.3, 0.2], vec![0.0, 0.03]).unwrap();
        assert_eq!(curved, same);
        assert!(Grid::polar([0.0; 3], 0.0, vec![0.2, 0.1], vec![0.01]).is_err());
        assert!(Grid::polar([0.0; 3], 0.0, vec![1.6], vec![0.01]).is_err());
        assert!(Grid::polar([0.0; 3], 0.0, vec![0.1], vec![-0.01]).is_err());
    }

    #[test]
    fn deserialised_grids_are_validated() {
        let g = Grid::sector((-0.5, 0.5), 3, (0.01, 0.1), 10).unwrap();
        let json = serde_json::to_string(&g).unwrap();
        assert_eq!(serde_json::from_str::<Grid>(&json).unwrap(), g);
        for bad in [
            r#"{"kind":{"Points":{"points_m":[]}}}"#,
            r#"{"kind":{"Cartesian":{"x_m":[0.0,0.0],"z_m":[0.01],"y_m":0.0}}}"#,
            r#"{"kind":{"Sector":{"apex_m":[0,0,0],"angles_rad":[2.0],"depths_m":[0.01],"radius_offset_m":0}}}"#,
        ] {
            assert!(serde_json::from_str::<Grid>(bad).is_err(), "{bad}");
        }
    }
}
