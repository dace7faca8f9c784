//! The Memory screen: the selected process's cgroups explained, its memory
//! cgroup's numbers, a live graph of usage against the limit with OOM kills
//! marked, and the limit editor. Renders `MemoryState` only: no IO.

use super::state::{Dialog, MemoryState, WINDOW_SECS};
use crate::sys::cgroup::{CgroupVersion, Limit, MemoryStats, human_bytes};
use crate::text::{escape, escape_os};
use crate::ui::theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Clear, Dataset, GraphType, Paragraph, Wrap};

const MIB: f64 = (1u64 << 20) as f64;

pub fn render(f: &mut Frame, area: Rect, m: &MemoryState) {
    let info_h = if area.height >= 30 { 12 } else { 8 }.min(area.height / 2);
    let [info, graph, bottom] = Layout::vertical([
        Constraint::Length(info_h),
        Constraint::Min(4),
        Constraint::Length(2),
    ])
    .areas(area);
    let [numbers, groups] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(info);
    render_numbers(f, numbers, m);
    render_cgroups(f, groups, m);
    render_graph(f, graph, m);
    render_bottom(f, bottom, m);
    if let Dialog::Confirm { limit, dir } = &m.dialog {
        let popup = crate::ui::centered(area, 72, 9);
        f.render_widget(Clear, popup);
        let text = vec![
            Line::styled(
                "This cgroup was not created by isolab. It is LIVE:",
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Line::raw(escape_os(dir.as_os_str()).into_owned()),
            Line::raw(format!(
                "Every process in it gets the new limit {limit} at once; \
                 too low and the kernel refuses or the OOM killer strikes."
            )),
            Line::styled(
                "Change it anyway?  y: yes   n/Esc: no",
                theme::current().warn,
            ),
        ];
        f.render_widget(
            Paragraph::new(text).wrap(Wrap { trim: true }).block(
                Block::bordered()
                    .title(" change a live cgroup? ")
                    .border_style(theme::current().error),
            ),
            popup,
        );
    }
}

fn limit_text(l: Option<Limit>) -> String {
    match l {
        Some(Limit::Bytes(b)) => human_bytes(b),
        Some(Limit::Max) => "max".to_string(),
        None => "—".to_string(),
    }
}

fn stat_lines(s: &MemoryStats) -> Vec<Line<'static>> {
    let key = |k: &str| Span::styled(format!("{k:<9}"), theme::current().accent);
    let mut lines = vec![
        Line::from(vec![key("usage"), Span::raw(human_bytes(s.usage))]),
        Line::from(vec![key("limit"), Span::raw(limit_text(Some(s.limit)))]),
        Line::from(vec![
            key("peak"),
            Span::raw(s.peak.map(human_bytes).unwrap_or_else(|| "—".into())),
        ]),
    ];
    if let Some(f) = s.failcnt {
        lines.push(Line::from(vec![
            key("failcnt"),
            Span::raw(format!("{f} (limit hits)")),
        ]));
    }
    if let Some(e) = s.events {
        lines.push(Line::from(vec![
            key("events"),
            Span::raw(format!(
                "low {} high {} max {} oom {}",
                e.low, e.high, e.max, e.oom
            )),
        ]));
    }
    let kills = s.oom_kills.unwrap_or(0);
    lines.push(Line::from(vec![
        key("oom kill"),
        Span::styled(
            kills.to_string(),
            if kills > 0 {
                theme::current().error.add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            },
        ),
    ]));
    match s.version {
        CgroupVersion::V1 => {
            if s.swap_limit.is_some() {
                lines.push(Line::from(vec![
                    key("swap"),
                    Span::raw(format!(
                        "{} (mem+swap limit {})",
                        s.swap_usage.map(human_bytes).unwrap_or_else(|| "—".into()),
                        limit_text(s.swap_limit)
                    )),
                ]));
            }
        }
        CgroupVersion::V2 => {
            if s.swap_usage.is_some() {
                lines.push(Line::from(vec![
                    key("swap"),
                    Span::raw(format!(
                        "{} (limit {})",
                        s.swap_usage.map(human_bytes).unwrap_or_else(|| "—".into()),
                        limit_text(s.swap_limit)
                    )),
                ]));
            }
            lines.push(Line::from(vec![
                key("high/low"),
                Span::raw(format!(
                    "{} / {} / min {}",
                    limit_text(s.high),
                    limit_text(s.low),
                    limit_text(s.min)
                )),
            ]));
        }
    }
    lines
}

fn render_numbers(f: &mut Frame, area: Rect, m: &MemoryState) {
    let title = match m.pid {
        // The comm, cgroup paths and messages quoting them are others'
        // choice: escaped, like `isolab cgroup`.
        Some(pid) => format!(" memory · PID {pid} {} ", escape(&m.comm)),
        None => " memory · no process selected ".to_string(),
    };
    let mut lines = Vec::new();
    if let Some(dir) = &m.dir {
        let owner = if m.created_by_isolab() {
            Span::styled("isolab's cgroup", theme::current().ok)
        } else {
            Span::styled("live cgroup, not isolab's", theme::current().warn)
        };
        let version = m
            .stats
            .as_ref()
            .map(|s| s.version.to_string())
            .unwrap_or_default();
        lines.push(Line::from(vec![Span::raw(format!("{version} ")), owner]));
        lines.push(Line::styled(
            escape_os(dir.as_os_str()).into_owned(),
            theme::current().dim,
        ));
    }
    match (&m.stats, &m.error) {
        (Some(s), _) => lines.extend(stat_lines(s)),
        (None, Some(e)) => lines.push(Line::styled(escape(e).into_owned(), theme::current().warn)),
        (None, None) => lines.push(Line::raw("reading…")),
    }
    f.render_widget(
        Paragraph::new(lines).block(Block::new().borders(Borders::TOP).title(title)),
        area,
    );
}

