//! The pulse table, the incident wave at a scatterer, and the receive accumulation of its echoes.

use super::context::Context;
#[cfg(target_arch = "x86_64")]
use super::kernel::Simd;
use super::scratch::Pool;
use super::taps::{Tap, TapArena, Taps};
use crate::error::Result;
use crate::phantom::Scatterer;
use crate::pulse::{Pulse, Synth};
use crate::sequence::TxEvent;
use rayon::prelude::*;
use std::mem::size_of;

/// Zero samples before and after each polyphase row of a wave slot: the receive reads a row up to
/// this many samples outside the wave, so that the taps of a channel whose offsets differ by at
/// most [`FUSED_SPREAD`] go through one loop over their common output range, widened to whole
/// vectors of [`ALIGN`] samples (see [`Context::receive`]).
pub(super) const WAVE_PAD: usize = 16;

/// The receive's loops start and end (but at the trace's end) on multiples of this many output
/// samples, so that the echoes of successive scatterers load exactly the vectors the previous
/// ones stored (a store-to-load forward, not a stall on a partial overlap).
const ALIGN: usize = 8;

/// Largest spread of a channel's tap offsets (output samples) summed in one loop: what the
/// padding leaves after widening a range by up to `ALIGN − 1` samples on each side.
const FUSED_SPREAD: i64 = (WAVE_PAD - (ALIGN - 1)) as i64;

/// Bytes of the waves the receive goes through for each channel of a group before the next tile
/// (half the first-level data cache of current x86 and ARM cores).
const RECEIVE_TILE_BYTES: usize = 16 << 10;

/// Receive channels per parallel task (a task's traces take each tile of waves in turn).
pub(super) const RECEIVE_GROUP: usize = 8;

/// Most taps of one channel and scatterer that the receive sums in one loop; a channel with more
/// (a scatterer close to a long column) adds its taps one at a time.
const FUSED_TAPS: usize = 8;

/// Where an incident wave lies on the fine grid: its polyphase row `r` (in the slot of a
/// [`WaveArena`], from `r·row_len()`) holds [`WAVE_PAD`] zeros, the waveform at
/// `t_start_s + (k·M + r) / fs_fine` for `k` in `0..len`, and [`WAVE_PAD`] zeros.
#[derive(Debug, Clone, Copy)]
pub(super) struct WaveHeader {
    pub(super) t_start_s: f64,
    pub(super) len: usize,
}

impl WaveHeader {
    /// Samples of one padded polyphase row.
    #[inline(always)]
    fn row_len(&self) -> usize {
        self.len + 2 * WAVE_PAD
    }
}

/// The incident waves of a block of scatterers for one event, in slots of `slot` samples (a
/// bound on any wave of the run, `plan::wave_stride` fine samples, plus the rows' padding):
/// scatterer `i`'s wave is `data[i·slot..]`, described by `headers[i]` (`None` when nothing
/// reaches it).
pub(super) struct WaveArena {
    headers: Vec<Option<WaveHeader>>,
    data: Vec<f32>,
    slot: usize,
}

impl WaveArena {
    /// Samples of a slot for waves of up to `stride` fine samples on a grid `m` times the output's.
    fn slot(stride: usize, m: usize) -> usize {
        stride.saturating_add(m.saturating_mul(2 * WAVE_PAD))
    }

    /// An arena for `block` waves of up to `stride` fine samples (`m` polyphase rows).
    pub(super) fn new(block: usize, stride: usize, m: usize) -> WaveArena {
        let slot = WaveArena::slot(stride, m);
        WaveArena {
            headers: vec![None; block],
            data: vec![0.0; block * slot],
            slot,
        }
    }

    /// Heap of [`WaveArena::new`].
    pub(super) fn bytes(block: usize, stride: usize, m: usize) -> u128 {
        let slot = (WaveArena::slot(stride, m) as u128 * 4).saturating_add(size_of::<Option<WaveHeader>>() as u128);
        (block as u128).saturating_mul(slot)
    }

    /// The wave of scatterer `i` of the block: where it lies and its padded polyphase rows.
    #[inline(always)]
    fn wave(&self, i: usize, m: usize) -> Option<(WaveHeader, &[f32])> {
        let h = self.headers[i]?;
        Some((h, &self.data[i * self.slot..i * self.slot + h.row_len() * m]))
    }
}

