//! The catalogue of validate-stage diagnostics: every rule's code, wording and help.

use crate::chars::quoted_idn;
use crate::chars::{describe_char, is_invisible};
use crate::diagnostic::Diagnostic;
use crate::diagnostic_code::codes;
use crate::source::Location;
use crate::validate::text::TextProblem;

codes! {
    /// The validate stage's codes.
    pub(crate) enum ValidateCode {
        AliasDomainDuplicate = "mailops::alias-domain::duplicate",
        BimiInvalidUrl = "mailops::bimi::invalid-url",
        BimiDmarcPolicy = "mailops::bimi::dmarc-policy",
        BimiSvg = "mailops::bimi::svg",
        AliasDomainInvalid = "mailops::alias-domain::invalid",
        AliasDomainIsOwnDomain = "mailops::alias-domain::own-domain",
        AliasDomainIsTenant = "mailops::alias-domain::is-tenant",
        AliasDuplicate = "mailops::alias::duplicate",
        AliasDuplicateCatchAll = "mailops::alias::duplicate-catch-all",
        AliasDuplicateDestination = "mailops::alias::duplicate-destination",
        AliasEmpty = "mailops::alias::empty",
        AliasInvalidAddress = "mailops::alias::invalid-address",
        AliasInvalidDestination = "mailops::alias::invalid-destination",
        AliasShadowsMailbox = "mailops::alias::shadows-mailbox",
        AliasTooMany = "mailops::alias::too-many",
        AppPasswordDuplicate = "mailops::app-password::duplicate",
        AppPasswordInvalidName = "mailops::app-password::invalid-name",
        AppPasswordTooMany = "mailops::app-password::too-many",
        DkimBadEncryptedKey = "mailops::dkim::bad-encrypted-key",
        DkimBadPrivateKey = "mailops::dkim::bad-private-key",
        DkimDuplicateSelector = "mailops::dkim::duplicate-selector",
        DkimEd25519WithoutRsa = "mailops::dkim::ed25519-without-rsa",
        DkimInvalidKey = "mailops::dkim::invalid-key",
        DkimInvalidPublished = "mailops::dkim::invalid-published",
        DkimInvalidRetiring = "mailops::dkim::invalid-retiring",
        DkimInvalidSelector = "mailops::dkim::invalid-selector",
        DkimInvalidState = "mailops::dkim::invalid-state",
        DkimKeyMismatch = "mailops::dkim::key-mismatch",
        DkimMissingEncryptedKey = "mailops::dkim::missing-encrypted-key",
        DkimMissingPublished = "mailops::dkim::missing-published",
        DkimNoActiveKey = "mailops::dkim::no-active-key",
        DkimNoKey = "mailops::dkim::no-key",
        DkimSeveralActive = "mailops::dkim::several-active",
        DkimStaleRecipients = "mailops::dkim::stale-recipients",
        DkimWeakKey = "mailops::dkim::weak-key",
        DmarcInvalid = "mailops::dmarc::invalid",
        DmarcInvalidUri = "mailops::dmarc::invalid-uri",
        DmarcReportAuthorization = "mailops::dmarc::report-authorization",
        DnsDnssecUnmanaged = "mailops::dns::dnssec-unmanaged",
        DnsInvalidTtl = "mailops::dns::invalid-ttl",
        DnsInvalidZoneId = "mailops::dns::invalid-zone-id",
        DomainDuplicate = "mailops::domain::duplicate",
        DomainFileName = "mailops::domain::file-name",
        DomainFileNameTooLong = "mailops::domain::file-name-too-long",
        DomainInvalid = "mailops::domain::invalid",
        HostDuplicate = "mailops::host::duplicate",
        HostNoInbound = "mailops::host::no-inbound",
        HostNoPrimary = "mailops::host::no-primary",
        HostOutsideNetwork = "mailops::host::outside-network",
        HostUnknownHome = "mailops::host::unknown-home",
        LimitsInvalid = "mailops::limits::invalid",
        MailboxDuplicate = "mailops::mailbox::duplicate",
        MailboxDuplicateForward = "mailops::mailbox::duplicate-forward",
        MailboxForwardToSelf = "mailops::mailbox::forward-to-self",
        MailboxInvalidForward = "mailops::mailbox::invalid-forward",
        MailboxInvalidProtocol = "mailops::mailbox::invalid-protocol",
        MailboxInvalidState = "mailops::mailbox::invalid-state",
        MailboxInvalidUser = "mailops::mailbox::invalid-user",
        MailboxKeepCopyWithoutForward = "mailops::mailbox::keep-copy-without-forward",
        MailboxProtocolNotOffered = "mailops::mailbox::protocol-not-offered",
        MailboxTooMany = "mailops::mailbox::too-many",
        MtaStsInvalidMode = "mailops::mta-sts::invalid-mode",
        PasswordMalformed = "mailops::password::malformed",
        PasswordPlaintext = "mailops::password::plaintext",
        PasswordSchemeNotAllowed = "mailops::password::scheme-not-allowed",
        PasswordLegacyScheme = "mailops::password::legacy-scheme",
        PasswordUnknownScheme = "mailops::password::unknown-scheme",
        PlatformInvalid = "mailops::platform::invalid",
        PlatformPasswordInUrl = "mailops::platform::password-in-url",
        QuotaAboveLimit = "mailops::quota::above-limit",
        QuotaInvalid = "mailops::quota::invalid",
        RelayAnyRecipient = "mailops::relay::any-recipient",
        RelayBackupMxWithoutRelay = "mailops::relay::backup-mx-without-relay",
        RelayDuplicateRecipient = "mailops::relay::duplicate-recipient",
        RelayInvalidRecipient = "mailops::relay::invalid-recipient",
        RelayInvalidTarget = "mailops::relay::invalid-target",
        RelayNoRecipients = "mailops::relay::no-recipients",
        RelayPrimaryMx = "mailops::relay::primary-mx",
        RelayWithMailboxes = "mailops::relay::with-mailboxes",
        Rfc2142Missing = "mailops::rfc2142::missing",
        SendAsInvalidGrantee = "mailops::send-as::invalid-grantee",
        SendAsUnknownAddress = "mailops::send-as::unknown-address",
        SecretsInvalidRecipient = "mailops::secrets::invalid-recipient",
        SecretsKeyStoreUnused = "mailops::secrets::key-store-unused",
        SecretsNoRecipients = "mailops::secrets::no-recipients",
        SpfInvalid = "mailops::spf::invalid",
        SpfTooManyLookups = "mailops::spf::too-many-lookups",
        SrsDomainIsTenant = "mailops::srs::tenant-domain",
        TenantInvalidState = "mailops::tenant::invalid-state",
        TlsRptInvalidUri = "mailops::tls-rpt::invalid-uri",
        ValueInvisibleChar = "mailops::value::invisible-char",
        ValueMixedScript = "mailops::value::mixed-script",
        ValuePlaceholder = "mailops::value::placeholder",
        ValueTooLong = "mailops::value::too-long",
        ValueUnsafeChar = "mailops::value::unsafe-char",
    }
}

