//! An isolated child, built one namespace at a time:
//! plan -> ordered steps (each with its syscall) -> a running child -> cleanup.
//!
//! # Processes
//! ```text
//! isolab (parent, maybe multi-threaded: the TUI runs a collector thread)
//!   └─ fork ─> setup process  (single-threaded: unshare()s, maps, hostname, lo)
//!                └─ fork ─> init  (first process of the new PID/time namespaces:
//!                                  mounts, pivot_root, /proc, then exec CMD as PID 1)
//! ```
//! Why fork-then-unshare and not re-exec `/proc/self/exe` as a hidden helper:
//! `unshare(CLONE_NEWUSER)` refuses a multi-threaded caller (EINVAL), and a
//! forked child has exactly one thread, so forking gives the same guarantee
//! without a second CLI surface, an extra exec (the benchmark counts it) or
//! serialising the plan. The price is the usual post-fork discipline: the
//! setup child touches no lock another thread of the parent could hold. It
//! uses raw fds and syscalls only (no stdio locks, no Rust `Stdout`), and
//! only allocates through glibc malloc, which is fork-safe.
//!
//! The parent writes the uid/gid maps (the kernel wants them written from
//! outside the new user namespace), and moves the setup process into the
//! memory cgroup *before* the cgroup namespace is made, so the child's cgroup
//! view is rooted at its own cgroup. PID and time namespaces only take effect
//! for children, so the setup process forks `init` after `unshare`; time
//! offsets are written before that fork (the kernel refuses them once a
//! process has entered). `/` is made rprivate before any mount, so nothing
//! mounted inside can propagate to the host even when the host's `/` is shared.
//!
//! # Step mode
//! Parent and children talk over three close-on-exec pipes: `ctl` (one byte
//! per child step: go), `report` (one line per step: `ok [detail]` or
//! `err message`), and `status` (the setup process's last word: how CMD
//! ended). The child blocks on `ctl` before every step, so the Lab can stop
//! between steps and let a student look around; `run_rest` just sends the
//! bytes back to back. A successful exec closes the last write end of
//! `report` (close-on-exec), which the parent reads as "CMD is running".
//!
//! The code the children run lives in `spawn/child.rs`; entering a running
//! child (`isolab exec`, the Lab's `e`) in `sys::enter`.
//!
//! # Descendants
//! With a PID namespace, the exit of its PID 1 makes the kernel kill every
//! process inside. Without one, a `setsid` grandchild is reparented to the
//! host's init, out of reach of the parent-death signal; so the setup
//! process joins a cgroup of isolab's own first (`Plan::tracks_descendants`;
//! with `--memory` the limit's cgroup), every descendant inherits it, and
//! removing that cgroup (`stop`, SIGTERM, `isolab cleanup` after a crash)
//! kills them all. Only members of a cgroup isolab created are killed.
//!
//! # The minimal root
//! The cache is shared by every run, so the child never sees it directly:
//! it gets a read-only overlay whose lower layer is the cache and whose
//! upper layer is a tmpfs existing only in its own mount namespace
//! (`child::overlay_root`). Root inside may remount it rw and delete
//! everything; the writes go to the tmpfs and vanish with the namespace.
//!
//! Both children arm `PR_SET_PDEATHSIG(SIGKILL)`: if isolab dies (even by
//! `kill -9`) they die with it. Note that the parent-death signal follows the
//! *thread* that forked, so start a `Spawner` from a long-lived thread.
//! Everything created is also written to the registry (`sys::registry`) so
//! leftovers of a crash are removed at the next start.

pub(crate) mod child;

