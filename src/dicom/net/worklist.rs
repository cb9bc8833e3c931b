//! Modality Worklist: the query's identifier and the matches it returns.

use crate::dicom::export::{Exam, Patient, Sex, Study};
use crate::dicom::uid::{Date, validate_uid};
use crate::error::{Error, Result};
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::entries::EXPLICIT_VR_LITTLE_ENDIAN;

/// An inclusive range of dates (one day when both ends are equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateRange {
    /// First day.
    pub from: Date,
    /// Last day.
    pub to: Date,
}

impl DateRange {
    /// The single day `date`.
    pub fn day(date: Date) -> DateRange {
        DateRange { from: date, to: date }
    }

    fn to_query(self) -> String {
        if self.from == self.to {
            self.from.to_da()
        } else {
            format!("{}-{}", self.from.to_da(), self.to.to_da())
        }
    }
}

/// What to ask the worklist for; `None` fields match everything. Matching follows PS3.4 C.2.2.2:
/// exact for the modality and station, and for the patient ID unless it holds the wildcards `*`
/// or `?`; the dates as a range.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorklistQuery {
    /// Scheduled Procedure Step Start Date (0040,0002).
    pub dates: Option<DateRange>,
    /// Modality (0008,0060), for example `US`.
    pub modality: Option<String>,
    /// Patient ID (0010,0020).
    pub patient_id: Option<String>,
    /// Scheduled Station AE Title (0040,0001).
    pub station_ae_title: Option<String>,
}

fn check_query_text(name: &'static str, s: &str, max: usize) -> Result<()> {
    if !s.is_empty() && s.chars().count() <= max && s.chars().all(|c| !c.is_control() && c != '\\') {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!("1 to {max} characters, no '\\' or control characters"),
            format!("{s:?}"),
        ))
    }
}

fn text(tag: Tag, vr: VR, s: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(s))
}

fn empty(tag: Tag, vr: VR) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::Empty)
}

impl WorklistQuery {
    /// Everything scheduled (no key set).
    pub fn new() -> WorklistQuery {
        WorklistQuery::default()
    }

    /// Only steps scheduled on `date`.
    pub fn on(mut self, date: Date) -> WorklistQuery {
        self.dates = Some(DateRange::day(date));
        self
    }

    /// Only steps scheduled from `from` to `to` (inclusive).
    pub fn between(mut self, from: Date, to: Date) -> WorklistQuery {
        self.dates = Some(DateRange { from, to });
        self
    }

    /// Only steps for `modality` (for example `US`).
    pub fn modality(mut self, modality: &str) -> WorklistQuery {
        self.modality = Some(modality.to_string());
        self
    }

    /// Only steps of the patient `id`.
    pub fn patient_id(mut self, id: &str) -> WorklistQuery {
        self.patient_id = Some(id.to_string());
        self
    }

    /// Only steps scheduled on the station `ae_title`.
    pub fn station(mut self, ae_title: &str) -> WorklistQuery {
        self.station_ae_title = Some(ae_title.to_string());
        self
    }

    /// The C-FIND identifier, encoded in Explicit VR Little Endian. Errors:
    /// [`Error::InvalidParameter`] naming the field.
    pub(super) fn identifier(&self) -> Result<Vec<u8>> {
        if let Some(r) = self.dates {
            r.from.validate("query.dates.from")?;
            r.to.validate("query.dates.to")?;
            if r.to < r.from {
                return Err(Error::invalid("query.dates", "from <= to", format!("{r:?}")));
            }
        }
        if let Some(m) = &self.modality {
            check_query_text("query.modality", m, 16)?;
        }
        if let Some(p) = &self.patient_id {
            check_query_text("query.patient_id", p, 64)?;
        }
        if let Some(s) = &self.station_ae_title {
            check_query_text("query.station_ae_title", s, 16)?;
        }
        let opt = |tag, vr, v: &Option<String>| match v {
            Some(s) => text(tag, vr, s),
            None => empty(tag, vr),
        };
        let step = InMemDicomObject::from_element_iter([
            opt(tags::MODALITY, VR::CS, &self.modality),
            opt(tags::SCHEDULED_STATION_AE_TITLE, VR::AE, &self.station_ae_title),
            match self.dates {
                Some(r) => text(tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA, &r.to_query()),
                None => empty(tags::SCHEDULED_PROCEDURE_STEP_START_DATE, VR::DA),
            },
            empty(tags::SCHEDULED_PROCEDURE_STEP_START_TIME, VR::TM),
            empty(tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME, VR::PN),
            empty(tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION, VR::LO),
            empty(tags::SCHEDULED_PROCEDURE_STEP_ID, VR::SH),
        ]);
        let obj = InMemDicomObject::from_element_iter([
            text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
            empty(tags::ACCESSION_NUMBER, VR::SH),
            empty(tags::PATIENT_NAME, VR::PN),
            opt(tags::PATIENT_ID, VR::LO, &self.patient_id),
            empty(tags::PATIENT_BIRTH_DATE, VR::DA),
            empty(tags::PATIENT_SEX, VR::CS),
            empty(tags::STUDY_INSTANCE_UID, VR::UI),
            empty(tags::REQUESTED_PROCEDURE_DESCRIPTION, VR::LO),
            empty(tags::REQUESTED_PROCEDURE_ID, VR::SH),
            DataElement::new(
                tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
                VR::SQ,
                DataSetSequence::new(vec![step], Length::UNDEFINED),
            ),
        ]);
        let mut out = Vec::new();
        obj.write_dataset_with_ts(&mut out, &EXPLICIT_VR_LITTLE_ENDIAN.erased())
            .map_err(|e| Error::format("<C-FIND identifier>", e))?;
        Ok(out)
    }
}

