//! pidfds: a handle on one process that a reused PID cannot redirect. The
//! one pidfd_open(2) and pidfd_send_signal(2) of isolab (nix has neither).

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// `pidfd_open(2)`, keeping the errno (ESRCH: no such process; ENOSYS: a
/// kernel older than 5.3).
pub fn open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; a non-negative result is
    // a new fd that we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this fd to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Sends `sig` through a pidfd; false when the process has gone.
pub fn send_signal(pidfd: &OwnedFd, sig: i32) -> bool {
    // SAFETY: plain syscall on a valid fd with a null siginfo.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    rc == 0
}

/// Whether the process behind `pidfd` has exited (a zombie too): a pidfd
/// turns readable then. Does not wait.
pub fn has_exited(pidfd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    matches!(poll(&mut fds, PollTimeout::ZERO), Ok(n) if n > 0)
        && fds[0]
            .revents()
            .is_some_and(|r| r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP))
}
