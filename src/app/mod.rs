//! The TUI's state and how it changes: `App` (the screens, the active tab,
//! the help overlay) over `Shared` (what every screen may read or ask for),
//! the collector thread, the key tables and the terminal lifecycle.
//! Data flows one way: collector -> `App::on_snapshot` -> state -> drawing.
//!
//! Each screen is one module here (a room): `state.rs` (its state),
//! `view.rs` (drawing only: reads the state, records where it drew),
//! `mod.rs` (its key tables, how keys change the state, the [`Screen`]
//! impl). Nothing in this file imports a screen's file or `ui/`: the screens
//! and the frame drawing (`frame.rs`) import this, not the other way.
//! One loop ([`run_app`]) waits on one channel of [`events::AppEvent`]s.
//!
//! Adding a screen (see ARCHITECTURE.md, "The TUI"):
//! 1. `src/app/<screen>/state.rs`: its state, no IO in the constructor;
//! 2. `src/app/<screen>/view.rs`: `pub fn render(f, body, &State)`,
//!    drawing only (no IO);
//! 3. `src/app/<screen>/mod.rs`: the key table and `impl Screen`;
//! 4. one line in [`all_screens`] (plus the `mod` line).

pub mod collector;
pub mod events;
pub mod frame;
pub mod keys;
pub mod lab;
pub mod lessons;
pub mod memory;
pub mod model;
pub mod processes;
pub mod terminal;
// Screens other helpers add: one `pub mod <screen>;` line each, here.
pub mod rootfs;

