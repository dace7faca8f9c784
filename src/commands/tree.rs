//! `isolab tree` and `isolab ns`: one snapshot, printed for scripts.

use crate::cli::{Cli, NsArgs, TreeArgs};
use crate::sys::ns::NsKind;
use crate::sys::procs::{self, Pid, ProcReader, Process, format_cpu_time};
use crate::sys::tree;
use crate::sys::users::Users;
use std::collections::HashSet;
use std::io::{BufWriter, Write};

pub fn tree(cli: &Cli, args: &TreeArgs) -> anyhow::Result<i32> {
    let mut reader = ProcReader::new(&cli.proc_root)?;
    let snap = reader.snapshot()?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &snap.procs)?;
        writeln!(out)?;
    } else {
        let users = Users::system();
        write_header(&mut out, args.ns)?;
        for row in tree::build(&snap, &HashSet::new()) {
            let p = &snap.procs[row.index];
            write_row(&mut out, p, &row.art, args.ns, &users, snap.ticks_per_sec)?;
        }
    }
    finish(out)
}

/// Flushes stdout; a closed pipe (`isolab tree | head`) is not an error.
fn finish(mut out: impl Write) -> anyhow::Result<i32> {
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        other => other.map(|_| 0).map_err(Into::into),
    }
}

fn write_header(out: &mut impl Write, ns: bool) -> std::io::Result<()> {
    write!(
        out,
        " PPID     PID    PGID     SID TTY      STAT  USER         TIME "
    )?;
    if ns {
        for kind in NsKind::ISOLATING {
            write!(out, "{:>10} ", kind.proc_name().to_uppercase())?;
        }
    }
    writeln!(out, "CONTAINER      COMMAND")
}

fn write_row(
    out: &mut impl Write,
    p: &Process,
    art: &str,
    ns: bool,
    users: &Users,
    ticks: u64,
) -> std::io::Result<()> {
    let user = p.uid.map(|u| users.name(u)).unwrap_or_else(|| "-".into());
    write!(
        out,
        "{:>5} {:>7} {:>7} {:>7} {:<8} {:<5} {:<8} {:>8} ",
        p.ppid,
        p.pid,
        p.pgid,
        p.sid,
        p.tty,
        p.stat_column(),
        truncate(&user, 8),
        format_cpu_time(p.cpu_ticks, ticks)
    )?;
    if ns {
        for kind in NsKind::ISOLATING {
            match p.ns.get(kind) {
                Some(id) => write!(out, "{id:>10} ")?,
                None => write!(out, "{:>10} ", "-")?,
            }
        }
    }
    let container = p
        .container
        .as_ref()
        .map(|c| format!("{}:{}", c.runtime.name(), c.short_id()))
        .unwrap_or_else(|| "-".into());
    writeln!(out, "{:<14} {art}{}", truncate(&container, 14), p.command())
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn read(cli: &Cli, pid: Pid) -> anyhow::Result<Process> {
    Ok(procs::read_process(&cli.proc_root, pid)?)
}

pub fn ns(cli: &Cli, args: &NsArgs) -> anyhow::Result<i32> {
    let me = read(cli, args.pid)?;
    let (other, other_label) = match args.other {
        Some(pid) => (read(cli, pid)?, format!("PID {pid}")),
        None => procs::host_reference(&cli.proc_root)
            .ok_or_else(|| anyhow::anyhow!("cannot read a host process to compare with"))?,
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        let kinds: Vec<serde_json::Value> = NsKind::ALL
            .iter()
            .map(|&k| {
                let (a, b) = (me.ns.get(k), other.ns.get(k));
                serde_json::json!({
                    "kind": k.proc_name(),
                    "id": a,
                    "other_id": b,
                    "same": match (a, b) { (Some(a), Some(b)) => Some(a == b), _ => None },
                })
            })
            .collect();
        let doc = serde_json::json!({
            "pid": me.pid,
            "other": other.pid,
            "other_label": other_label,
            "namespaces": kinds,
            "nspid": me.nspid,
            "unreadable": me.unreadable,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return finish(out);
    }
    let left = format!("PID {} ({})", me.pid, me.comm);
    let right = format!("PID {} ({})", other.pid, other.comm);
    writeln!(out, "{:<18} {:<24} {:<24} ", "NAMESPACE", left, right)?;
    for kind in NsKind::ALL {
        let show = |id: Option<u64>| id.map(|i| i.to_string()).unwrap_or_else(|| "—".into());
        let (a, b) = (me.ns.get(kind), other.ns.get(kind));
        let mark = match (a, b) {
            (Some(a), Some(b)) if a != b => "DIFFERENT",
            (Some(_), Some(_)) => "same",
            _ => "unknown",
        };
        writeln!(
            out,
            "{:<18} {:<24} {:<24} {mark}",
            kind.proc_name(),
            show(a),
            show(b)
        )?;
    }
    writeln!(out, "\ncompared with {other_label}")?;
    writeln!(out, "{}", nspid_sentence(&me))?;
    for u in &me.unreadable {
        writeln!(out, "{}: — {}", u.what, u.reason)?;
    }
    finish(out)
}

/// NSpid in words: "host PID 4123 is PID 1 in its PID namespace".
pub fn nspid_sentence(p: &Process) -> String {
    match p.nspid.as_slice() {
        [] => format!("PID {}: NSpid unreadable", p.pid),
        [_] => format!(
            "PID {} lives in the host's PID namespace (NSpid: {})",
            p.pid, p.pid
        ),
        [outer, .., inner] => format!(
            "host PID {outer} is PID {inner} in its PID namespace (NSpid: {})",
            p.nspid
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(" → ")
        ),
    }
}
