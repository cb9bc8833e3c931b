//! DICOM networking against real servers (`cargo test --release --features dicom --test
//! dicom_net`): dcmtk's `storescp` (plain TCP and TLS, with certificates these tests generate)
//! and `wlmscpfs` (with worklist files written here), started on free loopback ports by the tests
//! themselves and stopped at the end; and small hostile servers written here (one that closes,
//! one that stalls, one that sends garbage, one that aborts). Without dcmtk the tests that need it
//! print a message and pass (`.ci/run` installs it).
#![cfg(feature = "dicom")]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    SanType,
};
use sonochip::dicom::dicom_dictionary_std::tags;
use sonochip::dicom::dicom_ul::ServerAssociationOptions;
use sonochip::dicom::dicom_ul::pdu::{AbortRQSource, PDataValue, PDataValueType, Pdu};
use sonochip::dicom::{
    Date, DicomFile, Exam, Exporter, Limits, Patient, Peer, SOP_CLASS_US_IMAGE, SOP_CLASS_US_MULTIFRAME_IMAGE,
    ScanParameters, Scu, Sex, Timeouts, TlsOptions, WorklistQuery,
};
use sonochip::frame::BModeFrame;
use sonochip::ndarray::Array2;
use sonochip::preset::{Preset, PresetKind};
use sonochip::{Error, ErrorKind, NetworkReason, TlsFailure};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CALLING: &str = "SONOCHIP";
const NAME: &str = "Müller^Jürgen";
const PATIENT_ID: &str = "PID-778899";

// ---------------------------------------------------------------------------------------------
// Helpers: tools, ports, servers, certificates, objects.

fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    let found = std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file());
    if found.is_none() {
        eprintln!("skipped: `{name}` (Debian package dcmtk) is not installed; .ci/run installs it");
    }
    found
}

fn dcmtk() -> bool {
    ["storescp", "wlmscpfs", "dump2dcm", "dcmdump"]
        .iter()
        .all(|t| tool(t).is_some())
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sonochip-dicom-net-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    name: String,
    log: PathBuf,
}

impl Server {
    fn start(name: &str, program: &str, args: &[&str], port: u16, dir: &Path) -> Server {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .arg(port.to_string())
            .current_dir(dir)
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {program}: {e}"));
        let mut server = Server {
            child,
            name: name.to_string(),
            log,
        };
        // Ready when it accepts a TCP connection.
        let t0 = Instant::now();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("{name} exited with {status}: {}", server.log());
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "{name} did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- {} log:\n{}", self.name, self.log());
        }
    }
}

fn timeouts(io_ms: u64) -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        io: Duration::from_millis(io_ms),
        operation: Duration::from_secs(60),
    }
}

fn client(ae: &str, port: u16) -> Scu {
    Scu::new(CALLING, Peer::new(ae, "127.0.0.1", port))
        .unwrap()
        .with_timeouts(timeouts(10_000))
        .unwrap()
}

fn reason(e: &Error) -> &NetworkReason {
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    e.network_reason().unwrap()
}

/// Certificates and keys (PEM files) in `dir`: `ca`, `server` (localhost and 127.0.0.1), `client`,
/// `other_server` (signed by another CA), `expired` and `wrong_host` (pacs.example.org).
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        let make_ca = |cn: &str| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::CrlSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            let key = KeyPair::generate().unwrap();
            let cert = p.self_signed(&key).unwrap();
            (cert.pem(), Issuer::new(p, key))
        };
        let (ca_pem, ca) = make_ca("sonochip test CA");
        let (_, other_ca) = make_ca("another CA");
        std::fs::write(dir.join("ca.pem"), ca_pem).unwrap();
        let leaf = |name: &str, sans: &[&str], client: bool, issuer: &Issuer<'_, KeyPair>, expired: bool| {
            let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
            p.distinguished_name.push(DnType::CommonName, sans[0]);
            for s in sans {
                p.subject_alt_names.push(match s.parse() {
                    Ok(ip) => SanType::IpAddress(ip),
                    Err(_) => SanType::DnsName((*s).try_into().unwrap()),
                });
            }
            p.extended_key_usages = vec![if client {
                ExtendedKeyUsagePurpose::ClientAuth
            } else {
                ExtendedKeyUsagePurpose::ServerAuth
            }];
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            if expired {
                p.not_before = rcgen::date_time_ymd(2020, 1, 1);
                p.not_after = rcgen::date_time_ymd(2021, 1, 1);
            } else {
                p.not_before = rcgen::date_time_ymd(2025, 1, 1);
                p.not_after = rcgen::date_time_ymd(2040, 1, 1);
            }
            let key = KeyPair::generate().unwrap();
            let cert = p.signed_by(&key, issuer).unwrap();
            std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem()).unwrap();
        };
        leaf("server", &["localhost", "127.0.0.1"], false, &ca, false);
        leaf("client", &["sonochip-scanner"], true, &ca, false);
        leaf("other_server", &["localhost", "127.0.0.1"], false, &other_ca, false);
        leaf("expired", &["localhost", "127.0.0.1"], false, &ca, true);
        leaf("wrong_host", &["pacs.example.org"], false, &ca, false);
        Pki { dir: dir.to_path_buf() }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    fn tls(&self) -> TlsOptions {
        TlsOptions::from_ca_file(self.dir.join("ca.pem")).unwrap()
    }

    fn tls_with_client(&self) -> TlsOptions {
        self.tls()
            .with_client_certificate_files(self.dir.join("client.pem"), self.dir.join("client.key"))
            .unwrap()
    }

    /// Starts `storescp +tls` with the certificate `cert`; `require_client` asks for the client's.
    fn storescp(&self, cert: &str, require_client: bool, out: &Path, port: u16) -> Server {
        let (key, pem, ca) = (
            self.path(&format!("{cert}.key")),
            self.path(&format!("{cert}.pem")),
            self.path("ca.pem"),
        );
        let mut args = vec![
            "-od",
            out.to_str().unwrap(),
            "+tls",
            key.as_str(),
            pem.as_str(),
            "-pem",
            "+cf",
            ca.as_str(),
        ];
        args.push(if require_client { "-rc" } else { "-ic" });
        Server::start(&format!("storescp-tls-{cert}"), "storescp", &args, port, &self.dir)
    }
}

