//! The record of everything isolab creates: children, cgroups and temp
//! dirs (and mounts: none are recorded now, but cleanup still detaches those
//! an older isolab listed, inside its temp dirs), kept in the runtime directory (`sys::paths::runtime_path`,
//! created 0700 and checked to be ours before use).
//!
//! # Who is alive
//! Every isolab process that records anything first creates a lock file
//! `<pid>-<start>-<random>.lock` and holds an exclusive `flock` on it for its
//! whole life (the kernel drops it when the process dies, however it dies).
//! Its records are `<that stem>.<n>.json`. A record is a leftover only when
//! its lock can be taken: that holds across PID namespaces, where the PID
//! and start time in a name mean nothing to the reader. Forked children
//! close the lock fd (`close_locks_in_child`) so they do not keep a dead
//! isolab looking alive.
//!
//! # What cleanup touches
//! A record is rewritten by writing a new file and renaming it over the old
//! one, so a `kill -9` at any moment leaves a complete record. Cleanup reads
//! only regular files of ours and only the exact shape isolab writes
//! (unknown fields: the record is refused and reported). Of what a record
//! lists it acts only on what it can prove isolab made (see `remove_listed`);
//! anything else is reported and left alone. The directory is ours, so only
//! our own uid can plant a record there: the remaining trust is in that uid.
//!
//! Processes are identified by PID *and* start time (field 22 of
//! /proc/PID/stat), and signalled through a pidfd opened before the start
//! time is checked, so a PID the kernel has since reused for a stranger is
//! never signalled.

use crate::sys::cgroup::{Creator, MemoryHierarchy};
use crate::sys::paths::{self, Dir};
use crate::sys::pidfd;
use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A process as isolab knows it: PID plus kernel start time (clock ticks
/// since boot), which together never repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: i32,
    pub start_time: u64,
}

impl ProcessId {
    /// The identity of a live process, read from `/proc/PID/stat`; `None`
    /// when it has gone.
    pub fn of(pid: i32) -> Option<ProcessId> {
        start_time(Path::new("/proc"), pid).map(|start_time| ProcessId { pid, start_time })
    }

    /// Whether this very process (not just some process with the same PID)
    /// is still alive.
    pub fn is_alive(&self) -> bool {
        let Some(stat) = read_stat(Path::new("/proc"), self.pid) else {
            return false;
        };
        // A zombie (Z) or dead (X) process has ended; it only waits to be reaped.
        !matches!(stat.state, 'Z' | 'X') && stat.start_ticks == self.start_time
    }
}

/// Field 22 of `<proc_root>/PID/stat` (start time), parsed after the last ')'
/// so a comm like `x) R 1` cannot shift the fields.
pub fn start_time(proc_root: &Path, pid: i32) -> Option<u64> {
    read_stat(proc_root, pid).map(|s| s.start_ticks)
}

/// `<proc_root>/PID/stat`, parsed by the one stat parser (`sys::procs`).
fn read_stat(proc_root: &Path, pid: i32) -> Option<crate::sys::procs::Stat> {
    let text = std::fs::read(proc_root.join(pid.to_string()).join("stat")).ok()?;
    crate::sys::procs::parse_stat(&text)
}

/// What one isolab process has created and must remove. Exactly these
/// fields: a file with any other is not a record isolab wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub owner: Option<ProcessId>,
    pub children: Vec<ProcessId>,
    pub cgroups: Vec<PathBuf>,
    pub mounts: Vec<PathBuf>,
    pub temp_dirs: Vec<PathBuf>,
}

/// Where records live (`sys::paths::runtime_path`); not checked here.
pub fn registry_dir() -> PathBuf {
    paths::runtime_path()
}

// ---- the owner lock ------------------------------------------------------

