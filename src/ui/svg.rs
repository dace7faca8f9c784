//! A drawn frame as an SVG picture of a terminal, for the README's
//! screenshots in `assets/` (the snapshot tests write them, so they are
//! redrawn from the same buffers and cannot drift from the code).
//!
//! Each cell keeps its place on a fixed grid: runs of cells of one style
//! become one `<text>` whose `textLength` is pinned to the run's cells, so
//! the grid holds whatever monospace font the viewer has. Colours are the
//! theme's `Color` values mapped to a fixed dark terminal palette;
//! `Reset` is the terminal's own foreground or background. Nothing but the
//! buffer goes in: the same buffer always gives the same bytes.

use ratatui::buffer::{Buffer, Cell};
use ratatui::style::{Color, Modifier};
use std::fmt::Write;

/// One cell, in pixels: 15px monospace advances about 9px (0.6 em).
const CELL_W: u32 = 9;
const CELL_H: u32 = 18;
/// From a row's top to the text's baseline.
const BASELINE: u32 = 14;
const FONT_SIZE: u32 = 15;
/// The margin of terminal background around the cells.
const PAD: u32 = 12;
const FONT: &str =
    "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', monospace";

/// The terminal's own colours, for `Color::Reset`: a dark background.
const DEFAULT_FG: &str = "#d4d4d4";
const DEFAULT_BG: &str = "#1e1e1e";

/// The 16 ANSI colours in their usual order (0 black .. 15 white), as a
/// common dark terminal theme draws them.
const ANSI: [&str; 16] = [
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
];

/// `color` as `#rrggbb`, or `None` for `Reset` (the terminal's default).
pub fn hex(color: Color) -> Option<String> {
    let ansi = |i: usize| Some(ANSI[i].to_string());
    match color {
        Color::Reset => None,
        Color::Black => ansi(0),
        Color::Red => ansi(1),
        Color::Green => ansi(2),
        Color::Yellow => ansi(3),
        Color::Blue => ansi(4),
        Color::Magenta => ansi(5),
        Color::Cyan => ansi(6),
        Color::Gray => ansi(7),
        Color::DarkGray => ansi(8),
        Color::LightRed => ansi(9),
        Color::LightGreen => ansi(10),
        Color::LightYellow => ansi(11),
        Color::LightBlue => ansi(12),
        Color::LightMagenta => ansi(13),
        Color::LightCyan => ansi(14),
        Color::White => ansi(15),
        Color::Rgb(r, g, b) => Some(format!("#{r:02x}{g:02x}{b:02x}")),
        Color::Indexed(i) => Some(indexed(i)),
    }
}

/// The xterm 256-colour table: 16 ANSI colours, a 6x6x6 cube, 24 greys.
fn indexed(i: u8) -> String {
    match i {
        0..=15 => ANSI[i as usize].to_string(),
        16..=231 => {
            let n = i - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
            let (r, g, b) = (level(n / 36), level(n / 6 % 6), level(n % 6));
            format!("#{r:02x}{g:02x}{b:02x}")
        }
        232..=255 => {
            let v = 8 + 10 * (i - 232);
            format!("#{v:02x}{v:02x}{v:02x}")
        }
    }
}

/// What a cell looks like once reverse video is applied: the colours that
/// are painted and the text attributes that matter in a picture.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Look {
    fg: String,
    /// `None`: the terminal's background (nothing to paint).
    bg: Option<String>,
    bold: bool,
    italic: bool,
    underline: bool,
    crossed: bool,
    dim: bool,
    hidden: bool,
}

impl Look {
    /// Whether two cells can share one `<text>` (the background is drawn
    /// apart, so it may differ).
    fn same_text(&self, other: &Look) -> bool {
        (
            &self.fg,
            self.bold,
            self.italic,
            self.underline,
            self.crossed,
            self.dim,
            self.hidden,
        ) == (
            &other.fg,
            other.bold,
            other.italic,
            other.underline,
            other.crossed,
            other.dim,
            other.hidden,
        )
    }
}

fn look(cell: &Cell) -> Look {
    let m = cell.modifier;
    let (fg, bg) = if m.contains(Modifier::REVERSED) {
        // The terminal swaps the two, defaults included.
        (
            hex(cell.bg).unwrap_or_else(|| DEFAULT_BG.to_string()),
            Some(hex(cell.fg).unwrap_or_else(|| DEFAULT_FG.to_string())),
        )
    } else {
        (
            hex(cell.fg).unwrap_or_else(|| DEFAULT_FG.to_string()),
            hex(cell.bg),
        )
    };
    Look {
        fg,
        bg,
        bold: m.contains(Modifier::BOLD),
        italic: m.contains(Modifier::ITALIC),
        underline: m.contains(Modifier::UNDERLINED),
        crossed: m.contains(Modifier::CROSSED_OUT),
        dim: m.contains(Modifier::DIM),
        hidden: m.contains(Modifier::HIDDEN),
    }
}