/// One thread's buffers for incident waves: the impulse histogram and the convolution on the fine
/// grid (a wave slot's length each), and the blended pulse.
#[derive(Default)]
pub(super) struct WaveScratch {
    hist: Vec<f32>,
    u: Vec<f32>,
    g: Vec<f32>,
}

impl WaveScratch {
    pub(super) fn new(wave: usize, pulse: usize) -> WaveScratch {
        WaveScratch {
            // The wave and the convolution's zeros on each side (`pulse` = 2·half + 1).
            hist: vec![0.0; wave + pulse],
            u: vec![0.0; wave],
            g: vec![0.0; pulse],
        }
    }

    /// Heap of [`WaveScratch::new`].
    pub(super) fn bytes(wave: usize, pulse: usize) -> u128 {
        (wave as u128).saturating_mul(8).saturating_add(pulse as u128 * 8)
    }
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

    /// Heap of a table of `paths` waveforms of `len` samples.
    pub(super) fn bytes(paths: usize, len: usize) -> u128 {
        (paths as u128).saturating_mul(len as u128 * 4 + 8)
    }

    /// The table of `pulse` at `rate` (Hz) for attenuation `alpha` (Np/(m·Hz)) and paths up to
    /// `l_max` (m): [`PulseTable::paths`] inverse FFTs of the pulse's sampling shape at `rate`,
    /// with [`SampleShape::synth_bytes`](crate::pulse::SampleShape::synth_bytes) of work memory.
    /// `cylindrical`: every waveform also carries the 2-D two-way factor `fc/(j·f)`
    /// ([`Synth::integrate`]).
    pub(super) fn new(pulse: &Pulse, rate: f64, alpha: f64, l_max: f64, cylindrical: bool) -> Result<PulseTable> {
        let (n, dl) = PulseTable::paths(alpha, l_max);
        let shape = pulse.sample_shape(rate)?;
        let mut synth = Synth::new(pulse, rate, shape);
        if cylindrical {
            synth.integrate(pulse.fc_hz());
        }
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
fn arrivals<'a>(delays: &'a [f64], apod: &'a [f32], taps: Taps<'a>) -> impl Iterator<Item = (f64, f32)> + 'a {
    delays
        .iter()
        .zip(apod)
        .enumerate()
        .filter(|(_, (_, w))| **w != 0.0)
        .flat_map(move |(ch, (&d, &w))| taps.channel(ch).iter().map(move |tap| (d + tap.delay_s, tap.amp * w)))
}

impl Context {
    /// Fills `arena` with the incident waves of event `ev` at each scatterer of `block`, whose
    /// transmit taps are in `taps`, in parallel, with scratch from `pool`.
    pub(super) fn fill_waves(
        &self,
        ev: &TxEvent,
        block: &[&Scatterer],
        taps: &TapArena,
        arena: &mut WaveArena,
        pool: &Pool,
    ) {
        let slot = arena.slot;
        arena
            .data
            .par_chunks_mut(slot)
            .zip(arena.headers.par_iter_mut())
            .zip(block.par_iter())
            .enumerate()
            .for_each_init(
                || pool.lease(),
                |scratch, (i, ((poly, header), s))| {
                    *header = self.incident_wave(ev, s, taps.scatterer(i), &mut scratch.wave, poly);
                },
            );
    }

    /// The incident (two-way pulse-shaped) waveform at scatterer `s` for event `ev` (its
    /// per-channel delays and weights, and its wavefront for the attenuation map's rays), times the
    /// scatterer's amplitude, into `poly` (a wave slot). `None` when nothing arrives.
    fn incident_wave(
        &self,
        ev: &TxEvent,
        s: &Scatterer,
        taps: Taps,
        scratch: &mut WaveScratch,
        poly: &mut [f32],
    ) -> Option<WaveHeader> {
        #[cfg(target_arch = "x86_64")]
        if self.simd == Simd::Avx2 {
            // SAFETY: `Avx2` is only selected when the CPU supports AVX2 and FMA.
            return unsafe { self.incident_wave_avx2(ev, s, taps, scratch, poly) };
        }
        self.incident_wave_generic(ev, s, taps, scratch, poly)
    }

