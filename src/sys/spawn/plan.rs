//! What the user chose (`Plan`), its checks, and what it amounts to in
//! other tools' words: clone flags, `unshare` and `docker run` lines.

use crate::sys::cgroup::size_arg;
use crate::sys::ns::NsKind;
use nix::sched::CloneFlags;
use std::path::{Path, PathBuf};

/// Which root filesystem the child sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootFs {
    /// The host's own tree (with private mounts when a mount namespace is made).
    Host,
    /// A minimal tree isolab builds from the host's busybox or shell (`sys::minroot`).
    Minimal,
    /// A directory the user names.
    Dir(PathBuf),
}

impl RootFs {
    /// `host`, `minimal`, or a directory path.
    pub fn parse(text: &str) -> RootFs {
        match text {
            "host" => RootFs::Host,
            "minimal" => RootFs::Minimal,
            dir => RootFs::Dir(PathBuf::from(dir)),
        }
    }

    pub fn label(&self) -> String {
        match self {
            RootFs::Host => "host".into(),
            RootFs::Minimal => "minimal".into(),
            RootFs::Dir(d) => d.display().to_string(),
        }
    }
}

/// What the child runs after the last step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildCommand {
    /// A small built-in init: reaps every child, exits on SIGTERM/SIGINT.
    /// It is what the Lab runs by default, so the child lives until stopped.
    Init,
    /// exec this program with these arguments (searched in PATH).
    Exec(Vec<String>),
}

impl ChildCommand {
    pub fn label(&self) -> String {
        match self {
            ChildCommand::Init => "(isolab init: reaps children, waits)".into(),
            ChildCommand::Exec(argv) => shell_join(argv),
        }
    }
}

/// Everything the user chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The namespace kinds to create (of `NsKind::ISOLATING`).
    pub namespaces: Vec<NsKind>,
    pub hostname: Option<String>,
    pub rootfs: RootFs,
    /// Memory limit in bytes (a cgroup isolab creates and removes).
    pub memory_bytes: Option<u64>,
    pub boottime_offset: Option<i64>,
    pub command: ChildCommand,
    /// Give the command /dev/null as stdin/stdout/stderr (the Lab: the
    /// terminal belongs to the TUI) instead of isolab's own stdio.
    pub null_stdio: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            namespaces: Vec::new(),
            hostname: None,
            rootfs: RootFs::Host,
            memory_bytes: None,
            boottime_offset: None,
            command: ChildCommand::Init,
            null_stdio: false,
        }
    }
}

/// The clone flag of a namespace kind (0 for the `*_for_children` links).
pub fn clone_flag(kind: NsKind) -> CloneFlags {
    match kind {
        NsKind::Pid => CloneFlags::CLONE_NEWPID,
        NsKind::Mnt => CloneFlags::CLONE_NEWNS,
        NsKind::Net => CloneFlags::CLONE_NEWNET,
        NsKind::Ipc => CloneFlags::CLONE_NEWIPC,
        NsKind::Uts => CloneFlags::CLONE_NEWUTS,
        NsKind::User => CloneFlags::CLONE_NEWUSER,
        NsKind::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        // nix names no CLONE_NEWTIME (it shares its bit with CSIGNAL).
        NsKind::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
        NsKind::PidForChildren | NsKind::TimeForChildren => CloneFlags::empty(),
    }
}

pub fn clone_flag_name(kind: NsKind) -> &'static str {
    match kind {
        NsKind::Pid => "CLONE_NEWPID",
        NsKind::Mnt => "CLONE_NEWNS",
        NsKind::Net => "CLONE_NEWNET",
        NsKind::Ipc => "CLONE_NEWIPC",
        NsKind::Uts => "CLONE_NEWUTS",
        NsKind::User => "CLONE_NEWUSER",
        NsKind::Cgroup => "CLONE_NEWCGROUP",
        NsKind::Time => "CLONE_NEWTIME",
        NsKind::PidForChildren | NsKind::TimeForChildren => "",
    }
}

/// One line on what a namespace kind isolates (for the Lab checklist).
pub fn explain_kind(kind: NsKind) -> &'static str {
    match kind {
        NsKind::Pid => "own process numbers: the child is PID 1 and sees only its descendants",
        NsKind::Mnt => "own mount table: mounts inside stay inside (made private first)",
        NsKind::Net => "own network stack: only a loopback interface, no route out",
        NsKind::Ipc => "own System V IPC objects and POSIX message queues",
        NsKind::Uts => "own hostname and NIS domain name",
        NsKind::User => "own uids/gids: root inside, your own uid outside",
        NsKind::Cgroup => "own cgroup root: /proc/self/cgroup shows / for its cgroup",
        NsKind::Time => "own boot-time and monotonic clocks (offsets set before start)",
        NsKind::PidForChildren | NsKind::TimeForChildren => "",
    }
}

