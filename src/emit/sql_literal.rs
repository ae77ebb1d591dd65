//! SQL string literals for the generated SQL files, one function per dialect.
//!
//! The generated files keep one statement per line (so that a tenant's change
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
    out.push('\'');
    for c in value.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1a}' => out.push_str("\\Z"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// An SQLite string expression: a literal, or for text with control
/// characters a parenthesised concatenation like `('a' || char(10) || 'b')`.
pub(crate) fn sqlite_literal(value: &str) -> String {
    if !value.chars().any(char::is_control) {
        return quote_sqlite(value);
    }
    let mut parts: Vec<String> = Vec::new();
    let mut run = String::new();
    for c in value.chars() {
        if c.is_control() {
            if !run.is_empty() {
                parts.push(quote_sqlite(&run));
                run.clear();
            }
            parts.push(format!("char({})", c as u32));
        } else {
            run.push(c);
        }
    }
    if !run.is_empty() {
        parts.push(quote_sqlite(&run));
    }
    format!("({})", parts.join(" || "))
}

/// `'text'` with each `'` doubled: SQLite has no other escape in a literal.
fn quote_sqlite(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
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
