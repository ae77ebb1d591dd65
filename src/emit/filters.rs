//! Every tera filter, registered in one place. The escaping logic itself lives
//! in Rust functions with unit tests (one module per format under `emit/`);
//! this file only adapts them to tera.

use std::collections::HashMap;

use tera::{Tera, Value};

use crate::emit::sql_literal;

/// Adapt a `&str -> String` function into a tera filter.
fn string_filter(f: fn(&str) -> String) -> impl tera::Filter {
    move |value: &Value, _: &HashMap<String, Value>| -> tera::Result<Value> {
        match value {
            Value::String(s) => Ok(Value::String(f(s))),
            Value::Number(n) => Ok(Value::String(f(&n.to_string()))),
            other => Err(tera::Error::msg(format!("expected a string, got {other}"))),
        }
    }
}

pub(crate) fn register(tera: &mut Tera) {
    // Each format's escaping functions are registered here.
    tera.register_filter("sql_mysql", string_filter(sql_literal::mysql_literal));
    tera.register_filter("sql_sqlite", string_filter(sql_literal::sqlite_literal));
}
