//! De-identification: the Basic Application Level Confidentiality Profile (PS3.15 Annex E).

use super::DicomFile;
use super::uid::generate_uid;
use crate::error::{Error, Result};
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{InMemDicomObject, meta::FileMetaTableBuilder};
use std::collections::HashMap;

/// What the profile does to an attribute (PS3.15 Table E.1-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// X: remove.
    Remove,
    /// Z: replace with a zero-length value (or the de-identifier's pseudonym for name and ID).
    Empty,
}

/// The attributes the profile removes (X, and X/Z, X/D, X/Z/D where the attribute is optional in
/// the ultrasound IODs) or empties (Z, Z/D: type 2 attributes). UIDs (U) are handled by value
/// representation: every UI attribute not in [`KEEP_UIDS`] is replaced.
const ACTIONS: &[(u16, u16, Action)] = {
    use Action::{Empty as Z, Remove as X};
    &[
        (0x0008, 0x0012, X), // Instance Creation Date
        (0x0008, 0x0013, X), // Instance Creation Time
        (0x0008, 0x0020, Z), // Study Date
        (0x0008, 0x0021, X), // Series Date
        (0x0008, 0x0022, X), // Acquisition Date
        (0x0008, 0x0023, Z), // Content Date
        (0x0008, 0x0024, X), // Overlay Date
        (0x0008, 0x0025, X), // Curve Date
        (0x0008, 0x002A, X), // Acquisition DateTime
        (0x0008, 0x0030, Z), // Study Time
        (0x0008, 0x0031, X), // Series Time
        (0x0008, 0x0032, X), // Acquisition Time
        (0x0008, 0x0033, Z), // Content Time
        (0x0008, 0x0034, X), // Overlay Time
        (0x0008, 0x0035, X), // Curve Time
        (0x0008, 0x0050, Z), // Accession Number
        (0x0008, 0x0080, X), // Institution Name
        (0x0008, 0x0081, X), // Institution Address
        (0x0008, 0x0082, X), // Institution Code Sequence
        (0x0008, 0x0090, Z), // Referring Physician's Name
        (0x0008, 0x0092, X), // Referring Physician's Address
        (0x0008, 0x0094, X), // Referring Physician's Telephone Numbers
        (0x0008, 0x0096, X), // Referring Physician Identification Sequence
        (0x0008, 0x0201, X), // Timezone Offset From UTC
        (0x0008, 0x1010, X), // Station Name
        (0x0008, 0x1030, X), // Study Description
        (0x0008, 0x103E, X), // Series Description
        (0x0008, 0x1040, X), // Institutional Department Name
        (0x0008, 0x1048, X), // Physician(s) of Record
        (0x0008, 0x1049, X), // Physician(s) of Record Identification Sequence
        (0x0008, 0x1050, X), // Performing Physicians' Name
        (0x0008, 0x1052, X), // Performing Physician Identification Sequence
        (0x0008, 0x1060, X), // Name of Physician(s) Reading Study
        (0x0008, 0x1062, X), // Physician(s) Reading Study Identification Sequence
        (0x0008, 0x1070, X), // Operators' Name
        (0x0008, 0x1072, X), // Operator Identification Sequence
        (0x0008, 0x1080, X), // Admitting Diagnoses Description
        (0x0008, 0x1084, X), // Admitting Diagnoses Code Sequence
        (0x0008, 0x1110, X), // Referenced Study Sequence
        (0x0008, 0x1111, X), // Referenced Performed Procedure Step Sequence
        (0x0008, 0x1120, X), // Referenced Patient Sequence
        (0x0008, 0x1140, X), // Referenced Image Sequence
        (0x0008, 0x2111, X), // Derivation Description
        (0x0008, 0x4000, X), // Identifying Comments
        (0x0010, 0x0010, Z), // Patient's Name
        (0x0010, 0x0020, Z), // Patient ID
        (0x0010, 0x0021, X), // Issuer of Patient ID
        (0x0010, 0x0030, Z), // Patient's Birth Date
        (0x0010, 0x0032, X), // Patient's Birth Time
        (0x0010, 0x0040, Z), // Patient's Sex
        (0x0010, 0x0050, X), // Patient's Insurance Plan Code Sequence
        (0x0010, 0x0101, X), // Patient's Primary Language Code Sequence
        (0x0010, 0x0102, X), // Patient's Primary Language Modifier Code Sequence
        (0x0010, 0x1000, X), // Other Patient IDs
        (0x0010, 0x1001, X), // Other Patient Names
        (0x0010, 0x1002, X), // Other Patient IDs Sequence
        (0x0010, 0x1005, X), // Patient's Birth Name
        (0x0010, 0x1010, X), // Patient's Age
        (0x0010, 0x1020, X), // Patient's Size
        (0x0010, 0x1030, X), // Patient's Weight
        (0x0010, 0x1040, X), // Patient's Address
        (0x0010, 0x1060, X), // Patient's Mother's Birth Name
        (0x0010, 0x1080, X), // Military Rank
        (0x0010, 0x1081, X), // Branch of Service
        (0x0010, 0x1090, X), // Medical Record Locator
        (0x0010, 0x2000, X), // Medical Alerts
        (0x0010, 0x2110, X), // Allergies
        (0x0010, 0x2150, X), // Country of Residence
        (0x0010, 0x2152, X), // Region of Residence
        (0x0010, 0x2154, X), // Patient's Telephone Numbers
        (0x0010, 0x2160, X), // Ethnic Group
        (0x0010, 0x2180, X), // Occupation
        (0x0010, 0x21A0, X), // Smoking Status
        (0x0010, 0x21B0, X), // Additional Patient History
        (0x0010, 0x21C0, X), // Pregnancy Status
        (0x0010, 0x21D0, X), // Last Menstrual Date
        (0x0010, 0x21F0, X), // Patient's Religious Preference
        (0x0010, 0x4000, X), // Patient Comments
        (0x0018, 0x1000, X), // Device Serial Number
        (0x0018, 0x1004, X), // Plate ID
        (0x0018, 0x1005, X), // Generator ID
        (0x0018, 0x1007, X), // Cassette ID
        (0x0018, 0x1008, X), // Gantry ID
        (0x0018, 0x1020, X), // Software Versions
        (0x0018, 0x1030, X), // Protocol Name
        (0x0018, 0x4000, X), // Acquisition Comments
        (0x0018, 0x700A, X), // Detector ID
        (0x0020, 0x0010, Z), // Study ID
        (0x0020, 0x4000, X), // Image Comments
        (0x0020, 0x9158, X), // Frame Comments
        (0x0032, 0x1032, X), // Requesting Physician
        (0x0032, 0x1033, X), // Requesting Service
        (0x0032, 0x1060, X), // Requested Procedure Description
        (0x0032, 0x4000, X), // Study Comments
        (0x0038, 0x0010, X), // Admission ID
        (0x0038, 0x0300, X), // Current Patient Location
        (0x0038, 0x0400, X), // Patient's Institution Residence
        (0x0038, 0x0500, X), // Patient State
        (0x0040, 0x0241, X), // Performed Station AE Title
        (0x0040, 0x0242, X), // Performed Station Name
        (0x0040, 0x0243, X), // Performed Location
        (0x0040, 0x0244, X), // Performed Procedure Step Start Date
        (0x0040, 0x0245, X), // Performed Procedure Step Start Time
        (0x0040, 0x0250, X), // Performed Procedure Step End Date
        (0x0040, 0x0251, X), // Performed Procedure Step End Time
        (0x0040, 0x0253, X), // Performed Procedure Step ID
        (0x0040, 0x0254, X), // Performed Procedure Step Description
        (0x0040, 0x0275, X), // Request Attributes Sequence
        (0x0040, 0x0280, X), // Comments on the Performed Procedure Step
        (0x0040, 0x1001, X), // Requested Procedure ID
        (0x0040, 0xA730, X), // Content Sequence
        (0x0400, 0x0561, X), // Original Attributes Sequence
    ]
};

