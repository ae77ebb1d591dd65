//! The catalogue of load-stage diagnostics.

use std::path::Path;

use crate::diagnostic::Diagnostic;
use crate::diagnostic_code::codes;
use crate::source::Location;

codes! {
    /// The load stage's codes.
    pub(crate) enum LoadCode {
        NoPlatformFile = "mailops::load::no-platform-file",
        NoTenantsFolder = "mailops::load::no-tenants-folder",
        NotAFolder = "mailops::load::not-a-folder",
        NotARegularFile = "mailops::load::not-a-regular-file",
        NotUtf8 = "mailops::load::not-utf8",
    }
}

pub(crate) fn no_platform_file(root: &Path) -> Diagnostic {
    Diagnostic::error(
        LoadCode::NoPlatformFile,
        format!("no mailops.toml in {}", root.display()),
    )
    .help("run mailops in a mail repo (a directory with mailops.toml and tenants/), or name one with -C DIR")
}

pub(crate) fn not_utf8(loc: Location, name: &str) -> Diagnostic {
    Diagnostic::error(LoadCode::NotUtf8, format!("{name} is not UTF-8 text"))
        .at(loc, "not UTF-8 (shown as �)")
        .help("save the file as UTF-8; it may have been saved as Latin-1 or Windows-1252")
}

pub(crate) fn not_a_regular_file(name: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        LoadCode::NotARegularFile,
        format!("{name} is {what}, not a regular file; it was not read"),
    )
    .help("mailops reads only regular files from the mail repo and never follows a symbolic link (a link could show any file of the machine in a diagnostic); commit the file itself")
}

/// Same code as [`not_a_regular_file`]: a file mailops will not read.
pub(crate) fn file_name_not_utf8(name: &str) -> Diagnostic {
    Diagnostic::error(
        LoadCode::NotARegularFile,
        format!("{name} has a file name that is not UTF-8 (shown with �); it was not read"),
    )
    .help("rename the file to `<domain>.toml`, with the domain in UTF-8 or as its A-label")
}

pub(crate) fn not_a_folder(name: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        LoadCode::NotAFolder,
        format!("{name}/ is {what}, not a folder; nothing in it was read"),
    )
    .help("mailops never follows a symbolic link in the mail repo; make it a real folder holding the files")
}

pub(crate) fn no_tenants_folder() -> Diagnostic {
    Diagnostic::error(
        LoadCode::NoTenantsFolder,
        "the mail repo has no tenants/ folder",
    )
    .help("a mail repo holds mailops.toml and tenants/ with one <domain>.toml per client domain; run `mailops new <domain>` to make the first (an empty tenants/ is read as no tenant)")
}