/// A longer explanation of a namespace kind (the Lab shows it on demand).
pub fn explain_kind_long(kind: NsKind) -> &'static str {
    match kind {
        NsKind::Pid => {
            "A PID namespace numbers processes from 1. unshare(CLONE_NEWPID) does not move the caller: its next child becomes PID 1, the namespace's init, which must reap orphans; when it exits the kernel kills everything else inside. Tools like ps read /proc, so until a fresh /proc is mounted inside they still show the host's processes."
        }
        NsKind::Mnt => {
            "A mount namespace starts as a copy of the parent's mount table. Mounts are then shared or private per mount: if / is shared (systemd makes it so), a mount inside would appear on the host too, so / is made rprivate first. With its own mounts the child can pivot_root into another root filesystem and mount a /proc of its own."
        }
        NsKind::Net => {
            "A network namespace has its own interfaces, routes, firewall and sockets. A new one holds only lo, and lo starts DOWN: isolab brings it up (ioctl SIOCSIFFLAGS). Connecting it to the world needs a veth pair, which is what container runtimes add."
        }
        NsKind::Ipc => {
            "An IPC namespace has its own System V message queues, semaphores and shared memory, and its own POSIX message queue filesystem. `ipcs` inside shows none of the host's objects."
        }
        NsKind::Uts => {
            "A UTS namespace has its own hostname and domain name (the fields of uname). sethostname() inside changes only the child's view."
        }
        NsKind::User => {
            "A user namespace maps ids: uid 0 inside is mapped to your uid outside through /proc/PID/uid_map, written once by the parent. Inside it the child holds every capability over the namespaces it owns, which is what lets an unprivileged user make the other namespaces. Unprivileged, `deny` must be written to setgroups before gid_map. Some systems switch unprivileged user namespaces off (sysctl kernel.unprivileged_userns_clone, user.max_user_namespaces, or AppArmor's kernel.apparmor_restrict_unprivileged_userns on Ubuntu)."
        }
        NsKind::Cgroup => {
            "A cgroup namespace virtualises the cgroup paths a process sees: its current cgroup becomes / in /proc/self/cgroup. It does not change limits; those come from the cgroup itself (the memory limit option)."
        }
        NsKind::Time => {
            "A time namespace offsets CLOCK_MONOTONIC and CLOCK_BOOTTIME (so /proc/uptime) for its members. Offsets go into /proc/self/timens_offsets after unshare(CLONE_NEWTIME) and before the first process enters; like PID namespaces, only children of the caller enter it."
        }
        NsKind::PidForChildren | NsKind::TimeForChildren => "",
    }
}

impl Plan {
    pub fn has(&self, kind: NsKind) -> bool {
        self.namespaces.contains(&kind)
    }

    /// Add or remove a namespace kind, keeping the canonical order.
    pub fn set(&mut self, kind: NsKind, on: bool) {
        self.namespaces.retain(|&k| k != kind);
        if on {
            self.namespaces.push(kind);
        }
        self.namespaces.sort_by_key(|k| {
            NsKind::ISOLATING
                .iter()
                .position(|i| i == k)
                .unwrap_or(usize::MAX)
        });
    }

    /// Apply the implications: a hostname needs a UTS namespace, a boot-time
    /// offset a time namespace, another root filesystem a mount namespace.
    pub fn normalize(&mut self) {
        if self.hostname.is_some() {
            self.set(NsKind::Uts, true);
        }
        if self.boottime_offset.is_some() {
            self.set(NsKind::Time, true);
        }
        if self.rootfs != RootFs::Host {
            self.set(NsKind::Mnt, true);
        }
    }

    /// All chosen clone flags OR-ed together.
    pub fn clone_flags(&self) -> CloneFlags {
        self.namespaces
            .iter()
            .fold(CloneFlags::empty(), |acc, &k| acc | clone_flag(k))
    }

