//! The ordered steps a plan takes, who carries each out, and their reports.

use super::plan::{ChildCommand, Plan, RootFs, clone_flag_name};
use crate::sys::cgroup::size_arg;
use crate::sys::ns::NsKind;

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
        let (uid, gid) = (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        );
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

/// What one step did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepReport {
    pub index: usize,
    pub step: Step,
    /// Ok(detail) or Err(what went wrong).
    pub outcome: Result<String, String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    use crate::sys::spawn::plan::tests::plan;

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
}
