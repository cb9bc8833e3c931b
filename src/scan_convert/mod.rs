//! Scan conversion: an image on a [`Grid`] (`[n_lines, n_depths]`) → a Cartesian display raster.
//!
//! The output raster is `[height_px, width_px]` = `[z, x]`: row 0 is the shallowest, column 0 the
//! leftmost. It covers `x_range_m × z_range_m` edge to edge with pixels of
//! `dx = (x_max − x_min)/width_px`, `dz = (z_max − z_min)/height_px`; the centre of pixel `(0, 0)`
//! is `(x_min + dx/2, z_min + dz/2)` (see [`ScanConverter::origin_m`] and
//! [`ScanConverter::pixel_size_m`], the same convention as [`BModeFrame`]).
//!
//! [`ScanConverter::new`] builds once a lookup table that maps every raster pixel to a source
//! position in (line, depth) index space: the index of its top-left source pixel and the two
//! bilinear fractions, or "outside" (shown as the background). For a sector or curved grid a pixel
//! at `(x, z)` has `r = |p − apex|`, `θ = atan2(x − x_apex, z − z_apex)` and `depth = r − radius_offset`;
//! for a Cartesian grid `x` and `z` are looked up on the grid's axes directly (which resamples to the
//! chosen, for example square, pixels). Positions outside the grid's axes are outside. Non-uniform
//! axes are handled (the table stores fractional indices found by bisection).
//!
//! ```
//! use ndarray::Array2;
//! use sonochip::grid::Grid;
//! use sonochip::scan_convert::{RasterSpec, ScanConverter};
//!
//! let grid = Grid::sector((-0.6, 0.6), 64, (0.0, 0.08), 256).unwrap();
//! let spec = RasterSpec::square_pixels_for(&grid, 200).unwrap().with_background(0);
//! let sc = ScanConverter::new(&grid, spec).unwrap();
//! let img = Array2::from_elem((64, 256), 200u8);
//! let mut raster = Array2::zeros((sc.height_px(), sc.width_px()));
//! sc.convert_into(img.view(), raster.view_mut()).unwrap();
//! assert_eq!(raster[[150, sc.width_px() / 2]], 200); // inside the sector
//! assert_eq!(raster[[10, 0]], 0); // outside: background
//! ```

use crate::envelope::par_row_blocks;
use crate::error::{Error, Result, check_size};
use crate::frame::{BModeFrame, MAX_FRAME_COORDINATE_M, MAX_RASTER_SIDE_PX, check_geometry};
use crate::grid::{Grid, GridKind};
use ndarray::{Array2, ArrayView2, ArrayViewMut1, ArrayViewMut2};
use rayon::prelude::*;

mod iq;
pub use iq::{Baseband, baseband_phasors, remove_carrier};

/// Memory cap for a converter's lookup table, bytes.
const LUT_CAP_BYTES: u64 = 1 << 30;

/// Size and field of view of a display raster.
///
/// Ranges left at `None` take the defaults of [`RasterSpec::default_ranges_m`]; a display-depth
/// crop is `z_range_m = Some((z_min, display_depth_m))`. A plain value: [`RasterSpec::validate`]
/// (which [`ScanConverter::new`] calls before allocating anything) checks the sizes, the ranges
/// (finite edges within ±[`MAX_FRAME_COORDINATE_M`] metres, `hi > lo`) and the resulting pixel
/// size ([`PIXEL_SIZE_RANGE_M`](crate::frame::PIXEL_SIZE_RANGE_M)), so that every accepted raster
/// makes a valid [`BModeFrame`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RasterSpec {
    /// Number of columns (x), `1..=MAX_RASTER_SIDE_PX`.
    pub width_px: usize,
    /// Number of rows (z), `1..=MAX_RASTER_SIDE_PX`.
    pub height_px: usize,
    /// Lateral span `(left edge, right edge)`, metres (within ±[`MAX_FRAME_COORDINATE_M`]).
    pub x_range_m: Option<(f64, f64)>,
    /// Depth span `(top edge, bottom edge)`, metres (within ±[`MAX_FRAME_COORDINATE_M`]).
    pub z_range_m: Option<(f64, f64)>,
    /// Grey level of raster pixels outside the grid's field of view.
    pub background: u8,
}

impl Default for RasterSpec {
    /// 512 × 512 pixels, default ranges, black background.
    fn default() -> Self {
        RasterSpec::new(512, 512)
    }
}

impl RasterSpec {
    /// A `width_px × height_px` raster with the default ranges and a black background (checked
    /// later, by [`RasterSpec::validate`]).
    pub fn new(width_px: usize, height_px: usize) -> Self {
        RasterSpec {
            width_px,
            height_px,
            x_range_m: None,
            z_range_m: None,
            background: 0,
        }
    }

    /// Sets the lateral span `(left, right)`, metres (checked by [`RasterSpec::validate`]).
    pub fn with_x_range_m(mut self, x_range_m: (f64, f64)) -> Self {
        self.x_range_m = Some(x_range_m);
        self
    }

    /// Sets the depth span `(top, bottom)`, metres (checked by [`RasterSpec::validate`]).
    pub fn with_z_range_m(mut self, z_range_m: (f64, f64)) -> Self {
        self.z_range_m = Some(z_range_m);
        self
    }

