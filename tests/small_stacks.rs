//! Apps run their processing on rayon pools with small thread stacks. The live pipeline
//! (demodulation, every beamformer kernel, envelope, B-mode mapping, scan conversion) runs on
//! threads with 64 KiB stacks. A stack overflow aborts the process, so the work runs in a child
//! process (this test executable again, selected by an environment variable) and the test asserts
//! that the child succeeded.

use sonochip::prelude::*;
use std::process::Command;

const CHILD: &str = "SONOCHIP_SMALL_STACK_CHILD";

fn work() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .stack_size(64 << 10)
        .build()
        .unwrap();
    for kind in [PresetKind::Nerve, PresetKind::Cardiac] {
        let mut imager = Imager::new(kind).unwrap();
        let phantom = Phantom::points(&[[0.0, 0.0, 0.02]]).unwrap();
        let rf = imager.simulate(&phantom, Medium::soft_tissue()).unwrap();
        pool.install(|| {
            imager.process(&rf).unwrap();
            imager.set_gain_control(70.0).unwrap();
            imager.remap().unwrap();
        });
        // Every kernel, interpolation and the coherence factor, RF and IQ.
        let grid = imager.acquisition().grid().clone();
        for kernel in KernelChoice::supported() {
            for (interpolation, cf) in [(Interpolation::Linear, false), (Interpolation::Cubic, true)] {
                let cfg = BeamformConfig {
                    kernel,
                    interpolation,
                    coherence_factor: cf,
                    f_number: Some(1.5),
                    ..BeamformConfig::default()
                };
                let bf = Beamformer::new(rf.meta(), &grid, cfg.clone()).unwrap();
                let demod =
                    Demodulator::for_data(&rf, DemodConfig::new(rf.meta().fc_hz(), rf.meta().fc_hz(), 2)).unwrap();
                let iq = demod.demodulate(&rf).unwrap();
                let bf_iq = Beamformer::new(iq.meta(), &grid, cfg).unwrap();
                pool.install(|| {
                    let img = bf.beamform(&rf).unwrap();
                    EnvelopeDetector::new(img.ncols())
                        .unwrap()
                        .detect_rf(img.view())
                        .unwrap();
                    bf_iq.beamform_iq(&iq).unwrap();
                });
            }
        }
    }
}

#[test]
fn the_pipeline_runs_on_64_kib_stacks() {
    if std::env::var_os(CHILD).is_some() {
        work();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "the_pipeline_runs_on_64_kib_stacks", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the child process failed ({:?}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
