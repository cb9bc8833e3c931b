//! The pulse table, the incident wave at a scatterer, and the receive accumulation of its echoes.

use super::context::Context;
use super::directivity::basis;
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
    /// Waves per scatterer: 1, or 2 with broadband directivity (`w0`'s rows, then `w1`'s).
    waves: usize,
}

impl WaveArena {
    /// Samples of a slot for `waves` waves of up to `stride` fine samples on a grid `m` times the
    /// output's.
    fn slot(stride: usize, m: usize, waves: usize) -> usize {
        stride
            .saturating_add(m.saturating_mul(2 * WAVE_PAD))
            .saturating_mul(waves)
    }

    /// An arena for `block` scatterers' `waves` waves (1 or 2) of up to `stride` fine samples
    /// (`m` polyphase rows each).
    pub(super) fn new(block: usize, stride: usize, m: usize, waves: usize) -> WaveArena {
        let slot = WaveArena::slot(stride, m, waves);
        WaveArena {
            headers: vec![None; block],
            data: vec![0.0; block * slot],
            slot,
            waves,
        }
    }

    /// Heap of [`WaveArena::new`].
    pub(super) fn bytes(block: usize, stride: usize, m: usize, waves: usize) -> u128 {
        let slot =
            (WaveArena::slot(stride, m, waves) as u128 * 4).saturating_add(size_of::<Option<WaveHeader>>() as u128);
        (block as u128).saturating_mul(slot)
    }

    /// The waves of scatterer `i` of the block: where they lie and their padded polyphase rows.
    #[inline(always)]
    fn wave(&self, i: usize, m: usize) -> Option<(WaveHeader, &[f32])> {
        let h = self.headers[i]?;
        Some((
            h,
            &self.data[i * self.slot..i * self.slot + h.row_len() * m * self.waves],
        ))
    }
}

/// One thread's buffers for incident waves: the impulse histogram and the convolution on the fine
/// grid (a wave slot's length each), and the blended pulse. With broadband directivity, a second
/// histogram (the impulses' `B` parts), three more convolutions and two more blended pulses (the
/// table's other bases).
#[derive(Default)]
pub(super) struct WaveScratch {
    hist: Vec<f32>,
    u: Vec<f32>,
    g: Vec<f32>,
    hist_b: Vec<f32>,
    u_b: [Vec<f32>; 3],
    g_b: [Vec<f32>; 2],
}

impl WaveScratch {
    pub(super) fn new(wave: usize, pulse: usize, broadband: bool) -> WaveScratch {
        let extra = |n: usize| if broadband { vec![0.0; n] } else { Vec::new() };
        WaveScratch {
            // The wave and the convolution's zeros on each side (`pulse` = 2·half + 1).
            hist: vec![0.0; wave + pulse],
            u: vec![0.0; wave],
            g: vec![0.0; pulse],
            hist_b: extra(wave + pulse),
            u_b: [extra(wave), extra(wave), extra(wave)],
            g_b: [extra(pulse), extra(pulse)],
        }
    }

    /// Heap of [`WaveScratch::new`].
    pub(super) fn bytes(wave: usize, pulse: usize, broadband: bool) -> u128 {
        let one = (wave as u128).saturating_mul(8).saturating_add(pulse as u128 * 8);
        if broadband {
            // hist_b (wave + pulse), three more waves, two more pulses: 2 × one.
            one.saturating_mul(3)
        } else {
            one
        }
    }
}

/// Pulse-echo waveforms on the fine grid for round-trip paths `l0 + i·dl`, with the whole
/// attenuation of the path (`S(f)·exp(−α·|f|·L)`, the legs carry only the differences of their
/// lengths from `L/2`), all of one length with `t = 0` at `center`. Each waveform is stored
/// normalised to a peak of 1 with the natural log of its peak beside it, so that deep, lossy paths
/// (echoes below `f32`'s range) keep their shape and give tiny or zero samples, never
/// `exp(α·fc·L)` overflowing to infinity times an underflowed 0.
///
/// With broadband directivity the table holds three such sets ("bases" `b` = 0, 1, 2): the
/// spectrum times `φ(f)^b`, `φ` the directivity's basis (`directivity::basis`).
pub(super) struct PulseTable {
    pub(super) l0: f64,
    pub(super) dl: f64,
    pub(super) center: usize,
    pub(super) len: usize,
    /// Waveforms per basis.
    paths: usize,
    /// `bases × paths × len` samples, each waveform divided by its peak.
    pub(super) values: Vec<f32>,
    /// Natural log of each waveform's peak ([`LN_ZERO`] for a waveform that is 0 in f64).
    pub(super) ln_peak: Vec<f64>,
}

