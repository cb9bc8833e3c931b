//! Contrast between two regions: CR, CNR (envelope and PICMUS forms) and gCNR.

use super::*;

/// Contrast between an inside and an outside region. See [`contrast`]. The dB-valued and ratio fields
/// are `None` where the value is undefined or infinite (a zero mean or pixel, zero spread).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContrastMetrics {
    /// Envelope statistics inside.
    pub inside: RegionStats,
    /// Envelope statistics outside.
    pub outside: RegionStats,
    /// Contrast ratio on the envelope: `20·log10(μ_in / μ_out)`, dB.
    pub cr_db: Option<f64>,
    /// CNR on the envelope: `|μ_in − μ_out| / √(σ_in² + σ_out²)` (dimensionless).
    pub cnr: Option<f64>,
    /// The PICMUS CNR, on the dB image: `20·log10(|μ_in − μ_out| / √((σ_in² + σ_out²)/2))` where the μ
    /// and σ are of `20·log10(envelope)` (independent of the dB reference); `None` if a pixel is 0.
    pub cnr_picmus_db: Option<f64>,
    /// Generalized CNR of the envelope samples, in [0, 1]: see [`gcnr_of_samples`].
    pub gcnr: f64,
    /// Histogram bins used for `gcnr`.
    pub gcnr_bins: usize,
}

/// Contrast metrics of the envelope between the pixels in `inside` and in `outside` (a pixel in
/// both counts in both). Errors if the image does not fit the grid, holds a non-finite or negative
/// value, or a region is invalid or selects no pixel (as [`Region::values`]). Ratios that would be
/// infinite or undefined are `None`. Cost: two passes over the grid, the selected values and their
/// dB copies, and the gCNR histograms.
pub fn contrast(env: ArrayView2<'_, f32>, grid: &Grid, inside: &Region, outside: &Region) -> Result<ContrastMetrics> {
    let a = inside.values(env, grid)?;
    let b = outside.values(env, grid)?;
    let (si, so) = (RegionStats::from_samples(&a)?, RegionStats::from_samples(&b)?);
    let db_stats = |s: &[f64]| RegionStats::from_samples(&s.iter().map(|x| 20.0 * x.log10()).collect::<Vec<_>>());
    let cnr_picmus_db = match (db_stats(&a), db_stats(&b)) {
        (Ok(i), Ok(o)) => {
            finite_opt(20.0 * ((i.mean - o.mean).abs() / ((i.std.powi(2) + o.std.powi(2)) / 2.0).sqrt()).log10())
        }
        _ => None,
    };
    let gcnr_bins = default_gcnr_bins(a.len(), b.len());
    Ok(ContrastMetrics {
        inside: si,
        outside: so,
        cr_db: finite_opt(20.0 * (si.mean / so.mean).log10()),
        cnr: finite_opt((si.mean - so.mean).abs() / (si.std.powi(2) + so.std.powi(2)).sqrt()),
        cnr_picmus_db,
        gcnr: gcnr_with_bins(&a, &b, gcnr_bins)?,
        gcnr_bins,
    })
}

/// The bin count [`gcnr_of_samples`] uses: `⌈√min(n_a, n_b)⌉` clamped to
/// [`GCNR_MIN_BINS`]..=[`GCNR_MAX_BINS`] (256 from 65,025 samples per set). Fewer bins than the
/// square-root rule would blur the overlap; more would leave sparse histograms whose sampling noise
/// reads as separation (biasing gCNR upwards for small regions).
///
/// Cost: O(1).
pub fn default_gcnr_bins(n_a: usize, n_b: usize) -> usize {
    ((n_a.min(n_b) as f64).sqrt().ceil() as usize).clamp(GCNR_MIN_BINS, GCNR_MAX_BINS)
}

/// Generalized contrast-to-noise ratio (Rodriguez-Molares et al., 2020) of two sample sets:
/// `1 − Σ min(p_a, p_b)` over normalised histograms on common, equal-width bins spanning the joint
/// range, with [`default_gcnr_bins`] bins. 1 = perfectly separable, 0 = identical distributions.
/// Errors and cost as [`gcnr_with_bins`].
pub fn gcnr_of_samples(a: &[f64], b: &[f64]) -> Result<f64> {
    gcnr_with_bins(a, b, default_gcnr_bins(a.len(), b.len()))
}

/// [`gcnr_of_samples`] with an explicit bin count (1..=65,536). Samples must be non-empty and
/// finite (errors name `a` or `b`); any finite magnitude works, up to ±`f64::MAX` (the bins then
/// span the halved values). Cost: O(n_a + n_b + bins), two histograms of `bins` counts.
pub fn gcnr_with_bins(a: &[f64], b: &[f64], bins: usize) -> Result<f64> {
    check_samples("a", a)?;
    check_samples("b", b)?;
    if !(1..=GCNR_BIN_LIMIT).contains(&bins) {
        return Err(Error::invalid("bins", format!("a count in 1..={GCNR_BIN_LIMIT}"), bins));
    }
    let (lo, hi) = a
        .iter()
        .chain(b)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    // The joint range on halved values when its span overflows (values near ±f64::MAX); halving is
    // exact for normal numbers, so ordinary inputs bin exactly as without it.
    let scale = if (hi - lo).is_finite() { 1.0 } else { 0.5 };
    let (lo, hi) = (lo * scale, hi * scale);
    let width = (hi - lo) / bins as f64;
    let hist = |s: &[f64]| {
        let mut counts = vec![0usize; bins];
        for &x in s {
            let i = if width > 0.0 {
                ((x * scale - lo) / width) as usize
            } else {
                0
            };
            counts[i.min(bins - 1)] += 1;
        }
        let n = s.len() as f64;
        counts.into_iter().map(move |c| c as f64 / n)
    };
    let overlap: f64 = hist(a).zip(hist(b)).map(|(p, q)| p.min(q)).sum();
    Ok((1.0 - overlap).clamp(0.0, 1.0))
}

// ---------------------------------------------------------------------------------------------
// Speckle
// ---------------------------------------------------------------------------------------------