    /// Sets the background grey level.
    pub fn with_background(mut self, background: u8) -> Self {
        self.background = background;
        self
    }

    /// The default ranges `(x_range_m, z_range_m)` for `grid`: x spans the grid's lateral extent; z
    /// spans from the probe face `z = 0` (or the grid's shallowest point if that is above the face,
    /// as on a curved grid's arc) to the grid's deepest point for a sector or curved grid, and the
    /// grid's own depth range for a Cartesian grid. A grid of one line (or one depth) has a range of
    /// zero width there, which [`RasterSpec::validate`] refuses: set that range explicitly. Errors on
    /// a point-list grid (`grid`). Cost: O(grid pixels) for the grid's extent.
    pub fn default_ranges_m(grid: &Grid) -> Result<((f64, f64), (f64, f64))> {
        let e = grid.extent();
        let z_min = match grid.kind() {
            GridKind::Cartesian { .. } => e.z_min_m,
            GridKind::Sector { .. } => e.z_min_m.min(0.0),
            GridKind::Points { .. } => return Err(points_error()),
        };
        Ok(((e.x_min_m, e.x_max_m), (z_min, e.z_max_m)))
    }

    /// This spec's ranges, the defaults filled in for `grid` (not validated). Errors and cost as
    /// [`RasterSpec::default_ranges_m`].
    pub fn resolved_ranges_m(&self, grid: &Grid) -> Result<((f64, f64), (f64, f64))> {
        let (x, z) = Self::default_ranges_m(grid)?;
        Ok((self.x_range_m.unwrap_or(x), self.z_range_m.unwrap_or(z)))
    }

    /// Square pixels: keeps `height_px` and the depth span, sets `width_px` to the nearest count
    /// that covers the lateral span and widens that span symmetrically so that `dx = dz` exactly.
    /// Errors name `height_px`, `z_range_m`, `x_range_m` or `width_px` (more than
    /// [`MAX_RASTER_SIDE_PX`] columns); nothing is allocated.
    pub fn with_square_pixels(mut self, grid: &Grid) -> Result<Self> {
        let ((x0, x1), (z0, z1)) = self.resolved_ranges_m(grid)?;
        check_side("height_px", self.height_px)?;
        check_range("z_range_m", (z0, z1))?;
        check_range("x_range_m", (x0, x1))?;
        let dz = (z1 - z0) / self.height_px as f64;
        let width = ((x1 - x0) / dz).round().max(1.0);
        if width > MAX_RASTER_SIDE_PX as f64 {
            return Err(Error::invalid(
                "width_px",
                format!("square pixels within {MAX_RASTER_SIDE_PX} columns"),
                width,
            ));
        }
        let (centre, half) = (0.5 * (x0 + x1), 0.5 * width * dz);
        self.width_px = width as usize;
        self.x_range_m = Some((centre - half, centre + half));
        self.z_range_m = Some((z0, z1));
        Ok(self)
    }

    /// A raster of `height_px` rows with square pixels over the default ranges for `grid`. Errors
    /// as [`RasterSpec::with_square_pixels`].
    pub fn square_pixels_for(grid: &Grid, height_px: usize) -> Result<Self> {
        RasterSpec::new(1, height_px).with_square_pixels(grid)
    }

    /// Checks this spec against `grid` without allocating, returning the resolved ranges
    /// `(x_range_m, z_range_m)`: `width_px` and `height_px` in `1..=`[`MAX_RASTER_SIDE_PX`]; a
    /// Cartesian or sector grid; ranges with finite edges within ±[`MAX_FRAME_COORDINATE_M`]
    /// metres and `hi > lo`; pixel sizes in [`PIXEL_SIZE_RANGE_M`](crate::frame::PIXEL_SIZE_RANGE_M)
    /// metres. The error names the field (`width_px`, `x_range_m`, `pixel_size_m[0]`, …). Cost:
    /// O(grid pixels) for the grid's extent when a range is left at its default.
    pub fn validate(&self, grid: &Grid) -> Result<((f64, f64), (f64, f64))> {
        check_side("width_px", self.width_px)?;
        check_side("height_px", self.height_px)?;
        geometry(grid)?;
        let ((x0, x1), (z0, z1)) = self.resolved_ranges_m(grid)?;
        check_range("x_range_m", (x0, x1))?;
        check_range("z_range_m", (z0, z1))?;
        let (dx, dz) = ((x1 - x0) / self.width_px as f64, (z1 - z0) / self.height_px as f64);
        check_geometry(self.height_px, self.width_px, [x0 + 0.5 * dx, z0 + 0.5 * dz], [dx, dz])?;
        Ok(((x0, x1), (z0, z1)))
    }
}

/// One raster pixel's source: top-left source index and bilinear fractions (units of 1/32768).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap {
    src: u32,
    line_frac: u16,
    depth_frac: u16,
    /// Whether the IQ path interpolates with cubic weights: [`CUBIC_DEPTH`] where the depth
    /// samples `k − 1` and `k + 2` exist, [`CUBIC_LINES`] where the lines `l − 1` and `l + 2` do
    /// (linear in the first and last interval of each axis).
    cubic: u8,
}

const OUTSIDE: u32 = u32::MAX;
const FRAC_ONE: f64 = 32768.0;
const OUTSIDE_TAP: Tap = Tap {
    src: OUTSIDE,
    line_frac: 0,
    depth_frac: 0,
    cubic: 0,
};
const CUBIC_DEPTH: u8 = 1;
const CUBIC_LINES: u8 = 2;

