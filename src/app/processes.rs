//! The Processes screen: its state (the process model every screen shares:
//! snapshot, selection, search, follow, mark), its key table and how keys
//! and new snapshots change it. Plain data: `ui::processes` draws it,
//! nothing here does IO.

use crate::app::keys::{self, Binding, HelpSection, PromptAction, bind};
use crate::app::{Screen, Shared};
use crate::sys::ns::NsSet;
use crate::sys::procs::{Pid, Process, Snapshot};
use crate::sys::tree::{self, TreeRow};
use crate::sys::users::Users;
use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
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

/// What the bottom line is doing: showing key hints, or editing a search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prompt {
    None,
    Search(String),
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
    /// First row shown.
    pub scroll: usize,
    /// Rows the list can show (set from the terminal size before each draw).
    pub page: usize,
    pub follow: bool,
    /// Set when the followed process exited (for a status message).
    pub follow_lost: Option<Pid>,
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
            scroll: 0,
            page: 20,
            follow: false,
            follow_lost: None,
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
        self.oom_killed.retain(|pid| gone.contains(pid));
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
        for (pid, (p, since)) in &self.ghosts {
            // The memory line: v1's `memory` controller, else the v2 tree.
            let line = p
                .facts
                .cgroups
                .iter()
                .find(|l| l.controllers.iter().any(|c| c == "memory"))
                .or_else(|| p.facts.cgroups.iter().find(|l| l.is_v2()));
            if *since == now && line.is_some_and(|l| self.oom_rises.contains_key(&l.path)) {
                self.oom_killed.insert(*pid);
            }
        }
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
        let offset = self.selected.saturating_sub(self.scroll);
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
        if self.follow {
            // Keep the followed row where it was on screen while the
            // rows around it come and go.
            self.scroll = self.selected.saturating_sub(offset);
        }
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

    /// The mouse wheel: moves the selection by `delta` rows (the view
    /// follows it), like the arrow keys.
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

/// What a key on the Processes screen does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    CollapseOrParent,
    Expand,
    ToggleCollapse,
    CollapseAll,
    ExpandAll,
    ToggleView,
    SortNext,
    SortPrev,
    Search,
    SearchNext,
    SearchPrev,
    Follow,
    Mark,
    Compare,
    ToggleDetail,
    Enter,
    Close,
}

use KeyCode::{Char as C, *};

/// Every key of the Processes screen; the help is drawn from this table.
pub const KEYS: &[Binding<Action>] = &[
    bind(Action::Up, &[Up, C('k')], "move up"),
    bind(Action::Down, &[Down, C('j')], "move down"),
    bind(Action::PageUp, &[PageUp], "page up"),
    bind(Action::PageDown, &[PageDown], "page down"),
    bind(Action::Home, &[Home, C('g')], "first process"),
    bind(Action::End, &[End, C('G')], "last process"),
    bind(
        Action::CollapseOrParent,
        &[Left, C('h')],
        "collapse subtree, or go to parent",
    ),
    bind(Action::Expand, &[Right, C('l')], "expand subtree"),
    bind(
        Action::ToggleCollapse,
        &[Enter, C(' ')],
        "collapse/expand subtree",
    ),
    bind(Action::CollapseAll, &[C('-')], "collapse all"),
    bind(Action::ExpandAll, &[C('+'), C('=')], "expand all"),
    bind(Action::ToggleView, &[F(5), C('t')], "tree / flat view"),
    bind(
        Action::SortNext,
        &[F(6), C('>')],
        "next sort: CPU% RSS TIME PID (flat view)",
    ),
    bind(Action::SortPrev, &[C('<')], "previous sort (flat view)"),
    bind(
        Action::Search,
        &[C('/'), F(3)],
        "search name, PID or command line",
    ),
    bind(Action::SearchNext, &[C('n')], "next match (wraps)"),
    bind(Action::SearchPrev, &[C('N')], "previous match (wraps)"),
    bind(
        Action::Follow,
        &[C('F')],
        "follow the selected process (again: stop)",
    ),
    bind(Action::Mark, &[C('m')], "mark for compare (again: unmark)"),
    bind(
        Action::Compare,
        &[C('c')],
        "compare marked and selected namespaces",
    ),
    bind(
        Action::ToggleDetail,
        &[C('d')],
        "show / hide the detail pane",
    ),
    bind(
        Action::Enter,
        &[C('e')],
        "enter the selected process: a shell in its namespaces and root",
    ),
    bind(Action::Close, &[Esc], "close compare, clear the message"),
];

/// The Processes screen. Its state lives in `Shared::processes`, because
/// every other screen works on the process selected here.
pub struct ProcessesScreen;

