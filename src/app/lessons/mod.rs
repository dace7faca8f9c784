//! The Lessons screen (and the demo mode). `state.rs` holds the lesson and
//! step, `worker.rs` evaluates checks and performs "show me" actions off
//! the UI thread, `view.rs` draws; here are the key tables and how keys
//! change the state, the Lessons tab, and `isolab learn`'s full screen.

pub mod state;
pub mod view;
pub mod worker;

use crate::app::keys::{self, Binding, HelpSection, bind, lookup};
use crate::app::{Screen, Setup, Shared};
use crate::lessons::progress::Progress;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};
use ratatui::Frame;
use ratatui::layout::Rect;
pub use state::{Confirm, LessonsState, View};
use std::path::{Path, PathBuf};
use std::time::Duration;
pub use worker::{Evaluator, LiveRow, Report, Worker, live_rows};

/// What a key does on the Lessons screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LessonAction {
    Quit,
    Up,
    Down,
    Open,
    Back,
    Hint,
    ShowMe,
    Next,
    Prev,
    Reset,
    Advance,
}

use KeyCode::{Char as C, *};

/// `isolab learn` has no global table: these quit it. In the TUI the
/// global table takes the same keys first.
pub const QUIT_KEYS: &[Binding<LessonAction>] =
    &[bind(LessonAction::Quit, &[C('q'), F(10)], "quit")];

/// Keys on the list of lessons.
pub const LIST_KEYS: &[Binding<LessonAction>] = &[
    bind(LessonAction::Up, &[Up, C('k')], "choose a lesson: up"),
    bind(LessonAction::Down, &[Down, C('j')], "choose a lesson: down"),
    bind(LessonAction::Open, &[Enter, Right], "open the lesson"),
];

/// Keys in a lesson's step.
pub const STEP_KEYS: &[Binding<LessonAction>] = &[
    bind(LessonAction::Hint, &[C('h')], "show / hide the step's hint"),
    bind(
        LessonAction::ShowMe,
        &[C('s')],
        "show me: isolab performs the step's action",
    ),
    bind(LessonAction::Next, &[C('n'), PageDown], "next step"),
    bind(LessonAction::Prev, &[C('b'), PageUp], "previous step"),
    bind(
        LessonAction::Back,
        &[Esc, Left],
        "back to the list of lessons (not in the demo)",
    ),
];

/// The demo's extra keys in a step.
pub const DEMO_KEYS: &[Binding<LessonAction>] = &[
    bind(
        LessonAction::Advance,
        &[C(' '), Enter],
        "perform the step; once green: the next step",
    ),
    bind(
        LessonAction::Reset,
        &[C('R')],
        "reset: stop what the demo started, back to step 1",
    ),
];

/// The answer to "run this foreign lesson's command?"
pub const CONFIRM_KEYS: &[Binding<bool>] = &[bind(
    true,
    &[C('y')],
    "run the lesson's command (any other key: do not)",
)];

impl LessonsState {
    pub fn on_key(&mut self, key: KeyEvent, worker: &Worker) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if keys::is_ctrl_c(&key) {
            self.quit = true;
            return;
        }
        self.message = None;
        if self.confirm.is_some() {
            let yes = lookup(CONFIRM_KEYS, key.code).unwrap_or(false);
            self.answer_confirm(yes, worker);
            return;
        }
        let table = match self.view {
            View::List => LIST_KEYS,
            View::Step => STEP_KEYS,
        };
        let action = lookup(QUIT_KEYS, key.code)
            .or_else(|| lookup(table, key.code))
            .or_else(|| match self.view {
                View::Step if self.demo => lookup(DEMO_KEYS, key.code),
                _ => None,
            });
        let Some(action) = action else {
            return;
        };
        match action {
            LessonAction::Quit => self.quit = true,
            LessonAction::Up => self.selected = self.selected.saturating_sub(1),
            LessonAction::Down => {
                self.selected = (self.selected + 1).min(self.entries.len().saturating_sub(1))
            }
            LessonAction::Open => self.open(self.selected, worker),
            LessonAction::Back if !self.demo => self.view = View::List,
            LessonAction::Back => {}
            LessonAction::Hint => self.show_hint = !self.show_hint,
            LessonAction::ShowMe => self.show_me(worker),
            LessonAction::Next => self.go_to(self.step + 1, worker),
            LessonAction::Prev => self.go_to(self.step.saturating_sub(1), worker),
            LessonAction::Reset => self.reset_demo(worker),
            LessonAction::Advance => self.advance_demo(worker),
        }
    }
}
/// Runs `isolab learn` (or the demo) until the user quits: the main loop
/// (`app::run_app`) with this screen alone on the whole terminal, opened
/// at lesson `open`. No collector runs: the worker reads what the checks
/// need.
pub fn run(
    proc_root: &Path,
    interval: Duration,
    mut state: LessonsState,
    open: Option<usize>,
) -> anyhow::Result<i32> {
    // No user names or host namespaces are shown: nothing to look up.
    let shared = Shared::new(
        crate::sys::users::Users::default(),
        crate::app::model::HostRef::default(),
        interval,
    );
    let isolab = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("isolab"));
    let worker = Worker::start(proc_root.to_path_buf(), isolab, interval, shared.waker());
    if let Some(i) = open {
        state.open(i, &worker);
    }
    let screen = LessonsScreen {
        proc_root: proc_root.to_path_buf(),
        interval,
        loaded: Some((state, worker)),
    };
    crate::app::run_app(crate::app::App::full_screen(shared, Box::new(screen)), None)
}

