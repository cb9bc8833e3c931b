//! DICOM export and de-identification (`cargo test --release --features dicom --test
//! dicom_export`): every exported object, and every de-identified copy, is read back with
//! dicom-object and with dcmtk's `dcmdump` (same pixels, the attributes written) and validated with
//! dicom3tools' `dciodvfy` (no errors). The external tools are optional: when one is missing the
//! checks that need it print a message and pass (`.ci/run` installs both).
#![cfg(feature = "dicom")]

use sonochip::dicom::dicom_core::Tag;
use sonochip::dicom::dicom_core::value::Value;
use sonochip::dicom::dicom_dictionary_std::tags;
use sonochip::dicom::dicom_object::InMemDicomObject;
use sonochip::dicom::{
    Date, DateTime, Deidentifier, DicomFile, Equipment, Exam, Exporter, Laterality, Patient, RasterGeometry,
    SOP_CLASS_US_IMAGE, SOP_CLASS_US_MULTIFRAME_IMAGE, ScanParameters, Series, Sex, Study,
};
use sonochip::frame::BModeFrame;
use sonochip::ndarray::{Array2, Array3};
use sonochip::preset::{Preset, PresetKind};
use sonochip::{Error, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROWS: usize = 120;
const COLS: usize = 90;
/// Centre of pixel (0, 0), metres: the probe face's centre (x = 0, depth 0) lies at column 44.5
/// and row −0.5 (between pixels, so the reference pixel is the nearest one, not an exact one).
const ORIGIN_M: [f64; 2] = [-4.45e-3, 0.06e-3];
/// Non-square pixels, so that X and Y are checked apart.
const PIXEL_M: [f64; 2] = [1e-4, 1.2e-4];

/// Identifying values of the exam: none may survive de-identification.
const NAME: &str = "Müller^Jürgen";
const PATIENT_ID: &str = "PID-778899";
const ACCESSION: &str = "ACC-5550123";
const REFERRING: &str = "Referrer^Rita";
const INSTITUTION: &str = "St. Example Hospital";
const SERIAL: &str = "SN-0042-XYZ";
const STATION: &str = "SCANNER7";
const OPERATOR: &str = "Operator^Otto";
const STUDY_DESCRIPTION: &str = "Carotid follow-up Mueller";
const STUDY_ID: &str = "STUDY-991";

fn frame(seed: u8) -> BModeFrame {
    let px = Array2::from_shape_fn((ROWS, COLS), |(r, c)| (r * 7 + c * 3 + seed as usize * 11) as u8);
    BModeFrame::new(px, ORIGIN_M, PIXEL_M).unwrap()
}

fn rgb(seed: u8) -> Array3<u8> {
    Array3::from_shape_fn((ROWS, COLS, 3), |(r, c, k)| {
        (r * 5 + c * 2 + k * 80 + seed as usize * 13) as u8
    })
}

fn exam() -> Exam {
    let date_time = DateTime {
        date: Date::new(2026, 11, 30).unwrap(),
        hour: 9,
        minute: 41,
        second: 7,
        utc_offset_min: Some(60),
    };
    Exam {
        patient: Patient {
            name: NAME.into(),
            id: PATIENT_ID.into(),
            birth_date: Some(Date::new(1961, 4, 23).unwrap()),
            sex: Some(Sex::Male),
        },
        study: Study {
            id: STUDY_ID.into(),
            accession_number: ACCESSION.into(),
            description: STUDY_DESCRIPTION.into(),
            referring_physician: REFERRING.into(),
            institution_name: INSTITUTION.into(),
            date_time,
            ..Study::new()
        },
        series: Series {
            operator_name: OPERATOR.into(),
            laterality: Some(Laterality::Right),
            date_time,
            ..Series::new(3)
        },
        equipment: Equipment {
            device_serial_number: SERIAL.into(),
            station_name: STATION.into(),
            ..Equipment::default()
        },
    }
}

fn exporter() -> Exporter {
    let scan = ScanParameters::from_preset(&Preset::get(PresetKind::Vascular), 0.04).unwrap();
    Exporter::new(exam(), scan).unwrap()
}

/// The four kinds of object: grey single frame, grey cine, RGB single frame, RGB cine.
fn exports() -> Vec<(&'static str, DicomFile)> {
    let mut ex = exporter();
    let frames: Vec<BModeFrame> = (0..5).map(frame).collect();
    let colours: Vec<Array3<u8>> = (0..3).map(rgb).collect();
    let views: Vec<_> = colours.iter().map(|c| c.view()).collect();
    let g = RasterGeometry::from(&frames[0]);
    vec![
        ("bmode", ex.image(&frames[0]).unwrap()),
        ("bmode_cine", ex.cine(&frames, 0.04).unwrap()),
        ("color", ex.rgb_image(colours[0].view(), g).unwrap()),
        ("color_cine", ex.rgb_cine(&views, g, 1.0 / 30.0).unwrap()),
    ]
}

/// The pixels each export holds, as bytes in the order DICOM stores them.
fn expected_pixels(name: &str) -> Vec<u8> {
    let mut v: Vec<u8> = match name {
        "bmode" => frame(0).pixels().iter().copied().collect(),
        "bmode_cine" => (0..5)
            .flat_map(|i| frame(i).pixels().iter().copied().collect::<Vec<_>>())
            .collect(),
        "color" => rgb(0).iter().copied().collect(),
        "color_cine" => (0..3)
            .flat_map(|i| rgb(i).iter().copied().collect::<Vec<_>>())
            .collect(),
        _ => unreachable!(),
    };
    if v.len() % 2 == 1 {
        v.push(0);
    }
    v
}

fn out_dir(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sonochip-dicom-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The path of an external tool, or `None` (with a message) when it is not installed.
fn tool(name: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!(
            "SKIPPED: `{name}` not found; install the Debian package `{package}` (apt-get install -y {package}) to run this check"
        );
    }
    found
}

fn text(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .map(|e| e.to_str().unwrap().trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_else(|| panic!("missing {tag}"))
}

fn float(obj: &InMemDicomObject, tag: Tag) -> f64 {
    obj.get(tag)
        .unwrap_or_else(|| panic!("missing {tag}"))
        .to_float64()
        .unwrap()
}

fn int(obj: &InMemDicomObject, tag: Tag) -> i64 {
    obj.get(tag)
        .unwrap_or_else(|| panic!("missing {tag}"))
        .to_int::<i64>()
        .unwrap()
}

fn region(obj: &InMemDicomObject) -> &InMemDicomObject {
    let seq = obj.get(tags::SEQUENCE_OF_ULTRASOUND_REGIONS).expect("regions");
    let items = seq.items().expect("a sequence");
    assert_eq!(items.len(), 1);
    &items[0]
}

/// `dcmdump` of a file: the text and the raw pixel bytes (`+W`).
fn dcmdump(dcmdump: &Path, file: &Path, dir: &Path) -> (String, Vec<u8>) {
    let raw_dir = dir.join(format!("{}-raw", file.file_stem().unwrap().to_string_lossy()));
    std::fs::create_dir_all(&raw_dir).unwrap();
    let out = Command::new(dcmdump)
        .arg("+L")
        .arg("+W")
        .arg(&raw_dir)
        .arg(file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "dcmdump failed on {}: {}{stdout}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let raw = std::fs::read_dir(&raw_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "raw"))
        .unwrap_or_else(|| panic!("dcmdump +W wrote no .raw file for {}", file.display()));
    (stdout, std::fs::read(raw).unwrap())
}

/// `dciodvfy` of a file: its error lines and its warning lines.
fn dciodvfy(dciodvfy: &Path, file: &Path) -> (Vec<String>, Vec<String>) {
    let out = Command::new(dciodvfy).arg(file).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let errors = all
        .lines()
        .filter(|l| l.starts_with("Error"))
        .map(String::from)
        .collect();
    let warnings = all
        .lines()
        .filter(|l| l.starts_with("Warning"))
        .map(String::from)
        .collect();
    (errors, warnings)
}

/// Warnings of dciodvfy that are accepted, with the reason (see `validate_all`).
fn accepted_warning(w: &str) -> bool {
    // dciodvfy's DICOMDIR-readiness checks: a de-identified copy has, by the profile, an empty
    // Patient ID, Study Date, Study Time and Study ID (type 2, zero length); a DICOMDIR is not
    // what the copies are for.
    w.contains("Missing attribute or value that would be needed to build DICOMDIR")
}

/// Without a laterality, Laterality (0020,0060) is written empty ("unknown"), which dciodvfy
/// warns about; with one, no warning.
#[test]
fn dciodvfy_laterality_unknown_is_only_a_warning() {
    let Some(bin) = tool("dciodvfy", "dicom3tools") else {
        return;
    };
    let dir = out_dir("laterality");
    let mut e = exam();
    e.series.laterality = None;
    let scan = ScanParameters::from_preset(&Preset::get(PresetKind::Abdomen), 0.15).unwrap();
    let f = Exporter::new(e, scan).unwrap().image(&frame(4)).unwrap();
    let path = dir.join("unknown.dcm");
    f.write_file(&path).unwrap();
    let (errors, warnings) = dciodvfy(&bin, &path);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        warnings.len() == 1 && warnings[0].contains("<Laterality>"),
        "{warnings:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn export_reads_back_with_dicom_object() {
    let dir = out_dir("readback");
    for (name, file) in exports() {
        let path = dir.join(format!("{name}.dcm"));
        file.write_file(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..128], &[0u8; 128][..], "{name}: preamble");
        assert_eq!(&bytes[128..132], b"DICM", "{name}");
        assert_eq!(bytes, file.to_bytes().unwrap(), "{name}: file and bytes agree");
        let back = DicomFile::read_file(&path).unwrap();
        assert_eq!(
            back.to_bytes().unwrap(),
            bytes,
            "{name}: read and written again, the same bytes"
        );
        assert_eq!(DicomFile::from_bytes(&bytes).unwrap().to_bytes().unwrap(), bytes);
        let meta = back.object().meta();
        assert_eq!(meta.transfer_syntax().trim_end_matches('\0'), "1.2.840.10008.1.2.1");
        assert_eq!(
            meta.media_storage_sop_instance_uid().trim_end_matches('\0'),
            file.sop_instance_uid()
        );
        let o: &InMemDicomObject = back.object();
        let multi = name.ends_with("cine");
        let colour = name.starts_with("color");
        let class = if multi {
            SOP_CLASS_US_MULTIFRAME_IMAGE
        } else {
            SOP_CLASS_US_IMAGE
        };
        assert_eq!(text(o, tags::SOP_CLASS_UID), class);
        assert_eq!(text(o, tags::SPECIFIC_CHARACTER_SET), "ISO_IR 192");
        assert_eq!(text(o, tags::PATIENT_NAME), NAME);
        assert_eq!(text(o, tags::PATIENT_ID), PATIENT_ID);
        assert_eq!(text(o, tags::PATIENT_BIRTH_DATE), "19610423");
        assert_eq!(text(o, tags::PATIENT_SEX), "M");
        assert_eq!(text(o, tags::ACCESSION_NUMBER), ACCESSION);
        assert_eq!(text(o, tags::STUDY_DATE), "20261130");
        assert_eq!(text(o, tags::STUDY_TIME), "094107");
        assert_eq!(text(o, tags::MODALITY), "US");
        assert_eq!(text(o, tags::MANUFACTURER), "sonochip");
        assert_eq!(text(o, tags::DEVICE_SERIAL_NUMBER), SERIAL);
        assert_eq!(text(o, tags::PROTOCOL_NAME), "vascular");
        assert_eq!(text(o, tags::SERIES_DESCRIPTION), "vascular");
        assert_eq!(text(o, tags::TRANSDUCER_DATA), "sonochip CMUT 140x64 linear");
        assert_eq!(text(o, tags::TRANSDUCER_TYPE), "LINEAR");
        assert_eq!(int(o, tags::DEPTH_OF_SCAN_FIELD), 40);
        assert_eq!(int(o, tags::SERIES_NUMBER), 3);
        assert_eq!(text(o, tags::BURNED_IN_ANNOTATION), "NO");
        assert_eq!(int(o, tags::ROWS), ROWS as i64);
        assert_eq!(int(o, tags::COLUMNS), COLS as i64);
        assert_eq!(int(o, tags::BITS_ALLOCATED), 8);
        assert_eq!(int(o, tags::SAMPLES_PER_PIXEL), if colour { 3 } else { 1 });
        assert_eq!(
            text(o, tags::PHOTOMETRIC_INTERPRETATION),
            if colour { "RGB" } else { "MONOCHROME2" }
        );
        if colour {
            assert_eq!(int(o, tags::PLANAR_CONFIGURATION), 0);
        }
        if multi {
            assert_eq!(int(o, tags::NUMBER_OF_FRAMES), if colour { 3 } else { 5 });
            let ptr = o.get(tags::FRAME_INCREMENT_POINTER).unwrap();
            assert_eq!(ptr.value().to_tag().unwrap(), tags::FRAME_TIME);
            let ft = float(o, tags::FRAME_TIME);
            let want = if colour { 1000.0 / 30.0 } else { 40.0 };
            assert!((ft - want).abs() < 1e-9, "{ft}");
        } else {
            assert!(o.get(tags::NUMBER_OF_FRAMES).is_none());
        }
        let r = region(o);
        assert_eq!(int(r, tags::REGION_DATA_TYPE), if colour { 2 } else { 1 });
        assert_eq!(int(r, tags::REGION_SPATIAL_FORMAT), 1);
        assert_eq!(int(r, tags::TRANSDUCER_FREQUENCY), 7500);
        let px = o.get(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
        assert_eq!(&px[..], &expected_pixels(name)[..], "{name}: pixels");
        // Every instance has its own UID and the next instance number; the series is shared.
        assert!(sonochip::dicom::validate_uid("sop", &file.sop_instance_uid()).is_ok());
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn instances_share_study_and_series_and_count_up() {
    let files = exports();
    let study = text(files[0].1.object(), tags::STUDY_INSTANCE_UID);
    let series = text(files[0].1.object(), tags::SERIES_INSTANCE_UID);
    let mut sops = std::collections::HashSet::new();
    for (i, (_, f)) in files.iter().enumerate() {
        assert_eq!(text(f.object(), tags::STUDY_INSTANCE_UID), study);
        assert_eq!(text(f.object(), tags::SERIES_INSTANCE_UID), series);
        assert_eq!(int(f.object(), tags::INSTANCE_NUMBER), i as i64 + 1);
        assert!(sops.insert(f.sop_instance_uid()));
    }
}

/// Physical Delta times a pixel distance is the frame's metric distance, and the reference pixel
/// maps every pixel to the frame's own coordinates.
#[test]
fn region_geometry_measures_like_the_frame() {
    let f = frame(0);
    let mut ex = exporter();
    let file = ex.image(&f).unwrap();
    let back = DicomFile::from_bytes(&file.to_bytes().unwrap()).unwrap();
    let r = region(back.object());
    assert_eq!(int(r, tags::PHYSICAL_UNITS_X_DIRECTION), 3);
    assert_eq!(int(r, tags::PHYSICAL_UNITS_Y_DIRECTION), 3);
    assert_eq!(int(r, tags::REGION_LOCATION_MIN_X0), 0);
    assert_eq!(int(r, tags::REGION_LOCATION_MIN_Y0), 0);
    assert_eq!(int(r, tags::REGION_LOCATION_MAX_X1), COLS as i64 - 1);
    assert_eq!(int(r, tags::REGION_LOCATION_MAX_Y1), ROWS as i64 - 1);
    let (dx_cm, dy_cm) = (float(r, tags::PHYSICAL_DELTA_X), float(r, tags::PHYSICAL_DELTA_Y));
    assert!(
        (dx_cm - 0.01).abs() < 1e-15 && (dy_cm - 0.012).abs() < 1e-15,
        "{dx_cm} {dy_cm}"
    );
    for (a, b) in [
        ((0.0, 0.0), (ROWS as f64 - 1.0, COLS as f64 - 1.0)),
        ((10.0, 3.0), (70.0, 55.0)),
        ((5.0, 5.0), (5.0, 80.0)),
    ] {
        let (drow, dcol) = (b.0 - a.0, b.1 - a.1);
        let dicom_cm = (dcol * dx_cm).hypot(drow * dy_cm);
        let frame_m = f.distance_m(a, b);
        assert!(
            (dicom_cm / 100.0 - frame_m).abs() < 1e-12,
            "{dicom_cm} cm vs {frame_m} m"
        );
    }
    let (x0, y0) = (int(r, tags::REFERENCE_PIXEL_X0), int(r, tags::REFERENCE_PIXEL_Y0));
    let (vx, vy) = (
        float(r, tags::REFERENCE_PIXEL_PHYSICAL_VALUE_X),
        float(r, tags::REFERENCE_PIXEL_PHYSICAL_VALUE_Y),
    );
    // The reference pixel is the one nearest the probe face's centre (x = 0, depth 0) ...
    let [rr, cc] = f.m_to_pixel(0.0, 0.0);
    assert!(
        (x0 as f64 - cc).abs() <= 0.5 && (y0 as f64 - rr).abs() <= 0.5,
        "{x0} {y0} vs {cc} {rr}"
    );
    // ... and every pixel's physical position follows from it.
    for (row, col) in [(0usize, 0usize), (ROWS - 1, COLS - 1), (37, 12)] {
        let x_cm = vx + (col as f64 - x0 as f64) * dx_cm;
        let z_cm = vy + (row as f64 - y0 as f64) * dy_cm;
        let [x, z] = f.pixel_to_m(row as f64, col as f64);
        assert!((x_cm / 100.0 - x).abs() < 1e-12 && (z_cm / 100.0 - z).abs() < 1e-12);
    }
}

/// Every identifying value of the exam, as the attributes and the file hold them.
fn identity(file: &DicomFile) -> Vec<String> {
    let o = file.object();
    let mut v: Vec<String> = [
        NAME,
        "Müller",
        "Jürgen",
        PATIENT_ID,
        ACCESSION,
        REFERRING,
        "Referrer",
        INSTITUTION,
        SERIAL,
        STATION,
        OPERATOR,
        "Otto",
        STUDY_DESCRIPTION,
        STUDY_ID,
        "19610423",
        "20261130",
        "094107",
        "+0100",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for tag in [
        tags::STUDY_INSTANCE_UID,
        tags::SERIES_INSTANCE_UID,
        tags::SOP_INSTANCE_UID,
        tags::CONTENT_DATE,
        tags::CONTENT_TIME,
        tags::INSTANCE_CREATION_DATE,
    ] {
        v.push(text(o, tag));
    }
    v
}

/// Every attribute of an object, recursively, as `tag value` lines (values as text; binary
/// values as their numbers).
fn list(o: &InMemDicomObject, out: &mut Vec<String>) {
    for e in o.iter() {
        match e.value() {
            Value::Sequence(s) => {
                out.push(format!("{} SQ", e.header().tag));
                for item in s.items() {
                    list(item, out);
                }
            }
            Value::Primitive(p) if e.header().tag == tags::PIXEL_DATA => {
                out.push(format!("{} {} bytes", e.header().tag, p.calculate_byte_len()))
            }
            Value::Primitive(p) => out.push(format!("{} {}", e.header().tag, p.to_str())),
            Value::PixelSequence(_) => out.push(format!("{} pixel sequence", e.header().tag)),
        }
    }
}

/// Whether a listed line (`list`) is a UID attribute of `o` (at any depth: the tag's VR is UI).
fn is_uid_line(o: &InMemDicomObject, line: &str) -> bool {
    fn uid_tags(o: &InMemDicomObject, out: &mut Vec<String>) {
        for e in o.iter() {
            if e.vr() == sonochip::dicom::dicom_core::VR::UI {
                out.push(format!("{} ", e.header().tag));
            }
            if let Value::Sequence(s) = e.value() {
                for item in s.items() {
                    uid_tags(item, out);
                }
            }
        }
    }
    let mut tags = Vec::new();
    uid_tags(o, &mut tags);
    tags.iter().any(|t| line.starts_with(t.as_str()))
}

#[test]
fn deidentified_copies_hold_no_identity() {
    let files = exports();
    let mut deid = Deidentifier::new();
    let dir = out_dir("deid");
    let originals_study = text(files[0].1.object(), tags::STUDY_INSTANCE_UID);
    let mut new_studies = std::collections::HashSet::new();
    for (name, file) in &files {
        let copy = deid.deidentify(file).unwrap();
        let path = dir.join(format!("{name}_deid.dcm"));
        copy.write_file(&path).unwrap();
        let back = DicomFile::read_file(&path).unwrap();
        let o = back.object();
        // Every attribute, listed: none holds an original value.
        let mut lines = Vec::new();
        list(o, &mut lines);
        let meta_uid = o
            .meta()
            .media_storage_sop_instance_uid()
            .trim_end_matches('\0')
            .to_string();
        lines.push(format!("meta {meta_uid}"));
        let secrets = identity(file);
        // Dates and times are digit strings, which a new random UID may contain by chance: they
        // are looked for in every attribute but the UIDs (and so not in the file's bytes).
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let uid_lines: Vec<bool> = lines
            .iter()
            .map(|l| l.starts_with("meta") || is_uid_line(o, l))
            .collect();
        for (line, is_uid) in lines.iter().zip(&uid_lines) {
            for s in secrets.iter().filter(|s| !(*is_uid && digits(s))) {
                assert!(!line.contains(s.as_str()), "{name}: `{line}` holds the original `{s}`");
            }
        }
        // Nor does any byte of the file.
        let bytes = std::fs::read(&path).unwrap();
        for s in secrets.iter().filter(|s| !digits(s)) {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "{name}: the file holds the original `{s}`"
            );
        }
        assert_eq!(text(o, tags::PATIENT_IDENTITY_REMOVED), "YES");
        assert!(text(o, tags::DEIDENTIFICATION_METHOD).contains("Basic"));
        let code = &o
            .get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()[0];
        assert_eq!(text(code, tags::CODE_VALUE), "113100");
        assert_eq!(text(code, tags::CODING_SCHEME_DESIGNATOR), "DCM");
        assert_eq!(text(o, tags::PATIENT_NAME), "");
        assert_eq!(meta_uid, back.sop_instance_uid());
        // The image and its geometry are kept.
        assert_eq!(
            o.get(tags::PIXEL_DATA).unwrap().to_bytes().unwrap().as_ref(),
            expected_pixels(name).as_slice()
        );
        let (mut kept, mut orig) = (Vec::new(), Vec::new());
        list(region(o), &mut kept);
        list(region(file.object()), &mut orig);
        assert_eq!(kept, orig, "{name}: the region");
        assert_eq!(back.sop_class_uid(), file.sop_class_uid());
        // UIDs replaced consistently: one new study for one original study.
        assert_eq!(
            deid.replacement_uid(&originals_study),
            Some(text(o, tags::STUDY_INSTANCE_UID).as_str())
        );
        new_studies.insert(text(o, tags::STUDY_INSTANCE_UID));
        assert_ne!(back.sop_instance_uid(), file.sop_instance_uid());
    }
    assert_eq!(new_studies.len(), 1);
    // The same original gives the same new UID again; another de-identifier gives another.
    let again = deid.deidentify(&files[0].1).unwrap();
    assert_eq!(
        text(again.object(), tags::STUDY_INSTANCE_UID),
        *new_studies.iter().next().unwrap()
    );
    let other = Deidentifier::new().deidentify(&files[0].1).unwrap();
    assert!(!new_studies.contains(&text(other.object(), tags::STUDY_INSTANCE_UID)));
    // A pseudonym replaces name and ID.
    let p = Deidentifier::with_pseudonym("SUBJECT^001", "S001")
        .unwrap()
        .deidentify(&files[0].1)
        .unwrap();
    assert_eq!(text(p.object(), tags::PATIENT_NAME), "SUBJECT^001");
    assert_eq!(text(p.object(), tags::PATIENT_ID), "S001");
    assert!(Deidentifier::with_pseudonym("a\\b", "x").is_err());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn private_attributes_are_dropped_and_burned_in_annotation_refused() {
    use sonochip::dicom::dicom_core::{DataElement, VR, value::PrimitiveValue};
    let mut ex = exporter();
    let mut obj = ex.image(&frame(1)).unwrap().into_object();
    obj.put(DataElement::new(
        Tag(0x0009, 0x0010),
        VR::LO,
        PrimitiveValue::from("ACME"),
    ));
    obj.put(DataElement::new(
        Tag(0x0009, 0x1001),
        VR::LO,
        PrimitiveValue::from(PATIENT_ID),
    ));
    obj.put(DataElement::new(
        tags::OTHER_PATIENT_NAMES,
        VR::PN,
        PrimitiveValue::from(NAME),
    ));
    let copy = Deidentifier::new()
        .deidentify(&DicomFile::from_object(obj.clone()))
        .unwrap();
    assert!(copy.object().iter().all(|e| e.header().tag.group() % 2 == 0));
    assert!(copy.object().get(tags::OTHER_PATIENT_NAMES).is_none());
    obj.put(DataElement::new(
        tags::BURNED_IN_ANNOTATION,
        VR::CS,
        PrimitiveValue::from("YES"),
    ));
    let e = Deidentifier::new()
        .deidentify(&DicomFile::from_object(obj))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
}

#[test]
fn dcmdump_reads_every_object_and_copy() {
    let Some(dcmdump_bin) = tool("dcmdump", "dcmtk") else {
        return;
    };
    let dir = out_dir("dcmdump");
    let mut deid = Deidentifier::new();
    for (name, file) in exports() {
        let copy = deid.deidentify(&file).unwrap();
        for (label, f) in [(name.to_string(), &file), (format!("{name}_deid"), &copy)] {
            let path = dir.join(format!("{label}.dcm"));
            f.write_file(&path).unwrap();
            let (dump, raw) = dcmdump(&dcmdump_bin, &path, &dir);
            assert_eq!(raw, expected_pixels(name), "{label}: dcmdump's pixels");
            let has = |needle: &str| assert!(dump.contains(needle), "{label}: dcmdump lacks `{needle}`:\n{dump}");
            has(&format!("(0008,0018) UI [{}]", f.sop_instance_uid()));
            has("(0008,0060) CS [US]");
            has("(0018,6024) US 3");
            has("(0018,602c) FD 0.01");
            has("(0018,602e) FD 0.012");
            has("(0028,0301) CS [NO]");
            has(&format!("(0028,0010) US {ROWS}"));
            has(&format!("(0028,0011) US {COLS}"));
            if name.ends_with("cine") {
                has("(0028,0009) AT (0018,1063)");
            }
            if label.ends_with("deid") {
                has("(0012,0062) CS [YES]");
                assert!(
                    !dump.contains(PATIENT_ID) && !dump.contains("Müller"),
                    "{label}:\n{dump}"
                );
            } else {
                has(&format!("(0010,0010) PN [{NAME}]"));
                has(&format!("(0010,0020) LO [{PATIENT_ID}]"));
                has("(0008,0005) CS [ISO_IR 192]");
                has("(0018,6030) UL 7500");
                has("(0018,5050) IS [40]");
            }
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

/// dciodvfy on every exported object and every de-identified copy: no errors. Warnings are
/// printed; the accepted ones are listed in `accepted_warning`.
#[test]
fn dciodvfy_validates_every_object_and_copy() {
    let Some(bin) = tool("dciodvfy", "dicom3tools") else {
        return;
    };
    let dir = out_dir("dciodvfy");
    let mut deid = Deidentifier::new();
    let mut failures = Vec::new();
    for (name, file) in exports() {
        let copy = deid.deidentify(&file).unwrap();
        for (label, f) in [(name.to_string(), &file), (format!("{name}_deid"), &copy)] {
            let path = dir.join(format!("{label}.dcm"));
            f.write_file(&path).unwrap();
            let (errors, warnings) = dciodvfy(&bin, &path);
            println!("dciodvfy {label}: {} errors, {} warnings", errors.len(), warnings.len());
            for w in &warnings {
                println!("  {w}");
                if !accepted_warning(w) {
                    failures.push(format!("{label}: unexpected {w}"));
                }
            }
            for e in errors {
                failures.push(format!("{label}: {e}"));
            }
        }
    }
    assert!(failures.is_empty(), "dciodvfy:\n{}", failures.join("\n"));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_input_gives_typed_errors() {
    let mut ex = exporter();
    let e = ex.cine(&[], 0.04).unwrap_err();
    assert!(matches!(e, Error::Empty { name: "frames", .. }), "{e}");
    let other = BModeFrame::new(Array2::zeros((ROWS, COLS + 1)), ORIGIN_M, PIXEL_M).unwrap();
    let e = ex.cine(&[frame(0), other], 0.04).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { name: "frames", .. }), "{e}");
    let moved = BModeFrame::new(Array2::zeros((ROWS, COLS)), [0.0, 0.0], PIXEL_M).unwrap();
    assert!(ex.cine(&[frame(0), moved], 0.04).is_err());
    for ft in [0.0, -1.0, f64::NAN, 100.0] {
        assert_eq!(ex.cine(&[frame(0)], ft).unwrap_err().parameter(), Some("frame_time_s"));
    }
    let g = RasterGeometry::from(&frame(0));
    let four = Array3::<u8>::zeros((ROWS, COLS, 4));
    let e = ex.rgb_image(four.view(), g).unwrap_err();
    assert!(matches!(e, Error::ShapeMismatch { name: "rgb", .. }), "{e}");
    let bad_geometry = RasterGeometry {
        origin_m: [0.0, 0.0],
        pixel_size_m: [0.0, 1e-4],
    };
    assert!(ex.rgb_image(rgb(0).view(), bad_geometry).is_err());
    let (a, b) = (rgb(0), Array3::<u8>::zeros((ROWS + 1, COLS, 3)));
    assert!(ex.rgb_cine(&[a.view(), b.view()], g, 0.04).is_err());
    assert!(ex.rgb_cine(&[], g, 0.04).is_err());

    let scan = ScanParameters::from_preset(&Preset::get(PresetKind::Vascular), 0.04).unwrap();
    let with = |f: &dyn Fn(&mut Exam)| {
        let mut e = exam();
        f(&mut e);
        Exporter::new(e, scan.clone()).unwrap_err()
    };
    assert_eq!(
        with(&|e| e.patient.name = "Doe\\Jane".into()).parameter(),
        Some("patient.name")
    );
    assert_eq!(with(&|e| e.patient.id = "x".repeat(65)).parameter(), Some("patient.id"));
    assert_eq!(
        with(&|e| e.study.accession_number = "x".repeat(17)).parameter(),
        Some("study.accession_number")
    );
    assert_eq!(
        with(&|e| e.study.instance_uid = "1.2.03".into()).parameter(),
        Some("study.instance_uid")
    );
    assert_eq!(
        with(&|e| e.series.instance_uid = e.study.instance_uid.clone()).parameter(),
        Some("series.instance_uid")
    );
    assert_eq!(
        with(&|e| e.study.date_time.hour = 24).parameter(),
        Some("study.date_time")
    );
    assert_eq!(
        with(&|e| e.patient.birth_date = Some(Date {
            year: 2023,
            month: 2,
            day: 29
        }))
        .parameter(),
        Some("patient.birth_date")
    );
    let mut mhz = scan.clone();
    mhz.center_frequency_hz = 7.5; // MHz given for Hz
    assert_eq!(
        Exporter::new(exam(), mhz).unwrap_err().parameter(),
        Some("scan.center_frequency_hz")
    );
    assert!(ScanParameters::from_preset(&Preset::get(PresetKind::Vascular), 5.0).is_err());
    assert_eq!(
        DicomFile::from_bytes(b"not dicom").unwrap_err().kind(),
        ErrorKind::Format
    );
    assert_eq!(
        DicomFile::read_file("/nonexistent/x.dcm").unwrap_err().kind(),
        ErrorKind::Io
    );
}

#[test]
fn ascii_exams_need_no_character_set() {
    let mut e = exam();
    e.patient.name = "Doe^Jane".into();
    let scan = ScanParameters::from_preset(&Preset::get(PresetKind::Cardiac), 0.12).unwrap();
    let f = Exporter::new(e, scan).unwrap().image(&frame(2)).unwrap();
    assert!(f.object().get(tags::SPECIFIC_CHARACTER_SET).is_none());
    assert_eq!(text(f.object(), tags::TRANSDUCER_TYPE), "SECTOR_PHASED");
    assert_eq!(int(f.object(), tags::DEPTH_OF_SCAN_FIELD), 120);
}
