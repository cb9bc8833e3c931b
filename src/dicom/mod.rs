//! DICOM export, de-identification and networking (the `dicom` cargo feature).
//!
//! **What it is.** The scanner sends its exams to a PACS as DICOM objects. This module turns the
//! crate's images into those objects with the [dicom-rs](https://github.com/Enet4/dicom-rs) crates
//! (re-exported as [`dicom_core`], [`dicom_dictionary_std`] and [`dicom_object`], so an app uses
//! the same version), and makes de-identified copies of them:
//!
//! - [`Exporter`]: one series of an exam. [`Exporter::image`] turns a
//!   [`BModeFrame`](crate::frame::BModeFrame) into an *Ultrasound Image Storage* object
//!   (SOP Class 1.2.840.10008.5.1.4.1.1.6.1, MONOCHROME2, 8 bits), [`Exporter::cine`] a sequence
//!   of frames into an *Ultrasound Multi-frame Image Storage* object (1.2.840.10008.5.1.4.1.1.3.1,
//!   Frame Time (0018,1063), Number of Frames, Frame Increment Pointer), and
//!   [`Exporter::rgb_image`] / [`Exporter::rgb_cine`] the colour-flow rasters of
//!   `doppler::live::ColorFlowImager::rgb()` (`[rows, cols, 3]`) into RGB objects (Planar
//!   Configuration 0).
//! - Every image carries a Sequence of Ultrasound Regions (0018,6011) with one region over the
//!   whole raster: its bounds, Physical Units X/Y in cm (code 3), Physical Delta X/Y (cm per pixel,
//!   from the frame's pixel size), a Reference Pixel X0/Y0 with its Reference Pixel Physical
//!   Value X/Y (the pixel nearest the centre of the probe face, x = 0 and depth 0, and its exact
//!   position, so that `x_cm = ref_x + (column − X0)·ΔX` and `depth_cm = ref_y + (row − Y0)·ΔY`
//!   reproduce the frame's own geometry), Region Spatial Format 2D (1), Region Data Type tissue
//!   (1) or colour flow (2), Region Flags 0 and the Transducer Frequency in kHz. A viewer's
//!   calipers then measure what [`BModeFrame::distance_m`](crate::frame::BModeFrame::distance_m)
//!   measures.
//! - Patient, study and series come from plain structs the app fills ([`Exam`]: [`Patient`],
//!   [`Study`], [`Series`], [`Equipment`]); the scan itself from [`ScanParameters`] (usually
//!   [`ScanParameters::from_preset`]): probe name in Transducer Data (0018,5010), Transducer Type
//!   (0018,6031), preset name in Protocol Name (0018,1030), centre frequency in Transducer
//!   Frequency (0018,6030, kHz, in the region), depth in Depth of Scan Field (0018,5050, mm).
//!   Modality is US, Burned In Annotation NO (the crate draws no identifying text into its images:
//!   its depth ruler holds only numbers, and the exported pixels are the raster without it), and
//!   Specific Character Set ISO_IR 192 (UTF-8) is written when any text is not ASCII.
//! - [`DicomFile`] holds one object: [`DicomFile::write_file`] writes a Part 10 file (128-byte
//!   preamble, `DICM`, file meta group, Explicit VR Little Endian) and [`DicomFile::to_bytes`] the
//!   same bytes; [`DicomFile::read_file`] and [`DicomFile::from_bytes`] read any Part 10 file.
//! - [`Deidentifier`] makes a de-identified copy of any object following the Basic Application
//!   Level Confidentiality Profile (PS3.15 Annex E): identifying attributes removed or emptied,
//!   UIDs replaced consistently (the same original UID always gives the same new one within one
//!   de-identifier, so a study stays a study), private attributes dropped, Patient Identity
//!   Removed (0012,0062) YES and the method recorded in De-identification Method (0012,0063) and its
//!   Code Sequence (0012,0064).
//!
//! **Contract.** Every input is validated before anything is built: texts against their value
//! representation (length, no `\` or control characters), dates, UIDs, geometry (as
//! [`BModeFrame::new`](crate::frame::BModeFrame::new)), equal shapes and geometry across the frames
//! of a cine loop, and the pixel data's size (below 4 GiB, the largest value an explicit-length
//! element holds, and the crate's memory cap). Bad input gives a typed [`Error`]
//! naming the field; no function here panics. Generated UIDs are `2.25.` UUID-derived (random,
//! version 4). [`Study::new`] and [`Series::new`] take the system clock's UTC time (offset 0); an
//! app may set local times with their offset. All times of an object are in the study's offset,
//! written as Timezone Offset From UTC (0008,0201) when known; the series must use the same offset.
//!
//! **Cost.** An export copies the pixels once into the object (rows × columns × samples × frames
//! bytes) and writing copies them once more into the file or byte buffer; the attributes are a few
//! kilobytes. De-identification copies the object (pixels included) once. Nothing here runs in the
//! live imaging path.
//!
//! **Networking** ([`net`]). [`Scu`] is a service class user talking to one [`Peer`] (AE title,
//! host, port) over plain TCP or TLS 1.2/1.3 ([`TlsOptions`]: rustls with the *ring* provider; the
//! server's certificate is verified against the given certificate authorities, its validity
//! period and the host name; a client certificate is optional), on
//! [dicom-ul](https://docs.rs/dicom-ul)'s association API:
//!
//! - [`Scu::echo`]: C-ECHO (Verification).
//! - [`Scu::store`]: C-STORE of [`DicomFile`]s in one association, sent in Explicit VR Little
//!   Endian (Implicit when the peer accepts only that); one [`StoreOutcome`] each.
//! - [`Scu::find_worklist`]: Modality Worklist C-FIND with a [`WorklistQuery`] (scheduled date or
//!   date range, modality, patient ID, station AE title), returning [`WorklistItem`]s: patient
//!   name, ID, birth date and sex, accession number, Study Instance UID, requested procedure and
//!   the [`ScheduledProcedureStep`] (start date and time, modality, description, station, ID,
//!   performing physician). [`WorklistItem::exam`] fills an [`Exam`] from it, so that the images
//!   join the scheduled study.
//!
//! **Network contract.** Every call opens an association, does its exchange and releases it (an
//! error aborts it). Every failure is an [`Error::Network`] with a typed
//! [`NetworkReason`](crate::NetworkReason): unknown host, connection refused, connect timeout, TLS
//! handshake failure with its [`TlsFailure`](crate::TlsFailure) (unknown issuer, expired, wrong
//! host name, alert from the server, …), association rejected (with its source and reason) or
//! aborted, no accepted presentation context, peer closed mid-exchange, timeout, protocol error,
//! answer too large, failure status. [`Timeouts`] bound the connection, every read and write, and
//! the whole call (a watchdog shuts the socket down at the deadline), so a call never hangs.
//! Whatever the peer sends, nothing here panics (a panic inside the protocol library is caught and
//! reported as a protocol error) and memory stays bounded ([`Limits`]): PDUs up to the announced
//! maximum length, one response message and all C-FIND matches up to a byte cap, the number of
//! matches capped; every length inside a received data set is checked against the bytes that
//! arrived before it is decoded. On plain TCP, a peer that closes before answering the association
//! request is told from one that stalls by the time it took (dicom-ul reports both alike).
//!
//! **Network cost.** One TCP connection (and TLS handshake) per call; a C-STORE encodes each object
//! once (a copy of its pixels) and sends it in PDUs of the peer's maximum length; a C-FIND holds
//! the matches in memory. Two short-lived helper threads per call (the association request and the
//! deadline watchdog).
//!
//! ```
//! use sonochip::dicom::{DicomFile, Exam, Exporter, Patient, ScanParameters};
//! use sonochip::frame::BModeFrame;
//! use sonochip::preset::{Preset, PresetKind};
//! use sonochip::ndarray::Array2;
//! # fn main() -> sonochip::Result<()> {
//! let frame = BModeFrame::new(Array2::from_elem((64, 48), 7u8), [-2.35e-3, 0.05e-3], [1e-4, 1e-4])?;
//! let patient = Patient {
//!     name: "Doe^Jane".into(),
//!     id: "12345".into(),
//!     ..Patient::default()
//! };
//! let scan = ScanParameters::from_preset(&Preset::get(PresetKind::Vascular), 0.04)?;
//! let mut exporter = Exporter::new(Exam::new(patient), scan)?;
//! let file = exporter.image(&frame)?;
//! let bytes = file.to_bytes()?;
//! assert_eq!(&bytes[128..132], b"DICM");
//! let back = DicomFile::from_bytes(&bytes)?;
//! assert_eq!(back.sop_instance_uid(), file.sop_instance_uid());
//! # Ok(()) }
//! ```