use crate::sys::procs::{self, Pid, ProcReader, Process};
use crate::sys::users::Users;
use crossterm::event::{Event, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use events::{AppEvent, Waker};
use keys::{GlobalAction, HelpSection};
use model::{HostRef, ProcessModel};
use ratatui::Frame;
use ratatui::layout::Rect;
use std::cell::{Cell, RefCell};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

/// What the TUI was started with; every screen constructor gets it.
/// Constructors must not do IO (tests build every screen).
#[derive(Clone, Debug)]
pub struct Setup {
    pub proc_root: PathBuf,
    pub interval: Duration,
    /// The tab to open on (a screen title, e.g. "Lessons"); the first if None.
    pub first_screen: Option<&'static str>,
    /// The Processes screen's columns (`--columns`, the config file);
    /// `None`: as many as the width allows.
    pub columns: Option<Vec<crate::cli::Column>>,
}

impl Setup {
    pub fn new(proc_root: impl Into<PathBuf>, interval: Duration) -> Setup {
        Setup {
            proc_root: proc_root.into(),
            interval,
            first_screen: None,
            columns: None,
        }
    }
}

/// Every screen, in tab order. Adding a screen is one line here.
pub fn all_screens(setup: &Setup) -> Vec<Box<dyn Screen>> {
    vec![
        Box::new(processes::ProcessesScreen::new(setup)),
        Box::new(lab::LabScreen::new(setup)),
        Box::new(rootfs::RootScreen::new(setup)),
        Box::new(memory::MemoryScreen::new(setup)),
        Box::new(lessons::LessonsScreen::new(setup)),
    ]
}

/// One screen (a tab): its own state, its keys, how it reacts. It draws
/// through its own `view::render`; it never does terminal IO itself.
pub trait Screen {
    /// The tab title (short: tabs share one line).
    fn title(&self) -> &'static str;

    /// This screen's key tables for the help overlay — build them with
    /// `keys::help_section(title, &TABLE)` from the same table `on_key`
    /// looks keys up in, so help and behaviour cannot drift.
    fn help(&self) -> Vec<HelpSection>;

    /// A key the global table did not take (or any key while
    /// `wants_text`). Returns whether the screen used it.
    fn on_key(&mut self, key: KeyEvent, shared: &mut Shared) -> bool;

    /// Draws the screen into `body` (between the tabs and the status line).
    /// Implement as a call to the screen's `view::render`, which records
    /// where it drew what (in `Cell`s of the state) for the mouse and for
    /// paging: there is no separate layout pass.
    fn render(&self, f: &mut Frame, body: Rect, shared: &Shared);

    /// Key hints for the status line when no message or prompt shows.
    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// True while the screen takes text input: then every key (q, digits,
    /// Tab, ?) goes to the screen; only Ctrl-C still quits.
    fn wants_text(&self, _shared: &Shared) -> bool {
        false
    }

    /// The text being typed, for the status line: (label, text).
    fn prompt(&self, _shared: &Shared) -> Option<(&'static str, String)> {
        None
    }

    /// A mouse event below the tab line (tab clicks are handled by `App`);
    /// map it through the rectangles the last draw recorded.
    fn on_mouse(&mut self, _m: MouseEvent, _shared: &mut Shared) {}

    /// After each new snapshot has landed in `shared.processes`, for every
    /// screen (active or not). Keep it cheap: it runs on the UI thread.
    fn on_snapshot(&mut self, _shared: &mut Shared) {}

    /// When the screen becomes the active tab.
    fn on_enter(&mut self, _shared: &mut Shared) {}

    /// Called after every event the main loop handles (a key, a snapshot,
    /// a worker's `Waker::wake`), active or not: the place to pick up
    /// results from the screen's own worker thread or channel (never block
    /// here). A worker that posts news calls `wake` (see
    /// [`Shared::waker`]), or nothing polls until the next event.
    /// Return true when something changed that needs a redraw.
    fn poll(&mut self, _shared: &mut Shared) -> bool {
        false
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// A program to run in the foreground with the TUI suspended (e.g. a shell
/// inside a child's namespaces). The main loop leaves the alternate
/// screen, gives the terminal to the program (its own process group, made
/// the terminal's foreground group, so Ctrl-C reaches it and not isolab),
/// waits, then brings the TUI back and reports the exit status.
pub struct Foreground {
    /// Shown before the program starts and in the status line after.
    pub label: String,
    pub command: std::process::Command,
}

/// What every screen may read or ask for.
pub struct Shared {
    /// The live process model: snapshot (with exited processes for a
    /// moment), the tree's rows, selection, follow, mark. Other screens
    /// read `selected_process()`; the Lab marks its child.
    pub processes: ProcessModel,
    /// A message for the status line; cleared by the next key.
    pub status: Option<(Level, String)>,
    pub interval: Duration,
    pub quit: bool,
    foreground: Option<Foreground>,
    /// The main loop's channel: workers wake it through clones of `waker`.
    waker: Waker,
    events: Receiver<AppEvent>,
}

impl Shared {
    pub fn new(users: Users, host: HostRef, interval: Duration) -> Shared {
        let (tx, events) = mpsc::channel();
        Shared {
            processes: ProcessModel::new(users, host),
            status: None,
            interval,
            quit: false,
            foreground: None,
            waker: Waker::new(tx),
            events,
        }
    }

    /// For a screen's worker thread: `wake()` after posting news on the
    /// screen's own channel, and the loop polls the screens.
    pub fn waker(&self) -> Waker {
        self.waker.clone()
    }

    /// The PID selected on the Processes screen.
    pub fn selected_pid(&self) -> Option<Pid> {
        self.processes.selected_pid
    }

    /// The process selected on the Processes screen, from the latest snapshot.
    pub fn selected_process(&self) -> Option<&Process> {
        self.processes.selected_process()
    }

    pub fn info(&mut self, msg: impl Into<String>) {
        self.status = Some((Level::Info, msg.into()));
    }

    /// An error for the status line: say what happened, name the thing and
    /// what to do. It stays until the next key.
    pub fn error(&mut self, msg: impl Into<String>) {
        self.status = Some((Level::Error, msg.into()));
    }

    /// Asks the app to suspend the TUI and run `command` in the foreground;
    /// the TUI comes back when it exits. Runs after the current key is handled.
    pub fn run_in_foreground(&mut self, label: impl Into<String>, command: std::process::Command) {
        self.foreground = Some(Foreground {
            label: label.into(),
            command,
        });
    }

    /// The pending foreground request, if any (the main loop takes it).
    pub fn take_foreground(&mut self) -> Option<Foreground> {
        self.foreground.take()
    }
}

pub struct App {
    pub shared: Shared,
    screens: Vec<Box<dyn Screen>>,
    /// Index of the active tab in `screens`.
    pub active: usize,
    pub help: bool,
    /// First line of the help overlay shown.
    pub help_scroll: usize,
    /// Where the last draw put the frame's parts (`frame::render` records it).
    pub drawn: Drawn,
    /// One screen on the whole terminal (`isolab learn`, the demo): no
    /// tabs, no status line, no global keys but Ctrl-C; the screen quits
    /// by setting `shared.quit`.
    pub full_screen: bool,
}

/// The frame's geometry as last drawn: recorded while drawing, read by the
/// mouse and by paging, so nothing computes the layout a second time.
#[derive(Debug)]
pub struct Drawn {
    /// How many lines of the help overlay fit.
    pub help_page: Cell<usize>,
    /// The tab line, and the columns each tab's label covers.
    pub tab_line: Cell<Rect>,
    pub tabs: RefCell<Vec<Range<u16>>>,
}

impl Default for Drawn {
    fn default() -> Self {
        Drawn {
            help_page: Cell::new(20),
            tab_line: Cell::new(Rect::default()),
            tabs: RefCell::new(Vec::new()),
        }
    }
}

impl App {
    pub fn new(setup: &Setup, users: Users, host: HostRef) -> App {
        let mut app =
            App::with_screens(Shared::new(users, host, setup.interval), all_screens(setup));
        if let Some(title) = setup.first_screen {
            app.show_screen_titled(title);
        }
        app
    }

    pub fn with_screens(shared: Shared, screens: Vec<Box<dyn Screen>>) -> App {
        App {
            shared,
            screens,
            active: 0,
            help: false,
            help_scroll: 0,
            drawn: Drawn::default(),
            full_screen: false,
        }
    }

    /// `screen` alone, on the whole terminal (see `full_screen`).
    pub fn full_screen(shared: Shared, screen: Box<dyn Screen>) -> App {
        let mut app = App::with_screens(shared, vec![screen]);
        app.full_screen = true;
        app
    }

    pub fn screens(&self) -> &[Box<dyn Screen>] {
        &self.screens
    }

    pub fn active_screen(&self) -> &dyn Screen {
        self.screens[self.active].as_ref()
    }

    /// Switches to tab `index` (ignored when out of range).
    pub fn show_screen(&mut self, index: usize) {
        if index < self.screens.len() && index != self.active {
            self.active = index;
            self.screens[index].on_enter(&mut self.shared);
        }
    }

    pub fn show_screen_titled(&mut self, title: &str) -> bool {
        match self.screens.iter().position(|s| s.title() == title) {
            Some(i) => {
                self.show_screen(i);
                true
            }
            None => false,
        }
    }

    /// Every key table, for the help overlay: global keys first, then the
    /// active screen's.
    pub fn help_sections(&self) -> Vec<HelpSection> {
        let mut out = vec![keys::help_section("Everywhere", keys::GLOBAL_KEYS)];
        out.extend(self.active_screen().help());
        out.push(keys::help_section("In this help", keys::HELP_KEYS));
        out
    }

    /// How many help lines the last draw could show.
    pub fn help_page(&self) -> usize {
        self.drawn.help_page.get()
    }

    /// The tab drawn at `column` of the tab line, if any (for clicks).
    pub fn tab_at(&self, column: u16) -> Option<usize> {
        self.drawn
            .tabs
            .borrow()
            .iter()
            .position(|r| r.contains(&column))
    }

    /// Lines of the help overlay (section titles, keys and the closing hint).
    fn help_len(&self) -> usize {
        self.help_sections()
            .iter()
            .map(|s| s.lines.len() + 1)
            .sum::<usize>()
            + 1
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if keys::is_ctrl_c(&key) {
            self.shared.quit = true;
            return;
        }
        let screen = &mut self.screens[self.active];
        if self.full_screen || screen.wants_text(&self.shared) {
            screen.on_key(key, &mut self.shared);
            return;
        }
        if self.help {
            let max = self.help_len().saturating_sub(self.help_page());
            let page = self.help_page().max(1);
            let s = self.help_scroll;
            self.help_scroll = match keys::lookup(keys::HELP_KEYS, key.code) {
                Some(keys::HelpAction::ScrollUp) => s.saturating_sub(1),
                Some(keys::HelpAction::ScrollDown) => (s + 1).min(max),
                Some(keys::HelpAction::PageUp) => s.saturating_sub(page),
                Some(keys::HelpAction::PageDown) => (s + page).min(max),
                None => {
                    // Any other key closes the help; q and F10 still quit.
                    self.help = false;
                    if keys::lookup(keys::GLOBAL_KEYS, key.code) == Some(GlobalAction::Quit) {
                        self.shared.quit = true;
                    }
                    return;
                }
            };
            return;
        }
        match keys::lookup(keys::GLOBAL_KEYS, key.code) {
            Some(GlobalAction::Help) => {
                self.help = true;
                self.help_scroll = 0;
            }
            Some(GlobalAction::Quit) => self.shared.quit = true,
            Some(GlobalAction::NextScreen) => {
                self.show_screen((self.active + 1) % self.screens.len());
            }
            Some(GlobalAction::PrevScreen) => {
                let n = self.screens.len();
                self.show_screen((self.active + n - 1) % n);
            }
            Some(GlobalAction::GoToScreen) => {
                if let crossterm::event::KeyCode::Char(c) = key.code
                    && let Some(d) = c.to_digit(10)
                {
                    let n = d as usize;
                    if n <= self.screens.len() {
                        self.show_screen(n - 1);
                    } else {
                        self.shared
                            .info(format!("no screen {n}: there are {}", self.screens.len()));
                    }
                }
            }
            Some(GlobalAction::Shell) => {
                let shell = std::env::var_os("SHELL")
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "/bin/sh".into());
                let label = format!("shell {}", shell.to_string_lossy());
                self.shared
                    .run_in_foreground(label, std::process::Command::new(shell));
            }
            None => {
                screen.on_key(key, &mut self.shared);
            }
        }
    }

    /// A mouse event anywhere in the terminal: a click on a tab (where the
    /// last draw put it) switches to it, the rest goes to the active screen.
    pub fn on_mouse(&mut self, m: MouseEvent) {
        if self.full_screen {
            return self.screens[self.active].on_mouse(m, &mut self.shared);
        }
        let top = self.drawn.tab_line.get();
        if m.row == top.y && top.height > 0 {
            if let MouseEventKind::Down(MouseButton::Left) = m.kind
                && let Some(i) = self.tab_at(m.column)
            {
                self.show_screen(i);
            }
            return;
        }
        if self.help {
            if let MouseEventKind::Down(_) = m.kind {
                self.help = false;
            }
            return;
        }
        self.screens[self.active].on_mouse(m, &mut self.shared);
    }

    /// A new snapshot from the collector: the process model takes it
    /// (keeping the selection on its PID), then every screen hears of it.
    /// Returns the previous snapshot, for the collector to reuse.
    pub fn on_snapshot(&mut self, snap: procs::Snapshot) -> procs::Snapshot {
        let old = self.shared.processes.apply_snapshot(snap);
        for s in &mut self.screens {
            s.on_snapshot(&mut self.shared);
        }
        old
    }

    /// Lets every screen pick up its own background results; true when
    /// any of them needs a redraw.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        for s in &mut self.screens {
            changed |= s.poll(&mut self.shared);
        }
        changed
    }
}

