//! Parsing the text of /proc/PID files (stat, status, cgroup, cmdline, ns
//! links). Pure functions over bytes: the hot stat parser allocates nothing
//! but the comm, and only when asked for a whole [`Stat`]. Hand-written
//! rather than `procfs`'s parsers: a refresh parses one stat line per
//! process (10,000 on a busy host), and `procfs` parses every field of the
//! line into a struct with an owned comm, where the reader needs 14 fields
//! and no allocation.
//!
//! The cold files (status, cgroup) stay isolab's too, although
//! `procfs-core` parses them, because its parsers read lines as UTF-8 and
//! fail the whole file on one bad byte: a process named with a non-UTF-8
//! byte (its `Name:` line) would lose its uid and NSpid, and a cgroup any
//! delegated user names that way would hide every cgroup of its members.
//! Here a bad line costs only itself (status) or is shown lossily (cgroup
//! paths), as the tests below check. (isolab reads no /proc/meminfo.)

use super::model::{CgroupLine, Pid};
use std::path::Path;

/// The fields of /proc/PID/stat that isolab uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stat {
    pub pid: Pid,
    pub comm: String,
    pub state: char,
    /// The kernel's task flags (PF_*), e.g. PF_EXITING.
    pub flags: u32,
    pub ppid: Pid,
    pub pgid: Pid,
    pub sid: Pid,
    pub tty_nr: i32,
    pub tpgid: Pid,
    pub utime: u64,
    pub stime: u64,
    pub nice: i32,
    pub threads: u32,
    pub start_ticks: u64,
    /// Resident set size, in pages.
    pub rss_pages: u64,
}

/// The numeric fields of a stat line (everything but the comm).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct StatNumbers {
    pub(super) pid: Pid,
    pub(super) state: char,
    pub(super) flags: u32,
    pub(super) ppid: Pid,
    pub(super) pgid: Pid,
    pub(super) sid: Pid,
    pub(super) tty_nr: i32,
    pub(super) tpgid: Pid,
    pub(super) utime: u64,
    pub(super) stime: u64,
    pub(super) nice: i32,
    pub(super) threads: u32,
    pub(super) start_ticks: u64,
    pub(super) rss_pages: u64,
}

impl StatNumbers {
    pub(super) fn into_stat(self, comm: &[u8]) -> Stat {
        Stat {
            pid: self.pid,
            comm: String::from_utf8_lossy(comm).into_owned(),
            state: self.state,
            flags: self.flags,
            ppid: self.ppid,
            pgid: self.pgid,
            sid: self.sid,
            tty_nr: self.tty_nr,
            tpgid: self.tpgid,
            utime: self.utime,
            stime: self.stime,
            nice: self.nice,
            threads: self.threads,
            start_ticks: self.start_ticks,
            rss_pages: self.rss_pages,
        }
    }
}

/// PF_EXITING in a task's flags: it has begun to exit.
pub(super) const PF_EXITING: u32 = 0x4;

impl StatNumbers {
    /// Whether the process has begun to exit (or is a zombie): what it was
    /// (cgroups, namespaces) can no longer be read, only its end.
    pub(super) fn is_exiting(&self) -> bool {
        self.flags & PF_EXITING != 0 || matches!(self.state, 'Z' | 'X' | 'x')
    }
}

impl Stat {
    /// Whether the process has begun to exit (or is a zombie).
    pub fn is_exiting(&self) -> bool {
        self.flags & PF_EXITING != 0 || matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Whether `pid` under the proc root `root` is exiting, a zombie, or gone.
/// Its other files then no longer describe it: v1 moves an exiting task
/// into the root cgroups, for one.
pub fn is_exiting(root: &Path, pid: Pid) -> bool {
    let text = std::fs::read(root.join(pid.to_string()).join("stat")).unwrap_or_default();
    parse_stat(&text).is_none_or(|s| s.is_exiting())
}

/// Parses the text of /proc/PID/stat. The comm sits between the first '('
/// and the LAST ')', because a comm may itself contain `) R 1 2`.
/// Returns `None` for text that is not a stat line.
pub fn parse_stat(text: &[u8]) -> Option<Stat> {
    let (comm, numbers) = parse_stat_parts(text)?;
    Some(numbers.into_stat(comm))
}

/// The comm (as bytes, not allocated) and the numbers of a stat line.
#[inline]
pub(super) fn parse_stat_parts(text: &[u8]) -> Option<(&[u8], StatNumbers)> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid: Pid = std::str::from_utf8(&text[..open])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let comm = &text[open + 1..close];
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    // The first field after the comm is field 3 of proc(5) (state).
    let mut fields = rest.split_ascii_whitespace();
    let mut next = || fields.next();
    let state = next()?.chars().next()?;
    let ppid = next()?.parse().ok()?;
    let pgid = next()?.parse().ok()?;
    let sid = next()?.parse().ok()?;
    let tty_nr = next()?.parse().ok()?;
    let tpgid = next()?.parse().ok()?;
    let flags = next()?.parse().ok()?;
    for _ in 10..=13 {
        next()?; // minflt, cminflt, majflt, cmajflt
    }
    let utime = next()?.parse().ok()?;
    let stime = next()?.parse().ok()?;
    next()?; // cutime
    next()?; // cstime
    next()?; // priority
    let nice = next()?.parse().ok()?;
    let threads = next()?.parse().ok()?;
    next()?; // itrealvalue
    let start_ticks = next()?.parse().ok()?;
    next()?; // vsize
    let rss_pages: i64 = next()?.parse().ok()?;
    Some((
        comm,
        StatNumbers {
            pid,
            state,
            flags,
            ppid,
            pgid,
            sid,
            tty_nr,
            tpgid,
            utime,
            stime,
            nice,
            threads,
            start_ticks,
            rss_pages: rss_pages.max(0) as u64,
        },
    ))
}

/// The name of a controlling terminal from stat's tty_nr, as `ps` prints it:
/// `pts/N` (Unix98 ptys, majors 136-143), `ttyN` (virtual consoles, major 4
/// minor < 64), `ttySN` (serial, major 4 minor >= 64), else `?`.
/// `tty_name` as stored in a `Process`: no allocation for "no terminal".
pub(super) fn tty_cow(tty_nr: i32) -> std::borrow::Cow<'static, str> {
    if tty_nr == 0 {
        "?".into()
    } else {
        tty_name(tty_nr).into()
    }
}

