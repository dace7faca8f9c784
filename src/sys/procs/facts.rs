//! Reading what a process is ([`super::Facts`]): cmdline, ns links, status
//! and cgroup, once per (PID, start time), with the shortcuts a real procfs
//! allows (see [`FactsPlan`]).

use super::io::{Read, pread_whole, read_at, readlink_at, reason};
use super::model::{CgroupLines, Facts, Pid, ProcFile, Unreadable};
use super::parse::{Stat, parse_cmdline, parse_ns_link, parse_stat, parse_status};
use crate::sys::container::Container;
use crate::sys::ns::{NsKind, NsSet};
use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

/// The facts read once per process (per pid and start time): they change
/// only on exec (which also changes comm, so a comm change re-reads them).
#[derive(Debug, Default)]
pub(super) struct RawFacts {
    pub(super) uid: Option<u32>,
    pub(super) cmdline: Option<Vec<String>>,
    pub(super) ns: NsSet,
    pub(super) nspid: Vec<Pid>,
    /// The text of /proc/PID/cgroup, parsed and shared later.
    pub(super) cgroup: Option<Vec<u8>>,
    pub(super) unreadable: Vec<Unreadable>,
}

impl RawFacts {
    pub(super) fn into_facts(
        self,
        comm: String,
        cgroups: CgroupLines,
        container: Option<Arc<Container>>,
    ) -> Facts {
        Facts {
            comm,
            uid: self.uid,
            cmdline: self.cmdline,
            ns: self.ns,
            nspid: self.nspid,
            cgroups,
            container,
            unreadable: self.unreadable,
        }
    }
}

/// How to read facts under one proc root, decided once per reader.
#[derive(Clone, Copy, Debug)]
pub(super) struct FactsPlan {
    /// The root is a real procfs: the owner of /proc/PID is the process's
    /// effective uid (what ps and htop show), one fstat instead of status.
    pub(super) uid_from_owner: bool,
    /// The PID namespace of the procfs (when isolab lives in it): a process
    /// in it has NSpid = [pid], so its status need not be read.
    pub(super) own_pid_ns: Option<u64>,
    /// The namespace links to read (each costs as much as a stat file).
    pub(super) ns_kinds: &'static [NsKind],
}

impl FactsPlan {
    pub(super) fn for_root(root: BorrowedFd<'_>) -> FactsPlan {
        let uid_from_owner = nix::sys::statfs::fstatfs(root)
            .is_ok_and(|fs| fs.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
        // /proc/self is isolab as this procfs numbers it; NSpid of length
        // one means the procfs belongs to isolab's own PID namespace.
        let mut buf = Vec::new();
        let own_level = matches!(read_at(root, c"self/status", &mut buf), Read::Ok)
            && parse_status(&buf).nspid.len() == 1;
        let mut target = [0u8; 64];
        let own_pid_ns = own_level
            .then(|| readlink_at(root, c"self/ns/pid", &mut target).ok())
            .flatten()
            .and_then(|n| parse_ns_link(&target[..n]));
        FactsPlan {
            uid_from_owner,
            own_pid_ns,
            ns_kinds: &NsKind::ALL,
        }
    }
}

/// Opens and reads the stat file of the process whose /proc/PID is `dir`.
pub(super) fn read_stat_in(
    dir: BorrowedFd<'_>,
    pid: Pid,
    buf: &mut Vec<u8>,
) -> Option<(Stat, OwnedFd)> {
    let fd = openat(
        dir,
        c"stat",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    if !matches!(pread_whole(fd.as_fd(), buf), Read::Ok) {
        return None;
    }
    let mut stat = parse_stat(buf)?;
    stat.pid = pid;
    Some((stat, fd))
}

/// Reads cmdline, ns links, cgroup and (where needed, see [`FactsPlan`])
/// status of the process `pid` whose /proc/PID is `dir`. `None` when the
/// process vanished while being read.
pub(super) fn read_facts(
    dir: BorrowedFd<'_>,
    pid: Pid,
    plan: FactsPlan,
    buf: &mut Vec<u8>,
) -> Option<RawFacts> {
    let mut facts = RawFacts::default();
    if plan.uid_from_owner {
        facts.uid = Some(nix::sys::stat::fstat(dir).ok()?.st_uid);
    }
    match read_at(dir, c"cmdline", buf) {
        Read::Ok => facts.cmdline = Some(parse_cmdline(buf)),
        Read::Gone => return None,
        Read::Failed(e) => facts.unreadable.push(Unreadable {
            what: ProcFile::Cmdline,
            reason: reason(e),
        }),
    }
    // One lookup of ns/, then one short lookup per link.
    let ns_dir = openat(
        dir,
        c"ns",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    );
    let mut ns_error = None;
    match ns_dir {
        Ok(ns_dir) => {
            let mut target = [0u8; 64];
            for &kind in plan.ns_kinds {
                match readlink_at(ns_dir.as_fd(), ns_link_name(kind), &mut target) {
                    Ok(n) => facts.ns.set(kind, parse_ns_link(&target[..n])),
                    // A kernel without this kind has no link.
                    Err(Errno::ENOENT) => {}
                    Err(Errno::ESRCH) => return None,
                    Err(e) => ns_error = Some(e),
                }
            }
        }
        // A zombie has no ns links at all; a vanished process neither.
        Err(Errno::ENOENT | Errno::ESRCH) => {}
        Err(e) => ns_error = Some(e),
    }
    if let Some(e) = ns_error {
        facts.unreadable.push(Unreadable {
            what: ProcFile::Ns,
            reason: reason(e),
        });
    }
    let in_own_pid_ns = plan.own_pid_ns.is_some() && facts.ns.get(NsKind::Pid) == plan.own_pid_ns;
    if plan.uid_from_owner && in_own_pid_ns {
        facts.nspid = vec![pid];
    } else {
        match read_at(dir, c"status", buf) {
            Read::Ok => {
                let status = parse_status(buf);
                if !plan.uid_from_owner {
                    facts.uid = status.uid;
                }
                facts.nspid = status.nspid;
            }
            Read::Gone => return None,
            Read::Failed(e) => facts.unreadable.push(Unreadable {
                what: ProcFile::Status,
                reason: reason(e),
            }),
        }
    }
    match read_at(dir, c"cgroup", buf) {
        Read::Ok => facts.cgroup = Some(buf.clone()),
        Read::Gone => return None,
        Read::Failed(e) => facts.unreadable.push(Unreadable {
            what: ProcFile::Cgroup,
            reason: reason(e),
        }),
    }
    Some(facts)
}

pub(super) fn ns_link_name(kind: NsKind) -> &'static CStr {
    match kind {
        NsKind::Pid => c"pid",
        NsKind::Mnt => c"mnt",
        NsKind::Net => c"net",
        NsKind::Ipc => c"ipc",
        NsKind::Uts => c"uts",
        NsKind::User => c"user",
        NsKind::Cgroup => c"cgroup",
        NsKind::Time => c"time",
        NsKind::PidForChildren => c"pid_for_children",
        NsKind::TimeForChildren => c"time_for_children",
    }
}
