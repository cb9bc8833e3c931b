//! RF → baseband IQ: mix, low-pass, decimate.
//!
//! Each trace is multiplied by `exp(−i·2π·f_demod·t)` with the **absolute** sample time
//! `t = t0 + k / fs` (so the phase of the IQ data refers to time zero of [`crate::sequence`], which
//! is what the beamformer's IQ rotation assumes), low-pass filtered by a linear-phase windowed-sinc
//! FIR (Blackman window, odd length, applied centred so its delay is compensated exactly: output
//! sample `m` is the filtered value at input sample `m·D`), scaled by 2 (so `|IQ|` is the envelope
//! of the RF) and decimated by `D`. The output keeps `t0`, has `fs / D` and `ceil(n / D)` samples.
//! Samples outside the trace count as zero.
//!
//! The plan ([`Demodulator::new`]) precomputes the filter and the mixer;
//! [`Demodulator::demodulate_into`] allocates nothing.
//!
//! ## How it is computed
//!
//! With `h` the FIR (length `2·half + 1`, DC gain 2), `c = m·D` and `w(t) = exp(−i·2π·f_demod·t)`,
//! output `m` is `Σ_o h[o]·w(t0 + (c + o)/fs)·x[c + o]` for `|o| ≤ half`. Factoring out the mixer at
//! the output sample turns this into a complex band-pass filter of the *real* RF followed by mixing
//! at the output rate only:
//!
//! `IQ[m] = w(t0 + c/fs) · Σ_o g[o]·x[c + o]`, with `g[o] = h[o]·exp(−i·2π·f_demod·o/fs)`.
//!
//! `h` is symmetric, so `g[−o] = conj(g[o])` and the sum folds into pairs:
//! `Re = g[0]·x[c] + Σ_{o>0} Re g[o]·(x[c+o] + x[c−o])`,
//! `Im = Σ_{o>0} Im g[o]·(x[c+o] − x[c−o])`. Only the kept output samples are computed (a
//! decimating FIR), nothing is mixed at the input rate, and taps that the Blackman window makes zero
//! up to rounding (its end points, below 1e-12 of the largest tap) are skipped.
//!
//! Each trace is processed in chunks of output samples. A chunk's input samples are copied,
//! split into the `D` polyphase components (`p_r[i] = x[i·D + r]`) and zero-padded past the ends
//! of the trace, into a fixed-size scratch buffer (32 KiB of static thread-local storage per
//! thread, so nothing is allocated per call or per trace). In the polyphase buffer the input
//! samples `c ± o` of consecutive outputs are consecutive floats, so the kernel vectorises along
//! the output samples: for a block of 24 outputs (three AVX2 vectors) and each tap pair it loads
//! two blocks, adds and subtracts them and accumulates them with two broadcast coefficients, then
//! mixes and interleaves the block into the `Complex32` output. The kernel is chosen once per
//! plan: AVX2 + FMA on x86-64 CPUs that have them (runtime detection), otherwise a portable scalar
//! kernel written for auto-vectorisation; both do the same operations in the same order (the AVX2
//! one fuses multiply-adds). Plans whose polyphase chunk would not fit the scratch buffer
//! (decimation factors in the hundreds) use a direct per-output loop over the same tap pairs
//! instead. Traces are distributed over rayon's threads; every trace is computed the same way
//! whatever the thread count.
//!
//! ```
//! use ndarray::Array3;
//! use sonochip::{channel_data::Sampling, demod::{DemodConfig, Demodulator}};
//! let (fs, fc, n) = (40e6, 5e6, 400);
//! let plan = Demodulator::new(Sampling::new(fs, 0.0, n).unwrap(), DemodConfig::new(fc, fc, 4)).unwrap();
//! // A tone at fc with amplitude 1: its IQ magnitude is 1 away from the ends.
//! let rf = Array3::from_shape_fn((1, 1, n), |(_, _, k)| (2.0 * std::f64::consts::PI * fc * k as f64 / fs).cos() as f32);
//! let mut iq = Array3::zeros((1, 1, plan.output_len()));
//! plan.demodulate_into(rf.view(), iq.view_mut()).unwrap();
//! assert!((iq[[0, 0, 50]].norm() - 1.0).abs() < 1e-2);
//! ```

use crate::channel_data::{ChannelData, Metadata, Sampling};
use crate::error::{Error, Result, plausible};
use ndarray::{Array3, ArrayView1, ArrayView3, ArrayViewMut1, ArrayViewMut3, Axis, Zip, s};
use num_complex::Complex32;
use std::cell::RefCell;

/// Longest FIR the demodulator accepts.
pub const MAX_TAPS: usize = 4097;

