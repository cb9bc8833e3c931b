//! Log compression and display mapping: envelope → 8-bit B-mode grey levels.
//!
//! For each pixel of an envelope image `[n_lines, n_depths]` at depth `depth_m[k]`:
//!
//! ```text
//! level_dB = 20·log10(env / reference) + gain_db + tgc_db(depth_m[k])
//! grey     = round(255 · (level_dB + DR) / DR), clamped to [0, 255]
//! ```
//!
//! so a level of 0 dB shows white (255) and −DR dB or less black (0). The reference is
//! [`DbReference::FrameMax`] (the frame's largest envelope value is 0 dB; the default) or a fixed
//! amplitude ([`DbReference::Fixed`]). The gain knob of scanner apps (0–100) maps to dB with
//! [`gain_from_control`]. Zero, negative and NaN envelope values show black.
//!
//! ```
//! use ndarray::Array2;
//! use sonochip::bmode::{BModeMapper, Tgc};
//!
//! let env = Array2::from_shape_fn((2, 3), |(_, k)| [1.0f32, 0.1, 0.001][k]); // 0, -20, -60 dB
//! let depths_m = [0.01, 0.02, 0.03];
//! let mut mapper = BModeMapper::new();
//! mapper.set_dynamic_range_db(60.0).unwrap();
//! mapper.set_tgc(Tgc::flat());
//! let grey = mapper.map(env.view(), &depths_m).unwrap();
//! assert_eq!(grey.row(0).to_vec(), vec![255, 170, 0]);
//! ```

use crate::envelope::par_row_blocks;
use crate::error::{Error, Result, in_range, plausible};
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis, Zip};
use std::sync::{Arc, Mutex, PoisonError};

/// Largest gain, TGC gain or dynamic range magnitude accepted, dB.
pub const MAX_DB: f64 = 200.0;

/// Smallest dynamic range accepted, dB (a narrower one maps every level to black or white, and a
/// vanishing one overflows the grey-level scale).
pub const MIN_DYNAMIC_RANGE_DB: f64 = 1.0;

/// Largest magnitude of a TGC point's depth, metres (the scanner images at most 0.3 m deep; a
/// depth in millimetres where metres are expected is refused).
pub const MAX_TGC_DEPTH_M: f64 = 1.0;

/// Gain in dB per step of the 0–100 gain control (see [`gain_from_control`]).
pub const GAIN_CONTROL_DB_PER_STEP: f64 = 0.6;

/// The gain-control position that means 0 dB.
pub const GAIN_CONTROL_NEUTRAL: f64 = 50.0;

/// Maps the 0–100 gain control that scanner apps show to a gain in dB: linear,
/// `gain_db = 0.6 · (control − 50)`, so 0 → −30 dB, 50 → 0 dB and 100 → +30 dB.
/// Controls outside `[0, 100]` (or NaN) are an error.
pub fn gain_from_control(control: f64) -> Result<f64> {
    let control = in_range("control", control, 0.0, 100.0)?;
    Ok(GAIN_CONTROL_DB_PER_STEP * (control - GAIN_CONTROL_NEUTRAL))
}

/// The inverse of [`gain_from_control`]: the control position for a gain in `[-30, 30]` dB.
pub fn control_from_gain(gain_db: f64) -> Result<f64> {
    let control = GAIN_CONTROL_NEUTRAL + gain_db / GAIN_CONTROL_DB_PER_STEP;
    if gain_db.is_finite() && (-1e-9..=100.0 + 1e-9).contains(&control) {
        Ok(control.clamp(0.0, 100.0))
    } else {
        Err(Error::invalid("gain_db", "a gain in [-30, 30] dB", gain_db))
    }
}

/// What 0 dB means in a B-mode mapping.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum DbReference {
    /// The largest (finite or infinite, NaN ignored) envelope value of the frame being mapped is
    /// 0 dB, so the brightest pixel shows white at 0 dB gain. A frame without a positive value
    /// shows black.
    #[default]
    FrameMax,
    /// This envelope amplitude (finite, ≥ `f32::MIN_POSITIVE`) is 0 dB: brightness then follows the
    /// echo strength from frame to frame, as on a scanner with a fixed receive chain.
    Fixed(f32),
}

/// Time-gain compensation: a gain in dB as a function of depth, linearly interpolated between the
/// given `(depth_m, gain_db)` points and constant beyond the first and last points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tgc {
    points: Vec<(f64, f64)>,
}

