//! The exporter: frames and exam information → Ultrasound (Multi-frame) Image Storage objects.

use super::DicomFile;
use super::uid::{Date, DateTime, generate_uid, validate_uid};
use crate::error::{DEFAULT_MEMORY_CAP_BYTES, Error, Result, check_size, plausible};
use crate::frame::{BModeFrame, check_geometry};
use crate::preset::{Family, Preset};
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{InMemDicomObject, meta::FileMetaTableBuilder};
use ndarray::ArrayView3;

/// SOP Class UID of Ultrasound Image Storage.
pub const SOP_CLASS_US_IMAGE: &str = "1.2.840.10008.5.1.4.1.1.6.1";
/// SOP Class UID of Ultrasound Multi-frame Image Storage.
pub const SOP_CLASS_US_MULTIFRAME_IMAGE: &str = "1.2.840.10008.5.1.4.1.1.3.1";

/// Implementation Class UID written in the file meta group (a fixed `2.25.` UID of sonochip).
const IMPLEMENTATION_CLASS_UID: &str = "2.25.163874190470871305457307470389826412577";
/// Implementation Version Name (SH, at most 16 characters).
const IMPLEMENTATION_VERSION_NAME: &str = concat!("SONOCHIP_", env!("CARGO_PKG_VERSION"));

/// Patient's Sex (0010,0040).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// `M`.
    Male,
    /// `F`.
    Female,
    /// `O`.
    Other,
}

impl Sex {
    fn code(self) -> &'static str {
        match self {
            Sex::Male => "M",
            Sex::Female => "F",
            Sex::Other => "O",
        }
    }
}

/// Laterality (0020,0060) of a paired body part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Laterality {
    /// `R`.
    Right,
    /// `L`.
    Left,
}

/// The patient (Patient module). Empty texts are written as empty (type 2) attributes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patient {
    /// Patient's Name (0010,0010), PN: `Family^Given^Middle^Prefix^Suffix`, at most 64 characters;
    /// any Unicode text (Specific Character Set ISO_IR 192 is then written).
    pub name: String,
    /// Patient ID (0010,0020), LO: at most 64 characters.
    pub id: String,
    /// Patient's Birth Date (0010,0030).
    pub birth_date: Option<Date>,
    /// Patient's Sex (0010,0040).
    pub sex: Option<Sex>,
}

/// The study (General Study module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Study {
    /// Study Instance UID (0020,000D); [`Study::new`] generates one.
    pub instance_uid: String,
    /// Study ID (0020,0010), SH: at most 16 characters.
    pub id: String,
    /// Accession Number (0008,0050), SH: at most 16 characters.
    pub accession_number: String,
    /// Study Description (0008,1030), LO: at most 64 characters.
    pub description: String,
    /// Referring Physician's Name (0008,0090), PN.
    pub referring_physician: String,
    /// Institution Name (0008,0080), LO (written in the General Equipment module; empty: omitted).
    pub institution_name: String,
    /// Study Date (0008,0020) and Study Time (0008,0030).
    pub date_time: DateTime,
}

impl Study {
    /// A study with a new UID, starting now (UTC), other fields empty.
    pub fn new() -> Study {
        Study {
            instance_uid: generate_uid(),
            id: String::new(),
            accession_number: String::new(),
            description: String::new(),
            referring_physician: String::new(),
            institution_name: String::new(),
            date_time: DateTime::now_utc(),
        }
    }
}

impl Default for Study {
    /// [`Study::new`]: a new UID every call.
    fn default() -> Study {
        Study::new()
    }
}

/// The series (General Series module).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Series Instance UID (0020,000E); [`Series::new`] generates one.
    pub instance_uid: String,
    /// Series Number (0020,0011).
    pub number: u32,
    /// Series Description (0008,103E), LO; empty: the preset's name.
    pub description: String,
    /// Operators' Name (0008,1070), PN; empty: omitted.
    pub operator_name: String,
    /// Laterality (0020,0060) of the body part when it is paired (a carotid, a breast); `None`
    /// writes it empty, which DICOM reserves for "unknown" (dciodvfy warns about it).
    pub laterality: Option<Laterality>,
    /// Series Date (0008,0021) and Series Time (0008,0031).
    pub date_time: DateTime,
}