/// `text` safe inside an XML element or a quoted attribute. Control
/// characters (a few are not even legal XML) become U+FFFD, as a terminal
/// would not draw them either.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// How many columns a cell's symbol covers (a wide character: 2; the cells
/// it covers follow it, blank, and are not drawn again).
fn columns(symbol: &str) -> u16 {
    ratatui::text::Span::raw(symbol).width().max(1) as u16
}

/// The frame as a standalone SVG document; `title` is its accessible name.
pub fn buffer_to_svg(buf: &Buffer, title: &str) -> String {
    let (w, h) = (buf.area.width, buf.area.height);
    let width = u32::from(w) * CELL_W + 2 * PAD;
    let height = u32::from(h) * CELL_H + 2 * PAD;
    let mut out = String::new();
    // `write!` into a String cannot fail.
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="{FONT_SIZE}" xml:space="preserve">"#
    );
    let _ = writeln!(out, "<title>{}</title>", escape_xml(title));
    let _ = writeln!(out, "<style>text{{white-space:pre}}</style>");
    let _ = writeln!(
        out,
        r#"<rect width="{width}" height="{height}" rx="6" fill="{DEFAULT_BG}"/>"#
    );
    let looks: Vec<Look> = buf.content.iter().map(look).collect();
    let at = |x: u16, y: u16| usize::from(y) * usize::from(w) + usize::from(x);
    let left = |x: u16| PAD + u32::from(x) * CELL_W;
    let top = |y: u16| PAD + u32::from(y) * CELL_H;

    // Backgrounds first, one rectangle per run of one colour.
    for y in 0..h {
        let mut x = 0;
        while x < w {
            let start = x;
            let bg = &looks[at(x, y)].bg;
            while x < w && looks[at(x, y)].bg == *bg {
                x += 1;
            }
            if let Some(fill) = bg {
                let _ = writeln!(
                    out,
                    r#"<rect x="{}" y="{}" width="{}" height="{CELL_H}" fill="{fill}"/>"#,
                    left(start),
                    top(y),
                    u32::from(x - start) * CELL_W
                );
            }
        }
    }

    // Then the text: one element per run of one look (background aside),
    // cut where two or more blanks would only be stretched space. Frame
    // lines are drawn as lines (glyphs leave gaps between rows), one path
    // per colour, after the text.
    let mut box_lines: std::collections::BTreeMap<String, String> = Default::default();
    for y in 0..h {
        let mut x = 0;
        while x < w {
            let first = &looks[at(x, y)];
            // The run's cells: (column, symbol), wide ones counted once.
            let mut cells: Vec<(u16, &str)> = Vec::new();
            while x < w && looks[at(x, y)].same_text(first) {
                let mut symbol = buf.content[at(x, y)].symbol();
                if let Some(arms) = box_arms(symbol) {
                    if !first.hidden {
                        box_lines
                            .entry(first.fg.clone())
                            .or_default()
                            .push_str(&box_path(x, y, arms));
                    }
                    symbol = " ";
                }
                cells.push((x, symbol));
                x = x.saturating_add(columns(symbol)).min(w);
            }
            if first.hidden {
                continue;
            }
            if first.underline || first.crossed {
                // A decoration runs under the blanks too: keep them.
                text_element(&mut out, first, &cells, x, top(y) + BASELINE);
                continue;
            }
            for piece in pieces(&cells, x) {
                text_element(&mut out, first, piece.0, piece.1, top(y) + BASELINE);
            }
        }
    }
    for (colour, d) in &box_lines {
        let _ = writeln!(
            out,
            r#"<path d="{d}" stroke="{colour}" stroke-width="1" fill="none"/>"#
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Which sides of its cell a light frame character joins: (up, right,
/// down, left). Rounded corners are drawn square. Others are glyphs.
fn box_arms(symbol: &str) -> Option<(bool, bool, bool, bool)> {
    Some(match symbol {
        "─" => (false, true, false, true),
        "│" => (true, false, true, false),
        "┌" | "╭" => (false, true, true, false),
        "┐" | "╮" => (false, false, true, true),
        "└" | "╰" => (true, true, false, false),
        "┘" | "╯" => (true, false, false, true),
        "├" => (true, true, true, false),
        "┤" => (true, false, true, true),
        "┬" => (false, true, true, true),
        "┴" => (true, true, false, true),
        "┼" => (true, true, true, true),
        _ => return None,
    })
}

/// Path commands for a frame character at cell (x, y): from the cell's
/// centre to each side it joins, on half pixels so a 1px line is crisp.
fn box_path(x: u16, y: u16, (up, right, down, left): (bool, bool, bool, bool)) -> String {
    let x0 = PAD + u32::from(x) * CELL_W;
    let y0 = PAD + u32::from(y) * CELL_H;
    let (cx, cy) = (x0 + CELL_W / 2, y0 + CELL_H / 2);
    let mut d = String::new();
    let h_from = if left { x0 } else { cx };
    let h_to = if right { x0 + CELL_W } else { cx + 1 };
    if left || right {
        let _ = write!(d, "M{h_from} {cy}.5H{h_to}");
    }
    let v_from = if up { y0 } else { cy };
    let v_to = if down { y0 + CELL_H } else { cy + 1 };
    if up || down {
        let _ = write!(d, "M{cx}.5 {v_from}V{v_to}");
    }
    d
}

/// A plain run cut into its drawn pieces: each without blanks at either end
/// and with no two blanks in a row inside, with the column it ends at.
fn pieces<'a>(cells: &'a [(u16, &'a str)], end: u16) -> Vec<(&'a [(u16, &'a str)], u16)> {
    let blank = |i: usize| cells.get(i).is_some_and(|c| c.1 == " ");
    let mut out = Vec::new();
    let mut i = 0;
    while i < cells.len() {
        if blank(i) {
            i += 1;
            continue;
        }
        let from = i;
        while i < cells.len() && !(blank(i) && (blank(i + 1) || i + 1 == cells.len())) {
            i += 1;
        }
        let stop = cells.get(i).map_or(end, |c| c.0);
        out.push((&cells[from..i], stop));
    }
    out
}

/// One `<text>` for `cells` (starting at their first column, ending before
/// column `end`), pinned to the grid by `textLength`.
fn text_element(out: &mut String, look: &Look, cells: &[(u16, &str)], end: u16, baseline: u32) {
    let Some(&(start, _)) = cells.first() else {
        return;
    };
    let text: String = cells.iter().map(|c| c.1).collect();
    let mut attrs = format!(
        r#"x="{}" y="{baseline}" textLength="{}" lengthAdjust="spacingAndGlyphs" fill="{}""#,
        PAD + u32::from(start) * CELL_W,
        u32::from(end - start) * CELL_W,
        look.fg
    );
    if look.bold {
        attrs.push_str(r#" font-weight="bold""#);
    }
    if look.italic {
        attrs.push_str(r#" font-style="italic""#);
    }
    match (look.underline, look.crossed) {
        (true, true) => attrs.push_str(r#" text-decoration="underline line-through""#),
        (true, false) => attrs.push_str(r#" text-decoration="underline""#),
        (false, true) => attrs.push_str(r#" text-decoration="line-through""#),
        (false, false) => {}
    }
    if look.dim {
        attrs.push_str(r#" opacity="0.6""#);
    }
    // `write!` into a String cannot fail.
    let _ = writeln!(out, "<text {attrs}>{}</text>", escape_xml(&text));
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;
    use ratatui::style::Style;

    fn buffer(lines: &[(&str, Style)]) -> Buffer {
        let width = lines
            .iter()
            .map(|(t, _)| ratatui::text::Span::raw(*t).width())
            .max()
            .unwrap_or(0) as u16;
        let mut buf = Buffer::empty(Rect::new(0, 0, width, lines.len() as u16));
        for (y, (text, style)) in lines.iter().enumerate() {
            buf.set_string(0, y as u16, text, *style);
        }
        buf
    }

    #[test]
    fn colours_map_to_hex() {
        assert_eq!(hex(Color::Reset), None);
        assert_eq!(hex(Color::Red).as_deref(), Some("#cd3131"));
        assert_eq!(hex(Color::Rgb(1, 2, 255)).as_deref(), Some("#0102ff"));
        assert_eq!(hex(Color::Indexed(9)), hex(Color::LightRed));
        assert_eq!(hex(Color::Indexed(16)).as_deref(), Some("#000000"));
        assert_eq!(hex(Color::Indexed(196)).as_deref(), Some("#ff0000"));
        assert_eq!(hex(Color::Indexed(231)).as_deref(), Some("#ffffff"));
        assert_eq!(hex(Color::Indexed(232)).as_deref(), Some("#080808"));
        assert_eq!(hex(Color::Indexed(255)).as_deref(), Some("#eeeeee"));
    }

    #[test]
    fn text_is_escaped_and_controls_are_replaced() {
        assert_eq!(
            escape_xml("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;"
        );
        assert_eq!(escape_xml("a\u{1b}[31mb\u{0}"), "a\u{FFFD}[31mb\u{FFFD}");
        let svg = buffer_to_svg(&buffer(&[("<b>&", Style::new())]), "a & b");
        assert!(svg.contains(">&lt;b&gt;&amp;</text>"), "{svg}");
        assert!(svg.contains("<title>a &amp; b</title>"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
    }

    #[test]
    fn styles_become_attributes_and_runs_keep_the_grid() {
        let buf = buffer(&[
            ("plain", Style::new()),
            (
                "bold",
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            ("it", Style::new().add_modifier(Modifier::ITALIC)),
            ("under", Style::new().add_modifier(Modifier::UNDERLINED)),
            ("badge", Style::new().fg(Color::Black).bg(Color::Cyan)),
            ("rev", Style::new().add_modifier(Modifier::REVERSED)),
        ]);
        let svg = buffer_to_svg(&buf, "t");
        assert!(
            svg.starts_with(
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"69\" height=\"132\""
            ),
            "{svg}"
        );
        // The dark background, then the cyan badge's cells (5 x 9px) on row 4.
        assert!(svg.contains(r##"<rect width="69" height="132" rx="6" fill="#1e1e1e"/>"##));
        assert!(
            svg.contains(r##"<rect x="12" y="84" width="45" height="18" fill="#11a8cd"/>"##),
            "{svg}"
        );
        assert!(svg.contains(r##"<text x="12" y="26" textLength="45" lengthAdjust="spacingAndGlyphs" fill="#d4d4d4">plain</text>"##), "{svg}");
        assert!(
            svg.contains(r##"fill="#e5e510" font-weight="bold">bold</text>"##),
            "{svg}"
        );
        assert!(svg.contains(r#"font-style="italic">it</text>"#), "{svg}");
        assert!(
            svg.contains(r#"text-decoration="underline">under</text>"#),
            "{svg}"
        );
        assert!(svg.contains(r##"fill="#000000">badge</text>"##), "{svg}");
        // Reverse video: default background on default foreground.
        assert!(
            svg.contains(r##"<rect x="12" y="102" width="27" height="18" fill="#d4d4d4"/>"##),
            "{svg}"
        );
        assert!(svg.contains(r##"fill="#1e1e1e">rev</text>"##), "{svg}");
        // Blank cells draw nothing.
        assert_eq!(svg.matches("<text").count(), 6, "{svg}");
        assert!(svg.ends_with("</svg>\n"));
    }

    #[test]
    fn a_wide_character_covers_two_cells_once() {
        let buf = buffer(&[("a界b ", Style::new())]);
        let svg = buffer_to_svg(&buf, "t");
        assert!(
            svg.contains(
                r##"textLength="36" lengthAdjust="spacingAndGlyphs" fill="#d4d4d4">a界b</text>"##
            ),
            "{svg}"
        );
    }

    #[test]
    fn wide_gaps_split_a_run_and_single_blanks_do_not() {
        let svg = buffer_to_svg(&buffer(&[("| a b   c  |", Style::new())]), "t");
        let texts: Vec<&str> = svg.lines().filter(|l| l.starts_with("<text")).collect();
        assert_eq!(texts.len(), 3, "{svg}");
        assert!(
            texts[0].contains(r#"x="12" y="26" textLength="45""#),
            "{svg}"
        );
        assert!(texts[0].ends_with(">| a b</text>"), "{svg}");
        assert!(
            texts[1].contains(r#"x="84" y="26" textLength="9""#),
            "{svg}"
        );
        assert!(
            texts[2].contains(r#"x="111" y="26" textLength="9""#),
            "{svg}"
        );
        assert!(texts[2].ends_with(">|</text>"), "{svg}");
    }

    #[test]
    fn frame_characters_are_lines_one_path_per_colour() {
        let buf = buffer(&[
            ("┌─x┐", Style::new().fg(Color::Cyan)),
            ("└──┘", Style::new().fg(Color::Cyan)),
        ]);
        let svg = buffer_to_svg(&buf, "t");
        assert_eq!(svg.matches("<path").count(), 1, "{svg}");
        // The corner at (0, 0): right from its centre, and down.
        assert!(
            svg.contains(r##"<path d="M16 21.5H21M16.5 21V30M21 21.5H30"##),
            "{svg}"
        );
        assert!(svg.contains(r##"stroke="#11a8cd""##), "{svg}");
        // Only the letter is text.
        let texts: Vec<&str> = svg.lines().filter(|l| l.starts_with("<text")).collect();
        assert_eq!(texts.len(), 1, "{svg}");
        assert!(
            texts[0].contains(r#"x="30" y="26" textLength="9""#),
            "{svg}"
        );
    }

    #[test]
    fn the_same_buffer_gives_the_same_bytes() {
        let buf = buffer(&[("x", Style::new().fg(Color::Indexed(42)))]);
        assert_eq!(buffer_to_svg(&buf, "t"), buffer_to_svg(&buf, "t"));
    }
}
