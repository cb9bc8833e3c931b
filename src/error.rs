//! The crate's one error type.
//!
//! Every fallible constructor and run method returns [`Result<T>`](crate::Result). Each variant names
//! the offending parameter, what was expected and what came, so a caller can show the message as is.
//!
//! ```
//! use sonochip::Error;
//! let e = Error::invalid("fs_hz", "a finite value > 0", -1.0);
//! assert!(e.to_string().contains("fs_hz"));
//! ```

use std::fmt::Display;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in sonochip.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is out of its valid domain (non-finite, non-positive, out of range, …).
    #[error("invalid parameter `{name}`: expected {expected}, got {got}")]
    InvalidParameter {
        /// The parameter's name as in the API (for example `fs_hz`).
        name: &'static str,
        /// What a valid value looks like.
        expected: String,
        /// The value that came.
        got: String,
    },
    /// A collection that must hold at least one item is empty.
    #[error("`{name}` is empty: expected {expected}")]
    Empty {
        /// The parameter's name.
        name: &'static str,
        /// What it should contain.
        expected: String,
    },
    /// Two arrays or descriptions do not fit together.
    #[error("shape mismatch for `{name}`: expected {expected}, got {got}")]
    ShapeMismatch {
        /// The parameter's name.
        name: &'static str,
        /// The expected shape.
        expected: String,
        /// The shape that came.
        got: String,
    },
    /// A depth (or depth range) outside what the scanner supports.
    #[error("depth `{name}` = {got_m} m is outside the supported range {min_m}..={max_m} m")]
    DepthOutOfRange {
        /// The parameter's name.
        name: &'static str,
        /// The depth that came, in metres.
        got_m: f64,
        /// The smallest allowed depth, in metres.
        min_m: f64,
        /// The largest allowed depth, in metres.
        max_m: f64,
    },
    /// The sampling rate cannot represent the pulse band.
    #[error(
        "sampling rate `fs_hz` = {fs_hz} Hz is below the Nyquist rate {required_hz} Hz of the pulse band (upper -6 dB edge {f_high_hz} Hz)"
    )]
    BelowNyquist {
        /// The sampling rate that came.
        fs_hz: f64,
        /// Twice the upper band edge: the smallest acceptable sampling rate.
        required_hz: f64,
        /// The upper −6 dB edge of the pulse-echo spectrum.
        f_high_hz: f64,
    },
    /// A request would allocate more than the configured memory cap.
    #[error("`{name}` would need {requested_bytes} bytes, above the memory cap of {cap_bytes} bytes")]
    TooLarge {
        /// What would be allocated.
        name: &'static str,
        /// The estimated size in bytes.
        requested_bytes: u128,
        /// The cap in bytes.
        cap_bytes: u64,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on `{path}`: {message}")]
    Io {
        /// The file or folder.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// A file was read but its content is not what sonochip writes.
    #[error("format error in `{path}`: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// Builds an [`Error::InvalidParameter`].
    pub fn invalid(name: &'static str, expected: impl Into<String>, got: impl Display) -> Self {
        Error::InvalidParameter {
            name,
            expected: expected.into(),
            got: got.to_string(),
        }
    }

    /// Builds an [`Error::ShapeMismatch`].
    pub fn shape(name: &'static str, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::ShapeMismatch {
            name,
            expected: expected.into(),
            got: got.into(),
        }
    }

    /// Builds an [`Error::Empty`].
    pub fn empty(name: &'static str, expected: impl Into<String>) -> Self {
        Error::Empty {
            name,
            expected: expected.into(),
        }
    }
}

/// Default memory cap for one allocation request: 4 GiB.
pub const DEFAULT_MEMORY_CAP_BYTES: u64 = 4 << 30;

/// Checks that `v` is finite.
pub(crate) fn finite(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::invalid(name, "a finite number", v))
    }
}

/// Checks that `v` is finite and strictly positive.
pub(crate) fn positive(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(Error::invalid(name, "a finite number > 0", v))
    }
}

/// Checks that `v` is finite and ≥ 0.
pub(crate) fn non_negative(name: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(Error::invalid(name, "a finite number >= 0", v))
    }
}

/// Checks that `v` lies in `[lo, hi]`.
pub(crate) fn in_range(name: &'static str, v: f64, lo: f64, hi: f64) -> Result<f64> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(Error::invalid(name, format!("a number in [{lo}, {hi}]"), v))
    }
}

/// Checks that a count is at least `min`.
pub(crate) fn count_at_least(name: &'static str, n: usize, min: usize) -> Result<usize> {
    if n >= min {
        Ok(n)
    } else {
        Err(Error::invalid(name, format!("a count >= {min}"), n))
    }
}

/// Checks that `bytes` (an estimate) stays under `cap`.
pub(crate) fn check_size(name: &'static str, bytes: u128, cap: u64) -> Result<()> {
    if bytes <= cap as u128 {
        Ok(())
    } else {
        Err(Error::TooLarge {
            name,
            requested_bytes: bytes,
            cap_bytes: cap,
        })
    }
}

/// Checks a point for finite coordinates.
pub(crate) fn finite_point(name: &'static str, p: [f64; 3]) -> Result<[f64; 3]> {
    if p.iter().all(|v| v.is_finite()) {
        Ok(p)
    } else {
        Err(Error::invalid(name, "finite coordinates", format!("{p:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_parameter() {
        let e = positive("fc_hz", -3.0).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("fc_hz") && s.contains("-3") && s.contains("> 0"), "{s}");
        assert!(matches!(check_size("rf", 10, 5), Err(Error::TooLarge { .. })));
        assert!(finite("x", f64::NAN).is_err());
        assert_eq!(in_range("a", 0.5, 0.0, 1.0), Ok(0.5));
        assert!(count_at_least("n", 0, 1).is_err());
        assert!(non_negative("t", 0.0).is_ok());
        assert!(finite_point("p", [0.0, f64::INFINITY, 0.0]).is_err());
    }
}