use crate::sys::cgroup::{Limit, OwnedCgroup, size_arg};
pub use crate::sys::enter::exec_in;
use crate::sys::ns::NsKind;
use crate::sys::pidfd;
use crate::sys::registry::{self, Registration};
use anyhow::Context;
use child::setup_main;
use std::ffi::CString;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
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
pub fn clone_flag(kind: NsKind) -> i32 {
    match kind {
        NsKind::Pid => libc::CLONE_NEWPID,
        NsKind::Mnt => libc::CLONE_NEWNS,
        NsKind::Net => libc::CLONE_NEWNET,
        NsKind::Ipc => libc::CLONE_NEWIPC,
        NsKind::Uts => libc::CLONE_NEWUTS,
        NsKind::User => libc::CLONE_NEWUSER,
        NsKind::Cgroup => libc::CLONE_NEWCGROUP,
        NsKind::Time => libc::CLONE_NEWTIME,
        NsKind::PidForChildren | NsKind::TimeForChildren => 0,
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
    pub fn clone_flags(&self) -> i32 {
        self.namespaces
            .iter()
            .fold(0, |acc, &k| acc | clone_flag(k))
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
    fn forks_init(&self) -> bool {
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

    fn mounts_proc(&self) -> bool {
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

/// Who carries out a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// isolab itself (from outside the new namespaces).
    Parent,
    /// The forked, single-threaded setup process.
    Setup,
    /// The first process of the new PID/time namespaces (or the setup
    /// process itself when neither is made).
    Child,
}

impl Actor {
    pub fn label(self) -> &'static str {
        match self {
            Actor::Parent => "isolab",
            Actor::Setup => "setup",
            Actor::Child => "child",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepKind {
    ForkSetup,
    JoinCgroup,
    UnshareUser,
    WriteIdMaps,
    Unshare,
    TimeOffsets,
    Hostname,
    LoopbackUp,
    ForkInit,
    MountsPrivate,
    BindRoot,
    PivotRoot,
    MountProc,
    Exec,
}

/// One step of a spawn: who does it, the syscall, and what it changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    pub kind: StepKind,
    pub actor: Actor,
    pub syscall: String,
    pub effect: String,
}

/// The ordered steps a plan takes.
pub fn steps(plan: &Plan) -> Vec<Step> {
    let mut out = Vec::new();
    fn push(out: &mut Vec<Step>, kind: StepKind, actor: Actor, syscall: String, effect: String) {
        out.push(Step {
            kind,
            actor,
            syscall,
            effect,
        })
    }
    push(
        &mut out,
        StepKind::ForkSetup,
        Actor::Parent,
        "clone(SIGCHLD)  (fork)".into(),
        "a single-threaded setup process is forked; it waits for each next step".into(),
    );
    if plan.tracks_descendants() {
        push(
            &mut out,
            StepKind::JoinCgroup,
            Actor::Parent,
            "write(cgroup.procs, SETUP_PID)".into(),
            "the setup process joins a cgroup of isolab's own (no limit): every descendant, even a setsid one, stays in it and is stopped at the end".into(),
        );
    }
    if let Some(bytes) = plan.memory_bytes {
        push(
            &mut out,
            StepKind::JoinCgroup,
            Actor::Parent,
            "write(cgroup.procs, SETUP_PID)".into(),
            format!(
                "the setup process joins a new memory cgroup limited to {} (before the cgroup namespace, so that becomes its /)",
                size_arg(bytes)
            ),
        );
    }
    if plan.has(NsKind::User) {
        push(
            &mut out,
            StepKind::UnshareUser,
            Actor::Setup,
            "unshare(CLONE_NEWUSER)".into(),
            "a new user namespace; until the maps are written its uid is 65534 (nobody)".into(),
        );
        // SAFETY: geteuid/getegid cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let effect = if uid == 0 {
            "uid/gid 0..4294967295 map to themselves: root inside is root outside".to_string()
        } else {
            format!("uid 0 inside = uid {uid} outside, gid 0 inside = gid {gid} outside")
        };
        let syscall = if uid == 0 {
            "write(/proc/PID/uid_map, \"0 0 4294967295\"); write(gid_map, same)".to_string()
        } else {
            format!(
                "write(/proc/PID/setgroups, \"deny\"); write(uid_map, \"0 {uid} 1\"); write(gid_map, \"0 {gid} 1\")"
            )
        };
        push(
            &mut out,
            StepKind::WriteIdMaps,
            Actor::Parent,
            syscall,
            effect,
        );
    }
    let rest: Vec<NsKind> = plan
        .namespaces
        .iter()
        .copied()
        .filter(|&k| k != NsKind::User)
        .collect();
    if !rest.is_empty() {
        let names: Vec<&str> = rest.iter().map(|&k| clone_flag_name(k)).collect();
        let mut effect = format!(
            "new {} namespace(s)",
            rest.iter()
                .map(|k| k.proc_name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if plan.forks_init() {
            effect.push_str("; pid/time ones apply to the next child, not the caller");
        }
        push(
            &mut out,
            StepKind::Unshare,
            Actor::Setup,
            format!("unshare({})", names.join(" | ")),
            effect,
        );
    }
    if let (true, Some(off)) = (plan.has(NsKind::Time), plan.boottime_offset) {
        push(
            &mut out,
            StepKind::TimeOffsets,
            Actor::Setup,
            format!("write(/proc/self/timens_offsets, \"boottime {off} 0\")"),
            format!("the boot-time clock inside runs {off} s ahead (set before anyone enters)"),
        );
    }
    if let (true, Some(name)) = (plan.has(NsKind::Uts), &plan.hostname) {
        push(
            &mut out,
            StepKind::Hostname,
            Actor::Setup,
            format!("sethostname(\"{name}\")"),
            format!("the hostname inside is {name}; the host's is unchanged"),
        );
    }
    if plan.has(NsKind::Net) {
        push(
            &mut out,
            StepKind::LoopbackUp,
            Actor::Setup,
            "ioctl(sock, SIOCSIFFLAGS, lo: IFF_UP)".into(),
            "lo, the only interface inside, is brought up".into(),
        );
    }
    let fs_actor = if plan.forks_init() {
        push(
            &mut out,
            StepKind::ForkInit,
            Actor::Setup,
            "clone(SIGCHLD)  (fork)".into(),
            if plan.has(NsKind::Pid) {
                "the child is born into the new namespaces: PID 1 inside, it will reap orphans"
                    .into()
            } else {
                "the child is born into the new time namespace".into()
            },
        );
        Actor::Child
    } else {
        Actor::Setup
    };
    if plan.has(NsKind::Mnt) {
        push(
            &mut out,
            StepKind::MountsPrivate,
            fs_actor,
            "mount(NULL, \"/\", NULL, MS_REC | MS_PRIVATE, NULL)".into(),
            "every mount is private: nothing mounted inside reaches the host".into(),
        );
    }
    let proc_step = |out: &mut Vec<Step>, target: &str| {
        out.push(Step {
            kind: StepKind::MountProc,
            actor: fs_actor,
            syscall: format!(
                "mount(\"proc\", \"{target}\", \"proc\", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)"
            ),
            effect: "a /proc of the new PID namespace: ps now shows only the processes inside"
                .into(),
        })
    };
    if plan.rootfs != RootFs::Host {
        let what = match &plan.rootfs {
            RootFs::Minimal => {
                "isolab's minimal root (a read-only overlay over the shared cache, writes go to a throw-away tmpfs; tmpfs /tmp, /dev nodes bound)".into()
            }
            other => other.label(),
        };
        out.push(Step {
            kind: StepKind::BindRoot,
            actor: fs_actor,
            syscall: if plan.rootfs == RootFs::Minimal {
                "mount(\"tmpfs\", ROOT/tmp, ...); mount(\"overlay\", ROOT, \"overlay\", MS_RDONLY, \"lowerdir=ROOT,upperdir=TMPFS/upper,...\")".into()
            } else {
                "mount(ROOT, ROOT, NULL, MS_BIND | MS_REC, NULL)".into()
            },
            effect: if plan.has(NsKind::Pid) {
                format!("{what} becomes a mount point (pivot_root needs one)")
            } else {
                format!("{what} becomes a mount point (pivot_root needs one); the host's /proc is bound into it")
            },
        });
        // Mounted before pivot_root: the kernel only lets a user namespace
        // mount proc while a full proc is still visible in its mount table.
        if plan.mounts_proc() {
            proc_step(&mut out, "ROOT/proc");
        }
        out.push(Step {
            kind: StepKind::PivotRoot,
            actor: fs_actor,
            syscall: "chdir(ROOT); pivot_root(\".\", \".\"); umount2(\".\", MNT_DETACH)".into(),
            effect:
                "the new root is /, the old root is detached: the host's files are out of reach"
                    .into(),
        });
    } else if plan.mounts_proc() {
        proc_step(&mut out, "/proc");
    }
    push(
        &mut out,
        StepKind::Exec,
        fs_actor,
        match &plan.command {
            ChildCommand::Init => "(no exec: isolab's reaping init loop)".into(),
            ChildCommand::Exec(argv) => format!(
                "execve(\"{}\", ...)",
                argv.first().map(String::as_str).unwrap_or("")
            ),
        },
        format!("runs {}", plan.command.label()),
    );
    out
}

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitOutcome {
    Exited(i32),
    Signaled(i32),
}

impl ExitOutcome {
    /// The shell convention: the exit code, or 128+N for signal N.
    pub fn code(self) -> i32 {
        match self {
            ExitOutcome::Exited(c) => c,
            ExitOutcome::Signaled(n) => 128 + n,
        }
    }

    pub(crate) fn from_wait_status(status: i32) -> ExitOutcome {
        if libc::WIFSIGNALED(status) {
            ExitOutcome::Signaled(libc::WTERMSIG(status))
        } else {
            ExitOutcome::Exited(libc::WEXITSTATUS(status))
        }
    }
}

/// What one step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    pub index: usize,
    pub step: Step,
    /// Ok(detail) or Err(what went wrong).
    pub outcome: Result<String, String>,
}

/// The running spawn: drives the steps and owns everything created.
pub struct Spawner {
    plan: Plan,
    steps: Vec<Step>,
    next: usize,
    setup_pid: i32,
    setup_pidfd: Option<OwnedFd>,
    child_pid: Option<i32>,
    child_pidfd: Option<OwnedFd>,
    ctl: Option<OwnedFd>,
    reports: BufReader<std::fs::File>,
    status: std::fs::File,
    cgroup: Option<OwnedCgroup>,
    registration: Option<Registration>,
    outcome: Option<ExitOutcome>,
    failed: bool,
    /// Go bytes already sent for the coming child steps (`run_rest`).
    prepaid: usize,
    setup_recorded: bool,
    /// `Spawner::run` mode: the exec is not waited for.
    fast: bool,
    /// `Spawner::run` mode: the index of the step whose report is read next,
    /// while the command runs (`read_late_reports`); `None` once all are in.
    unread: Option<usize>,
    /// A report line read only in part (non-blocking reads).
    late_partial: String,
    failure: Option<String>,
}

impl std::fmt::Debug for Spawner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawner")
            .field("setup_pid", &self.setup_pid)
            .field("child_pid", &self.child_pid)
            .field("next", &self.next)
            .finish()
    }
}

pub(crate) fn pipe_cloexec() -> anyhow::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error()).context("pipe2 failed");
    }
    // SAFETY: the kernel just gave us these two descriptors.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Everything the child needs, prepared (allocated) before the fork.
pub(crate) struct ChildPrep {
    /// The program's path, found before the fork in the root it runs in
    /// (`find_command`: a host path, or the path inside another root), so
    /// what was checked is what is exec'd; `None`: search PATH (init).
    program: Option<CString>,
    root: Option<CString>,
    minimal: bool,
    argv: Vec<CString>,
    hostname: Option<CString>,
    /// /dev/null, opened before the fork (the new root may lack it).
    null: Option<OwnedFd>,
}

impl Spawner {
    /// Validate the plan, create the cgroup (if any), fork the setup
    /// process, and stop before the first child step. Nothing is left
    /// behind if this fails.
    pub fn start(plan: Plan) -> anyhow::Result<Spawner> {
        Spawner::start_with(plan, false)
    }

    /// The foreground path of `isolab run`: start and carry out every step
    /// without stopping. The first go bytes are in the pipe before the fork,
    /// and unless `on_step` wants each report, the reports after the last
    /// parent step are only read by `wait` (a failure then shows in
    /// `failure`): every wake-up saved counts on a loaded machine.
    pub fn run(
        plan: Plan,
        on_step: Option<&mut dyn FnMut(&StepReport)>,
    ) -> anyhow::Result<Spawner> {
        let mut spawner = Spawner::start_with(plan, true)?;
        let read_all = on_step.is_some();
        let mut noop = |_: &StepReport| {};
        let on_step: &mut dyn FnMut(&StepReport) = match on_step {
            Some(f) => {
                f(&spawner.first_report());
                f
            }
            None => &mut noop,
        };
        loop {
            let parent_steps_left = spawner.steps[spawner.next.min(spawner.steps.len())..]
                .iter()
                .any(|s| s.actor == Actor::Parent);
            if !read_all && !parent_steps_left {
                if spawner.prepaid == 0 {
                    spawner.send_batch();
                }
                spawner.record_setup();
                // The reports from here on are read while the command runs.
                spawner.unread = Some(spawner.next);
                // SAFETY: making our own read end non-blocking.
                unsafe {
                    let fd = spawner.reports.get_ref().as_raw_fd();
                    libc::fcntl(
                        fd,
                        libc::F_SETFL,
                        libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
                    );
                }
                spawner.next = spawner.steps.len();
                spawner.ctl = None;
                break;
            }
            if spawner.prepaid == 0 {
                spawner.send_batch();
            }
            let Some(report) = spawner.next_step() else {
                break;
            };
            on_step(&report);
            if let Err(e) = report.outcome {
                spawner.stop();
                anyhow::bail!("{e}");
            }
        }
        Ok(spawner)
    }

    /// How many child steps follow from the next one, up to a parent step.
    fn batch_len(&self) -> usize {
        self.steps[self.next.min(self.steps.len())..]
            .iter()
            .take_while(|s| s.actor != Actor::Parent)
            .count()
    }

    /// Send the go of every child step up to the next parent step at once:
    /// the child still does them one by one, in order, without a round trip.
    fn send_batch(&mut self) {
        let batch = self.batch_len();
        if batch == 0 {
            return;
        }
        if let Some(ctl) = &self.ctl {
            let bytes = vec![b'g'; batch];
            // SAFETY: writing from a valid buffer (a pipe holds 64 KiB).
            let n = unsafe { libc::write(ctl.as_raw_fd(), bytes.as_ptr().cast(), batch) };
            if n == batch as isize {
                self.prepaid = batch;
            }
        }
    }

    fn start_with(mut plan: Plan, fast: bool) -> anyhow::Result<Spawner> {
        plan.normalize();
        if let Err(msg) = plan.validate() {
            return crate::usage(msg);
        }
        let root = match &plan.rootfs {
            RootFs::Host => None,
            RootFs::Minimal => Some(crate::sys::minroot::ensure()?),
            RootFs::Dir(d) => Some(
                d.canonicalize()
                    .with_context(|| format!("cannot resolve the root {}", d.display()))?,
            ),
        };
        // The program is found before the fork, inside the root it will run
        // in, and exactly that path is exec'd: what is checked is what runs.
        let program = match &plan.command {
            ChildCommand::Exec(argv) => {
                let name = argv.first().map(String::as_str).unwrap_or("");
                let found = find_command(root.as_deref().unwrap_or(Path::new("/")), name);
                if found.is_none() && plan.rootfs == RootFs::Minimal {
                    return crate::usage(format!(
                        "command not found in the minimal root: {name} (it has busybox applets)"
                    ));
                }
                found.and_then(|p| CString::new(p.into_os_string().into_encoded_bytes()).ok())
            }
            ChildCommand::Init => None,
        };
        let prep = ChildPrep {
            program,
            root: root
                .as_ref()
                .map(|r| CString::new(r.as_os_str().as_encoded_bytes()))
                .transpose()?,
            minimal: plan.rootfs == RootFs::Minimal,
            argv: match &plan.command {
                ChildCommand::Init => Vec::new(),
                ChildCommand::Exec(argv) => argv
                    .iter()
                    .map(|a| CString::new(a.as_bytes()))
                    .collect::<Result<_, _>>()?,
            },
            hostname: plan
                .hostname
                .as_ref()
                .map(|h| CString::new(h.as_bytes()))
                .transpose()?,
            null: if plan.null_stdio {
                Some(
                    std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open("/dev/null")
                        .context("cannot open /dev/null")?
                        .into(),
                )
            } else {
                None
            },
        };
        let steps = steps(&plan);

        let mut registration = Registration::create()?;
        let cgroup = match plan.memory_bytes {
            // Best effort: a user who may not create cgroups (not root) or a
            // host without a memory hierarchy runs untracked, as before.
            None if plan.tracks_descendants() => {
                match OwnedCgroup::create(&format!("run{}", next_seq()), None) {
                    Ok(c) => match registration.add_cgroup(c.path()) {
                        Ok(()) => Some(c),
                        Err(e) => {
                            let _ = c.remove();
                            let _ = registration.finish();
                            return Err(e);
                        }
                    },
                    Err(_) => None,
                }
            }
            Some(bytes) => {
                match OwnedCgroup::create(&format!("run{}", next_seq()), Some(Limit::Bytes(bytes)))
                {
                    Ok(c) => {
                        registration.add_cgroup(c.path())?;
                        Some(c)
                    }
                    Err(e) => {
                        let _ = registration.finish();
                        return Err(
                            e.context("cannot create the memory cgroup for --memory (needs root)")
                        );
                    }
                }
            }
            None => None,
        };
        let (ctl_rd, ctl_wr) = pipe_cloexec()?;
        let (rep_rd, rep_wr) = pipe_cloexec()?;
        let (st_rd, st_wr) = pipe_cloexec()?;
        // Fast path: the first steps' go bytes wait in the pipe already.
        let first_batch = if fast {
            steps[1..]
                .iter()
                .take_while(|s| s.actor != Actor::Parent)
                .count()
        } else {
            0
        };
        let mut prepaid = 0;
        if first_batch > 0 {
            let bytes = vec![b'g'; first_batch];
            // SAFETY: writing from a valid buffer into our new pipe.
            let n = unsafe { libc::write(ctl_wr.as_raw_fd(), bytes.as_ptr().cast(), first_batch) };
            if n == first_batch as isize {
                prepaid = first_batch;
            }
        }
        // SAFETY: getpid cannot fail.
        let parent = unsafe { libc::getpid() };
        // SAFETY: fork; the child only runs `setup_main`, which never returns.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            let err = std::io::Error::last_os_error();
            if let Some(c) = cgroup {
                let _ = c.remove();
            }
            let _ = registration.finish();
            return Err(err).context("fork failed");
        }
        if pid == 0 {
            // The child must not hold isolab's owner lock (sys::registry).
            registry::close_locks_in_child();
            drop(ctl_wr);
            drop(rep_rd);
            drop(st_rd);
            setup_main(
                &plan,
                &steps,
                &prep,
                parent,
                ctl_rd.as_raw_fd(),
                rep_wr.as_raw_fd(),
                st_wr.as_raw_fd(),
            );
        }
        drop(ctl_rd);
        drop(rep_wr);
        drop(st_wr);
        let setup_pidfd = pidfd::open(pid).ok();
        // The setup process is recorded right after its first go byte is
        // sent (`record_setup`), so the disk write overlaps its work; until
        // then the parent-death signal covers a crash.
        let mut spawner = Spawner {
            plan,
            steps,
            next: 1,
            setup_pid: pid,
            setup_pidfd,
            child_pid: None,
            child_pidfd: None,
            ctl: Some(ctl_wr),
            reports: BufReader::new(std::fs::File::from(rep_rd)),
            status: std::fs::File::from(st_rd),
            cgroup,
            registration: Some(registration),
            outcome: None,
            failed: false,
            prepaid,
            setup_recorded: false,
            fast,
            unread: None,
            late_partial: String::new(),
            failure: None,
        };
        if !spawner.plan.forks_init() {
            spawner.child_pid = Some(pid);
        }
        Ok(spawner)
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn is_running_command(&self) -> bool {
        self.next >= self.steps.len() && !self.failed
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    pub fn setup_pid(&self) -> i32 {
        self.setup_pid
    }

    /// The process that runs (or will run) CMD: PID 1 of the new PID
    /// namespace, as the host numbers it. `None` until it is forked.
    pub fn child_pid(&self) -> Option<i32> {
        self.child_pid
    }

    /// The cgroup isolab made for the child: the memory limit's, or (no PID
    /// namespace) the one that tracks its descendants.
    pub fn cgroup_path(&self) -> Option<&Path> {
        self.cgroup.as_ref().map(|c| c.path())
    }

    /// The report of step 0, the fork (done by `start`).
    pub fn first_report(&self) -> StepReport {
        StepReport {
            index: 0,
            step: self.steps[0].clone(),
            outcome: Ok(format!("setup process is PID {}", self.setup_pid)),
        }
    }

    /// Carry out the next step; `None` when all are done (or one failed).
    pub fn next_step(&mut self) -> Option<StepReport> {
        if self.failed || self.next >= self.steps.len() {
            return None;
        }
        let index = self.next;
        let step = self.steps[index].clone();
        self.next += 1;
        let outcome = match step.actor {
            Actor::Parent => self.parent_step(&step),
            Actor::Setup | Actor::Child => self.child_step(&step),
        };
        if outcome.is_err() {
            self.failed = true;
        }
        Some(StepReport {
            index,
            step,
            outcome,
        })
    }

    /// Carry out every remaining step, calling `on_step` after each.
    /// Returns the failed step's message, if one failed.
    pub fn run_rest(&mut self, mut on_step: impl FnMut(&StepReport)) -> Result<(), String> {
        loop {
            if self.prepaid == 0 {
                self.send_batch();
            }
            let Some(report) = self.next_step() else {
                break;
            };
            on_step(&report);
            if let Err(e) = &report.outcome {
                return Err(e.clone());
            }
        }
        Ok(())
    }

    fn record_setup(&mut self) {
        if !self.setup_recorded {
            self.setup_recorded = true;
            if let Some(reg) = &mut self.registration
                && let Err(e) = reg.add_child(self.setup_pid)
            {
                self.unrecorded(e);
            }
        }
    }

    /// Records a child's PID; what cannot be recorded must not run.
    fn record_child(&mut self, pid: i32) -> Result<(), String> {
        if let Some(reg) = &mut self.registration
            && let Err(e) = reg.add_child(pid)
        {
            return Err(self.unrecorded(e));
        }
        Ok(())
    }

    /// A process isolab cannot record must not run: kill it, fail the run.
    fn unrecorded(&mut self, e: anyhow::Error) -> String {
        let msg = format!("{e:#}");
        self.failed = true;
        self.failure.get_or_insert_with(|| msg.clone());
        for fd in [&self.child_pidfd, &self.setup_pidfd].into_iter().flatten() {
            pidfd::send_signal(fd, libc::SIGKILL);
        }
        msg
    }

    fn parent_step(&mut self, step: &Step) -> Result<String, String> {
        self.record_setup();
        match step.kind {
            StepKind::JoinCgroup => match &self.cgroup {
                Some(c) => c
                    .add_process(self.setup_pid)
                    .map(|()| format!("{}", c.path().display()))
                    .map_err(|e| format!("{e:#}")),
                None => Ok(String::new()),
            },
            StepKind::WriteIdMaps => write_id_maps(self.setup_pid).map_err(|e| format!("{e:#}")),
            _ => Ok(String::new()),
        }
    }

    fn child_step(&mut self, step: &Step) -> Result<String, String> {
        let Some(ctl) = &self.ctl else {
            return Err("the child is gone".into());
        };
        let n = if self.prepaid > 0 {
            self.prepaid -= 1;
            1
        } else {
            // SAFETY: writing one byte from a valid buffer to our pipe.
            unsafe { libc::write(ctl.as_raw_fd(), b"g".as_ptr().cast(), 1) }
        };
        if n != 1 {
            return Err("the setup process exited before this step".into());
        }
        self.record_setup();
        if step.kind == StepKind::Exec && self.fast {
            // Do not wait for the exec: a failure shows up as an `err` line,
            // read by `wait` (see `failure`).
            self.ctl = None;
            return Ok(String::new());
        }
        let mut line = String::new();
        match self.reports.read_line(&mut line) {
            Ok(0) if step.kind == StepKind::Exec => {
                // EOF: the last writer exec'd (close-on-exec). CMD runs.
                self.ctl = None;
                Ok(String::new())
            }
            Ok(0) => Err(self.explain_early_exit()),
            Ok(_) => {
                let line = line.trim_end();
                if let Some(msg) = line.strip_prefix("err ") {
                    Err(msg.to_string())
                } else {
                    let detail = line.strip_prefix("ok").unwrap_or("").trim().to_string();
                    if step.kind == StepKind::ForkInit
                        && let Ok(pid) = detail.parse::<i32>()
                    {
                        {
                            self.child_pid = Some(pid);
                            self.child_pidfd = pidfd::open(pid).ok();
                            self.record_child(pid)?;
                            return Ok(format!("child is PID {pid} on the host, PID 1 inside"));
                        }
                    }
                    if step.kind == StepKind::Exec {
                        self.ctl = None;
                    }
                    Ok(detail)
                }
            }
            Err(e) => Err(format!("cannot read the child's report: {e}")),
        }
    }

    fn explain_early_exit(&mut self) -> String {
        match self.wait() {
            Ok(o) => format!("the setup process ended early ({o:?})"),
            Err(e) => format!("the setup process ended early: {e:#}"),
        }
    }

    /// An fd that becomes readable when the command has ended (for poll):
    /// the status pipe when the setup process waits for the child (it
    /// writes there first), else a pidfd of the setup process.
    pub fn exit_fd(&self) -> Option<RawFd> {
        if self.plan.forks_init() {
            Some(self.status.as_raw_fd())
        } else {
            self.setup_pidfd.as_ref().map(|f| f.as_raw_fd())
        }
    }

    /// Wait for the command to end and return how it ended.
    pub fn wait(&mut self) -> anyhow::Result<ExitOutcome> {
        if let Some(o) = self.outcome {
            return Ok(o);
        }
        // Nothing more will be asked of the child.
        self.ctl = None;
        // The setup process writes how the child ended before it exits:
        // reading that first keeps its exit off our critical path.
        let word = if self.plan.forks_init() {
            read_status_line(&mut self.status)
        } else {
            String::new()
        };
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child.
            let rc = unsafe { libc::waitpid(self.setup_pid, &mut status, 0) };
            if rc == self.setup_pid {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(err).with_context(|| format!("waitpid({}) failed", self.setup_pid));
            }
        }
        if self.unread.is_some() {
            self.read_late_reports();
        }
        // A failed exec leaves its `err` line behind (fast path).
        // SAFETY: making our own read end non-blocking.
        unsafe {
            let fd = self.reports.get_ref().as_raw_fd();
            libc::fcntl(
                fd,
                libc::F_SETFL,
                libc::fcntl(fd, libc::F_GETFL) | libc::O_NONBLOCK,
            );
        }
        let mut rest = String::new();
        let _ = self.reports.read_to_string(&mut rest);
        if let Some(err) = rest.lines().find_map(|l| l.strip_prefix("err ")) {
            self.failure = Some(err.to_string());
        }
        let outcome = parse_status_word(&word).unwrap_or(ExitOutcome::from_wait_status(status));
        self.outcome = Some(outcome);
        // The record keeps the reaped children until `stop`: a reused PID is
        // safe there, since cleanup checks the start time too.
        Ok(outcome)
    }

    /// Non-blocking: the outcome if the command has ended.
    pub fn try_wait(&mut self) -> Option<ExitOutcome> {
        if self.outcome.is_some() {
            return self.outcome;
        }
        // SAFETY: non-blocking wait for our own child; WNOWAIT leaves it
        // to be reaped by `wait`, which then does not block.
        let ended = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let r = libc::waitid(
                libc::P_PID,
                self.setup_pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            );
            r == 0 && info.si_pid() != 0
        };
        if ended { self.wait().ok() } else { None }
    }

    /// Send a signal to the command (through a pidfd, so never to a reused PID).
    pub fn signal(&self, sig: i32) -> bool {
        match (&self.child_pidfd, &self.setup_pidfd) {
            (Some(fd), _) => pidfd::send_signal(fd, sig),
            (None, Some(fd)) => pidfd::send_signal(fd, sig),
            _ => false,
        }
    }

    /// The report pipe while reports are still to come in `Spawner::run`
    /// mode (poll it, then call `read_late_reports`).
    pub fn report_fd(&self) -> Option<RawFd> {
        self.unread.map(|_| self.reports.get_ref().as_raw_fd())
    }

    /// Read the reports that have arrived since `Spawner::run` returned:
    /// the child's host PID (recorded in the registry at once) and any
    /// failure. Never blocks.
    pub fn read_late_reports(&mut self) {
        while let Some(index) = self.unread {
            let mut line = std::mem::take(&mut self.late_partial);
            match self.reports.read_line(&mut line) {
                Ok(0) => {
                    self.unread = None;
                    if !line.is_empty() {
                        self.late_report(index, &line);
                    }
                }
                Ok(_) if line.ends_with('\n') => {
                    self.unread = Some(index + 1);
                    self.late_report(index, &line);
                }
                Ok(_) => self.late_partial = line,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    self.late_partial = line;
                    return;
                }
                Err(_) => self.unread = None,
            }
        }
    }

    fn late_report(&mut self, index: usize, line: &str) {
        let line = line.trim_end();
        if let Some(err) = line.strip_prefix("err ") {
            self.failure.get_or_insert_with(|| err.to_string());
            return;
        }
        let is_fork = self
            .steps
            .get(index)
            .is_some_and(|s| s.kind == StepKind::ForkInit);
        if let (true, Ok(pid)) = (is_fork, line.trim_start_matches("ok").trim().parse::<i32>()) {
            self.child_pid = Some(pid);
            self.child_pidfd = pidfd::open(pid).ok();
            let _ = self.record_child(pid);
        }
    }

    /// Why a step or the exec failed, when `Spawner::run` did not read the
    /// last reports (known after `wait`).
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Whether the failure is the exec itself (the shell's 127 case).
    pub fn failed_to_exec(&self) -> bool {
        self.failure
            .as_deref()
            .is_some_and(|f| f.starts_with("cannot run "))
    }

    /// Whether the memory cgroup's OOM killer killed something.
    pub fn oom_killed(&self) -> bool {
        self.plan.memory_bytes.is_some() && self.cgroup.as_ref().is_some_and(|c| c.oom_killed())
    }

    /// Kill the child (if still running) and remove everything created.
    pub fn stop(&mut self) {
        if self.outcome.is_none() {
            if let Some(fd) = &self.child_pidfd {
                pidfd::send_signal(fd, libc::SIGKILL);
                // Dead before we return (its parent, killed too, cannot reap
                // it; someone else will): the pidfd turns readable then.
                let mut pfd = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: polling one valid fd, bounded.
                unsafe { libc::poll(&mut pfd, 1, 2000) };
            }
            if let Some(fd) = &self.setup_pidfd {
                pidfd::send_signal(fd, libc::SIGKILL);
            }
            let _ = self.wait();
        }
        if let Some(c) = self.cgroup.take() {
            let _ = c.remove();
        }
        if let Some(reg) = self.registration.take() {
            let _ = reg.finish();
        }
    }
}

