//! DICOM networking as a service class user (SCU): C-ECHO, C-STORE and Modality Worklist C-FIND,
//! over plain TCP or TLS. See the [module docs](super) for the contract and the costs.
//!
//! ```no_run
//! use sonochip::dicom::{Date, Exporter, Peer, ScanParameters, Scu, TlsOptions, WorklistQuery};
//! use sonochip::{ErrorKind, NetworkReason};
//! # fn main() -> sonochip::Result<()> {
//! let ris = Scu::new("SCANNER1", Peer::new("WLM", "ris.example.org", 104))?;
//! let query = WorklistQuery::new().on(Date::new(2026, 11, 30)?).modality("US").station("SCANNER1");
//! for item in ris.find_worklist(&query)? {
//!     println!("{} {}: {}", item.patient_id, item.patient_name, item.requested_procedure_description);
//! }
//!
//! let tls = TlsOptions::from_ca_file("ca.pem")?.with_client_certificate_files("scanner.pem", "scanner.key")?;
//! let pacs = Scu::new("SCANNER1", Peer::new("PACS", "pacs.example.org", 2762))?.with_tls(tls)?;
//! match pacs.echo() {
//!     Ok(()) => println!("PACS reachable"),
//!     Err(e) if e.kind() == ErrorKind::Network => match e.network_reason() {
//!         Some(NetworkReason::TlsHandshake { failure }) => eprintln!("TLS refused: {failure}"),
//!         _ => eprintln!("{e}"),
//!     },
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```

mod dimse;
mod session;
mod tls;
mod worklist;

pub use tls::TlsOptions;
pub use worklist::{DateRange, ScheduledProcedureStep, WorklistItem, WorklistQuery};

use super::DicomFile;
use crate::error::{Error, NetworkReason, Result, Source, TlsFailure};
use dicom_transfer_syntax_registry::entries::{EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN};
use dicom_ul::association::Error as UlError;
use dicom_ul::association::client::TlsStream;
use dicom_ul::pdu::{AssociationRJResult, PDataValue, PDataValueType, Pdu};
use dicom_ul::{ClientAssociation, ClientAssociationOptions};
use dimse::{Command, Request};
use session::{Assoc, Failure, Session, Watchdog, map_ul_error};
use std::fmt;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// SOP Class UID of the Verification SOP Class (C-ECHO).
pub const SOP_CLASS_VERIFICATION: &str = "1.2.840.10008.1.1";
/// SOP Class UID of Modality Worklist Information Model – FIND.
pub const SOP_CLASS_MODALITY_WORKLIST_FIND: &str = "1.2.840.10008.5.1.4.31";

const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// The other node: its AE title, host name (or address) and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Called AE title: 1–16 characters of printable ASCII without `\`, not all spaces.
    pub ae_title: String,
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Peer {
    /// A peer.
    pub fn new(ae_title: impl Into<String>, host: impl Into<String>, port: u16) -> Peer {
        Peer {
            ae_title: ae_title.into(),
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}@[{}]:{}", self.ae_title, self.host, self.port)
        } else {
            write!(f, "{}@{}:{}", self.ae_title, self.host, self.port)
        }
    }
}

/// Timeouts of an [`Scu`]. Every call returns within about `connect + operation` (the host name
/// lookup included), whatever the peer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the TCP connection (per address the host name resolves to). Default 10 s.
    pub connect: Duration,
    /// Every read and every write on the socket (TLS handshake included). Default 30 s.
    pub io: Duration,
    /// The whole call, from the association request to its release: a peer that trickles bytes
    /// just inside `io` is cut off here. Default 300 s.
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10),
            io: Duration::from_secs(30),
            operation: Duration::from_secs(300),
        }
    }
}

/// Bounds on what a peer may make this side hold in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest PDU this side accepts (announced in the association request; a larger one is a
    /// protocol error). 1 018 to 1 048 576 bytes; default 65 536.
    pub max_pdu_length: u32,
    /// Most C-FIND matches accepted in one query; more is a [`NetworkReason::TooLarge`] error
    /// (the association is aborted). Default 1 000.
    pub max_find_results: usize,
    /// Most bytes of one response message (command and data set) and, for C-FIND, of all the
    /// matches together. Default 16 MiB.
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_pdu_length: 65_536,
            max_find_results: 1_000,
            max_response_bytes: 16 << 20,
        }
    }
}

/// What a peer answered to one C-STORE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOutcome {
    /// The stored object's SOP Instance UID.
    pub sop_instance_uid: String,
    /// The Status (0000,0900): 0x0000 (success) or a warning (0xB000, 0xB006, 0xB007: stored,
    /// with coercion or elements discarded).
    pub status: u16,
}

/// A service class user talking to one [`Peer`]: each call opens an association, does its
/// exchange and releases it. See the [module docs](super) for an example.
#[derive(Debug, Clone)]
pub struct Scu {
    calling_ae_title: String,
    peer: Peer,
    timeouts: Timeouts,
    limits: Limits,
    tls: Option<TlsOptions>,
}

fn check_ae(name: &'static str, ae: &str) -> Result<()> {
    let ok = !ae.is_empty()
        && ae.len() <= 16
        && ae.chars().all(|c| c.is_ascii() && !c.is_ascii_control() && c != '\\')
        && !ae.trim().is_empty();
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            "an AE title: 1-16 printable ASCII characters, no '\\', not all spaces",
            format!("{ae:?}"),
        ))
    }
}

impl Scu {
    /// An SCU calling itself `calling_ae_title`, talking plain TCP to `peer`, with the default
    /// [`Timeouts`] and [`Limits`]. Errors: [`Error::InvalidParameter`] naming `calling_ae_title`,
    /// `peer.ae_title` or `peer.host` (empty). Cost: O(1); nothing is sent until a call.
    pub fn new(calling_ae_title: &str, peer: Peer) -> Result<Scu> {
        check_ae("calling_ae_title", calling_ae_title)?;
        check_ae("peer.ae_title", &peer.ae_title)?;
        if peer.host.is_empty() {
            return Err(Error::invalid("peer.host", "a host name or an IP address", "\"\""));
        }
        Ok(Scu {
            calling_ae_title: calling_ae_title.to_string(),
            peer,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            tls: None,
        })
    }

    /// Talks TLS (1.2 or 1.3) to the peer, verifying its certificate as `tls` says. The name
    /// checked in the certificate is [`TlsOptions::server_name`], or else the peer's host.
    /// Errors: [`Error::InvalidParameter`] naming `peer.host` when no server name is set and the
    /// host is neither a DNS name nor an IP address.
    pub fn with_tls(mut self, tls: TlsOptions) -> Result<Scu> {
        if tls.server_name().is_none() {
            tls.clone().with_server_name(&self.peer.host).map_err(|_| {
                Error::invalid(
                    "peer.host",
                    "a DNS name or an IP address (or set TlsOptions::with_server_name)",
                    &self.peer.host,
                )
            })?;
        }
        self.tls = Some(tls);
        Ok(self)
    }

    /// Replaces the timeouts. Errors: [`Error::InvalidParameter`] naming `timeouts` when one is zero.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Result<Scu> {
        if timeouts.connect.is_zero() || timeouts.io.is_zero() || timeouts.operation.is_zero() {
            return Err(Error::invalid("timeouts", "durations > 0", format!("{timeouts:?}")));
        }
        self.timeouts = timeouts;
        Ok(self)
    }

    /// Replaces the limits. Errors: [`Error::InvalidParameter`] naming `limits` when the PDU length
    /// is outside 1 018..=1 048 576 or a bound is zero.
    pub fn with_limits(mut self, limits: Limits) -> Result<Scu> {
        let ok = (1_018..=1_048_576).contains(&limits.max_pdu_length)
            && limits.max_find_results > 0
            && limits.max_response_bytes > 0;
        if !ok {
            return Err(Error::invalid(
                "limits",
                "max_pdu_length in 1018..=1048576 and bounds > 0",
                format!("{limits:?}"),
            ));
        }
        self.limits = limits;
        Ok(self)
    }

    /// The peer.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Verifies the peer with a C-ECHO. Errors: [`Error::Network`] (see [`NetworkReason`]).
    /// Cost: one association, a few hundred bytes each way.
    pub fn echo(&self) -> Result<()> {
        let contexts = vec![(SOP_CLASS_VERIFICATION.to_string(), vec![EXPLICIT_VR_LE, IMPLICIT_VR_LE])];
        self.run("C-ECHO", contexts, |s| {
            let pc = s.context_for(SOP_CLASS_VERIFICATION)?;
            let id = s.send_request(pc.0, dimse::C_ECHO_RQ, SOP_CLASS_VERIFICATION, None, None)?;
            let (cmd, _) = s.receive_message(pc.0, 0)?;
            s.check_response(&cmd, dimse::C_ECHO_RSP, id)?;
            match cmd.status {
                Some(0) => Ok(()),
                other => Err(s.status_error(other, &cmd)),
            }
        })
    }

    /// Stores `files` on the peer with C-STORE, in one association, in order. Each file must be in
    /// an uncompressed little-endian transfer syntax (as [`Exporter`](super::Exporter) writes);
    /// it is sent in Explicit VR Little Endian, or Implicit when the peer accepts only that.
    /// Returns one [`StoreOutcome`] per file. Errors: [`Error::InvalidParameter`] naming `files`
    /// (empty, a file without SOP class or instance UID, or in a compressed transfer syntax), and
    /// [`Error::Network`], with [`NetworkReason::Status`] when the peer refuses an object (the
    /// objects before it were stored). Cost: one association; each object is encoded once (a copy
    /// of its pixels) and sent in PDUs of the peer's maximum length.
    pub fn store(&self, files: &[DicomFile]) -> Result<Vec<StoreOutcome>> {
        if files.is_empty() {
            return Err(Error::empty("files", "at least one DICOM object"));
        }
        let mut classes: Vec<String> = Vec::new();
        for f in files {
            let (class, instance) = (f.sop_class_uid(), f.sop_instance_uid());
            if class.is_empty() || instance.is_empty() {
                return Err(Error::invalid(
                    "files",
                    "objects with a SOP Class UID and a SOP Instance UID",
                    format!("class {class:?}, instance {instance:?}"),
                ));
            }
            let ts = f
                .object()
                .meta()
                .transfer_syntax()
                .trim_end_matches(['\0', ' '])
                .to_string();
            if ts != EXPLICIT_VR_LE && ts != IMPLICIT_VR_LE {
                return Err(Error::invalid(
                    "files",
                    "objects in Explicit or Implicit VR Little Endian",
                    format!("transfer syntax {ts} in {instance}"),
                ));
            }
            if !classes.contains(&class) {
                classes.push(class);
            }
        }
        if classes.len() > 128 {
            return Err(Error::invalid("files", "at most 128 SOP classes", classes.len()));
        }
        let contexts = classes
            .iter()
            .map(|c| (c.clone(), vec![EXPLICIT_VR_LE, IMPLICIT_VR_LE]))
            .collect();
        self.run("C-STORE", contexts, |s| {
            let mut out = Vec::with_capacity(files.len());
            for f in files {
                let (class, instance) = (f.sop_class_uid(), f.sop_instance_uid());
                let (pc, ts) = s.context_for(&class)?;
                let ts = match ts.as_str() {
                    EXPLICIT_VR_LE => EXPLICIT_VR_LITTLE_ENDIAN.erased(),
                    IMPLICIT_VR_LE => IMPLICIT_VR_LITTLE_ENDIAN.erased(),
                    other => return Err(s.protocol(format!("the peer chose a transfer syntax not proposed: {other}"))),
                };
                let mut data = Vec::new();
                f.object()
                    .write_dataset_with_ts(&mut data, &ts)
                    .map_err(|e| Error::format("<C-STORE data set>", e))?;
                let id = s.send_request(pc, dimse::C_STORE_RQ, &class, Some(&instance), Some(&data))?;
                drop(data);
                let (cmd, _) = s.receive_message(pc, 0)?;
                s.check_response(&cmd, dimse::C_STORE_RSP, id)?;
                match cmd.status {
                    Some(status @ (0x0000 | 0xB000 | 0xB006 | 0xB007)) => out.push(StoreOutcome {
                        sop_instance_uid: instance,
                        status,
                    }),
                    other => return Err(s.status_error(other, &cmd)),
                }
            }
            Ok(out)
        })
    }

    /// Queries the peer's Modality Worklist (C-FIND) and returns the matching scheduled
    /// procedure steps, in the order the peer sent them. The query asks for UTF-8 (Specific
    /// Character Set ISO_IR 192); answers in any character set dicom-rs decodes are read.
    /// Errors: [`Error::InvalidParameter`] from the query's fields, [`Error::Network`] (with
    /// [`NetworkReason::TooLarge`] past [`Limits::max_find_results`] or
    /// [`Limits::max_response_bytes`]). Cost: one association; the matches in memory.
    pub fn find_worklist(&self, query: &WorklistQuery) -> Result<Vec<WorklistItem>> {
        let identifier = query.identifier()?;
        let contexts = vec![(SOP_CLASS_MODALITY_WORKLIST_FIND.to_string(), vec![EXPLICIT_VR_LE])];
        self.run("C-FIND", contexts, |s| {
            let (pc, _) = s.context_for(SOP_CLASS_MODALITY_WORKLIST_FIND)?;
            let id = s.send_request(
                pc,
                dimse::C_FIND_RQ,
                SOP_CLASS_MODALITY_WORKLIST_FIND,
                None,
                Some(&identifier),
            )?;
            let mut items = Vec::new();
            let mut total = 0usize;
            loop {
                let budget = s.limits.max_response_bytes.saturating_sub(total);
                let (cmd, data) = s.receive_message(pc, budget)?;
                s.check_response(&cmd, dimse::C_FIND_RSP, id)?;
                match cmd.status {
                    Some(0xFF00 | 0xFF01) => {
                        let data = data.ok_or_else(|| s.protocol("a pending C-FIND response without an identifier"))?;
                        total += data.len();
                        if items.len() == s.limits.max_find_results {
                            return Err(s.error(
                                NetworkReason::TooLarge {
                                    limit: format!("more than {} C-FIND matches", s.limits.max_find_results),
                                },
                                None,
                            ));
                        }
                        let obj = dimse::decode_data_set(&data).map_err(|m| s.protocol(m))?;
                        items.push(WorklistItem::from_identifier(&obj));
                    }
                    Some(0x0000) => return Ok(items),
                    other => return Err(s.status_error(other, &cmd)),
                }
            }
        })
    }

    /// Opens an association proposing `contexts`, runs `body` on it and releases it; aborts it on
    /// an error. Every failure becomes an [`Error::Network`] for `operation`.
    fn run<T>(
        &self,
        operation: &'static str,
        contexts: Vec<(String, Vec<&'static str>)>,
        body: impl FnOnce(&mut Session) -> Result<T>,
    ) -> Result<T> {
        let start = Instant::now();
        let peer = self.peer.to_string();
        let fail = |reason, source| Error::Network {
            operation,
            peer: peer.clone(),
            reason,
            source,
        };
        let mut opts = ClientAssociationOptions::new()
            .calling_ae_title(self.calling_ae_title.clone())
            .called_ae_title(self.peer.ae_title.clone())
            .max_pdu_length(self.limits.max_pdu_length)
            .read_timeout(self.timeouts.io)
            .write_timeout(self.timeouts.io)
            .connection_timeout(self.timeouts.connect);
        for (abstract_syntax, ts) in contexts {
            opts = opts.with_presentation_context(abstract_syntax, ts.into_iter().map(String::from).collect());
        }
        let server_name = self
            .tls
            .as_ref()
            .map(|t| t.server_name().unwrap_or(&self.peer.host).to_string())
            .unwrap_or_default();
        let tls = self.tls.as_ref().map(|t| t.config());

        // The association is requested on a helper thread, so that the operation deadline holds
        // even while dicom-ul reads the answer (and a panic there stays there).
        let (tx, rx) = mpsc::channel();
        let name = server_name.clone();
        let (host, port) = (self.peer.host.clone(), self.peer.port);
        let spawned = std::thread::Builder::new()
            .name("sonochip-dicom-associate".into())
            .spawn(move || {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    // The host name lookup, here so that the deadline covers it too.
                    let addrs: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
                        Ok(a) => a.collect(),
                        Err(e) => return Err(Failure::UnknownHost(Some(e))),
                    };
                    if addrs.is_empty() {
                        return Err(Failure::UnknownHost(None));
                    }
                    match tls {
                        None => opts.establish(&addrs[..]).map(Assoc::Plain),
                        Some(config) => opts
                            .tls_config(config)
                            .server_name(&name)
                            .establish_tls(&addrs[..])
                            .map(|a| Assoc::Tls(Box::new(a))),
                    }
                    .map_err(Failure::Ul)
                }));
                let _ = tx.send(r);
            });
        if let Err(e) = spawned {
            return Err(fail(
                NetworkReason::Connect {
                    message: format!("could not start the connection thread: {e}"),
                },
                None,
            ));
        }
        let connect_deadline = self.timeouts.connect + self.timeouts.operation;
        let mut assoc = match rx.recv_timeout(connect_deadline) {
            Ok(Ok(Ok(a))) => a,
            Ok(Ok(Err(Failure::UnknownHost(e)))) => {
                return Err(fail(
                    NetworkReason::UnknownHost {
                        host: self.peer.host.clone(),
                    },
                    e.map(Source::new),
                ));
            }
            Ok(Ok(Err(Failure::Ul(e)))) => {
                let (mut reason, source) = map_ul_error(e, &self.timeouts, &server_name);
                if self.tls.is_none()
                    && reason
                        == (NetworkReason::TlsHandshake {
                            failure: TlsFailure::NotTls,
                        })
                {
                    // On plain TCP, dicom-ul reports any failure to read the association answer
                    // (the peer closed, or nothing came within the I/O timeout) as "the peer
                    // speaks TLS" when the bytes read so far do not contradict it (none at all,
                    // for instance). Only the time it took tells a stall from a close.
                    reason = if start.elapsed() >= self.timeouts.io {
                        NetworkReason::Timeout {
                            timeout_ms: self.timeouts.io.as_millis() as u64,
                        }
                    } else {
                        NetworkReason::PeerClosed
                    };
                }
                return Err(fail(reason, source));
            }
            Ok(Err(_)) => {
                return Err(fail(
                    NetworkReason::Protocol {
                        message: "the association library failed on the peer's answer".into(),
                    },
                    None,
                ));
            }
            Err(_) => {
                return Err(fail(
                    NetworkReason::Timeout {
                        timeout_ms: connect_deadline.as_millis() as u64,
                    },
                    None,
                ));
            }
        };

        let socket = assoc.tcp_mut();
        if let Some(s) = &socket {
            // Commands and data sets go out as separate small writes: no Nagle delay between them.
            let _ = s.set_nodelay(true);
        }
        let remaining = self.timeouts.operation.saturating_sub(start.elapsed());
        let mut session = Session {
            watchdog: Watchdog::start(socket, remaining),
            assoc: Some(assoc),
            operation,
            peer,
            timeouts: self.timeouts,
            limits: self.limits,
            server_name,
            next_id: 1,
        };
        let result = match catch_unwind(AssertUnwindSafe(|| body(&mut session))) {
            Ok(r) => r,
            Err(_) => Err(session.protocol("the peer's answer could not be decoded")),
        };
        match result {
            Ok(v) => {
                // The exchange is complete; a peer that does not confirm the release changes nothing.
                if let Some(a) = session.assoc.take() {
                    let _ = catch_unwind(AssertUnwindSafe(|| a.release()));
                }
                Ok(v)
            }
            Err(e) => {
                if let Some(a) = session.assoc.take() {
                    let _ = catch_unwind(AssertUnwindSafe(|| a.abort()));
                }
                Err(e)
            }
        }
    }
}
