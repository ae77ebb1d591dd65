//! The layering of `src/` (issue 11): no import cycle between files, and no
//! import from a lower layer into a higher one, in the order
//! util < model < stages < pipeline < commands < the crate roots.
//!
//! Why a test and not a tool: it runs with `cargo test`, needs no dependency
//! and no network, and the table of layers sits in one place, at the top of
//! this file, where a new module must be given its layer.
//!
//! How it reads the code, without a parser: a small lexer drops comments,
//! string and character literals, and every `#[cfg(test)]` item (a test may
//! compile a whole repo to get a model; the files of a `#[cfg(test)] mod x;`
//! are test-only too). Then every leaf of every `use` tree and every inline
//! path (`crate::a::b::f()`, `super::x`, `child::y`) is resolved to the file
//! that holds what it names: the longest module path that is a file, then,
//! when that file only imports the name (a re-export such as
//! `pub(crate) use records::Dkim`, or a parent's private `use` that a child
//! reaches through `super::`), on through that import, so that
//! `crate::model::Dkim` lands in `model/records.rs`, not in `model/mod.rs`.
//!
//! What counts as an edge: every such reference, in both checks, except in
//! one case. A `mod.rs` (or `lib.rs`) reaching into its own submodules is left
//! out of the cycle check: a module's `mod.rs` is its face and its children its
//! body, and a parent that dispatches to its children while they use its shared
//! items (`super::Checker`, `crate::emit::Artifacts`) is one module, not a
//! cycle. A re-export is not lost by this: it is followed to the file that
//! defines the item, so two siblings that need each other through their parent
//! are still a cycle, and an outside file that uses a re-export depends on the
//! file that defines it. The layer check keeps every edge (a parent and its
//! children share a layer, so that exception never matters there). `mod`
//! declarations are not edges: they build the tree, they import nothing.
//!
//! Limits: an inline non-test `mod x { … }` is refused with a message (its
//! paths would resolve against the wrong module); a glob re-export
//! (`pub use a::*`) is not followed; paths inside macro bodies count like any
//! other code; a path that starts with a name imported by a
//! `use` (`desired::summarise()` after `use crate::db::desired`) is not an
//! edge of its own, because the `use` already is.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;

/// The layers, lowest first, and the top-level modules of `src/` in each
/// (`lib` is `src/lib.rs`, `main` is `src/main.rs`). A module may use its own
/// layer and the layers below it. Every module of `src/` must be listed.
const LAYERS: Layers = &[
    (
        "util",
        &[
            "span",
            "source",
            "fsutil",
            "secret_file",
            "parallel",
            "diagnostic",
            "load_diags",
            "chars",
            "diagnostic_code",
            "error",
            "hints",
            "database_url",
            "timing",
            "progress",
            "gitrev",
            "utc_time",
        ],
    ),
    ("model", &["model"]),
    (
        "stages",
        &[
            "load",
            "parse",
            "validate",
            "graph",
            "keystore",
            "bimi_logos",
            "encrypted_keys",
            "dkim_keys",
            "emit",
            "dns",
            "db",
            "import",
            "incremental",
            "generated_dir",
            "plan",
            "diagnostic_catalogue",
            "host_root",
            "install",
            "mail_move",
            "init",
        ],
    ),
    ("pipeline", &["pipeline"]),
    ("commands", &["commands", "cli", "reconcile"]),
    ("roots", &["lib", "main", "fuzzing", "testkit"]),
];

/// The library's name, as `src/main.rs` (another crate) spells it.
const CRATE_NAME: &str = "mailops";

type Layers = &'static [(&'static str, &'static [&'static str])];

