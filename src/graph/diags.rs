//! The catalogue of graph-stage diagnostics.

use crate::diagnostic::Diagnostic;
use crate::diagnostic_code::codes;
use crate::source::Location;

codes! {
    /// The graph stage's codes.
    pub(crate) enum GraphCode {
        Cycle = "mailops::alias::cycle",
        Dangling = "mailops::alias::dangling",
        IntoRemovedDomain = "mailops::alias::into-removed-domain",
        DisabledDestination = "mailops::alias::disabled-destination",
        SendAsNotGranted = "mailops::send-as::not-granted",
        SendAsOffPlatform = "mailops::send-as::off-platform",
        ExternalForwardNotAllowed = "mailops::limits::external-forward",
    }
}

/// A destination off the platform in a tenant whose `[limits]
/// external_forwards = false`.
pub(crate) fn external_forward_not_allowed(
    loc: Location,
    switch: Location,
    alias: &str,
    address: &str,
) -> Diagnostic {
    Diagnostic::error(
        GraphCode::ExternalForwardNotAllowed,
        format!("`{alias}` forwards to `{address}`, off the platform, and this tenant may not forward off it"),
    )
    .at(loc, "a forward off the platform")
    .related(switch, "forwards off the platform turned off here")
    .help("remove the destination, or set `external_forwards = true` in [limits] if the operator allows this tenant to forward mail out (it sends other people's mail, spam included, from the mail host)")
}

/// `forward`: the destination is a mailbox's forward, not an alias's.
pub(crate) fn dangling(
    loc: Location,
    address: &str,
    same_domain: bool,
    forward: bool,
) -> Diagnostic {
    let help = if same_domain {
        format!(
            "add a [[mailbox]] or [[alias]] for `{address}` in this file, or fix the destination"
        )
    } else {
        format!(
            "`{address}` is in a tenant domain but is neither a mailbox nor an alias there; add it to that tenant's file, or fix the destination"
        )
    };
    let what = if forward {
        "forward"
    } else {
        "alias destination"
    };
    Diagnostic::error(
        GraphCode::Dangling,
        format!("the {what} `{address}` does not exist"),
    )
    .at(loc, "resolves nowhere")
    .help(help)
}

pub(crate) fn into_removed_domain(loc: Location, address: &str, domain: &str) -> Diagnostic {
    Diagnostic::warning(
        GraphCode::IntoRemovedDomain,
        format!(
            "`{address}` forwards into {domain}, which is no longer a tenant: its mail would leave the platform"
        ),
    )
    .at(loc, "now an outside forward")
    .help(format!(
        "{domain} was compiled before (generated/ has its files) but no tenant file declares it now; \
         restore tenants/{domain}.toml if it was removed by mistake, or remove or change this destination"
    ))
}

/// How many aliases of a loop after the first get a label of their own.
pub(crate) const CYCLE_LABELS: usize = 16;

/// How many addresses of a loop its message names before it elides the middle.
pub(crate) const CYCLE_SHOWN: usize = 50;

/// `path`: alias sources from the start of the loop back to it; a catch-all's
/// source is `@domain`, shown as `*@domain`.
pub(crate) fn cycle(loc: Location, path: &[String]) -> Diagnostic {
    let shown: Vec<String> = path
        .iter()
        .map(|a| {
            if a.starts_with('@') {
                format!("*{a}")
            } else {
                a.clone()
            }
        })
        .collect();
    let help = if path.iter().any(|a| a.starts_with('@')) {
        "mail in a loop is never delivered; a catch-all catches every address of its domain that is neither a mailbox nor an alias, so make it (or the alias it reaches) deliver to a mailbox"
    } else {
        "mail in a loop is never delivered; make one alias of the loop deliver to a mailbox"
    };
    // A loop longer than CYCLE_SHOWN is named by its two ends (the path
    // ends where it started) and how many aliases lie between.
    let named = if shown.len() > CYCLE_SHOWN {
        let head = CYCLE_SHOWN / 2;
        let tail = CYCLE_SHOWN - head;
        format!(
            "{} → … {} more aliases … → {}",
            shown[..head].join(" → "),
            shown.len() - head - tail,
            shown[shown.len() - tail..].join(" → ")
        )
    } else {
        shown.join(" → ")
    };
    Diagnostic::error(
        GraphCode::Cycle,
        format!("aliases forward in a loop: {named}"),
    )
    .at(loc, "the loop starts here")
    .help(help)
}

pub(crate) fn disabled_destination(loc: Location, source: &str, mailbox: &str) -> Diagnostic {
    Diagnostic::warning(
        GraphCode::DisabledDestination,
        format!("`{source}` forwards only to `{mailbox}`, which is disabled: its mail will bounce"),
    )
    .at(loc, "a disabled mailbox")
    .help("point the alias at a mailbox that receives mail, or remove it")
}

pub(crate) fn send_as_not_granted(
    loc: Location,
    mailbox: &str,
    address: &str,
    owner: Option<Location>,
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        GraphCode::SendAsNotGranted,
        format!("`{address}` does not allow `{mailbox}` to send as it"),
    )
    .at(loc, "not granted");
    let diagnostic = match owner {
        Some(owner) => diagnostic.related(owner, "the address is declared here"),
        None => diagnostic,
    };
    diagnostic.help(format!(
        "the tenant of `{address}` grants it by listing `{mailbox}` in that alias's or mailbox's `allow_send_as`; or remove it from `send_as`"
    ))
}

pub(crate) fn send_as_off_platform(loc: Location, address: &str, domain: &str) -> Diagnostic {
    Diagnostic::error(
        GraphCode::SendAsOffPlatform,
        format!("`{address}` is not hosted here: `{domain}` is not a tenant"),
    )
    .at(loc, "not a tenant's address")
    .help("a mailbox may send only as addresses of tenants of this platform; mail from other domains would fail their SPF and DMARC")
}
