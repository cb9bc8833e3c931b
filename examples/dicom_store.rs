//! DICOM over the network: query a Modality Worklist for the patient's scheduled ultrasound
//! exam, image the preset its procedure asks for, export one frame and a two-second cine loop
//! (also written as `.dcm` files under `out/dicom_store/`), and send both to a PACS with C-STORE
//! over TLS.
//!
//! ```text
//! cargo run --release --features dicom --example dicom_store -- \
//!     --worklist 127.0.0.1:11112 --worklist-ae WLM \
//!     --pacs localhost:11113 --pacs-ae STORESCP \
//!     --ca ca.pem [--client-cert client.pem --client-key client.key] \
//!     [--patient-id PID-1] [--date 20261130] [--ae SONOCHIP] [--plain]
//! ```
//!
//! `.ci/dicom-servers` starts dcmtk's `wlmscpfs` and `storescp +tls` on this machine with
//! certificates and worklist entries it generates, and prints the command line that runs this
//! example against them (see the README). The worklist is queried for modality US (and the
//! patient ID and date when given); the first match is scanned. The cine loop is one simulated
//! acquisition re-mapped along a gain sweep (20 frames at 10 frames/s), as in the `dicom_export`
//! example, so that the example stays quick; the scene is the preset's built-in phantom at a low
//! scatterer density.

use sonochip::dicom::{DicomFile, Exporter, Peer, ScanParameters, Scu, TlsOptions, WorklistItem, WorklistQuery};
use sonochip::prelude::*;
use std::collections::HashMap;
use std::time::Instant;

const USAGE: &str = "usage: dicom_store --worklist HOST:PORT --worklist-ae AE --pacs HOST:PORT --pacs-ae AE \
(--ca CA.pem [--client-cert CERT.pem --client-key KEY.pem] | --plain) [--patient-id ID] [--date YYYYMMDD] [--ae CALLING_AE]";

fn args() -> Result<HashMap<String, String>> {
    let mut map = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(key) = it.next() {
        let Some(name) = key.strip_prefix("--") else {
            return Err(Error::invalid("arguments", USAGE, key));
        };
        if name == "plain" {
            map.insert(name.to_string(), String::new());
            continue;
        }
        let value = it.next().ok_or_else(|| Error::invalid("arguments", USAGE, &key))?;
        map.insert(name.to_string(), value);
    }
    Ok(map)
}

