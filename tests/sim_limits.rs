//! The simulator's limits: valid inputs never panic, abort or allocate without bound, and never
//! give NaN or infinite RF. Each test reproduces a defect that existed before its fix.
//!
//! This binary has its own global allocator, which counts live heap bytes and their peak; the
//! tests run one at a time (`serial`) so that a measurement sees only its own allocations.

use sonochip::channel_data::{ChannelData, Sampling};
use sonochip::medium::{AttenuationMap, AttenuationRegion, MAX_ATTENUATION_REGIONS, Medium};
use sonochip::phantom::{Phantom, SpeckleBuilder};
use sonochip::probe::{Aperture, ArraySpec, ChannelMode, Probe};
use sonochip::pulse::Pulse;
use sonochip::sequence::Sequence;
use sonochip::sim::{Directivity, ElevationModel, SimOptions, Simulator};
use sonochip::workload::Workload;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard};

const C: f64 = 1540.0;

/// Counts live heap bytes and their peak.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let live = LIVE.fetch_add(bytes, SeqCst) + bytes;
    PEAK.fetch_max(live, SeqCst);
}

// SAFETY: forwards every call to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as `GlobalAlloc::alloc`.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: same contract as `GlobalAlloc::alloc_zeroed`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), SeqCst);
        // SAFETY: same contract as `GlobalAlloc::dealloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as the new block arriving before the old one leaves (as a moving realloc does).
        grew(new_size);
        LIVE.fetch_sub(layout.size(), SeqCst);
        // SAFETY: same contract as `GlobalAlloc::realloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Every test holds this lock, so that no other test allocates during a measurement.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` and returns its result and the peak of live heap bytes above those live before it.
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.load(SeqCst);
    PEAK.store(base, SeqCst);
    let r = f();
    (r, PEAK.load(SeqCst) - base)
}

fn all_finite(rf: &ChannelData<f32>) -> bool {
    rf.data().iter().all(|v| v.is_finite())
}

/// The repro: a scatterer behind the face of a convex probe, next to an edge element.
/// Elements facing away gave zero-amplitude taps that the incident wave's time span left out but
/// its histogram still wrote (`index out of bounds: the len is 532 but the index is 993`).
#[test]
fn convex_probe_with_a_scatterer_behind_its_face() {
    let _serial = serial();
    let probe = Probe::convex(64, 5e-4, 4.5e-4, 5e-3, 0.02).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::diverging_sector(&ap, 0.6, 0.0, 1, C).unwrap();
    let pulse = Pulse::new(3.5e6, 0.8, 1.0).unwrap();
    let s = Sampling::for_depth(14e6, 0.05, &seq, &pulse).unwrap();
    let sim = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s).unwrap();
    let rf = sim.run(&Phantom::points(&[[0.016, 0.0, -0.002]]).unwrap()).unwrap();
    assert!(all_finite(&rf));
    assert!(
        rf.data().iter().any(|v| *v != 0.0),
        "the elements facing the scatterer see it"
    );
}

/// The second repro: the abdomen phantom (whose capsule starts 10 mm deep, beside the arc)
/// on a 128-element convex probe of radius 40 mm with a diverging sector.
#[test]
fn abdomen_phantom_on_a_convex_probe() {
    let _serial = serial();
    let probe = Probe::convex(128, 5e-4, 4.5e-4, 5e-3, 0.04).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::diverging_sector(&ap, 0.6, 0.0, 1, C).unwrap();
    let pulse = Pulse::new(3.5e6, 0.8, 1.0).unwrap();
    let s = Sampling::for_depth(14e6, 0.16, &seq, &pulse).unwrap();
    let sim = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s).unwrap();
    let rf = sim.run(&Phantom::abdomen(0.01, 1).unwrap()).unwrap();
    assert!(all_finite(&rf));
}