impl Tgc {
    /// A TGC curve through `points` `(depth_m, gain_db)`: depths in metres within
    /// ±[`MAX_TGC_DEPTH_M`], strictly increasing; gains in dB within ±[`MAX_DB`]. An empty list is
    /// the flat curve (0 dB everywhere). Errors name `points` with the expected range and unit and
    /// the offending value. Cost: O(points), no allocation (the vector is kept).
    pub fn new(points: Vec<(f64, f64)>) -> Result<Tgc> {
        for &(d, g) in &points {
            if !(d.is_finite() && d.abs() <= MAX_TGC_DEPTH_M) {
                return Err(Error::invalid(
                    "points",
                    format!("depths in [-{MAX_TGC_DEPTH_M}, {MAX_TGC_DEPTH_M}] m"),
                    d,
                ));
            }
            if !(g.is_finite() && g.abs() <= MAX_DB) {
                return Err(Error::invalid(
                    "points",
                    format!("gains in [-{MAX_DB}, {MAX_DB}] dB"),
                    g,
                ));
            }
        }
        if let Some(w) = points.windows(2).find(|w| w[1].0 <= w[0].0) {
            return Err(Error::invalid(
                "points",
                "strictly increasing depths",
                format!("{} then {}", w[0].0, w[1].0),
            ));
        }
        Ok(Tgc { points })
    }

    /// The flat curve: 0 dB at every depth.
    pub fn flat() -> Tgc {
        Tgc { points: Vec::new() }
    }

    /// The curve's points `(depth_m, gain_db)`.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// The gain in dB at `depth_m` (linear interpolation, constant beyond the ends; 0 if flat; the
    /// first point's gain for NaN). Cost: O(log points).
    pub fn gain_db_at(&self, depth_m: f64) -> f64 {
        let p = &self.points;
        match (p.first(), p.last()) {
            (Some(&first), Some(&last)) => {
                // NaN would otherwise reach `p[i - 1]` with i = 0.
                if depth_m.is_nan() || depth_m <= first.0 {
                    first.1
                } else if depth_m >= last.0 {
                    last.1
                } else {
                    let i = p.partition_point(|q| q.0 <= depth_m);
                    let (a, b) = (p[i - 1], p[i]);
                    a.1 + (b.1 - a.1) * (depth_m - a.0) / (b.0 - a.0)
                }
            }
            _ => 0.0,
        }
    }
}

/// TGC gains (dB) for one depth axis.
#[derive(Debug, Default)]
struct TgcTable {
    depths_m: Vec<f64>,
    gain_db: Vec<f32>,
}

/// Log compression with gain, TGC and dynamic range. See the [module docs](self).
///
/// Setters validate; changing a setting never needs re-beamforming. The TGC gains for a depth axis
/// are computed once and cached (they are recomputed only when `depths_m` or the TGC changes), so
/// [`map_into`](BModeMapper::map_into) allocates nothing in steady state.
#[derive(Debug)]
pub struct BModeMapper {
    reference: DbReference,
    gain_db: f64,
    dynamic_range_db: f64,
    tgc: Tgc,
    cache: Mutex<Arc<TgcTable>>,
}

impl Default for BModeMapper {
    fn default() -> Self {
        BModeMapper {
            reference: DbReference::FrameMax,
            gain_db: 0.0,
            dynamic_range_db: 60.0,
            tgc: Tgc::flat(),
            cache: Mutex::new(Arc::new(TgcTable::default())),
        }
    }
}

impl Clone for BModeMapper {
    fn clone(&self) -> Self {
        BModeMapper {
            reference: self.reference,
            gain_db: self.gain_db,
            dynamic_range_db: self.dynamic_range_db,
            tgc: self.tgc.clone(),
            cache: Mutex::new(Arc::new(TgcTable::default())),
        }
    }
}

/// `20·log10(2)`: dB per octave of amplitude.
const DB_PER_OCTAVE: f32 = 6.020_6;

impl BModeMapper {
    /// A mapper with the defaults: 0 dB reference = frame maximum, gain 0 dB, dynamic range 60 dB,
    /// flat TGC.
    pub fn new() -> Self {
        Self::default()
    }

    /// The 0 dB reference.
    pub fn reference(&self) -> DbReference {
        self.reference
    }

    /// Overall gain, dB.
    pub fn gain_db(&self) -> f64 {
        self.gain_db
    }

    /// Dynamic range, dB: levels from −DR to 0 dB span black to white.
    pub fn dynamic_range_db(&self) -> f64 {
        self.dynamic_range_db
    }