/// The log peak of a waveform that underflows f64: `exp` of it (or of any blend with it) is 0.
const LN_ZERO: f64 = -1e4;

/// Sets of waveforms in the pulse table of a run with broadband directivity (`φ⁰`, `φ¹`, `φ²`).
pub(super) const BROADBAND_BASES: usize = 3;

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

    /// Heap of a table of `bases` sets of `paths` waveforms of `len` samples.
    pub(super) fn bytes(bases: usize, paths: usize, len: usize) -> u128 {
        (bases as u128 * paths as u128).saturating_mul(len as u128 * 4 + 8)
    }

    /// The table of `pulse` at `rate` (Hz) for attenuation `alpha` (Np/(m·Hz)) and paths up to
    /// `l_max` (m), `bases` sets (1, or [`BROADBAND_BASES`]): `bases ×` [`PulseTable::paths`]
    /// inverse FFTs of the pulse's sampling shape at `rate`, with
    /// [`SampleShape::synth_bytes`](crate::pulse::SampleShape::synth_bytes) of work memory.
    /// `cylindrical`: every waveform also carries the 2-D two-way factor `fc/(j·f)`
    /// ([`Synth::integrate`]).
    pub(super) fn new(
        pulse: &Pulse,
        rate: f64,
        alpha: f64,
        l_max: f64,
        bases: usize,
        cylindrical: bool,
    ) -> Result<PulseTable> {
        let (n, dl) = PulseTable::paths(alpha, l_max);
        let shape = pulse.sample_shape(rate)?;
        let mut synth = Synth::new(pulse, rate, shape);
        if cylindrical {
            synth.integrate(pulse.fc_hz());
        }
        let len = shape.len;
        let fc = pulse.fc_hz();
        let mut values = Vec::with_capacity(bases * n * len);
        let mut ln_peak = Vec::with_capacity(bases * n);
        for b in 0..bases {
            for i in 0..n {
                if b == 0 {
                    synth.compute(alpha, i as f64 * dl);
                } else {
                    synth.compute_weighted(alpha, i as f64 * dl, |f| basis(f, fc).powi(b as i32));
                }
                let peak = synth.values().fold(0.0f64, |m, v| m.max(v.abs()));
                if peak > 0.0 {
                    values.extend(synth.values().map(|v| (v / peak) as f32));
                    ln_peak.push(peak.ln());
                } else {
                    values.extend(std::iter::repeat_n(0.0, len));
                    ln_peak.push(LN_ZERO);
                }
            }
        }
        Ok(PulseTable {
            l0: 0.0,
            dl,
            center: shape.half,
            len,
            paths: n,
            values,
            ln_peak,
        })
    }

    /// The waveform for path `l` is `blend(l, out)` (its shape, into `out` of length `len`) times
    /// `scale(l)`: the shapes of the two nearest paths blended linearly, their peaks blended
    /// geometrically (exact for the `exp(−α·fc·L)` that dominates how the peak falls with `L`).
    pub(super) fn blend(&self, l: f64, out: &mut [f32]) {
        self.blend_basis(0, l, out);
    }

    /// [`PulseTable::blend`] of basis `b`'s waveforms.
    pub(super) fn blend_basis(&self, b: usize, l: f64, out: &mut [f32]) {
        let (i, f) = self.position(l);
        let i = b * self.paths + i;
        let a = &self.values[i * self.len..(i + 1) * self.len];
        if f == 0.0 {
            out.copy_from_slice(a);
            return;
        }
        let (f, c) = (f as f32, &self.values[(i + 1) * self.len..(i + 2) * self.len]);
        for ((o, &u), &v) in out.iter_mut().zip(a).zip(c) {
            *o = u + f * (v - u);
        }
    }

    /// The peak of the waveform for path `l` (see [`PulseTable::blend`]); 0 where it underflows.
    pub(super) fn scale(&self, l: f64) -> f64 {
        self.scale_basis(0, l)
    }

    /// [`PulseTable::scale`] of basis `b`'s waveforms.
    pub(super) fn scale_basis(&self, b: usize, l: f64) -> f64 {
        let (i, f) = self.position(l);
        let ln = &self.ln_peak[b * self.paths..(b + 1) * self.paths];
        if f == 0.0 {
            return ln[i].exp();
        }
        ((1.0 - f) * ln[i] + f * ln[i + 1]).exp()
    }

    /// The waveform before path `l` and the weight of the next one (0 for the last or only one).
    fn position(&self, l: f64) -> (usize, f64) {
        let n = self.paths;
        if n == 1 {
            return (0, 0.0);
        }
        let x = ((l - self.l0) / self.dl).clamp(0.0, (n - 1) as f64);
        let i = (x as usize).min(n - 2);
        (i, x - i as f64)
    }
}

