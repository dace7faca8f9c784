//! Safe access to a process's root filesystem, from the host.
//!
//! The naive way, `/proc/PID/root/etc/link`, is a trap: the kernel follows
//! `/proc/PID/root` into the process's root, but an absolute symlink found
//! there (`link -> /etc/shadow`) is resolved against *our* root, so the host's
//! file comes back. So every path here is resolved by the kernel with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` starting from an O_PATH
//! fd of the process's root: absolute links and `..` stay inside, and magic
//! links (`/proc/self/root`, `/proc/N/fd/M`) are refused outright.
//!
//! A `ProcRoot` holds the `/proc/PID` directory fd and a pidfd, so a PID that
//! is reused by another process is never followed: once the process exits,
//! every call says so and stops.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{FileStat, Mode, fstat, fstatat, mkdirat};
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub type Pid = i32;

/// How often a resolution that the kernel answered with EAGAIN (a rename or
/// mount raced the walk) is retried before giving up.
const EAGAIN_RETRIES: u32 = 32;

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

/// The kind of a directory entry, from its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Dir,
    File,
    Symlink,
    Fifo,
    Socket,
    CharDevice,
    BlockDevice,
    Unknown,
}

impl FileKind {
    pub fn from_mode(mode: u32) -> FileKind {
        match mode & libc::S_IFMT {
            libc::S_IFDIR => FileKind::Dir,
            libc::S_IFREG => FileKind::File,
            libc::S_IFLNK => FileKind::Symlink,
            libc::S_IFIFO => FileKind::Fifo,
            libc::S_IFSOCK => FileKind::Socket,
            libc::S_IFCHR => FileKind::CharDevice,
            libc::S_IFBLK => FileKind::BlockDevice,
            _ => FileKind::Unknown,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Dir => "directory",
            FileKind::File => "regular file",
            FileKind::Symlink => "symlink",
            FileKind::Fifo => "fifo",
            FileKind::Socket => "socket",
            FileKind::CharDevice => "character device",
            FileKind::BlockDevice => "block device",
            FileKind::Unknown => "file of unknown type",
        }
    }
}

/// `drwxr-xr-x`, with setuid/setgid/sticky as `ls -l` shows them.
pub fn mode_string(mode: u32) -> String {
    let kind = match FileKind::from_mode(mode) {
        FileKind::Dir => 'd',
        FileKind::File => '-',
        FileKind::Symlink => 'l',
        FileKind::Fifo => 'p',
        FileKind::Socket => 's',
        FileKind::CharDevice => 'c',
        FileKind::BlockDevice => 'b',
        FileKind::Unknown => '?',
    };
    let bit = |mask: u32, c: char| if mode & mask != 0 { c } else { '-' };
    let special = |exec: bool, special: bool, set: char, unset: char| match (exec, special) {
        (true, true) => set,
        (false, true) => unset,
        (true, false) => 'x',
        (false, false) => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    s.push(bit(0o400, 'r'));
    s.push(bit(0o200, 'w'));
    s.push(special(mode & 0o100 != 0, mode & 0o4000 != 0, 's', 'S'));
    s.push(bit(0o040, 'r'));
    s.push(bit(0o020, 'w'));
    s.push(special(mode & 0o010 != 0, mode & 0o2000 != 0, 's', 'S'));
    s.push(bit(0o004, 'r'));
    s.push(bit(0o002, 'w'));
    s.push(special(mode & 0o001 != 0, mode & 0o1000 != 0, 't', 'T'));
    s
}

pub use crate::sys::idmap::{IdMap, IdRange};

/// The user namespace of the process, when it has its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserNs {
    pub uid_map: IdMap,
    pub gid_map: IdMap,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name, lossily converted for display.
    pub name: String,
    pub kind: FileKind,
    /// Full st_mode (type and permission bits).
    pub mode: u32,
    pub size: u64,
    pub inode: u64,
    /// Owner as stored on disk (the host's view).
    pub uid: u32,
    pub gid: u32,
    /// Owner as the process sees it, through its user namespace's maps;
    /// `None` if the process has no own user namespace (same as `uid`) ...
    pub uid_inside: Option<u32>,
    pub gid_inside: Option<u32>,
    /// ... and `true` when it has one but the id is unmapped there (shown as
    /// the overflow id 65534).
    pub unmapped: bool,
    /// For a symlink: its target, verbatim, as the process would read it.
    pub link_target: Option<String>,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
}

impl Entry {
    /// A root-owned entry with no user namespace (inode 1, mtime 0): for
    /// the fixtures of the Root screen's tests.
    pub fn fixture(name: &str, mode: u32, size: u64, link_target: Option<&str>) -> Entry {
        Entry {
            name: name.into(),
            kind: FileKind::from_mode(mode),
            mode,
            size,
            inode: 1,
            uid: 0,
            gid: 0,
            uid_inside: None,
            gid_inside: None,
            unmapped: false,
            link_target: link_target.map(String::from),
            mtime: 0,
        }
    }

