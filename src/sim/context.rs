//! What a run precomputes: the apertures as plain arrays of sub-elements, the fine time grid, the pulse table.

use super::plan::RunPlan;
use super::taps::Geometry;
use super::wave::PulseTable;
use super::{ElevationModel, Simulator};
use crate::channel_data::Sampling;
use crate::error::Result;

/// Everything a run precomputes.
pub(super) struct Context {
    pub(super) tx_geo: Geometry,
    pub(super) rx_geo: Geometry,
    pub(super) exact: bool,
    pub(super) c: f64,
    pub(super) fc: f64,
    pub(super) lambda: f64,
    /// Distance below which the spreading `1/r` is held constant: `λ/(2π)` (`k·r = 1`).
    pub(super) r_min: f64,
    pub(super) alpha: f64,
    pub(super) center: [f64; 3],
    pub(super) sampling: Sampling,
    pub(super) m: usize,
    pub(super) fs_fine: f64,
    pub(super) table: PulseTable,
    #[cfg(target_arch = "x86_64")]
    pub(super) avx2_fma: bool,
}

impl Context {
    /// The geometry of both apertures and the pulse table of `plan` (its first phase: see
    /// [`RunPlan::bytes`]).
    pub(super) fn new(sim: &Simulator, plan: &RunPlan) -> Result<Context> {
        let fc = sim.pulse.fc_hz();
        let c = sim.medium.c_m_s();
        let alpha = sim.medium.alpha_np_per_m_hz();
        Ok(Context {
            tx_geo: Geometry::new(&sim.tx, plan.split),
            rx_geo: Geometry::new(&sim.rx, plan.split),
            exact: sim.options.elevation == ElevationModel::Exact,
            c,
            fc,
            lambda: c / fc,
            r_min: c / fc / (2.0 * std::f64::consts::PI),
            alpha,
            center: sim.tx.center_m(),
            sampling: sim.sampling,
            m: plan.m,
            fs_fine: plan.fs_fine,
            table: PulseTable::new(&sim.pulse, plan.fs_fine, alpha, plan.l_max)?,
            #[cfg(target_arch = "x86_64")]
            avx2_fma: is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        })
    }
}
