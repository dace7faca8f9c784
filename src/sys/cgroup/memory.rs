//! One memory cgroup's numbers (usage, limit, peak, failcnt or events, swap)
//! and setting its limit in each version's own syntax, with the kernel's
//! answer read back and its refusals explained.

use super::mounts::{CgroupVersion, MemoryHierarchy};
use super::size::{LARGEST, Limit, human_bytes};
use anyhow::Context;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// v2 memory.events: how often each boundary was hit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryEvents {
    /// Reclaimed although below memory.low (protection overcommitted).
    pub low: u64,
    /// Throttled and reclaimed for being above memory.high.
    pub high: u64,
    /// Usage was about to cross memory.max.
    pub max: u64,
    /// Reclaim failed at the limit: the OOM killer was invoked.
    pub oom: u64,
    /// Processes the OOM killer killed in this cgroup.
    pub oom_kill: u64,
}

impl MemoryEvents {
    pub fn parse(text: &str) -> MemoryEvents {
        let mut e = MemoryEvents::default();
        for line in text.lines() {
            let mut it = line.split_whitespace();
            let (Some(key), Some(value)) = (it.next(), it.next()) else {
                continue;
            };
            let value = value.parse().unwrap_or(0);
            match key {
                "low" => e.low = value,
                "high" => e.high = value,
                "max" => e.max = value,
                "oom" => e.oom = value,
                "oom_kill" => e.oom_kill = value,
                _ => {}
            }
        }
        e
    }
}

/// The memory numbers of one cgroup. `None` means the kernel does not offer
/// that file here (older kernel, swap accounting off, a v1-only field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemoryStats {
    pub version: CgroupVersion,
    pub dir: PathBuf,
    pub usage: u64,
    pub limit: Limit,
    /// Highest usage seen (v1 max_usage_in_bytes; v2 memory.peak, 5.19+).
    pub peak: Option<u64>,
    /// v1: how many times usage hit the limit.
    pub failcnt: Option<u64>,
    /// v2 memory.events.
    pub events: Option<MemoryEvents>,
    /// OOM kills in this cgroup (v1 oom_control's oom_kill, v2 events).
    pub oom_kills: Option<u64>,
    /// v2 swap.current; v1 memsw (memory+swap) minus usage.
    pub swap_usage: Option<u64>,
    /// v2 memory.swap.max; v1 memsw.limit_in_bytes (memory+swap together).
    pub swap_limit: Option<Limit>,
    pub high: Option<Limit>,
    pub low: Option<Limit>,
    pub min: Option<Limit>,
}

fn read_trimmed(path: &Path) -> std::io::Result<String> {
    std::fs::read_to_string(path).map(|s| s.trim().to_string())
}

fn read_u64(path: &Path) -> Option<u64> {
    read_trimmed(path).ok()?.parse().ok()
}

/// A limit as the kernel prints it: v2 `max` or bytes; v1 bytes, where
/// anything at or near 2^63 (page-rounded) means unlimited.
pub fn parse_kernel_limit(text: &str) -> Option<Limit> {
    let text = text.trim();
    if text == "max" || text == "-1" {
        return Some(Limit::Max);
    }
    let value: u64 = text.parse().ok()?;
    // v1 shows PAGE_COUNTER_MAX * PAGE_SIZE, a little under i64::MAX.
    if value >= LARGEST - (1 << 20) {
        Some(Limit::Max)
    } else {
        Some(Limit::Bytes(value))
    }
}

fn read_limit(path: &Path) -> Option<Limit> {
    parse_kernel_limit(&read_trimmed(path).ok()?)
}

/// v1 memory.oom_control: `oom_kill_disable 0`, `under_oom 0`, `oom_kill N`.
fn v1_oom_kills(dir: &Path) -> Option<u64> {
    let text = read_trimmed(&dir.join("memory.oom_control")).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix("oom_kill ")
            .and_then(|v| v.trim().parse().ok())
    })
}

