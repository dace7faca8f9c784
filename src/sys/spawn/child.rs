//! The child side of a spawn: what the setup process and the child run
//! after fork. Raw fds and syscalls only, no locks another thread of the
//! parent could hold (see the parent module's notes); nothing here returns
//! to the caller's code: each path ends in exec or _exit.

use super::plan::{ChildCommand, Plan};
use super::protocol::ExitOutcome;
use super::spawner::ChildPrep;
use super::steps::{Actor, Step, StepKind};
use crate::sys::ns::NsKind;
use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};

pub(crate) fn write_all_fd(fd: RawFd, bytes: &[u8]) {
    let mut off = 0;
    while off < bytes.len() {
        // SAFETY: writing from a valid slice.
        let n = unsafe { libc::write(fd, bytes[off..].as_ptr().cast(), bytes.len() - off) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        off += n as usize;
    }
}

pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub(crate) fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

pub(crate) fn child_fail(report: RawFd, msg: &str) -> ! {
    let one_line = msg.replace('\n', " ");
    write_all_fd(report, format!("err {one_line}\n").as_bytes());
    // SAFETY: leaving the forked child without running the parent's destructors.
    unsafe { libc::_exit(1) }
}

fn flush_reports(report: RawFd, pending: &mut Vec<u8>) {
    if !pending.is_empty() {
        write_all_fd(report, pending);
        pending.clear();
    }
}

/// How many go bytes are already waiting in the control pipe.
fn bytes_waiting(ctl: RawFd) -> i32 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int.
    if unsafe { libc::ioctl(ctl, libc::FIONREAD, &mut n) } != 0 {
        return 0;
    }
    n
}

/// Block until the parent says go; exit quietly if it has gone away.
fn wait_for_go(ctl: RawFd) {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: reading one byte into a valid buffer.
        let n = unsafe { libc::read(ctl, b.as_mut_ptr().cast(), 1) };
        if n == 1 {
            return;
        }
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        // SAFETY: the parent closed the pipe: nothing more to do.
        unsafe { libc::_exit(1) }
    }
}

fn arm_parent_death(expected_parent: i32) {
    // SAFETY: prctl with constant arguments; getppid cannot fail.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        // In a new PID namespace the parent is outside it and getppid() is 0.
        let ppid = libc::getppid();
        if ppid != expected_parent && ppid != 0 {
            libc::_exit(1);
        }
    }
}

pub(crate) fn set_signal(sig: i32, handler: libc::sighandler_t) {
    // SAFETY: installing a plain disposition.
    unsafe {
        libc::signal(sig, handler);
    }
}

