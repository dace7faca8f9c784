//! Lesson text is someone's text (issue 10, point 5, the lessons' part): a
//! title of `\e]0;pwned\a\e[2J` and a file name with a newline print as
//! visible escapes in `lessons list`, `lessons lint`, `demo` and `learn`, and
//! on the Lessons screen; no raw control character reaches the terminal.

mod common;
mod lessons_support;

use isolab::app::lessons::{LessonsState, View};
use isolab::lessons::catalog::Entry;
use isolab::lessons::progress::Progress;
use lessons_support::run_in;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const EVIL: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J";
const SHOWN: &str = "\\e]0;pwned\\x07\\e[2J";
/// The demo prints titles in capitals (the escapes are added after).
const SHOWN_UPPER: &str = "\\e]0;PWNED\\x07\\e[2J";

fn evil_lesson() -> String {
    format!(
        "lesson: Title {EVIL}\nabout: About {EVIL}\n\nstep: Step {EVIL}\nBody {EVIL} and `code {EVIL}`.\n```\nblock {EVIL}\n```\nhint: hint {EVIL}\n\nstep: Two\nText.\n"
    )
}

/// Output a terminal would show: no control characters but newlines.
fn assert_no_controls(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect();
    assert!(
        bad.is_empty(),
        "{what} printed raw control characters {bad:?}:\n{text:?}"
    );
}

#[test]
fn lesson_titles_and_names_print_escaped() {
    let cwd = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A newline in the file name would forge a line of the listing.
    let name = "01-a\nforged.lesson";
    std::fs::write(dir.path().join(name), evil_lesson()).unwrap();
    std::fs::write(
        dir.path().join("02-b\u{1b}[31m.lesson"),
        format!("lesson: B\nstep: S\ncheck: process where comm = \"{EVIL}\n"),
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();

    let ran = run_in(
        None,
        &["lessons", "list", "--dir", d],
        cwd.path(),
        "",
        state.path(),
    );
    assert_eq!(ran.code, Some(0), "{}", ran.err);
    assert_no_controls("lessons list", &ran.out);
    assert_eq!(ran.out.lines().count(), 2, "{}", ran.out);
    let first = ran.out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("01-a\\nforged") && first.contains(&format!("Title {SHOWN}")),
        "{}",
        ran.out
    );
    assert!(ran.out.contains("02-b\\e[31m"), "{}", ran.out);

    let ran = run_in(
        None,
        &["lessons", "lint", "--dir", d],
        cwd.path(),
        "",
        state.path(),
    );
    assert_no_controls("lessons lint", &ran.out);
    assert!(ran.out.contains("02-b\\e[31m.lesson:3:"), "{}", ran.out);

    let ran = run_in(
        None,
        &["demo", "01-a\nforged", "--dir", d],
        cwd.path(),
        "\nq\n",
        state.path(),
    );
    assert_eq!(ran.code, Some(0), "{}", ran.err);
    assert_no_controls("demo", &ran.out);
    assert!(
        ran.out.contains(&format!("DEMO  TITLE {}", SHOWN_UPPER)),
        "{}",
        ran.out
    );

    let ran = run_in(
        None,
        &["learn", "01-a\nforged", "--dir", d],
        cwd.path(),
        "h\nq\n",
        state.path(),
    );
    assert_eq!(ran.code, Some(0), "{}", ran.err);
    assert_no_controls("learn", &ran.out);
    for shown in [
        format!("Title {SHOWN} — step 1/2: Step {SHOWN}"),
        format!("Body {SHOWN}"),
        format!("code {SHOWN}"),
        format!("block {SHOWN}"),
        format!("hint: hint {SHOWN}"),
        "[01-a\\nforged]".to_string(),
    ] {
        assert!(ran.out.contains(&shown), "{shown:?} not in:\n{}", ran.out);
    }
}

fn draw(s: &LessonsState) -> String {
    let (w, h) = (120, 30);
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

#[test]
fn the_lessons_screen_shows_escapes_visibly() {
    for demo in [false, true] {
        let mut s = LessonsState::new(
            vec![Entry::from_text("01-a\nforged", None, &evil_lesson())],
            Progress::default(),
            "/nonexistent/progress.json".into(),
            demo,
        );
        let list = draw(&s);
        assert_no_controls("the list", &list);
        assert!(list.contains(&format!("Title {SHOWN}")), "{list}");
        assert!(list.contains(&format!("About {SHOWN}")), "{list}");
        s.view = View::Step;
        s.lesson = Some(0);
        s.show_hint = true;
        let step = draw(&s);
        assert_no_controls("the step", &step);
        if demo {
            assert!(step.contains(&format!("STEP {}", SHOWN_UPPER)), "{step}");
        } else {
            for shown in [
                format!("Step 1/2: Step {SHOWN}"),
                format!("Body {SHOWN}"),
                format!("block {SHOWN}"),
                format!("hint: hint {SHOWN}"),
                "[01-a\\nforged]".to_string(),
            ] {
                assert!(step.contains(&shown), "{shown:?} not in:\n{step}");
            }
        }
    }
}
