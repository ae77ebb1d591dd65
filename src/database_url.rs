//! Database URLs: `mysql://user[:password]@host[:port]/database[?socket=/path]`
//! and `sqlite://path`.
//!
//! The password, when present, is only ever shown redacted. `?socket=` makes
//! the connection through MariaDB's local Unix socket (an account that may
//! log in from `localhost` only, or by `unix_socket` with no password at all);
//! the host and port are then only shown, never dialled.

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum DatabaseUrl {
    Mysql {
        user: String,
        password: Option<String>,
        host: String,
        port: u16,
        database: String,
        /// The server's Unix socket (`?socket=`), absolute; else TCP.
        socket: Option<String>,
    },
    Sqlite {
        path: String,
    },
}

/// Why a text is not a database URL mailops accepts. Never echoes a
/// password: what it names is no part of the userinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UrlProblem {
    /// A control, invisible or bidi character.
    Character(char),
    NoSqlitePath,
    Scheme,
    NoDatabase,
    NoHost,
    /// All digits, but not from 1 to 65535.
    PortOutOfRange(String),
    /// Not digits after the host's `:` (not echoed: it may be a password).
    NotAPort,
    /// A query parameter other than `socket` (its name; values are not echoed).
    Parameter(String),
    /// `?socket=` without an absolute path.
    SocketPath,
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlProblem::Character(c) => write!(
                f,
                "the URL holds the character {}; retype it",
                crate::chars::describe_char(*c)
            ),
            UrlProblem::NoSqlitePath => {
                f.write_str("a sqlite URL needs a path: `sqlite://.mailops/state.db`")
            }
            UrlProblem::Scheme => f.write_str("the URL must start with `mysql://` or `sqlite://`"),
            UrlProblem::NoDatabase => {
                f.write_str("the URL names no database: `mysql://user@host:3306/database`")
            }
            UrlProblem::NoHost => f.write_str("the URL names no host"),
            UrlProblem::PortOutOfRange(p) => write!(f, "`{p}` is not a port (1 to 65535)"),
            UrlProblem::NotAPort => f.write_str(
                "what follows `:` after the host is not a port number (a password \
                 goes before `@`: `mysql://user:password@host/database`, and only \
                 in the environment)",
            ),
            UrlProblem::Parameter(name) => write!(
                f,
                "the URL's parameter `{name}` is not known: a MariaDB URL takes only \
                 `?socket=/run/mysqld/mysqld.sock`"
            ),
            UrlProblem::SocketPath => f.write_str(
                "`?socket=` needs the absolute path of the server's socket: \
                 `?socket=/run/mysqld/mysqld.sock`",
            ),
        }
    }
}

impl DatabaseUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, UrlProblem> {
        // A control, invisible or bidi character (a soft hyphen in the host,
        // an RLO in a SQLite path) would name another database than the one
        // shown, or a file no one can type; the character, not the URL, is named.
        if let Some(c) = url
            .chars()
            .find(|&c| c.is_control() || crate::chars::is_invisible(c))
        {
            return Err(UrlProblem::Character(c));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            let path = path.split('?').next().unwrap_or("");
            if path.is_empty() {
                return Err(UrlProblem::NoSqlitePath);
            }
            return Ok(DatabaseUrl::Sqlite {
                path: path.to_string(),
            });
        }
        let rest = url
            .strip_prefix("mysql://")
            .or_else(|| url.strip_prefix("mariadb://"))
            .ok_or(UrlProblem::Scheme)?;
        let (authority, database) = rest.split_once('/').ok_or(UrlProblem::NoDatabase)?;
        let (database, query) = match database.split_once('?') {
            Some((database, query)) => (database, Some(query)),
            None => (database, None),
        };
        if database.is_empty() {
            return Err(UrlProblem::NoDatabase);
        }
        let socket = match query {
            None => None,
            Some(query) => socket_of(query)?,
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (percent_decode(u), Some(percent_decode(p))),
                None => (percent_decode(info), None),
            },
            None => ("root".to_string(), None),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h.to_string(),
                p.parse::<u16>().map_err(|_| {
                    if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) {
                        UrlProblem::PortOutOfRange(p.to_string())
                    } else {
                        // Not echoed: `mysql://user:password/db` (no `@host`)
                        // puts the password here.
                        UrlProblem::NotAPort
                    }
                })?,
            ),
            None => (hostport.to_string(), 3306),
        };
        if host.is_empty() {
            return Err(UrlProblem::NoHost);
        }
        Ok(DatabaseUrl::Mysql {
            user,
            password,
            host,
            port,
            database: database.to_string(),
            socket,
        })
    }

    /// The URL with any password replaced by `***`, safe to print.
    pub(crate) fn redacted(&self) -> String {
        self.to_string()
    }

    /// Which database this is, whatever the password: `mysql://user@host:port/db`
    /// or `sqlite://path`. Two URLs that differ only in the password name the same database.
    pub(crate) fn identity(&self) -> String {
        match self {
            DatabaseUrl::Sqlite { path } => format!("sqlite://{path}"),
            DatabaseUrl::Mysql {
                user,
                host,
                port,
                database,
                socket,
                ..
            } => match socket {
                Some(socket) => format!("mysql://{user}@{host}:{port}/{database}?socket={socket}"),
                None => format!("mysql://{user}@{host}:{port}/{database}"),
            },
        }
    }
}

