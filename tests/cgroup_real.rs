//! The memory cgroup on the real kernel: create, limit, read back, move a
//! process in, hog to the limit, the OOM kill counted, bad input refused,
//! cleanup. Runs on this host's v1 memory hierarchy, and under qemu on a
//! pure v2 kernel (scripts/qemu-v2.sh) — the same tests, both versions.
//! Only cgroups under the isolab parent are ever written.

mod cgroup_support;
mod common;

use cgroup_support::*;
use isolab::sys::cgroup::{Limit, OwnedCgroup, memory_dir_of, read_memory, remove_leftovers_in};
use isolab::sys::process::ProcessId;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Command;

const MIB: u64 = 1 << 20;

#[test]
fn create_limit_read_back_and_remove() {
    let Some(h) = hierarchy("create_limit_read_back_and_remove") else {
        return;
    };
    let cg =
        OwnedCgroup::create_in(&h, &label("basic"), Some(Limit::Bytes(64 * MIB))).expect("create");
    let path = cg.path().to_path_buf();
    assert!(path.starts_with(h.isolab_parent()), "{}", path.display());
    assert!(h.is_isolab_owned(&path));
    let stats = cg.stats().expect("stats");
    assert_eq!(stats.limit, Limit::Bytes(64 * MIB));
    assert_eq!(stats.oom_kills, Some(0));
    assert!(!cg.oom_killed());

    // Raise to max and back: each version's syntax, read back.
    let out = cg.set_limit(Limit::Max).expect("max");
    assert_eq!(out.read_back, Limit::Max);
    let out = cg.set_limit(Limit::Bytes(48 * MIB + 100)).expect("48M+100");
    // Kernels keep whole pages: the read-back is what the kernel holds.
    assert_eq!(
        out.read_back,
        Limit::Bytes(48 * MIB + 100 - (48 * MIB + 100) % 4096)
    );
    assert_eq!(cg.stats().expect("stats").limit, out.read_back);

    cg.remove().expect("remove");
    assert!(!path.exists(), "{} still exists", path.display());
}

#[test]
fn a_process_moved_in_is_counted_and_killed_on_remove() {
    let Some(h) = hierarchy("a_process_moved_in") else {
        return;
    };
    let cg = OwnedCgroup::create_in(&h, &label("member"), None).expect("create");
    let mut sleeper = Reaped(Command::new("sleep").arg("1000").spawn().expect("sleep"));
    let pid = sleeper.0.id() as i32;
    cg.add_process(pid).expect("add_process");
    assert_eq!(cg.pids().expect("pids"), vec![pid]);
    assert_eq!(
        memory_dir_of(Path::new("/proc"), pid, &h).expect("memory dir"),
        cg.path()
    );
    let path = cg.path().to_path_buf();
    cg.remove().expect("remove kills the member, then rmdirs");
    let status = sleeper.0.wait().expect("wait");
    assert_eq!(status.signal(), Some(9), "member should die by SIGKILL");
    assert!(!path.exists());
}

#[test]
fn drop_removes_the_cgroup() {
    let Some(h) = hierarchy("drop_removes_the_cgroup") else {
        return;
    };
    let path = {
        let cg = OwnedCgroup::create_in(&h, &label("drop"), Some(Limit::Bytes(16 * MIB)))
            .expect("create");
        cg.path().to_path_buf()
    };
    assert!(!path.exists(), "{} survived drop", path.display());
}

#[test]
fn the_hog_hits_the_limit_and_the_oom_kill_is_counted() {
    let Some(h) = hierarchy("the_hog_hits_the_limit") else {
        return;
    };
    let cg =
        OwnedCgroup::create_in(&h, &label("oom"), Some(Limit::Bytes(32 * MIB))).expect("create");
    let bin = isolab_bin();
    let mut hog = spawn_in(
        cg.path(),
        &[
            bin.to_str().expect("utf-8 path"),
            "hog",
            "--rate",
            "64M/s",
            "--max",
            "256M",
        ],
    );
    let stdout = hog.0.stdout.take().expect("stdout");
    let progress: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .collect();
    let status = hog.0.wait().expect("wait");
    assert_eq!(
        status.signal(),
        Some(9),
        "the OOM killer should end the hog with SIGKILL; status {status:?}, output {progress:?}"
    );
    assert!(
        progress.iter().any(|l| l.contains("allocated")),
        "hog printed no progress: {progress:?}"
    );
    assert!(cg.oom_killed(), "oom_kill not counted");
    let stats = cg.stats().expect("stats");
    assert!(stats.oom_kills.unwrap_or(0) >= 1);
    if is_v1(&h) {
        assert!(
            stats.failcnt.unwrap_or(0) > 0,
            "v1 failcnt should count limit hits"
        );
        let peak = stats.peak.expect("v1 has max_usage_in_bytes");
        assert!(peak > 24 * MIB && peak <= 32 * MIB, "peak {peak}");
    } else {
        let events = stats.events.expect("v2 memory.events");
        assert!(
            events.max > 0 && events.oom > 0 && events.oom_kill > 0,
            "{events:?}"
        );
    }
    cg.remove().expect("remove");
}

