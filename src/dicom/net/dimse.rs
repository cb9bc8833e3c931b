//! DIMSE messages on dicom-ul's association API: command sets (Implicit VR Little Endian, PS3.7
//! Annex E) built and read with dicom-object, and a bounds check of received data sets so that
//! decoding them never allocates more than the bytes that arrived.

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::entries::{EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN};

/// Command Field (0000,0100) values (PS3.7 E.1).
pub(super) const C_STORE_RQ: u16 = 0x0001;
pub(super) const C_STORE_RSP: u16 = 0x8001;
pub(super) const C_FIND_RQ: u16 = 0x0020;
pub(super) const C_FIND_RSP: u16 = 0x8020;
pub(super) const C_ECHO_RQ: u16 = 0x0030;
pub(super) const C_ECHO_RSP: u16 = 0x8030;

/// Command Data Set Type (0000,0800): no data set follows.
pub(super) const NO_DATA_SET: u16 = 0x0101;
/// Command Data Set Type for a command followed by a data set (any other value means the same).
pub(super) const DATA_SET_PRESENT: u16 = 0x0000;

/// The deepest nesting of sequences accepted in a received data set.
const MAX_NESTING: u32 = 16;

/// What a DIMSE command set says (the fields this crate uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Command {
    pub field: u16,
    pub responded_to: Option<u16>,
    pub status: Option<u16>,
    pub has_data_set: bool,
    pub error_comment: String,
}

/// The elements of a request's command set.
pub(super) struct Request<'a> {
    pub field: u16,
    pub message_id: u16,
    pub sop_class_uid: &'a str,
    pub sop_instance_uid: Option<&'a str>,
    pub has_data_set: bool,
}

fn element(tag: Tag, vr: VR, value: PrimitiveValue) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, value)
}

/// Encodes a request's command set in Implicit VR Little Endian with its Command Group Length.
pub(super) fn encode_request(rq: &Request<'_>) -> Result<Vec<u8>, String> {
    let mut elements = vec![
        element(
            tags::AFFECTED_SOP_CLASS_UID,
            VR::UI,
            PrimitiveValue::from(rq.sop_class_uid),
        ),
        element(tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(rq.field)),
        element(tags::MESSAGE_ID, VR::US, PrimitiveValue::from(rq.message_id)),
        element(
            tags::COMMAND_DATA_SET_TYPE,
            VR::US,
            PrimitiveValue::from(if rq.has_data_set { DATA_SET_PRESENT } else { NO_DATA_SET }),
        ),
    ];
    if rq.field != C_ECHO_RQ {
        // Priority MEDIUM.
        elements.push(element(tags::PRIORITY, VR::US, PrimitiveValue::from(0u16)));
    }
    if let Some(uid) = rq.sop_instance_uid {
        elements.push(element(
            tags::AFFECTED_SOP_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(uid),
        ));
    }
    let mut obj = InMemDicomObject::from_element_iter(elements);
    let body = encode_implicit(&obj)?;
    let group_length = u32::try_from(body.len()).map_err(|_| "command set too long".to_string())?;
    obj.put(element(
        tags::COMMAND_GROUP_LENGTH,
        VR::UL,
        PrimitiveValue::from(group_length),
    ));
    encode_implicit(&obj)
}

fn encode_implicit(obj: &InMemDicomObject) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    obj.write_dataset_with_ts(&mut out, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
        .map_err(|e| format!("could not encode the command set: {e}"))?;
    Ok(out)
}

/// Reads a received command set. Errors: a message saying what is wrong (malformed bytes, a
/// missing Command Field).
pub(super) fn decode_command(bytes: &[u8]) -> Result<Command, String> {
    check_command(bytes)?;
    let obj = InMemDicomObject::read_dataset_with_ts(bytes, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
        .map_err(|e| format!("malformed command set: {e}"))?;
    let u16_of = |tag: Tag| obj.get(tag).and_then(|e| e.to_int::<u16>().ok());
    let field = u16_of(tags::COMMAND_FIELD).ok_or("command set without a valid Command Field (0000,0100)")?;
    let data_set_type =
        u16_of(tags::COMMAND_DATA_SET_TYPE).ok_or("command set without a valid Command Data Set Type (0000,0800)")?;
    let error_comment = obj
        .get(tags::ERROR_COMMENT)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).chars().take(256).collect())
        .unwrap_or_default();
    Ok(Command {
        field,
        responded_to: u16_of(tags::MESSAGE_ID_BEING_RESPONDED_TO),
        status: u16_of(tags::STATUS),
        has_data_set: data_set_type != NO_DATA_SET,
        error_comment,
    })
}