#[test]
fn every_module_of_src_has_a_layer() {
    let sources = Sources::read_src();
    let problems = sources.table_problems(LAYERS);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_cycle_between_files_and_no_upward_import() {
    let sources = Sources::read_src();
    let problems = sources.table_problems(LAYERS);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let cycles = sources.cycles();
    let upward = sources.upward(LAYERS);
    println!("{} cycles between files:", cycles.len());
    for cycle in &cycles {
        println!("{cycle}");
    }
    println!("{} upward imports:", upward.len());
    for edge in &upward {
        println!("  {edge}");
    }
    assert!(
        cycles.is_empty() && upward.is_empty(),
        "{} cycles and {} upward imports (listed above)",
        cycles.len(),
        upward.len()
    );
}

// ---------------------------------------------------------------- the lexer

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Colons,
    /// A string, character or number literal: its text is never a path.
    Literal,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Rust source → tokens, without comments and with every literal reduced to
/// [`Tok::Literal`].
fn lex(text: &str) -> Vec<Token> {
    let c: Vec<char> = text.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            // Block comments nest.
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if let Some((body, hashes)) = string_start(&c, i) {
            let start_line = line;
            i = skip_string(&c, body, hashes, &mut line);
            out.push(Token {
                tok: Tok::Literal,
                line: start_line,
            });
        } else if ch == '\'' || (ch == 'b' && at(i + 1) == '\'') {
            let quote = if ch == 'b' { i + 1 } else { i };
            if at(quote + 1) == '\\' {
                // An escaped character: '\'' '\\' '\n' '\u{1F600}'.
                let mut j = quote + 3;
                while j < c.len() && c[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push(Token {
                    tok: Tok::Literal,
                    line,
                });
            } else if at(quote + 2) == '\'' {
                i = quote + 3;
                out.push(Token {
                    tok: Tok::Literal,
                    line,
                });
            } else {
                // A lifetime or a label: its name follows as an identifier.
                out.push(Token {
                    tok: Tok::Punct('\''),
                    line,
                });
                i = quote + 1;
            }
        } else if is_ident_start(ch) || (ch == 'r' && at(i + 1) == '#') {
            if ch == 'r' && at(i + 1) == '#' {
                i += 2; // a raw identifier: r#type
            }
            let start = i;
            while i < c.len() && is_ident_continue(c[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(c[start..i].iter().collect()),
                line,
            });
        } else if ch.is_ascii_digit() {
            while i < c.len() && is_ident_continue(c[i]) {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Literal,
                line,
            });
        } else if ch == ':' && at(i + 1) == ':' {
            out.push(Token {
                tok: Tok::Colons,
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                tok: Tok::Punct(ch),
                line,
            });
            i += 1;
        }
    }
    out
}

/// At `i`, the opening of a string literal (`"`, `b"`, `c"`, `r#"`, `br"`,
/// `cr#"`): where its body starts, and the number of `#` of a raw string.
fn string_start(c: &[char], i: usize) -> Option<(usize, Option<usize>)> {
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let mut j = i;
    if matches!(at(j), 'b' | 'c') {
        j += 1;
    }
    if at(j) == 'r' {
        j += 1;
        let mut hashes = 0;
        while at(j) == '#' {
            hashes += 1;
            j += 1;
        }
        return (at(j) == '"').then_some((j + 1, Some(hashes)));
    }
    (at(j) == '"').then_some((j + 1, None))
}

/// Past the end of a string whose body starts at `j`.
fn skip_string(c: &[char], mut j: usize, hashes: Option<usize>, line: &mut usize) -> usize {
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while j < c.len() {
        match c[j] {
            '\n' => {
                *line += 1;
                j += 1;
            }
            '\\' if hashes.is_none() => {
                if at(j + 1) == '\n' {
                    *line += 1;
                }
                j += 2;
            }
            '"' => {
                let h = hashes.unwrap_or(0);
                if (1..=h).all(|k| at(j + k) == '#') {
                    return j + 1 + h;
                }
                j += 1;
            }
            _ => j += 1,
        }
    }
    j
}

// ------------------------------------------------------------ the extractor

/// What one file refers to, before resolution.
#[derive(Debug, Default, PartialEq, Eq)]
struct Extracted {
    /// `mod name;` declarations: the name, and whether it is `#[cfg(test)]`.
    mods: Vec<(String, bool)>,
    /// Every leaf of every `use` tree outside test code.
    uses: Vec<UseLeaf>,
    /// Every path of two or more segments in code outside `use` and test
    /// code (`a::b::c(…)` → `["a", "b", "c"]`), with its line.
    paths: Vec<(Vec<String>, usize)>,
}

/// One leaf of a `use` tree: `use a::{b as c, d::{self, *}}` has the leaves
/// `a::b` (binds `c`), `a::d` (binds `d`) and the glob `a::d::*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UseLeaf {
    path: Vec<String>,
    /// The name it brings into scope; `None` for a glob.
    name: Option<String>,
    line: usize,
}

fn ident(toks: &[Token], i: usize) -> Option<&str> {
    match toks.get(i).map(|t| &t.tok) {
        Some(Tok::Ident(name)) => Some(name),
        _ => None,
    }
}

fn punct(toks: &[Token], i: usize) -> Option<char> {
    match toks.get(i).map(|t| &t.tok) {
        Some(Tok::Punct(c)) => Some(*c),
        _ => None,
    }
}