pub fn tty_name(tty_nr: i32) -> String {
    let nr = tty_nr as u32;
    let major = (nr >> 8) & 0xfff;
    let minor = (nr & 0xff) | ((nr >> 12) & 0xfff00);
    match major {
        0 => "?".to_string(),
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 if minor < 64 => format!("tty{minor}"),
        4 => format!("ttyS{}", minor - 64),
        5 if minor == 1 => "console".to_string(),
        _ => "?".to_string(),
    }
}

/// What /proc/PID/status tells isolab: effective uid and NSpid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusFields {
    pub tgid: Option<Pid>,
    pub uid: Option<u32>,
    pub nspid: Vec<Pid>,
    pub threads: Option<u32>,
}

pub fn parse_status(text: &[u8]) -> StatusFields {
    let mut out = StatusFields::default();
    for line in text.split(|&b| b == b'\n') {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        if let Some(v) = line.strip_prefix("Tgid:") {
            out.tgid = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("Uid:") {
            // Real, effective, saved, fs: ps and htop show the effective one.
            out.uid = v
                .split_ascii_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok());
        } else if let Some(v) = line.strip_prefix("NSpid:") {
            out.nspid = v
                .split_ascii_whitespace()
                .filter_map(|s| s.parse().ok())
                .collect();
        } else if let Some(v) = line.strip_prefix("Threads:") {
            out.threads = v.trim().parse().ok();
        }
    }
    out
}

/// Parses /proc/PID/cgroup: one `hierarchy-id:controllers:path` per line.
pub fn parse_cgroups(text: &[u8]) -> Vec<CgroupLine> {
    let text = String::from_utf8_lossy(text);
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let hierarchy = parts.next()?.parse().ok()?;
            let controllers = parts.next()?;
            let path = parts.next()?.to_string();
            let controllers = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            Some(CgroupLine {
                hierarchy,
                controllers,
                path,
            })
        })
        .collect()
}

/// Splits /proc/PID/cmdline (NUL-separated argv) into its arguments.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let bytes = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// The inode number in a namespace link target such as `pid:[4026531836]`.
pub fn parse_ns_link(target: &[u8]) -> Option<u64> {
    let open = target.iter().position(|&b| b == b'[')?;
    let close = target.iter().rposition(|&b| b == b']')?;
    std::str::from_utf8(target.get(open + 1..close)?)
        .ok()?
        .parse()
        .ok()
}

