//! Speckle statistics: SNR and a Kolmogorov–Smirnov test against a fitted Rayleigh law.

use super::*;

/// A one-sample Kolmogorov–Smirnov test against a Rayleigh law fitted by maximum likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KsTest {
    /// Number of samples tested.
    pub n: usize,
    /// The fitted Rayleigh scale σ, with `σ² = Σx² / (2n)` (same unit as the samples).
    pub sigma: f64,
    /// The KS statistic `D = sup |F_n(x) − F(x)|`.
    pub d: f64,
    /// Asymptotic p-value `Q_KS((√n + 0.12 + 0.11/√n)·D)`.
    pub p_value: f64,
    /// `p_value ≥ KS_ALPHA` (0.05): the samples are compatible with a Rayleigh law.
    pub pass: bool,
}

/// Kolmogorov's survival function `Q_KS(λ) = 2 Σ_{k≥1} (−1)^{k−1} e^{−2k²λ²}`; below λ = 1.18 it is
/// evaluated through the equivalent, faster converging `1 − √(2π)/λ Σ_{k≥1} e^{−(2k−1)²π²/(8λ²)}`.
pub(super) fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 1.0;
    }
    let q = if lambda < 1.18 {
        let y = (-std::f64::consts::PI.powi(2) / (8.0 * lambda * lambda)).exp();
        1.0 - (2.0 * std::f64::consts::PI).sqrt() / lambda * (y + y.powi(9) + y.powi(25) + y.powi(49))
    } else {
        let x = (-2.0 * lambda * lambda).exp();
        2.0 * (x - x.powi(4) + x.powi(9) - x.powi(16))
    };
    q.clamp(0.0, 1.0)
}

/// Kolmogorov–Smirnov test of `samples` (finite, ≥ 0, not all zero; errors name `samples`)
/// against the Rayleigh law `F(x) = 1 − exp(−x²/2σ²)` with σ fitted by maximum likelihood, as
/// PICMUS tests speckle. Any finite magnitude works (the samples are scaled by a power of two
/// before squaring). Cost: O(n log n), one sorted copy of the samples.
///
/// The p-value is the asymptotic Kolmogorov one (with Stephens' small-sample correction of λ). Two
/// caveats: fitting σ on the same samples makes the test conservative (passes more easily than the
/// nominal α), and the test assumes independent samples — pixels of a speckle image are correlated
/// over a resolution cell, so test a subsample about one cell apart (see [`speckle`]'s `stride`);
/// with all pixels of a large region, D's sampling noise is overestimated and the test fails too often.
pub fn ks_rayleigh(samples: &[f64]) -> Result<KsTest> {
    check_samples("samples", samples)?;
    if let Some(v) = samples.iter().find(|v| **v < 0.0) {
        return Err(Error::invalid("samples", "non-negative amplitudes", v));
    }
    let n = samples.len() as f64;
    // The fit and the statistic on samples scaled by a power of two (D does not depend on scale).
    let k = pow2_scale(samples);
    let s2 = samples.iter().map(|x| (x / k) * (x / k)).sum::<f64>() / (2.0 * n);
    if !(s2 > 0.0 && s2.is_finite()) {
        return Err(Error::invalid("samples", "amplitudes not all zero", s2));
    }
    let mut x: Vec<f64> = samples.iter().map(|x| x / k).collect();
    x.sort_by(f64::total_cmp);
    let d = x.iter().enumerate().fold(0.0f64, |d, (i, &xi)| {
        let f = -(-xi * xi / (2.0 * s2)).exp_m1();
        d.max((i + 1) as f64 / n - f).max(f - i as f64 / n)
    });
    let p_value = kolmogorov_q((n.sqrt() + 0.12 + 0.11 / n.sqrt()) * d);
    Ok(KsTest {
        n: samples.len(),
        sigma: s2.sqrt() * k,
        d,
        p_value,
        pass: p_value >= KS_ALPHA,
    })
}

/// Speckle statistics in a region. See [`speckle`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpeckleMetrics {
    /// Envelope statistics over all pixels of the region.
    pub stats: RegionStats,
    /// Speckle SNR `mean / std` over all pixels (√(π/(4−π)) ≈ 1.913 for fully developed speckle).
    pub snr: f64,
    /// KS test against a fitted Rayleigh law, on the strided subsample.
    pub ks: KsTest,
}

/// Speckle SNR of the envelope in `region` (all its pixels) and a KS test against a fitted Rayleigh
/// law ([`ks_rayleigh`]) on the pixels with `line % stride.0 == 0` and `k % stride.1 == 0`.
///
/// PICMUS-style tests assume independent samples: choose the stride (lines, depth samples) so that
/// kept pixels are about one resolution cell apart (lateral −6 dB width, pulse length); `(1, 1)`
/// tests every pixel. Errors as [`contrast`] does, on a zero stride (`stride`), and on a constant
/// envelope in the region (`env`). Cost: two passes over the grid, the selected values and one
/// sorted copy of the subsample.
pub fn speckle(
    env: ArrayView2<'_, f32>,
    grid: &Grid,
    region: &Region,
    stride: (usize, usize),
) -> Result<SpeckleMetrics> {
    count_at_least("stride", stride.0.min(stride.1), 1)?;
    let stats = region.stats(env, grid)?;
    if stats.std <= 0.0 {
        return Err(Error::invalid(
            "env",
            "a non-constant envelope in the region",
            stats.mean,
        ));
    }
    let ks = ks_rayleigh(&region.values_strided(env, grid, stride)?)?;
    Ok(SpeckleMetrics {
        stats,
        snr: stats.mean / stats.std,
        ks,
    })
}
