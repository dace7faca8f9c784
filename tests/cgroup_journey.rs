//! The Memory screen, driven in tmux as a student would: a child in an
//! isolab cgroup with a 32M limit, the hog started from the screen, the OOM
//! kill seen on the graph, then the limit raised to 64M and read back.

mod cgroup_support;
mod common;

use cgroup_support::*;
use isolab::sys::cgroup::{Limit, OwnedCgroup};

const MIB: u64 = 1 << 20;

/// The hog's cgroup directory as the Memory screen `s` names it.
fn hog_dir_on(s: &str) -> std::path::PathBuf {
    s.split_whitespace()
        .find(|w| w.contains("/isolab/") && w.ends_with("-hog"))
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| panic!("no hog cgroup on screen:\n{s}"))
}

/// Starts isolab in `t`, selects the process `pid` by searching for
/// `marker` (its command line) and opens the Memory screen on it. The
/// first snapshot of a busy host may not be in yet: search again until the
/// Memory screen shows the process.
fn open_memory_of(t: &Tmux, marker: &str, pid: i32) {
    t.type_text(&isolab_bin().display().to_string());
    t.keys(&["Enter"]);
    t.wait_for("Processes", 30);
    let shown = format!("PID {pid}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        t.keys(&["1", "/"]);
        t.type_text(marker);
        t.keys(&["Enter", "4"]);
        if (0..40).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            t.screen().contains(&shown)
        }) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never selected PID {pid}; screen:\n{}",
            t.screen()
        );
    }
}

#[test]
fn hog_to_the_oom_kill_then_raise_the_limit() {
    let Some(h) = hierarchy("memory journey") else {
        return;
    };
    let cg = OwnedCgroup::create_in(&h, &label("journey"), Some(Limit::Bytes(32 * MIB)))
        .expect("create");
    // The "lab child": a sleep with a command line we can search for.
    let marker = format!("99999.{}", std::process::id());
    let child = spawn_in(cg.path(), &["sleep", &marker]);
    let child_pid = child.0.id() as i32;
    wait_until("the child is in the cgroup", || {
        cg.pids().unwrap_or_default().contains(&child_pid)
    });
    let Some(t) = Tmux::start(160, 45) else {
        return;
    };
    open_memory_of(&t, &marker, child_pid);
    t.wait_for("isolab's cgroup", 30);
    let s = t.wait_for("limit    32.0 MiB", 30);
    assert!(s.contains(&cg.path().display().to_string()), "{s}");

    t.keys(&["H"]);
    t.wait_for("allocating 16M/s", 30);
    let s = t.wait_for("OOM kill ×1", 120);
    println!("at the OOM kill:\n{s}");
    assert!(
        s.contains("killed by SIGKILL (the OOM killer)") || s.contains("hog"),
        "{s}"
    );
    assert!(cg.oom_killed(), "the kernel counted no OOM kill");
    assert!(
        cg.pids().expect("pids").contains(&child_pid),
        "the OOM killer should take the hog, not the small child"
    );

    t.keys(&["L"]);
    t.wait_for("new limit:", 30);
    t.type_text("1.5.5M");
    t.keys(&["Enter"]);
    t.wait_for("more than one decimal point", 30);
    assert_eq!(cg.stats().expect("stats").limit, Limit::Bytes(32 * MIB));
    for _ in 0..6 {
        t.keys(&["BSpace"]);
    }
    t.type_text("64M");
    t.keys(&["Enter"]);
    t.wait_for("the kernel reads back 67108864", 30);
    assert_eq!(cg.stats().expect("stats").limit, Limit::Bytes(64 * MIB));
    t.wait_for("limit    64.0 MiB", 30);

    t.keys(&["q"]);
    t.wait_for("$", 30);
    drop(child);
    cg.remove().expect("remove");
}

/// A process isolab did not create: the limit asks first (we answer no),
/// and the hog runs in a fresh isolab cgroup with its own 32M limit, which
/// is gone once isolab quits.
#[test]
fn a_foreign_process_gets_a_confirmation_and_its_own_hog_cgroup() {
    let Some(h) = hierarchy("memory journey, foreign process") else {
        return;
    };
    // Started by the test, not in any isolab cgroup: for isolab it is foreign.
    let marker = format!("88888.{}", std::process::id());
    let mut sleeper = Reaped(
        std::process::Command::new("sleep")
            .arg(&marker)
            .spawn()
            .expect("sleep"),
    );
    let pid = sleeper.0.id() as i32;
    let foreign_dir =
        isolab::sys::cgroup::memory_dir_of(std::path::Path::new("/proc"), pid, &h).expect("dir");
    if !common::require(
        !h.is_isolab_owned(&foreign_dir),
        "the test itself runs in an isolab cgroup (it needs a cgroup isolab did not make)",
    ) {
        return;
    }
    let limit_before = isolab::sys::cgroup::read_memory(h.version, &foreign_dir)
        .expect("read")
        .limit;
    let Some(t) = Tmux::start(140, 40) else {
        return;
    };
    open_memory_of(&t, &marker, pid);
    t.wait_for("not isolab's", 30);

    t.keys(&["L"]);
    t.wait_for("new limit:", 30);
    t.type_text("64M");
    t.keys(&["Enter"]);
    let s = t.wait_for("It is LIVE", 30);
    assert!(
        s.contains(&foreign_dir.display().to_string()),
        "names the cgroup:\n{s}"
    );
    t.keys(&["n"]);
    t.wait_for("limit unchanged", 30);
    assert_eq!(
        isolab::sys::cgroup::read_memory(h.version, &foreign_dir)
            .expect("read")
            .limit,
        limit_before
    );

    t.keys(&["H"]);
    let s = t.wait_for("OOM kill ×1", 120);
    let hog_dir = hog_dir_on(&s);
    assert!(h.is_isolab_owned(&hog_dir), "{}", hog_dir.display());
    assert!(hog_dir.exists());
    assert!(
        sleeper.0.try_wait().expect("try_wait").is_none(),
        "the foreign process must be untouched"
    );

    t.keys(&["q"]);
    t.wait_for("$ ", 30);
    wait_until("isolab removed the hog's cgroup on quit", || {
        !hog_dir.exists()
    });
}

/// The terminal hangs up while a hog runs in a cgroup isolab made: the hog
/// and its cgroup are gone without another isolab run to clean up.
#[test]
fn a_hang_up_leaves_no_hog_and_no_cgroup() {
    let Some(h) = hierarchy("memory journey, hang-up") else {
        return;
    };
    let marker = format!("77777.{}", std::process::id());
    let sleeper = Reaped(
        std::process::Command::new("sleep")
            .arg(&marker)
            .spawn()
            .expect("sleep"),
    );
    let Some(t) = Tmux::start(140, 40) else {
        return;
    };
    open_memory_of(&t, &marker, sleeper.0.id() as i32);
    t.keys(&["H"]);
    let s = t.wait_for("allocating 16M/s", 30);
    let hog_dir = hog_dir_on(&s);
    assert!(h.is_isolab_owned(&hog_dir), "{}", hog_dir.display());
    drop(t); // kills the tmux server: the pty hangs up
    wait_until("the hog's cgroup is gone after the hang-up", || {
        !hog_dir.exists()
    });
}