impl Series {
    /// Series `number` with a new UID, starting now (UTC).
    pub fn new(number: u32) -> Series {
        Series {
            instance_uid: generate_uid(),
            number,
            description: String::new(),
            operator_name: String::new(),
            laterality: None,
            date_time: DateTime::now_utc(),
        }
    }
}

impl Default for Series {
    /// [`Series::new`]`(1)`: a new UID every call.
    fn default() -> Series {
        Series::new(1)
    }
}

/// The scanner (General Equipment module). Empty texts other than the manufacturer are omitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equipment {
    /// Manufacturer (0008,0070), LO.
    pub manufacturer: String,
    /// Manufacturer's Model Name (0008,1090), LO.
    pub model_name: String,
    /// Software Versions (0018,1020), LO.
    pub software_versions: String,
    /// Device Serial Number (0018,1000), LO.
    pub device_serial_number: String,
    /// Station Name (0008,1010), SH.
    pub station_name: String,
}

impl Default for Equipment {
    /// `sonochip`, model `sonochip CMUT scanner`, software `sonochip <version>`, no serial number
    /// or station name.
    fn default() -> Equipment {
        Equipment {
            manufacturer: "sonochip".into(),
            model_name: "sonochip CMUT scanner".into(),
            software_versions: concat!("sonochip ", env!("CARGO_PKG_VERSION")).into(),
            device_serial_number: String::new(),
            station_name: String::new(),
        }
    }
}

/// Everything about an exam that is not the image: patient, study, series, equipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exam {
    /// The patient.
    pub patient: Patient,
    /// The study.
    pub study: Study,
    /// The series the exporter's objects belong to.
    pub series: Series,
    /// The scanner.
    pub equipment: Equipment,
}

impl Exam {
    /// An exam of `patient` with a new study and series 1 (new UIDs, now), default equipment.
    pub fn new(patient: Patient) -> Exam {
        Exam {
            patient,
            study: Study::new(),
            series: Series::new(1),
            equipment: Equipment::default(),
        }
    }
}

/// Transducer Type (0018,6031): the probe the CMUT array emulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransducerType {
    /// `LINEAR`.
    Linear,
    /// `CURVED LINEAR`.
    CurvedLinear,
    /// `SECTOR_PHASED`.
    SectorPhased,
}

impl TransducerType {
    fn code(self) -> &'static str {
        match self {
            TransducerType::Linear => "LINEAR",
            TransducerType::CurvedLinear => "CURVED LINEAR",
            TransducerType::SectorPhased => "SECTOR_PHASED",
        }
    }
}

/// How the image was acquired: the probe and the acquisition parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanParameters {
    /// Probe name, in Transducer Data (0018,5010), LO.
    pub probe_name: String,
    /// Transducer Type (0018,6031).
    pub transducer_type: TransducerType,
    /// The preset's name: Protocol Name (0018,1030), LO, and the Series Description when the
    /// series has none.
    pub preset_name: String,
    /// Transmit centre frequency, Hz (0.1–50 MHz): Transducer Frequency (0018,6030), kHz.
    pub center_frequency_hz: f64,
    /// Imaging depth, metres (1 mm – 1 m): Depth of Scan Field (0018,5050), mm.
    pub depth_m: f64,
}

impl ScanParameters {
    /// The parameters of `preset` scanned to `depth_m`: the CMUT array emulating the preset's
    /// family, the preset's name and centre frequency. Errors: the preset's depth check.
    pub fn from_preset(preset: &Preset, depth_m: f64) -> Result<ScanParameters> {
        preset.check_depth(depth_m)?;
        let (transducer_type, emulation) = match preset.family {
            Family::Linear => (TransducerType::Linear, "linear"),
            Family::Curved => (TransducerType::CurvedLinear, "curved"),
            Family::Phased => (TransducerType::SectorPhased, "phased"),
        };
        Ok(ScanParameters {
            probe_name: format!("sonochip CMUT 140x64 {emulation}"),
            transducer_type,
            preset_name: preset.name.clone(),
            center_frequency_hz: preset.fc_hz,
            depth_m,
        })
    }
}

