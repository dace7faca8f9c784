//! Finding lesson files. The shipped lessons are built into the binary and
//! are the only ones read unless the user names others: `--dir DIR`, or a
//! path (anything with a `/`) where a lesson name goes. The current
//! directory and the binary's neighbourhood are never searched: a
//! `./lessons` planted in /tmp must not decide what isolab runs as root.
//!
//! A named file is opened relative to its directory's fd with
//! `O_NOFOLLOW|O_NONBLOCK` and read only when it is a regular file (a FIFO
//! named as a lesson must not hang isolab), up to [`MAX_LESSON_BYTES`]. As
//! root, a file or directory that another user owns or can write is refused:
//! whoever can write it decides the `start:`, `do:` and `cleanup:` lines.

use super::lesson::{self, Lesson, LessonError};
use crate::text::escape_os;
use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode, SFlag};
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
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

/// A lesson file larger than this is refused (the shipped ones are ~5 KiB).
pub const MAX_LESSON_BYTES: u64 = 1 << 20;

/// One lesson file: parsed, or its errors (a broken file is listed, never fatal).
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: String,
    /// `None` for a built-in lesson; the file otherwise (a *foreign* lesson,
    /// whose commands are shown and confirmed before they run).
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

    /// Reads the file `path` names (see the module doc for what is refused).
    pub fn from_file(path: &Path) -> Entry {
        let (dir, name) = split(path);
        let result = open_dir(dir).and_then(|fd| read_at(&fd, path, name));
        Entry::from_read(path, result)
    }

    fn from_read(path: &Path, result: Result<String, String>) -> Entry {
        let id = id_of(path);
        match result {
            Ok(text) => Entry::from_text(&id, Some(path.to_path_buf()), &text),
            Err(message) => Entry {
                id,
                path: Some(path.to_path_buf()),
                lesson: Err(vec![LessonError { line: 0, message }]),
            },
        }
    }

    /// Where the lesson comes from, escaped for a terminal.
    pub fn source(&self) -> String {
        match &self.path {
            Some(p) => escape_os(p.as_os_str()).into_owned(),
            None => format!("{} (built in)", self.id),
        }
    }
}

fn id_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The directory and file name of `path` (`x.lesson` is in `.`).
fn split(path: &Path) -> (&Path, &OsStr) {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    (dir, path.file_name().unwrap_or(path.as_os_str()))
}

/// As root: whoever can write a lesson file (or its directory) decides the
/// commands isolab runs, so it must be root's and writable by root alone.
fn check_owner(st: &FileStat, path: &Path, what: &str) -> Result<(), String> {
    let euid = nix::unistd::geteuid().as_raw();
    if euid != 0 {
        return Ok(());
    }
    let shown = escape_os(path.as_os_str());
    if st.st_uid != 0 && st.st_uid != euid {
        return Err(format!(
            "refused the {what} {shown}: it belongs to uid {}, and isolab runs as root \
             (a lesson's commands would run as root); read it, then `chown root {shown}`, \
             or run isolab as that user",
            st.st_uid
        ));
    }
    if st.st_mode & 0o022 != 0 {
        return Err(format!(
            "refused the {what} {shown}: other users can write it (mode {:o}), and isolab \
             runs as root (a lesson's commands would run as root); `chmod go-w {shown}` \
             after reading it",
            st.st_mode & 0o7777
        ));
    }
    Ok(())
}

fn open_dir(dir: &Path) -> Result<OwnedFd, String> {
    let fd = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| {
        format!(
            "cannot open the lessons directory {}: {}",
            escape_os(dir.as_os_str()),
            e.desc()
        )
    })?;
    let st = nix::sys::stat::fstat(&fd)
        .map_err(|e| format!("cannot stat {}: {}", escape_os(dir.as_os_str()), e.desc()))?;
    check_owner(&st, dir, "lessons directory")?;
    Ok(fd)
}

/// Reads lesson file `name` of the directory `dir` (opened and checked);
/// `path` is what messages show.
fn read_at(dir: &OwnedFd, path: &Path, name: &OsStr) -> Result<String, String> {
    use std::io::Read;
    let shown = escape_os(path.as_os_str());
    let fd = nix::fcntl::openat(
        dir.as_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ELOOP => format!(
            "{shown} is a symbolic link; lesson files are not followed through links: name the file itself"
        ),
        e => format!("could not read {shown}: {}", e.desc()),
    })?;
    let st =
        nix::sys::stat::fstat(&fd).map_err(|e| format!("cannot stat {shown}: {}", e.desc()))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(format!(
            "{shown} is not a regular file (a FIFO, device or directory); name a lesson file"
        ));
    }
    check_owner(&st, path, "lesson file")?;
    let mut bytes = Vec::new();
    std::fs::File::from(fd)
        .take(MAX_LESSON_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("could not read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_LESSON_BYTES {
        return Err(format!(
            "{shown} is larger than {} KiB; lesson files are short text",
            MAX_LESSON_BYTES >> 10
        ));
    }
    String::from_utf8(bytes).map_err(|_| format!("{shown} is not UTF-8 text"))
}

/// The lessons: the built-in ones, or every `*.lesson` of `explicit`, sorted.
/// Errors when that directory cannot be read or is refused.
pub fn load(explicit: Option<&Path>) -> anyhow::Result<Vec<Entry>> {
    let Some(dir) = explicit else {
        return Ok(shipped());
    };
    let fd = open_dir(dir).map_err(|e| anyhow::anyhow!("{e} (give another with --dir)"))?;
    let listing = fd
        .try_clone()
        .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
        .and_then(nix::dir::Dir::from_fd)
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot read the lessons directory {}: {} (give another with --dir)",
                escape_os(dir.as_os_str()),
                e.desc()
            )
        })?;
    let mut names: Vec<Vec<u8>> = listing
        .into_iter()
        .flatten()
        .map(|e| e.file_name().to_bytes().to_vec())
        .filter(|n| n.ends_with(b".lesson") && !n.starts_with(b"."))
        .collect();
    names.sort();
    Ok(names
        .iter()
        .map(|n| {
            let name = OsStr::from_bytes(n);
            let path = dir.join(name);
            let result = read_at(&fd, &path, name);
            Entry::from_read(&path, result)
        })
        .collect())
}

/// Whether a lesson name on the command line is a path to a file.
pub fn is_path(name: &str) -> bool {
    name.contains('/')
}

/// The lessons a command line names: the file itself when `name` is a path,
/// else those of [`load`].
pub fn load_for(dir: Option<&Path>, name: Option<&str>) -> anyhow::Result<Vec<Entry>> {
    match name {
        Some(n) if is_path(n) => Ok(vec![Entry::from_file(Path::new(n))]),
        _ => load(dir),
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
