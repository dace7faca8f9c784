//! The kernel side of isolab. Nothing in here knows about the screen or the
//! terminal: no UI crate is imported below this module. Every function that reads the kernel takes a root
//! path (`/proc`, a cgroup mount, ...) so tests can point it at a fixture.

pub mod cgroup;
pub mod container;
pub mod enter;
pub mod idmap;
pub mod inside;
pub mod minroot;
pub mod mounts;
pub mod ns;
pub mod paths;
pub mod pidfd;
pub mod process;
pub mod procs;
pub mod registry;
pub mod rootfs;
pub mod spawn;
pub mod tree;
pub mod users;
