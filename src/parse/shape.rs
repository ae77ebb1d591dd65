//! Shape check: a parsed TOML document against the JSON Schema of its Rust type.
//!
//! serde stops at the first problem in a document. Users want every unknown
//! key, wrong type and missing key of every file in one run, so when serde
//! refuses a document this walk checks it against the schema that schemars
//! derives from the very types serde fills: one source of truth for keys and
//! types, the same schema editors use.

use serde_json::Value as Json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostics;
use crate::parse::diags;
use crate::source::{FileId, Location};

/// A JSON Schema (as produced by schemars), compiled once into a small tree
/// that a million documents are walked against without touching JSON.
pub(crate) struct Shape {
    nodes: Vec<Expect>,
}

/// What a value must be. Index 0 of `Shape::nodes` is the document's table.
#[derive(Debug, Clone)]
enum Expect {
    /// A table: its keys (in schema order, for "did you mean") and which are required.
    Table {
        properties: Vec<(String, usize)>,
        required: Vec<String>,
    },
    /// An array, and what each item must be (unchecked when absent).
    Array(Option<usize>),
    /// A scalar of the schema type (`string`, `integer`, `number`, `boolean`).
    Scalar(Scalar),
    /// One of several shapes (`anyOf` with more than one non-null branch, such
    /// as `[dkim]` or `[[dkim]]`): the branch whose kind matches the value.
    Either(Vec<usize>),
    /// Anything (the schema says nothing checkable).
    Any,
}

impl Shape {
    pub(crate) fn new(root: Json) -> Self {
        let mut compiler = Compiler {
            root: &root,
            nodes: Vec::new(),
            defs: Vec::new(),
        };
        // The document's table is node 0, so reserve it before its children.
        let at = compiler.push(Expect::Any);
        compiler.nodes[at] = compiler.expect(&root);
        Shape {
            nodes: compiler.nodes,
        }
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
            path: String::new(),
        };
        let doc_span = doc.span().start..doc.span().start;
        walk.table(0, doc.get_ref(), doc_span);
    }
}

/// A scalar schema type, matched without comparing its name for each of
/// the millions of values a platform has.
#[derive(Debug, Clone)]
enum Scalar {
    String,
    Integer,
    Number,
    Boolean,
    /// Another schema type name (no TOML value is of it).
    Other(String),
}

impl Scalar {
    fn new(schema_type: &str) -> Self {
        match schema_type {
            "string" => Scalar::String,
            "integer" => Scalar::Integer,
            "number" => Scalar::Number,
            "boolean" => Scalar::Boolean,
            other => Scalar::Other(other.to_string()),
        }
    }

    /// The schema type's name.
    fn name(&self) -> &str {
        match self {
            Scalar::String => "string",
            Scalar::Integer => "integer",
            Scalar::Number => "number",
            Scalar::Boolean => "boolean",
            Scalar::Other(name) => name,
        }
    }
}

/// Turns schema JSON into `Expect` nodes, following `$ref`s (each definition
/// compiled once, so recursive schemas terminate) and taking the non-null
/// branch of an `anyOf`/`oneOf` (an `Option`).
struct Compiler<'j> {
    root: &'j Json,
    nodes: Vec<Expect>,
    defs: Vec<(&'j str, usize)>,
}

impl<'j> Compiler<'j> {
    fn compile(&mut self, schema: &'j Json) -> usize {
        if let Some(reference) = schema.get("$ref").and_then(Json::as_str) {
            let name = reference.trim_start_matches("#/$defs/");
            if let Some(&(_, at)) = self.defs.iter().find(|(n, _)| *n == name) {
                return at;
            }
            let Some(target) = self.root.get("$defs").and_then(|d| d.get(name)) else {
                return self.push(Expect::Any);
            };
            let at = self.push(Expect::Any);
            self.defs.push((name, at));
            let compiled = self.expect(target);
            self.nodes[at] = compiled;
            return at;
        }
        let expect = self.expect(schema);
        self.push(expect)
    }

    fn push(&mut self, expect: Expect) -> usize {
        self.nodes.push(expect);
        self.nodes.len() - 1
    }

