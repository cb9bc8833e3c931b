//! The transmit-time model in the plan's units.
//!
//! Every transmit event's arrival time ([`crate::sequence::TxEvent::arrival_time_at`]) is
//! translated once, at plan time, into an `f32` model in *sample units* relative to the plan's
//! origin (positions multiplied by `fs / c`, times minus `t0` multiplied by `fs`), which the tile
//! pass evaluates for every pixel of a tile. Plane and diverging waves are the sequence's model
//! exactly; focused waves use the focal-zone rule of the [module docs](super); explicit delay
//! tables are evaluated per pixel at plan time and stored ([`TxModel::Table`]).
//!
//! A new wavefront is added here (its model) and in [`crate::sequence`] (its delays and
//! arrival time); the `models_agree_with_the_sequence` test ties the two.

use crate::sequence::{TxEvent, TxKind};

/// Transmit delay minus `t0`, in samples, relative to the plan origin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TxModel {
    /// `s·x + c·z + c0`.
    Plane { s: f32, c: f32, c0: f32 },
    /// `|p − v| + c0`.
    Diverging { v: [f32; 3], c0: f32 },
    /// The focal-zone rule.
    Focused {
        f: [f32; 3],
        u: [f32; 3],
        zone: f32,
        inv_zone: f32,
        c0: f32,
    },
    /// Tabulated per pixel at plan time: entry `index` of the plan's explicit tables.
    Table { index: usize },
}

/// What translating an event needs: the plan's origin and units.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Units {
    /// Origin of the plan (the receive channels' centroid), metres.
    pub origin: [f64; 3],
    /// Samples per metre: `fs / c`.
    pub k_s: f64,
    /// Sampling rate, Hz.
    pub fs: f64,
    /// Time of sample 0, seconds.
    pub t0: f64,
    /// Speed of sound the plan assumes, m/s.
    pub c: f64,
}

impl Units {
    /// `p` in sample units relative to the origin.
    pub fn rel(&self, p: [f64; 3]) -> [f64; 3] {
        [0, 1, 2].map(|k| (p[k] - self.origin[k]) * self.k_s)
    }
    /// A time in seconds as samples after `t0`.
    pub fn samples(&self, t_s: f64) -> f64 {
        (t_s - self.t0) * self.fs
    }
}

impl TxModel {
    /// The model of `ev`; `focal_zone` is the half-width of the focal zone in samples, and
    /// `next_table` the index an explicit event's table gets.
    pub fn of(ev: &TxEvent, u: &Units, focal_zone: f64, next_table: usize) -> TxModel {
        let f32x3 = |p: [f64; 3]| p.map(|v| v as f32);
        match ev.kind() {
            TxKind::Plane { angle_rad } => {
                let (s, co) = angle_rad.sin_cos();
                TxModel::Plane {
                    s: s as f32,
                    c: co as f32,
                    c0: u.samples(ev.arrival_time_at(u.origin, u.c)) as f32,
                }
            }
            TxKind::Diverging { virtual_source_m } => TxModel::Diverging {
                v: f32x3(u.rel(virtual_source_m)),
                c0: u.samples(ev.arrival_time_at(virtual_source_m, u.c)) as f32,
            },
            TxKind::Focused { focus_m } => {
                let f = u.rel(focus_m);
                let len = (f[0] * f[0] + f[1] * f[1] + f[2] * f[2]).sqrt();
                let dir = if len > 0.0 { f.map(|v| v / len) } else { [0.0, 0.0, 1.0] };
                TxModel::Focused {
                    f: f32x3(f),
                    u: f32x3(dir),
                    zone: focal_zone as f32,
                    inv_zone: (1.0 / focal_zone) as f32,
                    c0: u.samples(ev.arrival_time_at(focus_m, u.c)) as f32,
                }
            }
            _ => TxModel::Table { index: next_table },
        }
    }

    /// The table of an explicit event: its arrival time at each of `positions_m` (metres), in
    /// samples after `t0`.
    pub fn table(ev: &TxEvent, u: &Units, positions_m: impl Iterator<Item = [f64; 3]>) -> Vec<f32> {
        positions_m
            .map(|p| u.samples(ev.arrival_time_at(p, u.c)) as f32)
            .collect()
    }