fn frame(rows: usize, cols: usize, seed: u8) -> BModeFrame {
    let px = Array2::from_shape_fn((rows, cols), |(r, c)| (r * 7 + c * 3 + seed as usize * 11) as u8);
    BModeFrame::new(px, [-(cols as f64 - 1.0) * 0.5e-4, 0.5e-4], [1e-4, 1e-4]).unwrap()
}

fn exam() -> Exam {
    let mut exam = Exam::new(Patient {
        name: NAME.into(),
        id: PATIENT_ID.into(),
        birth_date: Some(Date::new(1961, 4, 23).unwrap()),
        sex: Some(Sex::Male),
    });
    exam.study.accession_number = "ACC-5550123".into();
    exam.study.description = "Carotid duplex".into();
    exam
}

/// An image and a 10-frame cine loop of one series.
fn objects() -> Vec<DicomFile> {
    let scan = ScanParameters::from_preset(&Preset::get(PresetKind::Vascular), 0.04).unwrap();
    let mut exporter = Exporter::new(exam(), scan).unwrap();
    let image = exporter.image(&frame(120, 90, 1)).unwrap();
    let frames: Vec<BModeFrame> = (0..10).map(|i| frame(120, 90, i)).collect();
    let cine = exporter.cine(&frames, 0.05).unwrap();
    vec![image, cine]
}

fn pixels(f: &DicomFile) -> Vec<u8> {
    f.object()
        .get(tags::PIXEL_DATA)
        .unwrap()
        .to_bytes()
        .unwrap()
        .into_owned()
}

fn text(f: &DicomFile, tag: sonochip::dicom::dicom_core::Tag) -> String {
    f.object()
        .get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

/// Checks that every sent object arrived in `dir`, with the same pixels and attributes (read with
/// dicom-object and with dcmdump).
fn check_received(sent: &[DicomFile], dir: &Path) {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(files.len(), sent.len(), "files received: {files:?}");
    for s in sent {
        let uid = s.sop_instance_uid();
        let path = files
            .iter()
            .find(|p| DicomFile::read_file(p).is_ok_and(|f| f.sop_instance_uid() == uid))
            .unwrap_or_else(|| panic!("{uid} did not arrive"));
        let got = DicomFile::read_file(path).unwrap();
        assert_eq!(pixels(&got), pixels(s), "pixels of {uid}");
        for tag in [
            tags::SOP_CLASS_UID,
            tags::PATIENT_NAME,
            tags::PATIENT_ID,
            tags::PATIENT_BIRTH_DATE,
            tags::STUDY_INSTANCE_UID,
            tags::SERIES_INSTANCE_UID,
            tags::ACCESSION_NUMBER,
            tags::ROWS,
            tags::COLUMNS,
            tags::NUMBER_OF_FRAMES,
            tags::SPECIFIC_CHARACTER_SET,
        ] {
            assert_eq!(text(&got, tag), text(s, tag), "{tag} of {uid}");
        }
        // dcmdump reads it too: attributes and the raw pixels.
        let raw_dir = dir.with_extension(format!("raw-{}", &uid[uid.len() - 6..]));
        std::fs::create_dir_all(&raw_dir).unwrap();
        let out = Command::new("dcmdump")
            .arg("+L")
            .arg("+W")
            .arg(&raw_dir)
            .arg(path)
            .output()
            .unwrap();
        let dump = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "dcmdump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        for needle in [
            format!("(0008,0018) UI [{uid}]"),
            format!("(0010,0010) PN [{NAME}]"),
            format!("(0010,0020) LO [{PATIENT_ID}]"),
            "(0008,0060) CS [US]".to_string(),
            "(0008,0005) CS [ISO_IR 192]".to_string(),
        ] {
            assert!(dump.contains(&needle), "dcmdump lacks `{needle}`:\n{dump}");
        }
        let raw = std::fs::read_dir(&raw_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "raw"))
            .expect("dcmdump +W wrote the pixels");
        assert_eq!(std::fs::read(raw).unwrap(), pixels(s), "dcmdump's pixels of {uid}");
    }
}