/// Output samples per kernel block (three AVX2 vectors: with 32, the 8 accumulators, 2
/// coefficients and the loads no longer fit the 16 registers).
const BLOCK: usize = 24;
/// Floats in a thread's polyphase scratch buffer (32 KiB).
const SCRATCH: usize = 8192;
thread_local! {
    /// Each thread's polyphase scratch: static thread-local storage, so using it allocates nothing.
    /// (Not a per-job stack array: rayon moves a job's state by value for every item it folds.)
    static SCRATCH_BUFFER: RefCell<[f32; SCRATCH]> = const { RefCell::new([0.0; SCRATCH]) };
}
/// Floats of the scratch buffer a chunk aims to use (16 KiB: the chunk stays in L1 with the taps).
const CHUNK_TARGET: usize = 4096;

/// What a [`Demodulator`] does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemodConfig {
    /// Mixing frequency, Hz (usually the pulse's centre frequency).
    pub demod_hz: f64,
    /// Low-pass cut-off (−6 dB point of the FIR), Hz, in `(0, fs / (2·D)]` so that the kept band
    /// `±cutoff` fits the complex output rate `fs / D`.
    pub cutoff_hz: f64,
    /// Decimation factor `D` ≥ 1.
    pub decimation: usize,
    /// FIR length (odd, 3..=[`MAX_TAPS`]); `None`: about `8·fs / cutoff` taps.
    pub n_taps: Option<usize>,
}

impl DemodConfig {
    /// Mixing at `demod_hz`, low-pass at `cutoff_hz`, decimation `decimation`, default FIR length.
    pub fn new(demod_hz: f64, cutoff_hz: f64, decimation: usize) -> DemodConfig {
        DemodConfig {
            demod_hz,
            cutoff_hz,
            decimation,
            n_taps: None,
        }
    }

    /// The demodulation of the crate's IQ imaging (B-mode and Doppler): mixing at `fc_hz`,
    /// low-pass at 0.9·fc, decimation by 2.
    pub fn iq_imaging(fc_hz: f64) -> DemodConfig {
        DemodConfig::new(fc_hz, 0.9 * fc_hz, 2)
    }
}

/// The inner loop a plan runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// One output at a time straight from the trace (plans whose chunk does not fit the scratch).
    Direct,
    /// Polyphase blocks, portable code.
    Scalar,
    /// Polyphase blocks, AVX2 + FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

/// The folded complex band-pass filter `g` (see the [module docs](self)) and where its taps sit in
/// the polyphase scratch buffer.
#[derive(Debug, Clone)]
struct Taps {
    /// `g[0]` (real).
    centre: f32,
    /// The offsets `o > 0` of the kept tap pairs, ascending.
    pair_o: Vec<usize>,
    /// `Re g[o]`.
    pair_re: Vec<f32>,
    /// `Im g[o]`.
    pair_im: Vec<f32>,
    /// Scratch index of `x[c]` for the first output of a chunk (polyphase kernels only).
    centre_off: usize,
    /// Scratch index of `x[c + o]` for the first output of a chunk (polyphase kernels only).
    plus_off: Vec<usize>,
    /// Scratch index of `x[c − o]` for the first output of a chunk (polyphase kernels only).
    minus_off: Vec<usize>,
    /// The largest of the scratch indices above.
    reach: usize,
}

/// How a chunk of one trace lies in the scratch buffer: phase `r` occupies
/// `[r·phase_len, (r + 1)·phase_len)`, its entry `i` is `x[(m0 + q_min + i)·D + r]` for the chunk
/// that starts at output `m0`.
#[derive(Debug, Clone, Copy)]
struct Polyphase {
    /// Output samples per chunk (a multiple of [`BLOCK`]).
    chunk: usize,
    /// Floats per phase.
    phase_len: usize,
    /// `⌊−half / D⌋`: the polyphase index of the earliest input a chunk's first output reads.
    q_min: isize,
    /// Polyphase entries a chunk needs beyond its outputs (`⌊half / D⌋ − q_min`).
    span: usize,
}

/// A demodulation plan for traces of a fixed length and sampling. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Demodulator {
    input: Sampling,
    output: Sampling,
    fs_hz: f64,
    n_in: usize,
    n_out: usize,
    config: DemodConfig,
    taps: Taps,
    /// `Re, Im exp(−i·2π·f_demod·(t0 + m·D/fs))` per output sample, zero-padded to whole blocks.
    mix_re: Vec<f32>,
    mix_im: Vec<f32>,
    /// `None`: the direct kernel.
    layout: Option<Polyphase>,
    kernel: Kernel,
}