/// Reads a received data set in Explicit VR Little Endian, after checking its lengths.
pub(super) fn decode_data_set(bytes: &[u8]) -> Result<InMemDicomObject, String> {
    check_explicit_data_set(bytes)?;
    InMemDicomObject::read_dataset_with_ts(bytes, &EXPLICIT_VR_LITTLE_ENDIAN.erased())
        .map_err(|e| format!("malformed data set: {e}"))
}

fn u16_at(b: &[u8], pos: usize) -> u16 {
    u16::from_le_bytes([b[pos], b[pos + 1]])
}

fn u32_at(b: &[u8], pos: usize) -> u32 {
    u32::from_le_bytes([b[pos], b[pos + 1], b[pos + 2], b[pos + 3]])
}

const UNDEFINED: u32 = 0xFFFF_FFFF;

/// A command set (Implicit VR Little Endian): group 0000 elements only, each with a defined length
/// that fits in what follows.
pub(super) fn check_command(b: &[u8]) -> Result<(), String> {
    let mut pos = 0;
    while pos < b.len() {
        if b.len() - pos < 8 {
            return Err("truncated command element".into());
        }
        let (group, elem, len) = (u16_at(b, pos), u16_at(b, pos + 2), u32_at(b, pos + 4));
        if group != 0 {
            return Err(format!("element ({group:04X},{elem:04X}) in a command set"));
        }
        pos += 8;
        if len == UNDEFINED || len as usize > b.len() - pos {
            return Err(format!(
                "command element (0000,{elem:04X}) declares {len} bytes, {} remain",
                b.len() - pos
            ));
        }
        pos += len as usize;
    }
    Ok(())
}

/// Explicit VR's with a 4-byte length (PS3.5 7.1.2).
fn long_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"SV" | b"UC" | b"UN" | b"UR" | b"UT" | b"UV"
    )
}

/// A data set in Explicit VR Little Endian: every defined length fits in the bytes that follow it
/// (at its nesting level), undefined lengths only on sequences and items, which are closed by their
/// delimiters, and at most [`MAX_NESTING`] levels of sequences. Then the decoder allocates at most
/// the message's own size.
pub(super) fn check_explicit_data_set(b: &[u8]) -> Result<(), String> {
    elements(b, 0, b.len(), 0, false).map(|_| ())
}

/// Elements from `pos` to `end`; with `in_undefined_item`, up to and including the item delimiter.
/// Returns the position after the last byte consumed.
fn elements(b: &[u8], mut pos: usize, end: usize, depth: u32, in_undefined_item: bool) -> Result<usize, String> {
    while pos < end {
        if end - pos < 8 {
            return Err("truncated element header".into());
        }
        let (group, elem) = (u16_at(b, pos), u16_at(b, pos + 2));
        if group == 0xFFFE {
            if elem == 0xE00D && in_undefined_item {
                return Ok(pos + 8);
            }
            return Err(format!("unexpected delimiter or item (FFFE,{elem:04X})"));
        }
        let vr = [b[pos + 4], b[pos + 5]];
        let (len, header) = if long_vr(vr) {
            if end - pos < 12 {
                return Err("truncated element header".into());
            }
            (u32_at(b, pos + 8), 12)
        } else {
            (u32::from(u16_at(b, pos + 6)), 8)
        };
        pos += header;
        let is_sq = &vr == b"SQ";
        if len == UNDEFINED {
            if !is_sq {
                return Err(format!(
                    "undefined length on ({group:04X},{elem:04X}) with VR {}",
                    String::from_utf8_lossy(&vr)
                ));
            }
            pos = sequence(b, pos, end, depth + 1, true)?;
        } else {
            let len = len as usize;
            if len > end - pos {
                return Err(format!(
                    "element ({group:04X},{elem:04X}) declares {len} bytes, {} remain",
                    end - pos
                ));
            }
            if is_sq {
                sequence(b, pos, pos + len, depth + 1, false)?;
            }
            pos += len;
        }
    }
    if in_undefined_item {
        return Err("item without its delimiter".into());
    }
    Ok(pos)
}