// ---------------------------------------------------------------------------------------------
// storescp: plain TCP and TLS.

#[test]
fn echo_and_store_over_plain_tcp() {
    if !dcmtk() {
        return;
    }
    let dir = work_dir("plain");
    let out = dir.join("received");
    std::fs::create_dir_all(&out).unwrap();
    let port = free_port();
    let _server = Server::start("storescp", "storescp", &["-od", out.to_str().unwrap()], port, &dir);
    let scu = client("STORESCP", port);
    scu.echo().unwrap();
    let sent = objects();
    let outcomes = scu.store(&sent).unwrap();
    assert_eq!(outcomes.len(), 2);
    for (o, s) in outcomes.iter().zip(&sent) {
        assert_eq!(
            (o.sop_instance_uid.as_str(), o.status),
            (s.sop_instance_uid().as_str(), 0)
        );
    }
    check_received(&sent, &out);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn store_over_tls_with_a_client_certificate() {
    if !dcmtk() {
        return;
    }
    let dir = work_dir("tls");
    let pki = Pki::new(&dir);
    let out = dir.join("received");
    std::fs::create_dir_all(&out).unwrap();
    let port = free_port();
    let _server = pki.storescp("server", true, &out, port);
    // By IP address and by host name (both in the certificate).
    let by_ip = client("STORESCP", port).with_tls(pki.tls_with_client()).unwrap();
    by_ip.echo().unwrap();
    let by_name = Scu::new(CALLING, Peer::new("STORESCP", "localhost", port))
        .unwrap()
        .with_timeouts(timeouts(10_000))
        .unwrap()
        .with_tls(pki.tls_with_client())
        .unwrap();
    let sent = objects();
    let outcomes = by_name.store(&sent).unwrap();
    assert!(outcomes.iter().all(|o| o.status == 0), "{outcomes:?}");
    check_received(&sent, &out);

    // This server requires a client certificate: without one the handshake fails, typed.
    let t0 = Instant::now();
    let e = client("STORESCP", port)
        .with_tls(pki.tls())
        .unwrap()
        .echo()
        .unwrap_err();
    assert!(
        matches!(reason(&e), NetworkReason::TlsHandshake { .. }),
        "without a client certificate: {e}"
    );
    eprintln!("without a client certificate ({:?}): {e}", t0.elapsed());
    std::fs::remove_dir_all(dir).ok();
}

type FailureCheck = fn(&TlsFailure) -> bool;

#[test]
fn tls_refuses_bad_server_certificates() {
    if !dcmtk() {
        return;
    }
    let dir = work_dir("tls-bad");
    let pki = Pki::new(&dir);
    let out = dir.join("received");
    std::fs::create_dir_all(&out).unwrap();
    let cases: [(&str, FailureCheck); 3] = [
        ("other_server", |f| matches!(f, TlsFailure::UnknownIssuer)),
        ("expired", |f| matches!(f, TlsFailure::Expired)),
        (
            "wrong_host",
            |f| matches!(f, TlsFailure::WrongHostName { expected } if expected == "127.0.0.1"),
        ),
    ];
    for (cert, expected) in cases {
        let port = free_port();
        let _server = pki.storescp(cert, false, &out, port);
        let scu = client("STORESCP", port).with_tls(pki.tls()).unwrap();
        let e = scu.echo().unwrap_err();
        match reason(&e) {
            NetworkReason::TlsHandshake { failure } if expected(failure) => {}
            other => panic!("{cert}: expected a TLS refusal, got {other:?} ({e})"),
        }
        eprintln!("{cert}: {e}");
        assert!(scu.store(&objects()).is_err());
    }
    // Nothing got through.
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);

    // The name checked is the configured server name when one is set: the certificate for
    // pacs.example.org is accepted on 127.0.0.1 when that name is asked for.
    let port = free_port();
    let wrong_host = pki.storescp("wrong_host", false, &out, port);
    let named = pki.tls().with_server_name("pacs.example.org").unwrap();
    client("STORESCP", port).with_tls(named).unwrap().echo().unwrap();
    drop(wrong_host);

    // TLS client to a plain server, and plain client to a TLS server.
    let port = free_port();
    let plain = Server::start("storescp", "storescp", &["-od", out.to_str().unwrap()], port, &dir);
    let e = client("STORESCP", port)
        .with_tls(pki.tls())
        .unwrap()
        .echo()
        .unwrap_err();
    assert!(matches!(reason(&e), NetworkReason::TlsHandshake { .. }), "{e}");
    eprintln!("TLS to a plain server: {e}");
    drop(plain);
    let port = free_port();
    let _tls = pki.storescp("server", false, &out, port);
    // (A client certificate is optional: this server does not ask for one.)
    client("STORESCP", port).with_tls(pki.tls()).unwrap().echo().unwrap();
    let e = client("STORESCP", port)
        .with_timeouts(timeouts(3_000))
        .unwrap()
        .echo()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    eprintln!("plain TCP to a TLS server: {e}");
    std::fs::remove_dir_all(dir).ok();
}

