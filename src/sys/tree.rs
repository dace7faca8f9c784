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
use std::collections::{HashMap, HashSet};

/// The children of each process, by index into `Snapshot::procs`, in PID
/// order; and the roots (processes whose parent is not in the snapshot,
/// such as PID 1 and kthreadd, or anything whose parent we cannot see).
pub struct Forest {
    pub roots: Vec<usize>,
    pub children: Vec<Vec<usize>>,
}

impl Forest {
    pub fn new(snap: &Snapshot) -> Forest {
        let index: HashMap<Pid, usize> = snap
            .procs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.pid, i))
            .collect();
        let mut children = vec![Vec::new(); snap.procs.len()];
        let mut roots = Vec::new();
        // procs are sorted by PID, so pushing in order keeps children sorted.
        for (i, p) in snap.procs.iter().enumerate() {
            match index.get(&p.ppid) {
                Some(&parent) if p.ppid != p.pid => children[parent].push(i),
                _ => roots.push(i),
            }
        }
        Forest { roots, children }
    }
}

/// The rows of the tree in `ps axjf` order, with its art: each child is
/// indented four columns under its parent and drawn as ` \_ `. Children of
/// a collapsed process are left out.
pub fn build(snap: &Snapshot, collapsed: &HashSet<Pid>) -> Vec<TreeRow> {
    let forest = Forest::new(snap);
    let mut rows = Vec::with_capacity(snap.procs.len());
    // An explicit stack: trees can be deep (a fork chain) and recursion
    // would risk the stack.
    let mut stack: Vec<(usize, usize)> = forest.roots.iter().rev().map(|&r| (r, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        let p = &snap.procs[i];
        let kids = &forest.children[i];
        let is_collapsed = collapsed.contains(&p.pid) && !kids.is_empty();
        rows.push(TreeRow {
            index: i,
            pid: p.pid,
            depth,
            art: art(depth),
            has_children: !kids.is_empty(),
            collapsed: is_collapsed,
        });
        if !is_collapsed {
            stack.extend(kids.iter().rev().map(|&c| (c, depth + 1)));
        }
    }
    rows
}

/// `ps axjf` draws depth d as 4*(d-1)+1 spaces then `\_ `; roots get nothing.
pub fn art(depth: usize) -> String {
    if depth == 0 {
        String::new()
    } else {
        format!("{}\\_ ", " ".repeat(4 * (depth - 1) + 1))
    }
}

/// The chain from `pid` up to its root (PID 1 on a normal host), starting
/// with `pid` itself. Stops at a parent the snapshot does not hold, and
/// never loops.
pub fn ancestors(snap: &Snapshot, pid: Pid) -> Vec<Pid> {
    let mut chain = Vec::new();
    let mut seen = HashSet::new();
    let mut cur = snap.get(pid);
    while let Some(p) = cur {
        if !seen.insert(p.pid) {
            break;
        }
        chain.push(p.pid);
        cur = snap.get(p.ppid);
    }
    chain
}

/// Every PID in the subtree under `pid` (not including `pid`).
pub fn descendants(snap: &Snapshot, pid: Pid) -> Vec<Pid> {
    let forest = Forest::new(snap);
    let Ok(start) = snap.procs.binary_search_by_key(&pid, |p| p.pid) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut stack = forest.children[start].clone();
    while let Some(i) = stack.pop() {
        out.push(snap.procs[i].pid);
        stack.extend(&forest.children[i]);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sys::ns::NsSet;
    use crate::sys::procs::Process;

    pub(crate) fn proc(pid: Pid, ppid: Pid, comm: &str) -> Process {
        Process {
            pid,
            ppid,
            pgid: pid,
            sid: pid,
            tpgid: -1,
            nice: 0,
            tty: "?".into(),
            state: 'S',
            uid: Some(0),
            comm: comm.into(),
            cmdline: Some(vec![comm.into()]),
            threads: 1,
            rss_bytes: 0,
            cpu_ticks: 0,
            cpu_percent: 0.0,
            start_ticks: pid as u64,
            ns: NsSet::default(),
            nspid: vec![pid],
            cgroups: vec![],
            container: None,
            unreadable: vec![],
        }
    }

    fn snap(list: &[(Pid, Pid)]) -> Snapshot {
        let mut procs: Vec<Process> = list.iter().map(|&(p, pp)| proc(p, pp, "x")).collect();
        procs.sort_by_key(|p| p.pid);
        Snapshot {
            procs,
            ticks_per_sec: 100,
            boot_time: 0,
        }
    }

    #[test]
    fn builds_ps_axjf_order_and_art() {
        let s = snap(&[
            (1, 0),
            (2, 0),
            (10, 1),
            (11, 10),
            (12, 1),
            (20, 2),
            (30, 11),
        ]);
        let rows = build(&s, &HashSet::new());
        let order: Vec<(Pid, usize)> = rows.iter().map(|r| (r.pid, r.depth)).collect();
        assert_eq!(
            order,
            vec![(1, 0), (10, 1), (11, 2), (30, 3), (12, 1), (2, 0), (20, 1)]
        );
        assert_eq!(rows[0].art, "");
        assert_eq!(rows[1].art, " \\_ ");
        assert_eq!(rows[2].art, "     \\_ ");
        assert!(rows[0].has_children);
        assert!(!rows[3].has_children);
    }

    #[test]
    fn collapsing_hides_the_subtree_only() {
        let s = snap(&[(1, 0), (10, 1), (11, 10), (12, 1)]);
        let rows = build(&s, &HashSet::from([10]));
        let pids: Vec<Pid> = rows.iter().map(|r| r.pid).collect();
        assert_eq!(pids, vec![1, 10, 12]);
        assert!(rows[1].collapsed);
        // Collapsing a leaf changes nothing.
        let rows = build(&s, &HashSet::from([12]));
        assert_eq!(rows.len(), 4);
        assert!(!rows[3].collapsed);
    }

    #[test]
    fn orphans_become_roots_and_cycles_do_not_hang() {
        // 50's parent is not in the snapshot; 60 and 61 name each other.
        let s = snap(&[(1, 0), (50, 999), (60, 61), (61, 60)]);
        let rows = build(&s, &HashSet::new());
        assert!(rows.iter().any(|r| r.pid == 50 && r.depth == 0));
        assert!(rows.len() <= 4);
        assert_eq!(ancestors(&s, 60).len(), 2);
    }

    #[test]
    fn ancestors_and_descendants() {
        let s = snap(&[(1, 0), (10, 1), (11, 10), (12, 10), (13, 12)]);
        assert_eq!(ancestors(&s, 13), vec![13, 12, 10, 1]);
        let mut d = descendants(&s, 10);
        d.sort();
        assert_eq!(d, vec![11, 12, 13]);
        assert!(descendants(&s, 999).is_empty());
    }
}
