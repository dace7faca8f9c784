//! The TUI's colours, in one place: a [`Theme`] is a set of named styles
//! (what a thing *is*: a heading, a warning, the selection), chosen from
//! `--theme default|projector` and whether colour is on (`--color`,
//! `NO_COLOR`, the config file; see `config`).
//!
//! Without colour every style is made of modifiers only (bold, reverse,
//! underline, dim); [`finish`] also clears any colour left on the frame, so
//! a never-colour frame has no fg/bg at all, whatever a screen drew.
//! The projector theme is for a room: bright colours, everything bold, no
//! dim greys, and wider gaps between the tabs.
//!
//! `main` installs the theme once, on the thread that draws (the TUI's
//! main loop); [`current`] returns it wherever something is drawn (the
//! frame, the views). Tests install theirs on their own thread.

use crate::cli::ThemeName;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style};
use std::cell::Cell;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Theme {
    pub name: ThemeName,
    pub color: bool,
    /// The "isolab" badge at the left of the tab line.
    pub brand: Style,
    /// The active tab.
    pub tab_active: Style,
    /// Spaces between two tabs.
    pub tab_gap: usize,
    /// A key in the status line's hints, a badge (black on cyan).
    pub key: Style,
    /// A key or a label beside its value (cyan text).
    pub accent: Style,
    /// A section title (yellow).
    pub heading: Style,
    /// Less important text (dark grey).
    pub dim: Style,
    /// Secondary text that must stay readable (grey).
    pub quiet: Style,
    /// Good news: shared, passed, isolab's own (green).
    pub ok: Style,
    /// Take care: live, changed, not yet (yellow).
    pub warn: Style,
    /// Failed, gone, over the limit (red).
    pub error: Style,
    /// An error that must be seen: white on red.
    pub alert: Style,
    /// Different from the host: separate namespace (magenta).
    pub special: Style,
    /// A prompt's label, a warning badge (black on yellow).
    pub badge_warn: Style,
    /// A success badge, "new" (black on green).
    pub badge_ok: Style,
    /// The selected row.
    pub selected: Style,
    /// Bold text.
    pub strong: Style,
    /// A frame around a panel or an overlay.
    pub border: Style,
    /// A frame around a quiet panel.
    pub border_dim: Style,
    /// A directory in a listing.
    pub dir: Style,
}

const BOLD: Modifier = Modifier::BOLD;

impl Theme {
    pub fn new(name: ThemeName, color: bool) -> Theme {
        match (name, color) {
            (ThemeName::Default, true) => Theme::default_colors(),
            (ThemeName::Projector, true) => Theme::projector(),
            (name, false) => Theme::monochrome(name),
        }
    }

    /// Today's look (the snapshot tests' and everyone's default).
    fn default_colors() -> Theme {
        let fg = |c| Style::new().fg(c);
        let on = |f, b| Style::new().fg(f).bg(b);
        Theme {
            name: ThemeName::Default,
            color: true,
            brand: on(Color::Black, Color::Cyan).add_modifier(BOLD),
            tab_active: Style::new().add_modifier(BOLD | Modifier::REVERSED),
            tab_gap: 1,
            key: on(Color::Black, Color::Cyan),
            accent: fg(Color::Cyan),
            heading: fg(Color::Yellow),
            dim: fg(Color::DarkGray),
            quiet: fg(Color::Gray),
            ok: fg(Color::Green),
            warn: fg(Color::Yellow),
            error: fg(Color::Red),
            alert: on(Color::White, Color::Red),
            special: fg(Color::Magenta),
            badge_warn: on(Color::Black, Color::Yellow),
            badge_ok: on(Color::Black, Color::Green),
            selected: Style::new().add_modifier(Modifier::REVERSED),
            strong: Style::new().add_modifier(BOLD),
            border: fg(Color::Cyan),
            border_dim: fg(Color::DarkGray),
            dir: fg(Color::Blue).add_modifier(BOLD),
        }
    }

    /// High contrast for a projector: light colours on the terminal's
    /// background, no dark grey (it vanishes on a washed-out screen), bold.
    fn projector() -> Theme {
        let fg = |c| Style::new().fg(c).add_modifier(BOLD);
        let on = |f, b| Style::new().fg(f).bg(b).add_modifier(BOLD);
        Theme {
            name: ThemeName::Projector,
            color: true,
            brand: on(Color::Black, Color::LightCyan),
            tab_active: Style::new().add_modifier(BOLD | Modifier::REVERSED),
            tab_gap: 2,
            key: on(Color::Black, Color::LightCyan),
            accent: fg(Color::LightCyan),
            heading: fg(Color::LightYellow).add_modifier(Modifier::UNDERLINED),
            dim: fg(Color::White),
            quiet: fg(Color::White),
            ok: fg(Color::LightGreen),
            warn: fg(Color::LightYellow),
            error: fg(Color::LightRed),
            alert: on(Color::White, Color::Red),
            special: fg(Color::LightMagenta),
            badge_warn: on(Color::Black, Color::LightYellow),
            badge_ok: on(Color::Black, Color::LightGreen),
            selected: Style::new().add_modifier(BOLD | Modifier::REVERSED),
            strong: Style::new().add_modifier(BOLD),
            border: fg(Color::White),
            border_dim: fg(Color::White),
            dir: fg(Color::LightBlue),
        }
    }

    /// No colour at all: meaning carried by modifiers only.
    fn monochrome(name: ThemeName) -> Theme {
        let m = |m| Style::new().add_modifier(m);
        let projector = name == ThemeName::Projector;
        Theme {
            name,
            color: false,
            brand: m(BOLD | Modifier::REVERSED),
            tab_active: m(BOLD | Modifier::REVERSED),
            tab_gap: if projector { 2 } else { 1 },
            key: m(Modifier::REVERSED),
            accent: Style::new(),
            heading: m(BOLD | Modifier::UNDERLINED),
            // The projector has no dim text, even without colour.
            dim: if projector {
                Style::new()
            } else {
                m(Modifier::DIM)
            },
            quiet: Style::new(),
            ok: m(BOLD),
            warn: m(BOLD),
            error: m(BOLD),
            alert: m(BOLD | Modifier::REVERSED),
            special: m(Modifier::UNDERLINED),
            badge_warn: m(BOLD | Modifier::REVERSED),
            badge_ok: m(BOLD | Modifier::REVERSED),
            selected: m(Modifier::REVERSED),
            strong: m(BOLD),
            border: Style::new(),
            border_dim: Style::new(),
            dir: m(BOLD),
        }
    }
}

impl Default for Theme {
    fn default() -> Theme {
        Theme::default_colors()
    }
}

thread_local! {
    static CURRENT: Cell<Theme> = Cell::new(Theme::default());
}

/// Makes `theme` the one this thread draws with.
pub fn install(theme: Theme) {
    CURRENT.with(|c| c.set(theme));
}

/// The theme this thread draws with (the default colours if none was installed).
pub fn current() -> Theme {
    CURRENT.with(|c| c.get())
}

/// The last touch on a drawn frame: without colour, no cell keeps a
/// colour (whatever a screen drew); on the projector, every cell is bold.
pub fn finish(buf: &mut Buffer) {
    let t = current();
    if t.color && t.name != ThemeName::Projector {
        return;
    }
    for cell in &mut buf.content {
        if !t.color {
            cell.fg = Color::Reset;
            cell.bg = Color::Reset;
        }
        if t.name == ThemeName::Projector {
            cell.modifier.insert(Modifier::BOLD);
            cell.modifier.remove(Modifier::DIM);
        }
    }
}
