//! The colour-flow and power-Doppler displays: colour maps, the overlay on the B-mode image, and
//! the colour scale bar.
//!
//! **Velocity map.** A signed velocity `v` with the Nyquist velocity `v_N` becomes a colour through
//! `u = v / v_N` clamped to `[−1, 1]`: black at 0; toward the probe (`u > 0`) red rising from black
//! to full red at `|u| = 0.6`, then green added up to yellow at `|u| = 1`; away from the probe
//! (`u < 0`) the same ramp in blue, then green up to cyan. The brightness (the sum of the channels)
//! grows strictly with `|u|`.
//!
//! **Power map.** A level in dB relative to the frame's strongest pixel, over a dynamic range `DR`:
//! `t = (level + DR) / DR` clamped to `[0, 1]` goes from dark red `(80, 0, 0)` through red
//! (`t = 0.4`) and orange (`t = 0.7`) to yellow at `t = 1`.
//!
//! **Overlay.** The inputs are rasters of one shape `[rows, cols]` (scan-converted elsewhere): the
//! B-mode grey levels, the velocity (m/s) and the Doppler power (linear, for example the lag-zero
//! autocorrelation of the clutter-filtered ensemble). A pixel shows colour when its power level,
//! `10·log10(power / max power) + gain_db`, is at least `power_threshold_db` and, for the velocity
//! display, `|v| > velocity_threshold_fraction · v_N`; otherwise it shows its B-mode grey. NaN
//! velocities and non-positive or NaN powers always show B-mode.
//!
//! ```
//! use ndarray::Array2;
//! use sonochip::doppler::color::{ColorFlowDisplay, velocity_color};
//!
//! assert_eq!(velocity_color(0.0, 0.5), [0, 0, 0]);
//! assert_eq!(velocity_color(0.5, 0.5), [255, 255, 0]); // +v_N: yellow
//! assert_eq!(velocity_color(-0.5, 0.5), [0, 255, 255]); // −v_N: cyan
//!
//! let bmode = Array2::from_elem((2, 2), 90u8);
//! let velocity = Array2::from_shape_vec((2, 2), vec![0.3f32, -0.3, 0.0, 0.3]).unwrap();
//! let power = Array2::from_shape_vec((2, 2), vec![1.0f32, 1.0, 1.0, 1e-6]).unwrap();
//! let rgb = ColorFlowDisplay::default().overlay(bmode.view(), velocity.view(), power.view(), 0.5).unwrap();
//! assert!(rgb[[0, 0, 0]] > 200 && rgb[[0, 0, 2]] == 0); // toward: red-yellow
//! assert!(rgb[[0, 1, 2]] > 200 && rgb[[0, 1, 0]] == 0); // away: blue-cyan
//! assert_eq!([rgb[[1, 0, 0]], rgb[[1, 0, 1]], rgb[[1, 0, 2]]], [90; 3]); // no motion: B-mode
//! assert_eq!([rgb[[1, 1, 0]], rgb[[1, 1, 1]], rgb[[1, 1, 2]]], [90; 3]); // −60 dB: B-mode
//! ```

use crate::bmode::{MAX_DB, MIN_DYNAMIC_RANGE_DB};
use crate::error::{Error, Result, plausible, positive};
use crate::frame::MAX_RASTER_SIDE_PX;
use ndarray::{Array3, ArrayView2, ArrayViewMut3, Axis, Zip};
use std::path::Path;

/// Fraction of the velocity range over which the first colour channel ramps up from black.
const RAMP_KNEE: f64 = 0.6;

/// Largest Nyquist velocity accepted, m/s.
pub const MAX_NYQUIST_VELOCITY_M_S: f64 = 100.0;

/// Half-width of the velocity look-up table: `u` is quantised to steps of `1 / LUT_HALF`.
const LUT_HALF: usize = 1023;