/// The lock file a live isolab holds for its whole life.
#[derive(Debug)]
struct OwnerLock {
    dir: Dir,
    /// `<pid>-<start>-<random>`: the lock is `<stem>.lock`, records `<stem>.<n>.json`.
    stem: String,
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
static LOCKS: Mutex<Vec<Weak<OwnerLock>>> = Mutex::new(Vec::new());

/// Closes this process's lock fds: for a child just forked, which must
/// not keep its parent's records looking alive once the parent is dead.
/// Only `close`, so it is safe between fork and exec.
pub fn close_locks_in_child() {
    for slot in &LOCK_FDS {
        let fd = slot.load(Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: closing an fd inherited from the parent.
            unsafe { libc::close(fd) };
        }
    }
}

fn random_hex() -> anyhow::Result<String> {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom fills the buffer we own.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        return Err(std::io::Error::last_os_error()).context("getrandom failed");
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// This process's lock in `dir`, created and taken on first use.
fn owner_lock(dir: &Dir) -> anyhow::Result<Arc<OwnerLock>> {
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
enum Owner {
    /// Someone holds the lock: the owner (or something it forked) lives.
    Alive,
    /// We hold the lock now: the owner is gone.
    Gone(Option<Flock<std::fs::File>>),
}

/// Probes `<stem>.lock` in `dir`. A missing lock file means the owner is
/// gone (a live owner keeps its lock file until it ends); a lock file that
/// is not a regular file of ours is an error (reported).
fn probe(dir: &Dir, stem: &str) -> anyhow::Result<Owner> {
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
fn is_stem(stem: &str) -> bool {
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
pub fn creator_lock_held(creator: &Creator) -> Option<bool> {
    let dir = Dir::open_existing(&paths::runtime_path()).ok()??;
    let prefix = format!("{}-{}-", creator.pid, creator.start_ticks);
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

// ---- a live registration -------------------------------------------------

/// This process's own live record. It is written at once (so a run whose
/// record cannot be written never starts), then again at every change (a
/// new file renamed over the old: `kill -9` at any moment leaves a record
/// that lists everything). `finish`, or dropping it, removes what it lists
/// and then the record.
#[derive(Debug)]
pub struct Registration {
    lock: Arc<OwnerLock>,
    name: String,
    record: Record,
    done: bool,
}

impl Registration {
    /// Opens (and writes, empty) the record of this process in `dir`
    /// (usually `registry_dir()`), which is created 0700 and checked.
    pub fn create_in(dir: &Path) -> anyhow::Result<Registration> {
        let dir = Dir::ensure(dir).context("cannot use the registry directory")?;
        let lock = owner_lock(&dir)?;
        let record = Record {
            owner: ProcessId::of(std::process::id() as i32),
            ..Record::default()
        };
        let mut reg = Registration {
            name: format!("{}.{}.json", lock.stem, next_seq()),
            lock,
            record,
            done: false,
        };
        if let Err(e) = reg.save() {
            reg.done = true;
            return Err(e.context("cannot record what isolab creates, so it starts nothing"));
        }
        Ok(reg)
    }

    pub fn create() -> anyhow::Result<Registration> {
        Registration::create_in(&registry_dir())
    }

    pub fn record(&self) -> &Record {
        &self.record
    }

    /// The record file's path.
    pub fn path(&self) -> PathBuf {
        self.lock.dir.path().join(&self.name)
    }

    pub fn add_child(&mut self, pid: i32) -> anyhow::Result<()> {
        if let Some(id) = ProcessId::of(pid) {
            self.record.children.push(id);
        }
        self.save()
    }

    pub fn add_cgroup(&mut self, path: &Path) -> anyhow::Result<()> {
        self.record.cgroups.push(path.to_path_buf());
        self.save()
    }

    /// Creates (0700) and records a temp dir of this record,
    /// `<registry>/tmp-<stem>-<label>`: the only temp dirs cleanup removes.
    pub fn temp_dir(&mut self, label: &str) -> anyhow::Result<PathBuf> {
        let name = format!("tmp-{}-{}", self.lock.stem, sanitize(label));
        let path = self.lock.dir.path().join(&name);
        // Recorded before it exists, so no crash leaves it unlisted.
        self.record.temp_dirs.push(path.clone());
        self.save()?;
        self.lock.dir.subdir(&name)?;
        Ok(path)
    }

    fn save(&mut self) -> anyhow::Result<()> {
        let text = serde_json::to_vec(&self.record)?;
        self.lock
            .dir
            .write_atomic(&self.name, &text)
            .context("cannot write the registry record")
    }

    /// Remove everything still listed (children killed, cgroups, mounts and
    /// temp dirs removed), then the record itself.
    pub fn finish(mut self) -> anyhow::Result<()> {
        self.finish_now()
    }

    fn finish_now(&mut self) -> anyhow::Result<()> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        // Finding the hierarchy reads mountinfo: only when a cgroup is listed.
        let hierarchy = if self.record.cgroups.is_empty() {
            None
        } else {
            MemoryHierarchy::detect().ok()
        };
        let scope = Scope {
            dir: &self.lock.dir,
            stem: &self.lock.stem,
            hierarchy: hierarchy.as_ref(),
            owner_is_me: true,
        };
        let result = remove_listed(&self.record, &scope);
        let _ = self.lock.dir.remove_file(&self.name);
        result.map(|_| ())
    }
}

impl Drop for Registration {
    /// An early return (an error after `create`) leaves neither a stale
    /// record nor what it lists.
    fn drop(&mut self) {
        let _ = self.finish_now();
    }
}

fn sanitize(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(32)
        .collect();
    if s.is_empty() { "tmp".into() } else { s }
}

fn next_seq() -> u64 {
    use std::sync::atomic::AtomicU64;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// The record files of isolab processes with this PID (tests use it to see
/// what a given run created). Only regular files of ours are read.
pub fn records_of(dir: &Path, owner_pid: i32) -> Vec<Record> {
    let prefix = format!("{owner_pid}-");
    let Ok(Some(dir)) = Dir::open_existing(dir) else {
        return Vec::new();
    };
    dir.names()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| {
            let n = n.to_string_lossy();
            n.starts_with(&prefix) && n.ends_with(".json")
        })
        .filter_map(|n| serde_json::from_slice(&dir.read_regular(&n).ok()??).ok())
        .collect()
}

// ---- cleanup -------------------------------------------------------------

/// What a cleanup removed, and what it found and left alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub records: usize,
    pub children_killed: usize,
    pub cgroups_removed: usize,
    pub mounts_removed: usize,
    pub temp_dirs_removed: usize,
    /// One line per thing a record named that isolab cannot prove it made
    /// (already escaped for the terminal).
    pub left_alone: Vec<String>,
}

impl CleanupReport {
    /// Adds what another cleanup did (its record count aside).
    fn add(&mut self, other: CleanupReport) {
        self.children_killed += other.children_killed;
        self.cgroups_removed += other.cgroups_removed;
        self.mounts_removed += other.mounts_removed;
        self.temp_dirs_removed += other.temp_dirs_removed;
        self.left_alone.extend(other.left_alone);
    }

    fn leave(&mut self, what: String) {
        self.left_alone.push(what);
    }

    /// Whether anything was removed (the `left_alone` notes aside).
    pub fn removed_anything(&self) -> bool {
        self.records
            + self.children_killed
            + self.cgroups_removed
            + self.mounts_removed
            + self.temp_dirs_removed
            > 0
    }
}

impl std::fmt::Display for CleanupReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} leftover record(s): killed {} process(es), removed {} cgroup(s), {} mount(s), {} temp dir(s)",
            self.records,
            self.children_killed,
            self.cgroups_removed,
            self.mounts_removed,
            self.temp_dirs_removed
        )?;
        for note in &self.left_alone {
            write!(f, "\nleft alone: {note}")?;
        }
        Ok(())
    }
}

