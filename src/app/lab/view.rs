//! The namespace Lab screen: checklist and options on the left, the
//! equivalent commands and the steps on the right, the inside-vs-outside
//! table below once the child runs. Renders `LabState` only; no IO.

use super::state::{LabState, ROWS, Row};
use crate::sys::ns::NsKind;
use crate::sys::spawn::{self, Actor};
use crate::text::{escape, escape_command};
use crate::ui::theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row as TableRow, Table, Wrap};

fn dim() -> Style {
    theme::current().dim
}

pub fn render(f: &mut Frame, area: Rect, lab: &LabState) {
    let table_height = if lab.compare.is_empty() && lab.exited.is_none() {
        0
    } else {
        (lab.compare.len() as u16 + 3).min(area.height / 2)
    };
    let [top, table, keys] = Layout::vertical([
        Constraint::Min(8),
        Constraint::Length(table_height),
        Constraint::Length(1),
    ])
    .areas(area);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);
    checklist(f, left, lab);
    let [equiv, steps] = Layout::vertical([Constraint::Length(8), Constraint::Min(3)]).areas(right);
    equivalents(f, equiv, lab);
    step_list(f, steps, lab);
    if table_height > 0 {
        compare_table(f, table, lab);
    }
    key_line(f, keys, lab);
}

fn checklist(f: &mut Frame, area: Rect, lab: &LabState) {
    let mut lines = Vec::new();
    for (i, row) in ROWS.iter().enumerate() {
        let selected = i == lab.cursor && !lab.spawned();
        let base = if selected {
            theme::current().selected
        } else {
            Style::new()
        };
        let line = match *row {
            Row::Ns(kind) => {
                let on = lab.namespaces.contains(&kind);
                Line::from(vec![
                    Span::styled(
                        format!("[{}] {:<7}", if on { "x" } else { " " }, kind.proc_name()),
                        if on {
                            base.patch(theme::current().ok).add_modifier(Modifier::BOLD)
                        } else {
                            base
                        },
                    ),
                    Span::styled(
                        format!(" {}", spawn::explain_kind(kind)),
                        base.patch(theme::current().quiet),
                    ),
                ])
            }
            option => {
                let value = match (option, &lab.editing) {
                    (_, Some(text)) if selected => format!("{}█", escape(text)),
                    (Row::Hostname, _) => escape(&lab.hostname).into_owned(),
                    (Row::RootFs, _) => escape(&lab.rootfs).into_owned(),
                    (Row::Memory, _) if lab.memory.is_empty() => "(no limit)".into(),
                    (Row::Memory, _) => escape(&lab.memory).into_owned(),
                    (Row::Command, _) if lab.command.is_empty() => {
                        "(isolab init: reaps, waits)".into()
                    }
                    (Row::Command, _) => escape(&lab.command).into_owned(),
                    (Row::Ns(_), _) => String::new(),
                };
                let note = match option {
                    Row::Hostname if !lab.namespaces.contains(&NsKind::Uts) => " (needs uts)",
                    Row::Memory => " (a cgroup)",
                    _ => "",
                };
                Line::from(vec![
                    Span::styled(
                        format!("    {:<9}", option.label()),
                        base.patch(theme::current().accent),
                    ),
                    Span::styled(value, base),
                    Span::styled(note, dim()),
                ])
            }
        };
        lines.push(line);
        if i == 7 {
            lines.push(Line::from(""));
        }
    }
    if let (true, Row::Ns(kind)) = (lab.show_long, lab.row()) {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            spawn::explain_kind_long(kind),
            theme::current().warn,
        )));
    }
    if lab.rootless && !lab.namespaces.contains(&NsKind::User) && !lab.namespaces.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled(
            "not root: tick user first; the other namespaces then need no privilege",
            theme::current().warn,
        )));
    }
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::new()
                .borders(Borders::ALL)
                .title(" Namespaces & options "),
        ),
        area,
    );
}

fn equivalents(f: &mut Frame, area: Rect, lab: &LabState) {
    let lines = match lab.plan() {
        Ok(plan) => {
            let (docker, notes) = plan.docker_command();
            let mut v = vec![
                Line::from(Span::raw(
                    escape_command(&plan.unshare_command()).into_owned(),
                )),
                Line::from(Span::raw(escape_command(&docker).into_owned())),
                Line::from(vec![
                    Span::styled("clone flags: ", dim()),
                    Span::raw(plan.clone_flags_text()),
                ]),
            ];
            if let Some(n) = notes.first() {
                v.push(Line::from(Span::styled(
                    format!("        ({})", escape(n)),
                    dim(),
                )));
            }
            v
        }
        Err(e) => vec![Line::from(Span::styled(
            escape(&e).into_owned(),
            theme::current().error,
        ))],
    };
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::new().borders(Borders::ALL).title(" Equivalent ")),
        area,
    );
}

