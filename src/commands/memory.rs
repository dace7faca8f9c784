//! `isolab cgroup`, `isolab limit` and `isolab hog`: the Memory screen's
//! facts and actions, headless.

use crate::cli::{CgroupArgs, HogArgs, LimitArgs};
use crate::sys::cgroup::{
    self, CgroupMounts, Limit, MemoryStats, human_bytes, parse_rate, parse_size,
};
use crate::text::{escape, escape_os};
use anyhow::Context;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

fn limit_text(limit: Option<Limit>) -> String {
    match limit {
        Some(l) => l.to_string(),
        None => "—".to_string(),
    }
}

fn bytes_text(bytes: Option<u64>) -> String {
    match bytes {
        Some(b) => format!("{} ({b} bytes)", human_bytes(b)),
        None => "— (not offered by this kernel)".to_string(),
    }
}

/// The memory numbers as aligned lines, for `isolab cgroup`.
pub fn stats_lines(stats: &MemoryStats) -> Vec<String> {
    let mut out = vec![
        format!("  usage      {}", bytes_text(Some(stats.usage))),
        format!("  limit      {}", stats.limit),
        format!("  peak       {}", bytes_text(stats.peak)),
    ];
    if let Some(f) = stats.failcnt {
        out.push(format!("  failcnt    {f} (times usage hit the limit)"));
    }
    if let Some(e) = stats.events {
        out.push(format!(
            "  events     low {} high {} max {} oom {} oom_kill {}",
            e.low, e.high, e.max, e.oom, e.oom_kill
        ));
    }
    if let Some(k) = stats.oom_kills {
        out.push(format!("  oom kills  {k}"));
    }
    match stats.version {
        cgroup::CgroupVersion::V1 => {
            if stats.swap_limit.is_some() {
                out.push(format!(
                    "  swap       {} used; memory+swap limit {}",
                    bytes_text(stats.swap_usage),
                    limit_text(stats.swap_limit)
                ));
            }
        }
        cgroup::CgroupVersion::V2 => {
            if stats.swap_usage.is_some() {
                out.push(format!(
                    "  swap       {} used, limit {}",
                    bytes_text(stats.swap_usage),
                    limit_text(stats.swap_limit)
                ));
            }
            out.push(format!("  high       {}", limit_text(stats.high)));
            out.push(format!("  low        {}", limit_text(stats.low)));
            out.push(format!("  min        {}", limit_text(stats.min)));
        }
    }
    out
}

fn no_such_process(proc_root: &Path, pid: i32) -> bool {
    !proc_root.join(pid.to_string()).exists()
}

pub fn cgroup(proc_root: &Path, a: &CgroupArgs) -> anyhow::Result<i32> {
    if no_such_process(proc_root, a.pid) {
        anyhow::bail!("no process {} (is the PID right?)", a.pid);
    }
    let mounts = CgroupMounts::of_self()?;
    let report = cgroup::report(proc_root, a.pid, &mounts)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    // Cgroup paths (and the explanations quoting them) are named by
    // whoever made the cgroup: escaped.
    println!("process {}: {}", report.pid, report.layout_explained);
    println!("cgroups (from /proc/{}/cgroup):", report.pid);
    for m in &report.cgroups {
        println!(
            "  {}:{}:{}",
            m.line.hierarchy,
            escape(&m.line.controllers.join(",")),
            escape(&m.line.path)
        );
        println!("      {}", escape(&m.explanation));
        match &m.dir {
            Some(d) => println!("      dir {}", escape_os(d.as_os_str())),
            None => println!("      dir — (hierarchy not mounted here)"),
        }
    }
    match &report.memory {
        Some(mem) => {
            println!(
                "memory cgroup ({}, {}{}):",
                mem.hierarchy.version,
                escape_os(mem.dir.as_os_str()),
                if mem.created_by_isolab {
                    ", created by isolab"
                } else {
                    ", not created by isolab: live"
                }
            );
            if let Some(stats) = &mem.stats {
                for line in stats_lines(stats) {
                    println!("{line}");
                }
            }
            if let Some(why) = &mem.unavailable {
                println!("  no memory numbers: {}", escape(why));
            }
        }
        None => println!("memory cgroup: none (no memory controller is mounted)"),
    }
    Ok(0)
}

