//! `isolab run`, `isolab exec`, `isolab cleanup`: the headless side of the
//! namespace lab, over `sys::spawn` and `sys::registry`.

use crate::cli::{ExecArgs, RunArgs};
use crate::sys::cgroup::Limit;
use crate::sys::ns::NsKind;
use crate::sys::registry;
use crate::sys::spawn::{ChildCommand, ExitOutcome, Plan, RootFs, Spawner, StepReport};
use crate::text::{escape, escape_command};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The plan a `run` command line asks for (usage errors for bad input).
pub fn plan_from_args(a: &RunArgs) -> anyhow::Result<Plan> {
    let mut plan = Plan {
        command: ChildCommand::Exec(a.cmd.clone()),
        hostname: a.hostname.clone(),
        rootfs: a.rootfs.as_deref().map_or(RootFs::Host, RootFs::parse),
        boottime_offset: a.boottime_offset,
        ..Plan::default()
    };
    let toggles = [
        (a.pid, NsKind::Pid),
        (a.mount, NsKind::Mnt),
        (a.net, NsKind::Net),
        (a.ipc, NsKind::Ipc),
        (a.uts, NsKind::Uts),
        (a.user, NsKind::User),
        (a.cgroup, NsKind::Cgroup),
        (a.time, NsKind::Time),
    ];
    for (on, kind) in toggles {
        plan.set(kind, on || a.all);
    }
    if let Some(size) = &a.memory {
        match crate::sys::cgroup::parse_size(size) {
            Ok(Limit::Bytes(bytes)) => plan.memory_bytes = Some(bytes),
            Ok(Limit::Max) => plan.memory_bytes = None,
            Err(e) => return crate::usage(format!("--memory {size}: {e}")),
        }
    }
    plan.normalize();
    if let Err(msg) = plan.validate() {
        return crate::usage(msg);
    }
    Ok(plan)
}

fn explain_step(total: usize, r: &StepReport) {
    let detail = match &r.outcome {
        Ok(d) if d.is_empty() => String::new(),
        Ok(d) => format!(" [{d}]"),
        Err(e) => format!(" FAILED: {e}"),
    };
    // Steps quote the command, the hostname, paths and kernel errors:
    // escaped so none of them can steer the terminal.
    eprintln!(
        "isolab: step {}/{} {}: {} -- {}{}",
        r.index + 1,
        total,
        r.step.actor.label(),
        escape(&r.step.syscall),
        escape(&r.step.effect),
        escape(&detail)
    );
}

pub fn run(a: &RunArgs) -> anyhow::Result<i32> {
    let plan = plan_from_args(a)?;
    // The cgroup tree is swept too only when this run is about to use it.
    let leftovers = if plan.memory_bytes.is_some() {
        registry::remove_leftovers()
    } else {
        registry::remove_recorded_leftovers()
    };
    if let Err(e) = leftovers {
        eprintln!(
            "isolab: warning: leftovers of an earlier run: {}",
            escape(&format!("{e:#}"))
        );
    }
    if a.explain {
        eprintln!("isolab: clone flags: {}", plan.clone_flags_text());
        eprintln!("isolab: like: {}", escape_command(&plan.unshare_command()));
        let (docker, notes) = plan.docker_command();
        eprintln!("isolab: docker: {}", escape_command(&docker));
        for n in notes {
            eprintln!("isolab:   ({})", escape(&n));
        }
    }
    let memory = plan.memory_bytes;
    let total = crate::sys::spawn::steps(&plan).len();
    let mut explain = |r: &StepReport| explain_step(total, r);
    let on_step: Option<&mut dyn FnMut(&StepReport)> =
        if a.explain { Some(&mut explain) } else { None };
    let mut spawner = Spawner::run(plan, on_step)?;
    let outcome = wait_with_signals(&mut spawner)?;
    if let Some(err) = spawner.failure() {
        let (err, code) = (
            err.to_string(),
            if spawner.failed_to_exec() { 127 } else { 1 },
        );
        spawner.stop();
        eprintln!("isolab: {}", escape(&err));
        return Ok(code);
    }
    let oom = spawner.oom_killed();
    spawner.stop();
    if oom && outcome == ExitOutcome::Signaled(libc::SIGKILL) {
        eprintln!(
            "isolab: {} was killed by the kernel's OOM killer: it reached the memory limit of {}",
            escape(a.cmd.first().map(String::as_str).unwrap_or("the command")),
            crate::sys::cgroup::size_arg(memory.unwrap_or(0))
        );
        return Ok(137);
    }
    Ok(outcome.code())
}