/// The colour of velocity `v_m_s` for the Nyquist velocity `v_nyquist_m_s` (see the
/// [module docs](self)); velocities beyond ±`v_nyquist_m_s` take the end colours. NaN, or a
/// non-positive or non-finite `v_nyquist_m_s`, gives black. Cost: O(1).
pub fn velocity_color(v_m_s: f64, v_nyquist_m_s: f64) -> [u8; 3] {
    if !(v_nyquist_m_s.is_finite() && v_nyquist_m_s > 0.0) || v_m_s.is_nan() {
        return [0, 0, 0];
    }
    let u = (v_m_s / v_nyquist_m_s).clamp(-1.0, 1.0);
    let a = u.abs();
    let main = (255.0 * (a / RAMP_KNEE).min(1.0)).round() as u8;
    let green = (255.0 * ((a - RAMP_KNEE) / (1.0 - RAMP_KNEE)).max(0.0)).round() as u8;
    if u >= 0.0 { [main, green, 0] } else { [0, green, main] }
}

/// The power-Doppler colour of `level_db` (dB relative to the strongest pixel) over
/// `dynamic_range_db` (see the [module docs](self)); levels at or below `−dynamic_range_db` (and
/// NaN) give dark red, levels at or above 0 dB yellow. A non-positive or NaN range is treated as
/// 1 dB. Cost: O(1).
pub fn power_color(level_db: f64, dynamic_range_db: f64) -> [u8; 3] {
    let dr = if dynamic_range_db > 0.0 { dynamic_range_db } else { 1.0 };
    let t = ((level_db + dr) / dr).clamp(0.0, 1.0);
    let t = if t.is_nan() { 0.0 } else { t };
    let red = 80.0 + 175.0 * (t / 0.4).min(1.0);
    let green = 255.0 * ((t - 0.4) / 0.6).max(0.0);
    [red.round() as u8, green.round() as u8, 0]
}

/// Settings of the colour-flow and power-Doppler overlays. See the [module docs](self).
///
/// The fields are public; [`validate`](ColorFlowDisplay::validate) checks them (the overlay
/// methods call it first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorFlowDisplay {
    /// Velocities with `|v|` at or below this fraction of the Nyquist velocity show B-mode (the
    /// wall-motion reject of the display), in `[0, 1)`.
    pub velocity_threshold_fraction: f64,
    /// Power level (dB relative to the frame's strongest pixel, after `gain_db`) below which a
    /// pixel shows B-mode, in `[−MAX_DB, 0]`.
    pub power_threshold_db: f64,
    /// Colour gain, dB, added to every pixel's power level before the threshold and the power map,
    /// in `[−MAX_DB, MAX_DB]`: more gain fills more of the vessel.
    pub gain_db: f64,
    /// Dynamic range of the power-Doppler map, dB, in `[MIN_DYNAMIC_RANGE_DB, MAX_DB]`.
    pub dynamic_range_db: f64,
}

impl Default for ColorFlowDisplay {
    /// Velocity threshold 5 % of `v_N`, power threshold −30 dB, no gain, 30 dB power range.
    fn default() -> Self {
        ColorFlowDisplay {
            velocity_threshold_fraction: 0.05,
            power_threshold_db: -30.0,
            gain_db: 0.0,
            dynamic_range_db: 30.0,
        }
    }
}

impl ColorFlowDisplay {
    /// Checks every field against the range its docs state; errors name the field. Cost: O(1).
    pub fn validate(&self) -> Result<()> {
        let f = self.velocity_threshold_fraction;
        if !(f.is_finite() && (0.0..1.0).contains(&f)) {
            return Err(Error::invalid("velocity_threshold_fraction", "a number in [0, 1)", f));
        }
        plausible("power_threshold_db", self.power_threshold_db, -MAX_DB, 0.0, "dB")?;
        plausible("gain_db", self.gain_db, -MAX_DB, MAX_DB, "dB")?;
        plausible(
            "dynamic_range_db",
            self.dynamic_range_db,
            MIN_DYNAMIC_RANGE_DB,
            MAX_DB,
            "dB",
        )?;
        Ok(())
    }

