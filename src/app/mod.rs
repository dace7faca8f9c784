//! Application state, `update` for input and snapshots, the collector thread
//! and the terminal lifecycle. Data flows one way: collector -> state -> ui.

pub mod collector;
pub mod keys;
pub mod memory;
pub mod state;
pub mod terminal;

use crate::sys::procs::{self, ProcReader};
use crate::sys::users::Users;
use crossterm::event::{
    self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent,
    MouseEventKind,
};
use keys::Action;
use ratatui::layout::{Position, Rect};
use state::{HostRef, Level, ProcessesState, Prompt};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// The screens, in tab order. Adding a screen: a variant here (with its
/// title), its state in `App`, `src/ui/<screen>.rs` to draw it, and a key
/// handler called from `App::on_key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Processes,
    Memory,
}

impl Screen {
    pub const ALL: [Screen; 2] = [Screen::Processes, Screen::Memory];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Processes => "Processes",
            Screen::Memory => "Memory",
        }
    }
}

pub struct App {
    pub screen: Screen,
    pub processes: ProcessesState,
    pub memory: memory::MemoryState,
    pub help: bool,
    /// A message for the status line (errors stay until the next key).
    pub status: Option<(Level, String)>,
    pub interval: Duration,
    pub quit: bool,
}

impl App {
    pub fn new(users: Users, host: HostRef, interval: Duration) -> App {
        App {
            screen: Screen::Processes,
            processes: ProcessesState::new(users, host),
            memory: memory::MemoryState::new("/proc"),
            help: false,
            status: None,
            interval,
            quit: false,
        }
    }

    pub fn info(&mut self, msg: impl Into<String>) {
        self.status = Some((Level::Info, msg.into()));
    }

    pub fn error(&mut self, msg: impl Into<String>) {
        self.status = Some((Level::Error, msg.into()));
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if let Prompt::Search(query) = &mut self.processes.prompt {
            match key.code {
                KeyCode::Esc => self.processes.prompt = Prompt::None,
                KeyCode::Enter => {
                    let q = std::mem::take(query);
                    self.processes.prompt = Prompt::None;
                    if !q.is_empty() {
                        self.processes.last_search = Some(q.clone());
                        if !self.processes.find(true) {
                            self.error(format!("no process matches \"{q}\""));
                        }
                    }
                }
                KeyCode::Backspace => {
                    query.pop();
                }
                KeyCode::Char(c) => query.push(c),
                _ => {}
            }
            return;
        }
        if self.help {
            // Any key closes help; q still quits.
            self.help = false;
            if matches!(key.code, KeyCode::Char('q') | KeyCode::F(10)) {
                self.quit = true;
            }
            return;
        }
        if let KeyCode::Char(c @ '1'..='9') = key.code
            && let Some(screen) = Screen::ALL.get(c as usize - '1' as usize)
            && !matches!(self.memory.dialog, memory::Dialog::EditLimit { .. })
        {
            self.switch_to(*screen);
            return;
        }
        if self.screen == Screen::Memory {
            if self.memory.on_key(key.code) {
                self.status = None;
                return;
            }
            // Only help and quit mean something here; the list keys belong
            // to the Processes screen.
            if let Some(a @ (Action::Help | Action::Quit)) = keys::action_for(key.code) {
                self.act(a);
            }
            return;
        }
        if key.code == KeyCode::Esc {
            self.processes.compare = false;
            self.status = None;
            return;
        }
        let Some(action) = keys::action_for(key.code) else {
            return;
        };
        self.status = None;
        self.act(action);
    }

    /// Shows `screen`; the Memory screen follows the selected process.
    pub fn switch_to(&mut self, screen: Screen) {
        self.screen = screen;
        if screen == Screen::Memory
            && let Some(p) = self.processes.selected_process()
        {
            let (pid, comm) = (p.pid, p.comm.clone());
            self.memory.show(pid, &comm);
        }
    }