/// The geometry of a raster, as [`BModeFrame`] holds it: centre of pixel (0, 0) `origin_m = [x, z]`
/// and pixel size `pixel_size_m = [dx, dz]`, metres. For the colour rasters, whose geometry is the
/// B-mode raster's (the scan converter's [`origin_m`](crate::scan_convert::ScanConverter::origin_m)
/// and [`pixel_size_m`](crate::scan_convert::ScanConverter::pixel_size_m)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RasterGeometry {
    /// Centre of pixel (0, 0), `[x, z]`, metres.
    pub origin_m: [f64; 2],
    /// Pixel size `[dx, dz]`, metres.
    pub pixel_size_m: [f64; 2],
}

impl From<&BModeFrame> for RasterGeometry {
    fn from(f: &BModeFrame) -> RasterGeometry {
        RasterGeometry {
            origin_m: f.origin_m(),
            pixel_size_m: f.pixel_size_m(),
        }
    }
}

/// Exports the images of one series. See the [module docs](super).
///
/// Each object gets a new SOP Instance UID and the next Instance Number (from 1).
#[derive(Debug, Clone)]
pub struct Exporter {
    exam: Exam,
    scan: ScanParameters,
    next_instance: u32,
    utf8: bool,
}

/// The pixels of one export: samples per pixel, rows, columns, frames and the bytes.
struct Pixels {
    samples: u16,
    rows: usize,
    cols: usize,
    frames: usize,
    data: Vec<u8>,
}

/// A text attribute's value representation, for validation.
#[derive(Clone, Copy)]
enum Text {
    /// SH: 16 characters.
    Sh,
    /// LO: 64 characters.
    Lo,
    /// PN: 64 characters per component group.
    Pn,
}

fn check_text(name: &'static str, s: &str, kind: Text) -> Result<()> {
    let max = match kind {
        Text::Sh => 16,
        Text::Lo => 64,
        Text::Pn => 64,
    };
    let groups: Vec<&str> = match kind {
        Text::Pn => s.split('=').collect(),
        _ => vec![s],
    };
    let n_groups_ok = groups.len() <= 3;
    let len_ok = groups.iter().all(|g| g.chars().count() <= max);
    let chars_ok = s.chars().all(|c| !c.is_control() && c != '\\');
    let pn_ok = !matches!(kind, Text::Pn) || groups.iter().all(|g| g.split('^').count() <= 5);
    if n_groups_ok && len_ok && chars_ok && pn_ok {
        Ok(())
    } else {
        let what = match kind {
            Text::Sh => "at most 16 characters, no '\\' or control characters".to_string(),
            Text::Lo => "at most 64 characters, no '\\' or control characters".to_string(),
            Text::Pn => "a person name: at most 3 '='-separated groups of at most 64 characters and 5 '^'-separated components, no '\\' or control characters".to_string(),
        };
        Err(Error::invalid(name, what, format!("{s:?}")))
    }
}

