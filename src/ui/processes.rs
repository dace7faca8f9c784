//! The Processes screen: the live tree (or flat list) with `ps axjf`
//! columns, a detail pane for the selected process, and the namespace
//! comparison of two processes. Only the visible rows are formatted.

use crate::app::App;
use crate::app::state::{ProcessesState, View};
use crate::sys::ns::{NsKind, NsSet};
use crate::sys::procs::{Process, format_cpu_time};
use crate::sys::tree;
use crate::ui::{centered, frame_areas, human_bytes};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// One-letter marks for the ISOL column, in `NsKind::ISOLATING` order.
const NS_LETTERS: [char; 8] = ['p', 'm', 'n', 'i', 'u', 'U', 'c', 't'];

fn split(body: Rect, app: &App) -> (Rect, Option<Rect>) {
    if !app.processes.show_detail {
        return (body, None);
    }
    if body.width >= 140 {
        let [l, r] = Layout::horizontal([Constraint::Min(80), Constraint::Length(58)]).areas(body);
        (l, Some(r))
    } else if body.height >= 20 {
        let detail = (body.height / 2).min(18);
        let [t, b] = Layout::vertical([Constraint::Min(8), Constraint::Length(detail)]).areas(body);
        (t, Some(b))
    } else {
        (body, None)
    }
}

/// Where the process rows are drawn, given the whole terminal area (the
/// app uses it for the page size and to map mouse clicks to rows).
pub fn list_rows_area(area: Rect, app: &App) -> Rect {
    let [_, body, _] = frame_areas(area);
    let (list, _) = split(body, app);
    Rect::new(
        list.x,
        list.y + 1,
        list.width,
        list.height.saturating_sub(1),
    )
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Width {
    Narrow,
    Medium,
    Wide,
}

fn width_class(w: u16) -> Width {
    if w >= 118 {
        Width::Wide
    } else if w >= 76 {
        Width::Medium
    } else {
        Width::Narrow
    }
}

fn header(w: Width) -> String {
    match w {
        Width::Wide => format!(
            "{:>6} {:>7} {:>7} {:>7} {:<7} {:<5} {:<8} {:>7} {:>5} {:>9} {:<8} {:<14} COMMAND",
            "PPID",
            "PID",
            "PGID",
            "SID",
            "TTY",
            "STAT",
            "USER",
            "TIME",
            "CPU%",
            "RSS",
            "ISOL",
            "CONTAINER"
        ),
        Width::Medium => format!(
            "{:>6} {:>7} {:<5} {:<8} {:>7} {:>5} {:<8} COMMAND",
            "PPID", "PID", "STAT", "USER", "TIME", "CPU%", "ISOL"
        ),
        Width::Narrow => format!("{:>7} {:<5} {:>5} COMMAND", "PID", "STAT", "CPU%"),
    }
}

/// Letters for each namespace kind that differs from the host reference.
fn isolation_marks(ns: &NsSet, host: &NsSet) -> String {
    NsKind::ISOLATING
        .iter()
        .zip(NS_LETTERS)
        .map(|(&k, letter)| match (ns.get(k), host.get(k)) {
            (Some(a), Some(b)) if a != b => letter,
            (None, _) => '?',
            _ => '·',
        })
        .collect()
}

fn row_text(p: &Process, art: &str, w: Width, app: &App) -> String {
    let s = &app.processes;
    let user = p.uid.map(|u| s.users.name(u)).unwrap_or_else(|| "—".into());
    let user: String = user.chars().take(8).collect();
    let time = format_cpu_time(p.cpu_ticks, s.snap.ticks_per_sec);
    let cpu = format!("{:.1}", p.cpu_percent);
    let isol = isolation_marks(&p.ns, &s.host.ns);
    let marked = if s.mark == Some(p.pid) { "*" } else { "" };
    let command = format!("{marked}{art}{}", p.command());
    match w {
        Width::Wide => {
            let container = p
                .container
                .as_ref()
                .map(|c| format!("{}:{}", c.runtime.name(), c.short_id()))
                .unwrap_or_else(|| "-".into());
            let container: String = container.chars().take(14).collect();
            format!(
                "{:>6} {:>7} {:>7} {:>7} {:<7} {:<5} {:<8} {:>7} {:>5} {:>9} {:<8} {:<14} {command}",
                p.ppid,
                p.pid,
                p.pgid,
                p.sid,
                p.tty,
                p.stat_column(),
                user,
                time,
                cpu,
                human_bytes(p.rss_bytes),
                isol,
                container
            )
        }
        Width::Medium => format!(
            "{:>6} {:>7} {:<5} {:<8} {:>7} {:>5} {:<8} {command}",
            p.ppid,
            p.pid,
            p.stat_column(),
            user,
            time,
            cpu,
            isol
        ),
        Width::Narrow => format!("{:>7} {:<5} {:>5} {command}", p.pid, p.stat_column(), cpu),
    }
}

pub fn render(f: &mut Frame, body: Rect, app: &App) {
    let (list, detail) = split(body, app);
    render_list(f, list, app);
    if let Some(d) = detail {
        render_detail(f, d, app);
    }
    if app.processes.compare {
        render_compare(f, body, &app.processes);
    }
}

fn render_list(f: &mut Frame, area: Rect, app: &App) {
    let s = &app.processes;
    let w = width_class(area.width);
    let mut title = header(w);
    if s.view == View::Flat {
        title.push_str(&format!("   [flat, sorted by {}]", s.sort.label()));
    }
    let mut lines = Vec::with_capacity(area.height as usize);
    lines.push(Line::styled(
        format!("{title:<width$}", width = area.width as usize),
        Style::new().fg(Color::Black).bg(Color::Green),
    ));
    let visible = area.height.saturating_sub(1) as usize;
    for (i, row) in s.rows.iter().enumerate().skip(s.scroll).take(visible) {
        let p = &s.snap.procs[row.index];
        let fold = if row.collapsed { "[+]" } else { "" };
        let art = format!("{}{fold}", row.art);
        let mut style = Style::new();
        if s.gone.contains(&p.pid) {
            style = style.fg(Color::Red).add_modifier(Modifier::CROSSED_OUT);
        } else if s.is_new(p.pid) {
            style = style.fg(Color::Green).add_modifier(Modifier::BOLD);
        } else if p.is_kernel_thread() {
            style = style.fg(Color::DarkGray);
        }
        if i == s.selected {
            style = style.add_modifier(Modifier::REVERSED);
        }
        let text = row_text(p, &art, w, app);
        lines.push(Line::styled(text, style));
    }
    if s.rows.is_empty() {
        lines.push(Line::raw("  reading /proc …"));
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn key_value(k: &str, v: impl Into<String>) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:<10}"), Style::new().fg(Color::Cyan)),
        Span::raw(v.into()),
    ])
}

