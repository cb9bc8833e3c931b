//! Element directivity across the band: the frequency dependence of a rectangle's far-field
//! response, fitted per (sub-)element and scatterer with two spectral basis functions that the
//! pulse table carries (see the [module docs](super#directivity-across-the-band)).

use super::context::Context;
use super::math::{sinc, small_sin_cos};
use super::taps::{ColumnScratch, DelayBins, Geometry, TapSlot};
use crate::pulse::Pulse;
use std::f64::consts::PI;

/// How the simulator evaluates each (sub-)element's directivity. See the
/// [module docs](super#directivity-across-the-band).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Directivity {
    /// At the pulse's centre frequency: each impulse is weighted by
    /// `sinc(w·sinθ_u/λ)·sinc(h·sinθ_y/λ)·cosθ`, the same factor at every frequency. Exact at fc;
    /// across the band off by up to 1 dB one-way for `s·sinθ ≤ 0.27 λ` (80 % bandwidth), more for
    /// wider elements at steeper angles. The default.
    #[default]
    CentreFrequency,
    /// Across the band: each leg's factor `H(f) = sinc(f·T_u)·sinc(f·T_y)·cosθ`
    /// (`T = s·sinθ/c`) is replaced by its least-squares fit `A + B·(|f|/fc − 1)` over the pulse's
    /// spectrum, so an echo's spectrum is `S·(A_t + B_t·φ)·(A_r + B_r·φ)`. Costs about 1.6–2 times
    /// the default (two incident waves per scatterer and transmit, two reads per receive tap, three
    /// pulse tables) and a table of `(A, B)` over the elements' angles.
    Broadband,
}

/// Step of the fit table in `s·sinθ/λ` (wavelengths of aperture seen at the angle), at most.
const STEP: f64 = 1.0 / 32.0;

/// Most steps of the fit table along one side (its heap is at most `(MAX_STEPS + 2)² · 8` B).
const MAX_STEPS: usize = 1023;

/// Frequencies over which the fit is computed, uniformly over `(0, F_SPAN·fc]`.
const FIT_FREQUENCIES: usize = 384;

/// The fit's frequency range, multiples of fc: the pulse's spectrum beyond it is below any use.
const F_SPAN: f64 = 3.0;

/// The basis of the broadband model: `φ(f) = |f|/fc − 1`, 0 at fc (so `A` is about the factor at
/// fc and `B` its slope across the band).
#[inline(always)]
pub(super) fn basis(f_abs_hz: f64, fc_hz: f64) -> f64 {
    f_abs_hz / fc_hz - 1.0
}

/// `(A, B)` of the least-squares fit `A + B·φ(f)` to `sinc(f/fc·x_u)·sinc(f/fc·x_y)` weighted by
/// the pulse's power spectrum `|S(f)|²`, tabulated over `x_u = w·|sinθ_u|/λ` and
/// `x_y = h·|sinθ_y|/λ` (both from 0 to the sub-element's side in wavelengths, which no angle
/// exceeds) and read by bilinear interpolation.
#[derive(Debug, Clone)]
pub(super) struct FitTable {
    pub(super) nu: usize,
    pub(super) ny: usize,
    pub(super) inv_du: f64,
    pub(super) inv_dy: f64,
    /// `(A, B)` at `(i·du, j·dy)`, row-major in `i`.
    pub(super) ab: Vec<[f32; 2]>,
}

impl FitTable {
    /// Points along a side of `x_max` wavelengths, and their step.
    pub(super) fn side(x_max: f64) -> (usize, f64) {
        let x_max = if x_max.is_finite() { x_max.max(0.0) } else { 0.0 };
        let steps = ((x_max / STEP).ceil() as usize).clamp(1, MAX_STEPS);
        (steps + 2, (x_max / steps as f64).max(1e-9))
    }

    /// Heap of a table for sub-elements of `width / λ × height / λ`.
    pub(super) fn bytes(width_l: f64, height_l: f64) -> u128 {
        let (nu, _) = FitTable::side(width_l);
        let (ny, _) = FitTable::side(height_l);
        (nu as u128 * ny as u128) * 8 + FIT_FREQUENCIES as u128 * 32
    }