fn esc(p: &Path) -> String {
    crate::text::escape_os(p.as_os_str()).into_owned()
}

/// Only what dead isolab processes recorded (no sweep of the cgroup tree):
/// the cheap check `isolab run` does at every start.
pub fn remove_recorded_leftovers() -> anyhow::Result<CleanupReport> {
    remove_leftovers_in(&registry_dir())
}

/// Find records whose owner is gone and remove what they list. Safe to call
/// at every start: records of live isolab processes are left alone.
pub fn remove_leftovers() -> anyhow::Result<CleanupReport> {
    let Some(dir) = Dir::open_existing(&registry_dir()).context("cannot read the registry")? else {
        return sweep(CleanupReport::default());
    };
    let _one_at_a_time = cleanup_lock(&dir)?;
    let report = remove_leftovers_of(&dir)?;
    sweep(report)
}

/// Belt and braces: isolab cgroups whose creator is gone, even if a crash
/// came between creating one and recording it.
fn sweep(mut report: CleanupReport) -> anyhow::Result<CleanupReport> {
    match crate::sys::cgroup::remove_leftovers() {
        Ok(removed) => report.cgroups_removed += removed.len(),
        Err(e) => report.leave(crate::text::escape(&format!("{e:#}")).into_owned()),
    }
    Ok(report)
}