mod deid;
mod export;
pub mod net;
mod uid;

pub use deid::Deidentifier;
pub use dicom_core;
pub use dicom_dictionary_std;
pub use dicom_object;
pub use dicom_ul;
pub use export::{
    Equipment, Exam, Exporter, Laterality, Patient, RasterGeometry, SOP_CLASS_US_IMAGE, SOP_CLASS_US_MULTIFRAME_IMAGE,
    ScanParameters, Series, Sex, Study, TransducerType,
};
pub use net::{
    DateRange, Limits, Peer, ScheduledProcedureStep, Scu, StoreOutcome, Timeouts, TlsOptions, WorklistItem,
    WorklistQuery,
};
pub use uid::{Date, DateTime, MAX_UID_LEN, generate_uid, validate_uid};

use crate::error::{Error, Result};
use dicom_dictionary_std::tags;
use dicom_object::{FileDicomObject, InMemDicomObject, OpenFileOptions, file::ReadPreamble};
use std::path::Path;

/// One DICOM object with its file meta group: what the exporter and the de-identifier produce,
/// and what [`read_file`](DicomFile::read_file) / [`from_bytes`](DicomFile::from_bytes) read.
///
/// Not `PartialEq`: dicom-rs never treats two undefined lengths (of sequences) as equal; compare
/// [`to_bytes`](DicomFile::to_bytes) instead.
#[derive(Debug, Clone)]
pub struct DicomFile {
    obj: FileDicomObject<InMemDicomObject>,
}

