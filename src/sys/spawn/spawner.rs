//! The parent side of a spawn: fork, id maps, cgroup, registry, stepping,
//! stop and wait.

use super::child::{ChildPipes, setup_main, wait_for_end};
use super::plan::Plan;
use super::prep::{ChildPrep, create_cgroup};
use super::protocol::{ExitOutcome, FailureKind, Next, Report, ReportReader};
use super::steps::{Actor, Step, StepKind, StepReport, steps};
use crate::sys::cgroup::OwnedCgroup;
use crate::sys::pidfd;
use crate::sys::registry::{self, Registration};
use anyhow::Context;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::{ForkResult, Pid, fork, getegid, geteuid, getpid};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The control pipe's write end, and how many go bytes already sent on it
/// are for the coming child steps (`run` and `run_rest` send a batch).
struct Ctl {
    fd: OwnedFd,
    prepaid: usize,
}

/// How far the steps got when the setup process was reaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reached {
    /// Every step was done: the command ran.
    AllSteps,
    /// A step failed.
    Failed,
    /// Reaped before this step (killed from outside, or `stop` mid-way).
    Step(usize),
}

/// Where a spawn is. Each phase holds only what it needs: the control pipe
/// exists only while steps remain, the late-report cursor only while the
/// command runs, the outcome only once the setup process is reaped.
enum Phase {
    /// Forked: step 1 is next, and the setup process is not recorded yet
    /// (`record_setup`, right after its first go byte, so the disk write
    /// overlaps its work; until then the parent-death signal covers a crash).
    Ready(Ctl),
    /// Recorded, with steps left; `next` is the index of the next one.
    Stepping { next: usize, ctl: Ctl },
    /// Every step is done and the command runs. `late`: in `Spawner::run`
    /// mode, the index of the step whose report is read next, while the
    /// command runs (`read_late_reports`); `None` once all are in.
    Running { late: Option<usize> },
    /// A step failed, or a child could not be recorded: nothing more is
    /// asked of the child.
    Failed,
    /// The setup process is reaped.
    Exited {
        outcome: ExitOutcome,
        reached: Reached,
    },
}

/// Who failed a run that `Spawner::run` learnt of only later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FailedBy {
    /// The child reported it.
    Child(FailureKind),
    /// The registry could not record a child, so it was killed.
    Registry,
}

#[derive(Clone, Debug)]
struct RunFailure {
    by: FailedBy,
    text: String,
}

/// The running spawn: drives the steps and owns everything created.
pub struct Spawner {
    plan: Plan,
    steps: Vec<Step>,
    phase: Phase,
    setup_pid: i32,
    setup_pidfd: Option<OwnedFd>,
    child_pid: Option<i32>,
    child_pidfd: Option<OwnedFd>,
    reports: ReportReader,
    status: ReportReader,
    cgroup: Option<OwnedCgroup>,
    registration: Option<Registration>,
    failure: Option<RunFailure>,
}

impl std::fmt::Debug for Spawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawner")
            .field("setup_pid", &self.setup_pid)
            .field("child_pid", &self.child_pid)
            .field("next", &self.next_index())
            .finish()
    }
}

pub(crate) fn pipe_cloexec() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2 failed")
}

/// Write `n` go bytes; whether all went in (a pipe holds 64 KiB).
fn send_go(ctl: &OwnedFd, n: usize) -> bool {
    nix::unistd::write(ctl, &vec![b'g'; n]) == Ok(n)
}

impl Spawner {
    /// Validate the plan, create the cgroup (if any), fork the setup
    /// process, and stop before the first child step. Nothing is left
    /// behind if this fails.
    pub fn start(plan: Plan) -> anyhow::Result<Spawner> {
        Spawner::start_with(plan, false)
    }

