//! Every tera filter, registered in one place. The escaping logic itself lives
//! in Rust functions with unit tests (one module per format under `emit/`);
//! this file only adapts them to tera.

use std::collections::HashMap;

use tera::{Tera, Value};

use crate::emit::{hcl, route53};

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
    // Each format's escaping functions are registered here, e.g.
    // tera.register_filter("sql_mysql", string_filter(sql::escape_mysql));

    // Terraform (HCL): a quoted string, the inside of one, `#` comment lines,
    // a resource name for a domain, a TXT value in Route53's form.
    tera.register_filter("hcl_string", string_filter(hcl::string));
    tera.register_filter("hcl_escape", string_filter(hcl::escape));
    tera.register_filter("hcl_comment", string_filter(hcl::comment));
    tera.register_filter("tf_name", string_filter(hcl::identifier));
    tera.register_filter("route53_txt", string_filter(route53::txt_value));
}
