//! The command line as typed: plain records that clap fills. The work is in `commands`.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::dkim_keys::KeyAlgorithm;

/// Multi-tenant business email hosting as code.
///
/// Validates tenant files (tenants/*.toml) and the platform file (mailops.toml),
/// compiles them into SQL, Terraform and Postfix/Dovecot/Rspamd configs, shows
/// every change as a diff, and applies the database changes safely.
#[derive(Debug, Parser)]
#[command(name = "mailops", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Run in this mail repo instead of the current directory.
    #[arg(
        short = 'C',
        long = "directory",
        global = true,
        value_name = "DIR",
        default_value = "."
    )]
    pub(crate) dir: PathBuf,

    /// No progress line on the terminal (there is none when stderr is not a terminal).
    #[arg(short = 'q', long, global = true)]
    pub(crate) quiet: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiagnosticFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    Human,
    Markdown,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check every tenant file and the platform file; print every problem.
    #[command(
        after_help = "Examples:\n  mailops validate\n  mailops -C ~/mail-repo validate --format json   # for CI annotations"
    )]
    Validate {
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value = "human")]
        format: DiagnosticFormat,
    },
    /// Compile and write generated/ (removing generated files no longer produced).
    #[command(
        after_help = "Examples:\n  mailops build\n  mailops build --verbose   # list every path written"
    )]
    Build {
        /// List every path written; by default a build that touches more than
        /// 50 files lists the first 20 and counts the rest.
        #[arg(long, short)]
        verbose: bool,
    },
    /// CI gate: validate, and exit 1 if generated/ differs from a fresh compile.
    #[command(
        after_help = "Examples:\n  mailops check   # CI: generated/ must match a fresh compile\n  mailops check --identity ~/.config/mailops/age.key   # also decrypt and match every DKIM key"
    )]
    Check {
        /// age identity file: also decrypt every DKIM key of keys/ (with
        /// `[secrets]`) and check it belongs to its tenant's public key.
        #[arg(long, value_name = "FILE", env = "MAILOPS_AGE_IDENTITY")]
        identity: Option<PathBuf>,
    },
    /// Show what build and apply would change: file diffs against generated/,
    /// and row changes against the live database (or, with --base REF, the
    /// change from git revision REF to the working tree, with no database).
    #[command(
        after_help = "Examples:\n  mailops plan\n  mailops plan --base origin/main --format markdown   # a pull request's comment, no database\n  mailops plan --out release.plan --detailed-exitcode"
    )]
    Plan {
        /// Database URL (default: MAILOPS_DATABASE_URL, else `[database] url`
        /// in mailops.toml, else `sqlite://.mailops/state.db`).
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// Plan the change from git revision REF (a pull request's base, like
        /// `origin/main`) to the working tree: generated files and rows of
        /// both compiled in memory; no database, no credentials.
        #[arg(long, value_name = "REF", conflicts_with_all = ["database", "full"])]
        base: Option<String>,
        /// How to print the plan.
        #[arg(long, value_enum, default_value = "human")]
        format: PlanFormat,
        /// Save the plan, to apply it later exactly as shown with `mailops apply FILE`.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Exit 0 when nothing would change, 2 when something would, 1 on error.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Read every row of the routing tables, not only the rows of domains
        /// that may have changed since mailops last wrote them.
        #[arg(long)]
        full: bool,
    },
    /// Apply the row changes in one transaction under a lock, and write generated/.
    #[command(
        after_help = "Examples:\n  mailops apply\n  mailops apply --yes release.plan   # exactly the saved plan, refused if the database moved"
    )]
    Apply {
        /// Database URL (default: MAILOPS_DATABASE_URL, else `[database] url`
        /// in mailops.toml, else `sqlite://.mailops/state.db`).
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// Apply without asking (required when not on a terminal).
        #[arg(long)]
        yes: bool,
        /// Allow deleting a whole domain, or more than 25 % of a table's rows.
        #[arg(long)]
        allow_destroy: bool,
        /// Read every row of the routing tables, not only the rows of domains
        /// that may have changed since mailops last wrote them.
        #[arg(long)]
        full: bool,
        /// A plan saved by `mailops plan --out`; refused if the database changed since.
        #[arg(value_name = "PLAN")]
        plan: Option<PathBuf>,
        /// When a mailbox's home moves to another host: move its mail with
        /// doveadm (copy before the switch, final sync and clean up after).
        /// Run on a mail host, inside the hosts' private network.
        #[arg(long, conflicts_with = "no_move_mail")]
        move_mail: bool,
        /// When a mailbox's home moves: switch the rows only; its mail is
        /// moved by other means.
        #[arg(long)]
        no_move_mail: bool,
        /// The Dovecot config doveadm reads for --move-mail (its doveadm_password);
        /// default: doveadm's own.
        #[arg(long, value_name = "PATH", env = "MAILOPS_DOVEADM_CONFIG")]
        doveadm_config: Option<PathBuf>,
    },
    /// On a mail host: finish moving a mailbox's mail after its home was
    /// switched: the final two-way sync from the old host, then the clean up
    /// there (what `apply --move-mail` does after the switch).
    #[command(
        after_help = "Examples:\n  mailops move-mail alice@acme.example --from mx1 --database mysql://mailops@127.0.0.1/mail"
    )]
    MoveMail {
        /// The mailbox's address.
        #[arg(value_name = "ADDRESS")]
        address: String,
        /// The host it moved from (a `[[hosts]]` name); its row must name another home now.
        #[arg(long, value_name = "HOST")]
        from: String,
        /// Database URL (as for apply).
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        /// The Dovecot config doveadm reads; default: doveadm's own.
        #[arg(long, value_name = "PATH", env = "MAILOPS_DOVEADM_CONFIG")]
        doveadm_config: Option<PathBuf>,
    },
    /// On the mail host: materialise generated configs and DKIM private keys under
    /// DIR with the right owners and modes, filling secrets.
    #[command(
        after_help = "Examples:\n  mailops install --root / --secrets /etc/mailops/secrets.toml\n  mailops install --root /tmp/host --identity /etc/mailops/age.key   # a dry tree to inspect\n  mailops install --root / --host mx2 --secrets /etc/mailops/secrets.toml   # [[hosts]]: the host mx2"
    )]
    Install {
        /// Root to install under (`/` on the mail host).
        #[arg(long, value_name = "DIR")]
        root: PathBuf,
        /// TOML file with `db_password = "…"` (MAILOPS_DB_PASSWORD wins over it).
        #[arg(long, value_name = "FILE")]
        secrets: Option<PathBuf>,
        /// Key store to read DKIM private keys from (default: `paths.key_store`;
        /// not with `[secrets]`).
        #[arg(long, value_name = "DIR")]
        key_dir: Option<PathBuf>,
        /// age identity file that decrypts the DKIM keys of keys/ (required
        /// with `[secrets]`); every key is checked before anything is installed.
        #[arg(long, value_name = "FILE", env = "MAILOPS_AGE_IDENTITY")]
        identity: Option<PathBuf>,
        /// The mail host installed (a `[[hosts]]` name; default: the primary,
        /// `[mail_host] hostname`): its hostname and certificate paths go into
        /// the Postfix and Dovecot configs.
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
    },
    /// Write JSON Schema files for tenant and platform files into schema/.
    #[command(
        after_help = "Examples:\n  mailops schema\n  mailops schema --check   # CI: schema/ is current"
    )]
    Schema {
        /// Exit 1 if the files in schema/ are not current, instead of writing them.
        #[arg(long)]
        check: bool,
    },
    /// Scaffold a new tenant file with postmaster@/abuse@ aliases and a fresh DKIM key.
    #[command(
        after_help = "Examples:\n  mailops new acme.example\n  mailops new shop.example --algorithm ed25519 --admin ops@webhizzy.in"
    )]
    New {
        /// The client domain, e.g. `acme.example`.
        domain: String,
        /// DKIM selector (default: the platform's `defaults.dkim_selector`).
        #[arg(long)]
        selector: Option<String>,
        /// Key type. `ed25519` also makes an RSA-2048 key under `<selector>-rsa`:
        /// mail is signed with both, and ARC seals with the RSA key.
        #[arg(long, value_enum, default_value = "rsa2048")]
        algorithm: KeyAlgorithm,
        /// Where the postmaster@ and abuse@ aliases deliver (default: the platform's admin email).
        #[arg(long, value_name = "ADDRESS")]
        admin: Option<String>,
    },
    /// DKIM key management.
    #[command(
        after_help = "Examples:\n  mailops dkim keygen acme.example --force\n  mailops dkim keygen acme.example --selector ed2026 --algorithm ed25519"
    )]
    Dkim {
        #[command(subcommand)]
        command: DkimCommand,
    },
    /// The tenants' DNS records outside Terraform: check what is published,
    /// print what a client's DNS host must publish.
    #[command(
        after_help = "Examples:\n  mailops dns records acme.example\n  mailops dns check --nameserver 192.0.2.53 --expect-ip 203.0.113.25 --format markdown"
    )]
    Dns {
        #[command(subcommand)]
        command: DnsCommand,
    },
    /// The mail host's TLS: the DANE TLSA records of its certificate's key.
    #[command(
        after_help = "Examples:\n  mailops tls tlsa --cert /etc/letsencrypt/live/mx.webhizzy.in/cert.pem\n  mailops tls tlsa --cert cert.pem --pubkey next.pub --format json   # current and next key"
    )]
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    /// The age-encrypted DKIM private keys of keys/ (with `[secrets] recipients`).
    #[command(
        after_help = "Examples:\n  mailops keys import --key-dir .mailops/keys\n  mailops keys reencrypt --identity ~/.config/mailops/age.key"
    )]
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Adopt an existing mail server: read its database (the tutorial layout
    /// `virtual_domains`/`virtual_users`/`virtual_aliases`, or PostfixAdmin's)
    /// read-only, and write one tenant file per domain, DKIM keys, and a
    /// report of what was mapped, changed and not mapped. Writes nothing on
    /// bad input, and replaces no file without --force.
    #[command(
        after_help = "Examples:\n  mailops import --database mysql://reader@old-mx:3306/mailserver --dkim-dir /var/lib/rspamd/dkim\n  mailops import --database sqlite:///root/postfixadmin.db --from postfixadmin --allow-scheme MD5-CRYPT --out /tmp/draft"
    )]
    Import {
        /// The database to read: `mysql://user@host:port/db` or `sqlite://path`.
        #[arg(long, value_name = "URL")]
        database: String,
        /// The layout (default: detected from the tables).
        #[arg(long, value_enum, default_value = "auto")]
        from: crate::import::From,
        /// Rspamd's DKIM key folder (`<domain>.<selector>.key`, `dkim_selectors.map`);
        /// a domain without a key there gets a fresh one.
        #[arg(long, value_name = "DIR")]
        dkim_dir: Option<PathBuf>,
        /// Where to write the tenant files (default: tenants/).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Replace existing tenant and key files.
        #[arg(long)]
        force: bool,
        /// Dovecot's `default_pass_scheme`: the scheme of hashes stored without
        /// a `{SCHEME}` prefix (`CRYPT`: named by the hash's own `$id$`).
        #[arg(long, value_name = "SCHEME", default_value = "CRYPT")]
        default_scheme: String,
        /// Import hashes of this scheme although the platform does not allow
        /// it (a warning on every such mailbox). Repeatable.
        #[arg(long, value_name = "SCHEME")]
        allow_scheme: Vec<String>,
    },
    /// Read a password (without echo, or from stdin) and print a Dovecot {ARGON2ID} hash.
    #[command(
        after_help = "Examples:\n  mailops hash-password\n  printf '%s\n' \"$PASSWORD\" | mailops hash-password   # from a script"
    )]
    HashPassword,
    /// On the mail host: pull the branch of the host file, check and apply a
    /// new commit (rows, configs, keys; reload what changed), heal drift, and
    /// write the status file. Exit 0 ok, 1 a commit refused, 2 a failure.
    #[command(
        after_help = "Examples:\n  mailops reconcile --once   # what the systemd timer runs\n  mailops reconcile --config /etc/mailops/host.toml --interval 60"
    )]
    Reconcile {
        /// The host file.
        #[arg(long, value_name = "FILE", default_value = "/etc/mailops/host.toml")]
        config: PathBuf,
        /// Run once and exit (as the systemd timer does); else run every --interval seconds.
        #[arg(long)]
        once: bool,
        /// Seconds between runs without --once.
        #[arg(long, value_name = "SECONDS", default_value = "300")]
        interval: u64,
    },
    /// Print what the last `mailops reconcile` run did (its status file).
    #[command(after_help = "Examples:\n  mailops status\n  mailops status --format json")]
    Status {
        /// The host file (it names the status file).
        #[arg(long, value_name = "FILE", default_value = "/etc/mailops/host.toml")]
        config: PathBuf,
        /// How to print the status.
        #[arg(long, value_enum, default_value = "human")]
        format: DiagnosticFormat,
    },
    /// Draw the tenants and the mail forwarded between them: cross-tenant
    /// aliases (counted per pair of tenants) and forwards off the platform
    /// (grouped per domain), as Mermaid (GitHub and GitLab draw it), Graphviz
    /// DOT or JSON.
    #[command(
        after_help = "Examples:\n  mailops graph > tenants.mmd\n  mailops graph --format dot | dot -Tsvg > tenants.svg\n  mailops graph --changed-from origin/main   # what a pull request touches, and its neighbours"
    )]
    Graph {
        /// The picture's format.
        #[arg(long, value_enum, default_value = "mermaid")]
        format: GraphFormat,
        /// Only the tenants changed since git revision REF, and the tenants
        /// they forward to or receive forwards from.
        #[arg(long, value_name = "REF")]
        changed_from: Option<String>,
    },
    /// Print a shell completion script for mailops.
    #[command(
        after_help = "Examples:\n  mailops completions bash > /etc/bash_completion.d/mailops\n  mailops completions zsh > \"${fpath[1]}/_mailops\"   # then start a new shell"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write man pages: mailops(1) and one per subcommand (mailops-plan(1),
    /// mailops-dns-check(1), …), from the same definitions as --help.
    #[command(
        after_help = "Examples:\n  mailops man --out /usr/local/share/man/man1 && mandb -q\n  mailops man --out /tmp/man && man -l /tmp/man/mailops-plan.1"
    )]
    Man {
        /// The folder to write the pages into (made when missing).
        #[arg(long, value_name = "DIR", default_value = "man")]
        out: PathBuf,
    },
    /// Create a new mail repo: mailops.toml, an example tenant with its DKIM key,
    /// keys/, schema/, generated/, .gitignore, an operator README, and CI templates
    /// for GitHub Actions and GitLab CI. Never replaces an existing file.
    #[command(
        after_help = "Examples:\n  mailops init mail-repo --hostname mx.webhizzy.in\n  mailops init . --domain acme.example --hostname mx.operator.example"
    )]
    Init {
        /// The folder to create it in (made when missing; default: the current
        /// directory, or the one `-C` names).
        #[arg(value_name = "DIR")]
        path: Option<PathBuf>,
        /// The example tenant's domain.
        #[arg(long, default_value = "acme.example")]
        domain: String,
        /// The mail host; its parent is the DNS zone of the host's records, and
        /// postmaster@ of that zone receives each tenant's postmaster@ and abuse@.
        #[arg(long, default_value = "mx.operator.example")]
        hostname: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Encrypt every key of keys/ again to the current `[secrets] recipients`
    /// (after the list changed). Each file is replaced whole; nothing is
    /// written unless every key decrypts.
    #[command(
        after_help = "Examples:\n  mailops keys reencrypt --identity ~/.config/mailops/age.key"
    )]
    Reencrypt {
        /// age identity file that can decrypt the keys as they are.
        #[arg(long, value_name = "FILE", env = "MAILOPS_AGE_IDENTITY")]
        identity: Option<PathBuf>,
    },
    /// Encrypt the tenants' keys of a plaintext key store into keys/; then
    /// delete the plaintext store.
    #[command(after_help = "Examples:\n  mailops keys import --key-dir .mailops/keys")]
    Import {
        /// The plaintext key store (e.g. `.mailops/keys`).
        #[arg(long, value_name = "DIR")]
        key_dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TlsCommand {
    /// The TLSA records (`3 1 1`: DANE-EE, SHA-256 of the public key) that
    /// publish the mail host's key for DANE (RFC 7672): one per certificate
    /// or public key given, so the next key can be published before a
    /// renewal switches to it.
    #[command(
        after_help = "Examples:\n  mailops tls tlsa --cert /etc/letsencrypt/live/mx.webhizzy.in/cert.pem\n  mailops tls tlsa --cert cert.pem --pubkey next.pub --host mx.webhizzy.in --format json"
    )]
    Tlsa {
        /// A PEM certificate (the first in the file: certbot's cert.pem or fullchain.pem).
        #[arg(long, value_name = "FILE")]
        cert: Vec<std::path::PathBuf>,
        /// A PEM public key (`openssl pkey -in next.key -pubout`), for the next key.
        #[arg(long, value_name = "FILE")]
        pubkey: Vec<std::path::PathBuf>,
        /// The mail host's name (default: `[mail_host] hostname` of the mail repo).
        #[arg(long)]
        host: Option<String>,
        /// The SMTP port the records are for.
        #[arg(long, default_value_t = 25)]
        port: u16,
        #[arg(long, value_enum, default_value_t = RecordsFormat::Zone)]
        format: RecordsFormat,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DnsCommand {
    /// Resolve every record the tenants declare (MX, SPF, DMARC, DKIM) and
    /// compare it with what is published: ok, missing, different or
    /// conflicting; and the mail host's address and reverse DNS. Exit 0 all
    /// ok, 1 a mismatch, 2 a query that could not be answered.
    #[command(
        after_help = "Examples:\n  mailops dns check acme.example\n  mailops dns check --nameserver 127.0.0.53:5353 --expect-ip 203.0.113.25 --format json"
    )]
    Check {
        /// Ask this nameserver (`IP` or `IP:PORT`, `[IPv6]:PORT`); default:
        /// the system's resolvers.
        #[arg(long, value_name = "IP[:PORT]")]
        nameserver: Option<String>,
        /// How to print the report.
        #[arg(long, value_enum, default_value = "human")]
        format: PlanFormat,
        /// The mail host's address: its name must resolve to it, and it must
        /// point back to the name (PTR).
        #[arg(long, value_name = "IP")]
        expect_ip: Option<std::net::IpAddr>,
        /// Queries in flight at once.
        #[arg(long, value_name = "N", default_value = "256")]
        concurrency: usize,
        /// Seconds to wait for one answer (each query is tried 3 times).
        #[arg(long, value_name = "SECONDS", default_value = "3")]
        timeout: u64,
        /// Also connect to the mail host's SMTP port: the banner must name the
        /// host, STARTTLS must be offered, and the certificate must cover the
        /// host name, chain to a trusted CA and not expire within --cert-days.
        #[arg(long)]
        smtp: bool,
        /// The SMTP port for --smtp.
        #[arg(long, value_name = "PORT", default_value = "25", requires = "smtp")]
        smtp_port: u16,
        /// PEM file of CA certificates to trust besides the public roots (--smtp).
        #[arg(long, value_name = "FILE", requires = "smtp")]
        smtp_ca: Option<PathBuf>,
        /// The certificate must stay valid for at least this many days (--smtp).
        #[arg(long, value_name = "DAYS", default_value = "14", requires = "smtp")]
        cert_days: u64,
        /// Only these tenants (default: every tenant).
        #[arg(value_name = "DOMAIN")]
        domains: Vec<String>,
    },
    /// The Terraform root of each tenant's records
    /// (`generated/terraform/dns-<shard>/`, `[aws] dns_shards`), or, with
    /// `--moves`, the `terraform state mv` commands that move a single-root
    /// state into the sharded layout.
    Shards {
        /// Print a shell script of `terraform state mv` commands instead: from
        /// the single-root layout, or with --from-shards from another shard count.
        #[arg(long)]
        moves: bool,
        /// With --moves: the `[aws] dns_shards` the states were made with, when
        /// changing it (the script moves each tenant into its new root's state).
        #[arg(long, value_name = "N", requires = "moves", value_parser = clap::value_parser!(u16).range(1..=256))]
        from_shards: Option<u16>,
    },
    /// Print the records a tenant's DNS host must publish, for a domain whose
    /// DNS is not in the operator's Route53.
    #[command(
        after_help = "Examples:\n  mailops dns records acme.example\n  mailops dns records --format json > records.json   # every tenant"
    )]
    Records {
        /// The tenants (A-label or Unicode; default: every tenant).
        #[arg(value_name = "DOMAIN")]
        domains: Vec<String>,
        /// Zone-file lines, or JSON.
        #[arg(long, value_enum, default_value = "zone")]
        format: RecordsFormat,
        /// For a signed zone (`dnssec = true`), whose DS is computed from its
        /// live DNSKEY: ask this nameserver (`IP`, `IP:PORT`); default: the
        /// system's resolvers.
        #[arg(long, value_name = "IP[:PORT]")]
        nameserver: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GraphFormat {
    Mermaid,
    Dot,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RecordsFormat {
    Zone,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum DkimCommand {
    /// Make a key pair: the private key goes to the key store (never git) or,
    /// with `[secrets]`, encrypted to keys/; the public key into the tenant file.
    #[command(
        after_help = "Examples:\n  mailops dkim keygen acme.example --force\n  mailops dkim keygen acme.example --selector ed2026 --algorithm ed25519"
    )]
    Keygen {
        /// The tenant domain.
        domain: String,
        /// DKIM selector (default: the tenant's, else the platform's).
        #[arg(long)]
        selector: Option<String>,
        /// Key type. A selector the tenant has is replaced, a new one added
        /// (`[[dkim]]`); an Ed25519 key that would leave the tenant without an
        /// RSA key comes with an RSA-2048 key under `<selector>-rsa`.
        #[arg(long, value_enum, default_value = "rsa2048")]
        algorithm: KeyAlgorithm,
        /// Key store directory (default: `paths.key_store`, `.mailops/keys`;
        /// not with `[secrets]`).
        #[arg(long, value_name = "DIR")]
        key_dir: Option<PathBuf>,
        /// Replace an existing private key.
        #[arg(long)]
        force: bool,
    },
    /// Start a rotation: a new key pair, added to the tenant file as
    /// `published` (in DNS, not signing) with the time now; the private key
    /// goes where `keygen` puts it.
    #[command(
        after_help = "Examples:\n  mailops dkim rotate acme.example\n  mailops dkim rotate acme.example --algorithm ed25519 --selector ed2027"
    )]
    Rotate {
        /// The tenant domain.
        domain: String,
        /// Key type.
        #[arg(long, value_enum, default_value = "rsa2048")]
        algorithm: KeyAlgorithm,
        /// Selector of the new key (default: `s<YYYYMMDD>`, `ed<YYYYMMDD>` for
        /// Ed25519, never one the tenant file has).
        #[arg(long)]
        selector: Option<String>,
        /// Key store directory (default: `paths.key_store`; not with `[secrets]`).
        #[arg(long, value_name = "DIR")]
        key_dir: Option<PathBuf>,
    },
    /// Make a published key active; the active key of its algorithm becomes
    /// `retiring`. Refused until the key has been published longer than the
    /// domain's TTL plus one hour.
    #[command(after_help = "Examples:\n  mailops dkim promote acme.example s20261130")]
    Promote {
        /// The tenant domain.
        domain: String,
        /// The published key's selector.
        selector: String,
        /// Promote before the TTL and margin have passed.
        #[arg(long)]
        force: bool,
    },
    /// Retire a retiring (or never promoted) key: its record leaves DNS and
    /// its private key the mail host. Refused for the active key, and for a
    /// key that stopped signing less than a week ago.
    #[command(after_help = "Examples:\n  mailops dkim retire acme.example dkim")]
    Retire {
        /// The tenant domain.
        domain: String,
        /// The key's selector.
        selector: String,
        /// Retire before a week has passed since the key stopped signing.
        #[arg(long)]
        force: bool,
    },
    /// Every DKIM key: its state, age and the next step due.
    #[command(
        after_help = "Examples:\n  mailops dkim status\n  mailops dkim status acme.example --format json"
    )]
    Status {
        /// One tenant domain (default: all).
        domain: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        format: DiagnosticFormat,
    },
    /// Delete the private keys of retired keys from the key store (or keys/).
    #[command(after_help = "Examples:\n  mailops dkim purge\n  mailops dkim purge acme.example")]
    Purge {
        /// One tenant domain (default: all).
        domain: Option<String>,
        /// Key store directory (default: `paths.key_store`; not with `[secrets]`).
        #[arg(long, value_name = "DIR")]
        key_dir: Option<PathBuf>,
    },
}
