//! The owner lock: the file a live isolab holds an exclusive flock on for
//! its whole life, and how another isolab probes it (see the module docs
//! of `registry`, "Who is alive").

use crate::sys::paths::{self, Dir};
use crate::sys::process::ProcessId;
use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The lock file a live isolab holds for its whole life.
#[derive(Debug)]
pub(super) struct OwnerLock {
    pub(super) dir: Dir,
    /// `<pid>-<start>-<random>`: the lock is `<stem>.lock`, records `<stem>.<n>.json`.
    pub(super) stem: String,
    file: Option<Flock<std::fs::File>>,
    slot: usize,
}

impl Drop for OwnerLock {
    fn drop(&mut self) {
        // The fd leaves the fork list before it is closed, so a child never
        // closes a number that has been reused for something else.
        if let Some(s) = LOCK_FDS.get(self.slot) {
            s.store(-1, Ordering::SeqCst);
        }
        // Unlinked while still held: no one can take a lock on a name that
        // is about to go.
        let _ = self.dir.remove_file(&format!("{}.lock", self.stem));
        self.file.take();
    }
}

/// The lock fds of this process, for `close_locks_in_child` (which runs
/// after fork and may not take a mutex).
static LOCK_FDS: [AtomicI32; 16] = [const { AtomicI32::new(-1) }; 16];

/// The locks of this process, one per registry directory.
pub(super) static LOCKS: Mutex<Vec<Weak<OwnerLock>>> = Mutex::new(Vec::new());

/// Closes this process's lock fds: for a child just forked, which must
/// not keep its parent's records looking alive once the parent is dead.
/// Only `close`, so it is safe between fork and exec.
pub fn close_locks_in_child() {
    for slot in &LOCK_FDS {
        let fd = slot.load(Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: closing an fd inherited from the parent. Raw: the fd
            // is owned by the parent's `OwnerLock`, so there is no OwnedFd
            // here to hand to nix's `close`, and making one would be a lie.
            unsafe { libc::close(fd) };
        }
    }
}

fn random_hex() -> anyhow::Result<String> {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom fills the buffer we own, at most its length (nix
    // has no getrandom).
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        return Err(std::io::Error::last_os_error()).context("getrandom failed");
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// This process's lock in `dir`, created and taken on first use.
pub(super) fn owner_lock(dir: &Dir) -> anyhow::Result<Arc<OwnerLock>> {
    let mut locks = LOCKS.lock().unwrap_or_else(|p| p.into_inner());
    locks.retain(|w| w.strong_count() > 0);
    if let Some(lock) = locks
        .iter()
        .filter_map(Weak::upgrade)
        .find(|l| l.dir.path() == dir.path())
    {
        return Ok(lock);
    }
    let me = std::process::id() as i32;
    let start = ProcessId::of(me)
        .context("cannot read this process's start time from /proc/self/stat")?
        .start_time;
    let stem = format!("{me}-{start}-{}", random_hex()?);
    let name = format!("{stem}.lock");
    // Locked under a name no one probes, then renamed into place: a
    // `<stem>.lock` that others can see is always held already. (Created
    // under its own name, a concurrent cleanup could take the lock in the
    // moment before we do, unlink it as a dead owner's, and leave us holding
    // a nameless file while our records look dead.)
    let pending = format!(".{stem}.pending");
    let file = dir.create_new(&pending)?;
    let file = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        anyhow::anyhow!("cannot lock {}: {e}", dir.path().join(&pending).display())
    })?;
    dir.rename_noreplace(&pending, &name)?;
    let fd = file.as_raw_fd();
    let slot = LOCK_FDS
        .iter()
        .position(|s| {
            s.compare_exchange(-1, fd, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        })
        .unwrap_or(usize::MAX);
    let lock = Arc::new(OwnerLock {
        dir: dir.try_clone()?,
        stem,
        file: Some(file),
        slot,
    });
    locks.push(Arc::downgrade(&lock));
    Ok(lock)
}

/// Takes this process's lock in the runtime directory and keeps it while
/// the returned value lives: whoever creates something a later cleanup
/// must judge (an isolab cgroup) holds this first.
#[derive(Debug, Clone)]
pub struct Alive(#[allow(dead_code)] Arc<OwnerLock>);

pub fn hold_owner_lock() -> anyhow::Result<Alive> {
    Ok(Alive(owner_lock(&paths::runtime_dir()?)?))
}

/// What the lock of a record's stem says about its owner.
pub(super) enum Owner {
    /// Someone holds the lock: the owner (or something it forked) lives.
    Alive,
    /// We hold the lock now: the owner is gone.
    Gone(Option<Flock<std::fs::File>>),
}

/// Probes `<stem>.lock` in `dir`. A missing lock file means the owner is
/// gone (a live owner keeps its lock file until it ends); a lock file that
/// is not a regular file of ours is an error (reported).
pub(super) fn probe(dir: &Dir, stem: &str) -> anyhow::Result<Owner> {
    let Some(file) = dir.open_regular(OsStr::new(&format!("{stem}.lock")))? else {
        return Ok(Owner::Gone(None));
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(held) => Ok(Owner::Gone(Some(held))),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(Owner::Alive),
        Err((_, e)) => Err(anyhow::anyhow!(
            "cannot probe the lock {}: {e}",
            dir.path().join(format!("{stem}.lock")).display()
        )),
    }
}

/// Whether `<pid>-<start>-<16 hex>` is the stem of an isolab lock.
pub(super) fn is_stem(stem: &str) -> bool {
    let mut parts = stem.split('-');
    let ok = matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some(p), Some(s), Some(r), None)
            if p.parse::<i32>().is_ok()
                && s.parse::<u64>().is_ok()
                && r.len() == 16
                && r.bytes().all(|b| b.is_ascii_hexdigit())
    );
    ok
}

/// Whether a live isolab holds a lock under `creator`'s pid and start time
/// in the runtime directory: `Some(true)` held, `Some(false)` lock files
/// exist and none is held, `None` no lock file names that creator (an
/// isolab from before locks; the caller falls back to /proc).
pub fn creator_lock_held(creator: &ProcessId) -> Option<bool> {
    let dir = Dir::open_existing(&paths::runtime_path()).ok()??;
    let prefix = creator.name_prefix();
    let mut found = false;
    for name in dir.names().ok()? {
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".lock")) else {
            continue;
        };
        if !stem.starts_with(&prefix) || !is_stem(stem) {
            continue;
        }
        found = true;
        match probe(&dir, stem) {
            Ok(Owner::Gone(_)) => {}
            // Cannot tell: count it as alive (never kill on a doubt).
            Ok(Owner::Alive) | Err(_) => return Some(true),
        }
    }
    found.then_some(false)
}
