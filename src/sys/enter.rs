//! Entering a running process's namespaces and root, like `nsenter -a -r`:
//! `isolab exec PID -- CMD` and the `e` key of the TUI. The forked side
//! reports a failure to the parent as a `spawn::Report` frame, as a
//! spawn's children do.

use crate::sys::idmap::IdMap;
use crate::sys::ns::NsKind;
use crate::sys::pidfd;
use crate::sys::spawn::{
    ExitOutcome, Failure, FailureKind, Report, ReportReader, child_fail, clone_flag, exec_command,
    exit_now, pipe_cloexec, set_signal, wait_for_end,
};
use anyhow::Context;
use nix::errno::Errno;
use nix::fcntl::{OFlag, open, openat};
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::{ForkResult, Gid, Uid, fork};
use std::ffi::{CStr, CString};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

/// Why `isolab exec` could not enter a process (the errors a caller may
/// tell apart; everything else is an `anyhow` message with context).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnterError {
    #[error("no process with PID {0}: it has exited, or never existed in this PID namespace")]
    NoSuchProcess(i32),
    #[error("PID {0} has exited: there is nothing left to enter")]
    Exited(i32),
}

fn open_at(dir: &OwnedFd, name: &CStr, flags: OFlag) -> std::io::Result<OwnedFd> {
    Ok(openat(dir, name, flags | OFlag::O_CLOEXEC, Mode::empty())?)
}

fn fd_inode(fd: &OwnedFd) -> Option<u64> {
    fstat(fd).ok().map(|st| st.st_ino)
}

fn exited_error(pid: i32) -> anyhow::Error {
    EnterError::Exited(pid).into()
}

/// Who the command becomes after entering a user namespace other than
/// ours: ids as seen inside it (see `identity_in`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub uid: u32,
    pub gid: u32,
}

/// The identity to take inside a user namespace owned by `owner` (a uid as
/// we see it), given its uid_map and gid_map as we read them. Root entering
/// a user's namespace must not stay root on the host: that user holds every
/// capability in the namespace, so could ptrace the entered command and
/// act as host root. So: the uid that maps to the owner (root inside for
/// an `isolab run --user` container, as `nsenter` takes); a namespace that
/// does not map its owner at all (a runtime's subuid range) gets root
/// inside, as `nsenter` does, which is an id the namespace's maker chose.
/// The gid: root's inside (as `nsenter`), else the first one mapped.
pub(crate) fn identity_in(uid_map: &str, gid_map: &str, owner: u32) -> Result<Identity, String> {
    let (umap, gmap) = (IdMap::parse(uid_map), IdMap::parse(gid_map));
    let uid = umap
        .to_inside(owner)
        .or_else(|| umap.maps_inside(0).then_some(0))
        .ok_or_else(|| {
            let map = uid_map.trim();
            format!(
                "its user namespace maps neither its owner (uid {owner}) nor root (uid_map {map:?})"
            )
        })?;
    let gid = if gmap.maps_inside(0) {
        0
    } else {
        gmap.ranges
            .first()
            .map(|r| r.inside)
            .ok_or("its user namespace has no gid_map yet")?
    };
    Ok(Identity { uid, gid })
}

/// The uid that owns a user namespace (as this process sees it).
fn userns_owner(fd: &OwnedFd) -> std::io::Result<u32> {
    // NS_GET_OWNER_UID = _IO(0xb7, 0x4), see ioctl_ns(2).
    const NS_GET_OWNER_UID: libc::Ioctl = 0xb704;
    let mut uid: libc::uid_t = 0;
    // SAFETY: the ioctl writes one uid_t; nix has no wrapper for the
    // namespace ioctls.
    if unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_OWNER_UID, &mut uid) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(uid)
}

fn read_at(dir: &OwnedFd, name: &CStr) -> std::io::Result<String> {
    let fd = open_at(dir, name, OFlag::O_RDONLY)?;
    let mut text = String::new();
    std::fs::File::from(fd).read_to_string(&mut text)?;
    Ok(text)
}

