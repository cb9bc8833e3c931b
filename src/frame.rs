//! [`BModeFrame`]: the displayed image, 8-bit grey pixels with their physical geometry.
//!
//! Pixels are `[rows, cols]` = `[z, x]`: row 0 is the shallowest, column 0 the leftmost. Pixel
//! `(row, col)` has its centre at `x = origin_m[0] + col·dx`, `z = origin_m[1] + row·dz` (metres, the
//! crate's coordinates: z depth from the probe face). Pixel `(0, 0)` covers `origin ± (dx, dz)/2`,
//! so the image spans [`x_extent_m`](BModeFrame::x_extent_m) × [`depth_extent_m`](BModeFrame::depth_extent_m)
//! edge to edge. An app draws rulers and measures distances with these helpers;
//! [`save_png_with_depth_scale`](BModeFrame::save_png_with_depth_scale) writes a PNG with a depth ruler.
//!
//! ```
//! use ndarray::Array2;
//! use sonochip::frame::BModeFrame;
//!
//! // 200 rows × 100 columns of 0.1 mm pixels, the first pixel centre at x = -4.95 mm, z = 0.05 mm.
//! let f = BModeFrame::new(Array2::zeros((200, 100)), [-4.95e-3, 0.05e-3], [1e-4, 1e-4]).unwrap();
//! let (z0, z1) = f.depth_extent_m();
//! assert!(z0.abs() < 1e-12 && (z1 - 0.02).abs() < 1e-12);
//! assert_eq!(f.pixel_at_m(0.02e-3, 10.02e-3), Some((100, 50)));
//! ```

use crate::error::{Error, Result, plausible};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use std::path::Path;

/// Largest number of rows or columns of a frame (and of a scan-converted raster).
pub const MAX_RASTER_SIDE_PX: usize = 8192;

/// Largest magnitude of a frame coordinate (pixel centres and image edges), metres: the farthest
/// point a valid [`Grid`](crate::grid::Grid) can reach (apex, radius offset and depth, each up to
/// [`crate::grid::MAX_COORDINATE_M`]).
pub const MAX_FRAME_COORDINATE_M: f64 = 3.0 * crate::grid::MAX_COORDINATE_M;

/// Plausible pixel sizes, metres: 10 nm to twice [`MAX_FRAME_COORDINATE_M`] (one pixel across the
/// whole plausible field). The frame's edges must also lie within ±[`MAX_FRAME_COORDINATE_M`].
pub const PIXEL_SIZE_RANGE_M: (f64, f64) = (1e-8, 2.0 * MAX_FRAME_COORDINATE_M);

/// Checks a frame's geometry as [`BModeFrame::new`] documents it.
pub(crate) fn check_geometry(rows: usize, cols: usize, origin_m: [f64; 2], pixel_size_m: [f64; 2]) -> Result<()> {
    for (name, n) in [("pixels rows", rows), ("pixels cols", cols)] {
        if n == 0 || n > MAX_RASTER_SIDE_PX {
            return Err(Error::shape(
                name,
                format!("between 1 and {MAX_RASTER_SIDE_PX}"),
                n.to_string(),
            ));
        }
    }
    let m = MAX_FRAME_COORDINATE_M;
    plausible("origin_m[0]", origin_m[0], -m, m, "m")?;
    plausible("origin_m[1]", origin_m[1], -m, m, "m")?;
    let (lo, hi) = PIXEL_SIZE_RANGE_M;
    plausible("pixel_size_m[0]", pixel_size_m[0], lo, hi, "m")?;
    plausible("pixel_size_m[1]", pixel_size_m[1], lo, hi, "m")?;
    for (name, o, d, n) in [
        ("x_extent_m", origin_m[0], pixel_size_m[0], cols),
        ("depth_extent_m", origin_m[1], pixel_size_m[1], rows),
    ] {
        let (first, last) = (o - 0.5 * d, o + (n as f64 - 0.5) * d);
        let tol = 1e-9 * m;
        if !(first >= -m - tol && last <= m + tol) {
            return Err(Error::invalid(
                name,
                format!("image edges within ±{m} m, in metres (origin_m, pixel_size_m and the pixel count)"),
                format!("({first}, {last})"),
            ));
        }
    }
    Ok(())
}

