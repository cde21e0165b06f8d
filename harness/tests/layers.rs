//! The import rules of ARCHITECTURE.md, enforced (in the style of rust-analyzer's "tidy"
//! tests: read the sources as text, fail with the offending lines).
//!
//! - Inside `harness`, a top-level module imports only modules of a lower layer (the table
//!   under "## Layers" in ARCHITECTURE.md). Every top-level module has a layer.
//! - In every crate of the workspace, sibling modules (at any depth) never import each other
//!   in a cycle.
//!
//! A module path is any `crate::…`, `super::…` or `self::…` path in code (comments are
//! skipped); the longest prefix that names a module file is the module imported.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const CRATES: &[&str] = &[
    "common",
    "card-emulator",
    "camera-replay",
    "reports",
    "harness",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A module of one crate: its path (`["engine", "oracle"]`) and the source file.
struct Module {
    path: Vec<String>,
    file: PathBuf,
}

fn modules_of(src: &Path) -> Vec<Module> {
    let mut out = Vec::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                // The binaries are crates of their own.
                if p.file_name().unwrap() != "bin" {
                    stack.push(p);
                }
                continue;
            }
            if p.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = p.strip_prefix(src).unwrap();
            let mut path: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let last = path.pop().unwrap();
            let stem = last.trim_end_matches(".rs");
            if !(path.is_empty() && (stem == "lib" || stem == "main"))
                && stem != "mod"
                && !(path.is_empty() && stem == "lib")
            {
                path.push(stem.to_owned());
            }
            if path.is_empty() && stem != "lib" {
                continue;
            }
            out.push(Module { path, file: p });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Code without comments: line comments cut, block comments blanked (line numbers kept).
fn code_lines(text: &str) -> Vec<String> {
    let mut in_block = false;
    text.lines()
        .map(|line| {
            let mut out = String::new();
            let mut rest = line;
            loop {
                if in_block {
                    match rest.find("*/") {
                        Some(i) => {
                            rest = &rest[i + 2..];
                            in_block = false;
                        }
                        None => break,
                    }
                } else {
                    let line_comment = rest.find("//");
                    let block = rest.find("/*");
                    match (line_comment, block) {
                        (Some(l), Some(b)) if b < l => {
                            out.push_str(&rest[..b]);
                            rest = &rest[b + 2..];
                            in_block = true;
                        }
                        (Some(l), _) => {
                            out.push_str(&rest[..l]);
                            break;
                        }
                        (None, Some(b)) => {
                            out.push_str(&rest[..b]);
                            rest = &rest[b + 2..];
                            in_block = true;
                        }
                        (None, None) => {
                            out.push_str(rest);
                            break;
                        }
                    }
                }
            }
            out
        })
        .collect()
}

fn ident_at(s: &str) -> Option<(&str, &str)> {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    (end > 0).then(|| (&s[..end], &s[end..]))
}