/// Runs the TUI until the user quits or a signal arrives.
pub fn run(setup: Setup) -> anyhow::Result<i32> {
    // One malloc arena: the collector thread would otherwise get its own,
    // and the snapshots it refreshes would fragment a second heap.
    // SAFETY: mallopt only tunes glibc's allocator; called before threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
    let reader = ProcReader::new(&setup.proc_root)?;
    let host = match procs::host_reference(&setup.proc_root) {
        Some((p, label)) => HostRef {
            ns: p.facts.ns,
            label,
        },
        None => HostRef::default(),
    };
    let mut app = App::new(&setup, Users::system(), host);
    // What a crashed isolab left behind (Lab children, cgroups) goes first.
    crate::lessons::runner::remove_leftovers(&setup.proc_root);
    if let Err(e) = crate::sys::registry::remove_leftovers() {
        app.shared
            .error(format!("leftovers of an earlier run: {e:#}"));
    }
    run_app(app, Some((reader, setup.interval)))
}

/// One frame, at the terminal's current size.
fn draw(
    guard: &mut terminal::TerminalGuard,
    app: &mut App,
    test_panic: bool,
) -> anyhow::Result<()> {
    guard.terminal.draw(|f| frame::render(f, app))?;
    // The second snapshot: the first has been on screen for an interval,
    // long enough for a test to see the TUI up before it goes.
    if test_panic && app.shared.processes.generation > 1 {
        panic!("ISOLAB_TEST_PANIC is set: panicking on purpose");
    }
    Ok(())
}