/// Reads the memory numbers of the cgroup at `dir`.
pub fn read_memory(version: CgroupVersion, dir: &Path) -> anyhow::Result<MemoryStats> {
    let (usage_file, limit_file) = match version {
        CgroupVersion::V1 => ("memory.usage_in_bytes", "memory.limit_in_bytes"),
        CgroupVersion::V2 => ("memory.current", "memory.max"),
    };
    let usage_path = dir.join(usage_file);
    let usage = read_trimmed(&usage_path)
        .with_context(|| format!("reading {}", usage_path.display()))?
        .parse()
        .with_context(|| format!("{} is not a number", usage_path.display()))?;
    let limit_path = dir.join(limit_file);
    let limit = read_limit(&limit_path)
        .with_context(|| format!("reading the limit in {}", limit_path.display()))?;
    Ok(match version {
        CgroupVersion::V1 => {
            let memsw = read_u64(&dir.join("memory.memsw.usage_in_bytes"));
            MemoryStats {
                version,
                dir: dir.to_path_buf(),
                usage,
                limit,
                peak: read_u64(&dir.join("memory.max_usage_in_bytes")),
                failcnt: read_u64(&dir.join("memory.failcnt")),
                events: None,
                oom_kills: v1_oom_kills(dir),
                swap_usage: memsw.map(|m| m.saturating_sub(usage)),
                swap_limit: read_limit(&dir.join("memory.memsw.limit_in_bytes")),
                high: None,
                low: None,
                min: None,
            }
        }
        CgroupVersion::V2 => {
            let events = read_trimmed(&dir.join("memory.events"))
                .ok()
                .map(|t| MemoryEvents::parse(&t));
            MemoryStats {
                version,
                dir: dir.to_path_buf(),
                usage,
                limit,
                peak: read_u64(&dir.join("memory.peak")),
                failcnt: None,
                events,
                oom_kills: events.map(|e| e.oom_kill),
                swap_usage: read_u64(&dir.join("memory.swap.current")),
                swap_limit: read_limit(&dir.join("memory.swap.max")),
                high: read_limit(&dir.join("memory.high")),
                low: read_limit(&dir.join("memory.low")),
                min: read_limit(&dir.join("memory.min")),
            }
        }
    })
}

/// The value written to the limit file, in that version's syntax:
/// v1 takes bytes or -1 (never `max`), v2 takes bytes or `max`.
pub fn kernel_syntax(version: CgroupVersion, limit: Limit) -> String {
    match (version, limit) {
        (_, Limit::Bytes(b)) => b.to_string(),
        (CgroupVersion::V1, Limit::Max) => "-1".to_string(),
        (CgroupVersion::V2, Limit::Max) => "max".to_string(),
    }
}

/// What happened when a limit was set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LimitOutcome {
    pub file: PathBuf,
    /// Exactly what was written.
    pub written: String,
    /// What the kernel reads back (v1 rounds down to whole pages).
    pub read_back: Limit,
    pub usage_before: u64,
    pub usage_after: u64,
    /// OOM kills the write caused (v2 reclaims and may kill instead of refusing).
    pub oom_kills_caused: u64,
    /// Remarks worth showing: below the floor, rounded, reclaimed, killed.
    pub notes: Vec<String>,
}

/// The kernel refused a limit; the message says why in words.
#[derive(Debug, thiserror::Error)]
pub enum SetLimitError {
    #[error(
        "the kernel refused {wanted} for {dir} (EBUSY): the cgroup already uses {usage} and cgroup v1 could not reclaim enough to fit under the new limit; choose a limit above current usage or free memory in it first (v2 would reclaim and OOM-kill instead)",
        dir = dir.display(), wanted = human_bytes(*wanted), usage = human_bytes(*usage)
    )]
    BelowUsage {
        dir: PathBuf,
        wanted: u64,
        usage: u64,
    },
    #[error(
        "the kernel refused {wanted} for {dir} (EINVAL): on v1 memory.limit_in_bytes may not exceed memory.memsw.limit_in_bytes ({memsw}); raise that first",
        dir = dir.display(), wanted = human_bytes(*wanted), memsw = memsw
    )]
    AboveMemsw {
        dir: PathBuf,
        wanted: u64,
        memsw: Limit,
    },
    // The cause is part of the message and deliberately not a `source`
    // (a field named `source` would be one): `{:#}` prints the chain, and
    // would print the errno twice.
    #[error("writing {value:?} to {}: {error}{}", path.display(), write_hint(error))]
    Write {
        path: PathBuf,
        value: String,
        error: std::io::Error,
    },
    #[error("reading {}: {error:#}", path.display())]
    Read { path: PathBuf, error: anyhow::Error },
}

/// What to do about a refused write, when the errno says it.
fn write_hint(error: &std::io::Error) -> &'static str {
    match error.raw_os_error() {
        Some(libc::EACCES) | Some(libc::EPERM) => {
            "; changing this limit needs root (or write access to the file): run isolab as root"
        }
        _ => "",
    }
}

