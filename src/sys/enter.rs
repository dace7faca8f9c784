//! Entering a running process's namespaces and root, like `nsenter -a -r`:
//! `isolab exec PID -- CMD` and the `e` key of the TUI.

use crate::sys::ns::NsKind;
use crate::sys::registry;
use crate::sys::spawn::child::{child_fail, errno, exec_command, os_err, set_signal};
use crate::sys::spawn::{ExitOutcome, clone_flag, pipe_cloexec};
use anyhow::Context;
use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn open_at(dir: RawFd, name: &std::ffi::CStr, flags: i32) -> Option<OwnedFd> {
    // SAFETY: openat with a valid dir fd and C string.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC) };
    // SAFETY: fd is fresh from the kernel when non-negative.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fd_inode(fd: RawFd) -> Option<u64> {
    // SAFETY: fstat into a zeroed struct.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        (libc::fstat(fd, &mut st) == 0).then_some(st.st_ino)
    }
}

/// Run `argv` inside all of `pid`'s namespaces and its root, like
/// `nsenter -a -r`. A pidfd is taken first and checked after every
/// /proc/PID file is opened, so a PID reused meanwhile is never followed.
/// Forks first (setns of a user namespace wants one thread), enters the
/// user namespace first when it differs (it grants the rights for the
/// rest), then forks again so the PID namespace applies, and waits.
pub fn exec_in(pid: i32, argv: &[String]) -> anyhow::Result<ExitOutcome> {
    let Some(program) = argv.first() else {
        return crate::usage("no command given: add one after --");
    };
    let pidfd = registry::pidfd_open(pid)
        .with_context(|| format!("no process with PID {pid} (or not allowed to see it)"))?;
    let proc_dir = CString::new(format!("/proc/{pid}"))?;
    // SAFETY: open of a valid C string.
    let dir_fd = unsafe {
        libc::open(
            proc_dir.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir_fd < 0 {
        anyhow::bail!("PID {pid} has gone");
    }
    // SAFETY: fresh fd.
    let dir = unsafe { OwnedFd::from_raw_fd(dir_fd) };
    let order = [
        NsKind::User,
        NsKind::Mnt,
        NsKind::Pid,
        NsKind::Net,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::Cgroup,
        NsKind::Time,
    ];
    let mut enter: Vec<(NsKind, OwnedFd)> = Vec::new();
    for kind in order {
        let name = CString::new(format!("ns/{}", kind.proc_name()))?;
        let Some(theirs) = open_at(dir.as_raw_fd(), &name, libc::O_RDONLY) else {
            continue; // kind not supported here, or not allowed: stay in ours
        };
        let ours = std::fs::metadata(format!("/proc/self/ns/{}", kind.proc_name()))
            .ok()
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        if fd_inode(theirs.as_raw_fd()) != ours {
            enter.push((kind, theirs));
        }
    }
    let root = open_at(dir.as_raw_fd(), c"root", libc::O_RDONLY | libc::O_DIRECTORY)
        .with_context(|| format!("cannot open /proc/{pid}/root (needs the same user or root)"))?;
    if !registry::pidfd_send_signal(&pidfd, 0) {
        anyhow::bail!("PID {pid} exited while isolab opened its namespaces");
    }
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let (rep_rd, rep_wr) = pipe_cloexec()?;
    // SAFETY: fork; the child only runs `enter_and_exec`, which never returns.
    let child = unsafe { libc::fork() };
    if child < 0 {
        return Err(std::io::Error::last_os_error()).context("fork failed");
    }
    if child == 0 {
        drop(rep_rd);
        enter_and_exec(&enter, &root, &args, rep_wr.as_raw_fd());
    }
    drop(rep_wr);
    drop(enter);
    // The terminal's Ctrl-C goes to the command; we wait for it to decide.
    // (sigaction, not signal(): a handler installed with SA_SIGINFO, such
    // as the TUI's, must come back exactly as it was.)
    // An interactive shell inside takes the terminal's foreground; when it
    // exits it cannot hand it back (our process group is not visible from
    // its PID namespace), so we take it back ourselves afterwards.
    // SAFETY: tcgetpgrp on stdin; -1 when stdin is not a terminal.
    let foreground = unsafe { libc::tcgetpgrp(0) };
    let old_int = ignore_signal_saving(libc::SIGINT);
    let old_quit = ignore_signal_saving(libc::SIGQUIT);
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let rc = unsafe { libc::waitpid(child, &mut status, 0) };
        if rc == child || errno() != libc::EINTR {
            break;
        }
    }
    // SAFETY: restoring the previous dispositions.
    unsafe {
        if foreground > 0 {
            // tcsetpgrp from a background group raises SIGTTOU: ignore it meanwhile.
            let old_ttou = ignore_signal_saving(libc::SIGTTOU);
            libc::tcsetpgrp(0, foreground);
            libc::sigaction(libc::SIGTTOU, &old_ttou, std::ptr::null_mut());
        }
        libc::sigaction(libc::SIGINT, &old_int, std::ptr::null_mut());
        libc::sigaction(libc::SIGQUIT, &old_quit, std::ptr::null_mut());
    }
    let mut msg = String::new();
    let _ = std::fs::File::from(rep_rd).read_to_string(&mut msg);
    if let Some(err) = msg.lines().find_map(|l| l.strip_prefix("err ")) {
        if err.contains("No such file") && err.starts_with("cannot run") {
            return crate::usage(format!("command not found inside PID {pid}: {program}"));
        }
        anyhow::bail!("{err}");
    }
    Ok(ExitOutcome::from_wait_status(status))
}

fn ignore_signal_saving(sig: i32) -> libc::sigaction {
    // SAFETY: plain sigaction calls with zeroed, then filled, structs.
    unsafe {
        let mut ignore: libc::sigaction = std::mem::zeroed();
        ignore.sa_sigaction = libc::SIG_IGN;
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, &ignore, &mut old);
        old
    }
}

fn enter_and_exec(
    enter: &[(NsKind, OwnedFd)],
    root: &OwnedFd,
    argv: &[CString],
    report: RawFd,
) -> ! {
    for (kind, fd) in enter {
        // SAFETY: setns on a namespace fd in a single-threaded child.
        if unsafe { libc::setns(fd.as_raw_fd(), clone_flag(*kind)) } != 0 {
            child_fail(
                report,
                &os_err(&format!("setns into the {} namespace", kind.proc_name())),
            );
        }
    }
    // SAFETY: fchdir/chroot/chdir on valid fds and strings.
    unsafe {
        if libc::fchdir(root.as_raw_fd()) != 0 || libc::chroot(c".".as_ptr()) != 0 {
            child_fail(report, &os_err("cannot enter the process's root"));
        }
        libc::chdir(c"/".as_ptr());
    }
    // PID and time namespaces apply to children: fork once more.
    // SAFETY: fork of a single-threaded process.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        child_fail(report, &os_err("fork"));
    }
    if pid == 0 {
        exec_command(None, argv, report);
    }
    // SAFETY: close our copy so the parent sees EOF once the command execs.
    unsafe { libc::close(report) };
    set_signal(libc::SIGINT, libc::SIG_IGN);
    set_signal(libc::SIGQUIT, libc::SIG_IGN);
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid || errno() != libc::EINTR {
            break;
        }
    }
    // SAFETY: leaving the forked process with the command's code.
    unsafe { libc::_exit(ExitOutcome::from_wait_status(status).code() & 0xff) }
}