    fn act(&mut self, action: Action) {
        let page = self.processes.page as isize;
        let p = &mut self.processes;
        match action {
            Action::Help => self.help = true,
            Action::Quit => self.quit = true,
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
                    self.info("no search yet: press / to search");
                } else if !p.find(action == Action::SearchNext) {
                    let q = p.last_search.clone().unwrap_or_default();
                    self.error(format!("no process matches \"{q}\""));
                }
            }
            Action::Follow => {
                p.follow = !p.follow;
                let msg = match (p.follow, p.selected_pid) {
                    (true, Some(pid)) => format!("following PID {pid}"),
                    _ => "follow off".to_string(),
                };
                self.info(msg);
            }
            Action::Mark => {
                let sel = p.selected_pid;
                p.mark = if p.mark == sel { None } else { sel };
                let msg = match p.mark {
                    Some(pid) => format!("marked PID {pid}: select another and press c"),
                    None => "mark cleared".to_string(),
                };
                self.info(msg);
            }
            Action::Compare => {
                if p.mark.is_none() {
                    self.error("mark a process with m first, then select another and press c");
                } else {
                    p.compare = !p.compare;
                }
            }
            Action::ToggleDetail => p.show_detail = !p.show_detail,
        }
    }

    pub fn on_mouse(&mut self, m: MouseEvent, area: Rect) {
        if self.screen != Screen::Processes {
            return;
        }
        let list = crate::ui::processes::list_rows_area(area, self);
        match m.kind {
            MouseEventKind::ScrollDown => self.processes.scroll_by(3),
            MouseEventKind::ScrollUp => self.processes.scroll_by(-3),
            MouseEventKind::Down(MouseButton::Left)
                if list.contains(Position::new(m.column, m.row)) =>
            {
                let row = self.processes.scroll + (m.row - list.y) as usize;
                self.processes.select(row);
            }
            _ => {}
        }
    }
}

/// Runs the TUI until the user quits or a signal arrives.
pub fn run(proc_root: &Path, interval: Duration) -> anyhow::Result<i32> {
    let reader = ProcReader::new(proc_root)?;
    let host = match procs::host_reference(proc_root) {
        Some((p, label)) => HostRef { ns: p.ns, label },
        None => HostRef::default(),
    };
    let mut app = App::new(Users::system(), host, interval);
    app.memory = memory::MemoryState::new(proc_root);
    let signal = terminal::quit_signals()?;
    let collector = collector::Collector::start(reader, interval);
    let mut guard = terminal::TerminalGuard::enter()?;
    // Draw only when something changed: idle CPU stays near zero between
    // snapshots.
    let mut dirty = true;
    while !app.quit {
        if signal.load(Ordering::SeqCst) != 0 {
            break;
        }
        let size = guard.terminal.size()?;
        let area = Rect::new(0, 0, size.width, size.height);
        if dirty {
            app.processes
                .set_page(crate::ui::processes::list_rows_area(area, &app).height as usize);
            guard.terminal.draw(|f| crate::ui::render(f, &app))?;
            dirty = false;
            // Lets the tests drive the panic path for real: the hook must
            // restore the terminal before the message is printed.
            if std::env::var_os("ISOLAB_TEST_PANIC").is_some() && app.processes.generation > 0 {
                panic!("ISOLAB_TEST_PANIC is set: panicking on purpose");
            }
        }
        if app.screen == Screen::Memory && app.memory.due() {
            app.memory.refresh();
            dirty = true;
        }
        // Wait for input, but wake for new snapshots and signals.
        if event::poll(Duration::from_millis(100))? {
            dirty = true;
            match event::read()? {
                Event::Key(k) => app.on_key(k),
                Event::Mouse(m) => app.on_mouse(m, area),
                _ => {}
            }
        }
        while let Ok(msg) = collector.rx.try_recv() {
            dirty = true;
            match msg {
                collector::Collected::Snapshot(s) => app.processes.apply_snapshot(s),
                collector::Collected::Error(e) => app.error(e),
            }
        }
    }
    drop(guard);
    drop(collector);
    match signal.load(Ordering::SeqCst) {
        0 => Ok(0),
        sig => Ok(128 + sig),
    }
}
