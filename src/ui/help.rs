//! The help overlay: every key, drawn from the one binding table.

use crate::app::keys::{BINDINGS, key_name};
use crate::ui::centered;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

pub fn render(f: &mut Frame, body: Rect) {
    let mut lines: Vec<Line> = BINDINGS
        .iter()
        .map(|b| {
            let keys: Vec<String> = b.keys.iter().map(key_name).collect();
            Line::from(vec![
                Span::styled(
                    format!(" {:<14}", keys.join(" ")),
                    Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                ),
                Span::raw(b.what),
            ])
        })
        .collect();
    lines.push(Line::raw(" mouse          wheel scrolls, click selects"));
    lines.push(Line::raw(
        " ISOL column    p m n i u U c t = pid mnt net ipc uts user cgroup time",
    ));
    lines.push(Line::raw(
        "                namespace differs from the host's",
    ));
    lines.push(Line::styled(
        " any key closes this help",
        Style::new().fg(Color::DarkGray),
    ));
    let area = centered(body, 78, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" isolab keys ")
                .border_style(Style::new().fg(Color::Cyan)),
        ),
        area,
    );
}