    /// The TGC curve.
    pub fn tgc(&self) -> &Tgc {
        &self.tgc
    }

    /// Sets the 0 dB reference; a fixed amplitude (in the envelope's unit) must be finite and
    /// ≥ `f32::MIN_POSITIVE`, so that `20·log10` of it is finite. On error the mapper is unchanged.
    pub fn set_reference(&mut self, reference: DbReference) -> Result<()> {
        if let DbReference::Fixed(a) = reference
            && !(a.is_finite() && a >= f32::MIN_POSITIVE)
        {
            return Err(Error::invalid(
                "reference",
                format!(
                    "a finite envelope amplitude in [{:e}, {:e}]",
                    f32::MIN_POSITIVE,
                    f32::MAX
                ),
                a,
            ));
        }
        self.reference = reference;
        Ok(())
    }

    /// Sets the overall gain in dB (finite, within ±[`MAX_DB`]). On error the mapper is unchanged.
    pub fn set_gain_db(&mut self, gain_db: f64) -> Result<()> {
        plausible("gain_db", gain_db, -MAX_DB, MAX_DB, "dB")?;
        self.gain_db = gain_db;
        Ok(())
    }

    /// Sets the gain from the app's 0–100 control (see [`gain_from_control`]).
    pub fn set_gain_control(&mut self, control: f64) -> Result<()> {
        self.set_gain_db(gain_from_control(control)?)
    }

    /// Sets the dynamic range in dB, in [[`MIN_DYNAMIC_RANGE_DB`], [`MAX_DB`]]. On error the mapper
    /// is unchanged.
    pub fn set_dynamic_range_db(&mut self, dynamic_range_db: f64) -> Result<()> {
        plausible("dynamic_range_db", dynamic_range_db, MIN_DYNAMIC_RANGE_DB, MAX_DB, "dB")?;
        self.dynamic_range_db = dynamic_range_db;
        Ok(())
    }

    /// Sets the TGC curve (validated by [`Tgc::new`]); the cached gains are rebuilt on the next map.
    pub fn set_tgc(&mut self, tgc: Tgc) {
        self.tgc = tgc;
        *self.cache.get_mut().unwrap_or_else(PoisonError::into_inner) = Arc::new(TgcTable::default());
    }

    /// The envelope amplitude that is 0 dB for this frame (the frame maximum or the fixed
    /// amplitude); `f32::MIN_POSITIVE` for a frame without a positive value. Cost: a parallel
    /// maximum over `env` for [`DbReference::FrameMax`], no allocation.
    pub fn reference_amplitude(&self, env: ArrayView2<'_, f32>) -> f32 {
        match self.reference {
            DbReference::Fixed(a) => a,
            DbReference::FrameMax => par_max(env).max(f32::MIN_POSITIVE),
        }
    }