/// UI attributes that name kinds of things (classes, syntaxes, coding schemes), not instances:
/// kept. Every other UI attribute is replaced.
const KEEP_UIDS: &[Tag] = &[
    tags::SOP_CLASS_UID,
    tags::REFERENCED_SOP_CLASS_UID,
    tags::RELATED_GENERAL_SOP_CLASS_UID,
    tags::ORIGINAL_SPECIALIZED_SOP_CLASS_UID,
    tags::SOP_CLASSES_IN_STUDY,
    tags::CODING_SCHEME_UID,
    tags::CONTEXT_UID,
    tags::MAPPING_RESOURCE_UID,
    tags::CONTEXT_GROUP_EXTENSION_CREATOR_UID,
    tags::TRANSFER_SYNTAX_UID,
];

/// Code of the Basic Application Confidentiality Profile (DCM 113100).
const PROFILE_CODE: (&str, &str, &str) = ("113100", "DCM", "Basic Application Confidentiality Profile");
/// De-identification Method (0012,0063), LO.
const METHOD: &str = "DICOM PS3.15 E.1 Basic Profile (sonochip)";

fn action(tag: Tag) -> Option<Action> {
    let (g, e) = (tag.group(), tag.element());
    if g & 0xFF00 == 0x5000 || (g & 0xFF00 == 0x6000 && (e == 0x3000 || e == 0x4000)) {
        return Some(Action::Remove); // curves, overlay data and overlay comments
    }
    ACTIONS
        .iter()
        .find(|(ag, ae, _)| *ag == g && *ae == e)
        .map(|(_, _, a)| *a)
}