    /// The colour-flow overlay `[rows, cols, 3]` (RGB) of `velocity` (m/s) and `power` (linear) on
    /// `bmode`, all `[rows, cols]`. Errors and cost as
    /// [`overlay_into`](ColorFlowDisplay::overlay_into), plus the `rows · cols · 3`-byte result.
    pub fn overlay(
        &self,
        bmode: ArrayView2<'_, u8>,
        velocity: ArrayView2<'_, f32>,
        power: ArrayView2<'_, f32>,
        v_nyquist: f64,
    ) -> Result<Array3<u8>> {
        check_raster("bmode", bmode.dim())?;
        let (h, w) = bmode.dim();
        let mut out = Array3::zeros((h, w, 3));
        self.overlay_into(bmode, velocity, power, v_nyquist, out.view_mut())?;
        Ok(out)
    }

    /// The colour-flow overlay written into `out` `[rows, cols, 3]`. Errors: the settings as
    /// [`validate`](ColorFlowDisplay::validate); `bmode` with a side outside
    /// `1..=MAX_RASTER_SIDE_PX`; `velocity`, `power` or `out` when their shape differs from
    /// `bmode`'s; `v_nyquist` when not a finite value in `(0, MAX_NYQUIST_VELOCITY_M_S]` m/s.
    /// `out` is untouched on error. Cost: two passes over the rasters (the largest power, then
    /// the map through a 2047-colour table built per call); no allocation beyond the table.
    pub fn overlay_into(
        &self,
        bmode: ArrayView2<'_, u8>,
        velocity: ArrayView2<'_, f32>,
        power: ArrayView2<'_, f32>,
        v_nyquist: f64,
        mut out: ArrayViewMut3<'_, u8>,
    ) -> Result<()> {
        self.validate()?;
        let dim = check_raster("bmode", bmode.dim())?;
        same_shape("velocity", velocity.dim(), dim)?;
        same_shape("power", power.dim(), dim)?;
        check_out(&out, dim)?;
        let vn = positive("v_nyquist", v_nyquist)?;
        plausible("v_nyquist", vn, 0.0, MAX_NYQUIST_VELOCITY_M_S, "m/s")?;
        let lut: Vec<[u8; 3]> = (0..=2 * LUT_HALF)
            .map(|i| velocity_color((i as f64 - LUT_HALF as f64) / LUT_HALF as f64, 1.0))
            .collect();
        let floor = self.power_floor(max_power(power));
        let v_min = (self.velocity_threshold_fraction * vn) as f32;
        let to_index = (LUT_HALF as f64 / vn) as f32;
        Zip::from(out.lanes_mut(Axis(2)))
            .and(bmode)
            .and(velocity)
            .and(power)
            .for_each(|mut px, &g, &v, &p| {
                let rgb = if p >= floor && v.abs() > v_min {
                    let i = (v * to_index).round().clamp(-(LUT_HALF as f32), LUT_HALF as f32);
                    lut[(i as i64 + LUT_HALF as i64) as usize]
                } else {
                    [g; 3]
                };
                for (o, c) in px.iter_mut().zip(rgb) {
                    *o = c;
                }
            });
        Ok(())
    }

    /// The power-Doppler overlay `[rows, cols, 3]` of `power` (linear) on `bmode`. Errors and cost
    /// as [`power_overlay_into`](ColorFlowDisplay::power_overlay_into), plus the result.
    pub fn power_overlay(&self, bmode: ArrayView2<'_, u8>, power: ArrayView2<'_, f32>) -> Result<Array3<u8>> {
        check_raster("bmode", bmode.dim())?;
        let (h, w) = bmode.dim();
        let mut out = Array3::zeros((h, w, 3));
        self.power_overlay_into(bmode, power, out.view_mut())?;
        Ok(out)
    }

