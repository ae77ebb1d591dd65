//! Every tera filter, registered in one place. The escaping logic itself lives
//! in Rust functions with unit tests (one module per format under `emit/`);
//! this file only adapts them to tera.

use std::collections::HashMap;

use tera::{Tera, Value};

use crate::emit::conf::{self, Quoted};
use crate::emit::{hcl, mysql_quote, route53, shell, sql_literal, yaml};

fn as_text(value: &Value) -> tera::Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(tera::Error::msg(format!("expected a string, got {other}"))),
    }
}

/// Adapt a `&str -> String` function into a tera filter.
fn string_filter(f: fn(&str) -> String) -> impl tera::Filter {
    move |value: &Value, _: &HashMap<String, Value>| -> tera::Result<Value> {
        Ok(Value::String(f(&as_text(value)?)))
    }
}

/// Adapt a function that may refuse a value (the render then fails: a value
/// validation should have refused reached a template).
fn checked_filter(f: fn(&str) -> Quoted) -> impl tera::Filter {
    move |value: &Value, _: &HashMap<String, Value>| -> tera::Result<Value> {
        f(&as_text(value)?)
            .map(Value::String)
            .map_err(|e| tera::Error::msg(e.to_string()))
    }
}

/// `yaml_block(indent=N)`: see `yaml::yaml_block`.
fn yaml_block_filter(value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
    let indent = args
        .get("indent")
        .and_then(Value::as_u64)
        .ok_or_else(|| tera::Error::msg("yaml_block needs indent=N"))?;
    Ok(Value::String(yaml::yaml_block(
        &as_text(value)?,
        indent as usize,
    )))
}

pub(crate) fn register(tera: &mut Tera) {
    tera.register_filter("comment", checked_filter(conf::comment_text));
    tera.register_filter("postfix", checked_filter(conf::postfix_value));
    tera.register_filter("postfix_map", checked_filter(conf::postfix_map_value));
    tera.register_filter("dovecot", checked_filter(conf::dovecot_value));
    tera.register_filter("dovecot_expanded", checked_filter(conf::dovecot_expanded));
    tera.register_filter("dovecot_file", checked_filter(conf::dovecot_file));
    tera.register_filter(
        "dovecot_connect",
        checked_filter(conf::dovecot_connect_value),
    );
    tera.register_filter("ucl", checked_filter(conf::ucl_string));
    tera.register_filter("my_cnf", checked_filter(conf::my_cnf_value));
    tera.register_filter("shell", checked_filter(shell::shell_word));
    tera.register_filter("yaml", string_filter(yaml::yaml_string));
    tera.register_filter("yaml_block", yaml_block_filter);
    tera.register_filter("mysql_string", string_filter(mysql_quote::mysql_string));
    tera.register_filter("mysql_ident", string_filter(mysql_quote::mysql_ident));

    // SQL string literals of the generated SQL files, per dialect.
    tera.register_filter("sql_mysql", string_filter(sql_literal::mysql_literal));
    tera.register_filter("sql_sqlite", string_filter(sql_literal::sqlite_literal));

    // Terraform (HCL): a quoted string, the inside of one, `#` comment lines,
    // a resource name for a domain, a TXT value in Route53's form.
    tera.register_filter("hcl_string", string_filter(hcl::string));
    tera.register_filter("hcl_escape", string_filter(hcl::escape));
    tera.register_filter("hcl_comment", string_filter(hcl::comment));
    tera.register_filter("tf_name", string_filter(hcl::identifier));
    tera.register_filter("route53_txt", string_filter(route53::txt_value));
}