/// A scan-conversion plan for one grid and one raster. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct ScanConverter {
    input_shape: (usize, usize),
    width_px: usize,
    height_px: usize,
    x_range_m: (f64, f64),
    z_range_m: (f64, f64),
    background: u8,
    line_step: usize,
    depth_step: usize,
    lut: Vec<Tap>,
}

/// How raster positions map to fractional grid indices.
enum Geometry<'a> {
    Cartesian {
        x_m: &'a [f64],
        z_m: &'a [f64],
    },
    Sector {
        apex_x: f64,
        apex_z: f64,
        offset: f64,
        angles: &'a [f64],
        depths: &'a [f64],
    },
}

impl Geometry<'_> {
    /// `((line, line_frac), (depth, depth_frac))` of the point `(x, z)`, or `None` outside.
    fn locate(&self, x: f64, z: f64) -> Option<((usize, f64), (usize, f64))> {
        match *self {
            Geometry::Cartesian { x_m, z_m } => Some((axis_position(x_m, x)?, axis_position(z_m, z)?)),
            Geometry::Sector {
                apex_x,
                apex_z,
                offset,
                angles,
                depths,
            } => {
                let (dx, dz) = (x - apex_x, z - apex_z);
                let theta = dx.atan2(dz);
                let depth = dx.hypot(dz) - offset;
                Some((axis_position(angles, theta)?, axis_position(depths, depth)?))
            }
        }
    }
}

/// Fractional position of `v` on a strictly increasing axis: `(i, f)` with `v = a[i] + f·(a[i+1] − a[i])`,
/// `i ≤ n − 2` (or `(0, 0)` for a one-point axis); `None` outside `[a[0], a[n−1]]` (with a tolerance of
/// 1e-9 of the axis span for rounding).
fn axis_position(axis: &[f64], v: f64) -> Option<(usize, f64)> {
    let (first, last) = (*axis.first()?, *axis.last()?);
    let tol = 1e-9 * (last - first).abs().max(1e-12);
    if !(v >= first - tol && v <= last + tol) {
        return None;
    }
    if axis.len() == 1 {
        return Some((0, 0.0));
    }
    let v = v.clamp(first, last);
    let i = axis.partition_point(|&a| a <= v).clamp(1, axis.len() - 1) - 1;
    let f = (v - axis[i]) / (axis[i + 1] - axis[i]);
    Some((i, f.clamp(0.0, 1.0)))
}

fn points_error() -> Error {
    Error::invalid("grid", "a Cartesian or Sector grid", "a Points grid")
}

fn check_side(name: &'static str, n: usize) -> Result<()> {
    if n == 0 || n > MAX_RASTER_SIDE_PX {
        return Err(Error::invalid(name, format!("a size in 1..={MAX_RASTER_SIDE_PX}"), n));
    }
    Ok(())
}

/// Checks a raster range: finite edges within ±[`MAX_FRAME_COORDINATE_M`] metres, `hi > lo`.
fn check_range(name: &'static str, r: (f64, f64)) -> Result<()> {
    let m = MAX_FRAME_COORDINATE_M;
    if r.0.is_finite() && r.1.is_finite() && r.0.abs() <= m && r.1.abs() <= m && r.1 > r.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!(
                "finite edges (lo, hi) within ±{m} m with hi > lo, in metres (a grid of one line or one depth \
                 has no extent of its own along that axis: set the range)"
            ),
            format!("{r:?}"),
        ))
    }
}

fn check_axis(name: &'static str, axis: &[f64]) -> Result<()> {
    if axis.is_empty() {
        return Err(Error::empty(name, "at least one value"));
    }
    if axis.iter().any(|v| !v.is_finite()) || axis.windows(2).any(|w| w[1] <= w[0]) {
        return Err(Error::invalid(
            name,
            "finite, strictly increasing values",
            "another axis",
        ));
    }
    Ok(())
}

fn geometry(grid: &Grid) -> Result<Geometry<'_>> {
    match grid.kind() {
        GridKind::Cartesian { x_m, z_m, .. } => {
            check_axis("x_m", x_m)?;
            check_axis("z_m", z_m)?;
            Ok(Geometry::Cartesian { x_m, z_m })
        }
        GridKind::Sector {
            apex_m,
            angles_rad,
            depths_m,
            radius_offset_m,
        } => {
            check_axis("angles_rad", angles_rad)?;
            check_axis("depths_m", depths_m)?;
            if !(apex_m.iter().all(|v| v.is_finite()) && radius_offset_m.is_finite()) {
                return Err(Error::invalid(
                    "grid",
                    "a finite apex and radius offset",
                    format!("{apex_m:?}"),
                ));
            }
            Ok(Geometry::Sector {
                apex_x: apex_m[0],
                apex_z: apex_m[2],
                offset: *radius_offset_m,
                angles: angles_rad,
                depths: depths_m,
            })
        }
        GridKind::Points { .. } => Err(points_error()),
    }
}

