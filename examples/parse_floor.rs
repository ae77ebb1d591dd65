//! The parse floor for benchmarks: read every `tenants/*.toml` of a mail repo and
//! parse it with the `toml` crate alone (no spans, no checks).
//!
//! `cargo run --release --example parse_floor -- DIR`

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".to_string());
    let start = std::time::Instant::now();
    let mut files = 0usize;
    let mut keys = 0usize;
    let mut entries: Vec<_> = std::fs::read_dir(std::path::Path::new(&dir).join("tenants"))
        .expect("tenants/ is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).expect("readable file");
            let table: toml::Table = toml::from_str(&text).expect("valid TOML");
            keys += table.len();
            files += 1;
        }
    }
    println!(
        "parsed {files} files ({keys} top-level keys) in {:.3} s",
        start.elapsed().as_secs_f64()
    );
}