fn state_name(c: char) -> &'static str {
    match c {
        'R' => "running",
        'S' => "sleeping",
        'D' => "disk sleep",
        'Z' => "zombie",
        'T' => "stopped",
        't' => "traced",
        'I' => "idle",
        'X' => "dead",
        _ => "?",
    }
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC` (no time-zone
/// database needed; days-to-civil after Howard Hinnant's algorithm).
pub fn utc_time(secs: u64) -> String {
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The lines of the detail pane (also used by tests).
pub fn detail_lines(p: &Process, s: &ProcessesState) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let gone = if s.gone.contains(&p.pid) {
        "  (exited)"
    } else {
        ""
    };
    out.push(Line::styled(
        format!("PID {} · {}{gone}", p.pid, p.comm),
        Style::new().add_modifier(Modifier::BOLD),
    ));
    out.push(key_value("command", p.command()));
    out.push(key_value(
        "state",
        format!("{} ({})", p.stat_column(), state_name(p.state)),
    ));
    let user = match p.uid {
        Some(u) => format!("{} ({u})", s.users.name(u)),
        None => "—".into(),
    };
    out.push(key_value("user", user));
    out.push(key_value(
        "threads",
        format!(
            "{}   RSS {}   CPU {:.1}%",
            p.threads,
            human_bytes(p.rss_bytes),
            p.cpu_percent
        ),
    ));
    if s.snap.ticks_per_sec > 0 && s.snap.boot_time > 0 {
        let started = s.snap.boot_time + p.start_ticks / s.snap.ticks_per_sec;
        out.push(key_value("started", utc_time(started)));
    }
    let chain: Vec<String> = tree::ancestors(&s.snap, p.pid)
        .into_iter()
        .skip(1)
        .map(|pid| {
            let comm = s.snap.get(pid).map(|q| q.comm.as_str()).unwrap_or("?");
            format!("{pid} {comm}")
        })
        .collect();
    out.push(key_value(
        "parents",
        if chain.is_empty() {
            "— (a root of the tree)".into()
        } else {
            chain.join(" ← ")
        },
    ));
    if let Some(c) = &p.container {
        let mut v = format!("{} {}", c.runtime.name(), c.short_id());
        if let Some(pod) = &c.pod {
            v.push_str(&format!(" · pod {pod}"));
        }
        if let Some(q) = &c.qos {
            v.push_str(&format!(" ({q})"));
        }
        out.push(key_value("container", v));
    }
    out.push(key_value("NSpid", nspid_words(p)));
    out.push(Line::styled(
        format!("namespaces (≠ differs from {})", short_label(&s.host.label)),
        Style::new().fg(Color::Yellow),
    ));
    for kind in NsKind::ALL {
        let (id, mark, style) = match (p.ns.get(kind), s.host.ns.get(kind)) {
            (Some(a), Some(b)) if a != b => (
                a.to_string(),
                "≠ own",
                Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            ),
            (Some(a), _) => (a.to_string(), "  host", Style::new()),
            (None, _) => ("—".to_string(), "", Style::new().fg(Color::DarkGray)),
        };
        out.push(Line::styled(
            format!("  {:<18} {id:<12} {mark}", kind.proc_name()),
            style,
        ));
    }
    out.push(Line::styled("cgroups", Style::new().fg(Color::Yellow)));
    if p.cgroups.is_empty() {
        out.push(Line::raw("  —"));
    }
    for c in &p.cgroups {
        let what = if c.is_v2() {
            "v2 unified".to_string()
        } else {
            format!("v1 {}", c.controllers.join(","))
        };
        out.push(Line::raw(format!("  {what:<18} {}", c.path)));
    }
    for u in &p.unreadable {
        out.push(Line::styled(
            format!("{}: — {}", u.what, u.reason),
            Style::new().fg(Color::Red),
        ));
    }
    out
}

fn short_label(label: &str) -> &str {
    label.split(" (").next().unwrap_or(label)
}

/// NSpid in words: "host PID 4123 is PID 1 in its container".
pub fn nspid_words(p: &Process) -> String {
    match p.nspid.as_slice() {
        [] => "—".into(),
        [_] => format!("{} (host PID namespace)", p.pid),
        [outer, .., inner] => {
            let all: Vec<String> = p.nspid.iter().map(|n| n.to_string()).collect();
            format!(
                "host PID {outer} is PID {inner} in its container ({})",
                all.join(" → ")
            )
        }
    }
}

fn render_detail(f: &mut Frame, area: Rect, app: &App) {
    let block = Block::new()
        .borders(Borders::LEFT | Borders::TOP)
        .title(" detail ")
        .border_style(Style::new().fg(Color::DarkGray));
    let lines = match app.processes.selected_process() {
        Some(p) => detail_lines(p, &app.processes),
        None => vec![Line::raw("no process selected")],
    };
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn render_compare(f: &mut Frame, body: Rect, s: &ProcessesState) {
    let (Some(a), Some(b)) = (s.marked_process(), s.selected_process()) else {
        return;
    };
    let area = centered(body, 76, 16);
    let mut lines = vec![Line::styled(
        format!(
            "{:<18} {:<20} {:<20} ",
            "namespace",
            format!("{} {}", a.pid, a.comm),
            format!("{} {}", b.pid, b.comm)
        ),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    let mut shared = 0;
    for kind in NsKind::ALL {
        let show = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_else(|| "—".into());
        let (x, y) = (a.ns.get(kind), b.ns.get(kind));
        let (verdict, style) = match (x, y) {
            (Some(x), Some(y)) if x == y => {
                shared += 1;
                ("shared", Style::new().fg(Color::Green))
            }
            (Some(_), Some(_)) => ("separate", Style::new().fg(Color::Magenta)),
            _ => ("unknown", Style::new().fg(Color::DarkGray)),
        };
        lines.push(Line::styled(
            format!(
                "{:<18} {:<20} {:<20} {verdict}",
                kind.proc_name(),
                show(x),
                show(y)
            ),
            style,
        ));
    }
    lines.push(Line::raw(""));
    lines.push(Line::raw(format!(
        "{shared} of {} namespaces shared · Esc or c closes",
        NsKind::ALL.len()
    )));
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" compare namespaces ")
                .border_style(Style::new().fg(Color::Cyan)),
        ),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_is_correct() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_time(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn isolation_marks_show_differing_kinds() {
        let mut host = NsSet::default();
        let mut me = NsSet::default();
        for (i, k) in NsKind::ISOLATING.into_iter().enumerate() {
            host.set(k, Some(100 + i as u64));
            me.set(k, Some(100 + i as u64));
        }
        me.set(NsKind::Pid, Some(1));
        me.set(NsKind::Uts, Some(2));
        assert_eq!(isolation_marks(&me, &host), "p···u···");
    }
}