    /// The power-Doppler overlay written into `out`: pixels whose level passes `power_threshold_db`
    /// show [`power_color`] of their level over `dynamic_range_db`, the others their B-mode grey
    /// (velocity plays no part). Errors as [`overlay_into`](ColorFlowDisplay::overlay_into) without
    /// the velocity ones. Cost: two passes over the rasters (the largest power, then the map; one
    /// logarithm per coloured pixel); no allocation.
    pub fn power_overlay_into(
        &self,
        bmode: ArrayView2<'_, u8>,
        power: ArrayView2<'_, f32>,
        mut out: ArrayViewMut3<'_, u8>,
    ) -> Result<()> {
        self.validate()?;
        let dim = check_raster("bmode", bmode.dim())?;
        same_shape("power", power.dim(), dim)?;
        check_out(&out, dim)?;
        let max = max_power(power);
        let floor = self.power_floor(max);
        let offset = self.gain_db - 10.0 * f64::from(max).log10();
        Zip::from(out.lanes_mut(Axis(2)))
            .and(bmode)
            .and(power)
            .for_each(|mut px, &g, &p| {
                let rgb = if p >= floor {
                    power_color(10.0 * f64::from(p).log10() + offset, self.dynamic_range_db)
                } else {
                    [g; 3]
                };
                for (o, c) in px.iter_mut().zip(rgb) {
                    *o = c;
                }
            });
        Ok(())
    }

    /// The smallest linear power that shows colour: `max · 10^((threshold − gain) / 10)`, at least
    /// the smallest positive `f32` (so zero, negative and NaN powers never do); `+∞` when the frame
    /// holds no positive power (`max` ≤ 0).
    fn power_floor(&self, max: f32) -> f32 {
        if max <= 0.0 {
            return f32::INFINITY;
        }
        let rel = 10f64.powf((self.power_threshold_db - self.gain_db) / 10.0);
        ((f64::from(max) * rel) as f32).max(f32::MIN_POSITIVE)
    }
}

/// The largest finite power of the raster (0 when none is positive).
fn max_power(power: ArrayView2<'_, f32>) -> f32 {
    power.iter().copied().filter(|p| p.is_finite()).fold(0.0, f32::max)
}

fn check_raster(name: &'static str, (h, w): (usize, usize)) -> Result<(usize, usize)> {
    if (1..=MAX_RASTER_SIDE_PX).contains(&h) && (1..=MAX_RASTER_SIDE_PX).contains(&w) {
        Ok((h, w))
    } else {
        Err(Error::shape(
            name,
            format!("rows and columns in 1..={MAX_RASTER_SIDE_PX}"),
            format!("{h}×{w}"),
        ))
    }
}

fn same_shape(name: &'static str, got: (usize, usize), want: (usize, usize)) -> Result<()> {
    if got == want {
        Ok(())
    } else {
        Err(Error::shape(
            name,
            format!("{}×{} (the B-mode raster's shape)", want.0, want.1),
            format!("{}×{}", got.0, got.1),
        ))
    }
}

fn check_out(out: &ArrayViewMut3<'_, u8>, (h, w): (usize, usize)) -> Result<()> {
    let d = out.dim();
    if d == (h, w, 3) {
        Ok(())
    } else {
        Err(Error::shape(
            "out",
            format!("{h}×{w}×3 (the B-mode raster's shape, RGB)"),
            format!("{}×{}×{}", d.0, d.1, d.2),
        ))
    }
}

/// A colour scale bar and the velocities an app writes next to it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleBar {
    /// The bar, `[height, width, 3]` (RGB): row 0 is `+v_N`, the last row `−v_N`.
    pub image: Array3<u8>,
    /// The velocity at the top row, m/s (`+v_N`).
    pub top_m_s: f64,
    /// The velocity at the centre, m/s (0).
    pub centre_m_s: f64,
    /// The velocity at the bottom row, m/s (`−v_N`).
    pub bottom_m_s: f64,
    /// The rows of the top, centre and bottom labels: `[0, (height − 1) / 2, height − 1]`.
    pub label_rows: [usize; 3],
}