/// Runs `isolab limit PID SIZE` and returns (exit code, stdout, stderr).
fn isolab_limit(pid: i32, size: &str, yes: bool) -> (i32, String, String) {
    let mut cmd = Command::new(isolab_bin());
    cmd.arg("limit").arg(pid.to_string()).arg(size);
    if yes {
        cmd.arg("--yes");
    }
    let out = cmd.output().expect("run isolab limit");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_input_is_refused_and_the_old_limit_stays() {
    let Some(h) = hierarchy("bad_input_is_refused") else {
        return;
    };
    let cg = OwnedCgroup::create_in(&h, &label("badinput"), Some(Limit::Bytes(64 * MIB)))
        .expect("create");
    let sleeper = spawn_in(cg.path(), &["sleep", "1000"]);
    let pid = sleeper.0.id() as i32;
    wait_until("the sleeper is in the cgroup", || {
        cg.pids().unwrap_or_default().contains(&pid)
    });
    let table = [
        ("1.5.5M", "more than one decimal point"),
        ("-2", "negative"),
        ("99999999999999999999999", "too large"),
        ("", "empty size"),
        ("12Q", "unknown unit"),
        ("0x10", "hexadecimal"),
    ];
    for (input, expected) in table {
        let (code, stdout, stderr) = isolab_limit(pid, input, false);
        assert_eq!(code, 2, "{input:?}: exit code; stderr {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{input:?}: one line: {stderr}");
        assert!(stderr.starts_with("isolab: "), "{stderr}");
        assert!(
            stderr.contains(expected),
            "{input:?}: {stderr} lacks {expected:?}"
        );
        assert!(stdout.is_empty(), "{stdout}");
        assert_eq!(
            cg.stats().expect("stats").limit,
            Limit::Bytes(64 * MIB),
            "{input:?} changed the limit"
        );
    }

    // A good one, on a cgroup isolab created: no --yes needed; read back.
    let (code, stdout, stderr) = isolab_limit(pid, "48M", false);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("reads back {}", 48 * MIB)),
        "{stdout}"
    );
    assert_eq!(cg.stats().expect("stats").limit, Limit::Bytes(48 * MIB));
    let (code, stdout, stderr) = isolab_limit(pid, "max", false);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("reads back max"), "{stdout}");
    let want = if is_v1(&h) { "wrote -1" } else { "wrote max" };
    assert!(stdout.contains(want), "{stdout}");
    // Below the floor: allowed, with a warning.
    let (code, _, stderr) = isolab_limit(pid, "2M", false);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("below"),
        "{stderr}"
    );
    drop(sleeper);
    cg.remove().expect("remove");
}

#[test]
fn a_limit_below_usage_is_explained() {
    let Some(h) = hierarchy("a_limit_below_usage") else {
        return;
    };
    let cg = OwnedCgroup::create_in(&h, &label("belowusage"), Some(Limit::Bytes(64 * MIB)))
        .expect("create");
    let bin = isolab_bin();
    let mut hog = spawn_in(
        cg.path(),
        &[
            bin.to_str().expect("utf-8 path"),
            "hog",
            "--rate",
            "64M/s",
            "--max",
            "24M",
        ],
    );
    let pid = hog.0.id() as i32;
    let mut lines = BufReader::new(hog.0.stdout.take().expect("stdout")).lines();
    wait_until(
        "the hog holds 24 MiB",
        || matches!(lines.next(), Some(Ok(l)) if l.contains("holding")),
    );
    let usage = cg.stats().expect("stats").usage;
    assert!(usage >= 24 * MIB, "usage {usage}");
    let (code, stdout, stderr) = isolab_limit(pid, "8M", false);
    if is_v1(&h) {
        // v1 refuses: EBUSY, explained, and the old limit stays.
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(
            stderr.contains("EBUSY") && stderr.contains("already uses"),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert_eq!(cg.stats().expect("stats").limit, Limit::Bytes(64 * MIB));
        assert!(
            hog.0.try_wait().expect("try_wait").is_none(),
            "hog should live on"
        );
    } else {
        // v2 never refuses: it reclaims, and with nothing to reclaim (no
        // swap) the OOM killer takes the hog.
        assert_eq!(code, 0, "{stderr}");
        assert!(stdout.contains("reclaimed"), "{stdout}");
        let status = hog.0.wait().expect("wait");
        assert_eq!(status.signal(), Some(9));
        assert!(cg.oom_killed());
        assert_eq!(cg.stats().expect("stats").limit, Limit::Bytes(8 * MIB));
    }
    drop(hog);
    cg.remove().expect("remove");
}

#[test]
fn a_cgroup_isolab_did_not_create_needs_yes() {
    let Some(h) = hierarchy("a_cgroup_isolab_did_not_create") else {
        return;
    };
    // This test process sits in a cgroup someone else made. Refused, and
    // untouched: we never pass --yes for it.
    let me = std::process::id() as i32;
    let dir = memory_dir_of(Path::new("/proc"), me, &h).expect("own memory dir");
    if !common::require(
        !h.is_isolab_owned(&dir),
        "this test runs inside an isolab cgroup (it needs a cgroup isolab did not make)",
    ) {
        return;
    }
    let before = read_memory(h.version, &dir).expect("read").limit;
    let (code, stdout, stderr) = isolab_limit(me, "64M", false);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(&dir.display().to_string()),
        "names the cgroup: {stderr}"
    );
    assert!(
        stderr.contains("live") && stderr.contains("--yes"),
        "{stderr}"
    );
    assert_eq!(read_memory(h.version, &dir).expect("read").limit, before);
}

