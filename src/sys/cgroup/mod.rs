//! cgroups and memory: v1/v2/hybrid detection, every cgroup of a process
//! explained, a memory cgroup's numbers, limits set in each version's own
//! syntax, and the cgroups isolab creates for its children.
//!
//! Everything takes the mount (a `MemoryHierarchy`) or a mountinfo/proc path,
//! so fixture tests in a temp dir and the real kernel run the same code.

pub mod membership;
pub mod memory;
pub mod mounts;
pub mod oom;
pub mod owned;
pub mod report;
pub mod size;

pub use membership::{Membership, explain, parse_cgroup_lines, read_cgroup_lines};
pub use memory::{
    LimitOutcome, MemoryEvents, MemoryStats, SetLimitError, memory_dir_of, read_memory,
    set_memory_limit,
};
pub use mounts::{
    CgroupMount, CgroupMounts, CgroupVersion, ISOLAB_PARENT, Layout, MemoryHierarchy,
};
pub use oom::{OomWatch, memory_line, oom_kill_count};
pub use owned::{OwnedCgroup, remove_leftovers, remove_leftovers_in, remove_own};
pub use report::{CgroupReport, MemoryCgroup, report};
pub use size::{Limit, SizeError, human_bytes, parse_rate, parse_size, size_arg};
