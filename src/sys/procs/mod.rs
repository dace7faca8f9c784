//! A fast /proc reader: one snapshot of every process, with namespace ids,
//! NSpid, cgroup lines and container labels.
//!
//! What a process is ([`Facts`]: comm, cmdline, uid, ns ids, cgroups) is
//! read once per (pid, start time), so a reused PID is never confused with
//! the process that had it before, and shared by every snapshot that holds
//! it; what it is doing (stat) is re-read from a kept-open file on every
//! refresh. Which PIDs exist is `pids`' job: it lists /proc only when it
//! must.
//!
//! The parts: `model` (the types), `parse` (the text of /proc files),
//! `io` (pread, kept-open stat files and their fd budget), `facts` (what a
//! process is), `reader` ([`ProcReader`] and one-process reads) and `pids`
//! (which PIDs exist). Callers use the re-exports below.

mod facts;
mod io;
mod model;
mod parse;
mod pids;
mod reader;

pub use io::{boot_time, denied_hint, ticks_per_sec};
pub use model::{
    CgroupLine, CgroupLines, Facts, Pid, ProcError, ProcFile, Process, Snapshot, Unreadable,
    format_cpu_time,
};
pub use parse::{
    Stat, StatusFields, is_exiting, parse_cgroups, parse_cmdline, parse_ns_link, parse_stat,
    parse_status, tty_name,
};
pub use reader::{ProcReader, host_reference, read_process, reference_process};
