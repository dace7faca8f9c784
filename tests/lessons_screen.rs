//! Snapshots of the Lessons screen and the demo layout (TestBackend), from
//! plain state: the list with progress and a broken file, a step with its
//! live pane and a "not yet" reason, the hint, and the demo at 80x24.

mod common;
use isolab::app::lessons::{LessonsState, LiveRow, View};
use isolab::lessons::catalog::Entry;
use isolab::lessons::cond::Outcome;
use isolab::lessons::progress::Progress;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const LESSON: &str = "lesson: Namespaces\nabout: One kind at a time.\n\nstep: A hostname of its own\nThe *UTS* namespace holds the hostname. Run:\n```\nunshare --uts sh -c 'hostname box; exec sleep 1'\n```\nhint: Use a second terminal.\nstart: unshare --uts sh -c 'hostname box; exec sleep 1'\ncheck: process where hostname = \"box\" and ns.uts != host.uts\n\nstep: Reading\nJust text with `code`.\n";

fn state(demo: bool) -> LessonsState {
    let entries = vec![
        Entry::from_text("01-ns", None, LESSON),
        Entry::from_text(
            "02-broken",
            None,
            "lesson: X\nstep: S\ncheck: process where\n",
        ),
    ];
    let mut progress = Progress::default();
    progress.set_step("01-ns", 1);
    LessonsState::new(entries, progress, "/nonexistent/progress.json".into(), demo)
}

fn draw(s: &LessonsState, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| isolab::app::lessons::view::render(f, s))
        .unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn on_step(s: &mut LessonsState) {
    s.view = View::Step;
    s.lesson = Some(0);
    s.step = 0;
    s.rows = vec![LiveRow {
        pid: 4242,
        nspid: "4242".into(),
        hostname: "myhost".into(),
        command: "sleep 1".into(),
        own_ns: "uts".into(),
    }];
}

#[test]
fn list_with_progress_and_a_broken_file() {
    let s = state(false);
    let text = draw(&s, 80, 24);
    assert!(text.contains(" 1/2  Namespaces"), "{text}");
    assert!(text.contains("BROKEN 02-broken"), "{text}");
    insta::assert_snapshot!(text);
}

#[test]
fn step_with_live_pane_and_reason() {
    let mut s = state(false);
    on_step(&mut s);
    s.outcome = Some(Outcome::NotYet(
        "no process with the hostname `box` and with its own UTS namespace yet".into(),
    ));
    let text = draw(&s, 100, 30);
    assert!(text.contains("Step 1/2: A hostname of its own"), "{text}");
    assert!(
        text.contains("PID 4242") && text.contains("own ns: uts"),
        "{text}"
    );
    assert!(
        text.contains("not yet: no process with the hostname `box`"),
        "{text}"
    );
    insta::assert_snapshot!(text);
    s.show_hint = true;
    let text = draw(&s, 100, 30);
    assert!(text.contains("hint: Use a second terminal."), "{text}");
}

#[test]
fn demo_at_80x24_waiting_then_green() {
    let mut s = state(true);
    on_step(&mut s);
    s.outcome = Some(Outcome::NotYet("no `box` yet".into()));
    let waiting = draw(&s, 80, 24);
    assert!(waiting.contains("WAITING"), "{waiting}");
    assert!(waiting.contains("$ unshare --uts"), "{waiting}");
    insta::assert_snapshot!("demo_waiting", waiting);
    s.outcome = Some(Outcome::Pass);
    s.passed.push(0);
    let green = draw(&s, 80, 24);
    assert!(green.contains("✔ PASS"), "{green}");
    insta::assert_snapshot!("demo_pass", green);
}
