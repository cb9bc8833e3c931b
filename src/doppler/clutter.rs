//! Clutter filters over slow time: they remove the echoes of tissue, strong and slow, from an
//! ensemble before flow is estimated, and keep the weak, faster echoes of blood.
//!
//! Four filters, all in place on `[firings, lines, depths]` ensembles ([`ClutterFilter`]):
//!
//! - **Polynomial regression** removes, per pixel, the least-squares fit of a polynomial of
//!   degree `≤ order` in slow time (the projection onto an orthonormal polynomial basis built
//!   once per ensemble length). It removes stationary and slowly drifting tissue whatever its
//!   amplitude, at the cost of a stop band that widens with `order / n`.
//! - **IIR**: a Butterworth high-pass (bilinear transform, cutoff pre-warped), run per pixel as a
//!   cascade of second-order sections in transposed direct form II, in `f64`. Its start-up
//!   transient is removed by *projection initialisation*: the filter runs from zero state and
//!   the output's projection onto the `order` zero-input responses of the filter (one per state
//!   variable) is subtracted, which is the output for the initial state that minimises the
//!   output energy. A step in the tissue signal at the first firing thus leaves nothing behind;
//!   the price is `order` lost degrees of freedom, mostly from the first few firings (about
//!   `order / n` of a flow signal's energy at worst, far less for cutoffs that decay fast).
//! - **SVD** (spatiotemporal): the ensemble seen as a Casorati matrix `X` (pixels × firings);
//!   its temporal singular vectors are the eigenvectors of the `n × n` Gram matrix `Xᴴ X`. Tissue
//!   moves coherently over many pixels and fills a few leading components with most of the
//!   energy; blood, incoherent from pixel to pixel, spreads over many weaker ones. The filter
//!   removes the projection onto the `rank` leading components, whatever their Doppler frequency,
//!   so it removes moving tissue that a high-pass filter keeping the flow would keep.
//! - **None** leaves the ensemble as it is.

use super::eigen::hermitian_eigen;
use super::estimate::{MAX_ENSEMBLE, check_ensemble};
use crate::error::{Error, Result};
use ndarray::{ArrayView3, ArrayViewMut1, ArrayViewMut3, Axis};
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;
use std::f64::consts::PI;

/// The highest polynomial order [`ClutterFilter::Polynomial`] accepts.
pub const MAX_POLY_ORDER: usize = 16;
/// The highest Butterworth order [`ClutterFilter::Iir`] accepts.
pub const MAX_IIR_ORDER: usize = 8;
/// [`SvdRank::Auto`] removes a leading component while its energy is at least this many times the
/// mean energy of the components after it (20 dB).
pub const AUTO_ENERGY_RATIO: f64 = 100.0;

/// How many leading singular components the SVD filter removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SvdRank {
    /// This many (`0 ≤ rank < n`).
    Fixed(usize),
    /// Components are removed in order of decreasing energy while the next one holds at least
    /// [`AUTO_ENERGY_RATIO`] times the mean energy of all components after it, and at most `n / 2`
    /// of them. Tissue, coherent over many pixels and 40 dB or more above blood, stands out; a
    /// flow spread over several velocities fills several components of similar energy and does
    /// not. A flow of one uniform velocity over the whole image is one strong component too and
    /// would be taken for tissue; use [`SvdRank::Fixed`] for such data.
    Auto,
}

/// A slow-time clutter filter (see the module documentation for each kind).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClutterFilter {
    /// No filtering.
    None,
    /// Removes the least-squares polynomial of degree `≤ order` (`order ≤ MAX_POLY_ORDER` and
    /// `order + 2 ≤ n`).
    Polynomial {
        /// Highest degree removed (0 removes the mean).
        order: usize,
    },
    /// Butterworth high-pass with projection initialisation.
    Iir {
        /// −3 dB cutoff as a fraction of the slow-time rate, `0 < cutoff < 0.5`.
        cutoff: f64,
        /// Filter order, `1..=MAX_IIR_ORDER`, and `order + 2 ≤ n`.
        order: usize,
    },
    /// Removes the leading spatiotemporal singular components.
    Svd {
        /// How many.
        rank: SvdRank,
    },
}

