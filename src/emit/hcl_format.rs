//! `terraform fmt`'s canonical layout, applied to rendered templates.
//!
//! Templates are written for people to read, and tera's loops and
//! conditionals leave stray blank lines and spaces behind. Rather than
//! hand-aligning every `=` in every template (and breaking alignment whenever
//! a key is added), the Terraform emitter renders and then passes the text
//! through [`format`], which re-creates what `terraform fmt` (hclwrite's
//! formatter) decides about whitespace at line level:
//!
//! - indentation: two spaces per level, where a line that opens more brackets
//!   than it closes opens one level (hclwrite's "indent stack");
//! - alignment: in a run of consecutive lines that each assign a complete
//!   single-line value (`key = value`), the `=` signs line up one space after
//!   the longest key; a blank line, a comment line, a block or a multi-line
//!   value ends the run. Trailing comments after code align the same way;
//! - no trailing whitespace, no blank line at the start or end, at most one
//!   blank line in a row, none just inside a block's braces.
//!
//! Spacing *within* a line (around brackets, commas, operators) is left as
//! the template wrote it; `scripts/terraform-fmt-check` runs the real
//! `terraform fmt -check` over the output in the test suite to prove the
//! whole result canonical. Heredocs and block comments are not supported
//! (mailops never emits them).

/// Reformat HCL text into canonical layout. The result ends in one newline.
pub(crate) fn format(text: &str) -> String {
    let lines = collapse_blank_lines(text);
    let mut indents: Vec<i32> = Vec::new();
    let mut rows: Vec<Row> = Vec::with_capacity(lines.len());
    for line in lines {
        if line.is_empty() {
            rows.push(Row::blank());
            continue;
        }
        let scan = scan_line(line);
        let net = scan.net_brackets;
        let level = if net > 0 {
            let level = indents.len();
            indents.push(net);
            level
        } else if net < 0 {
            let mut closed = -net;
            while closed > 0 {
                let Some(top) = indents.last_mut() else { break };
                if closed >= *top {
                    closed -= *top;
                    indents.pop();
                } else {
                    *top -= closed;
                    closed = 0;
                }
            }
            indents.len()
        } else {
            indents.len()
        };
        rows.push(Row::new(line, &scan, 2 * level));
    }
    align_assignments(&mut rows);
    align_trailing_comments(&mut rows);
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for row in &rows {
        out.push_str(&row.render());
        out.push('\n');
    }
    out
}

/// Lines trimmed at both ends; blank runs collapsed to one blank line, and
/// none at the start, the end, after an opening or before a closing line.
fn collapse_blank_lines(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    let mut pending_blank = false;
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            pending_blank = true;
            continue;
        }
        if pending_blank {
            let after_opener = out
                .last()
                .is_some_and(|prev| scan_line(prev).net_brackets > 0);
            let before_closer = line.starts_with(['}', ']', ')']);
            if !out.is_empty() && !after_opener && !before_closer {
                out.push("");
            }
            pending_blank = false;
        }
        out.push(line);
    }
    out
}

/// What the formatter needs to know about one (trimmed, non-empty) line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Scan {
    /// Opening minus closing brackets in the code part (`${` and `%{` count
    /// as openers inside strings, as hclwrite counts them).
    net_brackets: i32,
    /// Byte offset of the attribute's `=`, when the line assigns a complete
    /// single-line value.
    assign: Option<usize>,
    /// Byte offset where a trailing `#` or `//` comment starts.
    comment: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Code,
    /// Inside a quoted string.
    Str,
    /// Inside `${ … }` or `%{ … }` within a string; the count is the braces
    /// opened since.
    Interp(u32),
}