/// Cleanups take turns: while one holds a dead owner's lock to remove its
/// leftovers, another must not read that held lock as "owner alive" and
/// report the leftovers kept. Blocks until the running cleanup is done.
fn cleanup_lock(dir: &Dir) -> anyhow::Result<Flock<std::fs::File>> {
    let file = dir.open_lock_file("cleanup.lock")?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| {
        anyhow::anyhow!(
            "cannot lock {}: {e}",
            dir.path().join("cleanup.lock").display()
        )
    })
}

/// Removes what this very process created and recorded (children, mounts,
/// cgroups, temp dirs; its records stay, for the next start to tidy): for a
/// way out on which destructors do not run (the signal watcher's forced
/// exit). Best effort.
pub fn remove_own() -> CleanupReport {
    let mut total = CleanupReport::default();
    let locks: Vec<Arc<OwnerLock>> = LOCKS
        .lock()
        .map(|l| l.iter().filter_map(Weak::upgrade).collect())
        .unwrap_or_default();
    let hierarchy = MemoryHierarchy::detect().ok();
    for lock in &locks {
        let scope = Scope {
            dir: &lock.dir,
            stem: &lock.stem,
            hierarchy: hierarchy.as_ref(),
            owner_is_me: true,
        };
        for name in lock.dir.names().unwrap_or_default() {
            let Some(n) = name.to_str() else { continue };
            if record_stem(n) != Some(lock.stem.as_str()) {
                continue;
            }
            let Ok(Some(text)) = lock.dir.read_regular(&name) else {
                continue;
            };
            if let Ok(record) = serde_json::from_slice::<Record>(&text)
                && let Ok(r) = remove_listed(&record, &scope)
            {
                total.add(r);
            }
        }
    }
    if let Ok(removed) = crate::sys::cgroup::remove_own() {
        total.cgroups_removed += removed.len();
    }
    total
}

/// The stem of a record name `<stem>.<n>.json`, if it has that shape.
fn record_stem(name: &str) -> Option<&str> {
    let rest = name.strip_suffix(".json")?;
    let (stem, seq) = rest.split_once('.')?;
    (is_stem(stem) && seq.parse::<u64>().is_ok()).then_some(stem)
}

/// The stem of a temp file `.<stem>.<n>.json.<pid>.<m>.tmp` of `write_atomic`.
fn tmp_stem(name: &str) -> Option<&str> {
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let stem = rest.split('.').next()?;
    is_stem(stem).then_some(stem)
}

/// Removes the leftovers of dead owners recorded in `dir` (no sweep).
pub fn remove_leftovers_in(dir: &Path) -> anyhow::Result<CleanupReport> {
    let Some(dir) = Dir::open_existing(dir).context("cannot read the registry")? else {
        return Ok(CleanupReport::default());
    };
    let _one_at_a_time = cleanup_lock(&dir)?;
    remove_leftovers_of(&dir)
}