impl Exporter {
    /// An exporter for the series of `exam`, scanned with `scan`. Errors:
    /// [`Error::InvalidParameter`] naming the first invalid field (`patient.name`, `study.instance_uid`,
    /// `scan.center_frequency_hz`, …). Cost: O(size of the texts).
    pub fn new(exam: Exam, scan: ScanParameters) -> Result<Exporter> {
        let p = &exam.patient;
        check_text("patient.name", &p.name, Text::Pn)?;
        check_text("patient.id", &p.id, Text::Lo)?;
        if let Some(d) = p.birth_date {
            d.validate("patient.birth_date")?;
        }
        let s = &exam.study;
        validate_uid("study.instance_uid", &s.instance_uid)?;
        check_text("study.id", &s.id, Text::Sh)?;
        check_text("study.accession_number", &s.accession_number, Text::Sh)?;
        check_text("study.description", &s.description, Text::Lo)?;
        check_text("study.referring_physician", &s.referring_physician, Text::Pn)?;
        check_text("study.institution_name", &s.institution_name, Text::Lo)?;
        s.date_time.validate("study.date_time")?;
        let r = &exam.series;
        validate_uid("series.instance_uid", &r.instance_uid)?;
        if r.instance_uid == s.instance_uid {
            return Err(Error::invalid(
                "series.instance_uid",
                "a UID different from the study's",
                &r.instance_uid,
            ));
        }
        if r.number > i32::MAX as u32 {
            return Err(Error::invalid("series.number", "at most 2147483647 (IS)", r.number));
        }
        check_text("series.description", &r.description, Text::Lo)?;
        check_text("series.operator_name", &r.operator_name, Text::Pn)?;
        r.date_time.validate("series.date_time")?;
        if r.date_time.utc_offset_min != s.date_time.utc_offset_min {
            return Err(Error::invalid(
                "series.date_time",
                format!(
                    "the study's UTC offset ({:?} min): one Timezone Offset From UTC holds for the object",
                    s.date_time.utc_offset_min
                ),
                format!("{:?} min", r.date_time.utc_offset_min),
            ));
        }
        let e = &exam.equipment;
        check_text("equipment.manufacturer", &e.manufacturer, Text::Lo)?;
        check_text("equipment.model_name", &e.model_name, Text::Lo)?;
        check_text("equipment.software_versions", &e.software_versions, Text::Lo)?;
        check_text("equipment.device_serial_number", &e.device_serial_number, Text::Lo)?;
        check_text("equipment.station_name", &e.station_name, Text::Sh)?;
        check_text("scan.probe_name", &scan.probe_name, Text::Lo)?;
        check_text("scan.preset_name", &scan.preset_name, Text::Lo)?;
        plausible("scan.center_frequency_hz", scan.center_frequency_hz, 1e5, 5e7, "Hz")?;
        plausible("scan.depth_m", scan.depth_m, 1e-3, 1.0, "m")?;
        let texts = [
            &p.name,
            &p.id,
            &s.id,
            &s.accession_number,
            &s.description,
            &s.referring_physician,
            &s.institution_name,
            &r.description,
            &r.operator_name,
            &e.manufacturer,
            &e.model_name,
            &e.software_versions,
            &e.device_serial_number,
            &e.station_name,
            &scan.probe_name,
            &scan.preset_name,
        ];
        let utf8 = texts.iter().any(|t| !t.is_ascii());
        Ok(Exporter {
            exam,
            scan,
            next_instance: 1,
            utf8,
        })
    }

    /// The exam this exporter writes.
    pub fn exam(&self) -> &Exam {
        &self.exam
    }

    /// The scan parameters this exporter writes.
    pub fn scan(&self) -> &ScanParameters {
        &self.scan
    }

    /// The Instance Number the next object gets.
    pub fn next_instance_number(&self) -> u32 {
        self.next_instance
    }

    /// `frame` as an Ultrasound Image Storage object (MONOCHROME2, 8 bits, tissue region). Errors:
    /// [`Error::TooLarge`] above the size limits. Cost: see the [module docs](super).
    pub fn image(&mut self, frame: &BModeFrame) -> Result<DicomFile> {
        let px = grey_pixels(std::slice::from_ref(frame))?;
        self.build(px, RasterGeometry::from(frame), None, 1)
    }

    /// `frames` (at least one, all of the same shape and geometry, `frame_time_s` apart: 10 µs to
    /// 10 s) as an Ultrasound Multi-frame Image Storage object. Errors: [`Error::Empty`],
    /// [`Error::ShapeMismatch`] naming `frames` for differing shapes or geometry,
    /// [`Error::InvalidParameter`] for the frame time, [`Error::TooLarge`]. Cost: see the
    /// [module docs](super).
    pub fn cine(&mut self, frames: &[BModeFrame], frame_time_s: f64) -> Result<DicomFile> {
        let first = frames
            .first()
            .ok_or_else(|| Error::empty("frames", "at least one B-mode frame"))?;
        plausible("frame_time_s", frame_time_s, 1e-5, 10.0, "s")?;
        let geometry = RasterGeometry::from(first);
        for (i, f) in frames.iter().enumerate() {
            if f.pixels().dim() != first.pixels().dim() || RasterGeometry::from(f) != geometry {
                return Err(Error::shape(
                    "frames",
                    format!(
                        "every frame as frame 0: {:?} pixels, {geometry:?}",
                        first.pixels().dim()
                    ),
                    format!(
                        "frame {i}: {:?} pixels, {:?}",
                        f.pixels().dim(),
                        RasterGeometry::from(f)
                    ),
                ));
            }
        }
        let px = grey_pixels(frames)?;
        self.build(px, geometry, Some(frame_time_s), 1)
    }