impl ScanConverter {
    /// Plans the conversion of images on `grid` (Cartesian, sector or curved; a points grid is an
    /// error) to the raster `spec`, building the lookup table (in parallel over rows).
    ///
    /// `spec` is checked first ([`RasterSpec::validate`]; errors name the field), so a huge or
    /// implausible raster is refused before anything is allocated; grids of one line, one depth
    /// or one pixel work once their zero-width range is set. Cost: a lookup table of 12 bytes per
    /// raster pixel (at most 768 MiB at 8192 × 8192) and one bisection per pixel and axis.
    pub fn new(grid: &Grid, spec: RasterSpec) -> Result<Self> {
        let ((x0, x1), (z0, z1)) = spec.validate(grid)?;
        let geom = geometry(grid)?;
        let (n_lines, n_depths) = grid.shape();
        if n_lines.checked_mul(n_depths).is_none_or(|n| n >= OUTSIDE as usize) {
            return Err(Error::invalid(
                "grid",
                "fewer than 2^32 - 1 pixels",
                format!("{n_lines} x {n_depths}"),
            ));
        }
        let n_px = spec.width_px * spec.height_px;
        check_size("lookup table", (n_px * size_of::<Tap>()) as u128, LUT_CAP_BYTES)?;
        let mut sc = ScanConverter {
            input_shape: (n_lines, n_depths),
            width_px: spec.width_px,
            height_px: spec.height_px,
            x_range_m: (x0, x1),
            z_range_m: (z0, z1),
            background: spec.background,
            line_step: if n_lines > 1 { n_depths } else { 0 },
            depth_step: usize::from(n_depths > 1),
            lut: vec![OUTSIDE_TAP; n_px],
        };
        let mut lut = std::mem::take(&mut sc.lut);
        lut.par_chunks_mut(spec.width_px).enumerate().for_each(|(row, taps)| {
            for (col, tap) in taps.iter_mut().enumerate() {
                let [x, z] = sc.pixel_centre_m(row, col);
                *tap = match geom.locate(x, z) {
                    Some(((l, fl), (k, fk))) => Tap {
                        src: (l * n_depths + k) as u32,
                        line_frac: (fl * FRAC_ONE).round() as u16,
                        depth_frac: (fk * FRAC_ONE).round() as u16,
                        cubic: if k >= 1 && k + 2 < n_depths { CUBIC_DEPTH } else { 0 }
                            | if l >= 1 && l + 2 < n_lines { CUBIC_LINES } else { 0 },
                    },
                    None => OUTSIDE_TAP,
                };
            }
        });
        sc.lut = lut;
        Ok(sc)
    }

    /// The image shape `(n_lines, n_depths)` this converter takes.
    pub fn input_shape(&self) -> (usize, usize) {
        self.input_shape
    }

    /// Raster columns (x).
    pub fn width_px(&self) -> usize {
        self.width_px
    }

    /// Raster rows (z).
    pub fn height_px(&self) -> usize {
        self.height_px
    }

    /// The raster shape `(height_px, width_px)`.
    pub fn output_shape(&self) -> (usize, usize) {
        (self.height_px, self.width_px)
    }

    /// Lateral span of the raster `(left edge, right edge)`, metres.
    pub fn x_range_m(&self) -> (f64, f64) {
        self.x_range_m
    }

    /// Depth span of the raster `(top edge, bottom edge)`, metres.
    pub fn z_range_m(&self) -> (f64, f64) {
        self.z_range_m
    }

    /// Pixel size `[dx, dz]`, metres.
    pub fn pixel_size_m(&self) -> [f64; 2] {
        [
            (self.x_range_m.1 - self.x_range_m.0) / self.width_px as f64,
            (self.z_range_m.1 - self.z_range_m.0) / self.height_px as f64,
        ]
    }

    /// Centre of raster pixel (0, 0): `[x, z]`, metres.
    pub fn origin_m(&self) -> [f64; 2] {
        let [dx, dz] = self.pixel_size_m();
        [self.x_range_m.0 + 0.5 * dx, self.z_range_m.0 + 0.5 * dz]
    }

    /// Centre `[x, z]` (metres) of raster pixel `(row, col)`.
    pub fn pixel_centre_m(&self, row: usize, col: usize) -> [f64; 2] {
        let ([x0, z0], [dx, dz]) = (self.origin_m(), self.pixel_size_m());
        [x0 + col as f64 * dx, z0 + row as f64 * dz]
    }

    /// The background grey level of the u8 path.
    pub fn background(&self) -> u8 {
        self.background
    }

    /// Whether raster pixel `(row, col)` lies inside the grid's field of view (false out of range).
    pub fn is_inside(&self, row: usize, col: usize) -> bool {
        row < self.height_px && col < self.width_px && self.lut[row * self.width_px + col].src != OUTSIDE
    }

    /// Scan-converts the grey image `img` (`input_shape`) into `out` (`output_shape`), bilinear
    /// interpolation rounded to the nearest grey level, background outside the field of view.
    /// Allocates nothing when `img` is in standard (C) layout; otherwise it is copied once.
    pub fn convert_into(&self, img: ArrayView2<'_, u8>, out: ArrayViewMut2<'_, u8>) -> Result<()> {
        self.run(img, out, self.background, f32::from, |v| (v + 0.5) as u8)
    }

    /// Allocating form of [`convert_into`](ScanConverter::convert_into): one raster of
    /// `height_px × width_px` bytes.
    pub fn convert(&self, img: ArrayView2<'_, u8>) -> Result<Array2<u8>> {
        let mut out = Array2::zeros(self.output_shape());
        self.convert_into(img, out.view_mut())?;
        Ok(out)
    }