impl Screen for ProcessesScreen {
    fn title(&self) -> &'static str {
        "Processes"
    }

    fn help(&self) -> Vec<HelpSection> {
        let mut mouse = HelpSection {
            title: "Mouse and columns",
            lines: vec![
                ("wheel".into(), "scroll"),
                (
                    "click".into(),
                    "select the row (or the tab) under the pointer",
                ),
                (
                    "ISOL".into(),
                    "p m n i u U c t = pid mnt net ipc uts user cgroup time",
                ),
                (
                    String::new(),
                    "namespace differs from the host's; ? unreadable",
                ),
            ],
        };
        mouse.lines.push((
            "colours".into(),
            "green: new · red: exited · grey: kernel thread",
        ));
        vec![
            keys::help_section("Processes", KEYS),
            keys::help_section("While typing a search", keys::PROMPT_KEYS),
            mouse,
        ]
    }

    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("F1", "Help "),
            ("F3", "Search "),
            ("F5", "Tree/Flat "),
            ("F6", "Sort "),
            ("m", "Mark "),
            ("c", "Compare "),
            ("F10", "Quit"),
        ]
    }

    fn wants_text(&self, shared: &Shared) -> bool {
        matches!(shared.processes.prompt, Prompt::Search(_))
    }

    fn prompt(&self, shared: &Shared) -> Option<(&'static str, String)> {
        match &shared.processes.prompt {
            Prompt::Search(q) => Some(("Search: ", q.clone())),
            Prompt::None => None,
        }
    }

    fn on_key(&mut self, key: KeyEvent, shared: &mut Shared) -> bool {
        if let Prompt::Search(query) = &mut shared.processes.prompt {
            match keys::lookup(keys::PROMPT_KEYS, key.code) {
                Some(PromptAction::Cancel) => shared.processes.prompt = Prompt::None,
                Some(PromptAction::Accept) => {
                    let q = std::mem::take(query);
                    shared.processes.prompt = Prompt::None;
                    if !q.is_empty() {
                        shared.processes.last_search = Some(q.clone());
                        if !shared.processes.find(true) {
                            shared.error(format!("no process matches \"{q}\""));
                        }
                    }
                }
                Some(PromptAction::DeleteChar) => {
                    query.pop();
                }
                None => {
                    if let KeyCode::Char(c) = key.code {
                        query.push(c);
                    }
                }
            }
            return true;
        }
        let Some(action) = keys::lookup(KEYS, key.code) else {
            return false;
        };
        shared.status = None;
        act(action, shared);
        true
    }

    fn on_mouse(&mut self, m: MouseEvent, body: Rect, shared: &mut Shared) {
        let p = &mut shared.processes;
        let list = crate::ui::processes::list_rows_area(body, p);
        if matches!(
            m.kind,
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp | MouseEventKind::Down(_)
        ) {
            p.follow = false;
        }
        match m.kind {
            MouseEventKind::ScrollDown => p.scroll_by(3),
            MouseEventKind::ScrollUp => p.scroll_by(-3),
            MouseEventKind::Down(MouseButton::Left)
                if list.contains(Position::new(m.column, m.row)) =>
            {
                let row = p.scroll + (m.row - list.y) as usize;
                if row < p.rows.len() {
                    p.select(row);
                }
            }
            _ => {}
        }
    }

    fn on_snapshot(&mut self, shared: &mut Shared) {
        if let Some(pid) = shared.processes.follow_lost.take() {
            shared.info(format!("PID {pid} has exited: follow off"));
        }
    }

    fn layout(&mut self, body: Rect, shared: &mut Shared) {
        let rows = crate::ui::processes::list_rows_area(body, &shared.processes).height;
        shared.processes.set_page(rows as usize);
    }

    fn render(&self, f: &mut Frame, body: Rect, shared: &Shared) {
        crate::ui::processes::render(f, body, &shared.processes);
    }
}