    /// Maps the envelope image `env` (`[n_lines, n_depths]`) to grey levels in `out` (same shape);
    /// `depths_m[k]` is the depth of sample `k` (finite), used for the TGC. Allocates nothing unless
    /// `depths_m` differs from the previous call's (then one table of `n_depths` gains). Errors
    /// name `depths_m` (length or a non-finite depth) or `out` (shape).
    pub fn map_into(&self, env: ArrayView2<'_, f32>, depths_m: &[f64], out: ArrayViewMut2<'_, u8>) -> Result<()> {
        if depths_m.len() != env.ncols() {
            return Err(Error::shape(
                "depths_m",
                format!("{} depths (one per column of env)", env.ncols()),
                format!("{} depths", depths_m.len()),
            ));
        }
        if out.dim() != env.dim() {
            return Err(Error::shape(
                "out",
                format!("{:?} (the shape of env)", env.dim()),
                format!("{:?}", out.dim()),
            ));
        }
        let table = self.tgc_table(depths_m)?;
        let k = self.consts(env);
        let tgc = table.gain_db.as_slice();
        par_row_blocks(out, 4, &|first, mut block: ArrayViewMut2<'_, u8>| {
            for (i, row) in block.outer_iter_mut().enumerate() {
                map_line(env.row(first + i), tgc, &k, row);
            }
        });
        Ok(())
    }

    /// The TGC gain in dB of every pixel of an image whose pixel `(i, j)` lies at depth
    /// `depths_m[(i, j)]` (metres along its line; NaN marks a pixel outside the field of view and
    /// stays NaN): the per-pixel gains [`map_with_gains_into`](BModeMapper::map_with_gains_into)
    /// takes, computed once per TGC curve and raster, for a raster where depth along the line is
    /// not a function of the row (a sector). The curve is sampled on 4,096 uniform steps between
    /// its first and last points and interpolated linearly (exact for a two-point curve; elsewhere
    /// within the curve's change of slope × step/4). Cost: one `f32` image.
    pub fn tgc_gains_db(&self, depths_m: ArrayView2<'_, f32>) -> Array2<f32> {
        let table = UniformTgc::new(&self.tgc);
        depths_m.mapv(|d| if d.is_nan() { f32::NAN } else { table.at(d) })
    }

    /// Maps the envelope image `env` (any 2-D image, such as the `[row, col]` raster of
    /// `ScanConverter::detect_iq_into` (scan conversion)) to grey
    /// levels in `out` with a TGC gain per pixel, `gains_db` (as from
    /// [`tgc_gains_db`](BModeMapper::tgc_gains_db); the mapper's own TGC curve is not used here).
    /// Pixels whose gain is NaN are outside the field of view and get `background`. Allocates
    /// nothing. Errors name `gains_db` or `out` (shape).
    pub fn map_with_gains_into(
        &self,
        env: ArrayView2<'_, f32>,
        gains_db: ArrayView2<'_, f32>,
        background: u8,
        out: ArrayViewMut2<'_, u8>,
    ) -> Result<()> {
        for (name, dim) in [("gains_db", gains_db.dim()), ("out", out.dim())] {
            if dim != env.dim() {
                return Err(Error::shape(
                    name,
                    format!("{:?} (the shape of env)", env.dim()),
                    format!("{dim:?}"),
                ));
            }
        }
        let k = self.consts(env);
        par_row_blocks(out, 4, &|first, mut block: ArrayViewMut2<'_, u8>| {
            for (i, mut row) in block.outer_iter_mut().enumerate() {
                let (e, g) = (env.row(first + i), gains_db.row(first + i));
                match (e.as_slice(), g.as_slice(), row.as_slice_mut()) {
                    (Some(e), Some(g), Some(o)) => grey_row(e, g, background, &k, o),
                    _ => Zip::from(&mut row)
                        .and(&e)
                        .and(&g)
                        .for_each(|o, &e, &g| *o = if g.is_nan() { background } else { grey(e, g, &k) }),
                }
            }
        });
        Ok(())
    }

    /// Allocating form of [`map_into`](BModeMapper::map_into): one image of `env`'s shape.
    pub fn map(&self, env: ArrayView2<'_, f32>, depths_m: &[f64]) -> Result<Array2<u8>> {
        let mut out = Array2::zeros(env.dim());
        self.map_into(env, depths_m, out.view_mut())?;
        Ok(out)
    }

    /// The per-frame constants of the grey-level formula.
    fn consts(&self, env: ArrayView2<'_, f32>) -> LineConsts {
        let scale = 255.0 / self.dynamic_range_db as f32;
        let ref_db = 20.0 * f64::from(self.reference_amplitude(env)).log10();
        LineConsts {
            a: scale * DB_PER_OCTAVE,
            c: (255.0 / self.dynamic_range_db * (self.dynamic_range_db + self.gain_db - ref_db)) as f32,
            s: scale,
        }
    }

    /// The cached TGC gains for `depths_m`, rebuilt (and validated) when the depths changed.
    fn tgc_table(&self, depths_m: &[f64]) -> Result<Arc<TgcTable>> {
        let mut cached = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.depths_m.as_slice() != depths_m {
            if let Some(&d) = depths_m.iter().find(|d| !d.is_finite()) {
                return Err(Error::invalid("depths_m", "finite depths in metres", d));
            }
            *cached = Arc::new(TgcTable {
                depths_m: depths_m.to_vec(),
                gain_db: depths_m.iter().map(|&d| self.tgc.gain_db_at(d) as f32).collect(),
            });
        }
        Ok(Arc::clone(&cached))
    }
}

/// A TGC curve sampled on uniform depth steps between its first and last points.
#[derive(Debug)]
struct UniformTgc {
    first_m: f32,
    steps_per_m: f32,
    gain_db: Vec<f32>,
}

/// Uniform steps of [`UniformTgc`].
const TGC_STEPS: usize = 4096;

impl UniformTgc {
    fn new(tgc: &Tgc) -> UniformTgc {
        let (first, last) = match tgc.points() {
            [] => (0.0, 0.0),
            p => (p[0].0, p[p.len() - 1].0),
        };
        let span = last - first;
        let (steps, per_m) = if span > 0.0 {
            (TGC_STEPS, TGC_STEPS as f64 / span)
        } else {
            (1, 0.0)
        };
        UniformTgc {
            first_m: first as f32,
            steps_per_m: per_m as f32,
            gain_db: (0..=steps)
                .map(|i| tgc.gain_db_at(first + span * i as f64 / steps as f64) as f32)
                .collect(),
        }
    }

