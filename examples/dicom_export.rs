//! DICOM export: the vascular preset images its built-in phantom, and the frames go out as DICOM
//! under `out/dicom_export/`: one Ultrasound Image Storage object, a short cine loop as an
//! Ultrasound Multi-frame Image Storage object, and a de-identified copy of each (Basic
//! Application Level Confidentiality Profile).
//!
//! Run with `cargo run --release --features dicom --example dicom_export`; check the files with
//! `dcmdump` (dcmtk) or `dciodvfy` (dicom3tools). The cine loop is one simulated acquisition
//! re-mapped along a gain sweep (as the `live` example does), so it shows the controls, not motion.

use sonochip::dicom::{Deidentifier, Exam, Exporter, Laterality, Patient, ScanParameters, Sex, Study};
use sonochip::prelude::*;

fn main() -> sonochip::Result<()> {
    let out = std::path::Path::new("out/dicom_export");
    let mut imager = Imager::new(PresetKind::Vascular)?;
    let phantom = imager.preset().phantom(1.0, 17)?;
    let rf = imager.simulate(&phantom, Medium::soft_tissue())?;
    let frame = imager.process(&rf)?.clone();

    // What the app knows about the exam (later: a worklist item).
    let mut exam = Exam::new(Patient {
        name: "Müller^Jürgen".into(),
        id: "PID-778899".into(),
        birth_date: Some(sonochip::dicom::Date::new(1961, 4, 23)?),
        sex: Some(Sex::Male),
    });
    exam.study = Study {
        id: "1".into(),
        accession_number: "ACC-5550123".into(),
        description: "Carotid duplex".into(),
        referring_physician: "Referrer^Rita".into(),
        ..exam.study
    };
    exam.series.laterality = Some(Laterality::Right); // the right carotid
    let scan = ScanParameters::from_preset(imager.preset(), imager.depth_m())?;
    let mut exporter = Exporter::new(exam, scan)?;

    let image = exporter.image(&frame)?;
    image.write_file(out.join("bmode.dcm"))?;

    // A 12-frame loop at 20 frames/s: the gain control sweeps from 40 to 62 (50 = 0 dB).
    let frame_time_s = 0.05;
    let mut frames = Vec::new();
    for i in 0..12 {
        imager.set_gain_control(40.0 + 2.0 * i as f64)?;
        frames.push(imager.remap()?.clone());
    }
    let cine = exporter.cine(&frames, frame_time_s)?;
    cine.write_file(out.join("bmode_cine.dcm"))?;

    // One de-identifier for the study: both copies get the same new Study Instance UID.
    let mut deid = Deidentifier::new();
    deid.deidentify(&image)?.write_file(out.join("bmode_deid.dcm"))?;
    deid.deidentify(&cine)?.write_file(out.join("bmode_cine_deid.dcm"))?;

    println!(
        "{} x {} pixels of {:.3} x {:.3} mm, depth {:.0} mm; wrote bmode.dcm, bmode_cine.dcm ({} frames) and their de-identified copies to {}",
        frame.width(),
        frame.height(),
        frame.pixel_size_m()[0] * 1e3,
        frame.pixel_size_m()[1] * 1e3,
        imager.depth_m() * 1e3,
        frames.len(),
        out.display()
    );
    Ok(())
}