/// Wait for the command, passing signals on: SIGINT/SIGQUIT already reach
/// the command through the terminal (same process group), so isolab only
/// survives them; SIGTERM/SIGHUP to isolab kill the command (and so, with a
/// PID namespace, everything inside it) so nothing outlives isolab.
fn wait_with_signals(spawner: &mut Spawner) -> anyhow::Result<ExitOutcome> {
    let (sig_read, sig_write) = std::os::unix::net::UnixStream::pair()?;
    sig_read.set_nonblocking(true)?;
    let term = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    let mut ids = vec![
        signal_hook::flag::register(libc::SIGTERM, Arc::clone(&term))?,
        signal_hook::flag::register(libc::SIGHUP, Arc::clone(&hup))?,
    ];
    let mut terminated_by = None;
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
        ids.push(signal_hook::low_level::pipe::register(
            sig,
            sig_write.try_clone()?,
        )?);
    }
    let result = loop {
        let Some(pidfd) = spawner.exit_fd() else {
            break spawner.wait();
        };
        // SAFETY: the three fds stay open while they are polled: the
        // spawner owns the pidfd and the report pipe, `sig_read` is ours.
        let (exit, sigs) = unsafe { (BorrowedFd::borrow_raw(pidfd), sig_read.as_fd()) };
        let report = spawner
            .report_fd()
            .map(|fd| unsafe { BorrowedFd::borrow_raw(fd) });
        let mut fds = vec![
            PollFd::new(exit, PollFlags::POLLIN),
            PollFd::new(sigs, PollFlags::POLLIN),
        ];
        // The child's late reports (its PID, for the registry), until in.
        if let Some(fd) = report {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue; // EINTR: a signal; the pipe says so too.
        }
        let ready = |i: usize| {
            fds.get(i)
                .and_then(|f| f.revents())
                .is_some_and(|r| !r.is_empty())
        };
        let (exited, signalled, reported) = (ready(0), ready(1), ready(2));
        drop(fds);
        if reported {
            spawner.read_late_reports();
        }
        if signalled {
            let mut buf = [0u8; 64];
            while matches!(std::io::Read::read(&mut &sig_read, &mut buf), Ok(n) if n > 0) {}
            for (flag, sig) in [(&term, libc::SIGTERM), (&hup, libc::SIGHUP)] {
                if flag.swap(false, Ordering::SeqCst) {
                    terminated_by.get_or_insert(sig);
                    spawner.signal(libc::SIGKILL);
                }
            }
        }
        if exited {
            break spawner.wait();
        }
    };
    for id in ids {
        signal_hook::low_level::unregister(id);
    }
    // Killed on isolab's own SIGTERM/SIGHUP: report that signal, like a shell.
    match terminated_by {
        Some(sig) => result.map(|_| ExitOutcome::Signaled(sig)),
        None => result,
    }
}

pub fn exec(a: &ExecArgs) -> anyhow::Result<i32> {
    let outcome = crate::sys::enter::exec_in(a.pid, &a.cmd)?;
    Ok(outcome.code())
}

/// Removes what crashed isolab processes left, and says what it found in
/// their records and left alone (it cannot prove isolab made it).
pub fn cleanup() -> anyhow::Result<i32> {
    let report = registry::remove_leftovers()?;
    // Processes a crashed `learn`/`demo` left running (marked by environment).
    let lesson_procs = crate::lessons::runner::remove_leftovers(std::path::Path::new("/proc"));
    if report == registry::CleanupReport::default() && lesson_procs == 0 {
        println!("nothing to clean up");
    } else {
        if report.removed_anything() {
            println!("{report}");
        } else {
            // Nothing removed: only the notes (already escaped).
            for note in &report.left_alone {
                println!("left alone: {note}");
            }
        }
        if lesson_procs > 0 {
            println!("stopped {lesson_procs} process(es) a lesson left running");
        }
    }
    Ok(0)
}
