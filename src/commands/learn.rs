//! `isolab learn`, `isolab lessons lint|list|check` and `isolab demo`.
//!
//! `learn` and `demo` here are line-based terminal walkthroughs over the same
//! engine the Lessons screen is meant to use: the step's text, then its check
//! re-evaluated every refresh until it passes, whether the student acts in
//! another terminal or asks for "show me".

use crate::app::lessons::LessonsState;
use crate::cli::{Cli, DemoArgs, LearnArgs, LessonsAction, LessonsArgs};
use crate::lessons::catalog::{self, Entry};
use crate::lessons::cond::Outcome;
use crate::lessons::context::LiveContext;
use crate::lessons::lesson::{Lesson, Step};
use crate::lessons::progress::{self, Progress};
use crate::lessons::runner::Runner;
use crate::lessons::{check_step, render};
use crate::sys::procs::ProcReader;
use crate::text::escape;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

pub fn lessons(cli: &Cli, a: &LessonsArgs) -> anyhow::Result<i32> {
    match &a.action {
        LessonsAction::Lint { files } => lint(a.dir.as_deref(), files),
        LessonsAction::List => list(a.dir.as_deref()),
        LessonsAction::Check { lesson, step } => check(cli, a.dir.as_deref(), lesson, *step),
    }
}

fn lint(dir: Option<&Path>, files: &[PathBuf]) -> anyhow::Result<i32> {
    let entries: Vec<Entry> = if files.is_empty() {
        catalog::load(dir)?
    } else {
        files.iter().map(|f| Entry::from_file(f)).collect()
    };
    let mut bad = 0;
    for entry in &entries {
        let name = entry.source();
        match &entry.lesson {
            Ok(lesson) => println!("{name}: ok, {} steps", lesson.steps.len()),
            Err(errors) => {
                bad += 1;
                for e in errors {
                    match e.line {
                        0 => println!("{name}: {}", escape(&e.message)),
                        n => println!("{name}:{n}: {}", escape(&e.message)),
                    }
                }
            }
        }
    }
    if bad > 0 {
        eprintln!(
            "isolab: {bad} of {} lesson files have errors",
            entries.len()
        );
        return Ok(1);
    }
    Ok(0)
}

