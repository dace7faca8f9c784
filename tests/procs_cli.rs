//! `isolab tree` and `isolab ns` as scripts use them: output, JSON, exit codes.

mod procs_support;

use procs_support::{Spawned, bin, skip_unless_root, wait_for};
use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin()).args(args).output().expect("run isolab");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tree_prints_ps_axjf_layout_with_our_process() {
    let tag = format!("4{}", std::process::id());
    // `; true` keeps sh alive as the sleep's parent (a lone command is exec'd).
    let child = Spawned::sh(&format!("sleep {tag}; true"));
    let line = wait_for(10, "the sleep in the tree", || {
        let (code, out, _) = run(&["tree"]);
        assert_eq!(code, 0);
        assert!(out.starts_with(" PPID     PID    PGID     SID TTY"));
        out.lines()
            .find(|l| l.ends_with(&format!("sleep {tag}")))
            .map(String::from)
    });
    // The sleep is drawn as a child: tree art before its command.
    assert!(line.contains("\\_ sleep"), "{line}");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[0], child.pid().to_string(), "PPID column is the sh");
}

#[test]
fn tree_ns_adds_a_column_per_namespace() {
    let (code, out, _) = run(&["tree", "--ns"]);
    assert_eq!(code, 0);
    let header = out.lines().next().expect("header");
    for col in ["PID", "MNT", "NET", "IPC", "UTS", "USER", "CGROUP", "TIME"] {
        assert!(header.contains(col), "{header}");
    }
    let me = std::process::id().to_string();
    // Our own test process's row carries 10-digit namespace ids.
    let row = out
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(me.as_str()))
        .expect("our row");
    assert!(
        row.split_whitespace().any(|f| f.starts_with("40265")),
        "{row}"
    );
}

#[test]
fn tree_json_has_the_documented_fields() {
    let (code, out, _) = run(&["tree", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    let procs = v.as_array().expect("array");
    let me = std::process::id() as i64;
    let p = procs
        .iter()
        .find(|p| p["pid"].as_i64() == Some(me))
        .expect("our process");
    for field in [
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
        assert!(p.get(field).is_some(), "missing {field}: {p}");
    }
    assert!(p["ns"]["pid"].as_u64().is_some());
    assert_eq!(p["nspid"][0].as_i64(), Some(me));
    assert!(p["container"].is_null());
}

#[test]
fn ns_marks_the_differences_of_a_namespaced_child() {
    if skip_unless_root() {
        return;
    }
    let tag = format!("5{}", std::process::id());
    let _root = Spawned::sh(&format!("unshare --fork --pid --uts sleep {tag}"));
    let pid = wait_for(10, "the namespaced sleep", || {
        let (_, out, _) = run(&["tree"]);
        out.lines()
            .find(|l| l.ends_with(&format!("\\_ sleep {tag}")))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<i32>().ok())
    });
    let (code, out, err) = run(&["ns", &pid.to_string()]);
    assert_eq!(code, 0, "{err}");
    let line = |kind: &str| {
        out.lines()
            .find(|l| l.split_whitespace().next() == Some(kind))
            .unwrap_or_else(|| panic!("no {kind} line in {out}"))
            .to_string()
    };
    assert!(line("pid").ends_with("DIFFERENT"));
    assert!(line("uts").ends_with("DIFFERENT"));
    assert!(line("net").ends_with("same"));
    assert!(out.contains(&format!("host PID {pid} is PID 1 in its PID namespace")));

    let (code, out, _) = run(&["ns", &pid.to_string(), "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let pid_kind = v["namespaces"]
        .as_array()
        .expect("kinds")
        .iter()
        .find(|k| k["kind"] == "pid")
        .expect("pid kind")
        .clone();
    assert_eq!(pid_kind["same"], false);

    // Comparing two processes: the child against our own test process.
    let me = std::process::id().to_string();
    let (code, out, _) = run(&["ns", &pid.to_string(), &me]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("PID {me}")));
}

#[test]
fn a_missing_pid_is_one_line_and_exit_1() {
    let (code, out, err) = run(&["ns", "999999999"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("999999999"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        vec!["ns"],
        vec!["ns", "abc"],
        vec!["tree", "--bogus"],
        vec!["--interval", "0", "tree"],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(!err.is_empty());
    }
}