/// Run `argv` inside all of `pid`'s namespaces and its root, like
/// `nsenter -a -r`. A pidfd is taken first and checked after every
/// /proc/PID file is opened, so a PID reused meanwhile is never followed.
/// Forks first (setns of a user namespace wants one thread), enters the
/// user namespace first when it differs (it grants the rights for the
/// rest) and then takes the namespace owner's identity there
/// (`identity_in`), then forks again so the PID namespace applies, and
/// waits. The forked side is non-dumpable from its first step to the exec,
/// so nothing inside can ptrace it or read its /proc files meanwhile (as
/// runc does since CVE-2019-5736), and only stdin, stdout and stderr reach
/// the command.
pub fn exec_in(pid: i32, argv: &[String]) -> anyhow::Result<ExitOutcome> {
    let Some(program) = argv.first() else {
        return crate::usage("no command given: add one after --");
    };
    let pidfd = match crate::sys::pidfd::open(pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
            return Err(EnterError::NoSuchProcess(pid).into());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot open PID {pid}")),
    };
    if pidfd::has_exited(&pidfd) {
        return Err(exited_error(pid));
    }
    let dir = match open(
        format!("/proc/{pid}").as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(dir) => dir,
        Err(e) => {
            if pidfd::has_exited(&pidfd) {
                return Err(exited_error(pid));
            }
            return Err(std::io::Error::from(e))
                .with_context(|| format!("cannot open /proc/{pid}"));
        }
    };
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
        let theirs = match open_at(&dir, &name, OFlag::O_RDONLY) {
            Ok(fd) => fd,
            Err(e) => {
                if pidfd::has_exited(&pidfd) {
                    return Err(exited_error(pid));
                }
                if e.raw_os_error() == Some(libc::ENOENT) {
                    continue; // this kernel has no such kind: stay in ours
                }
                // Half-entered is worse than not entered: say so and stop.
                return Err(e).with_context(|| {
                    format!(
                        "cannot open /proc/{pid}/ns/{} (entering another user's process needs root)",
                        kind.proc_name()
                    )
                });
            }
        };
        let ours = std::fs::metadata(format!("/proc/self/ns/{}", kind.proc_name()))
            .ok()
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        if fd_inode(&theirs) != ours {
            enter.push((kind, theirs));
        }
    }
    let identity = match enter.iter().find(|(k, _)| *k == NsKind::User) {
        Some((_, userns)) => {
            let owner = userns_owner(userns).with_context(|| {
                format!(
                    "cannot read the owner of PID {pid}'s user namespace (ioctl NS_GET_OWNER_UID)"
                )
            })?;
            let uid_map = read_at(&dir, c"uid_map")
                .with_context(|| format!("cannot read /proc/{pid}/uid_map"))?;
            let gid_map = read_at(&dir, c"gid_map")
                .with_context(|| format!("cannot read /proc/{pid}/gid_map"))?;
            // The maps must be those of the namespace we hold (the process
            // could have moved to a nested one meanwhile).
            let again = open_at(&dir, c"ns/user", OFlag::O_RDONLY).ok();
            if again.and_then(|fd| fd_inode(&fd)) != fd_inode(userns) {
                if pidfd::has_exited(&pidfd) {
                    return Err(exited_error(pid));
                }
                anyhow::bail!(
                    "PID {pid} changed its user namespace while isolab read it: try again"
                );
            }
            let id = identity_in(&uid_map, &gid_map, owner)
                .map_err(|e| anyhow::anyhow!("cannot enter PID {pid}: {e}"))?;
            Some(id)
        }
        None => None,
    };
    let root = match open_at(&dir, c"root", OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        Ok(root) => root,
        Err(e) => {
            if pidfd::has_exited(&pidfd) {
                return Err(exited_error(pid));
            }
            return Err(e).with_context(|| {
                format!("cannot open /proc/{pid}/root (entering another user's process needs root)")
            });
        }
    };
    if pidfd::has_exited(&pidfd) {
        return Err(exited_error(pid));
    }
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    // Read here: `std::env` takes a lock, which the forked side must not.
    let default_path = std::env::var_os("PATH").is_none();
    let (rep_rd, rep_wr) = pipe_cloexec()?;
    // SAFETY: the child only runs `enter_and_exec`, which never returns and
    // keeps to the post-fork rules (raw fds, thin syscall wrappers).
    let child = match unsafe { fork() } {
        Err(e) => return Err(std::io::Error::from(e)).context("fork failed"),
        Ok(ForkResult::Child) => {
            drop(rep_rd);
            enter_and_exec(&enter, &root, identity, &args, default_path, rep_wr);
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    drop(rep_wr);
    drop(enter);
    // The terminal's Ctrl-C goes to the command; we wait for it to decide.
    // (sigaction, not signal(): a handler installed with SA_SIGINFO, such
    // as the TUI's, must come back exactly as it was.)
    // An interactive shell inside takes the terminal's foreground; when it
    // exits it cannot hand it back (our process group is not visible from
    // its PID namespace), so we take it back ourselves afterwards.
    let stdin = std::io::stdin();
    // An error when stdin is not a terminal.
    let foreground = nix::unistd::tcgetpgrp(&stdin).ok();
    let old_int = ignore_signal_saving(Signal::SIGINT);
    let old_quit = ignore_signal_saving(Signal::SIGQUIT);
    let status = wait_for_end(child);
    if let Some(pgrp) = foreground.filter(|p| p.as_raw() > 0) {
        // tcsetpgrp from a background group raises SIGTTOU: ignore it meanwhile.
        let old_ttou = ignore_signal_saving(Signal::SIGTTOU);
        let _ = nix::unistd::tcsetpgrp(&stdin, pgrp);
        restore_signal(Signal::SIGTTOU, old_ttou);
    }
    restore_signal(Signal::SIGINT, old_int);
    restore_signal(Signal::SIGQUIT, old_quit);
    let mut reports = ReportReader::new(rep_rd);
    while let Ok(Some(report)) = reports.read() {
        let Report::Err(failure) = report else {
            continue;
        };
        if failure.kind == FailureKind::Exec && failure.errno == Some(Errno::ENOENT) {
            return crate::usage(format!("command not found inside PID {pid}: {program}"));
        }
        anyhow::bail!("{}", failure.text());
    }
    status
        .map_err(std::io::Error::from)
        .with_context(|| format!("waitpid({child}) failed"))
}

/// Ignore `sig`, returning what was there before (for `restore_signal`).
fn ignore_signal_saving(sig: Signal) -> Option<SigAction> {
    let ignore = SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty());
    // SAFETY: installing SIG_IGN cannot break an invariant of a handler.
    unsafe { sigaction(sig, &ignore) }.ok()
}

