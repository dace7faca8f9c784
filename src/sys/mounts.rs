//! /proc/PID/mountinfo: parsed (octal escapes undone) and compared with the
//! host's table, so a student sees what a mount namespace (or a chroot) did.
//! Parsed here rather than with the `procfs` crate: its mountinfo parser
//! leaves `\040` and the other octal escapes in place, so a mount point with
//! a space would not match the path a student types.

use std::path::Path;

/// One line of mountinfo (see proc_pid_mountinfo(5)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    pub major: u32,
    pub minor: u32,
    /// The directory of the filesystem that is mounted here (bind mounts).
    pub root: String,
    /// Where, as the process sees it.
    pub mount_point: String,
    pub options: String,
    /// Propagation tags: `shared:N`, `master:N`, `propagate_from:N`,
    /// `unbindable`; none means private.
    pub propagation: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

impl Mount {
    pub fn propagation_text(&self) -> String {
        if self.propagation.is_empty() {
            "private".to_string()
        } else {
            self.propagation.join(" ")
        }
    }
}

/// Undo mountinfo's octal escapes (`\040` space, `\011` tab, `\012` newline,
/// `\134` backslash). Anything that is not a valid escape stays as it is.
pub fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value = (bytes[i + 1] - b'0') as u32 * 64
                + (bytes[i + 2] - b'0') as u32 * 8
                + (bytes[i + 3] - b'0') as u32;
            if let Ok(b) = u8::try_from(value) {
                out.push(b);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse one mountinfo line; `None` for a malformed line.
pub fn parse_line(line: &str) -> Option<Mount> {
    let mut fields = line.split(' ');
    let id = fields.next()?.parse().ok()?;
    let parent = fields.next()?.parse().ok()?;
    let (major, minor) = fields.next()?.split_once(':')?;
    let root = unescape(fields.next()?);
    let mount_point = unescape(fields.next()?);
    let options = fields.next()?.to_string();
    let mut propagation = Vec::new();
    loop {
        let f = fields.next()?;
        if f == "-" {
            break;
        }
        if !f.is_empty() {
            propagation.push(f.to_string());
        }
    }
    let fstype = unescape(fields.next()?);
    let source = unescape(fields.next()?);
    let super_options = fields.next().unwrap_or("").to_string();
    Some(Mount {
        id,
        parent,
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        root,
        mount_point,
        options,
        propagation,
        fstype,
        source,
        super_options,
    })
}

/// Parse a whole mountinfo text; malformed lines are skipped and counted.
pub fn parse(text: &str) -> (Vec<Mount>, usize) {
    let mut mounts = Vec::new();
    let mut bad = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        match parse_line(line) {
            Some(m) => mounts.push(m),
            None => bad += 1,
        }
    }
    (mounts, bad)
}

/// The host's table: PID 1's, or ours if PID 1's cannot be read.
pub fn read_host(proc_root: &Path) -> std::io::Result<(Vec<Mount>, &'static str)> {
    match std::fs::read_to_string(proc_root.join("1/mountinfo")) {
        Ok(text) => Ok((parse(&text).0, "PID 1")),
        Err(_) => {
            let text = std::fs::read_to_string(proc_root.join("self/mountinfo"))?;
            Ok((parse(&text).0, "isolab itself"))
        }
    }
}

/// How a mount compares with the host's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountMark {
    /// The same filesystem at the same place.
    Same,
    /// Something at the same place differs (see `changes`).
    Changed,
    /// Only the process has a mount here.
    OnlyProcess,
    /// Only the host has a mount here.
    OnlyHost,
}

impl MountMark {
    /// One-character mark: `=`, `~`, `+`, `-`.
    pub fn symbol(self) -> char {
        match self {
            MountMark::Same => '=',
            MountMark::Changed => '~',
            MountMark::OnlyProcess => '+',
            MountMark::OnlyHost => '-',
        }
    }
}

/// One row of the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRow {
    pub mark: MountMark,
    /// The process's mount, or the host's for `OnlyHost`.
    pub mount: Mount,
    /// For `Changed`: what differs, e.g. `fstype ext4 -> tmpfs`.
    pub changes: Vec<String>,
}