fn remove_leftovers_of(dir: &Dir) -> anyhow::Result<CleanupReport> {
    let mut total = CleanupReport::default();
    // Finding the hierarchy reads mountinfo: only once a leftover needs it
    // (every `isolab run` comes through here, usually with nothing to do).
    let hierarchy_cell = std::cell::OnceCell::new();
    let hierarchy = || hierarchy_cell.get_or_init(|| MemoryHierarchy::detect().ok());
    let mut owners: HashMap<String, Owner> = HashMap::new();
    let mut first_error = None;
    let mut names = dir.names()?;
    names.sort();
    for name in &names {
        let Some(text_name) = name.to_str() else {
            if name.to_string_lossy().ends_with(".json") {
                total.leave(format!(
                    "{}: not a record this isolab wrote (an older isolab's, or planted): check it and remove it by hand",
                    esc(&dir.path().join(name))
                ));
            }
            continue;
        };
        let is_tmp = tmp_stem(text_name).is_some();
        let stem = match (record_stem(text_name), tmp_stem(text_name)) {
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => {
                // Locks, the lessons' subdirectory and temp dirs are dealt
                // with elsewhere; any other `.json` is not a record of ours.
                if text_name.ends_with(".json") {
                    total.leave(format!(
                        "{}: not a record this isolab wrote (an older isolab's, or planted): check it and remove it by hand",
                        esc(&dir.path().join(name))
                    ));
                }
                continue;
            }
        };
        if !owners.contains_key(stem) {
            match probe(dir, stem) {
                Ok(o) => {
                    owners.insert(stem.to_string(), o);
                }
                Err(e) => {
                    total.leave(crate::text::escape(&format!("{e:#}")).into_owned());
                    owners.insert(stem.to_string(), Owner::Alive);
                }
            }
        }
        if matches!(owners.get(stem), Some(Owner::Alive)) {
            continue;
        }
        if is_tmp {
            // Half-written by an owner that is gone.
            let _ = dir.remove_file(text_name);
            continue;
        }
        let record = dir
            .read_regular(name)
            .and_then(|t| t.context("vanished"))
            .and_then(|t| {
                serde_json::from_slice::<Record>(&t).context("not a record isolab wrote")
            });
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                total.leave(format!(
                    "{}: {}",
                    esc(&dir.path().join(name)),
                    crate::text::escape(&format!("{e:#}"))
                ));
                continue;
            }
        };
        let scope = Scope {
            dir,
            stem,
            hierarchy: hierarchy().as_ref(),
            owner_is_me: false,
        };
        match remove_listed(&record, &scope) {
            Ok(r) => {
                total.records += 1;
                total.add(r);
                let _ = dir.remove_file(text_name);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    // Locks of owners that are gone and whose records are all removed.
    for name in dir.names().unwrap_or_default() {
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".lock")) else {
            continue;
        };
        if !is_stem(stem) || has_records(dir, stem) || cgroup_of_creator_left(stem, hierarchy()) {
            continue;
        }
        let held = match owners.remove(stem) {
            Some(Owner::Gone(h)) => h,
            Some(Owner::Alive) => continue,
            None => match probe(dir, stem) {
                Ok(Owner::Gone(h)) => h,
                _ => continue,
            },
        };
        if held.is_some() {
            let _ = dir.remove_file(&format!("{stem}.lock"));
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

fn has_records(dir: &Dir, stem: &str) -> bool {
    dir.names().unwrap_or_default().iter().any(|n| {
        n.to_str()
            .is_some_and(|n| record_stem(n) == Some(stem) || tmp_stem(n) == Some(stem))
    })
}

/// Whether a cgroup named for the lock's creator still exists: then the
/// lock file stays, as the proof the sweep judges that cgroup by.
fn cgroup_of_creator_left(stem: &str, hierarchy: &Option<MemoryHierarchy>) -> bool {
    let Some(h) = hierarchy else { return false };
    let mut parts = stem.splitn(3, '-');
    let prefix = format!(
        "{}-{}-",
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("")
    );
    std::fs::read_dir(h.isolab_parent()).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
    })
}

/// What a record may touch: its own directory and stem, the host's memory
/// hierarchy, and whether its owner is this very process.
struct Scope<'a> {
    dir: &'a Dir,
    stem: &'a str,
    hierarchy: Option<&'a MemoryHierarchy>,
    owner_is_me: bool,
}