pub fn limit(proc_root: &Path, a: &LimitArgs) -> anyhow::Result<i32> {
    // Validate before anything else: bad input never reaches the kernel.
    let new_limit = match parse_size(&a.size) {
        Ok(l) => l,
        Err(e) => return crate::usage(e.to_string()),
    };
    if no_such_process(proc_root, a.pid) {
        anyhow::bail!("no process {} (is the PID right?)", a.pid);
    }
    let hierarchy = cgroup::MemoryHierarchy::detect()?;
    let dir = cgroup::memory_dir_of(proc_root, a.pid, &hierarchy)?;
    if dir == hierarchy.mount {
        anyhow::bail!(
            "process {} is in the root memory cgroup ({}), which has no limit of its own; limit a cgroup below it",
            a.pid,
            dir.display()
        );
    }
    if !hierarchy.is_isolab_owned(&dir) && !a.yes {
        anyhow::bail!(
            "{} is a live cgroup isolab did not create (process {} and everything else in it would feel the new limit); add --yes to change it anyway",
            dir.display(),
            a.pid
        );
    }
    if let Some(w) = new_limit.warning() {
        eprintln!("isolab: warning: {}", escape(&w));
    }
    let outcome = cgroup::set_memory_limit(hierarchy.version, &dir, new_limit)
        .with_context(|| format!("setting the memory limit of process {}", a.pid))?;
    println!(
        "{}: wrote {} to {}; the kernel reads back {}",
        escape_os(dir.as_os_str()),
        outcome.written,
        outcome
            .file
            .file_name()
            .map(|f| escape_os(f).into_owned())
            .unwrap_or_default(),
        match outcome.read_back {
            Limit::Bytes(b) => b.to_string(),
            Limit::Max => "max".to_string(),
        }
    );
    for note in outcome
        .notes
        .iter()
        .filter(|n| Some(*n) != new_limit.warning().as_ref())
    {
        println!("note: {}", escape(note));
    }
    Ok(0)
}

/// Allocates `rate` bytes per second, touching every page so the memory is
/// really charged, up to `max`, then holds it until killed. An OOM kill ends
/// it with SIGKILL, as it would any process.
pub fn hog(a: &HogArgs) -> anyhow::Result<i32> {
    let rate = match parse_rate(&a.rate) {
        Ok(0) => return crate::usage("--rate must be above 0"),
        Ok(r) => r,
        Err(e) => return crate::usage(format!("--rate: {e}")),
    };
    let max = match parse_size(&a.max) {
        Ok(Limit::Bytes(b)) => b,
        Ok(Limit::Max) => u64::MAX,
        Err(e) => return crate::usage(format!("--max: {e}")),
    };
    const TICK: Duration = Duration::from_millis(50);
    const PAGE: usize = 4096;
    let started = Instant::now();
    let mut held: Vec<Vec<u8>> = Vec::new();
    let mut allocated: u64 = 0;
    let mut last_report = Instant::now();
    let mut out = std::io::stdout();
    writeln!(
        out,
        "hog {}: allocating {}/s up to {}",
        std::process::id(),
        human_bytes(rate),
        if max == u64::MAX {
            "no maximum".to_string()
        } else {
            human_bytes(max)
        }
    )?;
    out.flush()?;
    while allocated < max {
        // How much should be allocated by now, so the rate holds on average.
        let due = ((started.elapsed().as_secs_f64() + TICK.as_secs_f64()) * rate as f64) as u64;
        let step = due.saturating_sub(allocated).min(max - allocated);
        if step > 0 {
            let mut chunk = vec![0u8; step as usize];
            // calloc'd pages are not charged until written: touch each one.
            for i in (0..chunk.len()).step_by(PAGE) {
                chunk[i] = 1;
            }
            held.push(chunk);
            allocated += step;
        }
        if last_report.elapsed() >= Duration::from_millis(250) || allocated >= max {
            writeln!(out, "hog: {} allocated", human_bytes(allocated))?;
            out.flush()?;
            last_report = Instant::now();
        }
        std::thread::sleep(TICK);
    }
    writeln!(
        out,
        "hog: reached {}; holding it until killed",
        human_bytes(allocated)
    )?;
    out.flush()?;
    loop {
        std::thread::sleep(Duration::from_secs(3600));
        std::hint::black_box(&held);
    }
}