/// The Scheduled Procedure Step of a worklist item (the one item of (0040,0100)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduledProcedureStep {
    /// Scheduled Procedure Step Start Date (0040,0002), when it is a valid date.
    pub start_date: Option<Date>,
    /// Scheduled Procedure Step Start Time (0040,0003), as sent (`HHMMSS`, possibly shorter).
    pub start_time: String,
    /// Modality (0008,0060).
    pub modality: String,
    /// Scheduled Procedure Step Description (0040,0007).
    pub description: String,
    /// Scheduled Station AE Title (0040,0001).
    pub station_ae_title: String,
    /// Scheduled Procedure Step ID (0040,0009).
    pub id: String,
    /// Scheduled Performing Physician's Name (0040,0006).
    pub performing_physician: String,
}

/// One match of a Modality Worklist query. Texts are as sent, without padding; missing ones are
/// empty. [`exam`](WorklistItem::exam) turns it into the [`Exam`] its images belong to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorklistItem {
    /// Patient's Name (0010,0010).
    pub patient_name: String,
    /// Patient ID (0010,0020).
    pub patient_id: String,
    /// Patient's Birth Date (0010,0030), when it is a valid date.
    pub birth_date: Option<Date>,
    /// Patient's Sex (0010,0040).
    pub sex: Option<Sex>,
    /// Accession Number (0008,0050).
    pub accession_number: String,
    /// Study Instance UID (0020,000D) the images must carry.
    pub study_instance_uid: String,
    /// Requested Procedure ID (0040,1001).
    pub requested_procedure_id: String,
    /// Requested Procedure Description (0032,1060).
    pub requested_procedure_description: String,
    /// The scheduled procedure step.
    pub step: ScheduledProcedureStep,
}

