//! Terminal lifecycle: raw mode, the alternate screen and mouse capture,
//! always undone — on quit, on SIGINT/SIGTERM/SIGHUP (turned into a quit by
//! the event loop) and on panic (the hook restores first, so the message
//! lands on a normal terminal).

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::{Stdout, stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped.
pub struct TerminalGuard {
    pub terminal: Term,
}

pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(stdout(), LeaveAlternateScreen, DisableMouseCapture);
    let _ = execute!(stdout(), crossterm::cursor::Show);
}

impl TerminalGuard {
    pub fn enter() -> anyhow::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode().map_err(|e| {
            anyhow::anyhow!("cannot put the terminal in raw mode ({e}); is stdin a terminal?")
        })?;
        if let Err(e) = execute!(stdout(), EnterAlternateScreen, EnableMouseCapture) {
            restore();
            return Err(e.into());
        }
        let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        Ok(TerminalGuard { terminal })
    }

    /// Leaves the TUI so a foreground program can use the terminal.
    pub fn suspend(&mut self) {
        restore();
    }

    pub fn resume(&mut self) -> anyhow::Result<()> {
        enable_raw_mode()?;
        execute!(stdout(), EnterAlternateScreen, EnableMouseCapture)?;
        self.terminal.clear()?;
        Ok(())
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// Watches SIGINT, SIGTERM and SIGHUP. The first one stores its number in
/// the returned cell; the event loop sees it and quits cleanly, restoring
/// the terminal. If the loop has not finished within a moment (crossterm
/// can spin reading EOF from a hung-up terminal, never returning to the
/// loop), the watcher restores the terminal and exits the process itself
/// with 128 + the signal number.
pub fn quit_signals() -> anyhow::Result<Arc<AtomicI32>> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let received = Arc::new(AtomicI32::new(0));
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    let cell = Arc::clone(&received);
    std::thread::Builder::new()
        .name("isolab-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                cell.store(sig, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(1500));
                restore();
                std::process::exit(128 + sig);
            }
        })?;
    Ok(received)
}
