//! Transmit events and THE arrival-time model shared by the simulator and the beamformer.
//!
//! # Time zero
//!
//! Each transmit event assigns every active channel a delay `delays_s[ch] ≥ 0` and a weight. The
//! channel with the smallest delay (always 0) fires first: **`t = 0` is the instant at which the
//! first-firing channel emits the centre (envelope peak) of its pulse.** A column channel fires its
//! elements `advance` earlier than its delay (the electronic elevation lens, see
//! [`crate::probe::Channel`]), so the lens does not move `t = 0`. Sample `k` of a recorded trace lies at
//! `t0_s + k / fs_hz`.
//!
//! # Arrival-time model
//!
//! The echo of a scatterer at `p` on channel `ch` peaks at
//! `arrival_time_s(p) + travel_time_s(x_ch, p, c)`, with
//! * plane wave at angle θ (direction `k = (sin θ, 0, cos θ)`): `(k·p − min_ch k·x_ch) / c`;
//! * diverging wave from a virtual source `v` behind the array: `(|p − v| − min_ch |x_ch − v|) / c`;
//! * focused at `f`: `t_f ± |p − f| / c` with `t_f = max_ch |x_ch − f| / c`, the sign `+` beyond the
//!   focus (along the beam axis from the aperture centre through `f`) and `−` before it. This
//!   virtual-source model is exact at the focus and along the geometric beam; near the focal plane
//!   off axis the true wavefront is not spherical (the beamformer documents how it treats it);
//! * explicit delays `d_ch` ([`TxEvent::from_delays`], for any delay law on any probe): the first
//!   arrival of the channels' elementary spherical waves, `min_ch (d_ch + |p − x_ch| / c)` (the
//!   Huygens envelope; for the delays of a plane or diverging wave it equals that wave's model
//!   wherever the wave is defined);
//! * the receive leg: `travel_time_s(x_ch, p, c) = |p − x_ch| / c`.
//!
//! [`TxEvent::arrival_time_at`] evaluates the same model for another speed of sound (a beamformer
//! assuming a speed of sound other than the sequence's keeps the wave's geometry and lets it travel
//! at its own speed).
//!
//! Only channels with a non-zero weight take part in the minima and maxima.
//!
//! ```
//! use sonochip::probe::{Aperture, Probe};
//! use sonochip::sequence::Sequence;
//! let probe = Probe::cmut_9000();
//! let ap = Aperture::full(&probe, Some(0.05)).unwrap();
//! let seq = Sequence::plane_waves(&ap, &[0.0, 0.1], 1540.0).unwrap();
//! // A plane wave at 0° reaches depth z at z / c.
//! let t = seq.events()[0].arrival_time_s([0.0, 0.0, 0.03]);
//! assert!((t - 0.03 / 1540.0).abs() < 1e-12);
//! ```

use crate::error::{DEFAULT_MEMORY_CAP_BYTES, Error, Result, check_size, finite, finite_point, in_range, positive};
use crate::probe::Aperture;
use serde::{Deserialize, Serialize};

/// Largest number of transmit events in one sequence.
pub const MAX_EVENTS: usize = 4096;

/// What a transmit event sends.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum TxKind {
    /// A plane wave steered by `angle_rad` from +z towards +x.
    Plane {
        /// Steering angle, radians.
        angle_rad: f64,
    },
    /// A diverging wave from a virtual point source behind the array.
    Diverging {
        /// Virtual source, metres.
        virtual_source_m: [f64; 3],
    },
    /// A wave focused at a point in front of the array.
    Focused {
        /// Focal point, metres.
        focus_m: [f64; 3],
    },
    /// Delays given explicitly per channel ([`TxEvent::from_delays`]); the arrival time is the first
    /// arrival of the channels' elementary waves (see the [module docs](self)).
    Explicit,
}