impl ClutterFilter {
    /// Checks the settings that do not depend on the ensemble. Errors (named): a polynomial
    /// `order` above [`MAX_POLY_ORDER`]; an IIR `cutoff` not in `(0, 0.5)` or `order` not in
    /// `1..=MAX_IIR_ORDER`; an SVD `rank` of [`MAX_ENSEMBLE`] or more.
    pub fn validate(&self) -> Result<()> {
        match *self {
            ClutterFilter::None => Ok(()),
            ClutterFilter::Polynomial { order } => {
                if order > MAX_POLY_ORDER {
                    return Err(Error::invalid("order", format!("an order in 0..={MAX_POLY_ORDER}"), order));
                }
                Ok(())
            }
            ClutterFilter::Iir { cutoff, order } => {
                if !(cutoff.is_finite() && cutoff > 0.0 && cutoff < 0.5) {
                    return Err(Error::invalid(
                        "cutoff",
                        "a finite fraction of the slow-time rate in (0, 0.5)",
                        cutoff,
                    ));
                }
                if !(1..=MAX_IIR_ORDER).contains(&order) {
                    return Err(Error::invalid("order", format!("an order in 1..={MAX_IIR_ORDER}"), order));
                }
                Ok(())
            }
            ClutterFilter::Svd { rank } => match rank {
                SvdRank::Fixed(r) if r >= MAX_ENSEMBLE => Err(Error::invalid(
                    "rank",
                    format!("a rank below the ensemble length (at most {})", MAX_ENSEMBLE - 1),
                    r,
                )),
                _ => Ok(()),
            },
        }
    }

    /// Checks the settings against an ensemble of `n` firings.
    fn validate_for(&self, n: usize) -> Result<()> {
        self.validate()?;
        match *self {
            ClutterFilter::Polynomial { order } | ClutterFilter::Iir { order, .. } if order + 2 > n => {
                Err(Error::invalid(
                    "order",
                    format!("an order ≤ n − 2 = {} for an ensemble of {n} firings", n as i64 - 2),
                    order,
                ))
            }
            ClutterFilter::Svd { rank: SvdRank::Fixed(r) } if r >= n => Err(Error::invalid(
                "rank",
                format!("a rank below the ensemble length {n}"),
                r,
            )),
            _ => Ok(()),
        }
    }

    /// Filters `ens` (`[firings, lines, depths]`) in place, in parallel over lines; the result
    /// does not depend on the thread count. Cost per pixel: polynomial `2·(order+1)·n`, IIR about
    /// `(2.5 + 2)·order·n` multiply-adds; SVD: `n²/2` per pixel for the Gram matrix, `O(n³)` for
    /// its eigenvectors, `2·rank·n` per pixel for the projection (see [`SvdClutter`]).
    ///
    /// Errors: settings as [`validate`](Self::validate); `ens` empty or longer than
    /// [`MAX_ENSEMBLE`] firings, or with non-finite samples for SVD (`ens`); a polynomial or IIR
    /// `order` above `n − 2`; a fixed SVD `rank ≥ n`.
    pub fn apply(&self, ens: ArrayViewMut3<'_, Complex32>) -> Result<()> {
        check_ensemble(ens.shape(), 1)?;
        self.validate_for(ens.shape()[0])?;
        let n = ens.shape()[0];
        match *self {
            ClutterFilter::None => Ok(()),
            ClutterFilter::Polynomial { order } => {
                let basis = polynomial_basis(n, order);
                project_out(ens, &basis, |_| {});
                Ok(())
            }
            ClutterFilter::Iir { cutoff, order } => {
                let sections = butterworth_highpass(cutoff, order);
                let basis = zero_input_basis(&sections, n);
                project_out(ens, &basis, |y| run_sections(&sections, y, None));
                Ok(())
            }
            ClutterFilter::Svd { rank } => {
                let svd = SvdClutter::fit(ens.view(), rank)?;
                svd.remove(ens)
            }
        }
    }