    /// The table of `pulse` for sub-elements `width_l × height_l` wavelengths (at fc). Cost:
    /// [`FIT_FREQUENCIES`] spectrum evaluations and two dot products of that length per entry.
    pub(super) fn new(pulse: &Pulse, width_l: f64, height_l: f64) -> FitTable {
        let fc = pulse.fc_hz();
        let (nu, du) = FitTable::side(width_l);
        let (ny, dy) = FitTable::side(height_l);
        // Relative frequencies ν and weights |S|² (the weights' scale cancels in the fit).
        let nus: Vec<f64> = (1..=FIT_FREQUENCIES)
            .map(|k| F_SPAN * k as f64 / FIT_FREQUENCIES as f64)
            .collect();
        let w: Vec<f64> = nus.iter().map(|&v| pulse.spectrum(v * fc).powi(2)).collect();
        let phi: Vec<f64> = nus.iter().map(|&v| basis(v * fc, fc)).collect();
        let (m0, m1, m2) = nus.iter().enumerate().fold((0.0, 0.0, 0.0), |(a, b, c), (k, _)| {
            (a + w[k], b + w[k] * phi[k], c + w[k] * phi[k] * phi[k])
        });
        let det = m0 * m2 - m1 * m1;
        let mut su = vec![0.0; FIT_FREQUENCIES];
        let mut ab = Vec::with_capacity(nu * ny);
        for i in 0..nu {
            let xu = i as f64 * du;
            for (s, &v) in su.iter_mut().zip(&nus) {
                *s = sinc(v * xu);
            }
            for j in 0..ny {
                let xy = j as f64 * dy;
                let (mut h0, mut h1) = (0.0, 0.0);
                for k in 0..FIT_FREQUENCIES {
                    let h = w[k] * su[k] * sinc(nus[k] * xy);
                    h0 += h;
                    h1 += h * phi[k];
                }
                // The normal equations of the weighted fit; a degenerate weight (a spectrum
                // that is 0 on the grid, not for a valid pulse) keeps the factor at fc.
                let (a, b) = if det > 0.0 {
                    ((m2 * h0 - m1 * h1) / det, (m0 * h1 - m1 * h0) / det)
                } else {
                    (sinc(xu) * sinc(xy), 0.0)
                };
                ab.push([a as f32, b as f32]);
            }
        }
        FitTable {
            nu,
            ny,
            inv_du: 1.0 / du,
            inv_dy: 1.0 / dy,
            ab,
        }
    }

    /// `(A, B)` for `x_u = w·sinθ_u/λ`, `x_y = h·sinθ_y/λ` (signs ignored: the response is even;
    /// beyond the table, its edge).
    #[inline(always)]
    pub(super) fn lookup(&self, xu: f64, xy: f64) -> (f64, f64) {
        let (i, fu) = FitTable::cell(xu.abs() * self.inv_du, self.nu);
        let (j, fy) = FitTable::cell(xy.abs() * self.inv_dy, self.ny);
        let at = |i: usize, j: usize| self.ab[i * self.ny + j];
        let (p00, p01, p10, p11) = (at(i, j), at(i, j + 1), at(i + 1, j), at(i + 1, j + 1));
        let mix = |k: usize| {
            let lo = p00[k] as f64 + fy * (p01[k] as f64 - p00[k] as f64);
            let hi = p10[k] as f64 + fy * (p11[k] as f64 - p10[k] as f64);
            lo + fu * (hi - lo)
        };
        (mix(0), mix(1))
    }

    /// The cell of `x` (in steps) in a side of `n ≥ 3` points, and the position within it.
    #[inline(always)]
    pub(super) fn cell(x: f64, n: usize) -> (usize, f64) {
        let x = if x.is_finite() { x.min((n - 1) as f64) } else { 0.0 };
        let i = (x as usize).min(n - 2);
        (i, x - i as f64)
    }
}

impl Context {
    /// [`Context::element_gain`] across the band: `(A, B)·cosθ / r` of a (sub-)element, the fit
    /// of its factor `sinc(f·T_u)·sinc(f·T_y)` read from `fit`.
    pub(super) fn element_gain_broadband(
        &self,
        fit: &FitTable,
        geo: &Geometry,
        n: [f64; 2],
        u: [f64; 2],
        d: [f64; 3],
        r: f64,
    ) -> (f64, f64) {
        let dn = d[0] * n[0] + d[2] * n[1];
        if dn <= 0.0 {
            return (0.0, 0.0);
        }
        let r = if r > 0.0 { r } else { dn };
        let su = (d[0] * u[0] + d[2] * u[1]) / r;
        let sy = d[1] / r;
        let (a, b) = fit.lookup(geo.width_m * su / self.lambda, geo.height_m * sy / self.lambda);
        let g = dn / r / r.max(self.r_min);
        (a * g, b * g)
    }