impl Demodulator {
    /// Plans demodulation of traces sampled as `sampling`.
    ///
    /// Errors: `demod_hz` beyond ±fs; a decimation outside `1..=n_samples`; a cut-off outside
    /// `[fs / 1000, fs / (2·D)]` (a narrower band would need more than [`MAX_TAPS`] taps); a FIR
    /// length that is even or outside `3..=MAX_TAPS`.
    pub fn new(sampling: Sampling, config: DemodConfig) -> Result<Demodulator> {
        let (fs_hz, t0_s, n_samples) = (sampling.fs_hz(), sampling.t0_s(), sampling.n_samples());
        plausible("demod_hz", config.demod_hz, -fs_hz, fs_hz, "Hz")?;
        if config.decimation == 0 || config.decimation > n_samples {
            return Err(Error::invalid(
                "decimation",
                format!("1..={n_samples} (the trace length)"),
                config.decimation,
            ));
        }
        let out_nyquist = fs_hz / (2.0 * config.decimation as f64);
        let narrowest = fs_hz * 1e-3;
        if !(config.cutoff_hz.is_finite() && config.cutoff_hz >= narrowest && config.cutoff_hz <= out_nyquist) {
            return Err(Error::invalid(
                "cutoff_hz",
                format!("a frequency in [fs / 1000, fs / (2 D)] = [{narrowest}, {out_nyquist}] Hz"),
                config.cutoff_hz,
            ));
        }
        let n_taps = fir_length(fs_hz, &config)?;
        let half = n_taps / 2;
        let pi = std::f64::consts::PI;
        let h = lowpass(n_taps, config.cutoff_hz / fs_hz);
        let d = config.decimation;
        let n_out = (n_samples - 1) / d + 1;
        let taps = fold_taps(&h, config.demod_hz / fs_hz);
        let padded = n_out.div_ceil(BLOCK) * BLOCK;
        let (mut mix_re, mut mix_im) = (vec![0.0f32; padded], vec![0.0f32; padded]);
        for m in 0..n_out {
            let turns = config.demod_hz * (t0_s + (m * d) as f64 / fs_hz);
            let ph = -2.0 * pi * (turns - turns.floor());
            mix_re[m] = ph.cos() as f32;
            mix_im[m] = ph.sin() as f32;
        }
        let output = Sampling::new(fs_hz / d as f64, t0_s, n_out)?;
        let mut plan = Demodulator {
            input: sampling,
            output,
            fs_hz,
            n_in: n_samples,
            n_out,
            config,
            taps,
            mix_re,
            mix_im,
            layout: None,
            kernel: Kernel::Direct,
        };
        if let Some(layout) = Polyphase::plan(half, d, n_out) {
            plan.taps.place(layout, d);
            plan.layout = Some(layout);
            plan.kernel = Kernel::Scalar;
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                plan.kernel = Kernel::Avx2;
            }
        }
        Ok(plan)
    }

    /// A plan for data like `data`.
    pub fn for_data(data: &ChannelData<f32>, config: DemodConfig) -> Result<Demodulator> {
        Demodulator::new(data.sampling(), config)
    }

    /// The sampling of the input traces.
    pub fn input_sampling(&self) -> Sampling {
        self.input
    }
    /// The sampling of the output (IQ) traces: `fs / D`, the same `t0`, `ceil(n / D)` samples.
    pub fn output_sampling(&self) -> Sampling {
        self.output
    }
    /// Samples per output trace.
    pub fn output_len(&self) -> usize {
        self.n_out
    }
    /// Output sampling rate, Hz.
    pub fn output_fs_hz(&self) -> f64 {
        self.fs_hz / self.config.decimation as f64
    }
    /// The description of the IQ data this plan makes of RF data described by `rf`.
    pub fn output_metadata(&self, rf: &Metadata) -> Result<Metadata> {
        if rf.demod_hz().is_some() {
            return Err(Error::invalid("rf", "the metadata of RF data", "IQ metadata"));
        }
        let (e, g) = (self.input, rf.sampling());
        if (g.fs_hz() - e.fs_hz()).abs() > 1e-9 * e.fs_hz() || (g.t0_s() - e.t0_s()).abs() > 1e-3 / e.fs_hz() {
            return Err(Error::invalid(
                "data",
                format!("fs_hz = {} and t0_s = {} (the plan's)", e.fs_hz(), e.t0_s()),
                format!("fs_hz = {}, t0_s = {}", g.fs_hz(), g.t0_s()),
            ));
        }
        if g.n_samples() != e.n_samples() {
            return Err(Error::shape(
                "rf",
                format!("{} samples per trace", e.n_samples()),
                g.n_samples().to_string(),
            ));
        }
        rf.demodulated(self.output, self.config.demod_hz)
    }
    /// The configuration.
    pub fn config(&self) -> DemodConfig {
        self.config
    }

    /// Demodulates `rf` `[tx, channel, sample]` into `out` `[tx, channel, output_len]` in parallel
    /// over the traces, allocating nothing. Any strides are accepted (contiguous traces are the fast
    /// case). Errors on shapes that do not fit the plan.
    pub fn demodulate_into(&self, rf: ArrayView3<'_, f32>, mut out: ArrayViewMut3<'_, Complex32>) -> Result<()> {
        let (a, b, n) = rf.dim();
        if n != self.n_in {
            return Err(Error::shape(
                "rf",
                format!("{} samples per trace", self.n_in),
                n.to_string(),
            ));
        }
        if out.dim() != (a, b, self.n_out) {
            return Err(Error::shape(
                "out",
                format!("{:?}", (a, b, self.n_out)),
                format!("{:?}", out.dim()),
            ));
        }
        Zip::from(rf.lanes(Axis(2)))
            .and(out.lanes_mut(Axis(2)))
            .par_for_each(|x, y| SCRATCH_BUFFER.with_borrow_mut(|scratch| self.trace(x, y, scratch)));
        Ok(())
    }

    /// Demodulates one trace.
    fn trace(&self, x: ArrayView1<'_, f32>, y: ArrayViewMut1<'_, Complex32>, scratch: &mut [f32; SCRATCH]) {
        match (self.layout, self.kernel) {
            (Some(layout), Kernel::Scalar) => self.trace_polyphase(layout, x, y, scratch, block_scalar),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `Kernel::Avx2` is only chosen when the CPU has AVX2 and FMA.
            (Some(layout), Kernel::Avx2) => unsafe { avx2::trace(self, layout, x, y, scratch) },
            _ => self.trace_direct(x, y),
        }
    }

    /// The polyphase path of [`Demodulator::trace`], with `block` computing [`BLOCK`] outputs (see
    /// [`block_scalar`]). Inlined into each kernel's entry point so that the chunk copy is compiled
    /// for the same instruction set as the kernel.
    #[inline(always)]
    fn trace_polyphase(
        &self,
        layout: Polyphase,
        x: ArrayView1<'_, f32>,
        mut y: ArrayViewMut1<'_, Complex32>,
        scratch: &mut [f32; SCRATCH],
        block: impl Fn(&Taps, &[f32; SCRATCH], usize, (&[f32], &[f32]), &mut [Complex32]),
    ) {
        let d = self.config.decimation;
        let mut tmp = [Complex32::new(0.0, 0.0); BLOCK];
        for m0 in (0..self.n_out).step_by(layout.chunk) {
            let blocks = layout.chunk.min(self.n_out - m0).div_ceil(BLOCK);
            layout.fill(x, d, m0, blocks * BLOCK + layout.span, scratch);
            for blk in 0..blocks {
                let (base, ms) = (blk * BLOCK, m0 + blk * BLOCK);
                let count = BLOCK.min(self.n_out - ms);
                let mix = (&self.mix_re[ms..ms + BLOCK], &self.mix_im[ms..ms + BLOCK]);
                match y.as_slice_mut() {
                    Some(ys) if count == BLOCK => block(&self.taps, scratch, base, mix, &mut ys[ms..ms + BLOCK]),
                    _ => {
                        block(&self.taps, scratch, base, mix, &mut tmp);
                        for (i, v) in tmp[..count].iter().enumerate() {
                            y[ms + i] = *v;
                        }
                    }
                }
            }
        }
    }

    /// The direct kernel: each output from the trace itself, the same tap pairs in the same order.
    fn trace_direct(&self, x: ArrayView1<'_, f32>, mut y: ArrayViewMut1<'_, Complex32>) {
        let (d, n, t) = (self.config.decimation, self.n_in, &self.taps);
        for (m, v) in y.iter_mut().enumerate() {
            let c = m * d;
            let mut re = t.centre * x[c];
            let mut im = 0.0f32;
            for ((&o, &gr), &gi) in t.pair_o.iter().zip(&t.pair_re).zip(&t.pair_im) {
                let p = if c + o < n { x[c + o] } else { 0.0 };
                let q = if o <= c { x[c - o] } else { 0.0 };
                re += gr * (p + q);
                im += gi * (p - q);
            }
            let (mr, mi) = (self.mix_re[m], self.mix_im[m]);
            *v = Complex32::new(re * mr - im * mi, re * mi + im * mr);
        }
    }

    /// Demodulates RF channel data: IQ channel data with `demod_hz` set, `fs / D`, the same `t0`.
    pub fn demodulate(&self, data: &ChannelData<f32>) -> Result<ChannelData<Complex32>> {
        let meta = self.output_metadata(data.meta())?;
        let (a, b, _) = data.data().dim();
        let mut out = Array3::zeros((a, b, self.n_out));
        self.demodulate_into(data.data().view(), out.view_mut())?;
        ChannelData::new(out, meta)
    }
}

