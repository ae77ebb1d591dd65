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

/// `T` read from `text` with serde straight from the subset's tree, without
/// building the `toml` crate's `DeTable` (a map per mailbox) and walking it
/// with its deserializer: `None` when `text` is not in the subset, or serde
/// refuses it (the caller then parses it with the `toml` crate, which names
/// the problem). For the raw tenant types, whose deserialization does not
/// depend on the order of a table's keys (no map, no flatten): serde is
/// given exactly what the `toml` crate's deserializer gives it — strings
/// borrowed from the text, `i64` integers, booleans, sequences, maps, and
/// the spans of `Sp` — but a table's keys in file order, not sorted.
pub(crate) fn deserialize<'s, T: serde::Deserialize<'s>>(text: &'s str) -> Option<T> {
    let table = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    }
    .document()?;
    T::deserialize(ValueDe {
        node: Node::Table(table),
        span: 0..0,
    })
    .ok()
}

/// Why [`deserialize`] gave up (never shown: the `toml` crate reads the
/// file again and says what is wrong).
#[derive(Debug)]
pub(crate) struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("left to the toml crate")
    }
}

impl std::error::Error for Refused {}

impl serde::de::Error for Refused {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Refused
    }
}

/// One value of the tree and its span, for serde.
struct ValueDe<'s> {
    node: Node<'s>,
    span: Range<usize>,
}

