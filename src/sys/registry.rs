//! The record of everything isolab creates: children, mounts, cgroups and
//! temp dirs. Each live isolab process owns one JSON file in the registry
//! directory (`/run/isolab` as root, else `$XDG_RUNTIME_DIR/isolab`), named
//! after its own PID. When isolab ends normally the file is removed with what
//! it lists; when isolab is killed (`kill -9`, a crash) the file stays, and the
//! next start (`remove_leftovers`) finds it, sees that its owner is gone, and
//! removes what it lists.
//!
//! Processes are identified by PID *and* start time (field 22 of
//! /proc/PID/stat), and signalled through a pidfd opened before the start
//! time is checked, so a PID the kernel has since reused for a stranger is
//! never signalled. Cgroups are only removed when they sit under an `isolab`
//! directory of a cgroup mount, so a damaged record cannot make us remove a
//! cgroup we did not create.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

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

    /// SIGKILL this process if, and only if, it is still the same process.
    /// Returns whether a signal was sent.
    pub fn kill_if_same(&self) -> bool {
        let Some(pidfd) = pidfd_open(self.pid) else {
            return false;
        };
        // The pidfd now pins one process; if its start time still matches, it is ours.
        let same = self.is_alive();
        let sent = same && pidfd_send_signal(&pidfd, libc::SIGKILL);
        drop(pidfd);
        sent
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

/// A pidfd as an owned fd.
pub fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain syscall; on success it returns a new fd that we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a fresh descriptor returned by the kernel.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

/// Send `sig` through a pidfd; false when the process has gone.
pub fn pidfd_send_signal(pidfd: &std::os::fd::OwnedFd, sig: i32) -> bool {
    use std::os::fd::AsRawFd;
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

/// Only what dead isolab processes recorded (no sweep of the cgroup tree):
/// the cheap check `isolab run` does at every start.
pub fn remove_recorded_leftovers() -> anyhow::Result<CleanupReport> {
    remove_leftovers_in(&registry_dir())
}

/// What one isolab process has created and must remove.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub owner: Option<ProcessId>,
    pub children: Vec<ProcessId>,
    pub cgroups: Vec<PathBuf>,
    pub mounts: Vec<PathBuf>,
    pub temp_dirs: Vec<PathBuf>,
}

/// Where records live: `/run/isolab` for root, else `$XDG_RUNTIME_DIR/isolab`,
/// else a per-user dir under the temp dir.
pub fn registry_dir() -> PathBuf {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/run/isolab");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("isolab"),
        // SAFETY: getuid cannot fail.
        _ => std::env::temp_dir().join(format!("isolab-{}", unsafe { libc::getuid() })),
    }
}

/// This process's own live record. Every change is written to disk at once
/// (write to a temp file, then rename) so a `kill -9` at any moment leaves a
/// record that lists everything. Dropping it does *not* remove what it lists:
/// call `finish` after removing those things yourself.
#[derive(Debug)]
pub struct Registration {
    path: PathBuf,
    record: Record,
    /// Opened at the first save and rewritten in place: one small write is
    /// never torn by the death of the writer, and it spares a create and a
    /// rename per change (the registry may sit on a journalled disk).
    file: Option<std::fs::File>,
}

