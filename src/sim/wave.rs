//! The pulse table, the incident wave at a scatterer, and the receive accumulation of its echoes.

use super::context::Context;
use super::math::dist;
use super::taps::{Tap, Taps};
use crate::error::Result;
use crate::phantom::Scatterer;
use crate::pulse::{Pulse, Synth};

/// The incident waveform at one scatterer for one event, on the fine grid in polyphase form:
/// `poly[r * len + k]` is the waveform at time `t_start_s + (k·M + r) / fs_fine`.
#[derive(Debug, Clone)]
pub(super) struct Wave {
    pub(super) t_start_s: f64,
    pub(super) len: usize,
    pub(super) poly: Vec<f32>,
}

/// Pulse-echo waveforms on the fine grid for round-trip paths `l0 + i·dl`, with the whole
/// attenuation of the path (`S(f)·exp(−α·|f|·L)`, the legs carry only the differences of their
/// lengths from `L/2`), all of one length with `t = 0` at `center`. Each waveform is stored
/// normalised to a peak of 1 with the natural log of its peak beside it, so that deep, lossy paths
/// (echoes below `f32`'s range) keep their shape and give tiny or zero samples, never
/// `exp(α·fc·L)` overflowing to infinity times an underflowed 0.
pub(super) struct PulseTable {
    pub(super) l0: f64,
    pub(super) dl: f64,
    pub(super) center: usize,
    pub(super) len: usize,
    /// `n × len` samples, each waveform divided by its peak.
    pub(super) values: Vec<f32>,
    /// Natural log of each waveform's peak ([`LN_ZERO`] for a waveform that is 0 in f64).
    pub(super) ln_peak: Vec<f64>,
}

/// The log peak of a waveform that underflows f64: `exp` of it (or of any blend with it) is 0.
const LN_ZERO: f64 = -1e4;

impl PulseTable {
    /// Number of waveforms and their path step (m): 0.25 mm steps up to `l_max` when the medium
    /// attenuates, one waveform otherwise.
    pub(super) fn paths(alpha: f64, l_max: f64) -> (usize, f64) {
        if alpha > 0.0 {
            ((l_max / 0.25e-3).ceil() as usize + 2, 0.25e-3)
        } else {
            (1, 1.0)
        }
    }

    /// The table of `pulse` at `rate` (Hz) for attenuation `alpha` (Np/(m·Hz)) and paths up to
    /// `l_max` (m): [`PulseTable::paths`] inverse FFTs of the pulse's sampling shape at `rate`.
    pub(super) fn new(pulse: &Pulse, rate: f64, alpha: f64, l_max: f64) -> Result<PulseTable> {
        let (n, dl) = PulseTable::paths(alpha, l_max);
        let shape = pulse.sample_shape(rate)?;
        let mut synth = Synth::new(pulse, rate, shape);
        let len = shape.len;
        let mut values = Vec::with_capacity(n * len);
        let mut ln_peak = Vec::with_capacity(n);
        for i in 0..n {
            synth.compute(alpha, i as f64 * dl);
            let peak = synth.values().fold(0.0f64, |m, v| m.max(v.abs()));
            if peak > 0.0 {
                values.extend(synth.values().map(|v| (v / peak) as f32));
                ln_peak.push(peak.ln());
            } else {
                values.extend(std::iter::repeat_n(0.0, len));
                ln_peak.push(LN_ZERO);
            }
        }
        Ok(PulseTable {
            l0: 0.0,
            dl,
            center: shape.half,
            len,
            values,
            ln_peak,
        })
    }

    /// The waveform for path `l` is `blend(l, out)` (its shape, into `out` of length `len`) times
    /// `scale(l)`: the shapes of the two nearest paths blended linearly, their peaks blended
    /// geometrically (exact for the `exp(−α·fc·L)` that dominates how the peak falls with `L`).
    pub(super) fn blend(&self, l: f64, out: &mut [f32]) {
        let (i, b) = self.position(l);
        let a = &self.values[i * self.len..(i + 1) * self.len];
        if b == 0.0 {
            out.copy_from_slice(a);
            return;
        }
        let (b, c) = (b as f32, &self.values[(i + 1) * self.len..(i + 2) * self.len]);
        for ((o, &u), &v) in out.iter_mut().zip(a).zip(c) {
            *o = u + b * (v - u);
        }
    }

    /// The peak of the waveform for path `l` (see [`PulseTable::blend`]); 0 where it underflows.
    pub(super) fn scale(&self, l: f64) -> f64 {
        let (i, b) = self.position(l);
        if b == 0.0 {
            return self.ln_peak[i].exp();
        }
        ((1.0 - b) * self.ln_peak[i] + b * self.ln_peak[i + 1]).exp()
    }

    /// The waveform before path `l` and the weight of the next one (0 for the last or only one).
    fn position(&self, l: f64) -> (usize, f64) {
        let n = self.ln_peak.len();
        if n == 1 {
            return (0, 0.0);
        }
        let x = ((l - self.l0) / self.dl).clamp(0.0, (n - 1) as f64);
        let i = (x as usize).min(n - 2);
        (i, x - i as f64)
    }
}

/// The impulses of an event that reach a scatterer: for every tap of every channel with a
/// non-zero weight, its arrival time `delay + tap delay` (seconds) and weighted amplitude. The one
/// definition of the set that both the incident wave's time span and its histogram use.
#[inline(always)]
fn arrivals<'a>(delays: &'a [f64], apod: &'a [f32], taps: &'a Taps) -> impl Iterator<Item = (f64, f32)> + 'a {
    delays
        .iter()
        .zip(apod)
        .enumerate()
        .filter(|(_, (_, w))| **w != 0.0)
        .flat_map(move |(ch, (&d, &w))| taps.channel(ch).iter().map(move |tap| (d + tap.delay_s, tap.amp * w)))
}