/// Makes de-identified copies of DICOM objects following the Basic Application Level
/// Confidentiality Profile (PS3.15 Annex E, Table E.1-1, no options retained):
///
/// - patient's name and ID, birth date, sex, accession number, study ID, referring physician,
///   study and content dates and times are emptied (Z: the patient's name and ID become the
///   pseudonym when [`with_pseudonym`](Deidentifier::with_pseudonym) set one);
/// - the other identifying attributes of the table are removed (X): institution, station name,
///   device serial number, software versions, operators and physicians, descriptions and
///   comments, protocol name, series / acquisition / creation dates and times, timezone offset,
///   the patient's other demographics, references to other studies and patients, curves and
///   overlay data;
/// - every UID attribute except those naming classes and syntaxes is replaced (U) by a new
///   `2.25.` UID, the same new UID for the same original within this de-identifier (use one per
///   study, or one for a whole batch, so that the objects of a study stay together), and the file
///   meta group is rebuilt with the new SOP Instance UID;
/// - private attributes (odd groups) are dropped; sequences are processed item by item;
/// - Patient Identity Removed (0012,0062) `YES`, De-identification Method (0012,0063) and its
///   Code Sequence (0012,0064: DCM 113100) and Longitudinal Temporal Information Modified
///   (0028,0303) `REMOVED` are added.
///
/// Pixels are copied unchanged: objects with Burned In Annotation (0028,0301) `YES` are refused
/// ([`Error::Unsupported`]); the crate's own exports say `NO`.
#[derive(Debug, Clone, Default)]
pub struct Deidentifier {
    uids: HashMap<String, String>,
    patient_name: String,
    patient_id: String,
}

impl Deidentifier {
    /// A de-identifier that empties the patient's name and ID.
    pub fn new() -> Deidentifier {
        Deidentifier::default()
    }

    /// A de-identifier that writes `name` and `id` (a research pseudonym, which must not be
    /// derived from the identity) as Patient's Name and Patient ID. Errors:
    /// [`Error::InvalidParameter`] for values that are not a valid PN / LO (as the exporter checks
    /// them).
    pub fn with_pseudonym(name: &str, id: &str) -> Result<Deidentifier> {
        for (field, v, max) in [("name", name, 64), ("id", id, 64)] {
            if v.chars().count() > max || v.chars().any(|c| c.is_control() || c == '\\' || !c.is_ascii()) {
                return Err(Error::invalid(
                    field,
                    "at most 64 ASCII characters, no '\\' or control characters",
                    format!("{v:?}"),
                ));
            }
        }
        Ok(Deidentifier {
            uids: HashMap::new(),
            patient_name: name.to_string(),
            patient_id: id.to_string(),
        })
    }

    /// The new UID this de-identifier gave `original`, if it replaced it.
    pub fn replacement_uid(&self, original: &str) -> Option<&str> {
        self.uids.get(original).map(String::as_str)
    }

