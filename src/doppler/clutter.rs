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

use super::eigen::{gram, hermitian_eigen, orthonormalise};
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
                    return Err(Error::invalid(
                        "order",
                        format!("an order in 0..={MAX_POLY_ORDER}"),
                        order,
                    ));
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
                    return Err(Error::invalid(
                        "order",
                        format!("an order in 1..={MAX_IIR_ORDER}"),
                        order,
                    ));
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
            ClutterFilter::Svd {
                rank: SvdRank::Fixed(r),
            } if r >= n => Err(Error::invalid(
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
            return Err(Error::invalid(
                "filter",
                "a data-independent filter (None, Polynomial or Iir)",
                "Svd",
            ));
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

/// A wall filter run continuously over a stream of firings, for spectral Doppler, where slow time
/// has no ensemble boundaries: [`ClutterFilter::None`] passes the samples through and
/// [`ClutterFilter::Iir`] runs the Butterworth high-pass of [`iir_magnitude`] (the block filter's
/// sections, in `f64`) over each of `channels` independent signals (the gate's samples), keeping
/// its state from one firing to the next, so the output does not depend on how the stream is
/// split. Block filters (polynomial, SVD) have no streaming form and are refused.
///
/// **Start.** The state is initialised at the first firing after construction or
/// [`reset`](Self::reset) to the filter's steady state for a constant input equal to that firing
/// (the first section's state `[−b0·x, b2·x]`, the others zero): stationary tissue present from
/// the start leaves no transient (the output is exactly zero while the input stays constant), and
/// a tone reaches its steady-state gain `|H(f)|` once the filter's poles have decayed.
///
/// Cost: `5·order` complex multiply–adds per channel and firing; allocates nothing after
/// construction.
#[derive(Debug, Clone)]
pub struct StreamingWallFilter {
    filter: ClutterFilter,
    sections: Vec<Section>,
    /// `[channel][section]` state of the transposed direct form II.
    state: Vec<[Complex64; 2]>,
    channels: usize,
    started: bool,
}

impl StreamingWallFilter {
    /// A filter for `channels` signals (1..=65,536). Errors: a block filter or invalid settings
    /// (`clutter`, or the setting's name), `channels` out of range.
    pub fn new(filter: ClutterFilter, channels: usize) -> Result<StreamingWallFilter> {
        filter.validate()?;
        if !(1..=1 << 16).contains(&channels) {
            return Err(Error::invalid("channels", "1..=65536 signals", channels));
        }
        let sections = match filter {
            ClutterFilter::None => Vec::new(),
            ClutterFilter::Iir { cutoff, order } => butterworth_highpass(cutoff, order),
            _ => {
                return Err(Error::invalid(
                    "clutter",
                    "a streaming wall filter (None or Iir)",
                    format!("{filter:?}"),
                ));
            }
        };
        Ok(StreamingWallFilter {
            state: vec![[Complex64::new(0.0, 0.0); 2]; channels * sections.len()],
            filter,
            sections,
            channels,
            started: false,
        })
    }

    /// The filter's settings.
    pub fn filter(&self) -> ClutterFilter {
        self.filter
    }

    /// Starts again: the next firing initialises the state (see the type's docs).
    pub fn reset(&mut self) {
        self.started = false;
    }

    /// Filters one firing in place: `x[c]` is channel `c`'s sample. Errors: another number of
    /// channels (`x`). Allocates nothing.
    pub fn process(&mut self, x: &mut [Complex32]) -> Result<()> {
        if x.len() != self.channels {
            return Err(Error::shape(
                "x",
                format!("{} samples (one per channel)", self.channels),
                x.len().to_string(),
            ));
        }
        let n_sec = self.sections.len();
        if n_sec == 0 {
            return Ok(());
        }
        for (c, v) in x.iter_mut().enumerate() {
            let st = &mut self.state[c * n_sec..(c + 1) * n_sec];
            let mut y = Complex64::new(f64::from(v.re), f64::from(v.im));
            if !self.started {
                let s0 = &self.sections[0];
                st[0] = [-s0.b[0] * y, s0.b[2] * y];
                for s in st[1..].iter_mut() {
                    *s = [Complex64::new(0.0, 0.0); 2];
                }
            }
            for (s, z) in self.sections.iter().zip(st.iter_mut()) {
                let out = s.b[0] * y + z[0];
                z[0] = s.b[1] * y - s.a[0] * out + z[1];
                z[1] = s.b[2] * y - s.a[1] * out;
                y = out;
            }
            *v = Complex32::new(y.re as f32, y.im as f32);
        }
        self.started = true;
        Ok(())
    }
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
    let t = |k: usize| {
        if n > 1 {
            2.0 * k as f64 / (n - 1) as f64 - 1.0
        } else {
            0.0
        }
    };
    let raw = (0..=order)
        .map(|j| (0..n).map(|k| Complex64::new(t(k).powi(j as i32), 0.0)).collect())
        .collect();
    orthonormalise(raw)
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
/// components (`2·rank·n` per pixel). Memory: about `5·n²` complex values (80 MB at
/// `n = MAX_ENSEMBLE`, where the eigen-decomposition also takes seconds).
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
        let gram = gram(ens);
        if !gram.iter().all(|z| z.re.is_finite() && z.im.is_finite()) {
            return Err(Error::invalid("ens", "finite samples", "a non-finite sample"));
        }
        let eig = hermitian_eigen(gram, n);
        let energies: Vec<f64> = eig.values.iter().map(|&v| v.max(0.0)).collect();
        let waveforms: Vec<Vec<Complex64>> = (0..n)
            .map(|j| (0..n).map(|k| eig.vectors[k * n + j].conj()).collect())
            .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn cgauss(rng: &mut ChaCha8Rng, power: f64) -> Complex64 {
        let r = (-(1.0 - rng.random::<f64>()).ln() * power).sqrt();
        Complex64::from_polar(r, 2.0 * PI * rng.random::<f64>())
    }

    fn energy(a: &Array3<Complex32>) -> f64 {
        a.iter().map(|z| f64::from(z.norm_sqr())).sum()
    }

    fn db(num: f64, den: f64) -> f64 {
        10.0 * (num / den).log10()
    }

    fn to32(z: Complex64) -> Complex32 {
        Complex32::new(z.re as f32, z.im as f32)
    }

    /// The designed sections match the analytic Butterworth `|H|` to 1e-9 (orders 1–8), and the
    /// filter run over a 1024-firing tone has, after its transient, that magnitude within 0.5 %.
    #[test]
    fn iir_matches_analytic_butterworth() {
        let analytic = |fc: f64, n: usize, f: f64| {
            1.0 / (1.0 + ((PI * fc).tan() / (PI * f).tan().abs()).powi(2 * n as i32)).sqrt()
        };
        for order in 1..=MAX_IIR_ORDER {
            for fc in [0.02, 0.1, 0.3] {
                for i in 1..50 {
                    let f = i as f64 / 100.0 - 0.005;
                    let h = iir_magnitude(fc, order, f).unwrap();
                    assert!((h - analytic(fc, order, f)).abs() < 1e-9, "order {order} fc {fc} f {f}");
                    assert!((iir_magnitude(fc, order, -f).unwrap() - h).abs() < 1e-12);
                }
                assert!((iir_magnitude(fc, order, fc).unwrap() - 0.5f64.sqrt()).abs() < 1e-9);
            }
        }
        let (fc, order, n) = (0.1, 4, 1024);
        let filter = ClutterFilter::Iir { cutoff: fc, order };
        let mut worst = 0.0f64;
        for f in [0.05, 0.08, 0.1, 0.12, 0.2, 0.4, -0.15] {
            let mut x = Array3::from_shape_fn((n, 1, 1), |(k, _, _)| {
                to32(Complex64::from_polar(1.0, 2.0 * PI * f * k as f64))
            });
            filter.apply(x.view_mut()).unwrap();
            let tail = (n / 2..n).map(|k| f64::from(x[[k, 0, 0]].norm_sqr())).sum::<f64>() / (n / 2) as f64;
            let rel = (tail.sqrt() - analytic(fc, order, f)).abs() / analytic(fc, order, f);
            worst = worst.max(rel);
            assert!(rel < 0.005, "f {f}: {} vs {}", tail.sqrt(), analytic(fc, order, f));
        }
        println!("IIR steady state vs analytic |H|: worst relative error {:.2e}", worst);
    }

    /// The polynomial filter of order 3 removes a complex cubic entirely (to f32 rounding); the
    /// IIR filter removes a constant entirely.
    #[test]
    fn polynomial_removes_polynomials() {
        let mut x = Array3::from_shape_fn((20, 2, 2), |(k, l, d)| {
            let t = k as f64 / 19.0;
            let c = Complex64::new(1.0 + l as f64, -2.0 + d as f64);
            to32(c * (3.0 - 2.0 * t + 5.0 * t * t - 4.0 * t * t * t) + Complex64::new(0.0, t))
        });
        let before = energy(&x);
        ClutterFilter::Polynomial { order: 3 }.apply(x.view_mut()).unwrap();
        assert!(energy(&x) < 1e-11 * before, "{}", energy(&x) / before);
        // Projection initialisation: a constant (a step at the first firing) leaves nothing,
        // where the zero-state filter leaves its step response.
        let (n, sections) = (16, butterworth_highpass(0.05, 4));
        let mut zero_state = vec![Complex64::new(1.0, 0.0); n];
        run_sections(&sections, &mut zero_state, None);
        let left: f64 = zero_state.iter().map(|z| z.norm_sqr()).sum::<f64>() / n as f64;
        let mut c = Array3::from_elem((n, 1, 1), Complex32::new(1.0, 0.0));
        ClutterFilter::Iir { cutoff: 0.05, order: 4 }
            .apply(c.view_mut())
            .unwrap();
        println!(
            "step: zero state leaves {:.1} dB, projection {:.1} dB",
            db(left, 1.0),
            db(energy(&c) / n as f64, 1.0)
        );
        assert!(left > 0.01 && energy(&c) < 1e-10);
    }

    /// Stationary speckle with a slow phase drift (0.002 cycles per firing) and a pixel-dependent
    /// 20 % amplitude ramp, 40 dB above a flow at 0.2 v_N (0.1 cycles per firing), 32 firings:
    /// polynomial (order 2), IIR (order 4, cutoff 0.05) and SVD (rank 2, fitted on the mixture)
    /// each suppress the clutter by ≥ 40 dB and cost the flow ≤ 3 dB.
    #[test]
    fn clutter_suppressed_flow_kept() {
        let (n, lines, depths) = (32, 8, 32);
        let mut rng = ChaCha8Rng::seed_from_u64(21);
        let mut clutter = Array3::<Complex32>::zeros((n, lines, depths));
        let mut flow = clutter.clone();
        for l in 0..lines {
            for d in 0..depths {
                let (a, b) = (cgauss(&mut rng, 1e4), cgauss(&mut rng, 1e4 * 0.04));
                let phi = 2.0 * PI * rng.random::<f64>();
                for k in 0..n {
                    let t = k as f64;
                    clutter[[k, l, d]] =
                        to32(a * Complex64::from_polar(1.0, 2.0 * PI * 0.002 * t) + b * (t / n as f64));
                    flow[[k, l, d]] = to32(Complex64::from_polar(1.0, 2.0 * PI * 0.1 * t + phi));
                }
            }
        }
        // Exactly 40 dB above the flow.
        let scale = (1e4 * energy(&flow) / energy(&clutter)).sqrt() as f32;
        clutter.mapv_inplace(|z| z * scale);
        let mix = &clutter + &flow;
        println!("clutter-to-flow ratio {:.2} dB", db(energy(&clutter), energy(&flow)));
        let svd = SvdClutter::fit(mix.view(), SvdRank::Fixed(2)).unwrap();
        for f in [
            ClutterFilter::Polynomial { order: 2 },
            ClutterFilter::Iir { cutoff: 0.05, order: 4 },
            ClutterFilter::Svd {
                rank: SvdRank::Fixed(2),
            },
        ] {
            let (mut c, mut w) = (clutter.clone(), flow.clone());
            if let ClutterFilter::Svd { .. } = f {
                svd.remove(c.view_mut()).unwrap();
                svd.remove(w.view_mut()).unwrap();
                let mut m = mix.clone();
                f.apply(m.view_mut()).unwrap();
                let direct = &m - &(&c + &w);
                assert!(energy(&direct) < 1e-6 * energy(&flow));
            } else {
                f.apply(c.view_mut()).unwrap();
                f.apply(w.view_mut()).unwrap();
            }
            let (sup, loss) = (db(energy(&clutter), energy(&c)), db(energy(&flow), energy(&w)));
            println!("{f:?}: clutter suppressed {sup:.1} dB, flow loss {loss:.2} dB");
            assert!(sup >= 40.0 && loss <= 3.0);
        }
    }

    /// A strong tissue layer moving at 0.12 cycles per firing (inside the flow's band), coherent
    /// over 512 pixels, 40 dB above a flow with velocities spread over 0.06–0.2 cycles per firing
    /// (incoherent from pixel to pixel), 32 firings. SVD with the automatic rank removes the
    /// tissue by ≥ 30 dB for ≤ 3 dB of flow; the IIR (order 4, cutoff 0.03) and polynomial
    /// (order 1) filters, which keep the flow, leave the tissue (< 3 dB suppression). White noise
    /// alone gets rank 0.
    #[test]
    fn svd_removes_moving_tissue_that_high_pass_keeps() {
        let (n, lines, depths) = (32, 16, 32);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let mut tissue = Array3::<Complex32>::zeros((n, lines, depths));
        let mut flow = tissue.clone();
        for l in 0..lines {
            for d in 0..depths {
                let a = cgauss(&mut rng, 1e4);
                let (f, phi) = (0.06 + 0.14 * rng.random::<f64>(), 2.0 * PI * rng.random::<f64>());
                for k in 0..n {
                    let t = k as f64;
                    tissue[[k, l, d]] = to32(a * Complex64::from_polar(1.0, 2.0 * PI * 0.12 * t));
                    flow[[k, l, d]] = to32(Complex64::from_polar(1.0, 2.0 * PI * f * t + phi) + cgauss(&mut rng, 0.01));
                }
            }
        }
        let mix = &tissue + &flow;
        let svd = SvdClutter::fit(mix.view(), SvdRank::Auto).unwrap();
        let e = svd.energies();
        println!(
            "SVD auto rank {}, leading energies (dB re first) {:?}, leading Doppler {:.4}",
            svd.rank(),
            e[..5]
                .iter()
                .map(|x| (db(*x, e[0]) * 10.0).round() / 10.0)
                .collect::<Vec<_>>(),
            svd.doppler()[0]
        );
        assert_eq!(svd.rank(), 1);
        assert!((svd.doppler()[0] - 0.12).abs() < 0.002);
        let (mut t, mut w) = (tissue.clone(), flow.clone());
        svd.remove(t.view_mut()).unwrap();
        svd.remove(w.view_mut()).unwrap();
        let (sup, loss) = (db(energy(&tissue), energy(&t)), db(energy(&flow), energy(&w)));
        println!("SVD: tissue suppressed {sup:.1} dB, flow loss {loss:.2} dB");
        assert!(sup >= 30.0 && loss <= 3.0);
        for f in [
            ClutterFilter::Iir { cutoff: 0.03, order: 4 },
            ClutterFilter::Polynomial { order: 1 },
        ] {
            let (mut t, mut w) = (tissue.clone(), flow.clone());
            f.apply(t.view_mut()).unwrap();
            f.apply(w.view_mut()).unwrap();
            let (sup, loss) = (db(energy(&tissue), energy(&t)), db(energy(&flow), energy(&w)));
            println!("{f:?}: tissue suppressed {sup:.1} dB, flow loss {loss:.2} dB");
            assert!(loss <= 3.0 && sup < 3.0);
        }
        let noise = Array3::from_shape_fn((n, lines, depths), |_| to32(cgauss(&mut rng, 1.0)));
        assert_eq!(SvdClutter::fit(noise.view(), SvdRank::Auto).unwrap().rank(), 0);
    }

    /// Every bad setting or input is refused with an error naming it.
    #[test]
    fn errors_name_the_parameter() {
        let mut ens = Array3::<Complex32>::zeros((8, 2, 3));
        let name = |f: ClutterFilter, e: &mut Array3<Complex32>| f.apply(e.view_mut()).unwrap_err().parameter();
        assert_eq!(
            name(
                ClutterFilter::Polynomial {
                    order: MAX_POLY_ORDER + 1
                },
                &mut ens
            ),
            Some("order")
        );
        assert_eq!(name(ClutterFilter::Polynomial { order: 7 }, &mut ens), Some("order"));
        for c in [f64::NAN, f64::INFINITY, 0.0, -0.1, 0.5] {
            assert_eq!(
                name(ClutterFilter::Iir { cutoff: c, order: 2 }, &mut ens),
                Some("cutoff")
            );
        }
        for o in [0, MAX_IIR_ORDER + 1, 7] {
            assert_eq!(
                name(ClutterFilter::Iir { cutoff: 0.1, order: o }, &mut ens),
                Some("order")
            );
        }
        assert_eq!(
            name(
                ClutterFilter::Svd {
                    rank: SvdRank::Fixed(8)
                },
                &mut ens
            ),
            Some("rank")
        );
        assert!(
            ClutterFilter::Svd {
                rank: SvdRank::Fixed(MAX_ENSEMBLE)
            }
            .validate()
            .is_err()
        );
        for shape in [(0, 2, 3), (8, 0, 3), (MAX_ENSEMBLE + 1, 1, 1)] {
            let mut bad = Array3::<Complex32>::zeros(shape);
            for f in [
                ClutterFilter::None,
                ClutterFilter::Polynomial { order: 0 },
                ClutterFilter::Svd { rank: SvdRank::Auto },
            ] {
                assert_eq!(name(f, &mut bad), Some("ens"), "{shape:?}");
            }
        }
        ens[[3, 1, 1]] = Complex32::new(f32::NAN, 0.0);
        assert_eq!(name(ClutterFilter::Svd { rank: SvdRank::Auto }, &mut ens), Some("ens"));
        let ok = Array3::<Complex32>::zeros((8, 2, 3));
        let svd = SvdClutter::fit(ok.view(), SvdRank::Fixed(1)).unwrap();
        let mut other = Array3::<Complex32>::zeros((9, 2, 3));
        assert_eq!(svd.remove(other.view_mut()).unwrap_err().parameter(), Some("ens"));
        let s = ClutterFilter::Svd { rank: SvdRank::Auto };
        assert_eq!(s.power_gain(8, 0.1).unwrap_err().parameter(), Some("filter"));
        let p = ClutterFilter::Polynomial { order: 1 };
        assert_eq!(p.power_gain(8, f64::NAN).unwrap_err().parameter(), Some("f"));
        assert_eq!(p.power_gain(0, 0.1).unwrap_err().parameter(), Some("ens"));
        assert_eq!(iir_magnitude(0.1, 2, f64::INFINITY).unwrap_err().parameter(), Some("f"));
        assert_eq!(iir_magnitude(0.6, 2, 0.1).unwrap_err().parameter(), Some("cutoff"));
        // The polynomial filter's gain: 0 at DC, close to 1 for a fast tone.
        assert!(p.power_gain(16, 0.0).unwrap() < 1e-12 && p.power_gain(16, 0.4).unwrap() > 0.9);
    }

    /// The streaming wall filter: a constant (tissue) from the first firing leaves exactly nothing;
    /// a tone settles to the closed-form Butterworth gain `1 / sqrt(1 + (tan πc / tan πf)^2N)`;
    /// channels are independent; block filters are refused.
    #[test]
    fn streaming_wall_filter_settles_to_the_butterworth_gain() {
        let (cutoff, order) = (0.05, 4);
        let mut f = StreamingWallFilter::new(ClutterFilter::Iir { cutoff, order }, 2).unwrap();
        for fr in [0.01, 0.04, 0.08, 0.2, 0.45] {
            f.reset();
            let expected = 1.0 / (1.0 + ((PI * cutoff).tan() / (PI * fr).tan()).powi(2 * order as i32)).sqrt();
            let mut tail = Vec::new();
            for k in 0..3000 {
                let tone = Complex64::from_polar(1.0, 2.0 * PI * fr * k as f64);
                // Channel 0: tissue (a constant 100) plus the tone; channel 1: the tone alone.
                let mut x = [to32(tone + Complex64::new(100.0, -40.0)), to32(tone)];
                f.process(&mut x).unwrap();
                if k >= 2000 {
                    tail.push((x[0], x[1]));
                }
            }
            let rms = |c: usize| {
                (tail
                    .iter()
                    .map(|p| f64::from(if c == 0 { p.0 } else { p.1 }.norm_sqr()))
                    .sum::<f64>()
                    / tail.len() as f64)
                    .sqrt()
            };
            for c in 0..2 {
                assert!(
                    (rms(c) - expected).abs() < 2e-3 * expected.max(1e-2),
                    "f = {fr}, channel {c}: gain {} against {expected}",
                    rms(c)
                );
            }
        }
        f.reset();
        for _ in 0..50 {
            let mut x = [Complex32::new(3.5, -1.25), Complex32::new(-7.0, 2.0)];
            f.process(&mut x).unwrap();
            assert_eq!(x, [Complex32::ZERO; 2]);
        }
        assert_eq!(f.process(&mut [Complex32::ZERO]).unwrap_err().parameter(), Some("x"));
        let param = |c| StreamingWallFilter::new(c, 1).unwrap_err().parameter();
        assert_eq!(param(ClutterFilter::Polynomial { order: 1 }), Some("clutter"));
        assert_eq!(param(ClutterFilter::Iir { cutoff: 0.7, order: 2 }), Some("cutoff"));
        assert_eq!(
            StreamingWallFilter::new(ClutterFilter::None, 0)
                .unwrap_err()
                .parameter(),
            Some("channels")
        );
    }
}