    /// The gain at `depth_m` (finite), linearly interpolated; constant beyond the ends.
    #[inline(always)]
    fn at(&self, depth_m: f32) -> f32 {
        let n = self.gain_db.len() - 1;
        let u = ((depth_m - self.first_m) * self.steps_per_m).clamp(0.0, n as f32);
        let i = (u as usize).min(n.saturating_sub(1));
        let next = self.gain_db[(i + 1).min(n)];
        self.gain_db[i] + (next - self.gain_db[i]) * (u - i as f32)
    }
}

/// Per-frame constants: `grey = a·log2(env) + c + s·tgc_db[k]`.
struct LineConsts {
    a: f32,
    c: f32,
    s: f32,
}

/// Maps one line; the contiguous case is a straight loop the compiler vectorises.
fn map_line(env: ArrayView1<'_, f32>, tgc: &[f32], k: &LineConsts, mut out: ArrayViewMut1<'_, u8>) {
    match (env.as_slice(), out.as_slice_mut()) {
        // The gains are finite here, so the background is never chosen.
        (Some(e), Some(o)) => grey_row(e, tgc, 0, k, o),
        _ => Zip::from(&mut out)
            .and(&env)
            .and(tgc)
            .for_each(|o, &e, &t| *o = grey(e, t, k)),
    }
}

/// Grey levels of one row: `grey(e[j], g[j])`, or `background` where `g[j]` is NaN. Compiled for
/// AVX2 where the CPU has it (the same operations, so the same levels); every step is a lane
/// operation, so the loop vectorises.
fn grey_row(e: &[f32], g: &[f32], background: u8, k: &LineConsts, o: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(e: &[f32], g: &[f32], background: u8, k: &LineConsts, o: &mut [u8]) {
            grey_row_body(e, g, background, k, o);
        }
        // SAFETY: AVX2 was detected just above.
        unsafe { avx2(e, g, background, k, o) };
        return;
    }
    grey_row_body(e, g, background, k, o);
}

#[inline(always)]
fn grey_row_body(e: &[f32], g: &[f32], background: u8, k: &LineConsts, o: &mut [u8]) {
    for ((o, &e), &g) in o.iter_mut().zip(e).zip(g) {
        let v = grey(e, g, k);
        *o = if g.is_nan() { background } else { v };
    }
}

#[inline(always)]
fn grey(env: f32, tgc_db: f32, k: &LineConsts) -> u8 {
    let l = fast_log2(env.max(f32::MIN_POSITIVE));
    let l = if env > 0.0 { l } else { f32::NEG_INFINITY };
    let v = k.a * l + k.c + k.s * tgc_db;
    // Clamped to 0–255 with NaN (only from an infinite reference or gain) to 0, as a saturating
    // cast would; written as compare-and-select so that it vectorises.
    let v = if v >= 0.0 { v.min(255.0) } else { 0.0 } + 0.5;
    // SAFETY: 0.5 ≤ v ≤ 255.5, so the integer part fits an i32 (and a u8).
    unsafe { v.to_int_unchecked::<i32>() as u8 }
}

/// `log2(x)` for normal positive `x` (and +∞), branch-free so it vectorises; absolute error
/// below 2e-6 (1e-5 dB) plus the f32 rounding of the result. Exponent from the bits, mantissa `m ∈ [1, 2)` by the series
/// `log2(m) = (2/ln 2)·(t + t³/3 + t⁵/5 + t⁷/7 + t⁹/9)`, `t = (m − 1)/(m + 1) ∈ [0, 1/3)`.
#[inline(always)]
fn fast_log2(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let series = t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 * (1.0 / 7.0 + t2 * (1.0 / 9.0)))));
    exponent as f32 + std::f32::consts::LOG2_E * 2.0 * series
}

/// Largest value of `view` (NaN ignored; −∞ if empty), as a parallel reduction without allocation.
fn par_max(view: ArrayView2<'_, f32>) -> f32 {
    let grain = view.nrows().div_ceil(4 * rayon::current_num_threads()).max(8);
    max_rows(view, grain)
}

