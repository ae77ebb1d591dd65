//! Diagnostics: what every stage reports about user input, and how they are printed.
//!
//! A stage never prints and never stops at the first problem: it pushes
//! `Diagnostic`s into a `Diagnostics` list and returns what it could build.
//! The wording of each diagnostic lives in the stage's `diags.rs` catalogue;
//! this module only knows how to carry and render them (miette's graphical
//! report for humans, a flat JSON form for machines).

use std::fmt;
use std::ops::Range;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use serde::Serialize;

use crate::diagnostic_code::StageCode;
use crate::source::{FileId, Location, SourceMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Error,
    Warning,
}

/// A labelled place in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Label {
    pub(crate) loc: Location,
    pub(crate) text: String,
}

/// One problem found in the user's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Diagnostic {
    /// Stable code, `mailops::<area>::<kebab-case-name>`: one of
    /// `diagnostic_catalogue::Code::iter()`.
    pub(crate) code: &'static str,
    pub(crate) severity: Severity,
    pub(crate) message: String,
    /// The offending value; `None` only for problems that have no place in a file.
    pub(crate) primary: Option<Label>,
    /// Related places ("first defined here").
    pub(crate) secondary: Vec<Label>,
    pub(crate) help: Option<String>,
}

impl Diagnostic {
    pub(crate) fn error(code: impl StageCode, message: impl Into<String>) -> Self {
        Diagnostic {
            code: code.code(),
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    pub(crate) fn warning(code: impl StageCode, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub(crate) fn at(mut self, loc: Location, text: impl Into<String>) -> Self {
        self.primary = Some(Label {
            loc,
            text: text.into(),
        });
        self
    }

    pub(crate) fn related(mut self, loc: Location, text: impl Into<String>) -> Self {
        self.secondary.push(Label {
            loc,
            text: text.into(),
        });
        self
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    fn sort_key(&self, sources: &SourceMap) -> (String, usize, &'static str, String) {
        match &self.primary {
            Some(label) => (
                sources.file(label.loc.file).name.clone(),
                label.loc.span.start,
                self.code,
                self.message.clone(),
            ),
            None => (String::new(), 0, self.code, self.message.clone()),
        }
    }
}

/// The diagnostics of a run, in the order they were found.
#[derive(Debug, Default, Clone)]
pub(crate) struct Diagnostics {
    items: Vec<Diagnostic>,
    /// Values never shown in a rendered snippet (a password that may be
    /// plaintext): masked with `*` wherever their line is printed.
    secrets: Vec<Location>,
    /// Exact byte ranges never shown (the password inside a database URL).
    exact_secrets: Vec<Location>,
}

impl Diagnostics {
    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// In the order they were found.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Keep the text at `loc` out of every rendered snippet.
    pub(crate) fn mark_secret(&mut self, loc: Location) {
        self.secrets.push(loc);
    }

    /// Keep exactly the bytes at `loc` out of every rendered snippet (no
    /// quote or `{SCHEME}` is left readable).
    pub(crate) fn mark_secret_exact(&mut self, loc: Location) {
        self.exact_secrets.push(loc);
    }

    /// A file's text with every secret in it masked (same byte length, so spans stay valid).
    fn masked_text(&self, sources: &SourceMap, file: FileId) -> String {
        let mut text = sources.file(file).text().to_string();
        for secret in self.secrets.iter().filter(|s| s.file == file) {
            let Some(value) = text.get(secret.span.clone()) else {
                continue;
            };
            let inner = value.trim_matches(|c| c == '"' || c == '\'');
            let mut start =
                secret.span.start + (value.len() - value.trim_start_matches(['"', '\'']).len());
            let mut hidden = inner;
            // A `{SCHEME}` prefix stays readable: it is what the diagnostic is about.
            if let Some(end) = inner.strip_prefix('{').and_then(|rest| rest.find('}')) {
                start += end + 2;
                hidden = &inner[end + 2..];
            }
            let masked = "*".repeat(hidden.len());
            text.replace_range(start..start + hidden.len(), &masked);
        }
        for secret in self.exact_secrets.iter().filter(|s| s.file == file) {
            if let Some(value) = text.get(secret.span.clone()) {
                let masked = "*".repeat(value.len());
                text.replace_range(secret.span.clone(), &masked);
            }
        }
        text
    }

    pub(crate) fn extend(&mut self, other: Diagnostics) {
        self.secrets.extend(other.secrets);
        self.exact_secrets.extend(other.exact_secrets);
        self.items.extend(other.items);
    }

    pub(crate) fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub(crate) fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many there are.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Sorted by file, position and code, so that output is stable.
    pub(crate) fn sorted(&self, sources: &SourceMap) -> Vec<&Diagnostic> {
        let mut items: Vec<&Diagnostic> = self.items.iter().collect();
        items.sort_by_cached_key(|d| d.sort_key(sources));
        items
    }

    /// The closing line: "2 errors, 1 warning".
    pub(crate) fn summary(&self) -> String {
        let errors = self.count(Severity::Error);
        let warnings = self.count(Severity::Warning);
        format!(
            "{errors} error{}, {warnings} warning{}",
            if errors == 1 { "" } else { "s" },
            if warnings == 1 { "" } else { "s" }
        )
    }

    /// miette's graphical report of every diagnostic, sorted.
    pub(crate) fn render_human(&self, sources: &SourceMap, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_width(100);
        let mut out = String::new();
        let mut texts: std::collections::HashMap<FileId, Clipped> =
            std::collections::HashMap::new();
        let mut text_of = |file: FileId| -> Clipped {
            texts
                .entry(file)
                .or_insert_with(|| Clipped::new(&self.masked_text(sources, file)))
                .clone()
        };
        for diagnostic in self.sorted(sources) {
            let report = Report::new(diagnostic, sources, &mut text_of);
            if handler.render_report(&mut out, &report).is_err() {
                out.push_str(&format!("{}: {}\n", diagnostic.code, diagnostic.message));
            }
            out.push('\n');
        }
        out
    }

    /// The JSON form: `{"diagnostics": [...], "errors": N, "warnings": M}`.
    pub(crate) fn render_json(&self, sources: &SourceMap) -> String {
        let diagnostics: Vec<JsonDiagnostic> = self
            .sorted(sources)
            .into_iter()
            .map(|d| JsonDiagnostic::new(d, sources))
            .collect();
        let doc = serde_json::json!({
            "diagnostics": diagnostics,
            "errors": self.count(Severity::Error),
            "warnings": self.count(Severity::Warning),
        });
        let mut text = serde_json::to_string_pretty(&doc).expect("diagnostics serialize");
        text.push('\n');
        text
    }
}

#[derive(Serialize)]
struct JsonLabel {
    file: String,
    line: usize,
    column: usize,
    message: String,
}

impl JsonLabel {
    fn new(label: &Label, sources: &SourceMap) -> Self {
        let (line, column) = sources.line_col(label.loc.file, label.loc.span.start);
        JsonLabel {
            file: sources.file(label.loc.file).name.clone(),
            line,
            column,
            message: label.text.clone(),
        }
    }
}

#[derive(Serialize)]
struct JsonDiagnostic {
    file: Option<String>,
    line: Option<usize>,
    column: Option<usize>,
    code: &'static str,
    severity: Severity,
    message: String,
    help: Option<String>,
    labels: Vec<JsonLabel>,
}

impl JsonDiagnostic {
    fn new(d: &Diagnostic, sources: &SourceMap) -> Self {
        let primary = d.primary.as_ref().map(|l| JsonLabel::new(l, sources));
        JsonDiagnostic {
            file: primary.as_ref().map(|p| p.file.clone()),
            line: primary.as_ref().map(|p| p.line),
            column: primary.as_ref().map(|p| p.column),
            code: d.code,
            severity: d.severity,
            message: d.message.clone(),
            help: d.help.clone(),
            labels: primary
                .into_iter()
                .chain(d.secondary.iter().map(|l| JsonLabel::new(l, sources)))
                .collect(),
        }
    }
}

/// Adapter from a [`Diagnostic`] to miette. Labels in the primary file are
/// drawn in one snippet; a related place in another file becomes a related
/// report with that file's snippet.
struct Report {
    code: &'static str,
    severity: miette::Severity,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
    related: Vec<Report>,
}

impl Report {
    fn new(
        d: &Diagnostic,
        sources: &SourceMap,
        text_of: &mut dyn FnMut(FileId) -> Clipped,
    ) -> Self {
        let severity = match d.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        };
        let Some(primary) = &d.primary else {
            return Report {
                code: d.code,
                severity,
                message: d.message.clone(),
                help: d.help.clone(),
                source: None,
                labels: Vec::new(),
                related: Vec::new(),
            };
        };
        let file = sources.file(primary.loc.file);
        let text = text_of(primary.loc.file);
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            Some(primary.text.clone()),
            text.span(&primary.loc.span),
        )];
        let mut related = Vec::new();
        for label in &d.secondary {
            if label.loc.file == primary.loc.file {
                labels.push(LabeledSpan::new_with_span(
                    Some(label.text.clone()),
                    text.span(&label.loc.span),
                ));
            } else {
                let other = sources.file(label.loc.file);
                let other_text = text_of(label.loc.file);
                let span = other_text.span(&label.loc.span);
                related.push(Report {
                    code: d.code,
                    severity: miette::Severity::Advice,
                    message: label.text.clone(),
                    help: None,
                    source: Some(NamedSource::new(other.name.clone(), other_text.text)),
                    labels: vec![LabeledSpan::new_with_span(Some(label.text.clone()), span)],
                    related: Vec::new(),
                });
            }
        }
        Report {
            code: d.code,
            severity,
            message: d.message.clone(),
            help: d.help.clone(),
            source: Some(NamedSource::new(file.name.clone(), text.text)),
            labels,
            related,
        }
    }
}

/// A file's text as a snippet shows it: every line longer than `LONG_LINE`
/// bytes cut in the middle (`…`), so that a 200 MB value in a tenant file gives
/// a diagnostic of a few lines, at once, rather than its 200 MB underlined
/// (minutes and gigabytes in miette). Spans of the file map onto the cut text.
#[derive(Clone)]
struct Clipped {
    text: String,
    /// Each cut, in order: the removed byte range of the file's text, and
    /// where its `…` starts in `text`.
    cuts: Vec<(Range<usize>, usize)>,
}

const LONG_LINE: usize = 2048;
const KEEP_HEAD: usize = 1024;
const KEEP_TAIL: usize = 128;
const CUT_MARK: &str = "…";

impl Clipped {
    fn new(text: &str) -> Self {
        let mut out = String::with_capacity(text.len().min(1 << 20));
        let mut cuts = Vec::new();
        let mut line_start = 0;
        for line in text.split_inclusive('\n') {
            if line.len() > LONG_LINE {
                let head = floor_char_boundary(line, KEEP_HEAD);
                let tail = ceil_char_boundary(line, line.len() - KEEP_TAIL);
                out.push_str(&line[..head]);
                cuts.push((line_start + head..line_start + tail, out.len()));
                out.push_str(CUT_MARK);
                out.push_str(&line[tail..]);
            } else {
                out.push_str(line);
            }
            line_start += line.len();
        }
        Clipped { text: out, cuts }
    }

