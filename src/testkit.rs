//! The text of mail-repo files, for the code that writes repos to run mailops
//! on: the integration tests' repo builder (`tests/support`) and the
//! synthetic repo generator of the benchmarks (`examples/synth.rs`).
//!
//! One writer, so that a block written by a test and one written by the
//! generator have the same shape: each block starts with a blank line, and
//! every value is a TOML basic string escaped by [`toml_string`]. Tests
//! assert on line and column numbers in these files, so the shape is fixed:
//! change it and those tests move. Not part of mailops's interface.

use std::fmt::{self, Write as _};

/// The smallest valid platform file (`mailops.toml`).
pub const MINIMAL_PLATFORM: &str = "[mail_host]\nhostname = \"mx.webhizzy.in\"\n";

/// A TOML basic string holding exactly `text`: quotes, backslashes and
/// control characters escaped.
pub fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    push_toml_string(&mut out, text);
    out
}

/// [`toml_string`], appended to `out`.
fn push_toml_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A tenant file (or blocks to append to one), written in the order its
/// parts are added: `TenantText::new("acme.example").dkim(key).mailbox(…)
/// .alias("postmaster", &["alice"]).to_string()`.
#[derive(Debug, Clone, Default)]
pub struct TenantText {
    text: String,
}

impl TenantText {
    /// A tenant file: its first line, `domain = "…"`.
    pub fn new(domain: &str) -> TenantText {
        let mut tenant = TenantText::default();
        tenant.key("domain", domain);
        tenant
    }

    /// Blocks to append to a tenant file: no `domain` line.
    pub fn blocks() -> TenantText {
        TenantText::default()
    }

    /// `description = "…"` (right after the `domain` line).
    pub fn description(&mut self, description: &str) -> &mut Self {
        self.key("description", description)
    }

    /// A `[dkim]` table with one public key.
    pub fn dkim(&mut self, public_key: &str) -> &mut Self {
        self.text.push_str("\n[dkim]\n");
        self.key("public_key", public_key)
    }

    /// A `[limits]` table.
    pub fn limits(
        &mut self,
        max_mailboxes: usize,
        max_aliases: usize,
        max_quota: &str,
    ) -> &mut Self {
        let _ = write!(
            self.text,
            "\n[limits]\nmax_mailboxes = {max_mailboxes}\nmax_aliases = {max_aliases}\n"
        );
        self.key("max_quota", max_quota)
    }

    /// A `[[mailbox]]` block; `name` and `quota` only when given.
    pub fn mailbox(
        &mut self,
        user: &str,
        name: Option<&str>,
        password: &str,
        quota: Option<&str>,
    ) -> &mut Self {
        self.text.push_str("\n[[mailbox]]\n");
        self.key("user", user);
        if let Some(name) = name {
            self.key("name", name);
        }
        self.key("password", password);
        if let Some(quota) = quota {
            self.key("quota", quota);
        }
        self
    }

    /// An `[[alias]]` block: `address` forwards to every address of `to`.
    pub fn alias(&mut self, address: &str, to: &[&str]) -> &mut Self {
        self.text.push_str("\n[[alias]]\n");
        self.key("address", address);
        self.text.push_str("to = [");
        for (i, destination) in to.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            push_toml_string(&mut self.text, destination);
        }
        self.text.push_str("]\n");
        self
    }

    /// Text written as it is (a block these methods do not cover).
    pub fn raw(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `key = "value"`, one line.
    fn key(&mut self, key: &str, value: &str) -> &mut Self {
        self.text.push_str(key);
        self.text.push_str(" = ");
        push_toml_string(&mut self.text, value);
        self.text.push('\n');
        self
    }
}

impl fmt::Display for TenantText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_string_escapes_what_a_basic_string_cannot_hold() {
        assert_eq!(toml_string("plain"), "\"plain\"");
        assert_eq!(
            toml_string("O'Brien \"E\" \\ a\nb\tc\u{7}d\u{202E}"),
            "\"O'Brien \\\"E\\\" \\\\ a\\nb\\tc\\u0007d\u{202E}\""
        );
    }

    #[test]
    fn toml_string_reads_back_as_the_text() {
        let text = "Zoë O'Brien \"Z\" \\ ${x}\n\tsecond\u{0}\u{7f} line";
        let table: toml::Table = format!("v = {}", toml_string(text)).parse().unwrap();
        assert_eq!(table["v"].as_str(), Some(text));
    }

    #[test]
    fn a_tenant_file_is_written_block_by_block() {
        let text = TenantText::new("t0.example")
            .description("Synthetic tenant 0")
            .dkim("KEY")
            .limits(2, 3, "20 GiB")
            .mailbox("user0", Some("User 0"), "{ARGON2ID}h", Some("1 GiB"))
            .mailbox("user1", None, "{ARGON2ID}h", None)
            .alias("team", &["user0", "ops@partner.example"])
            .raw("# end\n")
            .to_string();
        assert_eq!(
            text,
            "domain = \"t0.example\"\ndescription = \"Synthetic tenant 0\"\n\
             \n[dkim]\npublic_key = \"KEY\"\n\
             \n[limits]\nmax_mailboxes = 2\nmax_aliases = 3\nmax_quota = \"20 GiB\"\n\
             \n[[mailbox]]\nuser = \"user0\"\nname = \"User 0\"\npassword = \"{ARGON2ID}h\"\nquota = \"1 GiB\"\n\
             \n[[mailbox]]\nuser = \"user1\"\npassword = \"{ARGON2ID}h\"\n\
             \n[[alias]]\naddress = \"team\"\nto = [\"user0\", \"ops@partner.example\"]\n\
             # end\n"
        );
        let table: toml::Table = text.parse().unwrap();
        assert_eq!(table["mailbox"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn blocks_have_no_domain_line() {
        assert_eq!(
            TenantText::blocks().alias("a", &["b"]).to_string(),
            "\n[[alias]]\naddress = \"a\"\nto = [\"b\"]\n"
        );
    }
}
