//! UIDs and dates: generation and validation.

use crate::error::{Error, Result};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest UID (PS3.5 §9.1).
pub const MAX_UID_LEN: usize = 64;

/// A new globally unique UID of the `2.25.` form (PS3.5 §B.2): the decimal value of a random
/// (version 4) UUID, at most 44 characters. Cost: one draw from the thread's random generator,
/// which the operating system seeds.
pub fn generate_uid() -> String {
    let mut v: u128 = rand::random();
    // UUID version 4 (bits 76–79 = 0100) and RFC 4122 variant (bits 62–63 = 10).
    v = (v & !(0xF_u128 << 76)) | (0x4_u128 << 76);
    v = (v & !(0x3_u128 << 62)) | (0x2_u128 << 62);
    format!("2.25.{v}")
}

/// Checks a UID (PS3.5 §9.1): 1–64 characters, components of digits separated by single dots, no
/// component with a leading zero (except `0` itself).
pub fn validate_uid(name: &'static str, uid: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::invalid(name, format!("a DICOM UID ({why})"), format!("{uid:?}")));
    if uid.is_empty() || uid.len() > MAX_UID_LEN {
        return bad("1 to 64 characters");
    }
    for c in uid.split('.') {
        if c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()) {
            return bad("digits separated by single dots");
        }
        if c.len() > 1 && c.starts_with('0') {
            return bad("no component with a leading zero");
        }
    }
    Ok(())
}

/// A calendar date (DICOM DA, `YYYYMMDD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    /// Year, 1–9999.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–28/29/30/31.
    pub day: u8,
}

impl Date {
    /// A checked date. Errors: [`Error::InvalidParameter`] naming `date` for a day that does not
    /// exist. Cost: O(1).
    pub fn new(year: u16, month: u8, day: u8) -> Result<Date> {
        let d = Date { year, month, day };
        d.validate("date")?;
        Ok(d)
    }

    pub(crate) fn validate(&self, name: &'static str) -> Result<()> {
        let ok = (1..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month);
        if ok {
            Ok(())
        } else {
            Err(Error::invalid(
                name,
                "an existing calendar date (year 1-9999)",
                format!("{self:?}"),
            ))
        }
    }

    /// The DA value, `YYYYMMDD`.
    pub fn to_da(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }
}

/// A date and time of day with an optional offset from UTC (DICOM DA + TM, and Timezone Offset
/// From UTC (0008,0201) when the offset is known).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// The date.
    pub date: Date,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
    /// Offset of this local time from UTC, minutes (−720 to +840), when known.
    pub utc_offset_min: Option<i16>,
}

impl DateTime {
    /// Now, in UTC (offset 0), from the system clock. Cost: one clock read.
    pub fn now_utc() -> DateTime {
        DateTime::now_at_offset(0)
    }

    /// Now, as local time at `utc_offset_min` minutes from UTC (clamped to −720…+840), from the
    /// system clock. Cost: one clock read.
    pub fn now_at_offset(utc_offset_min: i16) -> DateTime {
        let offset = utc_offset_min.clamp(-720, 840);
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
            + i64::from(offset) * 60;
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        DateTime {
            date: Date {
                year: year.clamp(1, 9999) as u16,
                month,
                day,
            },
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
            utc_offset_min: Some(offset),
        }
    }

    pub(crate) fn validate(&self, name: &'static str) -> Result<()> {
        self.date.validate(name)?;
        let time_ok = self.hour < 24 && self.minute < 60 && self.second < 60;
        let offset_ok = self.utc_offset_min.is_none_or(|o| (-720..=840).contains(&o));
        if time_ok && offset_ok {
            Ok(())
        } else {
            Err(Error::invalid(
                name,
                "a time of day 00:00:00-23:59:59 and a UTC offset in [-720, 840] minutes",
                format!("{self:?}"),
            ))
        }
    }

    /// The TM value, `HHMMSS`.
    pub fn to_tm(&self) -> String {
        format!("{:02}{:02}{:02}", self.hour, self.minute, self.second)
    }

    /// The DT value, `YYYYMMDDHHMMSS` with `&ZZXX` when the offset is known.
    pub fn to_dt(&self) -> String {
        let mut s = format!("{}{}", self.date.to_da(), self.to_tm());
        if let Some(o) = self.offset_string() {
            s.push_str(&o);
        }
        s
    }

    /// The offset as `+HHMM` / `-HHMM`, when known.
    pub fn offset_string(&self) -> Option<String> {
        self.utc_offset_min.map(|o| {
            let sign = if o < 0 { '-' } else { '+' };
            let a = o.unsigned_abs();
            format!("{sign}{:02}{:02}", a / 60, a % 60)
        })
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Year, month, day of the day `z` days after 1970-01-01 (H. Hinnant's civil-from-days).
fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_valid_and_unique() {
        let a = generate_uid();
        let b = generate_uid();
        assert_ne!(a, b);
        assert!(a.starts_with("2.25.") && a.len() <= 44, "{a}");
        validate_uid("uid", &a).unwrap();
        for bad in ["", "1..2", "1.02", "1.a", ".1", "1.", &"1".repeat(65)] {
            assert!(validate_uid("uid", bad).is_err(), "{bad}");
        }
        validate_uid("uid", "1.2.840.10008.5.1.4.1.1.6.1").unwrap();
        validate_uid("uid", "1.0.3").unwrap();
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_819), (2027, 1, 1));
        assert!(Date::new(2023, 2, 29).is_err());
        assert!(Date::new(2024, 2, 29).is_ok());
        assert!(Date::new(2024, 13, 1).is_err());
        let t = DateTime {
            date: Date::new(2026, 11, 30).unwrap(),
            hour: 7,
            minute: 5,
            second: 9,
            utc_offset_min: Some(-330),
        };
        assert_eq!(t.to_dt(), "20261130070509-0530");
        t.validate("t").unwrap();
        DateTime::now_utc().validate("now").unwrap();
    }
}
