//! The IQ path of scan conversion: a beamformed IQ image, brought to baseband along its lines,
//! is interpolated to the raster as complex values and detected there (`|IQ|` per raster pixel).
//!
//! Why: a beamformed IQ image is the analytic RF image. Along a line it carries the two-way
//! carrier `exp(i·4π·f·d/c)` (one turn per λ/2 of depth), so its samples cannot be interpolated
//! until that carrier is removed ([`remove_carrier`] with [`baseband_phasors`]). After it, the
//! image varies only as fast as its bandwidth allows, and a grid sampled at that bandwidth's
//! Nyquist rate (cubic interpolation needs little margin) can be interpolated to any raster.
//! Detecting first and interpolating the envelope instead would change the speckle statistics
//! with the grid spacing (the envelope is not band-limited); interpolating IQ and detecting on
//! the raster keeps them (`docs/physics.md`, "Beamforming grids from the physics").

use super::{CUBIC_DEPTH, CUBIC_LINES, FRAC_ONE, OUTSIDE, ScanConverter};
use crate::envelope::par_row_blocks;
use crate::error::{Error, Result};
use crate::grid::Grid;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, s};
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;

/// `exp(−i·4π·f·d/c)` for each depth `d` of `depths_m`: multiplied into a beamformed IQ image's
/// lines ([`remove_carrier`]) it removes the two-way carrier of frequency `f_hz` (the
/// demodulation frequency of the channel data the image was beamformed from) at the sound speed
/// `c_m_s` the beamformer assumed. A constant depth offset only rotates the whole image, which
/// detection ignores, so `d` may be measured from the probe face or from a sector's apex.
///
/// Errors: `f_hz` outside 0–1 GHz, `c_m_s` outside 100–10,000 m/s, or a non-finite depth
/// (named). Cost: one `sin_cos` per depth.
pub fn baseband_phasors(depths_m: &[f64], f_hz: f64, c_m_s: f64) -> Result<Vec<Complex32>> {
    crate::error::plausible("f_hz", f_hz, 0.0, 1e9, "Hz")?;
    crate::error::plausible("c_m_s", c_m_s, 100.0, 1e4, "m/s")?;
    if let Some(&d) = depths_m.iter().find(|d| !(d.is_finite() && d.abs() <= 1e3)) {
        return Err(Error::invalid("depths_m", "finite depths in metres", d));
    }
    let k = -4.0 * std::f64::consts::PI * f_hz / c_m_s;
    Ok(depths_m
        .iter()
        .map(|&d| {
            // The phase modulo one turn in f64 first, so that f32 keeps its precision.
            let (s, c) = (k * d).rem_euclid(std::f64::consts::TAU).sin_cos();
            Complex32::new(c as f32, s as f32)
        })
        .collect())
}

/// Multiplies every line of `img` (`[n_lines, n_depths]`) by `phasors` (one per depth, as from
/// [`baseband_phasors`]), in place and in parallel over lines. Allocates nothing.
///
/// Errors: `phasors` of another length than `n_depths`, or a non-finite phasor (named).
pub fn remove_carrier(mut img: ArrayViewMut2<'_, Complex32>, phasors: &[Complex32]) -> Result<()> {
    if phasors.len() != img.ncols() {
        return Err(Error::shape(
            "phasors",
            format!("{} phasors (one per depth of the image)", img.ncols()),
            format!("{}", phasors.len()),
        ));
    }
    if phasors.iter().any(|p| !(p.re.is_finite() && p.im.is_finite())) {
        return Err(Error::invalid("phasors", "finite values", "a non-finite phasor"));
    }
    img.axis_iter_mut(Axis(0)).into_par_iter().for_each(|mut line| {
        for (v, p) in line.iter_mut().zip(phasors) {
            *v *= *p;
        }
    });
    Ok(())
}

