//! `isolab tree` and `isolab ns`: one snapshot of the process tree in the
//! `ps axjf` layout (or JSON), and one process's namespaces beside another's.

use crate::cli::{Cli, NsArgs, TreeArgs};
use crate::sys::container::Container;
use crate::sys::ns::{NsKind, NsSet};
use crate::sys::procs::{CgroupLine, Pid, ProcReader, Process, read_process, reference_process};
use crate::sys::tree;
use crate::text::escape;
use anyhow::Context;
use serde::Serialize;
use std::collections::HashSet;
use std::io::{BufWriter, Write};

/// One process in `isolab tree --json`.
#[derive(Serialize)]
struct JsonProcess<'a> {
    pid: Pid,
    ppid: Pid,
    pgid: Pid,
    sid: Pid,
    tty: &'a str,
    state: char,
    uid: Option<u32>,
    comm: &'a str,
    cmdline: &'a Option<Vec<String>>,
    ns: &'a NsSet,
    nspid: &'a [Pid],
    cgroups: &'a [CgroupLine],
    container: &'a Option<std::sync::Arc<Container>>,
}

impl<'a> From<&'a Process> for JsonProcess<'a> {
    fn from(p: &'a Process) -> Self {
        JsonProcess {
            pid: p.pid,
            ppid: p.ppid,
            pgid: p.pgid,
            sid: p.sid,
            tty: &p.tty,
            state: p.state,
            uid: p.facts.uid,
            comm: &p.facts.comm,
            cmdline: &p.facts.cmdline,
            ns: &p.facts.ns,
            nspid: &p.facts.nspid,
            cgroups: &p.facts.cgroups,
            container: &p.facts.container,
        }
    }
}

/// `runtime:shortid` as the CONTAINER column shows it, or `-` (escaped: the
/// id comes from a cgroup path, which whoever made the cgroup chose).
pub fn container_label(container: &Option<std::sync::Arc<Container>>) -> String {
    match container {
        Some(c) => format!("{}:{}", c.runtime.name(), escape(c.short_id())),
        None => "-".to_string(),
    }
}

pub fn tree(cli: &Cli, args: &TreeArgs) -> anyhow::Result<i32> {
    let mut reader = ProcReader::new(&cli.proc_root)?;
    // Read only the namespace links this listing prints: each costs as
    // much as a stat file. The pid link also tells whether NSpid is nested.
    reader.read_namespaces(match (args.json, args.ns) {
        (true, _) => &NsKind::ALL,
        (false, true) => &NsKind::ISOLATING,
        (false, false) => &[NsKind::Pid],
    });
    let snapshot = reader.into_snapshot()?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    if args.json {
        let all: Vec<JsonProcess> = snapshot.procs.iter().map(JsonProcess::from).collect();
        serde_json::to_writer_pretty(&mut out, &all).context("writing JSON to stdout")?;
        writeln!(out)?;
        return finish(out);
    }

    let rows = tree::build(&snapshot, &HashSet::new());
    let max_pid = snapshot
        .procs
        .iter()
        .map(|p| p.pid.max(p.ppid).max(p.pgid).max(p.sid))
        .max()
        .unwrap_or(0);
    let w = max_pid.to_string().len().max(5);
    let labels: Vec<String> = snapshot
        .procs
        .iter()
        .map(|p| container_label(&p.facts.container))
        .collect();
    let cw = labels.iter().map(String::len).max().unwrap_or(0).max(9);

    write!(
        out,
        "{:>w$} {:>w$} {:>w$} {:>w$} {:<8} {:<4} {:>5} {:>6} ",
        "PPID", "PID", "PGID", "SID", "TTY", "STAT", "UID", "TIME"
    )?;
    if args.ns {
        for kind in NsKind::ISOLATING {
            write!(out, "{:<10} ", kind.proc_name().to_uppercase())?;
        }
    }
    writeln!(out, "{:<cw$} COMMAND", "CONTAINER")?;

    for row in &rows {
        let p = &snapshot.procs[row.index];
        let uid = p.facts.uid.map(|u| u.to_string());
        write!(
            out,
            "{:>w$} {:>w$} {:>w$} {:>w$} {:<8} {:<4} {:>5} {:>6} ",
            p.ppid,
            p.pid,
            p.pgid,
            p.sid,
            escape(&p.tty),
            p.stat_letters(),
            uid.as_deref().unwrap_or("—"),
            p.cpu_time(snapshot.ticks_per_sec),
        )?;
        if args.ns {
            for kind in NsKind::ISOLATING {
                match p.facts.ns.get(kind) {
                    Some(id) => write!(out, "{id:<10} ")?,
                    None => write!(out, "{:<10} ", "—")?,
                }
            }
        }
        writeln!(
            out,
            "{:<cw$} {}{}",
            labels[row.index],
            row.art,
            // argv and comm are the process's own choice: `exec -a` can
            // put a terminal escape or a newline there.
            escape(&p.command_line())
        )?;
    }
    finish(out)
}

