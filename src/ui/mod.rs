//! What every screen's view shares: the theme (every colour), the help
//! overlay, `centered`, the one byte formatter. Knows nothing of `App` or
//! of any screen: the frame (`app/frame.rs`) and the views
//! (`app/<screen>/view.rs`) import this, never the other way.

pub mod help;
pub mod theme;

#[cfg(test)]
mod escape_tests;
/// The fixed screen states the screenshots are drawn from (tests only).
#[cfg(test)]
mod screenshots;
/// Frames as SVG pictures, for the screenshots in `assets/` (tests only).
#[cfg(test)]
pub(crate) mod svg;

use ratatui::layout::Rect;

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

/// Bytes in binary units (`4.0 MiB`), as htop shows them: the one formatter.
pub use crate::sys::cgroup::human_bytes;

#[cfg(test)]
mod snapshot_tests;