/// The Lessons tab inside the main TUI: the same state and drawing as
/// `isolab learn`, beside the live screens (switch tabs to act, come back
/// to see the check). Lessons and progress are loaded when the tab is first
/// shown (screens do no IO when built); the worker runs checks and "show
/// me" actions off the UI thread and stops what it started when dropped.
pub struct LessonsScreen {
    proc_root: PathBuf,
    interval: Duration,
    loaded: Option<(LessonsState, Worker)>,
}

impl LessonsScreen {
    pub fn new(setup: &Setup) -> LessonsScreen {
        LessonsScreen {
            proc_root: setup.proc_root.clone(),
            interval: setup.interval,
            loaded: None,
        }
    }
}

impl Screen for LessonsScreen {
    fn title(&self) -> &'static str {
        "Lessons"
    }

    fn help(&self) -> Vec<HelpSection> {
        vec![
            keys::help_section("Lessons: the list", LIST_KEYS),
            keys::help_section("Lessons: a step", STEP_KEYS),
            keys::help_section("Lessons: a command to confirm", CONFIRM_KEYS),
        ]
    }

    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("Enter", "Open "),
            ("h", "Hint "),
            ("s", "Show me "),
            ("n", "Next "),
            ("Esc", "List"),
        ]
    }

    fn on_enter(&mut self, shared: &mut Shared) {
        if self.loaded.is_some() {
            return;
        }
        let entries = match crate::lessons::catalog::load(None) {
            Ok(e) => e,
            Err(e) => {
                shared.error(format!("cannot load the lessons: {e:#}"));
                return;
            }
        };
        let path = crate::lessons::progress::default_path();
        let (progress, note) = Progress::load(&path);
        if let Some(note) = note {
            shared.error(note);
        }
        let isolab = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("isolab"));
        let worker = Worker::start(
            self.proc_root.clone(),
            isolab,
            self.interval,
            shared.waker(),
        );
        self.loaded = Some((LessonsState::new(entries, progress, path, false), worker));
    }

    fn poll(&mut self, _shared: &mut Shared) -> bool {
        let Some((state, worker)) = &mut self.loaded else {
            return false;
        };
        let mut changed = false;
        while let Ok(report) = worker.rx.try_recv() {
            state.on_report(report, worker);
            changed = true;
        }
        changed
    }

    fn on_key(&mut self, key: KeyEvent, shared: &mut Shared) -> bool {
        match &mut self.loaded {
            Some((state, worker)) => {
                state.on_key(key, worker);
                // `q` quits `isolab learn` (full screen); in the TUI's tab
                // the global table takes `q` before the screen sees it.
                if std::mem::take(&mut state.quit) {
                    shared.quit = true;
                }
                true
            }
            None => false,
        }
    }

    fn render(&self, f: &mut Frame, body: Rect, _shared: &Shared) {
        match &self.loaded {
            Some((state, _)) => view::render_in(f, body, state),
            None => f.render_widget(
                ratatui::widgets::Paragraph::new("loading the lessons…"),
                body,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{App, Screen, Shared};
    use crate::lessons::catalog::Entry;
    use crate::lessons::cond::Outcome;
    use crate::lessons::lesson::Step;
    use crossterm::event::KeyModifiers;

    /// `isolab learn`'s App: `q` in the lesson keys quits the whole app,
    /// and the worker's reports wake the loop.
    #[test]
    fn full_screen_lessons_quit_on_q_and_their_worker_wakes_the_loop() {
        let text = "lesson: One\n\nstep: Read\nJust read this.\n";
        let state = LessonsState::new(
            vec![Entry::from_text("01-one", None, text)],
            Progress::default(),
            "/nonexistent/progress.json".into(),
            false,
        );
        let mut shared = Shared::new(
            crate::sys::users::Users::default(),
            crate::app::model::HostRef::default(),
            Duration::from_millis(20),
        );
        let worker = worker::Worker::start_waking(
            || Box::new(|_: &Step| Some((Outcome::Pass, Vec::new()))),
            PathBuf::from("isolab"),
            Duration::from_millis(20),
            shared.waker(),
        );
        let mut screen = LessonsScreen {
            proc_root: PathBuf::from("/proc"),
            interval: Duration::from_millis(20),
            loaded: Some((state, worker)),
        };
        if let Some((state, worker)) = &mut screen.loaded {
            state.open(0, worker);
        }
        // The worker evaluates the step, reports and wakes: the screen's
        // poll then takes the report.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !screen.poll(&mut shared) {
            assert!(std::time::Instant::now() < deadline, "no report");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            matches!(
                shared.events.try_recv(),
                Ok(crate::app::events::AppEvent::Wake)
            ),
            "the report came with a Wake"
        );
        let mut app = App::full_screen(shared, Box::new(screen));
        app.on_key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE));
        assert!(app.shared.quit);
    }

    #[test]
    fn key_tables_bind_each_key_once() {
        keys::assert_no_clashes(LIST_KEYS);
        keys::assert_no_clashes(STEP_KEYS);
        keys::assert_no_clashes(DEMO_KEYS);
        // The demo's keys work beside the step's: none may shadow another.
        for d in DEMO_KEYS {
            for k in d.keys {
                assert!(
                    STEP_KEYS.iter().all(|b| !b.keys.contains(k)),
                    "{k:?} bound twice"
                );
            }
        }
    }
}