fn list(dir: Option<&Path>) -> anyhow::Result<i32> {
    let entries = catalog::load(dir)?;
    let (progress, note) = Progress::load(&progress::default_path());
    if let Some(note) = note {
        eprintln!("isolab: {note}");
    }
    for entry in &entries {
        match &entry.lesson {
            Ok(lesson) => {
                let done = progress.step_of(&entry.id).min(lesson.steps.len());
                let mark = if done == lesson.steps.len() {
                    "done"
                } else {
                    ""
                };
                println!(
                    "{:<28} {:>2}/{:<2} {:<5} {}",
                    escape(&entry.id),
                    done,
                    lesson.steps.len(),
                    mark,
                    escape(&lesson.title)
                );
            }
            Err(errors) => {
                let first = errors.first().map(|e| e.to_string()).unwrap_or_default();
                println!(
                    "{:<28}  BROKEN    {}{}",
                    escape(&entry.id),
                    escape(&first),
                    if errors.len() > 1 {
                        format!(
                            " (and {} more; run `isolab lessons lint`)",
                            errors.len() - 1
                        )
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
    Ok(0)
}

/// A lesson opened from the command line, and where it comes from.
struct Opened {
    id: String,
    lesson: Lesson,
    /// `None`: shipped with isolab. A file: its commands are shown and run
    /// only with `--trust` (see [`refuse_foreign`]).
    path: Option<PathBuf>,
}

fn open(dir: Option<&Path>, name: &str) -> anyhow::Result<Opened> {
    let entries = catalog::load_for(dir, Some(name))?;
    let Some(entry) = catalog::find(&entries, name) else {
        let ids: Vec<String> = entries.iter().map(|e| escape(&e.id).into_owned()).collect();
        return crate::usage(format!(
            "no lesson \"{}\"; the lessons are: {}",
            escape(name),
            ids.join(", ")
        ));
    };
    match &entry.lesson {
        Ok(l) => Ok(Opened {
            id: entry.id.clone(),
            lesson: l.clone(),
            path: entry.path.clone(),
        }),
        Err(errors) => {
            let text: Vec<String> = errors
                .iter()
                .map(|e| escape(&e.to_string()).into_owned())
                .collect();
            anyhow::bail!(
                "the lesson {} has errors and cannot be opened:\n  {}",
                entry.source(),
                text.join("\n  ")
            )
        }
    }
}

/// Why a command of a foreign lesson is not run headless (`None`: run it).
/// Shipped lessons and `--trust` run; the command has been shown already.
fn refuse_foreign(path: Option<&Path>, trust: bool) -> Option<String> {
    let path = path.filter(|_| !trust)?;
    Some(format!(
        "not run: {} is not a lesson shipped with isolab, and its commands run as {}; \
         read it, then run the command yourself, or start again with --trust",
        crate::text::escape_os(path.as_os_str()),
        if nix::unistd::geteuid().is_root() {
            "root"
        } else {
            "you"
        }
    ))
}

/// Where a shown command comes from, for foreign lessons.
fn from_file(path: Option<&Path>) -> String {
    path.map(|p| format!(" (from {})", crate::text::escape_os(p.as_os_str())))
        .unwrap_or_default()
}

fn check(cli: &Cli, dir: Option<&Path>, name: &str, step: usize) -> anyhow::Result<i32> {
    let Opened { id, lesson, .. } = open(dir, name)?;
    let id = escape(&id).into_owned();
    if step == 0 || step > lesson.steps.len() {
        return crate::usage(format!(
            "lesson {id} has steps 1 to {}, not {step}",
            lesson.steps.len()
        ));
    }
    let ctx = LiveContext::read(&cli.proc_root)?;
    match check_step(&lesson.steps[step - 1], &ctx) {
        Outcome::Pass => {
            println!(
                "pass: {id} step {step}: {}",
                escape(&lesson.steps[step - 1].title)
            );
            Ok(0)
        }
        Outcome::NotYet(reason) => {
            println!("not yet: {}", escape(&reason));
            Ok(1)
        }
    }
}

/// Keys typed on stdin (one line each), read on their own thread so the
/// check keeps refreshing while nobody types.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if tx.send(line.trim().to_string()).is_err() {
                break;
            }
        }
    });
    rx
}

