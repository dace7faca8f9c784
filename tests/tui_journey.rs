//! Journeys through the real binary in tmux: start, see the tree, search
//! for a spawned process, quit; and the terminal comes back after q,
//! Ctrl-C, SIGTERM, SIGHUP and a panic; resizing never breaks it.

mod common;
mod procs_support;
mod tui_support;

use procs_support::{Spawned, bin};
use tui_support::Tmux;

fn start_isolab(t: &Tmux, env: &str) {
    start_isolab_with(t, env, "0.5");
}

fn start_isolab_with(t: &Tmux, env: &str, interval: &str) {
    start_binary(t, env, bin(), interval);
}

/// `start_isolab_with` for the isolab at `binary` (a copy another uid can
/// run, say).
fn start_binary(t: &Tmux, env: &str, binary: &str, interval: &str) {
    launch_binary(t, env, binary, interval);
    // The first snapshot is in (tree art is drawn): on a busy host it takes
    // a moment, and a search typed before it would find nothing.
    t.wait_for("\\_ ", 20);
}

/// Starts isolab and waits for its screen, not for its first snapshot.
fn launch_isolab(t: &Tmux, env: &str, interval: &str) {
    launch_binary(t, env, bin(), interval);
}

fn launch_binary(t: &Tmux, env: &str, binary: &str, interval: &str) {
    t.type_line(&format!("{env} {binary} --interval {interval}"));
    t.wait_for("1 Processes", 20);
    assert!(t.alternate_on());
}

#[test]
fn search_finds_a_spawned_process_then_q_quits() {
    let Some(t) = Tmux::start(200, 50) else {
        return;
    };
    let tag = format!("6{}", std::process::id());
    let child = Spawned::sh(&format!("sleep {tag}; true"));
    start_isolab(&t, "");
    t.wait_for("\\_ ", 10); // tree art is drawn
    // The sleep is the sh's child; search by its unique argument.
    t.keys(&["/"]);
    t.wait_for("Search:", 5);
    t.cmd(&["send-keys", "-t", "j", "-l", &tag]);
    t.keys(&["Enter"]);
    // The first match is the sh (its argument holds the tag); n moves on.
    t.wait_for(&format!("{} · sh", child.pid()), 10);
    t.keys(&["n"]);
    let screen = t.wait_until(10, "the detail pane on the sleep", |s| {
        s.contains("· sleep") && s.contains(&format!("sleep {tag}"))
    });
    assert!(screen.contains("namespaces (≠ differs from"), "{screen}");
    // The parent chain names the sh we spawned.
    assert!(screen.contains(&format!("{} sh", child.pid())), "{screen}");
    t.keys(&["q"]);
    t.assert_terminal_restored("q");
}

#[test]
fn ctrl_c_restores_the_terminal() {
    let Some(t) = Tmux::start(120, 40) else {
        return;
    };
    start_isolab(&t, "");
    t.keys(&["C-c"]);
    t.assert_terminal_restored("ctrlc");
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    // SIGHUP while the terminal is still there (a `kill -HUP`), and below,
    // the real hangup: the tmux server goes away and isolab must exit.
    for (sig, name) in [(libc::SIGTERM, "term"), (libc::SIGHUP, "hup")] {
        let Some(t) = Tmux::start(120, 40) else {
            return;
        };
        start_isolab(&t, "");
        let pid = t.foreground_pid("isolab");
        // SAFETY: kill(2) on the isolab we started.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
        t.assert_terminal_restored(name);
    }
}

#[test]
fn a_panic_restores_the_terminal_and_shows_the_message() {
    let Some(t) = Tmux::start(120, 40) else {
        return;
    };
    launch_isolab(&t, "RUST_BACKTRACE=0 ISOLAB_TEST_PANIC=1", "0.5");
    // The message lands on the normal screen, after the terminal is restored.
    let s = t.wait_until(10, "the panic message", |s| {
        s.contains("panicking on purpose")
    });
    assert!(s.contains("panicked at"), "{s}");
    assert!(!t.alternate_on());
    t.assert_terminal_restored("panic");
}