/// Sets the memory limit of the cgroup at `dir`. Validation of the value
/// happens before (`parse_size`); this writes, reads back and explains.
pub fn set_memory_limit(
    version: CgroupVersion,
    dir: &Path,
    limit: Limit,
) -> Result<LimitOutcome, SetLimitError> {
    let read = |dir: &Path| {
        read_memory(version, dir).map_err(|error| SetLimitError::Read {
            path: dir.to_path_buf(),
            error,
        })
    };
    let before = read(dir)?;
    let file = dir.join(match version {
        CgroupVersion::V1 => "memory.limit_in_bytes",
        CgroupVersion::V2 => "memory.max",
    });
    let written = kernel_syntax(version, limit);
    if let Err(source) = std::fs::write(&file, &written) {
        return Err(match (version, source.raw_os_error(), limit) {
            (CgroupVersion::V1, Some(libc::EBUSY), Limit::Bytes(wanted)) => {
                SetLimitError::BelowUsage {
                    dir: dir.to_path_buf(),
                    wanted,
                    usage: read(dir).map(|s| s.usage).unwrap_or(before.usage),
                }
            }
            (CgroupVersion::V1, Some(libc::EINVAL), Limit::Bytes(wanted))
                if before.swap_limit.is_some_and(|m| match m {
                    Limit::Bytes(m) => m < wanted,
                    Limit::Max => false,
                }) =>
            {
                SetLimitError::AboveMemsw {
                    dir: dir.to_path_buf(),
                    wanted,
                    memsw: before.swap_limit.unwrap_or(Limit::Max),
                }
            }
            _ => SetLimitError::Write {
                path: file,
                value: written,
                error: source,
            },
        });
    }
    let after = read(dir)?;
    let mut notes = Vec::new();
    if let Some(w) = limit.warning() {
        notes.push(w);
    }
    if let (Limit::Bytes(asked), Limit::Bytes(got)) = (limit, after.limit)
        && asked != got
    {
        notes.push(format!(
            "the kernel rounded {asked} to {got} bytes (whole pages)"
        ));
    }
    let oom_kills_caused = after
        .oom_kills
        .unwrap_or(0)
        .saturating_sub(before.oom_kills.unwrap_or(0));
    if let Limit::Bytes(b) = limit
        && version == CgroupVersion::V2
        && before.usage > b
    {
        notes.push(format!(
            "usage was {} above the new limit: v2 never refuses, it reclaimed memory{}",
            human_bytes(before.usage),
            if oom_kills_caused > 0 {
                " and the OOM killer killed a process"
            } else {
                ""
            }
        ));
    } else if oom_kills_caused > 0 {
        notes.push(format!(
            "the OOM killer killed {oom_kills_caused} process(es) in this cgroup"
        ));
    }
    Ok(LimitOutcome {
        file,
        written,
        read_back: after.limit,
        usage_before: before.usage,
        usage_after: after.usage,
        oom_kills_caused,
        notes,
    })
}

/// The memory cgroup of `pid`: the hierarchy's dir for the memory line of
/// /proc/PID/cgroup (v1 `N:memory:/path`, or v2 `0::/path`).
pub fn memory_dir_of(
    proc_root: &Path,
    pid: i32,
    hierarchy: &MemoryHierarchy,
) -> anyhow::Result<PathBuf> {
    let lines = super::membership::read_cgroup_lines(proc_root, pid)?;
    let line = lines
        .iter()
        .find(|l| match hierarchy.version {
            CgroupVersion::V1 => l.controllers.iter().any(|c| c == "memory"),
            CgroupVersion::V2 => l.is_v2(),
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "process {pid} has no {} memory cgroup line in {}/{pid}/cgroup",
                hierarchy.version,
                proc_root.display()
            )
        })?;
    Ok(hierarchy.dir_of(&line.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_limits() {
        assert_eq!(
            parse_kernel_limit("9223372036854771712\n"),
            Some(Limit::Max)
        );
        assert_eq!(parse_kernel_limit("max"), Some(Limit::Max));
        assert_eq!(parse_kernel_limit("33554432"), Some(Limit::Bytes(32 << 20)));
        assert_eq!(parse_kernel_limit("x"), None);
        assert_eq!(kernel_syntax(CgroupVersion::V1, Limit::Max), "-1");
        assert_eq!(kernel_syntax(CgroupVersion::V2, Limit::Max), "max");
    }

    #[test]
    fn events() {
        let e = MemoryEvents::parse("low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\noom_group_kill 0\n");
        assert_eq!(
            e,
            MemoryEvents {
                low: 1,
                high: 2,
                max: 3,
                oom: 4,
                oom_kill: 5
            }
        );
    }
}