fn host_port(name: &'static str, s: &str) -> Result<(String, u16)> {
    let (host, port) = s.rsplit_once(':').ok_or_else(|| Error::invalid(name, "HOST:PORT", s))?;
    let port = port.parse().map_err(|_| Error::invalid(name, "HOST:PORT", s))?;
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// The preset for a procedure, from words in its description (abdomen when none fits).
fn preset_for(item: &WorklistItem) -> PresetKind {
    let text = format!("{} {}", item.requested_procedure_description, item.step.description).to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if has(&["carotid", "vascular", "artery", "vein", "doppler", "thyroid"]) {
        PresetKind::Vascular
    } else if has(&["cardiac", "heart", "echocardio"]) {
        PresetKind::Cardiac
    } else if has(&["lung", "thorax", "pleura"]) {
        PresetKind::Lung
    } else if has(&["bladder", "urinary"]) {
        PresetKind::Bladder
    } else if has(&["obstetric", "fetal", "pregnan", " ob "]) {
        PresetKind::Ob
    } else if has(&["nerve", "block"]) {
        PresetKind::Nerve
    } else if has(&["msk", "tendon", "shoulder", "knee", "muscle"]) {
        PresetKind::Msk
    } else {
        PresetKind::Abdomen
    }
}

fn main() -> Result<()> {
    let start = Instant::now();
    let args = args()?;
    let get = |k: &'static str| args.get(k).map(String::as_str);
    let need = |k: &'static str| get(k).ok_or_else(|| Error::invalid(k, USAGE, "missing"));
    let calling = get("ae").unwrap_or("SONOCHIP");
    let (wl_host, wl_port) = host_port("worklist", need("worklist")?)?;
    let (pacs_host, pacs_port) = host_port("pacs", need("pacs")?)?;

    // 1. The worklist.
    let worklist = Scu::new(calling, Peer::new(need("worklist-ae")?, wl_host, wl_port))?;
    let mut query = WorklistQuery::new().modality("US");
    if let Some(id) = get("patient-id") {
        query = query.patient_id(id);
    }
    if let Some(d) = get("date") {
        let bad = || Error::invalid("date", "YYYYMMDD", d);
        if d.len() != 8 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let date = sonochip::dicom::Date::new(
            d[..4].parse().map_err(|_| bad())?,
            d[4..6].parse().map_err(|_| bad())?,
            d[6..].parse().map_err(|_| bad())?,
        )?;
        query = query.on(date);
    }
    let items = worklist.find_worklist(&query)?;
    println!("worklist {}: {} scheduled US step(s)", worklist.peer(), items.len());
    let item = items
        .into_iter()
        .next()
        .ok_or_else(|| Error::empty("worklist", "a scheduled US procedure step matching the query"))?;
    println!(
        "  patient {} ({}), born {}, accession {}, step {} on {} {}: {}",
        item.patient_name,
        item.patient_id,
        item.birth_date.map(|d| d.to_da()).unwrap_or_default(),
        item.accession_number,
        item.step.id,
        item.step.start_date.map(|d| d.to_da()).unwrap_or_default(),
        item.step.start_time,
        item.requested_procedure_description
    );

    // 2. The scan, with the procedure's preset.
    let kind = preset_for(&item);
    let mut imager = Imager::new(kind)?;
    let phantom = imager.preset().phantom(0.3, 11)?;
    let t = Instant::now();
    let rf = imager.simulate(&phantom, Medium::soft_tissue())?;
    let frame = imager.process(&rf)?.clone();
    println!(
        "scanned with the {} preset: {} scatterers, {} x {} pixels, {:.1} s",
        imager.preset().name,
        phantom.len(),
        frame.width(),
        frame.height(),
        t.elapsed().as_secs_f64()
    );
    // Two seconds at 10 frames/s: the gain sweeps from 40 to 59 (50 = 0 dB).
    let frame_time_s = 0.1;
    let mut frames = Vec::new();
    for i in 0..20 {
        imager.set_gain_control(40.0 + i as f64)?;
        frames.push(imager.remap()?.clone());
    }

    // 3. The DICOM objects, in the worklist item's study.
    let scan = ScanParameters::from_preset(imager.preset(), imager.depth_m())?;
    let mut exporter = Exporter::new(item.exam(), scan)?;
    let image = exporter.image(&frame)?;
    let cine = exporter.cine(&frames, frame_time_s)?;
    let out = std::path::Path::new("out/dicom_store");
    image.write_file(out.join("image.dcm"))?;
    cine.write_file(out.join("cine.dcm"))?;
    println!(
        "wrote {} and {} ({} frames, {:.1} s)",
        out.join("image.dcm").display(),
        out.join("cine.dcm").display(),
        frames.len(),
        frames.len() as f64 * frame_time_s
    );

    // 4. The PACS, over TLS.
    let mut pacs = Scu::new(calling, Peer::new(need("pacs-ae")?, pacs_host, pacs_port))?;
    if get("plain").is_none() {
        let mut tls = TlsOptions::from_ca_file(need("ca")?)?;
        if let (Some(cert), Some(key)) = (get("client-cert"), get("client-key")) {
            tls = tls.with_client_certificate_files(cert, key)?;
        }
        pacs = pacs.with_tls(tls)?;
    }
    pacs.echo()?;
    let files: [DicomFile; 2] = [image, cine];
    let outcomes = pacs.store(&files)?;
    for o in &outcomes {
        println!("  stored {} (status 0x{:04X})", o.sop_instance_uid, o.status);
    }
    println!(
        "sent {} objects to {} over {} in {:.1} s in all",
        outcomes.len(),
        pacs.peer(),
        if get("plain").is_none() { "TLS" } else { "plain TCP" },
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
