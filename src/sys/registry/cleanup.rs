//! Cleanup: the records whose owner is gone, and what they list. Only
//! what isolab can prove it made is touched (see `remove_listed`).

use super::lock::{LOCKS, Owner, OwnerLock, is_stem, probe};
use super::record::{Record, registry_dir};
use crate::sys::cgroup::MemoryHierarchy;
use crate::sys::paths::Dir;
use crate::sys::pidfd;
use crate::sys::process::{ProcessId, read_stat};
use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

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
pub(super) fn record_stem(name: &str) -> Option<&str> {
    let rest = name.strip_suffix(".json")?;
    let (stem, seq) = rest.split_once('.')?;
    (is_stem(stem) && seq.parse::<u64>().is_ok()).then_some(stem)
}

/// The stem of a temp file `.<stem>.<n>.json.<pid>.<m>.tmp` of `write_atomic`.
pub(super) fn tmp_stem(name: &str) -> Option<&str> {
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
    let (Some(h), Some(creator)) = (hierarchy, ProcessId::from_name(stem)) else {
        return false;
    };
    let prefix = creator.name_prefix();
    std::fs::read_dir(h.isolab_parent()).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(&prefix))
    })
}

/// What a record may touch: its own directory and stem, the host's memory
/// hierarchy, and whether its owner is this very process.
pub(super) struct Scope<'a> {
    pub(super) dir: &'a Dir,
    pub(super) stem: &'a str,
    pub(super) hierarchy: Option<&'a MemoryHierarchy>,
    pub(super) owner_is_me: bool,
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
            .and_then(ProcessId::from_name);
        let owner = record.owner;
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
pub(super) fn remove_listed(record: &Record, scope: &Scope) -> anyhow::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    let mut cgroups = Vec::new();
    for cgroup in &record.cgroups {
        match scope.accepts_cgroup(record, cgroup) {
            Ok(()) => cgroups.push(cgroup.clone()),
            Err(why) => report.leave(format!("cgroup {}: {why}", esc(cgroup))),
        }
    }
    for child in &record.children {
        // The pidfd pins one process, checked to be the one recorded.
        let Some(pidfd) = child.pidfd() else {
            continue;
        };
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
        use nix::mount::{MntFlags, umount2};
        if umount2(mount, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW).is_ok() {
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
