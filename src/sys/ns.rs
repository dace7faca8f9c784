//! Namespace kinds and the set of namespace ids (inode numbers) of a process.

use serde::Serialize;

/// A namespace kind as named under /proc/PID/ns. The first eight are the
/// isolating kinds a user toggles; the `*ForChildren` links say which
/// namespace the process's *next* children will be born into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NsKind {
    Pid,
    Mnt,
    Net,
    Ipc,
    Uts,
    User,
    Cgroup,
    Time,
    PidForChildren,
    TimeForChildren,
}

impl NsKind {
    /// Every link under /proc/PID/ns that isolab reads, in display order.
    pub const ALL: [NsKind; 10] = [
        NsKind::Pid,
        NsKind::Mnt,
        NsKind::Net,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::User,
        NsKind::Cgroup,
        NsKind::Time,
        NsKind::PidForChildren,
        NsKind::TimeForChildren,
    ];

    /// The eight kinds that can be unshared.
    pub const ISOLATING: [NsKind; 8] = [
        NsKind::Pid,
        NsKind::Mnt,
        NsKind::Net,
        NsKind::Ipc,
        NsKind::Uts,
        NsKind::User,
        NsKind::Cgroup,
        NsKind::Time,
    ];

    /// The file name under /proc/PID/ns.
    pub fn proc_name(self) -> &'static str {
        match self {
            NsKind::Pid => "pid",
            NsKind::Mnt => "mnt",
            NsKind::Net => "net",
            NsKind::Ipc => "ipc",
            NsKind::Uts => "uts",
            NsKind::User => "user",
            NsKind::Cgroup => "cgroup",
            NsKind::Time => "time",
            NsKind::PidForChildren => "pid_for_children",
            NsKind::TimeForChildren => "time_for_children",
        }
    }

    pub fn from_proc_name(name: &str) -> Option<NsKind> {
        NsKind::ALL.into_iter().find(|k| k.proc_name() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The namespace ids of one process: the inode number of each
/// /proc/PID/ns link, or `None` where it could not be read (permission,
/// kernel without that kind, process gone). Stored as plain numbers with 0
/// for "unknown" (no namespace has inode 0), half the size of `Option`s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NsSet([u64; 10]);

impl NsSet {
    pub fn get(&self, kind: NsKind) -> Option<u64> {
        Some(self.0[kind.index()]).filter(|&id| id != 0)
    }

    pub fn set(&mut self, kind: NsKind, inode: Option<u64>) {
        self.0[kind.index()] = inode.unwrap_or(0);
    }

    /// The isolating kinds (of the first eight) where both ids are known and differ.
    pub fn differing(&self, other: &NsSet) -> Vec<NsKind> {
        NsKind::ISOLATING
            .into_iter()
            .filter(|&k| matches!((self.get(k), other.get(k)), (Some(a), Some(b)) if a != b))
            .collect()
    }
}

/// Serialised as `{"pid": 4026531836, ...}`, leaving out unreadable kinds.
impl Serialize for NsSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for kind in NsKind::ALL {
            if let Some(id) = self.get(kind) {
                map.serialize_entry(kind.proc_name(), &id)?;
            }
        }
        map.end()
    }
}
