//! The automated student: for every shipped lesson, every step with a
//! "show me" action must fail its check before the action and pass after it,
//! on the real kernel. Everything the actions start is stopped afterwards
//! (the Runner's process groups, then the lesson's `cleanup:` lines).

mod common;
mod lessons_support;

use isolab::lessons::check_step;
use isolab::lessons::cond::Outcome;
use isolab::lessons::context::LiveContext;
use isolab::lessons::lesson::Lesson;
use isolab::lessons::runner::Runner;
use isolab::sys::procs::ProcReader;
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs the lesson's cleanup lines even when an assertion fails.
struct Cleanup<'a> {
    runner: Runner,
    lesson: &'a Lesson,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        self.runner.stop_all();
        for line in &self.lesson.cleanup {
            let _ = self.runner.run_cleanup(line);
        }
    }
}

fn docker_usable() -> bool {
    std::process::Command::new("docker")
        .arg("info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn student(id: &str) {
    let lesson = lessons_support::shipped(id);
    let mut guard = Cleanup {
        runner: Runner::new(&lessons_support::isolab()),
        lesson: &lesson,
    };
    let mut reader = ProcReader::new(Path::new("/proc")).unwrap();
    let mut acted = 0;
    for (i, step) in lesson.steps.iter().enumerate() {
        let Some(action) = &step.action else { continue };
        let name = format!("{id} step {} ({})", i + 1, step.title);
        if step.needs.as_deref() == Some("docker") && !docker_usable() {
            // The lesson marks this step `needs: docker`: optional by design,
            // the student's TUI offers it only with Docker. The other steps run.
            println!(
                "not run: {name}: the lesson's optional Docker step (Docker is not usable here)"
            );
            continue;
        }
        let before = check_step(step, &LiveContext::from_reader(&mut reader).unwrap());
        assert!(
            !before.passed(),
            "{name}: the check passes before the action, so it proves nothing"
        );
        guard
            .runner
            .perform(action)
            .unwrap_or_else(|e| panic!("{name}: the action failed: {e:#}"));
        // Wait for the kernel state to show (a started process needs a moment).
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match check_step(step, &LiveContext::from_reader(&mut reader).unwrap()) {
                Outcome::Pass => break,
                Outcome::NotYet(reason) => {
                    assert!(
                        Instant::now() < deadline,
                        "{name}: still not passing after the action: {reason}"
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        acted += 1;
    }
    assert!(
        acted > 0 || id == "07-compare" || lesson.steps.iter().all(|s| s.action.is_none()),
        "{id}: no step was exercised"
    );
}

#[test]
fn lesson_01_processes() {
    student("01-processes");
}

#[test]
fn lesson_02_proc() {
    student("02-proc");
}

#[test]
fn lesson_03_container_is_a_process() {
    student("03-container-is-a-process");
}

#[test]
fn lesson_04_root() {
    student("04-root");
}

#[test]
fn lesson_05_namespaces() {
    student("05-namespaces");
}

#[test]
fn lesson_06_cgroups() {
    student("06-cgroups");
}

#[test]
fn lesson_07_compare() {
    student("07-compare");
}

#[test]
fn every_shipped_lesson_has_a_student_test() {
    let ids: Vec<String> = isolab::lessons::catalog::load(Some(&lessons_support::lessons_dir()))
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let source = include_str!("lessons_student.rs");
    for id in ids {
        assert!(
            source.contains(&format!("student(\"{id}\")")),
            "lesson {id} has no automated-student test here"
        );
    }
}
