//! Terminal lifecycle: raw mode, the alternate screen and mouse capture,
//! always undone — on quit, on SIGINT/SIGTERM/SIGHUP (turned into a quit by
//! the event loop) and on panic (the hook restores first, so the message
//! lands on a normal terminal).

use super::events::AppEvent;
use nix::sys::signal::{SigHandler, Signal, signal};
use nix::unistd::{Pid, getpgrp, getpid, setpgid, tcsetpgrp};
use std::os::fd::{AsFd, BorrowedFd};

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::IsTerminal;
use std::io::{Stdout, stdout};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::mpsc::Sender;

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

    /// Suspends the TUI, runs `fg` in the foreground until it exits, then
    /// brings the TUI back. Returns the line for the status bar.
    ///
    /// The program runs in its own process group, made the terminal's
    /// foreground group: Ctrl-C and Ctrl-\\ reach it, not isolab; isolab
    /// takes the terminal back afterwards. Quit signals that arrive
    /// meanwhile (SIGTERM, SIGHUP) are honoured when the program ends.
    pub fn run_foreground(
        &mut self,
        mut fg: crate::app::Foreground,
        signals: &QuitSignals,
    ) -> anyhow::Result<String> {
        restore();
        println!("isolab: {} (exit to return to isolab)", fg.label);
        let tty = std::io::stdin();
        let job_control = tty.is_terminal();
        if job_control {
            use std::os::unix::process::CommandExt;
            // SAFETY: between fork and exec only async-signal-safe calls
            // (setpgid, sigaction, tcsetpgrp, getpid: nix's thin wrappers,
            // no allocation), on fd 0 borrowed without touching std's
            // stdin (whose first use allocates).
            unsafe {
                fg.command.pre_exec(|| {
                    let tty = BorrowedFd::borrow_raw(0);
                    setpgid(Pid::from_raw(0), Pid::from_raw(0))?;
                    // A background group writing tcsetpgrp gets SIGTTOU.
                    signal(Signal::SIGTTOU, SigHandler::SigIgn)?;
                    tcsetpgrp(tty, getpid())?;
                    signal(Signal::SIGTTOU, SigHandler::SigDfl)?;
                    Ok(())
                });
            }
        }
        signals.suspended.store(true, Ordering::SeqCst);
        let status = fg.command.status();
        if job_control {
            // Take the terminal back for isolab's own process group; as a
            // background group for a moment, isolab must ignore SIGTTOU.
            // SAFETY: changing a signal's disposition to SIG_IGN and back
            // installs no handler code.
            if let Ok(old) = unsafe { signal(Signal::SIGTTOU, SigHandler::SigIgn) } {
                let _ = tcsetpgrp(std::io::stdin().as_fd(), getpgrp());
                // SAFETY: as above: restores the disposition read just now.
                let _ = unsafe { signal(Signal::SIGTTOU, old) };
            }
        }
        signals.suspended.store(false, Ordering::SeqCst);
        self.resume()?;
        let status = status.map_err(|e| anyhow::anyhow!("could not start {}: {e}", fg.label))?;
        Ok(match status.code() {
            Some(0) => format!("{}: done", fg.label),
            Some(code) => format!("{}: exited with status {code}", fg.label),
            None => format!("{}: ended by a signal ({status})", fg.label),
        })
    }

    fn resume(&mut self) -> anyhow::Result<()> {
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

/// The quit signals received (SIGINT, SIGTERM, SIGHUP), and whether a
/// foreground program has the terminal right now.
pub struct QuitSignals {
    /// The first quit signal's number, 0 until one arrives.
    pub received: Arc<AtomicI32>,
    /// True while `run_foreground` waits for a program: SIGINT is then the
    /// user's Ctrl-C meant for that program, not a request to quit.
    pub suspended: Arc<AtomicBool>,
}

/// Watches SIGINT, SIGTERM and SIGHUP, and SIGWINCH. The first quit signal
/// stores its number in `received` and is sent to the main loop
/// (`AppEvent::Signal`), which wakes, sees it and quits cleanly, restoring
/// the terminal. If the loop has not finished within a moment (say a draw
/// blocked on a terminal that stopped reading), the watcher restores the
/// terminal, removes what this process created (destructors do not run on
/// that way out) and exits the process itself with 128 + the signal
/// number. SIGWINCH only wakes the loop to redraw at the new size (the
/// input thread sleeps in poll(2) on the terminal, where a resize does not
/// show).
pub fn quit_signals(tx: Sender<AppEvent>) -> anyhow::Result<QuitSignals> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGWINCH};
    let received = Arc::new(AtomicI32::new(0));
    let suspended = Arc::new(AtomicBool::new(false));
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP, SIGWINCH])?;
    let cell = Arc::clone(&received);
    let busy = Arc::clone(&suspended);
    std::thread::Builder::new()
        .name("isolab-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGWINCH {
                    let _ = tx.send(AppEvent::Signal(sig));
                    continue;
                }
                if busy.load(Ordering::SeqCst) {
                    if sig == SIGINT {
                        continue;
                    }
                    // Honoured once the foreground program ends.
                    cell.store(sig, Ordering::SeqCst);
                    continue;
                }
                cell.store(sig, Ordering::SeqCst);
                let _ = tx.send(AppEvent::Signal(sig));
                std::thread::sleep(std::time::Duration::from_millis(1500));
                if busy.load(Ordering::SeqCst) {
                    continue;
                }
                restore();
                // No destructor runs on this way out: remove what this
                // process created (a hog, its cgroup, Lab children) here.
                crate::sys::registry::remove_own();
                std::process::exit(128 + sig);
            }
        })?;
    Ok(QuitSignals {
        received,
        suspended,
    })
}
