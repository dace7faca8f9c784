//! The Processes screen's state and how input and new snapshots change it.
//! Plain data: the renderer reads it, `update` changes it, nothing here does IO.

use crate::sys::ns::NsSet;
use crate::sys::procs::{Pid, Process, Snapshot};
use crate::sys::tree::{self, TreeRow};
use crate::sys::users::Users;
use std::collections::{HashMap, HashSet};

/// How long (in refreshes) a new process stays highlighted and a vanished
/// one stays on screen.
pub const HIGHLIGHT_REFRESHES: u64 = 2;

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

/// What the bottom line is doing: showing key hints, or editing a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    None,
    Search(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// The reference process whose namespaces count as "the host's".
#[derive(Clone, Debug, Default)]
pub struct HostRef {
    pub ns: NsSet,
    pub label: String,
}

#[derive(Debug)]
pub struct ProcessesState {
    /// The live snapshot plus, for a moment, processes that just vanished.
    pub snap: Snapshot,
    pub gone: HashSet<Pid>,
    ghosts: HashMap<Pid, (Process, u64)>,
    /// Generation in which each PID first appeared (for the new highlight).
    born: HashMap<Pid, u64>,
    pub generation: u64,
    pub rows: Vec<TreeRow>,
    pub view: View,
    pub sort: SortKey,
    pub collapsed: HashSet<Pid>,
    /// Index into `rows`.
    pub selected: usize,
    pub selected_pid: Option<Pid>,
    /// First row shown.
    pub scroll: usize,
    /// Rows the list can show (set from the terminal size before each draw).
    pub page: usize,
    pub follow: bool,
    pub prompt: Prompt,
    pub last_search: Option<String>,
    pub mark: Option<Pid>,
    pub compare: bool,
    pub show_detail: bool,
    pub host: HostRef,
    pub users: Users,
}

impl ProcessesState {
    pub fn new(users: Users, host: HostRef) -> Self {
        ProcessesState {
            snap: Snapshot::default(),
            gone: HashSet::new(),
            ghosts: HashMap::new(),
            born: HashMap::new(),
            generation: 0,
            rows: Vec::new(),
            view: View::Tree,
            sort: SortKey::Cpu,
            collapsed: HashSet::new(),
            selected: 0,
            selected_pid: None,
            scroll: 0,
            page: 20,
            follow: false,
            prompt: Prompt::None,
            last_search: None,
            mark: None,
            compare: false,
            show_detail: true,
            host,
            users,
        }
    }

    /// Takes a new snapshot: remembers vanished processes for a moment,
    /// notes new ones, rebuilds the rows and keeps the selection on its PID.
    pub fn apply_snapshot(&mut self, mut snap: Snapshot) {
        self.generation += 1;
        let now = self.generation;
        let first = now == 1;
        let live: HashSet<Pid> = snap.procs.iter().map(|p| p.pid).collect();
        // Processes in the old snapshot but not the new one become ghosts.
        for p in std::mem::take(&mut self.snap.procs) {
            if !live.contains(&p.pid) && !self.gone.contains(&p.pid) {
                self.ghosts.insert(p.pid, (p, now));
            }
        }
        self.ghosts
            .retain(|pid, (_, since)| !live.contains(pid) && now - *since < HIGHLIGHT_REFRESHES);
        for p in &snap.procs {
            self.born
                .entry(p.pid)
                .or_insert(if first { 0 } else { now });
        }
        self.born.retain(|pid, _| live.contains(pid));
        self.gone = self.ghosts.keys().copied().collect();
        snap.procs
            .extend(self.ghosts.values().map(|(p, _)| p.clone()));
        snap.procs.sort_unstable_by_key(|p| p.pid);
        self.snap = snap;
        self.rebuild_rows();
    }

    pub fn is_new(&self, pid: Pid) -> bool {
        self.born
            .get(&pid)
            .is_some_and(|&b| b > 0 && self.generation - b < HIGHLIGHT_REFRESHES)
    }

    /// Recomputes the visible rows (after a snapshot, a collapse, a view or
    /// sort change) and puts the selection back on the same PID.
    pub fn rebuild_rows(&mut self) {
        self.rows = match self.view {
            View::Tree => tree::build(&self.snap, &self.collapsed),
            View::Flat => self.flat_rows(),
        };
        let target = self.selected_pid;
        match target.and_then(|pid| self.row_of(pid)) {
            Some(i) => self.selected = i,
            None => {
                self.selected = self.selected.min(self.rows.len().saturating_sub(1));
                if self.follow && target.is_some() {
                    // The followed process is gone: say so by stopping.
                    self.follow = false;
                }
            }
        }
        self.selected_pid = self.rows.get(self.selected).map(|r| r.pid);
        self.clamp_scroll();
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
        self.clamp_scroll();
    }

    pub fn move_by(&mut self, delta: isize) {
        let target = (self.selected as isize + delta).max(0) as usize;
        self.select(target);
    }

    fn clamp_scroll(&mut self) {
        let page = self.page.max(1);
        if self.selected < self.scroll {
            self.scroll = self.selected;
        } else if self.selected >= self.scroll + page {
            self.scroll = self.selected + 1 - page;
        }
        let max_scroll = self.rows.len().saturating_sub(page);
        self.scroll = self.scroll.min(max_scroll);
    }

    pub fn set_page(&mut self, page: usize) {
        self.page = page.max(1);
        self.clamp_scroll();
    }

    /// Scrolls the view without moving the selection off screen (mouse wheel).
    pub fn scroll_by(&mut self, delta: isize) {
        self.move_by(delta);
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
        // Keep the roots' children visible would hide everything; collapse
        // all below the roots instead, as pstree users expect to see the tops.
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
        p.comm.to_lowercase().contains(&q)
            || p.cmdline
                .as_ref()
                .is_some_and(|a| a.join(" ").to_lowercase().contains(&q))
    }

    /// Moves to the next (or previous) row matching the last search,
    /// wrapping around. Returns false when nothing matches. A match hidden
    /// in a collapsed subtree is revealed.
    pub fn find(&mut self, forward: bool) -> bool {
        let Some(query) = self.last_search.clone() else {
            return false;
        };
        let n = self.rows.len();
        if n > 0 {
            for step in 1..=n {
                let i = if forward {
                    (self.selected + step) % n
                } else {
                    (self.selected + n - step % n) % n
                };
                if Self::matches(&self.snap.procs[self.rows[i].index], &query) {
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
            .find(|p| Self::matches(p, &query))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::tree::tests::proc;

    fn snap(list: &[(Pid, Pid, &str)]) -> Snapshot {
        let mut procs: Vec<Process> = list.iter().map(|&(p, pp, c)| proc(p, pp, c)).collect();
        procs.sort_by_key(|p| p.pid);
        Snapshot {
            procs,
            ticks_per_sec: 100,
            boot_time: 0,
        }
    }

    fn state() -> ProcessesState {
        let mut s = ProcessesState::new(Users::default(), HostRef::default());
        s.apply_snapshot(snap(&[
            (1, 0, "init"),
            (10, 1, "sh"),
            (11, 10, "sleep"),
            (20, 1, "cron"),
        ]));
        s
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
        s.last_search = Some("s".into()); // sh, sleep
        assert!(s.find(true));
        assert_eq!(s.selected_pid, Some(10));
        assert!(s.find(true));
        assert_eq!(s.selected_pid, Some(11));
        assert!(s.find(true));
        assert_eq!(s.selected_pid, Some(10), "wraps");
        assert!(s.find(false));
        assert_eq!(s.selected_pid, Some(11), "backwards wraps");
        s.last_search = Some("20".into());
        assert!(s.find(true));
        assert_eq!(s.selected_pid, Some(20), "PID search");
        s.last_search = Some("nomatch".into());
        assert!(!s.find(true));
    }

    #[test]
    fn search_opens_collapsed_subtrees() {
        let mut s = state();
        s.select(s.row_of(10).expect("row"));
        s.toggle_collapse();
        assert!(s.row_of(11).is_none());
        s.last_search = Some("sleep".into());
        assert!(s.find(true));
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

    #[test]
    fn scrolling_keeps_selection_visible() {
        let mut list = vec![(1, 0, "init")];
        for pid in 2..100 {
            list.push((pid, 1, "w"));
        }
        let mut s = ProcessesState::new(Users::default(), HostRef::default());
        s.apply_snapshot(snap(&list));
        s.set_page(10);
        s.select(50);
        assert!(s.scroll <= 50 && 50 < s.scroll + 10);
        s.select(0);
        assert_eq!(s.scroll, 0);
        s.select(1000);
        assert_eq!(s.selected, 98);
    }
}
