//! `mailops schema`: JSON Schema for tenant and platform files, from the Rust types.

use std::path::Path;
use std::process::ExitCode;

use crate::commands::{EXIT_OK, EXIT_USER, Result};
use crate::parse::{platform_schema, tenant_schema};

pub(crate) const SCHEMA_DIR: &str = "schema";

/// The schema files as they should be: (relative path, contents).
pub(crate) fn schema_files() -> Vec<(&'static str, String)> {
    let render = |value: serde_json::Value| {
        let mut text = serde_json::to_string_pretty(&value).expect("schema serializes");
        text.push('\n');
        text
    };
    vec![
        ("schema/platform.schema.json", render(platform_schema())),
        ("schema/tenant.schema.json", render(tenant_schema())),
    ]
}

pub(crate) fn run(dir: &Path, check: bool) -> Result<ExitCode> {
    let mut stale = Vec::new();
    for (path, contents) in schema_files() {
        let full = dir.join(path);
        // Not through a link (then it is stale, and replaced by the file).
        let current = crate::fsutil::read_beneath(dir, Path::new(path)).ok();
        if current.as_deref() == Some(contents.as_bytes()) {
            continue;
        }
        if check {
            stale.push(path);
        } else {
            crate::fsutil::make_dirs_beneath(dir, Path::new(SCHEMA_DIR))?;
            crate::fsutil::write_reproducible(&full, contents.as_bytes())?;
            eprintln!("wrote {path}");
        }
    }
    if stale.is_empty() {
        return Ok(EXIT_OK);
    }
    for path in &stale {
        eprintln!("stale: {path} differs from the schema of this mailops; run `mailops schema`");
    }
    Ok(EXIT_USER)
}