// ---------------------------------------------------------------------------------------------
// wlmscpfs: Modality Worklist.

/// One worklist entry as a dcmtk dump.
struct Entry {
    name: &'static str,
    id: &'static str,
    birth: &'static str,
    sex: &'static str,
    accession: &'static str,
    modality: &'static str,
    date: &'static str,
    time: &'static str,
    description: &'static str,
    step_id: &'static str,
}

fn dump(e: &Entry, n: usize) -> String {
    format!(
        "(0008,0005) CS [ISO_IR 192]
(0008,0050) SH [{accession}]
(0010,0010) PN [{name}]
(0010,0020) LO [{id}]
(0010,0030) DA [{birth}]
(0010,0040) CS [{sex}]
(0020,000d) UI [1.2.826.0.1.3680043.10.1023.{n}]
(0032,1060) LO [{description}]
(0040,1001) SH [RP{n}]
(0040,0100) SQ
(fffe,e000) -
(0008,0060) CS [{modality}]
(0040,0001) AE [SCANNER1]
(0040,0002) DA [{date}]
(0040,0003) TM [{time}]
(0040,0006) PN [Doctor^Dora]
(0040,0007) LO [{description}]
(0040,0009) SH [{step_id}]
(fffe,e00d) -
(fffe,e0dd) -
",
        accession = e.accession,
        name = e.name,
        id = e.id,
        birth = e.birth,
        sex = e.sex,
        description = e.description,
        modality = e.modality,
        date = e.date,
        time = e.time,
        step_id = e.step_id,
    )
}

const ENTRIES: [Entry; 6] = [
    Entry {
        name: "Müller^Jürgen",
        id: "PID-1",
        birth: "19610423",
        sex: "M",
        accession: "ACC-1",
        modality: "US",
        date: "20261130",
        time: "091500",
        description: "Carotid duplex",
        step_id: "SPS-1",
    },
    Entry {
        name: "山田^太郎",
        id: "PID-2",
        birth: "19750102",
        sex: "M",
        accession: "ACC-2",
        modality: "US",
        date: "20261130",
        time: "101500",
        description: "Abdomen",
        step_id: "SPS-2",
    },
    Entry {
        name: "Łukasiewicz^Zoë",
        id: "PID-3",
        birth: "19880615",
        sex: "F",
        accession: "ACC-3",
        modality: "US",
        date: "20261201",
        time: "080000",
        description: "Thyroid",
        step_id: "SPS-3",
    },
    Entry {
        name: "Doe^John",
        id: "PID-4",
        birth: "19500101",
        sex: "M",
        accession: "ACC-4",
        modality: "CT",
        date: "20261130",
        time: "110000",
        description: "CT chest",
        step_id: "SPS-4",
    },
    Entry {
        name: "Müller^Jürgen",
        id: "PID-1",
        birth: "19610423",
        sex: "M",
        accession: "ACC-5",
        modality: "US",
        date: "20261202",
        time: "140000",
        description: "Carotid follow-up",
        step_id: "SPS-5",
    },
    Entry {
        name: "Roe^Jane",
        id: "PID-6",
        birth: "19990909",
        sex: "O",
        accession: "ACC-6",
        modality: "MR",
        date: "20261201",
        time: "120000",
        description: "MR knee",
        step_id: "SPS-6",
    },
];

fn worklist_server(dir: &Path, extra: &[&str]) -> (Server, u16) {
    let db = dir.join("wlm");
    let ae = db.join("WLM");
    std::fs::create_dir_all(&ae).unwrap();
    std::fs::write(ae.join("lockfile"), "").unwrap();
    for (n, e) in ENTRIES.iter().enumerate() {
        let d = ae.join(format!("item{n}.dump"));
        std::fs::write(&d, dump(e, n)).unwrap();
        let st = Command::new("dump2dcm")
            .arg("-g")
            .arg(&d)
            .arg(ae.join(format!("item{n}.wl")))
            .output()
            .unwrap();
        assert!(st.status.success(), "dump2dcm: {}", String::from_utf8_lossy(&st.stderr));
    }
    let port = free_port();
    let mut args = vec!["-dfp", db.to_str().unwrap(), "-csk", "-dhl"];
    args.extend_from_slice(extra);
    (Server::start("wlmscpfs", "wlmscpfs", &args, port, dir), port)
}

fn step_ids(items: &[sonochip::dicom::WorklistItem]) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|i| i.step.id.clone()).collect();
    v.sort();
    v
}

