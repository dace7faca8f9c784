//! `isolab ls|cat|touch|mkdir|mounts PID ...`: a process's root filesystem,
//! from the host, through the safe resolution in `sys::rootfs`. PATH is
//! always as the process sees it.

use crate::cli::{PathArgs, PidArgs};
use crate::sys::mounts;
use crate::sys::rootfs::{Entry, ProcRoot, mode_string};
use crate::text::{escape, escape_os};
use std::io::Write;
use std::path::Path;

/// Where procfs is. The safe walk needs the real one (it holds fds of it).
const PROC: &str = "/proc";

/// `cat` prints at most this much, then says it cut the file.
const CAT_LIMIT: usize = 16 * 1024 * 1024;

fn open(pid: i32) -> anyhow::Result<ProcRoot> {
    Ok(ProcRoot::open(Path::new(PROC), pid)?)
}

/// Write to stdout; a reader that went away (`| head`) is not a failure.
fn emit(out: &mut impl Write, bytes: &[u8]) -> anyhow::Result<bool> {
    match out.write_all(bytes) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(anyhow::anyhow!("writing to stdout: {e}")),
    }
}

/// One `ls -l`-like line: mode, owner, size, name, `-> target`. The name
/// and the target are whoever made the file's choice: escaped, like `ls -b`.
pub fn entry_line(e: &Entry, owner_width: usize, size_width: usize) -> String {
    let mut line = format!(
        "{} {:>ow$} {:>sw$} {}",
        mode_string(e.mode),
        e.owner_text(),
        e.size,
        escape(&e.name),
        ow = owner_width,
        sw = size_width
    );
    if let Some(t) = &e.link_target {
        line.push_str(" -> ");
        line.push_str(&escape(t));
    }
    line
}

pub fn ls(a: &PathArgs) -> anyhow::Result<i32> {
    let root = open(a.pid)?;
    let path = a.path.as_deref().unwrap_or("/");
    let entries = match root.list_dir(path) {
        Ok(listing) => listing.entries,
        // `ls FILE` (or a dangling link) shows that one entry, like ls does.
        Err(
            err @ (crate::sys::rootfs::RootfsError::NotADirectory { .. }
            | crate::sys::rootfs::RootfsError::NotFound { .. }),
        ) => match root.lstat(path) {
            Ok(e) if e.kind != crate::sys::rootfs::FileKind::Dir => vec![e],
            _ => return Err(err.into()),
        },
        Err(e) => return Err(e.into()),
    };
    let ow = entries
        .iter()
        .map(|e| e.owner_text().len())
        .max()
        .unwrap_or(0);
    let sw = entries
        .iter()
        .map(|e| e.size.to_string().len())
        .max()
        .unwrap_or(0);
    let mut out = std::io::stdout().lock();
    for e in &entries {
        if !emit(&mut out, format!("{}\n", entry_line(e, ow, sw)).as_bytes())? {
            break;
        }
    }
    Ok(0)
}

fn required_path(a: &PathArgs, what: &str) -> anyhow::Result<String> {
    match &a.path {
        Some(p) => Ok(p.clone()),
        None => crate::usage(format!(
            "{what} needs a PATH inside the process's root, e.g. isolab {what} {} /tmp/created_by_host",
            a.pid
        )),
    }
}

pub fn cat(a: &PathArgs) -> anyhow::Result<i32> {
    let path = required_path(a, "cat")?;
    let root = open(a.pid)?;
    let content = root.read_file(&path, CAT_LIMIT)?;
    let mut out = std::io::stdout().lock();
    emit(&mut out, &content.bytes)?;
    let _ = out.flush();
    if content.cut {
        eprintln!(
            "isolab: {}: cut after {} MiB (the file says {} bytes)",
            escape(&path),
            CAT_LIMIT / (1024 * 1024),
            content.size
        );
    }
    Ok(0)
}

fn report_created(root: &ProcRoot, path: &str, what: &str, e: &Entry) {
    println!(
        "created {what} {} in process {}'s root ({} {}; host path {})",
        escape(path),
        root.pid(),
        mode_string(e.mode),
        e.owner_text(),
        escape_os(root.host_path(path).as_os_str())
    );
}

pub fn touch(a: &PathArgs) -> anyhow::Result<i32> {
    let path = required_path(a, "touch")?;
    let root = open(a.pid)?;
    let e = root.create_file(&path)?;
    report_created(&root, &path, "file", &e);
    Ok(0)
}

pub fn mkdir(a: &PathArgs) -> anyhow::Result<i32> {
    let path = required_path(a, "mkdir")?;
    let root = open(a.pid)?;
    let e = root.create_dir(&path)?;
    report_created(&root, &path, "directory", &e);
    Ok(0)
}

pub fn mounts(a: &PidArgs) -> anyhow::Result<i32> {
    let root = open(a.pid)?;
    let (process, bad) = mounts::parse(&root.mountinfo_text()?);
    let proc_path = Path::new(PROC);
    let (host, host_name) = mounts::read_host(proc_path)
        .map_err(|e| anyhow::anyhow!("reading the host's mount table in {PROC}: {e}"))?;
    let host_ns = std::fs::metadata(proc_path.join("1/ns/mnt"))
        .or_else(|_| std::fs::metadata(proc_path.join("self/ns/mnt")))
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let ns_text = |ino: Option<u64>| ino.map_or("mnt:[?]".to_string(), |i| format!("mnt:[{i}]"));
    let same_ns = root.mnt_ns().is_some() && root.mnt_ns() == host_ns;
    let rows = mounts::compare(&process, &host);
    // Mount points, sources and options are chosen by whoever mounted (a
    // user in their own mount namespace, too): escaped before the widths.
    let shown: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let m = &r.mount;
            [
                escape(&m.mount_point).into_owned(),
                escape(&m.fstype).into_owned(),
                escape(&m.source).into_owned(),
                escape(&m.options).into_owned(),
                escape(&m.propagation_text()).into_owned(),
            ]
        })
        .collect();
    let mut text = format!(
        "process {} {} vs host ({host_name}) {}: {}\n",
        a.pid,
        ns_text(root.mnt_ns()),
        ns_text(host_ns),
        if same_ns {
            "same mount namespace (paths may still differ under a chroot)"
        } else {
            "its own mount namespace"
        }
    );
    text.push_str("marks: = same as host, ~ changed, + only in the process, - only on the host\n");
    let width = |i: usize| {
        shown
            .iter()
            .map(|s| s[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let (mw, fw, sw) = (width(0).min(48), width(1), width(2).min(32));
    for (r, [point, fstype, source, options, propagation]) in rows.iter().zip(&shown) {
        let mut line = format!(
            "{} {point:<mw$} {fstype:<fw$} {source:<sw$} {options} {propagation}",
            r.mark.symbol(),
        );
        if !r.changes.is_empty() {
            line.push_str(&format!("  ({})", escape(&r.changes.join("; "))));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if bad > 0 {
        text.push_str(&format!("({bad} unparsable mountinfo lines skipped)\n"));
    }
    let mut out = std::io::stdout().lock();
    emit(&mut out, text.as_bytes())?;
    Ok(0)
}