/// A scatterer exactly on an element (r = 0: the obliquity factor was 0/0), on the face between
/// elements, and a hair in front of an element (where 1/r alone would overflow), on a one-row
/// linear probe (element path) and on a probe of columns (binned path). Before the fix the first
/// case panicked (`index out of bounds: the len is 132 but the index is 136`).
#[test]
fn scatterers_on_and_next_to_the_probe_face() {
    let _serial = serial();
    let linear = Probe::linear(16, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let cols = Probe::new(ArraySpec {
        name: "cols".into(),
        cols: 16,
        rows: 8,
        ..ArraySpec::cmut_9000()
    })
    .unwrap();
    let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
    for (probe, mode) in [
        (&linear, ChannelMode::Elements),
        (
            &cols,
            ChannelMode::Columns {
                elevation_focus_m: Some(0.01),
            },
        ),
        (&cols, ChannelMode::Elements),
    ] {
        let ap = Aperture::columns(probe, 0..16, mode).unwrap();
        let seq = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
        let s = Sampling::for_depth(20e6, 0.02, &seq, &pulse).unwrap();
        let sim = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s).unwrap();
        let e = probe.element(3, 0).position_m;
        let between = [0.5 * (e[0] + probe.element(4, 0).position_m[0]), e[1], e[2]];
        for p in [
            e,
            between,
            [e[0], e[1], e[2] + 1e-300],
            [e[0], e[1], e[2] + 1e-9],
            [e[0], 0.0, 1e-7],
        ] {
            let rf = sim.run(&Phantom::points(&[p]).unwrap()).unwrap();
            assert!(all_finite(&rf), "{mode:?}, scatterer at {p:?}");
        }
    }
}

/// `Pulse::sample` at a huge but finite rate overflowed (`1e30`: `2 * half + 1` in pulse.rs) or
/// allocated 1.9 GB (`1e13`). The rate now has a range (from fc to 10⁴ samples per period) and
/// the memory is stated beforehand: within 20 % of the measured peak.
#[test]
fn pulse_sampling_is_bounded() {
    let _serial = serial();
    let p = Pulse::new(5e6, 0.8, 1.0).unwrap();
    for rate in [1e30, 1e13] {
        let (r, peak) = peak_bytes(|| p.sample(rate, 0.0, 0.0));
        let e = r.unwrap_err();
        assert_eq!(e.parameter(), Some("rate_hz"), "{e}");
        assert!(e.to_string().contains("Hz"), "{e}");
        assert!(peak < 4096, "{peak} bytes for an error");
    }
    let long = Pulse::new(1e5, 0.05, 64.0).unwrap();
    for (pulse, rate) in [(p, 40e6), (p, 1e9), (long, 5e7)] {
        let expected = pulse.sample_memory_bytes(rate).unwrap() as f64;
        let (s, peak) = peak_bytes(|| pulse.sample(rate, 1e-5, 0.05).unwrap());
        assert!(s.values.iter().all(|v| v.is_finite()));
        let ratio = expected / peak as f64;
        eprintln!("sample at {rate:e} Hz: estimate {expected:e} B, peak {peak:e} B ({ratio:.3})");
        assert!((0.8..=1.2).contains(&ratio), "estimate {expected} vs peak {peak}");
    }
}