    /// The foreground path of `isolab run`: start and carry out every step
    /// without stopping. The first go bytes are in the pipe before the fork,
    /// and unless `on_step` wants each report, the reports after the last
    /// parent step are only read by `wait` (a failure then shows in
    /// `failure`): every wake-up saved counts on a loaded machine.
    pub fn run(
        plan: Plan,
        on_step: Option<&mut dyn FnMut(&StepReport)>,
    ) -> anyhow::Result<Spawner> {
        let mut spawner = Spawner::start_with(plan, true)?;
        let read_all = on_step.is_some();
        let mut noop = |_: &StepReport| {};
        let on_step: &mut dyn FnMut(&StepReport) = match on_step {
            Some(f) => {
                f(&spawner.first_report());
                f
            }
            None => &mut noop,
        };
        while let Some(next) = spawner.next_index() {
            let parent_steps_left = spawner.steps[next.min(spawner.steps.len())..]
                .iter()
                .any(|s| s.actor == Actor::Parent);
            if !read_all && !parent_steps_left {
                spawner.send_batch();
                spawner.record_setup();
                if matches!(spawner.phase, Phase::Stepping { .. }) {
                    // The reports from here on are read while the command
                    // runs; the go bytes of every step left are sent.
                    spawner.phase = Phase::Running { late: Some(next) };
                    if let Err(e) = spawner.reports.set_nonblocking() {
                        spawner.stop();
                        return Err(e).context("cannot read the child's reports");
                    }
                }
                break;
            }
            spawner.send_batch();
            let Some(report) = spawner.step(false) else {
                break;
            };
            on_step(&report);
            if let Err(e) = report.outcome {
                spawner.stop();
                anyhow::bail!("{e}");
            }
        }
        Ok(spawner)
    }

    /// Send the go of every child step up to the next parent step at once
    /// (unless some are still prepaid): the child still does them one by
    /// one, in order, without a round trip.
    fn send_batch(&mut self) {
        let Some(next) = self.next_index() else {
            return;
        };
        let batch = self.steps[next.min(self.steps.len())..]
            .iter()
            .take_while(|s| s.actor != Actor::Parent)
            .count();
        if let Phase::Ready(ctl) | Phase::Stepping { ctl, .. } = &mut self.phase
            && ctl.prepaid == 0
            && batch > 0
            && send_go(&ctl.fd, batch)
        {
            ctl.prepaid = batch;
        }
    }