pub(crate) fn unsafe_char(loc: Location, what: &str, c: char) -> Diagnostic {
    if is_invisible(c) {
        return invisible_char(loc, what, c);
    }
    Diagnostic::error(
        ValidateCode::ValueUnsafeChar,
        format!("{what} holds the character {}", describe_char(c)),
    )
    .at(loc, "not allowed here")
    .help("quotes, backslashes and control characters could break out of SQL, HCL or config files; remove it")
}

pub(crate) fn free_text_char(loc: Location, what: &str, c: char) -> Diagnostic {
    if is_invisible(c) {
        return invisible_char(loc, what, c);
    }
    Diagnostic::error(
        ValidateCode::ValueUnsafeChar,
        format!("{what} holds the control character {}", describe_char(c)),
    )
    .at(loc, "not allowed in text")
    .help("free text may hold quotes, tabs and newlines, but no other control or invisible characters")
}

/// A character that does not show (soft hyphen, zero-width joiner, a bidi
/// control…): refused everywhere, never silently removed.
pub(crate) fn invisible_char(loc: Location, what: &str, c: char) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::ValueInvisibleChar,
        format!("{what} holds the invisible character {}", describe_char(c)),
    )
    .at(loc, "holds an invisible character")
    .help("invisible and bidirectional-control characters make a value read differently from what it is (and IDNA deletes some of them, so a domain would silently change); delete it, retyping the value if needed")
}

/// `@@` in a value: the placeholder syntax `install` fills secrets into.
pub(crate) fn placeholder(loc: Location, what: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::ValuePlaceholder,
        format!("{what} holds `@@`, the placeholder mark of the generated configs"),
    )
    .at(loc, "holds `@@`")
    .help("`mailops install` replaces `@@NAME@@` in the generated configs by secrets such as the database password, so no value may hold `@@`; remove it")
}

/// `unit` is "bytes" or "characters".
pub(crate) fn value_too_long(
    loc: Location,
    what: &str,
    length: usize,
    max: usize,
    unit: &str,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::ValueTooLong,
        format!("{what} is {length} {unit} long; at most {max} are allowed"),
    )
    .at(loc, "too long")
    .help("every value has a bounded length, the same on MariaDB and SQLite; shorten it")
}

/// A value refused by a [`TextProblem`].
pub(crate) fn text_problem(
    loc: Location,
    what: &str,
    problem: &TextProblem,
    free: bool,
) -> Diagnostic {
    match problem {
        TextProblem::Char(_, c) if free => free_text_char(loc, what, *c),
        TextProblem::Char(_, c) => unsafe_char(loc, what, *c),
        TextProblem::Placeholder(_) => placeholder(loc, what),
        TextProblem::TooLong { length, max } => value_too_long(
            loc,
            what,
            *length,
            *max,
            if free { "characters" } else { "bytes" },
        ),
    }
}

/// A domain whose labels mix scripts (UTS #39): Latin with Cyrillic, say.
pub(crate) fn mixed_script(loc: Location, what: &str, value: &str, ascii: &str) -> Diagnostic {
    Diagnostic::warning(
        ValidateCode::ValueMixedScript,
        format!("{what} `{value}` (`{ascii}`) mixes scripts"),
    )
    .at(loc, "mixes scripts")
    .help("a label that mixes scripts (Latin `a` and Cyrillic `а`, say) can look like another domain; check that every character is the one meant")
}

pub(crate) fn invalid_domain(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(ValidateCode::DomainInvalid, format!("invalid domain: {problem}"))
        .at(loc, "this domain")
        .help("write the domain as letters, digits, hyphens and dots, e.g. `acme.example`; Unicode domains are allowed")
}

pub(crate) fn invalid_alias_domain(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AliasDomainInvalid,
        format!("invalid alias domain: {problem}"),
    )
    .at(loc, "this alias domain")
    .help("write the domain as letters, digits, hyphens and dots, e.g. `acme-old.example`; Unicode domains are allowed")
}

/// `shown`: the domain as `name` or `unicode` (`name`).
fn shown_domain(domain: &str, unicode: &str) -> String {
    if domain == unicode {
        format!("`{domain}`")
    } else {
        format!("`{unicode}` (`{domain}`)")
    }
}

pub(crate) fn alias_domain_is_own_domain(loc: Location, domain: &str, unicode: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AliasDomainIsOwnDomain,
        format!(
            "{} is this tenant's own domain, not an alias domain of it",
            shown_domain(domain, unicode)
        ),
    )
    .at(loc, "the tenant's domain")
    .help("list in `alias_domains` only other domains whose mail this tenant receives; remove this entry")
}

/// The same alias domain twice: in one tenant file, or in two.
pub(crate) fn duplicate_alias_domain(
    loc: Location,
    first: Location,
    domain: &str,
    unicode: &str,
    other_tenant: Option<&str>,
) -> Diagnostic {
    let message = match other_tenant {
        Some(tenant) => format!(
            "{} is already an alias domain of the tenant `{tenant}`",
            shown_domain(domain, unicode)
        ),
        None => format!(
            "{} is listed twice in `alias_domains`",
            shown_domain(domain, unicode)
        ),
    };
    Diagnostic::error(ValidateCode::AliasDomainDuplicate, message)
        .at(loc, "listed again here")
        .related(first, "first listed here")
        .help("an alias domain belongs to exactly one tenant, once; remove one of the entries")
}