    fn from_stat(name: String, st: &FileStat, userns: Option<&UserNs>) -> Entry {
        let (uid_inside, gid_inside, unmapped) = match userns {
            Some(ns) => {
                let u = ns.uid_map.to_inside(st.st_uid);
                let g = ns.gid_map.to_inside(st.st_gid);
                let unmapped = u.is_none() || g.is_none();
                (
                    Some(u.unwrap_or(OVERFLOW_ID)),
                    Some(g.unwrap_or(OVERFLOW_ID)),
                    unmapped,
                )
            }
            None => (None, None, false),
        };
        Entry {
            name,
            kind: FileKind::from_mode(st.st_mode),
            mode: st.st_mode,
            size: st.st_size.max(0) as u64,
            inode: st.st_ino,
            uid: st.st_uid,
            gid: st.st_gid,
            uid_inside,
            gid_inside,
            unmapped,
            link_target: None,
            mtime: st.st_mtime,
        }
    }

    /// `0:0`, or `0:0 (inside 1000:1000)` style owner text.
    pub fn owner_text(&self) -> String {
        match (self.uid_inside, self.gid_inside) {
            (Some(u), Some(g)) => format!("{}:{} (inside {}:{})", self.uid, self.gid, u, g),
            _ => format!("{}:{}", self.uid, self.gid),
        }
    }
}

/// The id a user namespace shows for an unmapped owner (kernel default).
pub const OVERFLOW_ID: u32 = 65534;

/// A directory's contents as the process sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The directory as the process sees it.
    pub path: String,
    /// The same directory reached from the host (naively: do not open it).
    pub host_path: PathBuf,
    /// Sorted by name; without `.` and `..`.
    pub entries: Vec<Entry>,
}

/// How often `list_dir_compact` reports progress (and may be stopped).
pub const PROGRESS_EVERY: usize = 1024;

/// What a listing keeps at most; entries beyond are counted in `more`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListLimits {
    pub entries: usize,
    /// Bytes of names and link targets.
    pub text_bytes: usize,
}

impl ListLimits {
    /// Keep everything (the CLI's `ls`); text offsets are 32-bit.
    pub const NONE: ListLimits = ListLimits {
        entries: usize::MAX,
        text_bytes: u32::MAX as usize - 8192,
    };
    /// The Root screen: a million entries (about 60 bytes each plus the
    /// names, so under ~130 MiB even with 64 MiB of names) is far more than
    /// anyone pages through; the rest is counted and said.
    pub const SCREEN: ListLimits = ListLimits {
        entries: 1_000_000,
        text_bytes: 64 << 20,
    };
}

/// A directory's identity and change times from one fstat. Creating,
/// removing or renaming an entry changes mtime/ctime (and usually size and,
/// for directories, the link count), so an equal stamp means there is no
/// reason to read the entries again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStamp {
    dev: u64,
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    nlink: u64,
    size: i64,
}

impl DirStamp {
    fn of(st: &FileStat) -> DirStamp {
        DirStamp {
            dev: st.st_dev,
            ino: st.st_ino,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
            nlink: st.st_nlink,
            size: st.st_size,
        }
    }
}

/// One entry of a `DirList`: fixed size, its name and link target are
/// ranges of the list's one text buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    name: u32,
    name_len: u32,
    link: u32,
    /// `u32::MAX`: not a symlink, or its target could not be read.
    link_len: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    inode: u64,
    mtime: i64,
}

/// What a row keeps of a stat.
#[derive(Debug, Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    inode: u64,
    mtime: i64,
}

impl Meta {
    fn of(st: &FileStat) -> Meta {
        Meta {
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            size: st.st_size.max(0) as u64,
            inode: st.st_ino,
            mtime: st.st_mtime,
        }
    }
}

/// A directory listing held compactly, for very large directories: every
/// name and link target in one `String`, one small fixed-size row per entry,
/// sorted by name once when read. 300,000 entries take about 20 MiB.
/// `entry(i)` builds the full `Entry` of one row (for the rows on screen).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirList {
    /// The directory as the process sees it.
    pub path: String,
    /// The same directory reached from the host (naively: do not open it).
    pub host_path: PathBuf,
    /// The directory as it was when read.
    pub stamp: DirStamp,
    /// Entries found but not kept (over `ListLimits`).
    pub more: usize,
    /// The widest owner text (`Entry::owner_text`) and size of all rows, so
    /// a screen lines up its columns without looking at every row.
    pub owner_width: usize,
    pub size_width: usize,
    text: String,
    rows: Vec<Row>,
    userns: Option<UserNs>,
}

fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

impl DirList {
    /// A listing made from entries (fixtures, tests); sorted by name.
    pub fn from_entries(
        path: &str,
        host_path: PathBuf,
        entries: &[Entry],
        userns: Option<UserNs>,
    ) -> DirList {
        let mut list = DirList {
            path: path.to_string(),
            host_path,
            userns,
            ..DirList::default()
        };
        for e in entries {
            let meta = Meta {
                mode: e.mode,
                uid: e.uid,
                gid: e.gid,
                size: e.size,
                inode: e.inode,
                mtime: e.mtime,
            };
            list.push(&e.name, meta, e.link_target.as_deref());
        }
        list.finish();
        list
    }

    fn push_text(&mut self, s: &str) -> (u32, u32) {
        let at = self.text.len() as u32;
        self.text.push_str(s);
        (at, s.len() as u32)
    }

    fn push(&mut self, name: &str, m: Meta, link: Option<&str>) {
        let (name, name_len) = self.push_text(name);
        let (link, link_len) = match link {
            Some(t) => self.push_text(t),
            None => (0, u32::MAX),
        };
        self.rows.push(Row {
            name,
            name_len,
            link,
            link_len,
            mode: m.mode,
            uid: m.uid,
            gid: m.gid,
            size: m.size,
            inode: m.inode,
            mtime: m.mtime,
        });
    }

    /// Sort by name and measure the columns: once per listing.
    fn finish(&mut self) {
        let text = std::mem::take(&mut self.text);
        let name = |r: &Row| &text[r.name as usize..(r.name + r.name_len) as usize];
        self.rows.sort_unstable_by(|a, b| name(a).cmp(name(b)));
        self.text = text;
        self.rows.shrink_to_fit();
        self.text.shrink_to_fit();
        self.size_width = self.rows.iter().map(|r| digits(r.size)).max().unwrap_or(0);
        self.owner_width = (0..self.rows.len())
            .map(|i| self.owner_width_of(i))
            .max()
            .unwrap_or(0);
    }

    fn owner_width_of(&self, i: usize) -> usize {
        let r = &self.rows[i];
        let outside = digits(r.uid.into()) + 1 + digits(r.gid.into());
        match self.inside_ids(r) {
            // " (inside " + u + ":" + g + ")"
            Some((u, g, _)) => outside + 9 + digits(u.into()) + 1 + digits(g.into()) + 1,
            None => outside,
        }
    }

    fn inside_ids(&self, r: &Row) -> Option<(u32, u32, bool)> {
        let ns = self.userns.as_ref()?;
        let u = ns.uid_map.to_inside(r.uid);
        let g = ns.gid_map.to_inside(r.gid);
        Some((
            u.unwrap_or(OVERFLOW_ID),
            g.unwrap_or(OVERFLOW_ID),
            u.is_none() || g.is_none(),
        ))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The name of row `i` (lossily converted for display).
    pub fn name(&self, i: usize) -> &str {
        let r = &self.rows[i];
        &self.text[r.name as usize..(r.name + r.name_len) as usize]
    }

    pub fn kind(&self, i: usize) -> FileKind {
        FileKind::from_mode(self.rows[i].mode)
    }

    /// Row `i` as a full `Entry`.
    pub fn entry(&self, i: usize) -> Option<Entry> {
        let r = self.rows.get(i)?;
        let (uid_inside, gid_inside, unmapped) = match self.inside_ids(r) {
            Some((u, g, unmapped)) => (Some(u), Some(g), unmapped),
            None => (None, None, false),
        };
        let link_target = (r.link_len != u32::MAX)
            .then(|| self.text[r.link as usize..(r.link + r.link_len) as usize].to_string());
        Some(Entry {
            name: self.name(i).to_string(),
            kind: FileKind::from_mode(r.mode),
            mode: r.mode,
            size: r.size,
            inode: r.inode,
            uid: r.uid,
            gid: r.gid,
            uid_inside,
            gid_inside,
            unmapped,
            link_target,
            mtime: r.mtime,
        })
    }

    /// The row named `name` (a binary search: rows are sorted by name).
    pub fn position(&self, name: &str) -> Option<usize> {
        let text = &self.text;
        self.rows
            .binary_search_by(|r| text[r.name as usize..(r.name + r.name_len) as usize].cmp(name))
            .ok()
    }

    /// The memory this listing holds on the heap (rows and text).
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>() + self.text.capacity()
    }
}

/// A file's head, for printing or previewing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileContent {
    pub bytes: Vec<u8>,
    /// The size the file reports (0 for many /proc and /sys files).
    pub size: u64,
    /// True if the file had more than `bytes` (the preview is cut).
    pub cut: bool,
    /// Looks binary (a NUL byte or invalid UTF-8): preview as hex.
    pub binary: bool,
}

