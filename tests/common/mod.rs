//! Helpers shared by the physics tests: independent FFT-based signal analysis.
#![allow(dead_code)]

use rustfft::FftPlanner;
use rustfft::num_complex::Complex;

/// Spectrum of `x` zero-padded to twice the next power of two, with the planner for the inverse.
fn padded_spectrum(x: &[f32]) -> (Vec<Complex<f64>>, FftPlanner<f64>) {
    let n = x.len().next_power_of_two() * 2;
    let mut buf: Vec<Complex<f64>> = (0..n)
        .map(|i| Complex::new(x.get(i).copied().unwrap_or(0.0) as f64, 0.0))
        .collect();
    let mut p = FftPlanner::new();
    p.plan_fft_forward(n).process(&mut buf);
    (buf, p)
}

/// Envelope of a real trace via its analytic signal (FFT, zeroed negative frequencies).
pub fn envelope(x: &[f32]) -> Vec<f64> {
    let (mut buf, mut p) = padded_spectrum(x);
    let n = buf.len();
    for (k, v) in buf.iter_mut().enumerate() {
        if k == 0 || k == n / 2 {
            continue;
        }
        *v *= if k < n / 2 { 2.0 } else { 0.0 };
    }
    p.plan_fft_inverse(n).process(&mut buf);
    buf[..x.len()].iter().map(|v| v.norm() / n as f64).collect()
}

/// Sub-sample index of the envelope maximum (parabolic fit).
pub fn peak_index(x: &[f32]) -> f64 {
    let e = envelope(x);
    let (i, _) = e
        .iter()
        .enumerate()
        .fold((0, f64::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
    if i == 0 || i + 1 >= e.len() {
        return i as f64;
    }
    let (a, b, c) = (e[i - 1], e[i], e[i + 1]);
    i as f64 + 0.5 * (a - c) / (a - 2.0 * b + c)
}

/// Magnitude of the discrete-time Fourier transform of `x` (sampled at `fs`) at frequency `f`.
pub fn dtft_mag(x: &[f32], fs: f64, f: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * f / fs;
    let (mut re, mut im) = (0.0, 0.0);
    for (k, &v) in x.iter().enumerate() {
        re += v as f64 * (w * k as f64).cos();
        im -= v as f64 * (w * k as f64).sin();
    }
    (re * re + im * im).sqrt()
}

/// Frequency of the maximum of |DTFT| over (0, fs/2), searched on a fine grid.
pub fn peak_frequency(x: &[f32], fs: f64) -> f64 {
    let n = 2000;
    (1..n)
        .map(|i| i as f64 * fs / 2.0 / n as f64)
        .fold((0.0, 0.0), |a, f| {
            let m = dtft_mag(x, fs, f);
            if m > a.1 { (f, m) } else { a }
        })
        .0
}

/// Delays `x` by `d` samples (fractional) with an FFT phase ramp on a zero-padded copy.
pub fn delay(x: &[f32], d: f64) -> Vec<f64> {
    let (mut buf, mut p) = padded_spectrum(x);
    let n = buf.len();
    for (k, v) in buf.iter_mut().enumerate() {
        let kk = if k <= n / 2 { k as f64 } else { k as f64 - n as f64 };
        let ph = -2.0 * std::f64::consts::PI * kk * d / n as f64;
        *v *= Complex::new(ph.cos(), ph.sin());
    }
    p.plan_fft_inverse(n).process(&mut buf);
    buf[..x.len()].iter().map(|v| v.re / n as f64).collect()
}

/// The Hilbert transform (quadrature) of a real trace: the imaginary part of its analytic signal.
pub fn quadrature(x: &[f32]) -> Vec<f32> {
    let (mut buf, mut p) = padded_spectrum(x);
    let n = buf.len();
    for (k, v) in buf.iter_mut().enumerate() {
        if k == 0 || k == n / 2 {
            continue;
        }
        *v *= if k < n / 2 { 2.0 } else { 0.0 };
    }
    p.plan_fft_inverse(n).process(&mut buf);
    buf[..x.len()].iter().map(|v| (v.im / n as f64) as f32).collect()
}
