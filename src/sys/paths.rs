//! The one place that says where isolab keeps its files, and the only way
//! isolab opens them.
//!
//! | what | root | others |
//! |------|------|--------|
//! | runtime (records, locks) | `/run/isolab` | `$XDG_RUNTIME_DIR/isolab`, else `/tmp/isolab-UID` |
//! | cache (minimal root) | `/var/cache/isolab` | `$XDG_CACHE_HOME/isolab`, `~/.cache/isolab`, else `/tmp/isolab-cache-UID` |
//! | state (lesson progress) | `$XDG_STATE_HOME/isolab`, `~/.local/state/isolab`, else `/tmp/isolab-state-UID` | same |
//!
//! The fallbacks sit in /tmp, where anyone can create a name first. So a
//! directory is only used after it has been opened with
//! `O_NOFOLLOW|O_DIRECTORY` (a symlink is refused, never followed) and the
//! open fd passed `fstat`: a directory owned by the effective uid that
//! group and others cannot write. Everything after that goes through the
//! fd (`openat`, `renameat`, `unlinkat`), so the directory cannot be
//! swapped for another after the check. Files are created `O_EXCL|O_NOFOLLOW`
//! mode 0600 under a temp name and renamed into place, and a file is only
//! read when the fd opened `O_NOFOLLOW|O_NONBLOCK` is a regular file of ours
//! (a FIFO never blocks isolab).

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, RenameFlags};
use nix::sys::stat::{FileStat, Mode, SFlag};
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The biggest file `read_regular` reads: records and progress are small.
pub const MAX_READ: u64 = 1 << 20;

fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

fn is_root() -> bool {
    euid() == 0
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        // A relative XDG path is invalid per the spec; ignore it.
        .filter(|p| p.is_absolute())
}

fn tmp_fallback(kind: &str) -> PathBuf {
    std::env::temp_dir().join(format!("isolab{kind}-{}", euid()))
}

/// Where records and locks live (see the module doc). Not checked: use
/// [`runtime_dir`] to use it.
pub fn runtime_path() -> PathBuf {
    if is_root() {
        return PathBuf::from("/run/isolab");
    }
    match env_dir("XDG_RUNTIME_DIR") {
        Some(d) => d.join("isolab"),
        None => tmp_fallback(""),
    }
}

/// Where the minimal root is cached. Not checked: use [`cache_dir`].
pub fn cache_path() -> PathBuf {
    if is_root() {
        return PathBuf::from("/var/cache/isolab");
    }
    match (env_dir("XDG_CACHE_HOME"), env_dir("HOME")) {
        (Some(d), _) => d.join("isolab"),
        (None, Some(h)) => h.join(".cache/isolab"),
        _ => tmp_fallback("-cache"),
    }
}

/// Where lesson progress is kept. Not checked: use [`state_dir`].
pub fn state_path() -> PathBuf {
    match (env_dir("XDG_STATE_HOME"), env_dir("HOME")) {
        (Some(d), _) => d.join("isolab"),
        (None, Some(h)) => h.join(".local/state/isolab"),
        _ => tmp_fallback("-state"),
    }
}

/// Where the user's config file is (`$XDG_CONFIG_HOME/isolab/config.toml`,
/// else `~/.config/isolab/config.toml`); `None` without either variable.
/// Not checked here: `config::load` opens it as untrusted input.
pub fn config_file_path() -> Option<PathBuf> {
    match (env_dir("XDG_CONFIG_HOME"), env_dir("HOME")) {
        (Some(d), _) => Some(d.join("isolab/config.toml")),
        (None, Some(h)) => Some(h.join(".config/isolab/config.toml")),
        _ => None,
    }
}

/// What to tell the user when a directory is refused.
fn hint_for(path: &Path) -> String {
    let var = if path == runtime_path() {
        Some("XDG_RUNTIME_DIR")
    } else if path == cache_path() {
        Some("XDG_CACHE_HOME")
    } else if path == state_path() {
        Some("XDG_STATE_HOME")
    } else {
        None
    };
    match var {
        Some(v) if !is_root() || v == "XDG_STATE_HOME" => {
            format!("remove it, or set {v} to a directory of your own")
        }
        _ => "remove it (isolab creates it again, mode 0700)".to_string(),
    }
}