/// A B-mode image with its geometry. See the [module docs](self).
///
/// The fields are private: the geometry checked by [`BModeFrame::new`] holds for the frame's life
/// (`pixels_mut` changes grey levels, never the shape).
#[derive(Debug, Clone, PartialEq)]
pub struct BModeFrame {
    pixels: Array2<u8>,
    origin_m: [f64; 2],
    pixel_size_m: [f64; 2],
}

impl BModeFrame {
    /// A frame from pixels `[rows (z), cols (x)]` (each side in `1..=MAX_RASTER_SIDE_PX`), the centre
    /// of pixel (0, 0) `origin_m = [x, z]` (metres, each within ±[`MAX_FRAME_COORDINATE_M`]) and the
    /// pixel size `pixel_size_m = [dx, dz]` (metres, in [`PIXEL_SIZE_RANGE_M`]); the image's edges
    /// ([`x_extent_m`](BModeFrame::x_extent_m), [`depth_extent_m`](BModeFrame::depth_extent_m))
    /// must lie within ±[`MAX_FRAME_COORDINATE_M`] too, which bounds the depth ruler to a few
    /// thousand ticks. Errors name the field (`pixels rows`, `origin_m[1]`, `pixel_size_m[0]`,
    /// `depth_extent_m`, …), the expected range in metres and the value. Cost: O(1); takes
    /// ownership of `pixels` without copying.
    pub fn new(pixels: Array2<u8>, origin_m: [f64; 2], pixel_size_m: [f64; 2]) -> Result<Self> {
        let (h, w) = pixels.dim();
        check_geometry(h, w, origin_m, pixel_size_m)?;
        Ok(BModeFrame {
            pixels,
            origin_m,
            pixel_size_m,
        })
    }

