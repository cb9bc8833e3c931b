//! The propagation medium: speed of sound and frequency-linear attenuation.
//!
//! Both parameters have plausible ranges ([`SOUND_SPEED_RANGE_M_S`],
//! [`MAX_ATTENUATION_DB_CM_MHZ`]), checked by [`Medium::new`] and when a medium is deserialised.
//!
//! ```
//! use sonochip::medium::Medium;
//! let m = Medium::soft_tissue();
//! assert_eq!(m.c_m_s(), 1540.0);
//! // 0.5 dB/(cm·MHz) over 2 cm of path at 5 MHz = 5 dB.
//! let db = m.loss_db(5e6, 0.02);
//! assert!((db - 5.0).abs() < 1e-12);
//! ```

use crate::error::{Error, Result, plausible};
use serde::{Deserialize, Serialize};

/// The speed of sound scanners assume for soft tissue, m/s (a convention: delays, depth scales and
/// beamformers use it unless told otherwise).
pub const SCANNER_C_M_S: f64 = 1540.0;
/// Speeds of sound a medium may have, m/s.
pub const SOUND_SPEED_RANGE_M_S: (f64, f64) = (300.0, 5000.0);
/// Largest attenuation a medium may have, dB/(cm·MHz) (soft tissue: about 0.5; bone: about 20).
pub const MAX_ATTENUATION_DB_CM_MHZ: f64 = 20.0;

/// Speed of sound and attenuation of a homogeneous medium.
///
/// Built by [`Medium::new`], [`Medium::soft_tissue`] or [`Medium::lossless`]; deserialising one
/// validates it as `new` does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MediumFields")]
pub struct Medium {
    c_m_s: f64,
    attenuation_db_cm_mhz: f64,
}

#[derive(Deserialize)]
struct MediumFields {
    c_m_s: f64,
    attenuation_db_cm_mhz: f64,
}

impl TryFrom<MediumFields> for Medium {
    type Error = Error;
    fn try_from(f: MediumFields) -> Result<Medium> {
        Medium::new(f.c_m_s, f.attenuation_db_cm_mhz)
    }
}

impl Medium {
    /// A medium with speed of sound `c_m_s` ([`SOUND_SPEED_RANGE_M_S`]: 300–5000 m/s) and
    /// attenuation `attenuation_db_cm_mhz` (0–[`MAX_ATTENUATION_DB_CM_MHZ`] dB/(cm·MHz), linear
    /// in frequency). A value outside its range is an [`Error::InvalidParameter`] naming the
    /// field, the range and the unit.
    pub fn new(c_m_s: f64, attenuation_db_cm_mhz: f64) -> Result<Medium> {
        plausible("c_m_s", c_m_s, SOUND_SPEED_RANGE_M_S.0, SOUND_SPEED_RANGE_M_S.1, "m/s")?;
        plausible(
            "attenuation_db_cm_mhz",
            attenuation_db_cm_mhz,
            0.0,
            MAX_ATTENUATION_DB_CM_MHZ,
            "dB/(cm·MHz)",
        )?;
        Ok(Medium {
            c_m_s,
            attenuation_db_cm_mhz,
        })
    }

    /// Soft tissue: 1540 m/s, 0.5 dB/(cm·MHz) (`docs/physics.md#propagation`).
    pub fn soft_tissue() -> Medium {
        Medium {
            c_m_s: 1540.0,
            attenuation_db_cm_mhz: 0.5,
        }
    }

    /// A lossless medium at 1540 m/s.
    pub fn lossless() -> Medium {
        Medium {
            c_m_s: 1540.0,
            attenuation_db_cm_mhz: 0.0,
        }
    }

    /// Speed of sound, m/s.
    pub fn c_m_s(&self) -> f64 {
        self.c_m_s
    }

    /// Attenuation coefficient, dB/(cm·MHz).
    pub fn attenuation_db_cm_mhz(&self) -> f64 {
        self.attenuation_db_cm_mhz
    }

    /// Attenuation coefficient in nepers per metre per hertz (amplitude factor `exp(-a·f·path)`).
    pub fn alpha_np_per_m_hz(&self) -> f64 {
        self.attenuation_db_cm_mhz * (std::f64::consts::LN_10 / 20.0) / (1e-2 * 1e6)
    }

    /// Loss in dB of an amplitude at frequency `f_hz` over `path_m` of propagation (no range
    /// check: a plain product).
    pub fn loss_db(&self, f_hz: f64, path_m: f64) -> f64 {
        self.attenuation_db_cm_mhz * (path_m * 100.0) * (f_hz * 1e-6)
    }
}

impl Default for Medium {
    fn default() -> Self {
        Medium::soft_tissue()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nepers_agree_with_db() {
        let m = Medium::new(1540.0, 0.7).unwrap();
        let (f, l) = (3e6, 0.08);
        let np = m.alpha_np_per_m_hz() * f * l;
        assert!((20.0 * np / std::f64::consts::LN_10 - m.loss_db(f, l)).abs() < 1e-9);
        assert!(Medium::new(f64::NAN, 0.5).is_err());
        assert!(Medium::new(1540.0, -0.1).is_err());
        let e = Medium::new(1540.0, 25.0).unwrap_err().to_string();
        assert!(e.contains("attenuation_db_cm_mhz") && e.contains("dB/(cm·MHz)"), "{e}");
    }

    #[test]
    fn deserialised_media_are_validated() {
        let m: Medium = serde_json::from_str(&serde_json::to_string(&Medium::soft_tissue()).unwrap()).unwrap();
        assert_eq!(m, Medium::soft_tissue());
        let e = serde_json::from_str::<Medium>(r#"{"c_m_s": 1.54, "attenuation_db_cm_mhz": 0.5}"#).unwrap_err();
        assert!(e.to_string().contains("c_m_s") && e.to_string().contains("m/s"), "{e}");
        assert!(serde_json::from_str::<Medium>(r#"{"c_m_s": 1540, "attenuation_db_cm_mhz": 1e9}"#).is_err());
    }
}
