//! `mailops graph`: the picture of the tenants and their forwarding, drawn by
//! the real renderers (Mermaid's CLI on Chromium, Graphviz's dot), and cut down
//! to what a change touches with `--changed-from REF`. The renderers come from
//! scripts/install-graph-tools (run by .ci/run); missing, the tests fail loudly.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

const MERMAID: &str = "/opt/mailops-tools/mermaid";

fn tool(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} is missing: run scripts/install-graph-tools",
        path.display()
    );
    path
}

fn graph(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, &[&["graph"], args].concat());
    assert_code(&out, 0);
    stdout(&out)
}

#[test]
fn the_mermaid_picture_renders_with_mermaid_cli() {
    let repo = Repo::example();
    let text = graph(repo.path(), &[]);
    assert!(text.starts_with("flowchart LR\n"), "{text}");
    // kaveri-foods forwards into mehta-associates, and off the platform.
    assert!(text.contains("t0 -->|\"1 forward\"| t1"), "{text}");
    assert!(
        text.contains("([\"freight-forwarder.example<br>off the platform\"])"),
        "{text}"
    );
    assert!(
        text.contains("xn--11bg9a6av5ff.example (किताबघर.example)"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.mmd"), &text).unwrap();
    let mmdc = tool(Path::new(MERMAID).join("node_modules/.bin/mmdc"));
    let render = |input: &str, output: &str| {
        Command::new(&mmdc)
            .arg("-p")
            .arg(Path::new(MERMAID).join("puppeteer.json"))
            .arg("-i")
            .arg(dir.path().join(input))
            .arg("-o")
            .arg(dir.path().join(output))
            .output()
            .expect("mmdc runs")
    };
    let out = render("in.mmd", "out.svg");
    assert!(out.status.success(), "{}", show(&out));
    let svg = std::fs::read_to_string(dir.path().join("out.svg")).unwrap();
    assert!(svg.contains("mehta-associates.example"), "{svg}");
    assert!(svg.contains("1 forward"));
    // The renderer does refuse what does not parse (so the check above means something).
    std::fs::write(dir.path().join("bad.mmd"), text.replace("-->|", "-->|\"")).unwrap();
    assert!(!render("bad.mmd", "bad.svg").status.success());
}

#[test]
fn the_dot_picture_renders_with_graphviz_without_a_warning() {
    let repo = Repo::example();
    let text = graph(repo.path(), &["--format", "dot"]);
    assert!(
        text.contains("\"kaveri-foods.example\" -> \"ext:freight-forwarder.example\" [label=\"1 forward\", style=dashed];"),
        "{text}"
    );
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("dot (Debian's graphviz) runs: run scripts/install-graph-tools");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        show(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
}

#[test]
fn changed_from_shows_the_changed_tenants_and_their_neighbours_only() {
    let repo = Repo::example();
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "base"]);
    // Nothing changed: an empty picture, every tenant left out.
    let json: serde_json::Value = serde_json::from_str(&graph(
        repo.path(),
        &["--changed-from", "HEAD", "--format", "json"],
    ))
    .unwrap();
    assert_eq!(json["tenants"].as_array().unwrap().len(), 0, "{json}");
    assert_eq!(json["left_out"], 5);
    // sharma-textiles changes an alias: it, and mehta-associates it forwards to.
    let path = repo.path().join("tenants/sharma-textiles.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{text}\n[[alias]]\naddress = \"graph-test\"\nto = [\"postmaster\"]\n"),
    )
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&graph(
        repo.path(),
        &["--changed-from", "HEAD", "--format", "json"],
    ))
    .unwrap();
    let tenants: Vec<(&str, bool)> = json["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["domain"].as_str().unwrap(),
                t["focused"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        tenants,
        [
            ("mehta-associates.example", false),
            ("sharma-textiles.example", true)
        ],
        "{json}"
    );
    // kaveri-foods also forwards into mehta-associates, but is not a neighbour of the change.
    assert_eq!(json["forwards"].as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json["left_out"], 3);
    let mermaid = graph(repo.path(), &["--changed-from", "HEAD"]);
    assert!(mermaid.contains("class t1 changed"), "{mermaid}");
    // The pull request's plan comment carries the same picture, which Mermaid draws.
    let out = run(
        repo.path(),
        &["plan", "--base", "HEAD", "--format", "markdown"],
    );
    assert_code(&out, 0);
    let comment = stdout(&out);
    assert!(
        comment.contains("<summary>Tenants this change touches: 1 changed (bold), 1 neighbour they forward with</summary>"),
        "{comment}"
    );
    let block = comment
        .split("```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a mermaid block");
    assert_eq!(block, mermaid);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.mmd"), block).unwrap();
    let out = Command::new(tool(Path::new(MERMAID).join("node_modules/.bin/mmdc")))
        .arg("-p")
        .arg(Path::new(MERMAID).join("puppeteer.json"))
        .arg("-i")
        .arg(dir.path().join("plan.mmd"))
        .arg("-o")
        .arg(dir.path().join("plan.svg"))
        .output()
        .expect("mmdc runs");
    assert!(out.status.success(), "{}", show(&out));
    // An unknown revision is a user error.
    let out = run(repo.path(), &["graph", "--changed-from", "no-such-ref"]);
    assert_code(&out, 1);
}

/// The README shows the example tenants' picture (GitHub renders it): it must
/// be what `mailops graph` draws of them now.
#[test]
fn the_readme_shows_the_current_picture_of_the_examples() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let picture = graph(&root(), &[]);
    assert!(
        readme.contains(&format!("```mermaid\n{picture}```\n")),
        "README.md's example graph is not `mailops graph`'s output; paste it again:\n{picture}"
    );
}
