//! Drawing. One file per screen; each only renders from `App` — no IO, no
//! state changes — so screens are testable with ratatui's TestBackend.

pub mod help;
pub mod memory;
pub mod processes;

use crate::app::state::Level;
use crate::app::{App, Screen};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

/// Below this the screens cannot be laid out sensibly; we say so instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

pub fn render(f: &mut Frame, app: &App) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(f, area);
        return;
    }
    let [top, body, bottom] = frame_areas(area);
    tabs(f, top, app);
    match app.screen {
        Screen::Processes => processes::render(f, body, app),
        Screen::Memory => memory::render(f, body, &app.memory),
    }
    status_line(f, bottom, app);
    if app.help {
        help::render(f, body);
    }
}

/// The title/tab line, the screen body and the status line.
pub fn frame_areas(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area)
}

fn too_small(f: &mut Frame, area: Rect) {
    let msg = format!(
        "terminal too small: need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{}",
        area.width, area.height
    );
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(msg)
            .wrap(Wrap { trim: true })
            .style(Style::new().fg(Color::Yellow)),
        area,
    );
}

fn tabs(f: &mut Frame, area: Rect, app: &App) {
    let mut spans = vec![Span::styled(
        " isolab ",
        Style::new()
            .fg(Color::Black)
            .bg(Color::Cyan)
            .add_modifier(Modifier::BOLD),
    )];
    for (i, s) in Screen::ALL.iter().enumerate() {
        let style = if *s == app.screen {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new()
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!(" {} {} ", i + 1, s.title()), style));
    }
    let p = &app.processes;
    let info = format!(
        "  {} processes · every {:.1}s{}",
        p.snap.procs.len() - p.gone.len(),
        app.interval.as_secs_f64(),
        if p.follow { " · FOLLOW" } else { "" }
    );
    spans.push(Span::styled(info, Style::new().fg(Color::DarkGray)));
    f.render_widget(Line::from(spans), area);
}

fn status_line(f: &mut Frame, area: Rect, app: &App) {
    use crate::app::state::Prompt;
    let line = if let Prompt::Search(q) = &app.processes.prompt {
        Line::from(vec![
            Span::styled("Search: ", Style::new().fg(Color::Black).bg(Color::Yellow)),
            Span::raw(format!(" {q}█  (Enter: find, Esc: cancel)")),
        ])
    } else if let Some((level, msg)) = &app.status {
        let style = match level {
            Level::Info => Style::new().fg(Color::Cyan),
            Level::Error => Style::new().fg(Color::White).bg(Color::Red),
        };
        Line::from(Span::styled(format!(" {msg} "), style))
    } else {
        let hint = |k: &'static str, what: &'static str| {
            [
                Span::styled(k, Style::new().fg(Color::Black).bg(Color::Cyan)),
                Span::raw(what),
            ]
        };
        Line::from(
            [
                hint("F1", "Help "),
                hint("F3", "Search "),
                hint("F5", "Tree/Flat "),
                hint("F6", "Sort "),
                hint("m", "Mark "),
                hint("c", "Compare "),
                hint("F10", "Quit"),
            ]
            .concat(),
        )
    };
    f.render_widget(line, area);
}

/// A rectangle of at most `w`x`h` centred in `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// Bytes in binary units, as htop shows them.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod snapshot_tests;