#[test]
fn worklist_returns_exactly_the_matching_steps() {
    if !dcmtk() {
        return;
    }
    let dir = work_dir("worklist");
    let (_server, port) = worklist_server(&dir, &[]);
    let scu = client("WLM", port);
    scu.echo().unwrap();
    let d = |day| {
        Date::new(
            2026,
            if day > 30 { 12 } else { 11 },
            if day > 30 { day - 30 } else { day },
        )
        .unwrap()
    };

    // US on 30 November: items 1 and 2 (not the CT one that day, not other days).
    let items = scu
        .find_worklist(&WorklistQuery::new().on(d(30)).modality("US"))
        .unwrap();
    assert_eq!(step_ids(&items), ["SPS-1", "SPS-2"]);
    let yamada = items.iter().find(|i| i.patient_id == "PID-2").unwrap();
    assert_eq!(yamada.patient_name, "山田^太郎", "non-ASCII name intact");
    let muller = items.iter().find(|i| i.patient_id == "PID-1").unwrap();
    assert_eq!(muller.patient_name, "Müller^Jürgen");
    assert_eq!(muller.birth_date, Some(Date::new(1961, 4, 23).unwrap()));
    assert_eq!(muller.sex, Some(Sex::Male));
    assert_eq!(muller.accession_number, "ACC-1");
    assert_eq!(muller.study_instance_uid, "1.2.826.0.1.3680043.10.1023.0");
    assert_eq!(muller.requested_procedure_id, "RP0");
    assert_eq!(muller.requested_procedure_description, "Carotid duplex");
    assert_eq!(muller.step.start_date, Some(d(30)));
    assert_eq!(muller.step.start_time, "091500");
    assert_eq!(muller.step.modality, "US");
    assert_eq!(muller.step.description, "Carotid duplex");
    assert_eq!(muller.step.station_ae_title, "SCANNER1");
    assert_eq!(muller.step.performing_physician, "Doctor^Dora");

    // By patient ID, any date and modality: items 0 and 4.
    let items = scu.find_worklist(&WorklistQuery::new().patient_id("PID-1")).unwrap();
    assert_eq!(step_ids(&items), ["SPS-1", "SPS-5"]);
    // A date range, US: items 0, 1, 2 (30 Nov to 1 Dec), not 4 (2 Dec).
    let items = scu
        .find_worklist(&WorklistQuery::new().between(d(30), d(31)).modality("US"))
        .unwrap();
    assert_eq!(step_ids(&items), ["SPS-1", "SPS-2", "SPS-3"]);
    let zoe = items.iter().find(|i| i.patient_id == "PID-3").unwrap();
    assert_eq!(
        (zoe.patient_name.as_str(), zoe.sex),
        ("Łukasiewicz^Zoë", Some(Sex::Female))
    );
    // Everything: all six; date, modality and patient ID together: one.
    assert_eq!(scu.find_worklist(&WorklistQuery::new()).unwrap().len(), ENTRIES.len());
    let one = scu
        .find_worklist(&WorklistQuery::new().on(d(32)).modality("US").patient_id("PID-1"))
        .unwrap();
    assert_eq!(step_ids(&one), ["SPS-5"]);
    assert!(scu.find_worklist(&WorklistQuery::new().on(d(33))).unwrap().is_empty());

    // The station's AE title, and the exam an item fills.
    let by_station = scu
        .find_worklist(&WorklistQuery::new().station("SCANNER1").modality("MR"))
        .unwrap();
    assert_eq!(step_ids(&by_station), ["SPS-6"]);
    let exam = muller.exam();
    assert_eq!(exam.patient.name, "Müller^Jürgen");
    assert_eq!(exam.patient.birth_date, Some(Date::new(1961, 4, 23).unwrap()));
    assert_eq!(exam.study.instance_uid, muller.study_instance_uid);
    assert_eq!(exam.study.accession_number, "ACC-1");
    assert_eq!(exam.study.description, "Carotid duplex");
    let scan = ScanParameters::from_preset(&Preset::get(PresetKind::Vascular), 0.04).unwrap();
    let image = Exporter::new(exam, scan).unwrap().image(&frame(40, 30, 0)).unwrap();
    assert_eq!(text(&image, tags::STUDY_INSTANCE_UID), muller.study_instance_uid);

    // The result cap: more matches than allowed is a typed error, not an unbounded list.
    let capped = scu
        .clone()
        .with_limits(Limits {
            max_find_results: 3,
            ..Limits::default()
        })
        .unwrap();
    let e = capped.find_worklist(&WorklistQuery::new()).unwrap_err();
    assert!(matches!(reason(&e), NetworkReason::TooLarge { .. }), "{e}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn association_rejections_are_typed() {
    if !dcmtk() {
        return;
    }
    let dir = work_dir("reject");
    // An AE title the worklist server does not know.
    let (server, port) = worklist_server(&dir, &[]);
    let e = client("NOSUCHAE", port)
        .find_worklist(&WorklistQuery::new())
        .unwrap_err();
    match reason(&e) {
        NetworkReason::AssociationRejected { reason, .. } => assert!(reason.contains("called AE title"), "{e}"),
        other => panic!("{other:?}"),
    }
    eprintln!("unknown AE title: {e}");
    drop(server);
    // A server that refuses every association.
    let (_server, port) = worklist_server(&dir, &["--refuse"]);
    let e = client("WLM", port).echo().unwrap_err();
    assert!(matches!(reason(&e), NetworkReason::AssociationRejected { .. }), "{e}");
    eprintln!("--refuse: {e}");
    // A storage server asked for a worklist: no presentation context.
    let port = free_port();
    let out = dir.join("received");
    std::fs::create_dir_all(&out).unwrap();
    let _store = Server::start("storescp", "storescp", &["-od", out.to_str().unwrap()], port, &dir);
    let e = client("STORESCP", port)
        .find_worklist(&WorklistQuery::new())
        .unwrap_err();
    assert!(
        matches!(
            reason(&e),
            NetworkReason::NotSupported { .. } | NetworkReason::AssociationRejected { .. }
        ),
        "{e}"
    );
    eprintln!("worklist query to storescp: {e}");
    std::fs::remove_dir_all(dir).ok();
}

// ---------------------------------------------------------------------------------------------
// Hostile and broken peers (no dcmtk needed).

/// A one-connection server on a free port running `behaviour` on the accepted stream.
fn hostile(behaviour: impl FnOnce(TcpStream) + Send + 'static) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            behaviour(s);
        }
    });
    (port, h)
}