    fn expect(&mut self, schema: &'j Json) -> Expect {
        if schema.get("$ref").is_some() {
            let at = self.compile(schema);
            return self.nodes[at].clone();
        }
        if let Some(alternatives) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Json::as_array)
        {
            let branches: Vec<&Json> = alternatives
                .iter()
                .filter(|alt| !is_null_schema(alt))
                .collect();
            return match branches.as_slice() {
                [] => Expect::Any,
                [alt] => self.expect(alt),
                several => Expect::Either(several.iter().map(|alt| self.compile(alt)).collect()),
            };
        }
        match expected_type(schema) {
            Some("object") => {
                let properties = schema
                    .get("properties")
                    .and_then(Json::as_object)
                    .map(|props| {
                        props
                            .iter()
                            .map(|(name, child)| (name.clone(), self.compile(child)))
                            .collect()
                    })
                    .unwrap_or_default();
                let required = schema
                    .get("required")
                    .and_then(Json::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(Json::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                Expect::Table {
                    properties,
                    required,
                }
            }
            Some("array") => Expect::Array(schema.get("items").map(|items| self.compile(items))),
            Some(scalar) => Expect::Scalar(Scalar::new(scalar)),
            None => Expect::Any,
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
    /// Dotted path of the table being walked (`dkim`, `limits`); one buffer
    /// reused for every key.
    path: String,
}

impl Walk<'_, '_> {
    fn loc(&self, span: std::ops::Range<usize>) -> Location {
        Location::new(self.file, span)
    }

    fn value(&mut self, node: usize, value: &Spanned<DeValue<'_>>) {
        let found = value.get_ref();
        let shape = self.shape;
        let expected = match (&shape.nodes[node], found) {
            (Expect::Any, _) => return,
            (Expect::Either(branches), found) => {
                let nodes = &shape.nodes;
                let branch = branches.iter().copied().find(|&b| {
                    matches!(
                        (&nodes[b], found),
                        (Expect::Table { .. }, DeValue::Table(_))
                            | (Expect::Array(_), DeValue::Array(_))
                            | (Expect::Any | Expect::Scalar(_) | Expect::Either(_), _)
                    )
                });
                if let Some(branch) = branch.or(branches.first().copied()) {
                    self.value(branch, value);
                }
                return;
            }
            (Expect::Table { .. }, DeValue::Table(table)) => {
                self.table(node, table, value.span());
                return;
            }
            (Expect::Array(items), DeValue::Array(values)) => {
                if let Some(item) = *items {
                    for v in values.iter() {
                        self.value(item, v);
                    }
                }
                return;
            }
            (Expect::Scalar(t), found) => {
                let ok = matches!(
                    (t, found),
                    (Scalar::String, DeValue::String(_))
                        | (Scalar::Integer, DeValue::Integer(_))
                        | (Scalar::Number, DeValue::Integer(_) | DeValue::Float(_))
                        | (Scalar::Boolean, DeValue::Boolean(_))
                );
                if ok {
                    if let DeValue::Integer(i) = found {
                        // TOML integers are 64-bit; the parser reads larger
                        // ones, which serde then refused in its own words.
                        if i64::from_str_radix(i.as_str(), i.radix()).is_err() {
                            self.diagnostics.push(diags::integer_out_of_range(
                                self.loc(value.span()),
                                &self.path,
                            ));
                        }
                    }
                    return;
                }
                t.name()
            }
            (Expect::Table { .. }, _) => "object",
            (Expect::Array(_), _) => "array",
        };
        self.diagnostics.push(diags::wrong_type(
            self.loc(value.span()),
            &self.path,
            type_name(expected),
            found.type_str(),
        ));
    }

    fn table(&mut self, node: usize, table: &DeTable<'_>, missing_span: std::ops::Range<usize>) {
        let shape = self.shape;
        let Expect::Table {
            properties,
            required,
        } = &shape.nodes[node]
        else {
            return;
        };
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            match properties.iter().find(|(p, _)| p == name) {
                Some(&(_, child)) => {
                    let parent = self.path.len();
                    if parent > 0 {
                        self.path.push('.');
                    }
                    self.path.push_str(name);
                    self.value(child, value);
                    self.path.truncate(parent);
                }
                None => {
                    let known: Vec<&str> = properties.iter().map(|(p, _)| p.as_str()).collect();
                    self.diagnostics.push(diags::unknown_key(
                        self.loc(key.span()),
                        name,
                        &self.path,
                        &known,
                    ));
                }
            }
        }
        for key in required {
            if table.get(key.as_str()).is_none() {
                self.diagnostics.push(diags::missing_key(
                    self.loc(missing_span.clone()),
                    key,
                    &self.path,
                ));
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