fn render_cgroups(f: &mut Frame, area: Rect, m: &MemoryState) {
    let mut lines = Vec::new();
    if let Some(r) = &m.report {
        lines.push(Line::styled(
            r.layout_explained.to_string(),
            theme::current().dim,
        ));
        for c in &r.cgroups {
            let head = format!(
                "{}:{}:{}",
                c.line.hierarchy,
                escape(&c.line.controllers.join(",")),
                escape(&c.line.path)
            );
            let style = if c.line.controllers.iter().any(|x| x == "memory")
                || (c.line.is_v2()
                    && r.memory
                        .as_ref()
                        .is_some_and(|mm| mm.hierarchy.version == CgroupVersion::V2))
            {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            lines.push(Line::from(vec![
                Span::styled(head, style),
                Span::styled(
                    format!("  {}", escape(&c.explanation)),
                    theme::current().dim,
                ),
            ]));
        }
    }
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(
            Block::new()
                .borders(Borders::TOP | Borders::LEFT)
                .title(" cgroups "),
        ),
        area,
    );
}

fn render_graph(f: &mut Frame, area: Rect, m: &MemoryState) {
    let Some(latest) = m.history.latest() else {
        f.render_widget(
            Paragraph::new("no samples yet").block(Block::bordered().title(" usage vs limit ")),
            area,
        );
        return;
    };
    let end = latest.at;
    let start = m
        .history
        .iter()
        .next()
        .map(|s| s.at)
        .unwrap_or(end)
        .max(end - WINDOW_SECS);
    let span = (end - start).max(10.0);
    let x0 = end - span;
    let in_window = |at: f64| at >= x0;
    let usage: Vec<(f64, f64)> = m
        .history
        .iter()
        .filter(|s| in_window(s.at))
        .map(|s| (s.at, s.usage as f64 / MIB))
        .collect();
    let limit: Vec<(f64, f64)> = m
        .history
        .iter()
        .filter(|s| in_window(s.at))
        .filter_map(|s| s.limit.map(|l| (s.at, l as f64 / MIB)))
        .collect();
    let ooms: Vec<(f64, f64)> = m
        .events
        .iter()
        .filter(|e| in_window(e.at))
        .map(|e| (e.at, e.usage as f64 / MIB))
        .collect();
    let top = usage
        .iter()
        .chain(limit.iter())
        .map(|p| p.1)
        .fold(1.0f64, f64::max)
        * 1.15;
    let mut datasets = vec![
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme::current().accent)
            .data(&usage),
    ];
    if !limit.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme::current().warn)
                .data(&limit),
        );
    }
    if !ooms.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Block)
                .graph_type(GraphType::Scatter)
                .style(theme::current().error.add_modifier(Modifier::BOLD))
                .data(&ooms),
        );
    }
    // The legend lives in the title: a legend box would cover the lines.
    let mut title = vec![
        Span::raw(" "),
        Span::styled("usage", theme::current().accent),
        Span::raw(" vs "),
        Span::styled(
            if latest.limit.is_none() {
                "limit (none)"
            } else {
                "limit"
            },
            theme::current().warn,
        ),
    ];
    if !ooms.is_empty() {
        title.push(Span::raw(" · "));
        title.push(Span::styled(
            format!("█ OOM kill ×{}", ooms.len()),
            theme::current().error.add_modifier(Modifier::BOLD),
        ));
    }
    title.push(Span::raw(format!(" · last {span:.0}s ")));
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(Line::from(title)))
        .legend_position(None)
        .x_axis(
            Axis::default()
                .bounds([x0, end])
                .labels([format!("-{span:.0}s"), "now".to_string()])
                .style(theme::current().dim),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .labels(["0".to_string(), format!("{:.0} MiB", top)])
                .style(theme::current().dim),
        );
    f.render_widget(chart, area);
}

fn render_bottom(f: &mut Frame, area: Rect, m: &MemoryState) {
    let [first, hints] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let line = match &m.dialog {
        Dialog::EditLimit { text, error } => {
            let mut spans = vec![
                Span::styled(" new limit: ", theme::current().badge_warn),
                Span::raw(format!(" {}█ ", escape(text))),
            ];
            match error {
                Some(e) => spans.push(Span::styled(escape(e).into_owned(), theme::current().error)),
                None => spans.push(Span::styled(
                    "64M, 1G, 512KiB, 1.5G, bytes or max · Enter: set · Esc: cancel",
                    theme::current().dim,
                )),
            }
            Line::from(spans)
        }
        _ => match &m.message {
            Some((true, msg)) => Line::styled(format!(" {}", escape(msg)), theme::current().ok),
            Some((false, msg)) => Line::styled(format!(" {}", escape(msg)), theme::current().error),
            None => Line::raw(""),
        },
    };
    f.render_widget(Paragraph::new(line), first);
    let hog = match &m.hog {
        Some(h) => match &h.ended {
            Some(how) => format!("hog {} {}", h.pid, escape(how)),
            None => format!("hog {} running", h.pid),
        },
        None => String::new(),
    };
    let key = |k: &'static str| Span::styled(k, theme::current().key);
    f.render_widget(
        Line::from(vec![
            key("L"),
            Span::raw(" limit  "),
            key("H"),
            Span::raw(" start hog  "),
            key("K"),
            Span::raw(" stop hog   "),
            Span::styled(hog, theme::current().special),
        ]),
        hints,
    );
}
