//! The help overlay: every key, drawn from the key tables the dispatchers
//! use (`App::help_sections`), so it cannot drift from behaviour.

use crate::app::keys::{HelpSection, compact_digits};
use crate::ui::centered;
use crate::ui::theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

pub fn render(f: &mut Frame, body: Rect, sections: &[HelpSection], scroll: usize) {
    let key_style = theme::current().accent.add_modifier(Modifier::BOLD);
    let title_style = theme::current().heading;
    let mut lines: Vec<Line> = Vec::new();
    for s in sections {
        lines.push(Line::styled(format!(" {}", s.title), title_style));
        for (keys, what) in &s.lines {
            lines.push(Line::from(vec![
                Span::styled(format!("   {:<16}", compact_digits(keys)), key_style),
                Span::raw(*what),
            ]));
        }
    }
    lines.push(Line::styled(
        " any key closes this help",
        theme::current().dim,
    ));
    let area = centered(body, 80, lines.len() as u16 + 2);
    let scroll = scroll.min(lines.len().saturating_sub(visible_lines(body)));
    let title = if lines.len() > visible_lines(body) {
        format!(
            " isolab keys ({}-{} of {}, ↑↓ scroll) ",
            scroll + 1,
            (scroll + visible_lines(body)).min(lines.len()),
            lines.len()
        )
    } else {
        " isolab keys ".to_string()
    };
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines)
            .scroll((scroll.min(u16::MAX as usize) as u16, 0))
            .block(
                Block::bordered()
                    .title(title)
                    .border_style(theme::current().accent),
            ),
        area,
    );
}

/// How many help lines fit in the screen body (inside the border).
pub fn visible_lines(body: Rect) -> usize {
    body.height.saturating_sub(2) as usize
}
