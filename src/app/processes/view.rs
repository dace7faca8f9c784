//! The Processes screen: the live tree (or flat list) with `ps axjf`
//! columns, a detail pane for the selected process, and the namespace
//! comparison of two processes. Only the visible rows are formatted.

use super::state::ProcessesState;
use crate::app::model::{ProcessModel, View};
use crate::cli::Column;
use crate::sys::container::Runtime;
use crate::sys::ns::{NsKind, NsSet};
use crate::sys::procs::{Process, format_cpu_time};
use crate::sys::tree;
use crate::text::escape;
use crate::ui::theme;
use crate::ui::{centered, human_bytes};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// One-letter marks for the ISOL column, in `NsKind::ISOLATING` order.
const NS_LETTERS: [char; 8] = ['p', 'm', 'n', 'i', 'u', 'U', 'c', 't'];

fn split(body: Rect, show_detail: bool) -> (Rect, Option<Rect>) {
    if !show_detail {
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

/// Where the process rows go in `body` (below the header line), with or
/// without the detail pane.
pub fn list_rows_area(body: Rect, show_detail: bool) -> Rect {
    let (list, _) = split(body, show_detail);
    Rect::new(
        list.x,
        list.y + 1,
        list.width,
        list.height.saturating_sub(1),
    )
}

/// The columns `ps axjf` users know, widest set first. Without
/// `--columns` the screen shows the set its width allows; with it, the
/// columns asked for, in that order, as many as fit beside COMMAND.
const WIDE: &[Column] = &[
    Column::Ppid,
    Column::Pid,
    Column::Pgid,
    Column::Sid,
    Column::Tty,
    Column::Stat,
    Column::User,
    Column::Time,
    Column::Cpu,
    Column::Rss,
    Column::Isol,
    Column::Container,
];
/// All of `ps axjf`'s columns plus CPU% and ISOL (no RSS, CONTAINER).
const AXJF: &[Column] = &[
    Column::Ppid,
    Column::Pid,
    Column::Pgid,
    Column::Sid,
    Column::Tty,
    Column::Stat,
    Column::User,
    Column::Time,
    Column::Cpu,
    Column::Isol,
];
const MEDIUM: &[Column] = &[
    Column::Ppid,
    Column::Pid,
    Column::Stat,
    Column::User,
    Column::Time,
    Column::Cpu,
    Column::Isol,
];
const NARROW: &[Column] = &[Column::Pid, Column::Stat, Column::Cpu];

/// COMMAND keeps at least this many cells when columns are asked for.
const COMMAND_MIN: usize = 20;

/// The columns drawn at width `w`.
fn columns_for(w: u16, asked: Option<&[Column]>) -> Vec<Column> {
    if let Some(asked) = asked {
        let mut used = 0;
        let fit: Vec<Column> = asked
            .iter()
            .copied()
            .take_while(|c| {
                used += spec(*c).0 + 1;
                used + COMMAND_MIN <= w as usize
            })
            .collect();
        // The first asked-for column always shows, even on a tiny screen.
        return if fit.is_empty() {
            asked[..asked.len().min(1)].to_vec()
        } else {
            fit
        };
    }
    match w {
        130.. => WIDE,
        110.. => AXJF,
        76.. => MEDIUM,
        _ => NARROW,
    }
    .to_vec()
}

/// Width, right-aligned, header label.
fn spec(c: Column) -> (usize, bool, &'static str) {
    match c {
        Column::Ppid => (6, true, "PPID"),
        Column::Pid => (7, true, "PID"),
        Column::Pgid => (7, true, "PGID"),
        Column::Sid => (7, true, "SID"),
        Column::Tty => (7, false, "TTY"),
        Column::Stat => (5, false, "STAT"),
        Column::User => (8, false, "USER"),
        Column::Time => (7, true, "TIME"),
        Column::Cpu => (5, true, "CPU%"),
        Column::Rss => (9, true, "RSS"),
        Column::Isol => (8, false, "ISOL"),
        Column::Container => (19, false, "CONTAINER"),
    }
}

/// Appends `text` padded to column `c`'s width, then a space.
fn push_cell(line: &mut String, c: Column, text: &str) {
    use std::fmt::Write;
    let (width, right, _) = spec(c);
    let _ = if right {
        write!(line, "{text:>width$} ")
    } else {
        write!(line, "{text:<width$} ")
    };
}

fn header(columns: &[Column]) -> String {
    let mut line = String::new();
    for &c in columns {
        push_cell(&mut line, c, spec(c).2);
    }
    line.push_str("COMMAND");
    line
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

/// Runtime names short enough that `name:` plus a 12-character id fits
/// the CONTAINER column (the detail pane spells them out).
fn column_runtime(r: Runtime) -> &'static str {
    match r {
        Runtime::Containerd => "ctrd",
        Runtime::Kubernetes => "k8s",
        other => other.name(),
    }
}

fn row_text(p: &Process, art: &str, columns: &[Column], s: &ProcessModel) -> String {
    let mut line = String::with_capacity(128);
    for &c in columns {
        let cell: String = match c {
            Column::Ppid => p.ppid.to_string(),
            Column::Pid => p.pid.to_string(),
            Column::Pgid => p.pgid.to_string(),
            Column::Sid => p.sid.to_string(),
            Column::Tty => escape(&p.tty).into_owned(),
            Column::Stat => p.stat_column().to_string(),
            Column::User => p
                .facts
                .uid
                .map(|u| escape(&s.users.name(u)).into_owned())
                .unwrap_or_else(|| "—".into())
                .chars()
                .take(8)
                .collect(),
            Column::Time => format_cpu_time(p.cpu_ticks, s.snap.ticks_per_sec),
            Column::Cpu => format!("{:.1}", p.cpu_percent),
            Column::Rss => human_bytes(p.rss_bytes),
            Column::Isol => isolation_marks(&p.facts.ns, &s.host.ns),
            Column::Container => p
                .facts
                .container
                .as_ref()
                .map(|c| format!("{}:{}", column_runtime(c.runtime), escape(c.short_id())))
                .unwrap_or_else(|| "-".into())
                .chars()
                .take(19)
                .collect(),
        };
        push_cell(&mut line, c, &cell);
    }
    // Names and argv are the process's own choice (`exec -a`, a renamed
    // binary): escaped, as ps does, so they cannot forge or hide anything.
    let marked = if s.mark == Some(p.pid) { "*" } else { "" };
    line.push_str(marked);
    line.push_str(art);
    line.push_str(&escape(&p.command()));
    line
}

/// Draws the screen from the shared model `s` and the screen's own state
/// `v`, and records in `v` where the rows went (page size, clicks).
pub fn render(f: &mut Frame, body: Rect, v: &ProcessesState, s: &ProcessModel) {
    let rows = list_rows_area(body, v.show_detail);
    v.list_rows.set(rows);
    v.set_page(rows.height as usize, s);
    let (list, detail) = split(body, v.show_detail);
    render_list(f, list, v.scroll.get(), v.columns.as_deref(), s);
    if let Some(d) = detail {
        render_detail(f, d, s);
    }
    if v.compare {
        render_compare(f, body, s);
    }
}

/// Deep trees would push the command off the screen: past half the
/// command column, the art keeps its last levels behind a depth count
/// (`[12]|   \_ `).
fn fit_art(art: &str, depth: usize, command_width: usize) -> std::borrow::Cow<'_, str> {
    let len = art.chars().count();
    let budget = command_width / 2;
    if len <= budget || budget < 12 {
        return art.into();
    }
    let label = format!("[{depth}]");
    let keep = budget.saturating_sub(label.len());
    let tail: String = art.chars().skip(len - keep).collect();
    format!("{label}{tail}").into()
}

fn render_list(
    f: &mut Frame,
    area: Rect,
    scroll: usize,
    asked: Option<&[Column]>,
    s: &ProcessModel,
) {
    let columns = columns_for(area.width, asked);
    let mut title = header(&columns);
    if s.view == View::Flat {
        title.push_str(&format!("  [flat by {}]", s.sort.label()));
    }
    let mut lines = Vec::with_capacity(area.height as usize);
    lines.push(Line::styled(
        format!("{title:<width$}", width = area.width as usize),
        theme::current().badge_ok,
    ));
    let visible = area.height.saturating_sub(1) as usize;
    let command_width =
        (area.width as usize).saturating_sub(header(&columns).len() - "COMMAND".len());
    let t = theme::current();
    for (i, row) in s.rows.iter().enumerate().skip(scroll).take(visible) {
        let p = &s.snap.procs[row.index];
        let fold = if row.collapsed { "[+]" } else { "" };
        let oom = s.oom_killed.contains(&p.pid);
        let killed = if oom { "[OOM-killed] " } else { "" };
        let art = format!(
            "{}{fold}{killed}",
            fit_art(&row.art, row.depth, command_width)
        );
        let mut style = Style::new();
        if oom {
            style = t.alert.add_modifier(Modifier::BOLD);
        } else if s.gone.contains(&p.pid) {
            style = t.error.add_modifier(Modifier::CROSSED_OUT);
        } else if s.is_new(p.pid) {
            style = t.ok.add_modifier(Modifier::BOLD);
        } else if p.is_kernel_thread() {
            style = t.dim;
        }
        if i == s.selected {
            style = style.patch(t.selected);
        }
        let text = row_text(p, &art, &columns, s);
        lines.push(Line::styled(text, style));
    }
    if s.rows.is_empty() {
        lines.push(Line::raw("  reading /proc …"));
    }
    f.render_widget(Paragraph::new(lines), area);
}

fn key_value(k: &str, v: impl Into<String>) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("{k:<10}"), theme::current().accent),
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
pub fn detail_lines(p: &Process, s: &ProcessModel) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let gone = if s.oom_killed.contains(&p.pid) {
        "  (killed by the OOM killer: its memory cgroup hit the limit)"
    } else if s.gone.contains(&p.pid) {
        "  (exited)"
    } else {
        ""
    };
    out.push(Line::styled(
        format!("PID {} · {}{gone}", p.pid, escape(&p.facts.comm)),
        Style::new().add_modifier(Modifier::BOLD),
    ));
    out.push(key_value("command", escape(&p.command())));
    out.push(key_value(
        "state",
        format!("{} ({})", p.stat_column(), state_name(p.state)),
    ));
    let user = match p.facts.uid {
        Some(u) => format!("{} ({u})", escape(&s.users.name(u))),
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
            let comm = s
                .snap
                .get(pid)
                .map(|q| q.facts.comm.as_str())
                .unwrap_or("?");
            format!("{pid} {}", escape(comm))
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
    if let Some(c) = &p.facts.container {
        let mut v = format!("{} {}", c.runtime.name(), escape(c.short_id()));
        if let Some(pod) = &c.pod {
            v.push_str(&format!(" · pod {}", escape(pod)));
        }
        if let Some(q) = &c.qos {
            v.push_str(&format!(" ({})", escape(q)));
        }
        out.push(key_value("container", v));
    }
    out.push(key_value("NSpid", nspid_words(p)));
    out.push(Line::styled(
        format!("namespaces (≠ differs from {})", short_label(&s.host.label)),
        theme::current().warn,
    ));
    for kind in NsKind::ALL {
        let (id, mark, style) = match (p.facts.ns.get(kind), s.host.ns.get(kind)) {
            (Some(a), Some(b)) if a != b => (
                a.to_string(),
                "≠ own",
                theme::current().special.add_modifier(Modifier::BOLD),
            ),
            (Some(a), _) => (a.to_string(), "  host", Style::new()),
            (None, _) => ("—".to_string(), "", theme::current().dim),
        };
        out.push(Line::styled(
            format!("  {:<18} {id:<12} {mark}", kind.proc_name()),
            style,
        ));
    }
    out.push(Line::styled("cgroups", theme::current().heading));
    if p.facts.cgroups.is_empty() {
        out.push(Line::raw("  —"));
    }
    for c in &p.facts.cgroups {
        let what = if c.is_v2() {
            "v2 unified".to_string()
        } else {
            format!("v1 {}", escape(&c.controllers.join(",")))
        };
        out.push(Line::raw(format!("  {what:<18} {}", escape(&c.path))));
    }
    for u in &p.facts.unreadable {
        out.push(Line::styled(
            format!("{}: — {}", u.what, escape(&u.reason)),
            theme::current().error,
        ));
    }
    out
}