/// One transmit event: per-channel delays and weights, and the arrival-time model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TxEventFields")]
pub struct TxEvent {
    kind: TxKind,
    delays_s: Vec<f64>,
    apod: Vec<f32>,
    c_m_s: f64,
    /// Constant path term of the model, metres (see [`TxEvent::arrival_time_at`]).
    ref_m: f64,
    /// Aperture centre (for the focused model's sign rule).
    center_m: [f64; 3],
    /// Channel reference positions (explicit events only; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    positions_m: Vec<[f64; 3]>,
}

#[derive(Deserialize)]
struct TxEventFields {
    kind: TxKind,
    delays_s: Vec<f64>,
    apod: Vec<f32>,
    c_m_s: f64,
    ref_m: f64,
    center_m: [f64; 3],
    #[serde(default)]
    positions_m: Vec<[f64; 3]>,
}

impl TryFrom<TxEventFields> for TxEvent {
    type Error = Error;
    fn try_from(f: TxEventFields) -> Result<TxEvent> {
        let e = TxEvent {
            kind: f.kind,
            delays_s: f.delays_s,
            apod: f.apod,
            c_m_s: f.c_m_s,
            ref_m: f.ref_m,
            center_m: f.center_m,
            positions_m: f.positions_m,
        };
        e.validate()?;
        Ok(e)
    }
}

