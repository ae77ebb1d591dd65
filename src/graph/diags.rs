//! The catalogue of graph-stage diagnostics.

use crate::diagnostic::Diagnostic;
use crate::source::Location;

pub(crate) fn dangling(loc: Location, address: &str, same_domain: bool) -> Diagnostic {
    let help = if same_domain {
        format!("add a [[mailbox]] or [[alias]] for `{address}` in this file, or fix the destination")
    } else {
        format!(
            "`{address}` is in a tenant domain but is neither a mailbox nor an alias there; add it to that tenant's file, or fix the destination"
        )
    };
    Diagnostic::error(
        "mailops::alias::dangling",
        format!("the alias destination `{address}` does not exist"),
    )
    .at(loc, "resolves nowhere")
    .help(help)
}

pub(crate) fn cycle(loc: Location, path: &[String]) -> Diagnostic {
    Diagnostic::error(
        "mailops::alias::cycle",
        format!("aliases forward in a loop: {}", path.join(" → ")),
    )
    .at(loc, "the loop starts here")
    .help("mail in a loop is never delivered; make one alias of the loop deliver to a mailbox")
}
