//! Saved progress, per user: `$XDG_STATE_HOME/isolab/progress.json` (or
//! `~/.local/state/isolab/progress.json`). A file that cannot be read as
//! progress is set aside as `progress.json.corrupt`, never a crash.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Lesson id -> the 0-based index of the current step (= steps done).
    pub lessons: BTreeMap<String, usize>,
}

/// Where progress lives for this user.
pub fn default_path() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    state.join("isolab").join("progress.json")
}

impl Progress {
    /// Loads progress. Returns a message when something was set aside.
    pub fn load(path: &Path) -> (Progress, Option<String>) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Progress::default(), None);
            }
            Err(e) => {
                return (
                    Progress::default(),
                    Some(format!(
                        "could not read {} ({e}); starting without saved progress",
                        path.display()
                    )),
                );
            }
        };
        match serde_json::from_str::<Progress>(&text) {
            Ok(p) => (p, None),
            Err(e) => {
                let aside = path.with_extension("json.corrupt");
                let moved = std::fs::rename(path, &aside);
                let msg = match moved {
                    Ok(()) => format!(
                        "the progress file {} was damaged ({e}); it was moved to {} and progress starts over",
                        path.display(),
                        aside.display()
                    ),
                    Err(mv) => format!(
                        "the progress file {} was damaged ({e}) and could not be moved aside ({mv}); progress starts over",
                        path.display()
                    ),
                };
                (Progress::default(), Some(msg))
            }
        }
    }

    /// Saves atomically (write a temp file, rename over).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        }
        let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
        let text = serde_json::to_string_pretty(self)?;
        std::fs::write(&tmp, text)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            anyhow::anyhow!("renaming {} to {}: {e}", tmp.display(), path.display())
        })?;
        Ok(())
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
