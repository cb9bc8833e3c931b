//! Envelope detection: the magnitude of the analytic signal along depth.
//!
//! An image on a [`Grid`](crate::grid::Grid) is `[n_lines, n_depths]`, one line contiguous along
//! depth. For RF lines, [`EnvelopeDetector::detect_rf_into`] forms the analytic signal of each line
//! with an FFT (forward real-to-complex transform, negative frequencies set to zero, positive ones
//! doubled, DC and — for an even length — Nyquist kept once, inverse complex transform) and writes its
//! magnitude; this is what `scipy.signal.hilbert` computes. For IQ (baseband) lines the envelope is
//! simply the magnitude, [`EnvelopeDetector::detect_iq_into`].
//!
//! The FFT plans and all scratch memory are made once in the constructor; the `_into` methods
//! allocate nothing and run lines in parallel with rayon. Each line is computed on its own, with the
//! same arithmetic whichever thread runs it, so results do not depend on the thread count.
//!
//! ```
//! use ndarray::Array2;
//! use sonochip::envelope::EnvelopeDetector;
//!
//! let n = 256;
//! // One line: a tone with an integer number of cycles; its envelope is 1 everywhere.
//! let rf = Array2::from_shape_fn((1, n), |(_, k)| (2.0 * std::f32::consts::PI * 16.0 * k as f32 / n as f32).cos());
//! let det = EnvelopeDetector::new(n).unwrap();
//! let mut env = Array2::zeros((1, n));
//! det.detect_rf_into(rf.view(), env.view_mut()).unwrap();
//! assert!(env.iter().all(|&e| (e - 1.0).abs() < 1e-3));
//! ```

use crate::error::{DEFAULT_MEMORY_CAP_BYTES, Error, Result, check_size};
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Axis};
use num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Longest FFT length an [`EnvelopeDetector`] accepts (2^20 samples per line).
pub const MAX_FFT_LEN: usize = 1 << 20;

/// Largest number of scratch slots (one per rayon worker) a detector keeps.
const MAX_SLOTS: usize = 256;

/// Most memory a detector's scratch slots take together, bytes (fewer slots than workers are kept
/// when one slot is large; it always keeps at least one).
pub const SCRATCH_BUDGET_BYTES: u64 = 64 << 20;

