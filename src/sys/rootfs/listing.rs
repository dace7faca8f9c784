//! A directory's entries: [`Listing`] (whole entries) and [`DirList`] (the
//! compact form a big directory is kept in), with the stamp that says
//! whether a directory may have changed.

use super::entry::{Entry, FileKind, OVERFLOW_ID, UserNs};
use nix::sys::stat::FileStat;
use std::path::PathBuf;

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
    pub(super) fn of(st: &FileStat) -> DirStamp {
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
pub(super) struct Row {
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
pub(super) struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    inode: u64,
    mtime: i64,
}

impl Meta {
    pub(super) fn of(st: &FileStat) -> Meta {
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
    pub(super) text: String,
    pub(super) rows: Vec<Row>,
    pub(super) userns: Option<UserNs>,
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

    pub(super) fn push(&mut self, name: &str, m: Meta, link: Option<&str>) {
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

    /// Whether `limits` are reached: further entries are only counted.
    pub(super) fn is_full(&self, limits: ListLimits) -> bool {
        self.rows.len() >= limits.entries || self.text.len() >= limits.text_bytes
    }

    /// Sort by name and measure the columns: once per listing.
    pub(super) fn finish(&mut self) {
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
