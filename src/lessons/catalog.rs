//! Finding lesson files: `--dir`, else `./lessons`, else `lessons/` next to
//! the binary (or a parent of it), else the lessons built into the binary.

use super::lesson::{self, Lesson, LessonError};
use std::path::{Path, PathBuf};

/// The shipped lessons, built in so `isolab learn` works from anywhere.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "01-processes",
        include_str!("../../lessons/01-processes.lesson"),
    ),
    ("02-proc", include_str!("../../lessons/02-proc.lesson")),
    (
        "03-container-is-a-process",
        include_str!("../../lessons/03-container-is-a-process.lesson"),
    ),
    ("04-root", include_str!("../../lessons/04-root.lesson")),
    (
        "05-namespaces",
        include_str!("../../lessons/05-namespaces.lesson"),
    ),
    (
        "06-cgroups",
        include_str!("../../lessons/06-cgroups.lesson"),
    ),
    (
        "07-compare",
        include_str!("../../lessons/07-compare.lesson"),
    ),
];

/// One lesson file: parsed, or its errors (a broken file is listed, never fatal).
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: String,
    /// `None` for a built-in lesson.
    pub path: Option<PathBuf>,
    pub lesson: Result<Lesson, Vec<LessonError>>,
}

impl Entry {
    pub fn from_text(id: &str, path: Option<PathBuf>, text: &str) -> Entry {
        Entry {
            id: id.to_string(),
            path,
            lesson: lesson::parse(text),
        }
    }

    pub fn from_file(path: &Path) -> Entry {
        let id = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        match std::fs::read_to_string(path) {
            Ok(text) => Entry::from_text(&id, Some(path.to_path_buf()), &text),
            Err(e) => Entry {
                id,
                path: Some(path.to_path_buf()),
                lesson: Err(vec![LessonError {
                    line: 0,
                    message: format!("could not read {}: {e}", path.display()),
                }]),
            },
        }
    }
}

/// The directory to read lessons from, or `None` for the built-in ones.
pub fn find_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = explicit {
        return Some(dir.to_path_buf());
    }
    let cwd = PathBuf::from("lessons");
    if has_lessons(&cwd) {
        return Some(cwd);
    }
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(4)
        .map(|d| d.join("lessons"))
        .find(|d| has_lessons(d))
}

fn has_lessons(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "lesson"))
    })
}

/// Every lesson, sorted by id. Errors only when an explicit dir is unreadable.
pub fn load(explicit: Option<&Path>) -> anyhow::Result<Vec<Entry>> {
    match find_dir(explicit) {
        Some(dir) => {
            let rd = std::fs::read_dir(&dir).map_err(|e| {
                anyhow::anyhow!(
                    "cannot read the lessons directory {}: {e} (give another with --dir)",
                    dir.display()
                )
            })?;
            let mut paths: Vec<PathBuf> = rd
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "lesson"))
                .collect();
            paths.sort();
            Ok(paths.iter().map(|p| Entry::from_file(p)).collect())
        }
        None => Ok(shipped()),
    }
}

pub fn shipped() -> Vec<Entry> {
    SHIPPED
        .iter()
        .map(|(id, text)| Entry::from_text(id, None, text))
        .collect()
}

/// Finds a lesson by id, by number prefix (`3` or `03`), or by file name.
pub fn find<'a>(entries: &'a [Entry], name: &str) -> Option<&'a Entry> {
    let name = name.trim_end_matches(".lesson");
    let name = Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    entries.iter().find(|e| e.id == name).or_else(|| {
        let number: u32 = name.parse().ok()?;
        entries
            .iter()
            .find(|e| e.id.split('-').next().and_then(|n| n.parse::<u32>().ok()) == Some(number))
    })
}