/// The runtime directory, created and checked.
pub fn runtime_dir() -> anyhow::Result<Dir> {
    Dir::ensure(&runtime_path())
}

/// The cache directory, created and checked.
pub fn cache_dir() -> anyhow::Result<Dir> {
    Dir::ensure(&cache_path())
}

/// The state directory, created and checked.
pub fn state_dir() -> anyhow::Result<Dir> {
    Dir::ensure(&state_path())
}

/// A directory that passed the check, held open.
#[derive(Debug)]
pub struct Dir {
    path: PathBuf,
    fd: OwnedFd,
}

/// Why a directory or file is not ours to use, or None if it is.
fn refusal(st: &FileStat, want: SFlag) -> Option<String> {
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if kind != want {
        let what = if want == SFlag::S_IFDIR {
            "not a directory"
        } else {
            "not a regular file"
        };
        return Some(what.to_string());
    }
    if st.st_uid != euid() {
        return Some(format!(
            "owned by uid {}, not by you (uid {})",
            st.st_uid,
            euid()
        ));
    }
    if st.st_mode & 0o022 != 0 {
        return Some(format!(
            "writable by group or others (mode {:04o})",
            st.st_mode & 0o7777
        ));
    }
    None
}

impl Dir {
    /// Creates `path` (mode 0700; missing parents with the default mode)
    /// unless it exists, then opens and checks it.
    pub fn ensure(path: &Path) -> anyhow::Result<Dir> {
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        match nix::unistd::mkdir(path, Mode::S_IRWXU) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("cannot create the directory {}", path.display()));
            }
        }
        Dir::open(path)
    }

    /// Opens an existing directory and checks it; `Ok(None)` if it is missing.
    pub fn open_existing(path: &Path) -> anyhow::Result<Option<Dir>> {
        match Dir::open(path) {
            Ok(d) => Ok(Some(d)),
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn open(path: &Path) -> anyhow::Result<Dir> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = match nix::fcntl::open(path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => bail!(
                "refusing to use {}: it is a symlink or not a directory; {}",
                path.display(),
                hint_for(path)
            ),
            Err(e) => {
                // Keep the io::Error on top: open_existing looks for ENOENT.
                let context = format!("cannot open the directory {}", path.display());
                return Err(anyhow::Error::from(std::io::Error::from(e)).context(context));
            }
        };
        Dir::check(path.to_path_buf(), fd)
    }

    fn check(path: PathBuf, fd: OwnedFd) -> anyhow::Result<Dir> {
        let st = nix::sys::stat::fstat(&fd)
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if let Some(why) = refusal(&st, SFlag::S_IFDIR) {
            bail!(
                "refusing to use {}: {why}; {}",
                path.display(),
                hint_for(&path)
            );
        }
        Ok(Dir { path, fd })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A second handle on the same (already checked) directory.
    pub fn try_clone(&self) -> anyhow::Result<Dir> {
        Ok(Dir {
            path: self.path.clone(),
            fd: self
                .fd
                .try_clone()
                .with_context(|| format!("cannot dup the fd of {}", self.path.display()))?,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// A subdirectory (one name, created 0700 if missing), checked the same way.
    pub fn subdir(&self, name: &str) -> anyhow::Result<Dir> {
        let path = self.path.join(name);
        single_name(name)?;
        match nix::sys::stat::mkdirat(self.fd(), name, Mode::S_IRWXU) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("cannot create the directory {}", path.display()));
            }
        }
        self.open_subdir(name)
    }

    /// An existing subdirectory, checked; errors if missing.
    pub fn open_subdir(&self, name: &str) -> anyhow::Result<Dir> {
        single_name(name)?;
        let path = self.path.join(name);
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = match nix::fcntl::openat(self.fd(), name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => bail!(
                "refusing to use {}: it is a symlink or not a directory; remove it",
                path.display()
            ),
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("cannot open the directory {}", path.display()));
            }
        };
        Dir::check(path, fd)
    }

    /// The names in this directory (without `.` and `..`).
    pub fn names(&self) -> anyhow::Result<Vec<OsString>> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let mut dir = nix::dir::Dir::openat(self.fd(), ".", flags, Mode::empty())
            .with_context(|| format!("cannot list {}", self.path.display()))?;
        let mut out = Vec::new();
        for entry in dir.iter() {
            let entry = entry.with_context(|| format!("cannot list {}", self.path.display()))?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name != "." && name != ".." {
                out.push(name.to_os_string());
            }
        }
        Ok(out)
    }

    /// Creates a new file, `O_EXCL|O_NOFOLLOW`, mode 0600.
    pub fn create_new(&self, name: &str) -> anyhow::Result<File> {
        single_name(name)?;
        let flags =
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::openat(self.fd(), name, flags, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot create {}", self.path.join(name).display()))?;
        Ok(File::from(fd))
    }

    /// Opens (creating 0600 if missing) a lock file that stays: a regular
    /// file of ours, never a symlink or a FIFO.
    pub fn open_lock_file(&self, name: &str) -> anyhow::Result<File> {
        single_name(name)?;
        let path = self.path.join(name);
        let flags = OFlag::O_RDWR
            | OFlag::O_CREAT
            | OFlag::O_NOFOLLOW
            | OFlag::O_NONBLOCK
            | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::openat(self.fd(), name, flags, Mode::S_IRUSR | Mode::S_IWUSR)
            .map_err(std::io::Error::from)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let st = nix::sys::stat::fstat(&fd)
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if let Some(why) = refusal(&st, SFlag::S_IFREG) {
            bail!("refusing to use {}: {why}; remove it", path.display());
        }
        Ok(File::from(fd))
    }

    /// Writes `bytes` as `name`: into a new temp file first, then renamed
    /// over, so a reader (or a `kill -9` at any moment) sees the old file
    /// or the new one, complete.
    pub fn write_atomic(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let tmp = format!(".{name}.{}.{}.tmp", std::process::id(), next_tmp());
        let path = self.path.join(name);
        let written = self.create_new(&tmp).and_then(|mut f| {
            f.write_all(bytes)
                .with_context(|| format!("cannot write {}", path.display()))
        });
        let renamed = written.and_then(|()| {
            nix::fcntl::renameat(self.fd(), tmp.as_str(), self.fd(), name)
                .map_err(std::io::Error::from)
                .with_context(|| format!("cannot write {}", path.display()))
        });
        if renamed.is_err() {
            let _ = self.remove_file(&tmp);
        }
        renamed
    }

    /// Renames `from` to `to` in this directory (replacing `to`).
    pub fn rename(&self, from: &str, to: &str) -> anyhow::Result<()> {
        self.rename_with(from, to, RenameFlags::empty())
    }

    /// Renames `from` to `to` in this directory, never over an existing `to`.
    pub fn rename_noreplace(&self, from: &str, to: &str) -> anyhow::Result<()> {
        self.rename_with(from, to, RenameFlags::RENAME_NOREPLACE)
    }

    fn rename_with(&self, from: &str, to: &str, flags: RenameFlags) -> anyhow::Result<()> {
        nix::fcntl::renameat2(self.fd(), from, self.fd(), to, flags)
            .map_err(std::io::Error::from)
            .with_context(|| {
                format!(
                    "cannot rename {} to {}",
                    self.path.join(from).display(),
                    self.path.join(to).display()
                )
            })
    }

    /// Opens `name` for reading if it is a regular file of ours:
    /// `Ok(None)` when it does not exist, an error naming the file when it
    /// is anything else (a FIFO, a symlink, someone else's file).
    pub fn open_regular(&self, name: &OsStr) -> anyhow::Result<Option<File>> {
        let path = self.path.join(name);
        if name.as_bytes().contains(&b'/') {
            bail!("refusing to read {}: not a plain name", path.display());
        }
        let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
        let fd = match nix::fcntl::openat(self.fd(), name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP) => bail!("refusing to read {}: it is a symlink", path.display()),
            Err(e) => {
                return Err(std::io::Error::from(e))
                    .with_context(|| format!("cannot open {}", path.display()));
            }
        };
        let st = nix::sys::stat::fstat(&fd)
            .with_context(|| format!("cannot stat {}", path.display()))?;
        if let Some(why) = refusal(&st, SFlag::S_IFREG) {
            bail!("refusing to read {}: {why}", path.display());
        }
        Ok(Some(File::from(fd)))
    }

    /// The contents of `name` if it is a regular file of ours (see
    /// `open_regular`), at most `MAX_READ` bytes.
    pub fn read_regular(&self, name: &OsStr) -> anyhow::Result<Option<Vec<u8>>> {
        let Some(file) = self.open_regular(name)? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        file.take(MAX_READ + 1)
            .read_to_end(&mut out)
            .with_context(|| format!("cannot read {}", self.path.join(name).display()))?;
        if out.len() as u64 > MAX_READ {
            bail!(
                "refusing to read {}: larger than {MAX_READ} bytes",
                self.path.join(name).display()
            );
        }
        Ok(Some(out))
    }

    /// Removes the file `name` (not a directory).
    pub fn remove_file(&self, name: &str) -> std::io::Result<()> {
        nix::unistd::unlinkat(self.fd(), name, nix::unistd::UnlinkatFlags::NoRemoveDir)
            .map_err(std::io::Error::from)
    }

    /// `lstat` of `name` in this directory (the link itself, never its target).
    pub fn stat_name(&self, name: &OsStr) -> nix::Result<FileStat> {
        nix::sys::stat::fstatat(self.fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW)
    }

    /// Whether `name` in this directory is a directory of ours (no symlink).
    pub fn is_own_dir(&self, name: &OsStr) -> bool {
        self.stat_name(name)
            .is_ok_and(|st| refusal(&st, SFlag::S_IFDIR).is_none())
    }
}

