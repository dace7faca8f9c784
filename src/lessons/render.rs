//! Step text for a plain terminal: `code` in cyan, *emphasis* in bold, code
//! blocks indented, control characters escaped. (The TUI renders the same
//! blocks with its own styles.)

use super::lesson::{Block, Step};

/// Splits a paragraph into (text, style) runs: `code` and *emphasis*.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Plain,
    Code,
    Emphasis,
}

pub fn spans(text: &str) -> Vec<(String, Style)> {
    let mut out: Vec<(String, Style)> = Vec::new();
    let mut current = String::new();
    let mut style = Style::Plain;
    for c in text.chars() {
        let toggle = match (c, style) {
            ('`', Style::Plain) => Some(Style::Code),
            ('`', Style::Code) => Some(Style::Plain),
            ('*', Style::Plain) => Some(Style::Emphasis),
            ('*', Style::Emphasis) => Some(Style::Plain),
            _ => None,
        };
        match toggle {
            Some(next) => {
                if !current.is_empty() {
                    out.push((std::mem::take(&mut current), style));
                }
                style = next;
            }
            None => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push((current, style));
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The step's body as terminal text (ANSI styles when `color`).
pub fn step_text(step: &Step, width: usize, color: bool) -> String {
    let mut out = String::new();
    for block in &step.body {
        match block {
            Block::Paragraph(p) => {
                for line in wrap(p, width) {
                    for (text, style) in spans(&line) {
                        // Lesson text is someone's: no raw control characters.
                        let text = crate::text::escape(&text);
                        match (style, color) {
                            (Style::Code, true) => out.push_str(&format!("\x1b[36m{text}\x1b[0m")),
                            (Style::Emphasis, true) => {
                                out.push_str(&format!("\x1b[1m{text}\x1b[0m"))
                            }
                            _ => out.push_str(&text),
                        }
                    }
                    out.push('\n');
                }
                out.push('\n');
            }
            Block::Code(lines) => {
                for l in lines {
                    let l = crate::text::escape(l);
                    if color {
                        out.push_str(&format!("    \x1b[36m{l}\x1b[0m\n"));
                    } else {
                        out.push_str(&format!("    {l}\n"));
                    }
                }
                out.push('\n');
            }
        }
    }
    out
}