fn dist(a: [f64; 3], b: [f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// Receive travel time from `p` to a channel at `x_ch`, seconds.
pub fn travel_time_s(x_ch: [f64; 3], p: [f64; 3], c_m_s: f64) -> f64 {
    dist(x_ch, p) / c_m_s
}

/// Largest distance of a virtual source, focus or channel from the origin, metres.
const MAX_MODEL_DISTANCE_M: f64 = 10.0;

fn check_weights(apod: &[f32], n: usize) -> Result<()> {
    if apod.len() != n {
        return Err(Error::shape(
            "apod",
            format!("{n} weights (one per channel)"),
            apod.len().to_string(),
        ));
    }
    if apod.iter().any(|a| !a.is_finite() || *a < 0.0) {
        return Err(Error::invalid(
            "apod",
            "finite weights >= 0",
            "a negative or non-finite weight",
        ));
    }
    if !apod.iter().any(|&a| a > 0.0) {
        return Err(Error::empty("apod", "at least one channel with a weight > 0"));
    }
    Ok(())
}

fn check_point(name: &'static str, p: [f64; 3]) -> Result<[f64; 3]> {
    finite_point(name, p)?;
    if dist(p, [0.0; 3]) > MAX_MODEL_DISTANCE_M {
        return Err(Error::invalid(
            name,
            format!("a point within {MAX_MODEL_DISTANCE_M} m of the probe, in metres"),
            format!("{p:?}"),
        ));
    }
    Ok(p)
}

impl TxEvent {
    /// Builds an event for `aperture` with per-channel weights `apod` (same length as the channels,
    /// at least one > 0). Delays follow from the kind so that the first active channel fires at 0.
    /// [`TxKind::Explicit`] is built with [`TxEvent::from_delays`] instead.
    pub fn new(aperture: &Aperture, kind: TxKind, apod: Vec<f32>, c_m_s: f64) -> Result<TxEvent> {
        in_range("c_m_s", c_m_s, 300.0, 5000.0)?;
        let pos = aperture.channel_positions();
        check_weights(&apod, pos.len())?;
        let active: Vec<usize> = (0..pos.len()).filter(|&i| apod[i] > 0.0).collect();
        let center = aperture.center_m();
        let max_z = pos.iter().map(|p| p[2]).fold(f64::NEG_INFINITY, f64::max);
        // Raw path term per channel: delay·c + raw(x_ch) is constant along the wavefront.
        let (raw, ref_m): (Vec<f64>, f64) = match kind {
            TxKind::Plane { angle_rad } => {
                in_range("angle_rad", angle_rad, -1.5, 1.5)?;
                let (s, c) = angle_rad.sin_cos();
                let proj: Vec<f64> = pos.iter().map(|p| s * p[0] + c * p[2]).collect();
                let m = active.iter().map(|&i| proj[i]).fold(f64::INFINITY, f64::min);
                (proj.iter().map(|v| v - m).collect(), -m)
            }
            TxKind::Diverging { virtual_source_m: v } => {
                check_point("virtual_source_m", v)?;
                if v[2] >= max_z {
                    return Err(Error::invalid(
                        "virtual_source_m",
                        format!("a source behind the probe face (z < {max_z})"),
                        format!("{v:?}"),
                    ));
                }
                let d: Vec<f64> = pos.iter().map(|p| dist(*p, v)).collect();
                let m = active.iter().map(|&i| d[i]).fold(f64::INFINITY, f64::min);
                (d.iter().map(|x| x - m).collect(), -m)
            }
            TxKind::Focused { focus_m: f } => {
                check_point("focus_m", f)?;
                positive("focus_m[2]", f[2] - max_z)?;
                let d: Vec<f64> = pos.iter().map(|p| dist(*p, f)).collect();
                let m = active.iter().map(|&i| d[i]).fold(f64::NEG_INFINITY, f64::max);
                (d.iter().map(|x| m - x).collect(), m)
            }
            TxKind::Explicit => {
                return Err(Error::invalid(
                    "kind",
                    "Plane, Diverging or Focused (explicit delays: TxEvent::from_delays)",
                    "Explicit",
                ));
            }
        };
        let delays_s = raw.iter().map(|r| r / c_m_s).collect();
        Ok(TxEvent {
            kind,
            delays_s,
            apod,
            c_m_s,
            ref_m,
            center_m: center,
            positions_m: Vec::new(),
        })
    }

    /// An event with an explicit firing delay and weight per channel of `aperture` (any probe):
    /// for reproducing another system's or toolbox's transmit. `delays_s` are finite and at most
    /// 1 ms apart; they are shifted so that the first active channel fires at 0 (the crate's time
    /// zero). The arrival-time model is the first arrival of the channels' elementary waves
    /// (see the [module docs](self)); `c_m_s` is the speed of sound the delays assume.
    pub fn from_delays(aperture: &Aperture, delays_s: Vec<f64>, apod: Vec<f32>, c_m_s: f64) -> Result<TxEvent> {
        in_range("c_m_s", c_m_s, 300.0, 5000.0)?;
        let pos = aperture.channel_positions();
        check_weights(&apod, pos.len())?;
        if delays_s.len() != pos.len() {
            return Err(Error::shape(
                "delays_s",
                format!("{} delays (one per channel)", pos.len()),
                delays_s.len().to_string(),
            ));
        }
        if let Some(bad) = delays_s.iter().find(|d| !d.is_finite()) {
            return Err(Error::invalid("delays_s", "finite delays in seconds", bad));
        }
        let active = || delays_s.iter().zip(&apod).filter(|(_, a)| **a > 0.0).map(|(d, _)| *d);
        let first = active().fold(f64::INFINITY, f64::min);
        let last = active().fold(f64::NEG_INFINITY, f64::max);
        if last - first > 1e-3 {
            return Err(Error::invalid(
                "delays_s",
                "active delays within 1 ms of each other, in seconds",
                last - first,
            ));
        }
        let e = TxEvent {
            kind: TxKind::Explicit,
            delays_s: delays_s.iter().map(|d| d - first).collect(),
            apod,
            c_m_s,
            ref_m: 0.0,
            center_m: aperture.center_m(),
            positions_m: pos,
        };
        e.validate()?;
        Ok(e)
    }

    /// Checks the invariants every constructor establishes (used for deserialised events).
    fn validate(&self) -> Result<()> {
        in_range("c_m_s", self.c_m_s, 300.0, 5000.0)?;
        check_weights(&self.apod, self.delays_s.len())?;
        if self
            .delays_s
            .iter()
            .any(|d| !(d.is_finite() && (0.0..=1e-3).contains(d)))
        {
            return Err(Error::invalid(
                "delays_s",
                "finite delays in [0, 1e-3] s",
                "a delay outside",
            ));
        }
        in_range("ref_m", self.ref_m, -MAX_MODEL_DISTANCE_M, MAX_MODEL_DISTANCE_M)?;
        check_point("center_m", self.center_m)?;
        match self.kind {
            TxKind::Plane { angle_rad } => {
                in_range("angle_rad", angle_rad, -1.5, 1.5)?;
            }
            TxKind::Diverging { virtual_source_m } => {
                check_point("virtual_source_m", virtual_source_m)?;
            }
            TxKind::Focused { focus_m } => {
                check_point("focus_m", focus_m)?;
            }
            TxKind::Explicit => {
                if self.positions_m.len() != self.delays_s.len() {
                    return Err(Error::shape(
                        "positions_m",
                        format!("{} channel positions (one per delay)", self.delays_s.len()),
                        self.positions_m.len().to_string(),
                    ));
                }
                for p in &self.positions_m {
                    check_point("positions_m", *p)?;
                }
            }
        }
        Ok(())
    }

    /// What the event sends.
    pub fn kind(&self) -> TxKind {
        self.kind
    }
    /// Firing delay of each channel, seconds (≥ 0; the first active channel fires at 0).
    pub fn delays_s(&self) -> &[f64] {
        &self.delays_s
    }
    /// Transmit weight of each channel (0 = silent).
    pub fn apod(&self) -> &[f32] {
        &self.apod
    }
    /// Speed of sound the delays were computed for, m/s.
    pub fn c_m_s(&self) -> f64 {
        self.c_m_s
    }
    /// Number of channels the event drives.
    pub fn n_channels(&self) -> usize {
        self.delays_s.len()
    }

    /// Time at which the transmitted wavefront reaches `p`, seconds (see the [module docs](self)).
    pub fn arrival_time_s(&self, p: [f64; 3]) -> f64 {
        self.arrival_time_at(p, self.c_m_s)
    }

    /// The arrival-time model evaluated for a medium of speed of sound `c_m_s`: the wave keeps its
    /// geometry (angle, virtual source or focus, explicit delays) and travels at `c_m_s`. With the
    /// event's own speed of sound this is [`TxEvent::arrival_time_s`]; a beamformer that assumes
    /// another speed of sound uses this.
    pub fn arrival_time_at(&self, p: [f64; 3], c_m_s: f64) -> f64 {
        let c = c_m_s;
        match self.kind {
            TxKind::Plane { angle_rad } => {
                let (s, co) = angle_rad.sin_cos();
                (s * p[0] + co * p[2] + self.ref_m) / c
            }
            TxKind::Diverging { virtual_source_m } => (dist(p, virtual_source_m) + self.ref_m) / c,
            TxKind::Focused { focus_m } => {
                let axis = [
                    focus_m[0] - self.center_m[0],
                    focus_m[1] - self.center_m[1],
                    focus_m[2] - self.center_m[2],
                ];
                let along =
                    (p[0] - focus_m[0]) * axis[0] + (p[1] - focus_m[1]) * axis[1] + (p[2] - focus_m[2]) * axis[2];
                let sign = if along >= 0.0 { 1.0 } else { -1.0 };
                (self.ref_m + sign * dist(p, focus_m)) / c
            }
            TxKind::Explicit => self
                .positions_m
                .iter()
                .zip(&self.delays_s)
                .zip(&self.apod)
                .filter(|(_, a)| **a > 0.0)
                .map(|((x, d), _)| d + dist(p, *x) / c)
                .fold(f64::INFINITY, f64::min),
        }
    }

    /// Firing time of every transmitting element, as `(element index, delay_s, weight)`: the channel
    /// delay minus the element's lens advance. Errors if `aperture` has another channel count.
    pub fn element_delays(&self, aperture: &Aperture) -> Result<Vec<(usize, f64, f32)>> {
        if aperture.n_channels() != self.delays_s.len() {
            return Err(Error::shape(
                "aperture",
                format!("{} channels (the event's)", self.delays_s.len()),
                aperture.n_channels().to_string(),
            ));
        }
        let mut v = Vec::new();
        for (ch, chan) in aperture.channels().iter().enumerate() {
            if self.apod[ch] > 0.0 {
                for (&e, &adv) in chan.elements.iter().zip(&chan.advances_s) {
                    v.push((e, self.delays_s[ch] - adv, self.apod[ch]));
                }
            }
        }
        Ok(v)
    }
}

/// An ordered list of transmit events forming one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SequenceFields")]
pub struct Sequence {
    events: Vec<TxEvent>,
    c_m_s: f64,
}

#[derive(Deserialize)]
struct SequenceFields {
    events: Vec<TxEvent>,
}

impl TryFrom<SequenceFields> for Sequence {
    type Error = Error;
    fn try_from(f: SequenceFields) -> Result<Sequence> {
        Sequence::from_events(f.events)
    }
}

/// Bytes a sequence of `n_events` events over `n_channels` channels holds (delays, weights and,
/// for explicit events, channel positions), checked against the default memory cap before building.
fn check_sequence_size(n_events: usize, n_channels: usize) -> Result<()> {
    let per_event = n_channels as u128 * (8 + 4 + 24) + 128;
    check_size("sequence", n_events as u128 * per_event, DEFAULT_MEMORY_CAP_BYTES)
}

fn check_count(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::empty("events", "at least one transmit event"));
    }
    if n > MAX_EVENTS {
        return Err(Error::invalid("events", format!("at most {MAX_EVENTS} events"), n));
    }
    Ok(())
}