    /// A colour raster `[rows, cols, 3]` (RGB, as `ColorFlowImager::rgb()` gives it) with the
    /// B-mode raster's `geometry`, as an Ultrasound Image Storage object (RGB, Planar
    /// Configuration 0, colour-flow region). Errors: [`Error::ShapeMismatch`] naming `rgb` when
    /// the last axis is not 3, the geometry's errors as [`BModeFrame::new`], [`Error::TooLarge`].
    pub fn rgb_image(&mut self, rgb: ArrayView3<'_, u8>, geometry: RasterGeometry) -> Result<DicomFile> {
        let px = rgb_pixels(std::slice::from_ref(&rgb), geometry)?;
        self.build(px, geometry, None, 2)
    }

    /// Colour rasters (each `[rows, cols, 3]`, all of one shape) with the B-mode raster's
    /// `geometry`, `frame_time_s` apart, as an Ultrasound Multi-frame Image Storage object (RGB).
    /// Errors: as [`rgb_image`](Exporter::rgb_image) and [`cine`](Exporter::cine).
    pub fn rgb_cine(
        &mut self,
        frames: &[ArrayView3<'_, u8>],
        geometry: RasterGeometry,
        frame_time_s: f64,
    ) -> Result<DicomFile> {
        if frames.is_empty() {
            return Err(Error::empty("frames", "at least one RGB frame"));
        }
        plausible("frame_time_s", frame_time_s, 1e-5, 10.0, "s")?;
        let px = rgb_pixels(frames, geometry)?;
        self.build(px, geometry, Some(frame_time_s), 2)
    }

    /// Builds the object. `region_type`: 1 tissue, 2 colour flow.
    fn build(
        &mut self,
        px: Pixels,
        geometry: RasterGeometry,
        frame_time_s: Option<f64>,
        region_type: u16,
    ) -> Result<DicomFile> {
        check_geometry(px.rows, px.cols, geometry.origin_m, geometry.pixel_size_m)?;
        let instance = self.next_instance;
        let ex = &self.exam;
        // Creation and content times in the study's local time (UTC when its offset is unknown).
        let offset = ex.study.date_time.utc_offset_min;
        let mut now = DateTime::now_at_offset(offset.unwrap_or(0));
        now.utc_offset_min = offset;
        let (ex, scan) = (&self.exam, &self.scan);
        let multiframe = frame_time_s.is_some();
        let sop_class = if multiframe {
            SOP_CLASS_US_MULTIFRAME_IMAGE
        } else {
            SOP_CLASS_US_IMAGE
        };
        let sop_instance = generate_uid();
        let mut o = InMemDicomObject::new_empty();
        let mut put = |tag: Tag, vr: VR, v: PrimitiveValue| {
            o.put(DataElement::new(tag, vr, v));
        };
        let s = |t: &str| PrimitiveValue::from(t);
        // SOP Common.
        if self.utf8 {
            put(tags::SPECIFIC_CHARACTER_SET, VR::CS, s("ISO_IR 192"));
        }
        put(tags::SOP_CLASS_UID, VR::UI, s(sop_class));
        put(tags::SOP_INSTANCE_UID, VR::UI, s(&sop_instance));
        put(tags::INSTANCE_CREATION_DATE, VR::DA, s(&now.date.to_da()));
        put(tags::INSTANCE_CREATION_TIME, VR::TM, s(&now.to_tm()));
        if let Some(o) = ex.study.date_time.offset_string() {
            put(tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, s(&o));
        }
        // Patient.
        let p = &ex.patient;
        put(tags::PATIENT_NAME, VR::PN, s(&p.name));
        put(tags::PATIENT_ID, VR::LO, s(&p.id));
        put(
            tags::PATIENT_BIRTH_DATE,
            VR::DA,
            p.birth_date.map_or(PrimitiveValue::Empty, |d| s(&d.to_da())),
        );
        put(
            tags::PATIENT_SEX,
            VR::CS,
            p.sex.map_or(PrimitiveValue::Empty, |x| s(x.code())),
        );
        // General Study.
        let st = &ex.study;
        put(tags::STUDY_INSTANCE_UID, VR::UI, s(&st.instance_uid));
        put(tags::STUDY_DATE, VR::DA, s(&st.date_time.date.to_da()));
        put(tags::STUDY_TIME, VR::TM, s(&st.date_time.to_tm()));
        put(tags::REFERRING_PHYSICIAN_NAME, VR::PN, s(&st.referring_physician));
        put(tags::STUDY_ID, VR::SH, s(&st.id));
        put(tags::ACCESSION_NUMBER, VR::SH, s(&st.accession_number));
        if !st.description.is_empty() {
            put(tags::STUDY_DESCRIPTION, VR::LO, s(&st.description));
        }
        // General Series.
        let se = &ex.series;
        put(tags::MODALITY, VR::CS, s("US"));
        put(tags::SERIES_INSTANCE_UID, VR::UI, s(&se.instance_uid));
        // Type 2C (required for a paired body part): empty when the app does not say.
        let laterality = match se.laterality {
            Some(Laterality::Right) => s("R"),
            Some(Laterality::Left) => s("L"),
            None => PrimitiveValue::Empty,
        };
        put(tags::LATERALITY, VR::CS, laterality);
        put(tags::SERIES_NUMBER, VR::IS, s(&se.number.to_string()));
        put(tags::SERIES_DATE, VR::DA, s(&se.date_time.date.to_da()));
        put(tags::SERIES_TIME, VR::TM, s(&se.date_time.to_tm()));
        let description = if se.description.is_empty() {
            &scan.preset_name
        } else {
            &se.description
        };
        if !description.is_empty() {
            put(tags::SERIES_DESCRIPTION, VR::LO, s(description));
        }
        if !scan.preset_name.is_empty() {
            put(tags::PROTOCOL_NAME, VR::LO, s(&scan.preset_name));
        }
        if !se.operator_name.is_empty() {
            put(tags::OPERATORS_NAME, VR::PN, s(&se.operator_name));
        }
        // General Equipment.
        let eq = &ex.equipment;
        put(tags::MANUFACTURER, VR::LO, s(&eq.manufacturer));
        for (tag, vr, v) in [
            (tags::INSTITUTION_NAME, VR::LO, &st.institution_name),
            (tags::STATION_NAME, VR::SH, &eq.station_name),
            (tags::MANUFACTURER_MODEL_NAME, VR::LO, &eq.model_name),
            (tags::DEVICE_SERIAL_NUMBER, VR::LO, &eq.device_serial_number),
            (tags::SOFTWARE_VERSIONS, VR::LO, &eq.software_versions),
        ] {
            if !v.is_empty() {
                put(tag, vr, s(v));
            }
        }
        // General Image.
        put(tags::INSTANCE_NUMBER, VR::IS, s(&instance.to_string()));
        put(tags::PATIENT_ORIENTATION, VR::CS, PrimitiveValue::Empty);
        put(tags::CONTENT_DATE, VR::DA, s(&now.date.to_da()));
        put(tags::CONTENT_TIME, VR::TM, s(&now.to_tm()));
        put(tags::ACQUISITION_DATE_TIME, VR::DT, s(&now.to_dt()));
        put(
            tags::IMAGE_TYPE,
            VR::CS,
            PrimitiveValue::Strs(["ORIGINAL", "PRIMARY"].iter().map(|v| v.to_string()).collect()),
        );
        put(tags::BURNED_IN_ANNOTATION, VR::CS, s("NO"));
        put(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, s("00"));
        // Image Pixel and US Image.
        put(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(px.samples));
        let photometric = if px.samples == 3 { "RGB" } else { "MONOCHROME2" };
        put(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, s(photometric));
        if px.samples == 3 {
            put(tags::PLANAR_CONFIGURATION, VR::US, PrimitiveValue::from(0u16));
        }
        put(tags::ROWS, VR::US, PrimitiveValue::from(px.rows as u16));
        put(tags::COLUMNS, VR::US, PrimitiveValue::from(px.cols as u16));
        put(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(8u16));
        put(tags::BITS_STORED, VR::US, PrimitiveValue::from(8u16));
        put(tags::HIGH_BIT, VR::US, PrimitiveValue::from(7u16));
        put(tags::PIXEL_REPRESENTATION, VR::US, PrimitiveValue::from(0u16));
        put(tags::TRANSDUCER_DATA, VR::LO, s(&scan.probe_name));
        put(tags::TRANSDUCER_TYPE, VR::CS, s(scan.transducer_type.code()));
        let depth_mm = (scan.depth_m * 1e3).round() as i64;
        put(tags::DEPTH_OF_SCAN_FIELD, VR::IS, s(&depth_mm.to_string()));
        // Multi-frame and Cine.
        if let Some(ft) = frame_time_s {
            put(tags::NUMBER_OF_FRAMES, VR::IS, s(&px.frames.to_string()));
            put(
                tags::FRAME_INCREMENT_POINTER,
                VR::AT,
                PrimitiveValue::from(tags::FRAME_TIME),
            );
            put(tags::FRAME_TIME, VR::DS, s(&format_ds(ft * 1e3)));
            let rate = (1.0 / ft).round().max(1.0) as i64;
            put(tags::RECOMMENDED_DISPLAY_FRAME_RATE, VR::IS, s(&rate.to_string()));
            put(tags::CINE_RATE, VR::IS, s(&rate.to_string()));
        }
        let region = region_item(&px, geometry, region_type, scan.center_frequency_hz);
        o.put(DataElement::new(
            tags::SEQUENCE_OF_ULTRASOUND_REGIONS,
            VR::SQ,
            DataSetSequence::new(vec![region], Length::UNDEFINED),
        ));
        let mut data = px.data;
        if data.len() % 2 == 1 {
            data.push(0);
        }
        o.put(DataElement::new(tags::PIXEL_DATA, VR::OB, PrimitiveValue::from(data)));
        let file = o
            .with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                    .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
                    .implementation_version_name(IMPLEMENTATION_VERSION_NAME),
            )
            .map_err(|e| Error::format("<DICOM meta>", e))?;
        self.next_instance = self.next_instance.saturating_add(1);
        Ok(DicomFile::from_object(file))
    }
}