    /// The power gain of the filter for a complex exponential `exp(i·2π·f·k)` of `n` firings
    /// (`f` in cycles per firing): output energy over input energy. For the IIR filter with a
    /// long ensemble this tends to [`iir_magnitude`]², for the polynomial filter it is one minus
    /// the exponential's energy fraction in the polynomial subspace.
    ///
    /// Errors: as [`apply`](Self::apply) for an ensemble of `n` firings; a non-finite `f`
    /// (`f`); an SVD filter (`filter`: its response depends on the data).
    pub fn power_gain(&self, n: usize, f: f64) -> Result<f64> {
        if matches!(self, ClutterFilter::Svd { .. }) {
            return Err(Error::invalid("filter", "a data-independent filter (None, Polynomial or Iir)", "Svd"));
        }
        crate::error::finite("f", f)?;
        check_ensemble(&[n, 1, 1], 1)?;
        let mut x = ndarray::Array3::from_shape_fn((n, 1, 1), |(k, _, _)| {
            let (s, c) = (2.0 * PI * f * k as f64).sin_cos();
            Complex32::new(c as f32, s as f32)
        });
        self.apply(x.view_mut())?;
        Ok(x.iter().map(|z| f64::from(z.norm_sqr())).sum::<f64>() / n as f64)
    }
}

/// The analytic magnitude `|H(f)|` of the Butterworth high-pass of [`ClutterFilter::Iir`] as
/// designed (its sections evaluated on the unit circle), `f` in cycles per firing. It equals
/// `1 / sqrt(1 + (tan(π·cutoff)/tan(π·f))^(2·order))`. Errors as [`ClutterFilter::validate`];
/// a non-finite `f` (`f`).
pub fn iir_magnitude(cutoff: f64, order: usize, f: f64) -> Result<f64> {
    ClutterFilter::Iir { cutoff, order }.validate()?;
    crate::error::finite("f", f)?;
    let z1 = Complex64::from_polar(1.0, -2.0 * PI * f);
    let z2 = z1 * z1;
    Ok(butterworth_highpass(cutoff, order)
        .iter()
        .map(|s| ((s.b[0] + z1 * s.b[1] + z2 * s.b[2]) / (1.0 + z1 * s.a[0] + z2 * s.a[1])).norm())
        .product())
}

/// One section `(b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²)`; `a = [a1, a2]`.
#[derive(Debug, Clone, Copy)]
struct Section {
    b: [f64; 3],
    a: [f64; 2],
    /// Number of state variables (1 for a first-order section).
    states: usize,
}

/// Butterworth high-pass sections: analog prototype poles `exp(iπ(2k+N−1)/(2N))`, high-pass
/// poles `Ω/s_k` with `Ω = tan(π·cutoff)`, bilinear map `z = (1+s)/(1−s)`, zeros at `z = 1`, each
/// section normalised to gain 1 at `z = −1` (half the slow-time rate).
fn butterworth_highpass(cutoff: f64, order: usize) -> Vec<Section> {
    let omega = (PI * cutoff).tan();
    let nf = order as f64;
    let mut out = Vec::new();
    for k in 1..=order / 2 {
        let s = Complex64::from_polar(1.0, PI * (2.0 * k as f64 + nf - 1.0) / (2.0 * nf));
        let p = omega / s;
        let z = (1.0 + p) / (1.0 - p);
        let (a1, a2) = (-2.0 * z.re, z.norm_sqr());
        let g = (1.0 - a1 + a2) / 4.0;
        out.push(Section {
            b: [g, -2.0 * g, g],
            a: [a1, a2],
            states: 2,
        });
    }
    if order % 2 == 1 {
        let z = (1.0 - omega) / (1.0 + omega);
        let g = (1.0 + z) / 2.0;
        out.push(Section {
            b: [g, -g, 0.0],
            a: [-z, 0.0],
            states: 1,
        });
    }
    out
}

/// Runs the cascade over `y` in place (transposed direct form II); `init` sets state variable
/// `(section, index)` to 1 and all others to 0 (zero state when `None`).
fn run_sections(sections: &[Section], y: &mut [Complex64], init: Option<(usize, usize)>) {
    for (i, s) in sections.iter().enumerate() {
        let mut st = [Complex64::new(0.0, 0.0); 2];
        if let Some((si, v)) = init
            && si == i
        {
            st[v] = Complex64::new(1.0, 0.0);
        }
        for v in y.iter_mut() {
            let x = *v;
            let out = s.b[0] * x + st[0];
            st[0] = s.b[1] * x - s.a[0] * out + st[1];
            st[1] = s.b[2] * x - s.a[1] * out;
            *v = out;
        }
    }
}

