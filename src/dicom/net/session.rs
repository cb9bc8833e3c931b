//! One association's life: opening it (plain or TLS, under the call's deadline), the watchdog that
//! closes the socket at the deadline, the DIMSE exchanges, and the mapping of dicom-ul, rustls and
//! socket errors to a typed [`NetworkReason`].

use super::*;

/// Why the association could not be opened.
pub(super) enum Failure {
    UnknownHost(Option<std::io::Error>),
    Ul(UlError),
}

/// The association, over TCP or TLS.
pub(super) enum Assoc {
    Plain(ClientAssociation<TcpStream>),
    Tls(Box<ClientAssociation<TlsStream>>),
}

impl Assoc {
    pub(super) fn tcp_mut(&mut self) -> Option<TcpStream> {
        match self {
            Assoc::Plain(a) => a.inner_stream().try_clone().ok(),
            Assoc::Tls(a) => a.inner_stream().sock.try_clone().ok(),
        }
    }

    pub(super) fn send(&mut self, pdu: &Pdu) -> std::result::Result<(), UlError> {
        match self {
            Assoc::Plain(a) => a.send(pdu),
            Assoc::Tls(a) => a.send(pdu),
        }
    }

    pub(super) fn receive(&mut self) -> std::result::Result<Pdu, UlError> {
        match self {
            Assoc::Plain(a) => a.receive(),
            Assoc::Tls(a) => a.receive(),
        }
    }

    pub(super) fn send_data(&mut self, pc: u8, bytes: &[u8]) -> std::io::Result<()> {
        fn write<W: Write>(mut w: dicom_ul::association::PDataWriter<W>, bytes: &[u8]) -> std::io::Result<()> {
            match w.write_all(bytes) {
                Ok(()) => w.finish(),
                Err(e) => {
                    w.abandon();
                    Err(e)
                }
            }
        }
        match self {
            Assoc::Plain(a) => write(a.send_pdata(pc), bytes),
            Assoc::Tls(a) => write(a.send_pdata(pc), bytes),
        }
    }

    pub(super) fn contexts(&self) -> &[dicom_ul::pdu::PresentationContextNegotiated] {
        match self {
            Assoc::Plain(a) => a.presentation_contexts(),
            Assoc::Tls(a) => a.presentation_contexts(),
        }
    }

    pub(super) fn release(self) -> std::result::Result<(), UlError> {
        match self {
            Assoc::Plain(a) => a.release(),
            Assoc::Tls(a) => a.release(),
        }
    }

    pub(super) fn abort(self) -> std::result::Result<(), UlError> {
        match self {
            Assoc::Plain(a) => a.abort(),
            Assoc::Tls(a) => a.abort(),
        }
    }
}

/// Shuts the socket down when the operation's deadline passes, so that no read or write blocks
/// beyond it.
pub(super) struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    fired: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    pub(super) fn start(socket: Option<TcpStream>, deadline: Duration) -> Watchdog {
        let (stop, rx) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let flag = fired.clone();
        let thread = socket.and_then(|socket| {
            std::thread::Builder::new()
                .name("sonochip-dicom-deadline".into())
                .spawn(move || {
                    if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(deadline) {
                        flag.store(true, Ordering::SeqCst);
                        let _ = socket.shutdown(std::net::Shutdown::Both);
                    }
                })
                .ok()
        });
        Watchdog {
            stop: Some(stop),
            fired,
            thread,
        }
    }

    pub(super) fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One association's exchange.
pub(super) struct Session {
    pub(super) assoc: Option<Assoc>,
    pub(super) watchdog: Watchdog,
    pub(super) operation: &'static str,
    pub(super) peer: String,
    pub(super) timeouts: Timeouts,
    pub(super) limits: Limits,
    pub(super) server_name: String,
    pub(super) next_id: u16,
}

impl Session {
    pub(super) fn error(&self, reason: NetworkReason, source: Option<Source>) -> Error {
        Error::Network {
            operation: self.operation,
            peer: self.peer.clone(),
            reason,
            source,
        }
    }

