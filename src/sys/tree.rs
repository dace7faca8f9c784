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
    // Reachability ignores collapsing, so hidden children do not count.
    let mut reached = vec![false; procs.len()];
    let mark = |start: usize, reached: &mut Vec<bool>| {
        let mut todo = vec![start];
        while let Some(i) = todo.pop() {
            if !std::mem::replace(&mut reached[i], true) {
                todo.extend_from_slice(&children[i]);
            }
        }
    };
    for &root in &roots {
        mark(root, &mut reached);
    }
    for i in 0..procs.len() {
        if !reached[i] {
            mark(i, &mut reached);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;
    use crate::sys::ns::NsSet;
    use crate::sys::procs::{Facts, Process};

    /// A plain host process for tests (screens and state use it too).
    pub(crate) fn proc(pid: Pid, ppid: Pid, comm: &str) -> Process {
        let mut p = process(pid, ppid);
        p.facts_mut().comm = comm.into();
        p.facts_mut().cmdline = Some(vec![comm.into()]);
        p.start_ticks = pid as u64;
        p
    }

    fn process(pid: Pid, ppid: Pid) -> Process {
        Process {
            pid,
            ppid,
            pgid: pid,
            sid: pid,
            tty: "?".into(),
            tpgid: -1,
            state: 'S',
            nice: 0,
            threads: 1,
            rss_bytes: 0,
            cpu_ticks: 0,
            cpu_percent: 0.0,
            start_ticks: 0,
            facts: Facts {
                comm: format!("p{pid}"),
                uid: Some(0),
                cmdline: Some(vec![format!("p{pid}")]),
                ns: NsSet::default(),
                nspid: vec![pid],
                ..Facts::default()
            }
            .into(),
        }
    }

    /// 1 -> {10 -> {11 -> 12, 13}, 20}; 2 -> 3 (kernel threads); 500 whose
    /// parent 499 is not in the snapshot.
    fn snapshot() -> Snapshot {
        let mut procs = vec![
            process(20, 1),
            process(1, 0),
            process(2, 0),
            process(3, 2),
            process(10, 1),
            process(11, 10),
            process(12, 11),
            process(13, 10),
            process(500, 499),
        ];
        procs.sort_by_key(|p| p.pid);
        Snapshot {
            procs,
            ticks_per_sec: 100,
            boot_time: 0,
        }
    }

    fn lines(snap: &Snapshot, rows: &[TreeRow]) -> Vec<String> {
        rows.iter()
            .map(|r| format!("{}{}", r.art, snap.procs[r.index].facts.comm))
            .collect()
    }

    #[test]
    fn builds_ps_axjf_order_and_art() {
        let snap = snapshot();
        let rows = build(&snap, &HashSet::new());
        assert_eq!(
            lines(&snap, &rows),
            vec![
                "p1",
                " \\_ p10",
                " |   \\_ p11",
                " |   |   \\_ p12",
                " |   \\_ p13",
                " \\_ p20",
                "p2",
                " \\_ p3",
                "p500",
            ]
        );
        let depths: Vec<usize> = rows.iter().map(|r| r.depth).collect();
        assert_eq!(depths, vec![0, 1, 2, 3, 2, 1, 0, 1, 0]);
        assert!(rows[0].has_children && !rows[2].collapsed);
        assert!(!rows[3].has_children);
        for r in &rows {
            assert_eq!(snap.procs[r.index].pid, r.pid);
        }
    }

    #[test]
    fn collapsing_hides_the_subtree_only() {
        let snap = snapshot();
        let rows = build(&snap, &HashSet::from([10, 12]));
        assert_eq!(
            lines(&snap, &rows),
            vec!["p1", " \\_ p10", " \\_ p20", "p2", " \\_ p3", "p500"]
        );
        assert!(rows[1].collapsed);
        // Collapsing a leaf changes nothing and is not marked collapsed.
        let rows = build(&snap, &HashSet::from([12]));
        assert_eq!(rows.len(), 9);
        assert!(rows.iter().all(|r| !r.collapsed));
    }

    #[test]
    fn ancestors_and_descendants() {
        let snap = snapshot();
        assert_eq!(ancestors(&snap, 12), vec![12, 11, 10, 1]);
        assert_eq!(ancestors(&snap, 1), vec![1]);
        assert_eq!(ancestors(&snap, 500), vec![500]);
        assert!(ancestors(&snap, 999).is_empty());
        assert_eq!(descendants(&snap, 10), vec![11, 12, 13]);
        assert_eq!(descendants(&snap, 1), vec![10, 11, 12, 13, 20]);
        assert!(descendants(&snap, 12).is_empty());
    }

    #[test]
    fn a_parent_cycle_still_shows_every_process() {
        let mut snap = snapshot();
        snap.procs.retain(|p| p.pid == 11 || p.pid == 12);
        snap.procs[0].ppid = 12; // 11 <-> 12
        let rows = build(&snap, &HashSet::new());
        assert_eq!(rows.len(), 2);
        assert_eq!(ancestors(&snap, 12), vec![12, 11]);
    }
}