    /// [`Context::incident_wave`] compiled for AVX2 and FMA (the same arithmetic: Rust never
    /// contracts a multiply and an add into an FMA by itself).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn incident_wave_avx2(
        &self,
        ev: &TxEvent,
        s: &Scatterer,
        taps: Taps,
        scratch: &mut WaveScratch,
        poly: &mut [f32],
    ) -> Option<WaveHeader> {
        self.incident_wave_generic(ev, s, taps, scratch, poly)
    }

    #[inline(always)]
    fn incident_wave_generic(
        &self,
        ev: &TxEvent,
        s: &Scatterer,
        taps: Taps,
        scratch: &mut WaveScratch,
        poly: &mut [f32],
    ) -> Option<WaveHeader> {
        let (delays, apod) = (ev.delays_s(), ev.apod());
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
        // n_fine ≤ the slot's length: the plan bounds the arrivals' span (`plan::wave_stride`).
        let n_fine = len * m;
        // The histogram of the wave's fine samples, with `half` more zeros on each side for the
        // convolution: fine sample i of the wave is hist[half + i].
        let hist = &mut scratch.hist[..n_fine + 2 * half];
        hist.fill(0.0);
        // The same arrivals as the span above: every index lies in [half + 1, n_hist − half − 2].
        for (t, a) in arrivals(delays, apod, taps) {
            let x = (t - t_start) * fs;
            let i = x as usize;
            let f = (x - i as f64) as f32;
            hist[half + i] += a * (1.0 - f);
            hist[half + i + 1] += a * f;
        }
        let l = self.table_path(self.in_plane(s.position_m), ev.kind());
        let g = &mut scratch.g[..self.table.len];
        self.table.blend(l, g);
        // u[k] = Σ_j g[j] · hist[k + center − j] (the wave's fine samples are zero within `half`
        // of both ends, so the padding adds only zeros). The shape's peak is 1: the path's
        // attenuation and the amplitude scale the result, in f64, so that a deep echo is only as
        // small as it is, never lost in an intermediate.
        let u = &mut scratch.u[..n_fine];
        self.simd.convolve(u, hist, g);
        let scale = self.table.scale(l) * s.amplitude as f64;
        let row_len = len + 2 * WAVE_PAD;
        for (r, row) in poly[..row_len * m].chunks_exact_mut(row_len).enumerate() {
            let (head, rest) = row.split_at_mut(WAVE_PAD);
            let (body, tail) = rest.split_at_mut(len);
            head.fill(0.0);
            tail.fill(0.0);
            for (k, o) in body.iter_mut().enumerate() {
                *o = (u[k * m + r] as f64 * scale) as f32;
            }
        }
        Some(WaveHeader {
            t_start_s: t_start,
            len,
        })
    }

    /// Adds the echoes of the first `n` scatterers of a block (their waves in `waves`, their
    /// receive taps in `taps`) to the traces of receive channels `ch0..` (`traces`, one after
    /// another, `n_samples` each), with the kernel `simd` chose (the arithmetic, and so the
    /// traces, are the same bit for bit on every path).
    ///
    /// The scatterers go in tiles whose waves fit the first-level cache, each tile over every
    /// channel of the group, so that a wave is read from memory once per group rather than once
    /// per channel; every trace still receives its scatterers in block order.
    ///
    /// A channel's taps (one per delay bin of its column, or per sub-element) lie within a few
    /// output samples of one another: they are summed in one pass over their common output range,
    /// each sample loaded and stored once, their waves read through the rows' zero padding where
    /// a tap's own range is shorter. Taps further apart than the padding, or more than
    /// [`FUSED_TAPS`], go one at a time.
    pub(super) fn receive(
        &self,
        traces: &mut [f32],
        n_samples: usize,
        ch0: usize,
        n: usize,
        waves: &WaveArena,
        taps: &TapArena,
    ) {
        #[cfg(target_arch = "x86_64")]
        if self.simd == Simd::Avx2 {
            // SAFETY: `Avx2` is only selected when the CPU supports AVX2 and FMA.
            return unsafe { self.receive_avx2(traces, n_samples, ch0, n, waves, taps) };
        }
        self.receive_generic(traces, n_samples, ch0, n, waves, taps)
    }

    /// [`Context::receive`] compiled for AVX2 and FMA (the same arithmetic).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn receive_avx2(
        &self,
        traces: &mut [f32],
        n_samples: usize,
        ch0: usize,
        n: usize,
        waves: &WaveArena,
        taps: &TapArena,
    ) {
        self.receive_generic(traces, n_samples, ch0, n, waves, taps)
    }

    #[inline(always)]
    fn receive_generic(
        &self,
        traces: &mut [f32],
        n_samples: usize,
        ch0: usize,
        n: usize,
        waves: &WaveArena,
        taps: &TapArena,
    ) {
        let tile = (RECEIVE_TILE_BYTES / (4 * waves.slot).max(1)).clamp(1, n.max(1));
        // Filled up to each channel's tap count before it is read.
        let mut descs = [EchoTap::default(); FUSED_TAPS];
        let mut start = 0;
        while start < n {
            let end = (start + tile).min(n);
            for (c, trace) in traces.chunks_exact_mut(n_samples.max(1)).enumerate() {
                for i in start..end {
                    if let Some((header, poly)) = waves.wave(i, self.m) {
                        let taps = taps.scatterer(i).channel(ch0 + c);
                        self.channel_echoes(trace, header, poly, taps, &mut descs);
                    }
                }
            }
            start = end;
        }
    }

    /// The output range `[n0, n1)` widened to multiples of [`ALIGN`] (at most to the trace's end).
    #[inline(always)]
    fn aligned(n0: i64, n1: i64, len: usize) -> (usize, usize) {
        let a = ALIGN as i64;
        let lo = n0.div_euclid(a) * a;
        let hi = (n1 + a - 1).div_euclid(a) * a;
        (lo as usize, hi.min(len as i64) as usize)
    }

    /// Adds the echoes of one wave through one channel's taps to its trace.
    #[inline(always)]
    fn channel_echoes(
        &self,
        trace: &mut [f32],
        header: WaveHeader,
        poly: &[f32],
        taps: &[Tap],
        descs: &mut [EchoTap; FUSED_TAPS],
    ) {
        let mut k = 0;
        let (mut a_lo, mut a_hi) = (i64::MAX, i64::MIN);
        for tap in taps {
            if tap.amp == 0.0 {
                continue;
            }
            if k == FUSED_TAPS {
                k += 1;
                break;
            }
            let (d, lo, hi) = self.echo_tap(header, tap);
            descs[k] = d;
            a_lo = a_lo.min(lo);
            a_hi = a_hi.max(hi);
            k += 1;
        }
        if k == 0 {
            return;
        }
        // The union of the taps' ranges, widened to whole vectors: a tap reads its row at n + a,
        // a in [a_lo, a_hi], for n from at least −a_hi − (ALIGN − 1) to below
        // len − a_lo + (ALIGN − 1), inside the padded row when a_hi − a_lo ≤ FUSED_SPREAD. Where a
        // tap's own range ends earlier it reads the padding's zeros, which add nothing.
        if k <= FUSED_TAPS && a_hi - a_lo <= FUSED_SPREAD {
            let n0 = 0i64.max(-a_hi);
            let n1 = (trace.len() as i64).min(header.len as i64 - a_lo);
            if n1 > n0 {
                let (n0, n1) = Context::aligned(n0, n1, trace.len());
                self.simd.echoes(trace, n0, n1, poly, &descs[..k]);
            }
        } else {
            for tap in taps.iter().filter(|t| t.amp != 0.0) {
                let (d, lo, hi) = self.echo_tap(header, tap);
                let n0 = 0i64.max(-lo);
                let n1 = (trace.len() as i64).min(header.len as i64 - hi);
                if n1 > n0 {
                    let (n0, n1) = Context::aligned(n0, n1, trace.len());
                    self.simd.echoes(trace, n0, n1, poly, &[d]);
                }
            }
        }
    }

    /// Where tap `tap` reads wave `w`: output sample `n` adds `w0·poly[off0 + n] + w1·poly[off1 +
    /// n]` (linear interpolation between two neighbouring fine-grid phases), and the rows' indices
    /// `n + a` it reads lie between `n + lo` and `n + hi`.
    #[inline(always)]
    fn echo_tap(&self, w: WaveHeader, tap: &Tap) -> (EchoTap, i64, i64) {
        // m is a power of two (`RunPlan::new`): floor division and the remainder by shifts.
        let (shift, mask) = (self.m.trailing_zeros(), self.m as i64 - 1);
        let q0 = (self.sampling.t0_s() - tap.delay_s - w.t_start_s) * self.fs_fine;
        let i0 = q0.floor();
        let frac = (q0 - i0) as f32;
        let i0 = i0 as i64;
        let (a0, r0) = (i0 >> shift, i0 & mask);
        let (a1, r1) = ((i0 + 1) >> shift, (i0 + 1) & mask);
        let row = w.row_len() as i64;
        let pad = WAVE_PAD as i64;
        // off + n ≥ 0 for every n the caller passes (n + a ≥ −pad).
        let d = EchoTap {
            w0: tap.amp * (1.0 - frac),
            w1: tap.amp * frac,
            off0: (r0 * row + pad + a0) as isize,
            off1: (r1 * row + pad + a1) as isize,
        };
        (d, a0.min(a1), a0.max(a1))
    }
}