/// A 64-element linear probe (0.3 mm pitch) transmitting one plane wave.
fn linear64() -> (Aperture, Sequence) {
    let probe = Probe::linear(64, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
    (ap, seq)
}

/// The repros of strong but valid attenuation: 20 dB/(cm·MHz) with a 5 MHz pulse and a
/// point at 5 cm, and 1 dB/(cm·MHz) at 15 MHz and 28 cm, gave NaN RF: the pulse table's
/// normalisation `exp(α·fc·L)` overflowed f32 and met waveform samples that had underflowed to 0.
/// The echoes are tiny but finite, and not all zero (the model's low-frequency tail survives).
#[test]
fn strong_attenuation_gives_finite_rf() {
    let _serial = serial();
    let (ap, seq) = linear64();
    for (atten, fc, fs, z) in [(20.0, 5e6, 20e6, 0.05), (1.0, 15e6, 60e6, 0.28)] {
        let pulse = Pulse::new(fc, 0.8, 1.0).unwrap();
        let s = Sampling::for_depth(fs, z + 0.01, &seq, &pulse).unwrap();
        let sim = Simulator::from_parts(&ap, &seq, Medium::new(C, atten).unwrap(), pulse, s).unwrap();
        let rf = sim.run(&Phantom::points(&[[0.0, 0.0, z]]).unwrap()).unwrap();
        assert!(all_finite(&rf), "{atten} dB/(cm·MHz), {fc} Hz, {z} m");
        assert!(
            rf.data().iter().any(|v| *v != 0.0),
            "{atten} dB/(cm·MHz), {fc} Hz, {z} m"
        );
    }
}

/// One element on axis: the echo's ratio between two depths follows the attenuation law where it
/// is representable. At 20 dB/(cm·MHz) the spectrum at fc of a narrowband echo falls by the
/// spreading and `2·α·fc·Δz` (−107 dB from 10 to 15 mm); with the broadband pulse at 3 and
/// 5 cm the echo is the spectrum's low-frequency tail, and its peak falls as that of the
/// independently computed waveform `Pulse::sample` (an f64 inverse FFT) over the same paths.
#[test]
fn deep_echoes_follow_the_attenuation_law() {
    let _serial = serial();
    let probe = Probe::linear(1, 3e-4, 2.7e-4, 3e-4, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::synthetic_aperture(&ap, C).unwrap();
    let medium = Medium::new(C, 20.0).unwrap();
    let fs = 40e6;
    let echo = |pulse: Pulse, z: f64, depth: f64| -> Vec<f32> {
        let s = Sampling::for_depth(fs, depth, &seq, &pulse).unwrap();
        let sim = Simulator::from_parts(&ap, &seq, medium, pulse, s).unwrap();
        let rf = sim.run(&Phantom::points(&[[0.0, 0.0, z]]).unwrap()).unwrap();
        assert!(all_finite(&rf));
        rf.data().iter().copied().collect()
    };
    let dtft = |x: &[f32], f: f64| -> f64 {
        let w = 2.0 * std::f64::consts::PI * f / fs;
        let (re, im) = x.iter().enumerate().fold((0.0, 0.0), |(re, im), (k, &v)| {
            (
                re + v as f64 * (w * k as f64).cos(),
                im - v as f64 * (w * k as f64).sin(),
            )
        });
        (re * re + im * im).sqrt()
    };
    let narrow = Pulse::new(5e6, 0.2, 1.0).unwrap();
    let (z1, z2) = (0.010, 0.015);
    let (e1, e2) = (echo(narrow, z1, 0.02), echo(narrow, z2, 0.02));
    let measured_db = 20.0 * (dtft(&e2, 5e6) / dtft(&e1, 5e6)).log10();
    let expected_db = 40.0 * (z1 / z2).log10() - medium.loss_db(5e6, 2.0 * (z2 - z1));
    eprintln!("at fc: measured {measured_db:.3} dB, expected {expected_db:.3} dB");
    assert!(
        (measured_db - expected_db).abs() < 1.0,
        "at fc: measured {measured_db:.2} dB, expected {expected_db:.2} dB"
    );
    let broad = Pulse::new(5e6, 0.8, 1.0).unwrap();
    let (z1, z2) = (0.03, 0.05);
    let peak = |x: &[f32]| x.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
    let (e1, e2) = (echo(broad, z1, 0.06), echo(broad, z2, 0.06));
    let alpha = medium.alpha_np_per_m_hz();
    let model = |z: f64| peak(&broad.sample(fs, alpha, 2.0 * z).unwrap().values) / (z * z);
    let measured_db = 20.0 * (peak(&e2) / peak(&e1)).log10();
    let expected_db = 20.0 * (model(z2) / model(z1)).log10();
    eprintln!("peak: measured {measured_db:.3} dB, expected {expected_db:.3} dB");
    assert!(
        (measured_db - expected_db).abs() < 0.5,
        "peak: measured {measured_db:.2} dB, expected {expected_db:.2} dB"
    );
}

/// Each leg's attenuation is computed relative to the scatterer's distance from the aperture
/// centre; where it varies across the aperture by more than `MAX_APERTURE_LOSS_NP` (347 dB) the
/// simulator says so, naming the attenuation and its unit, instead of overflowing.
#[test]
fn attenuation_across_the_aperture_has_a_limit() {
    let _serial = serial();
    let probe = Probe::cmut_9000();
    let ap = Aperture::full(&probe, Some(0.02)).unwrap();
    let seq = Sequence::plane_waves(&ap, &[0.0], C).unwrap();
    let pulse = Pulse::new(30e6, 0.8, 1.0).unwrap();
    let s = Sampling::for_depth(100e6, 0.01, &seq, &pulse).unwrap();
    let medium = Medium::new(C, 10.0).unwrap();
    let e = Simulator::from_parts(&ap, &seq, medium, pulse, s).unwrap_err();
    assert_eq!(e.parameter(), Some("attenuation_db_cm_mhz"), "{e}");
    assert!(e.to_string().contains("dB/(cm·MHz)"), "{e}");
    // The same medium is fine on a small transmit aperture, and refused again with a wide receive one.
    let small = Aperture::new(&probe, 68..72, 30..34, ChannelMode::Elements).unwrap();
    let seq = Sequence::plane_waves(&small, &[0.0], C).unwrap();
    let sim = Simulator::from_parts(&small, &seq, medium, pulse, s).unwrap();
    let rf = sim.run(&Phantom::points(&[[0.0, 0.0, 0.005]]).unwrap()).unwrap();
    assert!(all_finite(&rf));
    let e = sim.with_rx_aperture(&ap).unwrap_err();
    assert_eq!(e.parameter(), Some("attenuation_db_cm_mhz"), "{e}");
}

/// Echoes that f32 cannot hold (an apodization weight of 3e38, which sequences accept) are an
/// error naming the RF, not infinite or NaN samples.
#[test]
fn echoes_beyond_f32_are_an_error() {
    let _serial = serial();
    let probe = Probe::linear(8, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::from_delays(&ap, &[vec![0.0; 8]], &[vec![3e38; 8]], C).unwrap();
    let pulse = Pulse::new(5e6, 0.8, 1.0).unwrap();
    let s = Sampling::for_depth(20e6, 0.02, &seq, &pulse).unwrap();
    let sim = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), pulse, s).unwrap();
    let e = sim.run(&Phantom::points(&[[0.0, 0.0, 0.01]]).unwrap()).unwrap_err();
    assert_eq!(e.parameter(), Some("rf"), "{e}");
}

/// Estimate of `sim.memory_bytes` over the measured peak of `sim.run(phantom)`.
fn estimate_over_peak(name: &str, sim: &Simulator, phantom: &Phantom) -> f64 {
    let estimate = sim.memory_bytes(phantom.len());
    let (rf, peak) = peak_bytes(|| sim.run(phantom).unwrap());
    assert!(all_finite(&rf));
    drop(rf);
    let ratio = estimate as f64 / peak as f64;
    eprintln!("{name}: estimate {estimate} B, measured peak {peak} B, ratio {ratio:.3}");
    ratio
}

/// The memory cap counted only the RF: a valid single-channel run (a 64-cycle 100 kHz pulse
/// recorded at 1 GHz, 2^17 samples, 20 dB/(cm·MHz)) allocated 4.2 GB of pulse table for 512 KiB
/// of output. The whole run is estimated now and checked before anything large is allocated.
#[test]
fn memory_cap_covers_the_whole_run() {
    let _serial = serial();
    let probe = Probe::linear(1, 3e-4, 2.7e-4, 3e-4, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::synthetic_aperture(&ap, C).unwrap();
    let pulse = Pulse::new(1e5, 0.05, 64.0).unwrap();
    let s = Sampling::new(1e9, 0.0, 1 << 17).unwrap();
    let sim = Simulator::from_parts(&ap, &seq, Medium::new(C, 20.0).unwrap(), pulse, s).unwrap();
    assert_eq!(sim.output_bytes(), 512 << 10);
    let estimate = sim.memory_bytes(1);
    eprintln!("estimate {estimate} B");
    assert!(estimate > 4_000_000_000, "{estimate}");
    let phantom = Phantom::points(&[[0.0, 0.0, 0.05]]).unwrap();
    let (r, peak) = peak_bytes(|| sim.run(&phantom));
    assert!(matches!(r, Err(sonochip::Error::TooLarge { .. })), "{r:?}");
    assert!(peak < 64 << 10, "{peak} bytes allocated before refusing");
}

/// The estimate is within 20 % of the measured peak heap of representative runs: the `sim`
/// workload's shape (140 columns of 64 elements, 5 diverging waves, 3.5 MHz, 160 mm) with 1,000
/// scatterers; a long pulse whose table dominates (64 cycles at 1 MHz, 963 paths of 2,563
/// samples); the same pulse in a lossless medium, where the table's FFT work dominates; and
/// columns transmitting while every element receives, element by element (tap arenas).
#[test]
fn memory_estimate_matches_the_measured_peak() {
    let _serial = serial();
    let w = Workload::sim().unwrap();
    let sim = Simulator::new(&w.acquisition, Medium::soft_tissue()).unwrap();
    // Warm-up: rayon's pool and thread-locals exist before measuring.
    sim.run(&Phantom::points(&[[0.0, 0.0, 0.05]]).unwrap()).unwrap();
    let speckle = SpeckleBuilder::new((-0.08, 0.08), (0.02, 0.16), 1000.0 / (160.0 * 140.0))
        .unwrap()
        .thickness(3e-3)
        .build(1)
        .unwrap();
    let mut ratios = vec![estimate_over_peak("sim workload, 1000 scatterers", &sim, &speckle)];

    let one = Probe::linear(1, 3e-4, 2.7e-4, 3e-4, 1).unwrap();
    let ap = Aperture::full(&one, None).unwrap();
    let seq = Sequence::synthetic_aperture(&ap, C).unwrap();
    let long = Pulse::new(1e6, 0.05, 64.0).unwrap();
    let s = Sampling::for_depth(5e6, 0.05, &seq, &long).unwrap();
    let points = Phantom::points(&[[0.0, 0.0, 0.02], [0.0, 0.0, 0.04]]).unwrap();
    for (name, medium) in [
        ("long pulse, soft tissue", Medium::soft_tissue()),
        ("long pulse, lossless", Medium::lossless()),
    ] {
        let sim = Simulator::from_parts(&ap, &seq, medium, long, s).unwrap();
        ratios.push(estimate_over_peak(name, &sim, &points));
    }
    // A bone disk lengthens the pulse table (by its excess loss over its diameter).
    let bone = AttenuationMap::new(vec![AttenuationRegion::disk([0.0, 0.01], 0.005, 20.0)]).unwrap();
    let sim = Simulator::from_parts(&ap, &seq, Medium::soft_tissue(), long, s)
        .unwrap()
        .with_attenuation(bone);
    ratios.push(estimate_over_peak(
        "long pulse, soft tissue with a bone disk",
        &sim,
        &points,
    ));

    let small = Probe::new(ArraySpec {
        name: "small".into(),
        cols: 24,
        rows: 12,
        ..ArraySpec::cmut_9000()
    })
    .unwrap();
    let cols = Aperture::full(&small, Some(0.015)).unwrap();
    let elems = Aperture::columns(&small, 0..24, ChannelMode::Elements).unwrap();
    let seq = Sequence::diverging_sector(&cols, 0.4, 0.2, 3, C).unwrap();
    let pulse = Pulse::new(5e6, 1.0, 1.0).unwrap();
    let s = Sampling::for_depth(20e6, 0.025, &seq, &pulse).unwrap();
    let sim = Simulator::from_parts(&cols, &seq, Medium::soft_tissue(), pulse, s)
        .unwrap()
        .with_options(SimOptions {
            elevation: ElevationModel::Exact,
            ..SimOptions::default()
        })
        .unwrap()
        .with_rx_aperture(&elems)
        .unwrap();
    let speckle = SpeckleBuilder::new((-0.004, 0.004), (0.004, 0.02), 2.0)
        .unwrap()
        .build(3)
        .unwrap();
    ratios.push(estimate_over_peak("exact columns, element receive", &sim, &speckle));
    // Sub-elements: 5 mm elements of a 1-row probe split 2 × 17 at 5 MHz (`Subelements::Auto`).
    let tall = Aperture::full(&Probe::linear(32, 3e-4, 2.9e-4, 5e-3, 1).unwrap(), Some(0.02)).unwrap();
    let seq = Sequence::plane_waves(&tall, &[0.0, 0.1], C).unwrap();
    let s = Sampling::for_depth(20e6, 0.03, &seq, &pulse).unwrap();
    let sim = Simulator::from_parts(&tall, &seq, Medium::soft_tissue(), pulse, s).unwrap();
    let speckle = SpeckleBuilder::new((-0.005, 0.005), (0.004, 0.025), 1.0)
        .unwrap()
        .build(4)
        .unwrap();
    ratios.push(estimate_over_peak("split elements", &sim, &speckle));
    // Broadband directivity: three pulse tables, two waves per scatterer, the fit table.
    let sim = sim
        .with_options(SimOptions {
            directivity: Directivity::Broadband,
            ..SimOptions::default()
        })
        .unwrap();
    ratios.push(estimate_over_peak(
        "split elements, broadband directivity",
        &sim,
        &speckle,
    ));
    for r in ratios {
        assert!((0.8..=1.2).contains(&r), "estimate / peak = {r:.3}");
    }
}

/// Set in the child process of `runs_in_a_pool_with_64_kib_stacks`.
const STACK_CHILD: &str = "SONOCHIP_SIM_STACK_CHILD";

/// Apps run rayon pools with 64 KiB thread stacks. A stack overflow aborts the process, so the
/// test runs its body in a child process (this executable, this test alone, with `STACK_CHILD`
/// set) and checks that the child exited successfully.
#[test]
fn runs_in_a_pool_with_64_kib_stacks() {
    if std::env::var_os(STACK_CHILD).is_some() {
        simulate_on_small_stacks();
        return;
    }
    let _serial = serial();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "runs_in_a_pool_with_64_kib_stacks",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(STACK_CHILD, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the child exited with {:?}:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

/// The child's body: the simulator's paths (binned columns with attenuation, noise, TGC and ADC;
/// exact elements with a different receive aperture; a long pulse whose table needs large FFTs),
/// each run from inside a pool whose threads have 64 KiB stacks.
fn simulate_on_small_stacks() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .stack_size(64 << 10)
        .build()
        .unwrap();
    let small = Probe::new(ArraySpec {
        name: "small".into(),
        cols: 24,
        rows: 12,
        ..ArraySpec::cmut_9000()
    })
    .unwrap();
    let cols = Aperture::full(&small, Some(0.015)).unwrap();
    let elems = Aperture::columns(&small, 0..24, ChannelMode::Elements).unwrap();
    let seq = Sequence::diverging_sector(&cols, 0.4, 0.2, 3, C).unwrap();
    let pulse = Pulse::new(5e6, 1.0, 1.0).unwrap();
    let s = Sampling::for_depth(20e6, 0.025, &seq, &pulse).unwrap();
    let speckle = SpeckleBuilder::new((-0.006, 0.006), (0.002, 0.02), 2.0)
        .unwrap()
        .build(5)
        .unwrap();
    let binned = Simulator::from_parts(&cols, &seq, Medium::soft_tissue(), pulse, s)
        .unwrap()
        .with_options(SimOptions {
            noise_snr_db: Some(30.0),
            adc_bits: Some(12),
            analog_tgc: Some(sonochip::sim::AnalogTgc {
                db_per_cm: 1.0,
                max_db: 40.0,
            }),
            ..SimOptions::default()
        })
        .unwrap();
    let exact = Simulator::from_parts(&cols, &seq, Medium::soft_tissue(), pulse, s)
        .unwrap()
        .with_options(SimOptions {
            elevation: ElevationModel::Exact,
            ..SimOptions::default()
        })
        .unwrap()
        .with_rx_aperture(&elems)
        .unwrap();
    // A map of the most regions: the path integral keeps its intervals on the stack.
    let regions = (0..MAX_ATTENUATION_REGIONS)
        .map(|i| AttenuationRegion::disk([0.0, 0.003 + 2e-4 * i as f64], 0.001, (i % 20) as f64))
        .collect();
    let mapped = Simulator::from_parts(&cols, &seq, Medium::soft_tissue(), pulse, s)
        .unwrap()
        .with_attenuation(AttenuationMap::new(regions).unwrap());
    let one = Probe::linear(1, 3e-4, 2.7e-4, 3e-4, 1).unwrap();
    let ap = Aperture::full(&one, None).unwrap();
    let sa = Sequence::synthetic_aperture(&ap, C).unwrap();
    let long = Pulse::new(1e6, 0.05, 64.0).unwrap();
    let long_sim = Simulator::from_parts(
        &ap,
        &sa,
        Medium::soft_tissue(),
        long,
        Sampling::for_depth(5e6, 0.05, &sa, &long).unwrap(),
    )
    .unwrap();
    let points = Phantom::points(&[[0.0, 0.0, 0.02]]).unwrap();
    pool.install(|| {
        assert!(all_finite(&binned.run(&speckle).unwrap()));
        assert!(all_finite(&exact.run(&speckle).unwrap()));
        assert!(all_finite(&mapped.run(&speckle).unwrap()));
        assert!(all_finite(&long_sim.run(&points).unwrap()));
    });
}
