//! Phantoms that move over slow time: rigid translation, periodic wall motion, and flow in
//! straight cylindrical vessels (plug or Poiseuille profile, steady or pulsatile).
//!
//! A [`MovingPhantom`] is a list of parts, each a set of scatterers at time 0 and a [`Motion`];
//! [`MovingPhantom::at`] gives the [`Phantom`] at slow time `t`. Everything is a deterministic
//! function of the parts and `t` (no state, no random numbers after construction), so an ensemble
//! simulated firing by firing does not depend on the order or the thread count.
//!
//! **Flow.** A [`Vessel`] is a cylinder segment: a centre, an axis direction given by its angle
//! to the beam (`+z`) in the x–z plane, a radius and a length. Blood scatterers
//! ([`Vessel::blood`]) fill it uniformly, and [`Vessel::clear_lumen`] removes tissue scatterers
//! from it. A scatterer at distance `r` from the axis moves along the axis by
//! `s(r, t) = profile(r) · ∫₀ᵗ w(τ) dτ`, where `profile` is the plug or Poiseuille
//! (`v_max·(1 − r²/R²)`) velocity and `w` the pulsatile waveform (1 for steady flow). Its axial
//! coordinate is taken modulo the segment's length: a scatterer that leaves at one end re-enters at
//! the other, so the density stays constant and the flow never runs dry.
//!
//! ```
//! use sonochip::phantom::motion::{FlowProfile, Motion, MovingPhantom, Vessel};
//! use sonochip::phantom::Phantom;
//! # fn main() -> sonochip::Result<()> {
//! // A vessel at 60° to the beam, 3 mm in radius, Poiseuille flow of 0.5 m/s at its centre.
//! let vessel = Vessel::new([0.0, 0.0, 0.02], 60f64.to_radians(), 0.003, 0.03)?;
//! let blood = vessel.blood(20.0, -35.0, 7)?;
//! let mut moving = MovingPhantom::new();
//! moving.push(blood, Motion::Flow { vessel, profile: FlowProfile::Poiseuille { v_max_m_s: 0.5 }, waveform: None })?;
//! let later = moving.at(1e-3)?; // 1 ms later
//! assert_eq!(later.len(), moving.at(0.0)?.len());
//! # Ok(()) }
//! ```

use super::{MAX_EXTENT_M, MAX_SCATTERERS, Phantom, Scatterer, check_position};
use crate::error::{Error, Result, plausible};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// Largest speed any motion may have, m/s (blood reaches about 6 m/s in severe stenoses).
pub const MAX_SPEED_M_S: f64 = 20.0;
/// Most samples of a pulsatile waveform.
pub const MAX_WAVEFORM_SAMPLES: usize = 65_536;

/// How a part of a [`MovingPhantom`] moves.
#[derive(Debug, Clone, PartialEq)]
pub enum Motion {
    /// Does not move.
    Static,
    /// Rigid translation at a constant velocity, m/s (`[x, y, z]`; `+z` is away from the probe).
    Translation {
        /// Velocity, m/s.
        velocity_m_s: [f64; 3],
    },
    /// Rigid periodic motion `p(t) = p(0) + A·sin(2π·t/T)` (a vessel wall, a myocardial segment).
    Oscillation {
        /// Amplitude vector `A`, metres.
        amplitude_m: [f64; 3],
        /// Period `T`, seconds.
        period_s: f64,
    },
    /// Flow along a vessel (see the [module docs](self)).
    Flow {
        /// The vessel the scatterers flow in.
        vessel: Vessel,
        /// The velocity profile across the vessel.
        profile: FlowProfile,
        /// Pulsatile waveform (`None`: steady flow).
        waveform: Option<Waveform>,
    },
}

/// The velocity across a vessel, along its axis (positive: along the axis direction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlowProfile {
    /// The same velocity everywhere, m/s.
    Plug {
        /// Velocity, m/s.
        v_m_s: f64,
    },
    /// Laminar flow: `v_max·(1 − r²/R²)`.
    Poiseuille {
        /// Velocity on the axis, m/s.
        v_max_m_s: f64,
    },
}