#[test]
fn cgroup_json_reports_an_isolab_cgroup() {
    let Some(h) = hierarchy("cgroup_json") else {
        return;
    };
    let cg =
        OwnedCgroup::create_in(&h, &label("json"), Some(Limit::Bytes(40 * MIB))).expect("create");
    let sleeper = spawn_in(cg.path(), &["sleep", "1000"]);
    let pid = sleeper.0.id() as i32;
    wait_until("the sleeper is in the cgroup", || {
        cg.pids().unwrap_or_default().contains(&pid)
    });
    let out = Command::new(isolab_bin())
        .args(["cgroup", &pid.to_string(), "--json"])
        .output()
        .expect("isolab cgroup");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["pid"], pid);
    let mem = &v["memory"];
    assert_eq!(mem["dir"], cg.path().display().to_string());
    assert_eq!(mem["created_by_isolab"], true);
    assert_eq!(mem["stats"]["limit"], 40 * MIB);
    assert!(mem["stats"]["usage"].as_u64().is_some());
    let cgroups = v["cgroups"].as_array().expect("cgroups");
    assert!(!cgroups.is_empty());
    let expected_layout = if is_v1(&h) { "Hybrid" } else { "V2" };
    // This host is hybrid; the qemu kernel is pure v2.
    assert_eq!(v["layout"], expected_layout);

    let text = Command::new(isolab_bin())
        .args(["cgroup", &pid.to_string()])
        .output()
        .expect("isolab cgroup");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("created by isolab"), "{text}");
    assert!(text.contains("limit      40.0 MiB"), "{text}");
    drop(sleeper);
    cg.remove().expect("remove");
}

#[test]
fn leftovers_of_a_dead_creator_are_removed_and_live_ones_kept() {
    let Some(h) = hierarchy("leftovers") else {
        return;
    };
    let live = OwnedCgroup::create_in(&h, &label("live"), None).expect("create");
    // A leftover: named for this pid but a different start time, i.e. the
    // creator that had this pid before is gone.
    let me = ProcessId::current().expect("creator");
    let dead = h.isolab_parent().join(format!(
        "{}-{}-{}",
        me.pid,
        me.start_time + 7,
        label("leftover")
    ));
    std::fs::create_dir(&dead).expect("mkdir leftover");
    let orphan = spawn_in(&dead, &["sleep", "1000"]);
    let orphan_pid = orphan.0.id() as i32;
    wait_until("the orphan is in the leftover cgroup", || {
        std::fs::read_to_string(dead.join("cgroup.procs"))
            .unwrap_or_default()
            .contains(&orphan_pid.to_string())
    });
    let removed = remove_leftovers_in(&h, Path::new("/proc")).expect("remove leftovers");
    assert!(removed.contains(&dead), "{removed:?}");
    assert!(!dead.exists());
    assert!(live.path().exists(), "a live creator's cgroup was removed");
    let mut orphan = orphan;
    assert_eq!(orphan.0.wait().expect("wait").signal(), Some(9));
    live.remove().expect("remove");
}

#[test]
fn the_root_cgroup_is_explained_not_written() {
    let Some(h) = hierarchy("the_root_cgroup") else {
        return;
    };
    // kthreadd (PID 2) lives in the root cgroup on every kernel.
    let dir = memory_dir_of(Path::new("/proc"), 2, &h).expect("memory dir of PID 2");
    assert_eq!(dir, h.mount);
    // Without --yes: even a broken guard could not write here.
    let (code, stdout, stderr) = isolab_limit(2, "64M", false);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("root memory cgroup"), "{stderr}");
    let out = Command::new(isolab_bin())
        .args(["cgroup", "2"])
        .output()
        .expect("isolab cgroup 2");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    if is_v1(&h) {
        assert!(text.contains("limit      max"), "{text}");
    } else {
        assert!(
            text.contains("no memory numbers: the root cgroup"),
            "{text}"
        );
    }
}

#[test]
fn hog_refuses_bad_sizes() {
    for (args, expected) in [
        (["--rate", "12Q"], "unknown unit"),
        (["--rate", "0"], "above 0"),
        (["--max", "-2"], "negative"),
    ] {
        let out = Command::new(isolab_bin())
            .arg("hog")
            .args(args)
            .output()
            .expect("isolab hog");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
