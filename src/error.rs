//! The crate's one error type.
//!
//! Every fallible constructor and run method returns [`Result<T>`](crate::Result). Each variant names
//! the offending parameter, what was expected and what came, so a caller can show the message as is.
//! Variants fall into a few kinds ([`Error::kind`]): a bad parameter, a limit (memory cap), a call
//! made in the wrong state, something the CPU cannot do, and I/O or file-format failures. I/O and
//! format errors keep their cause, reachable through [`std::error::Error::source`].
//!
//! ```
//! use sonochip::{Error, ErrorKind};
//! let e = Error::invalid("fs_hz", "a finite value > 0", -1.0);
//! assert!(e.to_string().contains("fs_hz"));
//! assert_eq!(e.kind(), ErrorKind::Parameter);
//!
//! // I/O errors convert with `?` and keep the operating system's error as their source.
//! let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
//! let e = Error::from(io);
//! assert_eq!(e.kind(), ErrorKind::Io);
//! assert!(std::error::Error::source(&e).is_some());
//! ```

use std::fmt::{self, Display};
use std::path::Path;
use std::sync::Arc;

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// The coarse kind of an [`Error`], for callers that react to the kind rather than the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A parameter, an input array or a description is invalid or does not fit the others.
    Parameter,
    /// A request would exceed a limit (a memory cap or a size bound).
    Limits,
    /// A call made before what it needs exists (for example re-rendering before any frame).
    State,
    /// Something this build or CPU cannot do (for example a SIMD kernel the CPU lacks).
    Unsupported,
    /// Reading or writing a file failed.
    Io,
    /// A file was read but its content is not valid.
    Format,
    /// A network exchange with another node (a DICOM peer) failed; [`Error::Network`] says why.
    Network,
}