impl FlowProfile {
    /// The velocity at distance `r_m` from the axis of a vessel of radius `radius_m`, m/s.
    pub fn velocity_at(&self, r_m: f64, radius_m: f64) -> f64 {
        match *self {
            FlowProfile::Plug { v_m_s } => v_m_s,
            FlowProfile::Poiseuille { v_max_m_s } => v_max_m_s * (1.0 - (r_m / radius_m).powi(2)).max(0.0),
        }
    }

    fn peak(&self) -> f64 {
        match *self {
            FlowProfile::Plug { v_m_s } => v_m_s,
            FlowProfile::Poiseuille { v_max_m_s } => v_max_m_s,
        }
    }
}

/// A straight cylindrical vessel segment. Its axis lies in the x–z plane through `centre_m`, at
/// `angle_rad` from the beam direction `+z`: direction `(sin θ, 0, cos θ)` (90° is a vessel
/// parallel to the probe face, where the beam sees no axial velocity).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Vessel {
    centre_m: [f64; 3],
    angle_rad: f64,
    radius_m: f64,
    length_m: f64,
}

impl Vessel {
    /// A vessel (validated: centre within the phantom extent, radius 0.1–50 mm, length 1 mm–1 m
    /// and at least its diameter, a finite angle).
    pub fn new(centre_m: [f64; 3], angle_rad: f64, radius_m: f64, length_m: f64) -> Result<Vessel> {
        check_position("centre_m", centre_m)?;
        plausible(
            "angle_rad",
            angle_rad,
            -std::f64::consts::TAU,
            std::f64::consts::TAU,
            "radians",
        )?;
        plausible("radius_m", radius_m, 1e-4, 0.05, "m")?;
        plausible(
            "length_m",
            length_m,
            (2.0 * radius_m).max(1e-3),
            MAX_EXTENT_M,
            "m (at least the diameter)",
        )?;
        Ok(Vessel {
            centre_m,
            angle_rad,
            radius_m,
            length_m,
        })
    }

    /// Centre of the segment, metres.
    pub fn centre_m(&self) -> [f64; 3] {
        self.centre_m
    }
    /// Angle between the axis and the beam direction `+z`, radians.
    pub fn angle_rad(&self) -> f64 {
        self.angle_rad
    }
    /// Radius, metres.
    pub fn radius_m(&self) -> f64 {
        self.radius_m
    }
    /// Length of the segment, metres.
    pub fn length_m(&self) -> f64 {
        self.length_m
    }
    /// Unit vector along the axis.
    pub fn axis(&self) -> [f64; 3] {
        [self.angle_rad.sin(), 0.0, self.angle_rad.cos()]
    }

    /// `(u, r, e)`: the coordinate of `p` along the axis from the centre, its distance from the
    /// axis, and the unit vector from the axis to `p` (zero on the axis).
    fn local(&self, p: [f64; 3]) -> (f64, f64, [f64; 3]) {
        let a = self.axis();
        let d = [
            p[0] - self.centre_m[0],
            p[1] - self.centre_m[1],
            p[2] - self.centre_m[2],
        ];
        let u = d[0] * a[0] + d[1] * a[1] + d[2] * a[2];
        let perp = [d[0] - u * a[0], d[1] - u * a[1], d[2] - u * a[2]];
        let r = (perp[0] * perp[0] + perp[1] * perp[1] + perp[2] * perp[2]).sqrt();
        (u, r, perp)
    }

    /// True if `p` lies inside the segment.
    pub fn contains(&self, p: [f64; 3]) -> bool {
        let (u, r, _) = self.local(p);
        r <= self.radius_m && u.abs() <= 0.5 * self.length_m
    }