/// The Sequence of Ultrasound Regions' one item: the whole raster.
fn region_item(px: &Pixels, g: RasterGeometry, data_type: u16, fc_hz: f64) -> InMemDicomObject {
    let [x0, z0] = g.origin_m;
    let [dx, dz] = g.pixel_size_m;
    // The pixel nearest the centre of the probe face (x = 0, depth 0) and its exact position, cm.
    let ref_col = (-x0 / dx).round();
    let ref_row = (-z0 / dz).round();
    let ref_x_cm = (x0 + ref_col * dx) * 100.0;
    let ref_z_cm = (z0 + ref_row * dz) * 100.0;
    let ul = |v: usize| PrimitiveValue::from(v as u32);
    let mut r = InMemDicomObject::new_empty();
    let mut put = |tag: Tag, vr: VR, v: PrimitiveValue| {
        r.put(DataElement::new(tag, vr, v));
    };
    put(tags::REGION_SPATIAL_FORMAT, VR::US, PrimitiveValue::from(1u16));
    put(tags::REGION_DATA_TYPE, VR::US, PrimitiveValue::from(data_type));
    put(tags::REGION_FLAGS, VR::UL, PrimitiveValue::from(0u32));
    put(tags::REGION_LOCATION_MIN_X0, VR::UL, ul(0));
    put(tags::REGION_LOCATION_MIN_Y0, VR::UL, ul(0));
    put(tags::REGION_LOCATION_MAX_X1, VR::UL, ul(px.cols - 1));
    put(tags::REGION_LOCATION_MAX_Y1, VR::UL, ul(px.rows - 1));
    // |ref| ≤ 2·MAX_FRAME_COORDINATE_M / PIXEL_SIZE_RANGE_M.0: within i32 for any valid geometry.
    put(tags::REFERENCE_PIXEL_X0, VR::SL, PrimitiveValue::from(ref_col as i32));
    put(tags::REFERENCE_PIXEL_Y0, VR::SL, PrimitiveValue::from(ref_row as i32));
    put(tags::PHYSICAL_UNITS_X_DIRECTION, VR::US, PrimitiveValue::from(3u16));
    put(tags::PHYSICAL_UNITS_Y_DIRECTION, VR::US, PrimitiveValue::from(3u16));
    put(
        tags::REFERENCE_PIXEL_PHYSICAL_VALUE_X,
        VR::FD,
        PrimitiveValue::from(ref_x_cm),
    );
    put(
        tags::REFERENCE_PIXEL_PHYSICAL_VALUE_Y,
        VR::FD,
        PrimitiveValue::from(ref_z_cm),
    );
    put(tags::PHYSICAL_DELTA_X, VR::FD, PrimitiveValue::from(dx * 100.0));
    put(tags::PHYSICAL_DELTA_Y, VR::FD, PrimitiveValue::from(dz * 100.0));
    put(
        tags::TRANSDUCER_FREQUENCY,
        VR::UL,
        PrimitiveValue::from((fc_hz / 1e3).round() as u32),
    );
    r
}