fn step_list(f: &mut Frame, area: Rect, lab: &LabState) {
    let steps = lab.steps();
    let done = lab.reports.len();
    let mut lines = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let (mark, style, detail) = match lab.reports.get(i) {
            Some(r) => match &r.outcome {
                // Details quote paths, names and kernel errors: escaped.
                Ok(d) => ("✓", theme::current().ok, escape(d).into_owned()),
                Err(e) => ("✗", theme::current().error, escape(e).into_owned()),
            },
            None if i == done && lab.spawned() => ("▶", theme::current().warn, String::new()),
            None => (" ", dim(), String::new()),
        };
        let actor = match step.actor {
            Actor::Parent => "isolab",
            Actor::Setup => "setup ",
            Actor::Child => "child ",
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark} {:>2} {actor} ", i + 1), style),
            Span::styled(
                escape(&step.syscall).into_owned(),
                style.add_modifier(Modifier::BOLD),
            ),
        ]));
        let effect = if detail.is_empty() {
            escape(&step.effect).into_owned()
        } else {
            format!("{} [{detail}]", escape(&step.effect))
        };
        lines.push(Line::from(Span::styled(
            format!("            {effect}"),
            style,
        )));
    }
    if let Some(outcome) = lab.exited {
        lines.push(Line::from(Span::styled(
            format!("the child ended: {outcome:?} (x removes what is left)"),
            theme::current().warn,
        )));
    }
    // Keep the current step in view.
    let height = area.height.saturating_sub(2) as usize;
    let focus = (done.min(steps.len())) * 2 + 2;
    let skip = focus.saturating_sub(height);
    let lines: Vec<Line> = lines.into_iter().skip(skip).collect();
    let title = match lab.child_pid() {
        Some(pid) => format!(" Steps · child PID {pid} "),
        None => " Steps ".to_string(),
    };
    f.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::ALL).title(title)),
        area,
    );
}

fn compare_table(f: &mut Frame, area: Rect, lab: &LabState) {
    let rows = lab.compare.iter().map(|r| {
        let (verdict, style) = if r.same() {
            ("same", dim())
        } else {
            (
                "DIFFERENT",
                theme::current().warn.add_modifier(Modifier::BOLD),
            )
        };
        TableRow::new(vec![
            Cell::from(r.what),
            Cell::from(r.kind.proc_name()),
            // The child sets its hostname, mounts and names itself.
            Cell::from(escape(&r.outside).into_owned()),
            Cell::from(escape(&r.inside).into_owned()),
            Cell::from(verdict).style(style),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Length(11),
            Constraint::Length(6),
            Constraint::Percentage(40),
            Constraint::Percentage(40),
            Constraint::Length(9),
        ],
    )
    .header(
        TableRow::new(vec!["what", "ns", "outside (host)", "inside (child)", ""])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    .block(
        Block::new()
            .borders(Borders::ALL)
            .title(" Inside vs outside (u: refresh) "),
    );
    f.render_widget(table, area);
}

fn key_line(f: &mut Frame, area: Rect, lab: &LabState) {
    let hints: &[(&str, &str)] = if lab.editing.is_some() {
        &[("Enter", "save "), ("Esc", "cancel")]
    } else if lab.spawned() {
        &[
            ("Space", "next step "),
            ("r", "run the rest "),
            ("e", "enter child "),
            ("u", "refresh "),
            ("x", "stop & remove "),
        ]
    } else {
        &[
            ("↑↓", "move "),
            ("Space", "toggle/edit "),
            ("Enter", "spawn step by step "),
            ("r", "spawn at once "),
            ("i", "explain "),
        ]
    };
    let mut spans = Vec::new();
    for (k, what) in hints {
        spans.push(Span::styled(*k, theme::current().key));
        spans.push(Span::raw(*what));
    }
    if let Some((error, msg)) = &lab.message {
        let style = if *error {
            theme::current().alert
        } else {
            theme::current().accent
        };
        spans.push(Span::styled(format!(" {}", escape(msg)), style));
    }
    f.render_widget(Line::from(spans), area);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sys::inside::CompareRow;
    use crate::sys::spawn::{Plan, StepReport};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn draw(lab: &LabState, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(f, f.area(), lab)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..h {
            for x in 0..w {
                out.push_str(buf[(x, y)].symbol());
            }
            out.push('\n');
        }
        out
    }

    fn lab_pid_mnt_uts() -> LabState {
        LabState {
            namespaces: vec![NsKind::Pid, NsKind::Mnt, NsKind::Uts],
            // Same picture for root and for a user running the tests.
            rootless: false,
            ..LabState::default()
        }
    }

    #[test]
    fn checklist_and_equivalents() {
        let screen = draw(&lab_pid_mnt_uts(), 160, 40);
        insta::assert_snapshot!("lab_checklist", screen);
        assert!(screen.contains("[x] pid"));
        assert!(screen.contains("[ ] net"));
        assert!(screen.contains("unshare --fork --pid --mount --uts --mount-proc"));
        assert!(screen.contains("CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS"));
        assert!(screen.contains("pivot_root") || screen.contains("mount(\"proc\""));
    }

    #[test]
    fn steps_and_table_after_a_spawn() {
        let mut lab = lab_pid_mnt_uts();
        let mut plan: Plan = lab.plan().unwrap();
        plan.normalize();
        let steps = spawn::steps(&plan);
        lab.reports = steps
            .iter()
            .take(4)
            .enumerate()
            .map(|(index, step)| StepReport {
                index,
                step: step.clone(),
                outcome: Ok(if index == 0 {
                    "setup process is PID 4242".into()
                } else {
                    String::new()
                }),
            })
            .collect();
        lab.compare = vec![
            CompareRow {
                what: "hostname",
                kind: NsKind::Uts,
                outside: "host-vm".into(),
                inside: "lab".into(),
            },
            CompareRow {
                what: "interfaces",
                kind: NsKind::Net,
                outside: "lo eth0".into(),
                inside: "lo eth0".into(),
            },
        ];
        let screen = draw(&lab, 160, 40);
        insta::assert_snapshot!("lab_steps_table", screen);
        assert!(screen.contains("✓  1 isolab clone(SIGCHLD)"));
        assert!(screen.contains("DIFFERENT"));
        assert!(screen.contains("same"));
    }

    #[test]
    fn rootless_is_told_to_tick_user_first() {
        let lab = LabState {
            rootless: true,
            ..lab_pid_mnt_uts()
        };
        assert!(draw(&lab, 160, 40).contains("not root: tick user first"));
    }

    #[test]
    fn small_terminal_does_not_panic() {
        let _ = draw(&lab_pid_mnt_uts(), 60, 15);
    }
}
