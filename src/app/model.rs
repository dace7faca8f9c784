//! The process model every screen shares (`Shared::processes`): the live
//! snapshot with processes that just vanished, what is new, what the OOM
//! killer took, the rows of the process tree (or the flat list) and the
//! selection on them, the followed and the marked process, the users and
//! the host's namespaces. The Processes screen shows and steers it; the
//! other screens read the selection (and the Lab marks its child). Plain
//! data, no IO, no drawing; how far the list is scrolled, the search being
//! typed and the panes shown belong to the Processes screen's own state.
//!
//! The rows' shape (tree or flat, the sort, the collapsed subtrees) lives
//! here with the rows: they are rebuilt on every snapshot, before any
//! screen hears of it, and the selection must stay on its PID through it.

use crate::sys::ns::NsSet;
use crate::sys::procs::{Pid, Process, Snapshot};
use crate::sys::tree::{self, TreeRow};
use crate::sys::users::Users;
use std::collections::{HashMap, HashSet};

/// How long (in refreshes) a new process stays highlighted and a vanished
/// one stays on screen.
pub const HIGHLIGHT_REFRESHES: u64 = 2;
/// How long (in refreshes) a process the OOM killer took stays on screen.
pub const OOM_REFRESHES: u64 = 6;
/// How many refreshes after its cgroup's OOM-kill counter rose a vanishing
/// process still counts as OOM-killed (it may linger as a zombie first).
const OOM_REAP_REFRESHES: u64 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Tree,
    Flat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Cpu,
    Mem,
    Pid,
    Time,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Cpu => SortKey::Mem,
            SortKey::Mem => SortKey::Time,
            SortKey::Time => SortKey::Pid,
            SortKey::Pid => SortKey::Cpu,
        }
    }
    pub fn prev(self) -> SortKey {
        self.next().next().next()
    }
    pub fn label(self) -> &'static str {
        match self {
            SortKey::Cpu => "CPU%",
            SortKey::Mem => "RSS",
            SortKey::Pid => "PID",
            SortKey::Time => "TIME",
        }
    }
}

/// The reference process whose namespaces count as "the host's".
#[derive(Clone, Debug, Default)]
pub struct HostRef {
    pub ns: NsSet,
    pub label: String,
}

#[derive(Debug)]
pub struct ProcessModel {
    /// The live snapshot plus, for a moment, processes that just vanished.
    pub snap: Snapshot,
    pub gone: HashSet<Pid>,
    /// Vanished processes the OOM killer took (see `mark_oom_killed`).
    pub oom_killed: HashSet<Pid>,
    ghosts: HashMap<Pid, (Process, u64)>,
    /// Memory cgroups whose OOM-kill counter rose lately, and when.
    oom_rises: HashMap<String, u64>,
    /// Generation in which each recently started PID first appeared (for
    /// the new highlight); only the last few refreshes' births are kept.
    born: HashMap<Pid, u64>,
    pub generation: u64,
    pub rows: Vec<TreeRow>,
    pub view: View,
    pub sort: SortKey,
    pub collapsed: HashSet<Pid>,
    /// Index into `rows`.
    pub selected: usize,
    pub selected_pid: Option<Pid>,
    /// Keep the selection on this PID as the tree changes (htop's F).
    pub follow: bool,
    /// Set when the followed process exited (for a status message).
    pub follow_lost: Option<Pid>,
    /// The process marked for the namespace comparison (`m`; the Lab marks
    /// its child).
    pub mark: Option<Pid>,
    pub host: HostRef,
    pub users: Users,
}

impl ProcessModel {
    pub fn new(users: Users, host: HostRef) -> Self {
        ProcessModel {
            snap: Snapshot::default(),
            gone: HashSet::new(),
            oom_killed: HashSet::new(),
            ghosts: HashMap::new(),
            oom_rises: HashMap::new(),
            born: HashMap::new(),
            generation: 0,
            rows: Vec::new(),
            view: View::Tree,
            sort: SortKey::Cpu,
            collapsed: HashSet::new(),
            selected: 0,
            selected_pid: None,
            follow: false,
            follow_lost: None,
            mark: None,
            host,
            users,
        }
    }