    /// `CLONE_NEWPID | CLONE_NEWNS | ...` (or `0` when none is chosen).
    pub fn clone_flags_text(&self) -> String {
        if self.namespaces.is_empty() {
            return "0 (no new namespace)".into();
        }
        self.namespaces
            .iter()
            .map(|&k| clone_flag_name(k))
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// Whether a second fork (the child that enters PID/time namespaces) is needed.
    pub(crate) fn forks_init(&self) -> bool {
        self.has(NsKind::Pid) || self.has(NsKind::Time)
    }

    /// Whether the child gets a cgroup of isolab's own only to find every
    /// descendant at the end: without a PID namespace nothing else holds a
    /// `setsid` grandchild (it is reparented to the host's init), so the
    /// cgroup it inherits is how isolab stops it. With a PID namespace its
    /// init's exit takes every process inside; with `--memory` the limit's
    /// cgroup does both jobs.
    pub fn tracks_descendants(&self) -> bool {
        self.memory_bytes.is_none() && !self.has(NsKind::Pid)
    }

    pub(crate) fn mounts_proc(&self) -> bool {
        self.has(NsKind::Mnt) && self.has(NsKind::Pid)
    }

    /// Check the input before anything is created. The error is a one-line
    /// message for the user (a usage error).
    pub fn validate(&self) -> Result<(), String> {
        if let Some(name) = &self.hostname {
            if name.is_empty() {
                return Err("the hostname is empty; give a name of 1 to 64 bytes".into());
            }
            if name.len() > 64 {
                return Err(format!(
                    "the hostname is {} bytes long; the kernel allows at most 64",
                    name.len()
                ));
            }
            if name.contains('\0') {
                return Err("the hostname contains a NUL byte".into());
            }
        }
        if let Some(bytes) = self.memory_bytes
            && bytes < MIN_MEMORY_BYTES
        {
            return Err(format!(
                "the memory limit {} is too small to start a process: the minimum is {} (below it the OOM killer kills the command at once); give --memory {} or more",
                size_arg(bytes),
                size_arg(MIN_MEMORY_BYTES),
                size_arg(MIN_MEMORY_BYTES)
            ));
        }
        if let Some(off) = self.boottime_offset {
            let (low, high) = boottime_offset_range();
            if off < low || off > high {
                return Err(format!(
                    "the boot-time offset {off} s is out of range: the kernel accepts {low} to {high} s now (the clock inside may not go below 0 or above {BOOTTIME_SEC_MAX} s)"
                ));
            }
        }
        if let RootFs::Dir(dir) = &self.rootfs
            && !dir.is_dir()
        {
            {
                return Err(format!(
                    "the root filesystem {} is not a directory; give host, minimal or a directory",
                    dir.display()
                ));
            }
        }
        if let ChildCommand::Exec(argv) = &self.command {
            let Some(program) = argv.first() else {
                return Err("no command given: add one after --".into());
            };
            if program.is_empty() || argv.iter().any(|a| a.contains('\0')) {
                return Err("the command is empty or contains a NUL byte".into());
            }
            // The minimal root is built later; its commands are busybox applets.
            let root = match &self.rootfs {
                RootFs::Host => Some(PathBuf::from("/")),
                RootFs::Dir(d) => Some(d.clone()),
                RootFs::Minimal => None,
            };
            if let Some(root) = root
                && find_command(&root, program).is_none()
            {
                // Not escaped here: main escapes every error message it prints.
                return Err(format!(
                    "command not found: {program} (looked in PATH inside {}; a symlink there is followed inside it, not on the host)",
                    root.display()
                ));
            }
        }
        Ok(())
    }

    /// The equivalent util-linux `unshare` command line.
    pub fn unshare_command(&self) -> String {
        let mut parts = vec!["unshare".to_string()];
        if self.forks_init() {
            parts.push("--fork".into());
        }
        for &kind in &self.namespaces {
            match kind {
                NsKind::Pid => parts.push("--pid".into()),
                NsKind::Mnt => parts.push("--mount".into()),
                NsKind::Net => parts.push("--net".into()),
                NsKind::Ipc => parts.push("--ipc".into()),
                NsKind::Uts => parts.push("--uts".into()),
                NsKind::User => parts.push("--user --map-root-user".into()),
                NsKind::Cgroup => parts.push("--cgroup".into()),
                NsKind::Time => parts.push("--time".into()),
                _ => {}
            }
        }
        if self.has(NsKind::Mnt) && self.has(NsKind::Pid) && self.rootfs == RootFs::Host {
            parts.push("--mount-proc".into());
        }
        if let Some(off) = self.boottime_offset {
            parts.push(format!("--boottime {off}"));
        }
        match &self.rootfs {
            RootFs::Host => {}
            RootFs::Minimal => parts.push("--root <isolab minimal root>".into()),
            RootFs::Dir(d) => parts.push(format!("--root {}", shell_quote(&d.to_string_lossy()))),
        }
        let cmd = match &self.command {
            ChildCommand::Init => "sleep infinity".to_string(),
            ChildCommand::Exec(argv) => shell_join(argv),
        };
        match &self.hostname {
            Some(h) => parts.push(format!(
                "sh -c {}",
                shell_quote(&format!("hostname {} && exec {cmd}", shell_quote(h)))
            )),
            None => parts.push(cmd),
        }
        parts.join(" ")
    }

    /// The closest `docker run` flags, and notes on what has no docker
    /// equivalent. Docker makes every namespace by default except user and
    /// time; its flags name what to *share* with the host.
    pub fn docker_command(&self) -> (String, Vec<String>) {
        let mut parts = vec!["docker run --rm -it".to_string()];
        let mut notes = Vec::new();
        if !self.has(NsKind::Pid) {
            parts.push("--pid=host".into());
        }
        if !self.has(NsKind::Net) {
            parts.push("--network=host".into());
        } else {
            parts.push("--network=none".into());
        }
        if !self.has(NsKind::Ipc) {
            parts.push("--ipc=host".into());
        }
        if !self.has(NsKind::Uts) {
            parts.push("--uts=host".into());
        }
        parts.push(if self.has(NsKind::Cgroup) {
            "--cgroupns=private".into()
        } else {
            "--cgroupns=host".into()
        });
        if let Some(h) = &self.hostname {
            parts.push(format!("--hostname {}", shell_quote(h)));
        }
        if let Some(bytes) = self.memory_bytes {
            parts.push(format!("--memory {bytes}b"));
        }
        if !self.has(NsKind::Mnt) {
            notes.push("docker always makes a mount namespace".into());
        }
        if self.has(NsKind::User) {
            notes.push(
                "user namespace: docker needs userns-remap in the daemon, or rootless docker"
                    .into(),
            );
        } else {
            parts.push("--userns=host".into());
        }
        if self.has(NsKind::Time) {
            notes.push("time namespace: docker has no flag for it".into());
        }
        let image = match &self.rootfs {
            RootFs::Host => {
                notes
                    .push("docker always runs an image's root filesystem, never the host's".into());
                "<image>".to_string()
            }
            RootFs::Minimal => "busybox".to_string(),
            RootFs::Dir(d) => {
                notes.push(format!("import {} as an image first", d.display()));
                "<image>".to_string()
            }
        };
        parts.push(image);
        if let ChildCommand::Exec(argv) = &self.command {
            parts.push(shell_join(argv));
        }
        (parts.join(" "), notes)
    }
}

// Helpers shared with `isolab run` / the Lab.

/// The smallest `--memory` a process can start in. Measured here (cgroup
/// v1): a shell in the minimal root is OOM-killed at 1M and starts at 2M;
/// v2 also charges kernel memory (page tables, the overlay's tmpfs), so
/// the floor is twice that. Docker's is 6M for the same reason.
pub const MIN_MEMORY_BYTES: u64 = 4 << 20;

/// KTIME_SEC_MAX / 2: the kernel refuses (ERANGE) a time namespace offset
/// that would put the clock inside above this, or below 0
/// (`proc_timens_set_offset` in kernel/time/namespace.c).
pub const BOOTTIME_SEC_MAX: i64 = (i64::MAX / 1_000_000_000) / 2;

/// The boot-time offsets the kernel accepts right now: the clock inside
/// (now + offset) must stay within 0..=BOOTTIME_SEC_MAX seconds.
pub fn boottime_offset_range() -> (i64, i64) {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime into a valid timespec. (nix's clock_gettime
    // is behind its `time` feature, which this crate does not enable.)
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    let now = ts.tv_sec;
    // One second of slack at the top: the clock moves on before the write.
    (-now, BOOTTIME_SEC_MAX - now - 1)
}

/// The default PATH of a child whose environment has none (as `exec_command`).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Look up a command as `execvp` would, inside `root`. On the host's root
/// (`/`) a name with a slash is taken as a path relative to the current
/// dir, and the result is a host path. Inside another root, the result is
/// the path *inside* it (what the child will exec after pivot_root), found
/// by `find_in_root`, so a symlink in the root cannot point the check at
/// the host.
pub fn find_command(root: &Path, program: &str) -> Option<PathBuf> {
    if root != Path::new("/") {
        return find_in_root(root, program);
    }
    let is_file = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file())
            || std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return is_file(&p).then_some(p);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(DEFAULT_PATH.split(':'))
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(program))
        .find(|p| is_file(p))
}

