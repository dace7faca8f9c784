//! The shape of the code, checked (no root needed): no file under `src/`
//! over 800 lines, `src/sys` blind to the screen (no ratatui, crossterm,
//! `crate::app` or `crate::ui`), and no circle of imports between modules.
//!
//! Imports are read from the text, not from the compiler: comments and
//! literals are blanked, then every `use crate::...` tree (grouped ones
//! included) and every `crate::a::b` path elsewhere is resolved to the file
//! of the module it names (`src/a/b.rs` or `src/a/b/mod.rs`, walking up to
//! the longest prefix that is a file: `crate::a::b::Item` is in `a/b.rs` or
//! in `a.rs`). Only `crate::` paths count (not `super::`/`self::`, whose
//! meaning depends on inline modules). A `mod.rs` (or `lib.rs`) naming its
//! own submodules is how a tree of modules is declared, not a circle: those
//! edges are left out. `src/main.rs` is a crate of its own (it uses
//! `isolab::`), so it is not in the graph.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every file under `dir`, as paths relative to `root`, sorted.
fn files_under(root: &Path, dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for e in entries {
            let path = e.expect("directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(root).expect("under root").to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn rust_files() -> Vec<PathBuf> {
    files_under(&src(), &src())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect()
}

fn read(rel: &Path) -> String {
    let path = src().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------- blanking

/// `text` with comments, string/char literals and their contents replaced
/// by spaces (newlines kept, so byte offsets and line numbers still hold).
fn blank_comments_and_literals(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        let start = i;
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                blank(&mut out, start, i);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // Block comments nest in Rust.
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
                blank(&mut out, start, i);
            }
            b'r' | b'b' if (i == 0 || !ident(b[i - 1])) && raw_string_at(b, i).is_some() => {
                let (hashes, body) = raw_string_at(b, i).expect("checked");
                let mut j = body;
                let close =
                    |j: usize| b[j] == b'"' && (1..=hashes).all(|k| b.get(j + k) == Some(&b'#'));
                while j < b.len() && !close(j) {
                    j += 1;
                }
                i = (j + 1 + hashes).min(b.len());
                blank(&mut out, start, i);
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(b.len());
                blank(&mut out, start, i);
            }
            b'\'' => {
                // A char literal ('x', '\n', '\u{1F600}', '\''), or a
                // lifetime / label ('a, 'static), which stays.
                let end = if b.get(i + 1) == Some(&b'\\') {
                    let mut j = i + 2;
                    while j < b.len() && b[j] != b'\'' && b[j] != b'\n' {
                        j += 1;
                    }
                    // '\'' : the escaped quote is not the end.
                    if j == i + 2 && b.get(j) == Some(&b'\'') {
                        j += 1;
                        while j < b.len() && b[j] != b'\'' {
                            j += 1;
                        }
                    }
                    Some(j)
                } else {
                    // One character (maybe several UTF-8 bytes) then '.
                    let ch_len = text[i + 1..].chars().next().map_or(0, char::len_utf8);
                    (b.get(i + 1 + ch_len) == Some(&b'\'')).then_some(i + 1 + ch_len)
                };
                match end {
                    Some(j) => {
                        i = (j + 1).min(b.len());
                        blank(&mut out, start, i);
                    }
                    None => i += 1,
                }
            }
            _ => i += 1,
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| {
        // Blanking only ever replaces whole literals, which hold whole
        // characters; a partial one would be a bug in the loop above.
        panic!("blanking split a UTF-8 character")
    })
}

/// At `i`, a raw string (`r"`, `r#"`, `br"`...): the number of `#` and the
/// offset of its body.
fn raw_string_at(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if b[j] == b'b' {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let mut hashes = 0;
    while b.get(j) == Some(&b'#') {
        hashes += 1;
        j += 1;
    }
    (b.get(j) == Some(&b'"')).then_some((hashes, j + 1))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].bytes().filter(|&c| c == b'\n').count() + 1
}

// ---------------------------------------------------------------- paths

/// One `crate::...` path found in a file: its segments after `crate` and
/// the line it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CratePath {
    segments: Vec<String>,
    line: usize,
}

fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Whether the word `word` starts at `i` (not inside a longer identifier,
/// and not `$crate` of a macro).
fn word_at(b: &[u8], i: usize, word: &str) -> bool {
    b[i..].starts_with(word.as_bytes())
        && (i == 0 || !(is_ident_byte(b[i - 1]) || b[i - 1] == b'$'))
        && !b.get(i + word.len()).is_some_and(|&c| is_ident_byte(c))
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn ident_at(b: &[u8], i: usize) -> Option<(String, usize)> {
    let mut j = i;
    // A raw identifier, r#type.
    if b[i..].starts_with(b"r#") {
        j += 2;
    }
    let start = j;
    while j < b.len() && is_ident_byte(b[j]) {
        j += 1;
    }
    (j > start && !b[start].is_ascii_digit())
        .then(|| (String::from_utf8_lossy(&b[start..j]).into_owned(), j))
}

/// Parses a use tree at `i` (after `use`, or inside a group) with `prefix`
/// already read; pushes every full path it names; returns where it ended.
fn use_tree(b: &[u8], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    loop {
        i = skip_space(b, i);
        if b.get(i) == Some(&b'{') {
            i += 1;
            loop {
                i = skip_space(b, i);
                match b.get(i) {
                    None => return i,
                    Some(b'}') => return i + 1,
                    Some(b',') => i += 1,
                    Some(_) => {
                        let before = i;
                        i = use_tree(b, i, path.clone(), out);
                        if i == before {
                            // Not a use tree: give up on this group.
                            return i + 1;
                        }
                    }
                }
            }
        }
        if b.get(i) == Some(&b'*') {
            out.push(path);
            return i + 1;
        }
        let Some((name, end)) = ident_at(b, i) else {
            out.push(path);
            return i;
        };
        i = end;
        if name != "self" {
            path.push(name);
        }
        let j = skip_space(b, i);
        if b[j..].starts_with(b"::") {
            i = j + 2;
            continue;
        }
        // `as alias` names the same path.
        if word_at(b, j, "as") {
            i = skip_space(b, j + 2);
            if let Some((_, end)) = ident_at(b, i) {
                i = end;
            } else if b.get(i) == Some(&b'_') {
                i += 1;
            }
        }
        out.push(path);
        return i;
    }
}

/// Every `crate::` path of a (blanked) source text: the full paths of each
/// `use crate::...` tree, and each `crate::a::b` elsewhere (up to the first
/// segment that is not a plain name: `crate::a::f::<T>()` is `a::f`).
fn crate_paths(blanked: &str) -> Vec<CratePath> {
    let b = blanked.as_bytes();
    let mut out = Vec::new();
    // Use declarations first; their text is then skipped.
    let mut in_use = vec![false; b.len()];
    let mut i = 0;
    while i < b.len() {
        if word_at(b, i, "use") {
            let start = skip_space(b, i + 3);
            let mut trees = Vec::new();
            let (first, after) = match ident_at(b, start) {
                Some((w, after)) => (w, after),
                None => (String::new(), start),
            };
            let j = skip_space(b, after);
            if first == "crate" && b[j..].starts_with(b"::") {
                let end = use_tree(b, j + 2, Vec::new(), &mut trees);
                let end = end.min(b.len());
                let line = line_of(blanked, i);
                for segments in trees {
                    out.push(CratePath { segments, line });
                }
                in_use[i..end].iter_mut().for_each(|x| *x = true);
                i = end;
                continue;
            }
        }
        i += 1;
    }
    let mut i = 0;
    while i < b.len() {
        if !in_use[i] && word_at(b, i, "crate") && b[i + 5..].starts_with(b"::") {
            let line = line_of(blanked, i);
            let mut j = i + 7;
            let mut segments = Vec::new();
            while let Some((name, end)) = ident_at(b, j) {
                segments.push(name);
                j = end;
                if b[j..].starts_with(b"::")
                    && b.get(j + 2).is_some_and(|&c| c != b'<' && c != b'{')
                {
                    j += 2;
                } else {
                    break;
                }
            }
            if !segments.is_empty() {
                out.push(CratePath { segments, line });
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out.sort_by_key(|p| p.line);
    out
}

/// The file (relative to src/) of the module a path names: the longest
/// prefix of its segments that is `a/b.rs` or `a/b/mod.rs`; `lib.rs` when
/// none is (an item of the crate root).
fn resolve(segments: &[String], exists: &dyn Fn(&Path) -> bool) -> PathBuf {
    for n in (1..=segments.len()).rev() {
        let dir: PathBuf = segments[..n].iter().collect();
        let file = dir.with_extension("rs");
        if exists(&file) {
            return file;
        }
        let module = dir.join("mod.rs");
        if exists(&module) {
            return module;
        }
    }
    PathBuf::from("lib.rs")
}

/// Whether `to` is a submodule (at any depth) of the module file `from`:
/// `from` is a `mod.rs` or `lib.rs` and `to` lies in its directory.
fn declares(from: &Path, to: &Path) -> bool {
    let name = from.file_name().and_then(|n| n.to_str());
    if !matches!(name, Some("mod.rs" | "lib.rs")) {
        return false;
    }
    let dir = from.parent().unwrap_or(Path::new(""));
    to != from && to.starts_with(dir)
}

/// One import edge, with what made it (for the failure message).
#[derive(Clone, Debug)]
struct Why {
    path: String,
    line: usize,
}

type Graph = BTreeMap<PathBuf, BTreeMap<PathBuf, Why>>;

/// The file graph of `files` (path relative to src/ and its text).
fn import_graph(files: &[(PathBuf, String)]) -> Graph {
    let names: BTreeSet<&Path> = files.iter().map(|(p, _)| p.as_path()).collect();
    let exists = |p: &Path| names.contains(p);
    let mut graph = Graph::new();
    for (file, text) in files {
        let edges = graph.entry(file.clone()).or_default();
        for p in crate_paths(&blank_comments_and_literals(text)) {
            let to = resolve(&p.segments, &exists);
            if &to == file || declares(file, &to) {
                continue;
            }
            edges.entry(to).or_insert(Why {
                path: format!("crate::{}", p.segments.join("::")),
                line: p.line,
            });
        }
    }
    graph
}

/// The strongly connected components of more than one file (Tarjan's
/// algorithm, iterative over a sorted graph: the same order every run).
fn circles(graph: &Graph) -> Vec<Vec<PathBuf>> {
    let nodes: Vec<&PathBuf> = graph.keys().collect();
    let index_of: BTreeMap<&PathBuf, usize> =
        nodes.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let succ: Vec<Vec<usize>> = nodes
        .iter()
        .map(|n| {
            graph[*n]
                .keys()
                .filter_map(|t| index_of.get(t).copied())
                .collect()
        })
        .collect();
    let n = nodes.len();
    let (mut index, mut low) = (vec![usize::MAX; n], vec![0; n]);
    let (mut on_stack, mut stack) = (vec![false; n], Vec::new());
    let mut next = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next successor to look at)
        let mut work = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut k)) = work.last_mut() {
            if let Some(&w) = succ[v].get(*k) {
                *k += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut scc = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    scc.push(nodes[w].clone());
                    if w == v {
                        break;
                    }
                }
                if scc.len() > 1 {
                    scc.sort();
                    out.push(scc);
                }
            }
        }
    }
    out.sort();
    out
}