fn scan_line(line: &str) -> Scan {
    let bytes = line.as_bytes();
    let mut stack = vec![Mode::Code];
    let mut net = 0i32;
    let mut first_equal: Option<usize> = None;
    let mut net_at_equal = 0i32;
    let mut comment = None;
    let mut seen_token = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let mode = *stack.last().unwrap_or(&Mode::Code);
        match mode {
            Mode::Str => match b {
                b'\\' => i += 1,
                b'"' => {
                    stack.pop();
                }
                b'$' | b'%' if bytes.get(i + 1) == Some(&b) && bytes.get(i + 2) == Some(&b'{') => {
                    i += 2
                }
                b'$' | b'%' if bytes.get(i + 1) == Some(&b'{') => {
                    net += 1;
                    stack.push(Mode::Interp(0));
                    i += 1;
                }
                _ => {}
            },
            Mode::Code | Mode::Interp(_) => match b {
                b'"' => stack.push(Mode::Str),
                b'#' if matches!(mode, Mode::Code) => {
                    comment = Some(i);
                    break;
                }
                b'/' if matches!(mode, Mode::Code) && bytes.get(i + 1) == Some(&b'/') => {
                    comment = Some(i);
                    break;
                }
                b'{' | b'[' | b'(' => {
                    net += 1;
                    if let (b'{', Some(Mode::Interp(depth))) = (b, stack.last_mut()) {
                        *depth += 1;
                    }
                }
                b'}' | b']' | b')' => {
                    net -= 1;
                    if b == b'}' {
                        if let Some(Mode::Interp(depth)) = stack.last_mut() {
                            if *depth == 0 {
                                stack.pop();
                            } else {
                                *depth -= 1;
                            }
                        }
                    }
                }
                b'=' if matches!(mode, Mode::Code) && first_equal.is_none() => {
                    let prev = i.checked_sub(1).map(|p| bytes[p]);
                    let next = bytes.get(i + 1).copied();
                    let operator = matches!(prev, Some(b'=' | b'!' | b'<' | b'>'))
                        || matches!(next, Some(b'=' | b'>'));
                    if !operator && seen_token {
                        first_equal = Some(i);
                        net_at_equal = net;
                    }
                }
                _ => {}
            },
        }
        if !b.is_ascii_whitespace() {
            seen_token = true;
        }
        i += 1;
    }
    // The value is complete on this line when it opens nothing it does not close.
    let assign = first_equal.filter(|_| net - net_at_equal == 0);
    // A line that is only a comment has no trailing comment cell.
    let comment = comment.filter(|&c| c > 0);
    Scan {
        net_brackets: net,
        assign,
        comment,
    }
}

/// One output line split into hclwrite's cells.
#[derive(Debug, Clone)]
struct Row {
    indent: usize,
    /// The key (or all the code, when there is no assignment).
    lead: String,
    /// From the `=` on, without the `=` and leading spaces.
    value: Option<String>,
    /// Spaces before `=`.
    assign_gap: usize,
    comment: Option<String>,
    /// Spaces before the trailing comment.
    comment_gap: usize,
}

impl Row {
    fn blank() -> Self {
        Row {
            indent: 0,
            lead: String::new(),
            value: None,
            assign_gap: 1,
            comment: None,
            comment_gap: 1,
        }
    }

    fn new(line: &str, scan: &Scan, indent: usize) -> Self {
        let (code, comment) = match scan.comment {
            Some(at) => (&line[..at], Some(line[at..].trim_end().to_string())),
            None => (line, None),
        };
        let (lead, value) = match scan.assign {
            Some(at) => (
                code[..at].trim_end().to_string(),
                Some(code[at + 1..].trim().to_string()),
            ),
            None => (code.trim_end().to_string(), None),
        };
        Row {
            indent,
            lead,
            value,
            assign_gap: 1,
            comment,
            comment_gap: 1,
        }
    }

    fn is_blank(&self) -> bool {
        self.lead.is_empty() && self.comment.is_none()
    }

    /// Columns up to the `=` (indentation included), as hclwrite counts them.
    fn lead_columns(&self) -> usize {
        self.indent + self.lead.chars().count()
    }

    fn code(&self) -> String {
        let mut out = " ".repeat(self.indent);
        out.push_str(&self.lead);
        if let Some(value) = &self.value {
            out.push_str(&" ".repeat(self.assign_gap));
            out.push('=');
            if !value.is_empty() {
                out.push(' ');
                out.push_str(value);
            }
        }
        out
    }

    fn render(&self) -> String {
        if self.is_blank() {
            return String::new();
        }
        let mut out = self.code();
        if let Some(comment) = &self.comment {
            if !self.lead.is_empty() {
                out.push_str(&" ".repeat(self.comment_gap));
            }
            out.push_str(comment);
        }
        out
    }
}

/// Line up `=` across each run of consecutive assignment lines.
fn align_assignments(rows: &mut [Row]) {
    let mut start = 0;
    while start < rows.len() {
        if rows[start].value.is_none() {
            start += 1;
            continue;
        }
        let end = (start..rows.len())
            .find(|&i| rows[i].value.is_none())
            .unwrap_or(rows.len());
        let widest = rows[start..end]
            .iter()
            .map(Row::lead_columns)
            .max()
            .unwrap_or(0);
        for row in &mut rows[start..end] {
            row.assign_gap = widest - row.lead_columns() + 1;
        }
        start = end;
    }
}