/// The velocity colour bar `[height_px, width_px, 3]` for the Nyquist velocity `v_nyquist`: row `r`
/// shows [`velocity_color`] of `v_N · (1 − 2r / (height_px − 1))`, so the top row is `+v_N`
/// (toward the probe), the bottom row `−v_N` and the centre 0 (exactly on the centre row when
/// `height_px` is odd). The display thresholds are not drawn. Errors: `height_px` outside
/// `3..=MAX_RASTER_SIDE_PX`, `width_px` outside `1..=MAX_RASTER_SIDE_PX`, `v_nyquist` as in
/// [`ColorFlowDisplay::overlay_into`]. Cost: O(height · width).
pub fn velocity_scale_bar(height_px: usize, width_px: usize, v_nyquist: f64) -> Result<ScaleBar> {
    if !(3..=MAX_RASTER_SIDE_PX).contains(&height_px) {
        return Err(Error::invalid(
            "height_px",
            format!("a size in 3..={MAX_RASTER_SIDE_PX}"),
            height_px,
        ));
    }
    if !(1..=MAX_RASTER_SIDE_PX).contains(&width_px) {
        return Err(Error::invalid(
            "width_px",
            format!("a size in 1..={MAX_RASTER_SIDE_PX}"),
            width_px,
        ));
    }
    let vn = positive("v_nyquist", v_nyquist)?;
    plausible("v_nyquist", vn, 0.0, MAX_NYQUIST_VELOCITY_M_S, "m/s")?;
    let last = (height_px - 1) as f64;
    let mut image = Array3::zeros((height_px, width_px, 3));
    for (r, mut row) in image.axis_iter_mut(Axis(0)).enumerate() {
        let rgb = velocity_color(vn * (1.0 - 2.0 * r as f64 / last), vn);
        for mut px in row.axis_iter_mut(Axis(0)) {
            for (o, c) in px.iter_mut().zip(rgb) {
                *o = c;
            }
        }
    }
    Ok(ScaleBar {
        image,
        top_m_s: vn,
        centre_m_s: 0.0,
        bottom_m_s: -vn,
        label_rows: [0, (height_px - 1) / 2, height_px - 1],
    })
}

/// An RGB raster `[rows, cols, 3]` as an `image` RGB image (for saving as a PNG). Errors: `rgb` when
/// its last axis is not 3 or a side exceeds `MAX_RASTER_SIDE_PX`. Cost: one copy.
pub fn to_rgb_image(rgb: ndarray::ArrayView3<'_, u8>) -> Result<image::RgbImage> {
    let (h, w, c) = rgb.dim();
    if c != 3 || h > MAX_RASTER_SIDE_PX || w > MAX_RASTER_SIDE_PX {
        return Err(Error::shape(
            "rgb",
            format!("[rows, cols, 3] with sides at most {MAX_RASTER_SIDE_PX}"),
            format!("{h}×{w}×{c}"),
        ));
    }
    let raw: Vec<u8> = rgb.iter().copied().collect();
    image::RgbImage::from_raw(w as u32, h as u32, raw).ok_or_else(|| Error::shape("rgb", "an RGB raster", "too small"))
}

/// Writes an RGB raster `[rows, cols, 3]` as an 8-bit RGB PNG at `path`, creating missing parent
/// folders. Errors: those of [`to_rgb_image`]; [`Error::Io`] naming the path when a folder or the
/// file cannot be written; [`Error::Format`] when the encoder fails. Cost: one copy and the
/// encoding.
pub fn save_rgb_png(rgb: ndarray::ArrayView3<'_, u8>, path: impl AsRef<Path>) -> Result<()> {
    write_png(&to_rgb_image(rgb)?, path.as_ref())
}