/// The FIR length of `config`: given, or about `8·fs / cutoff` taps (odd, at most [`MAX_TAPS`]).
fn fir_length(fs_hz: f64, config: &DemodConfig) -> Result<usize> {
    let n_taps = match config.n_taps {
        Some(n) => n,
        // At most 8001 before the cap: the cut-off is at least fs / 1000.
        None => (2 * ((4.0 * fs_hz / config.cutoff_hz).round() as usize) + 1).min(MAX_TAPS),
    };
    if !(3..=MAX_TAPS).contains(&n_taps) || n_taps % 2 == 0 {
        return Err(Error::invalid(
            "n_taps",
            format!("an odd count in 3..={MAX_TAPS}"),
            n_taps,
        ));
    }
    Ok(n_taps)
}

/// The linear-phase low-pass FIR: a windowed sinc (Blackman) of `n_taps` taps with its −6 dB point
/// at `fc` cycles per sample, scaled to a DC gain of 2.
fn lowpass(n_taps: usize, fc: f64) -> Vec<f64> {
    let half = n_taps / 2;
    let pi = std::f64::consts::PI;
    let mut h: Vec<f64> = (0..n_taps)
        .map(|j| {
            let m = j as f64 - half as f64;
            let sinc = if m == 0.0 {
                2.0 * fc
            } else {
                (2.0 * pi * fc * m).sin() / (pi * m)
            };
            let x = 2.0 * pi * j as f64 / (n_taps - 1) as f64;
            sinc * (0.42 - 0.5 * x.cos() + 0.08 * (2.0 * x).cos())
        })
        .collect();
    let sum: f64 = h.iter().sum();
    for v in &mut h {
        *v *= 2.0 / sum;
    }
    h
}