/// The `socket` of a MariaDB URL's query (`socket=/run/mysqld/mysqld.sock`);
/// any other parameter is refused, not ignored.
fn socket_of(query: &str) -> Result<Option<String>, UrlProblem> {
    let mut socket = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "socket" {
            return Err(UrlProblem::Parameter(percent_decode(name)));
        }
        let path = percent_decode(value);
        if !path.starts_with('/') {
            return Err(UrlProblem::SocketPath);
        }
        socket = Some(path);
    }
    Ok(socket)
}

/// Whether a URL carries a password (without needing it to parse).
pub(crate) fn has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
        || bare_secret(url).is_some()
}

/// `mysql://user:SECRET` or `mysql://user:SECRET/db`: no `@host`, and what
/// follows the `:` is no port number, so it is most likely a password (the
/// host forgotten). Its byte range, to be treated as a password.
fn bare_secret(url: &str) -> Option<std::ops::Range<usize>> {
    let scheme_end = ["mysql://", "mariadb://"]
        .iter()
        .find(|scheme| url.starts_with(**scheme))?
        .len();
    let authority = url[scheme_end..].split('/').next().unwrap_or("");
    if authority.contains('@') || authority.starts_with('[') {
        return None;
    }
    let colon = authority.find(':')?;
    let after = &authority[colon + 1..];
    (!after.is_empty() && !after.bytes().all(|b| b.is_ascii_digit()))
        .then(|| scheme_end + colon + 1..scheme_end + authority.len())
}

/// The byte range of the password inside a URL (`mysql://user:PASSWORD@host/db`),
/// for masking it where the URL is shown as written.
pub(crate) fn password_range(url: &str) -> Option<std::ops::Range<usize>> {
    let authority_start = url.find("://")? + 3;
    let rest = &url[authority_start..];
    let authority = rest.split('/').next().unwrap_or("");
    let Some((userinfo, _)) = authority.rsplit_once('@') else {
        return bare_secret(url);
    };
    let colon = userinfo.find(':')?;
    let start = authority_start + colon + 1;
    Some(start..authority_start + userinfo.len())
}

/// Replace the password of any URL-looking text by `***`.
pub(crate) fn redact(text: &str) -> String {
    match DatabaseUrl::parse(text) {
        Ok(url) => url.redacted(),
        Err(_) if has_password(text) => "<database URL with password>".to_string(),
        // Shown escaped: a raw RLO or control character would garble the message.
        Err(_) => text
            .chars()
            .map(|c| {
                if c.is_control() || crate::chars::is_invisible(c) {
                    format!("\\u{{{:x}}}", c as u32)
                } else {
                    c.to_string()
                }
            })
            .collect(),
    }
}