    /// The pixels, `[rows (z), cols (x)]`, C order. Cost: O(1), a view.
    pub fn pixels(&self) -> ArrayView2<'_, u8> {
        self.pixels.view()
    }

    /// The pixels for writing (for example as the output of a scan conversion); the shape and the
    /// geometry cannot change through it. Cost: O(1), a view.
    pub fn pixels_mut(&mut self) -> ArrayViewMut2<'_, u8> {
        self.pixels.view_mut()
    }

    /// The pixel array, consuming the frame. Cost: O(1), no copy.
    pub fn into_pixels(self) -> Array2<u8> {
        self.pixels
    }

    /// Centre of pixel (0, 0): `[x, z]`, metres (each within ±[`MAX_FRAME_COORDINATE_M`]).
    pub fn origin_m(&self) -> [f64; 2] {
        self.origin_m
    }

    /// Pixel size `[dx, dz]`, metres (each in [`PIXEL_SIZE_RANGE_M`]).
    pub fn pixel_size_m(&self) -> [f64; 2] {
        self.pixel_size_m
    }

    /// Number of columns (x), in `1..=`[`MAX_RASTER_SIDE_PX`].
    pub fn width(&self) -> usize {
        self.pixels.ncols()
    }

    /// Number of rows (z), in `1..=`[`MAX_RASTER_SIDE_PX`].
    pub fn height(&self) -> usize {
        self.pixels.nrows()
    }

    /// Lateral span `(left edge, right edge)`, metres (within ±[`MAX_FRAME_COORDINATE_M`]).
    pub fn x_extent_m(&self) -> (f64, f64) {
        let (x0, dx) = (self.origin_m[0], self.pixel_size_m[0]);
        (x0 - 0.5 * dx, x0 + (self.width() as f64 - 0.5) * dx)
    }

    /// Depth span `(top edge, bottom edge)`, metres (within ±[`MAX_FRAME_COORDINATE_M`]).
    pub fn depth_extent_m(&self) -> (f64, f64) {
        let (z0, dz) = (self.origin_m[1], self.pixel_size_m[1]);
        (z0 - 0.5 * dz, z0 + (self.height() as f64 - 0.5) * dz)
    }

    /// Centre `[x, z]` (metres) of pixel `(row, col)`; fractional and out-of-image indices are
    /// allowed (the arithmetic extends the grid; non-finite indices give non-finite results).
    pub fn pixel_to_m(&self, row: f64, col: f64) -> [f64; 2] {
        [
            self.origin_m[0] + col * self.pixel_size_m[0],
            self.origin_m[1] + row * self.pixel_size_m[1],
        ]
    }

    /// Fractional pixel indices `[row, col]` of the point `(x_m, z_m)` (pixel centres are integers;
    /// points outside the image give indices outside `0..height`, `0..width`).
    pub fn m_to_pixel(&self, x_m: f64, z_m: f64) -> [f64; 2] {
        [
            (z_m - self.origin_m[1]) / self.pixel_size_m[1],
            (x_m - self.origin_m[0]) / self.pixel_size_m[0],
        ]
    }

    /// The pixel `(row, col)` containing the point `(x_m, z_m)`, or `None` outside the image (and for
    /// non-finite coordinates).
    pub fn pixel_at_m(&self, x_m: f64, z_m: f64) -> Option<(usize, usize)> {
        let [r, c] = self.m_to_pixel(x_m, z_m);
        let (r, c) = ((r + 0.5).floor(), (c + 0.5).floor());
        let inside = |v: f64, n: usize| v >= 0.0 && v < n as f64;
        (inside(r, self.height()) && inside(c, self.width())).then_some((r as usize, c as usize))
    }

    /// Distance in metres between two pixel positions `(row, col)` (fractional allowed), for
    /// calipers. Cost: O(1).
    pub fn distance_m(&self, a: (f64, f64), b: (f64, f64)) -> f64 {
        let pa = self.pixel_to_m(a.0, a.1);
        let pb = self.pixel_to_m(b.0, b.1);
        (pa[0] - pb[0]).hypot(pa[1] - pb[1])
    }

    /// The pixels as an `image` grey image. Cost: one copy of the pixels (at most 64 MiB).
    pub fn to_gray_image(&self) -> image::GrayImage {
        let (w, h) = (self.width() as u32, self.height() as u32);
        let raw: Vec<u8> = self.pixels.iter().copied().collect();
        image::GrayImage::from_raw(w, h, raw).unwrap_or_else(|| image::GrayImage::new(w, h))
    }

    /// Writes the frame as an 8-bit greyscale PNG, creating missing parent folders. Errors:
    /// [`Error::Io`] naming the path when a folder or the file cannot be written,
    /// [`Error::Format`] when the encoder fails. Cost: one copy of the pixels and the encoding.
    pub fn save_png(&self, path: impl AsRef<Path>) -> Result<()> {
        write_png(&self.to_gray_image(), path.as_ref())
    }

    /// Writes the frame as an 8-bit greyscale PNG with a black margin of 24 columns on the right
    /// holding a depth ruler (a vertical line one column right of the image, a tick at every whole
    /// centimetre of depth z ≥ 0, longer every 5 cm, labelled in cm with a small bitmap font when the
    /// ticks are far enough apart) and a margin of 12 rows at the bottom holding a 1 cm lateral scale
    /// bar when it fits. Missing parent folders are created; errors as
    /// [`save_png`](BModeFrame::save_png). Cost: as [`with_depth_scale`](BModeFrame::with_depth_scale)
    /// plus the encoding.
    pub fn save_png_with_depth_scale(&self, path: impl AsRef<Path>) -> Result<()> {
        write_png(&self.with_depth_scale(), path.as_ref())
    }

    /// The image [`save_png_with_depth_scale`](BModeFrame::save_png_with_depth_scale) writes:
    /// `(width + 24) × (height + 12)` pixels. Cost: one canvas of that size and the ruler's ticks
    /// (bounded as [`depth_tick_rows`](BModeFrame::depth_tick_rows)); the scale bar is at most the
    /// image's width.
    pub fn with_depth_scale(&self) -> image::GrayImage {
        let (w, h) = (self.width(), self.height());
        let mut canvas = Canvas::new(w + RULER_MARGIN_PX, h + SCALE_BAR_MARGIN_PX);
        for ((r, c), &v) in self.pixels.indexed_iter() {
            canvas.set(c as i64, r as i64, v);
        }
        self.draw_depth_ruler(&mut canvas);
        self.draw_scale_bar(&mut canvas);
        canvas.into_image()
    }

    /// Rows of the ticks of the depth ruler: `(row, depth_cm)` for each whole centimetre z ≥ 0 whose
    /// nearest pixel centre lies in the image. Cost: one step per whole centimetre of the image's
    /// depth span, which the frame's geometry bounds (at most 3,001 steps within
    /// ±[`MAX_FRAME_COORDINATE_M`]); the loop counts in integers, so it ends whatever the values.
    pub fn depth_tick_rows(&self) -> Vec<(usize, u32)> {
        let (top, bottom) = self.depth_extent_m();
        // Whole centimetres within the image's depth span, clamped to what the geometry allows.
        let max_cm = (MAX_FRAME_COORDINATE_M / CM).ceil();
        let first = (top / CM).ceil().clamp(0.0, max_cm) as u32;
        let last = (bottom / CM).floor().clamp(-1.0, max_cm);
        let mut ticks = Vec::new();
        if last < 0.0 {
            return ticks;
        }
        for cm in first..=last as u32 {
            let row = self.m_to_pixel(self.origin_m[0], f64::from(cm) * CM)[0].round();
            if row >= 0.0 && row < self.height() as f64 {
                ticks.push((row as usize, cm));
            }
        }
        ticks
    }

    fn draw_depth_ruler(&self, canvas: &mut Canvas) {
        let (w, h) = (self.width() as i64, self.height() as i64);
        let axis = w + 1;
        for r in 0..h {
            canvas.set(axis, r, 255);
        }
        let px_per_cm = CM / self.pixel_size_m[1];
        let label_every = if px_per_cm >= 8.0 {
            1
        } else if px_per_cm * 5.0 >= 8.0 {
            5
        } else {
            0
        };
        for (row, cm) in self.depth_tick_rows() {
            let len = if cm % 5 == 0 { 7 } else { 4 };
            for c in axis..=axis + len {
                canvas.set(c, row as i64, 255);
            }
            if label_every > 0 && cm % label_every == 0 {
                canvas.text(axis + 9, row as i64 - 2, &cm.to_string());
            }
        }
    }

    fn draw_scale_bar(&self, canvas: &mut Canvas) {
        let len = (CM / self.pixel_size_m[0]).round();
        let (w, h) = (self.width() as f64, self.height() as i64);
        if !(len >= 2.0 && len + 8.0 <= w) {
            return;
        }
        let (x0, x1, y) = (4, 4 + len as i64 - 1, h + SCALE_BAR_ROW_OFFSET);
        for c in x0..=x1 {
            canvas.set(c, y, 255);
        }
        for r in y - 2..=y + 2 {
            canvas.set(x0, r, 255);
            canvas.set(x1, r, 255);
        }
        canvas.text(x1 + 4, y - 2, "1cm");
    }
}

