//! Hostile files and deserialised values: every one gives a typed error naming the file or the
//! field, never a panic, an abort or an allocation sized by the file's claims.
//!
//! The files are generated in a temporary folder from a small valid record ([`fixture`]) and then
//! corrupted one way each. The one case that used to abort the process (a `data.npy` header
//! claiming 2^40 bytes) runs in a child process ([`in_child`]), so that a regression fails this
//! test instead of killing the test harness.

use serde_json::Value;
use sonochip::channel_data::{ChannelData, MAX_META_JSON_BYTES, Metadata, Sampling};
use sonochip::num_complex::Complex32;
use sonochip::probe::{Aperture, ArraySpec, Channel, ChannelMode, Element, Probe};
use sonochip::sequence::Sequence;
use sonochip::{Error, ErrorKind, ndarray::Array3};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in the child process that [`in_child`] starts.
const CHILD_ENV: &str = "SONOCHIP_IO_LIMITS_CHILD";

/// Runs `body` in a child process: this test binary again, filtered to `test_name`, with
/// [`CHILD_ENV`] set. The parent asserts that the child exited normally after `body` returned, so
/// an abort (failed allocation, stack overflow) or a panic in `body` fails the parent's test.
fn in_child(test_name: &str, body: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body();
        println!("child body returned");
        return;
    }
    let out = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("child body returned"),
        "child process for {test_name} failed: {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
}

/// A fresh folder for one test (and one process).
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sonochip-io-limits-{}-{name}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A valid RF record of 1 transmit, `n_ch` channels and `n_samples` samples, saved in a fresh
/// folder; returns the folder and the record.
fn fixture(name: &str, n_ch: usize, n_samples: usize) -> (PathBuf, ChannelData<f32>) {
    let probe = Probe::linear(n_ch, 3e-4, 2.7e-4, 5e-3, 1).unwrap();
    let ap = Aperture::full(&probe, None).unwrap();
    let seq = Sequence::plane_waves(&ap, &[0.0], 1540.0).unwrap();
    let meta = Metadata::for_aperture(Sampling::new(20e6, 0.0, n_samples).unwrap(), 5e6, seq, &ap).unwrap();
    let data = Array3::from_shape_fn((1, n_ch, n_samples), |(_, c, k)| (c * 100 + k) as f32 - 7.5);
    let cd = ChannelData::new(data, meta).unwrap();
    let dir = temp_dir(name);
    cd.save(&dir).unwrap();
    (dir, cd)
}

/// A `.npy` file: version `major`, the header dictionary `dict` padded with spaces and a newline
/// to a multiple of 64 bytes (as numpy writes), then `data`.
fn npy(major: u8, dict: &str, data: &[u8]) -> Vec<u8> {
    let pre = if major == 1 { 10 } else { 12 };
    let mut header = dict.to_string();
    while !(pre + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut f = b"\x93NUMPY".to_vec();
    f.extend([major, 0]);
    if major == 1 {
        f.extend((header.len() as u16).to_le_bytes());
    } else {
        f.extend((header.len() as u32).to_le_bytes());
    }
    f.extend(header.as_bytes());
    f.extend(data);
    f
}

/// The dictionary of a `.npy` header.
fn dict(descr: &str, fortran: &str, shape: &str) -> String {
    format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}")
}

/// Loads RF data from `dir` and returns the error, which must be of `kind` and name `file`.
fn load_err(dir: &Path, kind: ErrorKind, file: &str) -> Error {
    let e = ChannelData::<f32>::load(dir).expect_err("a hostile file must not load");
    assert_eq!(e.kind(), kind, "{e}");
    let path = match &e {
        Error::Io { path, .. } | Error::Format { path, .. } => path.clone(),
        other => panic!("expected an I/O or format error, got {other:?}"),
    };
    assert!(path.ends_with(file), "the error names {path}, expected {file}: {e}");
    e
}