/// Replace the password of every `scheme://user:password@host` inside a longer
/// text (an error message, say) by `***`.
pub(crate) fn redact_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split(':').next().unwrap_or("");
                out.push_str(user);
                out.push_str(":***@");
                out.push_str(host);
            }
            _ => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite { path } => write!(f, "sqlite://{path}"),
            DatabaseUrl::Mysql {
                user,
                password,
                host,
                port,
                database,
                socket,
            } => {
                let secret = if password.is_some() { ":***" } else { "" };
                write!(f, "mysql://{user}{secret}@{host}:{port}/{database}")?;
                match socket {
                    Some(socket) => write!(f, "?socket={socket}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_drivers() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://.mailops/state.db").unwrap(),
            DatabaseUrl::Sqlite {
                path: ".mailops/state.db".into()
            }
        );
        let url = DatabaseUrl::parse("mysql://mailops:s%40cret@127.0.0.1:3306/mail").unwrap();
        assert_eq!(
            url,
            DatabaseUrl::Mysql {
                user: "mailops".into(),
                password: Some("s@cret".into()),
                host: "127.0.0.1".into(),
                port: 3306,
                database: "mail".into(),
                socket: None,
            }
        );
        assert_eq!(url.redacted(), "mysql://mailops:***@127.0.0.1:3306/mail");
        assert!(!url.redacted().contains("cret"));
    }

    #[test]
    fn a_socket_parameter_names_the_local_socket() {
        let url =
            DatabaseUrl::parse("mysql://mailops:pw@localhost/mail?socket=/run/mysqld/mysqld.sock")
                .unwrap();
        let DatabaseUrl::Mysql { socket, .. } = &url else {
            panic!("{url}")
        };
        assert_eq!(socket.as_deref(), Some("/run/mysqld/mysqld.sock"));
        assert_eq!(
            url.redacted(),
            "mysql://mailops:***@localhost:3306/mail?socket=/run/mysqld/mysqld.sock"
        );
        // Shown the way it parses back.
        assert_eq!(
            DatabaseUrl::parse(&url.identity()).unwrap().identity(),
            url.identity()
        );
        assert_ne!(
            url.identity(),
            DatabaseUrl::parse("mysql://mailops@localhost/mail")
                .unwrap()
                .identity(),
            "a socket and TCP to the same name may be two servers"
        );
        // Percent-encoded paths decode.
        let encoded = DatabaseUrl::parse("mysql://u@localhost/d?socket=%2Frun%2Fm.sock").unwrap();
        assert!(encoded.to_string().ends_with("?socket=/run/m.sock"));
    }

    #[test]
    fn unknown_parameters_and_relative_sockets_are_refused() {
        assert_eq!(
            DatabaseUrl::parse("mysql://u@h/d?sslmode=off"),
            Err(UrlProblem::Parameter("sslmode".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("mysql://u@h/d?socket=run/mysqld.sock"),
            Err(UrlProblem::SocketPath)
        );
        assert_eq!(
            DatabaseUrl::parse("mysql://u@h/d?socket="),
            Err(UrlProblem::SocketPath)
        );
        let message = UrlProblem::Parameter("password".into()).to_string();
        assert!(message.contains("?socket="), "{message}");
    }

    #[test]
    fn the_identity_ignores_the_password() {
        let with = DatabaseUrl::parse("mysql://u:secret@h/d").unwrap();
        let without = DatabaseUrl::parse("mysql://u@h:3306/d").unwrap();
        assert_eq!(with.identity(), without.identity());
        assert_eq!(with.identity(), "mysql://u@h:3306/d");
        assert_ne!(with.redacted(), without.redacted());
    }

    #[test]
    fn finds_passwords() {
        assert!(has_password("mysql://u:p@h/d"));
        assert!(!has_password("mysql://u@h/d"));
        assert!(!has_password("sqlite://a:b/c"));
        assert_eq!(redact("mysql://u:hunter2@h:1/d"), "mysql://u:***@h:1/d");
    }

    /// `mysql://admin:S3cret/db` (the `@host` forgotten) quoted the password
    /// in full: as the "port" in the parse error, and in the platform file's
    /// snippet, which masked only a password before an `@`.
    #[test]
    fn a_password_without_a_host_is_never_echoed() {
        for url in [
            "mysql://admin:S3cret",
            "mysql://admin:S3cret/db",
            "mariadb://a:S3cret/d",
        ] {
            assert!(has_password(url), "{url}");
            assert_eq!(&url[password_range(url).unwrap()], "S3cret");
            assert!(!redact(url).contains("S3cret"), "{url}");
            let err = DatabaseUrl::parse(url).unwrap_err().to_string();
            assert!(!err.contains("S3cret"), "{url}: {err}");
        }
        // A host and port, an IPv6 literal, and SQLite paths are no password.
        for url in [
            "mysql://h:3306/d",
            "mysql://h/d",
            "mysql://[::1]/d",
            "sqlite://a:b/c",
        ] {
            assert!(!has_password(url), "{url}");
        }
        assert!(
            DatabaseUrl::parse("mysql://h:99999/d")
                .unwrap_err()
                .to_string()
                .contains("`99999`")
        );
    }

    #[test]
    fn control_and_invisible_characters_are_refused_and_not_echoed() {
        for url in [
            "mysql://root@127.0.0\u{ad}.1:3306/x",
            "mysql://root@a\u{1}b/x",
            "mysql://u:S3cret@h/x\u{200b}",
            "sqlite://a\u{202e}b.db",
            "sqlite://a\nb.db",
        ] {
            let err = DatabaseUrl::parse(url).unwrap_err().to_string();
            assert!(
                err.contains("the URL holds the character U+"),
                "{url}: {err}"
            );
            assert!(!redact(url).contains("S3cret"));
            assert!(
                !redact(url)
                    .chars()
                    .any(|c| c.is_control() || c == '\u{202e}' || c == '\u{ad}')
            );
        }
        assert_eq!(redact("sqlite://a\u{202e}b.db"), "sqlite://a\\u{202e}b.db");
    }

    #[test]
    fn finds_where_the_password_is() {
        let url = "mysql://mailops:s3cr:et@db.internal:3306/mailserver";
        assert_eq!(&url[password_range(url).unwrap()], "s3cr:et");
        assert_eq!(password_range("mysql://u@h/d"), None);
        assert_eq!(password_range("mysql://u:@h/d"), Some(10..10));
        let odd = "mysql://u:p@ss@h/d";
        assert_eq!(&odd[password_range(odd).unwrap()], "p@ss");
    }

    #[test]
    fn redacts_urls_inside_messages() {
        assert_eq!(
            redact_in("cannot reach mysql://u:hunter2@h:1/d (refused)"),
            "cannot reach mysql://u:***@h:1/d (refused)"
        );
        assert_eq!(redact_in("no url here"), "no url here");
        assert_eq!(
            redact_in("sqlite://a/b and mysql://u@h/d"),
            "sqlite://a/b and mysql://u@h/d"
        );
    }

    #[test]
    fn refuses_incomplete_urls() {
        assert!(DatabaseUrl::parse("postgres://h/d").is_err());
        assert!(DatabaseUrl::parse("mysql://root@h").is_err());
        assert!(DatabaseUrl::parse("mysql://root@h:x/d").is_err());
    }
}