pub(super) use crate::frame::write_png;

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn px(img: &Array3<u8>, r: usize, c: usize) -> [u8; 3] {
        [img[[r, c, 0]], img[[r, c, 1]], img[[r, c, 2]]]
    }

    fn brightness(rgb: [u8; 3]) -> u32 {
        rgb.iter().map(|&c| u32::from(c)).sum()
    }

    /// Test 3: sign → hue, brightness strictly growing with |v|, black at 0, end colours.
    #[test]
    fn velocity_map_hue_and_brightness() {
        let vn = 0.6;
        assert_eq!(velocity_color(0.0, vn), [0, 0, 0]);
        let mut last = 0;
        for i in 1..=200 {
            let v = vn * i as f64 / 200.0;
            let (up, down) = (velocity_color(v, vn), velocity_color(-v, vn));
            // Toward: red dominant, no blue. Away: blue dominant, no red.
            assert!(up[0] > 0 && up[2] == 0 && up[0] >= up[1], "{v}: {up:?}");
            assert!(down[2] > 0 && down[0] == 0 && down[2] >= down[1], "{v}: {down:?}");
            // Symmetric brightness, strictly growing.
            assert_eq!(brightness(up), brightness(down));
            assert!(brightness(up) > last, "{v}: {up:?}");
            last = brightness(up);
        }
        // Independent values: half-way up the red ramp, and the knee.
        assert_eq!(velocity_color(0.24 * vn, vn), [102, 0, 0]);
        assert_eq!(velocity_color(-0.6 * vn, vn), [0, 0, 255]);
        assert_eq!(velocity_color(0.9 * vn, vn), [255, 191, 0]);
        // Beyond Nyquist clamps; NaN and a bad v_N give black.
        assert_eq!(velocity_color(5.0, vn), [255, 255, 0]);
        assert_eq!(velocity_color(-5.0, vn), [0, 255, 255]);
        assert_eq!(velocity_color(f64::NAN, vn), [0, 0, 0]);
        assert_eq!(velocity_color(0.1, 0.0), [0, 0, 0]);
    }

    #[test]
    fn power_map_ramps_dark_red_to_yellow() {
        let dr = 30.0;
        assert_eq!(power_color(-dr, dr), [80, 0, 0]);
        assert_eq!(power_color(-100.0, dr), [80, 0, 0]);
        assert_eq!(power_color(-0.6 * dr, dr), [255, 0, 0]);
        assert_eq!(power_color(-0.15 * dr, dr), [255, 191, 0]);
        assert_eq!(power_color(0.0, dr), [255, 255, 0]);
        let mut last = 0;
        for i in 1..=100 {
            let b = brightness(power_color(-dr + dr * i as f64 / 100.0, dr));
            assert!(b > last);
            last = b;
        }
    }

    /// Test 3: the overlay colours what passes both thresholds with the map's colour and leaves
    /// B-mode grey elsewhere (zero velocity, sub-threshold velocity or power, NaN).
    #[test]
    fn overlay_keeps_bmode_where_colour_is_suppressed() {
        let vn = 0.5;
        let (h, w) = (3, 101);
        let bmode = Array2::from_shape_fn((h, w), |(r, c)| (r * 40 + c) as u8);
        // Row 0: velocities −v_N..v_N at full power; row 1: the same at −40 dB; row 2: specials.
        let vel = Array2::from_shape_fn((h, w), |(r, c)| {
            let v = vn * (c as f64 - 50.0) / 50.0;
            if r == 2 {
                [0.0, f64::NAN, 0.01, 0.3][c % 4] as f32
            } else {
                v as f32
            }
        });
        let pow = Array2::from_shape_fn((h, w), |(r, c)| match r {
            1 => 1e-4f32,
            2 if c == 3 => f32::NAN,
            _ => 1.0,
        });
        let cfg = ColorFlowDisplay::default(); // |v| > 5 % of v_N, power ≥ −30 dB
        let img = cfg.overlay(bmode.view(), vel.view(), pow.view(), vn).unwrap();
        let grey = |r: usize, c: usize| [bmode[[r, c]]; 3];
        for c in 0..w {
            let v = vn * (c as f64 - 50.0) / 50.0;
            if v.abs() > 0.05 * vn + 1e-9 {
                let want = velocity_color(v, vn);
                let got = px(&img, 0, c);
                for k in 0..3 {
                    assert!(got[k].abs_diff(want[k]) <= 1, "col {c}: {got:?} vs {want:?}");
                }
            } else {
                assert_eq!(px(&img, 0, c), grey(0, c), "col {c}: below the velocity threshold");
            }
            assert_eq!(px(&img, 1, c), grey(1, c), "col {c}: −40 dB power");
        }
        for c in 0..w {
            let shown = c % 4 == 3 && c != 3; // 0.3 m/s; NaN power at col 3
            if shown {
                assert_eq!(px(&img, 2, c), velocity_color(0.3, vn));
            } else {
                assert_eq!(px(&img, 2, c), grey(2, c), "col {c}");
            }
        }
        // 15 dB of gain lifts the −40 dB row over the −30 dB threshold.
        let gained = ColorFlowDisplay { gain_db: 15.0, ..cfg };
        let img = gained.overlay(bmode.view(), vel.view(), pow.view(), vn).unwrap();
        assert_eq!(px(&img, 1, 100), velocity_color(vn, vn));
        // A frame without positive power shows only B-mode.
        let zero = Array2::<f32>::zeros((h, w));
        let img = cfg.overlay(bmode.view(), vel.view(), zero.view(), vn).unwrap();
        assert!((0..h).all(|r| (0..w).all(|c| px(&img, r, c) == grey(r, c))));
    }

    #[test]
    fn power_overlay_maps_level_over_the_range() {
        let bmode = Array2::from_elem((1, 5), 77u8);
        let pow = Array2::from_shape_vec((1, 5), vec![1.0f32, 0.1, 1e-2, 1.001e-3, 1e-4]).unwrap();
        let cfg = ColorFlowDisplay::default();
        let img = cfg.power_overlay(bmode.view(), pow.view()).unwrap();
        assert_eq!(px(&img, 0, 0), [255, 255, 0]);
        assert_eq!(px(&img, 0, 1), power_color(-10.0, 30.0));
        assert_eq!(px(&img, 0, 2), power_color(-20.0, 30.0));
        assert_eq!(px(&img, 0, 3), power_color(-30.0, 30.0));
        assert_eq!(px(&img, 0, 4), [77; 3], "−40 dB: below the threshold");
    }

    /// Test 3: the bar's ends are ±v_N, its centre 0, its colours the map's.
    #[test]
    fn scale_bar_spans_plus_minus_nyquist() {
        let vn = 0.77;
        let bar = velocity_scale_bar(101, 8, vn).unwrap();
        assert_eq!(bar.image.dim(), (101, 8, 3));
        assert_eq!((bar.top_m_s, bar.centre_m_s, bar.bottom_m_s), (vn, 0.0, -vn));
        assert_eq!(bar.label_rows, [0, 50, 100]);
        assert_eq!(px(&bar.image, 0, 3), velocity_color(vn, vn));
        assert_eq!(px(&bar.image, 0, 3), [255, 255, 0]);
        assert_eq!(px(&bar.image, 100, 0), [0, 255, 255]);
        assert_eq!(px(&bar.image, 50, 7), [0, 0, 0]);
        assert_eq!(px(&bar.image, 25, 1), velocity_color(vn / 2.0, vn));
        let dir = std::env::temp_dir().join(format!("sonochip-colour-bar-{}", std::process::id()));
        save_rgb_png(bar.image.view(), dir.join("a/bar.png")).unwrap();
        let rgb = image::open(dir.join("a/bar.png")).unwrap().into_rgb8();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!((rgb.width(), rgb.height()), (8, 101));
        assert_eq!(rgb.get_pixel(0, 100).0, [0, 255, 255]);
    }

    /// Test 4: every bad setting or input is refused with an error naming it.
    #[test]
    fn bad_parameters_are_named() {
        let ok = ColorFlowDisplay::default();
        ok.validate().unwrap();
        let (b, v, p) = (
            Array2::<u8>::zeros((4, 5)),
            Array2::<f32>::zeros((4, 5)),
            Array2::<f32>::ones((4, 5)),
        );
        for (cfg, name) in [
            (
                ColorFlowDisplay {
                    velocity_threshold_fraction: 1.0,
                    ..ok
                },
                "velocity_threshold_fraction",
            ),
            (
                ColorFlowDisplay {
                    velocity_threshold_fraction: f64::NAN,
                    ..ok
                },
                "velocity_threshold_fraction",
            ),
            (
                ColorFlowDisplay {
                    power_threshold_db: 3.0,
                    ..ok
                },
                "power_threshold_db",
            ),
            (
                ColorFlowDisplay {
                    gain_db: f64::INFINITY,
                    ..ok
                },
                "gain_db",
            ),
            (
                ColorFlowDisplay {
                    dynamic_range_db: 0.5,
                    ..ok
                },
                "dynamic_range_db",
            ),
        ] {
            assert_eq!(cfg.validate().unwrap_err().parameter(), Some(name));
            let e = cfg.overlay(b.view(), v.view(), p.view(), 0.5).unwrap_err();
            assert_eq!(e.parameter(), Some(name));
            assert_eq!(
                cfg.power_overlay(b.view(), p.view()).unwrap_err().parameter(),
                Some(name)
            );
        }
        let param = |r: Result<Array3<u8>>| r.unwrap_err().parameter();
        let small = Array2::<f32>::zeros((4, 4));
        assert_eq!(
            param(ok.overlay(b.view(), small.view(), p.view(), 0.5)),
            Some("velocity")
        );
        assert_eq!(param(ok.overlay(b.view(), v.view(), small.view(), 0.5)), Some("power"));
        assert_eq!(param(ok.power_overlay(b.view(), small.view())), Some("power"));
        let empty = Array2::<u8>::zeros((0, 5));
        assert_eq!(param(ok.overlay(empty.view(), v.view(), p.view(), 0.5)), Some("bmode"));
        for vn in [0.0, f64::NAN, -1.0, 1e3] {
            assert_eq!(param(ok.overlay(b.view(), v.view(), p.view(), vn)), Some("v_nyquist"));
        }
        let mut out = Array3::<u8>::zeros((4, 5, 4));
        let e = ok
            .overlay_into(b.view(), v.view(), p.view(), 0.5, out.view_mut())
            .unwrap_err();
        assert_eq!(e.parameter(), Some("out"));
        assert_eq!(
            ok.power_overlay_into(b.view(), p.view(), out.view_mut())
                .unwrap_err()
                .parameter(),
            Some("out")
        );
        let bar = |h: usize, w: usize, vn: f64| velocity_scale_bar(h, w, vn).unwrap_err().parameter();
        assert_eq!(bar(2, 4, 0.5), Some("height_px"));
        assert_eq!(bar(100, 0, 0.5), Some("width_px"));
        assert_eq!(bar(100, MAX_RASTER_SIDE_PX + 1, 0.5), Some("width_px"));
        assert_eq!(bar(100, 4, f64::NAN), Some("v_nyquist"));
        let bad = Array3::<u8>::zeros((2, 2, 4));
        assert_eq!(to_rgb_image(bad.view()).unwrap_err().parameter(), Some("rgb"));
    }
}