/// Accepts the association (Verification) with dicom-ul's acceptor.
fn accept(s: TcpStream) -> sonochip::dicom::dicom_ul::ServerAssociation<TcpStream> {
    ServerAssociationOptions::new()
        .accept_any()
        .with_abstract_syntax("1.2.840.10008.1.1")
        .establish(s)
        .unwrap()
}

const IO_MS: u64 = 1_500;

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t0 = Instant::now();
    let r = f();
    (r, t0.elapsed())
}

#[test]
fn a_peer_that_closes_gives_peer_closed() {
    // Closes as soon as it accepts the TCP connection.
    let (port, h) = hostile(drop);
    let scu = client("ANY", port).with_timeouts(timeouts(IO_MS)).unwrap();
    let (r, t) = timed(|| scu.echo());
    let e = r.unwrap_err();
    assert_eq!(reason(&e), &NetworkReason::PeerClosed, "{e}");
    assert!(t < Duration::from_millis(IO_MS), "{t:?}");
    eprintln!("closes at once ({t:?}): {e}");
    h.join().unwrap();

    // Accepts the association, then closes: in the middle of a C-STORE.
    let (port, h) = hostile(|s| {
        let mut a = accept(s);
        let _ = a.receive();
        drop(a);
    });
    let scu = Scu::new(CALLING, Peer::new("ANY", "127.0.0.1", port))
        .unwrap()
        .with_timeouts(timeouts(IO_MS))
        .unwrap();
    let (r, t) = timed(|| scu.echo());
    let e = r.unwrap_err();
    assert_eq!(reason(&e), &NetworkReason::PeerClosed, "{e}");
    assert!(t < Duration::from_millis(IO_MS), "{t:?}");
    eprintln!("accepts the association, then closes ({t:?}): {e}");
    h.join().unwrap();

    // Accepts a C-STORE association, takes the first PDU of the object and closes: mid-transfer.
    let (port, h) = hostile(|s| {
        let mut a = ServerAssociationOptions::new()
            .accept_any()
            .with_abstract_syntax(SOP_CLASS_US_IMAGE)
            .with_abstract_syntax(SOP_CLASS_US_MULTIFRAME_IMAGE)
            .max_pdu_length(16_384)
            .establish(s)
            .unwrap();
        let _ = a.receive();
        let _ = a.receive();
        drop(a);
    });
    let scu = client("ANY", port).with_timeouts(timeouts(IO_MS)).unwrap();
    let (r, t) = timed(|| scu.store(&objects()));
    let e = r.unwrap_err();
    assert_eq!(reason(&e), &NetworkReason::PeerClosed, "{e}");
    assert!(t < Duration::from_millis(IO_MS), "{t:?}");
    eprintln!("closes in the middle of a C-STORE ({t:?}): {e}");
    h.join().unwrap();
}

