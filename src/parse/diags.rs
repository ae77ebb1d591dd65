//! The catalogue of parse-stage diagnostics: TOML syntax, keys and types.

use crate::diagnostic::Diagnostic;
use crate::diagnostic_code::codes;
use crate::source::Location;

codes! {
    /// The parse stage's codes.
    pub(crate) enum ParseCode {
        InvalidValue = "mailops::parse::invalid-value",
        MissingKey = "mailops::parse::missing-key",
        Syntax = "mailops::parse::syntax",
        UnknownKey = "mailops::parse::unknown-key",
        WrongType = "mailops::parse::wrong-type",
    }
}

/// `later`: how many further syntax errors the parser found after this one
/// (not reported: they mostly follow from the first).
pub(crate) fn syntax(loc: Location, message: &str, later: usize) -> Diagnostic {
    let message = message.trim().trim_end_matches('.');
    let help = if later == 0 {
        "fix the TOML syntax; see https://toml.io for the format".to_string()
    } else {
        "fix the TOML syntax (see https://toml.io) and run again: only the first syntax error of a file is shown, as later ones often follow from it".to_string()
    };
    Diagnostic::error(ParseCode::Syntax, format!("malformed TOML: {message}"))
        .at(loc, "here")
        .help(help)
}

fn in_table(path: &str) -> String {
    if path.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{path}`")
    }
}

pub(crate) fn unknown_key(loc: Location, key: &str, path: &str, known: &[&str]) -> Diagnostic {
    let diagnostic = Diagnostic::error(
        ParseCode::UnknownKey,
        format!("unknown key `{key}` {}", in_table(path)),
    )
    .at(loc, "not a known key");
    match did_you_mean(key, known) {
        Some(suggestion) => diagnostic.help(format!("did you mean `{suggestion}`?")),
        None if known.is_empty() => diagnostic.help("this table takes no keys"),
        None => diagnostic.help(format!("known keys here: {}", known.join(", "))),
    }
}

pub(crate) fn wrong_type(loc: Location, path: &str, expected: &str, found: &str) -> Diagnostic {
    let key = path.rsplit('.').next().unwrap_or(path);
    Diagnostic::error(
        ParseCode::WrongType,
        format!(
            "`{path}` must be {} {expected}, not {} {found}",
            article(expected),
            article(found)
        ),
    )
    .at(loc, format!("expected {expected}"))
    .help(match expected {
        "string" => format!("write the value in double quotes: {key} = \"…\""),
        "integer" => format!("write a whole number without quotes: {key} = 100"),
        "array" => format!("write a list: {key} = [\"…\"]"),
        "table" => format!("write `{key}` as a table: [{path}] or {key} = {{ … }}"),
        _ => format!("`{path}` takes {} {expected}", article(expected)),
    })
}

pub(crate) fn missing_key(loc: Location, key: &str, path: &str) -> Diagnostic {
    let full = if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    };
    let help = match full.as_str() {
        "domain" => {
            "add `domain = \"<the domain>\"`; it must equal the file name without .toml".to_string()
        }
        "dkim" | "dkim.public_key" => {
            "run `mailops dkim keygen <domain>`: it writes the public key into this file"
                .to_string()
        }
        "mail_host" | "mail_host.hostname" => {
            "add `[mail_host]` with `hostname = \"mx.example.com\"`".to_string()
        }
        _ => format!("add `{key}`"),
    };
    Diagnostic::error(
        ParseCode::MissingKey,
        format!("missing required key `{key}` {}", in_table(path)),
    )
    .at(loc, format!("`{full}` is required"))
    .help(help)
}

/// An integer beyond TOML's 64 bits (`max_mailboxes = 99999999999999999999`).
pub(crate) fn integer_out_of_range(loc: Location, path: &str) -> Diagnostic {
    Diagnostic::error(
        ParseCode::InvalidValue,
        format!("`{path}` is out of range: a whole number here is at most 9223372036854775807"),
    )
    .at(loc, "this value")
    .help("write a smaller number; each key's range is in the file format in README.md")
}

pub(crate) fn invalid_value(loc: Location, message: &str) -> Diagnostic {
    Diagnostic::error(ParseCode::InvalidValue, message.trim().to_string())
        .at(loc, "this value")
        .help("see the file format in README.md")
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// The closest known name, if it is close enough to be a likely typo: similar
/// by Jaro-Winkler, or one edit (insertion, deletion, substitution or swap of
/// neighbours) away, which catches typos in short keys like `tll` for `ttl`.
pub(crate) fn did_you_mean<'a>(given: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| {
            (
                strsim::jaro_winkler(given, k),
                strsim::osa_distance(given, k),
                *k,
            )
        })
        .filter(|(score, edits, _)| *score >= 0.8 || *edits <= 1)
        .max_by(|a, b| b.1.cmp(&a.1).then(a.0.total_cmp(&b.0)))
        .map(|(_, _, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let known = ["quota", "user", "password", "name"];
        assert_eq!(did_you_mean("qouta", &known), Some("quota"));
        assert_eq!(did_you_mean("passwd", &known), Some("password"));
        assert_eq!(did_you_mean("zzz", &known), None);
    }

    /// Regression: `tll` (for `ttl`) scored below the Jaro-Winkler threshold,
    /// so the help listed every key instead of suggesting the one meant.
    #[test]
    fn did_you_mean_catches_short_key_typos() {
        let known = ["ttl", "zone_id", "spf", "dmarc"];
        assert_eq!(did_you_mean("tll", &known), Some("ttl"));
        assert_eq!(did_you_mean("tl", &known), Some("ttl"));
        assert_eq!(did_you_mean("spf1", &known), Some("spf"));
        assert_eq!(did_you_mean("mx", &known), None);
    }
}