/// One receive tap as the echo kernels read it (see [`Context::echo_tap`]).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct EchoTap {
    pub(super) w0: f32,
    pub(super) w1: f32,
    pub(super) off0: isize,
    pub(super) off1: isize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// The table's waveform (peak restored) and its spectrum at `f` (DTFT, `t = 0` at the centre).
    fn waveform(pulse: &Pulse, rate: f64, cylindrical: bool) -> (Vec<f64>, usize) {
        let t = PulseTable::new(pulse, rate, 0.0, 0.01, cylindrical).unwrap();
        let peak = t.ln_peak[0].exp();
        (t.values[..t.len].iter().map(|v| *v as f64 * peak).collect(), t.center)
    }

    fn dtft(w: &[f64], center: usize, rate: f64, f: f64) -> (f64, f64) {
        w.iter().enumerate().fold((0.0, 0.0), |(re, im), (i, v)| {
            let ph = -2.0 * PI * f * (i as f64 - center as f64) / rate;
            (re + v * ph.cos(), im + v * ph.sin())
        })
    }

    /// The 2-D table is the 3-D one times `fc/(j·f)`: at fc the same magnitude, 90° behind, and
    /// at fc/2 and 3·fc/2 twice and two thirds the 3-D magnitude; for a burst of whole periods
    /// (no DC) its ends are about as small as the 3-D waveform's (1e-4 of the peak). A pulse with
    /// DC content leaves the integration's step at the window's ends (documented).
    #[test]
    fn cylindrical_table_is_the_spherical_one_times_fc_over_jf() {
        let rate = 80e6;
        let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
        let (w3, c3) = waveform(&pulse, rate, false);
        let (w2, c2) = waveform(&pulse, rate, true);
        for (f, gain) in [(5e6, 1.0), (2.5e6, 2.0), (7.5e6, 2.0 / 3.0)] {
            let (r3, i3) = dtft(&w3, c3, rate, f);
            let (r2, i2) = dtft(&w2, c2, rate, f);
            // Y2 / Y3 = −j·fc/f.
            let d = r3 * r3 + i3 * i3;
            let (qr, qi) = ((r2 * r3 + i2 * i3) / d, (i2 * r3 - r2 * i3) / d);
            assert!(
                qr.abs() < 1e-3 * gain && (qi + gain).abs() < 1e-3 * gain,
                "{f}: {qr} {qi}"
            );
        }
        let ends = |w: &[f64]| w[0].abs().max(w[w.len() - 1].abs()) / w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let (e2, e3) = (ends(&w2), ends(&w3));
        println!("ends of the waveform over its peak: 2-D {e2:.2e}, 3-D {e3:.2e}");
        assert!(e2 < 2e-4 && e3 < 2e-4, "{e2} {e3}");
        // The step the integration leaves at the window's ends, over the peak: the spectrum at DC
        // of whole-period bursts is 0 (1.2e-3 from the Gaussian's tail at 100 % bandwidth), that
        // of 1.5 periods is not (3.5 %), nor that of half a period at 200 % (130 %).
        let step = |bw, cycles| {
            let (w, _) = waveform(&Pulse::new(5e6, bw, cycles).unwrap(), rate, true);
            (w[w.len() - 1] - w[0]).abs() / w.iter().fold(0.0f64, |m, v| m.max(v.abs()))
        };
        let steps = [step(1.0, 1.0), step(0.8, 1.5), step(2.0, 0.5)];
        println!("steps: {steps:?}");
        assert!(
            steps[0] < 2e-3 && (0.02..0.05).contains(&steps[1]) && steps[2] > 1.0,
            "{steps:?}"
        );
    }
}