pub(super) fn setup_main(
    plan: &Plan,
    steps: &[Step],
    prep: &ChildPrep,
    parent: i32,
    ctl: RawFd,
    report: RawFd,
    status: RawFd,
) -> ! {
    arm_parent_death(parent);
    // Ctrl-C reaches the whole foreground process group; the command
    // decides what it means, the setup process must outlive it.
    set_signal(libc::SIGINT, libc::SIG_IGN);
    set_signal(libc::SIGQUIT, libc::SIG_IGN);
    // SAFETY: getpid cannot fail.
    let mut me_parent = parent;
    // Reports are held back while more go bytes are already waiting (the
    // fast path sends them in a batch), so the parent wakes once per batch.
    let mut pending: Vec<u8> = Vec::new();
    for step in steps.iter().skip(1) {
        if step.actor == Actor::Parent {
            continue;
        }
        if bytes_waiting(ctl) == 0 {
            flush_reports(report, &mut pending);
        }
        wait_for_go(ctl);
        let result: Result<String, String> = match step.kind {
            StepKind::UnshareUser => {
                // SAFETY: unshare in a single-threaded process.
                if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
                    let e = errno();
                    Err(
                        if e == libc::EPERM || e == libc::ENOSPC || e == libc::EACCES {
                            userns_refusal_hint(e)
                        } else {
                            os_err("unshare(CLONE_NEWUSER)")
                        },
                    )
                } else {
                    // New credentials clear the parent-death signal: re-arm it.
                    arm_parent_death(me_parent);
                    Ok(String::new())
                }
            }
            StepKind::Unshare => {
                let flags = plan.clone_flags() & !libc::CLONE_NEWUSER;
                // SAFETY: plain syscall.
                if unsafe { libc::unshare(flags) } != 0 {
                    let e = errno();
                    if e == libc::EPERM && !plan.has(NsKind::User) {
                        Err(format!(
                            "{}: making these namespaces needs root, or add --user (a user namespace) to make them unprivileged",
                            os_err(&step.syscall)
                        ))
                    } else {
                        Err(os_err("unshare"))
                    }
                } else {
                    Ok(String::new())
                }
            }
            StepKind::TimeOffsets => {
                let off = plan.boottime_offset.unwrap_or(0);
                std::fs::write("/proc/self/timens_offsets", format!("boottime {off} 0\n"))
                    .map(|()| String::new())
                    .map_err(|e| format!("cannot write /proc/self/timens_offsets: {e}"))
            }
            StepKind::Hostname => match &prep.hostname {
                Some(h) => {
                    // SAFETY: h is a valid C string of its length.
                    if unsafe { libc::sethostname(h.as_ptr(), h.as_bytes().len()) } != 0 {
                        Err(os_err("sethostname"))
                    } else {
                        Ok(String::new())
                    }
                }
                None => Ok(String::new()),
            },
            StepKind::LoopbackUp => loopback_up(),
            StepKind::ForkInit => {
                // Written now, or the child would inherit and repeat them.
                flush_reports(report, &mut pending);
                // SAFETY: getpid cannot fail.
                let setup_self = unsafe { libc::getpid() };
                // SAFETY: fork of a single-threaded process.
                let pid = unsafe { libc::fork() };
                if pid < 0 {
                    Err(os_err("fork"))
                } else if pid == 0 {
                    arm_parent_death(setup_self);
                    me_parent = setup_self;
                    // SAFETY: the status pipe belongs to the setup process.
                    unsafe { libc::close(status) };
                    // The child reports its own host PID: /proc is still the
                    // host's here, so /proc/self names it as the host does.
                    let host_pid = std::fs::read_link("/proc/self")
                        .ok()
                        .and_then(|p| p.to_str().map(str::to_string))
                        .unwrap_or_default();
                    pending.extend_from_slice(format!("ok {host_pid}\n").as_bytes());
                    continue;
                } else {
                    // SAFETY: closing our own fds: the child carries on with them.
                    unsafe {
                        libc::close(ctl);
                        libc::close(report);
                    }
                    setup_wait(pid, status);
                }
            }
            StepKind::MountsPrivate => {
                // SAFETY: valid C strings / nulls.
                let rc = unsafe {
                    libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    )
                };
                if rc != 0 {
                    Err(os_err("mount / rprivate"))
                } else {
                    Ok(String::new())
                }
            }
            StepKind::BindRoot => match &prep.root {
                Some(root) => bind_root(root, prep.minimal, !plan.has(NsKind::Pid)),
                None => Ok(String::new()),
            },
            StepKind::PivotRoot => match &prep.root {
                Some(root) => pivot_into(root),
                None => Ok(String::new()),
            },
            StepKind::MountProc => mount_proc(prep.root.as_ref()),
            StepKind::Exec => {
                match plan.command {
                    ChildCommand::Init => {
                        pending.extend_from_slice(b"ok\n");
                        flush_reports(report, &mut pending);
                        // SAFETY: closing our own fds.
                        unsafe {
                            libc::close(ctl);
                            libc::close(report);
                            libc::close(status);
                        }
                        init_loop();
                    }
                    ChildCommand::Exec(_) => {
                        flush_reports(report, &mut pending);
                        if let Some(null) = &prep.null {
                            // SAFETY: dup2 of a valid fd onto the standard ones.
                            unsafe {
                                for target in 0..3 {
                                    libc::dup2(null.as_raw_fd(), target);
                                }
                            }
                        }
                        exec_command(prep.program.as_ref(), &prep.argv, report)
                    }
                }
            }
            StepKind::ForkSetup | StepKind::JoinCgroup | StepKind::WriteIdMaps => Ok(String::new()),
        };
        match result {
            Ok(detail) => pending.extend_from_slice(format!("ok {detail}\n").as_bytes()),
            Err(msg) => {
                flush_reports(report, &mut pending);
                child_fail(report, &msg)
            }
        }
    }
    // SAFETY: all steps done without an exec: leave.
    unsafe { libc::_exit(0) }
}