    /// [`Context::column_taps`] across the band: each sub-element's `A` and `B` gains (its
    /// factor's fit at the sub-column's azimuth angle and its own elevation angle) binned by
    /// delay as there; a bin's impulse takes its delay from the phasor sum of `A`, and `B` the
    /// part of its own phasor sum in phase with it. f32 passes as the column path's.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn column_taps_broadband(
        &self,
        fit: &FitTable,
        geo: &Geometry,
        (n, u): ([f64; 2], [f64; 2]),
        col: usize,
        p: [f64; 3],
        r_col: f64,
        att: f64,
        s: &mut ColumnScratch,
        taps: &mut TapSlot,
    ) {
        let (a, b) = geo.col_range[col];
        let n_el = b - a;
        let x0 = geo.pos[a];
        let (dx, dz) = (p[0] - x0[0], p[2] - x0[2]);
        let dn = dx * n[0] + dz * n[1];
        if dn <= 0.0 {
            return;
        }
        let xu = geo.width_m * (dx * u[0] + dz * u[1]) / (r_col.max(self.r_min) * self.lambda);
        // The table along the elevation angle at this azimuth angle (linear in the azimuth).
        let (iu, fu) = FitTable::cell(xu.abs() * fit.inv_du, fit.nu);
        let (r0, r1) = (
            &fit.ab[iu * fit.ny..(iu + 1) * fit.ny],
            &fit.ab[(iu + 1) * fit.ny..(iu + 2) * fit.ny],
        );
        let fu = fu as f32;
        for ((o, p0), p1) in s.fit_row.iter_mut().zip(r0).zip(r1) {
            *o = [p0[0] + fu * (p1[0] - p0[0]), p0[1] + fu * (p1[1] - p0[1])];
        }
        s.resize(n_el);
        let ColumnScratch {
            delta,
            gain,
            bin,
            re,
            im,
            gain_b,
            re_b,
            im_b,
            fit_row,
            ..
        } = s;
        let (delta, gain, bin, gain_b) = (
            &mut delta[..n_el],
            &mut gain[..n_el],
            &mut bin[..n_el],
            &mut gain_b[..n_el],
        );
        let (re, im, re_b, im_b) = (&mut re[..n_el], &mut im[..n_el], &mut re_b[..n_el], &mut im_b[..n_el]);
        // Pass 1: delay, spreading and obliquity, and the elevation argument in table steps.
        let dy_ref = (p[1] - geo.col_ref[col][1]) as f32;
        let rho2 = (dx * dx + dz * dz) as f32;
        let r_ref = (r_col as f32).max(f32::MIN_POSITIVE);
        let (inv_c, dn32, r_min) = ((1.0 / self.c) as f32, dn as f32, self.r_min as f32);
        let el_steps = (geo.height_m / self.lambda * fit.inv_dy) as f32;
        let (ys, advs) = (&geo.y_rel[a..b], &geo.advance_f32[a..b]);
        for ((((d, q), g), &y), &adv) in delta
            .iter_mut()
            .zip(bin.iter_mut())
            .zip(gain.iter_mut())
            .zip(ys)
            .zip(advs)
        {
            let dy = dy_ref - y;
            let r = (rho2 + dy * dy).sqrt();
            *d = (r - r_ref) * inv_c - adv;
            let inv_r = 1.0 / r.max(r_min);
            *q = (el_steps * dy * inv_r).abs();
            *g = dn32 * inv_r * inv_r;
        }
        // Pass 2: the fit, linear along the elevation angle.
        let (row, last_y) = (&fit_row[..fit.ny], (fit.ny - 1) as f32);
        for ((&q, g), gb) in bin.iter().zip(gain.iter_mut()).zip(gain_b.iter_mut()) {
            let q = q.min(last_y);
            let j = (q as usize).min(fit.ny - 2);
            let f = q - j as f32;
            let (p0, p1) = (row[j], row[j + 1]);
            let g0 = *g;
            *g = (p0[0] + f * (p1[0] - p0[0])) * g0;
            *gb = (p0[1] + f * (p1[1] - p0[1])) * g0;
        }
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &d in delta.iter() {
            lo = lo.min(d);
            hi = hi.max(d);
        }
        // Pass 3: bins and phasors at fc; pass 4: each bin's sums, run by run, in element order.
        let bins = DelayBins::new(lo, hi, self.fc, n_el);
        let k_rad = (2.0 * PI * self.fc) as f32;
        let last = (bins.n - 1) as f32;
        for (k, (&d, j_out)) in delta.iter().zip(bin.iter_mut()).enumerate() {
            let j = ((d - bins.lo) * bins.inv_w).floor().min(last);
            let (sn, cs) = small_sin_cos(k_rad * (d - bins.center(j)));
            *j_out = j;
            re[k] = gain[k] * cs;
            im[k] = -gain[k] * sn;
            re_b[k] = gain_b[k] * cs;
            im_b[k] = -gain_b[k] * sn;
        }
        let (bin, re, im, re_b, im_b) = (&*bin, &*re, &*im, &*re_b, &*im_b);
        s.sums_ab.clear();
        s.sums_ab.resize(bins.n, [0.0; 4]);
        let mut i = 0;
        while i < n_el {
            let j = bin[i];
            let mut sum = s.sums_ab[j as usize];
            while i < n_el && bin[i] == j {
                sum[0] += re[i];
                sum[1] += im[i];
                sum[2] += re_b[i];
                sum[3] += im_b[i];
                i += 1;
            }
            s.sums_ab[j as usize] = sum;
        }
        let tau_ref = r_col / self.c;
        for (j, &sum) in s.sums_ab.iter().enumerate() {
            let [ra, ia, rb, ib] = sum.map(f64::from);
            let c = bins.center(j as f32) as f64;
            let (ma, mb) = ((ra * ra + ia * ia).sqrt(), (rb * rb + ib * ib).sqrt());
            // The bin's delay from A's phasor (B's where A's vanishes), B projected on it.
            let (amp, amp_b, phase) = if ma > 0.0 {
                (ma, (rb * ra + ib * ia) / ma, ia.atan2(ra))
            } else {
                (0.0, mb, ib.atan2(rb))
            };
            taps.push_broadband(amp * att, amp_b * att, tau_ref + c - phase / k_rad as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fit against the exact factor over the band, weighted by the pulse's power spectrum:
    /// near-exact broadside, within 1 % of the broadside response up to 0.7 wavelength of
    /// aperture seen at the angle, within 10 % up to the first null and beyond.
    #[test]
    fn fit_follows_the_exact_factor_across_the_band() {
        let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
        let fc = pulse.fc_hz();
        let t = FitTable::new(&pulse, 1.1, 1.1);
        let (a, b) = t.lookup(0.0, 0.0);
        assert!((a - 1.0).abs() < 1e-3 && b.abs() < 1e-2, "{a} {b}");
        for (xu, xy) in [(0.3, 0.0), (0.5, 0.2), (0.69, 0.0), (0.9, 0.4), (1.1, 1.1)] {
            let (a, b) = t.lookup(xu, xy);
            let (mut num, mut den) = (0.0, 0.0);
            for k in 1..600 {
                let f = k as f64 * 0.005 * fc;
                let w = pulse.spectrum(f).powi(2);
                let exact = sinc(f / fc * xu) * sinc(f / fc * xy);
                num += w * (exact - a - b * basis(f, fc)).powi(2);
                den += w;
            }
            let rms = (num / den).sqrt();
            eprintln!("x_u {xu}, x_y {xy}: A {a:.4}, B {b:.4}, weighted RMS error {rms:.4}");
            // About 0.5 % up to 0.7 λ of aperture seen at the angle; towards the first null
            // (x = 1) the factor bends more than a line in f can follow.
            let bound = if xu * xu + xy * xy <= 0.49 { 0.01 } else { 0.1 };
            assert!(rms < bound, "{xu} {xy}: {rms}");
            // At fc the fit is the factor within the fit's curvature error.
            let at_fc = sinc(xu) * sinc(xy);
            assert!((a - at_fc).abs() < 0.05, "{xu} {xy}: A {a} vs {at_fc}");
        }
        // Symmetric in the signs, and the table's edge beyond it.
        assert_eq!(t.lookup(-0.4, 0.3), t.lookup(0.4, -0.3));
        assert_eq!(t.lookup(5.0, 0.0), t.lookup(t.nu as f64, 0.0));
    }

    #[test]
    fn table_sizes_are_bounded() {
        let (n, d) = FitTable::side(1.1);
        assert_eq!(n, 38);
        assert!((d * 36.0 - 1.1).abs() < 1e-12);
        assert_eq!(FitTable::side(1e9).0, MAX_STEPS + 2);
        assert_eq!(FitTable::side(f64::NAN).0, 3);
        assert!(FitTable::bytes(1e9, 1e9) < 10 << 20);
    }
}