fn act(action: Action, shared: &mut Shared) {
    let p = &mut shared.processes;
    let page = p.page as isize;
    let moves = matches!(
        action,
        Action::Up
            | Action::Down
            | Action::PageUp
            | Action::PageDown
            | Action::Home
            | Action::End
            | Action::CollapseOrParent
            | Action::SearchNext
            | Action::SearchPrev
    );
    if moves && p.follow {
        // As in htop: moving the selection yourself ends following.
        p.follow = false;
        shared.info("follow off");
    }
    let p = &mut shared.processes;
    match action {
        Action::Up => p.move_by(-1),
        Action::Down => p.move_by(1),
        Action::PageUp => p.move_by(-page),
        Action::PageDown => p.move_by(page),
        Action::Home => p.select(0),
        Action::End => p.select(usize::MAX),
        Action::CollapseOrParent => p.collapse_or_parent(),
        Action::Expand => p.expand(),
        Action::ToggleCollapse => p.toggle_collapse(),
        Action::CollapseAll => p.collapse_all(),
        Action::ExpandAll => p.expand_all(),
        Action::ToggleView => p.toggle_view(),
        Action::SortNext => p.cycle_sort(true),
        Action::SortPrev => p.cycle_sort(false),
        Action::Search => p.prompt = Prompt::Search(String::new()),
        Action::SearchNext | Action::SearchPrev => {
            if p.last_search.is_none() {
                shared.info("no search yet: press / to search");
            } else if !p.find(action == Action::SearchNext) {
                let q = p.last_search.clone().unwrap_or_default();
                shared.error(format!("no process matches \"{q}\""));
            }
        }
        Action::Follow => {
            p.follow = !p.follow && p.selected_pid.is_some();
            let msg = match (p.follow, p.selected_pid) {
                (true, Some(pid)) => format!("following PID {pid}"),
                _ => "follow off".to_string(),
            };
            shared.info(msg);
        }
        Action::Mark => {
            let sel = p.selected_pid;
            p.mark = if p.mark == sel { None } else { sel };
            let msg = match p.mark {
                Some(pid) => format!("marked PID {pid}: select another and press c"),
                None => "mark cleared".to_string(),
            };
            shared.info(msg);
        }
        Action::Compare => {
            if p.mark.is_none() {
                shared.error("mark a process with m first, then select another and press c");
            } else if p.marked_process().is_none() {
                shared.error("the marked process has exited: mark another with m");
            } else {
                p.compare = !p.compare;
            }
        }
        Action::ToggleDetail => p.show_detail = !p.show_detail,
        Action::Enter => match p.selected_pid {
            // `isolab exec` (this very binary) does the setns dance, as
            // nsenter would; the TUI is suspended until the shell exits.
            Some(pid) => {
                let mut cmd = std::process::Command::new("/proc/self/exe");
                cmd.args(["exec", &pid.to_string(), "--", "/bin/sh"]);
                shared.run_in_foreground(format!("shell inside PID {pid}"), cmd);
            }
            None => shared.error("select a process first"),
        },
        Action::Close => {
            p.compare = false;
            shared.status = None;
        }
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
    fn a_process_gone_with_its_cgroups_oom_count_rising_is_marked_oom_killed() {
        use crate::sys::procs::CgroupLine;
        let in_cgroup = |pid, path: &str| {
            let mut p = proc(pid, 1, "hog");
            p.facts_mut().cgroups = vec![CgroupLine {
                hierarchy: 4,
                controllers: vec!["memory".into()],
                path: path.into(),
            }]
            .into();
            p
        };
        let with = |extra: Vec<Process>| {
            let mut procs = vec![proc(1, 0, "init")];
            procs.extend(extra);
            Snapshot {
                procs,
                ticks_per_sec: 100,
                boot_time: 0,
            }
        };
        let mut s = ProcessesState::new(Users::default(), HostRef::default());
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
    fn key_table_binds_each_key_once() {
        keys::assert_no_clashes(KEYS);
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
    fn follow_keeps_the_row_in_place_reveals_it_and_ends_on_a_move() {
        let mut list = vec![(1, 0, "init")];
        for pid in 100..140 {
            list.push((pid, 1, "w"));
        }
        list.push((500, 1, "sh"));
        list.push((501, 500, "target"));
        let mut s = ProcessesState::new(Users::default(), HostRef::default());
        s.apply_snapshot(snap(&list));
        s.set_page(10);
        s.select(s.row_of(501).expect("row"));
        s.follow = true;
        let offset = s.selected - s.scroll;
        // Twenty processes appear above it: it stays on the same screen line.
        for pid in 50..70 {
            list.push((pid, 1, "new"));
        }
        s.apply_snapshot(snap(&list));
        assert_eq!(s.selected_pid, Some(501));
        assert_eq!(s.selected - s.scroll, offset);
        // Collapsing everything would hide it: following opens the way.
        s.collapse_all();
        assert_eq!(s.selected_pid, Some(501));
        assert!(s.row_of(501).is_some());
        // Moving the selection yourself ends following, as in htop.
        let mut shared = crate::app::Shared::new(
            Users::default(),
            HostRef::default(),
            std::time::Duration::from_secs(1),
        );
        shared.processes = s;
        act(Action::Up, &mut shared);
        assert!(!shared.processes.follow);
        assert_eq!(shared.processes.selected_pid, Some(500));
    }

    #[test]
    fn follow_reports_when_the_process_exits() {
        let mut screen = ProcessesScreen;
        let mut shared = crate::app::Shared::new(
            Users::default(),
            HostRef::default(),
            std::time::Duration::from_secs(1),
        );
        shared.processes = state();
        let row = shared.processes.row_of(11).expect("row");
        shared.processes.select(row);
        act(Action::Follow, &mut shared);
        assert!(shared.processes.follow);
        for _ in 0..3 {
            shared.processes.apply_snapshot(snap(&[
                (1, 0, "init"),
                (10, 1, "sh"),
                (20, 1, "cron"),
            ]));
            screen.on_snapshot(&mut shared);
        }
        assert!(!shared.processes.follow);
        let msg = shared.status.map(|s| s.1).unwrap_or_default();
        assert_eq!(msg, "PID 11 has exited: follow off");
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