impl Sequence {
    /// A sequence from events (all for the same speed of sound and the same channels).
    pub fn from_events(events: Vec<TxEvent>) -> Result<Sequence> {
        check_count(events.len())?;
        let c = events[0].c_m_s;
        if events.iter().any(|e| e.c_m_s != c) {
            return Err(Error::invalid(
                "events",
                "events computed for one speed of sound",
                "mixed speeds of sound",
            ));
        }
        let n = events[0].n_channels();
        if let Some(e) = events.iter().find(|e| e.n_channels() != n) {
            return Err(Error::shape(
                "events",
                format!("{n} channels in every event"),
                e.n_channels().to_string(),
            ));
        }
        Ok(Sequence { events, c_m_s: c })
    }

    /// One event per row of `delays_s` (`[tx][channel]`, seconds) with the weights of the same row
    /// of `apod` on `aperture`: an explicit transmit table ([`TxEvent::from_delays`]).
    pub fn from_delays(aperture: &Aperture, delays_s: &[Vec<f64>], apod: &[Vec<f32>], c_m_s: f64) -> Result<Sequence> {
        check_count(delays_s.len())?;
        check_sequence_size(delays_s.len(), aperture.n_channels())?;
        if apod.len() != delays_s.len() {
            return Err(Error::shape(
                "apod",
                format!("{} rows (one per transmit)", delays_s.len()),
                apod.len().to_string(),
            ));
        }
        let events = delays_s
            .iter()
            .zip(apod)
            .map(|(d, a)| TxEvent::from_delays(aperture, d.clone(), a.clone(), c_m_s))
            .collect::<Result<Vec<_>>>()?;
        Sequence::from_events(events)
    }