/// Binary if there is a NUL or invalid UTF-8 (ignoring a character cut off
/// at the very end of a truncated read).
pub fn looks_binary(bytes: &[u8], cut: bool) -> bool {
    if bytes.contains(&0) {
        return true;
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => false,
        Err(e) => !(cut && e.error_len().is_none()),
    }
}

/// `xxd`-style lines: offset, 16 bytes in hex, printable ASCII.
pub fn hex_lines(bytes: &[u8]) -> Vec<String> {
    bytes
        .chunks(16)
        .enumerate()
        .map(|(i, chunk)| {
            let mut hex = String::with_capacity(48);
            for (j, b) in chunk.iter().enumerate() {
                if j == 8 {
                    hex.push(' ');
                }
                hex.push_str(&format!("{b:02x} "));
            }
            let ascii: String = chunk
                .iter()
                .map(|&b| {
                    if b.is_ascii_graphic() || b == b' ' {
                        b as char
                    } else {
                        '.'
                    }
                })
                .collect();
            format!("{:08x}  {:<49} |{}|", i * 16, hex, ascii)
        })
        .collect()
}

/// Join a directory (as the process sees it) and a name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The parent of a path as the process sees it (lexically; `/` stays `/`).
pub fn parent(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => trimmed[..i].to_string(),
    }
}

/// Split `/a/b/c` into (`/a/b`, `c`). Trailing slashes are kept on the name
/// side only when `allow_trailing_slash` is false, so `touch /x/` is refused.
fn split_parent(path: &str, allow_trailing_slash: bool) -> (String, String) {
    let path = if allow_trailing_slash {
        let t = path.trim_end_matches('/');
        if t.is_empty() { "/" } else { t }
    } else {
        path
    };
    match path.rfind('/') {
        Some(i) => {
            let dir = if i == 0 { "/" } else { &path[..i] };
            (dir.to_string(), path[i + 1..].to_string())
        }
        None => ("/".to_string(), path.to_string()),
    }
}

/// The open root filesystem of one process.
#[derive(Debug)]
pub struct ProcRoot {
    pid: Pid,
    proc_root: PathBuf,
    /// `/proc/PID`: lookups through it fail once the process is gone, even if
    /// the PID is reused, so nothing is ever read from a newcomer.
    proc_dir: OwnedFd,
    /// A pidfd, polled to learn that the process exited (zombies included).
    pidfd: Option<OwnedFd>,
    /// O_PATH fd of the process's root directory: the root of every walk.
    root: OwnedFd,
    userns: Option<UserNs>,
}