/// The setup process after forking init: wait for it, tell the parent how it
/// ended, and end the same way (by exit code).
fn setup_wait(child: i32, status_fd: RawFd) -> ! {
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let rc = unsafe { libc::waitpid(child, &mut status, 0) };
        if rc == child {
            break;
        }
        if rc < 0 && errno() != libc::EINTR {
            // SAFETY: nothing left to wait for.
            unsafe { libc::_exit(1) };
        }
    }
    let outcome = ExitOutcome::from_wait_status(status);
    let word = match outcome {
        ExitOutcome::Exited(c) => format!("exit {c}\n"),
        ExitOutcome::Signaled(n) => format!("signal {n}\n"),
    };
    write_all_fd(status_fd, word.as_bytes());
    // SAFETY: leaving the forked process.
    unsafe { libc::_exit(outcome.code() & 0xff) }
}

extern "C" fn ignore_signal(_: libc::c_int) {}

/// isolab's own init: reap every child until told to stop (SIGTERM, SIGINT).
fn init_loop() -> ! {
    // SAFETY: signal mask manipulation on our own single thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        // Blocked signals are queued even for a PID 1 without handlers.
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signal(
            libc::SIGCHLD,
            ignore_signal as *const () as libc::sighandler_t,
        );
        loop {
            while libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) > 0 {}
            let sig = libc::sigwaitinfo(&set, std::ptr::null_mut());
            if sig == libc::SIGTERM || sig == libc::SIGINT || sig == libc::SIGHUP {
                libc::_exit(0);
            }
        }
    }
}

pub(crate) fn reset_signals() {
    for sig in 1..32 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        set_signal(sig, libc::SIG_DFL);
    }
    // SAFETY: unblocking every signal of our own thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

pub(crate) fn exec_command(program: Option<&CString>, argv: &[CString], report: RawFd) -> ! {
    reset_signals();
    let mut ptrs: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    if std::env::var_os("PATH").is_none() {
        // SAFETY: single-threaded child about to exec.
        unsafe {
            std::env::set_var(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
        };
    }
    // SAFETY: argv is NUL-terminated C strings ending in a null pointer.
    unsafe {
        match program {
            Some(path) => libc::execv(path.as_ptr(), ptrs.as_ptr()),
            None => libc::execvp(ptrs[0], ptrs.as_ptr()),
        }
    };
    let name = argv
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_default();
    child_fail(report, &os_err(&format!("cannot run {name}")))
}

fn loopback_up() -> Result<String, String> {
    // SAFETY: socket/ioctl/close on our own descriptor with a zeroed ifreq.
    unsafe {
        let sock = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if sock < 0 {
            return Err(os_err("socket(AF_INET)"));
        }
        let mut ifr: libc::ifreq = std::mem::zeroed();
        for (dst, &src) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = src as libc::c_char;
        }
        if libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut ifr) != 0 {
            let e = os_err("ioctl(SIOCGIFFLAGS, lo)");
            libc::close(sock);
            return Err(e);
        }
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        let rc = libc::ioctl(sock, libc::SIOCSIFFLAGS, &ifr);
        let e = os_err("ioctl(SIOCSIFFLAGS, lo)");
        libc::close(sock);
        if rc != 0 { Err(e) } else { Ok(String::new()) }
    }
}

fn mount_raw(
    src: Option<&std::ffi::CStr>,
    target: &std::ffi::CStr,
    fstype: Option<&std::ffi::CStr>,
    flags: libc::c_ulong,
    what: &str,
) -> Result<(), String> {
    // SAFETY: valid C strings or nulls.
    let rc = unsafe {
        libc::mount(
            src.map_or(std::ptr::null(), |s| s.as_ptr()),
            target.as_ptr(),
            fstype.map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            std::ptr::null(),
        )
    };
    if rc != 0 { Err(os_err(what)) } else { Ok(()) }
}