impl Registration {
    /// Open the record of this process in `dir` (usually `registry_dir()`).
    pub fn create_in(dir: &Path) -> anyhow::Result<Registration> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the registry dir {}", dir.display()))?;
        let me = std::process::id() as i32;
        let record = Record {
            owner: ProcessId::of(me),
            ..Record::default()
        };
        // Nothing is written until there is something to record.
        Ok(Registration {
            path: dir.join(format!("{me}-{}.json", next_seq())),
            record,
            file: None,
        })
    }

    pub fn create() -> anyhow::Result<Registration> {
        Registration::create_in(&registry_dir())
    }

    pub fn record(&self) -> &Record {
        &self.record
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

    pub fn add_temp_dir(&mut self, path: &Path) -> anyhow::Result<()> {
        self.record.temp_dirs.push(path.to_path_buf());
        self.save()
    }

    pub fn add_mount(&mut self, path: &Path) -> anyhow::Result<()> {
        self.record.mounts.push(path.to_path_buf());
        self.save()
    }

    /// Forget a child that has been reaped (its PID may be reused now).
    pub fn remove_child(&mut self, pid: i32) -> anyhow::Result<()> {
        self.record.children.retain(|c| c.pid != pid);
        self.save()
    }

    fn save(&mut self) -> anyhow::Result<()> {
        use std::os::unix::fs::FileExt;
        let text = serde_json::to_vec(&self.record)?;
        if self.file.is_none() {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&self.path)
                .with_context(|| {
                    format!("cannot write the registry file {}", self.path.display())
                })?;
            self.file = Some(file);
        }
        let Some(file) = &self.file else {
            return Ok(());
        };
        // Write at 0, then cut to the new length: no stale tail remains.
        file.write_all_at(&text, 0)
            .and_then(|()| file.set_len(text.len() as u64))
            .with_context(|| format!("cannot write the registry file {}", self.path.display()))
    }

    /// Remove everything still listed (children killed, cgroups, mounts and
    /// temp dirs removed), then the record itself.
    pub fn finish(self) -> anyhow::Result<()> {
        let result = remove_listed(&self.record);
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
        result.map(|_| ())
    }
}

fn next_seq() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// The record files of one live isolab process (tests and `isolab cleanup`
/// use it to see what a given run created).
pub fn records_of(dir: &Path, owner_pid: i32) -> Vec<Record> {
    let prefix = format!("{owner_pid}-");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with(&prefix) && n.ends_with(".json")
        })
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect()
}

/// What a cleanup removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CleanupReport {
    pub records: usize,
    pub children_killed: usize,
    pub cgroups_removed: usize,
    pub mounts_removed: usize,
    pub temp_dirs_removed: usize,
}

impl CleanupReport {
    /// Adds what another cleanup removed (its record count aside).
    fn add(&mut self, other: &CleanupReport) {
        self.children_killed += other.children_killed;
        self.cgroups_removed += other.cgroups_removed;
        self.mounts_removed += other.mounts_removed;
        self.temp_dirs_removed += other.temp_dirs_removed;
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
        )
    }
}

/// Find records whose owner is gone and remove what they list. Safe to call
/// at every start: records of live isolab processes are left alone.
pub fn remove_leftovers() -> anyhow::Result<CleanupReport> {
    let mut report = remove_recorded_leftovers()?;
    // Belt and braces: isolab cgroups whose creator is gone, even if a
    // crash came between creating one and recording it.
    if let Ok(removed) = crate::sys::cgroup::remove_leftovers() {
        report.cgroups_removed += removed.len();
    }
    Ok(report)
}

/// Removes what this very process created and recorded (children, mounts,
/// cgroups, temp dirs; its records stay, for the next start to tidy): for a
/// way out on which destructors do not run (the signal watcher's forced
/// exit). Best effort.
pub fn remove_own() -> CleanupReport {
    let dir = registry_dir();
    let mut total = CleanupReport::default();
    for record in records_of(&dir, std::process::id() as i32) {
        if let Ok(r) = remove_listed(&record) {
            total.add(&r);
        }
    }
    if let Ok(removed) = crate::sys::cgroup::remove_own() {
        total.cgroups_removed += removed.len();
    }
    total
}

