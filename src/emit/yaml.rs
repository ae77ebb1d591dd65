//! Writing strings into cloud-init's YAML (parsed by PyYAML, YAML 1.1).
//!
//! Configuration files are embedded as literal block scalars (`|`), so that a
//! reviewer reads them as they will be on disk. A literal block cannot hold
//! everything: characters outside YAML's printable set, carriage returns,
//! YAML 1.1's extra line breaks (U+0085, U+2028, U+2029), a byte-order mark,
//! or a first line that starts with white space (the block's indentation is
//! detected from it). Such text falls back to a double-quoted scalar, which
//! can escape anything. Trailing line breaks pick the chomping indicator
//! (`|-` none, `|` one, `|+` more), so the parsed text is byte-for-byte the
//! original.

/// YAML 1.1 `c-printable`, less the characters that are line breaks in YAML
/// 1.1 and the byte-order mark.
fn is_block_safe(c: char) -> bool {
    matches!(c, '\t' | '\n' | ' '..='~' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FEFE}' | '\u{FF00}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// A double-quoted YAML scalar; any text.
pub(crate) fn yaml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            c if c != '\n' && is_block_safe(c) => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// The value of a mapping key whose lines are indented by `indent` spaces: a
/// literal block scalar when the text allows it, else [`yaml_string`]. The
/// result has no final line break; the template puts the one after it.
pub(crate) fn yaml_block(value: &str, indent: usize) -> String {
    let body = value.trim_end_matches('\n');
    let trailing = value.len() - body.len();
    let first = body.split('\n').next().unwrap_or("");
    let literal = !body.is_empty()
        && !first.starts_with([' ', '\t'])
        && body.chars().all(is_block_safe)
        && indent > 0;
    if !literal {
        return yaml_string(value);
    }
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let pad = " ".repeat(indent);
    let mut out = format!("|{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    for _ in 1..trailing {
        out.push('\n');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// Parse YAML with PyYAML, the parser cloud-init uses, and return it as JSON.
    pub(crate) fn pyyaml(text: &str) -> serde_json::Value {
        let script = "import sys, json, yaml\nprint(json.dumps(yaml.safe_load(sys.stdin.read())))";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs (these tests parse YAML with PyYAML, as cloud-init does: apt-get install python3-yaml)");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "PyYAML could not parse (apt-get install python3-yaml if it is missing):\n{}\n--- input ---\n{text}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    const SAMPLES: &[&str] = &[
        "plain",
        "one line\n",
        "no final newline",
        "two trailing\n\n",
        "many trailing\n\n\n",
        "# a comment line\nkey: value\n  indented\n\n\tafter tab\n",
        " starts with a space\n",
        "\n\nleading blank lines\n",
        "quotes \" and ' and \\ and ${x} and %{y}\n",
        "- looks like a list\n--- looks like a document\n... end\n",
        "trailing spaces   \n   \nlast\n",
        "crlf\r\nline\r\n",
        "nel\u{85}ls\u{2028}ps\u{2029}bom\u{FEFF}\n",
        "control \u{1}\u{7}\u{1b} and del \u{7f}\n",
        "unicode: ü, 日本, 😀\n",
        "",
        "\n",
        "   ",
    ];

    #[test]
    fn yaml_string_escapes() {
        assert_eq!(yaml_string("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(yaml_string("\u{1}\u{2028}\u{FEFF}"), r#""\x01\L\ufeff""#);
        assert_eq!(yaml_string("ü"), "\"ü\"");
    }

    #[test]
    fn yaml_block_picks_chomping_and_falls_back() {
        assert_eq!(yaml_block("a\nb\n", 2), "|\n  a\n  b");
        assert_eq!(yaml_block("a\n\nb", 2), "|-\n  a\n\n  b");
        assert_eq!(yaml_block("a\n\n", 2), "|+\n  a\n");
        assert_eq!(yaml_block(" x\n", 2), "\" x\\n\"");
        assert_eq!(yaml_block("x\r\n", 2), "\"x\\r\\n\"");
        assert_eq!(yaml_block("", 2), "\"\"");
    }

    #[test]
    fn every_sample_parses_back_to_itself_with_pyyaml() {
        let mut doc = String::from("items:\n");
        for (i, sample) in SAMPLES.iter().enumerate() {
            doc.push_str(&format!("  - block{i}: {}\n", yaml_block(sample, 6)));
            doc.push_str(&format!("    string{i}: {}\n", yaml_string(sample)));
        }
        let parsed = pyyaml(&doc);
        let items = parsed["items"].as_array().unwrap();
        for (i, sample) in SAMPLES.iter().enumerate() {
            assert_eq!(
                items[i][format!("block{i}")],
                *sample,
                "block {i}: {sample:?}\n{doc}"
            );
            assert_eq!(
                items[i][format!("string{i}")],
                *sample,
                "string {i}: {sample:?}"
            );
        }
    }
}
