//! Quoting for the MariaDB statements cloud-init runs once as root to create
//! the routing database and the mail services' read-only user.
//!
//! MariaDB's default `sql_mode` treats `\` as an escape inside string
//! literals, so both `\` and `'` are escaped (and NUL, line breaks and
//! Ctrl-Z, as `mysql_real_escape_string` does). Identifiers are quoted in
//! backticks, with a backtick doubled.

/// A string literal: `'…'`.
pub(crate) fn mysql_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{1a}' => out.push_str("\\Z"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// An identifier (database name): `` `…` ``.
pub(crate) fn mysql_ident(value: &str) -> String {
    format!("`{}`", value.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_quotes_and_backslashes() {
        assert_eq!(mysql_string("mailuser"), "'mailuser'");
        assert_eq!(mysql_string("o'brien"), r"'o\'brien'");
        assert_eq!(
            mysql_string(r"a\'; DROP TABLE x; --"),
            r"'a\\\'; DROP TABLE x; --'"
        );
        assert_eq!(mysql_string("a\nb\0\u{1a}\""), r#"'a\nb\0\Z\"'"#);
    }

    #[test]
    fn identifiers_double_backticks() {
        assert_eq!(mysql_ident("mailserver"), "`mailserver`");
        assert_eq!(mysql_ident("a`b"), "`a``b`");
    }
}
