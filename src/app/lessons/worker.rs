//! The Lessons screen's worker thread: it evaluates the current step's
//! check on every refresh and performs "show me" actions, so the UI thread
//! never waits on /proc or on a command.

use crate::app::events::Waker;
use crate::lessons::check_step;
use crate::lessons::cond::{self, Check, Outcome, Pred};
use crate::lessons::context::{Context, LiveContext};
use crate::lessons::lesson::Step;
use crate::lessons::runner::{Runner, Stopper};
use crate::sys::procs::ProcReader;
use std::path::PathBuf;
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

pub(super) enum Request {
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

    pub(super) fn start_waking(
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

    pub(super) fn send(&self, r: Request) {
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