    /// Takes a new snapshot: remembers vanished processes for a moment,
    /// notes new ones, rebuilds the rows and keeps the selection on its PID.
    /// Returns the previous snapshot so the collector can refresh it in
    /// place next time (reusing its allocations instead of churning them).
    pub fn apply_snapshot(&mut self, mut snap: Snapshot) -> Snapshot {
        self.generation += 1;
        let now = self.generation;
        let first = now == 1;
        // Processes in the old snapshot but not the new one become ghosts
        // (copied: the old snapshot goes back to the collector).
        for p in &self.snap.procs {
            if !self.gone.contains(&p.pid) && snap.get(p.pid).is_none() {
                self.ghosts.insert(p.pid, (p.clone(), now));
            }
        }
        let oom = &self.oom_killed;
        self.ghosts.retain(|&pid, (_, since)| {
            // An OOM kill stays on screen longer: it is the news.
            let keep = if oom.contains(&pid) {
                OOM_REFRESHES
            } else {
                HIGHLIGHT_REFRESHES
            };
            snap.get(pid).is_none() && now - *since < keep
        });
        if !first {
            for p in &snap.procs {
                if self.snap.get(p.pid).is_none() {
                    self.born.insert(p.pid, now);
                }
            }
        }
        self.born
            .retain(|&pid, &mut b| now - b < HIGHLIGHT_REFRESHES && snap.get(pid).is_some());
        self.gone = self.ghosts.keys().copied().collect();
        let gone = &self.gone;
        // A mark stays while the process is a ghost, or an unreaped zombie.
        self.oom_killed
            .retain(|pid| gone.contains(pid) || snap.get(*pid).is_some_and(|p| is_dead(p.state)));
        if !self.ghosts.is_empty() {
            snap.procs
                .extend(self.ghosts.values().map(|(p, _)| p.clone()));
            snap.procs.sort_unstable_by_key(|p| p.pid);
        }
        let old = std::mem::replace(&mut self.snap, snap);
        self.rebuild_rows();
        old
    }

    /// Marks the processes that vanished in this refresh from a memory
    /// cgroup whose OOM-kill counter rose in this refresh or the few before
    /// (`cgroups`: this refresh's risers, paths as in /proc/PID/cgroup) as
    /// killed by the OOM killer. The window matters: a killed process stays
    /// a zombie until its parent reaps it, which may be a refresh later.
    pub fn mark_oom_killed(&mut self, cgroups: &[String]) {
        let now = self.generation;
        for path in cgroups {
            self.oom_rises.insert(path.clone(), now);
        }
        self.oom_rises
            .retain(|_, rose| now - *rose < OOM_REAP_REFRESHES);
        if self.oom_rises.is_empty() {
            return;
        }
        let in_riser = |p: &Process| {
            // The memory line: v1's `memory` controller, else the v2 tree.
            let line = p
                .facts
                .cgroups
                .iter()
                .find(|l| l.controllers.iter().any(|c| c == "memory"))
                .or_else(|| p.facts.cgroups.iter().find(|l| l.is_v2()));
            line.is_some_and(|l| self.oom_rises.contains_key(&l.path))
        };
        let mut killed: Vec<Pid> = self
            .ghosts
            .iter()
            .filter(|(_, (p, since))| *since == now && in_riser(p))
            .map(|(&pid, _)| pid)
            .collect();
        // A killed process whose parent has not reaped it yet is a zombie
        // in this snapshot: marked now, as its parent may take longer than
        // the window (the mark then stays until it is gone).
        killed.extend(
            self.snap
                .procs
                .iter()
                .filter(|p| is_dead(p.state) && !self.gone.contains(&p.pid) && in_riser(p))
                .map(|p| p.pid),
        );
        self.oom_killed.extend(killed);
    }

    pub fn is_new(&self, pid: Pid) -> bool {
        self.born
            .get(&pid)
            .is_some_and(|&b| self.generation - b < HIGHLIGHT_REFRESHES)
    }

    /// Recomputes the visible rows (after a snapshot, a collapse, a view or
    /// sort change) and puts the selection back on the same PID.
    pub fn rebuild_rows(&mut self) {
        self.rows = match self.view {
            View::Tree => tree::build(&self.snap, &self.collapsed),
            View::Flat => self.flat_rows(),
        };
        let target = self.selected_pid;
        let mut found = target.and_then(|pid| self.row_of(pid));
        if let (true, Some(pid), None) = (self.follow, target, found)
            && self.snap.get(pid).is_some()
        {
            // Followed but hidden in a collapsed subtree: open the way to it.
            for a in tree::ancestors(&self.snap, pid).into_iter().skip(1) {
                self.collapsed.remove(&a);
            }
            self.rows = tree::build(&self.snap, &self.collapsed);
            found = self.row_of(pid);
        }
        match found {
            Some(i) => self.selected = i,
            None => {
                self.selected = self.selected.min(self.rows.len().saturating_sub(1));
                if self.follow && target.is_some() {
                    // The followed process is gone: stop, and say so.
                    self.follow = false;
                    self.follow_lost = target;
                }
            }
        }
        self.selected_pid = self.rows.get(self.selected).map(|r| r.pid);
    }