fn string(obj: &InMemDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

fn date(obj: &InMemDicomObject, tag: Tag) -> Option<Date> {
    let s = string(obj, tag);
    let b = s.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = s[..4].parse().ok()?;
    let month = s[4..6].parse().ok()?;
    let day = s[6..].parse().ok()?;
    Date::new(year, month, day).ok()
}

impl WorklistItem {
    /// Reads a C-FIND response identifier (never fails: missing or malformed fields stay empty).
    pub(super) fn from_identifier(obj: &InMemDicomObject) -> WorklistItem {
        let step = obj
            .get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
            .and_then(|e| e.items())
            .and_then(|items| items.first())
            .map(|s| ScheduledProcedureStep {
                start_date: date(s, tags::SCHEDULED_PROCEDURE_STEP_START_DATE),
                start_time: string(s, tags::SCHEDULED_PROCEDURE_STEP_START_TIME),
                modality: string(s, tags::MODALITY),
                description: string(s, tags::SCHEDULED_PROCEDURE_STEP_DESCRIPTION),
                station_ae_title: string(s, tags::SCHEDULED_STATION_AE_TITLE),
                id: string(s, tags::SCHEDULED_PROCEDURE_STEP_ID),
                performing_physician: string(s, tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME),
            })
            .unwrap_or_default();
        let sex = match string(obj, tags::PATIENT_SEX).as_str() {
            "M" => Some(Sex::Male),
            "F" => Some(Sex::Female),
            "O" => Some(Sex::Other),
            _ => None,
        };
        WorklistItem {
            patient_name: string(obj, tags::PATIENT_NAME),
            patient_id: string(obj, tags::PATIENT_ID),
            birth_date: date(obj, tags::PATIENT_BIRTH_DATE),
            sex,
            accession_number: string(obj, tags::ACCESSION_NUMBER),
            study_instance_uid: string(obj, tags::STUDY_INSTANCE_UID),
            requested_procedure_id: string(obj, tags::REQUESTED_PROCEDURE_ID),
            requested_procedure_description: string(obj, tags::REQUESTED_PROCEDURE_DESCRIPTION),
            step,
        }
    }

    /// The exam of this item: its patient, and a study with the item's Study Instance UID (a new
    /// one when the item has none or an invalid one), accession number, requested procedure ID
    /// (as Study ID, when it fits in 16 characters) and description (the requested procedure's,
    /// else the step's); a new series 1, now. The [`Exporter`](crate::dicom::Exporter) validates
    /// the texts when it is made. Cost: O(size of the texts).
    pub fn exam(&self) -> Exam {
        let mut exam = Exam::new(Patient {
            name: self.patient_name.clone(),
            id: self.patient_id.clone(),
            birth_date: self.birth_date,
            sex: self.sex,
        });
        let uid_ok = validate_uid("study_instance_uid", &self.study_instance_uid).is_ok();
        exam.study = Study {
            instance_uid: if uid_ok {
                self.study_instance_uid.clone()
            } else {
                exam.study.instance_uid
            },
            id: if self.requested_procedure_id.chars().count() <= 16 {
                self.requested_procedure_id.clone()
            } else {
                String::new()
            },
            accession_number: self.accession_number.clone(),
            description: if self.requested_procedure_description.is_empty() {
                self.step.description.clone()
            } else {
                self.requested_procedure_description.clone()
            },
            ..exam.study
        };
        exam
    }
}

impl From<&WorklistItem> for Exam {
    fn from(item: &WorklistItem) -> Exam {
        item.exam()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_round_trip_and_item() {
        let q = WorklistQuery::new()
            .between(Date::new(2026, 11, 30).unwrap(), Date::new(2026, 12, 1).unwrap())
            .modality("US")
            .patient_id("P-1");
        let bytes = q.identifier().unwrap();
        super::super::dimse::check_explicit_data_set(&bytes).unwrap();
        let obj = super::super::dimse::decode_data_set(&bytes).unwrap();
        let step = obj
            .get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()[0]
            .clone();
        assert_eq!(
            string(&step, tags::SCHEDULED_PROCEDURE_STEP_START_DATE),
            "20261130-20261201"
        );
        assert_eq!(string(&step, tags::MODALITY), "US");
        assert_eq!(string(&obj, tags::PATIENT_ID), "P-1");
        assert!(WorklistQuery::new().modality("U\\S").identifier().is_err());
        assert!(
            WorklistQuery::new()
                .between(Date::new(2026, 12, 1).unwrap(), Date::new(2026, 11, 30).unwrap())
                .identifier()
                .is_err()
        );

        let mut answer = obj.clone();
        answer.put(text(tags::PATIENT_NAME, VR::PN, "Doe^Jane"));
        answer.put(text(tags::PATIENT_BIRTH_DATE, VR::DA, "19700230"));
        answer.put(text(tags::PATIENT_SEX, VR::CS, "F"));
        answer.put(text(tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3.4"));
        answer.put(text(tags::REQUESTED_PROCEDURE_DESCRIPTION, VR::LO, "Carotid duplex"));
        let item = WorklistItem::from_identifier(&answer);
        assert_eq!(item.patient_name, "Doe^Jane");
        assert_eq!(item.birth_date, None, "30 February is not a date");
        assert_eq!(item.sex, Some(Sex::Female));
        assert_eq!(item.step.modality, "US");
        let exam = item.exam();
        assert_eq!(exam.study.instance_uid, "1.2.3.4");
        assert_eq!(exam.study.description, "Carotid duplex");
        assert_eq!(exam.patient.id, "P-1");
        assert_eq!(
            WorklistItem::from_identifier(&InMemDicomObject::new_empty()),
            WorklistItem::default()
        );
    }
}
