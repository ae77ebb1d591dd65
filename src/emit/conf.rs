//! Writing values into Postfix, Dovecot and Rspamd configuration files.
//!
//! The values mailops writes there come from the platform file and were
//! validated (host names, paths, database names: no quotes, spaces or control
//! characters), and no tenant free text reaches these files at all. These
//! functions are the second line of defence: each one knows the syntax of one
//! format, escapes what that syntax can escape, and refuses
//! ([`Unrepresentable`]) what it cannot express, rather than writing a value
//! that would mean something else. A refusal means validation let a value
//! through that it should not have: a bug in mailops, not a user error.
//!
//! What each syntax does with special characters (checked against Postfix
//! 3.7, Dovecot 2.3.19 and Rspamd 3.4):
//! - Postfix `main.cf`: a value runs to the end of the line; `$name` and
//!   `${name}` expand parameters, `$$` is a literal `$`; a line that starts
//!   with white space continues the previous one. Lookup-table files
//!   (`mysql_table(5)`, `sqlite_table(5)`) use the same line syntax but do not
//!   expand `$`.
//! - Dovecot: a value is bare, or double-quoted with `\"` and `\\`; an
//!   unquoted ` #` starts a comment; `%` expands variables in the settings
//!   that take them (`%%` is a literal `%`); `<path` reads a file and takes
//!   the path unquoted. SQL connect strings split on spaces and have no quoting.
//! - Rspamd (UCL): double-quoted strings take JSON escapes but expand
//!   `$NAME`/`${NAME}` for Rspamd's variables (`$CONFDIR`, …) with no way to
//!   escape `$`; single-quoted strings expand nothing and know only `\'`.
//! - MariaDB option files (`my.cnf`, checked with MariaDB 10.11's
//!   `my_print_defaults`): a value runs to the end of the line, trimmed; an
//!   unquoted `#` starts a comment; a value wholly in `"…"` (or `'…'`) loses
//!   its quotes, and `\"`, `\\`, `\n`, `\t` inside are escapes.

use std::fmt;

/// A value the target syntax cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unrepresentable {
    pub(crate) format: &'static str,
    pub(crate) value: String,
    pub(crate) reason: &'static str,
}

impl fmt::Display for Unrepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} cannot be written in {}: {}",
            self.value, self.format, self.reason
        )
    }
}

impl std::error::Error for Unrepresentable {}

pub(crate) type Quoted = Result<String, Unrepresentable>;

fn refuse(format: &'static str, value: &str, reason: &'static str) -> Quoted {
    Err(Unrepresentable {
        format,
        value: value.to_string(),
        reason,
    })
}

fn has_control(value: &str) -> bool {
    value.chars().any(char::is_control)
}

/// Characters that mean nothing special in any of these formats.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(c, '.' | '_' | '-' | '+' | '@' | '/' | ':' | ',' | '=' | '*')
}

/// Text inside a `#` or `--` comment, in any of the formats: one line, so a
/// value can never end the comment and start a setting.
pub(crate) fn comment_text(value: &str) -> Quoted {
    if has_control(value) {
        return refuse("a comment", value, "a line break would end the comment");
    }
    Ok(value.to_string())
}

/// A `main.cf` parameter value: `$` doubled so that it is not expanded.
pub(crate) fn postfix_value(value: &str) -> Quoted {
    if has_control(value) {
        return refuse(
            "main.cf",
            value,
            "a Postfix value cannot hold a line break or control character",
        );
    }
    if value.trim() != value {
        return refuse(
            "main.cf",
            value,
            "Postfix strips white space around a value",
        );
    }
    Ok(value.replace('$', "$$"))
}

/// A value in a Postfix lookup-table file (`mysql:`/`sqlite:` map): no `$`
/// expansion there, but still one line, trimmed.
pub(crate) fn postfix_map_value(value: &str) -> Quoted {
    if has_control(value) {
        return refuse(
            "a Postfix lookup table file",
            value,
            "a value cannot hold a line break or control character",
        );
    }
    if value.trim() != value || value.is_empty() {
        return refuse(
            "a Postfix lookup table file",
            value,
            "Postfix strips white space around a value",
        );
    }
    Ok(value.to_string())
}