/// Rewrites `meta.json` in `dir` through `edit`.
fn edit_meta(dir: &Path, edit: impl FnOnce(&mut Value)) {
    let p = dir.join("meta.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
}

// ---------------------------------------------------------------------------------------------
// data.npy
// ---------------------------------------------------------------------------------------------

/// Formerly `memory allocation of 1099511627776 bytes failed` (abort): a 128-byte `data.npy` whose
/// header claims shape (16, 16, 2^30) next to a `meta.json` of (1, 4, 8) float32 samples (128 bytes,
/// so the old length check passed) made ndarray-npy allocate 2^40 bytes. The header is now parsed
/// and its shape compared with `meta.json` before anything is allocated.
#[test]
fn huge_shape_in_a_128_byte_npy_is_a_format_error() {
    in_child("huge_shape_in_a_128_byte_npy_is_a_format_error", || {
        let (dir, _) = fixture("huge-shape", 4, 8);
        let f = npy(1, &dict("<f4", "False", "(16, 16, 1073741824)"), &[]);
        assert_eq!(f.len(), 128);
        std::fs::write(dir.join("data.npy"), f).unwrap();
        let e = load_err(&dir, ErrorKind::Format, "data.npy");
        assert!(e.to_string().contains("1073741824"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    });
}

/// One corrupted `data.npy` each: the header, the dtype, the order, the shape and the length.
#[test]
fn corrupted_npy_files_are_format_errors() {
    let (dir, good) = fixture("npy", 4, 8);
    let data: Vec<u8> = good.data().iter().flat_map(|v| v.to_le_bytes()).collect();
    let ok_dict = dict("<f4", "False", "(1, 4, 8)");
    let mut long_header = b"\x93NUMPY\x02\x00".to_vec();
    long_header.extend(0x7fff_ffffu32.to_le_bytes());
    let mut bad_utf8 = npy(1, &ok_dict, &data);
    bad_utf8[12] = 0xff;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty file", vec![], "truncated"),
        ("magic only", b"\x93NUMPY".to_vec(), "truncated"),
        ("not npy", b"PK\x03\x04 this is a zip file, not numpy".to_vec(), "magic"),
        (
            "version 4",
            {
                let mut f = npy(1, &ok_dict, &data);
                f[6] = 4;
                f
            },
            "version",
        ),
        (
            "header longer than the file",
            npy(1, &ok_dict, &data)[..40].to_vec(),
            "truncated",
        ),
        ("header length 2^31", long_header, "header of"),
        ("header not text", bad_utf8, "not text"),
        (
            "header not a dict",
            npy(1, "['<f4', False, (1, 4, 8)]", &data),
            "dictionary",
        ),
        (
            "missing shape",
            npy(1, "{'descr': '<f4', 'fortran_order': False}", &data),
            "without",
        ),
        (
            "unknown key",
            npy(
                1,
                "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 8), 'x': 1}",
                &data,
            ),
            "'x'",
        ),
        (
            "key twice",
            npy(
                1,
                "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1, 4, 8)}",
                &data,
            ),
            "twice",
        ),
        (
            "structured dtype",
            npy(
                1,
                "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1, 4, 8)}",
                &data,
            ),
            "byte",
        ),
        (
            "escaped string",
            npy(
                1,
                "{'descr': '<f\\4', 'fortran_order': False, 'shape': (1, 4, 8)}",
                &data,
            ),
            "escape",
        ),
        ("unterminated string", npy(1, "{'descr': '<f4", &data), "unterminated"),
        (
            "float64",
            npy(
                1,
                &dict("<f8", "False", "(1, 4, 8)"),
                &[data.clone(), data.clone()].concat(),
            ),
            "'<f8'",
        ),
        (
            "complex64 for RF",
            npy(1, &dict("<c8", "False", "(1, 4, 4)"), &data),
            "'<c8'",
        ),
        ("int32", npy(1, &dict("<i4", "False", "(1, 4, 8)"), &data), "'<i4'"),
        (
            "fortran order",
            npy(1, &dict("<f4", "True", "(1, 4, 8)"), &data),
            "fortran_order",
        ),
        (
            "two dimensions",
            npy(1, &dict("<f4", "False", "(4, 8)"), &data),
            "shape",
        ),
        (
            "shape against meta.json",
            npy(1, &dict("<f4", "False", "(1, 8, 4)"), &data),
            "meta.json",
        ),
        (
            "negative size",
            npy(1, &dict("<f4", "False", "(1, -4, 8)"), &data),
            "integer",
        ),
        (
            "size beyond u64",
            npy(1, &dict("<f4", "False", "(1, 4, 99999999999999999999999)"), &data),
            "too large",
        ),
        (
            "product overflows",
            npy(
                1,
                &dict("<f4", "False", "(18446744073709551615, 18446744073709551615, 8)"),
                &data,
            ),
            "shape",
        ),
        (
            "a thousand dimensions",
            npy(1, &dict("<f4", "False", &format!("({})", "1, ".repeat(1000))), &data),
            "dimensions",
        ),
        ("truncated data", npy(1, &ok_dict, &data[..100]), "truncated"),
        (
            "trailing bytes",
            npy(1, &ok_dict, &[data.clone(), vec![0; 4]].concat()),
            "trailing",
        ),
        (
            "text after the dict",
            npy(1, &(ok_dict.clone() + " junk"), &data),
            "after",
        ),
    ];
    let n = cases.len();
    for (what, bytes, needle) in cases {
        std::fs::write(dir.join("data.npy"), &bytes).unwrap();
        let e = load_err(&dir, ErrorKind::Format, "data.npy");
        assert!(e.to_string().contains(needle), "{what}: {e}");
    }
    assert_eq!(n, 27);
    // Versions 2 and 3 and big-endian data read correctly.
    for major in [2, 3] {
        std::fs::write(dir.join("data.npy"), npy(major, &ok_dict, &data)).unwrap();
        assert_eq!(ChannelData::<f32>::load(&dir).unwrap(), good);
    }
    let be: Vec<u8> = good.data().iter().flat_map(|v| v.to_be_bytes()).collect();
    std::fs::write(dir.join("data.npy"), npy(1, &dict(">f4", "False", "(1, 4, 8)"), &be)).unwrap();
    assert_eq!(ChannelData::<f32>::load(&dir).unwrap(), good);
    std::fs::remove_dir_all(&dir).ok();
}

/// A missing or unreadable `data.npy` is an I/O error naming it; one larger than the memory cap is
/// refused before it is read.
#[test]
fn missing_and_oversized_data_files() {
    let (dir, _) = fixture("missing-data", 4, 8);
    std::fs::remove_file(dir.join("data.npy")).unwrap();
    load_err(&dir, ErrorKind::Io, "data.npy");
    std::fs::create_dir(dir.join("data.npy")).unwrap();
    load_err(&dir, ErrorKind::Io, "data.npy");
    std::fs::remove_dir_all(&dir).ok();

    let (dir, _) = fixture("cap", 4, 8);
    let e = ChannelData::<f32>::load_with_cap(&dir, 100).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TooLarge {
                name: "data.npy",
                requested_bytes: 128,
                cap_bytes: 100
            }
        ),
        "{e:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// RF files read as IQ (and the reverse) name `meta.json` before the data are read.
#[test]
fn rf_and_iq_are_not_confused() {
    let (dir, _) = fixture("iq", 4, 8);
    let e = ChannelData::<Complex32>::load(&dir).unwrap_err();
    assert!(
        matches!(&e, Error::Format { path, .. } if path.ends_with("meta.json")),
        "{e}"
    );
    edit_meta(&dir, |v| v["demod_hz"] = 5e6.into());
    load_err(&dir, ErrorKind::Format, "meta.json");
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------------------------------------
// meta.json
// ---------------------------------------------------------------------------------------------

/// One corrupted or malicious `meta.json` each.
#[test]
fn corrupted_and_malicious_metadata_are_format_errors() {
    let (dir, good) = fixture("meta", 4, 8);
    let text = std::fs::read_to_string(dir.join("meta.json")).unwrap();
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let raw_cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("truncated", text[..text.len() / 2].to_string()),
        ("not json", "\u{0}\u{1}garbage\u{7f}".to_string()),
        ("a number too large for f64", text.replacen("20000000.0", "1e400", 1)),
        (
            "deeply nested arrays",
            text.replacen(
                "\"channel_positions_m\": [",
                &format!("\"channel_positions_m\": [{nested},"),
                1,
            ),
        ),
        ("NaN as a bare word", text.replacen("20000000.0", "NaN", 1)),
    ];
    for (what, json) in &raw_cases {
        assert_ne!(json, &text, "{what}: the edit must change the file");
        std::fs::write(dir.join("meta.json"), json).unwrap();
        let e = load_err(&dir, ErrorKind::Format, "meta.json");
        eprintln!("{what}: {e}");
    }
    type Edit = Box<dyn Fn(&mut Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "no events",
            Box::new(|v| v["sequence"]["events"] = Value::Array(vec![])),
        ),
        ("NaN as a string", Box::new(|v| v["fs_hz"] = "NaN".into())),
        ("fs_hz in MHz", Box::new(|v| v["fs_hz"] = 20.0.into())),
        ("huge fs_hz", Box::new(|v| v["fs_hz"] = 1e300.into())),
        ("n_samples zero", Box::new(|v| v["n_samples"] = 0.into())),
        ("n_samples beyond usize", Box::new(|v| v["n_samples"] = 1e20.into())),
        ("n_samples 2^64 - 1", Box::new(|v| v["n_samples"] = u64::MAX.into())),
        ("negative n_samples", Box::new(|v| v["n_samples"] = (-1).into())),
        (
            "channel far away",
            Box::new(|v| v["channel_positions_m"][0] = serde_json::json!([1e300, 0.0, 0.0])),
        ),
        (
            "no channels",
            Box::new(|v| v["channel_positions_m"] = Value::Array(vec![])),
        ),
        (
            "zero normal",
            Box::new(|v| v["channel_normals"][0] = serde_json::json!([0.0, 0.0, 0.0])),
        ),
        (
            "normals for other channels",
            Box::new(|v| v["channel_normals"] = serde_json::json!([[0.0, 0.0, 1.0]])),
        ),
        ("speed of sound disagrees", Box::new(|v| v["c_m_s"] = 1000.0.into())),
        (
            "missing field",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("fc_hz");
            }),
        ),
        ("not an object", Box::new(|v| *v = Value::Array(vec![]))),
    ];
    for (what, edit) in &edits {
        good.save(&dir).unwrap();
        edit_meta(&dir, edit);
        let e = load_err(&dir, ErrorKind::Format, "meta.json");
        eprintln!("{what}: {e}");
    }
    assert_eq!(raw_cases.len() + edits.len(), 21);
    // Normals of any magnitude normalise.
    good.save(&dir).unwrap();
    edit_meta(&dir, |v| {
        v["channel_normals"][0] = serde_json::json!([1e300, 0.0, 1e300])
    });
    let back = ChannelData::<f32>::load(&dir).unwrap();
    let n = back.meta().channel_normals()[0];
    assert!((n[0] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-15 && (n[2] - n[0]).abs() < 1e-15);
    std::fs::remove_dir_all(&dir).ok();
}