/// Columns added on the right by [`BModeFrame::save_png_with_depth_scale`].
pub(crate) const RULER_MARGIN_PX: usize = 24;
/// Rows added at the bottom by [`BModeFrame::save_png_with_depth_scale`] (its docs repeat the value).
pub(crate) const SCALE_BAR_MARGIN_PX: usize = 12;
/// Row of the scale bar below the image's last row.
const SCALE_BAR_ROW_OFFSET: i64 = 5;
const CM: f64 = 0.01;

/// Writes an 8-bit image (grey or RGB) as a PNG at `path`, creating missing parent folders.
/// Errors: [`Error::Io`] naming the path or the folder, [`Error::Format`] from the encoder.
pub(crate) fn write_png<P>(img: &image::ImageBuffer<P, Vec<u8>>, path: &Path) -> Result<()>
where
    P: image::Pixel<Subpixel = u8> + image::PixelWithColorType,
{
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| match e {
            image::ImageError::IoError(io) => Error::io(path, io),
            other => Error::format(path, other),
        })
}

/// A grey canvas with clipped drawing.
struct Canvas {
    w: usize,
    h: usize,
    data: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Canvas {
            w,
            h,
            data: vec![0; w * h],
        }
    }

    fn set(&mut self, x: i64, y: i64, v: u8) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            self.data[y as usize * self.w + x as usize] = v;
        }
    }

    /// Draws `s` in white with its top-left corner at `(x, y)`; unknown characters leave a gap.
    fn text(&mut self, mut x: i64, y: i64, s: &str) {
        for ch in s.chars() {
            let g = glyph(ch);
            for (dy, bits) in g.rows.iter().enumerate() {
                for dx in 0..g.width {
                    if bits >> (g.width - 1 - dx) & 1 == 1 {
                        self.set(x + dx as i64, y + dy as i64, 255);
                    }
                }
            }
            x += g.width as i64 + 1;
        }
    }

    fn into_image(self) -> image::GrayImage {
        let (w, h) = (self.w as u32, self.h as u32);
        image::GrayImage::from_raw(w, h, self.data).unwrap_or_else(|| image::GrayImage::new(w, h))
    }
}

