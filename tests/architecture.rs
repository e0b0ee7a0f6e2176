//! The module graph keeps pointing down.
//!
//! Reads every file of the library under `src/` (the module tree from
//! `src/lib.rs`, without test-only code), collects the paths each file names
//! (`use crate::…`, `use super::…` and inline `crate::…`/`super::…` paths),
//! and checks them against the layer table in `src/lib.rs`'s docs:
//! - every top-level module is in the table, and the table names no other;
//! - a file of module `M` names another top-level module only if the table
//!   lets `M` use it (an entry is a module, `store`, or a part of one,
//!   `api::dto`);
//! - no cycle between top-level modules;
//! - no cycle between the files of `api/`.
//!
//! A failure lists each offending file and path, so the fix is to move the
//! code to the layer it belongs to, not to widen the table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path inside the crate, e.g. `["api", "extract"]`.
type ModPath = Vec<String>;

/// One file of the library: its module path and what it names.
struct File {
    path: PathBuf,
    module: ModPath,
    /// Absolute module paths named by the file, with the line they are on.
    uses: Vec<(ModPath, usize)>,
}

#[test]
fn dependencies_follow_the_layer_table_and_make_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = library_files(&src);
    assert!(files.len() > 20, "found only {} files", files.len());
    let table = layer_table(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut problems = Vec::new();

    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.module.first().cloned())
        .collect();
    let named = |e: &String| e.split("::").next().unwrap_or_default().to_string();
    for t in &tops {
        if !table.contains_key(t) {
            problems.push(format!(
                "module `{t}` is not in the layer table of src/lib.rs"
            ));
        }
    }
    for (t, entries) in &table {
        for name in std::iter::once(t.clone()).chain(entries.iter().map(named)) {
            if !tops.contains(&name) {
                problems.push(format!(
                    "the layer table names `{name}`, which is not a module"
                ));
            }
        }
    }

    // Arrows between top-level modules, checked against the table.
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let Some(from) = f.module.first() else {
            continue;
        };
        for (used, line) in &f.uses {
            let Some(to) = used.first() else { continue };
            if to == from || !tops.contains(to) {
                continue;
            }
            graph.entry(from.clone()).or_default().insert(to.clone());
            let allowed = table
                .get(from)
                .is_some_and(|entries| entries.iter().any(|e| allows(e, used)));
            if !allowed {
                problems.push(format!(
                    "{}:{line}: `{from}` uses `crate::{}`, which the layer table does not allow",
                    rel(&f.path),
                    used.join("::")
                ));
            }
        }
    }
    for cycle in cycles(&graph) {
        problems.push(format!(
            "cycle between top-level modules: {}",
            cycle.join(" → ")
        ));
    }

    // Arrows between the files of `api/`.
    let api: Vec<&File> = files
        .iter()
        .filter(|f| {
            f.module
                .first()
                .is_some_and(|m| m == std::env::var("ARCH_DIR").as_deref().unwrap_or("api"))
        })
        .collect();
    let modules: Vec<&ModPath> = api.iter().map(|f| &f.module).collect();
    let mut file_graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &api {
        let from = f.module.join("::");
        for (used, _) in &f.uses {
            if let Some(to) = owner(used, &modules)
                && *to != f.module
            {
                file_graph
                    .entry(from.clone())
                    .or_default()
                    .insert(to.join("::"));
            }
        }
    }
    for cycle in cycles(&file_graph) {
        problems.push(format!(
            "cycle between files of api/: {}",
            cycle.join(" → ")
        ));
    }

    assert!(
        problems.is_empty(),
        "{} problem(s) with the module graph:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Whether a table entry lets a file name `used`: the entry is a module
/// (`store`) or a path inside one (`api::dto`), and `used` lies inside it.
fn allows(entry: &str, used: &ModPath) -> bool {
    let want: Vec<&str> = entry.split("::").collect();
    used.len() >= want.len() && want.iter().zip(used).all(|(w, u)| *w == u)
}

fn rel(p: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    p.strip_prefix(root).unwrap_or(p).display().to_string()
}

/// The layer table: the rows `| \`module\` | \`a\`, \`b\` |` of the
/// `# Layers` section of `lib.rs`'s docs.
fn layer_table(lib: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut table = BTreeMap::new();
    let mut inside = false;
    for line in lib.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.trim();
        if doc.starts_with('#') {
            inside = doc.trim_start_matches('#').trim() == "Layers";
            continue;
        }
        if !inside || !doc.starts_with('|') {
            continue;
        }
        let cells: Vec<&str> = doc.trim_matches('|').split('|').collect();
        let [module, uses, ..] = cells.as_slice() else {
            continue;
        };
        let names = |cell: &str| -> Vec<String> {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        };
        if let [m] = names(module).as_slice() {
            table.insert(m.clone(), names(uses).into_iter().collect());
        }
    }
    assert!(
        !table.is_empty(),
        "src/lib.rs has no `# Layers` table (rows like | `store` | `domain` |)"
    );
    table
}