impl Drop for Spawner {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One line from the status pipe (up to EOF if the writer died first).
fn read_status_line(file: &mut std::fs::File) -> String {
    let mut out = Vec::new();
    let mut byte = [0u8; 1];
    while let Ok(1) = file.read(&mut byte) {
        if byte[0] == b'\n' {
            break;
        }
        out.push(byte[0]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_status_word(word: &str) -> Option<ExitOutcome> {
    let mut it = word.split_whitespace();
    match (it.next()?, it.next()?.parse().ok()?) {
        ("exit", c) => Some(ExitOutcome::Exited(c)),
        ("signal", n) => Some(ExitOutcome::Signaled(n)),
        _ => None,
    }
}

fn next_seq() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// Write setgroups/uid_map/gid_map of `pid`'s (new) user namespace.
fn write_id_maps(pid: i32) -> anyhow::Result<String> {
    let dir = PathBuf::from(format!("/proc/{pid}"));
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let (umap, gmap) = if uid == 0 {
        ("0 0 4294967295".to_string(), "0 0 4294967295".to_string())
    } else {
        std::fs::write(dir.join("setgroups"), "deny")
            .with_context(|| format!("cannot write deny to {}/setgroups", dir.display()))?;
        (format!("0 {uid} 1"), format!("0 {gid} 1"))
    };
    std::fs::write(dir.join("uid_map"), &umap)
        .with_context(|| format!("cannot write {}/uid_map", dir.display()))?;
    std::fs::write(dir.join("gid_map"), &gmap)
        .with_context(|| format!("cannot write {}/gid_map", dir.display()))?;
    Ok(format!("uid_map {umap}; gid_map {gmap}"))
}

/// Explain why the kernel refused a new user namespace, naming the knob.
pub fn userns_refusal_hint(errno: i32) -> String {
    let read = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    let mut causes = Vec::new();
    if read("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        causes.push("sysctl kernel.unprivileged_userns_clone is 0 (set it to 1)".to_string());
    }
    if read("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        causes.push("sysctl user.max_user_namespaces is 0".to_string());
    }
    if read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1") {
        causes.push(
            "AppArmor restricts unprivileged user namespaces (sysctl kernel.apparmor_restrict_unprivileged_userns is 1; see `aa-status`)"
                .to_string(),
        );
    }
    let what = std::io::Error::from_raw_os_error(errno);
    if causes.is_empty() {
        format!(
            "the kernel refused a new user namespace ({what}): unprivileged user namespaces may be off; check `sysctl kernel.unprivileged_userns_clone user.max_user_namespaces kernel.apparmor_restrict_unprivileged_userns`"
        )
    } else {
        format!(
            "the kernel refused a new user namespace ({what}): {}",
            causes.join("; ")
        )
    }
}

// ---------------------------------------------------------------------------
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
    // SAFETY: clock_gettime into a valid timespec.
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
mod tests {
    use super::*;

    fn plan(kinds: &[NsKind]) -> Plan {
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
    fn steps_follow_the_kernel_order() {
        let mut p = plan(&NsKind::ISOLATING);
        p.hostname = Some("box".into());
        p.boottime_offset = Some(5);
        p.memory_bytes = Some(64 << 20);
        let kinds: Vec<StepKind> = steps(&p).into_iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            vec![
                StepKind::ForkSetup,
                StepKind::JoinCgroup,
                StepKind::UnshareUser,
                StepKind::WriteIdMaps,
                StepKind::Unshare,
                StepKind::TimeOffsets,
                StepKind::Hostname,
                StepKind::LoopbackUp,
                StepKind::ForkInit,
                StepKind::MountsPrivate,
                StepKind::MountProc,
                StepKind::Exec,
            ]
        );
    }

    #[test]
    fn no_pid_no_time_means_no_second_fork() {
        let p = plan(&[NsKind::Uts, NsKind::Net]);
        let s = steps(&p);
        assert!(!s.iter().any(|s| s.kind == StepKind::ForkInit));
        assert!(s.iter().all(|s| s.actor != Actor::Child));
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