/// Draw at least this often while events keep coming, so a burst (a
/// paste, a held key) cannot hold the screen back.
const DRAW_AT_LEAST_EVERY: Duration = Duration::from_millis(100);

/// The main loop, for the TUI and for `isolab learn`/the demo (an
/// `App::full_screen`): enters the terminal, starts the producers of the
/// one event channel (input thread, signal watcher, the collector when
/// `collect` gives it a reader and an interval) and handles one event at a
/// time, blocking while there is none. After each event every screen
/// `poll`s; a redraw happens when something changed and no event waits
/// (or `DRAW_AT_LEAST_EVERY` has passed). Returns the exit status: 0, or
/// 128 + the quit signal (SIGHUP when the terminal hung up).
pub fn run_app(mut app: App, collect: Option<(ProcReader, Duration)>) -> anyhow::Result<i32> {
    let tx = app
        .shared
        .waker
        .sender()
        .expect("a Shared's waker has the loop's channel");
    let signals = terminal::quit_signals(tx.clone())?;
    let collector = match collect {
        Some((reader, interval)) => {
            Some(collector::Collector::start(reader, interval, tx.clone())?)
        }
        None => None,
    };
    // Lets the tests drive the panic path for real: the hook must restore
    // the terminal before the message is printed.
    let test_panic = std::env::var_os("ISOLAB_TEST_PANIC").is_some();
    let mut guard = terminal::TerminalGuard::enter()?;
    let input = events::Input::start(tx)?;
    // Draw only when something changed: idle CPU stays near zero between
    // snapshots.
    let mut dirty = true;
    // None: nothing drawn yet; the first frame goes out before any event.
    let mut last_draw: Option<Instant> = None;
    let mut hung_up = false;
    let mut focus = None;
    loop {
        if app.shared.quit || hung_up || signals.received.load(Ordering::SeqCst) != 0 {
            break;
        }
        let overdue = dirty && last_draw.is_none_or(|t| t.elapsed() >= DRAW_AT_LEAST_EVERY);
        let event = match app.shared.events.try_recv() {
            Ok(ev) if !overdue => ev,
            Ok(ev) => {
                draw(&mut guard, &mut app, test_panic)?;
                (dirty, last_draw) = (false, Some(Instant::now()));
                ev
            }
            Err(TryRecvError::Empty) => {
                if dirty {
                    draw(&mut guard, &mut app, test_panic)?;
                    (dirty, last_draw) = (false, Some(Instant::now()));
                }
                // Nothing to do: sleep until something happens.
                match app.shared.events.recv() {
                    Ok(ev) => ev,
                    Err(_) => break,
                }
            }
            // Cannot happen: `Shared` holds a sender (its waker).
            Err(TryRecvError::Disconnected) => break,
        };
        // Whatever happened may change what is shown (a key, a snapshot,
        // the status line); a Wake alone redraws only if a screen took news.
        dirty |= !matches!(event, AppEvent::Wake);
        match event {
            AppEvent::Input(Event::Key(k)) => app.on_key(k),
            AppEvent::Input(Event::Mouse(m)) => app.on_mouse(m),
            // A resize (drawn at the new size), focus, paste: redraw.
            AppEvent::Input(_) => {}
            AppEvent::InputEnded(None) => hung_up = true,
            AppEvent::InputEnded(Some(e)) => {
                return Err(anyhow::anyhow!("cannot read the terminal: {e}"));
            }
            AppEvent::Collected(collector::Collected::Snapshot(s, oom)) => {
                let old = app.on_snapshot(s);
                app.shared.processes.mark_oom_killed(&oom);
                if let Some(c) = &collector {
                    c.recycle(old);
                }
            }
            AppEvent::Collected(collector::Collected::Error(e)) => {
                app.shared.error(e);
                if let Some(c) = &collector {
                    c.error_shown();
                }
            }
            // Cleared before the polls below, so news posted meanwhile
            // sends a new Wake.
            AppEvent::Wake => app.shared.waker.woken(),
            // SIGWINCH: redraw at the new size; a quit signal is in
            // `signals.received`, seen at the top.
            AppEvent::Signal(_) => {}
        }
        if app.poll() {
            dirty = true;
        }
        if let Some(c) = &collector
            && app.shared.processes.selected_pid != focus
        {
            focus = app.shared.processes.selected_pid;
            c.focus(focus);
        }
        if let Some(fg) = app.shared.take_foreground() {
            // The program reads the terminal, not the input thread.
            input.pause();
            let outcome = guard.run_foreground(fg, &signals);
            input.resume();
            match outcome {
                Ok(msg) => app.shared.info(msg),
                Err(e) => app.shared.error(format!("{e:#}")),
            }
            dirty = true;
        }
    }
    drop(input);
    drop(guard);
    drop(collector);
    match signals.received.load(Ordering::SeqCst) {
        0 if hung_up => Ok(128 + libc::SIGHUP),
        0 => Ok(0),
        sig => Ok(128 + sig),
    }
}

#[cfg(test)]
mod tests;
