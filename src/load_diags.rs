//! The catalogue of load-stage diagnostics.

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::source::Location;

pub(crate) fn no_platform_file(root: &Path) -> Diagnostic {
    Diagnostic::error(
        "mailops::load::no-platform-file",
        format!("no mailops.toml in {}", root.display()),
    )
    .help("run mailops in a mail repo (a directory with mailops.toml and tenants/), or name one with -C DIR")
}

pub(crate) fn not_utf8(loc: Location, name: &str) -> Diagnostic {
    Diagnostic::error(
        "mailops::load::not-utf8",
        format!("{name} is not UTF-8 text"),
    )
    .at(loc, "not UTF-8 (shown as �)")
    .help("save the file as UTF-8; it may have been saved as Latin-1 or Windows-1252")
}
