//! The child side of a spawn: what the setup process and the child run
//! after fork. Raw fds and thin nix syscall wrappers only, no lock another
//! thread of the parent could hold (see the parent module's notes): no
//! stdio, no `std::env` (its lock), only glibc malloc, which is fork-safe.
//! Reports go to the parent as `protocol::Report` frames. Nothing here
//! returns to the caller's code: each path ends in exec or _exit.

use super::plan::{ChildCommand, Plan};
use super::prep::ChildPrep;
use super::protocol::{ExitOutcome, Failure, FailureKind, Report};
use super::steps::{Actor, Step, StepKind};
use crate::sys::ns::NsKind;
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sched::{CloneFlags, unshare};
use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, chdir, execv, execvp, fork, getpid, getppid, mkdir};
use std::ffi::{CStr, CString, OsStr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// Leave the forked process at once: no atexit handlers, no destructors,
/// no stdio flush (those belong to the parent and may take its locks).
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) only ends this process; nix has no wrapper for it.
    unsafe { libc::_exit(code) }
}

/// Write all of `bytes`; on an error the parent reads EOF, which it
/// explains itself.
pub(crate) fn write_all_fd(fd: BorrowedFd<'_>, bytes: &[u8]) {
    let mut off = 0;
    while off < bytes.len() {
        match nix::unistd::write(fd, &bytes[off..]) {
            Ok(0) => return,
            Ok(n) => off += n,
            Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// Report the failure and exit.
pub(crate) fn child_fail(report: BorrowedFd<'_>, failure: Failure) -> ! {
    write_all_fd(report, &Report::Err(failure).encode());
    exit_now(1)
}

fn flush_reports(report: BorrowedFd<'_>, pending: &mut Vec<u8>) {
    if !pending.is_empty() {
        write_all_fd(report, pending);
        pending.clear();
    }
}

/// Whether a go byte is already waiting in the control pipe (a pipe polls
/// POLLIN only while it holds data; a closed writer alone is POLLHUP).
fn go_waiting(ctl: BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(ctl, PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
        && fds[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLIN))
}

/// Block until the parent says go; exit quietly if it has gone away.
fn wait_for_go(ctl: BorrowedFd<'_>) {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(ctl, &mut b) {
            Ok(1) => return,
            Err(Errno::EINTR) => {}
            // The parent closed the pipe: nothing more to do.
            _ => exit_now(1),
        }
    }
}

fn arm_parent_death(expected_parent: i32) {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
    // In a new PID namespace the parent is outside it and getppid() is 0.
    let ppid = getppid().as_raw();
    if ppid != expected_parent && ppid != 0 {
        exit_now(1);
    }
}

pub(crate) fn set_signal(sig: Signal, handler: SigHandler) {
    // SAFETY: the handlers installed here are SIG_IGN, SIG_DFL or
    // `ignore_signal`, which does nothing: none can break an invariant.
    unsafe {
        let _ = nix::sys::signal::signal(sig, handler);
    }
}

/// The three pipes of a spawn, as the setup process holds them.
pub(super) struct ChildPipes {
    /// Go bytes from the parent, one per step.
    pub ctl: OwnedFd,
    /// Our `Report`s, one per step.
    pub report: OwnedFd,
    /// The setup process's last word: how CMD ended.
    pub status: OwnedFd,
}

pub(super) fn setup_main(
    plan: &Plan,
    steps: &[Step],
    prep: &ChildPrep,
    parent: i32,
    pipes: ChildPipes,
) -> ! {
    let ChildPipes {
        ctl,
        report,
        status,
    } = pipes;
    let mut status = Some(status);
    arm_parent_death(parent);
    // Ctrl-C reaches the whole foreground process group; the command
    // decides what it means, the setup process must outlive it.
    set_signal(Signal::SIGINT, SigHandler::SigIgn);
    set_signal(Signal::SIGQUIT, SigHandler::SigIgn);
    let mut me_parent = parent;
    // Reports are held back while more go bytes are already waiting (the
    // fast path sends them in a batch), so the parent wakes once per batch.
    let mut pending: Vec<u8> = Vec::new();
    for step in steps.iter().skip(1) {
        if step.actor == Actor::Parent {
            continue;
        }
        if !go_waiting(ctl.as_fd()) {
            flush_reports(report.as_fd(), &mut pending);
        }
        wait_for_go(ctl.as_fd());
        let result: Result<Report, Failure> = match step.kind {
            StepKind::UnshareUser => match unshare(CloneFlags::CLONE_NEWUSER) {
                Err(e @ (Errno::EPERM | Errno::ENOSPC | Errno::EACCES)) => Err(Failure::new(
                    FailureKind::Step,
                    Some(e),
                    userns_refusal_hint(e as i32),
                )),
                Err(e) => Err(Failure::os("unshare(CLONE_NEWUSER)", e)),
                Ok(()) => {
                    // New credentials clear the parent-death signal: re-arm it.
                    arm_parent_death(me_parent);
                    Ok(Report::ok(""))
                }
            },
            StepKind::Unshare => {
                let flags = plan.clone_flags() - CloneFlags::CLONE_NEWUSER;
                match unshare(flags) {
                    Ok(()) => Ok(Report::ok("")),
                    Err(e) if e == Errno::EPERM && !plan.has(NsKind::User) => Err(Failure::new(
                        FailureKind::Step,
                        Some(e),
                        format!(
                            "{}: making these namespaces needs root, or add --user (a user namespace) to make them unprivileged",
                            Failure::os(&step.syscall, e).text()
                        ),
                    )),
                    Err(e) => Err(Failure::os("unshare", e)),
                }
            }
            StepKind::TimeOffsets => {
                let off = plan.boottime_offset.unwrap_or(0);
                std::fs::write("/proc/self/timens_offsets", format!("boottime {off} 0\n"))
                    .map(|()| Report::ok(""))
                    .map_err(|e| {
                        Failure::new(
                            FailureKind::Step,
                            e.raw_os_error().map(Errno::from_raw),
                            format!("cannot write /proc/self/timens_offsets: {e}"),
                        )
                    })
            }
            StepKind::Hostname => match &prep.hostname {
                Some(h) => nix::unistd::sethostname(OsStr::from_bytes(h.as_bytes()))
                    .map(|()| Report::ok(""))
                    .map_err(|e| Failure::os("sethostname", e)),
                None => Ok(Report::ok("")),
            },
            StepKind::LoopbackUp => loopback_up().map(|()| Report::ok("")),
            StepKind::ForkInit => {
                // Written now, or the child would inherit and repeat them.
                flush_reports(report.as_fd(), &mut pending);
                let setup_self = getpid().as_raw();
                // SAFETY: this process is single-threaded (it was forked
                // itself), so the child may run any code.
                match unsafe { fork() } {
                    Err(e) => Err(Failure::os("fork", e)),
                    Ok(ForkResult::Child) => {
                        arm_parent_death(setup_self);
                        me_parent = setup_self;
                        // The status pipe belongs to the setup process.
                        status = None;
                        // The child reports its own host PID: /proc is still the
                        // host's here, so /proc/self names it as the host does.
                        let host_pid = std::fs::read_link("/proc/self")
                            .ok()
                            .and_then(|p| p.to_str()?.parse::<i32>().ok());
                        match host_pid {
                            Some(pid) => Report::Forked(pid).encode_into(&mut pending),
                            None => Report::ok("").encode_into(&mut pending),
                        }
                        continue;
                    }
                    Ok(ForkResult::Parent { child }) => {
                        // The child carries on with these.
                        drop(ctl);
                        drop(report);
                        match status {
                            Some(status) => setup_wait(child, status),
                            None => exit_now(1),
                        }
                    }
                }
            }
            StepKind::MountsPrivate => mount(
                None::<&CStr>,
                c"/",
                None::<&CStr>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&CStr>,
            )
            .map(|()| Report::ok(""))
            .map_err(|e| Failure::os("mount / rprivate", e)),
            StepKind::BindRoot => match &prep.root {
                Some(root) => {
                    bind_root(root, prep.minimal, !plan.has(NsKind::Pid)).map(|d| Report::ok(&d))
                }
                None => Ok(Report::ok("")),
            },
            StepKind::PivotRoot => match &prep.root {
                Some(root) => pivot_into(root).map(|()| Report::ok("")),
                None => Ok(Report::ok("")),
            },
            StepKind::MountProc => mount_proc(prep.root.as_ref()).map(|()| Report::ok("")),
            StepKind::Exec => match plan.command {
                ChildCommand::Init => {
                    Report::ok("").encode_into(&mut pending);
                    flush_reports(report.as_fd(), &mut pending);
                    drop(ctl);
                    drop(report);
                    drop(status);
                    init_loop();
                }
                ChildCommand::Exec(_) => {
                    flush_reports(report.as_fd(), &mut pending);
                    if let Some(null) = &prep.null {
                        let _ = nix::unistd::dup2_stdin(null);
                        let _ = nix::unistd::dup2_stdout(null);
                        let _ = nix::unistd::dup2_stderr(null);
                    }
                    exec_command(
                        prep.program.as_deref(),
                        &prep.argv,
                        prep.default_path,
                        report.as_fd(),
                    )
                }
            },
            StepKind::ForkSetup | StepKind::JoinCgroup | StepKind::WriteIdMaps => {
                Ok(Report::ok(""))
            }
        };
        match result {
            Ok(done) => done.encode_into(&mut pending),
            Err(failure) => {
                flush_reports(report.as_fd(), &mut pending);
                child_fail(report.as_fd(), failure)
            }
        }
    }
    // All steps done without an exec: leave.
    exit_now(0)
}

/// Wait for our child `pid` to end (through EINTR and stops).
pub(crate) fn wait_for_end(pid: Pid) -> Result<ExitOutcome, Errno> {
    loop {
        match waitpid(pid, None) {
            Ok(status) => {
                if let Some(outcome) = ExitOutcome::from_wait(status) {
                    return Ok(outcome);
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// The setup process after forking init: wait for it, tell the parent how it
/// ended, and end the same way (by exit code).
fn setup_wait(child: Pid, status: OwnedFd) -> ! {
    let Ok(outcome) = wait_for_end(child) else {
        exit_now(1)
    };
    write_all_fd(status.as_fd(), &Report::Ended(outcome).encode());
    exit_now(outcome.code() & 0xff)
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// isolab's own init: reap every child until told to stop (SIGTERM, SIGINT).
fn init_loop() -> ! {
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        set.add(sig);
    }
    // Blocked signals are queued even for a PID 1 without handlers.
    let _ = sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
    set_signal(Signal::SIGCHLD, SigHandler::Handler(ignore_signal));
    loop {
        while matches!(
            waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)),
            Ok(s) if s != WaitStatus::StillAlive
        ) {}
        if let Ok(Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP) = set.wait() {
            exit_now(0);
        }
    }
}

pub(crate) fn reset_signals() {
    for sig in Signal::iterator() {
        if sig == Signal::SIGKILL || sig == Signal::SIGSTOP {
            continue;
        }
        set_signal(sig, SigHandler::SigDfl);
    }
    // Unblock every signal of our own (only) thread.
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Exec the command: `program` as found before the fork, else a PATH
/// search (execvp). `default_path`: PATH was unset in the parent (read
/// there: `std::env` takes a lock), so give the command the default one.
pub(crate) fn exec_command(
    program: Option<&CStr>,
    argv: &[CString],
    default_path: bool,
    report: BorrowedFd<'_>,
) -> ! {
    reset_signals();
    let Some(name) = argv.first() else {
        child_fail(report, Failure::step("no command to run"));
    };
    if default_path {
        let path = c"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        // SAFETY: setenv(3) with two valid C strings, in a process with one
        // thread. Not std::env::set_var: it takes std's env lock, which
        // another thread of the parent may have held at the fork; nix has
        // no setenv.
        unsafe { libc::setenv(c"PATH".as_ptr(), path.as_ptr(), 1) };
    }
    let err = match program {
        Some(path) => execv(path, argv),
        None => execvp(name, argv),
    }
    .unwrap_err();
    // The name as given, byte for byte: the parent shows it lossily.
    let mut message = b"cannot run ".to_vec();
    message.extend_from_slice(name.as_bytes());
    message.extend_from_slice(format!(": {}", std::io::Error::from(err)).as_bytes());
    child_fail(report, Failure::new(FailureKind::Exec, Some(err), message))
}

fn loopback_up() -> Result<(), Failure> {
    let last = || Errno::last();
    // SAFETY: socket(2) with constant arguments; a non-negative result is
    // a new fd we own. (nix's socket needs its `socket` feature, and it has
    // no SIOCSIFFLAGS wrapper, so the interface calls stay raw.)
    let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        return Err(Failure::os("socket(AF_INET)", last()));
    }
    // SAFETY: the kernel just gave us this fd.
    let sock: OwnedFd = unsafe { std::os::fd::FromRawFd::from_raw_fd(sock) };
    // SAFETY: a zeroed ifreq is a valid (empty) request.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills the flags of the ifreq we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } != 0 {
        return Err(Failure::os("ioctl(SIOCGIFFLAGS, lo)", last()));
    }
    // SAFETY: SIOCGIFFLAGS set the flags member of the union.
    unsafe { ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: SIOCSIFFLAGS reads the ifreq we pass.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) } != 0 {
        return Err(Failure::os("ioctl(SIOCSIFFLAGS, lo)", last()));
    }
    Ok(())
}

fn mount_at(
    src: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: MsFlags,
    what: &str,
) -> Result<(), Failure> {
    mount(src, target, fstype, flags, None::<&CStr>).map_err(|e| Failure::os(what, e))
}

fn bind_root(root: &CString, minimal: bool, bind_host_proc: bool) -> Result<String, Failure> {
    if minimal {
        overlay_root(root)?;
    } else {
        mount_at(
            Some(root.as_c_str()),
            root,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            "bind-mount the new root",
        )?;
    }
    let sub = |p: &str| {
        let mut v = root.as_bytes().to_vec();
        v.extend_from_slice(p.as_bytes());
        CString::new(v).map_err(|_| Failure::step("bad path"))
    };
    let mut detail = String::new();
    if bind_host_proc {
        // No new PID namespace: a fresh proc would show the same processes,
        // and inside a user namespace the kernel refuses to mount one for a
        // PID namespace it does not own. Bind the host's /proc instead.
        let target = sub("/proc")?;
        if mount_at(
            Some(c"/proc"),
            &target,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            "bind /proc",
        )
        .is_ok()
        {
            detail = "host /proc bound in (no PID namespace)".into();
        }
    }
    if !minimal {
        return Ok(detail);
    }
    // A private tmpfs for /tmp and the host's harmless device nodes.
    mount_at(
        Some(c"tmpfs"),
        &sub("/tmp")?,
        Some(c"tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "mount tmpfs on /tmp",
    )?;
    for dev in ["null", "zero", "full", "random", "urandom", "tty"] {
        let host = CString::new(format!("/dev/{dev}")).map_err(|_| Failure::step("bad path"))?;
        // A missing host node is not fatal: the root just lacks it.
        let _ = mount_at(
            Some(host.as_c_str()),
            &sub(&format!("/dev/{dev}"))?,
            None,
            MsFlags::MS_BIND,
            "bind a device",
        );
    }
    Ok(detail)
}

/// Put a read-only overlay over the cached minimal root, in this (private)
/// mount namespace. The cache is shared by every run, and a read-only bind
/// alone does not protect it: root inside can `mount -o remount,rw /`.
/// Through an overlay the cache is only ever a lower layer, which overlayfs
/// never writes; whatever the child writes (after a remount rw, or an
/// `rm -rf /bin/*`) lands in the upper layer, a tmpfs that exists only in
/// this mount namespace and vanishes with it. Nothing is made on the host,
/// so nothing is left behind, even after `kill -9`.
///
/// The scratch tmpfs is mounted on the cache's own `tmp/` (a mount point in
/// this namespace only; the directory itself is not changed) and ends up
/// detached with the old root by `pivot_root`. Paths are relative to the
/// root (cwd), so a cache path with `,` or `:` cannot garble the options.
fn overlay_root(root: &CString) -> Result<(), Failure> {
    chdir(root.as_c_str()).map_err(|e| Failure::os("chdir to the minimal root", e))?;
    mount_scratch()?;
    for dir in [c"tmp/upper", c"tmp/work"] {
        mkdir(dir, Mode::from_bits_truncate(0o755))
            .map_err(|e| Failure::os("mkdir in the overlay's scratch tmpfs", e))?;
    }
    let flags = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    let plain = c"lowerdir=.,upperdir=tmp/upper,workdir=tmp/work";
    // In a user namespace overlayfs cannot use trusted.* xattrs: it wants
    // `userxattr` there (and refuses it elsewhere on some kernels).
    let userns = c"lowerdir=.,upperdir=tmp/upper,workdir=tmp/work,userxattr";
    let mut last = Failure::step("");
    for data in [plain, userns] {
        match mount(
            Some(c"isolab-minroot"),
            c".",
            Some(c"overlay"),
            flags,
            Some(data),
        ) {
            Ok(()) => return Ok(()),
            Err(e) => {
                last = Failure::os(
                    "mount an overlay over the minimal root (the cache stays the read-only lower layer)",
                    e,
                )
            }
        }
    }
    Err(last)
}

fn mount_scratch() -> Result<(), Failure> {
    mount_at(
        Some(c"isolab-scratch"),
        c"tmp",
        Some(c"tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "mount the overlay's scratch tmpfs",
    )
}

fn pivot_into(root: &CString) -> Result<(), Failure> {
    chdir(root.as_c_str()).map_err(|e| Failure::os("chdir to the new root", e))?;
    // pivot_root(".", "."): the old root is stacked under the new one at
    // "."; detaching "." then removes it without needing a put_old dir.
    nix::unistd::pivot_root(c".", c".").map_err(|e| Failure::os("pivot_root", e))?;
    umount2(c".", MntFlags::MNT_DETACH).map_err(|e| Failure::os("detach the old root", e))?;
    chdir(c"/").map_err(|e| Failure::os("chdir /", e))
}

fn mount_proc(root: Option<&CString>) -> Result<(), Failure> {
    let mut target = root.map(|r| r.as_bytes().to_vec()).unwrap_or_default();
    target.extend_from_slice(b"/proc");
    let target = CString::new(target).map_err(|_| Failure::step("bad path"))?;
    // It may exist already.
    let _ = mkdir(target.as_c_str(), Mode::from_bits_truncate(0o555));
    mount_at(
        Some(c"proc"),
        &target,
        Some(c"proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        "mount proc on /proc",
    )
}

/// Explain why the kernel refused a new user namespace, naming the knob.
pub fn userns_refusal_hint(errno: i32) -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let mut causes = Vec::new();
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        causes.push("sysctl kernel.unprivileged_userns_clone is 0 (set it to 1)".to_string());
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        causes.push("sysctl user.max_user_namespaces is 0".to_string());
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        causes.push(
            "AppArmor restricts unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns is 1; see `aa-status`)"
                .to_string(),
        );
    }
    let what = std::io::Error::from_raw_os_error(errno);
    if causes.is_empty() {
        format!(
            "the kernel refused a new user namespace ({what}): unprivileged user namespaces may be off; check `sysctl kernel.unprivileged_userns_clone user.max_user_namespaces kernel.apparmor_restrict_unprivileged_userns`"
        )
    } else {
        format!(
            "the kernel refused a new user namespace ({what}): {}",
            causes.join("; ")
        )
    }
}
