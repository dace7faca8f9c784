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
//! uses raw fds and syscalls only, through nix's thin wrappers (no stdio
//! locks, no Rust `Stdout`, no `std::env`, whose lock is read before the
//! fork), and only allocates through glibc malloc, which is fork-safe.
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
//! per child step: go), `report` (one `protocol::Report` frame per step:
//! done with a detail, init's host PID, or a typed failure), and `status`
//! (the setup process's last word: a `Report::Ended` with how CMD ended).
//! The child blocks on `ctl` before every step, so the Lab can stop
//! between steps and let a student look around; `run_rest` just sends the
//! bytes back to back. A successful exec closes the last write end of
//! `report` (close-on-exec), which the parent reads as "CMD is running".
//! The parent's side moves through `spawner::Phase` (ready, stepping,
//! running, failed, exited), so a finished spawn cannot be stepped on.
//!
//! # Files
//! `plan.rs` (what the user chose, its checks, the `unshare`/`docker run`
//! equivalents), `steps.rs` (the ordered steps and their reports),
//! `prep.rs` (what is made before the fork), `spawner.rs` (the parent
//! side), `protocol.rs` (the reports), `child.rs` (the code the children
//! run). Entering a running child (`isolab exec`, the Lab's `e`) is in
//! `sys::enter`, which speaks the same protocol.
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

mod child;
mod plan;
mod prep;
mod protocol;
mod spawner;
mod steps;

pub use child::userns_refusal_hint;
pub use plan::{
    BOOTTIME_SEC_MAX, ChildCommand, MIN_MEMORY_BYTES, Plan, RootFs, boottime_offset_range,
    clone_flag, clone_flag_name, explain_kind, explain_kind_long, find_command, find_in_root,
    shell_join, shell_quote,
};
pub use protocol::ExitOutcome;
pub use spawner::Spawner;
pub use steps::{Actor, Step, StepKind, StepReport, steps};

pub(crate) use child::{child_fail, exec_command, exit_now, set_signal, wait_for_end};
pub(crate) use protocol::{Failure, FailureKind, Report, ReportReader};
pub(crate) use spawner::pipe_cloexec;
