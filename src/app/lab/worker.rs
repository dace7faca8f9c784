//! The Lab's worker thread: it owns the `Spawner` and does every fork,
//! step, wait and inside-vs-outside comparison, so the UI never blocks on
//! a fork or on a child that is slow to answer. The state sends it `Job`s
//! and drains its `News` in `poll` (one piece of news per job, in order).
//!
//! One long-lived thread, not one per job: the setup process and the child
//! arm `PR_SET_PDEATHSIG`, which follows the *thread* that forked them (see
//! `sys::spawn`), so the thread that started a Spawner must outlive it. It
//! lives as long as the Lab; dropping the `LabWorker` stops the child and
//! waits until everything made for it is gone.

use crate::sys::inside::{self, CompareRow};
use crate::sys::spawn::{ExitOutcome, Plan, Spawner, Step, StepReport};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Asked of the worker. `gen` is the state's generation when it was asked
/// (a stop starts a new one), so news of a stopped child is told apart.
pub(super) enum Job {
    Start(Box<Plan>),
    NextStep,
    RunRest,
    Compare,
    Stop,
}

/// What the worker knows of the spawned child, copied into each answer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChildView {
    /// The steps of the spawn (done ones from the reports, the rest planned).
    pub steps: Vec<Step>,
    pub pid: Option<i32>,
    /// The command runs: every step is done.
    pub running: bool,
}

/// The child's state after a refresh of the comparison table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Seen {
    /// Not looked (no child yet).
    Nothing,
    Rows(Vec<CompareRow>),
    Exited(ExitOutcome),
}

/// The worker's answer to one job.
pub(super) enum News {
    Started(Result<(StepReport, ChildView), String>),
    /// `None`: all steps were done already.
    Step(Option<(StepReport, ChildView, Seen)>),
    Rest(Vec<StepReport>, Result<(), String>, ChildView, Seen),
    Compared(Seen),
    /// Whether there was a child to stop.
    Stopped(bool),
    /// No child to work on (its start failed): nothing was done.
    Idle,
}

pub(super) struct LabWorker {
    jobs: Option<Sender<(u64, Job)>>,
    news: Receiver<(u64, News)>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LabWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LabWorker")
    }
}

impl LabWorker {
    pub(super) fn start(waker: crate::app::events::Waker) -> std::io::Result<LabWorker> {
        let (jobs, asked) = mpsc::channel::<(u64, Job)>();
        let (tx, news) = mpsc::channel::<(u64, News)>();
        let handle = std::thread::Builder::new()
            .name("isolab-lab".into())
            .spawn(move || {
                let mut spawner: Option<Spawner> = None;
                while let Ok((generation, job)) = asked.recv() {
                    let answer = work(&mut spawner, job);
                    if tx.send((generation, answer)).is_err() {
                        break; // the Lab is gone
                    }
                    // The loop sleeps until an event: this one says the
                    // Lab's `poll` has news.
                    waker.wake();
                }
                // Dropping the spawner (if any) stops the child and removes
                // its cgroup and record, on the thread that forked it.
                drop(spawner);
            })?;
        Ok(LabWorker {
            jobs: Some(jobs),
            news,
            handle: Some(handle),
        })
    }

    pub(super) fn send(&self, generation: u64, job: Job) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send((generation, job));
        }
    }

    /// The next piece of news, if one is waiting (never blocks).
    pub(super) fn try_news(&self) -> Option<(u64, News)> {
        self.news.try_recv().ok()
    }

    /// The next piece of news, waiting at most until `deadline`.
    pub(super) fn news_until(&self, deadline: Instant) -> Option<(u64, News)> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.news
            .recv_timeout(left.max(Duration::from_millis(1)))
            .ok()
    }
}

impl Drop for LabWorker {
    /// Stops the child and waits for the thread: quitting leaves nothing
    /// behind, as when the spawner lived on the UI thread.
    fn drop(&mut self) {
        if let Some(jobs) = self.jobs.take() {
            let _ = jobs.send((0, Job::Stop));
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn view_of(sp: &Spawner) -> ChildView {
    ChildView {
        steps: sp.steps().to_vec(),
        pid: sp.child_pid(),
        running: sp.is_running_command(),
    }
}

/// Re-reads the inside-vs-outside table, or notices the child ended.
fn compare(sp: &mut Spawner) -> Seen {
    if let Some(outcome) = sp.try_wait() {
        return Seen::Exited(outcome);
    }
    match sp.child_pid() {
        Some(pid) => Seen::Rows(inside::compare(pid)),
        None => Seen::Nothing,
    }
}

fn work(spawner: &mut Option<Spawner>, job: Job) -> News {
    match job {
        Job::Start(plan) => {
            if let Some(sp) = spawner {
                // Already spawned (a second Start queued behind the first).
                return News::Started(Ok((sp.first_report(), view_of(sp))));
            }
            match Spawner::start(*plan) {
                Ok(sp) => {
                    let first = sp.first_report();
                    let view = view_of(&sp);
                    *spawner = Some(sp);
                    News::Started(Ok((first, view)))
                }
                Err(e) => News::Started(Err(format!("{e:#}"))),
            }
        }
        Job::NextStep => {
            let Some(sp) = spawner else {
                return News::Idle;
            };
            match sp.next_step() {
                Some(report) => {
                    // Watch the difference grow step by step (e.g. a new PID
                    // namespace whose `ps` still shows the host until /proc).
                    let seen = if report.outcome.is_err() {
                        Seen::Nothing
                    } else if sp.is_running_command() || sp.child_pid().is_some() {
                        compare(sp)
                    } else {
                        Seen::Nothing
                    };
                    News::Step(Some((report, view_of(sp), seen)))
                }
                None => News::Step(None),
            }
        }
        Job::RunRest => {
            let Some(sp) = spawner else {
                return News::Idle;
            };
            let mut new = Vec::new();
            let result = sp.run_rest(|r| new.push(r.clone()));
            let seen = match result {
                Ok(()) => compare(sp),
                Err(_) => Seen::Nothing,
            };
            News::Rest(new, result, view_of(sp), seen)
        }
        Job::Compare => match spawner {
            Some(sp) => News::Compared(compare(sp)),
            None => News::Idle,
        },
        Job::Stop => match spawner.take() {
            Some(mut sp) => {
                sp.stop();
                News::Stopped(true)
            }
            None => News::Stopped(false),
        },
    }
}
