//! The lesson parser and the check language: fuzzed for panics, and the
//! evaluator's answers (and its words) against a fixture context.

mod common;
use isolab::lessons::cond::{self, Outcome};
use isolab::lessons::context::{FixtureContext, MemoryFacts, ProcessView};
use isolab::lessons::lesson;
use isolab::sys::ns::{NsKind, NsSet};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn lesson_parser_never_panics(text in "\\PC{0,400}") {
        let _ = lesson::parse(&text);
    }

    #[test]
    fn lesson_parser_never_panics_on_near_miss_files(
        lines in prop::collection::vec(
            prop_oneof![
                Just("lesson: T".to_string()),
                Just("step: S".to_string()),
                Just("```".to_string()),
                Just("  and comm = \"x\"".to_string()),
                Just("".to_string()),
                "(check|hint|start|do|needs|waiting|cleanup|about): \\PC{0,40}",
                "\\PC{0,60}",
            ],
            0..30,
        )
    ) {
        let _ = lesson::parse(&lines.join("\n"));
    }

    #[test]
    fn check_parser_never_panics(
        words in prop::collection::vec(
            prop_oneof![
                Just("process"), Just("where"), Just("and"), Just("or"), Just("not"),
                Just("("), Just(")"), Just("file"), Just("\"/x\""), Just("exists"),
                Just("in"), Just("host"), Just("cgroup"), Just("memory.limit"), Just("of"),
                Just("<="), Just("="), Just("!="), Just("contains"), Just("64M"),
                Just("comm"), Just("\"bash\""), Just("ns.pid"), Just("host.pid"), Just("99999999999999999999G"),
                Just("\""), Just("!"), Just("ns.bogus"), Just("host.x"),
            ],
            0..25,
        )
    ) {
        let text = words.join(" ");
        if let Err(e) = cond::parse(&text) {
            prop_assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{e:?} in {text}");
        }
    }
}

fn ns(pid: u64, uts: u64) -> NsSet {
    let mut set = NsSet::default();
    for kind in NsKind::ISOLATING {
        set.set(kind, Some(4026531000 + kind as u64));
    }
    set.set(NsKind::Pid, Some(pid));
    set.set(NsKind::Uts, Some(uts));
    set
}

fn fixture() -> FixtureContext {
    let init = ProcessView {
        pid: 1,
        comm: "systemd".into(),
        cmdline: Some(vec!["/sbin/init".into()]),
        ns: ns(100, 200),
        nspid: vec![1],
        state: 'S',
        ..Default::default()
    };
    let host_bash = ProcessView {
        pid: 50,
        ppid: 1,
        comm: "bash".into(),
        cmdline: Some(vec!["bash".into()]),
        ns: ns(100, 200),
        nspid: vec![50],
        state: 'S',
        ..Default::default()
    };
    let boxed = ProcessView {
        pid: 70,
        ppid: 50,
        comm: "sleep".into(),
        cmdline: Some(vec!["sleep".into(), "9".into()]),
        ns: ns(101, 201),
        nspid: vec![70, 1],
        state: 'S',
        ..Default::default()
    };
    let mut ctx = FixtureContext {
        procs: vec![init, host_bash, boxed],
        host_pid: 1,
        ..Default::default()
    };
    ctx.hostnames.insert(1, "host".into());
    ctx.hostnames.insert(50, "host".into());
    ctx.hostnames.insert(70, "box".into());
    ctx.files
        .insert((70, "/tmp/made".into()), "hello there".into());
    ctx.memory.insert(
        70,
        MemoryFacts {
            limit: Some(32 << 20),
            usage: 5 << 20,
            oom_kills: 0,
        },
    );
    ctx
}

fn eval(text: &str) -> Outcome {
    cond::evaluate(&cond::parse(text).unwrap(), &fixture())
}

#[test]
fn process_checks() {
    assert!(eval(r#"process where hostname = "box" and ns.uts != host.uts"#).passed());
    assert!(
        eval(r#"process where comm = "sleep" and nspid.inner = 1 and parent.comm = "bash""#)
            .passed()
    );
    assert!(eval(r#"process where comm = "bash" and ns.pid = host.pid"#).passed());
    assert_eq!(
        eval(r#"process where comm = "bash" and ns.pid != host.pid"#),
        Outcome::NotYet("no process named `bash` and with its own PID namespace yet".into())
    );
    assert_eq!(
        eval(r#"process where hostname = "other" and ns.uts != host.uts"#),
        Outcome::NotYet(
            "no process with the hostname `other` and with its own UTS namespace yet".into()
        )
    );
}

#[test]
fn file_and_cgroup_checks() {
    assert!(eval(r#"file "/tmp/made" exists in process where hostname = "box""#).passed());
    assert!(eval(r#"file "/tmp/made" contains "hello" in process where pid = 70"#).passed());
    assert!(eval(r#"not file "/tmp/made" exists in host"#).passed());
    let Outcome::NotYet(why) = eval(r#"file "/tmp/other" exists in process where pid = 70"#) else {
        panic!()
    };
    assert!(
        why.contains("`/tmp/other` does not exist inside the root"),
        "{why}"
    );
    assert!(eval(r#"cgroup memory.limit of process where pid = 70 <= 64M"#).passed());
    let Outcome::NotYet(why) = eval(r#"cgroup memory.limit of process where pid = 70 <= 16M"#)
    else {
        panic!()
    };
    assert!(why.contains("memory limit") && why.contains("32"), "{why}");
    assert!(!eval(r#"cgroup memory.oom_kills of process where pid = 70 >= 1"#).passed());
}

#[test]
fn combinators() {
    assert!(eval(r#"process where comm = "nope" or process where comm = "bash""#).passed());
    assert!(!eval(r#"process where comm = "bash" and process where comm = "nope""#).passed());
    assert!(eval(r#"not (process where comm = "nope")"#).passed());
    assert!(eval(r#"process where not (comm = "sleep" or comm = "systemd")"#).passed());
}