    /// Transmit delay minus `t0`, in samples, of each pixel of a block (`Table` models are read
    /// from the plan's tables by the caller and write nothing here).
    pub fn times(&self, px: &[f32], py: &[f32], pz: &[f32], out: &mut [f32]) {
        let n = out.len();
        let (px, py, pz) = (&px[..n], &py[..n], &pz[..n]);
        match *self {
            TxModel::Plane { s, c, c0 } => {
                for i in 0..n {
                    out[i] = s * px[i] + c * pz[i] + c0;
                }
            }
            TxModel::Diverging { v, c0 } => {
                for i in 0..n {
                    let (dx, dy, dz) = (px[i] - v[0], py[i] - v[1], pz[i] - v[2]);
                    out[i] = (dx * dx + dy * dy + dz * dz).sqrt() + c0;
                }
            }
            TxModel::Focused {
                f,
                u,
                zone,
                inv_zone,
                c0,
            } => {
                for i in 0..n {
                    let (dx, dy, dz) = (px[i] - f[0], py[i] - f[1], pz[i] - f[2]);
                    let d = (dx * dx + dy * dy + dz * dz).sqrt();
                    let a = dx * u[0] + dy * u[1] + dz * u[2];
                    let sd = if a >= 0.0 { d } else { -d };
                    let t = if a.abs() >= zone {
                        sd
                    } else {
                        a + a.abs() * inv_zone * (sd - a)
                    };
                    out[i] = t + c0;
                }
            }
            TxModel::Table { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{Aperture, Probe};
    use crate::sequence::Sequence;

    /// The plan's `f32` model in sample units equals the sequence's arrival time (to `f32`
    /// rounding) for every transmit type, at the sequence's and at another speed of sound; focused
    /// waves outside the focal zone and on the beam axis.
    #[test]
    fn models_agree_with_the_sequence() {
        let probe = Probe::linear(64, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
        let ap = Aperture::full(&probe, None).unwrap();
        let c = 1540.0;
        let seqs = [
            Sequence::plane_waves(&ap, &[-0.2, 0.0, 0.3], c).unwrap(),
            Sequence::diverging_sector(&ap, 0.6, 0.2, 3, c).unwrap(),
            Sequence::synthetic_aperture(&ap, c).unwrap(),
            Sequence::focused(&ap, &[[0.002, 0.0, 0.02], [-0.004, 0.0, 0.03]], c).unwrap(),
        ];
        let pixels: Vec<[f64; 3]> = (0..40)
            .map(|i| [-0.008 + 0.0004 * i as f64, 0.0, 0.004 + 0.0011 * i as f64])
            .collect();
        for c_bf in [1540.0, 1480.0] {
            let u = Units {
                origin: [0.0001, 0.0, 0.0],
                k_s: 20e6 / c_bf,
                fs: 20e6,
                t0: 1e-6,
                c: c_bf,
            };
            let zone = 2.0 * 20e6 / 5e6;
            for seq in &seqs {
                for ev in seq.events() {
                    let m = TxModel::of(ev, &u, zone, 0);
                    let rel: Vec<[f32; 3]> = pixels.iter().map(|p| u.rel(*p).map(|v| v as f32)).collect();
                    let [px, py, pz] = [0, 1, 2].map(|k| rel.iter().map(|p| p[k]).collect::<Vec<f32>>());
                    let mut out = vec![0.0f32; pixels.len()];
                    m.times(&px, &py, &pz, &mut out);
                    for (i, p) in pixels.iter().enumerate() {
                        let want = u.samples(ev.arrival_time_at(*p, c_bf));
                        if let TxKind::Focused { focus_m } = ev.kind() {
                            // Inside the focal zone the plan blends on purpose; compare outside.
                            let along = (p[2] - focus_m[2]).abs();
                            if along < 0.002 {
                                continue;
                            }
                        }
                        let tol = 2e-6 * want.abs().max(100.0);
                        assert!(
                            (out[i] as f64 - want).abs() < tol,
                            "{:?} at {p:?}, c {c_bf}: {} vs {want}",
                            ev.kind(),
                            out[i]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn explicit_events_are_tabulated() {
        let probe = Probe::linear(16, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
        let ap = Aperture::full(&probe, None).unwrap();
        let delays: Vec<f64> = (0..16).map(|i| i as f64 * 2e-8).collect();
        let ev = TxEvent::from_delays(&ap, delays, vec![1.0; 16], 1540.0).unwrap();
        let u = Units {
            origin: [0.0; 3],
            k_s: 20e6 / 1540.0,
            fs: 20e6,
            t0: 0.0,
            c: 1540.0,
        };
        assert_eq!(TxModel::of(&ev, &u, 8.0, 3), TxModel::Table { index: 3 });
        let p = [0.001, 0.0, 0.02];
        let t = TxModel::table(&ev, &u, [p].into_iter());
        assert!((t[0] as f64 - ev.arrival_time_s(p) * 20e6).abs() < 1e-3);
    }
}