/// Line up trailing comments across each run of lines that have code and a
/// trailing comment.
fn align_trailing_comments(rows: &mut [Row]) {
    let has = |row: &Row| row.comment.is_some() && !row.lead.is_empty();
    let mut start = 0;
    while start < rows.len() {
        if !has(&rows[start]) {
            start += 1;
            continue;
        }
        let end = (start..rows.len())
            .find(|&i| !has(&rows[i]))
            .unwrap_or(rows.len());
        let widest = rows[start..end]
            .iter()
            .map(|r| r.code().chars().count())
            .max()
            .unwrap_or(0);
        for row in &mut rows[start..end] {
            row.comment_gap = widest - row.code().chars().count() + 1;
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_attributes_align_on_the_longest_key() {
        let input = "resource \"aws_route53_record\" \"x\" {\nzone_id = \"Z1\"\nname = \"a\"\ntype=\"MX\"\nttl      =    300\n}\n";
        let expected = "resource \"aws_route53_record\" \"x\" {\n  zone_id = \"Z1\"\n  name    = \"a\"\n  type    = \"MX\"\n  ttl     = 300\n}\n";
        assert_eq!(format(input), expected);
    }

    #[test]
    fn blank_lines_comments_and_blocks_end_an_alignment_run() {
        let input = "\
resource \"aws_instance\" \"mail\" {
  ami = var.ami_id
  instance_type = \"t3.small\"

  user_data = file(\"x\")
  # a comment
  key_name = var.key
  root_block_device {
    volume_size = 50
    encrypted = true
  }
  tags = {
    Name = \"mx\"
  }
  lifecycle_rule = 1
}
";
        let expected = "\
resource \"aws_instance\" \"mail\" {
  ami           = var.ami_id
  instance_type = \"t3.small\"

  user_data = file(\"x\")
  # a comment
  key_name = var.key
  root_block_device {
    volume_size = 50
    encrypted   = true
  }
  tags = {
    Name = \"mx\"
  }
  lifecycle_rule = 1
}
";
        assert_eq!(format(input), expected);
    }

    #[test]
    fn nested_blocks_indent_two_spaces_per_level() {
        let input = "terraform {\nrequired_providers {\naws = {\nsource = \"hashicorp/aws\"\nversion = \"~> 5.46\"\n}\n}\n}\n";
        let expected = "terraform {\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.46\"\n    }\n  }\n}\n";
        assert_eq!(format(input), expected);
    }

    #[test]
    fn equals_signs_inside_strings_and_operators_are_not_assignments() {
        let scan = scan_line("records = [\"v=DKIM1; k=rsa\"]");
        assert_eq!(scan.assign, Some(8));
        let scan = scan_line("\"a = b\"");
        assert_eq!(scan.assign, None);
        let scan = scan_line("x = a == b ? c : d");
        assert_eq!(scan.assign, Some(2));
        let scan = scan_line("condition = var.a != \"\"");
        assert_eq!(scan.assign, Some(10));
    }

    #[test]
    fn a_value_that_continues_on_later_lines_is_not_aligned() {
        let input = "locals {\na = 1\nlong_name = {\nb = 2\n}\n}\n";
        let expected = "locals {\n  a = 1\n  long_name = {\n    b = 2\n  }\n}\n";
        assert_eq!(format(input), expected);
    }

    #[test]
    fn brackets_inside_strings_and_interpolations_do_not_indent() {
        let scan = scan_line("user_data = file(\"${path.module}/{x}[y](z\")");
        assert_eq!(scan.net_brackets, 0);
        assert_eq!(scan.assign, Some(10));
        // Escaped quotes and escaped interpolations stay inside the string.
        let scan = scan_line("a = \"q\\\" { $${x} %%{y}\"");
        assert_eq!(scan.net_brackets, 0);
        assert_eq!(scan.comment, None);
        // A nested string inside an interpolation.
        let scan = scan_line("a = \"${join(\"}\", [\"{\"])}\"");
        assert_eq!(scan.net_brackets, 0);
    }

    #[test]
    fn hash_inside_a_string_is_not_a_comment() {
        let scan = scan_line("name = \"a#b//c\" # real");
        assert_eq!(scan.comment, Some(16));
        assert_eq!(scan_line("# only a comment").comment, None);
    }

    #[test]
    fn trailing_comments_align_after_the_code() {
        let input = "a = 1 # one\nbbb = 22 # two\n";
        let expected = "a   = 1  # one\nbbb = 22 # two\n";
        assert_eq!(format(input), expected);
    }

    #[test]
    fn blank_lines_are_collapsed_and_trimmed() {
        let input = "\n\n# head   \n\n\n\nx {\n\n  a = 1   \n\n}\n\n\ny {}\n\n";
        let expected = "# head\n\nx {\n  a = 1\n}\n\ny {}\n";
        assert_eq!(format(input), expected);
    }

    #[test]
    fn comment_lines_are_indented_with_their_block() {
        let input = "x {\n# inside\na = 1\n}\n";
        assert_eq!(format(input), "x {\n  # inside\n  a = 1\n}\n");
    }

    #[test]
    fn formatting_is_idempotent() {
        let input = "terraform {\n  required_version = \">= 1.5.0\"\n\n  required_providers {\n    aws = {\n      source  = \"hashicorp/aws\"\n      version = \"~> 5.46\"\n    }\n  }\n}\n";
        assert_eq!(format(input), input);
        assert_eq!(format(&format(input)), format(input));
    }
}