/// Brings a beamformed IQ image to baseband along its lines: first the nominal two-way carrier
/// ([`baseband_phasors`]), then the carrier that remains, measured on the image itself.
///
/// The echoes' centre frequency is not the transmit frequency: frequency-dependent attenuation
/// lowers it with depth (by 25 % at 24 mm in the vascular preset), and the pulse-echo spectrum
/// need not be centred on `fc`. The remaining carrier is measured as the phase of the lag-one
/// autocorrelation along depth, summed over all lines and a sliding window of depths (the
/// Loupas estimator of the mean frequency), and integrated along depth into one phasor per
/// depth, which is removed together with the nominal one. Deterministic and independent of the
/// thread count; allocates nothing after [`Baseband::new`]. Cost: two passes over the image.
#[derive(Debug, Clone)]
pub struct Baseband {
    nominal: Vec<Complex32>,
    lag_one: Vec<Complex64>,
    phasors: Vec<Complex32>,
    half_window: usize,
}

impl Baseband {
    /// A plan for images whose line samples lie at `depths_m`, beamformed from data demodulated
    /// at `f_hz` with sound speed `c_m_s`; the residual carrier is averaged over `2·half_window + 1`
    /// depth samples. Errors as [`baseband_phasors`].
    pub fn new(depths_m: &[f64], f_hz: f64, c_m_s: f64, half_window: usize) -> Result<Baseband> {
        let n = depths_m.len();
        Ok(Baseband {
            nominal: baseband_phasors(depths_m, f_hz, c_m_s)?,
            lag_one: vec![Complex64::new(0.0, 0.0); n],
            phasors: vec![Complex32::new(1.0, 0.0); n],
            // A window wider than the line is the whole line.
            half_window: half_window.min(n),
        })
    }

    /// Removes the nominal and the measured carrier from `img` (`[n_lines, n_depths]`), in place.
    /// Errors: another depth count than the plan's (`img`).
    pub fn apply(&mut self, img: ArrayViewMut2<'_, Complex32>) -> Result<()> {
        let n = self.nominal.len();
        if img.ncols() != n {
            return Err(Error::shape(
                "img",
                format!("{n} depth samples per line"),
                img.ncols().to_string(),
            ));
        }
        if n < 2 {
            return remove_carrier(img, &self.nominal);
        }
        // Lag-one autocorrelation along depth of the nominally basebanded image, per depth,
        // summed over lines (in line order): from the raw samples, times the nominal phasors'
        // own lag-one product, so that the image is written only once.
        let (view, nominal) = (img.view(), &self.nominal);
        self.lag_one[..n - 1]
            .par_chunks_mut(64)
            .enumerate()
            .for_each(|(c, acc)| {
                let k0 = c * 64;
                acc.fill(Complex64::new(0.0, 0.0));
                for line in view.outer_iter() {
                    for (j, a) in acc.iter_mut().enumerate() {
                        let v = line[k0 + j + 1] * line[k0 + j].conj();
                        *a += Complex64::new(f64::from(v.re), f64::from(v.im));
                    }
                }
                for (j, a) in acc.iter_mut().enumerate() {
                    let q = nominal[k0 + j + 1] * nominal[k0 + j].conj();
                    *a *= Complex64::new(f64::from(q.re), f64::from(q.im));
                }
            });
        // Sliding sum over the window, the phase integrated along depth, and the nominal and
        // measured carriers combined into one phasor per depth.
        let (w, m) = (self.half_window, n - 1);
        let mut sum: Complex64 = self.lag_one[..(w + 1).min(m)].iter().sum();
        let mut phase = 0.0f64;
        self.phasors[0] = self.nominal[0];
        for k in 0..m {
            let step = if sum.norm_sqr() > 0.0 { sum.arg() } else { 0.0 };
            phase = (phase - step).rem_euclid(std::f64::consts::TAU);
            let (s, c) = phase.sin_cos();
            self.phasors[k + 1] = self.nominal[k + 1] * Complex32::new(c as f32, s as f32);
            if k + w + 1 < m {
                sum += self.lag_one[k + w + 1];
            }
            if k >= w {
                sum -= self.lag_one[k - w];
            }
        }
        remove_carrier(img, &self.phasors)
    }
}

/// The complex sum of the bicubic interior path of [`ScanConverter::detect_iq_into`]: line `m`'s
/// four depth samples `taps[m]` (8 floats, re/im interleaved) weighted by `wl[m]·wk[k]`, summed in
/// one fixed order, so that every implementation gives the same bits.
trait CubicSums {
    fn sums(taps: [&[f32]; 4], wl: [f32; 4], wk: [f32; 4]) -> (f32, f32);
}