/// Refuses a name that is not one path component.
fn single_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        bail!("{name:?} is not a plain file name");
    }
    Ok(())
}

fn next_tmp() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_0700_and_refuses_open_or_symlinked_dirs() {
        let base = tempfile::tempdir().unwrap();
        let d = base.path().join("isolab");
        Dir::ensure(&d).unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);

        let open = base.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = Dir::ensure(&open).unwrap_err().to_string();
        assert!(e.contains("writable by group or others"), "{e}");
        assert!(e.contains(&open.display().to_string()), "{e}");

        let link = base.path().join("link");
        std::os::unix::fs::symlink(&d, &link).unwrap();
        let e = Dir::ensure(&link).unwrap_err().to_string();
        assert!(e.contains("symlink"), "{e}");
    }

    #[test]
    fn files_are_replaced_atomically_and_fifos_not_read() {
        let base = tempfile::tempdir().unwrap();
        let d = Dir::ensure(&base.path().join("x")).unwrap();
        d.write_atomic("a.json", b"one").unwrap();
        d.write_atomic("a.json", b"two").unwrap();
        assert_eq!(
            d.read_regular(OsStr::new("a.json")).unwrap().unwrap(),
            b"two"
        );
        let mode = std::fs::metadata(d.path().join("a.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(d.names().unwrap(), vec![OsString::from("a.json")]);
        nix::unistd::mkfifo(&d.path().join("f.json"), Mode::S_IRWXU).unwrap();
        let e = d
            .read_regular(OsStr::new("f.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        std::os::unix::fs::symlink("/etc/passwd", d.path().join("l.json")).unwrap();
        assert!(d.read_regular(OsStr::new("l.json")).is_err());
        assert!(d.read_regular(OsStr::new("none")).unwrap().is_none());
    }
}
