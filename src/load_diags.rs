//! The catalogue of load-stage diagnostics.

use std::path::Path;

use crate::diagnostic::Diagnostic;

pub(crate) fn no_platform_file(root: &Path) -> Diagnostic {
    Diagnostic::error(
        "mailops::load::no-platform-file",
        format!("no mailops.toml in {}", root.display()),
    )
    .help("run mailops in a mail repo (a directory with mailops.toml and tenants/), or name one with -C DIR")
}

pub(crate) fn not_utf8(name: &str, valid_up_to: usize) -> Diagnostic {
    Diagnostic::error(
        "mailops::load::not-utf8",
        format!("{name}: not UTF-8 text (invalid byte at offset {valid_up_to})"),
    )
    .help("save the file as UTF-8")
}