impl<'de> serde::de::IntoDeserializer<'de, Refused> for ValueDe<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> serde::Deserializer<'de> for ValueDe<'de> {
    type Error = Refused;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.node {
            Node::Value(Scalar::Str(s)) => visitor.visit_borrowed_str(s),
            Node::Value(Scalar::Int(text)) => visitor.visit_i64(text.parse().map_err(|_| Refused)?),
            Node::Value(Scalar::Bool(b)) => visitor.visit_bool(b),
            Node::Value(Scalar::Array(items)) => visit_seq(
                visitor,
                items.into_iter().map(|(value, span)| ValueDe {
                    node: Node::Value(value),
                    span,
                }),
            ),
            Node::Table(table) => {
                let mut map = MapDe {
                    entries: table.entries.into_iter(),
                    value: None,
                };
                let value = visitor.visit_map(&mut map)?;
                match map.entries.len() {
                    0 => Ok(value),
                    _ => Err(Refused),
                }
            }
            Node::Tables(tables) => visit_seq(
                visitor,
                tables.into_iter().map(|(table, span)| ValueDe {
                    node: Node::Table(table),
                    span,
                }),
            ),
        }
    }

    // As the `toml` crate: a value that is there is `Some`.
    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Refused> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Refused> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Refused> {
        if serde_spanned::de::is_spanned(name) {
            let span = self.span.clone();
            return visitor.visit_map(serde_spanned::de::SpannedDeserializer::new(self, span));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Refused> {
        Err(Refused)
    }

    serde::forward_to_deserialize_any! {
        bool u8 u16 u32 u64 u128 i8 i16 i32 i64 i128 f32 f64 char str string seq
        bytes byte_buf map unit ignored_any unit_struct tuple_struct tuple identifier
    }
}

/// The items of an array or of `[[…]]` tables, every one taken.
fn visit_seq<'de, V: serde::de::Visitor<'de>>(
    visitor: V,
    items: impl ExactSizeIterator<Item = ValueDe<'de>>,
) -> Result<V::Value, Refused> {
    let mut seq = SeqDe(items);
    let value = visitor.visit_seq(&mut seq)?;
    match seq.0.len() {
        0 => Ok(value),
        _ => Err(Refused),
    }
}

struct SeqDe<I>(I);

impl<'de, I: ExactSizeIterator<Item = ValueDe<'de>>> serde::de::SeqAccess<'de> for SeqDe<I> {
    type Error = Refused;

    fn next_element_seed<T: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Refused> {
        match self.0.next() {
            Some(value) => seed.deserialize(value).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct MapDe<'s> {
    entries: std::vec::IntoIter<Entry<'s>>,
    value: Option<ValueDe<'s>>,
}

impl<'de> serde::de::MapAccess<'de> for MapDe<'de> {
    type Error = Refused;

    fn next_key_seed<K: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Refused> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(ValueDe {
            node: entry.value,
            span: entry.span,
        });
        seed.deserialize(serde::de::value::BorrowedStrDeserializer::new(entry.key))
            .map(Some)
    }

    fn next_value_seed<V: serde::de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Refused> {
        seed.deserialize(self.value.take().ok_or(Refused)?)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// A table while the document is read: entries in file order (a tenant
/// file's tables have a handful of keys: a scan finds one).
struct Table<'s> {
    entries: Vec<Entry<'s>>,
}

/// A value of the subset.
enum Scalar<'s> {
    /// A string as written between its quotes (no escape in the subset).
    Str(&'s str),
    /// A decimal integer as written.
    Int(&'s str),
    Bool(bool),
    Array(Vec<(Scalar<'s>, Range<usize>)>),
}

impl<'s> Scalar<'s> {
    fn into_de(self) -> DeValue<'s> {
        match self {
            Scalar::Str(s) => DeValue::String(Cow::Borrowed(s)),
            Scalar::Int(text) => match DeValue::parse(text) {
                Ok(value) => value.into_inner(),
                // `value` only takes what the crate reads as an integer.
                Err(_) => unreachable!("{text} is an integer"),
            },
            Scalar::Bool(b) => DeValue::Boolean(b),
            Scalar::Array(items) => {
                let mut array = DeArray::new();
                for (item, span) in items {
                    array.push(Spanned::new(span, item.into_de()));
                }
                DeValue::Array(array)
            }
        }
    }
}

struct Entry<'s> {
    key: &'s str,
    key_span: Range<usize>,
    value: Node<'s>,
    span: Range<usize>,
}

enum Node<'s> {
    /// A value written after `key =`.
    Value(Scalar<'s>),
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
                Node::Value(value) => value.into_de(),
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

/// A header's keys and their spans.
type Keys<'s> = Vec<(&'s str, Range<usize>)>;

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
        let mut section: Option<(Keys<'s>, bool, Table<'s>)> = None;
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
    fn value(&mut self, arrays: bool) -> Option<(Scalar<'s>, Range<usize>)> {
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
                Some((Scalar::Str(value), start..self.pos))
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
                    .then_some((Scalar::Bool(value), start..self.pos))
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
                // What serde is given: an `i64` (larger ones are left
                // to the crate, which gives them as `u64` or `i128`).
                let text = &self.text[start..self.pos];
                text.parse::<i64>().ok()?;
                Some((Scalar::Int(text), start..self.pos))
            }
            b'[' if arrays => {
                self.pos += 1;
                let mut array = Vec::new();
                loop {
                    self.skip_array_space()?;
                    if self.peek()? == b']' {
                        break;
                    }
                    array.push(self.value(false)?);
                    self.skip_array_space()?;
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => break,
                        _ => return None,
                    }
                }
                self.pos += 1;
                Some((Scalar::Array(array), start..self.pos))
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

#[cfg(test)]
mod differential {
    use crate::parse::tenant::RawTenant;
    use serde::Deserialize;

    /// Every tenant file of the fixtures and the fuzz corpus the fast path
    /// reads is read by the `toml` crate alike (table and raw tenant, spans
    /// included), and every one it does not read is one the crate reads
    /// otherwise or refuses. Most valid fixtures are in the subset.
    #[test]
    fn the_fixtures_and_the_fuzz_corpus_read_alike() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        let mut dirs = vec![root.join("tests/fixtures"), root.join("fuzz/corpus/tenant")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.parent().is_some_and(|p| p.ends_with("tenants"))
                    || path.starts_with(root.join("fuzz"))
                {
                    files.push(path);
                }
            }
        }
        let (mut fast, mut tables) = (0, 0);
        for path in &files {
            let Ok(text) = String::from_utf8(std::fs::read(path).unwrap()) else {
                continue;
            };
            // `parse` checks itself against the crate in debug builds.
            if super::parse(&text).is_some() {
                tables += 1;
            }
            if let Some(raw) = super::deserialize::<RawTenant<'_>>(&text) {
                fast += 1;
                let doc = toml::de::DeTable::parse(&text).unwrap();
                let expected = RawTenant::deserialize(toml::de::Deserializer::from(doc))
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(
                    format!("{raw:?}"),
                    format!("{expected:?}"),
                    "{}",
                    path.display()
                );
            }
        }
        assert!(
            fast > 100 && tables >= fast,
            "{fast} of {} files",
            files.len()
        );
    }
}