/// Calls `f(t, a, b)` for the impulses of an event that reach a scatterer: for every tap of
/// every channel with a non-zero weight, its arrival time `delay + tap delay` (seconds) and
/// weighted factors (`a + b·φ(f)`). The one definition of the set that the incident wave's time
/// span and its histograms use (nested loops, not an iterator adapter: always inlined).
#[inline(always)]
fn for_each_arrival(delays: &[f64], apod: &[f32], taps: Taps, mut f: impl FnMut(f64, f32, f32)) {
    for (ch, (&d, &w)) in delays.iter().zip(apod).enumerate() {
        if w == 0.0 {
            continue;
        }
        for tap in taps.channel(ch) {
            f(d + tap.delay_s, tap.amp * w, tap.amp_b * w);
        }
    }
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
        for_each_arrival(delays, apod, taps, |t, _, _| {
            t_lo = t_lo.min(t);
            t_hi = t_hi.max(t);
        });
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
        for_each_arrival(delays, apod, taps, |t, a, _| deposit(hist, half, (t - t_start) * fs, a));
        let l = self.table_path(self.in_plane(s.position_m), ev.kind());
        if self.fit.is_some() {
            self.broadband_wave(ev, s, taps, scratch, poly, (t_start, len), l);
            return Some(WaveHeader {
                t_start_s: t_start,
                len,
            });
        }
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
        write_rows(&mut poly[..row_len * m], len, m, |k| u[k] as f64 * scale);
        Some(WaveHeader {
            t_start_s: t_start,
            len,
        })
    }

    /// The incident waves of [`Context::incident_wave`] with broadband directivity, into the two
    /// halves of `poly` (`M` rows each): the `A` histogram is already in `scratch.hist`; this adds
    /// the `B` one and writes `w0 = S·(A_t + B_t·φ)` and `w1 = S·φ·(A_t + B_t·φ)` (the receive
    /// reads `A_r·w0 + B_r·w1`), each basis' waveform at its own scale in f64.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn broadband_wave(
        &self,
        ev: &TxEvent,
        s: &Scatterer,
        taps: Taps,
        scratch: &mut WaveScratch,
        poly: &mut [f32],
        (t_start, len): (f64, usize),
        l: f64,
    ) {
        let (m, fs, half) = (self.m, self.fs_fine, self.table.center);
        let n_fine = len * m;
        let hist_b = &mut scratch.hist_b[..n_fine + 2 * half];
        hist_b.fill(0.0);
        for_each_arrival(ev.delays_s(), ev.apod(), taps, |t, _, b| {
            deposit(hist_b, half, (t - t_start) * fs, b)
        });
        let n_g = self.table.len;
        self.table.blend_basis(0, l, &mut scratch.g[..n_g]);
        let [g1, g2] = &mut scratch.g_b;
        self.table.blend_basis(1, l, &mut g1[..n_g]);
        self.table.blend_basis(2, l, &mut g2[..n_g]);
        let amp = s.amplitude as f64;
        let sc = [0, 1, 2].map(|b| self.table.scale_basis(b, l) * amp);
        let hist = &scratch.hist[..n_fine + 2 * half];
        let [c2, c3, c4] = &mut scratch.u_b;
        let (c1, c2, c3, c4) = (
            &mut scratch.u[..n_fine],
            &mut c2[..n_fine],
            &mut c3[..n_fine],
            &mut c4[..n_fine],
        );
        self.simd.convolve(c1, hist, &scratch.g[..n_g]);
        self.simd.convolve(c2, hist_b, &g1[..n_g]);
        self.simd.convolve(c3, hist, &g1[..n_g]);
        self.simd.convolve(c4, hist_b, &g2[..n_g]);
        let row_len = len + 2 * WAVE_PAD;
        let (w0, w1) = poly[..2 * row_len * m].split_at_mut(row_len * m);
        write_rows(w0, len, m, |k| sc[0] * c1[k] as f64 + sc[1] * c2[k] as f64);
        write_rows(w1, len, m, |k| sc[1] * c3[k] as f64 + sc[2] * c4[k] as f64);
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
        let broadband = self.fit.is_some();
        let mut start = 0;
        while start < n {
            let end = (start + tile).min(n);
            for (c, trace) in traces.chunks_exact_mut(n_samples.max(1)).enumerate() {
                for i in start..end {
                    if let Some((header, poly)) = waves.wave(i, self.m) {
                        let taps = taps.scatterer(i).channel(ch0 + c);
                        if broadband {
                            self.channel_echoes_broadband(trace, header, poly, taps, &mut descs);
                        } else {
                            self.channel_echoes(trace, header, poly, taps, &mut descs);
                        }
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

    /// [`Context::channel_echoes`] with broadband directivity: each tap reads `w0` (the first
    /// half of `poly`) with its `A` weight and `w1` with its `B` weight, two echo taps of the
    /// kernels; a channel's echo taps are summed in one loop as there.
    #[inline(always)]
    fn channel_echoes_broadband(
        &self,
        trace: &mut [f32],
        header: WaveHeader,
        poly: &[f32],
        taps: &[Tap],
        descs: &mut [EchoTap; FUSED_TAPS],
    ) {
        let mut k = 0;
        let (mut a_lo, mut a_hi) = (i64::MAX, i64::MIN);
        let mut fused = true;
        'taps: for tap in taps {
            let ([ea, eb], lo, hi) = self.echo_tap_pair(header, tap);
            for (amp, e) in [(tap.amp, ea), (tap.amp_b, eb)] {
                if amp == 0.0 {
                    continue;
                }
                if k == FUSED_TAPS {
                    fused = false;
                    break 'taps;
                }
                descs[k] = e;
                k += 1;
            }
            a_lo = a_lo.min(lo);
            a_hi = a_hi.max(hi);
        }
        if k == 0 {
            return;
        }
        if fused && a_hi - a_lo <= FUSED_SPREAD {
            let n0 = 0i64.max(-a_hi);
            let n1 = (trace.len() as i64).min(header.len as i64 - a_lo);
            if n1 > n0 {
                let (n0, n1) = Context::aligned(n0, n1, trace.len());
                self.simd.echoes(trace, n0, n1, poly, &descs[..k]);
            }
            return;
        }
        for tap in taps {
            let (pair, lo, hi) = self.echo_tap_pair(header, tap);
            let n0 = 0i64.max(-lo);
            let n1 = (trace.len() as i64).min(header.len as i64 - hi);
            if n1 > n0 {
                let (n0, n1) = Context::aligned(n0, n1, trace.len());
                self.simd.echoes(trace, n0, n1, poly, &pair);
            }
        }
    }

    /// The two echo taps of a broadband tap (see [`Context::echo_tap`]): its `A` weight reading
    /// `w0`'s rows, its `B` weight reading `w1`'s (the second half of the slot), and the range of
    /// row indices both read.
    #[inline(always)]
    fn echo_tap_pair(&self, header: WaveHeader, tap: &Tap) -> ([EchoTap; 2], i64, i64) {
        let second = (header.row_len() * self.m) as isize;
        let (d, lo, hi) = self.echo_tap(header, &Tap { amp: 1.0, ..*tap });
        let a = EchoTap {
            w0: d.w0 * tap.amp,
            w1: d.w1 * tap.amp,
            ..d
        };
        let b = EchoTap {
            w0: d.w0 * tap.amp_b,
            w1: d.w1 * tap.amp_b,
            off0: d.off0 + second,
            off1: d.off1 + second,
        };
        ([a, b], lo, hi)
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

/// Adds an impulse of amplitude `a` at fine position `x ≥ 0` to `hist` (whose sample `i` is the
/// wave's `i − half`), split linearly between its two neighbouring samples.
#[inline(always)]
fn deposit(hist: &mut [f32], half: usize, x: f64, a: f32) {
    let i = x as usize;
    let f = (x - i as f64) as f32;
    hist[half + i] += a * (1.0 - f);
    hist[half + i + 1] += a * f;
}

/// Writes a wave of `len · m` fine samples, sample `k` being `value(k)`, into `rows` as `m`
/// polyphase rows of `len` samples between [`WAVE_PAD`] zeros on each side.
#[inline(always)]
fn write_rows(rows: &mut [f32], len: usize, m: usize, value: impl Fn(usize) -> f64) {
    let row_len = len + 2 * WAVE_PAD;
    for (r, row) in rows.chunks_exact_mut(row_len).take(m).enumerate() {
        let (head, rest) = row.split_at_mut(WAVE_PAD);
        let (body, tail) = rest.split_at_mut(len);
        head.fill(0.0);
        tail.fill(0.0);
        for (k, o) in body.iter_mut().enumerate() {
            *o = value(k * m + r) as f32;
        }
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
        let t = PulseTable::new(pulse, rate, 0.0, 0.01, 1, cylindrical).unwrap();
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