pub fn remove_leftovers_in(dir: &Path) -> anyhow::Result<CleanupReport> {
    let mut total = CleanupReport::default();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(total),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the registry {}", dir.display()));
        }
    };
    let mut first_error = None;
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(".json.tmp") {
            // A half-written record of a live or dead owner: the owner's pid is the stem.
            let owner: Option<i32> = name.split(['-', '.']).next().and_then(|p| p.parse().ok());
            if owner.is_some_and(|p| ProcessId::of(p).is_none()) {
                let _ = std::fs::remove_file(&path);
            }
            continue;
        }
        if !name.ends_with(".json") {
            continue;
        }
        let Ok(text) = std::fs::read(&path) else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<Record>(&text) else {
            // Unreadable: not ours to interpret; leave a note by skipping.
            continue;
        };
        if record.owner.is_some_and(|o| o.is_alive()) {
            continue;
        }
        match remove_listed(&record) {
            Ok(r) => {
                total.records += 1;
                total.add(&r);
                let _ = std::fs::remove_file(&path);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Remove what one record lists, children first (a cgroup with live
/// processes cannot be removed).
fn remove_listed(record: &Record) -> anyhow::Result<CleanupReport> {
    let mut report = CleanupReport::default();
    for child in &record.children {
        if child.kill_if_same() {
            report.children_killed += 1;
        }
    }
    for mount in &record.mounts {
        let Ok(c) = std::ffi::CString::new(mount.as_os_str().as_encoded_bytes()) else {
            continue;
        };
        // SAFETY: c is a valid NUL-terminated path.
        if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } == 0 {
            report.mounts_removed += 1;
        }
    }
    let mut first_error = None;
    for cgroup in &record.cgroups {
        match remove_owned_cgroup(cgroup) {
            Ok(true) => report.cgroups_removed += 1,
            Ok(false) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    for dir in &record.temp_dirs {
        if dir.exists() && std::fs::remove_dir_all(dir).is_ok() {
            report.temp_dirs_removed += 1;
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(report),
    }
}

/// Whether `path` is a cgroup directory isolab may remove: it lies under
/// /sys/fs/cgroup and one of its parent components is named `isolab`.
pub fn is_isolab_cgroup(path: &Path) -> bool {
    path.starts_with("/sys/fs/cgroup")
        && path
            .parent()
            .is_some_and(|p| p.components().any(|c| c.as_os_str() == "isolab"))
        && !path.components().any(|c| c.as_os_str() == "..")
}

/// Kill every process in an isolab cgroup (they are ours: only isolab puts
/// processes there), then rmdir it with a bounded backoff (EBUSY lasts until
/// the killed processes are fully gone). Ok(false) when it did not exist.
pub fn remove_owned_cgroup(path: &Path) -> anyhow::Result<bool> {
    if !is_isolab_cgroup(path) {
        anyhow::bail!(
            "refusing to remove {}: not under an isolab cgroup directory",
            path.display()
        );
    }
    if !path.exists() {
        return Ok(false);
    }
    let mut delay = Duration::from_millis(1);
    for _ in 0..40 {
        // v2 has cgroup.kill; v1 needs a kill per listed process.
        let _ = std::fs::write(path.join("cgroup.kill"), "1");
        if let Ok(procs) = std::fs::read_to_string(path.join("cgroup.procs")) {
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                if let Some(fd) = pidfd_open(pid) {
                    pidfd_send_signal(&fd, libc::SIGKILL);
                }
            }
        }
        match std::fs::remove_dir(path) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
            Err(_) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(100));
            }
        }
    }
    anyhow::bail!(
        "cannot remove the cgroup {} (still busy); run `isolab cleanup` again",
        path.display()
    )
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
    fn only_isolab_cgroups_are_removable() {
        assert!(is_isolab_cgroup(Path::new(
            "/sys/fs/cgroup/memory/isolab/run-1"
        )));
        assert!(!is_isolab_cgroup(Path::new("/sys/fs/cgroup/memory/isolab")));
        assert!(!is_isolab_cgroup(Path::new(
            "/sys/fs/cgroup/memory/user.slice"
        )));
        assert!(!is_isolab_cgroup(Path::new("/tmp/isolab/x")));
        assert!(!is_isolab_cgroup(Path::new(
            "/sys/fs/cgroup/memory/isolab/../system.slice"
        )));
    }

    #[test]
    fn leftover_of_dead_owner_is_removed_live_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("leftover-tmp");
        std::fs::create_dir(&tmp).unwrap();
        // A dead owner: PID 1's identity with a wrong start time.
        let dead = Record {
            owner: Some(ProcessId {
                pid: 1,
                start_time: u64::MAX,
            }),
            temp_dirs: vec![tmp.clone()],
            ..Record::default()
        };
        std::fs::write(
            dir.path().join("1.json"),
            serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        let mut live = Registration::create_in(dir.path()).unwrap();
        live.add_temp_dir(&dir.path().join("live-tmp")).unwrap();
        let report = remove_leftovers_in(dir.path()).unwrap();
        assert_eq!(report.records, 1);
        assert_eq!(report.temp_dirs_removed, 1);
        assert!(!tmp.exists());
        assert!(!dir.path().join("1.json").exists());
        assert_eq!(records_of(dir.path(), std::process::id() as i32).len(), 1);
        live.finish().unwrap();
    }
}