impl DicomFile {
    /// Wraps an object built or read with dicom-object. Cost: O(1).
    pub fn from_object(obj: FileDicomObject<InMemDicomObject>) -> DicomFile {
        DicomFile { obj }
    }

    /// The object (attributes and file meta group). Cost: O(1).
    pub fn object(&self) -> &FileDicomObject<InMemDicomObject> {
        &self.obj
    }

    /// The object, consuming this value. Cost: O(1).
    pub fn into_object(self) -> FileDicomObject<InMemDicomObject> {
        self.obj
    }

    /// SOP Instance UID (0008,0018), or an empty string when the object has none.
    pub fn sop_instance_uid(&self) -> String {
        self.string(tags::SOP_INSTANCE_UID)
    }

    /// SOP Class UID (0008,0016), or an empty string when the object has none.
    pub fn sop_class_uid(&self) -> String {
        self.string(tags::SOP_CLASS_UID)
    }

    fn string(&self, tag: dicom_core::Tag) -> String {
        self.obj
            .get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
            .unwrap_or_default()
    }

    /// The Part 10 file's bytes: 128-byte preamble, `DICM`, the file meta group and the data set
    /// in the meta group's transfer syntax (Explicit VR Little Endian for exported objects).
    /// Errors: [`Error::Format`] when the encoder refuses the object. Cost: one copy of the object.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.obj
            .write_all(&mut out)
            .map_err(|e| Error::format("<DICOM bytes>", e))?;
        Ok(out)
    }

    /// Writes the Part 10 file at `path` (conventionally `.dcm`), creating missing parent folders.
    /// Errors: [`Error::Io`] naming the folder or the file, [`Error::Format`] from the encoder.
    /// Cost: as [`to_bytes`](DicomFile::to_bytes) and the write.
    pub fn write_file(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let bytes = self.to_bytes()?;
        std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
    }

    /// Reads a Part 10 file (with its preamble). Errors: [`Error::Io`] when the file cannot be
    /// read, [`Error::Format`] when it is not DICOM. Cost: the whole file in memory.
    pub fn read_file(path: impl AsRef<Path>) -> Result<DicomFile> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&bytes, path)
    }

    /// Reads a Part 10 file's bytes (with or without the 128-byte preamble). Errors:
    /// [`Error::Format`] when they are not DICOM. Cost: the object in memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<DicomFile> {
        Self::parse(bytes, Path::new("<DICOM bytes>"))
    }

    fn parse(bytes: &[u8], path: &Path) -> Result<DicomFile> {
        let preamble = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
            ReadPreamble::Always
        } else {
            ReadPreamble::Never
        };
        let obj = OpenFileOptions::new()
            .read_preamble(preamble)
            .from_reader(bytes)
            .map_err(|e| Error::format(path, e))?;
        Ok(DicomFile { obj })
    }
}