    /// Scan-converts a floating-point image (envelope, dB, …) into `out`, writing `background`
    /// outside the field of view. Allocation as [`convert_into`](ScanConverter::convert_into).
    pub fn convert_f32_into(
        &self,
        img: ArrayView2<'_, f32>,
        out: ArrayViewMut2<'_, f32>,
        background: f32,
    ) -> Result<()> {
        self.run(img, out, background, |v| v, |v| v)
    }

    /// Allocating form of [`convert_f32_into`](ScanConverter::convert_f32_into): one raster of
    /// `height_px × width_px` `f32`.
    pub fn convert_f32(&self, img: ArrayView2<'_, f32>, background: f32) -> Result<Array2<f32>> {
        let mut out = Array2::zeros(self.output_shape());
        self.convert_f32_into(img, out.view_mut(), background)?;
        Ok(out)
    }

    /// A frame with this raster's geometry, filled with the background. The geometry was checked
    /// by [`ScanConverter::new`], so this does not fail in practice. Cost: one raster of
    /// `height_px × width_px` bytes.
    pub fn new_frame(&self) -> Result<BModeFrame> {
        let pixels = Array2::from_elem(self.output_shape(), self.background);
        BModeFrame::new(pixels, self.origin_m(), self.pixel_size_m())
    }

    /// Scan-converts `img` into `frame`, which must have this raster's shape (as from
    /// [`new_frame`](ScanConverter::new_frame)); allocates nothing.
    pub fn convert_into_frame(&self, img: ArrayView2<'_, u8>, frame: &mut BModeFrame) -> Result<()> {
        let geometry_matches = frame.origin_m() == self.origin_m() && frame.pixel_size_m() == self.pixel_size_m();
        if !geometry_matches {
            return Err(Error::shape(
                "frame",
                format!("origin {:?} m, pixel size {:?} m", self.origin_m(), self.pixel_size_m()),
                format!(
                    "origin {:?} m, pixel size {:?} m",
                    frame.origin_m(),
                    frame.pixel_size_m()
                ),
            ));
        }
        self.convert_into(img, frame.pixels_mut())
    }

    /// Checks an input image's and an output raster's shapes against the plan.
    fn check_shapes(&self, img: (usize, usize), out: (usize, usize)) -> Result<()> {
        if img != self.input_shape {
            return Err(Error::shape(
                "img",
                format!("{:?} (the grid's shape)", self.input_shape),
                format!("{img:?}"),
            ));
        }
        if out != self.output_shape() {
            return Err(Error::shape(
                "out",
                format!("{:?} (height_px, width_px)", self.output_shape()),
                format!("{out:?}"),
            ));
        }
        Ok(())
    }

