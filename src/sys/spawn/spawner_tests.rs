//! Tests of `Spawner`'s phases and typed failures: real forks, from the
//! multi-threaded test harness (as the TUI forks from its threads).

use super::*;
use crate::sys::spawn::ChildCommand;

fn plan(argv: &[&str]) -> Plan {
    Plan {
        command: ChildCommand::Exec(argv.iter().map(|a| a.to_string()).collect()),
        null_stdio: true,
        ..Plan::default()
    }
}

#[test]
fn a_spawn_goes_through_its_phases_in_order() {
    let mut sp = Spawner::start(plan(&["true"])).unwrap();
    assert!(matches!(sp.phase, Phase::Ready(_)));
    assert!(!sp.is_running_command() && !sp.failed());
    while let Some(r) = sp.next_step() {
        assert!(r.outcome.is_ok(), "{r:?}");
        if r.index + 1 < sp.steps().len() {
            assert!(matches!(sp.phase, Phase::Stepping { next, .. } if next == r.index + 1));
        }
    }
    assert!(matches!(sp.phase, Phase::Running { late: None }));
    assert_eq!(sp.wait().unwrap(), ExitOutcome::Exited(0));
    assert!(matches!(
        sp.phase,
        Phase::Exited {
            reached: Reached::AllSteps,
            ..
        }
    ));
    assert!(sp.is_running_command() && !sp.failed());
    assert!(sp.next_step().is_none());
    assert_eq!(sp.try_wait(), Some(ExitOutcome::Exited(0)));
    sp.stop();
}

/// A regular file without an execute bit passes the lookup (as in a
/// shell) and fails at execve: an `Exec` failure, not a matched string.
fn not_executable() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "#!/bin/sh\n").unwrap();
    file
}

#[test]
fn a_failed_exec_is_typed_in_both_modes() {
    let file = not_executable();
    let path = file.path().to_str().unwrap();
    let mut sp = Spawner::run(plan(&[path]), None).unwrap();
    assert_eq!(sp.wait().unwrap(), ExitOutcome::Exited(1));
    assert!(sp.failed_to_exec(), "{:?}", sp.failure());
    assert!(sp.failure().unwrap().starts_with("cannot run "));
    sp.stop();

    let mut sp = Spawner::start(plan(&[path])).unwrap();
    let err = sp.run_rest(|_| {}).unwrap_err();
    assert!(err.contains("Permission denied"), "{err}");
    assert!(sp.failed() && !sp.is_running_command());
    assert!(sp.next_step().is_none());
    sp.stop();
    assert!(matches!(
        sp.phase,
        Phase::Exited {
            reached: Reached::Failed,
            ..
        }
    ));
}

#[test]
fn a_spawn_stopped_between_steps_says_the_child_is_gone() {
    let mut sp = Spawner::start(plan(&["true"])).unwrap();
    assert!(sp.signal(libc::SIGKILL));
    assert!(matches!(sp.wait().unwrap(), ExitOutcome::Signaled(9)));
    assert!(matches!(
        sp.phase,
        Phase::Exited {
            reached: Reached::Step(1),
            ..
        }
    ));
    let r = sp.next_step().unwrap();
    assert_eq!(r.outcome, Err("the child is gone".into()));
    assert!(sp.failed() && sp.next_step().is_none());
}