    /// Blood: scatterers drawn uniformly in the segment at `per_mm3` per cubic millimetre, each a
    /// Gaussian amplitude of standard deviation `level_db` relative to unit-variance tissue speckle
    /// (blood scatters about 30–40 dB below tissue: `level_db` −30 to −40), seeded.
    /// Errors: a density outside 0–1e4 per mm³, a level outside −120…+40 dB, or more than
    /// `MAX_SCATTERERS` scatterers.
    pub fn blood(&self, per_mm3: f64, level_db: f64, seed: u64) -> Result<Phantom> {
        plausible("per_mm3", per_mm3, 0.0, 1e4, "scatterers per mm³")?;
        plausible("level_db", level_db, -120.0, 40.0, "dB re tissue")?;
        let volume_mm3 = std::f64::consts::PI * self.radius_m.powi(2) * self.length_m * 1e9;
        let n = (volume_mm3 * per_mm3).round();
        if n > MAX_SCATTERERS as f64 {
            return Err(Error::invalid(
                "per_mm3",
                format!("at most {MAX_SCATTERERS} scatterers in the vessel"),
                n,
            ));
        }
        let amp = 10f64.powf(level_db / 20.0);
        let a = self.axis();
        // Two unit vectors across the axis: y and the in-plane normal.
        let (e1, e2) = ([0.0, 1.0, 0.0], [a[2], 0.0, -a[0]]);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut out = Vec::with_capacity(n as usize);
        for _ in 0..n as usize {
            let u = (rng.random::<f64>() - 0.5) * self.length_m;
            let r = self.radius_m * rng.random::<f64>().sqrt();
            let phi = std::f64::consts::TAU * rng.random::<f64>();
            let (c, s) = (r * phi.cos(), r * phi.sin());
            let p = std::array::from_fn(|i| self.centre_m[i] + u * a[i] + c * e1[i] + s * e2[i]);
            let g: f64 = rng.sample(StandardNormal);
            out.push(Scatterer {
                position_m: p,
                amplitude: (g * amp) as f32,
            });
        }
        Phantom::new(out)
    }

    /// `tissue` without its scatterers inside the vessel (an anechoic lumen for blood to fill).
    pub fn clear_lumen(&self, tissue: &Phantom) -> Phantom {
        Phantom {
            scatterers: tissue
                .scatterers()
                .iter()
                .copied()
                .filter(|s| !self.contains(s.position_m))
                .collect(),
        }
    }
}

/// A pulsatile velocity waveform: `w(t)`, periodic with period `period_s`, sampled uniformly
/// over one cycle and interpolated linearly; the flow's velocity is `profile · w(t)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Waveform {
    period_s: f64,
    samples: Vec<f64>,
    /// Running integral of `w` at each sample, seconds; `cumulative[n]` is one cycle's.
    cumulative: Vec<f64>,
}

impl Waveform {
    /// A waveform from `samples` (2–65,536 finite values within ±10) over one period of
    /// `period_s` (1 ms–10 s).
    pub fn new(period_s: f64, samples: Vec<f64>) -> Result<Waveform> {
        plausible("period_s", period_s, 1e-3, 10.0, "s")?;
        if !(2..=MAX_WAVEFORM_SAMPLES).contains(&samples.len()) {
            return Err(Error::invalid(
                "samples",
                format!("2..={MAX_WAVEFORM_SAMPLES} samples over one period"),
                samples.len(),
            ));
        }
        if let Some(&v) = samples.iter().find(|v| !(v.is_finite() && v.abs() <= 10.0)) {
            return Err(Error::invalid("samples", "finite values within ±10", v));
        }
        let dt = period_s / samples.len() as f64;
        let mut cumulative = Vec::with_capacity(samples.len() + 1);
        let mut acc = 0.0;
        cumulative.push(0.0);
        for k in 0..samples.len() {
            let next = samples[(k + 1) % samples.len()];
            acc += 0.5 * (samples[k] + next) * dt;
            cumulative.push(acc);
        }
        Ok(Waveform {
            period_s,
            samples,
            cumulative,
        })
    }

    /// A carotid-like waveform: a systolic peak of 1 at about 12 % of the cycle, a dicrotic notch and
    /// a diastolic level decaying from about 0.33 to 0.23 (a smooth sum of Gaussians; the shape is a
    /// common textbook one, not a measured patient's).
    pub fn carotid(period_s: f64) -> Result<Waveform> {
        let n = 512;
        let g = |x: f64, c: f64, w: f64| (-0.5 * ((x - c) / w).powi(2)).exp();
        let samples: Vec<f64> = (0..n)
            .map(|k| {
                let x = k as f64 / n as f64;
                0.25 + 0.1 * (-(x - 0.3).max(0.0) * 2.0).exp() + 0.72 * g(x, 0.12, 0.035) - 0.1 * g(x, 0.22, 0.02)
                    + 0.12 * g(x, 0.28, 0.03)
            })
            .collect();
        let peak = samples.iter().fold(0.0f64, |m, &v| m.max(v));
        Waveform::new(period_s, samples.iter().map(|v| v / peak).collect())
    }