/// Runs `f(first_row, block)` on disjoint blocks of consecutive rows of `view`, in parallel.
///
/// The rows are split in halves recursively with `rayon::join` (no allocation) until a block holds
/// at most `max(min_rows, rows / (4 · threads))` rows. `first_row` is the index in `view` of the
/// block's first row. Which thread runs which block does not change what `f` computes for a row.
pub(crate) fn par_row_blocks<T, F>(view: ArrayViewMut2<'_, T>, min_rows: usize, f: &F)
where
    T: Send,
    F: Fn(usize, ArrayViewMut2<'_, T>) + Sync,
{
    let rows = view.nrows();
    let grain = rows.div_ceil(4 * rayon::current_num_threads()).max(min_rows).max(1);
    split_rows(view, 0, grain, f);
}

fn split_rows<T, F>(view: ArrayViewMut2<'_, T>, first: usize, grain: usize, f: &F)
where
    T: Send,
    F: Fn(usize, ArrayViewMut2<'_, T>) + Sync,
{
    let rows = view.nrows();
    if rows <= grain {
        f(first, view);
        return;
    }
    let mid = rows / 2;
    let (a, b) = view.split_at(Axis(0), mid);
    rayon::join(
        || split_rows(a, first, grain, f),
        || split_rows(b, first + mid, grain, f),
    );
}

/// Per-worker FFT buffers.
struct Scratch {
    real: Vec<f32>,
    half: Vec<Complex32>,
    r2c_scratch: Vec<Complex32>,
    full: Vec<Complex32>,
    c2c_scratch: Vec<Complex32>,
}

/// Plans and scratch memory for envelope detection of lines of a fixed length. See the
/// [module docs](self).
///
/// **Scratch strategy.** The detector holds a pool of scratch slots, one per rayon worker of the
/// pool current at construction (at most 256, and no more than fit in [`SCRATCH_BUDGET_BYTES`]
/// together, at least one), each behind its own `Mutex`. A block of lines locks
/// the slot of its worker index (`rayon::current_thread_index`), falling back to any free slot and
/// finally waiting for one, so calls from a larger pool or from several threads at once stay
/// correct; no lock is held across a rayon call. Nothing is allocated per call.
pub struct EnvelopeDetector {
    n_depths: usize,
    n_fft: usize,
    r2c: Arc<dyn RealToComplex<f32>>,
    c2c: Arc<dyn Fft<f32>>,
    slots: Vec<Mutex<Scratch>>,
}

impl std::fmt::Debug for EnvelopeDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeDetector")
            .field("n_depths", &self.n_depths)
            .field("n_fft", &self.n_fft)
            .field("scratch_slots", &self.slots.len())
            .finish()
    }
}

impl EnvelopeDetector {
    /// A detector for lines of `n_depths` samples, with an FFT of exactly that length (no padding),
    /// so the result equals `scipy.signal.hilbert` of each line. Any length works (RustFFT handles
    /// prime sizes); for awkward lengths [`EnvelopeDetector::with_fft_len`] with
    /// [`fast_fft_len`](EnvelopeDetector::fast_fft_len) can be faster.
    pub fn new(n_depths: usize) -> Result<Self> {
        Self::with_fft_len(n_depths, n_depths)
    }

    /// A detector for lines of `n_depths` samples that zero-pads each line to `n_fft ≥ n_depths`
    /// samples before the transform and keeps the first `n_depths` output samples (as
    /// `scipy.signal.hilbert(x, n_fft)[:n_depths]`). Padding also reduces the wrap-around of the
    /// circular analytic signal between the two ends of a line.
    ///
    /// `n_depths ≥ 1` and `n_fft` in `n_depths..=`[`MAX_FFT_LEN`] are checked before anything is
    /// planned or allocated (errors name `n_depths` or `n_fft`). Cost: FFT plans of length
    /// `n_fft` (O(`n_fft`) twiddles, more for large prime lengths) and the scratch slots, each
    /// about 24 bytes per FFT sample plus the FFTs' scratch, at most [`SCRATCH_BUDGET_BYTES`]
    /// together (beyond one slot).
    pub fn with_fft_len(n_depths: usize, n_fft: usize) -> Result<Self> {
        if n_depths == 0 {
            return Err(Error::invalid("n_depths", "a count >= 1", n_depths));
        }
        if n_fft < n_depths || n_fft > MAX_FFT_LEN {
            return Err(Error::invalid(
                "n_fft",
                format!("a length in [n_depths = {n_depths}, {MAX_FFT_LEN}]"),
                n_fft,
            ));
        }
        let r2c = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let c2c = FftPlanner::<f32>::new().plan_fft_inverse(n_fft);
        // One slot's buffers, counted before any is allocated.
        let complex = std::mem::size_of::<Complex32>() as u128;
        let slot_bytes = 4 * n_fft as u128
            + complex * (n_fft / 2 + 1) as u128
            + complex * r2c.get_scratch_len() as u128
            + complex * n_fft as u128
            + complex * c2c.get_inplace_scratch_len() as u128;
        check_size("envelope scratch", slot_bytes, DEFAULT_MEMORY_CAP_BYTES)?;
        let fit = (u128::from(SCRATCH_BUDGET_BYTES) / slot_bytes.max(1)).max(1);
        let n_slots = rayon::current_num_threads()
            .clamp(1, MAX_SLOTS)
            .min(usize::try_from(fit).unwrap_or(MAX_SLOTS));
        let slots = (0..n_slots)
            .map(|_| {
                Mutex::new(Scratch {
                    real: r2c.make_input_vec(),
                    half: r2c.make_output_vec(),
                    r2c_scratch: r2c.make_scratch_vec(),
                    full: vec![Complex32::default(); n_fft],
                    c2c_scratch: vec![Complex32::default(); c2c.get_inplace_scratch_len()],
                })
            })
            .collect();
        Ok(EnvelopeDetector {
            n_depths,
            n_fft,
            r2c,
            c2c,
            slots,
        })
    }

    /// The smallest length `≥ n` whose only prime factors are 2, 3, 5 and 7 (fast for RustFFT);
    /// `n` itself when `n > MAX_FFT_LEN`.
    pub fn fast_fft_len(n: usize) -> usize {
        if n > MAX_FFT_LEN {
            return n;
        }
        let smooth = |mut m: usize| {
            for p in [2, 3, 5, 7] {
                while m.is_multiple_of(p) {
                    m /= p;
                }
            }
            m == 1
        };
        (n.max(1)..).find(|&m| smooth(m)).unwrap_or(n)
    }

    /// Samples per line this detector expects.
    pub fn n_depths(&self) -> usize {
        self.n_depths
    }

    /// The FFT length (`n_depths`, or more when zero-padding).
    pub fn n_fft(&self) -> usize {
        self.n_fft
    }

    /// Writes the envelope (analytic-signal magnitude along depth) of the RF image `rf`
    /// (`[n_lines, n_depths]`) into `out` (same shape). Allocates nothing.
    pub fn detect_rf_into(&self, rf: ArrayView2<'_, f32>, out: ArrayViewMut2<'_, f32>) -> Result<()> {
        if rf.ncols() != self.n_depths {
            return Err(Error::shape(
                "rf",
                format!("[n_lines, {}]", self.n_depths),
                format!("{:?}", rf.shape()),
            ));
        }
        check_same_shape(rf.dim(), out.dim())?;
        par_row_blocks(out, 1, &|first, mut block: ArrayViewMut2<'_, f32>| {
            let mut scratch = self.scratch();
            for (i, row) in block.outer_iter_mut().enumerate() {
                self.analytic_magnitude(rf.row(first + i), row, &mut scratch);
            }
        });
        Ok(())
    }

    /// Allocating form of [`detect_rf_into`](EnvelopeDetector::detect_rf_into).
    pub fn detect_rf(&self, rf: ArrayView2<'_, f32>) -> Result<Array2<f32>> {
        let mut out = Array2::zeros(rf.dim());
        self.detect_rf_into(rf, out.view_mut())?;
        Ok(out)
    }

    /// Writes the envelope `|iq|` of a complex baseband image into `out` (same shape, any number of
    /// depths). Allocates nothing.
    pub fn detect_iq_into(&self, iq: ArrayView2<'_, Complex32>, out: ArrayViewMut2<'_, f32>) -> Result<()> {
        check_same_shape(iq.dim(), out.dim())?;
        par_row_blocks(out, 1, &|first, mut block: ArrayViewMut2<'_, f32>| {
            for (i, mut row) in block.outer_iter_mut().enumerate() {
                for (o, c) in row.iter_mut().zip(iq.row(first + i)) {
                    *o = (c.re * c.re + c.im * c.im).sqrt();
                }
            }
        });
        Ok(())
    }

    /// Allocating form of [`detect_iq_into`](EnvelopeDetector::detect_iq_into).
    pub fn detect_iq(&self, iq: ArrayView2<'_, Complex32>) -> Result<Array2<f32>> {
        let mut out = Array2::zeros(iq.dim());
        self.detect_iq_into(iq, out.view_mut())?;
        Ok(out)
    }

    /// Locks a scratch slot: the calling worker's own if free, else any free one, else waits.
    fn scratch(&self) -> MutexGuard<'_, Scratch> {
        let n = self.slots.len();
        let home = rayon::current_thread_index().unwrap_or(0) % n;
        for i in 0..n {
            if let Ok(guard) = self.slots[(home + i) % n].try_lock() {
                return guard;
            }
        }
        self.slots[home].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Analytic-signal magnitude of one line.
    fn analytic_magnitude(&self, src: ArrayView1<'_, f32>, mut dst: ArrayViewMut1<'_, f32>, s: &mut Scratch) {
        let (n, m) = (self.n_depths, self.n_fft);
        for (r, &x) in s.real.iter_mut().zip(src.iter()) {
            *r = x;
        }
        s.real[n..].fill(0.0);
        let fwd = self
            .r2c
            .process_with_scratch(&mut s.real, &mut s.half, &mut s.r2c_scratch);
        debug_assert!(fwd.is_ok(), "buffer lengths are fixed by the plan");
        // Positive frequencies strictly between DC and Nyquist are 1..=n_pos.
        let n_pos = (m - 1) / 2;
        s.full[0] = s.half[0];
        for (f, h) in s.full[1..=n_pos].iter_mut().zip(&s.half[1..=n_pos]) {
            *f = h * 2.0;
        }
        let mut first_zero = n_pos + 1;
        if m % 2 == 0 {
            s.full[m / 2] = s.half[m / 2];
            first_zero += 1;
        }
        s.full[first_zero..].fill(Complex32::default());
        self.c2c.process_with_scratch(&mut s.full, &mut s.c2c_scratch);
        let scale = 1.0 / m as f32;
        for (d, c) in dst.iter_mut().zip(&s.full[..n]) {
            let (re, im) = (c.re * scale, c.im * scale);
            *d = (re * re + im * im).sqrt();
        }
    }
}

