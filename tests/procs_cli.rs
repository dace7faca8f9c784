//! The real binary: `isolab tree [--ns] [--json]` and `isolab ns PID [OTHER]`
//! on the real kernel, with a spawned tree partly in new namespaces.

mod common;
#[path = "procs_own_support/mod.rs"]
mod procs_support;

use procs_support::*;
use serde_json::Value;
use std::process::{Command, Output};

fn isolab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isolab"))
        .args(args)
        .output()
        .expect("running isolab")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "isolab failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The namespaced sleep's host PID, once it has exec'd (comm is `sleep`).
fn namespaced_child(outer: i32) -> i32 {
    let mut reader = isolab::sys::procs::ProcReader::new("/proc").unwrap();
    wait_for(&mut reader, "the namespaced sleep", |snap| {
        children(snap, outer)
            .into_iter()
            .find(|&k| snap.get(k).is_some_and(|p| p.facts.comm == "sleep"))
    })
    .1
}

fn sh_children(sh: i32) -> Vec<i32> {
    let mut reader = isolab::sys::procs::ProcReader::new("/proc").unwrap();
    wait_for(&mut reader, "sh's sleeps", |snap| {
        let kids = children(snap, sh);
        (kids.len() == 2
            && kids
                .iter()
                .all(|&k| snap.get(k).unwrap().facts.comm == "sleep"))
        .then_some(kids)
    })
    .1
}

/// The line of `pid` in the table (PID is the second column).
fn line_of(table: &str, pid: i32) -> &str {
    table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(&pid.to_string()))
        .unwrap_or_else(|| panic!("no row for PID {pid}"))
}

/// The row of `pid` in the table: its columns split on whitespace.
fn row_of(table: &str, pid: i32) -> Vec<String> {
    line_of(table, pid)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn tree_prints_the_ps_axjf_layout_with_tree_art() {
    let shell = spawn_shell_with_two_sleeps();
    let sh = shell.pid();
    let kids = sh_children(sh);
    let table = stdout(&isolab(&["tree"]));
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "PPID",
            "PID",
            "PGID",
            "SID",
            "TTY",
            "STAT",
            "UID",
            "TIME",
            "CONTAINER",
            "COMMAND"
        ]
    );
    let sh_row = row_of(&table, sh);
    assert_eq!(sh_row[0], std::process::id().to_string());
    assert_eq!(sh_row[2], sh.to_string(), "PGID");
    for kid in kids {
        let row = row_of(&table, kid);
        assert_eq!(row[0], sh.to_string(), "PPID of {kid}");
        assert_eq!(row[8], "-", "no container");
        let line = line_of(&table, kid);
        let sh_line = line_of(&table, sh);
        // The child's art sits one level (4 columns) right of the shell's command.
        let sh_cmd = sh_line.find("sh -c").unwrap();
        let kid_cmd = line.find("sleep").unwrap();
        assert_eq!(kid_cmd, sh_cmd + 4, "{sh_line}\n{line}");
        assert_eq!(&line[kid_cmd - 3..kid_cmd], "\\_ ");
    }
}

#[test]
fn tree_ns_adds_a_column_per_namespace_kind() {
    let unshare = spawn_namespaced_sleep();
    let inner = namespaced_child(unshare.pid());
    let table = stdout(&isolab(&["tree", "--ns"]));
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        &header[8..],
        [
            "PID",
            "MNT",
            "NET",
            "IPC",
            "UTS",
            "USER",
            "CGROUP",
            "TIME",
            "CONTAINER",
            "COMMAND"
        ]
    );
    let me = row_of(&table, std::process::id() as i32);
    let child = row_of(&table, inner);
    // pid, net, uts differ; mnt, ipc, user, cgroup, time are shared.
    let differs: Vec<&str> = (8..16)
        .filter(|&i| me[i] != child[i])
        .map(|i| header[i])
        .collect();
    assert_eq!(differs, ["PID", "NET", "UTS"]);
    for col in &child[8..16] {
        assert!(col.parse::<u64>().is_ok(), "inode column {col}");
    }
}

#[test]
fn tree_json_has_every_field_and_the_namespaced_child() {
    let unshare = spawn_namespaced_sleep();
    let inner = namespaced_child(unshare.pid());
    let json: Value = serde_json::from_str(&stdout(&isolab(&["tree", "--json"]))).unwrap();
    let procs = json.as_array().unwrap();
    assert!(procs.len() > 10);
    let find = |pid: i32| {
        procs
            .iter()
            .find(|p| p["pid"] == pid)
            .unwrap_or_else(|| panic!("PID {pid} in JSON"))
    };
    let child = find(inner);
    for key in [
        "pid",
        "ppid",
        "pgid",
        "sid",
        "tty",
        "state",
        "uid",
        "comm",
        "cmdline",
        "ns",
        "nspid",
        "cgroups",
        "container",
    ] {
        assert!(child.get(key).is_some(), "missing {key}");
    }
    assert_eq!(child["ppid"], unshare.pid());
    assert_eq!(child["nspid"], serde_json::json!([inner, 1]));
    assert_eq!(child["comm"], "sleep");
    assert!(child["container"].is_null());
    assert!(
        child["cgroups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"].is_string())
    );
    let me = find(std::process::id() as i32);
    assert_ne!(child["ns"]["pid"], me["ns"]["pid"]);
    assert_ne!(child["ns"]["net"], me["ns"]["net"]);
    assert_eq!(child["ns"]["mnt"], me["ns"]["mnt"]);
    assert!(child["ns"]["pid"].is_u64());
}

#[test]
fn ns_marks_the_differences_and_tells_nspid_in_words() {
    let unshare = spawn_namespaced_sleep();
    let outer = unshare.pid();
    let inner = namespaced_child(outer);
    let text = stdout(&isolab(&["ns", &inner.to_string()]));
    let marked: Vec<&str> = text
        .lines()
        .filter(|l| l.ends_with("<- differs"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(marked, ["pid", "net", "uts", "pid_for_children"], "{text}");
    assert!(
        text.contains(&format!("host PID {inner} is PID 1 in its PID namespace")),
        "{text}"
    );

    // Against OTHER = the unshare process: only pid differs (it made the
    // net and uts namespaces itself and lives in them).
    let text = stdout(&isolab(&["ns", &inner.to_string(), &outer.to_string()]));
    let marked: Vec<&str> = text
        .lines()
        .filter(|l| l.ends_with("<- differs"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(marked, ["pid"], "{text}");

    let json: Value =
        serde_json::from_str(&stdout(&isolab(&["ns", &inner.to_string(), "--json"]))).unwrap();
    assert_eq!(json["process"]["nspid"], serde_json::json!([inner, 1]));
    assert_eq!(json["differing"], serde_json::json!(["pid", "net", "uts"]));
}

#[test]
fn a_missing_pid_is_one_line_on_stderr_and_exit_1() {
    let missing = impossible_pid().to_string();
    for args in [
        vec!["ns", missing.as_str()],
        vec!["ns", "1", missing.as_str()],
    ] {
        let out = isolab(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("isolab: ") && err.contains(&missing),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        vec!["ns"],
        vec!["ns", "not-a-pid"],
        vec!["tree", "--bogus"],
        vec!["tree", "extra"],
    ] {
        let out = isolab(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}
