//! The Root screen on its own, for the tmux journey (tests/rootfs_tmux.rs)
//! until the app wires it in as a tab: `rootfs_browser PID`. Uses exactly
//! the app's pieces: `app::rootfs::RootState` for state and keys,
//! `ui::rootfs::render` to draw, the app's terminal guard and signals.
//! `q` quits when the screen has no use for the key; Ctrl-C always does.

use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use isolab::app::rootfs::RootState;
use isolab::app::terminal::{TerminalGuard, quit_signals};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let pid: i32 = match std::env::args().nth(1).and_then(|a| a.parse().ok()) {
        Some(p) => p,
        None => anyhow::bail!("usage: rootfs_browser PID"),
    };
    let mut state = RootState::new(Path::new("/proc"));
    state.open(pid);
    let signal = quit_signals()?;
    let mut guard = TerminalGuard::enter()?;
    let refresh_every = Duration::from_secs(1);
    let mut last_refresh = Instant::now();
    loop {
        if signal.load(Ordering::SeqCst) != 0 {
            break;
        }
        let size = guard.terminal.size()?;
        let area = ratatui::layout::Rect::new(0, 0, size.width, size.height);
        state.set_page(isolab::ui::rootfs::list_rows(area));
        guard
            .terminal
            .draw(|f| isolab::ui::rootfs::render(f, f.area(), &state))?;
        if event::poll(Duration::from_millis(100))?
            && let Event::Key(k) = event::read()?
        {
            if k.kind == KeyEventKind::Release {
                continue;
            }
            if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
                break;
            }
            if !state.on_key(k) && k.code == KeyCode::Char('q') {
                break;
            }
        }
        // A dialog being typed into is not disturbed by refreshes.
        if last_refresh.elapsed() >= refresh_every && state.dialog.is_none() {
            state.refresh();
            last_refresh = Instant::now();
        }
    }
    Ok(())
}