/// A DS value (at most 16 characters) for `v`.
fn format_ds(v: f64) -> String {
    for prec in (0..=12).rev() {
        let s = format!("{v:.prec$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        };
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{v:.6e}")
}

/// Largest pixel data: an explicit-length element holds at most 0xFFFF_FFFE bytes, and the crate's
/// memory cap applies.
fn check_pixel_bytes(bytes: u128) -> Result<()> {
    check_size("pixel data", bytes, DEFAULT_MEMORY_CAP_BYTES.min(0xFFFF_FFFE))
}

fn grey_pixels(frames: &[BModeFrame]) -> Result<Pixels> {
    let (rows, cols) = frames[0].pixels().dim();
    check_pixel_bytes(rows as u128 * cols as u128 * frames.len() as u128)?;
    let mut data = Vec::with_capacity(rows * cols * frames.len());
    for f in frames {
        data.extend(f.pixels().iter().copied());
    }
    Ok(Pixels {
        samples: 1,
        rows,
        cols,
        frames: frames.len(),
        data,
    })
}

fn rgb_pixels(frames: &[ArrayView3<'_, u8>], g: RasterGeometry) -> Result<Pixels> {
    let (rows, cols, c) = frames[0].dim();
    if c != 3 {
        return Err(Error::shape("rgb", "[rows, cols, 3]", format!("{:?}", frames[0].dim())));
    }
    check_geometry(rows, cols, g.origin_m, g.pixel_size_m)?;
    for (i, f) in frames.iter().enumerate() {
        if f.dim() != (rows, cols, 3) {
            return Err(Error::shape(
                "frames",
                format!("every frame [{rows}, {cols}, 3] as frame 0"),
                format!("frame {i}: {:?}", f.dim()),
            ));
        }
    }
    check_pixel_bytes(rows as u128 * cols as u128 * 3 * frames.len() as u128)?;
    let mut data = Vec::with_capacity(rows * cols * 3 * frames.len());
    for f in frames {
        data.extend(f.iter().copied());
    }
    Ok(Pixels {
        samples: 3,
        rows,
        cols,
        frames: frames.len(),
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ds_values_fit() {
        assert_eq!(format_ds(33.333333333333336), "33.333333333333");
        assert_eq!(format_ds(40.0), "40");
        assert_eq!(format_ds(0.25), "0.25");
        assert!(format_ds(1e-2 / 3.0).len() <= 16);
    }

    #[test]
    fn texts() {
        assert!(check_text("n", "Doe^Jane", Text::Pn).is_ok());
        assert!(check_text("n", "Müller^Jürgen=ミュラー^ユルゲン", Text::Pn).is_ok());
        assert!(check_text("n", "a\\b", Text::Lo).is_err());
        assert!(check_text("n", "a\nb", Text::Lo).is_err());
        assert!(check_text("n", &"x".repeat(17), Text::Sh).is_err());
        assert!(check_text("n", "a^b^c^d^e^f", Text::Pn).is_err());
    }
}