    fn flat_rows(&self) -> Vec<TreeRow> {
        let mut idx: Vec<usize> = (0..self.snap.procs.len()).collect();
        let p = &self.snap.procs;
        match self.sort {
            SortKey::Cpu => idx.sort_by(|&a, &b| {
                p[b].cpu_percent
                    .total_cmp(&p[a].cpu_percent)
                    .then(p[a].pid.cmp(&p[b].pid))
            }),
            SortKey::Mem => idx.sort_by(|&a, &b| {
                p[b].rss_bytes
                    .cmp(&p[a].rss_bytes)
                    .then(p[a].pid.cmp(&p[b].pid))
            }),
            SortKey::Time => idx.sort_by(|&a, &b| {
                p[b].cpu_ticks
                    .cmp(&p[a].cpu_ticks)
                    .then(p[a].pid.cmp(&p[b].pid))
            }),
            SortKey::Pid => {}
        }
        idx.into_iter()
            .map(|i| TreeRow {
                index: i,
                pid: p[i].pid,
                depth: 0,
                art: String::new(),
                has_children: false,
                collapsed: false,
            })
            .collect()
    }

    pub fn row_of(&self, pid: Pid) -> Option<usize> {
        self.rows.iter().position(|r| r.pid == pid)
    }

    pub fn selected_process(&self) -> Option<&Process> {
        self.rows
            .get(self.selected)
            .map(|r| &self.snap.procs[r.index])
    }

    pub fn select(&mut self, row: usize) {
        if self.rows.is_empty() {
            return;
        }
        self.selected = row.min(self.rows.len() - 1);
        self.selected_pid = Some(self.rows[self.selected].pid);
    }

    pub fn move_by(&mut self, delta: isize) {
        let target = (self.selected as isize + delta).max(0) as usize;
        self.select(target);
    }

    pub fn toggle_collapse(&mut self) {
        let Some(row) = self.rows.get(self.selected) else {
            return;
        };
        if self.view != View::Tree || !row.has_children {
            return;
        }
        let pid = row.pid;
        if !self.collapsed.remove(&pid) {
            self.collapsed.insert(pid);
        }
        self.rebuild_rows();
    }

    /// Left / h: collapse the selected subtree, or move to the parent.
    pub fn collapse_or_parent(&mut self) {
        let Some(row) = self.rows.get(self.selected).cloned() else {
            return;
        };
        if self.view == View::Tree && row.has_children && !row.collapsed {
            self.collapsed.insert(row.pid);
            self.rebuild_rows();
        } else {
            let ppid = self.snap.procs[row.index].ppid;
            if let Some(i) = self.row_of(ppid) {
                self.select(i);
            }
        }
    }

    pub fn expand(&mut self) {
        if let Some(row) = self.rows.get(self.selected)
            && self.collapsed.remove(&row.pid)
        {
            self.rebuild_rows();
        }
    }

    pub fn collapse_all(&mut self) {
        self.collapsed = self
            .rows
            .iter()
            .filter(|r| r.has_children)
            .map(|r| r.pid)
            .collect();
        // Collapsing the roots too would hide everything: keep them open,
        // so their children (the tops of the tree) stay visible.
        for r in self.rows.iter().filter(|r| r.depth == 0) {
            self.collapsed.remove(&r.pid);
        }
        self.rebuild_rows();
    }

    pub fn expand_all(&mut self) {
        self.collapsed.clear();
        self.rebuild_rows();
    }

    pub fn toggle_view(&mut self) {
        self.view = match self.view {
            View::Tree => View::Flat,
            View::Flat => View::Tree,
        };
        self.rebuild_rows();
    }

    pub fn cycle_sort(&mut self, forward: bool) {
        self.sort = if forward {
            self.sort.next()
        } else {
            self.sort.prev()
        };
        if self.view == View::Flat {
            self.rebuild_rows();
        }
    }