pub(crate) fn alias_domain_is_tenant(
    loc: Location,
    tenant: Location,
    domain: &str,
    unicode: &str,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AliasDomainIsTenant,
        format!(
            "{} is a tenant of its own, so it cannot be an alias domain",
            shown_domain(domain, unicode)
        ),
    )
    .at(loc, "listed as an alias domain here")
    .related(tenant, "the tenant is declared here")
    .help("a domain is either a tenant (its own mailboxes) or an alias domain of one tenant; remove this entry, or the other tenant file")
}

pub(crate) fn srs_domain_is_tenant(loc: Location, domain: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::SrsDomainIsTenant,
        format!(
            "`{domain}` is the platform's SRS domain, so it cannot be a tenant's domain"
        ),
    )
    .at(loc, "declared here")
    .help("forwarded mail leaves with `SRS0=…@<SRS domain>` senders and their bounces come back there; use another domain here, or set `[mail_host] srs_domain` in mailops.toml to another name in the host's zone")
}

pub(crate) fn file_name_too_long(loc: Location, file: &str, what: &str, label: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DomainFileNameTooLong,
        format!(
            "{what} names the file `{file}`, {} bytes long; a file name holds at most 255",
            file.len()
        ),
    )
    .at(loc, label)
    .help("each tenant gets generated/terraform/dns-<shard>/dns_<domain>.tf and one key file <domain>.<selector>.key per DKIM key, in the key store and on the mail host; use a shorter selector (or domain)")
}

pub(crate) fn file_name_mismatch(loc: Location, domain: &str, file: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DomainFileName,
        format!("the domain `{domain}` does not match the file name `{file}`"),
    )
    .at(loc, "declared here")
    .help(format!(
        "rename the file to `tenants/{domain}.toml`, or fix `domain`"
    ))
}

/// `domain` is the A-label; `unicode` its Unicode form (equal for ASCII
/// domains). Both are named, because the two files may spell it differently.
pub(crate) fn duplicate_domain(
    loc: Location,
    first: Location,
    domain: &str,
    unicode: &str,
) -> Diagnostic {
    let shown = if domain == unicode {
        format!("`{domain}`")
    } else {
        format!("`{unicode}` (`{domain}`)")
    };
    Diagnostic::error(
        ValidateCode::DomainDuplicate,
        format!("the domain {shown} is declared by two tenant files"),
    )
    .at(loc, "declared again here")
    .related(first, "first defined here")
    .help("a domain belongs to exactly one tenant file; remove one of them")
}

pub(crate) fn invalid_local_part(loc: Location, what: &str, problem: &str) -> Diagnostic {
    let code = if what == "mailbox" {
        ValidateCode::MailboxInvalidUser
    } else {
        ValidateCode::AliasInvalidAddress
    };
    Diagnostic::error(code, format!("invalid {what} address: {problem}"))
        .at(loc, "this local part")
        .help("a local part is letters, digits and ! # $ % & * + - = ? ^ _ { | } ~, dot-separated, at most 64 octets")
}

pub(crate) fn duplicate_mailbox(loc: Location, first: Location, address: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::MailboxDuplicate,
        format!("the mailbox {} is declared twice", quoted_idn(address)),
    )
    .at(loc, "declared again here")
    .related(first, "first defined here")
    .help("remove one of the two [[mailbox]] entries")
}

pub(crate) fn duplicate_alias(loc: Location, first: Location, address: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AliasDuplicate,
        format!("the alias {} is declared twice", quoted_idn(address)),
    )
    .at(loc, "declared again here")
    .related(first, "first defined here")
    .help("merge the two [[alias]] entries: list every destination in one `to`")
}

pub(crate) fn duplicate_catch_all(loc: Location, first: Location, domain: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AliasDuplicateCatchAll,
        format!("{} has two catch-all aliases", quoted_idn(domain)),
    )
    .at(loc, "second catch-all")
    .related(first, "first defined here")
    .help("a domain has at most one catch-all (`address = \"*\"`); merge their `to` lists")
}

pub(crate) fn alias_shadows_mailbox(loc: Location, mailbox: Location, address: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AliasShadowsMailbox,
        format!("{} is both a mailbox and an alias", quoted_idn(address)),
    )
    .at(loc, "alias declared here")
    .related(mailbox, "mailbox defined here")
    .help("an address is either a mailbox or an alias; to forward a mailbox's mail, remove the alias and give the mailbox `forward = [\"…\"]` (it keeps a copy unless `keep_copy = false`), or rename one of them")
}

pub(crate) fn invalid_forward(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::MailboxInvalidForward,
        format!("invalid forward address: {problem}"),
    )
    .at(loc, "this forward")
    .help("a forward is a local part of this domain (`alice`) or a full address (`bob@partner.example`)")
}

pub(crate) fn duplicate_forward(loc: Location, first: Location, address: &str) -> Diagnostic {
    Diagnostic::warning(
        ValidateCode::MailboxDuplicateForward,
        format!(
            "{} is listed twice in the same `forward`",
            quoted_idn(address)
        ),
    )
    .at(loc, "listed again here")
    .related(first, "first listed here")
    .help("remove the repeated address; mail is forwarded once either way")
}

pub(crate) fn forward_to_self(loc: Location, address: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::MailboxForwardToSelf,
        format!("the mailbox {} forwards to itself", quoted_idn(address)),
    )
    .at(loc, "the mailbox's own address")
    .help("remove it from `forward`: the mailbox keeps a copy of what it forwards unless `keep_copy = false`")
}

pub(crate) fn keep_copy_without_forward(loc: Location) -> Diagnostic {
    Diagnostic::warning(
        ValidateCode::MailboxKeepCopyWithoutForward,
        "`keep_copy` has no effect on a mailbox that does not forward",
    )
    .at(loc, "without `forward`")
    .help("a mailbox without `forward = [\"…\"]` keeps all of its mail; add the forward, or remove `keep_copy`")
}