/// [`CubicSums`] on scalars, in the order of the AVX2 version's lanes: `acc[q] = Σ_m
/// (wl[m]·wk[q/2])·x_m[q]` for the 8 floats, then `(acc[0] + acc[4]) + (acc[2] + acc[6])` (re)
/// and likewise for im.
struct ScalarSums;

impl CubicSums for ScalarSums {
    #[inline(always)]
    fn sums(taps: [&[f32]; 4], wl: [f32; 4], wk: [f32; 4]) -> (f32, f32) {
        let wk8 = [wk[0], wk[0], wk[1], wk[1], wk[2], wk[2], wk[3], wk[3]];
        let mut acc = [0.0f32; 8];
        for (x, &w) in taps.iter().zip(&wl) {
            for ((a, &x), &k) in acc.iter_mut().zip(x.iter()).zip(&wk8) {
                *a += w * k * x;
            }
        }
        (
            (acc[0] + acc[4]) + (acc[2] + acc[6]),
            (acc[1] + acc[5]) + (acc[3] + acc[7]),
        )
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! [`super::CubicSums`] with one 256-bit accumulator.
    use std::arch::x86_64::*;

    pub(super) struct Sums;

    impl super::CubicSums for Sums {
        /// Same operations and order as [`super::ScalarSums`]. Called only from code compiled
        /// for AVX2 (`detect_rows_avx2`), into which it is inlined.
        #[inline(always)]
        fn sums(taps: [&[f32]; 4], wl: [f32; 4], wk: [f32; 4]) -> (f32, f32) {
            assert!(taps.iter().all(|t| t.len() >= 8));
            // SAFETY: every `taps[m]` holds 8 floats (checked above), and this is only reached
            // from `detect_rows_avx2`, whose caller detected AVX2.
            unsafe {
                let wk8 = _mm256_setr_ps(wk[0], wk[0], wk[1], wk[1], wk[2], wk[2], wk[3], wk[3]);
                let mut acc = _mm256_setzero_ps();
                for (x, &w) in taps.iter().zip(&wl) {
                    let x = _mm256_loadu_ps(x.as_ptr());
                    acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(w), wk8), x));
                }
                // [a0 + a4, a1 + a5, a2 + a6, a3 + a7], then lanes 0 + 2 and 1 + 3.
                let s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps::<1>(acc));
                let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
                (_mm_cvtss_f32(s), _mm_cvtss_f32(_mm_shuffle_ps::<0b01>(s, s)))
            }
        }
    }
}

/// Raster pixels per pass of [`ScanConverter::detect_iq_into`].
const CHUNK: usize = 64;

/// Catmull-Rom (Keys, a = −0.5) weights of the samples `k − 1, k, k + 1, k + 2` at the fraction
/// `t ∈ [0, 1]` between `k` and `k + 1`: exact for quadratics, and at a quarter of the sampling
/// rate it keeps 88 % of the amplitude half-way between samples where linear interpolation keeps
/// 71 %.
#[inline(always)]
fn catmull_rom(t: f32) -> [f32; 4] {
    let (t2, t3) = (t * t, t * t * t);
    [
        0.5 * (-t3 + 2.0 * t2 - t),
        0.5 * (3.0 * t3 - 5.0 * t2 + 2.0),
        0.5 * (-3.0 * t3 + 4.0 * t2 + t),
        0.5 * (t3 - t2),
    ]
}

