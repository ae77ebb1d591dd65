//! A fast path for the TOML documents mailops itself writes and the tenant
//! files people keep in that style: the same `DeTable` the `toml` crate's
//! parser builds (keys, values and every span alike), from a plain subset of
//! TOML read in one pass, without the `toml` crate's lexer and event stream
//! (two thirds of the time of a tenant file's parse).
//!
//! The subset: bare keys; `[a.b]` and `[[a.b]]` headers at the start of a
//! line, written without spaces; values that are basic strings without
//! escapes, literal strings, decimal integers, booleans, and arrays of
//! those (over several lines, with comments, a trailing comma); comments;
//! `\n` or `\r\n` line ends. Anything else — an escape, a float, a date, an
//! inline table, a quoted or dotted key, a redefined table or key, any
//! syntax error — gives `None`, and the caller parses the text with the
//! `toml` crate as before, so every diagnostic is the crate's own. The
//! `DeTable` is then deserialized by the `toml` crate's own deserializer:
//! what serde sees is the same whichever parser built the table. Debug
//! builds (the tests, the fuzz corpora they replay) check every document
//! this accepts against the `toml` crate's parse of it.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

/// The document's table, as `DeTable::parse` gives it for `text`; `None`
/// when `text` is not in the subset (or not valid TOML).
pub(crate) fn parse(text: &str) -> Option<Spanned<DeTable<'_>>> {
    let table = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    }
    .document()?;
    let doc = Spanned::new(0..0, table.into_de());
    debug_assert_same_as_toml(text, &doc);
    Some(doc)
}

/// A table while the document is read: entries in file order (a tenant
/// file's tables have a handful of keys: a scan finds one).
struct Table<'s> {
    entries: Vec<Entry<'s>>,
}

struct Entry<'s> {
    key: &'s str,
    key_span: Range<usize>,
    value: Node<'s>,
    span: Range<usize>,
}