pub(crate) fn alias_empty(loc: Location, address: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AliasEmpty,
        format!("the alias {} has no destinations", quoted_idn(address)),
    )
    .at(loc, "empty list")
    .help("list at least one destination: `to = [\"alice\"]`")
}

pub(crate) fn invalid_destination(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AliasInvalidDestination,
        format!("invalid alias destination: {problem}"),
    )
    .at(loc, "this destination")
    .help("a destination is a local part of this domain (`alice`) or a full address (`bob@partner.example`)")
}

pub(crate) fn duplicate_destination(loc: Location, first: Location, address: &str) -> Diagnostic {
    Diagnostic::warning(
        ValidateCode::AliasDuplicateDestination,
        format!("{} is listed twice in the same alias", quoted_idn(address)),
    )
    .at(loc, "listed again here")
    .related(first, "first listed here")
    .help("remove the repeated destination; mail is delivered once either way")
}

pub(crate) fn too_many(
    loc: Location,
    limit_loc: Location,
    what: &str,
    domain: &str,
    count: usize,
    max: u64,
) -> Diagnostic {
    let code = if what == "mailboxes" {
        ValidateCode::MailboxTooMany
    } else {
        ValidateCode::AliasTooMany
    };
    Diagnostic::error(
        code,
        format!("`{domain}` declares {count} {what}, more than its limit of {max}"),
    )
    .at(loc, format!("number {} of at most {max}", max + 1))
    .related(limit_loc, "limit set here")
    .help(format!("remove {what} or raise `limits.max_{what}`"))
}

pub(crate) fn password_plaintext(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::PasswordPlaintext,
        "the password is not a hash: plaintext passwords are never stored",
    )
    .at(loc, "plaintext password")
    .help("run `mailops hash-password` and paste its `{ARGON2ID}…` output here")
}

pub(crate) fn password_plain_scheme(loc: Location, scheme: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::PasswordPlaintext,
        format!("`{{{scheme}}}` stores the password in plain text"),
    )
    .at(loc, "plaintext password")
    .help("run `mailops hash-password` and paste its `{ARGON2ID}…` output here")
}

pub(crate) fn password_scheme_not_allowed(
    loc: Location,
    scheme: &str,
    allowed: &[String],
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::PasswordSchemeNotAllowed,
        format!("the password scheme `{scheme}` is not allowed on this platform"),
    )
    .at(loc, "this scheme")
    .help(format!(
        "allowed schemes: {} (`defaults.password_schemes` in mailops.toml); `mailops hash-password` makes an ARGON2ID hash",
        allowed.join(", ")
    ))
}

pub(crate) fn password_legacy_scheme(loc: Location, scheme: &str) -> Diagnostic {
    Diagnostic::warning(
        ValidateCode::PasswordLegacyScheme,
        format!("the password uses the legacy scheme `{scheme}`"),
    )
    .at(loc, "this scheme")
    .help(format!(
        "accepted only because `defaults.legacy_password_schemes` lists {scheme}: have the user choose a new password (`mailops hash-password` makes an ARGON2ID hash), then drop {scheme} from the list"
    ))
}

pub(crate) fn password_unknown_scheme(loc: Location, scheme: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::PasswordUnknownScheme,
        format!("unknown password scheme `{scheme}`"),
    )
    .at(loc, "this scheme")
    .help("use a Dovecot scheme such as ARGON2ID, BLF-CRYPT or SHA512-CRYPT; `mailops hash-password` makes an ARGON2ID hash")
}

pub(crate) fn password_malformed(loc: Location, scheme: &str, expected: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::PasswordMalformed,
        format!("this is not a well-formed {scheme} hash"),
    )
    .at(loc, "malformed hash")
    .help(format!(
        "expected {expected}; `mailops hash-password` makes a fresh one"
    ))
}

pub(crate) fn invalid_quota(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::QuotaInvalid,
        format!("invalid quota: {problem}"),
    )
    .at(loc, "this size")
    .help(format!(
        "write a number and a unit, like \"10 GiB\" or \"500 MB\" (units: {})",
        crate::validate::quota::UNIT_NAMES
    ))
}

pub(crate) fn quota_above_limit(
    loc: Location,
    limit: Location,
    quota: &str,
    max: &str,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::QuotaAboveLimit,
        format!("the quota {quota} is above the domain's max_quota of {max}"),
    )
    .at(loc, "too large")
    .related(limit, "limit set here")
    .help("lower the quota, or raise `limits.max_quota`")
}

pub(crate) fn invalid_limit(loc: Location, key: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::LimitsInvalid,
        format!("`{key}` must be zero or a positive whole number"),
    )
    .at(loc, "this value")
    .help(format!("write `{key} = 50`, or remove it for no limit"))
}

/// The most messages per hour a send limit may name: far above any real
/// mailbox's sending, so a larger number is a typo rather than a limit.
pub(crate) const MAX_SEND_PER_HOUR: u32 = 1_000_000;

pub(crate) fn invalid_send_rate(loc: Location, key: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::LimitsInvalid,
        format!("`{key}` must be a whole number of messages per hour from 1 to {MAX_SEND_PER_HOUR}"),
    )
    .at(loc, "this value")
    .help(match key.strip_prefix("defaults.") {
        Some(name) => format!("write `{name} = 500`, or remove it for no limit"),
        None => format!(
            "write `{key} = 500`, or remove it for the platform default (no limit when the platform sets none)"
        ),
    })
}

pub(crate) fn invalid_dkim_key(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(ValidateCode::DkimInvalidKey, problem.to_string())
        .at(loc, "this key")
        .help("run `mailops dkim keygen <domain>` to make a key pair and write its public key here")
}

pub(crate) fn weak_dkim_key(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(ValidateCode::DkimWeakKey, problem.to_string())
        .at(loc, "this key")
        .help("run `mailops dkim keygen <domain> --algorithm rsa2048` (or rsa4096, ed25519) for a new key")
}

