//! What can go wrong inside a process's root, and the check of a new name.

use nix::errno::Errno;

pub type Pid = i32;

/// How often a resolution that the kernel answered with EAGAIN (a rename or
/// mount raced the walk) is retried before giving up.
pub(super) const EAGAIN_RETRIES: u32 = 32;

/// Everything that can go wrong, each naming the process and the path as the
/// process sees it. Display is one line, fit for `isolab: ...`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RootfsError {
    #[error("no process {pid} (it does not exist or has already exited)")]
    NoProcess { pid: Pid },
    #[error("process {pid} has exited; its root filesystem is gone (pick a running process)")]
    Exited { pid: Pid },
    #[error(
        "cannot look into process {pid}'s root: {}",
        crate::sys::procs::denied_hint()
    )]
    NoAccess { pid: Pid },
    #[error("{path}: no such file or directory inside process {pid}'s root")]
    NotFound { pid: Pid, path: String },
    #[error(
        "{path}: refused: a symlink loop, or a magic link such as /proc/self/root that could leave process {pid}'s root (ELOOP)"
    )]
    Loop { pid: Pid, path: String },
    #[error("{path}: refused: the path would leave process {pid}'s root ({reason})")]
    Escape {
        pid: Pid,
        path: String,
        reason: String,
    },
    #[error("{path}: not a directory inside process {pid}'s root")]
    NotADirectory { pid: Pid, path: String },
    #[error("{path}: is a directory inside process {pid}'s root (use ls)")]
    IsADirectory { pid: Pid, path: String },
    #[error("{path}: is a {kind}, not a regular file; isolab only reads regular files")]
    NotRegular {
        pid: Pid,
        path: String,
        kind: &'static str,
    },
    #[error(
        "{path}: already exists inside process {pid}'s root (a symlink counts, even a dangling one: isolab never creates through a link)"
    )]
    Exists { pid: Pid, path: String },
    #[error("bad name {name:?}: {problem}")]
    BadName { name: String, problem: NameProblem },
    #[error("{path}: permission denied inside process {pid}'s root")]
    PermissionDenied { pid: Pid, path: String },
    #[error("{path}: kept changing while being resolved (EAGAIN {tries} times); try again")]
    Busy { pid: Pid, path: String, tries: u32 },
    #[error(
        "this kernel has no openat2(RESOLVE_IN_ROOT) (needs Linux 5.6 or later): isolab refuses to follow paths inside another process's root without it"
    )]
    Unsupported,
    #[error("{path}: {op} failed inside process {pid}'s root: {errno}")]
    Io {
        pid: Pid,
        path: String,
        op: &'static str,
        errno: Errno,
    },
}

/// Why a name for a new file or directory is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    Empty,
    ContainsSlash,
    ContainsNul,
    DotOrDotDot,
}

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NameProblem::Empty => "the name is empty: type a name",
            NameProblem::ContainsSlash => "a name cannot contain '/': give one name, not a path",
            NameProblem::ContainsNul => "a name cannot contain a NUL byte",
            NameProblem::DotOrDotDot => "'.' and '..' already exist in every directory",
        })
    }
}

/// Check a single name for a new file or directory (the part after the last
/// `/`). Existence is checked when creating, by the kernel.
pub fn validate_new_name(name: &str) -> Result<(), RootfsError> {
    let problem = if name.is_empty() {
        Some(NameProblem::Empty)
    } else if name.contains('/') {
        Some(NameProblem::ContainsSlash)
    } else if name.contains('\0') {
        Some(NameProblem::ContainsNul)
    } else if name == "." || name == ".." {
        Some(NameProblem::DotOrDotDot)
    } else {
        None
    };
    match problem {
        Some(problem) => Err(RootfsError::BadName {
            name: name.to_string(),
            problem,
        }),
        None => Ok(()),
    }
}