impl Scope<'_> {
    /// A cgroup isolab made for this record's owner: directly under the
    /// isolab parent of the memory hierarchy, named for the owner.
    fn accepts_cgroup(&self, record: &Record, path: &Path) -> Result<(), String> {
        let Some(h) = self.hierarchy else {
            return Err("no memory cgroup hierarchy on this host".into());
        };
        if path.parent() != Some(h.isolab_parent().as_path()) {
            return Err(format!(
                "not directly under isolab's parent {}",
                esc(&h.isolab_parent())
            ));
        }
        let creator = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(Creator::from_dir_name);
        let owner = record.owner.map(Creator::from);
        if creator.is_none() || creator != owner {
            return Err("not named for this record's owner".into());
        }
        Ok(())
    }

    /// A temp dir isolab made for this record: `<registry>/tmp-<stem>-<label>`.
    fn temp_name<'p>(&self, path: &'p Path) -> Option<&'p OsStr> {
        let name = path.file_name()?;
        let ok = path.parent() == Some(self.dir.path())
            && name
                .to_str()
                .and_then(|n| n.strip_prefix("tmp-"))
                .and_then(|n| n.strip_prefix(self.stem))
                .is_some_and(|rest| rest.starts_with('-') && !rest.contains('/'));
        ok.then_some(name)
    }
}

/// Whether a recorded child is provably a process isolab started for this
/// record: same process (pidfd held, start time checked by the caller),
/// started no earlier than the owner, and either forked by this very
/// process (or by another recorded child of it), or a member of a cgroup
/// isolab made for this record.
fn child_is_ours(child: &ProcessId, record: &Record, scope: &Scope, cgroups: &[PathBuf]) -> bool {
    let Some(owner) = record.owner else {
        return false;
    };
    if child.start_time < owner.start_time {
        return false;
    }
    if scope.owner_is_me
        && let Some(stat) = read_stat(Path::new("/proc"), child.pid)
    {
        let me = std::process::id() as i32;
        let parent_ok = stat.ppid == me
            || record
                .children
                .iter()
                .any(|c| c.pid == stat.ppid && c != child && c.is_alive());
        if parent_ok {
            return true;
        }
    }
    match scope.hierarchy {
        Some(h) => crate::sys::cgroup::memory_dir_of(Path::new("/proc"), child.pid, h)
            .is_ok_and(|d| cgroups.contains(&d)),
        None => false,
    }
}