/// Orthonormal basis (rows of `n`) of the cascade's zero-input responses over `n` samples.
fn zero_input_basis(sections: &[Section], n: usize) -> Vec<Vec<Complex64>> {
    let mut raw = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        for v in 0..s.states {
            let mut g = vec![Complex64::new(0.0, 0.0); n];
            run_sections(sections, &mut g, Some((i, v)));
            raw.push(g);
        }
    }
    orthonormalise(raw)
}

/// Orthonormal basis (rows of `n`) of the polynomials of degree `≤ order` sampled at `n` points
/// spread over `[−1, 1]`.
fn polynomial_basis(n: usize, order: usize) -> Vec<Vec<Complex64>> {
    let t = |k: usize| if n > 1 { 2.0 * k as f64 / (n - 1) as f64 - 1.0 } else { 0.0 };
    let raw = (0..=order)
        .map(|j| (0..n).map(|k| Complex64::new(t(k).powi(j as i32), 0.0)).collect())
        .collect();
    orthonormalise(raw)
}

/// Modified Gram–Schmidt, twice per vector; vectors left with less than `1e-9` of their norm are
/// dropped (they lie in the span of the others).
fn orthonormalise(raw: Vec<Vec<Complex64>>) -> Vec<Vec<Complex64>> {
    let mut out: Vec<Vec<Complex64>> = Vec::new();
    for mut v in raw {
        let norm0 = v.iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt();
        for _ in 0..2 {
            for q in &out {
                let c: Complex64 = q.iter().zip(&v).map(|(a, b)| a.conj() * b).sum();
                v.iter_mut().zip(q).for_each(|(x, a)| *x -= c * a);
            }
        }
        let norm = v.iter().map(|x| x.norm_sqr()).sum::<f64>().sqrt();
        if norm > 1e-9 * norm0 {
            v.iter_mut().for_each(|x| *x /= norm);
            out.push(v);
        }
    }
    out
}