fn bind_root(root: &CString, minimal: bool, bind_host_proc: bool) -> Result<String, String> {
    if minimal {
        overlay_root(root)?;
    } else {
        mount_raw(
            Some(root),
            root,
            None,
            libc::MS_BIND | libc::MS_REC,
            "bind-mount the new root",
        )?;
    }
    let sub = |p: &str| {
        let mut v = root.as_bytes().to_vec();
        v.extend_from_slice(p.as_bytes());
        CString::new(v).map_err(|_| "bad path".to_string())
    };
    let mut detail = String::new();
    if bind_host_proc {
        // No new PID namespace: a fresh proc would show the same processes,
        // and inside a user namespace the kernel refuses to mount one for a
        // PID namespace it does not own. Bind the host's /proc instead.
        let target = sub("/proc")?;
        if mount_raw(
            Some(c"/proc"),
            &target,
            None,
            libc::MS_BIND | libc::MS_REC,
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
    mount_raw(
        Some(c"tmpfs"),
        &sub("/tmp")?,
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        "mount tmpfs on /tmp",
    )?;
    for dev in ["null", "zero", "full", "random", "urandom", "tty"] {
        let host = CString::new(format!("/dev/{dev}")).map_err(|_| "bad path".to_string())?;
        // A missing host node is not fatal: the root just lacks it.
        let _ = mount_raw(
            Some(&host),
            &sub(&format!("/dev/{dev}"))?,
            None,
            libc::MS_BIND,
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
fn overlay_root(root: &CString) -> Result<(), String> {
    // SAFETY: chdir to a valid C string.
    if unsafe { libc::chdir(root.as_ptr()) } != 0 {
        return Err(os_err("chdir to the minimal root"));
    }
    mount_scratch()?;
    for dir in [c"tmp/upper", c"tmp/work"] {
        // SAFETY: mkdir of a valid C string inside our fresh tmpfs.
        if unsafe { libc::mkdir(dir.as_ptr(), 0o755) } != 0 {
            return Err(os_err("mkdir in the overlay's scratch tmpfs"));
        }
    }
    let flags = libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
    let plain = c"lowerdir=.,upperdir=tmp/upper,workdir=tmp/work";
    // In a user namespace overlayfs cannot use trusted.* xattrs: it wants
    // `userxattr` there (and refuses it elsewhere on some kernels).
    let userns = c"lowerdir=.,upperdir=tmp/upper,workdir=tmp/work,userxattr";
    let mut last = String::new();
    for data in [plain, userns] {
        // SAFETY: valid C strings.
        let rc = unsafe {
            libc::mount(
                c"isolab-minroot".as_ptr(),
                c".".as_ptr(),
                c"overlay".as_ptr(),
                flags,
                data.as_ptr().cast(),
            )
        };
        if rc == 0 {
            return Ok(());
        }
        last = os_err(
            "mount an overlay over the minimal root (the cache stays the read-only lower layer)",
        );
    }
    Err(last)
}

fn mount_scratch() -> Result<(), String> {
    mount_raw(
        Some(c"isolab-scratch"),
        c"tmp",
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        "mount the overlay's scratch tmpfs",
    )
}

fn pivot_into(root: &CString) -> Result<String, String> {
    // SAFETY: chdir/pivot_root/umount2 with valid C strings.
    unsafe {
        if libc::chdir(root.as_ptr()) != 0 {
            return Err(os_err("chdir to the new root"));
        }
        // pivot_root(".", "."): the old root is stacked under the new one at
        // "."; detaching "." then removes it without needing a put_old dir.
        if libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0 {
            return Err(os_err("pivot_root"));
        }
        if libc::umount2(c".".as_ptr(), libc::MNT_DETACH) != 0 {
            return Err(os_err("detach the old root"));
        }
        if libc::chdir(c"/".as_ptr()) != 0 {
            return Err(os_err("chdir /"));
        }
    }
    Ok(String::new())
}

fn mount_proc(root: Option<&CString>) -> Result<String, String> {
    let mut target = root.map(|r| r.as_bytes().to_vec()).unwrap_or_default();
    target.extend_from_slice(b"/proc");
    let target = CString::new(target).map_err(|_| "bad path".to_string())?;
    // SAFETY: mkdir of a valid path (it may exist).
    unsafe { libc::mkdir(target.as_ptr(), 0o555) };
    mount_raw(
        Some(c"proc"),
        &target,
        Some(c"proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        "mount proc on /proc",
    )
    .map(|()| String::new())
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