pub(super) fn parse_pid_name(name: &[u8]) -> Option<Pid> {
    if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {

    /// The reason these parsers are not procfs-core's: one non-UTF-8 byte
    /// costs only its own line.
    #[test]
    fn a_non_utf8_byte_loses_nothing_else() {
        let status = b"Name:\tbad\xff\nUid:\t1001\t1001\t1001\t1001\nNSpid:\t42\t1\n";
        let f = parse_status(status);
        assert_eq!((f.uid, f.nspid.clone()), (Some(1001), vec![42, 1]));
        let cg = parse_cgroups(b"4:memory:/user/bad\xff\n0::/user/x\n");
        assert_eq!(cg.len(), 2);
        assert_eq!(cg[0].path, "/user/bad\u{fffd}");
        assert!(cg[1].controllers.is_empty(), "v2's empty controller list");
    }
    use super::*;

    // A real line from this kernel (a `sleep`), fields 1..52.
    const SLEEP_STAT: &str = "4123 (sleep) S 4100 4100 3568 34816 4100 4194304 99 0 0 0 7 3 0 0 20 0 1 0 123456 2342912 132 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn an_exiting_or_zombie_process_is_exiting() {
        let s = parse_stat(SLEEP_STAT.as_bytes()).unwrap();
        assert_eq!(s.flags, 4194304);
        assert!(!s.is_exiting());
        // PF_EXITING (0x4) set: the task has begun to exit.
        let exiting = SLEEP_STAT.replace(" 4194304 ", " 4194308 ");
        assert!(parse_stat(exiting.as_bytes()).unwrap().is_exiting());
        let zombie = SLEEP_STAT.replace("(sleep) S ", "(sleep) Z ");
        assert!(parse_stat(zombie.as_bytes()).unwrap().is_exiting());
    }

    #[test]
    fn parses_a_plain_stat_line() {
        let s = parse_stat(SLEEP_STAT.as_bytes()).unwrap();
        assert_eq!(s.pid, 4123);
        assert_eq!(s.comm, "sleep");
        assert_eq!(s.state, 'S');
        assert_eq!((s.ppid, s.pgid, s.sid), (4100, 4100, 3568));
        assert_eq!(s.tty_nr, 34816);
        assert_eq!(s.tpgid, 4100);
        assert_eq!((s.utime, s.stime), (7, 3));
        assert_eq!(s.nice, 0);
        assert_eq!(s.threads, 1);
        assert_eq!(s.start_ticks, 123456);
        assert_eq!(s.rss_pages, 132);
    }

    #[test]
    fn parses_a_hostile_comm_from_the_last_paren() {
        let line = SLEEP_STAT.replace("(sleep)", "(x) R 1 2 (y))");
        let s = parse_stat(line.as_bytes()).unwrap();
        assert_eq!(s.comm, "x) R 1 2 (y)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 4100);
        assert_eq!(s.start_ticks, 123456);
        let spaces = SLEEP_STAT.replace("(sleep)", "( a b  c )");
        assert_eq!(parse_stat(spaces.as_bytes()).unwrap().comm, " a b  c ");
        let empty = SLEEP_STAT.replace("(sleep)", "()");
        assert_eq!(parse_stat(empty.as_bytes()).unwrap().comm, "");
    }

    #[test]
    fn rejects_what_is_not_a_stat_line() {
        assert!(parse_stat(b"").is_none());
        assert!(parse_stat(b"4123 (sleep) S 1 2").is_none());
        assert!(parse_stat(b"4123 sleep) S (").is_none());
        assert!(parse_stat(b"abc (sleep) S 1 1 1 0 1 0 0 0 0 0 0 0 0 0 0 0 0 1 0 5 0 0").is_none());
    }

    #[test]
    fn names_terminals_like_ps() {
        let dev = |major: u32, minor: u32| -> i32 {
            ((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)) as i32
        };
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name(34816), "pts/0");
        assert_eq!(tty_name(dev(136, 5)), "pts/5");
        assert_eq!(tty_name(dev(136, 300)), "pts/300");
        assert_eq!(tty_name(dev(137, 2)), "pts/258");
        assert_eq!(tty_name(dev(4, 1)), "tty1");
        assert_eq!(tty_name(dev(4, 63)), "tty63");
        assert_eq!(tty_name(dev(4, 64)), "ttyS0");
        assert_eq!(tty_name(dev(4, 67)), "ttyS3");
        assert_eq!(tty_name(dev(5, 1)), "console");
        assert_eq!(tty_name(dev(188, 0)), "?");
    }

    #[test]
    fn parses_status_cmdline_cgroup_and_ns_links() {
        let status = "Name:\tsleep\nUid:\t0\t1000\t0\t0\nNSpid:\t4123\t57\t1\nThreads:\t3\n";
        let st = parse_status(status.as_bytes());
        assert_eq!(st.uid, Some(1000));
        assert_eq!(st.nspid, vec![4123, 57, 1]);
        assert_eq!(st.threads, Some(3));

        assert_eq!(parse_cmdline(b"sleep\x00100\x00"), vec!["sleep", "100"]);
        assert_eq!(parse_cmdline(b"a b\x00\x00c\x00"), vec!["a b", "", "c"]);
        assert!(parse_cmdline(b"").is_empty());

        let cg = parse_cgroups(b"4:memory:/isolab/lab-1\n1:name=systemd:/a:b\n0::/\n");
        assert_eq!(cg.len(), 3);
        assert_eq!(cg[0].controllers, vec!["memory"]);
        assert_eq!(cg[1].path, "/a:b");
        assert!(cg[2].is_v2() && !cg[0].is_v2());

        assert_eq!(parse_ns_link(b"pid:[4026531836]"), Some(4026531836));
        assert_eq!(parse_ns_link(b"garbage"), None);
    }
}