    pub(super) fn protocol(&self, message: impl Into<String>) -> Error {
        self.error(
            NetworkReason::Protocol {
                message: message.into(),
            },
            None,
        )
    }

    pub(super) fn assoc(&mut self) -> Result<&mut Assoc> {
        match self.assoc.as_mut() {
            Some(a) => Ok(a),
            None => Err(Error::NotReady {
                name: "association",
                needs: "an open association",
            }),
        }
    }

    /// A dicom-ul error as a network error; after the deadline fired, a timeout.
    pub(super) fn ul_error(&self, e: UlError) -> Error {
        if self.watchdog.fired() {
            return self.deadline_error();
        }
        let (reason, source) = map_ul_error(e, &self.timeouts, &self.server_name);
        self.error(reason, source)
    }

    pub(super) fn io_error(&self, e: std::io::Error) -> Error {
        if self.watchdog.fired() {
            return self.deadline_error();
        }
        let reason = io_reason(&e, &self.timeouts, &self.server_name);
        self.error(reason, Some(Source::new(e)))
    }

    pub(super) fn deadline_error(&self) -> Error {
        self.error(
            NetworkReason::Timeout {
                timeout_ms: self.timeouts.operation.as_millis() as u64,
            },
            None,
        )
    }

    /// The accepted presentation context for `sop_class`: its id and transfer syntax.
    pub(super) fn context_for(&mut self, sop_class: &str) -> Result<(u8, String)> {
        let found = self
            .assoc()?
            .contexts()
            .iter()
            .find(|c| c.abstract_syntax.trim_end_matches('\0') == sop_class)
            .map(|c| (c.id, c.transfer_syntax.trim_end_matches('\0').to_string()));
        found.ok_or_else(|| {
            self.error(
                NetworkReason::NotSupported {
                    sop_class_uid: sop_class.to_string(),
                },
                None,
            )
        })
    }