/// The file module (of `modules`) that `path` points into: the longest
/// module path that is a prefix of it.
fn owner<'a>(path: &ModPath, modules: &[&'a ModPath]) -> Option<&'a ModPath> {
    modules
        .iter()
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.len())
        .copied()
}

/// Every cycle of the graph, as the members of each strongly connected
/// component with more than one node (Tarjan).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(edges) = s.graph.get(v) {
            for w in edges {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if s.on_stack.contains(w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    let nodes: Vec<&str> = graph
        .iter()
        .flat_map(|(k, v)| std::iter::once(k.as_str()).chain(v.iter().map(String::as_str)))
        .collect();
    for v in nodes {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.found
}

/// The library's files: the module tree declared from `lib.rs`, without
/// modules declared `#[cfg(test)]`.
fn library_files(src: &Path) -> Vec<File> {
    let mut out = Vec::new();
    let mut todo: Vec<(PathBuf, ModPath)> = vec![(src.join("lib.rs"), Vec::new())];
    while let Some((path, module)) = todo.pop() {
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let code = Code::clean(&text);
        // Where this module's children live: beside `lib.rs`/`mod.rs`, or
        // in a folder named after the file.
        let dir = match path.file_name().and_then(|n| n.to_str()) {
            Some("lib.rs" | "mod.rs") => path.parent().unwrap().to_path_buf(),
            _ => path.with_extension(""),
        };
        for child in code.child_modules() {
            let file = [
                dir.join(format!("{child}.rs")),
                dir.join(&child).join("mod.rs"),
            ]
            .into_iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{}: no file for `mod {child};`", path.display()));
            let mut m = module.clone();
            m.push(child);
            todo.push((file, m));
        }
        let uses = code.paths(&module);
        out.push(File { path, module, uses });
    }
    out
}

/// A file's code with comments, string contents and test-only items
/// blanked out (line structure kept).
struct Code {
    text: String,
}

impl Code {
    fn clean(source: &str) -> Code {
        let blanked = blank_comments_and_strings(source);
        Code {
            text: drop_test_items(&blanked),
        }
    }

    /// `mod name;` declarations (inline `mod name { … }` blocks stay part of
    /// this file).
    fn child_modules(&self) -> Vec<String> {
        let mut out = Vec::new();
        for line in self.text.lines() {
            let t = line.trim();
            let t = strip_visibility(t);
            if let Some(rest) = t.strip_prefix("mod ")
                && let Some(name) = rest.trim().strip_suffix(';')
            {
                out.push(name.trim().to_string());
            }
        }
        out
    }

    /// Every module path the code names, made absolute, with its line.
    fn paths(&self, module: &ModPath) -> Vec<(ModPath, usize)> {
        let mut out = Vec::new();
        // Inline modules open at a brace depth; `super` inside them is
        // relative to them.
        let mut inline: Vec<(String, usize)> = Vec::new();
        let mut depth = 0usize;
        let text = &self.text;
        let bytes = text.as_bytes();
        let mut line = 1usize;
        let mut i = 0usize;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'\n' => line += 1,
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    while inline.last().is_some_and(|(_, d)| *d > depth) {
                        inline.pop();
                    }
                }
                _ => {}
            }
            let boundary = i == 0 || !is_ident(bytes[i - 1]);
            if boundary && text[i..].starts_with("mod ") {
                let rest = &text[i + 4..];
                let name: String = rest.chars().take_while(|c| is_ident(*c as u8)).collect();
                let after = rest[name.len()..].trim_start();
                if !name.is_empty() && after.starts_with('{') {
                    inline.push((name, depth + 1));
                }
            }
            if boundary && text[i..].starts_with("use ") {
                let end = text[i..].find(';').map_or(text.len(), |e| i + e);
                let here: ModPath = module
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(n, _)| n.clone()))
                    .collect();
                for p in expand_use(&text[i + 4..end]) {
                    if let Some(abs) = absolute(&p, &here) {
                        out.push((abs, line));
                    }
                }
                line += text[i..end].matches('\n').count();
                i = end;
                continue;
            }
            if boundary && (text[i..].starts_with("crate::") || text[i..].starts_with("super::")) {
                let len = text[i..]
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(text.len() - i);
                let segments: Vec<String> = text[i..i + len]
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                let here: ModPath = module
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(n, _)| n.clone()))
                    .collect();
                if let Some(abs) = absolute(&segments, &here) {
                    out.push((abs, line));
                }
                i += len;
                continue;
            }
            i += 1;
        }
        out
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn strip_visibility(t: &str) -> &str {
    let t = t.trim_start();
    if let Some(rest) = t.strip_prefix("pub")
        && !rest.starts_with(|c: char| c.is_alphanumeric() || c == '_')
    {
        let rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix('(') {
            return r
                .split_once(')')
                .map_or(rest, |(_, after)| after)
                .trim_start();
        }
        return rest;
    }
    t
}