#[test]
fn a_peer_that_stalls_times_out() {
    // Reads the association request and never answers.
    let (port, h) = hostile(|mut s| {
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        std::thread::sleep(Duration::from_millis(3 * IO_MS));
    });
    let scu = client("ANY", port).with_timeouts(timeouts(IO_MS)).unwrap();
    let (r, t) = timed(|| scu.echo());
    let e = r.unwrap_err();
    assert!(
        matches!(reason(&e), NetworkReason::Timeout { timeout_ms } if *timeout_ms == IO_MS),
        "{e}"
    );
    assert!(
        t >= Duration::from_millis(IO_MS) && t < Duration::from_millis(IO_MS + 1_000),
        "{t:?}"
    );
    eprintln!("stalls before the association ({t:?}): {e}");
    h.join().unwrap();

    // Accepts the association and never answers the C-ECHO.
    let (port, h) = hostile(|s| {
        let mut a = accept(s);
        let _ = a.receive();
        std::thread::sleep(Duration::from_millis(3 * IO_MS));
    });
    let scu = client("ANY", port).with_timeouts(timeouts(IO_MS)).unwrap();
    let (r, t) = timed(|| scu.echo());
    let e = r.unwrap_err();
    assert!(matches!(reason(&e), NetworkReason::Timeout { .. }), "{e}");
    assert!(t < Duration::from_millis(IO_MS + 1_000), "{t:?}");
    eprintln!("stalls after the association ({t:?}): {e}");
    h.join().unwrap();

    // Trickles a byte just inside the I/O timeout: the operation deadline cuts it off.
    let (port, h) = hostile(|s| {
        let mut a = accept(s);
        let _ = a.receive();
        let s = a.inner_stream();
        // A P-DATA-TF header announcing 1000 bytes, then one byte at a time.
        let _ = s.write_all(&[0x04, 0, 0, 0, 0x03, 0xE8]);
        for _ in 0..20 {
            std::thread::sleep(Duration::from_millis(IO_MS / 2));
            if s.write_all(&[0]).is_err() {
                break;
            }
        }
    });
    let scu = client("ANY", port)
        .with_timeouts(Timeouts {
            connect: Duration::from_secs(5),
            io: Duration::from_millis(IO_MS),
            operation: Duration::from_millis(2 * IO_MS),
        })
        .unwrap();
    let (r, t) = timed(|| scu.echo());
    let e = r.unwrap_err();
    assert!(
        matches!(reason(&e), NetworkReason::Timeout { timeout_ms } if *timeout_ms == 2 * IO_MS),
        "{e}"
    );
    assert!(t < Duration::from_millis(2 * IO_MS + 1_000), "{t:?}");
    eprintln!("trickles ({t:?}): {e}");
    h.join().unwrap();
}

#[test]
fn garbage_and_aborts_are_typed_errors_never_panics() {
    // Garbage instead of an A-ASSOCIATE-AC.
    for garbage in [
        b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
        vec![0x02, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3],
        vec![0x02, 0, 0, 0, 0, 4, 0, 1, 0, 0],
        (0..2000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
    ] {
        let (port, h) = hostile(move |mut s| {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(&garbage);
            std::thread::sleep(Duration::from_millis(200));
        });
        let scu = client("ANY", port).with_timeouts(timeouts(IO_MS)).unwrap();
        let (r, t) = timed(|| scu.echo());
        let e = r.unwrap_err();
        assert!(
            matches!(reason(&e), NetworkReason::Protocol { .. } | NetworkReason::PeerClosed),
            "{e}"
        );
        assert!(t < Duration::from_millis(IO_MS + 1_000), "{t:?}");
        eprintln!("garbage ({t:?}): {e}");
        h.join().unwrap();
    }

    // After the association: an abort, a release request, garbage P-DATA, a response to
    // another message.
    let pdata = |pc: u8, value_type: PDataValueType, data: Vec<u8>| Pdu::PData {
        data: vec![PDataValue {
            presentation_context_id: pc,
            value_type,
            is_last: true,
            data,
        }],
    };
    let replies = vec![
        Pdu::AbortRQ {
            source: AbortRQSource::ServiceUser,
        },
        Pdu::ReleaseRQ,
        pdata(
            1,
            PDataValueType::Command,
            vec![0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x7F, 1, 2, 3],
        ),
        pdata(9, PDataValueType::Command, vec![]),
        pdata(1, PDataValueType::Data, vec![1, 2, 3]),
    ];
    for (n, reply) in replies.into_iter().enumerate() {
        let (port, h) = hostile(move |s| {
            let mut a = accept(s);
            let _ = a.receive();
            let _ = a.send(&reply);
            std::thread::sleep(Duration::from_millis(300));
        });
        let scu = client("ANY", port).with_timeouts(timeouts(IO_MS)).unwrap();
        let (r, t) = timed(|| scu.echo());
        let e = r.unwrap_err();
        let ok = match n {
            0 => matches!(reason(&e), NetworkReason::AssociationAborted { .. }),
            _ => matches!(reason(&e), NetworkReason::Protocol { .. }),
        };
        assert!(ok, "reply {n}: {e}");
        assert!(t < Duration::from_millis(IO_MS + 1_000), "{t:?}");
        eprintln!("reply {n} ({t:?}): {e}");
        h.join().unwrap();
    }
}

#[test]
fn unreachable_peers_are_typed() {
    // Nothing listens on a port just freed.
    let port = free_port();
    let e = client("ANY", port).echo().unwrap_err();
    assert_eq!(reason(&e), &NetworkReason::ConnectionRefused, "{e}");
    eprintln!("{e}");
    // A name that does not resolve (`.invalid` is reserved, RFC 2606).
    let scu = Scu::new(CALLING, Peer::new("ANY", "no-such-host.invalid", 104)).unwrap();
    let e = scu.echo().unwrap_err();
    assert!(
        matches!(reason(&e), NetworkReason::UnknownHost { host } if host == "no-such-host.invalid"),
        "{e}"
    );
    eprintln!("{e}");
    // Bad parameters are refused before anything is sent.
    assert!(Scu::new("", Peer::new("ANY", "127.0.0.1", 104)).is_err());
    assert!(Scu::new(CALLING, Peer::new("A\\B", "127.0.0.1", 104)).is_err());
    assert!(
        Scu::new(CALLING, Peer::new("ANY", "127.0.0.1", 104))
            .unwrap()
            .store(&[])
            .is_err()
    );
    assert!(TlsOptions::new(b"not a certificate").is_err());
}

/// An Implicit VR Little Endian command element of group 0000.
fn command_element(elem: u16, value: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0];
    v.extend_from_slice(&elem.to_le_bytes());
    v.extend_from_slice(&(value.len() as u32).to_le_bytes());
    v.extend_from_slice(value);
    v
}