/// The detail pane when the full one does not fit (a short terminal):
/// namespaces summed up in one line, unreadable parts before cgroups.
pub fn compact_detail_lines(p: &Process, s: &ProcessModel) -> Vec<Line<'static>> {
    let full = detail_lines(p, s);
    // Keep the head of the full pane: title, command, state, user,
    // threads, started, parents, container, NSpid (up to the ns header).
    let head = full
        .iter()
        .take_while(|l| {
            !l.spans
                .iter()
                .any(|sp| sp.content.starts_with("namespaces"))
        })
        .cloned();
    let label_is = |l: &Line, k: &str| l.spans.first().is_some_and(|sp| sp.content.trim() == k);
    let mut out: Vec<Line<'static>> = head
        .filter(|l| !label_is(l, "user") && !label_is(l, "threads"))
        .map(|l| {
            if label_is(&l, "state") {
                let user = match p.facts.uid {
                    Some(u) => format!("{} ({u})", escape(&s.users.name(u))),
                    None => "—".into(),
                };
                key_value(
                    "state",
                    format!(
                        "{} ({}) · user {user} · {} thr · RSS {}",
                        p.stat_column(),
                        state_name(p.state),
                        p.threads,
                        human_bytes(p.rss_bytes)
                    ),
                )
            } else {
                l
            }
        })
        .collect();
    let differing: Vec<&str> = NsKind::ALL
        .into_iter()
        .filter(|&k| matches!((p.facts.ns.get(k), s.host.ns.get(k)), (Some(a), Some(b)) if a != b))
        .map(NsKind::proc_name)
        .collect();
    let known = NsKind::ALL
        .iter()
        .filter(|&&k| p.facts.ns.get(k).is_some())
        .count();
    let summary = if known == 0 {
        "— unreadable".to_string()
    } else if differing.is_empty() {
        format!("all shared with {}", short_label(&s.host.label))
    } else {
        format!("≠ {}: {}", short_label(&s.host.label), differing.join(" "))
    };
    out.push(key_value("ns", summary));
    for u in &p.facts.unreadable {
        out.push(Line::styled(
            format!("{}: — {}", u.what, escape(&u.reason)),
            theme::current().error,
        ));
    }
    let cgroups: Vec<String> = p
        .facts
        .cgroups
        .iter()
        .map(|c| {
            let v = if c.is_v2() { "v2" } else { "v1" };
            format!("{v} {}", escape(&c.path))
        })
        .collect();
    out.push(key_value(
        "cgroups",
        if cgroups.is_empty() {
            "—".into()
        } else {
            cgroups.join(" · ")
        },
    ));
    out.push(Line::styled(
        "(d hides this pane; a taller terminal shows every id)",
        theme::current().dim,
    ));
    out
}