    /// A de-identified copy of `file` (see the [type docs](Deidentifier)). Errors:
    /// [`Error::Unsupported`] for burned-in annotation, [`Error::Format`] when an attribute cannot
    /// be read or the file meta group cannot be built. Cost: one copy of the object.
    pub fn deidentify(&mut self, file: &DicomFile) -> Result<DicomFile> {
        let obj = file.object();
        if let Some(b) = obj.get(tags::BURNED_IN_ANNOTATION)
            && b.to_str().map(|s| s.trim() == "YES").unwrap_or(false)
        {
            return Err(Error::Unsupported {
                name: "burned-in annotation",
                requested: "de-identifying pixels with burned-in annotation (0028,0301 = YES)".into(),
                available: "objects whose pixels hold no identifying text (0028,0301 = NO)".into(),
            });
        }
        let mut out = self.dataset(obj)?;
        let s = |t: &str| PrimitiveValue::from(t);
        out.put(DataElement::new(tags::PATIENT_IDENTITY_REMOVED, VR::CS, s("YES")));
        out.put(DataElement::new(tags::DEIDENTIFICATION_METHOD, VR::LO, s(METHOD)));
        let mut code = InMemDicomObject::new_empty();
        code.put(DataElement::new(tags::CODE_VALUE, VR::SH, s(PROFILE_CODE.0)));
        code.put(DataElement::new(
            tags::CODING_SCHEME_DESIGNATOR,
            VR::SH,
            s(PROFILE_CODE.1),
        ));
        code.put(DataElement::new(tags::CODE_MEANING, VR::LO, s(PROFILE_CODE.2)));
        out.put(DataElement::new(
            tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::new(vec![code], Length::UNDEFINED),
        ));
        out.put(DataElement::new(
            tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
            VR::CS,
            s("REMOVED"),
        ));
        let meta = obj.meta();
        let mut builder = FileMetaTableBuilder::new()
            .transfer_syntax(meta.transfer_syntax())
            .implementation_class_uid(meta.implementation_class_uid());
        if let Some(v) = meta.implementation_version_name() {
            builder = builder.implementation_version_name(v);
        }
        let file = out.with_meta(builder).map_err(|e| Error::format("<DICOM meta>", e))?;
        Ok(DicomFile::from_object(file))
    }

    /// The de-identified copy of one data set (recursively for sequence items).
    fn dataset(&mut self, obj: &InMemDicomObject) -> Result<InMemDicomObject> {
        let mut out = InMemDicomObject::new_empty();
        for elem in obj.iter() {
            let tag = elem.header().tag;
            let vr = elem.vr();
            if tag.group() % 2 == 1 {
                continue; // private attributes and private creators
            }
            match action(tag) {
                Some(Action::Remove) => continue,
                Some(Action::Empty) => {
                    let v = match tag {
                        tags::PATIENT_NAME => PrimitiveValue::from(self.patient_name.as_str()),
                        tags::PATIENT_ID => PrimitiveValue::from(self.patient_id.as_str()),
                        _ => PrimitiveValue::Empty,
                    };
                    out.put(DataElement::new(tag, vr, v));
                    continue;
                }
                None => {}
            }
            match elem.value() {
                Value::Sequence(seq) => {
                    let items = seq
                        .items()
                        .iter()
                        .map(|item| self.dataset(item))
                        .collect::<Result<Vec<_>>>()?;
                    out.put(DataElement::new(
                        tag,
                        vr,
                        DataSetSequence::new(items, Length::UNDEFINED),
                    ));
                }
                _ if vr == VR::UI && !KEEP_UIDS.contains(&tag) => {
                    let text = elem.to_str().map_err(|e| Error::format("<DICOM attribute>", e))?;
                    let new: Vec<String> = text
                        .split('\\')
                        .map(|u| u.trim_end_matches(['\0', ' ']))
                        .filter(|u| !u.is_empty())
                        .map(|u| self.map_uid(u))
                        .collect();
                    let v = match new.len() {
                        0 => PrimitiveValue::Empty,
                        1 => PrimitiveValue::from(new[0].as_str()),
                        _ => PrimitiveValue::Strs(new.into_iter().collect()),
                    };
                    out.put(DataElement::new(tag, vr, v));
                }
                // A safety net beyond the table: any other person's name is emptied.
                _ if vr == VR::PN => {
                    out.put(DataElement::new(tag, vr, PrimitiveValue::Empty));
                }
                _ => {
                    out.put(elem.clone());
                }
            }
        }
        Ok(out)
    }

    fn map_uid(&mut self, original: &str) -> String {
        self.uids
            .entry(original.to_string())
            .or_insert_with(generate_uid)
            .clone()
    }
}
