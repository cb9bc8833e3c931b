//! Image-quality validation report: resolution and contrast/speckle phantoms with the PICMUS-like
//! probe (1, 11 and 75 plane waves) and the CMUT `vascular` preset; prints a table next to theory and
//! writes it as `out/validate/report.md` and `out/validate/report.json`; with `--write-readme` it
//! also replaces the table in README.md (`cargo run --release --example validate -- --write-readme`).

use sonochip::validation::{ValidationOptions, markdown_table, validate};
use sonochip::workload::Workload;

fn main() -> sonochip::Result<()> {
    let io = |e: std::io::Error| sonochip::Error::io("out/validate", e);
    std::fs::create_dir_all("out/validate").map_err(io)?;
    let picmus = ValidationOptions::default();
    let vascular = ValidationOptions {
        cyst_depth_m: 0.02,
        wire_depths_m: vec![0.01, 0.02, 0.03],
        ..ValidationOptions::default()
    };
    let mut rows = Vec::new();
    for n in [1usize, 11, 75] {
        let t = std::time::Instant::now();
        rows.push(validate(
            &format!("PICMUS L11-4v, {n} PW"),
            &Workload::picmus(n)?.acquisition,
            &picmus,
        )?);
        eprintln!("PICMUS {n} PW done in {:.1} s", t.elapsed().as_secs_f64());
    }
    rows.push(validate(
        "CMUT vascular preset (140 columns, 5 PW)",
        &Workload::vascular()?.acquisition,
        &vascular,
    )?);
    let table = markdown_table(&rows);
    println!(
        "F# {} (rectangular window for resolution, Hann for contrast); speckle {} scatterers per cell\n",
        picmus.f_number, picmus.scatterers_per_cell
    );
    println!("{table}");
    std::fs::write("out/validate/report.md", &table).map_err(io)?;
    let json = serde_json::to_string_pretty(&rows).map_err(|e| sonochip::Error::format("report.json", e))?;
    std::fs::write("out/validate/report.json", json).map_err(io)?;
    println!("wrote out/validate/report.md and report.json");
    // `--write-readme` puts the table between the README's validate markers.
    if std::env::args().any(|a| a == "--write-readme") {
        let readme = std::fs::read_to_string("README.md").map_err(io)?;
        let (begin, end) = ("<!-- validate:begin -->", "<!-- validate:end -->");
        if let (Some(a), Some(b)) = (readme.find(begin), readme.find(end)) {
            let new = format!("{}{begin}\n{table}{}", &readme[..a], &readme[b..]);
            std::fs::write("README.md", new).map_err(io)?;
            println!("updated the table in README.md");
        }
    }
    Ok(())
}