/// The underlying cause of an I/O or format error (shared, so that [`Error`] stays `Clone`).
#[derive(Clone)]
pub struct Source(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl Source {
    /// Wraps a cause.
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> Source {
        Source(Arc::new(e))
    }
    /// A cause that is only a message.
    pub fn message(m: impl Into<String>) -> Source {
        #[derive(Debug)]
        struct Message(String);
        impl Display for Message {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl std::error::Error for Message {}
        Source::new(Message(m.into()))
    }
    /// The cause as an I/O error, if it is one.
    pub fn as_io(&self) -> Option<&std::io::Error> {
        self.0.downcast_ref::<std::io::Error>()
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Source {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Two sources are equal when they print the same (causes are compared by their message).
impl PartialEq for Source {
    fn eq(&self, other: &Source) -> bool {
        self.to_string() == other.to_string()
    }
}

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
    /// A call needs something that does not exist yet.
    #[error("`{name}` is not available yet: {needs}")]
    NotReady {
        /// What was asked for.
        name: &'static str,
        /// What has to happen first.
        needs: &'static str,
    },
    /// This build or CPU cannot do what was asked.
    #[error("unsupported `{name}`: {requested} (available: {available})")]
    Unsupported {
        /// The parameter's name.
        name: &'static str,
        /// What was asked for.
        requested: String,
        /// What this build and CPU offer instead.
        available: String,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on `{path}`: {source}")]
    Io {
        /// The file or folder (empty when the caller did not say).
        path: String,
        /// The operating system's error ([`Source::as_io`] gives the [`std::io::Error`]).
        #[source]
        source: Source,
    },
    /// A file was read but its content is not what sonochip writes.
    #[error("format error in `{path}`: {message}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
        /// The parser's error, when there is one.
        #[source]
        source: Option<Source>,
    },
    /// A network exchange with a DICOM peer failed: it could not be reached, refused or dropped the
    /// association or the TLS handshake, stopped answering, or answered something invalid.
    #[error("DICOM {operation} with `{peer}` failed: {reason}")]
    Network {
        /// What was being done (`C-ECHO`, `C-STORE`, `C-FIND`, `association`, …).
        operation: &'static str,
        /// The peer, as `AE_TITLE@host:port`.
        peer: String,
        /// Why, as a typed reason.
        reason: NetworkReason,
        /// The underlying error (socket, TLS or protocol library), when there is one.
        #[source]
        source: Option<Source>,
    },
}

/// Why a network exchange failed ([`Error::Network`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkReason {
    /// The host name does not resolve to any address.
    UnknownHost {
        /// The name that was looked up.
        host: String,
    },
    /// The peer's host refused the TCP connection (nothing listens on that port).
    ConnectionRefused,
    /// No TCP connection within the connect timeout.
    ConnectTimeout {
        /// The timeout, milliseconds.
        timeout_ms: u64,
    },
    /// Another failure to open the TCP connection (network unreachable, …).
    Connect {
        /// The operating system's message.
        message: String,
    },
    /// The TLS handshake failed.
    TlsHandshake {
        /// Why, typed.
        failure: TlsFailure,
    },
    /// The peer rejected the association (A-ASSOCIATE-RJ).
    AssociationRejected {
        /// `true` for a permanent rejection, `false` for a transient one (retry later).
        permanent: bool,
        /// Who rejected it and why, as the standard words it (PS3.8 9.3.4), for example
        /// `service user: called AE title not recognized`.
        reason: String,
    },
    /// The peer aborted the association (A-ABORT), or answered a request with one.
    AssociationAborted {
        /// The abort's source and reason as received.
        source: String,
    },
    /// The peer accepted the association but none of the presentation contexts needed for this
    /// operation (it does not support the SOP class or the transfer syntaxes).
    NotSupported {
        /// The SOP class UID that was refused.
        sop_class_uid: String,
    },
    /// The peer closed the connection in the middle of an exchange.
    PeerClosed,
    /// The peer did not answer (or did not take data) within the read/write timeout, or the whole
    /// operation did not finish within its deadline.
    Timeout {
        /// The timeout that ran out, milliseconds.
        timeout_ms: u64,
    },
    /// The peer sent something that is not valid here (an unexpected or malformed PDU, a DIMSE
    /// message that does not parse, a response to another request, …).
    Protocol {
        /// What was wrong.
        message: String,
    },
    /// The peer's answer exceeds a bound set to protect this side (number of C-FIND matches,
    /// total size of the responses).
    TooLarge {
        /// Which bound, and its value.
        limit: String,
    },
    /// The DIMSE operation completed with a failure status (PS3.7 Annex C).
    Status {
        /// The Status (0000,0900) code.
        code: u16,
        /// Its meaning, with the peer's Error Comment (0000,0902) when it sent one.
        message: String,
    },
}

/// Why a TLS handshake failed (part of [`NetworkReason::TlsHandshake`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate is not signed by the configured certificate authority.
    UnknownIssuer,
    /// The server's certificate has expired.
    Expired,
    /// The server's certificate is not valid yet.
    NotYetValid,
    /// The server's certificate does not name the host that was connected to.
    WrongHostName {
        /// The name (or address) that was expected in the certificate.
        expected: String,
    },
    /// The server's certificate was refused for another reason (bad signature, wrong usage, …).
    BadCertificate {
        /// The TLS library's description.
        message: String,
    },
    /// The server ended the handshake with an alert (for example because it requires a client
    /// certificate and none, or an unknown one, was sent).
    AlertReceived {
        /// The alert's description.
        alert: String,
    },
    /// The peer does not speak TLS on that port (or speaks it where plain TCP was asked for).
    NotTls,
    /// Any other handshake failure.
    Other {
        /// The TLS library's description.
        message: String,
    },
}

impl Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::UnknownIssuer => {
                f.write_str("the server certificate is not signed by the configured certificate authority")
            }
            TlsFailure::Expired => f.write_str("the server certificate has expired"),
            TlsFailure::NotYetValid => f.write_str("the server certificate is not valid yet"),
            TlsFailure::WrongHostName { expected } => {
                write!(f, "the server certificate is not valid for the host name `{expected}`")
            }
            TlsFailure::BadCertificate { message } => write!(f, "the server certificate was refused: {message}"),
            TlsFailure::AlertReceived { alert } => write!(
                f,
                "the server ended the handshake with the alert `{alert}` (does it require a client certificate?)"
            ),
            TlsFailure::NotTls => f.write_str("the peer does not speak TLS on this port, or TLS was not asked for"),
            TlsFailure::Other { message } => f.write_str(message),
        }
    }
}