/// Folds the FIR `h` (odd length, centred) into the pairs of the complex band-pass filter
/// `g[o] = h[o]·exp(−i·2π·f·o)` (`f` in cycles per input sample), skipping pairs whose `h` is zero up
/// to rounding. `h` is symmetric up to rounding; the pair uses the mean of `h[±o]`.
fn fold_taps(h: &[f64], f: f64) -> Taps {
    let half = h.len() / 2;
    let peak = h.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let mut t = Taps {
        centre: h[half] as f32,
        pair_o: Vec::new(),
        pair_re: Vec::new(),
        pair_im: Vec::new(),
        centre_off: 0,
        plus_off: Vec::new(),
        minus_off: Vec::new(),
        reach: 0,
    };
    for o in 1..=half {
        let hv = 0.5 * (h[half + o] + h[half - o]);
        if hv.abs() <= 1e-12 * peak {
            continue;
        }
        let turns = f * o as f64;
        let ph = -2.0 * std::f64::consts::PI * (turns - turns.floor());
        t.pair_o.push(o);
        t.pair_re.push((hv * ph.cos()) as f32);
        t.pair_im.push((hv * ph.sin()) as f32);
    }
    t
}

impl Taps {
    /// Scratch indices of the taps for `layout` with decimation `d`.
    fn place(&mut self, layout: Polyphase, d: usize) {
        let at = |o: isize| {
            let (q, r) = (o.div_euclid(d as isize), o.rem_euclid(d as isize) as usize);
            r * layout.phase_len + (q - layout.q_min) as usize
        };
        self.centre_off = at(0);
        self.plus_off = self.pair_o.iter().map(|&o| at(o as isize)).collect();
        self.minus_off = self.pair_o.iter().map(|&o| at(-(o as isize))).collect();
        self.reach = self
            .plus_off
            .iter()
            .chain(&self.minus_off)
            .fold(self.centre_off, |a, &b| a.max(b));
    }
}

impl Polyphase {
    /// The chunking for half-length `half`, decimation `d` and `n_out` outputs per trace; `None`
    /// when even one block does not fit the scratch buffer.
    fn plan(half: usize, d: usize, n_out: usize) -> Option<Polyphase> {
        let q_min = (-(half as isize)).div_euclid(d as isize);
        let span = ((half / d) as isize - q_min) as usize;
        // Floats per phase: aim at CHUNK_TARGET in all, but let long filters use the whole buffer
        // rather than chunks dominated by their overlap.
        let per_phase = (SCRATCH / d).min((CHUNK_TARGET / d).max(2 * span + BLOCK));
        let chunk = (per_phase.saturating_sub(span) / BLOCK * BLOCK).min(n_out.div_ceil(BLOCK) * BLOCK);
        (chunk > 0).then_some(Polyphase {
            chunk,
            phase_len: chunk + span,
            q_min,
            span,
        })
    }

    /// Copies the first `len` polyphase entries of every phase for the chunk starting at output
    /// `m0` into `scratch`, zeros where the input index is outside the trace.
    #[inline(always)]
    fn fill(&self, x: ArrayView1<'_, f32>, d: usize, m0: usize, len: usize, scratch: &mut [f32; SCRATCH]) {
        let (n, di, l) = (x.len() as isize, d as isize, self.phase_len);
        let s0 = m0 as isize + self.q_min;
        // Entry i of phase r holds x[(s0 + i)·d + r]. For lo ≤ i < hi the whole group
        // x[(s0 + i)·d..][..d] is inside the trace; the entries outside that range (the ends of
        // the trace, at most about `span` per chunk) are done one by one.
        let lo = (-s0).clamp(0, len as isize) as usize;
        let hi = (n / di - s0).clamp(lo as isize, len as isize) as usize;
        for r in 0..d {
            for i in (0..lo).chain(hi..len) {
                let k = (s0 + i as isize) * di + r as isize;
                scratch[r * l + i] = if (0..n).contains(&k) { x[k as usize] } else { 0.0 };
            }
        }
        if hi == lo {
            return;
        }
        let k0 = ((s0 + lo as isize) * di) as usize;
        let Some(xs) = x.as_slice() else {
            for r in 0..d {
                let src = x.slice(s![k0 + r..; d]);
                for (v, &s) in scratch[r * l + lo..r * l + hi].iter_mut().zip(src.iter()) {
                    *v = s;
                }
            }
            return;
        };
        let src = &xs[k0..k0 + (hi - lo) * d];
        match d {
            1 => scratch[lo..hi].copy_from_slice(src),
            2 => {
                let (p0, p1) = scratch.split_at_mut(l);
                for ((a, b), g) in p0[lo..hi].iter_mut().zip(&mut p1[lo..hi]).zip(src.chunks_exact(2)) {
                    *a = g[0];
                    *b = g[1];
                }
            }
            _ => {
                for r in 0..d {
                    for (v, g) in scratch[r * l + lo..r * l + hi].iter_mut().zip(src.chunks_exact(d)) {
                        *v = g[r];
                    }
                }
            }
        }
    }
}