    /// Whether `p` matches a search: a PID typed as digits, or a
    /// case-insensitive substring of the name or command line.
    pub fn matches(p: &Process, query: &str) -> bool {
        if query.is_empty() {
            return false;
        }
        if let Ok(pid) = query.parse::<Pid>()
            && p.pid == pid
        {
            return true;
        }
        let q = query.to_lowercase();
        p.facts.comm.to_lowercase().contains(&q)
            || p.facts
                .cmdline
                .as_ref()
                .is_some_and(|a| a.join(" ").to_lowercase().contains(&q))
    }

    /// Moves to the next (or previous) row matching `query`, wrapping
    /// around. Returns false when nothing matches. A match hidden in a
    /// collapsed subtree is revealed.
    pub fn find(&mut self, query: &str, forward: bool) -> bool {
        let n = self.rows.len();
        if n > 0 {
            for step in 1..=n {
                let i = if forward {
                    (self.selected + step) % n
                } else {
                    (self.selected + n - step % n) % n
                };
                if Self::matches(&self.snap.procs[self.rows[i].index], query) {
                    self.select(i);
                    return true;
                }
            }
        }
        // Not among visible rows: look in collapsed subtrees and open them.
        let hidden = self
            .snap
            .procs
            .iter()
            .find(|p| Self::matches(p, query))
            .map(|p| p.pid);
        if let Some(pid) = hidden {
            for a in tree::ancestors(&self.snap, pid).into_iter().skip(1) {
                self.collapsed.remove(&a);
            }
            self.selected_pid = Some(pid);
            self.rebuild_rows();
            return self.selected_pid == Some(pid);
        }
        false
    }

    pub fn marked_process(&self) -> Option<&Process> {
        self.mark.and_then(|pid| self.snap.get(pid))
    }
}