    /// Period, seconds.
    pub fn period_s(&self) -> f64 {
        self.period_s
    }

    /// `w(t)` (linear between samples, periodic).
    pub fn value(&self, t_s: f64) -> f64 {
        let n = self.samples.len();
        let x = (t_s / self.period_s).rem_euclid(1.0) * n as f64;
        let k = (x as usize).min(n - 1);
        let f = x - k as f64;
        self.samples[k] + (self.samples[(k + 1) % n] - self.samples[k]) * f
    }

    /// `∫₀ᵗ w(τ) dτ`, seconds (exact for the piecewise-linear `w`).
    pub fn integral(&self, t_s: f64) -> f64 {
        let n = self.samples.len();
        let cycles = (t_s / self.period_s).floor();
        let x = (t_s / self.period_s - cycles) * n as f64;
        let k = (x as usize).min(n - 1);
        let f = x - k as f64;
        let dt = self.period_s / n as f64;
        let (a, b) = (self.samples[k], self.samples[(k + 1) % n]);
        let partial = (a * f + 0.5 * (b - a) * f * f) * dt;
        cycles * self.cumulative[n] + self.cumulative[k] + partial
    }

    fn peak(&self) -> f64 {
        self.samples.iter().fold(0.0f64, |m, v| m.max(v.abs()))
    }
}

impl Motion {
    /// Checks the motion's parameters (finite, speeds at most [`MAX_SPEED_M_S`], periods 1 ms–10 s).
    pub fn validate(&self) -> Result<()> {
        match self {
            Motion::Static => Ok(()),
            Motion::Translation { velocity_m_s } => check_velocity("velocity_m_s", *velocity_m_s),
            Motion::Oscillation { amplitude_m, period_s } => {
                plausible("period_s", *period_s, 1e-3, 10.0, "s")?;
                if amplitude_m.iter().any(|a| !(a.is_finite() && a.abs() <= 0.05)) {
                    return Err(Error::invalid(
                        "amplitude_m",
                        "finite components within ±50 mm",
                        format!("{amplitude_m:?}"),
                    ));
                }
                let a = amplitude_m.iter().map(|a| a * a).sum::<f64>().sqrt();
                plausible(
                    "amplitude_m",
                    std::f64::consts::TAU * a / period_s,
                    0.0,
                    MAX_SPEED_M_S,
                    "m (peak speed 2π·|A|/T within the speed limit)",
                )
                .map(|_| ())
            }
            Motion::Flow { profile, waveform, .. } => {
                let peak = profile.peak() * waveform.as_ref().map_or(1.0, Waveform::peak);
                plausible("profile", peak, -MAX_SPEED_M_S, MAX_SPEED_M_S, "m/s (peak velocity)").map(|_| ())
            }
        }
    }

    /// Where a scatterer at `p0` at time 0 is at time `t_s`.
    pub fn position_at(&self, p0: [f64; 3], t_s: f64) -> [f64; 3] {
        match self {
            Motion::Static => p0,
            Motion::Translation { velocity_m_s: v } => std::array::from_fn(|i| p0[i] + v[i] * t_s),
            Motion::Oscillation {
                amplitude_m: a,
                period_s,
            } => {
                let s = (std::f64::consts::TAU * t_s / period_s).sin();
                std::array::from_fn(|i| p0[i] + a[i] * s)
            }
            Motion::Flow {
                vessel,
                profile,
                waveform,
            } => {
                let (u, r, _) = vessel.local(p0);
                let travel = waveform.as_ref().map_or(t_s, |w| w.integral(t_s));
                let s = profile.velocity_at(r, vessel.radius_m) * travel;
                let half = 0.5 * vessel.length_m;
                let u1 = (u + half + s).rem_euclid(vessel.length_m) - half;
                let a = vessel.axis();
                std::array::from_fn(|i| p0[i] + (u1 - u) * a[i])
            }
        }
    }