    fn start_with(mut plan: Plan, fast: bool) -> anyhow::Result<Spawner> {
        plan.normalize();
        if let Err(msg) = plan.validate() {
            return crate::usage(msg);
        }
        let prep = ChildPrep::new(&plan)?;
        let steps = steps(&plan);

        let mut registration = Registration::create()?;
        let cgroup = match create_cgroup(&plan, &mut registration) {
            Ok(c) => c,
            Err(e) => {
                let _ = registration.finish();
                return Err(e);
            }
        };
        let (ctl_rd, ctl_wr) = pipe_cloexec()?;
        let (rep_rd, rep_wr) = pipe_cloexec()?;
        let (st_rd, st_wr) = pipe_cloexec()?;
        // Fast path: the first steps' go bytes wait in the pipe already.
        let first_batch = if fast {
            steps[1..]
                .iter()
                .take_while(|s| s.actor != Actor::Parent)
                .count()
        } else {
            0
        };
        let prepaid = if first_batch > 0 && send_go(&ctl_wr, first_batch) {
            first_batch
        } else {
            0
        };
        let parent = getpid().as_raw();
        // SAFETY: the child only runs `setup_main`, which never returns and
        // keeps to the post-fork rules (see the module docs).
        let pid = match unsafe { fork() } {
            Err(e) => {
                if let Some(c) = cgroup {
                    let _ = c.remove();
                }
                let _ = registration.finish();
                return Err(std::io::Error::from(e)).context("fork failed");
            }
            Ok(ForkResult::Child) => {
                // The child must not hold isolab's owner lock (sys::registry).
                registry::close_locks_in_child();
                drop(ctl_wr);
                drop(rep_rd);
                drop(st_rd);
                let pipes = ChildPipes {
                    ctl: ctl_rd,
                    report: rep_wr,
                    status: st_wr,
                };
                setup_main(&plan, &steps, &prep, parent, pipes);
            }
            Ok(ForkResult::Parent { child }) => child.as_raw(),
        };
        drop(ctl_rd);
        drop(rep_wr);
        drop(st_wr);
        let setup_pidfd = pidfd::open(pid).ok();
        let child_pid = (!plan.forks_init()).then_some(pid);
        Ok(Spawner {
            plan,
            steps,
            phase: Phase::Ready(Ctl {
                fd: ctl_wr,
                prepaid,
            }),
            setup_pid: pid,
            setup_pidfd,
            child_pid,
            child_pidfd: None,
            reports: ReportReader::new(rep_rd),
            status: ReportReader::new(st_rd),
            cgroup,
            registration: Some(registration),
            failure: None,
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Every step is done and none failed (the command may have ended since).
    pub fn is_running_command(&self) -> bool {
        matches!(
            self.phase,
            Phase::Running { .. }
                | Phase::Exited {
                    reached: Reached::AllSteps,
                    ..
                }
        )
    }

    /// A step failed, or a child could not be recorded.
    pub fn failed(&self) -> bool {
        matches!(
            self.phase,
            Phase::Failed
                | Phase::Exited {
                    reached: Reached::Failed,
                    ..
                }
        )
    }

    pub fn setup_pid(&self) -> i32 {
        self.setup_pid
    }

    /// The process that runs (or will run) CMD: PID 1 of the new PID
    /// namespace, as the host numbers it. `None` until it is forked.
    pub fn child_pid(&self) -> Option<i32> {
        self.child_pid
    }

    /// The cgroup isolab made for the child: the memory limit's, or (no PID
    /// namespace) the one that tracks its descendants.
    pub fn cgroup_path(&self) -> Option<&Path> {
        self.cgroup.as_ref().map(|c| c.path())
    }

    /// The report of step 0, the fork (done by `start`).
    pub fn first_report(&self) -> StepReport {
        StepReport {
            index: 0,
            step: self.steps[0].clone(),
            outcome: Ok(format!("setup process is PID {}", self.setup_pid)),
        }
    }

    /// The index of the step to carry out next, if one is left to try.
    fn next_index(&self) -> Option<usize> {
        let next = match self.phase {
            Phase::Ready(_) => 1,
            Phase::Stepping { next, .. }
            | Phase::Exited {
                reached: Reached::Step(next),
                ..
            } => next,
            _ => return None,
        };
        (next < self.steps.len()).then_some(next)
    }

    /// Carry out the next step; `None` when all are done (or one failed).
    pub fn next_step(&mut self) -> Option<StepReport> {
        self.step(true)
    }

    /// The next step; `wait_exec`: read the exec's report (else, in
    /// `Spawner::run` mode, a failed exec is only read by `wait`).
    fn step(&mut self, wait_exec: bool) -> Option<StepReport> {
        let index = self.next_index()?;
        let step = self.steps[index].clone();
        let outcome = match (&self.phase, step.actor) {
            (Phase::Exited { .. }, _) => Err("the child is gone".to_string()),
            (_, Actor::Parent) => self.parent_step(&step),
            (_, Actor::Setup | Actor::Child) => self.child_step(&step, wait_exec),
        };
        self.phase = match (std::mem::replace(&mut self.phase, Phase::Failed), &outcome) {
            (Phase::Exited { outcome, .. }, Err(_)) => Phase::Exited {
                outcome,
                reached: Reached::Failed,
            },
            (_, Err(_)) => Phase::Failed,
            (Phase::Ready(ctl) | Phase::Stepping { ctl, .. }, Ok(_)) => {
                if index + 1 < self.steps.len() {
                    Phase::Stepping {
                        next: index + 1,
                        ctl,
                    }
                } else {
                    // The exec: nothing more will be asked of the child.
                    Phase::Running { late: None }
                }
            }
            // Failed meanwhile (a child that could not be recorded), or reaped.
            (other, Ok(_)) => other,
        };
        Some(StepReport {
            index,
            step,
            outcome,
        })
    }

    /// Carry out every remaining step, calling `on_step` after each.
    /// Returns the failed step's message, if one failed.
    pub fn run_rest(&mut self, mut on_step: impl FnMut(&StepReport)) -> Result<(), String> {
        loop {
            self.send_batch();
            let Some(report) = self.next_step() else {
                break;
            };
            on_step(&report);
            if let Err(e) = &report.outcome {
                return Err(e.clone());
            }
        }
        Ok(())
    }

    /// Record the setup process once, after its first go byte is sent.
    fn record_setup(&mut self) {
        if let Phase::Ready(_) = self.phase {
            let Phase::Ready(ctl) = std::mem::replace(&mut self.phase, Phase::Failed) else {
                return;
            };
            self.phase = Phase::Stepping { next: 1, ctl };
            if let Some(reg) = &mut self.registration
                && let Err(e) = reg.add_child(self.setup_pid)
            {
                self.unrecorded(e);
            }
        }
    }

    /// Records a child's PID; what cannot be recorded must not run.
    fn record_child(&mut self, pid: i32) -> Result<(), String> {
        if let Some(reg) = &mut self.registration
            && let Err(e) = reg.add_child(pid)
        {
            return Err(self.unrecorded(e));
        }
        Ok(())
    }

    /// A process isolab cannot record must not run: kill it, fail the run.
    fn unrecorded(&mut self, e: anyhow::Error) -> String {
        let msg = format!("{e:#}");
        if !matches!(self.phase, Phase::Exited { .. }) {
            self.phase = Phase::Failed;
        }
        self.failure.get_or_insert_with(|| RunFailure {
            by: FailedBy::Registry,
            text: msg.clone(),
        });
        for fd in [&self.child_pidfd, &self.setup_pidfd].into_iter().flatten() {
            pidfd::send_signal(fd, libc::SIGKILL);
        }
        msg
    }

    fn parent_step(&mut self, step: &Step) -> Result<String, String> {
        self.record_setup();
        match step.kind {
            StepKind::JoinCgroup => match &self.cgroup {
                Some(c) => c
                    .add_process(self.setup_pid)
                    .map(|()| format!("{}", c.path().display()))
                    .map_err(|e| format!("{e:#}")),
                None => Ok(String::new()),
            },
            StepKind::WriteIdMaps => write_id_maps(self.setup_pid).map_err(|e| format!("{e:#}")),
            _ => Ok(String::new()),
        }
    }

    fn child_step(&mut self, step: &Step, wait_exec: bool) -> Result<String, String> {
        let sent = match &mut self.phase {
            Phase::Ready(ctl) | Phase::Stepping { ctl, .. } => {
                if ctl.prepaid > 0 {
                    ctl.prepaid -= 1;
                    true
                } else {
                    send_go(&ctl.fd, 1)
                }
            }
            _ => return Err("the child is gone".into()),
        };
        if !sent {
            return Err("the setup process exited before this step".into());
        }
        self.record_setup();
        if step.kind == StepKind::Exec && !wait_exec {
            // Do not wait for the exec: a failure shows up as a report
            // read by `wait` (see `failure`).
            return Ok(String::new());
        }
        match self.reports.read() {
            // EOF: the last writer exec'd (close-on-exec). CMD runs.
            Ok(None) if step.kind == StepKind::Exec => Ok(String::new()),
            Ok(None) => Err(self.explain_early_exit()),
            Ok(Some(Report::Err(f))) => Err(f.text()),
            Ok(Some(Report::Forked(pid))) if step.kind == StepKind::ForkInit => {
                self.child_pid = Some(pid);
                self.child_pidfd = pidfd::open(pid).ok();
                self.record_child(pid)?;
                Ok(format!("child is PID {pid} on the host, PID 1 inside"))
            }
            Ok(Some(Report::Ok(detail))) => Ok(String::from_utf8_lossy(&detail).into_owned()),
            Ok(Some(other)) => Err(format!("the child sent an unexpected report: {other:?}")),
            Err(e) => Err(format!("cannot read the child's report: {e}")),
        }
    }

    fn explain_early_exit(&mut self) -> String {
        match self.wait() {
            Ok(o) => format!("the setup process ended early ({o:?})"),
            Err(e) => format!("the setup process ended early: {e:#}"),
        }
    }

    /// An fd that becomes readable when the command has ended (for poll):
    /// the status pipe when the setup process waits for the child (it
    /// writes there first), else a pidfd of the setup process.
    pub fn exit_fd(&self) -> Option<RawFd> {
        if self.plan.forks_init() {
            Some(self.status.as_raw_fd())
        } else {
            self.setup_pidfd.as_ref().map(|f| f.as_raw_fd())
        }
    }

    /// Wait for the command to end and return how it ended.
    pub fn wait(&mut self) -> anyhow::Result<ExitOutcome> {
        let reached = match self.phase {
            Phase::Exited { outcome, .. } => return Ok(outcome),
            Phase::Ready(_) => Reached::Step(1),
            Phase::Stepping { next, .. } => Reached::Step(next),
            Phase::Running { .. } => Reached::AllSteps,
            Phase::Failed => Reached::Failed,
        };
        // Nothing more will be asked of the child: close the control pipe
        // (a child waiting for a go byte exits). Until reaped, the spawn
        // counts as failed if it was not running.
        if let Phase::Ready(_) | Phase::Stepping { .. } = self.phase {
            self.phase = Phase::Failed;
        }
        // The setup process writes how the child ended before it exits:
        // reading that first keeps its exit off our critical path.
        let word = if self.plan.forks_init() {
            match self.status.read() {
                Ok(Some(Report::Ended(outcome))) => Some(outcome),
                _ => None,
            }
        } else {
            None
        };
        let waited = wait_for_end(Pid::from_raw(self.setup_pid))
            .map_err(std::io::Error::from)
            .with_context(|| format!("waitpid({}) failed", self.setup_pid))?;
        if let Phase::Running { late: Some(_) } = self.phase {
            self.read_late_reports();
        }
        // A late report may have named a child the registry could not record.
        let reached = match (&self.phase, reached) {
            (Phase::Failed, Reached::AllSteps) => Reached::Failed,
            (_, reached) => reached,
        };
        // A failed exec leaves its report behind (fast path).
        if self.reports.set_nonblocking().is_ok() {
            while let Ok(Next::Report(r)) = self.reports.next() {
                if let Report::Err(f) = r {
                    self.failure = Some(RunFailure {
                        by: FailedBy::Child(f.kind),
                        text: f.text(),
                    });
                    break;
                }
            }
        }
        let outcome = word.unwrap_or(waited);
        self.phase = Phase::Exited { outcome, reached };
        // The record keeps the reaped children until `stop`: a reused PID is
        // safe there, since cleanup checks the start time too.
        Ok(outcome)
    }

    /// Non-blocking: the outcome if the command has ended.
    pub fn try_wait(&mut self) -> Option<ExitOutcome> {
        if let Phase::Exited { outcome, .. } = self.phase {
            return Some(outcome);
        }
        // WNOWAIT leaves the setup process to be reaped by `wait`, which
        // then does not block.
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(Pid::from_raw(self.setup_pid)), flags) {
            Ok(WaitStatus::StillAlive) | Err(_) => None,
            Ok(_) => self.wait().ok(),
        }
    }

    /// Send a signal to the command (through a pidfd, so never to a reused PID).
    pub fn signal(&self, sig: i32) -> bool {
        match (&self.child_pidfd, &self.setup_pidfd) {
            (Some(fd), _) => pidfd::send_signal(fd, sig),
            (None, Some(fd)) => pidfd::send_signal(fd, sig),
            _ => false,
        }
    }

    /// The report pipe while reports are still to come in `Spawner::run`
    /// mode (poll it, then call `read_late_reports`).
    pub fn report_fd(&self) -> Option<RawFd> {
        match self.phase {
            Phase::Running { late: Some(_) } => Some(self.reports.as_raw_fd()),
            _ => None,
        }
    }

    /// Read the reports that have arrived since `Spawner::run` returned:
    /// the child's host PID (recorded in the registry at once) and any
    /// failure. Never blocks.
    pub fn read_late_reports(&mut self) {
        while let Phase::Running { late: Some(index) } = self.phase {
            let late = match self.reports.next() {
                Ok(Next::Report(report)) => {
                    self.late_report(index, report);
                    Some(index + 1)
                }
                Ok(Next::Pending) => return,
                Ok(Next::Eof) | Err(_) => None,
            };
            if let Phase::Running { late: l } = &mut self.phase {
                *l = late;
            }
        }
    }

    fn late_report(&mut self, index: usize, report: Report) {
        match report {
            Report::Err(f) => {
                self.failure.get_or_insert_with(|| RunFailure {
                    by: FailedBy::Child(f.kind),
                    text: f.text(),
                });
            }
            Report::Forked(pid)
                if self
                    .steps
                    .get(index)
                    .is_some_and(|s| s.kind == StepKind::ForkInit) =>
            {
                self.child_pid = Some(pid);
                self.child_pidfd = pidfd::open(pid).ok();
                let _ = self.record_child(pid);
            }
            _ => {}
        }
    }

    /// Why a step or the exec failed, when `Spawner::run` did not read the
    /// last reports (known after `wait`).
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_ref().map(|f| f.text.as_str())
    }

    /// Whether the failure is the exec itself (the shell's 127 case).
    pub fn failed_to_exec(&self) -> bool {
        self.failure
            .as_ref()
            .is_some_and(|f| f.by == FailedBy::Child(FailureKind::Exec))
    }

    /// Whether the memory cgroup's OOM killer killed something.
    pub fn oom_killed(&self) -> bool {
        self.plan.memory_bytes.is_some() && self.cgroup.as_ref().is_some_and(|c| c.oom_killed())
    }

    /// Kill the child (if still running) and remove everything created.
    pub fn stop(&mut self) {
        if !matches!(self.phase, Phase::Exited { .. }) {
            if let Some(fd) = &self.child_pidfd {
                pidfd::send_signal(fd, libc::SIGKILL);
                // Dead before we return (its parent, killed too, cannot reap
                // it; someone else will): the pidfd turns readable then.
                let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                let _ = poll(&mut fds, PollTimeout::from(2000u16));
            }
            if let Some(fd) = &self.setup_pidfd {
                pidfd::send_signal(fd, libc::SIGKILL);
            }
            let _ = self.wait();
        }
        if let Some(c) = self.cgroup.take() {
            let _ = c.remove();
        }
        if let Some(reg) = self.registration.take() {
            let _ = reg.finish();
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Write setgroups/uid_map/gid_map of `pid`'s (new) user namespace.
fn write_id_maps(pid: i32) -> anyhow::Result<String> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    let (uid, gid) = (geteuid().as_raw(), getegid().as_raw());
    let (umap, gmap) = if uid == 0 {
        ("0 0 4294967295".to_string(), "0 0 4294967295".to_string())
    } else {
        std::fs::write(dir.join("setgroups"), "deny")
            .with_context(|| format!("cannot write deny to {}/setgroups", dir.display()))?;
        (format!("0 {uid} 1"), format!("0 {gid} 1"))
    };
    std::fs::write(dir.join("uid_map"), &umap)
        .with_context(|| format!("cannot write {}/uid_map", dir.display()))?;
    std::fs::write(dir.join("gid_map"), &gmap)
        .with_context(|| format!("cannot write {}/gid_map", dir.display()))?;
    Ok(format!("uid_map {umap}; gid_map {gmap}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "spawner_tests.rs"]
mod tests;