fn show_step(id: &str, index: usize, lesson: &Lesson, step: &Step, color: bool) {
    let (bold, reset) = if color {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    println!();
    println!(
        "{bold}{} — step {}/{}: {}{reset}",
        escape(&lesson.title),
        index + 1,
        lesson.steps.len(),
        escape(&step.title)
    );
    println!("{}", "─".repeat(72));
    print!("{}", render::step_text(step, 72, color));
    let mut keys = vec!["Enter: check now", "n: next", "b: back", "q: quit"];
    if step.hint.is_some() {
        keys.insert(0, "h: hint");
    }
    if step.action.is_some() {
        keys.insert(0, "s: show me");
    }
    println!("[{}] {}", escape(id), keys.join(" · "));
}

/// Stops what an earlier, crashed isolab started (its registry records).
fn remove_leftovers() {
    let stopped = crate::lessons::runner::remove_leftovers(Path::new("/proc"));
    if stopped > 0 {
        eprintln!(
            "isolab: stopped {stopped} processes an earlier, crashed lesson or demo had started"
        );
    }
}

/// The TUI when both ends are a terminal; the line-based walkthrough when
/// driven by a pipe (scripts, tests).
fn interactive_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

fn docker_usable() -> bool {
    std::process::Command::new("docker")
        .arg("info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn learn(cli: &Cli, a: &LearnArgs) -> anyhow::Result<i32> {
    let path = progress::default_path();
    if a.reset {
        if path.exists() {
            std::fs::remove_file(&path)
                .map_err(|e| anyhow::anyhow!("removing {}: {e}", path.display()))?;
        }
        println!("Progress forgotten; every lesson starts from its first step.");
        if a.lesson.is_none() {
            return Ok(0);
        }
    }
    remove_leftovers();
    let (mut progress, note) = Progress::load(&path);
    if let Some(note) = note {
        eprintln!("isolab: {note}");
    }
    let name = match &a.lesson {
        Some(n) => n.clone(),
        None => {
            // Resume: the first lesson not finished.
            let entries = catalog::load_for(a.dir.as_deref(), None)?;
            let next = entries.iter().find(|e| match &e.lesson {
                Ok(l) => progress.step_of(&e.id) < l.steps.len(),
                Err(_) => false,
            });
            match next {
                Some(e) => e.id.clone(),
                None => {
                    println!("Every lesson is done. `isolab learn --reset` starts over.");
                    return Ok(0);
                }
            }
        }
    };
    if interactive_terminal() {
        let entries = catalog::load_for(a.dir.as_deref(), Some(&name))?;
        let found = catalog::find(&entries, &name).map(|e| e.id.clone());
        let index = entries.iter().position(|e| Some(&e.id) == found.as_ref());
        if index.is_none() {
            open(a.dir.as_deref(), &name)?;
        }
        let state = LessonsState::new(entries, progress, path, false);
        let open_at = if a.lesson.is_some() { index } else { None };
        let mut state = state;
        state.trust = a.trust;
        state.selected = index.unwrap_or(0);
        return crate::app::lessons::run(
            &cli.proc_root,
            Duration::from_secs_f64(cli.interval),
            state,
            open_at,
        );
    }
    let Opened {
        id,
        lesson,
        path: source,
    } = open(a.dir.as_deref(), &name)?;
    let color = cli.use_color;
    let mut reader = ProcReader::new(&cli.proc_root)?;
    let mut runner = Runner::for_current_exe();
    let keys = stdin_lines();
    let mut index = progress
        .step_of(&id)
        .min(lesson.steps.len().saturating_sub(1));
    let interval = Duration::from_secs_f64(cli.interval);
    let docker = docker_usable();
    let mut shown = usize::MAX;
    let mut last_reason = String::new();
    loop {
        let step = &lesson.steps[index];
        if shown != index {
            show_step(&id, index, &lesson, step, color);
            if step.needs.as_deref() == Some("docker") && !docker {
                println!("(optional: Docker is not usable here; press n to skip)");
            }
            shown = index;
            last_reason.clear();
        }
        let outcome = if step.check.is_some() {
            check_step(step, &LiveContext::from_reader(&mut reader)?)
        } else {
            Outcome::NotYet("a reading step: press n when done".into())
        };
        let mut advance = false;
        match outcome {
            Outcome::Pass => {
                println!("✔ done: {}", escape(&step.title));
                advance = true;
            }
            Outcome::NotYet(reason) => {
                if reason != last_reason {
                    println!("… {}", escape(&reason));
                    last_reason = reason;
                }
            }
        }
        if !advance {
            match keys.recv_timeout(interval) {
                Ok(key) => match key.as_str() {
                    "h" => println!(
                        "hint: {}",
                        escape(step.hint.as_deref().unwrap_or("this step has no hint"))
                    ),
                    "s" => match &step.action {
                        Some(action) => {
                            println!(
                                "show me: {}{}",
                                escape(&action.command),
                                from_file(source.as_deref())
                            );
                            if let Some(why) = refuse_foreign(source.as_deref(), a.trust) {
                                println!("{why}");
                            } else if let Err(e) = runner.perform(action) {
                                println!("that did not work: {}", escape(&format!("{e:#}")));
                            }
                        }
                        None => println!("this step has nothing to show"),
                    },
                    "n" => advance = true,
                    "b" => {
                        index = index.saturating_sub(1);
                        progress.set_step(&id, index);
                        progress.save(&path)?;
                    }
                    "q" => break,
                    _ => last_reason.clear(),
                },
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        if advance {
            index += 1;
            progress.set_step(&id, index);
            progress.save(&path)?;
            if index >= lesson.steps.len() {
                println!(
                    "\nLesson {} complete: {}",
                    escape(&id),
                    escape(&lesson.title)
                );
                break;
            }
        }
    }
    if runner.started_count() > 0 {
        println!(
            "Stopping the {} processes \"show me\" started.",
            runner.started_count()
        );
    }
    runner.stop_all();
    Ok(0)
}

/// `isolab demo`: each Enter performs the next step's action and waits for
/// its check to turn green; `b` back, `R` resets what the demo created.
pub fn demo(cli: &Cli, a: &DemoArgs) -> anyhow::Result<i32> {
    let Opened {
        id,
        lesson,
        path: source,
    } = open(a.dir.as_deref(), &a.lesson)?;
    remove_leftovers();
    if interactive_terminal() {
        let entries = catalog::load_for(a.dir.as_deref(), Some(&a.lesson))?;
        let index = entries.iter().position(|e| e.id == id);
        let mut state =
            LessonsState::new(entries, Progress::default(), progress::default_path(), true);
        state.trust = a.trust;
        // The TUI's worker stops everything the demo started on the way out.
        return crate::app::lessons::run(
            &cli.proc_root,
            Duration::from_secs_f64(cli.interval),
            state,
            index,
        );
    }
    let color = cli.use_color;
    let (green, bold, reset) = if color {
        ("\x1b[1;32m", "\x1b[1m", "\x1b[0m")
    } else {
        ("", "", "")
    };
    let mut reader = ProcReader::new(&cli.proc_root)?;
    let mut runner = Runner::for_current_exe();
    let keys = stdin_lines();
    let mut index = 0;
    println!(
        "{bold}DEMO  {}{reset}",
        escape(&lesson.title.to_uppercase())
    );
    println!("Enter: next step · b: back · R: reset · q: quit");
    loop {
        let Some(step) = lesson.steps.get(index) else {
            println!("{bold}END OF DEMO{reset} (R resets, q quits)");
            match keys.recv() {
                Ok(k) if k == "R" => {
                    reset_demo(&mut runner, &lesson, source.as_deref(), a.trust);
                    index = 0;
                    continue;
                }
                Ok(k) if k == "b" => {
                    index = index.saturating_sub(1);
                    continue;
                }
                _ => break,
            }
        };
        println!();
        println!(
            "{bold}{}/{}  {}{reset}",
            index + 1,
            lesson.steps.len(),
            escape(&step.title.to_uppercase())
        );
        if let Some(action) = &step.action {
            println!(
                "  $ {}{}",
                escape(&action.command),
                from_file(source.as_deref())
            );
        }
        match keys.recv() {
            Ok(k) if k == "q" => break,
            Ok(k) if k == "b" => {
                index = index.saturating_sub(1);
                continue;
            }
            Ok(k) if k == "R" => {
                reset_demo(&mut runner, &lesson, source.as_deref(), a.trust);
                index = 0;
                continue;
            }
            Ok(_) => {}
            Err(_) => break,
        }
        if let Some(action) = &step.action {
            if let Some(why) = refuse_foreign(source.as_deref(), a.trust) {
                println!("  {why}");
                index += 1;
                continue;
            }
            if let Err(e) = runner.perform(action) {
                println!("  FAILED: {}", escape(&format!("{e:#}")));
            }
            // Wait for the kernel to show the effect (bounded).
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            loop {
                match check_step(step, &LiveContext::from_reader(&mut reader)?) {
                    Outcome::Pass => {
                        println!("  {green}✔ PASS{reset}");
                        break;
                    }
                    Outcome::NotYet(reason) if std::time::Instant::now() >= deadline => {
                        println!("  ✘ NOT YET: {}", escape(&reason));
                        break;
                    }
                    Outcome::NotYet(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        }
        index += 1;
    }
    let _ = id;
    reset_demo(&mut runner, &lesson, source.as_deref(), a.trust);
    let _ = std::io::stdout().flush();
    Ok(0)
}

fn reset_demo(runner: &mut Runner, lesson: &Lesson, source: Option<&Path>, trust: bool) {
    runner.stop_all();
    for line in &lesson.cleanup {
        if let Some(why) = refuse_foreign(source, trust) {
            println!("cleanup: {}{}\n  {why}", escape(line), from_file(source));
            continue;
        }
        if let Some(msg) = runner.run_cleanup(line) {
            eprintln!("isolab: {}", escape(&msg));
        }
    }
    println!("(reset: everything the demo started is stopped)");
}