/// A zombie (or a task the kernel is tearing down): it has ended and
/// waits for its parent.
fn is_dead(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sys::tree::tests::proc;

    pub(crate) fn snap(list: &[(Pid, Pid, &str)]) -> Snapshot {
        let mut procs: Vec<Process> = list.iter().map(|&(p, pp, c)| proc(p, pp, c)).collect();
        procs.sort_by_key(|p| p.pid);
        Snapshot {
            procs,
            ticks_per_sec: 100,
            boot_time: 0,
        }
    }

    pub(crate) fn state() -> ProcessModel {
        let mut s = ProcessModel::new(Users::default(), HostRef::default());
        s.apply_snapshot(snap(&[
            (1, 0, "init"),
            (10, 1, "sh"),
            (11, 10, "sleep"),
            (20, 1, "cron"),
        ]));
        s
    }

    /// A "hog" in the v1 memory cgroup `path`.
    fn in_cgroup(pid: Pid, path: &str) -> Process {
        let mut p = proc(pid, 1, "hog");
        p.facts_mut().cgroups = vec![crate::sys::procs::CgroupLine {
            hierarchy: 4,
            controllers: vec!["memory".into()],
            path: path.into(),
        }]
        .into();
        p
    }

    /// init plus `extra`.
    fn with(extra: Vec<Process>) -> Snapshot {
        let mut procs = vec![proc(1, 0, "init")];
        procs.extend(extra);
        Snapshot {
            procs,
            ticks_per_sec: 100,
            boot_time: 0,
        }
    }

    #[test]
    fn a_process_gone_with_its_cgroups_oom_count_rising_is_marked_oom_killed() {
        let mut s = ProcessModel::new(Users::default(), HostRef::default());
        s.apply_snapshot(with(vec![
            in_cgroup(50, "/isolab/box"),
            in_cgroup(60, "/other"),
        ]));
        // The counter of /isolab/box rises while 50 is still a zombie...
        s.mark_oom_killed(&["/isolab/box".to_string()]);
        assert!(s.oom_killed.is_empty());
        // ...and both vanish in the next refresh: only 50 was OOM-killed.
        s.apply_snapshot(with(vec![]));
        s.mark_oom_killed(&[]);
        assert!(s.oom_killed.contains(&50));
        assert!(!s.oom_killed.contains(&60));
        // The OOM-killed one stays on screen longer than an ordinary exit.
        for _ in 0..HIGHLIGHT_REFRESHES {
            s.apply_snapshot(with(vec![]));
        }
        assert!(s.row_of(50).is_some());
        assert!(s.row_of(60).is_none());
        for _ in 0..OOM_REFRESHES {
            s.apply_snapshot(with(vec![]));
        }
        assert!(s.row_of(50).is_none());
        assert!(s.oom_killed.is_empty());
    }

    #[test]
    fn a_zombie_reaped_long_after_its_oom_kill_is_still_marked() {
        let hog = |state| {
            let mut p = in_cgroup(50, "/isolab/box");
            p.state = state;
            p
        };
        let mut s = ProcessModel::new(Users::default(), HostRef::default());
        s.apply_snapshot(with(vec![hog('R')]));
        s.mark_oom_killed(&[]);
        // Killed: the counter rises, the hog is a zombie its parent ignores
        // for longer than the window.
        s.apply_snapshot(with(vec![hog('Z')]));
        s.mark_oom_killed(&["/isolab/box".to_string()]);
        assert!(s.oom_killed.contains(&50), "a zombie of a riser is marked");
        for _ in 0..2 * OOM_REAP_REFRESHES {
            s.apply_snapshot(with(vec![hog('Z')]));
            s.mark_oom_killed(&[]);
        }
        assert!(s.oom_killed.contains(&50), "the mark stays while unreaped");
        // Reaped at last: a ghost with the mark, on screen for longer.
        s.apply_snapshot(with(vec![]));
        s.mark_oom_killed(&[]);
        assert!(s.oom_killed.contains(&50) && s.row_of(50).is_some());
    }

    #[test]
    fn selection_stays_on_its_pid_across_refreshes() {
        let mut s = state();
        s.select(s.row_of(11).expect("row"));
        // A new process appears above 11 in tree order.
        s.apply_snapshot(snap(&[
            (1, 0, "init"),
            (5, 1, "new"),
            (10, 1, "sh"),
            (11, 10, "sleep"),
            (20, 1, "cron"),
        ]));
        assert_eq!(s.selected_process().map(|p| p.pid), Some(11));
        assert!(s.is_new(5));
        assert!(!s.is_new(11));
    }

    #[test]
    fn vanished_processes_linger_then_go() {
        let mut s = state();
        s.apply_snapshot(snap(&[(1, 0, "init"), (10, 1, "sh"), (20, 1, "cron")]));
        assert!(s.gone.contains(&11));
        assert!(s.row_of(11).is_some());
        s.apply_snapshot(snap(&[(1, 0, "init"), (10, 1, "sh"), (20, 1, "cron")]));
        s.apply_snapshot(snap(&[(1, 0, "init"), (10, 1, "sh"), (20, 1, "cron")]));
        assert!(s.row_of(11).is_none());
    }

    #[test]
    fn follow_stops_when_the_process_is_gone_for_good() {
        let mut s = state();
        s.select(s.row_of(11).expect("row"));
        s.follow = true;
        for _ in 0..3 {
            s.apply_snapshot(snap(&[(1, 0, "init"), (10, 1, "sh"), (20, 1, "cron")]));
        }
        assert!(!s.follow);
    }

    #[test]
    fn search_wraps_and_goes_backwards() {
        let mut s = state();
        // sh, sleep
        assert!(s.find("s", true));
        assert_eq!(s.selected_pid, Some(10));
        assert!(s.find("s", true));
        assert_eq!(s.selected_pid, Some(11));
        assert!(s.find("s", true));
        assert_eq!(s.selected_pid, Some(10), "wraps");
        assert!(s.find("s", false));
        assert_eq!(s.selected_pid, Some(11), "backwards wraps");
        assert!(s.find("20", true));
        assert_eq!(s.selected_pid, Some(20), "PID search");
        assert!(!s.find("nomatch", true));
    }

    #[test]
    fn search_opens_collapsed_subtrees() {
        let mut s = state();
        s.select(s.row_of(10).expect("row"));
        s.toggle_collapse();
        assert!(s.row_of(11).is_none());
        assert!(s.find("sleep", true));
        assert_eq!(s.selected_pid, Some(11));
    }

    #[test]
    fn collapse_expand_and_views() {
        let mut s = state();
        s.collapse_all();
        assert_eq!(s.rows.len(), 3, "init, sh (collapsed), cron");
        s.expand_all();
        assert_eq!(s.rows.len(), 4);
        s.select(s.row_of(11).expect("row"));
        s.collapse_or_parent();
        assert_eq!(s.selected_pid, Some(10), "leaf: Left goes to the parent");
        s.toggle_view();
        assert_eq!(s.view, View::Flat);
        assert_eq!(s.rows.len(), 4);
        assert_eq!(s.selected_pid, Some(10));
    }
}