/// A `meta.json` listing 10^6 channels next to a tiny `data.npy`: the data file's header is
/// checked against the description before anything of that size is allocated.
#[test]
fn a_million_channels_with_a_tiny_data_file() {
    let (dir, _) = fixture("million", 4, 8);
    // Written as text: a million `Value`s would take far more memory than the file.
    let p = dir.join("meta.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    v["channel_positions_m"] = "POSITIONS".into();
    v["channel_normals"] = Value::Array(vec![]);
    let positions = format!("[{}[0.0,0.0,0.0]]", "[0.0,0.0,0.0],".repeat(999_999));
    let text = serde_json::to_string(&v).unwrap().replace("\"POSITIONS\"", &positions);
    std::fs::write(&p, text).unwrap();
    let e = load_err(&dir, ErrorKind::Format, "data.npy");
    assert!(e.to_string().contains("1000000"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A missing, oversized or non-regular `meta.json`.
#[test]
fn missing_and_oversized_metadata() {
    let (dir, _) = fixture("meta-size", 4, 8);
    let f = std::fs::File::options()
        .append(true)
        .open(dir.join("meta.json"))
        .unwrap();
    f.set_len(MAX_META_JSON_BYTES + 1).unwrap(); // sparse: no disk used
    let e = load_err(&dir, ErrorKind::Format, "meta.json");
    assert!(e.to_string().contains("bytes"), "{e}");
    std::fs::remove_file(dir.join("meta.json")).unwrap();
    load_err(&dir, ErrorKind::Io, "meta.json");
    std::fs::create_dir(dir.join("meta.json")).unwrap();
    load_err(&dir, ErrorKind::Io, "meta.json");
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------------------------------------
// Deserialised probes and apertures
// ---------------------------------------------------------------------------------------------

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// Deserialises `v` as `T`, expecting an error that mentions `needle`.
fn refused<T: serde::de::DeserializeOwned + std::fmt::Debug>(what: &str, v: Value, needle: &str) {
    let e = serde_json::from_value::<T>(v).expect_err(what);
    assert!(e.to_string().contains(needle), "{what}: {e}");
}

/// Formerly a probe without elements deserialised and `Aperture::full` panicked on it (index out
/// of bounds); likewise a probe whose counts disagree with its elements.
#[test]
fn deserialised_probes_are_validated() {
    let probe = Probe::convex(33, 0.5e-3, 0.45e-3, 5e-3, 0.04).unwrap();
    let good = json(&probe);
    assert_eq!(serde_json::from_value::<Probe>(good.clone()).unwrap(), probe);
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v
    };
    refused::<Probe>(
        "no elements",
        edit(&|v| v["elements"] = Value::Array(vec![])),
        "elements",
    );
    refused::<Probe>("cols 10^6", edit(&|v| v["cols"] = 1_000_000.into()), "cols");
    refused::<Probe>("cols 0", edit(&|v| v["cols"] = 0.into()), "cols");
    refused::<Probe>("rows 2", edit(&|v| v["rows"] = 2.into()), "elements");
    refused::<Probe>("pitch in mm", edit(&|v| v["pitch_x_m"] = 0.5.into()), "pitch_x_m");
    refused::<Probe>(
        "huge radius",
        edit(&|v| v["layout"]["Convex"]["radius_m"] = 1e300.into()),
        "radius_m",
    );
    refused::<Probe>(
        "moved element",
        edit(&|v| v["elements"][3]["position_m"][2] = 0.01.into()),
        "element 3",
    );
    refused::<Probe>(
        "element far away",
        edit(&|v| v["elements"][3]["position_m"][0] = 1e300.into()),
        "position_m",
    );
    refused::<Probe>(
        "zero normal",
        edit(&|v| v["elements"][0]["normal"] = serde_json::json!([0.0, 0.0, 0.0])),
        "normal",
    );
    // Normals of any magnitude normalise before the comparison.
    let scaled = edit(&|v| {
        for e in v["elements"].as_array_mut().unwrap() {
            for k in 0..3 {
                e["normal"][k] = (e["normal"][k].as_f64().unwrap() * 1e300).into();
            }
        }
    });
    assert_eq!(serde_json::from_value::<Probe>(scaled).unwrap(), probe);
    let el: Element = serde_json::from_value(serde_json::json!({
        "position_m": [0.0, 0.0, 0.0], "width_m": 1e-4, "height_m": 1e-4, "normal": [1e300, 0.0, 1e300]
    }))
    .unwrap();
    assert!((el.normal[0] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-15 && el.normal[1] == 0.0);
    refused::<Element>(
        "element width in mm",
        serde_json::json!({
            "position_m": [0.0, 0.0, 0.0], "width_m": 0.2, "height_m": 1e-4, "normal": [0.0, 0.0, 1.0]
        }),
        "width_m",
    );
    let spec = json(&ArraySpec::cmut_9000());
    assert_eq!(
        serde_json::from_value::<ArraySpec>(spec.clone()).unwrap(),
        ArraySpec::cmut_9000()
    );
    let mut bad = spec.clone();
    bad["height_m"] = 1e-3.into();
    refused::<ArraySpec>("height above pitch", bad, "height_m");
    let mut bad = spec;
    bad["cols"] = usize::MAX.into();
    refused::<ArraySpec>("cols usize::MAX", bad, "cols");
}

/// Formerly an aperture whose channel listed element 10^6 deserialised and the simulator
/// panicked indexing the probe's elements; apertures are now rebuilt from their description.
#[test]
fn deserialised_apertures_are_validated() {
    let probe = Probe::linear(8, 3e-4, 2.7e-4, 5e-3, 4).unwrap();
    let ap = Aperture::columns(
        &probe,
        2..6,
        ChannelMode::Columns {
            elevation_focus_m: Some(0.02),
        },
    )
    .unwrap();
    let good = json(&ap);
    assert_eq!(serde_json::from_value::<Aperture>(good.clone()).unwrap(), ap);
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v
    };
    refused::<Aperture>(
        "element 10^6",
        edit(&|v| v["channels"][0]["elements"][0] = 1_000_000.into()),
        "channel 0",
    );
    refused::<Aperture>(
        "no channels",
        edit(&|v| v["channels"] = Value::Array(vec![])),
        "channels",
    );
    refused::<Aperture>(
        "columns beyond the probe",
        edit(&|v| v["cols"]["end"] = 1000.into()),
        "cols",
    );
    refused::<Aperture>(
        "empty rows",
        edit(&|v| v["rows"] = serde_json::json!({"start": 3, "end": 3})),
        "rows",
    );
    refused::<Aperture>(
        "focus 1e300",
        edit(&|v| v["mode"]["Columns"]["elevation_focus_m"] = 1e300.into()),
        "elevation_focus_m",
    );
    refused::<Aperture>(
        "probe without elements",
        edit(&|v| v["probe"]["elements"] = Value::Array(vec![])),
        "elements",
    );
    refused::<Aperture>(
        "advance changed",
        edit(&|v| v["channels"][1]["advances_s"][0] = 1e-6.into()),
        "channel 1",
    );
    refused::<Aperture>(
        "advance of a day",
        edit(&|v| v["channels"][1]["advances_s"][0] = 86400.0.into()),
        "advances_s",
    );
    refused::<Aperture>(
        "advances missing",
        edit(&|v| v["channels"][1]["advances_s"] = Value::Array(vec![])),
        "advances_s",
    );
    // Channels may be left out: they are rebuilt.
    let rebuilt = edit(&|v| {
        v.as_object_mut().unwrap().remove("channels");
    });
    assert_eq!(serde_json::from_value::<Aperture>(rebuilt).unwrap(), ap);
    // A channel on its own is checked for what it can know.
    let ch = json(&ap.channels()[0]);
    assert_eq!(serde_json::from_value::<Channel>(ch.clone()).unwrap(), ap.channels()[0]);
    let mut bad = ch;
    bad["elements"] = Value::Array(vec![]);
    refused::<Channel>("channel without elements", bad, "elements");
}

/// Probe constructors refuse NaN, huge and empty values, naming the field and the unit.
#[test]
fn probe_constructors_refuse_implausible_values() {
    let cases: Vec<(sonochip::Result<Probe>, &str)> = vec![
        (Probe::linear(8, f64::NAN, 2.7e-4, 5e-3, 1), "pitch_x_m"),
        (Probe::linear(8, 3e-4, 2.7e-4, 5.0, 1), "height_m"),
        (Probe::linear(8, 0.3, 0.27, 5e-3, 1), "pitch_x_m"),
        (Probe::linear(100_000, 3e-4, 2.7e-4, 5e-3, 1), "cols"),
        (Probe::linear(8, 3e-4, 2.7e-4, 5e-3, 0), "elevation_subelements"),
        (Probe::linear(0, 3e-4, 2.7e-4, 5e-3, 1), "cols"),
        (Probe::linear(8, 3e-4, 2.7e-4, 5e-3, 1_000_000), "cols * rows"),
        (Probe::phased(8, 1e300, 1e300, 5e-3), "pitch_x_m"),
        (Probe::convex(8, 3e-4, 2.7e-4, 5e-3, f64::INFINITY), "radius_m"),
        (Probe::convex(8, 3e-4, 2.7e-4, 5e-3, 40.0), "radius_m"),
        (Probe::picmus_l11_4v(usize::MAX), "cols * rows"),
    ];
    for (r, name) in cases {
        let e = r.unwrap_err();
        assert_eq!(e.parameter(), Some(name), "{e}");
        assert_eq!(e.kind(), ErrorKind::Parameter, "{e}");
    }
    let e = Probe::linear(8, 3e-4, 2.7e-4, 5.0, 1).unwrap_err();
    assert!(e.to_string().contains("] m"), "the unit is named: {e}");
    let probe = Probe::linear(8, 3e-4, 2.7e-4, 5e-3, 4).unwrap();
    for f in [f64::NAN, 1e300, 0.0, -0.02, 60.0] {
        let e = Aperture::full(&probe, Some(f)).unwrap_err();
        assert_eq!(e.parameter(), Some("elevation_focus_m"), "{f}: {e}");
    }
    assert!(probe.get_element(0, 4).is_none() && probe.get_element(8, 0).is_none());
    assert_eq!(probe.get_element(7, 3), probe.elements().last());
}