    /// Where a byte offset of the file lies in the cut text; inside a cut, at
    /// the start of its `…` (`end == false`) or after it (`end == true`).
    fn offset(&self, at: usize, end: bool) -> usize {
        let mut removed = 0;
        for (range, mark) in &self.cuts {
            if at <= range.start {
                break;
            }
            if at < range.end {
                return if end { mark + CUT_MARK.len() } else { *mark };
            }
            removed += range.len() - CUT_MARK.len();
        }
        at - removed
    }

    fn span(&self, span: &Range<usize>) -> Range<usize> {
        let start = self.offset(span.start, false);
        start..self.offset(span.end, true).max(start)
    }
}

fn floor_char_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char_boundary(s: &str, mut at: usize) -> usize {
    while !s.is_char_boundary(at) {
        at += 1;
    }
    at
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.related.is_empty() {
            None
        } else {
            Some(Box::new(
                self.related.iter().map(|r| r as &dyn miette::Diagnostic),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipped_text_maps_spans_before_inside_and_after_each_cut() {
        let long = "é".repeat(LONG_LINE); // two bytes each: cuts fall on char boundaries
        let text = format!("a = 1\nb = \"{long}\"\nc = 2\nd = \"{long}\"\ne = 3\n");
        let clipped = Clipped::new(&text);
        assert_eq!(clipped.cuts.len(), 2);
        assert!(clipped.text.len() < 2 * (KEEP_HEAD + KEEP_TAIL + 20) + 30);
        let at = |needle: &str| {
            let start = text.find(needle).unwrap();
            let span = clipped.span(&(start..start + needle.len()));
            clipped.text[span].to_string()
        };
        assert_eq!(at("a = 1"), "a = 1");
        assert_eq!(at("c = 2"), "c = 2");
        assert_eq!(at("e = 3"), "e = 3");
        // A span over a whole cut line keeps its ends and shows the cut.
        let b = text.find("b = ").unwrap();
        let b_end = text[b..].find('\n').unwrap() + b;
        let shown = &clipped.text[clipped.span(&(b..b_end))];
        assert!(shown.starts_with("b = \"éé") && shown.ends_with("éé\""));
        assert!(shown.contains(CUT_MARK));
        // A span inside a cut shrinks to the mark.
        let inside = b + KEEP_HEAD + 10;
        assert_eq!(&clipped.text[clipped.span(&(inside..inside + 2))], CUT_MARK);
        // Short texts are left as they are.
        assert_eq!(Clipped::new("x = 1\n").text, "x = 1\n");
    }
}
