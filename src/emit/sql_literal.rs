//! SQL string literals for the generated SQL files, one function per dialect.
//!
//! The generated files keep one row per line (so that a tenant's change
//! touches only its own lines), so a value can never put a raw line break into
//! the output: MySQL gets backslash escapes, SQLite (which has none) gets the
//! text split around each control character and glued back with
//! `|| char(N) ||`. Structured values never hold quotes, backslashes or control
//! characters (validation refuses them); free text (`Mailbox.name`) may.
//!
//! The statements mailops *runs* never use these: they bind parameters.

/// A MySQL/MariaDB string literal, quotes included.
///
/// Backslash escapes assume the default `sql_mode` (no `NO_BACKSLASH_ESCAPES`);
/// the generated MySQL file sets that mode for its session first.
pub(crate) fn mysql_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_mysql_literal(&mut out, value);
    out
}

/// `mysql_literal`, appended to `out` (the SQL emitter writes a million of
/// them into one buffer).
pub(crate) fn push_mysql_literal(out: &mut String, value: &str) {
    out.reserve(value.len() + 2);
    out.push('\'');
    if !any_byte(value, |b| b < 0x20 || b == b'\'' || b == b'\\') {
        out.push_str(value);
        out.push('\'');
        return;
    }
    // Every byte that needs an escape is ASCII, so each cut is at a char boundary.
    let mut start = 0;
    for (i, byte) in value.bytes().enumerate() {
        let escape = match byte {
            b'\'' => "''",
            b'\\' => "\\\\",
            b'\0' => "\\0",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x1a => "\\Z",
            _ => continue,
        };
        out.push_str(&value[start..i]);
        out.push_str(escape);
        start = i + 1;
    }
    out.push_str(&value[start..]);
    out.push('\'');
}

/// An SQLite string expression: a literal, or for text with control
/// characters a parenthesised concatenation like `('a' || char(10) || 'b')`.
pub(crate) fn sqlite_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    push_sqlite_literal(&mut out, value);
    out
}

/// `sqlite_literal`, appended to `out`.
pub(crate) fn push_sqlite_literal(out: &mut String, value: &str) {
    // C0 controls and DEL are single bytes; C1 controls (U+0080 to U+009F)
    // are encoded C2 80 to C2 9F.
    if !any_byte(value, |b| b < 0x20 || b == 0x7f || b == 0xc2 || b == b'\'') {
        out.reserve(value.len() + 2);
        out.push('\'');
        out.push_str(value);
        out.push('\'');
        return;
    }
    if !value.chars().any(char::is_control) {
        push_quoted_sqlite(out, value);
        return;
    }
    out.push('(');
    let mut first = true;
    let mut separate = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push_str(" || ");
        }
    };
    let mut run = 0;
    for (i, c) in value.char_indices() {
        if c.is_control() {
            if run < i {
                separate(out);
                push_quoted_sqlite(out, &value[run..i]);
            }
            separate(out);
            out.push_str("char(");
            out.push_str(&(c as u32).to_string());
            out.push(')');
            run = i + c.len_utf8();
        }
    }
    if run < value.len() {
        separate(out);
        push_quoted_sqlite(out, &value[run..]);
    }
    out.push(')');
}

/// Whether any byte of `value` is `special`: a scan without an early exit,
/// which the compiler vectorises (most values hold no special byte).
#[inline]
fn any_byte(value: &str, special: impl Fn(u8) -> bool) -> bool {
    value
        .bytes()
        .fold(false, |found, byte| found | special(byte))
}

/// `'text'` with each `'` doubled: SQLite has no other escape in a literal.
fn push_quoted_sqlite(out: &mut String, value: &str) {
    out.reserve(value.len() + 2);
    out.push('\'');
    let mut start = 0;
    for (i, byte) in value.bytes().enumerate() {
        if byte == b'\'' {
            // Up to and including the quote, then the quote once more.
            out.push_str(&value[start..=i]);
            out.push('\'');
            start = i + 1;
        }
    }
    out.push_str(&value[start..]);
    out.push('\'');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_are_only_quoted() {
        assert_eq!(mysql_literal("alice@acme.example"), "'alice@acme.example'");
        assert_eq!(sqlite_literal("alice@acme.example"), "'alice@acme.example'");
        assert_eq!(mysql_literal(""), "''");
        assert_eq!(sqlite_literal(""), "''");
    }

    #[test]
    fn mysql_escapes_quotes_backslashes_and_controls() {
        assert_eq!(mysql_literal("O'Brien"), "'O''Brien'");
        assert_eq!(mysql_literal(r"C:\dir\"), r"'C:\\dir\\'");
        assert_eq!(mysql_literal("a\nb\r\tc"), r"'a\nb\r\tc'");
        assert_eq!(mysql_literal("nul\0sub\u{1a}"), r"'nul\0sub\Z'");
        // A quote after a backslash cannot close the literal.
        assert_eq!(
            mysql_literal(r"\'; DROP TABLE x; --"),
            r"'\\''; DROP TABLE x; --'"
        );
        assert!(!mysql_literal("x\ny").contains('\n'));
    }

    #[test]
    fn sqlite_doubles_quotes_and_keeps_backslashes() {
        assert_eq!(sqlite_literal("O'Brien"), "'O''Brien'");
        assert_eq!(sqlite_literal(r"C:\dir\"), r"'C:\dir\'");
        assert_eq!(sqlite_literal("${x} %{y}"), "'${x} %{y}'");
    }

    #[test]
    fn sqlite_splits_around_control_characters() {
        assert_eq!(sqlite_literal("a\nb"), "('a' || char(10) || 'b')");
        assert_eq!(sqlite_literal("\nb'"), "(char(10) || 'b''')");
        assert_eq!(sqlite_literal("a\t\n"), "('a' || char(9) || char(10))");
        assert!(!sqlite_literal("x\r\ny").contains('\n'));
    }

    #[test]
    fn push_variants_append_the_same_literal() {
        for text in [
            "plain",
            "O'Brien",
            "a\nb\r\nc",
            "\t'\\'\n",
            "${x}",
            "",
            "Zoë\u{85}x",
            "\0\u{1a}",
        ] {
            let mut out = String::from("x, ");
            push_mysql_literal(&mut out, text);
            assert_eq!(out, format!("x, {}", mysql_literal(text)));
            let mut out = String::from("x, ");
            push_sqlite_literal(&mut out, text);
            assert_eq!(out, format!("x, {}", sqlite_literal(text)));
        }
        assert_eq!(sqlite_literal("Zoë\u{85}"), "('Zoë' || char(133))");
    }

    #[test]
    fn sqlite_literals_evaluate_back_to_the_text() {
        // Run the literals through the real SQLite engine (the bundled one sqlx links).
        use sqlx::{Connection, SqliteConnection};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
            for text in ["plain", "O'Brien", "a\nb\r\nc", "\t'\\'\n", "${x}", ""] {
                let sql = format!("SELECT {}", sqlite_literal(text));
                let back: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                assert_eq!(back, text);
            }
        });
    }
}