    fn run<T: Copy + Send + Sync>(
        &self,
        img: ArrayView2<'_, T>,
        out: ArrayViewMut2<'_, T>,
        background: T,
        to_f32: impl Fn(T) -> f32 + Sync,
        from_f32: impl Fn(f32) -> T + Sync,
    ) -> Result<()> {
        self.check_shapes(img.dim(), out.dim())?;
        let img = img.as_standard_layout();
        let Some(src) = img.as_slice() else {
            return Err(Error::shape("img", "a standard-layout array", "another layout"));
        };
        let (ls, ds) = (self.line_step, self.depth_step);
        let interpolate = |t: &Tap| {
            let i = t.src as usize;
            let wl = f32::from(t.line_frac) * (1.0 / FRAC_ONE as f32);
            let wd = f32::from(t.depth_frac) * (1.0 / FRAC_ONE as f32);
            let (p00, p01) = (to_f32(src[i]), to_f32(src[i + ds]));
            let (p10, p11) = (to_f32(src[i + ls]), to_f32(src[i + ls + ds]));
            let near = p00 + (p01 - p00) * wd;
            let far = p10 + (p11 - p10) * wd;
            from_f32(near + (far - near) * wl)
        };
        let row_kernel = |taps: &[Tap], mut row: ArrayViewMut1<'_, T>| {
            for (o, t) in row.iter_mut().zip(taps) {
                *o = if t.src == OUTSIDE { background } else { interpolate(t) };
            }
        };
        par_row_blocks(out, 4, &|first, mut block: ArrayViewMut2<'_, T>| {
            for (i, row) in block.outer_iter_mut().enumerate() {
                let start = (first + i) * self.width_px;
                row_kernel(&self.lut[start..start + self.width_px], row);
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Position of the raster maximum.
    fn argmax(a: &Array2<f32>) -> (usize, usize) {
        let mut best = ((0, 0), f32::NEG_INFINITY);
        for (ij, &v) in a.indexed_iter() {
            if v > best.1 {
                best = (ij, v);
            }
        }
        best.0
    }

    #[test]
    fn sector_point_lands_at_polar_position() {
        let grid = Grid::sector((-0.6, 0.6), 121, (0.0, 0.08), 801).unwrap();
        let sc = ScanConverter::new(&grid, RasterSpec::new(400, 400)).unwrap();
        for (line, k) in [(90usize, 500usize), (10, 700), (60, 150)] {
            let mut img = Array2::<f32>::zeros((121, 801));
            img[[line, k]] = 1.0;
            let raster = sc.convert_f32(img.view(), 0.0).unwrap();
            let (row, col) = argmax(&raster);
            let (theta, r) = (-0.6 + 0.01 * line as f64, 1e-4 * k as f64);
            let [x, z] = sc.pixel_centre_m(row, col);
            let [dx, dz] = sc.pixel_size_m();
            let err = (x - r * theta.sin()).hypot(z - r * theta.cos());
            assert!(err <= dx.hypot(dz), "line {line} k {k}: off by {err} m");
        }
    }

    #[test]
    fn uniform_image_stays_uniform_and_outside_is_background() {
        let (a0, a1, r0, r1) = (-0.5f64, 0.5f64, 0.01f64, 0.07f64);
        let grid = Grid::sector((a0, a1), 64, (r0, r1), 300).unwrap();
        let sc = ScanConverter::new(&grid, RasterSpec::new(300, 280).with_background(3)).unwrap();
        let raster = sc.convert(Array2::from_elem((64, 300), 77u8).view()).unwrap();
        let (mut inside, mut total) = (0usize, 0usize);
        for ((row, col), &v) in raster.indexed_iter() {
            let [x, z] = sc.pixel_centre_m(row, col);
            let (theta, r) = (x.atan2(z), x.hypot(z));
            let margin = 1e-7;
            let strictly_in = theta > a0 + margin && theta < a1 - margin && r > r0 + margin && r < r1 - margin;
            let strictly_out = theta < a0 - margin || theta > a1 + margin || r < r0 - margin || r > r1 + margin;
            if strictly_in {
                assert_eq!(v, 77, "inside at ({row}, {col})");
                inside += 1;
            } else if strictly_out {
                assert_eq!(v, 3, "outside at ({row}, {col})");
            }
            total += 1;
        }
        // The annular sector's area (θ span/2 · (r1² − r0²)) over the raster's area.
        let ((x0, x1), (z0, z1)) = (sc.x_range_m(), sc.z_range_m());
        let want = 0.5 * (a1 - a0) * (r1 * r1 - r0 * r0) / ((x1 - x0) * (z1 - z0));
        let got = inside as f64 / total as f64;
        assert!((got - want).abs() < 0.02 * want, "{got} vs {want}");
    }

    #[test]
    fn round_trip_on_a_smooth_image() {
        let f = |x: f64, z: f64| 2.0 + (2.0 * std::f64::consts::PI * x / 0.02).sin() * (z / 0.015).cos();
        let grid = Grid::sector((-0.5, 0.5), 128, (0.005, 0.06), 400).unwrap();
        let img = Array2::from_shape_fn(grid.shape(), |(l, k)| {
            let p = grid.position(l, k);
            f(p[0], p[2]) as f32
        });
        let sc = ScanConverter::new(&grid, RasterSpec::square_pixels_for(&grid, 600).unwrap()).unwrap();
        let raster = sc.convert_f32(img.view(), f32::NAN).unwrap();
        // Sample the raster back at every sector pixel (bilinear in raster index space).
        let ([x0, z0], [dx, dz]) = (sc.origin_m(), sc.pixel_size_m());
        let (mut worst, mut checked) = (0.0f64, 0usize);
        for ((l, k), &v) in img.indexed_iter() {
            let p = grid.position(l, k);
            let (c, r) = ((p[0] - x0) / dx, (p[2] - z0) / dz);
            let (c0, r0) = (c.floor(), r.floor());
            if c0 < 0.0 || r0 < 0.0 || c0 + 1.0 >= sc.width_px() as f64 || r0 + 1.0 >= sc.height_px() as f64 {
                continue;
            }
            let (fc, fr, c0, r0) = (c - c0, r - r0, c0 as usize, r0 as usize);
            let g = |rr: usize, cc: usize| raster[[rr, cc]] as f64;
            let top = g(r0, c0) * (1.0 - fc) + g(r0, c0 + 1) * fc;
            let bottom = g(r0 + 1, c0) * (1.0 - fc) + g(r0 + 1, c0 + 1) * fc;
            let back = top * (1.0 - fr) + bottom * fr;
            if back.is_nan() {
                continue; // next to the edge of the field of view
            }
            worst = worst.max((back - v as f64).abs());
            checked += 1;
        }
        assert!(checked > img.len() * 9 / 10, "{checked} of {}", img.len());
        assert!(worst < 0.02 * 2.0, "worst error {worst} over a range of 2");
    }

    #[test]
    fn curved_grid_geometry() {
        let d = 0.04;
        let grid = Grid::curved(d, (-0.4, 0.4), 81, (0.0, 0.1), 1001).unwrap();
        let spec = RasterSpec::square_pixels_for(&grid, 500).unwrap();
        let sc = ScanConverter::new(&grid, spec).unwrap();
        // The arc's ends lie above the face: the default depth range starts there.
        assert!((sc.z_range_m().0 - (d * 0.4f64.cos() - d)).abs() < 1e-12);
        for (line, k) in [(70usize, 300usize), (40, 0), (5, 900)] {
            let mut img = Array2::<f32>::zeros((81, 1001));
            img[[line, k]] = 1.0;
            let (row, col) = argmax(&sc.convert_f32(img.view(), 0.0).unwrap());
            let (theta, r) = (-0.4 + 0.01 * line as f64, d + 1e-4 * k as f64);
            let [x, z] = sc.pixel_centre_m(row, col);
            let [dx, dz] = sc.pixel_size_m();
            let err = (x - r * theta.sin()).hypot(z - (r * theta.cos() - d));
            assert!(err <= dx.hypot(dz), "line {line} k {k}: off by {err} m");
        }
        // Right above the arc's top (x = 0, z just below 0) is outside; right below it inside.
        let [_, dz] = sc.pixel_size_m();
        let row_of = |z: f64| ((z - sc.origin_m()[1]) / dz).round() as usize;
        let centre_col = sc.width_px() / 2;
        assert!(sc.is_inside(row_of(3.0 * dz), centre_col));
        assert!(!sc.is_inside(row_of(-3.0 * dz), centre_col));
    }

    #[test]
    fn cartesian_resampling_is_exact_for_linear_images() {
        let f = |x: f64, z: f64| 1.0 + 30.0 * x + 20.0 * z;
        for grid in [
            Grid::cartesian((-0.02, 0.02), 41, (0.01, 0.05), 81).unwrap(),
            Grid::cartesian_from_axes(vec![0.0, 0.001, 0.003, 0.006], vec![0.002, 0.0025, 0.004], 0.0).unwrap(),
        ] {
            let GridKind::Cartesian { x_m, z_m, .. } = grid.kind().clone() else {
                unreachable!()
            };
            let img = Array2::from_shape_fn(grid.shape(), |(l, k)| f(x_m[l], z_m[k]) as f32);
            let spec = RasterSpec::square_pixels_for(&grid, 200).unwrap();
            let sc = ScanConverter::new(&grid, spec).unwrap();
            let [dx, dz] = sc.pixel_size_m();
            assert!((dx - dz).abs() < 1e-12 * dz, "square pixels");
            let raster = sc.convert_f32(img.view(), f32::NAN).unwrap();
            let mut inside = 0;
            for ((row, col), &v) in raster.indexed_iter() {
                let [x, z] = sc.pixel_centre_m(row, col);
                let within = x >= x_m[0] && x <= x_m[x_m.len() - 1] && z >= z_m[0] && z <= z_m[z_m.len() - 1];
                if within {
                    assert!((v as f64 - f(x, z)).abs() < 1e-5, "({row}, {col}): {v} vs {}", f(x, z));
                    inside += 1;
                } else {
                    assert!(v.is_nan());
                }
            }
            assert!(inside > raster.len() * 9 / 10);
        }
    }

    #[test]
    fn raster_geometry() {
        let grid = Grid::sector((-0.3, 0.3), 17, (0.0, 0.05), 100).unwrap();
        let spec = RasterSpec::new(100, 50)
            .with_x_range_m((-0.01, 0.01))
            .with_z_range_m((0.0, 0.05));
        let sc = ScanConverter::new(&grid, spec).unwrap();
        let [dx, dz] = sc.pixel_size_m();
        assert!((dx - 2e-4).abs() < 1e-15 && (dz - 1e-3).abs() < 1e-15);
        let [ox, oz] = sc.origin_m();
        assert!((ox + 0.0099).abs() < 1e-15 && (oz - 0.0005).abs() < 1e-15);
        let frame = sc.new_frame().unwrap();
        assert_eq!((frame.height(), frame.width()), (50, 100));
        assert_eq!(frame.depth_extent_m(), sc.z_range_m());
        let mut frame = frame;
        sc.convert_into_frame(Array2::from_elem((17, 100), 9u8).view(), &mut frame)
            .unwrap();
        assert_eq!(frame.pixels()[[30, 50]], 9);
        // Default sector ranges start at the probe face.
        let ((x0, x1), (z0, z1)) = RasterSpec::default_ranges_m(&grid).unwrap();
        assert!((x1 - 0.05 * 0.3f64.sin()).abs() < 1e-12 && (x0 + x1).abs() < 1e-12);
        assert_eq!((z0, z1), (0.0, 0.05));
    }

    #[test]
    fn non_contiguous_input_converts_like_contiguous() {
        let grid = Grid::sector((-0.4, 0.4), 20, (0.0, 0.04), 50).unwrap();
        let sc = ScanConverter::new(&grid, RasterSpec::new(64, 64)).unwrap();
        let img = Array2::from_shape_fn((20, 50), |(l, k)| (l * 5 + k) as u8);
        let transposed = img.t().to_owned();
        let a = sc.convert(img.view()).unwrap();
        let b = sc.convert(transposed.t()).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn invalid_inputs_are_errors() {
        let grid = Grid::sector((-0.4, 0.4), 20, (0.0, 0.04), 50).unwrap();
        let points = Grid::points(vec![[0.0, 0.0, 0.01]]).unwrap();
        assert!(ScanConverter::new(&points, RasterSpec::default()).is_err());
        assert!(ScanConverter::new(&grid, RasterSpec::new(0, 10)).is_err());
        assert!(ScanConverter::new(&grid, RasterSpec::new(10, MAX_RASTER_SIDE_PX + 1)).is_err());
        assert!(ScanConverter::new(&grid, RasterSpec::new(10, 10).with_x_range_m((0.01, 0.0))).is_err());
        assert!(ScanConverter::new(&grid, RasterSpec::new(10, 10).with_z_range_m((0.0, f64::NAN))).is_err());
        assert!(RasterSpec::square_pixels_for(&grid, 0).is_err());
        let sc = ScanConverter::new(&grid, RasterSpec::new(10, 12)).unwrap();
        let e = sc.convert(Array2::zeros((20, 49)).view()).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { name: "img", .. }));
        let mut out = Array2::zeros((10, 12));
        assert!(sc.convert_into(Array2::zeros((20, 50)).view(), out.view_mut()).is_err());
        let mut frame = BModeFrame::new(Array2::zeros((12, 10)), [0.0; 2], [1.0; 2]).unwrap();
        assert!(
            sc.convert_into_frame(Array2::zeros((20, 50)).view(), &mut frame)
                .is_err()
        );
    }

    #[test]
    fn axis_positions() {
        let axis = [0.0, 1.0, 3.0];
        assert_eq!(axis_position(&axis, 2.0), Some((1, 0.5)));
        assert_eq!(axis_position(&axis, 3.0), Some((1, 1.0)));
        assert_eq!(axis_position(&axis, 0.0), Some((0, 0.0)));
        assert_eq!(axis_position(&axis, 3.1), None);
        assert_eq!(axis_position(&axis, f64::NAN), None);
        assert_eq!(axis_position(&[2.0], 2.0), Some((0, 0.0)));
    }

    /// Grids of one line, one depth or one pixel convert or give a typed error naming the range to
    /// set; point grids are refused.
    #[test]
    fn odd_grids_convert_or_give_typed_errors() {
        let z: Vec<f64> = (0..50).map(|k| 0.01 + 1e-3 * k as f64).collect();
        let x: Vec<f64> = (0..20).map(|l| -0.01 + 1e-3 * l as f64).collect();
        let one_line = Grid::cartesian_from_axes(vec![0.0], z.clone(), 0.0).unwrap();
        let one_depth = Grid::cartesian_from_axes(x, vec![0.02], 0.0).unwrap();
        let one_ray = Grid::polar([0.0; 3], 0.0, vec![0.1], z).unwrap();
        let one_pixel = Grid::polar([0.0; 3], 0.0, vec![0.0], vec![0.02]).unwrap();
        let cases = [
            (
                &one_line,
                "x_range_m",
                RasterSpec::new(10, 10).with_x_range_m((-0.01, 0.01)),
            ),
            (
                &one_depth,
                "z_range_m",
                RasterSpec::new(10, 10).with_z_range_m((0.0, 0.03)),
            ),
            (&one_ray, "", RasterSpec::new(10, 10)),
            (
                &one_pixel,
                "x_range_m",
                RasterSpec::new(3, 3).with_x_range_m((-0.001, 0.001)),
            ),
        ];
        for (grid, missing, spec) in cases {
            match ScanConverter::new(grid, RasterSpec::new(10, 10)) {
                Ok(_) => assert!(missing.is_empty()),
                Err(e) => assert_eq!(e.parameter(), Some(missing), "{e}"),
            }
            // Square pixels either work or give a typed error.
            let _ = RasterSpec::square_pixels_for(grid, 10).and_then(|s| ScanConverter::new(grid, s));
            let sc = ScanConverter::new(grid, spec).unwrap();
            let img = Array2::from_elem(grid.shape(), 7u8);
            let out = sc.convert(img.view()).unwrap();
            assert_eq!(out.dim(), (spec.height_px, spec.width_px));
            let f = sc.convert_f32(img.mapv(f32::from).view(), -1.0).unwrap();
            assert!(f.iter().all(|&v| v == -1.0 || (v - 7.0).abs() < 1e-4));
            let mut frame = sc.new_frame().unwrap();
            sc.convert_into_frame(img.view(), &mut frame).unwrap();
        }
        let points = Grid::points(vec![[0.0, 0.0, 0.01]]).unwrap();
        assert_eq!(
            ScanConverter::new(&points, RasterSpec::new(4, 4))
                .unwrap_err()
                .parameter(),
            Some("grid")
        );
        assert!(RasterSpec::square_pixels_for(&points, 10).is_err());
    }

    /// Rasters beyond the plausible field or with pixels below 10 nm are refused before the lookup
    /// table is allocated, and whatever is accepted makes a valid frame.
    #[test]
    fn implausible_rasters_are_refused_before_allocating() {
        let grid = Grid::sector((-0.4, 0.4), 20, (0.0, 0.04), 50).unwrap();
        let e = ScanConverter::new(&grid, RasterSpec::new(10, 10).with_z_range_m((0.0, 1e300))).unwrap_err();
        assert!(
            e.parameter() == Some("z_range_m") && e.to_string().contains(" m"),
            "{e}"
        );
        let e = ScanConverter::new(&grid, RasterSpec::new(8192, 10).with_x_range_m((0.0, 1e-6))).unwrap_err();
        assert_eq!(e.parameter(), Some("pixel_size_m[0]"), "{e}");
        for (w, h) in [(usize::MAX, 1), (1, usize::MAX), (0, 0), (MAX_RASTER_SIDE_PX + 1, 1)] {
            assert!(ScanConverter::new(&grid, RasterSpec::new(w, h)).is_err());
        }
        let m = MAX_FRAME_COORDINATE_M;
        let spec = RasterSpec::new(1, 1).with_x_range_m((-m, m)).with_z_range_m((-m, m));
        let sc = ScanConverter::new(&grid, spec).unwrap();
        assert!(sc.new_frame().is_ok());
    }
}