/// A Dovecot setting value: bare when it holds only plain characters,
/// otherwise double-quoted.
pub(crate) fn dovecot_value(value: &str) -> Quoted {
    if has_control(value) {
        return refuse(
            "dovecot.conf",
            value,
            "a Dovecot value cannot hold a line break or control character",
        );
    }
    if !value.is_empty() && value.chars().all(is_plain) {
        return Ok(value.to_string());
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// A literal inside a Dovecot setting that expands `%` variables
/// (`mail_location`, `mail_home`, `postmaster_address`, …): `%` doubled, then
/// quoted like [`dovecot_value`].
pub(crate) fn dovecot_expanded(value: &str) -> Quoted {
    dovecot_value(&value.replace('%', "%%"))
}

/// The path after `<` in `ssl_cert = <path`: Dovecot takes it unquoted.
pub(crate) fn dovecot_file(value: &str) -> Quoted {
    if value.starts_with('/') && value.chars().all(is_plain) {
        Ok(value.to_string())
    } else {
        refuse(
            "dovecot.conf",
            value,
            "a `<file` path must be absolute and hold no space, quote or `#`",
        )
    }
}

/// One `name=value` of a Dovecot SQL `connect` string, which is split on
/// spaces and has no quoting.
pub(crate) fn dovecot_connect_value(value: &str) -> Quoted {
    if !value.is_empty() && value.chars().all(is_plain) {
        Ok(value.to_string())
    } else {
        refuse(
            "a Dovecot SQL connect string",
            value,
            "connect values are split on spaces and cannot be quoted",
        )
    }
}

/// An Rspamd (UCL) string. Double-quoted with JSON escapes when it holds no
/// `$`; single-quoted (no variable expansion) when it holds `$`, which then
/// stays literal, as `$domain` and `$selector` in a key path template must.
pub(crate) fn ucl_string(value: &str) -> Quoted {
    if !value.contains('$') {
        let mut out = String::with_capacity(value.len() + 2);
        out.push('"');
        for c in value.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        return Ok(out);
    }
    if has_control(value) || value.contains('\\') {
        return refuse(
            "an Rspamd (UCL) string",
            value,
            "a string with `$` must be single-quoted, and single quotes cannot escape `\\` or control characters",
        );
    }
    Ok(format!("'{}'", value.replace('\'', "\\'")))
}

/// A MariaDB option file value (`key = value` in `my.cnf`): bare when it is
/// plain, else double-quoted with `\` and `"` escaped, so that no `#` starts
/// a comment and no space at either end is trimmed. A line break would end
/// the setting: refused, as every control character.
pub(crate) fn my_cnf_value(value: &str) -> Quoted {
    if has_control(value) {
        return refuse(
            "a MariaDB option file",
            value,
            "a line break would end the setting",
        );
    }
    if !value.is_empty() && value.chars().all(is_plain) {
        return Ok(value.to_string());
    }
    Ok(format!(
        "\"{}\"",
        value.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const HOSTILE: &str = "Acme \"Corp\" \\ ${x} %{y} $z #c\nline 2";

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(
            comment_text("mx.webhizzy.in \"x\" $y").unwrap(),
            "mx.webhizzy.in \"x\" $y"
        );
        assert!(comment_text("x\nmydestination = evil").is_err());
        assert!(comment_text("x\r").is_err());
    }

    #[test]
    fn postfix_values_double_dollars_and_refuse_line_breaks() {
        assert_eq!(postfix_value("mx.webhizzy.in").unwrap(), "mx.webhizzy.in");
        assert_eq!(postfix_value("a$b ${c}").unwrap(), "a$$b $${c}");
        assert_eq!(postfix_value("# not a comment").unwrap(), "# not a comment");
        assert!(postfix_value("a\nmydestination = evil").is_err());
        assert!(postfix_value("a\r").is_err());
        assert!(postfix_value(" leading").is_err());
        assert!(postfix_value(HOSTILE).is_err());
    }

    #[test]
    fn postfix_map_values_keep_dollars_and_refuse_line_breaks() {
        assert_eq!(
            postfix_map_value("/var/lib/a$b.db").unwrap(),
            "/var/lib/a$b.db"
        );
        assert!(postfix_map_value("x\nquery = SELECT 1").is_err());
        assert!(postfix_map_value("").is_err());
        assert!(postfix_map_value("trailing ").is_err());
    }

    #[test]
    fn dovecot_values_are_bare_or_quoted() {
        assert_eq!(dovecot_value("/var/vmail").unwrap(), "/var/vmail");
        assert_eq!(
            dovecot_value("postmaster@webhizzy.in").unwrap(),
            "postmaster@webhizzy.in"
        );
        assert_eq!(dovecot_value("a b").unwrap(), "\"a b\"");
        assert_eq!(
            dovecot_value("say \"hi\" \\o/ #x").unwrap(),
            r#""say \"hi\" \\o/ #x""#
        );
        assert_eq!(dovecot_value("").unwrap(), "\"\"");
        assert!(dovecot_value("a\nb").is_err());
        assert!(dovecot_value(HOSTILE).is_err());
    }

    #[test]
    fn dovecot_expanded_doubles_percent() {
        assert_eq!(dovecot_expanded("/var/vmail").unwrap(), "/var/vmail");
        assert_eq!(dovecot_expanded("100%").unwrap(), "\"100%%\"");
        assert_eq!(dovecot_expanded("%{home}").unwrap(), "\"%%{home}\"");
    }

    #[test]
    fn dovecot_file_paths_must_be_plain_and_absolute() {
        assert_eq!(
            dovecot_file("/etc/letsencrypt/live/mx.webhizzy.in/fullchain.pem").unwrap(),
            "/etc/letsencrypt/live/mx.webhizzy.in/fullchain.pem"
        );
        assert!(dovecot_file("relative.pem").is_err());
        assert!(dovecot_file("/a b.pem").is_err());
        assert!(dovecot_file("/a\"b").is_err());
        assert!(dovecot_file("/a#b").is_err());
    }

    #[test]
    fn dovecot_connect_values_have_no_spaces() {
        assert_eq!(dovecot_connect_value("127.0.0.1").unwrap(), "127.0.0.1");
        assert_eq!(
            dovecot_connect_value("@@MAILOPS_DB_PASSWORD@@").unwrap(),
            "@@MAILOPS_DB_PASSWORD@@"
        );
        assert!(dovecot_connect_value("mail user").is_err());
        assert!(dovecot_connect_value("x password=evil").is_err());
        assert!(dovecot_connect_value("").is_err());
        assert!(dovecot_connect_value("a\"b").is_err());
    }

    #[test]
    fn ucl_strings_escape_or_single_quote() {
        assert_eq!(ucl_string("dkim").unwrap(), "\"dkim\"");
        assert_eq!(
            ucl_string("a\"b\\c\nd\u{1}").unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001\""
        );
        assert_eq!(
            ucl_string("/var/lib/rspamd/dkim/$domain.$selector.key").unwrap(),
            "'/var/lib/rspamd/dkim/$domain.$selector.key'"
        );
        assert_eq!(
            ucl_string("${CONFDIR} it's").unwrap(),
            "'${CONFDIR} it\\'s'"
        );
        assert!(ucl_string("$x\\").is_err());
        assert!(ucl_string("$x\n").is_err());
        assert!(ucl_string(HOSTILE).is_err());
    }

    #[test]
    fn my_cnf_values_are_bare_or_quoted() {
        assert_eq!(
            my_cnf_value("gcomm://10.20.1.11,10.20.1.12").unwrap(),
            "gcomm://10.20.1.11,10.20.1.12"
        );
        assert_eq!(
            my_cnf_value("mailops-webhizzy.in").unwrap(),
            "mailops-webhizzy.in"
        );
        assert_eq!(my_cnf_value("a # b").unwrap(), "\"a # b\"");
        assert_eq!(my_cnf_value(" x ").unwrap(), "\" x \"");
        assert_eq!(my_cnf_value("a\"b\\c").unwrap(), r#""a\"b\\c""#);
        assert_eq!(my_cnf_value("").unwrap(), "\"\"");
        assert!(my_cnf_value("x\nwsrep_on = OFF").is_err());
        assert!(my_cnf_value(HOSTILE).is_err());
    }

    /// What MariaDB itself reads of `text`'s `[group]`: `my_print_defaults`'s
    /// lines (`--key=value`). MariaDB is on every machine the tests run on
    /// (the database tests need it): a missing tool fails the test.
    pub(crate) fn mariadb_reads(text: &str, group: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.cnf");
        std::fs::write(&file, text).unwrap();
        let output = std::process::Command::new("my_print_defaults")
            .arg(format!("--defaults-file={}", file.display()))
            .arg(group)
            .output()
            .expect("my_print_defaults (MariaDB's client tools) must be installed");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    /// What MariaDB itself reads back.
    #[test]
    fn my_cnf_values_read_back_as_written() {
        let values = ["plain.value-1", "a # b", " spaced ", "q\"uo'te\\", ""];
        let mut text = String::from("[galera]\n");
        for (i, value) in values.iter().enumerate() {
            text.push_str(&format!("k{i} = {}\n", my_cnf_value(value).unwrap()));
        }
        let expected: String = values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("--k{i}={v}\n"))
            .collect();
        assert_eq!(mariadb_reads(&text, "galera"), expected);
    }
}
