//! What a run precomputes: the apertures as plain arrays, the fine time grid, the pulse table.

use super::plan::RunPlan;
use super::taps::Geometry;
use super::wave::PulseTable;
use super::{ElevationModel, Simulator};
use crate::channel_data::Sampling;
use crate::error::Result;
use crate::medium::{AttenuationMap, db_cm_mhz_to_np_m_hz};

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
    /// The medium's attenuation, Np/(m·Hz) (the legs' relative factors).
    pub(super) alpha: f64,
    /// The medium's attenuation, dB/(cm·MHz), and the map over it (empty: homogeneous).
    pub(super) alpha_db: f64,
    pub(super) map: AttenuationMap,
    /// The attenuation the pulse table's paths are measured in, Np/(m·Hz) (`plan::table_alpha`).
    pub(super) table_alpha: f64,
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
            tx_geo: Geometry::new(&sim.tx),
            rx_geo: Geometry::new(&sim.rx),
            exact: sim.options.elevation == ElevationModel::Exact,
            c,
            fc,
            lambda: c / fc,
            r_min: c / fc / (2.0 * std::f64::consts::PI),
            alpha,
            alpha_db: sim.medium.attenuation_db_cm_mhz(),
            map: sim.attenuation.clone(),
            table_alpha: plan.table_alpha,
            center: sim.tx.center_m(),
            sampling: sim.sampling,
            m: plan.m,
            fs_fine: plan.fs_fine,
            table: PulseTable::new(&sim.pulse, plan.fs_fine, plan.table_alpha, plan.table_l_max)?,
            #[cfg(target_arch = "x86_64")]
            avx2_fma: is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        })
    }
}

impl Context {
    /// The pulse table's path for a scatterer at `p`: the round trip `2·|p − centre|` in a
    /// homogeneous medium; with a map, the equivalent path `2·∫α ds / α_t` of the straight ray from
    /// the transmit aperture's centre, so that the table's `exp(−α_t·|f|·L)` is the ray's
    /// attenuation at every frequency (amplitude and downshift).
    pub(super) fn table_path(&self, p: [f64; 3]) -> f64 {
        let r0 = super::math::dist(p, self.center);
        if self.map.is_empty() {
            return 2.0 * r0;
        }
        let excess = db_cm_mhz_to_np_m_hz(self.map.mean_excess_db_cm_mhz(self.alpha_db, self.center, p));
        let one_way = r0 * (self.alpha + excess).max(0.0);
        if self.table_alpha > 0.0 {
            2.0 * one_way / self.table_alpha
        } else {
            0.0
        }
    }
}