/// A sequence's items from `pos`: up to `end` (defined length) or up to and including the sequence
/// delimiter (undefined length).
fn sequence(b: &[u8], mut pos: usize, end: usize, depth: u32, undefined: bool) -> Result<usize, String> {
    if depth > MAX_NESTING {
        return Err(format!("sequences nested deeper than {MAX_NESTING} levels"));
    }
    loop {
        if !undefined && pos == end {
            return Ok(end);
        }
        if end - pos < 8 {
            return Err("truncated sequence".into());
        }
        let (group, elem, len) = (u16_at(b, pos), u16_at(b, pos + 2), u32_at(b, pos + 4));
        pos += 8;
        match (group, elem) {
            (0xFFFE, 0xE0DD) if undefined => return Ok(pos),
            (0xFFFE, 0xE000) if len == UNDEFINED => pos = elements(b, pos, end, depth, true)?,
            (0xFFFE, 0xE000) => {
                let len = len as usize;
                if len > end - pos {
                    return Err(format!("item declares {len} bytes, {} remain", end - pos));
                }
                elements(b, pos, pos + len, depth, false)?;
                pos += len;
            }
            _ => return Err(format!("({group:04X},{elem:04X}) where a sequence item was expected")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::Length;
    use dicom_core::value::DataSetSequence;

    fn explicit(obj: &InMemDicomObject) -> Vec<u8> {
        let mut out = Vec::new();
        obj.write_dataset_with_ts(&mut out, &EXPLICIT_VR_LITTLE_ENDIAN.erased())
            .unwrap();
        out
    }

    fn nested() -> InMemDicomObject {
        let item = InMemDicomObject::from_element_iter([
            element(tags::MODALITY, VR::CS, PrimitiveValue::from("US")),
            element(
                tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
                VR::DA,
                PrimitiveValue::from("20261130"),
            ),
        ]);
        InMemDicomObject::from_element_iter([
            element(tags::PATIENT_NAME, VR::PN, PrimitiveValue::from("Doe^Jane")),
            DataElement::new(
                tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE,
                VR::SQ,
                DataSetSequence::new(vec![item], Length::UNDEFINED),
            ),
            element(tags::PATIENT_ID, VR::LO, PrimitiveValue::from("P1")),
        ])
    }

    #[test]
    fn request_round_trip() {
        let rq = Request {
            field: C_STORE_RQ,
            message_id: 7,
            sop_class_uid: "1.2.840.10008.5.1.4.1.1.6.1",
            sop_instance_uid: Some("2.25.1"),
            has_data_set: true,
        };
        let bytes = encode_request(&rq).unwrap();
        // Command Group Length: the bytes after its own 12-byte element.
        assert_eq!(&bytes[..4], &[0, 0, 0, 0]);
        assert_eq!(u32_at(&bytes, 8) as usize, bytes.len() - 12);
        let cmd = decode_command(&bytes).unwrap();
        assert_eq!(cmd.field, C_STORE_RQ);
        assert!(cmd.has_data_set);
        assert_eq!(cmd.status, None);
        let echo = encode_request(&Request {
            field: C_ECHO_RQ,
            message_id: 1,
            sop_class_uid: "1.2.840.10008.1.1",
            sop_instance_uid: None,
            has_data_set: false,
        })
        .unwrap();
        assert!(!decode_command(&echo).unwrap().has_data_set);
    }

    #[test]
    fn data_set_bounds() {
        let good = explicit(&nested());
        assert!(check_explicit_data_set(&good).is_ok());
        let obj = decode_data_set(&good).unwrap();
        assert!(obj.get(tags::SCHEDULED_PROCEDURE_STEP_SEQUENCE).is_some());
        // Every truncation is refused (never a panic).
        for cut in 0..good.len() {
            let _ = decode_data_set(&good[..cut]);
        }
        // A huge declared length is refused before decoding.
        let mut huge = explicit(&InMemDicomObject::from_element_iter([element(
            tags::PATIENT_COMMENTS,
            VR::LT,
            PrimitiveValue::from("x"),
        )]));
        huge.extend_from_slice(&[0x10, 0x00, 0x00, 0x40, b'O', b'B', 0, 0, 0xF0, 0xFF, 0xFF, 0x7F]);
        let e = check_explicit_data_set(&huge).unwrap_err();
        assert!(e.contains("declares"), "{e}");
        // Undefined length on a non-sequence, and runaway nesting.
        let undefined = [0x10, 0x00, 0x10, 0x00, b'U', b'T', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF];
        assert!(check_explicit_data_set(&undefined).is_err());
        let mut deep = Vec::new();
        for _ in 0..40 {
            deep.extend_from_slice(&[0x40, 0x00, 0x00, 0x01, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
            deep.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        assert!(check_explicit_data_set(&deep).unwrap_err().contains("nested"));
        // Garbage bytes of every length: refused or accepted, never a panic.
        let mut x = 0x1234_5678u32;
        for n in 0..300 {
            let bytes: Vec<u8> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = decode_data_set(&bytes);
            let _ = decode_command(&bytes);
        }
    }

    #[test]
    fn command_bounds() {
        assert!(check_command(&[0, 0, 0, 0, 4, 0, 0, 0]).is_err());
        assert!(check_command(&[8, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(check_command(&[0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF]).is_err());
        assert!(decode_command(&[]).is_err());
    }
}
