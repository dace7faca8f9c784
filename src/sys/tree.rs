//! Turning a flat snapshot into the rows of a `ps axjf`-style tree.

use crate::sys::procs::Pid;

/// One visible row of the tree: which process, how deep, and the tree art
/// (`\_ ` in ps style) to draw before its command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeRow {
    /// Index into `Snapshot::procs`.
    pub index: usize,
    pub pid: Pid,
    pub depth: usize,
    /// The tree art, e.g. ` \_ ` with leading indentation, as `ps axjf` draws it.
    pub art: String,
    pub has_children: bool,
    pub collapsed: bool,
}

use crate::sys::procs::Snapshot;
use std::collections::HashSet;

/// The children of every process, as indices into `Snapshot::procs`, sorted
/// by PID (the snapshot is sorted, so pushing in order keeps them sorted).
/// Also returns the roots: processes whose parent is not in the snapshot.
fn children_and_roots(snapshot: &Snapshot) -> (Vec<Vec<usize>>, Vec<usize>) {
    let procs = &snapshot.procs;
    let mut children = vec![Vec::new(); procs.len()];
    let mut roots = Vec::new();
    for (i, p) in procs.iter().enumerate() {
        let parent = if p.ppid == p.pid {
            None
        } else {
            procs.binary_search_by_key(&p.ppid, |q| q.pid).ok()
        };
        match parent {
            Some(parent) => children[parent].push(i),
            None => roots.push(i),
        }
    }
    (children, roots)
}

/// The rows of the tree in `ps axjf` order: roots (parent not in the
/// snapshot) by PID, each followed depth-first by its children by PID. The
/// children of a PID in `collapsed` are left out; the row says it is collapsed.
pub fn build(snapshot: &Snapshot, collapsed: &HashSet<Pid>) -> Vec<TreeRow> {
    let procs = &snapshot.procs;
    let (children, roots) = children_and_roots(snapshot);
    let mut rows = Vec::with_capacity(procs.len());
    let mut visited = vec![false; procs.len()];
    // The `ps` prefix: for each ancestor level, whether it has a later sibling
    // (draw ` |  `) or not (draw four spaces).
    let mut more_siblings: Vec<bool> = Vec::new();
    // Explicit stack of (index, depth, is_last_sibling) so a deep chain
    // cannot overflow the call stack.
    let mut stack: Vec<(usize, usize, bool)> = Vec::new();
    let mut emit_from = |start: usize, rows: &mut Vec<TreeRow>, visited: &mut Vec<bool>| {
        stack.push((start, 0, true));
        while let Some((i, depth, last)) = stack.pop() {
            if visited[i] {
                continue;
            }
            visited[i] = true;
            more_siblings.truncate(depth.saturating_sub(1));
            let mut art = String::with_capacity(depth * 4);
            if depth > 0 {
                for &more in &more_siblings {
                    art.push_str(if more { " |  " } else { "    " });
                }
                art.push_str(" \\_ ");
                more_siblings.push(!last);
            }
            let pid = procs[i].pid;
            let has_children = !children[i].is_empty();
            let is_collapsed = has_children && collapsed.contains(&pid);
            rows.push(TreeRow {
                index: i,
                pid,
                depth,
                art,
                has_children,
                collapsed: is_collapsed,
            });
            if has_children && !is_collapsed {
                let kids = &children[i];
                for (k, &child) in kids.iter().enumerate().rev() {
                    stack.push((child, depth + 1, k + 1 == kids.len()));
                }
            }
        }
    };
    for &root in &roots {
        emit_from(root, &mut rows, &mut visited);
    }
    // A parent cycle (only possible in a broken fixture) has no root; show
    // its members at the top level rather than dropping them.
    for i in 0..procs.len() {
        if !visited[i] {
            emit_from(i, &mut rows, &mut visited);
        }
    }
    rows
}

/// The chain from `pid` up to its topmost ancestor in the snapshot
/// (normally PID 1): `[pid, parent, grandparent, ..., 1]`. Empty if `pid` is
/// not in the snapshot.
pub fn ancestors(snapshot: &Snapshot, pid: Pid) -> Vec<Pid> {
    let mut chain = Vec::new();
    let mut current = snapshot.get(pid);
    while let Some(p) = current {
        if chain.contains(&p.pid) {
            break;
        }
        chain.push(p.pid);
        if p.ppid == p.pid || p.ppid <= 0 {
            break;
        }
        current = snapshot.get(p.ppid);
    }
    chain
}

/// Every PID below `pid` in the snapshot (its whole subtree, not itself),
/// for "collapse all" and for following a subtree.
pub fn descendants(snapshot: &Snapshot, pid: Pid) -> Vec<Pid> {
    let (children, _) = children_and_roots(snapshot);
    let Ok(start) = snapshot.procs.binary_search_by_key(&pid, |p| p.pid) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack = children[start].clone();
    let mut seen = vec![false; snapshot.procs.len()];
    seen[start] = true;
    while let Some(i) = stack.pop() {
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        out.push(snapshot.procs[i].pid);
        stack.extend_from_slice(&children[i]);
    }
    out.sort_unstable();
    out
}