fn check_same_shape(input: (usize, usize), out: (usize, usize)) -> Result<()> {
    if input == out {
        Ok(())
    } else {
        Err(Error::shape(
            "out",
            format!("{input:?} (the input's shape)"),
            format!("{out:?}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn detect(det: &EnvelopeDetector, line: &[f32]) -> Vec<f32> {
        let rf = Array2::from_shape_vec((1, line.len()), line.to_vec()).unwrap();
        det.detect_rf(rf.view()).unwrap().into_raw_vec_and_offset().0
    }

    /// Analytic signal by a direct O(N²) DFT in f64 (independent oracle).
    fn dft_envelope(x: &[f64]) -> Vec<f64> {
        let n = x.len();
        let spec: Vec<(f64, f64)> = (0..n)
            .map(|k| {
                x.iter().enumerate().fold((0.0, 0.0), |(re, im), (t, &v)| {
                    let a = -2.0 * PI * (k * t) as f64 / n as f64;
                    (re + v * a.cos(), im + v * a.sin())
                })
            })
            .collect();
        let weight = |k: usize| {
            if k == 0 || 2 * k == n {
                1.0
            } else if 2 * k < n {
                2.0
            } else {
                0.0
            }
        };
        (0..n)
            .map(|t| {
                let (mut re, mut im) = (0.0, 0.0);
                for (k, &(sr, si)) in spec.iter().enumerate() {
                    let a = 2.0 * PI * (k * t) as f64 / n as f64;
                    let w = weight(k);
                    re += w * (sr * a.cos() - si * a.sin());
                    im += w * (sr * a.sin() + si * a.cos());
                }
                (re * re + im * im).sqrt() / n as f64
            })
            .collect()
    }

    #[test]
    fn gaussian_pulse_envelope_is_its_gaussian() {
        let (fs, fc, sigma) = (40e6, 5e6, 0.4e-6);
        for n in [1024usize, 1000, 999] {
            let t0 = 0.5 * n as f64 / fs;
            let gauss = |k: usize| {
                let t = k as f64 / fs - t0;
                (-t * t / (2.0 * sigma * sigma)).exp()
            };
            let line: Vec<f32> = (0..n)
                .map(|k| (gauss(k) * (2.0 * PI * fc * k as f64 / fs).cos()) as f32)
                .collect();
            let env = detect(&EnvelopeDetector::new(n).unwrap(), &line);
            for (k, &e) in env.iter().enumerate().skip(20).take(n - 40) {
                assert!((e as f64 - gauss(k)).abs() < 0.01, "n {n} k {k}: {e} vs {}", gauss(k));
            }
        }
    }

    #[test]
    fn pure_tone_has_flat_envelope() {
        let n = 512;
        // Integer number of cycles: exactly flat everywhere.
        let tone: Vec<f32> = (0..n)
            .map(|k| (2.0 * PI * 37.0 * k as f64 / n as f64).cos() as f32)
            .collect();
        let env = detect(&EnvelopeDetector::new(n).unwrap(), &tone);
        assert!(env.iter().all(|&e| (e - 1.0).abs() < 1e-4));
        // Non-integer number of cycles: flat in the middle, away from the wrap-around.
        let amp = 0.7;
        let tone: Vec<f32> = (0..n).map(|k| (amp * (0.4113 * k as f64 + 0.3).sin()) as f32).collect();
        let det = EnvelopeDetector::with_fft_len(n, EnvelopeDetector::fast_fft_len(2 * n)).unwrap();
        let env = detect(&det, &tone);
        for &e in &env[n / 4..3 * n / 4] {
            assert!((e as f64 - amp).abs() < 0.02 * amp, "{e}");
        }
    }

    #[test]
    fn matches_direct_dft_for_odd_and_even_lengths() {
        for n in [1usize, 2, 3, 16, 63, 64] {
            let x: Vec<f64> = (0..n).map(|k| ((k * 7919) % 23) as f64 / 11.0 - 1.0).collect();
            let line: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let env = detect(&EnvelopeDetector::new(n).unwrap(), &line);
            for (e, r) in env.iter().zip(dft_envelope(&x)) {
                assert!((*e as f64 - r).abs() < 1e-4 * (1.0 + r), "n {n}: {e} vs {r}");
            }
        }
    }

    #[test]
    fn padded_matches_direct_dft_of_padded_line() {
        let (n, m) = (40usize, 48usize);
        let mut x: Vec<f64> = (0..n)
            .map(|k| (0.9 * k as f64).sin() * (k as f64 / 9.0).exp().recip())
            .collect();
        let line: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let env = detect(&EnvelopeDetector::with_fft_len(n, m).unwrap(), &line);
        x.resize(m, 0.0);
        for (e, r) in env.iter().zip(dft_envelope(&x)) {
            assert!((*e as f64 - r).abs() < 1e-5 * (1.0 + r));
        }
    }

    #[test]
    fn iq_magnitude() {
        let det = EnvelopeDetector::new(4).unwrap();
        let iq = Array2::from_shape_fn((3, 5), |(l, k)| {
            Complex32::new(3.0 * (l + k) as f32, -4.0 * (l + k) as f32)
        });
        let env = det.detect_iq(iq.view()).unwrap();
        for ((l, k), &e) in env.indexed_iter() {
            assert!((e - 5.0 * (l + k) as f32).abs() < 1e-5);
        }
    }

    #[test]
    fn independent_of_thread_count_and_layout() {
        let (nl, n) = (37, 300);
        let rf = Array2::from_shape_fn((nl, n), |(l, k)| ((l * 31 + k * 17) % 29) as f32 - 14.0);
        let det = EnvelopeDetector::new(n).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| det.detect_rf(rf.view()).unwrap())
        };
        let one = run(1);
        assert_eq!(one, run(4));
        assert_eq!(one, run(7));
        // A transposed (non-contiguous) output and a reversed input row order.
        let mut out_t = Array2::zeros((n, nl));
        det.detect_rf_into(rf.view(), out_t.view_mut().reversed_axes()).unwrap();
        assert_eq!(out_t.t(), one);
    }

    #[test]
    fn shape_errors() {
        let det = EnvelopeDetector::new(8).unwrap();
        let rf = Array2::<f32>::zeros((2, 7));
        assert!(matches!(
            det.detect_rf_into(rf.view(), Array2::zeros((2, 7)).view_mut()),
            Err(Error::ShapeMismatch { name: "rf", .. })
        ));
        let rf = Array2::<f32>::zeros((2, 8));
        assert!(matches!(
            det.detect_rf_into(rf.view(), Array2::zeros((3, 8)).view_mut()),
            Err(Error::ShapeMismatch { name: "out", .. })
        ));
        let iq = Array2::<Complex32>::zeros((2, 8));
        assert!(det.detect_iq_into(iq.view(), Array2::zeros((2, 9)).view_mut()).is_err());
        assert!(EnvelopeDetector::new(0).is_err());
        assert!(EnvelopeDetector::with_fft_len(10, 9).is_err());
        assert!(EnvelopeDetector::new(MAX_FFT_LEN + 1).is_err());
        // Zero lines is fine.
        assert!(det.detect_rf(Array2::<f32>::zeros((0, 8)).view()).is_ok());
    }

    #[test]
    fn fast_lengths() {
        assert_eq!(EnvelopeDetector::fast_fft_len(1000), 1000);
        assert_eq!(EnvelopeDetector::fast_fft_len(1009), 1024);
        assert_eq!(EnvelopeDetector::fast_fft_len(11), 12);
        assert_eq!(EnvelopeDetector::fast_fft_len(0), 1);
    }

    /// Formerly one full set of scratch buffers per rayon worker whatever the FFT length (up to
    /// 256 × ~40 MB at 2^20); the slots now stay within `SCRATCH_BUDGET_BYTES` and the results do
    /// not change.
    #[test]
    fn scratch_slots_stay_within_the_budget() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(32).build().unwrap();
        let n_fft = 1 << 18;
        let det = pool.install(|| EnvelopeDetector::with_fft_len(64, n_fft).unwrap());
        let slot_bytes = {
            let s = det.slots[0].lock().unwrap();
            4 * s.real.len() + 8 * (s.half.len() + s.r2c_scratch.len() + s.full.len() + s.c2c_scratch.len())
        };
        assert!(slot_bytes > 16 * n_fft);
        assert!(
            !det.slots.is_empty() && det.slots.len() < 32,
            "{} slots",
            det.slots.len()
        );
        assert!(det.slots.len() * slot_bytes <= SCRATCH_BUDGET_BYTES as usize);
        let rf = Array2::from_shape_fn((6, 64), |(l, k)| ((l * 13 + k * 7) % 11) as f32 - 5.0);
        let many = pool.install(|| det.detect_rf(rf.view()).unwrap());
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| det.detect_rf(rf.view()).unwrap());
        assert_eq!(many, one);
        assert!(EnvelopeDetector::with_fft_len(64, MAX_FFT_LEN + 1).is_err());
        assert!(EnvelopeDetector::with_fft_len(64, usize::MAX).is_err());
    }
}
