//! The Lessons screen and the demo's large-print layout. Render only: all
//! state comes from `LessonsState`.

use super::state::{Confirm, LessonsState, View};
use super::worker::LiveRow;
use crate::lessons::cond::Outcome;
use crate::lessons::lesson::{Block, Step};
use crate::lessons::render::{Style as TextStyle, spans};
use crate::ui::theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block as Frame_, Borders, Clear, Paragraph, Wrap};

/// Lesson text, file names and process names, made safe for the terminal.
/// ratatui drops control characters from a cell, which hides them rather
/// than shows them, and passes bidirectional marks through; visible escapes
/// show the text as it is, like the line-based commands do.
fn esc(s: &str) -> String {
    crate::text::escape(s).into_owned()
}

pub fn render(f: &mut Frame, s: &LessonsState) {
    render_in(f, f.area(), s);
    theme::finish(f.buffer_mut());
}

/// Draws into `area` only, so the main TUI can show the Lessons screen as
/// the body of a tab.
pub fn render_in(f: &mut Frame, area: Rect, s: &LessonsState) {
    if area.width < 40 || area.height < 12 {
        f.render_widget(
            Paragraph::new(format!(
                "terminal too small: need 40x12, have {}x{}",
                area.width, area.height
            ))
            .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    match (s.view, s.demo) {
        (View::List, _) => list(f, area, s),
        (View::Step, false) => step_view(f, area, s),
        (View::Step, true) => demo_view(f, area, s),
    }
    if let Some(c) = &s.confirm {
        confirm(f, area, c);
    }
}

/// The question before a command of a lesson file not shipped with isolab
/// runs: the file and the exact commands, over the screen.
fn confirm(f: &mut Frame, area: Rect, c: &Confirm) {
    let who = if nix::unistd::geteuid().is_root() {
        "as root"
    } else {
        "as you"
    };
    let mut lines = vec![
        Line::styled(
            "This lesson file is not shipped with isolab. Run its command?",
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Line::raw(format!(
            "file: {}",
            crate::text::escape_os(c.source.as_os_str())
        )),
        Line::raw(""),
    ];
    for cmd in &c.commands {
        lines.push(Line::styled(
            format!("$ {}", esc(cmd)),
            theme::current().accent,
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::from(vec![
        key("y"),
        Span::raw(format!("run it ({who})   ")),
        key("any other key"),
        Span::raw("do not run"),
    ]));
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = area.width.saturating_sub(4).min(90);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    f.render_widget(Clear, popup);
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Frame_::new()
                .borders(Borders::ALL)
                .title(" Run a command? ")
                .border_style(theme::current().warn),
        ),
        popup,
    );
}

fn key(k: &str) -> Span<'static> {
    Span::styled(format!(" {k} "), theme::current().key)
}

fn footer(f: &mut Frame, area: Rect, s: &LessonsState, keys: &[(&str, &str)]) {
    let line = match &s.message {
        Some(m) => Line::from(Span::styled(
            format!(" {} ", esc(m)),
            theme::current().accent,
        )),
        None => Line::from(
            keys.iter()
                .flat_map(|(k, what)| [key(k), Span::raw(format!("{what} "))])
                .collect::<Vec<_>>(),
        ),
    };
    f.render_widget(line, area);
}

fn list(f: &mut Frame, area: Rect, s: &LessonsState) {
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(
        Line::from(vec![
            Span::styled(" isolab ", theme::current().brand),
            Span::styled(
                " Lessons ",
                Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            ),
        ]),
        top,
    );
    let mut lines = Vec::new();
    for (i, e) in s.entries.iter().enumerate() {
        let marker = if i == s.selected { "▶ " } else { "  " };
        let style = if i == s.selected {
            theme::current().selected
        } else {
            Style::new()
        };
        let text = match &e.lesson {
            Ok(l) => {
                let done = s.progress.step_of(&e.id).min(l.steps.len());
                let tick = if done == l.steps.len() { "✔" } else { " " };
                format!(
                    "{marker}{tick} {:>2}/{:<2} {}",
                    done,
                    l.steps.len(),
                    esc(&l.title)
                )
            }
            Err(errs) => format!(
                "{marker}✘ BROKEN {} — {}",
                esc(&e.id),
                esc(&errs.first().map(|x| x.to_string()).unwrap_or_default())
            ),
        };
        lines.push(Line::styled(text, style));
        if let Ok(l) = &e.lesson
            && i == s.selected
            && !l.about.is_empty()
        {
            lines.push(Line::styled(
                format!("          {}", esc(&l.about)),
                theme::current().dim,
            ));
        }
    }
    f.render_widget(
        Paragraph::new(lines).block(Frame_::new().borders(Borders::ALL).title(" Lessons ")),
        body,
    );
    footer(
        f,
        bottom,
        s,
        &[("Enter", "Open "), ("↑↓", "Select "), ("q", "Quit")],
    );
}

/// The step's text as ratatui lines, `code` cyan and *emphasis* bold.
pub fn body_text(step: &Step) -> Text<'static> {
    let mut lines: Vec<Line> = Vec::new();
    for block in &step.body {
        match block {
            Block::Paragraph(p) => {
                let line: Vec<Span> = spans(p)
                    .into_iter()
                    .map(|(t, st)| match st {
                        TextStyle::Plain => Span::raw(esc(&t)),
                        TextStyle::Code => Span::styled(esc(&t), theme::current().accent),
                        TextStyle::Emphasis => {
                            Span::styled(esc(&t), Style::new().add_modifier(Modifier::BOLD))
                        }
                    })
                    .collect();
                lines.push(Line::from(line));
                lines.push(Line::raw(""));
            }
            Block::Code(code) => {
                for l in code {
                    lines.push(Line::styled(
                        format!("  {}", esc(l)),
                        theme::current().accent,
                    ));
                }
                lines.push(Line::raw(""));
            }
        }
    }
    Text::from(lines)
}

fn status_line(s: &LessonsState, step: &Step) -> Line<'static> {
    match (&s.outcome, step.check.is_some()) {
        (_, false) => Line::styled(
            "📖 a reading step: n when you are done",
            theme::current().accent,
        ),
        (None, true) => Line::styled("… checking", theme::current().dim),
        (Some(Outcome::Pass), true) => {
            Line::styled("✔ PASS", theme::current().ok.add_modifier(Modifier::BOLD))
        }
        (Some(Outcome::NotYet(why)), true) => Line::from(vec![
            Span::styled("○ not yet: ", theme::current().warn),
            Span::raw(esc(why)),
        ]),
    }
}