    fn build(aperture: &Aperture, kinds: Vec<TxKind>, c_m_s: f64) -> Result<Sequence> {
        check_count(kinds.len())?;
        check_sequence_size(kinds.len(), aperture.n_channels())?;
        let apod = vec![1.0f32; aperture.n_channels()];
        let events = kinds
            .into_iter()
            .map(|k| TxEvent::new(aperture, k, apod.clone(), c_m_s))
            .collect::<Result<Vec<_>>>()?;
        Sequence::from_events(events)
    }

    /// Plane waves at the given angles (radians), all channels firing with equal weight.
    pub fn plane_waves(aperture: &Aperture, angles_rad: &[f64], c_m_s: f64) -> Result<Sequence> {
        Sequence::build(
            aperture,
            angles_rad.iter().map(|&a| TxKind::Plane { angle_rad: a }).collect(),
            c_m_s,
        )
    }

    /// `n` plane waves evenly spaced over `[-max_angle_rad, max_angle_rad]` (one wave at 0 when n = 1).
    pub fn plane_wave_fan(aperture: &Aperture, max_angle_rad: f64, n: usize, c_m_s: f64) -> Result<Sequence> {
        finite("max_angle_rad", max_angle_rad)?;
        check_count(n)?;
        let angles: Vec<f64> = if n == 1 {
            vec![0.0]
        } else {
            (0..n)
                .map(|i| -max_angle_rad + 2.0 * max_angle_rad * i as f64 / (n - 1) as f64)
                .collect()
        };
        Sequence::plane_waves(aperture, &angles, c_m_s)
    }

