//! Reading procfs files cheaply: openat relative to a kept directory fd,
//! pread at offset 0 (a seq_file regenerates its text), and the shared
//! budget of kept-open stat files. Also the clock and page-size constants.

use super::model::Pid;
use anyhow::Context;
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use nix::unistd::{SysconfVar, sysconf};
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Time since boot in clock ticks, the unit of a process's start time.
pub(super) fn boot_clock_ticks(ticks_per_sec: u64) -> u64 {
    use nix::time::{ClockId, clock_gettime};
    let Ok(t) = clock_gettime(ClockId::CLOCK_BOOTTIME) else {
        return 0;
    };
    t.tv_sec() as u64 * ticks_per_sec + t.tv_nsec() as u64 * ticks_per_sec / 1_000_000_000
}

/// How reading one file of a process went.
pub(super) enum Read {
    Ok,
    /// The process is gone (ENOENT/ESRCH): skip it silently.
    Gone,
    /// Readable in principle but refused or failed; the reason is kept.
    Failed(Errno),
}

/// Reads the whole file `path` (relative to `dir`) into `buf`. A read that
/// returns less than asked for is the end: procfs files are generated whole
/// (and regular files only come up short at their end), which saves the
/// extra read(2) that would return 0.
pub(super) fn read_at(dir: BorrowedFd<'_>, path: &CStr, buf: &mut Vec<u8>) -> Read {
    buf.clear();
    let fd = match openat(dir, path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => return classify(e),
    };
    pread_whole(fd.as_fd(), buf)
}

pub(super) fn classify(e: Errno) -> Read {
    match e {
        Errno::ENOENT | Errno::ESRCH => Read::Gone,
        other => Read::Failed(other),
    }
}

pub(super) fn reason(e: Errno) -> String {
    match e {
        Errno::EACCES | Errno::EPERM => denied_hint().to_string(),
        other => other.desc().to_string(),
    }
}

/// What to say when the kernel refuses to show another process: as root,
/// that process holds capabilities we lack; otherwise, root would see it.
pub fn denied_hint() -> &'static str {
    if nix::unistd::geteuid().is_root() {
        "permission denied even to root (the process holds capabilities this one lacks)"
    } else {
        "permission denied (run as root to see it)"
    }
}

/// Reads a whole procfs file from offset 0 of an open fd into `buf` (a
/// seq_file regenerates its text for a read at offset 0).
#[inline]
pub(super) fn pread_whole(fd: BorrowedFd<'_>, buf: &mut Vec<u8>) -> Read {
    buf.clear();
    loop {
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(buf.capacity().max(4096));
        }
        let len = buf.len();
        let spare = buf.capacity() - len;
        buf.resize(len + spare, 0);
        match nix::sys::uio::pread(fd, &mut buf[len..], len as libc::off_t) {
            Ok(n) if n < spare => {
                buf.truncate(len + n);
                return Read::Ok;
            }
            Ok(n) => buf.truncate(len + n),
            Err(Errno::EINTR) => buf.truncate(len),
            Err(e) => {
                buf.truncate(len);
                return classify(e);
            }
        }
    }
}

/// Returns free heap pages to the kernel (glibc keeps freed memory
/// resident otherwise; a dropped 10,000-process snapshot is several MiB).
pub(super) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only gives free heap pages back to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// A /proc/PID/stat file a reader keeps open between refreshes. The
/// budget for them is shared by every reader in this process (the TUI's
/// collector, a lesson's checks, `isolab ns`), so together they never run
/// the process out of file descriptors: an open that fails for lack of fds
/// would look like an exited process.
pub(super) struct KeptStat(pub(super) OwnedFd);

pub(super) static KEPT_STATS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

impl KeptStat {
    /// Keeps `fd` if the shared budget allows; otherwise it is closed.
    pub(super) fn keep(fd: OwnedFd) -> Option<KeptStat> {
        use std::sync::atomic::Ordering;
        let budget = *KEPT_STAT_BUDGET.get_or_init(stat_fd_budget);
        KEPT_STATS
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < budget).then_some(n + 1)
            })
            .ok()
            .map(|_| KeptStat(fd))
    }
}

impl Drop for KeptStat {
    fn drop(&mut self) {
        KEPT_STATS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

pub(super) static KEPT_STAT_BUDGET: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// How many stat files all readers together may keep open: raises this
/// process's soft open-files limit towards the hard one (at most 65,536;
/// the fds are close-on-exec, so children never see them) and leaves a
/// sixteenth of it, and at least 1,024, for everything else.
pub(super) fn stat_fd_budget() -> usize {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    let wanted = hard.min(65_536).max(soft);
    let soft = if wanted > soft && setrlimit(Resource::RLIMIT_NOFILE, wanted, hard).is_ok() {
        wanted
    } else {
        soft
    };
    let soft = soft as usize;
    soft.saturating_sub((soft / 16).max(1024))
}

/// Reads the target of the symlink `name` under `dir` into `out` (no
/// allocation: namespace links are short, like `pid:[4026531836]`). Raw,
/// because nix's `readlinkat` allocates a path per call, and this runs ten
/// times for every new process.
pub(super) fn readlink_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    out: &mut [u8; 64],
) -> Result<usize, Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: `name` is NUL-terminated and `out` is a writable buffer of the
    // length passed; readlinkat writes at most that many bytes.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// Opens /proc/PID; `None` when there is no such process (any more).
pub(super) fn open_pid_dir(root: BorrowedFd<'_>, pid: Pid) -> Option<OwnedFd> {
    let mut name = [0u8; 16];
    openat(
        root,
        pid_name(pid, &mut name),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()
}

/// `"<pid>"` or `"<pid>/<file>"` as a C string in `out`, without allocating.
#[inline]
pub(super) fn pid_path<'a>(pid: Pid, file: &[u8], out: &'a mut [u8; 32]) -> &'a CStr {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(&mut out[..]);
    // A PID has at most 10 digits; file names here are short: this fits.
    let _ = write!(cursor, "{pid}");
    if !file.is_empty() {
        let _ = cursor.write_all(b"/");
        let _ = cursor.write_all(file);
    }
    let _ = cursor.write_all(b"\0");
    let end = cursor.position() as usize;
    CStr::from_bytes_with_nul(&out[..end]).unwrap_or(c"")
}

pub(super) fn pid_name(pid: Pid, out: &mut [u8; 16]) -> &CStr {
    let mut wide = [0u8; 32];
    let len = pid_path(pid, b"", &mut wide).to_bytes_with_nul().len();
    out[..len].copy_from_slice(&wide[..len]);
    CStr::from_bytes_with_nul(&out[..len]).unwrap_or(c"")
}

pub(super) fn page_size() -> u64 {
    match sysconf(SysconfVar::PAGE_SIZE) {
        Ok(Some(n)) if n > 0 => n as u64,
        _ => 4096,
    }
}

/// Clock ticks per second (`getconf CLK_TCK`), 100 if unknown.
pub fn ticks_per_sec() -> u64 {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(n)) if n > 0 => n as u64,
        _ => 100,
    }
}

/// btime from `<root>/stat`: the boot time in seconds since the epoch.
pub fn boot_time(root: &Path) -> anyhow::Result<u64> {
    let path = root.join("stat");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (is procfs mounted there?)", path.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no btime line in {}", path.display()))
}