/// Compare by mount point; several mounts stacked on one point pair up in
/// order. The process's rows come first in its own order, then what only
/// the host has.
pub fn compare(process: &[Mount], host: &[Mount]) -> Vec<MountRow> {
    let mut host_used = vec![false; host.len()];
    let mut rows = Vec::with_capacity(process.len());
    for m in process {
        let found = host
            .iter()
            .enumerate()
            .find(|(i, h)| !host_used[*i] && h.mount_point == m.mount_point);
        match found {
            None => rows.push(MountRow {
                mark: MountMark::OnlyProcess,
                mount: m.clone(),
                changes: Vec::new(),
            }),
            Some((i, h)) => {
                host_used[i] = true;
                let mut changes = Vec::new();
                let mut diff = |what: &str, host_v: &str, proc_v: &str| {
                    if host_v != proc_v {
                        changes.push(format!("{what} {host_v} -> {proc_v}"));
                    }
                };
                diff("fstype", &h.fstype, &m.fstype);
                diff("source", &h.source, &m.source);
                diff("root", &h.root, &m.root);
                diff("options", &h.options, &m.options);
                diff("propagation", &h.propagation_text(), &m.propagation_text());
                rows.push(MountRow {
                    mark: if changes.is_empty() {
                        MountMark::Same
                    } else {
                        MountMark::Changed
                    },
                    mount: m.clone(),
                    changes,
                });
            }
        }
    }
    for (i, h) in host.iter().enumerate() {
        if !host_used[i] {
            rows.push(MountRow {
                mark: MountMark::OnlyHost,
                mount: h.clone(),
                changes: Vec::new(),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
23 22 0:21 / /proc rw,nosuid shared:2 - proc proc rw
24 22 0:30 / /mnt/with\\040space rw shared:3 - tmpfs tmpfs rw
25 22 8:1 /srv /boot rw master:4 - ext4 /dev/sda1 rw
";
    const PROC: &str = "\
100 99 8:1 / / rw,relatime - ext4 /dev/sda1 rw
101 100 0:21 / /proc rw,nosuid - proc proc rw
102 100 0:55 / /tmp rw - tmpfs tmpfs rw,size=1024k
103 100 0:30 / /mnt/with\\040space rw - tmpfs tmpfs rw
";

    #[test]
    fn parses_fields_and_escapes() {
        let (mounts, bad) = parse(HOST);
        assert_eq!(bad, 0);
        assert_eq!(mounts.len(), 4);
        assert_eq!(mounts[2].mount_point, "/mnt/with space");
        assert_eq!(mounts[0].propagation, vec!["shared:1"]);
        assert_eq!(mounts[3].root, "/srv");
        assert_eq!((mounts[3].major, mounts[3].minor), (8, 1));
        assert_eq!(mounts[1].fstype, "proc");
        assert_eq!(unescape("a\\011b\\012c\\134d"), "a\tb\nc\\d");
        assert_eq!(unescape("trail\\04"), "trail\\04");
        assert_eq!(unescape("bad\\999"), "bad\\999");
        assert!(parse_line("garbage").is_none());
        assert_eq!(parse("1 2 3\n").1, 1);
    }

    #[test]
    fn compares_with_host() {
        let (host, _) = parse(HOST);
        let (process, _) = parse(PROC);
        let rows = compare(&process, &host);
        let marks: Vec<(char, &str)> = rows
            .iter()
            .map(|r| (r.mark.symbol(), r.mount.mount_point.as_str()))
            .collect();
        assert_eq!(
            marks,
            vec![
                ('~', "/"),
                ('~', "/proc"),
                ('+', "/tmp"),
                ('~', "/mnt/with space"),
                ('-', "/boot"),
            ]
        );
        assert_eq!(rows[0].changes, vec!["propagation shared:1 -> private"]);
        let same = compare(&host, &host);
        assert!(same.iter().all(|r| r.mark == MountMark::Same));
    }
}
