//! Shape check: a parsed TOML document against the JSON Schema of its Rust type.
//!
//! serde stops at the first problem in a document. Users want every unknown
//! key, wrong type and missing key of every file in one run, so before serde
//! sees a document this walk checks it against the schema that schemars
//! derives from the very types serde fills: one source of truth for keys and
//! types, the same schema editors use.

use serde_json::Value as Json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostics;
use crate::parse::diags;
use crate::source::{FileId, Location};

/// A JSON Schema (as produced by schemars) to walk documents against.
pub(crate) struct Shape {
    root: Json,
}

impl Shape {
    pub(crate) fn new(root: Json) -> Self {
        Shape { root }
    }

    /// Check a whole document; pushes one diagnostic per problem.
    pub(crate) fn check_document(
        &self,
        doc: &Spanned<DeTable<'_>>,
        file: FileId,
        diagnostics: &mut Diagnostics,
    ) {
        let mut walk = Walk {
            shape: self,
            file,
            diagnostics,
        };
        let doc_span = doc.span().start..doc.span().start;
        walk.table(&self.root, doc.get_ref(), doc_span, "");
    }

    fn resolve<'a>(&'a self, mut schema: &'a Json) -> &'a Json {
        loop {
            if let Some(reference) = schema.get("$ref").and_then(Json::as_str) {
                let name = reference.trim_start_matches("#/$defs/");
                match self.root.get("$defs").and_then(|d| d.get(name)) {
                    Some(target) => schema = target,
                    None => return schema,
                }
            } else if let Some(alternatives) = schema
                .get("anyOf")
                .or_else(|| schema.get("oneOf"))
                .and_then(Json::as_array)
            {
                match alternatives.iter().find(|alt| !is_null_schema(alt)) {
                    Some(alt) => schema = alt,
                    None => return schema,
                }
            } else {
                return schema;
            }
        }
    }
}

fn is_null_schema(schema: &Json) -> bool {
    schema.get("type").and_then(Json::as_str) == Some("null")
}

/// The non-null type a schema expects.
fn expected_type(schema: &Json) -> Option<&str> {
    match schema.get("type")? {
        Json::String(t) => Some(t.as_str()),
        Json::Array(types) => types.iter().filter_map(Json::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

struct Walk<'a, 'd> {
    shape: &'a Shape,
    file: FileId,
    diagnostics: &'d mut Diagnostics,
}

impl Walk<'_, '_> {
    fn loc(&self, span: std::ops::Range<usize>) -> Location {
        Location::new(self.file, span)
    }

    fn value(&mut self, schema: &Json, value: &Spanned<DeValue<'_>>, path: &str) {
        let schema = self.shape.resolve(schema);
        let Some(expected) = expected_type(schema) else {
            return;
        };
        let found = value.get_ref();
        let ok = match (expected, found) {
            ("object", DeValue::Table(table)) => {
                self.table(schema, table, value.span(), path);
                true
            }
            ("array", DeValue::Array(items)) => {
                if let Some(item_schema) = schema.get("items") {
                    for item in items.iter() {
                        self.value(item_schema, item, path);
                    }
                }
                true
            }
            ("string", DeValue::String(_)) => true,
            ("integer", DeValue::Integer(_)) => true,
            ("number", DeValue::Integer(_) | DeValue::Float(_)) => true,
            ("boolean", DeValue::Boolean(_)) => true,
            _ => false,
        };
        if !ok {
            self.diagnostics.push(diags::wrong_type(
                self.loc(value.span()),
                path,
                type_name(expected),
                found.type_str(),
            ));
        }
    }

    fn table(
        &mut self,
        schema: &Json,
        table: &DeTable<'_>,
        missing_span: std::ops::Range<usize>,
        path: &str,
    ) {
        let schema = self.shape.resolve(schema);
        let empty = serde_json::Map::new();
        let properties = schema
            .get("properties")
            .and_then(Json::as_object)
            .unwrap_or(&empty);
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            let child_path = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path}.{name}")
            };
            match properties.get(name) {
                Some(child) => self.value(child, value, &child_path),
                None => {
                    let known: Vec<&str> = properties.keys().map(String::as_str).collect();
                    self.diagnostics.push(diags::unknown_key(
                        self.loc(key.span()),
                        name,
                        path,
                        &known,
                    ));
                }
            }
        }
        if let Some(required) = schema.get("required").and_then(Json::as_array) {
            for key in required.iter().filter_map(Json::as_str) {
                if table.get(key).is_none() {
                    self.diagnostics.push(diags::missing_key(
                        self.loc(missing_span.clone()),
                        key,
                        path,
                    ));
                }
            }
        }
    }
}

fn type_name(schema_type: &str) -> &str {
    match schema_type {
        "object" => "table",
        "number" => "float",
        other => other,
    }
}