impl Display for NetworkReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetworkReason::UnknownHost { host } => write!(f, "unknown host `{host}` (the name does not resolve)"),
            NetworkReason::ConnectionRefused => f.write_str("connection refused (nothing listens on that port)"),
            NetworkReason::ConnectTimeout { timeout_ms } => {
                write!(f, "no TCP connection within the connect timeout of {timeout_ms} ms")
            }
            NetworkReason::Connect { message } => write!(f, "could not connect: {message}"),
            NetworkReason::TlsHandshake { failure } => write!(f, "TLS handshake failed: {failure}"),
            NetworkReason::AssociationRejected { permanent, reason } => write!(
                f,
                "association rejected ({}): {reason}",
                if *permanent { "permanent" } else { "transient" }
            ),
            NetworkReason::AssociationAborted { source } => write!(f, "association aborted by the peer ({source})"),
            NetworkReason::NotSupported { sop_class_uid } => write!(
                f,
                "the peer accepted no presentation context for SOP class {sop_class_uid} (not supported there)"
            ),
            NetworkReason::PeerClosed => f.write_str("the peer closed the connection in the middle of the exchange"),
            NetworkReason::Timeout { timeout_ms } => write!(f, "no answer within the timeout of {timeout_ms} ms"),
            NetworkReason::Protocol { message } => write!(f, "protocol error: {message}"),
            NetworkReason::TooLarge { limit } => write!(f, "the answer is too large: {limit}"),
            NetworkReason::Status { code, message } => write!(f, "failure status 0x{code:04X}: {message}"),
        }
    }
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

    /// Builds an [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<Path>, e: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source: Source::new(e),
        }
    }

    /// Builds an [`Error::Format`] for `path` with the parser's error as its source.
    pub fn format(path: impl AsRef<Path>, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Format {
            path: path.as_ref().display().to_string(),
            message: e.to_string(),
            source: Some(Source::new(e)),
        }
    }

    /// Builds an [`Error::Format`] for `path` from a message alone.
    pub fn format_msg(path: impl AsRef<Path>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.as_ref().display().to_string(),
            message: message.into(),
            source: None,
        }
    }

    /// The typed reason of an [`Error::Network`], `None` for other errors.
    pub fn network_reason(&self) -> Option<&NetworkReason> {
        match self {
            Error::Network { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The coarse kind of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidParameter { .. }
            | Error::Empty { .. }
            | Error::ShapeMismatch { .. }
            | Error::DepthOutOfRange { .. }
            | Error::BelowNyquist { .. } => ErrorKind::Parameter,
            Error::TooLarge { .. } => ErrorKind::Limits,
            Error::NotReady { .. } => ErrorKind::State,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Io { .. } => ErrorKind::Io,
            Error::Format { .. } => ErrorKind::Format,
            Error::Network { .. } => ErrorKind::Network,
        }
    }

    /// The name of the parameter the error is about, where there is one.
    pub fn parameter(&self) -> Option<&'static str> {
        match self {
            Error::InvalidParameter { name, .. }
            | Error::Empty { name, .. }
            | Error::ShapeMismatch { name, .. }
            | Error::DepthOutOfRange { name, .. }
            | Error::TooLarge { name, .. }
            | Error::NotReady { name, .. }
            | Error::Unsupported { name, .. } => Some(name),
            Error::BelowNyquist { .. } => Some("fs_hz"),
            Error::Io { .. } | Error::Format { .. } | Error::Network { .. } => None,
        }
    }
}

/// An I/O error whose path is not known (`path` is empty); prefer [`Error::io`] where it is.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io {
            path: String::new(),
            source: Source::new(e),
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

/// Checks that a physical quantity lies in its plausible range `[lo, hi]` `unit`; the message names
/// the unit, so that a value given in the wrong unit (mm for m, MHz for Hz) is recognisable.
pub(crate) fn plausible(name: &'static str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<f64> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(Error::invalid(name, format!("a value in [{lo}, {hi}] {unit}"), v))
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
    use std::error::Error as _;

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
        let e = plausible("radius_m", 3.0, 0.0, 0.3, "m").unwrap_err();
        assert!(
            e.to_string().contains("radius_m") && e.to_string().contains("0.3] m"),
            "{e}"
        );
    }

    #[test]
    fn kinds_and_sources() {
        assert_eq!(check_size("rf", 10, 5).unwrap_err().kind(), ErrorKind::Limits);
        assert_eq!(check_size("rf", 10, 5).unwrap_err().parameter(), Some("rf"));
        let e = Error::io(
            "out/x.png",
            std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied"),
        );
        assert_eq!(e.kind(), ErrorKind::Io);
        assert!(e.to_string().contains("out/x.png") && e.to_string().contains("denied"));
        let src = e.source().expect("an I/O error keeps its cause");
        let Error::Io { source, .. } = &e else { unreachable!() };
        assert_eq!(
            source.as_io().map(|i| i.kind()),
            Some(std::io::ErrorKind::PermissionDenied)
        );
        assert_eq!(src.to_string(), "denied");
        let parse = serde_json::from_str::<f64>("[").unwrap_err();
        let f = Error::format("meta.json", parse);
        assert_eq!(f.kind(), ErrorKind::Format);
        assert!(f.source().is_some());
        assert_eq!(e.clone(), e);
        let n = Error::NotReady {
            name: "frame",
            needs: "process a frame first",
        };
        assert_eq!(n.kind(), ErrorKind::State);
        let from: Error = std::io::Error::other("x").into();
        assert_eq!(from.kind(), ErrorKind::Io);
    }

    #[test]
    fn network_errors() {
        let e = Error::Network {
            operation: "C-STORE",
            peer: "PACS@pacs:2762".into(),
            reason: NetworkReason::TlsHandshake {
                failure: TlsFailure::WrongHostName {
                    expected: "pacs".into(),
                },
            },
            source: None,
        };
        assert_eq!(e.kind(), ErrorKind::Network);
        assert_eq!(e.parameter(), None);
        let s = e.to_string();
        assert!(
            s.contains("C-STORE") && s.contains("PACS@pacs:2762") && s.contains("host name `pacs`"),
            "{s}"
        );
        assert!(matches!(e.network_reason(), Some(NetworkReason::TlsHandshake { .. })));
        assert_eq!(Error::empty("x", "y").network_reason(), None);
        let status = NetworkReason::Status {
            code: 0xA700,
            message: "refused: out of resources".into(),
        };
        assert!(status.to_string().contains("0xA700"), "{status}");
    }
}