    /// The velocity of a scatterer that was at `p0` at time 0, at time `t_s`, m/s (for tests and
    /// for the true maps of a study).
    pub fn velocity_at(&self, p0: [f64; 3], t_s: f64) -> [f64; 3] {
        match self {
            Motion::Static => [0.0; 3],
            Motion::Translation { velocity_m_s } => *velocity_m_s,
            Motion::Oscillation {
                amplitude_m: a,
                period_s,
            } => {
                let w = std::f64::consts::TAU / period_s;
                let c = w * (w * t_s).cos();
                std::array::from_fn(|i| a[i] * c)
            }
            Motion::Flow {
                vessel,
                profile,
                waveform,
            } => {
                let (_, r, _) = vessel.local(p0);
                let v = profile.velocity_at(r, vessel.radius_m) * waveform.as_ref().map_or(1.0, |w| w.value(t_s));
                vessel.axis().map(|a| a * v)
            }
        }
    }
}

fn check_velocity(name: &'static str, v: [f64; 3]) -> Result<()> {
    let speed = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    if v.iter().all(|c| c.is_finite()) && speed <= MAX_SPEED_M_S {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!("a finite velocity of at most {MAX_SPEED_M_S} m/s"),
            format!("{v:?}"),
        ))
    }
}

/// Scatterer sets with their motions (see the [module docs](self)).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MovingPhantom {
    parts: Vec<(Phantom, Motion)>,
    len: usize,
}

impl MovingPhantom {
    /// An empty moving phantom.
    pub fn new() -> MovingPhantom {
        MovingPhantom::default()
    }

    /// A phantom that does not move.
    pub fn still(phantom: Phantom) -> MovingPhantom {
        let len = phantom.len();
        MovingPhantom {
            parts: vec![(phantom, Motion::Static)],
            len,
        }
    }

    /// Adds `phantom` moving with `motion` (validated; at most `MAX_SCATTERERS` in all).
    pub fn push(&mut self, phantom: Phantom, motion: Motion) -> Result<()> {
        motion.validate()?;
        if self.len + phantom.len() > MAX_SCATTERERS {
            return Err(Error::invalid(
                "phantom",
                format!("at most {MAX_SCATTERERS} scatterers in all parts"),
                self.len + phantom.len(),
            ));
        }
        self.len += phantom.len();
        self.parts.push((phantom, motion));
        Ok(())
    }

    /// The parts and their motions.
    pub fn parts(&self) -> &[(Phantom, Motion)] {
        &self.parts
    }

