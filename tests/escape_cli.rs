//! Issue 10, point 5: names that others choose (argv[0], comm, file names,
//! link targets, mount points, mount sources, cgroup paths) carry terminal
//! escapes and newlines. The real binary must print them escaped in every
//! human-readable output, and exactly in `--json`.
//!
//! Every process here is this test's own (a unique `sleep` number), every
//! file lives in a temp dir of the test, the mount sits in a private mount
//! namespace of the test's own, and the cgroup has a name unique to this
//! test process; all are removed on drop.

mod common;
use isolab::sys::cgroup::MemoryHierarchy;
use serde_json::Value;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// What `exec -a "$(printf '\e]0;pwned\a\e[2J')"` puts in argv[0], plus a
/// newline that would forge a line of output.
const ARGV0: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\nFORGED-ARGV";
const ARGV0_SHOWN: &str = "\\e]0;pwned\\x07\\e[2J\\nFORGED-ARGV";
/// A comm (15 bytes at most): the name of the link the process was run by.
const COMM: &str = "\u{1b}[2J\u{7}ev\nFORGED";
const COMM_SHOWN: &str = "\\e[2J\\x07ev\\nFORGED";
/// A file, link target or mount point name.
const NAME: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\nFORGED-NAME";
const NAME_SHOWN: &str = "\\e]0;pwned\\x07\\e[2J\\nFORGED-NAME";
/// A cgroup name: the kernel refuses a newline there, not an escape.
const CG: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J";
const CG_SHOWN: &str = "\\e]0;pwned\\x07\\e[2J";

fn isolab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isolab"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running isolab")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The output holds no terminal control (ESC, BEL, CR, C1 CSI) and no
/// line that a name's newline forged.
fn assert_clean(out: &str, what: &str) {
    for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}'] {
        let bad: Vec<&str> = out.lines().filter(|l| l.contains(c)).collect();
        assert!(bad.is_empty(), "{what}: raw {c:?} in the output: {bad:?}");
    }
    let forged: Vec<&str> = out.lines().filter(|l| l.starts_with("FORGED")).collect();
    assert!(forged.is_empty(), "{what}: forged lines: {forged:?}");
}

fn ok_stdout(out: &Output, what: &str) -> String {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{what}: {:?}\n{stderr}", out.status);
    assert_clean(&stdout, what);
    assert_clean(&stderr, what);
    stdout
}

fn needs_root() -> bool {
    common::need_root("mount, cgroup mkdir, reading other roots")
}

/// Polls `cond` for up to 10 s.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    common::wait_for_secs(10, what, || cond().then_some(()));
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A `sleep` argument unique to this test process and call.
fn unique_seconds() -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{}{:03}", 7_000_000 + std::process::id() % 1_000_000, n)
}

/// A child of this test, killed and reaped on drop.
struct Proc(Child);

impl Proc {
    fn spawn(cmd: &mut Command) -> Proc {
        Proc(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn"),
        )
    }
    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
    fn pid_text(&self) -> String {
        self.pid().to_string()
    }
    /// Waits until the process has exec'd `sleep SECONDS` (its last arg).
    fn wait_for_sleep(&self, seconds: &str) {
        let path = format!("/proc/{}/cmdline", self.pid());
        wait_until("the sleep to exec", || {
            std::fs::read(&path).is_ok_and(|c| c.ends_with(format!("{seconds}\0").as_bytes()))
        });
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh 0755 temp dir of the test's own.
fn temp_dir(tag: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("isolab-esc-{tag}-{}-", std::process::id()))
        .tempdir_in("/tmp")
        .expect("temp dir")
}

/// `bash -c 'exec -a ARGV0 LINK SECONDS'`, LINK being a symlink to sleep
/// named COMM (so the kernel sets comm to it): argv[0] and comm both hostile.
fn hostile_sleep(dir: &Path) -> (Proc, String) {
    let link = dir.join(COMM);
    std::os::unix::fs::symlink("/usr/bin/sleep", &link).expect("link to sleep");
    let seconds = unique_seconds();
    let p = Proc::spawn(
        Command::new("bash")
            .arg("-c")
            .arg("exec -a \"$1\" \"$2\" \"$3\"")
            .arg("bash")
            .arg(ARGV0)
            .arg(&link)
            .arg(&seconds),
    );
    p.wait_for_sleep(&seconds);
    let comm = format!("/proc/{}/comm", p.pid());
    wait_until("comm to be the link's name", || {
        std::fs::read(&comm).is_ok_and(|c| c == format!("{COMM}\n").as_bytes())
    });
    (p, seconds)
}

#[test]
fn tree_and_ns_escape_argv0_and_comm_and_json_stays_exact() {
    if !needs_root() {
        return;
    }
    let dir = temp_dir("tree");
    let (p, seconds) = hostile_sleep(dir.path());
    let pid = p.pid_text();

    for args in [&["tree"][..], &["tree", "--ns"][..]] {
        let out = ok_stdout(&isolab(args), &format!("{args:?}"));
        let line = out
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(pid.as_str()))
            .unwrap_or_else(|| panic!("{args:?}: no row for {pid}:\n{out}"));
        assert!(
            line.ends_with(&format!("{ARGV0_SHOWN} {seconds}")),
            "{args:?}: {line}"
        );
    }

