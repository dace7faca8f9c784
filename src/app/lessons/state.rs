//! The Lessons screen's state: the catalogue, progress, the open lesson and
//! step, the live outcome the worker reported, and the confirmation asked
//! before a foreign lesson's command runs. Keys are in `mod.rs`, drawing in
//! `view.rs`.

use super::worker::{LiveRow, Report, Request, Worker};
use crate::lessons::catalog::Entry;
use crate::lessons::cond::Outcome;
use crate::lessons::lesson::{Lesson, Step};
use crate::lessons::progress::Progress;
use std::path::PathBuf;

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

    pub(super) fn go_to(&mut self, step: usize, worker: &Worker) {
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

    pub(super) fn show_me(&mut self, worker: &Worker) {
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

    /// Demo `R`: stops what the lesson started and goes back to step 1.
    pub(super) fn reset_demo(&mut self, worker: &Worker) {
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

    /// Demo: one key per step. The first press performs the step on
    /// screen; once it is green (or only a talking point), the next press
    /// moves on and performs the next.
    pub(super) fn advance_demo(&mut self, worker: &Worker) {
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

    /// The confirmation's answer: `yes` runs what waited, anything else
    /// does not.
    pub(super) fn answer_confirm(&mut self, yes: bool, worker: &Worker) {
        let Some(confirm) = self.confirm.take() else {
            return;
        };
        if yes {
            self.message = Some(format!("running: {}", confirm.commands.join("; ")));
            self.run_pending(confirm.pending, worker);
        } else {
            self.message = Some("not run".into());
        }
    }
}