fn restore_signal(sig: Signal, old: Option<SigAction>) {
    if let Some(old) = old {
        // SAFETY: putting back exactly the action that was installed.
        let _ = unsafe { sigaction(sig, &old) };
    }
}

/// Non-dumpable: no ptrace, and /proc/self files owned by root, for anyone
/// without CAP_SYS_PTRACE over our (the host's) user namespace. exec resets it.
fn set_non_dumpable(report: BorrowedFd<'_>) {
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        child_fail(report, Failure::os("prctl(PR_SET_DUMPABLE, 0)", e));
    }
}

/// SIGKILL when the process that forked us (`parent`, as `getppid` showed
/// it right after the fork) dies; if it died before the signal was armed,
/// end now. Kept across exec (the command's
/// own credential changes, a set-uid program, clear it).
fn die_with_parent(parent: nix::unistd::Pid, report: BorrowedFd<'_>) {
    if let Err(e) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
        child_fail(report, Failure::os("prctl(PR_SET_PDEATHSIG)", e));
    }
    if nix::unistd::getppid() != parent {
        child_fail(
            report,
            Failure::step("isolab exec ended before the command started"),
        );
    }
}

/// Close every fd from 3 up except `keep`: whatever this process inherited
/// (the caller's, the TUI's) or opened must not reach the command.
fn close_fds_except(keep: RawFd) {
    let close = |from: RawFd, to: libc::c_uint| {
        // SAFETY: closing a range of our own descriptors (nix has no
        // close_range); nothing else in this process uses them.
        unsafe { libc::syscall(libc::SYS_close_range, from as libc::c_uint, to, 0) == 0 }
    };
    let ok =
        (keep <= 3 || close(3, (keep - 1) as libc::c_uint)) && close(keep + 1, libc::c_uint::MAX);
    if !ok {
        // No close_range (Linux < 5.9): close one by one up to the fd limit.
        let max = nix::unistd::sysconf(nix::unistd::SysconfVar::OPEN_MAX)
            .ok()
            .flatten()
            .unwrap_or(1024)
            .clamp(1024, 65536) as RawFd;
        for fd in (3..max).filter(|&fd| fd != keep) {
            let _ = nix::unistd::close(fd);
        }
    }
}

/// Take `id` (ids inside the user namespace just entered), without any
/// supplementary group. `groups_dropped`: they were already dropped before
/// the setns (root can there; inside, setgroups is often denied).
fn take_identity(id: Identity, groups_dropped: bool, report: BorrowedFd<'_>) {
    // If neither drop worked, we were never privileged to drop them:
    // the groups are the caller's own, nothing gained by keeping them.
    if !groups_dropped {
        let _ = nix::unistd::setgroups(&[]);
    }
    let gid = Gid::from_raw(id.gid);
    if let Err(e) = nix::unistd::setresgid(gid, gid, gid) {
        let what = format!("setresgid({0}, {0}, {0}) inside the user namespace", id.gid);
        child_fail(report, Failure::os(&what, e));
    }
    let uid = Uid::from_raw(id.uid);
    if let Err(e) = nix::unistd::setresuid(uid, uid, uid) {
        let what = format!("setresuid({0}, {0}, {0}) inside the user namespace", id.uid);
        child_fail(report, Failure::os(&what, e));
    }
    // A credential change sets dumpable to fs.suid_dumpable, which may be 1.
    set_non_dumpable(report);
}