/// A bitmap glyph five rows high; bit `width − 1` of a row is its leftmost pixel.
struct Glyph {
    width: u8,
    rows: [u8; 5],
}

/// The built-in font: digits 3×5, `c` 3×5, `m` 5×5, anything else a blank 3×5.
fn glyph(ch: char) -> Glyph {
    let g3 = |rows| Glyph { width: 3, rows };
    match ch {
        '0' => g3([0b111, 0b101, 0b101, 0b101, 0b111]),
        '1' => g3([0b010, 0b110, 0b010, 0b010, 0b111]),
        '2' => g3([0b111, 0b001, 0b111, 0b100, 0b111]),
        '3' => g3([0b111, 0b001, 0b111, 0b001, 0b111]),
        '4' => g3([0b101, 0b101, 0b111, 0b001, 0b001]),
        '5' => g3([0b111, 0b100, 0b111, 0b001, 0b111]),
        '6' => g3([0b111, 0b100, 0b111, 0b101, 0b111]),
        '7' => g3([0b111, 0b001, 0b001, 0b001, 0b001]),
        '8' => g3([0b111, 0b101, 0b111, 0b101, 0b111]),
        '9' => g3([0b111, 0b101, 0b111, 0b001, 0b111]),
        'c' => g3([0b000, 0b011, 0b100, 0b100, 0b011]),
        'm' => Glyph {
            width: 5,
            rows: [0b00000, 0b11010, 0b10101, 0b10101, 0b10101],
        },
        _ => g3([0; 5]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_png(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("sonochip-frame-{}-{name}.png", std::process::id()))
    }

    #[test]
    fn geometry_helpers() {
        let f = BModeFrame::new(Array2::zeros((300, 120)), [-0.006, 0.001], [1e-4, 2e-4]).unwrap();
        assert_eq!((f.width(), f.height()), (120, 300));
        let (x0, x1) = f.x_extent_m();
        assert!((x0 + 0.00605).abs() < 1e-12 && (x1 - (-0.006 + 119.5e-4)).abs() < 1e-12);
        let (z0, z1) = f.depth_extent_m();
        assert!((z0 - 0.0009).abs() < 1e-12 && (z1 - (0.001 + 299.5 * 2e-4)).abs() < 1e-12);
        let p = f.pixel_to_m(10.0, 60.0);
        assert!(p[0].abs() < 1e-12 && (p[1] - 0.003).abs() < 1e-12);
        let [r, c] = f.m_to_pixel(p[0], p[1]);
        assert!((r - 10.0).abs() < 1e-9 && (c - 60.0).abs() < 1e-9);
        assert_eq!(f.pixel_at_m(0.00004, 0.00309), Some((10, 60)));
        assert_eq!(f.pixel_at_m(0.0, 0.0), None);
        assert_eq!(f.pixel_at_m(1.0, 0.003), None);
        // 30 rows × 0.2 mm down and 80 columns × 0.1 mm across: a 6-8-10 mm triangle.
        assert!((f.distance_m((0.0, 0.0), (50.0, 0.0)) - 0.01).abs() < 1e-12);
        assert!((f.distance_m((0.0, 0.0), (30.0, 80.0)) - 0.01).abs() < 1e-12);
    }

    #[test]
    fn invalid_frames_are_errors() {
        assert!(BModeFrame::new(Array2::zeros((0, 5)), [0.0; 2], [1e-4; 2]).is_err());
        assert!(BModeFrame::new(Array2::zeros((5, 5)), [f64::NAN, 0.0], [1e-4; 2]).is_err());
        assert!(BModeFrame::new(Array2::zeros((5, 5)), [0.0; 2], [0.0, 1e-4]).is_err());
        assert!(BModeFrame::new(Array2::zeros((5, MAX_RASTER_SIDE_PX + 1)), [0.0; 2], [1e-4; 2]).is_err());
    }

    #[test]
    fn png_round_trip() {
        let px = Array2::from_shape_fn((37, 53), |(r, c)| ((r * 7 + c * 3) % 256) as u8);
        let f = BModeFrame::new(px.clone(), [0.0, 0.0], [1e-4, 1e-4]).unwrap();
        let path = temp_png("roundtrip");
        f.save_png(&path).unwrap();
        let back = image::open(&path).unwrap().into_luma8();
        std::fs::remove_file(&path).ok();
        assert_eq!((back.width(), back.height()), (53, 37));
        for ((r, c), &v) in px.indexed_iter() {
            assert_eq!(back.get_pixel(c as u32, r as u32).0[0], v);
        }
    }

    /// A folder that cannot be made (its parent is a file) is an I/O error naming the path, with
    /// the operating system's error as its source.
    #[test]
    fn save_to_missing_folder_is_io_error() {
        let f = BModeFrame::new(Array2::zeros((4, 4)), [0.0; 2], [1e-4; 2]).unwrap();
        let file = std::env::temp_dir().join(format!("sonochip-file-{}", std::process::id()));
        std::fs::write(&file, b"x").unwrap();
        let path = file.join("a/b.png");
        let r = f.save_png(&path);
        assert!(matches!(f.save_png(&path), Err(Error::Io { .. })));
        assert!(std::error::Error::source(&r.unwrap_err()).is_some());
        std::fs::remove_file(&file).ok();
    }

    /// Missing parent folders are created, as `ChannelData::save` does.
    #[test]
    fn save_creates_parent_folders() {
        let f = BModeFrame::new(Array2::zeros((4, 4)), [0.0; 2], [1e-4; 2]).unwrap();
        let dir = std::env::temp_dir().join(format!("sonochip-new-{}", std::process::id()));
        let path = dir.join("a/b.png");
        f.save_png(&path).unwrap();
        f.save_png_with_depth_scale(dir.join("c/d.png")).unwrap();
        assert!(path.exists() && dir.join("c/d.png").exists());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn depth_ruler_ticks_at_whole_centimetres() {
        // 0.5 mm rows with the first centre at z = 0: 1 cm every 20 rows, 12 cm deep (rows 0..240).
        let (h, w) = (240, 150);
        let f = BModeFrame::new(Array2::from_elem((h, w), 40), [-0.0375, 0.0], [5e-4, 5e-4]).unwrap();
        let ticks = f.depth_tick_rows();
        assert_eq!(ticks, (0..12).map(|cm| (20 * cm as usize, cm)).collect::<Vec<_>>());
        let path = temp_png("ruler");
        f.save_png_with_depth_scale(&path).unwrap();
        let img = image::open(&path).unwrap().into_luma8();
        std::fs::remove_file(&path).ok();
        assert_eq!(
            (img.width() as usize, img.height() as usize),
            (w + RULER_MARGIN_PX, h + SCALE_BAR_MARGIN_PX)
        );
        let at = |c: usize, r: usize| img.get_pixel(c as u32, r as u32).0[0];
        assert_eq!(at(10, 10), 40, "image copied");
        for r in 0..h {
            assert_eq!(at(w + 1, r), 255, "axis line");
            let is_tick = r % 20 == 0;
            assert_eq!(
                at(w + 3, r),
                if is_tick { 255 } else { 0 },
                "short tick column, row {r}"
            );
            let is_long = r % 100 == 0;
            assert_eq!(at(w + 7, r), if is_long { 255 } else { 0 }, "long tick column, row {r}");
        }
        // Label "3" next to the 3 cm tick (row 60): its top row is 0b111.
        assert!((0..3).all(|d| at(w + 10 + d, 58) == 255));
        // Lateral 1 cm bar: 20 pixels of 0.5 mm.
        let bar_row = h + SCALE_BAR_ROW_OFFSET as usize;
        let lit: Vec<usize> = (0..w).filter(|&c| at(c, bar_row) == 255).collect();
        assert_eq!(lit.first(), Some(&4));
        assert!(lit.contains(&23) && !lit.contains(&24) && !lit.contains(&25));
    }

    #[test]
    fn ruler_starts_at_the_face_for_negative_origins() {
        // The top edge is above the face (a curved probe's arc); ticks only for z >= 0.
        let f = BModeFrame::new(Array2::zeros((100, 10)), [0.0, -0.0049], [1e-3, 1e-3]).unwrap();
        let ticks = f.depth_tick_rows();
        assert_eq!(ticks.first(), Some(&(5, 0)));
        assert_eq!(ticks.last(), Some(&(95, 9)));
    }

    /// Formerly accepted: `with_depth_scale` then never returned (`cm += 1.0` stops advancing near
    /// 1e15 cm) and grew until out of memory; a pixel size of 1e10 m likewise.
    #[test]
    fn implausible_geometry_is_refused() {
        let e = BModeFrame::new(Array2::zeros((16, 16)), [0.0, 1e15], [1e-4, 1e-3]).unwrap_err();
        assert_eq!(e.parameter(), Some("origin_m[1]"), "{e}");
        assert!(
            e.to_string().contains("] m") && e.to_string().contains("1000000000000000"),
            "{e}"
        );
        let e = BModeFrame::new(Array2::zeros((16, 16)), [0.0, 0.0], [1e-4, 1e10]).unwrap_err();
        assert_eq!(e.parameter(), Some("pixel_size_m[1]"), "{e}");
        let e = BModeFrame::new(Array2::zeros((16, 16)), [0.0, 0.0], [1e10, 1e-4]).unwrap_err();
        assert_eq!(e.parameter(), Some("pixel_size_m[0]"), "{e}");
        let e = BModeFrame::new(Array2::zeros((16, 16)), [f64::INFINITY, 0.0], [1e-4; 2]).unwrap_err();
        assert_eq!(e.parameter(), Some("origin_m[0]"), "{e}");
        let e = BModeFrame::new(Array2::zeros((8000, 16)), [0.0, 0.0], [1e-4, 0.01]).unwrap_err();
        assert_eq!(e.parameter(), Some("depth_extent_m"), "{e}");
        let e = BModeFrame::new(Array2::zeros((16, 8000)), [0.0, 0.0], [0.01, 1e-4]).unwrap_err();
        assert_eq!(e.parameter(), Some("x_extent_m"), "{e}");
    }

    /// The deepest and the coarsest frames allowed draw their rulers with a bounded number of ticks.
    #[test]
    fn rulers_are_bounded_at_the_limits() {
        let m = MAX_FRAME_COORDINATE_M;
        // Edges at -29.5 m and +26.5 m: 2,651 whole centimetres below the face, all on 8 rows.
        let f = BModeFrame::new(Array2::zeros((8, 8)), [0.0, -26.0], [1e-4, 7.0]).unwrap();
        let ticks = f.depth_tick_rows();
        assert!((2649..=2651).contains(&ticks.len()), "{}", ticks.len());
        assert!(ticks.iter().all(|&(r, _)| r < 8));
        let img = f.with_depth_scale();
        assert_eq!((img.width(), img.height()), (8 + 24, 8 + 12));
        // Tiny pixels: no tick, no scale bar, no loop.
        let f = BModeFrame::new(Array2::zeros((64, 64)), [m - 1e-6, m - 1e-6], [1e-8; 2]).unwrap();
        assert!(f.depth_tick_rows().is_empty());
        let _ = f.with_depth_scale();
        // One pixel over the whole field.
        let f = BModeFrame::new(Array2::zeros((1, 1)), [0.0, 0.0], [2.0 * m, 2.0 * m]).unwrap();
        assert!((2999..=3001).contains(&f.depth_tick_rows().len()));
        let _ = f.with_depth_scale();
    }
}
