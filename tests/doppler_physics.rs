//! Motion and flow against physics: ensembles simulated from moving phantoms, beamformed with one
//! plan and estimated over slow time.

use sonochip::doppler::pipeline::EnsembleBeamformer;
use sonochip::phantom::motion::{Motion, MovingPhantom};
use sonochip::prelude::*;
use sonochip::sim::ensemble::Ensemble;

/// A small linear probe imaging 12–24 mm with one plane wave at 5 MHz.
fn setup() -> (Acquisition, f64) {
    let probe = Probe::linear(64, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let aperture = Aperture::full(&probe, None).unwrap();
    let sequence = Sequence::plane_wave_fan(&aperture, 0.0, 1, 1540.0).unwrap();
    let pulse = Pulse::new(5e6, 0.6, 2.0).unwrap();
    let lambda = 1540.0 / 5e6;
    let grid = Grid::cartesian((-0.003, 0.003), 25, (0.012, 0.024), (0.012 / (lambda / 4.0)) as usize).unwrap();
    let acq = Acquisition::for_depth(aperture, sequence, pulse, 20e6, grid, 0.03).unwrap();
    (acq, 5e6)
}

fn speckle(seed: u64) -> Phantom {
    SpeckleBuilder::new((-0.008, 0.008), (0.008, 0.03), 8.0)
        .unwrap()
        .thickness(2e-3)
        .build(seed)
        .unwrap()
}

fn ensemble(acq: &Acquisition, medium: Medium, moving: &MovingPhantom, prf: f64, n: usize) -> Ensemble {
    Simulator::new(acq, medium).unwrap().run_ensemble(moving, prf, n).unwrap()
}

/// Mean lag-one phase over the stack (a plain Kasai average, independent of the crate's
/// estimators).
fn mean_phase(stack: ndarray::ArrayView3<'_, Complex32>) -> f64 {
    let n = stack.shape()[0];
    let mut r1 = num_complex::Complex64::new(0.0, 0.0);
    for k in 0..n - 1 {
        for (a, b) in stack.index_axis(ndarray::Axis(0), k + 1).iter().zip(stack.index_axis(ndarray::Axis(0), k).iter()) {
            let (a, b) = (num_complex::Complex64::new(a.re as f64, a.im as f64), num_complex::Complex64::new(b.re as f64, b.im as f64));
            r1 += a * b.conj();
        }
    }
    r1.arg()
}

#[test]
fn translation_gives_the_predicted_slow_time_phase() {
    let (acq, f0) = setup();
    let prf = 5000.0;
    let v_n = 1540.0 * prf / (4.0 * f0);
    for frac in [0.1, 0.5, 0.9] {
        let v = frac * v_n;
        let mut m = MovingPhantom::new();
        // Toward the probe: z decreases.
        m.push(speckle(3), Motion::Translation { velocity_m_s: [0.0, 0.0, -v] }).unwrap();
        let ens = ensemble(&acq, Medium::lossless(), &m, prf, 8);
        let mut bf = EnsembleBeamformer::new(ens.metadata(), acq.grid(), BeamformConfig::default(), ens.len()).unwrap();
        let stack = bf.process(&ens).unwrap();
        let phi = mean_phase(stack);
        let mut rd = num_complex::Complex64::new(0.0, 0.0);
        for img in stack.outer_iter() {
            for line in img.outer_iter() {
                for d in 0..line.len() - 1 {
                    let (a, b) = (line[d + 1], line[d]);
                    rd += num_complex::Complex64::new(a.re as f64, a.im as f64) * num_complex::Complex64::new(b.re as f64, -b.im as f64);
                }
            }
        }
        let f_mean = bf.f_demod_hz() + 1540.0 * rd.arg() / (4.0 * std::f64::consts::PI * bf.axial_step_m());
        println!("f_mean {f_mean:.0} Hz; Loupas {:.4}", 1540.0 * prf * phi / (4.0 * std::f64::consts::PI * f_mean));
        let v_est = 1540.0 * prf * phi / (4.0 * std::f64::consts::PI * f0);
        println!("v = {v:.4} m/s ({frac} v_N): phase {phi:.4} rad, Kasai {v_est:.4} m/s ({:+.2} %)", 100.0 * (v_est / v - 1.0));
    }
}

/// M-mode of a wall moving as `z(t) = 20 mm + 1 mm·sin(2π·t/0.1 s)`, one focused line fired at
/// 400 Hz for 0.25 s: the wall's depth, tracked on the display's columns (envelope peak with a
/// parabolic fit), recovers the period and the amplitude within 5 %.
#[test]
fn m_mode_recovers_a_moving_wall() {
    let probe = Probe::linear(64, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let aperture = Aperture::full(&probe, None).unwrap();
    let sequence = Sequence::focused(&aperture, &[[0.0, 0.0, 0.02]], 1540.0).unwrap();
    let pulse = Pulse::new(5e6, 0.6, 2.0).unwrap();
    let dz = 1540.0 / 5e6 / 4.0;
    let zs: Vec<f64> = (0..((0.012 / dz) as usize)).map(|k| 0.014 + k as f64 * dz).collect();
    let grid = Grid::cartesian_from_axes(vec![0.0], zs.clone(), 0.0).unwrap();
    let acq = Acquisition::for_depth(aperture, sequence, pulse, 20e6, grid, 0.03).unwrap();
    let wall: Vec<[f64; 3]> = (0..81).map(|i| [-0.004 + i as f64 * 1e-4, 0.0, 0.02]).collect();
    let (amp, period, prf, n) = (1e-3, 0.1, 400.0, 100);
    let mut m = MovingPhantom::new();
    m.push(
        Phantom::points(&wall).unwrap(),
        Motion::Oscillation { amplitude_m: [0.0, 0.0, amp], period_s: period },
    )
    .unwrap();
    let ens = ensemble(&acq, Medium::soft_tissue(), &m, prf, n);
    let mut bf = EnsembleBeamformer::new(ens.metadata(), acq.grid(), BeamformConfig::default(), n).unwrap();
    let stack = bf.process(&ens).unwrap();
    let mut sweep = sonochip::doppler::mmode::MModeSweep::new(zs.len(), 64, 50.0).unwrap();
    sweep.push_stack(stack, 0).unwrap();
    let env = sweep.in_time_order();
    assert_eq!(env.ncols(), 64, "the display holds its 64 newest firings");
    // All firings, in order, for the measurement.
    let mut all = sonochip::doppler::mmode::MModeSweep::new(zs.len(), n, 50.0).unwrap();
    all.push_stack(bf.stack(), 0).unwrap();
    let env = all.in_time_order();
    let depth: Vec<f64> = (0..n)
        .map(|k| {
            let col = env.column(k);
            let i = (1..col.len() - 1).max_by(|&a, &b| col[a].total_cmp(&col[b])).unwrap();
            let (a, b, c) = (col[i - 1] as f64, col[i] as f64, col[i + 1] as f64);
            zs[i] + dz * 0.5 * (a - c) / (a - 2.0 * b + c)
        })
        .collect();
    let mean = depth.iter().sum::<f64>() / n as f64;
    // Period from the crossings of the mean, both ways (linear interpolation between firings):
    // half a period apart.
    let crossings: Vec<f64> = (0..n - 1)
        .filter(|&k| (depth[k] - mean) * (depth[k + 1] - mean) < 0.0)
        .map(|k| (k as f64 + (mean - depth[k]) / (depth[k + 1] - depth[k])) / prf)
        .collect();
    assert!(crossings.len() >= 3, "{crossings:?}");
    let t_est = 2.0 * (crossings[crossings.len() - 1] - crossings[0]) / (crossings.len() - 1) as f64;
    // Amplitude: least squares of d(t) = m + a·sin(ωt) + b·cos(ωt) at the measured period.
    let w = std::f64::consts::TAU / t_est;
    let rows: Vec<[f64; 3]> = (0..n).map(|k| {
        let t = k as f64 / prf;
        [1.0, (w * t).sin(), (w * t).cos()]
    }).collect();
    let mut ata = [[0.0f64; 3]; 3];
    let mut aty = [0.0f64; 3];
    for (r, d) in rows.iter().zip(&depth) {
        for i in 0..3 {
            aty[i] += r[i] * d;
            for j in 0..3 {
                ata[i][j] += r[i] * r[j];
            }
        }
    }
    let x = solve3(ata, aty);
    let a_est = (x[1] * x[1] + x[2] * x[2]).sqrt();
    println!("M-mode wall: period {:.4} s (true {period}), amplitude {:.4} mm (true 1.0), mean depth {:.3} mm", t_est, a_est * 1e3, mean * 1e3);
    assert!((t_est / period - 1.0).abs() < 0.05);
    assert!((a_est / amp - 1.0).abs() < 0.05);
    let img = sweep.image();
    assert_eq!(img.dim(), (zs.len(), 64));
}

/// Solves a 3 × 3 linear system by Cramer's rule.
fn solve3(a: [[f64; 3]; 3], b: [f64; 3]) -> [f64; 3] {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(a);
    std::array::from_fn(|c| {
        let mut m = a;
        for r in 0..3 {
            m[r][c] = b[r];
        }
        det(m) / d
    })
}
