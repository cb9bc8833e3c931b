//! What a run precomputes: the apertures as plain arrays, the fine time grid, the pulse table.

use super::taps::Geometry;
use super::wave::PulseTable;
use super::{ElevationModel, Simulator};
use crate::channel_data::{MAX_DEPTH_M, Sampling};
use crate::error::Result;

/// Target size of one block's tap arrays (in taps): keeps a block's working set in cache.
pub(super) const BLOCK_TAPS: usize = 1 << 20;

/// Everything a run precomputes.
pub(super) struct Context {
    pub(super) tx_geo: Geometry,
    pub(super) rx_geo: Geometry,
    pub(super) same_apertures: bool,
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
    pub(super) fn new(sim: &Simulator) -> Result<Context> {
        let fc = sim.pulse.fc_hz();
        let fs = sim.sampling.fs_hz();
        let m = ((16.0 * fc / fs).ceil() as usize).clamp(1, 16);
        let fs_fine = fs * m as f64;
        let c = sim.medium.c_m_s();
        let alpha = sim.medium.alpha_np_per_m_hz();
        let t_end = sim.sampling.time_s(sim.sampling.n_samples());
        let l_max = (c * (t_end - sim.sampling.t0_s())).clamp(1e-3, 2.0 * MAX_DEPTH_M * 2.0);
        Ok(Context {
            tx_geo: Geometry::new(&sim.tx),
            rx_geo: Geometry::new(&sim.rx),
            same_apertures: sim.tx == sim.rx,
            exact: sim.options.elevation == ElevationModel::Exact,
            c,
            fc,
            lambda: c / fc,
            r_min: c / fc / (2.0 * std::f64::consts::PI),
            alpha,
            center: sim.tx.center_m(),
            sampling: sim.sampling,
            m,
            fs_fine,
            table: PulseTable::new(&sim.pulse, fs_fine, alpha, l_max)?,
            #[cfg(target_arch = "x86_64")]
            avx2_fma: is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
        })
    }

    pub(super) fn rx_taps_per_scatterer(&self) -> usize {
        if self.exact {
            self.rx_geo.pos.len()
        } else {
            self.rx_geo.range.len()
        }
    }

    pub(super) fn tx_taps_per_scatterer(&self) -> usize {
        if self.exact {
            self.tx_geo.pos.len()
        } else {
            self.tx_geo.range.len()
        }
    }
}