fn enter_and_exec(
    enter: &[(NsKind, OwnedFd)],
    root: &OwnedFd,
    identity: Option<Identity>,
    argv: &[CString],
    default_path: bool,
    report: OwnedFd,
) -> ! {
    // Who forked us, read before anything can make it our reaper instead.
    let parent = nix::unistd::getppid();
    // Before anything of theirs is joined: once in their user namespace,
    // its owner holds CAP_SYS_PTRACE over us unless we are non-dumpable.
    set_non_dumpable(report.as_fd());
    let groups_dropped = identity.is_some() && nix::unistd::setgroups(&[]).is_ok();
    for (kind, fd) in enter {
        if let Err(e) = nix::sched::setns(fd, clone_flag(*kind)) {
            let what = format!("setns into the {} namespace", kind.proc_name());
            child_fail(report.as_fd(), Failure::os(&what, e));
        }
    }
    if let Err(e) = nix::unistd::fchdir(root).and_then(|()| nix::unistd::chroot(c".")) {
        child_fail(
            report.as_fd(),
            Failure::os("cannot enter the process's root", e),
        );
    }
    let _ = nix::unistd::chdir(c"/");
    // Set here, so the waiting process below holds no more than the command.
    if let Some(id) = identity {
        take_identity(id, groups_dropped, report.as_fd());
    }
    // Armed after the identity change, which clears it: if `isolab exec`
    // dies (even by SIGKILL), this waiter and the command go with it, as a
    // Lab child does. Nothing isolab starts outlives it.
    die_with_parent(parent, report.as_fd());
    close_fds_except(report.as_raw_fd());
    // PID and time namespaces apply to children: fork once more.
    // SAFETY: this process is single-threaded (it was forked itself).
    let pid = match unsafe { fork() } {
        Err(e) => child_fail(report.as_fd(), Failure::os("fork", e)),
        Ok(ForkResult::Child) => {
            // The waiter as seen from here (0 when it is outside the PID
            // namespace just entered), read before it could be gone.
            let waiter = nix::unistd::getppid();
            die_with_parent(waiter, report.as_fd());
            exec_command(None, argv, default_path, report.as_fd())
        }
        Ok(ForkResult::Parent { child }) => child,
    };
    // Close our copy so the parent sees EOF once the command execs.
    drop(report);
    set_signal(Signal::SIGINT, SigHandler::SigIgn);
    set_signal(Signal::SIGQUIT, SigHandler::SigIgn);
    match wait_for_end(pid) {
        // Leave with the command's code.
        Ok(outcome) => exit_now(outcome.code() & 0xff),
        Err(_) => exit_now(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_who_the_command_becomes() {
        // `isolab run --user` by uid 1001: root inside is the owner.
        assert_eq!(
            identity_in("0 1001 1\n", "0 1001 1\n", 1001),
            Ok(Identity { uid: 0, gid: 0 })
        );
        // `unshare --map-current-user`: the owner keeps its own number.
        assert_eq!(
            identity_in("1001 1001 1\n", "1001 1001 1\n", 1001),
            Ok(Identity {
                uid: 1001,
                gid: 1001
            })
        );
        // The owner inside a wider map, not at 0: the owner, not root.
        assert_eq!(
            identity_in("0 100000 65536\n65536 1001 1\n", "0 100000 65536\n", 1001),
            Ok(Identity { uid: 65536, gid: 0 })
        );
        // Root's own `isolab run --user`: root stays root.
        assert_eq!(
            identity_in("0 0 4294967295\n", "0 0 4294967295\n", 0),
            Ok(Identity { uid: 0, gid: 0 })
        );
    }

    #[test]
    fn a_map_without_its_owner_gets_root_inside_like_nsenter() {
        // A runtime's subuid range: the ids its maker chose.
        assert_eq!(
            identity_in("0 100000 65536\n", "0 100000 65536\n", 0),
            Ok(Identity { uid: 0, gid: 0 })
        );
    }

    #[test]
    fn a_map_that_names_neither_owner_nor_root_is_refused() {
        assert!(identity_in("5 100005 1\n", "5 100005 1\n", 1001).is_err());
        assert!(identity_in("", "", 1001).is_err()); // no map written yet
        assert!(identity_in("0 1001 1\n", "", 1001).is_err());
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_gone_process_and_a_zombie_are_told_apart_by_type() {
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let pid = gone.id() as i32;
        gone.wait().unwrap();
        let e = exec_in(pid, &["true".into()]).unwrap_err();
        assert_eq!(
            e.downcast_ref::<EnterError>(),
            Some(&EnterError::NoSuchProcess(pid))
        );

        let mut zombie = std::process::Command::new("true").spawn().unwrap();
        let pid = zombie.id() as i32;
        let stat = format!("/proc/{pid}/stat");
        for _ in 0..500 {
            let text = std::fs::read_to_string(&stat).unwrap();
            if text
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let e = exec_in(pid, &["true".into()]).unwrap_err();
        assert_eq!(
            e.downcast_ref::<EnterError>(),
            Some(&EnterError::Exited(pid))
        );
        zombie.wait().unwrap();
    }
}