/// `crate::a::{b, c::{d, self}}` → `crate::a::b`, `crate::a::c::d`,
/// `crate::a::c`.
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    fn walk(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
        let tree = tree.trim();
        if tree.is_empty() {
            return;
        }
        if let Some(open) = tree.find('{') {
            let head: Vec<String> = tree[..open]
                .split("::")
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
            let mut p = prefix.to_vec();
            p.extend(head);
            for part in split_top(inner) {
                walk(&p, part, out);
            }
            return;
        }
        let path = tree.split(" as ").next().unwrap_or(tree);
        let mut p = prefix.to_vec();
        for s in path.split("::").map(str::trim).filter(|s| !s.is_empty()) {
            if s == "self" || s == "*" {
                continue;
            }
            p.push(s.to_string());
        }
        out.push(p);
    }
    let mut out = Vec::new();
    walk(&[], tree, &mut out);
    out
}

/// Splits at commas outside braces.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// A path as named in `here`, made crate-absolute; `None` for paths outside
/// the crate (std, other crates, local items).
fn absolute(path: &[String], here: &ModPath) -> Option<ModPath> {
    let first = path.first()?;
    match first.as_str() {
        "crate" => Some(path[1..].to_vec()),
        "super" | "self" => {
            let mut base = here.clone();
            let mut rest = path;
            while let Some(s) = rest.first() {
                match s.as_str() {
                    "super" => {
                        base.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        _ => None,
    }
}

/// Removes `#[cfg(test)]` items: the attribute and the item after it (a
/// braced block, or up to its `;`).
fn drop_test_items(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // The item ends at its first `;` before any `{`, or at the brace
        // matching its first `{`.
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after.char_indices().skip("#[cfg(test)]".len()) {
            match c {
                ';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        // Keep the line count.
        out.extend(after[..end].chars().filter(|c| *c == '\n'));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Comments removed, string and char literal contents replaced by spaces
/// (newlines kept), so braces and `crate::` only appear as code.
fn blank_comments_and_strings(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                    continue;
                }
                if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                    continue;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
            continue;
        }
        // Raw strings: r"…", r#"…"#, br#"…"#.
        let ident_before = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if !ident_before && (c == 'r' || (c == 'b' && next == Some('r'))) {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                out.push('"');
                j += 1;
                while j < chars.len() {
                    if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    out.push(blank(chars[j]));
                    j += 1;
                }
                out.push('"');
                i = j;
                continue;
            }
        }
        if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
            continue;
        }
        if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < chars.len() && chars[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
                continue;
            }
            if chars.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}
