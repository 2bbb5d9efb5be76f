//! The layer rule of README's Layout, checked on the source: which top-level module may use
//! which (`crate::…` paths outside comments and test modules), no cycles among them, and no
//! API handler file using another handler file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module and the modules it may use. Data flows one way: `api` → `desk` →
/// domain → `store`; `rules` compiles into domain types and is never used by them.
const ALLOWED: &[(&str, &[&str])] = &[
    ("model", &[]),
    ("clock", &[]),
    ("language", &["model"]),
    ("calendar", &["model"]),
    ("routing", &["calendar", "model"]),
    ("intake", &["model"]),
    ("sla", &["calendar", "model"]),
    (
        "rules",
        &["calendar", "intake", "language", "model", "routing", "sla"],
    ),
    ("classify", &["calendar", "language", "model", "rules"]),
    ("faq", &["language", "model", "rules"]),
    ("simulate", &["classify", "faq", "model", "rules", "sla"]),
    (
        "store",
        &["calendar", "faq", "intake", "model", "rules", "sla"],
    ),
    (
        "desk",
        &[
            "calendar", "classify", "clock", "faq", "intake", "language", "model", "routing",
            "rules", "simulate", "sla", "store",
        ],
    ),
    (
        "worker",
        &[
            "calendar", "clock", "desk", "intake", "model", "rules", "sla", "store",
        ],
    ),
    (
        "api",
        &[
            "clock", "desk", "faq", "intake", "model", "rules", "sla", "store",
        ],
    ),
    (
        "server",
        &[
            "api", "clock", "demo", "desk", "model", "rules", "store", "worker",
        ],
    ),
    ("eval", &["classify", "intake", "model", "rules"]),
    ("demo", &["desk", "intake", "model", "store"]),
    (
        "loadtest",
        &["api", "desk", "intake", "model", "rules", "store"],
    ),
];

/// Files of the API that every handler may use; handler files never use each other.
const API_SHARED: &[&str] = &["error", "extract", "views", "auth"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its test module.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first path segment after each `prefix` in `code`, also inside `prefix{a, b::c}`.
fn names_after<'a>(code: &'a str, prefix: &str) -> BTreeSet<&'a str> {
    let ident = |s: &'a str| {
        let s = s.trim_start();
        let end = s
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        &s[..end]
    };
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices(prefix) {
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Nested groups belong to the segment before them; only top-level items count.
            let mut depth = 0;
            let mut start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(&group[start..j]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(&group[start..j]));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out.remove("self");
    out
}

fn top_module(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

#[test]
fn modules_use_only_the_layers_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let allowed: BTreeMap<&str, BTreeSet<&str>> = ALLOWED
        .iter()
        .map(|(m, deps)| (*m, deps.iter().copied().collect()))
        .collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let module = top_module(&src, file);
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(may) = allowed.get(module.as_str()) else {
            violations.push(format!(
                "{}: module {module} is not in the layer table",
                file.display()
            ));
            continue;
        };
        let code = code(file);
        for used in names_after(&code, "crate::") {
            if used != module && !may.contains(used) {
                violations.push(format!(
                    "{}: {module} uses crate::{used}",
                    file.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layer violations:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_layer_table_has_no_cycles() {
    let graph: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    // Depth-first search with the path so far: a module met again on its own path closes a
    // cycle.
    fn visit<'a>(
        m: &'a str,
        graph: &BTreeMap<&'a str, &'a [&'a str]>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) {
        if done.contains(m) {
            return;
        }
        assert!(!path.contains(&m), "cycle: {} -> {m}", path.join(" -> "));
        path.push(m);
        for d in graph.get(m).copied().unwrap_or(&[]) {
            assert!(
                graph.contains_key(d),
                "{m} may use {d}, which is not in the table"
            );
            visit(d, graph, path, done);
        }
        path.pop();
        done.insert(m);
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        visit(m, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn api_handler_files_never_use_each_other() {
    let api = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut files = Vec::new();
    rust_files(&api, &mut files);
    let handlers: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().into_owned())
        .filter(|n| n != "mod" && !API_SHARED.contains(&n.as_str()))
        .collect();
    let mut violations = Vec::new();
    for file in &files {
        let me = file.file_stem().unwrap().to_string_lossy().into_owned();
        if me == "mod" {
            continue;
        }
        let code = code(file);
        let mut used: BTreeSet<&str> = names_after(&code, "super::");
        used.extend(names_after(&code, "crate::api::"));
        for u in used {
            if u != me && handlers.contains(u) {
                violations.push(format!("api/{me}.rs uses api/{u}.rs"));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}