pub(crate) fn duplicate_dkim_selector(
    loc: Location,
    first: Location,
    selector: &str,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimDuplicateSelector,
        format!("two DKIM keys with the selector `{selector}`"),
    )
    .at(loc, "this key's selector")
    .related(first, "the first key with it")
    .help("each [[dkim]] entry needs its own selector: one DNS record `<selector>._domainkey` per key")
}

pub(crate) fn invalid_dkim_state(loc: Location, state: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimInvalidState,
        format!("`{state}` is not a DKIM key state"),
    )
    .at(loc, "unknown state")
    .help("write `published` (in DNS, not signing yet), `active` (in DNS, signing; the default), `retiring` (in DNS, no longer signing) or `retired` (out of DNS)")
}

pub(crate) fn invalid_dkim_published(loc: Location, text: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimInvalidPublished,
        format!("`{text}` is not a time in the form `YYYY-MM-DDTHH:MM:SSZ`"),
    )
    .at(loc, "this time")
    .help("write when the key was published in DNS as RFC 3339 in UTC, in quotes, like `published = \"2026-11-30T09:00:00Z\"` (`mailops dkim rotate` writes it)")
}

pub(crate) fn invalid_dkim_retiring(loc: Location, text: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimInvalidRetiring,
        format!("`{text}` is not a time in the form `YYYY-MM-DDTHH:MM:SSZ`"),
    )
    .at(loc, "this time")
    .help("write when the key stopped signing as RFC 3339 in UTC, in quotes, like `retiring = \"2026-11-30T09:00:00Z\"` (`mailops dkim promote` writes it)")
}

pub(crate) fn missing_dkim_published(loc: Location, selector: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimMissingPublished,
        format!("the published DKIM key `{selector}` does not say when it was published"),
    )
    .at(loc, "this state")
    .help("add `published = \"YYYY-MM-DDTHH:MM:SSZ\"` (UTC), the time its record went into DNS: `mailops dkim promote` waits until it has been there longer than the TTL plus a margin")
}

pub(crate) fn several_active_dkim_keys(
    loc: Location,
    first: Location,
    algorithm: &str,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimSeveralActive,
        format!("two active {algorithm} DKIM keys: one key per algorithm signs"),
    )
    .at(loc, "this key is active too")
    .related(first, "the first active key")
    .help("make one of them `retiring` (or run `mailops dkim promote <domain> <selector>`, which retires the old key of the algorithm for you)")
}

pub(crate) fn no_active_dkim_key(loc: Location, domain: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimNoActiveKey,
        format!("{} has no active RSA DKIM key: nothing would sign its mail with RSA", quoted_idn(domain)),
    )
    .at(loc, "this domain")
    .help(format!("make one RSA key `state = \"active\"`, or run `mailops dkim promote {domain} <selector>` with a published key (`mailops dkim status {domain}` lists them)"))
}

pub(crate) fn no_dkim_key(loc: Location, domain: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimNoKey,
        format!("{} declares no DKIM key", quoted_idn(domain)),
    )
    .at(loc, "this domain")
    .help(format!(
        "run `mailops dkim keygen {domain}`: it writes a [dkim] key into this file"
    ))
}

pub(crate) fn ed25519_without_rsa(loc: Location, domain: &str, selector: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimEd25519WithoutRsa,
        format!("{} has only Ed25519 DKIM keys: Rspamd seals ARC with RSA only, and many receivers do not verify Ed25519 signatures", quoted_idn(domain)),
    )
    .at(loc, "an Ed25519 key")
    .help(format!("RFC 8463 advises signing with an RSA key as well; add one beside it with `mailops dkim keygen {domain} --selector {selector}-rsa --algorithm rsa2048` (mail is then signed with both, and ARC uses the RSA key)"))
}

pub(crate) fn invalid_selector(loc: Location, selector: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimInvalidSelector,
        format!("`{selector}` is not a valid DKIM selector"),
    )
    .at(loc, "this selector")
    .help("a selector is lowercase letters, digits and hyphens, like `dkim` or `mail2026`")
}

pub(crate) fn key_mismatch(loc: Location, key_file: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimKeyMismatch,
        format!("the public key does not match the private key in {key_file}"),
    )
    .at(loc, "this public key")
    .help("run `mailops dkim keygen <domain>` to make a new pair, or restore the public key that belongs to the private key")
}

pub(crate) fn unreadable_private_key(loc: Location, key_file: &str, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimBadPrivateKey,
        format!("the private key {key_file} cannot be read: {problem}"),
    )
    .at(loc, "public key of this domain")
    .help("the key store holds PKCS#8 PEM keys; run `mailops dkim keygen <domain>` to replace it")
}

/// With `[secrets]`: the tenant's key has no encrypted file in `keys/`.
pub(crate) fn missing_encrypted_key(
    loc: Location,
    key_file: &str,
    domain: &str,
    selector: &str,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimMissingEncryptedKey,
        format!("no encrypted private key {key_file} for this public key"),
    )
    .at(loc, "public key of this domain")
    .help(format!(
        "`[secrets]` keeps every DKIM private key in keys/, encrypted: run `mailops dkim keygen {domain} --selector {selector}` to make a new pair, or `mailops keys import --key-dir DIR` to encrypt the key from a plaintext key store"
    ))
}

/// With `[secrets]`: a key file that is not an age file, or not a regular file.
pub(crate) fn bad_encrypted_key(loc: Location, key_file: &str, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimBadEncryptedKey,
        format!("the encrypted private key {key_file} cannot be used: {problem}"),
    )
    .at(loc, "public key of this domain")
    .help("keys/ holds age files that `mailops dkim keygen` and `mailops keys import` write; restore the file from git, or make a new pair with `mailops dkim keygen <domain> --force`")
}

/// With `[secrets]`: a key encrypted to a number of recipients other than
/// the platform file's (age hides who the recipients are, not how many).
pub(crate) fn stale_recipients(
    loc: Location,
    key_file: &str,
    encrypted_to: usize,
    recipients: usize,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DkimStaleRecipients,
        format!(
            "{key_file} is encrypted to {encrypted_to} recipient{}, but `[secrets] recipients` lists {recipients}",
            if encrypted_to == 1 { "" } else { "s" }
        ),
    )
    .at(loc, "public key of this domain")
    .help("the recipients changed since the key was encrypted: run `mailops keys reencrypt --identity FILE` with an identity that can decrypt it, and commit keys/")
}

