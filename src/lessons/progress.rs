//! Saved progress, per user: `progress.json` in isolab's state directory
//! (`sys::paths::state_path`: `$XDG_STATE_HOME/isolab`, else
//! `~/.local/state/isolab`, else `/tmp/isolab-state-UID`), which must be
//! ours. A file that cannot be read as progress is set aside as
//! `progress.json.corrupt`, never a crash.

use crate::sys::paths::Dir;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Lesson id -> the 0-based index of the current step (= steps done).
    pub lessons: BTreeMap<String, usize>,
}

/// Where progress lives for this user (`sys::paths::state_path`).
pub fn default_path() -> PathBuf {
    crate::sys::paths::state_path().join("progress.json")
}

/// The directory and the file name of a progress path.
fn split(path: &Path) -> anyhow::Result<(&Path, &str)> {
    let name = path.file_name().and_then(|n| n.to_str());
    match (path.parent(), name) {
        (Some(dir), Some(name)) => Ok((dir, name)),
        _ => anyhow::bail!("{} is not a file path", path.display()),
    }
}

impl Progress {
    /// Loads progress. Returns a message when something was set aside. The
    /// directory must be ours (see `sys::paths`) and the file a regular
    /// file of ours; anything else is not read (a FIFO never blocks).
    pub fn load(path: &Path) -> (Progress, Option<String>) {
        let cannot = |e: anyhow::Error| {
            (
                Progress::default(),
                Some(format!(
                    "could not read {} ({e:#}); starting without saved progress",
                    path.display()
                )),
            )
        };
        let (dir, name) = match split(path) {
            Ok(s) => s,
            Err(e) => return cannot(e),
        };
        let dir = match Dir::open_existing(dir) {
            Ok(Some(d)) => d,
            Ok(None) => return (Progress::default(), None),
            Err(e) => return cannot(e),
        };
        let bytes = match dir.read_regular(OsStr::new(name)) {
            Ok(Some(b)) => b,
            Ok(None) => return (Progress::default(), None),
            Err(e) => return cannot(e),
        };
        match serde_json::from_slice::<Progress>(&bytes) {
            Ok(p) => (p, None),
            Err(e) => {
                let aside_name = format!("{name}.corrupt");
                let aside = path.with_file_name(&aside_name);
                let msg = match dir.rename(name, &aside_name) {
                    Ok(()) => format!(
                        "the progress file {} was damaged ({e}); it was moved to {} and progress starts over",
                        path.display(),
                        aside.display()
                    ),
                    Err(mv) => format!(
                        "the progress file {} was damaged ({e}) and could not be moved aside ({mv:#}); progress starts over",
                        path.display()
                    ),
                };
                (Progress::default(), Some(msg))
            }
        }
    }

    /// Saves atomically (a new 0600 file, renamed over) in a directory that
    /// is created 0700 and checked to be ours.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let (dir, name) = split(path)?;
        let dir = Dir::ensure(dir)?;
        let text = serde_json::to_string_pretty(self)?;
        dir.write_atomic(name, text.as_bytes())
    }

    pub fn step_of(&self, lesson: &str) -> usize {
        self.lessons.get(lesson).copied().unwrap_or(0)
    }

    pub fn set_step(&mut self, lesson: &str, step: usize) {
        self.lessons.insert(lesson.to_string(), step);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corrupt_file_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isolab/progress.json");
        let mut p = Progress::default();
        p.set_step("01-processes", 2);
        p.save(&path).unwrap();
        assert_eq!(Progress::load(&path), (p, None));
        std::fs::write(&path, "{not json").unwrap();
        let (p, msg) = Progress::load(&path);
        assert_eq!(p, Progress::default());
        assert!(msg.unwrap().contains("moved to"));
        assert!(path.with_extension("json.corrupt").exists());
        assert!(!path.exists());
    }
}
