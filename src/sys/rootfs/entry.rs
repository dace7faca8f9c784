//! What one directory entry is: kind, mode, owner (translated through the
//! process's user namespace) and size.

use nix::sys::stat::FileStat;

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

    pub(super) fn from_stat(name: String, st: &FileStat, userns: Option<&UserNs>) -> Entry {
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