pub(crate) fn invalid_recipient(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::SecretsInvalidRecipient,
        format!("not an age recipient: {problem}"),
    )
    .at(loc, "this recipient")
    .help("a recipient is an age X25519 public key, `age1` and 58 more characters, as `age-keygen -y IDENTITY_FILE` prints it")
}

/// An `AGE-SECRET-KEY-1…` where a recipient belongs: the value is never shown.
pub(crate) fn identity_as_recipient(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::SecretsInvalidRecipient,
        "an age identity (a secret key) where a recipient belongs",
    )
    .at(loc, "this value is a secret key")
    .help("put the identity's public recipient here (`age-keygen -y IDENTITY_FILE` prints it), and treat this secret key as leaked if it was ever committed: make a new one")
}

pub(crate) fn no_recipients(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::SecretsNoRecipients,
        "`[secrets] recipients` is empty: nobody could decrypt the DKIM keys",
    )
    .at(loc, "no recipient")
    .help("list the mail host's age recipient and the operators' (`age1…`), or remove `[secrets]` to keep keys in the plaintext key store")
}

pub(crate) fn key_store_with_secrets(loc: Location) -> Diagnostic {
    Diagnostic::warning(
        ValidateCode::SecretsKeyStoreUnused,
        "`paths.key_store` is not used with `[secrets]`: DKIM private keys live encrypted in keys/",
    )
    .at(loc, "not used")
    .help("run `mailops keys import --key-dir <this folder>` to encrypt its keys into keys/, then remove `key_store` (and delete the plaintext keys)")
}

pub(crate) fn invalid_dmarc(loc: Location, tag: &str, value: &str, allowed: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DmarcInvalid,
        format!("`{value}` is not a valid DMARC {tag}"),
    )
    .at(loc, "this value")
    .help(format!("allowed: {allowed}"))
}

pub(crate) fn invalid_dmarc_uri(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DmarcInvalidUri,
        format!("invalid DMARC report URI: {problem}"),
    )
    .at(loc, "this URI")
    .help("write report addresses as `mailto:dmarc-reports@acme.example`")
}

/// DMARC reports to a domain outside the platform's report domains: its
/// owner must authorize them, or receivers drop the reports.
pub(crate) fn dmarc_report_unauthorized(
    loc: Location,
    report_domain: &str,
    records: &[String],
    inherited: bool,
) -> Diagnostic {
    let whose = if inherited {
        "every tenant's DMARC reports (this default)"
    } else {
        "this tenant's DMARC reports"
    };
    Diagnostic::warning(
        ValidateCode::DmarcReportAuthorization,
        format!(
            "{whose} go to `{report_domain}`, which mailops does not publish records in: receivers send them only if `{report_domain}` authorizes them"
        ),
    )
    .at(loc, "reports sent here")
    .help(format!(
        "the owner of `{report_domain}` publishes (RFC 7489 §7.1): {}; or, if its zone is in this operator's Route53, list it in `[mail_host] dmarc_report_domains` in mailops.toml and the tenants' Terraform publishes them",
        records
            .iter()
            .map(|name| format!("`{name}. TXT \"{}\"`", crate::model::records::REPORT_AUTHORIZATION))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

pub(crate) fn invalid_spf(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(ValidateCode::SpfInvalid, format!("invalid SPF term: {problem}"))
        .at(loc, "this term")
        .help("`include` takes domains; `mechanisms` takes include:, ip4:, ip6:, a, mx or redirect= terms")
}

pub(crate) fn spf_too_many_lookups(loc: Location, count: usize, max: usize) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::SpfTooManyLookups,
        format!("the SPF record needs {count} DNS lookups; receivers give up after {max}"),
    )
    .at(loc, format!("lookup {} of at most {max}", max + 1))
    .help("replace `include`, `a` and `mx` terms by `ip4:`/`ip6:` ranges, or flatten an included record")
}

pub(crate) fn spf_duplicate_redirect(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::SpfInvalid,
        "the SPF record has two `redirect=` modifiers",
    )
    .at(loc, "second redirect")
    .help("keep one `redirect=`")
}

pub(crate) fn invalid_ttl(loc: Location, ttl: i64) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DnsInvalidTtl,
        format!("TTL {ttl} is out of range"),
    )
    .at(loc, "this TTL")
    .help("a TTL is from 60 to 604800 seconds; 3600 is usual")
}

pub(crate) fn invalid_zone_id(loc: Location, zone_id: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DnsInvalidZoneId,
        format!("`{zone_id}` is not a Route53 hosted zone id"),
    )
    .at(loc, "this id")
    .help("a hosted zone id is 1 to 32 uppercase letters and digits, like `Z0123456789ABC`; remove it to look the zone up by name")
}

pub(crate) fn missing_rfc2142(loc: Location, domain: &str, local: &str) -> Diagnostic {
    Diagnostic::warning(
        ValidateCode::Rfc2142Missing,
        format!("{} is neither a mailbox nor an alias", quoted_idn(&format!("{local}@{domain}"))),
    )
    .at(loc, "this domain")
    .help(format!(
        "RFC 2142 asks every mail domain to accept {local}@; add `[[alias]] address = \"{local}\"` with a destination"
    ))
}

pub(crate) fn invalid_platform_value(
    loc: Location,
    key: &str,
    problem: &str,
    help: &str,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::PlatformInvalid,
        format!("invalid `{key}`: {problem}"),
    )
    .at(loc, "this value")
    .help(help.to_string())
}

pub(crate) fn password_in_url(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::PlatformPasswordInUrl,
        "the database URL holds a password; mailops.toml is committed to git",
    )
    .at(loc, "this URL")
    .help("remove the password from the URL and pass the URL with its password in MAILOPS_DATABASE_URL or --database instead")
}

