//! The JSON form of a plan (stable; fields are only ever added, see
//! `commands::plan` for the shape).

use serde_json::{Value, json};

use crate::plan::files::FileStatus;
use crate::plan::rows::{Against, host_changes};
use crate::plan::{MAIL_KEPT, Plan, RowSection};

/// The whole plan.
pub(crate) fn render(plan: &Plan) -> Value {
    let files = &plan.files;
    json!({
        "changes": plan.has_changes(),
        "files": {
            "files": files.files,
            "tenants": plan.tenants(),
            "summary": {
                "added": files.count(FileStatus::Added),
                "changed": files.count(FileStatus::Changed),
                "removed": files.count(FileStatus::Removed),
            }
        },
        "database": rows(&plan.rows),
    })
}

/// The row half.
fn rows(section: &RowSection) -> Value {
    let c = section.plan.counts();
    let tenants: Vec<Value> = section
        .changes_by_tenant()
        .into_iter()
        .map(|(domain, changes)| json!({ "domain": domain, "changes": changes }))
        .collect();
    let mut notes: Vec<&str> = section.notes.iter().map(String::as_str).collect();
    if section.deletes_mailboxes() {
        notes.push(MAIL_KEPT);
    }
    let forwards: Vec<Value> = section
        .forwards
        .iter()
        .map(|(source, destination)| json!({ "source": source, "destination": destination }))
        .collect();
    let external: Vec<Value> = section
        .external
        .iter()
        .map(|(source, destination)| json!({ "source": source, "destination": destination }))
        .collect();
    let (url, base) = match &section.against {
        Against::Database(url) => (json!(url), None),
        Against::Revision(revision) => (
            Value::Null,
            Some(json!({ "ref": revision.name, "commit": revision.commit })),
        ),
    };
    let mut out = json!({
        "url": url,
        "live_fingerprint": section.live_fingerprint,
        "plan_hash": section.plan.hash(),
        "summary": { "insert": c.insert, "update": c.update, "delete": c.delete },
        "tenants": tenants,
        "notes": notes,
        "forwards_into_deleted_domains": forwards,
        "external_forwards": external,
        "read": section.read,
    });
    if let Some(base) = base {
        out["base"] = base;
    }
    // The platform's `mail_hosts` changes; absent when there are none.
    let hosts = host_changes(&section.plan);
    if !hosts.is_empty() {
        out["hosts"] = json!(hosts);
    }
    out
}