impl ProcRoot {
    /// Open PID's root. `proc_root` is where procfs is mounted (`/proc`).
    pub fn open(proc_root: &Path, pid: Pid) -> Result<ProcRoot, RootfsError> {
        if pid <= 0 {
            return Err(RootfsError::NoProcess { pid });
        }
        let dir_path = proc_root.join(pid.to_string());
        let proc_dir = openat(
            nix::fcntl::AT_FDCWD,
            &dir_path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            Errno::ENOENT | Errno::ESRCH => RootfsError::NoProcess { pid },
            Errno::EACCES | Errno::EPERM => RootfsError::NoAccess { pid },
            errno => RootfsError::Io {
                pid,
                path: dir_path.display().to_string(),
                op: "open",
                errno,
            },
        })?;
        // The pidfd is taken after the dir fd and checked against it below:
        // if the PID had been reused in between, the dir fd would be dead.
        let pidfd = crate::sys::pidfd::open(pid).ok();
        // Following the `root` magic link here is intended: it is how we get
        // hold of the process's root. Everything after uses openat2.
        let root = openat(
            &proc_dir,
            "root",
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            // A zombie has no root any more.
            Errno::ENOENT | Errno::ESRCH => RootfsError::Exited { pid },
            Errno::EACCES | Errno::EPERM => RootfsError::NoAccess { pid },
            errno => RootfsError::Io {
                pid,
                path: format!("{}/root", dir_path.display()),
                op: "open",
                errno,
            },
        })?;
        let mut pr = ProcRoot {
            pid,
            proc_root: proc_root.to_path_buf(),
            proc_dir,
            pidfd,
            root,
            userns: None,
        };
        pr.check_alive()?;
        pr.userns = pr.read_userns();
        pr.probe_openat2()?;
        Ok(pr)
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The process's user namespace maps, if it has its own.
    pub fn userns(&self) -> Option<&UserNs> {
        self.userns.as_ref()
    }

    /// The path a naive host tool would use: `/proc/PID/root/PATH`. Shown to
    /// the user only; never opened by isolab.
    pub fn host_path(&self, path: &str) -> PathBuf {
        let rel = path.trim_start_matches('/');
        let base = self.proc_root.join(self.pid.to_string()).join("root");
        if rel.is_empty() { base } else { base.join(rel) }
    }

    /// True while the process runs (a zombie counts as exited: it has no root).
    pub fn is_alive(&self) -> bool {
        if let Some(pidfd) = &self.pidfd {
            let mut fds = [libc::pollfd {
                fd: pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: one valid pollfd, zero timeout.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
            if n > 0 && fds[0].revents & libc::POLLIN != 0 {
                return false;
            }
        }
        fstatat(&self.proc_dir, "stat", AtFlags::empty()).is_ok()
    }

    pub fn check_alive(&self) -> Result<(), RootfsError> {
        if self.is_alive() {
            Ok(())
        } else {
            Err(RootfsError::Exited { pid: self.pid })
        }
    }

    /// Refuse early and clearly on a kernel without openat2.
    fn probe_openat2(&self) -> Result<(), RootfsError> {
        self.resolve("/", OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map(drop)
    }

    fn read_userns(&self) -> Option<UserNs> {
        let read = |name: &str| -> Option<String> {
            let fd = openat(
                &self.proc_dir,
                name,
                OFlag::O_RDONLY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .ok()?;
            let mut s = String::new();
            std::fs::File::from(fd).read_to_string(&mut s).ok()?;
            Some(s)
        };
        let uid_map = IdMap::parse(&read("uid_map")?);
        let gid_map = IdMap::parse(&read("gid_map")?);
        let ours = IdMap::parse(
            &std::fs::read_to_string(self.proc_root.join("self/uid_map")).unwrap_or_default(),
        );
        // Same maps as ours (usually the identity of the initial namespace):
        // ids inside are the ids outside, nothing to translate.
        if uid_map == ours || uid_map.is_identity() {
            return None;
        }
        Some(UserNs { uid_map, gid_map })
    }

    /// Turn an errno from a walk into an error naming the path; if the
    /// process died meanwhile, say that instead.
    fn error(&self, path: &str, op: &'static str, errno: Errno) -> RootfsError {
        if !self.is_alive() {
            return RootfsError::Exited { pid: self.pid };
        }
        let pid = self.pid;
        let path = path.to_string();
        match errno {
            Errno::ENOENT => RootfsError::NotFound { pid, path },
            Errno::ELOOP => RootfsError::Loop { pid, path },
            Errno::EXDEV => RootfsError::Escape {
                pid,
                path,
                reason: "EXDEV".to_string(),
            },
            Errno::ENOTDIR => RootfsError::NotADirectory { pid, path },
            Errno::EISDIR => RootfsError::IsADirectory { pid, path },
            Errno::EEXIST => RootfsError::Exists { pid, path },
            Errno::EACCES | Errno::EPERM => RootfsError::PermissionDenied { pid, path },
            Errno::ENOSYS | Errno::E2BIG => RootfsError::Unsupported,
            errno => RootfsError::Io {
                pid,
                path,
                op,
                errno,
            },
        }
    }

    /// Resolve `path` (as the process sees it) inside the process's root.
    /// The only way any path is ever opened here.
    fn resolve(&self, path: &str, flags: OFlag) -> Result<OwnedFd, RootfsError> {
        self.check_alive()?;
        let walk = if path.is_empty() { "/" } else { path };
        // openat2 rejects (EINVAL) any flag O_PATH ignores, O_NOCTTY included.
        let extra = if flags.contains(OFlag::O_PATH) {
            OFlag::O_CLOEXEC
        } else {
            OFlag::O_CLOEXEC | OFlag::O_NOCTTY
        };
        let how = OpenHow::new()
            .flags(flags | extra)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        for _ in 0..EAGAIN_RETRIES {
            match openat2(&self.root, walk, how) {
                Ok(fd) => return Ok(fd),
                Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
                Err(errno) => return Err(self.error(path, "open", errno)),
            }
        }
        Err(RootfsError::Busy {
            pid: self.pid,
            path: path.to_string(),
            tries: EAGAIN_RETRIES,
        })
    }

    /// What `path` is (following symlinks inside the root, like `stat`).
    pub fn stat(&self, path: &str) -> Result<Entry, RootfsError> {
        let fd = self.resolve(path, OFlag::O_PATH)?;
        let st = fstat(&fd).map_err(|e| self.error(path, "stat", e))?;
        let (_, name) = split_parent(path, true);
        let name = if name.is_empty() {
            "/".to_string()
        } else {
            name
        };
        Ok(Entry::from_stat(name, &st, self.userns.as_ref()))
    }

    /// What `path` itself is: a symlink at the end is reported, not followed.
    pub fn lstat(&self, path: &str) -> Result<Entry, RootfsError> {
        let fd = self.resolve(path, OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
        let st = fstat(&fd).map_err(|e| self.error(path, "stat", e))?;
        let (_, name) = split_parent(path, true);
        let name = if name.is_empty() {
            "/".to_string()
        } else {
            name
        };
        let mut entry = Entry::from_stat(name, &st, self.userns.as_ref());
        if entry.kind == FileKind::Symlink {
            entry.link_target = readlinkat(&fd, "")
                .ok()
                .map(|t| t.to_string_lossy().into_owned());
        }
        Ok(entry)
    }

    /// List a directory. Symlinks are reported, not followed.
    pub fn list_dir(&self, path: &str) -> Result<Listing, RootfsError> {
        let list = self
            .list_dir_compact(path, ListLimits::NONE, &mut |_| true)?
            .expect("a listing that never stops is never cancelled");
        Ok(Listing {
            entries: (0..list.len()).filter_map(|i| list.entry(i)).collect(),
            path: list.path,
            host_path: list.host_path,
        })
    }

    /// What the directory at `path` looks like from one fstat: compared
    /// with a listing's `stamp`, it says whether the entries may have changed
    /// without reading them.
    pub fn dir_stamp(&self, path: &str) -> Result<DirStamp, RootfsError> {
        let fd = self.resolve(path, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        let st = fstat(&fd).map_err(|e| self.error(path, "stat", e))?;
        Ok(DirStamp::of(&st))
    }

    /// List a directory into the compact form, sorted by name, keeping at
    /// most `limits` (the rest is only counted). `progress` hears the number
    /// of entries read every `PROGRESS_EVERY` entries; when it returns false
    /// the listing stops and `Ok(None)` comes back. Symlinks are reported,
    /// not followed.
    pub fn list_dir_compact(
        &self,
        path: &str,
        limits: ListLimits,
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Option<DirList>, RootfsError> {
        let dir_fd = self.resolve(path, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
        // Taken before reading: a change made while reading shows as a
        // changed stamp afterwards, so it is read again.
        let stamp = DirStamp::of(&fstat(&dir_fd).map_err(|e| self.error(path, "stat", e))?);
        let lookup_fd = dir_fd.try_clone().map_err(|e| {
            let errno = Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
            self.error(path, "dup", errno)
        })?;
        let mut dir = nix::dir::Dir::from_fd(dir_fd).map_err(|e| self.error(path, "readdir", e))?;
        let mut list = DirList {
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            host_path: self.host_path(path),
            userns: self.userns.clone(),
            stamp,
            ..DirList::default()
        };
        let mut seen = 0usize;
        for item in dir.iter() {
            let item = item.map_err(|e| self.error(path, "readdir", e))?;
            let raw = item.file_name().to_bytes();
            if raw == b"." || raw == b".." {
                continue;
            }
            seen += 1;
            if seen.is_multiple_of(PROGRESS_EVERY) && !progress(seen) {
                return Ok(None);
            }
            if list.rows.len() >= limits.entries || list.text.len() >= limits.text_bytes {
                // Over the cap: counted, not looked at.
                list.more += 1;
                continue;
            }
            let name_os = OsStr::from_bytes(raw);
            // One component, relative to the directory fd, not followed: this
            // cannot leave the directory.
            let st = match fstatat(&lookup_fd, name_os, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                // Removed between readdir and stat: skip it.
                Err(Errno::ENOENT) => continue,
                Err(e) => {
                    return Err(self.error(&join(path, &name_os.to_string_lossy()), "stat", e));
                }
            };
            let link = if FileKind::from_mode(st.st_mode) == FileKind::Symlink {
                self.read_link_at(&lookup_fd, name_os)
            } else {
                None
            };
            list.push(&name_os.to_string_lossy(), Meta::of(&st), link.as_deref());
        }
        progress(seen);
        list.finish();
        Ok(Some(list))
    }

    /// A symlink's target as stored (the process would read the same): the
    /// link itself is opened O_PATH|O_NOFOLLOW as one component under the
    /// directory, then read with readlinkat(fd, "").
    fn read_link_at(&self, dir: &OwnedFd, name: &OsStr) -> Option<String> {
        let link = openat(
            dir,
            name,
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        readlinkat(&link, "")
            .ok()
            .map(|t| t.to_string_lossy().into_owned())
    }

    /// The target of the symlink at `path` (its last component not followed).
    pub fn read_link(&self, path: &str) -> Result<String, RootfsError> {
        let fd = self.resolve(path, OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
        readlinkat(&fd, "")
            .map(|t| t.to_string_lossy().into_owned())
            .map_err(|e| match e {
                Errno::ENOENT | Errno::EINVAL => self.error(path, "readlink", Errno::EINVAL),
                e => self.error(path, "readlink", e),
            })
    }

    /// Read at most `limit` bytes of a regular file.
    pub fn read_file(&self, path: &str, limit: usize) -> Result<FileContent, RootfsError> {
        // First look without opening for reading: opening a device or a fifo
        // can block or have side effects.
        let probe = self.resolve(path, OFlag::O_PATH)?;
        let st = fstat(&probe).map_err(|e| self.error(path, "stat", e))?;
        match FileKind::from_mode(st.st_mode) {
            FileKind::File => {}
            FileKind::Dir => {
                return Err(RootfsError::IsADirectory {
                    pid: self.pid,
                    path: path.to_string(),
                });
            }
            kind => {
                return Err(RootfsError::NotRegular {
                    pid: self.pid,
                    path: path.to_string(),
                    kind: kind.describe(),
                });
            }
        }
        // Reopen exactly that inode through our own fd (no second walk, so no
        // race can swap in something else).
        let reopen = PathBuf::from(format!("/proc/self/fd/{}", probe.as_raw_fd()));
        let fd = openat(
            nix::fcntl::AT_FDCWD,
            &reopen,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| self.error(path, "open", e))?;
        let mut file = std::fs::File::from(fd);
        let mut bytes = Vec::with_capacity(limit.min(64 * 1024));
        (&mut file)
            .take(limit as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                self.error(
                    path,
                    "read",
                    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                )
            })?;
        let cut = bytes.len() > limit;
        bytes.truncate(limit);
        let binary = looks_binary(&bytes, cut);
        Ok(FileContent {
            bytes,
            size: st.st_size.max(0) as u64,
            cut,
            binary,
        })
    }

    /// Resolve the parent directory of a new name and check the name.
    fn parent_for_create(
        &self,
        path: &str,
        is_dir: bool,
    ) -> Result<(OwnedFd, String), RootfsError> {
        let (dir, name) = split_parent(path, is_dir);
        validate_new_name(&name)?;
        let parent = self.resolve(&dir, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        // A clear message before the kernel's EEXIST (which still decides).
        if fstatat(&parent, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW).is_ok() {
            return Err(RootfsError::Exists {
                pid: self.pid,
                path: path.to_string(),
            });
        }
        Ok((parent, name))
    }

    /// Create an empty file (mode 0644 less umask). Never follows a link:
    /// O_CREAT|O_EXCL|O_NOFOLLOW under the resolved parent.
    pub fn create_file(&self, path: &str) -> Result<Entry, RootfsError> {
        let (parent, name) = self.parent_for_create(path, false)?;
        let fd = openat(
            &parent,
            name.as_str(),
            OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_WRONLY
                | OFlag::O_CLOEXEC
                | OFlag::O_NOCTTY,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(|e| self.error(path, "create", e))?;
        let st = fstat(&fd).map_err(|e| self.error(path, "stat", e))?;
        Ok(Entry::from_stat(name, &st, self.userns.as_ref()))
    }

    /// Create a directory (mode 0755 less umask) under the resolved parent.
    pub fn create_dir(&self, path: &str) -> Result<Entry, RootfsError> {
        let (parent, name) = self.parent_for_create(path, true)?;
        mkdirat(&parent, name.as_str(), Mode::from_bits_truncate(0o755))
            .map_err(|e| self.error(path, "mkdir", e))?;
        let st = fstatat(&parent, name.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(|e| self.error(path, "stat", e))?;
        Ok(Entry::from_stat(name, &st, self.userns.as_ref()))
    }

    /// Create `name` in directory `dir` (for a name typed in a dialog).
    pub fn create_in(&self, dir: &str, name: &str, is_dir: bool) -> Result<Entry, RootfsError> {
        validate_new_name(name)?;
        let path = join(dir, name);
        if is_dir {
            self.create_dir(&path)
        } else {
            self.create_file(&path)
        }
    }

    /// The process's /proc/PID/mountinfo, read through the held dir fd.
    pub fn mountinfo_text(&self) -> Result<String, RootfsError> {
        self.check_alive()?;
        let fd = openat(
            &self.proc_dir,
            "mountinfo",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.error("mountinfo", "open", e))?;
        let mut text = String::new();
        std::fs::File::from(fd)
            .read_to_string(&mut text)
            .map_err(|e| {
                self.error(
                    "mountinfo",
                    "read",
                    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
                )
            })?;
        Ok(text)
    }

    /// The inode of the process's mount namespace (`mnt:[N]`).
    pub fn mnt_ns(&self) -> Option<u64> {
        fstatat(&self.proc_dir, "ns/mnt", AtFlags::empty())
            .ok()
            .map(|st| st.st_ino)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate_new_name("created_by_host").is_ok());
        let problem = |n: &str| match validate_new_name(n) {
            Err(RootfsError::BadName { problem, .. }) => Some(problem),
            _ => None,
        };
        assert_eq!(problem(""), Some(NameProblem::Empty));
        assert_eq!(problem("a/b"), Some(NameProblem::ContainsSlash));
        assert_eq!(problem("."), Some(NameProblem::DotOrDotDot));
        assert_eq!(problem(".."), Some(NameProblem::DotOrDotDot));
        assert_eq!(problem("a\0b"), Some(NameProblem::ContainsNul));
        assert!(problem("..hidden").is_none());
    }

    #[test]
    fn modes_render_like_ls() {
        assert_eq!(mode_string(libc::S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(libc::S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(libc::S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(libc::S_IFLNK | 0o777), "lrwxrwxrwx");
        assert_eq!(mode_string(libc::S_IFREG | 0o2640), "-rw-r-S---");
    }

    #[test]
    fn id_maps_translate_and_report_unmapped() {
        let map = IdMap::parse("         0     100000      65536\n");
        assert_eq!(map.to_inside(100000), Some(0));
        assert_eq!(map.to_inside(101000), Some(1000));
        assert_eq!(map.to_inside(0), None);
        assert_eq!(map.to_inside(165536), None);
        assert!(IdMap::parse("0 0 4294967295").is_identity());
        assert!(!map.is_identity());
    }

    #[test]
    fn binary_detection_and_hex() {
        assert!(!looks_binary(b"hello\n", false));
        assert!(looks_binary(b"\x7fELF\0\0", false));
        assert!(looks_binary(b"\xff\xfe", false));
        // "é" cut in half at the end of a truncated read is still text.
        assert!(!looks_binary(&"abé".as_bytes()[..3], true));
        assert!(looks_binary(&"abé".as_bytes()[..3], false));
        let lines = hex_lines(b"\x7fELF hello world!");
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("00000000  7f 45 4c 46 "));
        assert!(lines[0].ends_with("|.ELF hello world|"));
        assert!(lines[1].starts_with("00000010  21 "));
    }

    #[test]
    fn paths_split_and_join() {
        assert_eq!(split_parent("/tmp/x", false), ("/tmp".into(), "x".into()));
        assert_eq!(split_parent("/x", false), ("/".into(), "x".into()));
        assert_eq!(split_parent("x", false), ("/".into(), "x".into()));
        assert_eq!(split_parent("/tmp/x/", false), ("/tmp/x".into(), "".into()));
        assert_eq!(split_parent("/tmp/x/", true), ("/tmp".into(), "x".into()));
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/tmp", "a"), "/tmp/a");
        assert_eq!(parent("/tmp/a"), "/tmp");
        assert_eq!(parent("/tmp"), "/");
        assert_eq!(parent("/"), "/");
    }

    #[test]
    fn compact_listing_sorts_finds_and_measures() {
        let e = |name: &str, uid: u32, size: u64, link: Option<&str>| Entry {
            name: name.into(),
            kind: FileKind::File,
            mode: libc::S_IFREG | 0o644,
            size,
            inode: 7,
            uid,
            gid: 0,
            uid_inside: None,
            gid_inside: None,
            unmapped: false,
            link_target: link.map(String::from),
            mtime: 5,
        };
        let userns = UserNs {
            uid_map: IdMap::parse("0 100000 65536"),
            gid_map: IdMap::parse("0 0 1"),
        };
        let list = DirList::from_entries(
            "/d",
            "/proc/1/root/d".into(),
            &[
                e("zeta", 101000, 12345, None),
                e("alpha", 100000, 1, Some("/x")),
                e("mid", 5, 0, None),
            ],
            Some(userns),
        );
        assert_eq!(list.len(), 3);
        assert_eq!(
            (0..3).map(|i| list.name(i)).collect::<Vec<_>>(),
            ["alpha", "mid", "zeta"]
        );
        assert_eq!(list.position("mid"), Some(1));
        assert_eq!(list.position("nope"), None);
        let alpha = list.entry(0).expect("alpha");
        assert_eq!(alpha.link_target.as_deref(), Some("/x"));
        assert_eq!((alpha.uid_inside, alpha.gid_inside), (Some(0), Some(0)));
        let mid = list.entry(1).expect("mid");
        assert!(mid.unmapped && mid.uid_inside == Some(OVERFLOW_ID));
        assert_eq!(list.entry(2).expect("zeta").link_target, None);
        // The widest columns, measured once.
        let widest = (0..3)
            .filter_map(|i| list.entry(i))
            .map(|e| e.owner_text().len())
            .max();
        assert_eq!(Some(list.owner_width), widest);
        assert_eq!(list.size_width, 5);
    }
}