/// For every pixel: copies its slow-time samples to `f64`, runs `pre` on them, subtracts their
/// projection onto the orthonormal rows of `basis`, and writes them back. Parallel over lines.
fn project_out<F>(mut ens: ArrayViewMut3<'_, Complex32>, basis: &[Vec<Complex64>], pre: F)
where
    F: Fn(&mut [Complex64]) + Sync,
{
    let n = ens.shape()[0];
    ens.axis_iter_mut(Axis(1)).into_par_iter().for_each(|mut line| {
        let mut y = vec![Complex64::new(0.0, 0.0); n];
        let mut coef = vec![Complex64::new(0.0, 0.0); basis.len()];
        for col in line.axis_iter_mut(Axis(1)) {
            pixel(col, &mut y, &mut coef, basis, &pre);
        }
    });
}

fn pixel<F: Fn(&mut [Complex64])>(
    mut col: ArrayViewMut1<'_, Complex32>,
    y: &mut [Complex64],
    coef: &mut [Complex64],
    basis: &[Vec<Complex64>],
    pre: &F,
) {
    for (v, x) in y.iter_mut().zip(col.iter()) {
        *v = Complex64::new(f64::from(x.re), f64::from(x.im));
    }
    pre(y);
    for (c, q) in coef.iter_mut().zip(basis) {
        *c = q.iter().zip(y.iter()).map(|(a, b)| a.conj() * b).sum();
    }
    for (c, q) in coef.iter().zip(basis) {
        y.iter_mut().zip(q).for_each(|(v, a)| *v -= c * a);
    }
    for (x, v) in col.iter_mut().zip(y.iter()) {
        *x = Complex32::new(v.re as f32, v.im as f32);
    }
}

/// The spatiotemporal SVD of one ensemble and the components chosen as clutter.
///
/// [`fit`](Self::fit) forms the Gram matrix `C = Xᴴ X` (`C[j][k] = Σ_pixels conj(x_j)·x_k`, in
/// `f64`, each entry a sum in pixel order, entries in parallel; cost `n²/2` complex
/// multiply-adds per pixel) and its eigen-decomposition by complex Jacobi rotations (`O(n³)`);
/// [`remove`](Self::remove) subtracts each pixel's projection onto the chosen temporal
/// components (`2·rank·n` per pixel). Memory: `3·n²` complex values.
#[derive(Debug, Clone)]
pub struct SvdClutter {
    n: usize,
    rank: usize,
    energies: Vec<f64>,
    doppler: Vec<f64>,
    /// Temporal waveforms of the components (`conj` of the Gram eigenvectors), one row each.
    waveforms: Vec<Vec<Complex64>>,
}

impl SvdClutter {
    /// Decomposes `ens` and chooses the clutter rank. Errors: `ens` empty, with fewer than 2 or
    /// more than [`MAX_ENSEMBLE`] firings, or with non-finite samples (`ens`); a fixed `rank ≥ n`.
    pub fn fit(ens: ArrayView3<'_, Complex32>, rank: SvdRank) -> Result<SvdClutter> {
        check_ensemble(ens.shape(), 2)?;
        let n = ens.shape()[0];
        ClutterFilter::Svd { rank }.validate_for(n)?;
        let rows: Vec<Vec<Complex64>> = (0..n)
            .into_par_iter()
            .map(|i| {
                let pi = ens.index_axis(Axis(0), i);
                (i..n)
                    .map(|j| {
                        let pj = ens.index_axis(Axis(0), j);
                        pi.iter()
                            .zip(pj.iter())
                            .map(|(a, b)| {
                                let (a, b) = (c64(*a), c64(*b));
                                a.conj() * b
                            })
                            .sum()
                    })
                    .collect()
            })
            .collect();
        let mut gram = vec![Complex64::new(0.0, 0.0); n * n];
        for (i, row) in rows.iter().enumerate() {
            for (j, &v) in (i..n).zip(row) {
                gram[i * n + j] = v;
                gram[j * n + i] = v.conj();
            }
        }
        if !gram.iter().all(|z| z.re.is_finite() && z.im.is_finite()) {
            return Err(Error::invalid("ens", "finite samples", "a non-finite sample"));
        }
        let eig = hermitian_eigen(gram, n);
        let energies: Vec<f64> = eig.values.iter().map(|&v| v.max(0.0)).collect();
        let waveforms: Vec<Vec<Complex64>> =
            (0..n).map(|j| (0..n).map(|k| eig.vectors[k * n + j].conj()).collect()).collect();
        let doppler = waveforms
            .iter()
            .map(|w| w.windows(2).map(|p| p[1] * p[0].conj()).sum::<Complex64>().arg() / (2.0 * PI))
            .collect();
        let rank = match rank {
            SvdRank::Fixed(r) => r,
            SvdRank::Auto => {
                let mut r = 0;
                while r < n / 2 {
                    let rest = energies[r + 1..].iter().sum::<f64>() / (n - r - 1) as f64;
                    if energies[r] > 0.0 && energies[r] >= AUTO_ENERGY_RATIO * rest {
                        r += 1;
                    } else {
                        break;
                    }
                }
                r
            }
        };
        Ok(SvdClutter {
            n,
            rank,
            energies,
            doppler,
            waveforms,
        })
    }

    /// The number of leading components [`remove`](Self::remove) takes out.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The components' energies (squared singular values, eigenvalues of `Xᴴ X`), largest first.
    pub fn energies(&self) -> &[f64] {
        &self.energies
    }

    /// Each component's mean Doppler frequency in cycles per firing (`[−0.5, 0.5]`): the phase
    /// of its temporal waveform's lag-one autocorrelation over `2π`.
    pub fn doppler(&self) -> &[f64] {
        &self.doppler
    }

    /// Subtracts from every pixel of `ens` its projection onto the `rank` leading temporal
    /// components, in place and in parallel over lines. `ens` need not be the ensemble the
    /// decomposition came from, only as long. Errors: `ens` empty or of another length (`ens`).
    pub fn remove(&self, ens: ArrayViewMut3<'_, Complex32>) -> Result<()> {
        check_ensemble(ens.shape(), 1)?;
        if ens.shape()[0] != self.n {
            return Err(Error::shape(
                "ens",
                format!("{} firings (as the fitted ensemble)", self.n),
                ens.shape()[0].to_string(),
            ));
        }
        project_out(ens, &self.waveforms[..self.rank], |_| {});
        Ok(())
    }
}

#[inline(always)]
fn c64(z: Complex32) -> Complex64 {
    Complex64::new(f64::from(z.re), f64::from(z.im))
}
