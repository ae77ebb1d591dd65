//! What an import did: mapped, changed (and why), not mapped (and why),
//! warnings. Each line names the source row, so that an operator can find it.

/// One line of the report: the row (or domain) it concerns, and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) row: String,
    pub(crate) what: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Report {
    /// The source, as it may be printed (no password).
    pub(crate) source: String,
    pub(crate) layout: &'static str,
    pub(crate) detected: Vec<String>,
    pub(crate) domains: usize,
    pub(crate) mailboxes: usize,
    pub(crate) aliases: usize,
    pub(crate) destinations: usize,
    pub(crate) changed: Vec<Line>,
    pub(crate) not_mapped: Vec<Line>,
    pub(crate) warnings: Vec<Line>,
    /// Lines that must not be missed (a DKIM key made fresh: DNS must change).
    pub(crate) loud: Vec<String>,
}

impl Report {
    pub(crate) fn changed(&mut self, row: &str, what: impl Into<String>) {
        self.changed.push(Line {
            row: row.to_string(),
            what: what.into(),
        });
    }

    pub(crate) fn not_mapped(&mut self, row: &str, what: impl Into<String>) {
        self.not_mapped.push(Line {
            row: row.to_string(),
            what: what.into(),
        });
    }

    pub(crate) fn warn(&mut self, row: &str, what: impl Into<String>) {
        self.warnings.push(Line {
            row: row.to_string(),
            what: what.into(),
        });
    }

    /// The report as text.
    pub(crate) fn render(&self) -> String {
        let mut out = format!(
            "import from {} ({} layout)\ndetected:\n",
            self.source, self.layout
        );
        for line in &self.detected {
            out.push_str(&format!("  {line}\n"));
        }
        out.push_str(&format!(
            "mapped: {} domains, {} mailboxes, {} aliases ({} destinations)\n",
            self.domains, self.mailboxes, self.aliases, self.destinations
        ));
        for (title, lines) in [
            ("changed", &self.changed),
            ("not mapped", &self.not_mapped),
            ("warnings", &self.warnings),
        ] {
            out.push_str(&format!("{title}: {}\n", lines.len()));
            for line in lines {
                out.push_str(&format!("  {}: {}\n", line.row, line.what));
            }
        }
        for line in &self.loud {
            out.push_str(&format!("!!! {line}\n"));
        }
        out
    }
}