fn live_lines(rows: &[LiveRow], wide: bool) -> Vec<Line<'static>> {
    if rows.is_empty() {
        return vec![Line::styled(
            "no process matches the check yet",
            theme::current().dim,
        )];
    }
    let mut out = Vec::new();
    for r in rows {
        out.push(Line::from(vec![
            Span::styled(
                format!("PID {}", r.pid),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::raw(if r.nspid.contains('→') {
                format!("  (NSpid {})", r.nspid)
            } else {
                String::new()
            }),
        ]));
        out.push(Line::raw(format!("  host: {}", esc(&r.hostname))));
        if !r.own_ns.is_empty() {
            out.push(Line::styled(
                format!("  own ns: {}", r.own_ns),
                theme::current().special,
            ));
        }
        let cmd: String = esc(&r.command)
            .chars()
            .take(if wide { 60 } else { 34 })
            .collect();
        out.push(Line::styled(format!("  {cmd}"), theme::current().dim));
    }
    out
}

fn step_view(f: &mut Frame, area: Rect, s: &LessonsState) {
    let Some((id, lesson)) = s.current_lesson() else {
        return;
    };
    let Some(step) = s.current_step() else { return };
    let [top, body, status, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(
        Line::from(vec![
            Span::styled(" isolab ", theme::current().brand),
            Span::styled(
                format!(" {} ", esc(&lesson.title)),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!(" [{}]", esc(id)), theme::current().dim),
        ]),
        top,
    );
    let [text_area, live_area] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(body);
    let mut text = body_text(step);
    if s.show_hint {
        text.lines.push(Line::styled(
            format!(
                "hint: {}",
                esc(step.hint.as_deref().unwrap_or("this step has no hint"))
            ),
            theme::current().warn,
        ));
    }
    f.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(
            Frame_::new().borders(Borders::ALL).title(format!(
                " Step {}/{}: {} ",
                s.step + 1,
                lesson.steps.len(),
                esc(&step.title)
            )),
        ),
        text_area,
    );
    f.render_widget(
        Paragraph::new(live_lines(&s.rows, false))
            .wrap(Wrap { trim: false })
            .block(Frame_::new().borders(Borders::ALL).title(" Live ")),
        live_area,
    );
    f.render_widget(
        Paragraph::new(status_line(s, step)).wrap(Wrap { trim: true }),
        status,
    );
    let mut keys = vec![
        ("n", "Next "),
        ("b", "Back "),
        ("Esc", "Lessons "),
        ("q", "Quit"),
    ];
    if step.hint.is_some() {
        keys.insert(0, ("h", "Hint "));
    }
    if step.action.is_some() {
        keys.insert(0, ("s", "Show me "));
    }
    footer(f, bottom, s, &keys);
}