impl ScanConverter {
    /// Interpolates the complex image `img` (`input_shape`, at baseband along its lines: see
    /// [`Baseband`]) to every raster pixel (cubic along depth, linear across lines; linear along
    /// depth in the first and last depth interval) and writes its magnitude to `out`
    /// (`output_shape`, `[row, col]`); pixels outside the field of view get 0. Allocates nothing
    /// when `img` is in standard (C) layout; otherwise it is copied once. Cost: 8 complex loads
    /// and one square root per raster pixel, in parallel over rows.
    pub fn detect_iq_into(&self, img: ArrayView2<'_, Complex32>, out: ArrayViewMut2<'_, f32>) -> Result<()> {
        self.check_shapes(img.dim(), out.dim())?;
        let img = img.as_standard_layout();
        let Some(src) = img.as_slice() else {
            return Err(Error::shape("img", "a standard-layout array", "another layout"));
        };
        par_row_blocks(out, 4, &|first, block: ArrayViewMut2<'_, f32>| {
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: AVX2 was detected just above.
                unsafe { self.detect_rows_avx2(src, first, block) };
                return;
            }
            self.detect_rows::<ScalarSums>(src, first, block);
        });
        Ok(())
    }

    /// [`detect_rows`](Self::detect_rows) compiled for AVX2: the same operations in the same
    /// order (no FMA contraction, no reassociation), so the results are identical; the 8-float
    /// accumulator of the interior path becomes one 256-bit register.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn detect_rows_avx2(&self, src: &[Complex32], first: usize, block: ArrayViewMut2<'_, f32>) {
        self.detect_rows::<avx2::Sums>(src, first, block);
    }

    /// The raster rows `first..` of `block` from the baseband image `src` (standard layout).
    ///
    /// Each row runs in chunks of [`CHUNK`] pixels and three passes, so that no pixel waits on a
    /// long chain of its own: the Catmull-Rom weights of the whole chunk (lanes = pixels, branch
    /// free), the complex sums, then the magnitudes (lanes = pixels). Written as one pass per
    /// pixel, a pixel's weights, sums and square root formed one dependent chain of about
    /// 80 cycles and the loop ran at that latency.
    #[inline(always)]
    fn detect_rows<S: CubicSums>(&self, src: &[Complex32], first: usize, mut block: ArrayViewMut2<'_, f32>) {
        let (ls, ds, w) = (self.line_step, self.depth_step, self.width_px);
        let scale = 1.0 / FRAC_ONE as f32;
        // SAFETY: `Complex32` is `repr(C)` { re: f32, im: f32 }, so `src` is `2 × len` floats.
        let flat: &[f32] = unsafe { std::slice::from_raw_parts(src.as_ptr().cast::<f32>(), 2 * src.len()) };
        let mut wl4 = [[0.0f32; CHUNK]; 4];
        let mut wk4 = [[0.0f32; CHUNK]; 4];
        let (mut re, mut im) = ([0.0f32; CHUNK], [0.0f32; CHUNK]);
        for (i, mut row) in block.outer_iter_mut().enumerate() {
            let start = (first + i) * w;
            let lut = &self.lut[start..start + w];
            for (c0, taps) in lut.chunks(CHUNK).enumerate() {
                let n = taps.len();
                for (p, t) in taps.iter().enumerate() {
                    let l = catmull_rom(f32::from(t.line_frac) * scale);
                    let k = catmull_rom(f32::from(t.depth_frac) * scale);
                    for m in 0..4 {
                        wl4[m][p] = l[m];
                        wk4[m][p] = k[m];
                    }
                }
                for (p, t) in taps.iter().enumerate() {
                    if t.src == OUTSIDE {
                        (re[p], im[p]) = (0.0, 0.0);
                        continue;
                    }
                    let i = t.src as usize;
                    let wk = [wk4[0][p], wk4[1][p], wk4[2][p], wk4[3][p]];
                    let wl = [wl4[0][p], wl4[1][p], wl4[2][p], wl4[3][p]];
                    if t.cubic == CUBIC_DEPTH | CUBIC_LINES {
                        // The common case: the four samples along depth of each line are 8
                        // contiguous floats (re, im interleaved), one vector.
                        let taps = |m: usize| {
                            let j = 2 * (i + m * ls - ls - 1);
                            &flat[j..j + 8]
                        };
                        (re[p], im[p]) = S::sums([taps(0), taps(1), taps(2), taps(3)], wl, wk);
                        continue;
                    }
                    // Near an edge of the grid: linear along the axes without both neighbours.
                    let (fl, fd) = (f32::from(t.line_frac) * scale, f32::from(t.depth_frac) * scale);
                    let cubic_depth = t.cubic & CUBIC_DEPTH != 0;
                    let along = |j: usize| {
                        if cubic_depth {
                            src[j - ds] * wk[0] + src[j] * wk[1] + src[j + ds] * wk[2] + src[j + 2 * ds] * wk[3]
                        } else {
                            src[j] + (src[j + ds] - src[j]) * fd
                        }
                    };
                    let v = if t.cubic & CUBIC_LINES != 0 {
                        along(i - ls) * wl[0] + along(i) * wl[1] + along(i + ls) * wl[2] + along(i + 2 * ls) * wl[3]
                    } else {
                        let near = along(i);
                        near + (along(i + ls) - near) * fl
                    };
                    (re[p], im[p]) = (v.re, v.im);
                }
                // |v| without `hypot` (a libm call): the values are far from overflow.
                let mut out = row.slice_mut(s![c0 * CHUNK..c0 * CHUNK + n]);
                match out.as_slice_mut() {
                    Some(out) => {
                        for ((o, &r), &q) in out.iter_mut().zip(&re[..n]).zip(&im[..n]) {
                            *o = (r * r + q * q).sqrt();
                        }
                    }
                    None => {
                        for ((o, &r), &q) in out.iter_mut().zip(&re[..n]).zip(&im[..n]) {
                            *o = (r * r + q * q).sqrt();
                        }
                    }
                }
            }
        }
    }

    /// Allocating form of [`detect_iq_into`](ScanConverter::detect_iq_into): one `f32` raster.
    pub fn detect_iq(&self, img: ArrayView2<'_, Complex32>) -> Result<Array2<f32>> {
        let mut out = Array2::zeros(self.output_shape());
        self.detect_iq_into(img, out.view_mut())?;
        Ok(out)
    }

    /// The depth of every raster pixel `[row, col]` along the grid's lines, interpolated from
    /// `depths_m` (one per grid depth sample; NaN outside the field of view): what a TGC curve of
    /// the pixel needs, since on a sector the depth along the ray is not the raster's z. Errors:
    /// `depths_m` of another length than the grid's depth count. Cost: one `f32` raster.
    pub fn pixel_depths_m(&self, depths_m: &[f64]) -> Result<Array2<f32>> {
        let n_depths = self.input_shape.1;
        if depths_m.len() != n_depths {
            return Err(Error::shape(
                "depths_m",
                format!("{n_depths} depths (one per grid depth sample)"),
                format!("{}", depths_m.len()),
            ));
        }
        let lut = &self.lut;
        let out = Array2::from_shape_fn(self.output_shape(), |(row, col)| {
            let t = lut[row * self.width_px + col];
            if t.src == OUTSIDE {
                return f32::NAN;
            }
            let k = t.src as usize % n_depths;
            let f = f64::from(t.depth_frac) / FRAC_ONE;
            let next = depths_m[(k + self.depth_step).min(n_depths - 1)];
            (depths_m[k] + (next - depths_m[k]) * f) as f32
        });
        Ok(out)
    }

    /// The raster's pixel centres as a Cartesian grid (x = columns, z = rows, y = 0), so that the
    /// contrast and resolution metrics apply to raster images: a raster `[row, col]` is that grid's
    /// image transposed (`raster.t()`). Cost: two axes of `width_px` and `height_px` values.
    pub fn raster_grid(&self) -> Result<Grid> {
        let xs = (0..self.width_px).map(|c| self.pixel_centre_m(0, c)[0]).collect();
        let zs = (0..self.height_px).map(|r| self.pixel_centre_m(r, 0)[1]).collect();
        Grid::cartesian_from_axes(xs, zs, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::RasterSpec;
    use super::*;

    /// A carrier along depth is removed exactly, and a baseband image interpolates to the raster
    /// with its magnitude, where an interpolated carrier would cancel between samples.
    #[test]
    fn carrier_removal_makes_the_image_interpolable() {
        let (f, c) = (5e6, 1540.0);
        let lambda = c / f;
        let n = 400;
        let depths: Vec<f64> = (0..n).map(|k| 0.01 + k as f64 * lambda / 2.5).collect();
        let grid = Grid::cartesian_from_axes(vec![-0.01, 0.0, 0.01], depths.clone(), 0.0).unwrap();
        // The analytic image of a uniform medium: unit magnitude, two-way carrier.
        let mut img = Array2::from_shape_fn((3, n), |(_, k)| {
            let ph = 4.0 * std::f64::consts::PI * f * depths[k] / c;
            Complex32::new(ph.cos() as f32, ph.sin() as f32)
        });
        let sc = ScanConverter::new(&grid, RasterSpec::new(20, 300)).unwrap();
        let raw = sc.detect_iq(img.view()).unwrap();
        let p = baseband_phasors(&depths, f, c).unwrap();
        remove_carrier(img.view_mut(), &p).unwrap();
        assert!(img.iter().all(|v| (v.re - 1.0).abs() < 1e-4 && v.im.abs() < 1e-4));
        let bb = sc.detect_iq(img.view()).unwrap();
        assert!(bb.iter().all(|&v| (v - 1.0).abs() < 1e-4), "baseband interpolates to 1");
        let worst = raw.iter().fold(1.0f32, |m, &v| m.min(v));
        assert!(
            worst < 0.9,
            "the carrier interpolated directly loses magnitude ({worst})"
        );
    }

    /// An image whose carrier is 0.8 of the nominal one (as after an attenuation downshift), and
    /// changes with depth: after `Baseband` its phase is constant along every line to within a
    /// few degrees, where removing only the nominal carrier leaves it turning.
    #[test]
    fn baseband_measures_and_removes_a_shifted_carrier() {
        let (f, c) = (5e6, 1540.0);
        let n = 600;
        let depths: Vec<f64> = (0..n).map(|k| 0.01 + k as f64 * 4e-5).collect();
        // Local carrier 0.8·f at the top falling to 0.7·f at the bottom; its phase, integrated.
        let mut phase = vec![0.0f64; n];
        for k in 1..n {
            let frac = 0.8 - 0.1 * k as f64 / n as f64;
            phase[k] = phase[k - 1] + 4.0 * std::f64::consts::PI * frac * f * (depths[k] - depths[k - 1]) / c;
        }
        let image = |l: usize| {
            Array2::from_shape_fn((l, n), |(i, k)| {
                let p = phase[k] + i as f64;
                Complex32::new(p.cos() as f32, p.sin() as f32)
            })
        };
        let mut img = image(4);
        let mut bb = Baseband::new(&depths, f, c, 8).unwrap();
        bb.apply(img.view_mut()).unwrap();
        for line in img.outer_iter() {
            let worst = line
                .iter()
                .map(|v| (v * line[0].conj()).arg().abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 0.05, "residual phase {worst} rad");
        }
        let mut nominal = image(4);
        remove_carrier(nominal.view_mut(), &baseband_phasors(&depths, f, c).unwrap()).unwrap();
        let turns = nominal
            .row(0)
            .iter()
            .map(|v| (v * nominal[[0, 0]].conj()).arg().abs())
            .fold(0.0f32, f32::max);
        assert!(turns > 3.0, "the nominal carrier alone leaves the phase turning");
        assert!(bb.apply(Array2::zeros((2, 5)).view_mut()).is_err());
        // Any window, however wide, is accepted.
        let mut wide = Baseband::new(&depths, f, c, usize::MAX).unwrap();
        wide.apply(image(2).view_mut()).unwrap();
    }

    #[test]
    fn pixel_depths_follow_the_rays_and_errors_are_named() {
        let grid = Grid::sector((-0.5, 0.5), 32, (0.005, 0.05), 100).unwrap();
        let sc = ScanConverter::new(&grid, RasterSpec::new(120, 100)).unwrap();
        let GridKind::Sector { depths_m, .. } = grid.kind() else {
            unreachable!()
        };
        let d = sc.pixel_depths_m(depths_m).unwrap();
        for ((row, col), &v) in d.indexed_iter() {
            let [x, z] = sc.pixel_centre_m(row, col);
            if sc.is_inside(row, col) {
                assert!((f64::from(v) - x.hypot(z)).abs() < 1e-6, "{row} {col}");
            } else {
                assert!(v.is_nan());
            }
        }
        assert_eq!(sc.pixel_depths_m(&[0.0; 3]).unwrap_err().parameter(), Some("depths_m"));
        let mut img = Array2::<Complex32>::zeros((32, 100));
        assert_eq!(
            remove_carrier(img.view_mut(), &[Complex32::new(1.0, 0.0); 5])
                .unwrap_err()
                .parameter(),
            Some("phasors")
        );
        let nan = vec![Complex32::new(f32::NAN, 0.0); 100];
        assert_eq!(
            remove_carrier(img.view_mut(), &nan).unwrap_err().parameter(),
            Some("phasors")
        );
        assert_eq!(
            baseband_phasors(&[0.0], f64::NAN, 1540.0).unwrap_err().parameter(),
            Some("f_hz")
        );
        assert_eq!(
            baseband_phasors(&[0.0], 1e6, 1.54).unwrap_err().parameter(),
            Some("c_m_s")
        );
        assert_eq!(
            baseband_phasors(&[f64::INFINITY], 1e6, 1540.0).unwrap_err().parameter(),
            Some("depths_m")
        );
        assert!(sc.detect_iq(Array2::zeros((3, 3)).view()).is_err());
        let g = sc.raster_grid().unwrap();
        assert_eq!(g.shape(), (120, 100));
    }

    /// A deterministic image with structure on every scale (a pseudo-random walk per pixel).
    fn noise_image(shape: (usize, usize)) -> Array2<Complex32> {
        let mut x = 0x9e37_79b9_u32;
        Array2::from_shape_simple_fn(shape, || {
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as f32 / u32::MAX as f32 - 0.5
            };
            Complex32::new(next(), next())
        })
    }

    /// Catmull-Rom reproduces quadratics: where a pixel is bicubic, an image that is a quadratic
    /// of the (line, depth) index interpolates to the quadratic's value at the pixel's
    /// fractional index; every pixel of the dispatched path equals the scalar path bit for bit.
    #[test]
    fn bicubic_pixels_reproduce_quadratics_and_every_path_agrees() {
        let grid = Grid::cartesian_from_axes(
            (0..40).map(|l| -0.01 + l as f64 * 5e-4).collect(),
            (0..120).map(|k| 0.005 + k as f64 * 1e-4).collect(),
            0.0,
        )
        .unwrap();
        let sc = ScanConverter::new(&grid, RasterSpec::new(157, 93)).unwrap();
        let q = |l: f64, k: f64| 0.3 + 0.02 * l - 4e-4 * l * l + 0.01 * k + 1e-4 * k * k - 2e-4 * l * k;
        let img = Array2::from_shape_fn(sc.input_shape(), |(l, k)| {
            Complex32::new(q(l as f64, k as f64) as f32, 0.5)
        });
        let out = sc.detect_iq(img.view()).unwrap();
        let n_depths = sc.input_shape().1;
        let mut bicubic = 0;
        for ((row, col), &v) in out.indexed_iter() {
            let t = sc.lut[row * sc.width_px + col];
            if t.src == OUTSIDE || t.cubic != CUBIC_DEPTH | CUBIC_LINES {
                continue;
            }
            let l = (t.src as usize / n_depths) as f64 + f64::from(t.line_frac) / FRAC_ONE;
            let k = (t.src as usize % n_depths) as f64 + f64::from(t.depth_frac) / FRAC_ONE;
            let want = q(l, k).hypot(0.5);
            assert!(
                (f64::from(v) - want).abs() < 2e-5 * want,
                "({row}, {col}): {v} against {want}"
            );
            bicubic += 1;
        }
        assert!(bicubic > out.len() / 2, "{bicubic} bicubic pixels of {}", out.len());

        for (grid, shape) in [
            (grid.clone(), (157, 93)),
            (Grid::sector((-0.6, 0.6), 37, (0.004, 0.05), 211).unwrap(), (140, 170)),
        ] {
            let sc = ScanConverter::new(&grid, RasterSpec::new(shape.0, shape.1)).unwrap();
            let img = noise_image(sc.input_shape());
            let dispatched = sc.detect_iq(img.view()).unwrap();
            let mut scalar = Array2::zeros(sc.output_shape());
            sc.detect_rows::<ScalarSums>(img.as_slice().unwrap(), 0, scalar.view_mut());
            assert_eq!(dispatched, scalar);
            #[cfg(target_arch = "x86_64")]
            if !std::arch::is_x86_feature_detected!("avx2") {
                eprintln!("note: no AVX2 on this host; only the scalar detection path ran");
            }
        }
    }

    use crate::grid::GridKind;
}