/// A shortest circle from `start` back to it inside `within`.
fn shortest_circle(graph: &Graph, start: &PathBuf, within: &[PathBuf]) -> Vec<PathBuf> {
    let mut prev: BTreeMap<&PathBuf, &PathBuf> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for w in graph[v].keys().filter(|w| within.contains(w)) {
            if w == start {
                // Walk back from v to start, then read it forwards.
                let mut circle = vec![v.clone()];
                let mut at = v;
                while at != start {
                    at = prev[at];
                    circle.push(at.clone());
                }
                circle.reverse();
                circle.push(start.clone());
                return circle;
            }
            if !prev.contains_key(w) && w != start {
                prev.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    Vec::new()
}

/// The failure text for the circles of `graph`: each group of files that
/// import each other, and a shortest circle through each of its files with
/// the path (and line) behind every step.
fn describe_circles(graph: &Graph) -> String {
    let mut text = String::new();
    for scc in circles(graph) {
        text.push_str(&format!(
            "\n{} files import each other: {}\n",
            scc.len(),
            scc.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut seen = BTreeSet::new();
        for start in &scc {
            let circle = shortest_circle(graph, start, &scc);
            // The same circle from another start: show it once.
            let mut key = circle[..circle.len().saturating_sub(1)].to_vec();
            if let Some(min) = key
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| *p)
                .map(|(i, _)| i)
            {
                key.rotate_left(min);
            }
            if !seen.insert(key) {
                continue;
            }
            text.push_str("  circle:\n");
            for pair in circle.windows(2) {
                let why = &graph[&pair[0]][&pair[1]];
                text.push_str(&format!(
                    "    src/{}:{} `{}` -> src/{}\n",
                    pair[0].display(),
                    why.line,
                    why.path,
                    pair[1].display()
                ));
            }
        }
    }
    text
}

fn lib_files() -> Vec<(PathBuf, String)> {
    rust_files()
        .into_iter()
        .filter(|p| p != Path::new("main.rs") && !p.starts_with("bin"))
        .map(|p| {
            let text = read(&p);
            (p, text)
        })
        .collect()
}

// ---------------------------------------------------------------- the rules

#[test]
fn no_file_under_src_is_over_800_lines() {
    let root = src();
    let mut over: Vec<(usize, PathBuf)> = files_under(&root, &root)
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(root.join(&p)).expect("read");
            let lines = String::from_utf8_lossy(&bytes).lines().count();
            (lines > MAX_LINES).then_some((lines, p))
        })
        .collect();
    over.sort_by(|a, b| b.cmp(a));
    assert!(
        over.is_empty(),
        "{} files under src/ are over {MAX_LINES} lines; split them along their seams:\n{}",
        over.len(),
        over.iter()
            .map(|(n, p)| format!("  {n:>5}  src/{}", p.display()))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Where a file of src/sys reaches for the screen: ratatui or crossterm,
/// or a `crate::app`/`crate::ui` path ("file:line uses `...`").
fn screen_imports(file: &Path, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let blanked = blank_comments_and_literals(text);
    let b = blanked.as_bytes();
    for krate in ["ratatui", "crossterm"] {
        for (i, _) in blanked.match_indices(krate) {
            let j = skip_space(b, i + krate.len());
            let before = blanked[..i].trim_end();
            let used = b[j..].starts_with(b"::")
                || before.ends_with("use")
                || before.ends_with("extern crate");
            if word_at(b, i, krate) && used {
                found.push((line_of(&blanked, i), format!("`{krate}`")));
            }
        }
    }
    for p in crate_paths(&blanked) {
        if matches!(p.segments.first().map(String::as_str), Some("app" | "ui")) {
            found.push((p.line, format!("`crate::{}`", p.segments.join("::"))));
        }
    }
    found.sort();
    found
        .into_iter()
        .map(|(line, what)| format!("  src/{}:{line} uses {what}", file.display()))
        .collect()
}

#[test]
fn sys_knows_nothing_of_the_screen() {
    let mut found = Vec::new();
    let mut looked = 0;
    for (file, text) in lib_files() {
        if file.starts_with("sys") {
            looked += 1;
            found.extend(screen_imports(&file, &text));
        }
    }
    assert!(looked > 5, "only {looked} files in src/sys?");
    assert!(
        found.is_empty(),
        "src/sys is the kernel side and must not know the screen (no ratatui, crossterm, \
         crate::app or crate::ui); move the drawing or the state out of sys:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_sys_check_sees_each_way_in() {
    let f = Path::new("sys/x.rs");
    let hits = screen_imports(
        f,
        "use ratatui::style::Color;\nfn a() { crossterm::terminal::size(); }\n\
         use crate::{app::App, sys::ns};\nfn b() { crate::ui::theme::current(); }\nuse crossterm;\n",
    );
    assert_eq!(
        hits,
        [
            "  src/sys/x.rs:1 uses `ratatui`",
            "  src/sys/x.rs:2 uses `crossterm`",
            "  src/sys/x.rs:3 uses `crate::app::App`",
            "  src/sys/x.rs:4 uses `crate::ui::theme::current`",
            "  src/sys/x.rs:5 uses `crossterm`",
        ]
    );
    // Words, comments and strings that only mention them are fine.
    let clean = "//! No ratatui here: crate::ui draws.\nfn ratatui_free() { let s = \"crossterm::x\"; crate::sys::ui_like::f(); }\n";
    assert!(
        screen_imports(f, clean).is_empty(),
        "{:?}",
        screen_imports(f, clean)
    );
}

#[test]
fn no_circle_of_imports_between_modules() {
    let graph = import_graph(&lib_files());
    // The graph is not vacuous: the crate's files do import each other.
    let edges: usize = graph.values().map(BTreeMap::len).sum();
    assert!(
        graph.len() > 20 && edges > 50,
        "{} files, {edges} edges",
        graph.len()
    );
    let text = describe_circles(&graph);
    assert!(
        text.is_empty(),
        "circles of imports between modules (a file reaches itself through \
         `crate::` paths; a mod.rs naming its own submodules does not count):{text}"
    );
}

// ---------------------------------------------------------------- the parser

fn paths_of(src: &str) -> Vec<String> {
    crate_paths(&blank_comments_and_literals(src))
        .into_iter()
        .map(|p| p.segments.join("::"))
        .collect()
}

#[test]
fn parser_reads_plain_grouped_and_nested_use_trees() {
    assert_eq!(paths_of("use crate::a::b;"), ["a::b"]);
    assert_eq!(paths_of("pub use crate::a::b as c;"), ["a::b"]);
    assert_eq!(paths_of("use crate::a::{b, c::d};"), ["a::b", "a::c::d"]);
    assert_eq!(
        paths_of("use crate::a::{self, b::{c, d as e}, f::*};\nuse crate::g::{};"),
        ["a", "a::b::c", "a::b::d", "a::f"]
    );
    assert_eq!(
        paths_of("pub(crate) use crate::{\n  x::Y,\n  z,\n};"),
        ["x::Y", "z"]
    );
    // Not crate paths.
    assert!(paths_of("use std::io; use super::x; use self::y; pub(crate) fn f() {}").is_empty());
}

#[test]
fn parser_reads_paths_in_expressions() {
    assert_eq!(
        paths_of("fn f() { crate::a::b::c(1); let x: crate::d::E<T> = crate::f::g::<u8>(); }"),
        ["a::b::c", "d::E", "f::g"]
    );
    assert_eq!(paths_of("x = crate::a::B { y };"), ["a::B"]);
    // Lines are counted.
    let found = crate_paths("\n\nfn f() { crate::q::r() }");
    assert_eq!(found[0].line, 3);
    // A use declaration is read once, as a tree.
    assert_eq!(paths_of("use crate::a::{b, c};"), ["a::b", "a::c"]);
}

#[test]
fn parser_ignores_comments_literals_and_macro_crate() {
    let src = r####"
        // use crate::in_comment;
        /* crate::block /* nested crate::deeper */ still crate::comment */
        /// Docs about crate::docs.
        let s = "crate::in_string \" crate::escaped";
        let r = r#"crate::raw " crate::raw2"#;
        let b = b"crate::bytes";
        let c = '"'; let d = '\''; let l: &'static str = "";
        macro_rules! m { () => { $crate::macro_path() } }
        fn real() { crate::kept::here() }
    "####;
    assert_eq!(paths_of(src), ["kept::here"]);
    // Text after a char literal or a lifetime is still read.
    assert_eq!(
        paths_of("fn f<'a>(x: &'a str) { let q = 'x'; crate::after::lifetime(x) }"),
        ["after::lifetime"]
    );
    // Blanking keeps every newline and the length.
    let blanked = blank_comments_and_literals(src);
    assert_eq!(blanked.len(), src.len());
    assert_eq!(blanked.lines().count(), src.lines().count());
}

#[test]
fn paths_resolve_to_the_longest_module_file() {
    let files: BTreeSet<PathBuf> = ["a.rs", "a/b/mod.rs", "a/b/c.rs", "d/mod.rs"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let exists = |p: &Path| files.contains(p);
    let seg = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    assert_eq!(
        resolve(&seg("a::b::c::Item"), &exists),
        Path::new("a/b/c.rs")
    );
    assert_eq!(resolve(&seg("a::b::f"), &exists), Path::new("a/b/mod.rs"));
    assert_eq!(resolve(&seg("a::g"), &exists), Path::new("a.rs"));
    assert_eq!(resolve(&seg("d::x::y"), &exists), Path::new("d/mod.rs"));
    assert_eq!(resolve(&seg("usage"), &exists), Path::new("lib.rs"));
}

#[test]
fn circles_are_found_and_a_parent_declaring_children_is_not_one() {
    let files = |list: &[(&str, &str)]| -> Vec<(PathBuf, String)> {
        list.iter()
            .map(|(p, t)| (PathBuf::from(p), t.to_string()))
            .collect()
    };
    // app/mod.rs names its screen, the screen uses app's Shared: fine.
    let tree = files(&[
        ("lib.rs", "pub mod app; pub mod sys;"),
        (
            "app/mod.rs",
            "use crate::app::lab::LabScreen; use crate::sys::x;",
        ),
        ("app/lab.rs", "use crate::app::Shared; use crate::sys::y;"),
        ("sys/mod.rs", "pub fn x() {}"),
    ]);
    assert_eq!(describe_circles(&import_graph(&tree)), "");
    // app <-> ui, as two screens did, and a longer circle through sys.
    let circle = files(&[
        ("lib.rs", ""),
        ("app/mod.rs", "fn f() { crate::ui::render(); }"),
        ("ui/mod.rs", "use crate::app::{App, Level};"),
        ("sys/a.rs", "use crate::sys::b::B;"),
        ("sys/b.rs", "use crate::sys::c::C;"),
        ("sys/c.rs", "fn g() { crate::sys::a::f() }"),
    ]);
    let graph = import_graph(&circle);
    assert_eq!(circles(&graph).len(), 2);
    let text = describe_circles(&graph);
    assert!(
        text.contains("2 files import each other: app/mod.rs, ui/mod.rs"),
        "{text}"
    );
    assert!(
        text.contains("src/app/mod.rs:1 `crate::ui::render` -> src/ui/mod.rs"),
        "{text}"
    );
    assert!(
        text.contains("src/ui/mod.rs:1 `crate::app::App` -> src/app/mod.rs"),
        "{text}"
    );
    assert!(
        text.contains("3 files import each other: sys/a.rs, sys/b.rs, sys/c.rs"),
        "{text}"
    );
    // One circle of three, shown once (not once per file).
    assert_eq!(text.matches("  circle:").count(), 2, "{text}");
}