#[test]
fn resizing_to_tiny_and_back_recovers() {
    let Some(t) = Tmux::start(120, 40) else {
        return;
    };
    start_isolab(&t, "");
    t.cmd(&["resize-window", "-t", "j", "-x", "40", "-y", "10"]);
    t.wait_for("terminal too small", 10);
    t.cmd(&["resize-window", "-t", "j", "-x", "100", "-y", "30"]);
    t.wait_until(10, "the tree again", |s| {
        s.contains("1 Processes") && !s.contains("too small")
    });
    t.keys(&["?"]);
    t.wait_for("isolab keys", 5);
    t.keys(&["Escape"]);
    t.keys(&["q"]);
    t.assert_terminal_restored("resize");
}

#[test]
fn a_hung_up_terminal_makes_isolab_exit() {
    let Some(t) = Tmux::start(120, 40) else {
        return;
    };
    start_isolab(&t, "");
    let pid = t.foreground_pid("isolab");
    drop(t); // kills the tmux server: the pty hangs up
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // A zombie or a missing /proc entry both mean it has exited.
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim().chars().next()));
        if matches!(state, None | Some(Some('Z'))) {
            break;
        }
        if std::time::Instant::now() > deadline {
            // SAFETY: kill the isolab this test started, so it is not left spinning.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("isolab {pid} still running after its terminal hung up");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn bang_suspends_to_a_shell_and_the_tui_comes_back() {
    let Some(t) = Tmux::start(120, 40) else {
        return;
    };
    start_isolab(&t, "SHELL=/bin/sh");
    t.keys(&["!"]);
    t.wait_for("isolab: shell /bin/sh (exit to return to isolab)", 10);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while t.alternate_on() {
        assert!(
            std::time::Instant::now() < deadline,
            "still in the alternate screen"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The shell owns the terminal: Ctrl-C goes to it, and isolab survives.
    t.keys(&["C-c"]);
    // The interrupted shell flushes typed-ahead input: wait for its new prompt.
    t.wait_until(10, "a fresh prompt after ^C", |s| {
        s.contains("^C") && s.lines().rev().find(|l| !l.trim().is_empty()) == Some("$")
    });
    let tag = std::process::id();
    t.type_line(&format!("echo inside-$((6*7))-{tag}"));
    t.wait_for(&format!("inside-42-{tag}"), 10);
    t.type_line("exit 3");
    let s = t.wait_until(10, "the TUI back with the exit status", |s| {
        s.contains("1 Processes") && s.contains("shell /bin/sh: exited with status 3")
    });
    assert!(t.alternate_on(), "{s}");
    // Keys work again: the help opens.
    t.keys(&["?"]);
    t.wait_for("isolab keys", 5);
    t.keys(&["Escape", "q"]);
    t.assert_terminal_restored("shell");
}

#[test]
fn not_root_shows_dashes_and_the_reason_in_the_detail_pane() {
    if !common::need_root("setpriv to uid 65534") {
        return;
    }
    if !common::require(
        std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_ok(),
        "setpriv (util-linux) is not installed",
    ) {
        return;
    }
    let Some(t) = Tmux::start(200, 50) else {
        return;
    };
    // As nobody, PID 1's namespace links cannot be read. nobody runs a copy
    // in a 0755 directory (the checkout may sit in a 0700 home).
    let scratch = common::Scratch::new("tui-journey");
    let copy = scratch.isolab().display().to_string();
    start_binary(
        &t,
        "setpriv --reuid=65534 --regid=65534 --clear-groups",
        &copy,
        "0.5",
    );
    t.keys(&["g"]);
    let s = t.wait_until(10, "PID 1's detail with the reason", |s| {
        s.contains("PID 1 ·") && s.contains("ns: — permission denied")
    });
    assert!(
        s.lines()
            .any(|l| l.contains("│  pid ") && l.trim_end().ends_with('—')),
        "namespace ids shown as —:\n{s}"
    );
    assert!(!s.contains("Error"), "no popup, no error line:\n{s}");
    t.keys(&["q"]);
    t.assert_terminal_restored("nobody");
}

/// Drops SGR escape sequences (`ESC [ ... m`).
fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The tree row of `pid` on the coloured screen (PPID, then PID first).
fn row_with(t: &Tmux, pid: i32) -> Option<String> {
    t.screen_with_colours()
        .lines()
        .find(|l| plain(l).split_whitespace().nth(1) == Some(&pid.to_string()))
        .map(str::to_string)
}

#[test]
fn a_new_process_shows_green_then_red_when_it_exits_then_goes() {
    let Some(t) = Tmux::start(200, 50) else {
        return;
    };
    // A slow refresh keeps each highlight on screen for a few seconds.
    start_isolab_with(&t, "", "3");
    let marker = format!("3135{}", std::process::id());
    let child = Spawned::sh(&format!("exec sleep {marker}"));
    let pid = child.pid();
    // Search until the next refresh has brought it in.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        t.keys(&["/"]);
        t.wait_for("Search:", 5);
        t.cmd(&["send-keys", "-t", "j", "-l", &marker]);
        t.keys(&["Enter"]);
        let found = t.wait_until(10, "the search to finish", |s| !s.contains("Search:"));
        if found.contains(&format!("PID {pid} · sleep")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never found:\n{found}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let green = "38;5;2m";
    let new_row = row_with(&t, pid)
        .unwrap_or_else(|| panic!("the row is on screen:\n{}", t.screen_with_colours()));
    assert!(
        new_row.contains(green),
        "a new process is green: {new_row:?}"
    );
    drop(child); // killed and reaped: it vanishes from /proc
    let red = "38;5;1m";
    let gone_row = t.wait_until(20, "the exited process in red", |_| {
        row_with(&t, pid).is_some_and(|l| l.contains(red))
    });
    assert!(gone_row.contains("1 Processes"));
    t.wait_until(20, "the exited process to leave the tree", |_| {
        row_with(&t, pid).is_none()
    });
    t.keys(&["q"]);
    t.assert_terminal_restored("colours");
}

/// The first child of `parent` named `comm`, from /proc.
fn child_named(parent: i32, comm: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let close = stat.rfind(')')?;
        let name = &stat[stat.find('(')? + 1..close];
        let ppid: i32 = stat[close + 2..].split(' ').nth(1)?.parse().ok()?;
        (ppid == parent && name == comm).then_some(pid)
    })
}

/// Types a search for `query` and waits for the detail pane on `pid`.
fn search_for(t: &Tmux, query: &str, pid: i32, comm: &str) {
    t.keys(&["/"]);
    t.wait_for("Search:", 5);
    t.cmd(&["send-keys", "-t", "j", "-l", query]);
    t.keys(&["Enter"]);
    t.wait_for(&format!("PID {pid} · {comm}"), 10);
}

#[test]
fn compare_shows_which_namespaces_two_real_processes_share() {
    let Some(t) = Tmux::start(200, 50) else {
        return;
    };
    let marker = format!("3136{}", std::process::id());
    // sleep in new uts and net namespaces, its sh parent on the host's.
    let child = Spawned::sh(&format!("unshare --uts --net sleep {marker} & wait"));
    let sh = child.pid();
    let sleep = procs_support::wait_for(10, "the unshared sleep", || child_named(sh, "sleep"));
    start_isolab(&t, "");
    search_for(&t, &sleep.to_string(), sleep, "sleep");
    t.keys(&["m"]);
    t.wait_for(&format!("marked PID {sleep}"), 5);
    search_for(&t, &sh.to_string(), sh, "sh");
    t.keys(&["c"]);
    // Wait for the whole overlay (its last line), not a half-drawn frame.
    let s = t.wait_for("namespaces shared · Esc", 5);
    let verdict = |kind: &str| {
        s.lines()
            .find(|l| l.contains(&format!("│{kind:<18} ")))
            .map(|l| {
                if l.contains("separate") {
                    "separate"
                } else if l.contains("shared") {
                    "shared"
                } else {
                    "unknown"
                }
            })
            .unwrap_or("missing")
    };
    for (kind, want) in [
        ("uts", "separate"),
        ("net", "separate"),
        ("pid", "shared"),
        ("mnt", "shared"),
        ("ipc", "shared"),
        ("user", "shared"),
    ] {
        assert_eq!(verdict(kind), want, "{kind}:\n{s}");
    }
    assert!(s.contains("8 of 10 namespaces shared"), "{s}");
    t.keys(&["Escape", "q"]);
    t.assert_terminal_restored("compare");
}

#[test]
fn e_enters_a_process_namespaces_and_the_tui_comes_back() {
    if procs_support::skip_unless_root() {
        return;
    }
    let Some(t) = Tmux::start(200, 50) else {
        return;
    };
    let tag = format!("9{}", std::process::id());
    let host = format!("inside-{tag}");
    // A child in its own UTS namespace with its own hostname.
    let root = Spawned::sh(&format!(
        "exec unshare --uts sh -c 'hostname {host}; exec sleep {tag}'"
    ));
    let pid = root.pid();
    start_isolab(&t, "");
    t.keys(&["/"]);
    t.wait_for("Search:", 5);
    t.cmd(&["send-keys", "-t", "j", "-l", &format!("sleep {tag}")]);
    t.keys(&["Enter"]);
    t.wait_for(&format!("{pid} · sleep"), 10);
    t.keys(&["e"]);
    t.wait_until(10, "the TUI to step aside", |_| !t.alternate_on());
    // In the shell inside: the hostname is the child's, not the host's.
    t.type_line("echo \"in:$(hostname)\"");
    t.wait_for(&format!("in:{host}"), 10);
    t.type_line("exit");
    t.wait_for("1 Processes", 10);
    assert!(t.alternate_on());
    t.keys(&["q"]);
    t.assert_terminal_restored("enter");
}

#[test]
fn an_oom_kill_shows_in_the_tree() {
    use isolab::sys::cgroup::{Limit, OwnedCgroup};
    if procs_support::skip_unless_root() {
        return;
    }
    let Some(t) = Tmux::start(200, 50) else {
        return;
    };
    let cg = OwnedCgroup::create("journey-oom", Some(Limit::Bytes(32 << 20))).expect("cgroup");
    start_isolab_with(&t, "", "0.5");
    // The hog joins the 32M cgroup, then grows at 16 MiB/s until the OOM
    // killer takes it (about two seconds: time for a snapshot to see it).
    let procs = cg.path().join("cgroup.procs");
    let mut hog = Spawned::sh(&format!(
        "echo $$ > {} && exec {} hog --rate 16M/s --max 1G >/dev/null",
        procs.display(),
        bin()
    ));
    let pid = hog.pid();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        t.keys(&["/"]);
        t.wait_for("Search:", 5);
        t.cmd(&["send-keys", "-t", "j", "-l", "hog --rate 16M/s"]);
        t.keys(&["Enter"]);
        let found = (0..20).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            t.screen().contains(&format!("PID {pid} ·"))
        });
        if found {
            break;
        }
        t.keys(&["Escape"]);
        assert!(std::time::Instant::now() < deadline, "{}", t.screen());
    }
    // Reap it as its parent would: a zombie has not vanished yet.
    let status = hog.0.wait().expect("wait for the hog");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the OOM killer's signal"
    );
    let s = t.wait_for("killed by the OOM killer", 30);
    assert!(s.contains("[OOM-killed]"), "{s}");
    t.keys(&["q"]);
    t.assert_terminal_restored("oom");
    cg.remove().expect("remove the cgroup");
}