/// Large digits, three rows high, for the demo's step counter.
fn big(text: &str) -> [String; 3] {
    let glyph = |c: char| -> [&'static str; 3] {
        match c {
            '0' => ["█▀█", "█ █", "▀▀▀"],
            '1' => [" ▄█", "  █", "  ▀"],
            '2' => ["▀▀█", "█▀▀", "▀▀▀"],
            '3' => ["▀▀█", " ▀█", "▀▀▀"],
            '4' => ["█ █", "▀▀█", "  ▀"],
            '5' => ["█▀▀", "▀▀█", "▀▀▀"],
            '6' => ["█▀▀", "█▀█", "▀▀▀"],
            '7' => ["▀▀█", "  █", "  ▀"],
            '8' => ["█▀█", "█▀█", "▀▀▀"],
            '9' => ["█▀█", "▀▀█", "▀▀▀"],
            '/' => ["  █", " █ ", "█  "],
            _ => ["   ", "   ", "   "],
        }
    };
    let mut rows = [String::new(), String::new(), String::new()];
    for c in text.chars() {
        let g = glyph(c);
        for (row, part) in rows.iter_mut().zip(g) {
            row.push_str(part);
            row.push(' ');
        }
    }
    rows
}

fn demo_view(f: &mut Frame, area: Rect, s: &LessonsState) {
    let Some((_, lesson)) = s.current_lesson() else {
        return;
    };
    let Some(step) = s.current_step() else { return };
    let [head, title, command, verdict, live, bottom] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Length(2),
        Constraint::Length(4),
        Constraint::Length(3),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    let counter = big(&format!("{}/{}", s.step + 1, lesson.steps.len()));
    let mut head_lines: Vec<Line> = counter
        .iter()
        .map(|r| Line::styled(r.clone(), theme::current().accent))
        .collect();
    if let Some(first) = head_lines.first_mut() {
        first.spans.push(Span::styled(
            format!("   {}", esc(&lesson.title.to_uppercase())),
            theme::current().dim,
        ));
    }
    f.render_widget(Paragraph::new(head_lines), head);
    f.render_widget(
        Paragraph::new(Line::styled(
            esc(&step.title.to_uppercase()),
            Style::new().add_modifier(Modifier::BOLD),
        ))
        .wrap(Wrap { trim: true }),
        title,
    );
    let cmd = step
        .action
        .as_ref()
        .map(|a| format!("$ {}", esc(&a.command)))
        .unwrap_or_else(|| "(nothing to run: a talking point)".into());
    f.render_widget(
        Paragraph::new(Line::styled(cmd, theme::current().accent))
            .wrap(Wrap { trim: true })
            .block(Frame_::new().borders(Borders::ALL)),
        command,
    );
    let green = s.passed.contains(&s.step);
    let (text, style) = match (&s.outcome, step.check.is_some(), green) {
        (_, false, _) => ("  TALK  ".to_string(), theme::current().key),
        (_, true, true) => ("  ✔ PASS  ".to_string(), theme::current().badge_ok),
        (Some(Outcome::NotYet(why)), true, false) => (
            format!("  ○ WAITING  {}", esc(why)),
            theme::current().badge_warn,
        ),
        _ => ("  … checking".to_string(), theme::current().dim),
    };
    f.render_widget(
        Paragraph::new(Line::styled(text, style.add_modifier(Modifier::BOLD)))
            .wrap(Wrap { trim: true }),
        verdict,
    );
    f.render_widget(
        Paragraph::new(live_lines(&s.rows, true)).wrap(Wrap { trim: true }),
        live,
    );
    footer(
        f,
        bottom,
        s,
        &[
            ("SPACE", "Run/Next "),
            ("b", "Back "),
            ("R", "Reset "),
            ("q", "Quit"),
        ],
    );
}