    /// Sends a request's command (and its data set) on context `pc`; returns its Message ID.
    pub(super) fn send_request(
        &mut self,
        pc: u8,
        field: u16,
        sop_class: &str,
        sop_instance: Option<&str>,
        data: Option<&[u8]>,
    ) -> Result<u16> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let command = dimse::encode_request(&Request {
            field,
            message_id: id,
            sop_class_uid: sop_class,
            sop_instance_uid: sop_instance,
            has_data_set: data.is_some(),
        })
        .map_err(|m| self.protocol(m))?;
        let pdu = Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc,
                value_type: PDataValueType::Command,
                is_last: true,
                data: command,
            }],
        };
        let sent = self.assoc()?.send(&pdu);
        sent.map_err(|e| self.ul_error(e))?;
        if let Some(data) = data {
            let sent = self.assoc()?.send_data(pc, data);
            sent.map_err(|e| self.io_error(e))?;
        }
        Ok(id)
    }

    /// Receives one DIMSE message on context `pc`: its command and, when the command says one
    /// follows, its data set (at most `data_budget` bytes; more is a [`NetworkReason::TooLarge`]).
    pub(super) fn receive_message(&mut self, pc: u8, data_budget: usize) -> Result<(Command, Option<Vec<u8>>)> {
        const MAX_COMMAND: usize = 64 << 10;
        let data_cap = data_budget.min(self.limits.max_response_bytes);
        let mut command_bytes = Vec::new();
        let mut command: Option<Command> = None;
        let mut data = Vec::new();
        loop {
            let pdu = self.assoc()?.receive();
            let pdu = pdu.map_err(|e| self.ul_error(e))?;
            let values = match pdu {
                Pdu::PData { data } => data,
                Pdu::AbortRQ { source } => {
                    return Err(self.error(
                        NetworkReason::AssociationAborted {
                            source: format!("{source:?}"),
                        },
                        None,
                    ));
                }
                other => {
                    return Err(self.protocol(format!(
                        "unexpected {} during a {} exchange",
                        other.short_description(),
                        self.operation
                    )));
                }
            };
            for v in values {
                if v.presentation_context_id != pc {
                    return Err(self.protocol(format!(
                        "a message on presentation context {} instead of {pc}",
                        v.presentation_context_id
                    )));
                }
                match (v.value_type, &command) {
                    (PDataValueType::Command, None) => {
                        if command_bytes.len() + v.data.len() > MAX_COMMAND {
                            return Err(self.protocol(format!("a command set over {MAX_COMMAND} bytes")));
                        }
                        command_bytes.extend_from_slice(&v.data);
                        if v.is_last {
                            let cmd = dimse::decode_command(&command_bytes).map_err(|m| self.protocol(m))?;
                            if !cmd.has_data_set {
                                return Ok((cmd, None));
                            }
                            if data_budget == 0 {
                                return Err(self.protocol(format!(
                                    "a data set with command 0x{:04X}, where none was expected",
                                    cmd.field
                                )));
                            }
                            command = Some(cmd);
                        }
                    }
                    (PDataValueType::Data, Some(_)) => {
                        if data.len() + v.data.len() > data_cap {
                            return Err(self.error(
                                NetworkReason::TooLarge {
                                    limit: format!("a response over {data_cap} bytes"),
                                },
                                None,
                            ));
                        }
                        data.extend_from_slice(&v.data);
                        if v.is_last {
                            let cmd = command.take().ok_or_else(|| self.protocol("data without a command"))?;
                            return Ok((cmd, Some(data)));
                        }
                    }
                    (PDataValueType::Data, None) => {
                        return Err(self.protocol("a data set fragment before the command set was complete"));
                    }
                    (PDataValueType::Command, Some(_)) => {
                        return Err(self.protocol("a new command where the data set was expected"));
                    }
                }
            }
        }
    }

    /// Checks that `cmd` is the `expected` response to message `id`.
    pub(super) fn check_response(&self, cmd: &Command, expected: u16, id: u16) -> Result<()> {
        if cmd.field != expected {
            return Err(self.protocol(format!(
                "command field 0x{:04X} where 0x{expected:04X} was expected",
                cmd.field
            )));
        }
        if cmd.responded_to != Some(id) {
            return Err(self.protocol(format!(
                "a response to message {:?} where {id} was expected",
                cmd.responded_to
            )));
        }
        Ok(())
    }

    pub(super) fn status_error(&self, status: Option<u16>, cmd: &Command) -> Error {
        let Some(code) = status else {
            return self.protocol("a response without a Status (0000,0900)");
        };
        let meaning = match code {
            0xA700..=0xA7FF => "refused: out of resources",
            0xA900..=0xA9FF => "error: data set does not match SOP class",
            0xC000..=0xCFFF => "error: cannot understand",
            0xFE00 => "cancelled",
            0x0122 => "refused: SOP class not supported",
            0x0124 => "refused: not authorized",
            0x0210 => "duplicate invocation",
            0x0211 => "unrecognized operation",
            0x0212 => "mistyped argument",
            0x0213 => "resource limitation",
            0xA000..=0xAFFF => "refused or failed",
            _ => "failure",
        };
        let message = if cmd.error_comment.is_empty() {
            meaning.to_string()
        } else {
            format!("{meaning} ({})", cmd.error_comment)
        };
        self.error(NetworkReason::Status { code, message }, None)
    }
}

pub(super) fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
}

/// The rustls error inside an error chain, if any.
pub(super) fn find_tls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(t);
        }
        cur = err.source();
    }
    None
}

/// The first I/O error in an error chain, if any.
pub(super) fn find_io_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = err.source();
    }
    None
}

pub(super) fn io_reason(e: &std::io::Error, timeouts: &Timeouts, server_name: &str) -> NetworkReason {
    use std::io::ErrorKind as K;
    if let Some(t) = find_tls_error(e) {
        return NetworkReason::TlsHandshake {
            failure: tls::failure(t, server_name),
        };
    }
    if is_timeout(e) {
        return NetworkReason::Timeout {
            timeout_ms: timeouts.io.as_millis() as u64,
        };
    }
    match e.kind() {
        K::UnexpectedEof | K::BrokenPipe | K::ConnectionReset | K::ConnectionAborted | K::NotConnected => {
            NetworkReason::PeerClosed
        }
        _ => NetworkReason::Protocol {
            message: format!("I/O error: {e}"),
        },
    }
}