    let out = ok_stdout(&isolab(&["ns", &pid]), "ns");
    assert!(
        out.contains(&format!("PID {pid} ({COMM_SHOWN})")),
        "ns header:\n{out}"
    );

    // --json: the exact bytes, JSON-escaped by serde.
    let json: Value = serde_json::from_slice(&isolab(&["tree", "--json"]).stdout).expect("json");
    let me = json
        .as_array()
        .expect("array")
        .iter()
        .find(|v| v["pid"].as_i64() == Some(p.pid() as i64))
        .expect("the process in --json");
    assert_eq!(me["comm"], COMM);
    assert_eq!(me["cmdline"][0], ARGV0);
    let json: Value =
        serde_json::from_slice(&isolab(&["ns", &pid, "--json"]).stdout).expect("json");
    assert_eq!(json["process"]["comm"], COMM);
}

#[test]
fn ls_cat_and_errors_escape_file_names_and_link_targets() {
    if !needs_root() {
        return;
    }
    let dir = temp_dir("ls");
    let d = dir.path();
    std::fs::write(d.join(NAME), "x").expect("file");
    std::os::unix::fs::symlink(NAME, d.join("link")).expect("link");
    std::fs::create_dir(d.join(format!("dir-{NAME}"))).expect("dir");
    // A sparse file just over cat's 16 MiB limit, for its "cut" notice.
    let big = std::fs::File::create(d.join(format!("big-{NAME}"))).expect("big");
    big.set_len(16 * 1024 * 1024 + 1).expect("sparse");
    let seconds = unique_seconds();
    let p = Proc::spawn(Command::new("sleep").arg(&seconds));
    p.wait_for_sleep(&seconds);
    let pid = p.pid_text();
    let dir_text = d.to_str().expect("utf-8 temp dir");

    let out = ok_stdout(&isolab(&["ls", &pid, dir_text]), "ls");
    assert!(
        out.lines().any(|l| l.ends_with(&format!(" {NAME_SHOWN}"))),
        "the file:\n{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.ends_with(&format!(" link -> {NAME_SHOWN}"))),
        "the link:\n{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.ends_with(&format!(" dir-{NAME_SHOWN}"))),
        "the dir:\n{out}"
    );

    // cat's notice on stderr quotes the path.
    let cut = isolab(&["cat", &pid, &format!("{dir_text}/big-{NAME}")]);
    assert!(cut.status.success(), "{}", text(&cut.stderr));
    let notice = text(&cut.stderr);
    assert_clean(&notice, "cat's notice");
    assert!(
        notice.contains(&format!("big-{NAME_SHOWN}: cut after 16 MiB")),
        "{notice}"
    );

    // Errors quote the path too: one escaped line, exit 1.
    for args in [
        ["cat", &pid, &format!("{dir_text}/dir-{NAME}")],
        ["ls", &pid, &format!("{dir_text}/dir-{NAME}/missing")],
        ["touch", &pid, &format!("{dir_text}/{NAME}")],
    ] {
        let o = isolab(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_clean(&err, &format!("{args:?}"));
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(
            err.contains(&format!("dir-{NAME_SHOWN}")) || err.contains(NAME_SHOWN),
            "{err}"
        );
    }

    // Touch reports the name it created.
    let made = isolab(&["touch", &pid, &format!("{dir_text}/new-{NAME}")]);
    let out = ok_stdout(&made, "touch");
    assert!(out.contains(&format!("new-{NAME_SHOWN}")), "{out}");
}

#[test]
fn mounts_escapes_mount_points_and_sources() {
    if !needs_root() {
        return;
    }
    let dir = temp_dir("mnt");
    let point = dir.path().join(format!("mnt-{NAME}"));
    std::fs::create_dir(&point).expect("mount point");
    let seconds = unique_seconds();
    // A private mount namespace of the test's own: the tmpfs is seen by
    // this sleep only, and goes with it.
    let p = Proc::spawn(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs \"$1\" \"$2\" && exec sleep \"$3\"")
            .arg("sh")
            .arg(format!("src-{NAME}"))
            .arg(&point)
            .arg(&seconds),
    );
    p.wait_for_sleep(&seconds);
    let pid = p.pid_text();
    // sh's own argv ends the same way: wait for the exec, after the mount.
    wait_until("sh to exec sleep", || {
        std::fs::read(format!("/proc/{pid}/comm")).is_ok_and(|c| c == b"sleep\n")
    });
    let out = ok_stdout(&isolab(&["mounts", &pid]), "mounts");
    let shown_point = format!("{}/mnt-{NAME_SHOWN}", dir.path().display());
    let line = out
        .lines()
        .find(|l| l.contains(&shown_point))
        .unwrap_or_else(|| panic!("no row for {shown_point}:\n{out}"));
    assert!(line.starts_with("+ "), "only in the process: {line}");
    assert!(
        line.contains(&format!("src-{NAME_SHOWN}")),
        "source: {line}"
    );
    assert!(
        std::fs::read(format!("/proc/{pid}/mountinfo"))
            .expect("mountinfo")
            .contains(&0x1b),
        "the kernel passes the escape byte through (the test is real)"
    );
}

