//! The crate's modules form layers in the order of the data path (the table in the crate docs):
//! each module uses only modules listed before it, so there are no cycles and a module can be read
//! and changed knowing only what lies below it. This test reads the sources and checks every
//! `crate::` path outside `#[cfg(test)]` code and plain comments (doc comments count).

use std::path::Path;

/// The layers, lowest first (`lib.rs` only declares them).
const ORDER: &[&str] = &[
    "error",
    "simd",
    "probe",
    "medium",
    "pulse",
    "sequence",
    "grid",
    "channel_data",
    "acquisition",
    "phantom",
    "sim",
    "demod",
    "beamform",
    "envelope",
    "bmode",
    "frame",
    "scan_convert",
    "doppler",
    "metrics",
    "preset",
    "imager",
    "dicom",
    "validation",
    "workload",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The `crate::` module names `code` uses, in code and in doc links (a module's documentation, too,
/// should need only what lies below it).
fn uses(code: &str) -> Vec<String> {
    let mut v = Vec::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("// ")) {
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + 7..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                v.push(name);
            }
        }
    }
    v
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let rank = |m: &str| ORDER.iter().position(|x| *x == m);
    let mut checked = 0;
    let mut violations = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let module = rel
            .iter()
            .next()
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let own = rank(&module).unwrap_or_else(|| panic!("{} is not in the layer list", rel.display()));
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for used in uses(code) {
            checked += 1;
            match rank(&used) {
                Some(r) if r <= own => {}
                Some(_) => violations.push(format!("{}: {module} uses {used}", rel.display())),
                None => {} // crate-root items (prelude, re-exports)
            }
        }
    }
    assert!(checked > 50, "only {checked} uses found: the scan is broken");
    assert!(
        violations.is_empty(),
        "modules using higher layers:\n{}",
        violations.join("\n")
    );
}