pub(crate) fn invalid_state(loc: Location, state: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::MailboxInvalidState,
        format!("`{state}` is not a mailbox state"),
    )
    .at(loc, "unknown state")
    .help("write `active` (the default), `locked` (mail delivered, every login refused) or `disabled` (mail refused with 550 5.2.1, logins refused, the Maildir kept)")
}

pub(crate) fn invalid_tenant_state(loc: Location, state: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::TenantInvalidState,
        format!("`{state}` is not a tenant state"),
    )
    .at(loc, "unknown state")
    .help("write `active` (the default), `suspended` (mail delivered, every login refused) or `disabled` (all mail refused with 550 5.2.1, every login refused, nothing deleted)")
}

pub(crate) fn invalid_protocol(loc: Location, protocol: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::MailboxInvalidProtocol,
        format!("`{protocol}` is not a login protocol"),
    )
    .at(loc, "unknown protocol")
    .help("write `imap`, `pop3` or `smtp` (submission)")
}

pub(crate) fn duplicate_protocol(loc: Location, first: Location, protocol: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::MailboxInvalidProtocol,
        format!("`{protocol}` is listed twice"),
    )
    .at(loc, "listed again here")
    .related(first, "first listed here")
    .help("list each protocol once")
}

pub(crate) fn pop3_not_offered(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::MailboxProtocolNotOffered,
        "`pop3` is not offered by the platform",
    )
    .at(loc, "POP3 is off")
    .help("turn POP3 on with `pop3 = true` under `[mail_host]` in mailops.toml, or remove `pop3` here")
}

pub(crate) fn protocol_not_of_mailbox(
    loc: Location,
    mailbox: Location,
    protocol: &str,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::MailboxProtocolNotOffered,
        format!("the app password may use `{protocol}`, which its mailbox may not"),
    )
    .at(loc, "not a protocol of the mailbox")
    .related(mailbox, "the mailbox's protocols")
    .help("an app password logs in as its mailbox: add the protocol to the mailbox's `protocols`, or remove it here")
}

pub(crate) fn invalid_app_password_name(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AppPasswordInvalidName,
        "an app password name is 1 to 64 letters, digits, `.`, `_` or `-`",
    )
    .at(loc, "invalid name")
    .help("name the device, e.g. `phone` or `laptop-2026`")
}

pub(crate) fn duplicate_app_password(loc: Location, first: Location, name: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AppPasswordDuplicate,
        format!("the mailbox has two app passwords named `{name}`"),
    )
    .at(loc, "named again here")
    .related(first, "first named here")
    .help("give every app password of a mailbox its own name")
}

pub(crate) fn send_as_unknown(loc: Location, address: &str, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::SendAsUnknownAddress,
        format!("the mailbox may not send as {}: {problem}", quoted_idn(address)),
    )
    .at(loc, "not an address of this tenant")
    .help("`send_as` names an [[alias]] or another [[mailbox]] of this file (a bare local part), or `user@other-tenant` that the other tenant grants with `allow_send_as`")
}

pub(crate) fn invalid_grantee(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::SendAsInvalidGrantee,
        format!("invalid `allow_send_as` entry: {problem}"),
    )
    .at(loc, "not a mailbox of another tenant")
    .help("`allow_send_as` lists mailboxes of other tenants as `user@their-domain`; a mailbox of this file names the address in its own `send_as`")
}

pub(crate) fn too_many_app_passwords(loc: Location, max: usize) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::AppPasswordTooMany,
        format!("a mailbox has at most {max} app passwords"),
    )
    .at(loc, "one too many")
    .help("Dovecot tries one query per app password slot at a login; remove the app passwords of devices no longer in use")
}

pub(crate) fn relay_invalid_target(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::RelayInvalidTarget,
        format!("invalid relay target: {problem}"),
    )
    .at(loc, "this target")
    .help("write the client's server as a Postfix next hop: `mail.client.example`, `[mail.client.example]:25`, `[192.0.2.10]:25` or `[2001:db8::10]:25` (brackets: no MX lookup)")
}

pub(crate) fn relay_with_mailboxes(loc: Location, relay: Location, what: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::RelayWithMailboxes,
        format!("a relay tenant declares {what}"),
    )
    .at(loc, format!("{what} declared here"))
    .related(relay, "the domain is relayed here")
    .help("mail for a relay domain is forwarded to the client's server, which holds its mailboxes and aliases; remove them here, or remove [relay] to host the domain")
}

pub(crate) fn bimi_invalid_url(loc: Location, what: &str, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::BimiInvalidUrl,
        format!("invalid BIMI {what} URL: {problem}"),
    )
    .at(loc, "this URL")
    .help("write the HTTPS URL the file is served at, e.g. `https://acme.example/brand/logo.svg`")
}

pub(crate) fn bimi_dmarc_policy(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(ValidateCode::BimiDmarcPolicy, format!("no receiver would show this BIMI logo: {problem}"))
        .at(loc, "the logo")
        .help("set `[dns] dmarc = { policy = \"quarantine\" }` (or \"reject\") without a `pct` below 100 once the domain's mail passes DMARC; or remove [dns.bimi]")
}

/// The repo's copy of a BIMI logo (`bimi/<domain>.svg`, shown as `shown`)
/// breaks SVG Tiny PS: each problem as `(line, column, problem)`.
pub(crate) fn bimi_svg(loc: Location, shown: &str, problems: &[(u32, u32, String)]) -> Diagnostic {
    let mut message = format!("{shown} is not SVG Tiny PS, so receivers show no logo:");
    for (line, column, problem) in problems {
        message.push_str(&format!("\n{shown}:{line}:{column}: {problem}"));
    }
    Diagnostic::error(ValidateCode::BimiSvg, message)
        .at(loc, format!("the logo, checked as {shown}"))
        .help("export the logo as SVG Tiny 1.2 and apply the BIMI group's Tiny PS conversion: a <title>, version=\"1.2\" baseProfile=\"tiny-ps\", a square viewBox; no scripts, animation, raster images or references outside the file")
}