fn short_label(label: &str) -> &str {
    label.split(" (").next().unwrap_or(label)
}

/// NSpid in words: "host PID 4123 is PID 1 in its container".
pub fn nspid_words(p: &Process) -> String {
    match p.facts.nspid.as_slice() {
        [] => "—".into(),
        [_] => format!("{} (host PID namespace)", p.pid),
        [outer, .., inner] => {
            let all: Vec<String> = p.facts.nspid.iter().map(|n| n.to_string()).collect();
            format!(
                "host PID {outer} is PID {inner} in its container ({})",
                all.join(" → ")
            )
        }
    }
}

fn render_detail(f: &mut Frame, area: Rect, s: &ProcessModel) {
    let block = Block::new()
        .borders(Borders::LEFT | Borders::TOP)
        .title(" detail ")
        .border_style(theme::current().dim);
    let room = area.height.saturating_sub(1) as usize;
    let lines = match s.selected_process() {
        Some(p) => {
            let full = detail_lines(p, s);
            if full.len() <= room {
                full
            } else {
                compact_detail_lines(p, s)
            }
        }
        None => vec![Line::raw("no process selected")],
    };
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

fn render_compare(f: &mut Frame, body: Rect, s: &ProcessModel) {
    let (Some(a), Some(b)) = (s.marked_process(), s.selected_process()) else {
        return;
    };
    let area = centered(body, 76, 16);
    let mut lines = vec![Line::styled(
        format!(
            "{:<18} {:<20} {:<20} ",
            "namespace",
            format!("{} {}", a.pid, escape(&a.facts.comm)),
            format!("{} {}", b.pid, escape(&b.facts.comm))
        ),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    let mut shared = 0;
    for kind in NsKind::ALL {
        let show = |x: Option<u64>| x.map(|v| v.to_string()).unwrap_or_else(|| "—".into());
        let (x, y) = (a.facts.ns.get(kind), b.facts.ns.get(kind));
        let (verdict, style) = match (x, y) {
            (Some(x), Some(y)) if x == y => {
                shared += 1;
                ("shared", theme::current().ok)
            }
            (Some(_), Some(_)) => ("separate", theme::current().special),
            _ => ("unknown", theme::current().dim),
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
                .border_style(theme::current().accent),
        ),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_tree_art_is_shortened_behind_a_depth_count() {
        let art = format!("{}\\_ ", " |  ".repeat(30));
        assert_eq!(fit_art(&art, 31, 300), art.as_str(), "fits: untouched");
        let short = fit_art(&art, 31, 60);
        assert!(
            short.starts_with("[31]") && short.ends_with("\\_ "),
            "{short}"
        );
        assert_eq!(short.chars().count(), 30);
        assert_eq!(fit_art(" \\_ ", 1, 10), " \\_ ", "tiny column: untouched");
    }

    #[test]
    fn every_runtime_label_and_a_hex_id_fit_the_container_column() {
        use Runtime::*;
        for r in [
            Docker, Podman, Containerd, CriO, Kubernetes, Lxc, Nspawn, Isolab,
        ] {
            assert!(column_runtime(r).len() + 1 + 12 <= 19, "{r:?}");
        }
    }

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
