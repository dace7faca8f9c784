//! [`Registration`]: this process's own live record, rewritten at every
//! change and removed (with what it lists) when the run ends.

use super::cleanup::{Scope, remove_listed};
use super::lock::{OwnerLock, owner_lock};
use super::record::{Record, registry_dir};
use crate::sys::cgroup::MemoryHierarchy;
use crate::sys::paths::Dir;
use crate::sys::process::ProcessId;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

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