fn max_rows(view: ArrayView2<'_, f32>, grain: usize) -> f32 {
    let rows = view.nrows();
    if rows <= grain {
        return view.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    }
    let (a, b) = view.split_at(Axis(0), rows / 2);
    let (ma, mb) = rayon::join(|| max_rows(a, grain), || max_rows(b, grain));
    ma.max(mb)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent formula: grey level of a pixel at `level_db` (relative to the reference) in f64.
    fn expected(level_db: f64, dr: f64) -> f64 {
        (255.0 * (level_db + dr) / dr).round().clamp(0.0, 255.0)
    }

    fn line(env: &[f32]) -> Array2<f32> {
        Array2::from_shape_vec((1, env.len()), env.to_vec()).unwrap()
    }

    fn depths(n: usize) -> Vec<f64> {
        (0..n).map(|k| 0.001 * k as f64).collect()
    }

    /// The row loop (dispatched: AVX2 where the host has it) gives the levels of a saturating
    /// cast of the formula, for ordinary, zero, negative, NaN and infinite envelopes and gains,
    /// and the background exactly where the gain is NaN.
    #[test]
    fn grey_rows_saturate_like_a_cast_on_every_path() {
        let k = LineConsts {
            a: 4.25 * DB_PER_OCTAVE,
            c: 300.0,
            s: 4.25,
        };
        let mut e: Vec<f32> = (0..997).map(|i| 1e-9 * 1.05f32.powi(i % 450)).collect();
        e.extend([0.0, -1.0, f32::NAN, f32::INFINITY, f32::MAX, f32::MIN_POSITIVE, 1e-40]);
        let g: Vec<f32> = (0..e.len())
            .map(|i| match i % 7 {
                0 => f32::NAN,
                1 => f32::INFINITY,
                2 => f32::NEG_INFINITY,
                m => -40.0 + 13.0 * m as f32,
            })
            .collect();
        let reference = |e: f32, g: f32| {
            if g.is_nan() {
                return 77;
            }
            let l = if e > 0.0 {
                fast_log2(e.max(f32::MIN_POSITIVE))
            } else {
                f32::NEG_INFINITY
            };
            ((k.a * l + k.c + k.s * g).clamp(0.0, 255.0) + 0.5) as u8
        };
        let mut dispatched = vec![0u8; e.len()];
        grey_row(&e, &g, 77, &k, &mut dispatched);
        let mut scalar = vec![0u8; e.len()];
        grey_row_body(&e, &g, 77, &k, &mut scalar);
        for (j, (&e, &g)) in e.iter().zip(&g).enumerate() {
            assert_eq!(dispatched[j], reference(e, g), "env {e}, gain {g} dB");
        }
        assert_eq!(dispatched, scalar);
        assert!(dispatched.contains(&0) && dispatched.contains(&255) && dispatched.iter().any(|&v| v > 10 && v < 240));
    }

    #[test]
    fn fast_log2_is_accurate() {
        for i in 0..20_000 {
            let x = (1e-30 * 1.0047f64.powi(i)) as f32;
            let exact = (x as f64).log2();
            // Series error plus the f32 rounding of the result.
            assert!((fast_log2(x) as f64 - exact).abs() < 2e-6 + 1.2e-7 * exact.abs(), "{x}");
        }
        assert_eq!(fast_log2(1.0), 0.0);
        assert_eq!(fast_log2(8.0), 3.0);
    }

    #[test]
    fn levels_follow_the_formula_and_are_monotone() {
        let n = 2000;
        let env: Vec<f32> = (0..n).map(|k| 10f32.powf(-4.0 * k as f32 / n as f32)).collect();
        let grey = BModeMapper::new().map(line(&env).view(), &depths(n)).unwrap();
        let g = grey.row(0);
        assert_eq!(g[0], 255, "peak is 0 dB");
        for (k, w) in g.as_slice().unwrap().windows(2).enumerate() {
            assert!(w[1] <= w[0], "monotone at {k}");
        }
        for (k, &v) in g.iter().enumerate() {
            let level = 20.0 * (env[k] as f64).log10();
            assert!((v as f64 - expected(level, 60.0)).abs() <= 1.0, "{k}");
        }
        assert!(g.iter().skip(n * 3 / 4 + 2).all(|&v| v == 0), "below -60 dB is black");
    }

    #[test]
    fn frame_max_and_fixed_reference() {
        let env = line(&[2.5, 0.25, 0.025, 0.0, -1.0, f32::NAN]);
        let d = depths(6);
        let mut m = BModeMapper::new();
        assert_eq!(
            m.map(env.view(), &d).unwrap().row(0).to_vec(),
            vec![255, 170, 85, 0, 0, 0]
        );
        m.set_reference(DbReference::Fixed(0.25)).unwrap();
        assert_eq!(m.reference_amplitude(env.view()), 0.25);
        assert_eq!(
            m.map(env.view(), &d).unwrap().row(0).to_vec(),
            vec![255, 255, 170, 0, 0, 0]
        );
        // All-zero frame: black, no panic.
        let zeros = Array2::<f32>::zeros((3, 6));
        assert!(
            BModeMapper::new()
                .map(zeros.view(), &d)
                .unwrap()
                .iter()
                .all(|&v| v == 0)
        );
    }

    #[test]
    fn gain_shifts_grey_levels() {
        let n = 400;
        let env: Vec<f32> = (0..n).map(|k| 10f32.powf(-2.5 * k as f32 / n as f32)).collect();
        let mut m = BModeMapper::new();
        m.set_reference(DbReference::Fixed(1.0)).unwrap();
        let dr = 48.0;
        m.set_dynamic_range_db(dr).unwrap();
        let base = m.map(line(&env).view(), &depths(n)).unwrap();
        m.set_gain_db(6.0).unwrap();
        let up = m.map(line(&env).view(), &depths(n)).unwrap();
        let shift = 6.0 * 255.0 / dr;
        for (&b, &u) in base.iter().zip(up.iter()) {
            if u < 255 && b > 0 {
                assert!((u as f64 - b as f64 - shift).abs() <= 1.0, "{b} -> {u}");
            }
        }
    }

    #[test]
    fn tgc_applies_per_depth() {
        let tgc = Tgc::new(vec![(0.01, 0.0), (0.05, 20.0)]).unwrap();
        assert_eq!(tgc.gain_db_at(0.0), 0.0);
        assert!((tgc.gain_db_at(0.03) - 10.0).abs() < 1e-12);
        assert_eq!(tgc.gain_db_at(0.2), 20.0);
        let d: Vec<f64> = (0..7).map(|k| 0.01 * k as f64).collect();
        let env = Array2::from_elem((3, 7), 0.01f32); // -40 dB against the fixed reference 1
        let mut m = BModeMapper::new();
        m.set_reference(DbReference::Fixed(1.0)).unwrap();
        m.set_tgc(tgc.clone());
        let grey = m.map(env.view(), &d).unwrap();
        for (k, &depth) in d.iter().enumerate() {
            let want = expected(-40.0 + tgc.gain_db_at(depth), 60.0);
            for l in 0..3 {
                assert!((grey[[l, k]] as f64 - want).abs() <= 1.0, "depth {depth}");
            }
        }
        // Changing the TGC invalidates the cache for the same depths.
        m.set_tgc(Tgc::flat());
        assert!(m.map(env.view(), &d).unwrap().iter().all(|&v| v == 85));
    }

    #[test]
    fn non_contiguous_views_map_like_contiguous() {
        let env = Array2::from_shape_fn((5, 9), |(l, k)| 1.0 / (1 + l + 3 * k) as f32);
        let d = depths(9);
        let m = BModeMapper::new();
        let direct = m.map(env.view(), &d).unwrap();
        let env_t = env.t().to_owned();
        let mut out_t = Array2::zeros((9, 5));
        m.map_into(env_t.t(), &d, out_t.view_mut().reversed_axes()).unwrap();
        assert_eq!(out_t.t(), direct);
    }

    #[test]
    fn gain_control_mapping() {
        assert_eq!(gain_from_control(50.0).unwrap(), 0.0);
        assert!((gain_from_control(0.0).unwrap() + 30.0).abs() < 1e-12);
        assert!((gain_from_control(100.0).unwrap() - 30.0).abs() < 1e-12);
        assert!((gain_from_control(60.0).unwrap() - 6.0).abs() < 1e-12);
        assert!((control_from_gain(-30.0).unwrap()).abs() < 1e-9);
        assert!(gain_from_control(-1.0).is_err() && gain_from_control(f64::NAN).is_err());
        assert!(control_from_gain(31.0).is_err());
        let mut m = BModeMapper::new();
        m.set_gain_control(75.0).unwrap();
        assert!((m.gain_db() - 15.0).abs() < 1e-12);
    }

    #[test]
    fn invalid_settings_are_errors() {
        let mut m = BModeMapper::new();
        assert!(m.set_dynamic_range_db(0.0).is_err());
        assert!(m.set_dynamic_range_db(f64::NAN).is_err());
        assert!(m.set_dynamic_range_db(500.0).is_err());
        assert!(m.set_gain_db(f64::INFINITY).is_err());
        assert!(m.set_reference(DbReference::Fixed(0.0)).is_err());
        assert!(m.set_reference(DbReference::Fixed(f32::NAN)).is_err());
        assert!(Tgc::new(vec![(0.02, 0.0), (0.01, 3.0)]).is_err());
        assert!(Tgc::new(vec![(0.01, 0.0), (0.01, 3.0)]).is_err());
        assert!(Tgc::new(vec![(f64::NAN, 0.0)]).is_err());
        assert!(Tgc::new(vec![(0.01, f64::NAN)]).is_err());
        assert_eq!(Tgc::new(vec![]).unwrap(), Tgc::flat());
        let env = Array2::<f32>::ones((2, 3));
        let e = m.map(env.view(), &[0.0, 0.1]).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { name: "depths_m", .. }));
        assert!(m.map(env.view(), &[0.0, f64::NAN, 0.2]).is_err());
        let mut out = Array2::zeros((3, 3));
        assert!(m.map_into(env.view(), &[0.0, 0.1, 0.2], out.view_mut()).is_err());
        assert_eq!(m.dynamic_range_db(), 60.0, "failed setters leave the mapper unchanged");
    }

    /// Formerly a dynamic range of 1e-300 dB was accepted and the 0 dB pixel came out black (255/DR
    /// overflows); gains, TGC depths and fixed references are checked against plausible ranges.
    #[test]
    fn implausible_settings_are_refused() {
        let mut m = BModeMapper::new();
        let e = m.set_dynamic_range_db(1e-300).unwrap_err();
        assert_eq!(e.parameter(), Some("dynamic_range_db"));
        assert!(e.to_string().contains("dB"), "{e}");
        assert!(m.set_dynamic_range_db(0.5).is_err());
        m.set_dynamic_range_db(MIN_DYNAMIC_RANGE_DB).unwrap();
        let g = m.map(line(&[1.0, 0.5]).view(), &depths(2)).unwrap();
        assert_eq!(g.row(0).to_vec(), vec![255, 0], "0 dB white, -6 dB black at 1 dB range");
        let e = m.set_gain_db(1e300).unwrap_err();
        assert!(e.parameter() == Some("gain_db") && e.to_string().contains("dB"), "{e}");
        for bad in [20.0, -1e300, f64::INFINITY] {
            let e = Tgc::new(vec![(bad, 0.0)]).unwrap_err();
            assert!(e.parameter() == Some("points") && e.to_string().contains("] m"), "{e}");
        }
        assert!(Tgc::new(vec![(0.01, 1e300)]).is_err());
        // Formerly a NaN depth indexed p[0 - 1] and panicked.
        let tgc = Tgc::new(vec![(0.01, 3.0), (0.02, 6.0)]).unwrap();
        assert_eq!(tgc.gain_db_at(f64::NAN), 3.0);
        assert_eq!(tgc.gain_db_at(f64::INFINITY), 6.0);
        assert_eq!(tgc.gain_db_at(f64::NEG_INFINITY), 3.0);
        for bad in [f32::INFINITY, 1e-40, -1.0, 0.0] {
            let e = m.set_reference(DbReference::Fixed(bad)).unwrap_err();
            assert_eq!(e.parameter(), Some("reference"), "{e}");
        }
        assert_eq!(
            m.dynamic_range_db(),
            MIN_DYNAMIC_RANGE_DB,
            "failed setters change nothing"
        );
    }

    /// The extremes of every setting together still give the documented grey levels.
    #[test]
    fn extreme_settings_map_sensibly() {
        let mut m = BModeMapper::new();
        m.set_dynamic_range_db(MIN_DYNAMIC_RANGE_DB).unwrap();
        m.set_gain_db(-MAX_DB).unwrap();
        m.set_reference(DbReference::Fixed(f32::MIN_POSITIVE)).unwrap();
        m.set_tgc(Tgc::new(vec![(-MAX_TGC_DEPTH_M, MAX_DB), (MAX_TGC_DEPTH_M, -MAX_DB)]).unwrap());
        let env = line(&[f32::MAX, 1.0, 0.0, f32::MIN_POSITIVE]);
        let g = m.map(env.view(), &[0.0, 0.0, 0.0, 0.0]).unwrap();
        // f32::MAX is 1,529 dB above the reference, 1 is 759 dB: both white after -200 dB gain.
        assert_eq!(g.row(0).to_vec(), vec![255, 255, 0, 0]);
    }
}
