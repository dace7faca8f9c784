//! Drawing the whole frame: the tab line, the active screen's body (each
//! screen draws itself through its `view.rs`), the status line and the
//! help overlay, or the "too small" message. Only renders from `App` — no
//! IO — and records where it drew (`App::drawn`) for the mouse and for
//! paging the help; testable with ratatui's TestBackend (`ui/
//! snapshot_tests.rs`). The pieces every view shares (theme, `centered`,
//! the help overlay) are in `ui/`, which knows nothing of `App`.

use crate::app::{App, Level};
use crate::text::escape;
use crate::ui::{help, theme};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

/// Below this the screens cannot be laid out sensibly; we say so instead.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

/// Draws the whole terminal: tabs, the active screen, the status line and
/// the help overlay; or the "too small" message. A full-screen app
/// (`App::full_screen`) is its one screen on the whole terminal.
pub fn render(f: &mut Frame, app: &App) {
    let area = f.area();
    if app.full_screen {
        // `isolab learn`, the demo: the screen draws everything itself.
        app.drawn.tab_line.set(Rect::default());
        app.drawn.tabs.borrow_mut().clear();
        app.active_screen().render(f, area, &app.shared);
        theme::finish(f.buffer_mut());
        return;
    }
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        // No tabs drawn: none to click.
        app.drawn.tab_line.set(Rect::default());
        app.drawn.tabs.borrow_mut().clear();
        too_small(f, area);
        theme::finish(f.buffer_mut());
        return;
    }
    let [top, body, bottom] = frame_areas(area);
    app.drawn.help_page.set(help::visible_lines(body));
    tabs(f, top, app);
    app.active_screen().render(f, body, &app.shared);
    status_line(f, bottom, app);
    if app.help {
        help::render(f, body, &app.help_sections(), app.help_scroll);
    }
    theme::finish(f.buffer_mut());
}

/// The tab line, the screen body and the status line.
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
            .style(theme::current().warn),
        area,
    );
}

const BRAND: &str = " isolab ";

/// The label of tab `i` (1-based number and title).
fn tab_label(i: usize, title: &str) -> String {
    format!(" {} {} ", i + 1, title)
}

/// The tab line; records which columns each tab covers (for clicks).
fn tabs(f: &mut Frame, area: Rect, app: &App) {
    let mut spans = vec![Span::styled(BRAND, theme::current().brand)];
    let mut drawn = app.drawn.tabs.borrow_mut();
    drawn.clear();
    let mut x = area.x as usize + BRAND.chars().count();
    for (i, s) in app.screens().iter().enumerate() {
        let style = if i == app.active {
            theme::current().tab_active
        } else {
            Style::new()
        };
        let gap = theme::current().tab_gap;
        let label = tab_label(i, s.title());
        let w = label.chars().count();
        x += gap;
        drawn.push(clamp_u16(x)..clamp_u16(x + w));
        x += w;
        spans.push(Span::raw(" ".repeat(gap)));
        spans.push(Span::styled(label, style));
    }
    drop(drawn);
    app.drawn.tab_line.set(area);
    let p = &app.shared.processes;
    let info = format!(
        "  {} processes · every {:.1}s{}",
        p.snap.procs.len() - p.gone.len(),
        app.shared.interval.as_secs_f64(),
        if p.follow {
            format!(" · FOLLOW {}", p.selected_pid.unwrap_or_default())
        } else {
            String::new()
        }
    );
    spans.push(Span::styled(info, theme::current().dim));
    f.render_widget(Line::from(spans), area);
}

fn status_line(f: &mut Frame, area: Rect, app: &App) {
    let screen = app.active_screen();
    let line = if let Some((label, text)) = screen.prompt(&app.shared) {
        Line::from(vec![
            Span::styled(label, theme::current().badge_warn),
            Span::raw(format!(" {}█  (Enter: find, Esc: cancel)", escape(&text))),
        ])
    } else if let Some((level, msg)) = &app.shared.status {
        let style = match level {
            Level::Info => theme::current().accent,
            Level::Error => theme::current().alert,
        };
        // Messages quote names and paths (an error about a file, the
        // command a shell ran): escaped, like the CLI's.
        Line::from(Span::styled(format!(" {} ", escape(msg)), style))
    } else {
        Line::from(
            screen
                .hints()
                .iter()
                .flat_map(|&(k, what)| [Span::styled(k, theme::current().key), Span::raw(what)])
                .collect::<Vec<_>>(),
        )
    };
    f.render_widget(line, area);
}

fn clamp_u16(x: usize) -> u16 {
    x.min(u16::MAX as usize) as u16
}