/// `execvp`'s PATH search inside the directory `root`, resolving every
/// candidate with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from a
/// dir fd of `root`: absolute symlinks and `..` stay inside `root`, as they
/// will for the child after pivot_root. Returns the path inside the root
/// of the first executable regular file. The PATH searched is the one the
/// child's execvp uses: isolab's own, or the default when unset.
pub fn find_in_root(root: &Path, program: &str) -> Option<PathBuf> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat2};
    use nix::sys::stat::{Mode, SFlag, fstat};
    let dir = open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let runnable = |inside: &Path| -> bool {
        for _ in 0..16 {
            match openat2(&dir, inside, how) {
                Ok(fd) => {
                    return fstat(&fd).is_ok_and(|st| {
                        SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT) == SFlag::S_IFREG
                            && st.st_mode & 0o111 != 0
                    });
                }
                Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return false,
            }
        }
        false
    };
    if program.contains('/') {
        // After pivot_root the child's cwd is `/`: relative is from there.
        let inside = Path::new("/").join(program.trim_start_matches("./"));
        return runnable(&inside).then_some(inside);
    }
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new("/").join(d).join(program))
        .find(|p| runnable(p))
}

/// Quote a word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

pub fn shell_join(argv: &[String]) -> String {
    argv.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use super::*;

    /// A plan running `true` with the namespaces `kinds` (also steps.rs's).
    pub(in crate::sys::spawn) fn plan(kinds: &[NsKind]) -> Plan {
        let mut p = Plan {
            command: ChildCommand::Exec(vec!["true".into()]),
            ..Plan::default()
        };
        for &k in kinds {
            p.set(k, true);
        }
        p
    }

    #[test]
    fn equivalents() {
        let mut p = plan(&[NsKind::Pid, NsKind::Mnt, NsKind::Uts]);
        p.hostname = Some("box".into());
        assert_eq!(
            p.clone_flags_text(),
            "CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS"
        );
        assert_eq!(
            p.unshare_command(),
            "unshare --fork --pid --mount --uts --mount-proc sh -c 'hostname box && exec true'"
        );
        let (docker, _) = p.docker_command();
        assert!(docker.contains("--network=host"));
        assert!(docker.contains("--hostname box"));
        assert!(!docker.contains("--pid=host"));
    }

    #[test]
    fn validation() {
        let mut p = plan(&[NsKind::Uts]);
        p.hostname = Some("x".repeat(65));
        assert!(p.validate().unwrap_err().contains("65 bytes"));
        p.hostname = Some("x".repeat(64));
        assert!(p.validate().is_ok());
        p.rootfs = RootFs::Dir("/etc/hostname".into());
        assert!(p.validate().unwrap_err().contains("not a directory"));
        p.rootfs = RootFs::Host;
        p.command = ChildCommand::Exec(vec!["no-such-command-isolab".into()]);
        assert!(p.validate().unwrap_err().contains("command not found"));
    }

    #[test]
    fn memory_and_boottime_bounds() {
        let mut p = plan(&[]);
        for bytes in [0, 1, 4096, MIN_MEMORY_BYTES - 1] {
            p.memory_bytes = Some(bytes);
            assert!(
                p.validate().unwrap_err().contains("minimum is 4M"),
                "{bytes}"
            );
        }
        p.memory_bytes = Some(MIN_MEMORY_BYTES);
        assert!(p.validate().is_ok());
        p.memory_bytes = None;
        let (low, high) = boottime_offset_range();
        assert!(low < 0 && high > 4_000_000_000 && high < BOOTTIME_SEC_MAX);
        for bad in [low - 1, high + 1, i64::MIN, i64::MAX, -99_999_999_999] {
            p.boottime_offset = Some(bad);
            assert!(p.validate().unwrap_err().contains("out of range"), "{bad}");
        }
        for good in [low, 0, 5, high] {
            p.boottime_offset = Some(good);
            assert!(p.validate().is_ok(), "{good}");
        }
    }

    #[test]
    fn commands_inside_a_root_resolve_inside_it() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("opt")).unwrap();
        let prog = root.join("opt/prog");
        std::fs::write(&prog, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
        symlink("/opt/prog", root.join("bin/inside")).unwrap();
        symlink("/bin/sh", root.join("bin/host")).unwrap();
        symlink("../../../../../../bin/sh", root.join("bin/climb")).unwrap();
        std::fs::write(root.join("bin/noexec"), "x").unwrap();
        assert_eq!(
            find_in_root(root, "inside"),
            Some(PathBuf::from("/bin/inside"))
        );
        assert_eq!(find_in_root(root, "host"), None);
        assert_eq!(find_in_root(root, "climb"), None);
        assert_eq!(find_in_root(root, "noexec"), None);
        assert_eq!(find_in_root(root, "sh"), None);
        assert_eq!(
            find_in_root(root, "/opt/prog"),
            Some(PathBuf::from("/opt/prog"))
        );
        assert_eq!(find_in_root(root, "/bin/host"), None);
    }
}
