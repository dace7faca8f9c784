//! The parent side of a spawn: fork, id maps, cgroup, registry, stepping,
//! stop and wait.

use super::child::setup_main;
use super::plan::{ChildCommand, Plan, RootFs, find_command};
use super::protocol::ExitOutcome;
use super::steps::{Actor, Step, StepKind, StepReport, steps};
use crate::sys::cgroup::{Limit, OwnedCgroup};
use crate::sys::pidfd;
use crate::sys::registry::{self, Registration};
use anyhow::Context;
use std::ffi::CString;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// The running spawn: drives the steps and owns everything created.
pub struct Spawner {
    plan: Plan,
    steps: Vec<Step>,
    next: usize,
    setup_pid: i32,
    setup_pidfd: Option<OwnedFd>,
    child_pid: Option<i32>,
    child_pidfd: Option<OwnedFd>,
    ctl: Option<OwnedFd>,
    reports: BufReader<std::fs::File>,
    status: std::fs::File,
    cgroup: Option<OwnedCgroup>,
    registration: Option<Registration>,
    outcome: Option<ExitOutcome>,
    failed: bool,
    /// Go bytes already sent for the coming child steps (`run_rest`).
    prepaid: usize,
    setup_recorded: bool,
    /// `Spawner::run` mode: the exec is not waited for.
    fast: bool,
    /// `Spawner::run` mode: the index of the step whose report is read next,
    /// while the command runs (`read_late_reports`); `None` once all are in.
    unread: Option<usize>,
    /// A report line read only in part (non-blocking reads).
    late_partial: String,
    failure: Option<String>,
}

impl std::fmt::Debug for Spawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawner")
            .field("setup_pid", &self.setup_pid)
            .field("child_pid", &self.child_pid)
            .field("next", &self.next)
            .finish()
    }
}

pub(crate) fn pipe_cloexec() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("pipe2 failed");
    }
    // SAFETY: the kernel just gave us these two descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Everything the child needs, prepared (allocated) before the fork.