enum Node<'s> {
    /// A value written after `key =`.
    Value(DeValue<'s>),
    /// A table made by a header, or on the way to one (`dns` of `[dns.spf]`).
    Table(Table<'s>),
    /// `[[key]]` tables, each with the span of its header.
    Tables(Vec<(Table<'s>, Range<usize>)>),
}

impl<'s> Table<'s> {
    fn new() -> Self {
        Table {
            entries: Vec::new(),
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut Entry<'s>> {
        self.entries.iter_mut().find(|e| e.key == key)
    }

    fn into_de(self) -> DeTable<'s> {
        let mut table = DeTable::new();
        for entry in self.entries {
            let value = match entry.value {
                Node::Value(value) => value,
                Node::Table(table) => DeValue::Table(table.into_de()),
                Node::Tables(tables) => {
                    let mut array = DeArray::new();
                    for (table, span) in tables {
                        array.push(Spanned::new(span, DeValue::Table(table.into_de())));
                    }
                    DeValue::Array(array)
                }
            };
            table.insert(
                Spanned::new(entry.key_span, Cow::Borrowed(entry.key)),
                Spanned::new(entry.span, value),
            );
        }
        table
    }
}

/// The table a header names, made on the way as TOML makes it: `None` when
/// the header would redefine something (left to the `toml` crate to report).
fn open<'t, 's>(
    root: &'t mut Table<'s>,
    keys: &[(&'s str, Range<usize>)],
    header: Range<usize>,
    array: bool,
) -> Option<&'t mut Table<'s>> {
    let (last, path) = keys.split_last()?;
    let mut table = root;
    for (key, span) in path {
        if table.get_mut(key).is_none() {
            table.entries.push(Entry {
                key,
                key_span: span.clone(),
                value: Node::Table(Table::new()),
                span: span.clone(),
            });
        }
        let entry = table.get_mut(key)?;
        table = match &mut entry.value {
            Node::Table(table) => table,
            Node::Tables(tables) => &mut tables.last_mut()?.0,
            Node::Value(_) => return None,
        };
    }
    let (key, key_span) = last;
    if table.get_mut(key).is_none() {
        let value = if array {
            Node::Tables(Vec::new())
        } else {
            Node::Table(Table::new())
        };
        table.entries.push(Entry {
            key,
            key_span: key_span.clone(),
            value,
            span: header.clone(),
        });
    } else if !array {
        return None;
    }
    let entry = table.get_mut(key)?;
    match &mut entry.value {
        Node::Tables(tables) if array => {
            tables.push((Table::new(), header));
            Some(&mut tables.last_mut()?.0)
        }
        Node::Table(table) if !array => Some(table),
        _ => None,
    }
}

/// The table the last header made ([`open`]), now that its section ends.
fn locate<'t, 's>(
    root: &'t mut Table<'s>,
    keys: &[(&'s str, Range<usize>)],
    array: bool,
) -> Option<&'t mut Table<'s>> {
    let (last, path) = keys.split_last()?;
    let mut table = root;
    for (key, _) in path {
        table = match &mut table.get_mut(key)?.value {
            Node::Table(table) => table,
            Node::Tables(tables) => &mut tables.last_mut()?.0,
            Node::Value(_) => return None,
        };
    }
    match &mut table.get_mut(last.0)?.value {
        Node::Tables(tables) if array => Some(&mut tables.last_mut()?.0),
        Node::Table(table) if !array => Some(table),
        _ => None,
    }
}

struct Parser<'s> {
    text: &'s str,
    bytes: &'s [u8],
    pos: usize,
}

/// A byte TOML forbids in comments and strings (control characters but tab).
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

fn is_bare_key(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

impl<'s> Parser<'s> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// A comment (when one starts here), then the end of the line or of the
    /// text. False when something else follows.
    fn end_of_line(&mut self) -> bool {
        self.skip_blanks();
        if self.peek() == Some(b'#') {
            self.pos += 1;
            while let Some(b) = self.peek() {
                if b == b'\n' || b == b'\r' {
                    break;
                }
                if is_control(b) {
                    return false;
                }
                self.pos += 1;
            }
        }
        match self.peek() {
            None => true,
            Some(b'\n') => {
                self.pos += 1;
                true
            }
            Some(b'\r') if self.bytes.get(self.pos + 1) == Some(&b'\n') => {
                self.pos += 2;
                true
            }
            _ => false,
        }
    }

    fn bare_key(&mut self) -> Option<(&'s str, Range<usize>)> {
        let start = self.pos;
        while self.peek().is_some_and(is_bare_key) {
            self.pos += 1;
        }
        (self.pos > start).then(|| (&self.text[start..self.pos], start..self.pos))
    }

    fn document(mut self) -> Option<Table<'s>> {
        let mut root = Table::new();
        // The keys of the last header, whether it is `[[…]]`, and its
        // table, filled until the next header and put in place then.
        let mut section: Option<(Vec<(&'s str, Range<usize>)>, bool, Table<'s>)> = None;
        loop {
            self.skip_blanks();
            match self.peek() {
                None => break,
                Some(b'#' | b'\n' | b'\r') => {
                    if !self.end_of_line() {
                        return None;
                    }
                }
                Some(b'[') => {
                    // Headers only at the start of their line.
                    let line_start = self.pos == 0 || self.bytes[self.pos - 1] == b'\n';
                    if !line_start {
                        return None;
                    }
                    if let Some((keys, array, table)) = section.take() {
                        *locate(&mut root, &keys, array)? = table;
                    }
                    let start = self.pos;
                    let array = self.bytes.get(self.pos + 1) == Some(&b'[');
                    self.pos += if array { 2 } else { 1 };
                    let mut keys = Vec::new();
                    loop {
                        keys.push(self.bare_key()?);
                        match self.peek() {
                            Some(b'.') => self.pos += 1,
                            Some(b']') => break,
                            _ => return None,
                        }
                    }
                    self.pos += 1;
                    if array {
                        if self.peek() != Some(b']') {
                            return None;
                        }
                        self.pos += 1;
                    }
                    let header = start..self.pos;
                    if !self.end_of_line() {
                        return None;
                    }
                    // The header's table is made now (an empty one, filled
                    // when the section ends), so that a header that
                    // redefines a table gives up here.
                    open(&mut root, &keys, header, array)?;
                    section = Some((keys, array, Table::new()));
                }
                Some(_) => {
                    let (key, key_span) = self.bare_key()?;
                    self.skip_blanks();
                    if self.peek() != Some(b'=') {
                        return None;
                    }
                    self.pos += 1;
                    self.skip_blanks();
                    let (value, span) = self.value(true)?;
                    if !self.end_of_line() {
                        return None;
                    }
                    let table = match &mut section {
                        Some((.., table)) => table,
                        None => &mut root,
                    };
                    if table.get_mut(key).is_some() {
                        return None;
                    }
                    table.entries.push(Entry {
                        key,
                        key_span,
                        value: Node::Value(value),
                        span,
                    });
                }
            }
        }
        if let Some((keys, array, table)) = section.take() {
            *locate(&mut root, &keys, array)? = table;
        }
        Some(root)
    }

    /// Whether a scalar ends here (what may follow a number or a boolean).
    fn at_delimiter(&self) -> bool {
        matches!(
            self.peek(),
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'#' | b',' | b']')
        )
    }

    /// A value; an array only when `arrays` (no array in an array).
    fn value(&mut self, arrays: bool) -> Option<(DeValue<'s>, Range<usize>)> {
        let start = self.pos;
        match self.peek()? {
            quote @ (b'"' | b'\'') => {
                // Multi-line strings (`"""`, `'''`) are left to the crate.
                if self.bytes.get(self.pos + 1) == Some(&quote)
                    && self.bytes.get(self.pos + 2) == Some(&quote)
                {
                    return None;
                }
                self.pos += 1;
                let from = self.pos;
                loop {
                    let b = self.peek()?;
                    if b == quote {
                        break;
                    }
                    if is_control(b) || (quote == b'"' && b == b'\\') {
                        return None;
                    }
                    self.pos += 1;
                }
                let value = &self.text[from..self.pos];
                self.pos += 1;
                Some((DeValue::String(Cow::Borrowed(value)), start..self.pos))
            }
            b't' | b'f' => {
                let (word, value) = if self.bytes[self.pos..].starts_with(b"true") {
                    ("true", true)
                } else if self.bytes[self.pos..].starts_with(b"false") {
                    ("false", false)
                } else {
                    return None;
                };
                self.pos += word.len();
                self.at_delimiter()
                    .then(|| (DeValue::Boolean(value), start..self.pos))
            }
            b'0'..=b'9' | b'+' | b'-' => {
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
                let digits = self.pos;
                while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    self.pos += 1;
                }
                let count = self.pos - digits;
                // Decimal only, no leading zero, no `_`: anything else
                // (a float, a date, `0x…`) is the crate's to read.
                if count == 0 || (count > 1 && self.bytes[digits] == b'0') || !self.at_delimiter() {
                    return None;
                }
                // The crate's integer type is built only by its parser.
                let parsed = DeValue::parse(&self.text[start..self.pos]).ok()?;
                match parsed.into_inner() {
                    value @ DeValue::Integer(_) => Some((value, start..self.pos)),
                    _ => None,
                }
            }
            b'[' if arrays => {
                self.pos += 1;
                let mut array = DeArray::new();
                loop {
                    self.skip_array_space()?;
                    if self.peek()? == b']' {
                        break;
                    }
                    let (value, span) = self.value(false)?;
                    array.push(Spanned::new(span, value));
                    self.skip_array_space()?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => break,
                        _ => return None,
                    }
                }
                self.pos += 1;
                Some((DeValue::Array(array), start..self.pos))
            }
            _ => None,
        }
    }

    /// Blanks, line ends and comments inside an array.
    fn skip_array_space(&mut self) -> Option<()> {
        loop {
            self.skip_blanks();
            match self.peek()? {
                b'#' | b'\n' | b'\r' => {
                    if !self.end_of_line() {
                        return None;
                    }
                }
                _ => return Some(()),
            }
        }
    }
}

/// In debug builds: a document the fast path read is, key for key, value for
/// value and span for span, the one the `toml` crate reads.
fn debug_assert_same_as_toml(text: &str, doc: &Spanned<DeTable<'_>>) {
    if cfg!(debug_assertions) {
        let (expected, errors) = DeTable::parse_recoverable(text);
        assert!(
            errors.is_empty(),
            "the fast path read a document the toml crate refuses: {errors:?}\n{text}"
        );
        let expected = Spanned::new(expected.span(), DeValue::Table(expected.into_inner()));
        let found = Spanned::new(doc.span(), DeValue::Table(doc.get_ref().clone()));
        if let Err(difference) = same(&found, &expected) {
            panic!("the fast path read another document than the toml crate: {difference}\n{text}");
        }
    }
}

/// Whether two values are equal, spans included (the crate's own equality
/// ignores spans); the first difference otherwise.
pub(crate) fn same(a: &Spanned<DeValue<'_>>, b: &Spanned<DeValue<'_>>) -> Result<(), String> {
    if a.span() != b.span() {
        return Err(format!("span {:?} against {:?}", a.span(), b.span()));
    }
    match (a.get_ref(), b.get_ref()) {
        (DeValue::Table(x), DeValue::Table(y)) => {
            if x.len() != y.len() {
                return Err(format!(
                    "keys {:?} against {:?}",
                    x.keys().collect::<Vec<_>>(),
                    y.keys().collect::<Vec<_>>()
                ));
            }
            for ((kx, vx), (ky, vy)) in x.iter().zip(y.iter()) {
                if kx.get_ref() != ky.get_ref() || kx.span() != ky.span() {
                    return Err(format!("key {kx:?} against {ky:?}"));
                }
                same(vx, vy).map_err(|e| format!("{}: {e}", kx.get_ref()))?;
            }
            Ok(())
        }
        (DeValue::Array(x), DeValue::Array(y)) => {
            if x.len() != y.len() {
                return Err(format!("{} items against {}", x.len(), y.len()));
            }
            for (i, (vx, vy)) in x.iter().zip(y.iter()).enumerate() {
                same(vx, vy).map_err(|e| format!("[{i}]: {e}"))?;
            }
            Ok(())
        }
        (x, y) => {
            let (x, y) = (format!("{x:?}"), format!("{y:?}"));
            if x == y {
                Ok(())
            } else {
                Err(format!("{x} against {y}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path's document for `text`, checked against the crate's
    /// (by `parse` itself in a debug build).
    fn read(text: &str) -> bool {
        parse(text).is_some()
    }

    #[test]
    fn the_subset_reads_as_the_toml_crate_reads_it() {
        let text = "domain = \"a.example\"   # c\r\nn = 12\nneg = -3\nb = true\nlit = 'x\\y'\n\n\
            [dns.spf]\ninclude = [\"x\", 'y',\n  \"z\", # c\n]\n\n[[mailbox]]\nuser = \"u\"\n\
            to = []\n\n[[mailbox.app_password]]\nname = \"p\"\n\n[[mailbox]]\nuser = \"v\"\n\
            [limits] # c\n  max = 0\n[dns.dmarc]\npolicy = \"\"\n";
        assert!(read(text));
    }

    #[test]
    fn what_is_not_in_the_subset_is_left_to_the_toml_crate() {
        for text in [
            "a = \"x\\u0041\"\n",
            "a = 1.5\n",
            "a = 1_000\n",
            "a = 0x10\n",
            "a = 01\n",
            "a = 1979-05-27\n",
            "a = { b = 1 }\n",
            "a.b = 1\n",
            "\"a\" = 1\n",
            "a = \"\"\"x\"\"\"\n",
            "a = [[1]]\n",
            " [a]\n",
            "[ a ]\n",
            "a = 1\na = 2\n",
            "[a]\n[a]\n",
            "[a.b]\n[a]\n",
            "[a]\nb = 1\n[a.b]\n",
            "[[a]]\n[a]\n",
            "[a]\n[[a]]\n",
            "a = []\n[[a]]\n",
            "a = 1 b = 2\n",
            "a = \"x\ty\x01\"\n",
            "a = 1 # \x01\n",
            "a = 1\rb = 2\n",
            "a = truex\n",
            "\u{feff}a = 1\n",
            "a = \"unclosed\n",
            "a = [1,\n",
        ] {
            assert!(!read(text), "{text:?}");
        }
    }

    #[test]
    fn a_table_made_on_the_way_may_be_an_array_entry() {
        assert!(read("[[a]]\nx = 1\n[a.b]\ny = 2\n[[a]]\n[a.b]\n"));
        assert!(read("[a.b]\nx = 1\n[a.c]\ny = 2\n"));
    }
}