pub(crate) fn dnssec_unmanaged(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::DnsDnssecUnmanaged,
        "`dnssec = true` for a domain whose DNS is not in Route53",
        )
    .at(loc, "signing asked here")
    .help("with `managed = false` the domain's own DNS host signs its zone (or not); remove `dnssec`, or set `managed = true` so that Route53 holds and signs the zone")
}

pub(crate) fn invalid_mta_sts_mode(loc: Location, value: &str, allowed: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::MtaStsInvalidMode,
        format!("`{value}` is not an MTA-STS mode"),
    )
    .at(loc, "this value")
    .help(format!("one of {allowed}: `enforce` makes senders refuse to deliver without valid TLS to the mail host, `testing` only asks for TLS reports, `off` publishes no policy"))
}

pub(crate) fn invalid_tls_rpt_uri(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::TlsRptInvalidUri,
        format!("invalid TLS-RPT report URI: {problem}"),
    )
    .at(loc, "this URI")
    .help("write report destinations as `mailto:tls-reports@acme.example` or `https://reports.example/tlsrpt` (RFC 8460 §3), one per list entry")
}

pub(crate) fn backup_mx_without_relay(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::RelayBackupMxWithoutRelay,
        "`backup_mx` outside [relay]",
    )
    .at(loc, "not a key of its own")
    .help("a backup MX relays to the client's server: move it into `[relay]` with `to = \"[mail.client.example]:25\"` and `recipients`, or remove it")
}

pub(crate) fn relay_invalid_recipient(loc: Location, problem: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::RelayInvalidRecipient,
        format!("invalid relay recipient: {problem}"),
    )
    .at(loc, "this recipient")
    .help("a recipient is a local part of this domain (`alice`), or `\"*\"` for any")
}

pub(crate) fn relay_duplicate_recipient(
    loc: Location,
    first: Location,
    address: &str,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::RelayDuplicateRecipient,
        format!("the relay recipient `{address}` is listed twice"),
    )
    .at(loc, "listed again here")
    .related(first, "first listed here")
    .help("remove the repeated recipient")
}

pub(crate) fn relay_no_recipients(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::RelayNoRecipients,
        "a relay tenant accepts no recipient",
    )
    .at(loc, "empty list")
    .help("list the local parts the client's server accepts: `recipients = [\"alice\", \"postmaster\"]`")
}

pub(crate) fn relay_any_recipient(loc: Location, domain: &str) -> Diagnostic {
    Diagnostic::warning(
        ValidateCode::RelayAnyRecipient,
        format!("every address of `{domain}` is accepted and relayed"),
    )
    .at(loc, "any recipient")
    .help("spam to made-up addresses is accepted here and bounced later by the client's server to forged senders (backscatter); list the recipients instead")
}

pub(crate) fn relay_primary_mx(loc: Location, problem: &str, help: &str) -> Diagnostic {
    Diagnostic::error(ValidateCode::RelayPrimaryMx, problem.to_string())
        .at(loc, "here")
        .help(help.to_string())
}

pub(crate) fn missing_rfc2142_recipient(loc: Location, domain: &str, local: &str) -> Diagnostic {
    Diagnostic::warning(
        ValidateCode::Rfc2142Missing,
        format!("`{local}@{domain}` is not a relay recipient"),
    )
    .at(loc, "these recipients")
    .help(format!(
        "RFC 2142 asks every mail domain to accept {local}@; add `\"{local}\"` to `recipients`"
    ))
}

/// Two `[[hosts]]` entries with one `name`, `hostname` or `private_ip`.
pub(crate) fn duplicate_host(loc: Location, first: Location, key: &str, value: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::HostDuplicate,
        format!("two hosts have the {key} `{value}`"),
    )
    .at(loc, "declared again here")
    .related(first, "first defined here")
    .help(format!(
        "each `[[hosts]]` entry needs its own {key}; change or remove one of them"
    ))
}

/// A `private_ip` that is not a usable host address of `[aws] private_cidr`.
pub(crate) fn host_outside_network(
    loc: Location,
    ip: &str,
    cidr: &str,
    problem: &str,
) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::HostOutsideNetwork,
        format!("the private address `{ip}` {problem} `{cidr}`"),
    )
    .at(loc, "this address")
    .help(format!(
        "choose an address inside `{cidr}` (`[aws] private_cidr`) that AWS lets an instance take: not the network's first four addresses nor its last (AWS reserves them)"
    ))
}

/// `[[hosts]]` without the host `[mail_host] hostname` names.
pub(crate) fn host_no_primary(loc: Location, hostname: &str) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::HostNoPrimary,
        format!("no `[[hosts]]` entry has the hostname `{hostname}` of `[mail_host]`"),
    )
    .at(loc, "these hosts")
    .help(format!(
        "`[mail_host] hostname` names the primary host, which must be one of `[[hosts]]`: add an entry with `hostname = \"{hostname}\"` (when growing from one host, the existing host first, keeping its name)"
    ))
}

/// `[[hosts]]` whose entries all say `inbound = false`.
pub(crate) fn host_no_inbound(loc: Location) -> Diagnostic {
    Diagnostic::error(
        ValidateCode::HostNoInbound,
        "no host receives mail: every `[[hosts]]` entry has `inbound = false`",
    )
    .at(loc, "these hosts")
    .help("tenant domains need an MX: leave `inbound` out (it defaults to `true`) on at least one host")
}

/// A `home` that names no host.
pub(crate) fn unknown_home(
    loc: Location,
    name: &str,
    known: &[&str],
    declared: bool,
) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        ValidateCode::HostUnknownHome,
        format!("`home = \"{name}\"` names no mail host"),
    )
    .at(loc, "no host has this name");
    let listed = known
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let suggestion = crate::parse::diags::did_you_mean(name, known)
        .map(|s| format!("did you mean `{s}`? "))
        .unwrap_or_default();
    let help = if declared {
        format!("{suggestion}name one of the `[[hosts]]` of mailops.toml: {listed}")
    } else {
        format!(
            "{suggestion}mailops.toml declares no `[[hosts]]`: its only host is {listed} (the first label of `[mail_host] hostname`); declare `[[hosts]]` to place mailboxes on other hosts"
        )
    };
    diagnostic.help(help)
}