/// Flushes stdout; a closed pipe (`isolab tree | head`) is not a failure.
fn finish(mut out: impl Write) -> anyhow::Result<i32> {
    match out.flush() {
        Ok(()) => Ok(0),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(e).context("writing to stdout"),
    }
}

/// How NSpid reads in words: `[4123, 1]` -> "host PID 4123 is PID 1 in its PID namespace".
pub fn nspid_in_words(nspid: &[Pid]) -> String {
    match nspid {
        [] => "NSpid unknown (could not read status)".to_string(),
        [only] => format!("PID {only} lives in the host's PID namespace (not nested)"),
        [host, inner] => format!("host PID {host} is PID {inner} in its PID namespace"),
        [host, middle @ .., inner] => {
            let mut s = format!("host PID {host} is");
            for (depth, pid) in middle.iter().enumerate() {
                s.push_str(&format!(
                    " PID {pid} in the level-{} PID namespace,",
                    depth + 1
                ));
            }
            s.push_str(&format!(
                " and PID {inner} in its own (innermost) PID namespace"
            ));
            s
        }
    }
}

#[derive(Serialize)]
struct JsonNsSide<'a> {
    pid: Pid,
    comm: &'a str,
    ns: &'a NsSet,
    nspid: &'a [Pid],
    nspid_words: String,
}

#[derive(Serialize)]
struct JsonNs<'a> {
    process: JsonNsSide<'a>,
    other: JsonNsSide<'a>,
    differing: Vec<NsKind>,
    same: Vec<NsKind>,
    unreadable: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

fn side(p: &Process) -> JsonNsSide<'_> {
    JsonNsSide {
        pid: p.pid,
        comm: &p.facts.comm,
        ns: &p.facts.ns,
        nspid: &p.facts.nspid,
        nspid_words: nspid_in_words(&p.facts.nspid),
    }
}

pub fn ns(cli: &Cli, args: &NsArgs) -> anyhow::Result<i32> {
    let process = read_process(&cli.proc_root, args.pid)?;
    let (other, note) = match args.other {
        Some(other) => (read_process(&cli.proc_root, other)?, None),
        None => reference_process(&cli.proc_root)?,
    };
    let differing = process.facts.ns.differing(&other.facts.ns);
    let same: Vec<NsKind> = NsKind::ALL
        .into_iter()
        .filter(|&k| matches!((process.facts.ns.get(k), other.facts.ns.get(k)), (Some(a), Some(b)) if a == b))
        .collect();
    let unreadable: Vec<String> = [&process, &other]
        .iter()
        .flat_map(|p| {
            p.facts
                .unreadable
                .iter()
                .map(move |u| format!("PID {}: {}: {}", p.pid, u.what, u.reason))
        })
        .collect();

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        let doc = JsonNs {
            process: side(&process),
            other: side(&other),
            differing,
            same,
            unreadable,
            note,
        };
        serde_json::to_writer_pretty(&mut out, &doc).context("writing JSON to stdout")?;
        writeln!(out)?;
        return finish(out);
    }

    if let Some(note) = &note {
        writeln!(out, "note: {}", escape(note))?;
    }
    let head_a = format!("PID {} ({})", process.pid, escape(&process.facts.comm));
    let head_b = format!("PID {} ({})", other.pid, escape(&other.facts.comm));
    let wa = head_a.chars().count().max(12);
    let wb = head_b.chars().count().max(12);
    writeln!(out, "{:<18} {:<wa$} {:<wb$}", "NAMESPACE", head_a, head_b)?;
    for kind in NsKind::ALL {
        let (a, b) = (process.facts.ns.get(kind), other.facts.ns.get(kind));
        let show = |v: Option<u64>| v.map_or("—".to_string(), |v| v.to_string());
        let mark = match (a, b) {
            (Some(a), Some(b)) if a != b => "<- differs",
            (Some(_), Some(_)) => "same",
            _ => "unknown",
        };
        writeln!(
            out,
            "{:<18} {:<wa$} {:<wb$} {}",
            kind.proc_name(),
            show(a),
            show(b),
            mark
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "NSpid of PID {}: {}",
        process.pid,
        nspid_in_words(&process.facts.nspid)
    )?;
    writeln!(
        out,
        "NSpid of PID {}: {}",
        other.pid,
        nspid_in_words(&other.facts.nspid)
    )?;
    if differing.is_empty() {
        writeln!(
            out,
            "PID {} shares every namespace with PID {}.",
            process.pid, other.pid
        )?;
    } else {
        let names: Vec<&str> = differing.iter().map(|k| k.proc_name()).collect();
        writeln!(
            out,
            "PID {} is isolated from PID {} in: {}",
            process.pid,
            other.pid,
            names.join(", ")
        )?;
    }
    for u in &unreadable {
        writeln!(out, "unreadable: {}", escape(u))?;
    }
    finish(out)
}