/// Remove what one record lists, children first (a cgroup with live
/// processes cannot be removed). Only what is provably isolab's is touched
/// (see `Scope`, `child_is_ours`); the rest is reported in `left_alone`.
fn remove_listed(record: &Record, scope: &Scope) -> anyhow::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    let mut cgroups = Vec::new();
    for cgroup in &record.cgroups {
        match scope.accepts_cgroup(record, cgroup) {
            Ok(()) => cgroups.push(cgroup.clone()),
            Err(why) => report.leave(format!("cgroup {}: {why}", esc(cgroup))),
        }
    }
    for child in &record.children {
        let Some(pidfd) = pidfd::open(child.pid).ok() else {
            continue;
        };
        // The pidfd pins one process; its start time says whether it is the one recorded.
        if !child.is_alive() {
            continue;
        }
        if !child_is_ours(child, record, scope, &cgroups) {
            let comm = read_stat(Path::new("/proc"), child.pid)
                .map(|s| s.comm)
                .unwrap_or_default();
            report.leave(format!(
                "process {} ({}): not provably started by isolab",
                child.pid,
                crate::text::escape(&comm)
            ));
            continue;
        }
        if pidfd::send_signal(&pidfd, libc::SIGKILL) {
            report.children_killed += 1;
        }
    }
    for mount in &record.mounts {
        let inside_temp =
            |p: &Path| scope.temp_name(p).is_some() && record.temp_dirs.iter().any(|t| t == p);
        if !(inside_temp(mount) || mount.parent().is_some_and(inside_temp)) {
            report.leave(format!(
                "mount {}: not inside an isolab temp dir",
                esc(mount)
            ));
            continue;
        }
        let Ok(c) = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: c is a valid NUL-terminated path.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) } == 0 {
            report.mounts_removed += 1;
        }
    }
    let mut first_error = None;
    for cgroup in &cgroups {
        let Some(h) = scope.hierarchy else { break };
        // The parent of a cgroup mount has no symlinks, but check the entry itself.
        match std::fs::symlink_metadata(cgroup) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                report.leave(format!("cgroup {}: not a directory", esc(cgroup)));
                continue;
            }
            Err(_) => continue,
        }
        match crate::sys::cgroup::owned::remove_cgroup_dir(h.version, cgroup) {
            Ok(()) => report.cgroups_removed += 1,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    for dir in &record.temp_dirs {
        let Some(name) = scope.temp_name(dir) else {
            report.leave(format!("temp dir {}: not one isolab made", esc(dir)));
            continue;
        };
        if !scope.dir.is_own_dir(name) {
            continue;
        }
        // remove_dir_all does not follow symlinks inside; the dir itself
        // was just checked to be a directory of ours in our own directory.
        if std::fs::remove_dir_all(dir).is_ok() {
            report.temp_dirs_removed += 1;
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn start_time_parses_after_last_paren() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("42");
        std::fs::create_dir(&p).unwrap();
        let mut fields = vec!["S".to_string()];
        for i in 4..=52 {
            fields.push(i.to_string());
        }
        std::fs::write(
            p.join("stat"),
            format!("42 (x) R 1 2) {}", fields.join(" ")),
        )
        .unwrap();
        assert_eq!(start_time(dir.path(), 42), Some(22));
    }

    #[test]
    fn names_have_isolab_shapes() {
        assert!(is_stem("12-34-0123456789abcdef"));
        assert!(!is_stem("12-34-0123"));
        assert!(!is_stem("../34-0123456789abcdef"));
        assert_eq!(
            record_stem("12-34-0123456789abcdef.3.json"),
            Some("12-34-0123456789abcdef")
        );
        assert_eq!(record_stem("12.json"), None);
        assert_eq!(
            tmp_stem(".12-34-0123456789abcdef.3.json.99.0.tmp"),
            Some("12-34-0123456789abcdef")
        );
    }

    #[test]
    fn unknown_fields_are_not_a_record() {
        let text =
            br#"{"owner":null,"children":[],"cgroups":[],"mounts":[],"temp_dirs":[],"kill":[1]}"#;
        assert!(serde_json::from_slice::<Record>(text).is_err());
    }

    /// A record whose lock is free (its owner gone) is removed with the
    /// temp dir it made; a live owner's (this process, lock held) is kept;
    /// a temp dir outside isolab's naming is reported and left alone.
    #[test]
    fn leftover_of_dead_owner_is_removed_live_one_kept() {
        let base = tempfile::tempdir().unwrap();
        let dir_path = base.path().join("reg");
        let dir = Dir::ensure(&dir_path).unwrap();
        let me = ProcessId::of(std::process::id() as i32).unwrap();
        let stem = "1-5-00000000000000aa";
        let own_tmp = dir_path.join(format!("tmp-{stem}-x"));
        std::fs::create_dir(&own_tmp).unwrap();
        let foreign = base.path().join("victim");
        std::fs::create_dir(&foreign).unwrap();
        let dead = Record {
            owner: Some(ProcessId {
                pid: 1,
                start_time: 5,
            }),
            temp_dirs: vec![own_tmp.clone(), foreign.clone()],
            ..Record::default()
        };
        dir.create_new(&format!("{stem}.lock")).unwrap();
        dir.write_atomic(
            &format!("{stem}.0.json"),
            &serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        let mut live = Registration::create_in(&dir_path).unwrap();
        let live_tmp = live.temp_dir("live").unwrap();
        let report = remove_leftovers_in(&dir_path).unwrap();
        assert_eq!(report.records, 1, "{report}");
        assert_eq!(report.temp_dirs_removed, 1);
        assert!(!own_tmp.exists());
        assert!(foreign.exists(), "a foreign dir was removed");
        assert!(
            report.left_alone.iter().any(|l| l.contains("victim")),
            "{report}"
        );
        assert!(!dir_path.join(format!("{stem}.0.json")).exists());
        assert!(!dir_path.join(format!("{stem}.lock")).exists());
        assert!(live_tmp.exists());
        assert_eq!(records_of(&dir_path, me.pid).len(), 1);
        live.finish().unwrap();
        assert!(!live_tmp.exists());
        assert!(records_of(&dir_path, me.pid).is_empty());
    }
}