    /// Scatterers in all parts.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no scatterer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The phantom at slow time `t_s` (finite, within ±1 hour). Errors: a time outside that, or a
    /// motion that carries a scatterer outside ±`MAX_EXTENT_M` (a translation run for too long).
    /// Cost: one pass over the scatterers and one phantom of their size.
    pub fn at(&self, t_s: f64) -> Result<Phantom> {
        plausible("t_s", t_s, -3600.0, 3600.0, "s")?;
        let mut out = Vec::with_capacity(self.len);
        for (phantom, motion) in &self.parts {
            for s in phantom.scatterers() {
                out.push(Scatterer {
                    position_m: motion.position_at(s.position_m, t_s),
                    amplitude: s.amplitude,
                });
            }
        }
        Phantom::new(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_and_oscillation_follow_their_formulas() {
        let m = Motion::Translation {
            velocity_m_s: [0.0, 0.0, -0.1],
        };
        assert_eq!(m.position_at([0.0, 0.0, 0.02], 0.01), [0.0, 0.0, 0.02 - 0.001]);
        let o = Motion::Oscillation {
            amplitude_m: [0.0, 0.0, 0.002],
            period_s: 0.8,
        };
        let p = o.position_at([0.0, 0.0, 0.03], 0.2);
        assert!((p[2] - 0.032).abs() < 1e-12, "{p:?}");
        assert!((o.velocity_at([0.0; 3], 0.0)[2] - std::f64::consts::TAU * 0.002 / 0.8).abs() < 1e-12);
    }

    /// Poiseuille flow moves each scatterer along the axis by v(r)·t, and scatterers leaving the
    /// segment re-enter at the other end (the count inside stays the same).
    #[test]
    fn flow_moves_along_the_axis_and_wraps() {
        let v = Vessel::new([0.0, 0.0, 0.02], 60f64.to_radians(), 0.003, 0.02).unwrap();
        let m = Motion::Flow {
            vessel: v,
            profile: FlowProfile::Poiseuille { v_max_m_s: 0.4 },
            waveform: None,
        };
        let blood = v.blood(5.0, -35.0, 3).unwrap();
        assert!(blood.len() > 2000);
        for t in [1e-4, 0.01, 0.2] {
            for s in blood.scatterers() {
                let p = m.position_at(s.position_m, t);
                assert!(v.contains(p), "left the vessel at t = {t}");
                let (u0, r0, _) = v.local(s.position_m);
                let (u1, r1, _) = v.local(p);
                assert!((r1 - r0).abs() < 1e-12);
                let travel = (0.4 * (1.0 - (r0 / 0.003).powi(2)) * t).rem_euclid(0.02);
                let moved = (u1 - u0).rem_euclid(0.02);
                assert!((moved - travel).abs() < 1e-9 || (moved - travel).abs() > 0.02 - 1e-9);
            }
        }
        let tissue = Phantom::points(&[[0.0, 0.0, 0.02], [0.01, 0.0, 0.02]]).unwrap();
        assert_eq!(v.clear_lumen(&tissue).len(), 1);
    }

    /// The waveform's integral is exact for its piecewise-linear shape and periodic.
    #[test]
    fn waveform_integral_matches_a_fine_sum() {
        let w = Waveform::carotid(0.9).unwrap();
        let n = 200_000;
        let dt = 2.3 / n as f64;
        let sum: f64 = (0..n).map(|k| w.value((k as f64 + 0.5) * dt) * dt).sum();
        assert!((w.integral(2.3) - sum).abs() < 1e-6, "{} vs {sum}", w.integral(2.3));
        let peak = (0..900).map(|k| w.value(k as f64 * 1e-3)).fold(0.0, f64::max);
        assert!((peak - 1.0).abs() < 0.03, "systolic peak {peak}");
    }

    #[test]
    fn bad_parameters_are_named() {
        assert_eq!(
            Vessel::new([0.0; 3], 0.0, 0.0, 0.01).unwrap_err().parameter(),
            Some("radius_m")
        );
        assert_eq!(
            Vessel::new([0.0; 3], f64::NAN, 0.001, 0.01).unwrap_err().parameter(),
            Some("angle_rad")
        );
        assert_eq!(
            Vessel::new([2.0, 0.0, 0.0], 0.0, 0.001, 0.01).unwrap_err().parameter(),
            Some("centre_m")
        );
        let v = Vessel::new([0.0, 0.0, 0.02], 0.5, 0.003, 0.02).unwrap();
        assert_eq!(v.blood(1e9, -30.0, 1).unwrap_err().parameter(), Some("per_mm3"));
        assert_eq!(Waveform::new(1.0, vec![1.0]).unwrap_err().parameter(), Some("samples"));
        assert_eq!(
            Waveform::new(0.0, vec![1.0; 4]).unwrap_err().parameter(),
            Some("period_s")
        );
        let mut m = MovingPhantom::new();
        let fast = Motion::Translation {
            velocity_m_s: [0.0, 0.0, 1e3],
        };
        assert_eq!(
            m.push(Phantom::default(), fast).unwrap_err().parameter(),
            Some("velocity_m_s")
        );
        m.push(
            Phantom::points(&[[0.0, 0.0, 0.5]]).unwrap(),
            Motion::Translation {
                velocity_m_s: [0.0, 0.0, 10.0],
            },
        )
        .unwrap();
        assert_eq!(m.at(1.0).unwrap_err().parameter(), Some("position_m"));
        assert_eq!(m.at(f64::NAN).unwrap_err().parameter(), Some("t_s"));
    }
}