    /// Diverging waves from the given virtual sources (each behind the array).
    pub fn diverging_waves(aperture: &Aperture, virtual_sources_m: &[[f64; 3]], c_m_s: f64) -> Result<Sequence> {
        Sequence::build(
            aperture,
            virtual_sources_m
                .iter()
                .map(|&v| TxKind::Diverging { virtual_source_m: v })
                .collect(),
            c_m_s,
        )
    }

    /// `n` diverging waves that insonify a sector of half-opening `half_angle_rad`: virtual sources at
    /// distance `d = (W/2) / tan(half_angle)` behind the aperture centre (W the aperture width),
    /// rotated about the centre by tilts evenly spread over `[-tilt_rad, tilt_rad]`.
    pub fn diverging_sector(
        aperture: &Aperture,
        half_angle_rad: f64,
        tilt_rad: f64,
        n: usize,
        c_m_s: f64,
    ) -> Result<Sequence> {
        in_range("half_angle_rad", half_angle_rad, 1e-3, 1.5)?;
        in_range("tilt_rad", tilt_rad, 0.0, 1.0)?;
        check_count(n)?;
        let d = 0.5 * aperture.width_m() / half_angle_rad.tan();
        let c0 = aperture.center_m();
        let min_z = aperture
            .channel_positions()
            .iter()
            .map(|p| p[2])
            .fold(f64::INFINITY, f64::min);
        let sources: Vec<[f64; 3]> = (0..n)
            .map(|i| {
                let phi = if n == 1 {
                    0.0
                } else {
                    -tilt_rad + 2.0 * tilt_rad * i as f64 / (n - 1) as f64
                };
                [c0[0] - d * phi.sin(), 0.0, min_z.min(c0[2]) - d * phi.cos()]
            })
            .collect();
        Sequence::diverging_waves(aperture, &sources, c_m_s)
    }

    /// Waves focused at the given points.
    pub fn focused(aperture: &Aperture, foci_m: &[[f64; 3]], c_m_s: f64) -> Result<Sequence> {
        Sequence::build(
            aperture,
            foci_m.iter().map(|&f| TxKind::Focused { focus_m: f }).collect(),
            c_m_s,
        )
    }

