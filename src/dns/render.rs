//! The forms of a `dns check` report: human (a line per record, problems
//! spelled out), markdown (a pull-request comment) and JSON (stable; fields
//! are only ever added).

use serde_json::{Value, json};

use super::check::{RecordCheck, Report, State};

const STATES: [State; 5] = [
    State::Ok,
    State::Missing,
    State::Different,
    State::Conflicting,
    State::Unresolved,
];

/// `N records: A ok, B missing, …` (the states that occur, ok always).
pub(crate) fn summary(report: &Report) -> String {
    let total = report.all().count();
    let parts: Vec<String> = STATES
        .iter()
        .filter(|s| **s == State::Ok || report.count(**s) > 0)
        .map(|s| format!("{} {}", report.count(*s), s.word()))
        .collect();
    format!("{total} records checked: {}", parts.join(", "))
}

/// Problems first in full, one line per ok record.
pub(crate) fn human(report: &Report) -> String {
    let mut out = String::new();
    let mut domain = "";
    for check in &report.records {
        if check.domain != domain {
            domain = &check.domain;
            out.push_str(&format!("{domain}\n"));
        }
        line(&mut out, check);
    }
    if !report.host.is_empty() {
        out.push_str(&format!("mail host {}\n", report.host[0].domain));
        for check in &report.host {
            line(&mut out, check);
        }
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

fn line(out: &mut String, check: &RecordCheck) {
    out.push_str(&format!(
        "  {:<11} {:<8} {} ({})\n",
        check.state.word(),
        check.rtype,
        check.name,
        check.purpose
    ));
    if check.state == State::Ok {
        if let Some(note) = &check.note {
            out.push_str(&format!("      {note}\n"));
        }
        return;
    }
    out.push_str(&format!("      expected: {}\n", shown(&check.expected)));
    match check.found.as_slice() {
        [] if check.state != State::Unresolved => out.push_str("      found:    nothing\n"),
        [] => {}
        found => {
            for value in found {
                out.push_str(&format!("      found:    {}\n", shown(value)));
            }
        }
    }
    if let Some(note) = &check.note {
        out.push_str(&format!("      {note}\n"));
    }
}

/// A value as printed: control characters escaped, so a hostile TXT record
/// cannot move the cursor or hide text in a terminal.
fn shown(value: &str) -> String {
    crate::chars::printable(value).replace('\n', "\\n")
}

/// A markdown table of the problems (every record when all are ok is not
/// listed: the summary says so).
pub(crate) fn markdown(report: &Report) -> String {
    let mut out = String::from("### mailops dns check\n\n");
    out.push_str(&format!("{}\n\n", summary(report)));
    let problems: Vec<&RecordCheck> = report.all().filter(|c| c.state != State::Ok).collect();
    if problems.is_empty() {
        return out;
    }
    out.push_str("| state | type | name | expected | found | note |\n|---|---|---|---|---|---|\n");
    for check in problems {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            check.state.word(),
            check.rtype,
            cell(&check.name),
            code(&check.expected),
            check
                .found
                .iter()
                .map(|v| code(v))
                .collect::<Vec<_>>()
                .join("<br>"),
            check.note.as_deref().map(cell).unwrap_or_default(),
        ));
    }
    out
}

/// Text in a table cell: pipes, markup and line breaks neutralised.
fn cell(text: &str) -> String {
    crate::chars::printable(text)
        .chars()
        .flat_map(|c| match c {
            '|' | '<' | '>' | '*' | '_' | '[' | ']' | '`' | '\\' | '#' | '&' => {
                vec!['\\', c]
            }
            c => vec![c],
        })
        .collect()
}

/// A value in a cell as code: backticks cannot be escaped inside a code
/// span, so a value holding one is shown as plain cell text.
fn code(text: &str) -> String {
    if text.contains('`') || text.contains('|') {
        cell(text)
    } else {
        format!("`{}`", crate::chars::printable(text))
    }
}

pub(crate) fn json(report: &Report) -> Value {
    let counts: serde_json::Map<String, Value> = STATES
        .iter()
        .map(|s| (s.word().to_string(), json!(report.count(*s))))
        .collect();
    json!({
        "nameserver": report.nameserver,
        "summary": counts,
        "records": report.records,
        "host": report.host,
    })
}