/// A memory cgroup named with an escape, directly under the hierarchy's
/// root, with one sleep of the test in it; removed on drop.
struct EvilCgroup {
    dir: PathBuf,
    member: Option<Proc>,
}

impl Drop for EvilCgroup {
    fn drop(&mut self) {
        drop(self.member.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.dir.exists() && std::fs::remove_dir(&self.dir).is_err() {
            if Instant::now() > deadline {
                eprintln!("could not remove {}", self.dir.display());
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn cgroup_and_limit_escape_cgroup_paths_and_json_stays_exact() {
    if !needs_root() {
        return;
    }
    let h = match MemoryHierarchy::detect() {
        Ok(h) => h,
        Err(e) => {
            common::require(false, &format!("no memory cgroup hierarchy: {e:#}"));
            return;
        }
    };
    let name = format!("isolab-test-esc-{}-{CG}", std::process::id());
    let shown = format!("isolab-test-esc-{}-{CG_SHOWN}", std::process::id());
    let mut cg = EvilCgroup {
        dir: h.mount.join(&name),
        member: None,
    };
    std::fs::create_dir(&cg.dir).expect("mkdir the test cgroup");
    let seconds = unique_seconds();
    let p = Proc::spawn(Command::new("sleep").arg(&seconds));
    p.wait_for_sleep(&seconds);
    let pid = p.pid_text();
    std::fs::write(cg.dir.join("cgroup.procs"), &pid).expect("move the sleep in");
    cg.member = Some(p);

    let out = ok_stdout(&isolab(&["cgroup", &pid]), "cgroup");
    assert!(
        out.contains(&format!(":/{shown}")),
        "the cgroup line:\n{out}"
    );
    assert!(
        out.contains(&format!("{}/{shown}", h.mount.display())),
        "the dir:\n{out}"
    );

    let json: Value =
        serde_json::from_slice(&isolab(&["cgroup", &pid, "--json"]).stdout).expect("cgroup --json");
    let paths: Vec<&str> = json["cgroups"]
        .as_array()
        .expect("cgroups")
        .iter()
        .filter_map(|c| c["line"]["path"].as_str())
        .collect();
    assert!(paths.contains(&format!("/{name}").as_str()), "{paths:?}");
    let dir = json["memory"]["dir"].as_str().expect("memory dir");
    assert_eq!(
        Path::new(dir).as_os_str().as_bytes(),
        cg.dir.as_os_str().as_bytes()
    );

    // Not isolab's: refused, the message quoting the path escaped.
    let refused = isolab(&["limit", &pid, "64M"]);
    let err = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{err}");
    assert_clean(&err, "limit refusal");
    assert!(err.contains(&shown), "{err}");
    // With --yes: the read-back line names the cgroup, escaped.
    let out = ok_stdout(&isolab(&["limit", &pid, "64M", "--yes"]), "limit --yes");
    assert!(out.contains(&format!("{shown}: wrote")), "{out}");
}

#[test]
fn run_explain_and_exec_escape_what_they_quote() {
    if !needs_root() {
        return;
    }
    // The command and hostname are the caller's own, but they are quoted in
    // every step and error: still never raw.
    let o = isolab(&[
        "run",
        "--explain",
        "--uts",
        "--hostname",
        "h\u{1b}[2J",
        "--",
        "/bin/true",
        NAME,
    ]);
    let err = text(&o.stderr);
    assert_clean(&err, "run --explain");
    assert_clean(&text(&o.stdout), "run --explain");
    assert!(err.contains("h\\e[2J"), "{err}");
    assert!(err.contains(NAME_SHOWN), "{err}");

    let missing = format!("/nonexistent/{NAME}");
    let o = isolab(&["run", "--explain", "--", &missing]);
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert_clean(&err, "run of a missing command");
    assert!(err.contains(NAME_SHOWN), "{err}");

    let seconds = unique_seconds();
    let p = Proc::spawn(Command::new("sleep").arg(&seconds));
    p.wait_for_sleep(&seconds);
    let o = isolab(&["exec", &p.pid_text(), "--", &missing]);
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert_clean(&err, "exec of a missing command");
    assert!(err.contains(NAME_SHOWN), "{err}");
}