/// Every path that starts at `crate`, `super` or `self` in `code`, as absolute module
/// segments (resolved against `here`, the module the code is in), one entry per path; a
/// `{a, b::c}` group yields one path per member (its first segment).
fn paths_in(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let rest = &code[i..];
        let boundary = i == 0 || {
            let c = bytes[i - 1] as char;
            !(c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        let start = ["crate::", "super::", "self::"]
            .into_iter()
            .find(|p| rest.starts_with(p));
        let (Some(_), true) = (start, boundary) else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        // Resolve the leading crate/super/self segments.
        let mut base: Vec<String> = here.to_vec();
        let mut r = rest;
        let mut first = true;
        loop {
            if r.starts_with("crate::") && first {
                base.clear();
                r = &r[7..];
            } else if r.starts_with("super::") {
                base.pop();
                r = &r[7..];
            } else if r.starts_with("self::") && first {
                r = &r[6..];
            } else {
                break;
            }
            first = false;
        }
        // `{a, b::c}` (at the start or after `a::b::`): each member extends the path.
        let group = |prefix: &[String], after_brace: &str, out: &mut Vec<Vec<String>>| {
            let close = after_brace.find('}').unwrap_or(after_brace.len());
            for member in after_brace[..close].split(',') {
                if let Some((id, _)) = ident_at(member.trim()) {
                    let mut p = prefix.to_vec();
                    p.push(id.to_owned());
                    out.push(p);
                }
            }
        };
        if let Some(members) = r.strip_prefix('{') {
            group(&base, members, &mut out);
        } else {
            let mut p = base.clone();
            while let Some((id, after)) = ident_at(r) {
                p.push(id.to_owned());
                match after.strip_prefix("::") {
                    Some(next) => match next.strip_prefix('{') {
                        Some(members) => {
                            group(&p, members, &mut out);
                            break;
                        }
                        None => r = next,
                    },
                    None => break,
                }
            }
            out.push(p);
        }
        // Later segments follow `::`, so they never match as a new start.
        i += 1;
    }
    out
}

/// An import edge between two modules of a crate, with where it was written.
struct Edge {
    from: Vec<String>,
    to: Vec<String>,
    at: String,
}

fn edges_of(krate: &str) -> (Vec<Module>, Vec<Edge>) {
    let src = workspace().join(krate).join("src");
    let modules = modules_of(&src);
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let mut edges = Vec::new();
    for m in &modules {
        let text = std::fs::read_to_string(&m.file).unwrap();
        for (n, line) in code_lines(&text).iter().enumerate() {
            for path in paths_in(line, &m.path) {
                // The longest prefix that is a module of this crate.
                let to = (0..=path.len())
                    .rev()
                    .map(|k| path[..k].to_vec())
                    .find(|p| known.contains(p))
                    .unwrap_or_default();
                if to != m.path {
                    edges.push(Edge {
                        from: m.path.clone(),
                        to,
                        at: format!(
                            "{}:{}",
                            m.file.strip_prefix(workspace()).unwrap().display(),
                            n + 1
                        ),
                    });
                }
            }
        }
    }
    (modules, edges)
}

/// The layer table of ARCHITECTURE.md: `N: a, b` lines in the block under "## Layers".
fn layers() -> BTreeMap<String, u32> {
    let doc = std::fs::read_to_string(workspace().join("ARCHITECTURE.md")).unwrap();
    let section = doc
        .split("\n## Layers")
        .nth(1)
        .expect("ARCHITECTURE.md has a \"## Layers\" section");
    let block = section
        .split("```")
        .nth(1)
        .expect("the Layers section holds a fenced block");
    let mut out = BTreeMap::new();
    for line in block.lines().filter(|l| l.contains(':')) {
        let (n, mods) = line.split_once(':').unwrap();
        let Ok(n) = n.trim().trim_start_matches("layer").trim().parse::<u32>() else {
            continue;
        };
        for m in mods.split(',') {
            let m = m.trim().trim_matches('`');
            if !m.is_empty() {
                assert!(out.insert(m.to_owned(), n).is_none(), "{m} has two layers");
            }
        }
    }
    assert!(
        !out.is_empty(),
        "no layer lines in ARCHITECTURE.md's Layers block"
    );
    out
}

#[test]
fn harness_modules_import_only_lower_layers() {
    let layers = layers();
    let (modules, edges) = edges_of("harness");
    let tops: BTreeSet<&String> = modules.iter().filter_map(|m| m.path.first()).collect();
    let unplaced: Vec<_> = tops.iter().filter(|t| !layers.contains_key(**t)).collect();
    assert!(
        unplaced.is_empty(),
        "top-level modules with no layer in ARCHITECTURE.md: {unplaced:?}"
    );
    let gone: Vec<_> = layers.keys().filter(|l| !tops.contains(l)).collect();
    assert!(
        gone.is_empty(),
        "ARCHITECTURE.md layers name modules that do not exist: {gone:?}"
    );
    let mut wrong = Vec::new();
    for e in &edges {
        let (Some(from), Some(to)) = (e.from.first(), e.to.first()) else {
            continue;
        };
        if from != to && layers[from] <= layers[to] {
            wrong.push(format!(
                "{}: {from} (layer {}) imports {to} (layer {})",
                e.at, layers[from], layers[to]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that point up or sideways:\n{}",
        wrong.join("\n")
    );
}

/// A cycle among `graph`'s nodes, if any (depth-first search).
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in graph.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == m).unwrap();
                    let mut c = stack[from..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, graph, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_crate_has_a_cycle_between_sibling_modules() {
    let mut found = Vec::new();
    for krate in CRATES {
        let (_, edges) = edges_of(krate);
        // parent → (child → children it imports), with one place each edge was written.
        let mut graphs: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        let mut where_: BTreeMap<(Vec<String>, String, String), String> = BTreeMap::new();
        for e in &edges {
            let common = e.from.iter().zip(&e.to).take_while(|(a, b)| a == b).count();
            // A module and its own ancestors or descendants are not siblings.
            if common == e.from.len() || common == e.to.len() {
                continue;
            }
            let parent = e.from[..common].to_vec();
            let (a, b) = (e.from[common].clone(), e.to[common].clone());
            graphs
                .entry(parent.clone())
                .or_default()
                .entry(a.clone())
                .or_default()
                .insert(b.clone());
            where_.entry((parent, a, b)).or_insert_with(|| e.at.clone());
        }
        for (parent, graph) in &graphs {
            if let Some(c) = cycle(graph) {
                let steps: Vec<String> = c
                    .windows(2)
                    .map(|w| {
                        let at = &where_[&(parent.clone(), w[0].clone(), w[1].clone())];
                        format!("{} → {} ({at})", w[0], w[1])
                    })
                    .collect();
                found.push(format!(
                    "{krate}::{}: {}",
                    parent.join("::"),
                    steps.join(", ")
                ));
            }
        }
    }
    assert!(found.is_empty(), "module cycles:\n{}", found.join("\n"));
}

#[test]
fn the_path_reader_resolves_groups_and_super() {
    let here = vec!["engine".to_owned(), "oracle".to_owned()];
    let got = paths_in(
        "use crate::{rules::judge, scenario}; use super::verdict::x; f(crate::face::Kit)",
        &here,
    );
    assert_eq!(
        got,
        vec![
            vec!["rules".to_owned()],
            vec!["scenario".to_owned()],
            vec!["engine".to_owned(), "verdict".to_owned(), "x".to_owned()],
            vec!["face".to_owned(), "Kit".to_owned()],
        ]
    );
    assert_eq!(
        code_lines("a // crate::x\n/* crate::y */ b\nc /* crate::z\n d */ e"),
        ["a ", " b", "c ", " e"]
    );
}