#[test]
fn hostile_worklist_answers_are_refused_before_decoding() {
    // Pending C-FIND responses whose identifiers are not what they claim: a length of almost
    // 4 GiB in a few bytes, a truncated sequence, an undefined-length text.
    let identifiers: Vec<Vec<u8>> = vec![
        vec![
            0x10, 0x00, 0x10, 0x10, b'O', b'B', 0, 0, 0xF0, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
        ],
        vec![
            0x40, 0x00, 0x00, 0x01, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0x00, 0xE0,
        ],
        vec![
            0x10, 0x00, 0x10, 0x00, b'U', b'T', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, b'x', b'y',
        ],
    ];
    for (n, identifier) in identifiers.into_iter().enumerate() {
        let (port, h) = hostile(move |s| {
            let mut a = ServerAssociationOptions::new()
                .accept_any()
                .with_abstract_syntax("1.2.840.10008.5.1.4.31")
                .establish(s)
                .unwrap();
            let pc = a.presentation_contexts()[0].id;
            let _ = a.receive(); // the C-FIND-RQ command
            let _ = a.receive(); // its identifier
            let mut command = command_element(0x0002, b"1.2.840.10008.5.1.4.31");
            command.extend(command_element(0x0100, &0x8020u16.to_le_bytes()));
            command.extend(command_element(0x0120, &1u16.to_le_bytes()));
            command.extend(command_element(0x0800, &0u16.to_le_bytes()));
            command.extend(command_element(0x0900, &0xFF00u16.to_le_bytes()));
            let pdv = |value_type, data| PDataValue {
                presentation_context_id: pc,
                value_type,
                is_last: true,
                data,
            };
            let _ = a.send(&Pdu::PData {
                data: vec![pdv(PDataValueType::Command, command)],
            });
            let _ = a.send(&Pdu::PData {
                data: vec![pdv(PDataValueType::Data, identifier)],
            });
            std::thread::sleep(Duration::from_millis(300));
        });
        let scu = client("ANY", port).with_timeouts(timeouts(IO_MS)).unwrap();
        let (r, t) = timed(|| scu.find_worklist(&WorklistQuery::new()));
        let e = r.unwrap_err();
        assert!(
            matches!(reason(&e), NetworkReason::Protocol { .. }),
            "identifier {n}: {e}"
        );
        assert!(t < Duration::from_millis(IO_MS), "{t:?}");
        eprintln!("identifier {n} ({t:?}): {e}");
        h.join().unwrap();
    }
}

#[test]
fn random_bytes_after_the_association_never_panic() {
    let mut x = 0x9E37_79B9u32;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for round in 0..24 {
        let len = 1 + (next() % 3000) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the rounds start like a P-DATA-TF PDU, so that the parser goes deeper.
        if round % 2 == 0 && len > 12 {
            let body = (len - 6) as u32;
            bytes[..6].copy_from_slice(&[
                0x04,
                0,
                (body >> 24) as u8,
                (body >> 16) as u8,
                (body >> 8) as u8,
                body as u8,
            ]);
            bytes[6..10].copy_from_slice(&((len - 10) as u32).to_be_bytes());
            bytes[10] = 1;
        }
        let (port, h) = hostile(move |s| {
            let mut a = accept(s);
            let _ = a.receive();
            let _ = a.inner_stream().write_all(&bytes);
            std::thread::sleep(Duration::from_millis(100));
        });
        let scu = client("ANY", port).with_timeouts(timeouts(IO_MS)).unwrap();
        let (r, t) = timed(|| scu.echo());
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Network, "round {round}: {e}");
        assert!(t < Duration::from_millis(IO_MS + 1_000), "round {round}: {t:?}");
        h.join().unwrap();
    }
}
