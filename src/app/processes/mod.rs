//! The Processes screen: the live tree (or flat list), a detail pane, the
//! namespace comparison of two processes. The tree and the selection are
//! the shared model (`Shared::processes`, `app/model.rs`), because
//! every other screen works on the process selected here; `state.rs` holds
//! what only this screen has (scroll, search prompt, panes), `view.rs`
//! draws. Here are the key table and how keys and the mouse change both.

pub mod state;
pub mod view;

use crate::app::keys::{self, Binding, HelpSection, PromptAction, bind};
use crate::app::{Screen, Shared};
use crossterm::event::{KeyCode, KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::Rect;
pub use state::{ProcessesState, Prompt};

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

/// The Processes screen: its own view state; the model is in `Shared`.
#[derive(Default)]
pub struct ProcessesScreen {
    pub state: ProcessesState,
}

impl ProcessesScreen {
    pub fn new(setup: &crate::app::Setup) -> ProcessesScreen {
        let mut screen = ProcessesScreen::default();
        screen.state.columns = setup.columns.clone();
        screen
    }
}

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
            keys::prompt_help_section("While typing a search", keys::PROMPT_KEYS),
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

    fn wants_text(&self, _shared: &Shared) -> bool {
        matches!(self.state.prompt, Prompt::Search(_))
    }

    fn prompt(&self, _shared: &Shared) -> Option<(&'static str, String)> {
        match &self.state.prompt {
            Prompt::Search(q) => Some(("Search: ", q.clone())),
            Prompt::None => None,
        }
    }

    fn on_key(&mut self, key: KeyEvent, shared: &mut Shared) -> bool {
        let v = &mut self.state;
        if let Prompt::Search(query) = &mut v.prompt {
            match keys::lookup(keys::PROMPT_KEYS, key.code) {
                Some(PromptAction::Cancel) => v.prompt = Prompt::None,
                Some(PromptAction::Accept) => {
                    let q = std::mem::take(query);
                    v.prompt = Prompt::None;
                    if !q.is_empty() {
                        v.last_search = Some(q.clone());
                        if !shared.processes.find(&q, true) {
                            shared.error(format!("no process matches \"{q}\""));
                        }
                    }
                }
                Some(PromptAction::DeleteChar) => {
                    query.pop();
                }
                None => keys::type_into(query, key),
            }
            return true;
        }
        let Some(action) = keys::lookup(KEYS, key.code) else {
            return false;
        };
        shared.status = None;
        act(action, v, shared);
        true
    }

    fn on_mouse(&mut self, m: MouseEvent, shared: &mut Shared) {
        let p = &mut shared.processes;
        if matches!(
            m.kind,
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp | MouseEventKind::Down(_)
        ) {
            p.follow = false;
        }
        match m.kind {
            // The wheel moves the selection (the view follows it), like
            // the arrow keys.
            MouseEventKind::ScrollDown => p.move_by(3),
            MouseEventKind::ScrollUp => p.move_by(-3),
            MouseEventKind::Down(MouseButton::Left) => {
                if let Some(row) = self.state.row_at(m.column, m.row, p) {
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

    fn render(&self, f: &mut Frame, body: Rect, shared: &Shared) {
        view::render(f, body, &self.state, &shared.processes);
    }
}

fn act(action: Action, v: &mut ProcessesState, shared: &mut Shared) {
    let p = &mut shared.processes;
    let page = v.page.get() as isize;
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
        Action::Search => v.prompt = Prompt::Search(String::new()),
        Action::SearchNext | Action::SearchPrev => match &v.last_search {
            None => shared.info("no search yet: press / to search"),
            Some(q) => {
                if !p.find(q, action == Action::SearchNext) {
                    shared.error(format!("no process matches \"{q}\""));
                }
            }
        },
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
                v.compare = !v.compare;
            }
        }
        Action::ToggleDetail => v.show_detail = !v.show_detail,
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
            v.compare = false;
            shared.status = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::model::tests::{snap, state};
    use crate::app::model::{HostRef, ProcessModel};
    use crate::sys::users::Users;

    fn shared_with(model: ProcessModel) -> Shared {
        let mut shared = Shared::new(
            Users::default(),
            HostRef::default(),
            std::time::Duration::from_secs(1),
        );
        shared.processes = model;
        shared
    }

    #[test]
    fn key_table_binds_each_key_once() {
        keys::assert_no_clashes(KEYS);
    }

    #[test]
    fn follow_keeps_the_row_in_place_reveals_it_and_ends_on_a_move() {
        let mut list = vec![(1, 0, "init")];
        for pid in 100..140 {
            list.push((pid, 1, "w"));
        }
        list.push((500, 1, "sh"));
        list.push((501, 500, "target"));
        let mut s = ProcessModel::new(Users::default(), HostRef::default());
        let mut v = ProcessesState::default();
        s.apply_snapshot(snap(&list));
        v.set_page(10, &s);
        s.select(s.row_of(501).expect("row"));
        v.settle(&s);
        s.follow = true;
        let offset = s.selected - v.scroll.get();
        // Twenty processes appear above it: it stays on the same screen line.
        for pid in 50..70 {
            list.push((pid, 1, "new"));
        }
        s.apply_snapshot(snap(&list));
        v.settle(&s);
        assert_eq!(s.selected_pid, Some(501));
        assert_eq!(s.selected - v.scroll.get(), offset);
        // Collapsing everything would hide it: following opens the way.
        s.collapse_all();
        assert_eq!(s.selected_pid, Some(501));
        assert!(s.row_of(501).is_some());
        // Moving the selection yourself ends following, as in htop.
        let mut shared = shared_with(s);
        act(Action::Up, &mut v, &mut shared);
        assert!(!shared.processes.follow);
        assert_eq!(shared.processes.selected_pid, Some(500));
    }

    #[test]
    fn follow_reports_when_the_process_exits() {
        let mut screen = ProcessesScreen::default();
        let mut shared = shared_with(state());
        let row = shared.processes.row_of(11).expect("row");
        shared.processes.select(row);
        act(Action::Follow, &mut screen.state, &mut shared);
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
    fn scrolling_keeps_selection_visible() {
        let mut list = vec![(1, 0, "init")];
        for pid in 2..100 {
            list.push((pid, 1, "w"));
        }
        let mut s = ProcessModel::new(Users::default(), HostRef::default());
        let v = ProcessesState::default();
        s.apply_snapshot(snap(&list));
        v.set_page(10, &s);
        s.select(50);
        v.settle(&s);
        assert!(v.scroll.get() <= 50 && 50 < v.scroll.get() + 10);
        s.select(0);
        v.settle(&s);
        assert_eq!(v.scroll.get(), 0);
        s.select(1000);
        assert_eq!(s.selected, 98);
    }
}