pub(crate) struct ChildPrep {
    /// The program's path, found before the fork in the root it runs in
    /// (`find_command`: a host path, or the path inside another root), so
    /// what was checked is what is exec'd; `None`: search PATH (init).
    pub(super) program: Option<CString>,
    pub(super) root: Option<CString>,
    pub(super) minimal: bool,
    pub(super) argv: Vec<CString>,
    pub(super) hostname: Option<CString>,
    /// /dev/null, opened before the fork (the new root may lack it).
    pub(super) null: Option<OwnedFd>,
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
        loop {
            let parent_steps_left = spawner.steps[spawner.next.min(spawner.steps.len())..]
                .iter()
                .any(|s| s.actor == Actor::Parent);
            if !read_all && !parent_steps_left {
                if spawner.prepaid == 0 {
                    spawner.send_batch();
                }
                spawner.record_setup();
                // The reports from here on are read while the command runs.
                spawner.unread = Some(spawner.next);
                // SAFETY: making our own read end non-blocking.
                unsafe {
                    let fd = spawner.reports.get_ref().as_raw_fd();
                    libc::fcntl(
                        fd,
                        libc::F_SETFL,
                        libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
                    );
                }
                spawner.next = spawner.steps.len();
                spawner.ctl = None;
                break;
            }
            if spawner.prepaid == 0 {
                spawner.send_batch();
            }
            let Some(report) = spawner.next_step() else {
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

    /// How many child steps follow from the next one, up to a parent step.
    fn batch_len(&self) -> usize {
        self.steps[self.next.min(self.steps.len())..]
            .iter()
            .take_while(|s| s.actor != Actor::Parent)
            .count()
    }

    /// Send the go of every child step up to the next parent step at once:
    /// the child still does them one by one, in order, without a round trip.
    fn send_batch(&mut self) {
        let batch = self.batch_len();
        if batch == 0 {
            return;
        }
        if let Some(ctl) = &self.ctl {
            let bytes = vec![b'g'; batch];
            // SAFETY: writing from a valid buffer (a pipe holds 64 KiB).
            let n = unsafe { libc::write(ctl.as_raw_fd(), bytes.as_ptr().cast(), batch) };
            if n == batch as isize {
                self.prepaid = batch;
            }
        }
    }

    fn start_with(mut plan: Plan, fast: bool) -> anyhow::Result<Spawner> {
        plan.normalize();
        if let Err(msg) = plan.validate() {
            return crate::usage(msg);
        }
        let root = match &plan.rootfs {
            RootFs::Host => None,
            RootFs::Minimal => Some(crate::sys::minroot::ensure()?),
            RootFs::Dir(d) => Some(
                d.canonicalize()
                    .with_context(|| format!("cannot resolve the root {}", d.display()))?,
            ),
        };
        // The program is found before the fork, inside the root it will run
        // in, and exactly that path is exec'd: what is checked is what runs.
        let program = match &plan.command {
            ChildCommand::Exec(argv) => {
                let name = argv.first().map(String::as_str).unwrap_or("");
                let found = find_command(root.as_deref().unwrap_or(Path::new("/")), name);
                if found.is_none() && plan.rootfs == RootFs::Minimal {
                    return crate::usage(format!(
                        "command not found in the minimal root: {name} (it has busybox applets)"
                    ));
                }
                found.and_then(|p| CString::new(p.into_os_string().into_encoded_bytes()).ok())
            }
            ChildCommand::Init => None,
        };
        let prep = ChildPrep {
            program,
            root: root
                .as_ref()
                .map(|r| CString::new(r.as_os_str().as_encoded_bytes()))
                .transpose()?,
            minimal: plan.rootfs == RootFs::Minimal,
            argv: match &plan.command {
                ChildCommand::Init => Vec::new(),
                ChildCommand::Exec(argv) => argv
                    .iter()
                    .map(|a| CString::new(a.as_bytes()))
                    .collect::<Result<_, _>>()?,
            },
            hostname: plan
                .hostname
                .as_ref()
                .map(|h| CString::new(h.as_bytes()))
                .transpose()?,
            null: if plan.null_stdio {
                Some(
                    std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open("/dev/null")
                        .context("cannot open /dev/null")?
                        .into(),
                )
            } else {
                None
            },
        };
        let steps = steps(&plan);

        let mut registration = Registration::create()?;
        let cgroup = match plan.memory_bytes {
            // Best effort: a user who may not create cgroups (not root) or a
            // host without a memory hierarchy runs untracked, as before.
            None if plan.tracks_descendants() => {
                match OwnedCgroup::create(&format!("run{}", next_seq()), None) {
                    Ok(c) => match registration.add_cgroup(c.path()) {
                        Ok(()) => Some(c),
                        Err(e) => {
                            let _ = c.remove();
                            let _ = registration.finish();
                            return Err(e);
                        }
                    },
                    Err(_) => None,
                }
            }
            Some(bytes) => {
                match OwnedCgroup::create(&format!("run{}", next_seq()), Some(Limit::Bytes(bytes)))
                {
                    Ok(c) => {
                        registration.add_cgroup(c.path())?;
                        Some(c)
                    }
                    Err(e) => {
                        let _ = registration.finish();
                        return Err(
                            e.context("cannot create the memory cgroup for --memory (needs root)")
                        );
                    }
                }
            }
            None => None,
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
        let mut prepaid = 0;
        if first_batch > 0 {
            let bytes = vec![b'g'; first_batch];
            // SAFETY: writing from a valid buffer into our new pipe.
            let n = unsafe { libc::write(ctl_wr.as_raw_fd(), bytes.as_ptr().cast(), first_batch) };
            if n == first_batch as isize {
                prepaid = first_batch;
            }
        }
        // SAFETY: getpid cannot fail.
        let parent = unsafe { libc::getpid() };
        // SAFETY: fork; the child only runs `setup_main`, which never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            let err = std::io::Error::last_os_error();
            if let Some(c) = cgroup {
                let _ = c.remove();
            }
            let _ = registration.finish();
            return Err(err).context("fork failed");
        }
        if pid == 0 {
            // The child must not hold isolab's owner lock (sys::registry).
            registry::close_locks_in_child();
            drop(ctl_wr);
            drop(rep_rd);
            drop(st_rd);
            setup_main(
                &plan,
                &steps,
                &prep,
                parent,
                ctl_rd.as_raw_fd(),
                rep_wr.as_raw_fd(),
                st_wr.as_raw_fd(),
            );
        }
        drop(ctl_rd);
        drop(rep_wr);
        drop(st_wr);
        let setup_pidfd = pidfd::open(pid).ok();
        // The setup process is recorded right after its first go byte is
        // sent (`record_setup`), so the disk write overlaps its work; until
        // then the parent-death signal covers a crash.
        let mut spawner = Spawner {
            plan,
            steps,
            next: 1,
            setup_pid: pid,
            setup_pidfd,
            child_pid: None,
            child_pidfd: None,
            ctl: Some(ctl_wr),
            reports: BufReader::new(std::fs::File::from(rep_rd)),
            status: std::fs::File::from(st_rd),
            cgroup,
            registration: Some(registration),
            outcome: None,
            failed: false,
            prepaid,
            setup_recorded: false,
            fast,
            unread: None,
            late_partial: String::new(),
            failure: None,
        };
        if !spawner.plan.forks_init() {
            spawner.child_pid = Some(pid);
        }
        Ok(spawner)
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn is_running_command(&self) -> bool {
        self.next >= self.steps.len() && !self.failed
    }

    pub fn failed(&self) -> bool {
        self.failed
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

    /// Carry out the next step; `None` when all are done (or one failed).
    pub fn next_step(&mut self) -> Option<StepReport> {
        if self.failed || self.next >= self.steps.len() {
            return None;
        }
        let index = self.next;
        let step = self.steps[index].clone();
        self.next += 1;
        let outcome = match step.actor {
            Actor::Parent => self.parent_step(&step),
            Actor::Setup | Actor::Child => self.child_step(&step),
        };
        if outcome.is_err() {
            self.failed = true;
        }
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
            if self.prepaid == 0 {
                self.send_batch();
            }
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

    fn record_setup(&mut self) {
        if !self.setup_recorded {
            self.setup_recorded = true;
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
        self.failed = true;
        self.failure.get_or_insert_with(|| msg.clone());
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

    fn child_step(&mut self, step: &Step) -> Result<String, String> {
        let Some(ctl) = &self.ctl else {
            return Err("the child is gone".into());
        };
        let n = if self.prepaid > 0 {
            self.prepaid -= 1;
            1
        } else {
            // SAFETY: writing one byte from a valid buffer to our pipe.
            unsafe { libc::write(ctl.as_raw_fd(), b"g".as_ptr().cast(), 1) }
        };
        if n != 1 {
            return Err("the setup process exited before this step".into());
        }
        self.record_setup();
        if step.kind == StepKind::Exec && self.fast {
            // Do not wait for the exec: a failure shows up as an `err` line,
            // read by `wait` (see `failure`).
            self.ctl = None;
            return Ok(String::new());
        }
        let mut line = String::new();
        match self.reports.read_line(&mut line) {
            Ok(0) if step.kind == StepKind::Exec => {
                // EOF: the last writer exec'd (close-on-exec). CMD runs.
                self.ctl = None;
                Ok(String::new())
            }
            Ok(0) => Err(self.explain_early_exit()),
            Ok(_) => {
                let line = line.trim_end();
                if let Some(msg) = line.strip_prefix("err ") {
                    Err(msg.to_string())
                } else {
                    let detail = line.strip_prefix("ok").unwrap_or("").trim().to_string();
                    if step.kind == StepKind::ForkInit
                        && let Ok(pid) = detail.parse::<i32>()
                    {
                        {
                            self.child_pid = Some(pid);
                            self.child_pidfd = pidfd::open(pid).ok();
                            self.record_child(pid)?;
                            return Ok(format!("child is PID {pid} on the host, PID 1 inside"));
                        }
                    }
                    if step.kind == StepKind::Exec {
                        self.ctl = None;
                    }
                    Ok(detail)
                }
            }
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
        if let Some(o) = self.outcome {
            return Ok(o);
        }
        // Nothing more will be asked of the child.
        self.ctl = None;
        // The setup process writes how the child ended before it exits:
        // reading that first keeps its exit off our critical path.
        let word = if self.plan.forks_init() {
            read_status_line(&mut self.status)
        } else {
            String::new()
        };
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let rc = unsafe { libc::waitpid(self.setup_pid, &mut status, 0) };
            if rc == self.setup_pid {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(err).with_context(|| format!("waitpid({}) failed", self.setup_pid));
            }
        }
        if self.unread.is_some() {
            self.read_late_reports();
        }
        // A failed exec leaves its `err` line behind (fast path).
        // SAFETY: making our own read end non-blocking.
        unsafe {
            let fd = self.reports.get_ref().as_raw_fd();
            libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
            );
        }
        let mut rest = String::new();
        let _ = self.reports.read_to_string(&mut rest);
        if let Some(err) = rest.lines().find_map(|l| l.strip_prefix("err ")) {
            self.failure = Some(err.to_string());
        }
        let outcome = parse_status_word(&word).unwrap_or(ExitOutcome::from_wait_status(status));
        self.outcome = Some(outcome);
        // The record keeps the reaped children until `stop`: a reused PID is
        // safe there, since cleanup checks the start time too.
        Ok(outcome)
    }

    /// Non-blocking: the outcome if the command has ended.
    pub fn try_wait(&mut self) -> Option<ExitOutcome> {
        if self.outcome.is_some() {
            return self.outcome;
        }
        // SAFETY: non-blocking wait for our own child; WNOWAIT leaves it
        // to be reaped by `wait`, which then does not block.
        let ended = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                self.setup_pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        };
        if ended { self.wait().ok() } else { None }
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
        self.unread.map(|_| self.reports.get_ref().as_raw_fd())
    }

    /// Read the reports that have arrived since `Spawner::run` returned:
    /// the child's host PID (recorded in the registry at once) and any
    /// failure. Never blocks.
    pub fn read_late_reports(&mut self) {
        while let Some(index) = self.unread {
            let mut line = std::mem::take(&mut self.late_partial);
            match self.reports.read_line(&mut line) {
                Ok(0) => {
                    self.unread = None;
                    if !line.is_empty() {
                        self.late_report(index, &line);
                    }
                }
                Ok(_) if line.ends_with('\n') => {
                    self.unread = Some(index + 1);
                    self.late_report(index, &line);
                }
                Ok(_) => self.late_partial = line,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.late_partial = line;
                    return;
                }
                Err(_) => self.unread = None,
            }
        }
    }

    fn late_report(&mut self, index: usize, line: &str) {
        let line = line.trim_end();
        if let Some(err) = line.strip_prefix("err ") {
            self.failure.get_or_insert_with(|| err.to_string());
            return;
        }
        let is_fork = self
            .steps
            .get(index)
            .is_some_and(|s| s.kind == StepKind::ForkInit);
        if let (true, Ok(pid)) = (is_fork, line.trim_start_matches("ok").trim().parse::<i32>()) {
            self.child_pid = Some(pid);
            self.child_pidfd = pidfd::open(pid).ok();
            let _ = self.record_child(pid);
        }
    }

    /// Why a step or the exec failed, when `Spawner::run` did not read the
    /// last reports (known after `wait`).
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Whether the failure is the exec itself (the shell's 127 case).
    pub fn failed_to_exec(&self) -> bool {
        self.failure
            .as_deref()
            .is_some_and(|f| f.starts_with("cannot run "))
    }

    /// Whether the memory cgroup's OOM killer killed something.
    pub fn oom_killed(&self) -> bool {
        self.plan.memory_bytes.is_some() && self.cgroup.as_ref().is_some_and(|c| c.oom_killed())
    }

    /// Kill the child (if still running) and remove everything created.
    pub fn stop(&mut self) {
        if self.outcome.is_none() {
            if let Some(fd) = &self.child_pidfd {
                pidfd::send_signal(fd, libc::SIGKILL);
                // Dead before we return (its parent, killed too, cannot reap
                // it; someone else will): the pidfd turns readable then.
                let mut pfd = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: polling one valid fd, bounded.
                unsafe { libc::poll(&mut pfd, 1, 2000) };
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

/// One line from the status pipe (up to EOF if the writer died first).
fn read_status_line(file: &mut std::fs::File) -> String {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = file.read(&mut byte) {
        if byte[0] == b'\n' {
            break;
        }
        out.push(byte[0]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_status_word(word: &str) -> Option<ExitOutcome> {
    let mut it = word.split_whitespace();
    match (it.next()?, it.next()?.parse().ok()?) {
        ("exit", c) => Some(ExitOutcome::Exited(c)),
        ("signal", n) => Some(ExitOutcome::Signaled(n)),
        _ => None,
    }
}

fn next_seq() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// Write setgroups/uid_map/gid_map of `pid`'s (new) user namespace.
fn write_id_maps(pid: i32) -> anyhow::Result<String> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
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