impl Context {
    /// The incident (two-way pulse-shaped) waveform at scatterer `s` for an event with per-channel
    /// `delays` and weights `apod`, times the scatterer's amplitude. `None` when nothing arrives.
    pub(super) fn incident_wave(&self, delays: &[f64], apod: &[f32], s: &Scatterer, taps: &Taps) -> Option<Wave> {
        let mut t_lo = f64::INFINITY;
        let mut t_hi = f64::NEG_INFINITY;
        for (t, _) in arrivals(delays, apod, taps) {
            t_lo = t_lo.min(t);
            t_hi = t_hi.max(t);
        }
        if !t_lo.is_finite() {
            return None;
        }
        let (m, fs) = (self.m, self.fs_fine);
        let half = self.table.center;
        let t_start = t_lo - (half + 1) as f64 / fs;
        let n_hist = ((t_hi - t_start) * fs).ceil() as usize + 2 * half + 3;
        let len = n_hist.div_ceil(m);
        let n_fine = len * m;
        let mut hist = vec![0.0f32; n_fine];
        // The same arrivals as the span above: every index lies in [half + 1, n_hist − half − 2].
        for (t, a) in arrivals(delays, apod, taps) {
            let x = (t - t_start) * fs;
            let i = x as usize;
            let f = (x - i as f64) as f32;
            hist[i] += a * (1.0 - f);
            hist[i + 1] += a * f;
        }
        let mut g = vec![0.0f32; self.table.len];
        let l = 2.0 * dist(s.position_m, self.center);
        self.table.blend(l, &mut g);
        // u[k] = Σ_j g[j] · hist[k + center − j]; hist is zero within `half` of both ends. The
        // shape's peak is 1: the path's attenuation and the amplitude scale the result, in f64,
        // so that a deep echo is only as small as it is, never lost in an intermediate.
        let mut u = vec![0.0f32; n_fine];
        for (j, &gj) in g.iter().enumerate() {
            if gj == 0.0 {
                continue;
            }
            // k + half − j in [0, n_fine)  =>  k in [j − half, n_fine + j − half)
            let k0 = j.saturating_sub(half);
            let k1 = (n_fine + j).saturating_sub(half).min(n_fine);
            let src0 = k0 + half - j;
            for (o, &h) in u[k0..k1].iter_mut().zip(&hist[src0..src0 + (k1 - k0)]) {
                *o += gj * h;
            }
        }
        let scale = self.table.scale(l) * s.amplitude as f64;
        let mut poly = vec![0.0f32; n_fine];
        for r in 0..m {
            for k in 0..len {
                poly[r * len + k] = (u[k * m + r] as f64 * scale) as f32;
            }
        }
        Some(Wave {
            t_start_s: t_start,
            len,
            poly,
        })
    }

    /// Adds the echoes of a block of scatterers to the trace of receive channel `ch`, with the
    /// widest vector instructions the CPU offers (the arithmetic is the same on every path).
    pub(super) fn receive(&self, trace: &mut [f32], ch: usize, waves: &[Option<Wave>], taps: &[Taps]) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: the CPU supports AVX2 and FMA (checked at run time in `Context::new`).
            unsafe { self.receive_avx2(trace, ch, waves, taps) };
            return;
        }
        self.receive_generic(trace, ch, waves, taps);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn receive_avx2(&self, trace: &mut [f32], ch: usize, waves: &[Option<Wave>], taps: &[Taps]) {
        self.receive_generic(trace, ch, waves, taps);
    }

    #[inline(always)]
    pub(super) fn receive_generic(&self, trace: &mut [f32], ch: usize, waves: &[Option<Wave>], taps: &[Taps]) {
        for (wave, taps) in waves.iter().zip(taps) {
            if let Some(w) = wave {
                for tap in taps.channel(ch) {
                    self.add_echo(trace, w, tap);
                }
            }
        }
    }

    /// Adds `tap.amp · wave(t − tap.delay)` to the trace at the output sample times.
    #[inline(always)]
    pub(super) fn add_echo(&self, trace: &mut [f32], w: &Wave, tap: &Tap) {
        if tap.amp == 0.0 {
            return;
        }
        let m = self.m as i64;
        let q0 = (self.sampling.t0_s() - tap.delay_s - w.t_start_s) * self.fs_fine;
        let i0 = q0.floor();
        let frac = (q0 - i0) as f32;
        let i0 = i0 as i64;
        let (a0, r0) = (i0.div_euclid(m), i0.rem_euclid(m) as usize);
        let (a1, r1) = ((i0 + 1).div_euclid(m), (i0 + 1).rem_euclid(m) as usize);
        let len = w.len as i64;
        let n0 = 0i64.max(-a0).max(-a1);
        let n1 = (trace.len() as i64).min(len - a0).min(len - a1);
        if n1 <= n0 {
            return;
        }
        let (w0, w1) = (tap.amp * (1.0 - frac), tap.amp * frac);
        let p0 = &w.poly[r0 * w.len + (n0 + a0) as usize..r0 * w.len + (n1 + a0) as usize];
        let p1 = &w.poly[r1 * w.len + (n0 + a1) as usize..r1 * w.len + (n1 + a1) as usize];
        for ((o, &u0), &u1) in trace[n0 as usize..n1 as usize].iter_mut().zip(p0).zip(p1) {
            *o += w0 * u0 + w1 * u1;
        }
    }
}