    /// Synthetic aperture: one channel fires at a time (a diverging wave whose virtual source is the
    /// channel itself, all other weights zero), in channel order.
    pub fn synthetic_aperture(aperture: &Aperture, c_m_s: f64) -> Result<Sequence> {
        let n = aperture.n_channels();
        check_count(n)?;
        check_sequence_size(n, n)?;
        let chans = aperture.channels();
        let events = (0..n)
            .map(|i| {
                let mut apod = vec![0.0f32; n];
                apod[i] = 1.0;
                // A source 1 nm behind the element: its model is |p - x_i| / c up to 1e-12 s.
                let (x, nrm) = (chans[i].position_m, chans[i].normal);
                let v = [x[0] - 1e-9 * nrm[0], x[1] - 1e-9 * nrm[1], x[2] - 1e-9 * nrm[2]];
                TxEvent::new(aperture, TxKind::Diverging { virtual_source_m: v }, apod, c_m_s)
            })
            .collect::<Result<Vec<_>>>()?;
        Sequence::from_events(events)
    }

    /// The events, in firing order.
    pub fn events(&self) -> &[TxEvent] {
        &self.events
    }
    /// Number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }
    /// Always false: a sequence has at least one event.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
    /// Speed of sound, m/s.
    pub fn c_m_s(&self) -> f64 {
        self.c_m_s
    }
    /// Number of channels every event drives.
    pub fn n_channels(&self) -> usize {
        self.events[0].n_channels()
    }
    /// Largest firing delay over all events and channels, seconds.
    pub fn max_delay_s(&self) -> f64 {
        self.events
            .iter()
            .flat_map(|e| e.delays_s.iter().copied())
            .fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::{ChannelMode, Probe};

    fn ap() -> Aperture {
        Aperture::columns(
            &Probe::cmut_9000(),
            0..140,
            ChannelMode::Columns {
                elevation_focus_m: Some(0.05),
            },
        )
        .unwrap()
    }

    /// The model must agree with the delays: the wavefront leaving each channel at its delay.
    #[test]
    fn arrival_model_matches_delays_on_the_wavefront() {
        let a = ap();
        let pos = a.channel_positions();
        let c = 1540.0;
        // Plane wave: channel positions themselves lie on the wave at their delays.
        let s = Sequence::plane_waves(&a, &[0.2, -0.3], c).unwrap();
        for ev in s.events() {
            for (i, p) in pos.iter().enumerate() {
                assert!((ev.arrival_time_s(*p) - ev.delays_s()[i]).abs() < 1e-15);
            }
            assert!(ev.delays_s().iter().cloned().fold(f64::MAX, f64::min).abs() < 1e-18);
        }
        // Diverging: same property.
        let s = Sequence::diverging_sector(&a, 0.5, 0.2, 3, c).unwrap();
        for ev in s.events() {
            for (i, p) in pos.iter().enumerate() {
                assert!((ev.arrival_time_s(*p) - ev.delays_s()[i]).abs() < 1e-15);
            }
        }
        // Focused: every channel's wave reaches the focus at t_f.
        let f = [0.003, 0.0, 0.04];
        let s = Sequence::focused(&a, &[f], c).unwrap();
        let ev = &s.events()[0];
        for (i, p) in pos.iter().enumerate() {
            let t = ev.delays_s()[i] + dist(*p, f) / c;
            assert!((t - ev.arrival_time_s(f)).abs() < 1e-15);
        }
        assert!(ev.arrival_time_s([0.003, 0.0, 0.05]) > ev.arrival_time_s(f));
        assert!(ev.arrival_time_s([0.003, 0.0, 0.03]) < ev.arrival_time_s(f));
    }

    #[test]
    fn synthetic_aperture_is_one_way_distance() {
        let a = Aperture::columns(
            &Probe::linear(8, 3e-4, 2.7e-4, 5e-3, 1).unwrap(),
            0..8,
            ChannelMode::Elements,
        )
        .unwrap();
        let s = Sequence::synthetic_aperture(&a, 1540.0).unwrap();
        assert_eq!(s.len(), 8);
        let p = [0.004, 0.0, 0.02];
        let x = a.channel_positions()[3];
        assert!((s.events()[3].arrival_time_s(p) - dist(p, x) / 1540.0).abs() < 1e-12);
        assert_eq!(s.events()[3].element_delays(&a).unwrap().len(), 1);
    }

    /// An explicit delay table built from a plane or diverging wave's own delays has that wave's
    /// arrival-time model inside the insonified region (the Huygens envelope of the elementary
    /// waves), and a speed of sound other than the sequence's scales the path, not the geometry.
    #[test]
    fn explicit_delays_reproduce_the_analytic_models() {
        let probe = Probe::linear(128, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
        let a = Aperture::full(&probe, None).unwrap();
        let c = 1540.0;
        let analytic = [
            Sequence::plane_waves(&a, &[0.15, -0.1], c).unwrap(),
            Sequence::diverging_sector(&a, 0.5, 0.1, 2, c).unwrap(),
        ];
        for seq in &analytic {
            for ev in seq.events() {
                let ex = TxEvent::from_delays(&a, ev.delays_s().to_vec(), ev.apod().to_vec(), c).unwrap();
                assert_eq!(ex.kind(), TxKind::Explicit);
                for (x, z) in [(0.0, 0.02), (0.005, 0.03), (-0.008, 0.015), (0.002, 0.04)] {
                    let p = [x, 0.0, z];
                    let (t_a, t_e) = (ev.arrival_time_s(p), ex.arrival_time_s(p));
                    // The element sampling (0.3 mm pitch) bounds the envelope's error.
                    assert!((t_a - t_e).abs() < 2e-9, "{:?} at {p:?}: {t_a} vs {t_e}", ev.kind());
                }
            }
        }
        let ev = &analytic[0].events()[0];
        let p = [0.003, 0.0, 0.03];
        assert!((ev.arrival_time_at(p, 1600.0) * 1600.0 - ev.arrival_time_s(p) * c).abs() < 1e-12);
        // Delays are shifted to the crate's time zero; bad tables are refused.
        let ex = TxEvent::from_delays(&a, vec![1e-6; 128], vec![1.0; 128], c).unwrap();
        assert!(ex.delays_s().iter().all(|&d| d == 0.0));
        assert!(TxEvent::from_delays(&a, vec![0.0; 127], vec![1.0; 128], c).is_err());
        assert!(TxEvent::from_delays(&a, vec![f64::NAN; 128], vec![1.0; 128], c).is_err());
        let mut far = vec![0.0; 128];
        far[3] = 1.0;
        assert!(TxEvent::from_delays(&a, far, vec![1.0; 128], c).is_err());
        let s = Sequence::from_delays(
            &a,
            &[vec![0.0; 128], vec![1e-7; 128]],
            &[vec![1.0; 128], vec![1.0; 128]],
            c,
        )
        .unwrap();
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn deserialised_events_are_validated() {
        let a = ap();
        let s = Sequence::plane_waves(&a, &[0.1], 1540.0).unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Sequence>(&json).unwrap(), s);
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["events"][0]["apod"].as_array_mut().unwrap().pop();
        let e = serde_json::from_value::<Sequence>(v).unwrap_err();
        assert!(e.to_string().contains("apod"), "a short apodization is refused: {e}");
        assert!(serde_json::from_str::<Sequence>(r#"{"events":[]}"#).is_err());
    }

    #[test]
    fn invalid_sequences() {
        let a = ap();
        assert!(Sequence::plane_waves(&a, &[], 1540.0).is_err());
        assert!(Sequence::plane_waves(&a, &[f64::NAN], 1540.0).is_err());
        assert!(Sequence::diverging_waves(&a, &[[0.0, 0.0, 0.01]], 1540.0).is_err());
        assert!(Sequence::focused(&a, &[[0.0, 0.0, -0.01]], 1540.0).is_err());
        assert!(TxEvent::new(&a, TxKind::Plane { angle_rad: 0.0 }, vec![0.0; 140], 1540.0).is_err());
        assert!(TxEvent::new(&a, TxKind::Plane { angle_rad: 0.0 }, vec![1.0; 3], 1540.0).is_err());
    }
}
