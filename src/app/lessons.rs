//! The Lessons screen (and the demo mode): state, keys, and the worker
//! thread that evaluates the current step's check on every refresh and
//! performs "show me" actions, so the UI thread never waits on /proc or on
//! a command.

use super::events::Waker;
use crate::lessons::catalog::Entry;
use crate::lessons::check_step;
use crate::lessons::cond::{self, Check, Outcome, Pred};
use crate::lessons::context::{Context, LiveContext};
use crate::lessons::lesson::{Lesson, Step};
use crate::lessons::progress::Progress;
use crate::lessons::runner::{Runner, Stopper};
use crate::sys::procs::ProcReader;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

/// One live row beside the step: a process the check talks about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveRow {
    pub pid: i32,
    pub nspid: String,
    pub hostname: String,
    pub command: String,
    /// Namespace kinds this process does not share with the host.
    pub own_ns: String,
}

/// What the worker reports.
pub enum Report {
    Evaluated {
        /// The `epoch` of the step request this answers.
        epoch: u64,
        step: usize,
        outcome: Outcome,
        rows: Vec<LiveRow>,
    },
    Performed {
        step: usize,
        result: Result<(), String>,
    },
    ResetDone,
}

enum Request {
    Step(u64, usize, Box<Step>),
    Perform(usize, Box<Step>),
    Reset(Vec<String>),
}

/// Evaluates one step against the live system: the outcome and the rows
/// of the Live pane, or `None` when the system could not be read this time.
pub type Evaluator = Box<dyn FnMut(&Step) -> Option<(Outcome, Vec<LiveRow>)>>;

/// The evaluation thread. Dropping it stops everything its actions started
/// and returns at once: it never waits for the thread, which may be stuck
/// in a check (a file system that does not answer), so quitting is prompt.
pub struct Worker {
    pub rx: Receiver<Report>,
    tx: Option<Sender<Request>>,
    handle: Option<JoinHandle<()>>,
    stopper: Stopper,
}

impl Worker {
    /// A worker on the live system; it wakes the main loop through `waker`
    /// after every report.
    pub fn start(proc_root: PathBuf, isolab: PathBuf, interval: Duration, waker: Waker) -> Worker {
        Worker::start_waking(
            move || {
                let mut reader = ProcReader::new(&proc_root).ok();
                Box::new(move |step: &Step| {
                    let ctx = LiveContext::from_reader(reader.as_mut()?).ok()?;
                    Some((check_step(step, &ctx), live_rows(step, &ctx)))
                })
            },
            isolab,
            interval,
            waker,
        )
    }

    /// A worker whose checks `make_evaluator` (called on the worker thread)
    /// answers: the live system in [`Worker::start`], anything in tests.
    pub fn start_with(
        make_evaluator: impl FnOnce() -> Evaluator + Send + 'static,
        isolab: PathBuf,
        interval: Duration,
    ) -> Worker {
        Worker::start_waking(make_evaluator, isolab, interval, Waker::default())
    }

    fn start_waking(
        make_evaluator: impl FnOnce() -> Evaluator + Send + 'static,
        isolab: PathBuf,
        interval: Duration,
        waker: Waker,
    ) -> Worker {
        let (req_tx, req_rx) = mpsc::channel::<Request>();
        let (rep_tx, rep_rx) = mpsc::channel();
        let runner = Runner::new(&isolab);
        let stopper = runner.stopper();
        let handle = std::thread::Builder::new()
            .name("isolab-lessons".into())
            .spawn(move || {
                let report = move |r: Report| {
                    let sent = rep_tx.send(r).is_ok();
                    waker.wake();
                    sent
                };
                worker_loop(make_evaluator(), runner, interval, req_rx, report)
            })
            .ok();
        Worker {
            rx: rep_rx,
            tx: Some(req_tx),
            handle,
            stopper,
        }
    }

    fn send(&self, r: Request) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(r);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // The thread ends at its next wake-up; what its actions started is
        // stopped from here, now, and nothing more can be started.
        self.tx.take();
        self.stopper.close();
        if let Some(h) = self.handle.take()
            && h.is_finished()
        {
            let _ = h.join();
        }
    }
}

