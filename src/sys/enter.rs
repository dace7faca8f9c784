//! Entering a running process's namespaces and root, like `nsenter -a -r`:
//! `isolab exec PID -- CMD` and the `e` key of the TUI.

use crate::sys::idmap::IdMap;
use crate::sys::ns::NsKind;
use crate::sys::spawn::{ExitOutcome, clone_flag, pipe_cloexec};
use crate::sys::spawn::{child_fail, errno, exec_command, os_err, set_signal};
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

/// A pidfd turns readable once its process has exited (a zombie too), so
/// this tells "it exited" from "not allowed", and a zombie from a live one.
fn has_exited(pidfd: &OwnedFd) -> bool {
    let mut fds = [libc::pollfd {
        fd: pidfd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: polling one valid fd without waiting.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
    rc > 0 && fds[0].revents != 0
}

fn exited_error(pid: i32) -> anyhow::Error {
    anyhow::anyhow!("PID {pid} has exited: there is nothing left to enter")
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
    // SAFETY: the ioctl writes one uid_t.
    if unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_OWNER_UID, &mut uid) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(uid)
}

fn read_at(dir: &OwnedFd, name: &std::ffi::CStr) -> std::io::Result<String> {
    let fd =
        open_at(dir.as_raw_fd(), name, libc::O_RDONLY).ok_or_else(std::io::Error::last_os_error)?;
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
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => anyhow::bail!(
            "no process with PID {pid}: it has exited, or never existed in this PID namespace"
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot open PID {pid}")),
    };
    if has_exited(&pidfd) {
        return Err(exited_error(pid));
    }
    let proc_dir = CString::new(format!("/proc/{pid}"))?;
    // SAFETY: open of a valid C string.
    let dir_fd = unsafe {
        libc::open(
            proc_dir.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir_fd < 0 {
        let e = std::io::Error::last_os_error();
        if has_exited(&pidfd) {
            return Err(exited_error(pid));
        }
        return Err(e).with_context(|| format!("cannot open /proc/{pid}"));
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
            let e = std::io::Error::last_os_error();
            if has_exited(&pidfd) {
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
        };
        let ours = std::fs::metadata(format!("/proc/self/ns/{}", kind.proc_name()))
            .ok()
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
        if fd_inode(theirs.as_raw_fd()) != ours {
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
            let again = open_at(dir.as_raw_fd(), c"ns/user", libc::O_RDONLY);
            if again.and_then(|fd| fd_inode(fd.as_raw_fd())) != fd_inode(userns.as_raw_fd()) {
                if has_exited(&pidfd) {
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
    let root = match open_at(dir.as_raw_fd(), c"root", libc::O_RDONLY | libc::O_DIRECTORY) {
        Some(root) => root,
        None => {
            let e = std::io::Error::last_os_error();
            if has_exited(&pidfd) {
                return Err(exited_error(pid));
            }
            return Err(e).with_context(|| {
                format!("cannot open /proc/{pid}/root (entering another user's process needs root)")
            });
        }
    };
    if has_exited(&pidfd) {
        return Err(exited_error(pid));
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
        enter_and_exec(&enter, &root, identity, &args, rep_wr.as_raw_fd());
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

/// Non-dumpable: no ptrace, and /proc/self files owned by root, for anyone
/// without CAP_SYS_PTRACE over our (the host's) user namespace. exec resets it.
fn set_non_dumpable(report: RawFd) {
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        child_fail(report, &os_err("prctl(PR_SET_DUMPABLE, 0)"));
    }
}

/// Close every fd from 3 up except `keep`: whatever this process inherited
/// (the caller's, the TUI's) or opened must not reach the command.
fn close_fds_except(keep: RawFd) {
    let close = |from: RawFd, to: libc::c_uint| {
        // SAFETY: closing a range of our own descriptors.
        unsafe { libc::syscall(libc::SYS_close_range, from as libc::c_uint, to, 0) == 0 }
    };
    let ok =
        (keep <= 3 || close(3, (keep - 1) as libc::c_uint)) && close(keep + 1, libc::c_uint::MAX);
    if !ok {
        // No close_range (Linux < 5.9): close one by one up to the fd limit.
        // SAFETY: sysconf cannot fail harmfully; close of any number is safe here.
        let max = unsafe { libc::sysconf(libc::_SC_OPEN_MAX) }.clamp(1024, 65536) as RawFd;
        for fd in (3..max).filter(|&fd| fd != keep) {
            // SAFETY: see above.
            unsafe { libc::close(fd) };
        }
    }
}

/// Take `id` (ids inside the user namespace just entered), without any
/// supplementary group. `groups_dropped`: they were already dropped before
/// the setns (root can there; inside, setgroups is often denied).
fn take_identity(id: Identity, groups_dropped: bool, report: RawFd) {
    // SAFETY: plain credential syscalls in a single-threaded child.
    unsafe {
        // If neither drop worked, we were never privileged to drop them:
        // the groups are the caller's own, nothing gained by keeping them.
        if !groups_dropped {
            libc::setgroups(0, std::ptr::null());
        }
        if libc::setresgid(id.gid, id.gid, id.gid) != 0 {
            child_fail(
                report,
                &os_err(&format!(
                    "setresgid({0}, {0}, {0}) inside the user namespace",
                    id.gid
                )),
            );
        }
        if libc::setresuid(id.uid, id.uid, id.uid) != 0 {
            child_fail(
                report,
                &os_err(&format!(
                    "setresuid({0}, {0}, {0}) inside the user namespace",
                    id.uid
                )),
            );
        }
    }
    // A credential change sets dumpable to fs.suid_dumpable, which may be 1.
    set_non_dumpable(report);
}

fn enter_and_exec(
    enter: &[(NsKind, OwnedFd)],
    root: &OwnedFd,
    identity: Option<Identity>,
    argv: &[CString],
    report: RawFd,
) -> ! {
    // Before anything of theirs is joined: once in their user namespace,
    // its owner holds CAP_SYS_PTRACE over us unless we are non-dumpable.
    set_non_dumpable(report);
    // SAFETY: setgroups in a single-threaded child.
    let groups_dropped = identity.is_some() && unsafe { libc::setgroups(0, std::ptr::null()) } == 0;
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
    // Set here, so the waiting process below holds no more than the command.
    if let Some(id) = identity {
        take_identity(id, groups_dropped, report);
    }
    close_fds_except(report);
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
}