/// The portable polyphase kernel: `out[i]` = output `ms + i` for `i < BLOCK`, from the chunk's
/// scratch at `base + i`. Plain loops over fixed-size arrays, which compilers vectorise.
fn block_scalar(t: &Taps, scratch: &[f32; SCRATCH], base: usize, mix: (&[f32], &[f32]), out: &mut [Complex32]) {
    let (mut re, mut im) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    let c: &[f32; BLOCK] = scratch[base + t.centre_off..][..BLOCK].try_into().unwrap();
    for i in 0..BLOCK {
        re[i] = t.centre * c[i];
    }
    for (((&po, &mo), &gr), &gi) in t.plus_off.iter().zip(&t.minus_off).zip(&t.pair_re).zip(&t.pair_im) {
        let p: &[f32; BLOCK] = scratch[base + po..][..BLOCK].try_into().unwrap();
        let q: &[f32; BLOCK] = scratch[base + mo..][..BLOCK].try_into().unwrap();
        for i in 0..BLOCK {
            re[i] += gr * (p[i] + q[i]);
            im[i] += gi * (p[i] - q[i]);
        }
    }
    let (mr, mi) = mix;
    for (i, v) in out[..BLOCK].iter_mut().enumerate() {
        *v = Complex32::new(re[i] * mr[i] - im[i] * mi[i], re[i] * mi[i] + im[i] * mr[i]);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! The AVX2 + FMA polyphase kernel: [`super::block_scalar`] with `BLOCK / 8` vectors per
    //! accumulator and fused multiply-adds; the whole trace loop (chunk copy included) is compiled
    //! for AVX2.

    use super::{BLOCK, Demodulator, Polyphase, SCRATCH, Taps};
    use ndarray::{ArrayView1, ArrayViewMut1};
    use num_complex::Complex32;
    use std::arch::x86_64::*;

    /// Vectors per block.
    const V: usize = BLOCK / 8;

    /// [`Demodulator::trace`] with this kernel.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn trace(
        plan: &Demodulator,
        layout: Polyphase,
        x: ArrayView1<'_, f32>,
        y: ArrayViewMut1<'_, Complex32>,
        scratch: &mut [f32; SCRATCH],
    ) {
        // SAFETY: the caller guarantees AVX2 and FMA.
        plan.trace_polyphase(layout, x, y, scratch, |t, s, base, mix, out| unsafe {
            block(t, s, base, mix, out)
        });
    }

    /// As [`super::block_scalar`].
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn block(t: &Taps, scratch: &[f32; SCRATCH], base: usize, mix: (&[f32], &[f32]), out: &mut [Complex32]) {
        assert!(
            base + t.reach + BLOCK <= SCRATCH && out.len() >= BLOCK && mix.0.len() >= BLOCK && mix.1.len() >= BLOCK
        );
        let s = scratch.as_ptr();
        // SAFETY: every load reads `BLOCK` floats from `s + base + offset` with offset ≤ `t.reach`,
        // in bounds by the assertion; the stores write `2·BLOCK` floats to `out` (a `Complex32` is
        // two `f32`, `repr(C)`), also asserted.
        unsafe {
            let g0 = _mm256_set1_ps(t.centre);
            let c = s.add(base + t.centre_off);
            let mut re = [_mm256_setzero_ps(); V];
            let mut im = [_mm256_setzero_ps(); V];
            for (v, r) in re.iter_mut().enumerate() {
                *r = _mm256_mul_ps(g0, _mm256_loadu_ps(c.add(8 * v)));
            }
            for (((&po, &mo), &gr), &gi) in t.plus_off.iter().zip(&t.minus_off).zip(&t.pair_re).zip(&t.pair_im) {
                let (p, q) = (s.add(base + po), s.add(base + mo));
                let (gr, gi) = (_mm256_set1_ps(gr), _mm256_set1_ps(gi));
                for v in 0..V {
                    let (a, b) = (_mm256_loadu_ps(p.add(8 * v)), _mm256_loadu_ps(q.add(8 * v)));
                    re[v] = _mm256_fmadd_ps(gr, _mm256_add_ps(a, b), re[v]);
                    im[v] = _mm256_fmadd_ps(gi, _mm256_sub_ps(a, b), im[v]);
                }
            }
            let o = out.as_mut_ptr() as *mut f32;
            for v in 0..V {
                let mr = _mm256_loadu_ps(mix.0.as_ptr().add(8 * v));
                let mi = _mm256_loadu_ps(mix.1.as_ptr().add(8 * v));
                let yr = _mm256_fmsub_ps(re[v], mr, _mm256_mul_ps(im[v], mi));
                let yi = _mm256_fmadd_ps(re[v], mi, _mm256_mul_ps(im[v], mr));
                // Interleave (re, im): lanes 0–3 and 4–7 of each vector.
                let lo = _mm256_unpacklo_ps(yr, yi);
                let hi = _mm256_unpackhi_ps(yr, yi);
                _mm256_storeu_ps(o.add(16 * v), _mm256_permute2f128_ps::<0x20>(lo, hi));
                _mm256_storeu_ps(o.add(16 * v + 8), _mm256_permute2f128_ps::<0x31>(lo, hi));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(fs: f64, t0: f64, n: usize, config: DemodConfig) -> Result<Demodulator> {
        Demodulator::new(Sampling::new(fs, t0, n)?, config)
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(plan_of(40e6, 0.0, 100, DemodConfig::new(5e6, 5e6, 0)).is_err());
        assert!(plan_of(40e6, 0.0, 100, DemodConfig::new(5e6, 30e6, 1)).is_err());
        assert!(plan_of(40e6, 0.0, 0, DemodConfig::new(5e6, 5e6, 1)).is_err());
        let mut c = DemodConfig::new(5e6, 5e6, 2);
        c.n_taps = Some(4);
        assert!(plan_of(40e6, 0.0, 100, c).is_err());
        let p = plan_of(40e6, 1e-6, 101, DemodConfig::new(5e6, 5e6, 4)).unwrap();
        assert_eq!(p.output_len(), 26);
        assert!(
            p.demodulate_into(
                ndarray::Array3::zeros((1, 1, 100)).view(),
                ndarray::Array3::zeros((1, 1, 26)).view_mut()
            )
            .is_err()
        );
    }

    use ndarray::Array3;
    use num_complex::Complex64;
    use rand::{Rng, SeedableRng};

    /// One case: (fs, f_demod, cut-off, D, taps, n, t0).
    type Case = (f64, f64, f64, usize, Option<usize>, usize, f64);

    const CASES: [Case; 10] = [
        (14e6, 3.5e6, 3.15e6, 2, None, 2900, 0.0),   // the abdomen preset's trace
        (40e6, 5e6, 5e6, 4, None, 401, 1e-6),        // n not a multiple of D
        (40e6, 5e6, 10e6, 1, Some(3), 50, -2.5e-6),  // D = 1, shortest filter
        (40e6, 7e6, 4e6, 3, Some(101), 40, 0.3e-6),  // trace shorter than the filter
        (20e6, 5e6, 2e6, 4, Some(31), 5, 0.0),       // 2 outputs, trace shorter than the filter
        (10e6, 2.5e6, 2.5e6, 1, Some(7), 1, 1e-7),   // one sample
        (40e6, 5e6, 5e6, 1, Some(201), 9000, 2e-6),  // D = 1, several chunks
        (40e6, 6e6, 3e6, 5, Some(63), 1000, 3.7e-6), // D = 5
        (40e6, 5e6, 2e6, 3, Some(801), 20000, 0.0),  // long filter, several chunks
        (40e6, 5e6, 0.09e6, 200, None, 2000, 0.0),   // D = 200: the direct kernel
    ];

    /// Filter every input sample, then decimate, all in f64: the definition in the module docs.
    fn reference(x: &[f32], case: Case) -> Vec<Complex64> {
        let (fs, f, cut, d, taps, n, t0) = case;
        let pi = std::f64::consts::PI;
        let n_taps = taps.unwrap_or(2 * (4.0 * fs / cut).round() as usize + 1);
        let half = (n_taps / 2) as isize;
        let fc = cut / fs;
        let mut h: Vec<f64> = (0..n_taps)
            .map(|j| {
                let m = j as f64 - half as f64;
                let sinc = if j as isize == half {
                    2.0 * fc
                } else {
                    (2.0 * pi * fc * m).sin() / (pi * m)
                };
                let w = 2.0 * pi * j as f64 / (n_taps - 1) as f64;
                sinc * (0.42 - 0.5 * w.cos() + 0.08 * (2.0 * w).cos())
            })
            .collect();
        let sum: f64 = h.iter().sum();
        h.iter_mut().for_each(|v| *v *= 2.0 / sum);
        let mixed: Vec<Complex64> = (0..n)
            .map(|k| x[k] as f64 * Complex64::from_polar(1.0, -2.0 * pi * f * (t0 + k as f64 / fs)))
            .collect();
        let filtered: Vec<Complex64> = (0..n as isize)
            .map(|k| {
                (0..n_taps as isize)
                    .filter(|j| (0..n as isize).contains(&(k + j - half)))
                    .map(|j| h[j as usize] * mixed[(k + j - half) as usize])
                    .sum()
            })
            .collect();
        filtered.into_iter().step_by(d).collect()
    }

    fn plan(case: Case) -> Demodulator {
        let (fs, f, cut, d, taps, n, t0) = case;
        let mut config = DemodConfig::new(f, cut, d);
        config.n_taps = taps;
        plan_of(fs, t0, n, config).unwrap()
    }

    /// The kernels this CPU can run for `p`.
    fn kernels(p: &Demodulator) -> Vec<Kernel> {
        let mut v = vec![Kernel::Direct];
        if p.layout.is_some() {
            v.push(Kernel::Scalar);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                v.push(Kernel::Avx2);
            }
        }
        v
    }

    fn with_kernel(p: &Demodulator, k: Kernel) -> Demodulator {
        let mut p = p.clone();
        p.kernel = k;
        if k == Kernel::Direct {
            p.layout = None;
        }
        p
    }

    fn noise(shape: (usize, usize, usize), seed: u64) -> Array3<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Array3::from_shape_fn(shape, |_| rng.random::<f32>() - 0.5)
    }

    fn run(p: &Demodulator, rf: &Array3<f32>) -> Array3<Complex32> {
        let (a, b, _) = rf.dim();
        let mut iq = Array3::from_elem((a, b, p.output_len()), Complex32::new(f32::NAN, f32::NAN));
        p.demodulate_into(rf.view(), iq.view_mut()).unwrap();
        iq
    }

    #[test]
    fn every_kernel_matches_the_f64_reference() {
        for (ci, &case) in CASES.iter().enumerate() {
            let p = plan(case);
            let rf = noise((2, 3, case.5), ci as u64);
            for k in kernels(&p) {
                let iq = run(&with_kernel(&p, k), &rf);
                for (lane, got) in rf.lanes(Axis(2)).into_iter().zip(iq.lanes(Axis(2))) {
                    let want = reference(lane.as_slice().unwrap(), case);
                    assert_eq!(want.len(), got.len());
                    let peak = want.iter().fold(0.0f64, |a, v| a.max(v.norm()));
                    let err = want.iter().zip(got.iter()).fold(0.0f64, |a, (w, g)| {
                        a.max((w - Complex64::new(g.re as f64, g.im as f64)).norm())
                    });
                    assert!(err <= 1e-5 * peak, "case {ci} {k:?}: error {err} vs peak {peak}");
                }
            }
        }
    }

    #[test]
    fn the_direct_kernel_is_used_where_the_chunk_does_not_fit() {
        assert!(plan(CASES[9]).layout.is_none());
        for case in &CASES[..9] {
            assert!(plan(*case).layout.is_some(), "{case:?}");
        }
    }

    #[test]
    fn polyphase_kernels_equal_the_direct_one() {
        // Scalar and direct do the same operations in the same order: equal bit for bit. The AVX2
        // kernel fuses multiply-adds: equal to rounding.
        for (ci, &case) in CASES.iter().enumerate() {
            let p = plan(case);
            let rf = noise((1, 4, case.5), 100 + ci as u64);
            let direct = run(&with_kernel(&p, Kernel::Direct), &rf);
            let peak = direct.iter().fold(0.0f32, |a, v| a.max(v.norm()));
            for k in kernels(&p) {
                let iq = run(&with_kernel(&p, k), &rf);
                if k == Kernel::Scalar {
                    assert_eq!(iq, direct, "case {ci}");
                }
                let err = iq.iter().zip(&direct).fold(0.0f32, |a, (x, y)| a.max((x - y).norm()));
                assert!(err <= 1e-6 * peak, "case {ci} {k:?}: {err} vs peak {peak}");
            }
        }
    }

    #[test]
    fn strided_views_give_the_same_result() {
        for case in [CASES[0], CASES[3], CASES[8]] {
            let p = plan(case);
            let n = case.5;
            let rf = noise((2, 3, n), 7);
            let want = run(&p, &rf);
            // Input: every other channel of a wider array; output: lanes with stride != 1.
            let mut wide = Array3::zeros((2, 6, n));
            wide.slice_mut(s![.., ..;2, ..]).assign(&rf);
            let mut t = Array3::from_elem((p.output_len(), 3, 2), Complex32::new(f32::NAN, 0.0));
            let mut out = t.view_mut().permuted_axes([2, 1, 0]);
            assert_eq!(out.dim(), (2, 3, p.output_len()));
            p.demodulate_into(wide.slice(s![.., ..;2, ..]), out.view_mut()).unwrap();
            assert_eq!(out, want.view());
        }
    }
}