fn worker_loop(
    mut evaluate: Evaluator,
    mut runner: Runner,
    interval: Duration,
    rx: Receiver<Request>,
    // Sends a report (and wakes the main loop); false once nobody listens.
    tx: impl Fn(Report) -> bool,
) {
    let mut current: Option<(u64, usize, Box<Step>)> = None;
    loop {
        match rx.recv_timeout(interval) {
            Ok(Request::Step(epoch, i, step)) => current = Some((epoch, i, step)),
            Ok(Request::Perform(i, step)) => {
                let result = match &step.action {
                    Some(a) => runner.perform(a).map_err(|e| format!("{e:#}")),
                    None => Err("this step has nothing to show".into()),
                };
                if !tx(Report::Performed { step: i, result }) {
                    break;
                }
            }
            Ok(Request::Reset(cleanup)) => {
                runner.stop_all();
                for line in &cleanup {
                    let _ = runner.run_cleanup(line);
                }
                if !tx(Report::ResetDone) {
                    break;
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let Some((epoch, i, step)) = &current else {
            continue;
        };
        let Some((outcome, rows)) = evaluate(step) else {
            continue;
        };
        if !tx(Report::Evaluated {
            epoch: *epoch,
            step: *i,
            outcome,
            rows,
        }) {
            break;
        }
    }
    runner.stop_all();
}

fn preds(check: &Check, out: &mut Vec<Pred>) {
    match check {
        Check::And(a, b) | Check::Or(a, b) => {
            preds(a, out);
            preds(b, out);
        }
        Check::Not(a) => preds(a, out),
        Check::Process(p) => out.push(p.clone()),
        Check::File { target, .. } => {
            if let cond::Target::Process(p) = target {
                out.push(p.clone());
            }
        }
        Check::Cgroup { of, .. } => out.push(of.clone()),
    }
}

/// The processes the step's check names, as they are right now.
pub fn live_rows(step: &Step, ctx: &dyn Context) -> Vec<LiveRow> {
    let Some(check) = &step.check else {
        return Vec::new();
    };
    let mut ps = Vec::new();
    preds(check, &mut ps);
    let mut pids: Vec<i32> = ps.iter().flat_map(|p| cond::matching(p, ctx)).collect();
    pids.sort_unstable();
    pids.dedup();
    let host_ns = ctx.host().map(|h| h.ns);
    pids.iter()
        .take(8)
        .filter_map(|pid| ctx.processes().iter().find(|p| p.pid == *pid))
        .map(|p| LiveRow {
            pid: p.pid,
            nspid: p
                .nspid
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" → "),
            hostname: ctx.hostname(p.pid).unwrap_or_else(|| "?".into()),
            command: p
                .cmdline
                .as_ref()
                .map(|a| a.join(" "))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| p.comm.clone()),
            own_ns: match host_ns {
                Some(h) => {
                    p.ns.differing(&h)
                        .iter()
                        .filter(|k| crate::sys::ns::NsKind::ISOLATING.contains(k))
                        .map(|k| k.proc_name())
                        .collect::<Vec<_>>()
                        .join(",")
                }
                None => String::new(),
            },
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The list of lessons.
    List,
    /// One lesson, one step.
    Step,
}

pub struct LessonsState {
    pub entries: Vec<Entry>,
    pub progress: Progress,
    pub progress_path: PathBuf,
    pub view: View,
    /// Selected row in the list.
    pub selected: usize,
    /// The open lesson (an index into `entries`) and its current step.
    pub lesson: Option<usize>,
    pub step: usize,
    pub outcome: Option<Outcome>,
    pub rows: Vec<LiveRow>,
    pub show_hint: bool,
    pub message: Option<String>,
    pub demo: bool,
    /// Steps whose check turned green in this session.
    pub passed: Vec<usize>,
    /// Bumped on every step change or reset; older reports are ignored.
    pub epoch: u64,
    pub quit: bool,
    /// `--trust`: run the commands of lesson files not shipped with isolab
    /// without asking (they are still shown).
    pub trust: bool,
    /// A command of a foreign lesson waiting for `y` before it runs.
    pub confirm: Option<Confirm>,
}

/// The question asked before a command of a lesson file not shipped with
/// isolab runs: which file, which commands.
#[derive(Clone, Debug)]
pub struct Confirm {
    /// The lesson file (raw: the screen escapes it).
    pub source: PathBuf,
    pub commands: Vec<String>,
    pending: Pending,
}

#[derive(Clone, Debug)]
enum Pending {
    Perform(usize, Box<Step>),
    Cleanup(Vec<String>),
}

impl LessonsState {
    pub fn new(
        entries: Vec<Entry>,
        progress: Progress,
        progress_path: PathBuf,
        demo: bool,
    ) -> Self {
        LessonsState {
            entries,
            progress,
            progress_path,
            view: View::List,
            selected: 0,
            lesson: None,
            step: 0,
            outcome: None,
            rows: Vec::new(),
            show_hint: false,
            message: None,
            demo,
            passed: Vec::new(),
            epoch: 0,
            quit: false,
            trust: false,
            confirm: None,
        }
    }

    /// The file of the open lesson when its commands need asking: a lesson
    /// not shipped with isolab, without `--trust`.
    fn needs_asking(&self) -> Option<PathBuf> {
        if self.trust {
            return None;
        }
        self.entries.get(self.lesson?)?.path.clone()
    }

    fn run_pending(&mut self, pending: Pending, worker: &Worker) {
        match pending {
            Pending::Perform(i, step) => worker.send(Request::Perform(i, step)),
            Pending::Cleanup(lines) => worker.send(Request::Reset(lines)),
        }
    }

    /// A key while a confirmation is shown: `y` runs, anything else does not.
    fn on_confirm_key(&mut self, key: KeyEvent, worker: &Worker) {
        let Some(confirm) = self.confirm.take() else {
            return;
        };
        if key.code == KeyCode::Char('y') {
            self.message = Some(format!("running: {}", confirm.commands.join("; ")));
            self.run_pending(confirm.pending, worker);
        } else {
            self.message = Some("not run".into());
        }
    }

    pub fn current_lesson(&self) -> Option<(&str, &Lesson)> {
        let e = self.entries.get(self.lesson?)?;
        e.lesson.as_ref().ok().map(|l| (e.id.as_str(), l))
    }

    pub fn current_step(&self) -> Option<&Step> {
        self.current_lesson()
            .and_then(|(_, l)| l.steps.get(self.step))
    }

    /// Opens lesson `i` at its saved step (demo: at the first step).
    pub fn open(&mut self, i: usize, worker: &Worker) {
        let Some(entry) = self.entries.get(i) else {
            return;
        };
        match &entry.lesson {
            Ok(lesson) => {
                let saved = if self.demo {
                    0
                } else {
                    self.progress.step_of(&entry.id)
                };
                self.lesson = Some(i);
                self.step = saved.min(lesson.steps.len().saturating_sub(1));
                self.view = View::Step;
                self.step_changed(worker);
            }
            Err(errors) => {
                self.message = Some(format!(
                    "{} cannot be opened: {}",
                    entry.id,
                    errors.first().map(|e| e.to_string()).unwrap_or_default()
                ));
            }
        }
    }

    fn step_changed(&mut self, worker: &Worker) {
        // A question about another step's command is void.
        self.confirm = None;
        self.outcome = None;
        self.rows.clear();
        self.show_hint = false;
        self.epoch += 1;
        if let Some(step) = self.current_step().cloned() {
            worker.send(Request::Step(self.epoch, self.step, Box::new(step)));
        }
    }

    fn save(&mut self) {
        if self.demo {
            return;
        }
        if let Some((id, _)) = self.current_lesson() {
            let id = id.to_string();
            self.progress.set_step(&id, self.step);
            if let Err(e) = self.progress.save(&self.progress_path) {
                self.message = Some(format!("progress not saved: {e:#}"));
            }
        }
    }

    fn go_to(&mut self, step: usize, worker: &Worker) {
        let Some((_, lesson)) = self.current_lesson() else {
            return;
        };
        let last = lesson.steps.len();
        self.step = step.min(last.saturating_sub(1));
        if step >= last {
            self.message = Some("lesson complete! Esc: back to the list".into());
            let id = self.current_lesson().map(|(id, _)| id.to_string());
            if let (Some(id), false) = (id, self.demo) {
                self.progress.set_step(&id, last);
                let _ = self.progress.save(&self.progress_path);
            }
            return;
        }
        self.save();
        self.step_changed(worker);
    }

    pub fn on_report(&mut self, report: Report, worker: &Worker) {
        match report {
            Report::Evaluated {
                epoch,
                step,
                outcome,
                rows,
            } if epoch == self.epoch && step == self.step => {
                let passed_now = outcome.passed();
                let is_reading = self.current_step().is_some_and(|s| s.check.is_none());
                self.outcome = Some(outcome);
                self.rows = rows;
                if passed_now && !is_reading && !self.passed.contains(&step) {
                    self.passed.push(step);
                    // A student moves on by themselves; the demo waits for
                    // the presenter's key so the green tick is seen.
                    if !self.demo {
                        self.message = Some(format!("✔ step {} done", step + 1));
                        self.go_to(step + 1, worker);
                    }
                }
            }
            Report::Evaluated { .. } => {}
            Report::Performed { step, result } => {
                self.message = Some(match result {
                    Ok(()) => format!("show me: step {} performed, watching its check", step + 1),
                    Err(e) => format!("show me failed: {e}"),
                });
            }
            Report::ResetDone => {
                self.message = Some("reset: everything the demo started is stopped".into());
            }
        }
    }

    pub fn on_key(&mut self, key: KeyEvent, worker: &Worker) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        self.message = None;
        if self.confirm.is_some() {
            self.on_confirm_key(key, worker);
            return;
        }
        match self.view {
            View::List => match key.code {
                KeyCode::Char('q') | KeyCode::F(10) => self.quit = true,
                KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
                KeyCode::Down | KeyCode::Char('j') => {
                    self.selected = (self.selected + 1).min(self.entries.len().saturating_sub(1))
                }
                KeyCode::Enter | KeyCode::Right => self.open(self.selected, worker),
                _ => {}
            },
            View::Step => match key.code {
                KeyCode::Char('q') | KeyCode::F(10) => self.quit = true,
                KeyCode::Esc | KeyCode::Left if !self.demo => self.view = View::List,
                KeyCode::Char('h') => self.show_hint = !self.show_hint,
                KeyCode::Char('s') => self.show_me(worker),
                KeyCode::Char('n') | KeyCode::PageDown => self.go_to(self.step + 1, worker),
                KeyCode::Char('b') | KeyCode::PageUp => {
                    self.go_to(self.step.saturating_sub(1), worker)
                }
                KeyCode::Char('R') if self.demo => {
                    let cleanup = self
                        .current_lesson()
                        .map(|(_, l)| l.cleanup.clone())
                        .unwrap_or_default();
                    // The reset goes first, so the step's next check sees
                    // what it stopped gone. A foreign lesson's own cleanup
                    // lines wait for a yes.
                    let ask = self.needs_asking().filter(|_| !cleanup.is_empty());
                    match ask {
                        Some(_) => worker.send(Request::Reset(Vec::new())),
                        None => worker.send(Request::Reset(cleanup.clone())),
                    }
                    self.passed.clear();
                    self.go_to(0, worker);
                    if let Some(source) = ask {
                        self.confirm = Some(Confirm {
                            source,
                            commands: cleanup.clone(),
                            pending: Pending::Cleanup(cleanup),
                        });
                    }
                }
                // Demo: one key per step. The first press performs the
                // step on screen; once it is green (or only a talking
                // point), the next press moves on and performs the next.
                KeyCode::Char(' ') | KeyCode::Enter if self.demo => {
                    let done = self.passed.contains(&self.step)
                        || self.current_step().is_some_and(|s| s.action.is_none());
                    if done {
                        let last = self.current_lesson().map_or(0, |(_, l)| l.steps.len());
                        if self.step + 1 < last {
                            self.go_to(self.step + 1, worker);
                            if self.current_step().is_some_and(|s| s.action.is_some()) {
                                self.show_me(worker);
                            }
                        } else {
                            self.message = Some("end of the demo: R resets, q quits".into());
                        }
                    } else {
                        self.show_me(worker);
                    }
                }
                _ => {}
            },
        }
    }

    fn show_me(&mut self, worker: &Worker) {
        match self.current_step() {
            Some(step) if step.action.is_some() => {
                let step = step.clone();
                let command = step
                    .action
                    .as_ref()
                    .map(|a| a.command.clone())
                    .unwrap_or_default();
                let pending = Pending::Perform(self.step, Box::new(step));
                match self.needs_asking() {
                    Some(source) => {
                        self.confirm = Some(Confirm {
                            source,
                            commands: vec![command],
                            pending,
                        })
                    }
                    None => {
                        self.message = Some(format!("show me: {command}"));
                        self.run_pending(pending, worker);
                    }
                }
            }
            _ => {
                self.message =
                    Some("this step has nothing to show: act yourself, or n for next".into())
            }
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
    let shared = super::Shared::new(
        crate::sys::users::Users::default(),
        super::processes::HostRef::default(),
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
    super::run_app(super::App::full_screen(shared, Box::new(screen)), None)
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
    pub fn new(setup: &super::Setup) -> LessonsScreen {
        LessonsScreen {
            proc_root: setup.proc_root.clone(),
            interval: setup.interval,
            loaded: None,
        }
    }
}

impl super::Screen for LessonsScreen {
    fn title(&self) -> &'static str {
        "Lessons"
    }

    fn help(&self) -> Vec<super::keys::HelpSection> {
        vec![super::keys::HelpSection {
            title: "Lessons",
            lines: vec![
                ("↑ ↓ Enter".into(), "choose and open a lesson"),
                ("h".into(), "show / hide the step's hint"),
                ("s".into(), "show me: isolab performs the step's action"),
                ("n PgDn / b PgUp".into(), "next / previous step"),
                ("Esc ←".into(), "back to the list of lessons"),
            ],
        }]
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

    fn on_enter(&mut self, shared: &mut super::Shared) {
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

    fn poll(&mut self, _shared: &mut super::Shared) -> bool {
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

    fn on_key(&mut self, key: KeyEvent, shared: &mut super::Shared) -> bool {
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

    fn render(&self, f: &mut ratatui::Frame, body: ratatui::layout::Rect, _shared: &super::Shared) {
        match &self.loaded {
            Some((state, _)) => crate::ui::lessons::render_in(f, body, state),
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
            super::super::processes::HostRef::default(),
            Duration::from_millis(20),
        );
        let worker = Worker::start_waking(
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
}
