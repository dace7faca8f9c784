//! [`ProcRoot`]: one process's root filesystem, opened from the host. Every
//! path is resolved by openat2 here (see the module docs of `rootfs`).

use super::content::{FileContent, looks_binary};
use super::entry::{Entry, FileKind, IdMap, UserNs};
use super::error::{EAGAIN_RETRIES, Pid, RootfsError, validate_new_name};
use super::listing::{DirList, DirStamp, ListLimits, Listing, Meta, PROGRESS_EVERY};
use super::path::{join, split_parent};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, OpenHow, ResolveFlag, openat, openat2, readlinkat};
use nix::sys::stat::{Mode, fstat, fstatat, mkdirat};
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

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
        if self
            .pidfd
            .as_ref()
            .is_some_and(crate::sys::pidfd::has_exited)
        {
            return false;
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
            if list.is_full(limits) {
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