fn colons(toks: &[Token], i: usize) -> bool {
    matches!(toks.get(i).map(|t| &t.tok), Some(Tok::Colons))
}

/// Past the bracket closing the one at `open`.
fn close(toks: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

fn extract(text: &str) -> Extracted {
    let toks = lex(text);
    let mut out = Extracted::default();
    let mut i = 0;
    while i < toks.len() {
        if punct(&toks, i) == Some('#') && punct(&toks, i + 1) == Some('[') {
            let end = close(&toks, i + 1);
            let attribute: Vec<&Tok> = toks
                .get(i + 2..end.saturating_sub(1))
                .unwrap_or_default()
                .iter()
                .map(|t| &t.tok)
                .collect();
            i = end;
            let cfg_test = [
                Tok::Ident("cfg".into()),
                Tok::Punct('('),
                Tok::Ident("test".into()),
                Tok::Punct(')'),
            ];
            if attribute.iter().copied().eq(cfg_test.iter()) {
                i = skip_test_item(&toks, i, &mut out);
            }
        } else if ident(&toks, i) == Some("use") && punct(&toks, i + 1) != Some('<') {
            i = use_tree(&toks, i + 1, Vec::new(), &mut out.uses);
        } else if ident(&toks, i) == Some("mod") && ident(&toks, i + 1).is_some() {
            let name = ident(&toks, i + 1).unwrap_or_default().to_string();
            match punct(&toks, i + 2) {
                Some(';') => out.mods.push((name, false)),
                Some('{') => panic!(
                    "line {}: inline module `{name}`: the layering check does not follow \
                     inline modules; give it its own file (or make it #[cfg(test)])",
                    toks[i].line
                ),
                _ => {}
            }
            i += 2;
        } else if ident(&toks, i).is_some() && !(i > 0 && colons(&toks, i - 1)) {
            let line = toks[i].line;
            let mut path = vec![ident(&toks, i).unwrap_or_default().to_string()];
            i += 1;
            while colons(&toks, i) && ident(&toks, i + 1).is_some() {
                path.push(ident(&toks, i + 1).unwrap_or_default().to_string());
                i += 2;
            }
            if path.len() > 1 {
                out.paths.push((path, line));
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Reads one `use` tree from `i` under `prefix`; returns where it ends.
fn use_tree(toks: &[Token], mut i: usize, prefix: Vec<String>, out: &mut Vec<UseLeaf>) -> usize {
    let mut path = prefix;
    if colons(toks, i) {
        i += 1; // a leading `::`
    }
    loop {
        if let Some(name) = ident(toks, i) {
            let line = toks[i].line;
            path.push(name.to_string());
            i += 1;
            if colons(toks, i) {
                i += 1;
                continue;
            }
            let renamed = match (ident(toks, i), ident(toks, i + 1)) {
                (Some("as"), Some(alias)) => {
                    i += 2;
                    Some(alias.to_string())
                }
                _ => None,
            };
            if path.len() > 1 && path.last().is_some_and(|s| s == "self") {
                path.pop();
            }
            let name = renamed.or_else(|| path.last().cloned());
            out.push(UseLeaf { path, name, line });
            return i;
        }
        match punct(toks, i) {
            Some('*') => {
                let line = toks[i].line;
                out.push(UseLeaf {
                    path,
                    name: None,
                    line,
                });
                return i + 1;
            }
            Some('{') => {
                i += 1;
                loop {
                    match punct(toks, i) {
                        Some('}') => return i + 1,
                        Some(',') => i += 1,
                        _ if i >= toks.len() => return i,
                        _ => {
                            let next = use_tree(toks, i, path.clone(), out);
                            i = next.max(i + 1);
                        }
                    }
                }
            }
            _ => return i,
        }
    }
}

/// Skips the item after a `#[cfg(test)]` at `i`, recording a test-only
/// `mod name;`; returns where the item ends.
fn skip_test_item(toks: &[Token], mut i: usize, out: &mut Extracted) -> usize {
    while punct(toks, i) == Some('#') && punct(toks, i + 1) == Some('[') {
        i = close(toks, i + 1);
    }
    if ident(toks, i) == Some("pub") {
        i += 1;
        if punct(toks, i) == Some('(') {
            i = close(toks, i);
        }
    }
    if let (Some("mod"), Some(name), Some(';')) =
        (ident(toks, i), ident(toks, i + 1), punct(toks, i + 2))
    {
        out.mods.push((name.to_string(), true));
        return i + 3;
    }
    // `use`, `const`, `static`, `type` and `let` end at their `;` even after
    // a brace (`use a::{b, c};`); other items end at their closing brace.
    let statement = matches!(
        ident(toks, i),
        Some("use" | "const" | "static" | "type" | "let")
    );
    let mut depth = 0i32;
    while i < toks.len() {
        match punct(toks, i) {
            Some('(' | '[' | '{') => depth += 1,
            Some(c @ (')' | ']' | '}')) => {
                depth -= 1;
                if depth < 0 {
                    return i; // the end of the enclosing block
                }
                if depth == 0 && c == '}' && !statement {
                    return i + 1;
                }
            }
            Some(';') if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

// ------------------------------------------------------------- the resolver

/// One `.rs` file under `src/`.
#[derive(Debug)]
struct File {
    /// `src/db/live.rs`
    rel: String,
    /// The crate it belongs to: `lib` or `main`.
    root: &'static str,
    /// `src/db/live.rs` → `db::live`; `src/db/mod.rs` → `db`; `src/lib.rs` → ``.
    module: Vec<String>,
    extracted: Extracted,
    /// Compiled only for tests: it, or a module above it, is a
    /// `#[cfg(test)] mod`.
    test_only: bool,
}

impl File {
    /// The top-level module it belongs to, as named in the layer table.
    fn top(&self) -> &str {
        match (self.root, self.module.first()) {
            ("main", _) => "main",
            (_, None) => "lib",
            (_, Some(top)) => top.as_str(),
        }
    }

    /// The name `name` imported here by a `use`, if any.
    fn binding(&self, name: &str) -> Option<&UseLeaf> {
        self.extracted
            .uses
            .iter()
            .find(|leaf| leaf.name.as_deref() == Some(name))
    }
}

/// A reference from one file to another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: usize,
    line: usize,
    to: usize,
    /// The path as written, `crate::load::with_path`.
    path: String,
}

struct Sources {
    files: Vec<File>,
    by_module: BTreeMap<(&'static str, Vec<String>), usize>,
}

impl Sources {
    /// Every `.rs` file under `src/`.
    fn read_src() -> Sources {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut found = Vec::new();
        let mut dirs = vec![root.join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("src/ is readable") {
                let path = entry.expect("src/ is readable").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let rel = path.strip_prefix(root).expect("under the root");
                    let rel = rel.to_string_lossy().replace('\\', "/");
                    let text = std::fs::read_to_string(&path).expect("source is UTF-8");
                    found.push((rel, text));
                }
            }
        }
        Sources::new(found)
    }

    /// `(path relative to the project, contents)` of every file.
    fn new(mut found: Vec<(String, String)>) -> Sources {
        found.sort();
        let mut files: Vec<File> = found
            .into_iter()
            .map(|(rel, text)| {
                let inner = rel
                    .strip_prefix("src/")
                    .and_then(|r| r.strip_suffix(".rs"))
                    .unwrap_or_else(|| panic!("{rel}: not a .rs file under src/"));
                let (root, mut module): (&'static str, Vec<String>) = match inner {
                    "lib" => ("lib", Vec::new()),
                    "main" => ("main", Vec::new()),
                    _ => ("lib", inner.split('/').map(String::from).collect()),
                };
                if module.last().is_some_and(|m| m == "mod") {
                    module.pop();
                }
                let extracted = extract(&text);
                File {
                    rel,
                    root,
                    module,
                    extracted,
                    test_only: false,
                }
            })
            .collect();
        let by_module: BTreeMap<_, _> = files
            .iter()
            .enumerate()
            .map(|(i, f)| ((f.root, f.module.clone()), i))
            .collect();
        let test_modules: Vec<(&str, Vec<String>)> = files
            .iter()
            .flat_map(|f| {
                f.extracted
                    .mods
                    .iter()
                    .filter(|(_, test)| *test)
                    .map(move |(name, _)| {
                        let mut module = f.module.clone();
                        module.push(name.clone());
                        (f.root, module)
                    })
            })
            .collect();
        for file in &mut files {
            file.test_only = test_modules
                .iter()
                .any(|(root, module)| *root == file.root && file.module.starts_with(module));
        }
        Sources { files, by_module }
    }

    /// The file that holds what `path`, written in file `from`, names; `None`
    /// for another crate (std, serde …) or a name this check does not follow.
    fn resolve(&self, from: usize, path: &[String], depth: usize) -> Option<usize> {
        let file = &self.files[from];
        let first = path.first()?.as_str();
        let (root, mut module, rest) = match first {
            "crate" => (file.root, Vec::new(), &path[1..]),
            CRATE_NAME => ("lib", Vec::new(), &path[1..]),
            "self" => (file.root, file.module.clone(), &path[1..]),
            "super" => {
                let supers = path.iter().take_while(|s| *s == "super").count();
                let mut module = file.module.clone();
                for _ in 0..supers {
                    module.pop()?;
                }
                (file.root, module, &path[supers..])
            }
            child if file.extracted.mods.iter().any(|(m, _)| m == child) => {
                (file.root, file.module.clone(), path)
            }
            // A name this file imports (`emit::sql::Splice` after
            // `use crate::emit`): through its import.
            name => {
                let leaf = file
                    .binding(name)
                    .filter(|leaf| leaf.path.len() > 1 && depth < 8)?;
                let mut through = leaf.path.clone();
                through.extend(path[1..].iter().cloned());
                return self.resolve(from, &through, depth + 1);
            }
        };
        module.extend(rest.iter().cloned());
        let (target, remaining) = (0..=module.len()).rev().find_map(|n| {
            self.by_module
                .get(&(root, module[..n].to_vec()))
                .map(|&t| (t, &module[n..]))
        })?;
        // The name may only be imported there: follow the import, unless it
        // is a single name (`pub(crate) use on_conn;`, a macro of that file).
        // An import from another crate (`super::Path` that is `std::path::Path`)
        // is no edge.
        if let (Some(name), true) = (remaining.first(), depth < 8) {
            if let Some(leaf) = self.files[target].binding(name) {
                if leaf.path.len() > 1 {
                    let mut through = leaf.path.clone();
                    through.extend(remaining[1..].iter().cloned());
                    return self.resolve(target, &through, depth + 1);
                }
            }
        }
        Some(target)
    }

    /// Every reference between two files, outside test code, once per line.
    /// An inline path through an imported name (`pipeline::compile()` after
    /// `use crate::pipeline`) counts only where it reaches another file than
    /// the import (`emit::sql::Splice` after `use crate::emit`).
    fn edges(&self) -> Vec<Edge> {
        let mut edges = BTreeMap::new();
        for (from, file) in self.files.iter().enumerate() {
            if file.test_only {
                continue;
            }
            let uses = file.extracted.uses.iter().map(|l| (&l.path, l.line, false));
            let paths = file
                .extracted
                .paths
                .iter()
                .map(|(p, line)| (p, *line, true));
            for (path, line, inline) in uses.chain(paths) {
                let Some(to) = self.resolve(from, path, 0).filter(|&to| to != from) else {
                    continue;
                };
                let imported = file
                    .binding(&path[0])
                    .and_then(|leaf| self.resolve(from, &leaf.path, 0));
                if inline && imported == Some(to) {
                    continue;
                }
                edges
                    .entry((from, line, to))
                    .or_insert_with(|| path.join("::"));
            }
        }
        edges
            .into_iter()
            .map(|((from, line, to), path)| Edge {
                from,
                line,
                to,
                path,
            })
            .collect()
    }

    /// `to` is a submodule of `from`, a `mod.rs` or crate root.
    fn is_parent_of(&self, from: usize, to: usize) -> bool {
        let (from, to) = (&self.files[from], &self.files[to]);
        from.root == to.root
            && to.module.len() > from.module.len()
            && to.module.starts_with(&from.module)
    }

    /// The top-level modules missing from `layers`, listed twice, or listed
    /// but absent from `src/`.
    fn table_problems(&self, layers: Layers) -> Vec<String> {
        let listed: Vec<&str> = layers.iter().flat_map(|(_, m)| m.iter().copied()).collect();
        let present: BTreeSet<&str> = self.files.iter().map(File::top).collect();
        let mut problems = Vec::new();
        for top in &present {
            if !listed.contains(top) {
                problems.push(format!(
                    "module `{top}` has no layer: add it to LAYERS in tests/layering.rs"
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for top in &listed {
            if !seen.insert(top) {
                problems.push(format!("module `{top}` is listed in two layers"));
            }
            if !present.contains(top) {
                problems.push(format!("module `{top}` is in LAYERS but not in src/"));
            }
        }
        problems
    }

    /// Every edge into a higher layer, as `file:line → file (from → to: path)`.
    fn upward(&self, layers: Layers) -> Vec<String> {
        let rank = |file: &File| {
            layers
                .iter()
                .position(|(_, modules)| modules.contains(&file.top()))
                .map(|r| (r, layers[r].0))
        };
        self.edges()
            .into_iter()
            .filter_map(|e| {
                let (from, to) = (&self.files[e.from], &self.files[e.to]);
                let ((low, low_name), (high, high_name)) = (rank(from)?, rank(to)?);
                (high > low).then(|| {
                    format!(
                        "{}:{} → {} ({low_name} → {high_name}: {})",
                        from.rel, e.line, to.rel, e.path
                    )
                })
            })
            .collect()
    }

    /// Every set of files that import each other (a strongly connected
    /// component of more than one file): a walk through all of them in
    /// order, back to the first, then every edge between them.
    fn cycles(&self) -> Vec<String> {
        let edges: Vec<Edge> = self
            .edges()
            .into_iter()
            .filter(|e| !self.is_parent_of(e.from, e.to))
            .collect();
        let mut next: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); self.files.len()];
        for e in &edges {
            next[e.from].insert(e.to);
        }
        strongly_connected(&next)
            .into_iter()
            .filter(|component| component.len() > 1)
            .enumerate()
            .map(|(n, component)| {
                let walk: Vec<&str> = closed_walk(&next, &component)
                    .into_iter()
                    .map(|f| self.files[f].rel.as_str())
                    .collect();
                let mut text = format!(
                    "cycle {} ({} files): {}",
                    n + 1,
                    component.len(),
                    walk.join(" → ")
                );
                for e in edges
                    .iter()
                    .filter(|e| component.contains(&e.from) && component.contains(&e.to))
                {
                    text.push_str(&format!(
                        "\n    {}:{} → {} ({})",
                        self.files[e.from].rel, e.line, self.files[e.to].rel, e.path
                    ));
                }
                text
            })
            .collect()
    }
}

/// Tarjan's strongly connected components, each sorted, in order of their
/// smallest member.
fn strongly_connected(next: &[BTreeSet<usize>]) -> Vec<BTreeSet<usize>> {
    struct State<'a> {
        next: &'a [BTreeSet<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        found: Vec<BTreeSet<usize>>,
    }
    fn visit(s: &mut State, v: usize) {
        s.index[v] = Some(s.counter);
        s.low[v] = s.counter;
        s.counter += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in s.next[v].iter() {
            match s.index[w] {
                None => {
                    visit(s, w);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(i) if s.on_stack[w] => s.low[v] = s.low[v].min(i),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.insert(w);
                if w == v {
                    break;
                }
            }
            s.found.push(component);
        }
    }
    let n = next.len();
    let mut s = State {
        next,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        counter: 0,
        found: Vec::new(),
    };
    for v in 0..n {
        if s.index[v].is_none() {
            visit(&mut s, v);
        }
    }
    s.found.sort_by_key(|c| c.first().copied());
    s.found
}

/// From the first member of a strongly connected component, the nearest
/// member not yet visited, again and again, then back: a walk through every
/// member along real edges, starting and ending at the first.
fn closed_walk(next: &[BTreeSet<usize>], component: &BTreeSet<usize>) -> Vec<usize> {
    let Some(&start) = component.first() else {
        return Vec::new();
    };
    let mut walk = vec![start];
    let mut visited = BTreeSet::from([start]);
    loop {
        let here = *walk.last().unwrap_or(&start);
        let done = visited.len() == component.len();
        // Breadth-first inside the component, to the nearest unvisited member
        // (or back to the start once all are visited).
        let mut before: BTreeMap<usize, usize> = BTreeMap::new();
        let mut queue = VecDeque::from([here]);
        let mut goal = None;
        'search: while let Some(v) = queue.pop_front() {
            for &w in &next[v] {
                if !component.contains(&w) || before.contains_key(&w) {
                    continue;
                }
                before.insert(w, v);
                if (done && w == start) || (!done && !visited.contains(&w)) {
                    goal = Some(w);
                    break 'search;
                }
                queue.push_back(w);
            }
        }
        let Some(goal) = goal else {
            return walk; // not strongly connected: cannot happen
        };
        let mut leg = vec![goal];
        while let Some(&v) = before.get(leg.last().unwrap_or(&here)) {
            if v == here {
                break;
            }
            leg.push(v);
        }
        leg.reverse();
        visited.extend(leg.iter().copied());
        walk.extend(leg);
        if done {
            return walk;
        }
    }
}

// ---------------------------------------------------- the checker's own tests

fn strings(path: &[&str]) -> Vec<String> {
    path.iter().map(|s| s.to_string()).collect()
}

fn leaf(path: &[&str], name: Option<&str>, line: usize) -> UseLeaf {
    UseLeaf {
        path: strings(path),
        name: name.map(String::from),
        line,
    }
}

#[test]
fn extractor_reads_grouped_uses_self_renames_and_globs() {
    let found = extract(
        "use crate::{a, b::{c, d::{self, e as f}}};\n\
         pub(crate) use super::super::g::*;\n\
         use crate::load_diags as diags;\n\
         use std::path::Path;\n\
         use ::serde::Serialize;\n\
         pub(crate) use child::{\n    X,\n    Y,\n};\n",
    );
    assert_eq!(
        found.uses,
        vec![
            leaf(&["crate", "a"], Some("a"), 1),
            leaf(&["crate", "b", "c"], Some("c"), 1),
            leaf(&["crate", "b", "d"], Some("d"), 1),
            leaf(&["crate", "b", "d", "e"], Some("f"), 1),
            leaf(&["super", "super", "g"], None, 2),
            leaf(&["crate", "load_diags"], Some("diags"), 3),
            leaf(&["std", "path", "Path"], Some("Path"), 4),
            leaf(&["serde", "Serialize"], Some("Serialize"), 5),
            leaf(&["child", "X"], Some("X"), 7),
            leaf(&["child", "Y"], Some("Y"), 8),
        ]
    );
    assert!(found.paths.is_empty(), "{:?}", found.paths);
}

#[test]
fn extractor_finds_inline_paths_but_not_in_comments_or_literals() {
    let found = extract(
        r###"mod cache;
#[cfg(test)]
mod test_repo;
/// See [`crate::doc::link`]; // crate::line::comment
/* crate::block /* crate::nested */ crate::still::comment */
fn f<'a>(x: &'a str) -> crate::model::Model {
    let _ = "crate::in::string \" crate::after::escape";
    let _ = r#"crate::raw "quoted" crate::raw::string"#;
    let _ = b"crate::bytes";
    let _ = ('"', '\'', b'"', "mailops::load::not-utf8");
    let t = crate::source::Location::new(super::FileId(0), 0..0);
    cache::read(Vec::<u8>::new(), <T as crate::Trait>::f());
    crate::emit::emit(x)
}
"###,
    );
    assert_eq!(
        found.mods,
        vec![
            ("cache".to_string(), false),
            ("test_repo".to_string(), true)
        ]
    );
    let paths: Vec<(String, usize)> = found
        .paths
        .iter()
        .map(|(p, line)| (p.join("::"), *line))
        .collect();
    assert_eq!(
        paths,
        [
            ("crate::model::Model", 6),
            ("crate::source::Location::new", 11),
            ("super::FileId", 11),
            ("cache::read", 12),
            ("crate::Trait", 12),
            ("crate::emit::emit", 13),
        ]
        .map(|(p, line)| (p.to_string(), line))
    );
}

#[test]
fn extractor_skips_cfg_test_items() {
    let found = extract(
        "use crate::kept;\n\
         #[cfg(test)]\n\
         use crate::test_use::{a, b};\n\
         #[cfg(test)]\n\
         #[allow(dead_code)]\n\
         pub(crate) fn helper() -> crate::test_fn::T { crate::test_fn::make() }\n\
         #[cfg(test)]\n\
         mod tests {\n    use super::*;\n    fn t() { crate::test_mod::f(); }\n}\n\
         #[cfg(unix)]\n\
         fn g() { crate::unix_only::f() }\n",
    );
    assert_eq!(found.uses, vec![leaf(&["crate", "kept"], Some("kept"), 1)]);
    let paths: Vec<String> = found.paths.iter().map(|(p, _)| p.join("::")).collect();
    assert_eq!(paths, ["crate::unix_only::f"]);
}

/// A small crate: `load` and `fsutil` import each other, and `fsutil` (util)
/// imports `load` (a stage).
fn small_crate() -> Sources {
    Sources::new(
        [
            ("src/main.rs", "fn main() { mailops::main() }"),
            (
                "src/lib.rs",
                "mod fsutil;\nmod load;\nmod model;\nmod parse;\npub fn main() { parse::run() }",
            ),
            (
                "src/fsutil.rs",
                "use crate::span::Sp; // no such file: the crate root\n\
                 pub fn read() -> Result<(), ()> {\n    crate::load::with_path()\n}",
            ),
            ("src/load.rs", "use crate::fsutil;\npub fn with_path() {}"),
            (
                "src/model/mod.rs",
                "mod platform;\nmod records;\n\
                 pub(crate) use records::{Dkim, Dmarc as Policy};\n\
                 pub(crate) struct Model;",
            ),
            ("src/model/platform.rs", "use super::Policy;\n"),
            (
                "src/model/records.rs",
                "use super::Model;\npub struct Dkim;\npub struct Dmarc;",
            ),
            (
                "src/parse/mod.rs",
                "mod shape;\nuse std::path::Path;\npub fn run() { shape::check() }",
            ),
            (
                "src/parse/shape.rs",
                "use super::Path;\nuse crate::model::{self, Dkim};\n\
                 pub fn check() -> crate::model::Policy { todo!() }\n\
                 fn g() { model::platform::f(); model::Model::new(); Dkim::new() }",
            ),
        ]
        .map(|(rel, text)| (rel.to_string(), text.to_string()))
        .to_vec(),
    )
}

#[test]
fn resolver_follows_reexports_to_the_defining_file() {
    let sources = small_crate();
    let edges: Vec<String> = sources
        .edges()
        .iter()
        .map(|e| {
            format!(
                "{}:{} → {}",
                sources.files[e.from].rel, e.line, sources.files[e.to].rel
            )
        })
        .collect();
    assert_eq!(
        edges,
        [
            // `span` is not a file, so it resolves to the crate root.
            "src/fsutil.rs:1 → src/lib.rs",
            "src/fsutil.rs:3 → src/load.rs",
            "src/lib.rs:5 → src/parse/mod.rs",
            "src/load.rs:1 → src/fsutil.rs",
            "src/main.rs:1 → src/lib.rs",
            "src/model/mod.rs:3 → src/model/records.rs",
            "src/model/platform.rs:1 → src/model/records.rs",
            "src/model/records.rs:1 → src/model/mod.rs",
            "src/parse/mod.rs:3 → src/parse/shape.rs",
            // `super::Path` is the parent's import of std: no edge.
            "src/parse/shape.rs:2 → src/model/mod.rs",
            "src/parse/shape.rs:2 → src/model/records.rs",
            "src/parse/shape.rs:3 → src/model/records.rs",
            // Through `model` imported on line 2: only where the path goes
            // further than `model/mod.rs`.
            "src/parse/shape.rs:4 → src/model/platform.rs",
        ]
    );
}

#[test]
fn checker_reports_cycles_and_upward_imports() {
    let sources = small_crate();
    // model/mod.rs → records.rs → model/mod.rs is a parent and its child: no
    // cycle. fsutil ↔ load is one.
    assert_eq!(
        sources.cycles(),
        [
            "cycle 1 (2 files): src/fsutil.rs → src/load.rs → src/fsutil.rs\n    \
          src/fsutil.rs:3 → src/load.rs (crate::load::with_path)\n    \
          src/load.rs:1 → src/fsutil.rs (crate::fsutil)"
        ]
    );
    let layers: Layers = &[
        ("util", &["fsutil"]),
        ("model", &["model"]),
        ("stages", &["load", "parse"]),
        ("roots", &["lib", "main"]),
    ];
    assert!(sources.table_problems(layers).is_empty());
    assert_eq!(
        sources.upward(layers),
        [
            "src/fsutil.rs:1 → src/lib.rs (util → roots: crate::span::Sp)",
            "src/fsutil.rs:3 → src/load.rs (util → stages: crate::load::with_path)",
        ]
    );
    let missing: Layers = &[("util", &["fsutil", "gone", "fsutil"])];
    assert_eq!(
        sources.table_problems(missing),
        [
            "module `lib` has no layer: add it to LAYERS in tests/layering.rs",
            "module `load` has no layer: add it to LAYERS in tests/layering.rs",
            "module `main` has no layer: add it to LAYERS in tests/layering.rs",
            "module `model` has no layer: add it to LAYERS in tests/layering.rs",
            "module `parse` has no layer: add it to LAYERS in tests/layering.rs",
            "module `gone` is in LAYERS but not in src/",
            "module `fsutil` is listed in two layers",
        ]
    );
}

#[test]
fn closed_walk_visits_every_member_of_a_component() {
    // 0 → 1 → 2 → 0 and 1 → 3 → 1: one component of four files.
    let next: Vec<BTreeSet<usize>> = vec![
        BTreeSet::from([1]),
        BTreeSet::from([2, 3]),
        BTreeSet::from([0]),
        BTreeSet::from([1]),
    ];
    let components = strongly_connected(&next);
    assert_eq!(components, [BTreeSet::from([0, 1, 2, 3])]);
    assert_eq!(
        closed_walk(&next, &components[0]),
        [0, 1, 2, 0, 1, 3, 1, 2, 0]
    );
}
