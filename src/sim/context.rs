//! What a run precomputes: the apertures as plain arrays of sub-elements, the fine time grid, the pulse table.

use super::directivity::FitTable;
use super::kernel::Simd;
use super::math::dist;
use super::plan::RunPlan;
use super::taps::Geometry;
use super::wave::PulseTable;
use super::{ElevationModel, Propagation, Simulator};
use crate::channel_data::Sampling;
use crate::error::Result;
use crate::medium::{AttenuationMap, db_cm_mhz_to_np_m_hz};
use crate::sequence::TxKind;

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
    /// The receive aperture's centre and the lateral range of its channels (the map's rays).
    pub(super) rx_center: [f64; 3],
    pub(super) rx_x_range: (f64, f64),
    pub(super) sampling: Sampling,
    pub(super) m: usize,
    pub(super) fs_fine: f64,
    pub(super) table: PulseTable,
    /// Broadband directivity's fit of each sub-element's factor (`None`: evaluated at fc).
    pub(super) fit: Option<FitTable>,
    /// The inner loops' instruction set.
    pub(super) simd: Simd,
    /// 2-D propagation ([`Propagation::Cylindrical`]): one line source per sub-column, spreading
    /// `sqrt(λ/r)`, the table's waveforms times `fc/(j·f)`, every y ignored.
    pub(super) cylindrical: bool,
    /// Weight of a 2-D line source: `1 / az`, the sub-columns of a channel.
    pub(super) line_weight: f64,
}

impl Context {
    /// The geometry of both apertures and the pulse table of `plan` (its first phase: see
    /// [`RunPlan::bytes`]).
    pub(super) fn new(sim: &Simulator, plan: &RunPlan) -> Result<Context> {
        let fc = sim.pulse.fc_hz();
        let c = sim.medium.c_m_s();
        let alpha = sim.medium.alpha_np_per_m_hz();
        let cylindrical = sim.options.propagation == Propagation::Cylindrical;
        Ok(Context {
            tx_geo: Geometry::new(&sim.tx, plan.split),
            rx_geo: Geometry::new(&sim.rx, plan.split),
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
            rx_center: sim.rx.center_m(),
            rx_x_range: sim
                .rx
                .channels()
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), ch| {
                    (lo.min(ch.position_m[0]), hi.max(ch.position_m[0]))
                }),
            sampling: sim.sampling,
            m: plan.m,
            fs_fine: plan.fs_fine,
            table: PulseTable::new(
                &sim.pulse,
                plan.fs_fine,
                plan.table_alpha,
                plan.table_l_max,
                plan.table_bases(),
                cylindrical,
            )?,
            fit: plan
                .broadband
                .then(|| FitTable::new(&sim.pulse, plan.subelement_l.0, plan.subelement_l.1)),
            simd: Simd::select(sim.options.kernel)?,
            cylindrical,
            line_weight: 1.0 / plan.split.az as f64,
        })
    }

    /// The scatterer position `p` the model uses: `p` itself in 3-D; in 2-D `p` moved along y to
    /// the transmit aperture's centre, so that no distance, path or order depends on its y.
    #[inline(always)]
    pub(super) fn in_plane(&self, p: [f64; 3]) -> [f64; 3] {
        if self.cylindrical {
            [p[0], self.center[1], p[2]]
        } else {
            p
        }
    }
}

impl Context {
    /// The pulse table's path for a scatterer at `p` and an event of wavefront `kind`: the round
    /// trip `2·|p − centre|` in a homogeneous medium. With a map, the equivalent path
    /// `(2·α·r0 + E_tx + E_rx) / α_t`: the medium's part as before (the legs' relative factors
    /// refer to it), plus the map's excess `E = ∫(α_map − α) ds` along one ray per leg (see
    /// [`Context::tx_ray_origin`], [`Context::rx_ray_origin`]), so that the table's
    /// `exp(−α_t·|f|·L)` is the path's attenuation at every frequency (amplitude and downshift).
    pub(super) fn table_path(&self, p: [f64; 3], kind: TxKind) -> f64 {
        let r0 = dist(p, self.center);
        if self.map.is_empty() {
            return 2.0 * r0;
        }
        let excess =
            |o: [f64; 3]| db_cm_mhz_to_np_m_hz(self.map.mean_excess_db_cm_mhz(self.alpha_db, o, p)) * dist(o, p);
        let (tx, rx) = (self.tx_ray_origin(p, kind), self.rx_ray_origin(p));
        let np_hz = (2.0 * self.alpha * r0 + excess(tx) + excess(rx)).max(0.0);
        if self.table_alpha > 0.0 {
            np_hz / self.table_alpha
        } else {
            0.0
        }
    }

    /// Where the transmit leg's ray to `p` leaves the probe face (the plane of the transmit
    /// aperture's centre, `z = z_c`): back along the wave's direction for a plane wave, on the line
    /// from the virtual source for a diverging wave (the element itself for synthetic aperture);
    /// the aperture's centre for a focused wave, explicit delays, or a ray that never crosses the
    /// face.
    fn tx_ray_origin(&self, p: [f64; 3], kind: TxKind) -> [f64; 3] {
        let c = self.center;
        let dz = p[2] - c[2];
        match kind {
            TxKind::Plane { angle_rad } => {
                let (sn, cs) = angle_rad.sin_cos();
                if cs > 1e-6 && dz > 0.0 {
                    [p[0] - dz * sn / cs, c[1], c[2]]
                } else {
                    c
                }
            }
            TxKind::Diverging { virtual_source_m: v } => {
                let (dv, dp) = (c[2] - v[2], p[2] - v[2]);
                if dv >= 0.0 && dp > dv {
                    let s = dv / dp;
                    [v[0] + s * (p[0] - v[0]), v[1] + s * (p[1] - v[1]), c[2]]
                } else {
                    c
                }
            }
            _ => c,
        }
    }

    /// Where the receive leg's ray from `p` meets the receive aperture: the point of the
    /// aperture's lateral extent (at its centre's y and z) nearest to `p` laterally — straight up
    /// under the aperture, as the receive aperture a beamformer centres on a pixel, and towards the
    /// nearest edge beside it.
    fn rx_ray_origin(&self, p: [f64; 3]) -> [f64; 3] {
        let (lo, hi) = self.rx_x_range;
        [p[0].clamp(lo, hi), self.rx_center[1], self.rx_center[2]]
    }
}
