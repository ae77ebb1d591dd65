//! Diagnostics: what every stage reports about user input, and how they are printed.
//!
//! A stage never prints and never stops at the first problem: it pushes
//! `Diagnostic`s into a `Diagnostics` list and returns what it could build.
//! The wording of each diagnostic lives in the stage's `diags.rs` catalogue;
//! this module only knows how to carry and render them (miette's graphical
//! report for humans, a flat JSON form for machines).

use std::fmt;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource};
use serde::Serialize;

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
    /// Stable code, `mailops::<area>::<kebab-case-name>`.
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
    pub(crate) fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            message: message.into(),
            primary: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    pub(crate) fn warning(code: &'static str, message: impl Into<String>) -> Self {
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
    #[cfg(test)]
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
        let mut text = sources.file(file).text.clone();
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
        let mut texts: std::collections::HashMap<FileId, String> = std::collections::HashMap::new();
        let mut text_of = |file: FileId| -> String {
            texts
                .entry(file)
                .or_insert_with(|| self.masked_text(sources, file))
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
    fn new(d: &Diagnostic, sources: &SourceMap, text_of: &mut dyn FnMut(FileId) -> String) -> Self {
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
        let mut labels = vec![LabeledSpan::new_primary_with_span(
            Some(primary.text.clone()),
            primary.loc.span.clone(),
        )];
        let mut related = Vec::new();
        for label in &d.secondary {
            if label.loc.file == primary.loc.file {
                labels.push(LabeledSpan::new_with_span(
                    Some(label.text.clone()),
                    label.loc.span.clone(),
                ));
            } else {
                let other = sources.file(label.loc.file);
                related.push(Report {
                    code: d.code,
                    severity: miette::Severity::Advice,
                    message: label.text.clone(),
                    help: None,
                    source: Some(NamedSource::new(
                        other.name.clone(),
                        text_of(label.loc.file),
                    )),
                    labels: vec![LabeledSpan::new_with_span(
                        Some(label.text.clone()),
                        label.loc.span.clone(),
                    )],
                    related: Vec::new(),
                });
            }
        }
        Report {
            code: d.code,
            severity,
            message: d.message.clone(),
            help: d.help.clone(),
            source: Some(NamedSource::new(
                file.name.clone(),
                text_of(primary.loc.file),
            )),
            labels,
            related,
        }
    }
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