/// A dicom-ul error as a typed reason (and its source).
pub(super) fn map_ul_error(e: UlError, timeouts: &Timeouts, server_name: &str) -> (NetworkReason, Option<Source>) {
    let reason = match &e {
        UlError::ToAddress { .. } => NetworkReason::Connect {
            message: "the address could not be used".into(),
        },
        UlError::Connect { source, .. } => match source.kind() {
            std::io::ErrorKind::ConnectionRefused => NetworkReason::ConnectionRefused,
            _ if is_timeout(source) => NetworkReason::ConnectTimeout {
                timeout_ms: timeouts.connect.as_millis() as u64,
            },
            _ => NetworkReason::Connect {
                message: source.to_string(),
            },
        },
        UlError::Rejected { association_rj, .. } => NetworkReason::AssociationRejected {
            permanent: association_rj.result == AssociationRJResult::Permanent,
            reason: rejection_text(&association_rj.source),
        },
        UlError::Aborted { .. } => NetworkReason::AssociationAborted {
            source: "unspecified".into(),
        },
        UlError::UnexpectedPdu { pdu, .. } => match pdu.as_ref() {
            Pdu::AbortRQ { source } => NetworkReason::AssociationAborted {
                source: format!("{source:?}"),
            },
            other => NetworkReason::Protocol {
                message: format!("unexpected {}", other.short_description()),
            },
        },
        UlError::UnknownPdu { pdu, .. } => NetworkReason::Protocol {
            message: format!("unknown PDU {}", pdu.short_description()),
        },
        UlError::NoAcceptedPresentationContexts { .. } => NetworkReason::NotSupported {
            sop_class_uid: "(every proposed presentation context was refused)".into(),
        },
        UlError::ConnectionClosed { .. } => NetworkReason::PeerClosed,
        UlError::TlsNotSupported => NetworkReason::TlsHandshake {
            failure: TlsFailure::NotTls,
        },
        UlError::TlsConnection { source, .. } => NetworkReason::TlsHandshake {
            failure: tls::failure(source, server_name),
        },
        UlError::TlsHandshake { source, .. } => match find_tls_error(source) {
            Some(t) => NetworkReason::TlsHandshake {
                failure: tls::failure(t, server_name),
            },
            None if is_timeout(source) => NetworkReason::Timeout {
                timeout_ms: timeouts.io.as_millis() as u64,
            },
            None => NetworkReason::TlsHandshake {
                failure: TlsFailure::Other {
                    message: format!("the peer ended the handshake ({source})"),
                },
            },
        },
        UlError::InvalidServerName { .. } => NetworkReason::TlsHandshake {
            failure: TlsFailure::Other {
                message: format!("`{server_name}` is not a valid server name"),
            },
        },
        other => {
            if let Some(t) = find_tls_error(other) {
                NetworkReason::TlsHandshake {
                    failure: tls::failure(t, server_name),
                }
            } else if let Some(io) = find_io_error(other) {
                io_reason(io, timeouts, server_name)
            } else {
                NetworkReason::Protocol {
                    message: error_chain(other),
                }
            }
        }
    };
    (reason, Some(Source::new(e)))
}

/// An error and its causes, `: `-separated.
pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

pub(super) fn rejection_text(source: &dicom_ul::pdu::AssociationRJSource) -> String {
    use dicom_ul::pdu::AssociationRJSource as S;
    match source {
        S::ServiceUser(r) => format!("service user: {r}"),
        S::ServiceProviderASCE(r) => format!("service provider (ACSE): {r}"),
        S::ServiceProviderPresentation(r) => format!("service provider (presentation): {r}"),
    }
}
