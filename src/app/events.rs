//! The one channel the main loop waits on, and the producers that are not
//! screens: the input thread (this file), the collector
//! (`collector.rs`) and the signal watcher (`terminal.rs`). Screens' worker
//! threads post news on channels of their own and then wake the loop
//! with a [`Waker`]; the loop then lets every screen `poll`.
//!
//! The loop blocks in `recv` until one of them has something: no timer
//! runs in it while nothing happens.

use super::collector::Collected;
use crossterm::event::{self, Event};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Everything the main loop reacts to.
pub enum AppEvent {
    /// A key, mouse, resize or paste event from the terminal.
    Input(Event),
    /// The terminal cannot be read any more: it hung up (`None`), or
    /// reading it failed.
    InputEnded(Option<std::io::Error>),
    /// A snapshot (or an error) from the collector thread.
    Collected(Collected),
    /// A screen's worker posted news on its own channel: `poll` the screens.
    Wake,
    /// A signal the watcher caught: SIGWINCH (redraw at the new size), or a
    /// quit signal (also recorded in `QuitSignals::received`).
    Signal(i32),
}

/// How a screen's worker thread tells the main loop it has news. Cheap to
/// clone and `Send`; one `Wake` at most waits in the channel however often
/// workers call `wake`, so a suspended TUI does not pile them up.
#[derive(Clone, Default)]
pub struct Waker {
    /// `None`: a waker no loop listens to (screens built before or without
    /// one: tests; then `wake` does nothing).
    tx: Option<Sender<AppEvent>>,
    /// A `Wake` is in the channel and the loop has not taken it yet.
    pending: Arc<AtomicBool>,
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waker")
            .field("listened", &self.tx.is_some())
            .field("pending", &self.pending.load(Ordering::Relaxed))
            .finish()
    }
}

impl Waker {
    pub(crate) fn new(tx: Sender<AppEvent>) -> Waker {
        Waker {
            tx: Some(tx),
            pending: Arc::default(),
        }
    }

    /// Call after posting on the screen's own channel: the loop wakes and
    /// the screen's `poll` runs on the UI thread. Never blocks.
    pub fn wake(&self) {
        let Some(tx) = &self.tx else {
            return;
        };
        // AcqRel: the news posted before this call is visible to the loop
        // once it has cleared the flag (`woken`) and polls.
        if !self.pending.swap(true, Ordering::AcqRel) {
            let _ = tx.send(AppEvent::Wake);
        }
    }

    /// The loop took the `Wake`: the next `wake` sends another. Called
    /// before the screens are polled, so news posted meanwhile is not lost.
    pub(crate) fn woken(&self) {
        self.pending.swap(false, Ordering::AcqRel);
    }

    /// A sender for the loop's other producers (input, collector, signals).
    pub(crate) fn sender(&self) -> Option<Sender<AppEvent>> {
        self.tx.clone()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Reading,
    /// The UI wants the terminal for a foreground program.
    PauseAsked,
    /// The thread has stopped reading and waits for `resume`.
    Paused,
    Stop,
}

struct Control {
    phase: Mutex<Phase>,
    changed: Condvar,
}

impl Control {
    fn set(&self, from: &[Phase], to: Phase) {
        let mut p = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        if from.contains(&p) {
            *p = to;
            self.changed.notify_all();
        }
    }

    /// On the UI thread, after asking for a pause: waits for the input
    /// thread to acknowledge it.
    fn wait_until_paused(&self) {
        let mut p = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        while *p == Phase::PauseAsked {
            p = self.changed.wait(p).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// On the input thread: acknowledges a pause and waits while paused.
    /// False once the thread is to stop.
    fn may_read(&self) -> bool {
        let mut p = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match *p {
                Phase::Reading => return true,
                Phase::Stop => return false,
                Phase::PauseAsked => {
                    *p = Phase::Paused;
                    self.changed.notify_all();
                }
                Phase::Paused => {}
            }
            p = self.changed.wait(p).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The terminal crossterm reads: stdin when it is one, else /dev/tty (as
/// crossterm chooses).
enum Tty {
    Stdin(std::io::Stdin),
    DevTty(std::fs::File),
}

impl Tty {
    fn open() -> std::io::Result<Tty> {
        let stdin = std::io::stdin();
        if nix::unistd::isatty(&stdin).unwrap_or(false) {
            return Ok(Tty::Stdin(stdin));
        }
        std::fs::File::open("/dev/tty").map(Tty::DevTty)
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Tty::Stdin(s) => s.as_fd(),
            Tty::DevTty(f) => f.as_fd(),
        }
    }
}

/// How long the input thread waits in crossterm's `event::poll` before it
/// looks whether the UI wants the terminal (`Input::pause`): the longest a
/// foreground program waits to start, and four wake-ups a second while
/// nobody types.
///
/// Why not sleep in poll(2) on the terminal and a pipe the UI writes to,
/// for no wake-ups at all: crossterm's reader is edge-triggered (mio) and,
/// when a resize and a key are ready in the same round, it returns the
/// resize and drops the key's readiness. A level-triggered poll(2) beside
/// it then sees the terminal readable forever while crossterm sees
/// nothing new: a spinning thread. Inside crossterm's own poll that case
/// only delays the key to the next one, as it always has.
pub const INPUT_CHECK_EVERY: Duration = Duration::from_millis(250);

/// The thread that reads the terminal (crossterm's `event::read`) and
/// sends each event to the loop, so the loop itself never waits in
/// crossterm. It stops reading while a foreground program (`!`, the Lab's
/// `e`) has the terminal.
pub struct Input {
    control: Arc<Control>,
}

impl Input {
    /// Starts reading. Call with the terminal in raw mode.
    pub fn start(tx: Sender<AppEvent>) -> anyhow::Result<Input> {
        let tty = Tty::open().map_err(|e| anyhow::anyhow!("cannot open the terminal: {e}"))?;
        let control = Arc::new(Control {
            phase: Mutex::new(Phase::Reading),
            changed: Condvar::new(),
        });
        let ctl = Arc::clone(&control);
        std::thread::Builder::new()
            .name("isolab-input".into())
            .spawn(move || {
                read_loop(&tty, &ctl, &tx);
                // Ended (hung up, an error): a later `pause` must not wait
                // for an acknowledgement that cannot come.
                ctl.set(&[Phase::Reading, Phase::PauseAsked], Phase::Stop);
            })
            .map_err(|e| anyhow::anyhow!("cannot start the input thread: {e}"))?;
        Ok(Input { control })
    }

    /// Stops reading the terminal; returns once the thread no longer reads
    /// it (within `INPUT_CHECK_EVERY`), so a foreground program gets every
    /// key, and isolab, then in the background, never reads the terminal
    /// (which would stop it with SIGTTIN). Events read before stay queued
    /// for after `resume`.
    pub fn pause(&self) {
        self.control.set(&[Phase::Reading], Phase::PauseAsked);
        self.control.wait_until_paused();
    }

    /// Reads the terminal again (after `pause`, with raw mode back on).
    pub fn resume(&self) {
        self.control
            .set(&[Phase::Paused, Phase::PauseAsked], Phase::Reading);
    }
}

impl Drop for Input {
    /// Tells the thread to stop; it is not joined (nothing of it needs
    /// cleaning up, and quitting should not wait on the terminal).
    fn drop(&mut self) {
        self.control.set(
            &[Phase::Reading, Phase::PauseAsked, Phase::Paused],
            Phase::Stop,
        );
    }
}

fn read_loop(tty: &Tty, control: &Control, tx: &Sender<AppEvent>) {
    let ended = |e: Option<std::io::Error>| {
        let _ = tx.send(AppEvent::InputEnded(e));
    };
    while control.may_read() {
        // A hung-up terminal: crossterm would spin reading EOF, so look
        // first (a hang-up while inside crossterm is the signal watcher's:
        // SIGHUP).
        let mut fds = [PollFd::new(tty.fd(), PollFlags::empty())];
        if let Ok(1..) = nix::poll::poll(&mut fds, PollTimeout::ZERO)
            && fds[0].revents().is_some_and(|r| {
                r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
            })
        {
            return ended(None);
        }
        match event::poll(INPUT_CHECK_EVERY) {
            Ok(true) => match event::read() {
                Ok(ev) => {
                    if tx.send(AppEvent::Input(ev)).is_err() {
                        return; // the loop is gone
                    }
                }
                Err(e) => return ended(Some(e)),
            },
            Ok(false) => {}
            Err(e) => return ended(Some(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn wakes_coalesce_until_the_loop_takes_one() {
        let (tx, rx) = mpsc::channel();
        let waker = Waker::new(tx);
        let other = waker.clone();
        waker.wake();
        other.wake();
        waker.wake();
        assert!(matches!(rx.try_recv(), Ok(AppEvent::Wake)));
        assert!(rx.try_recv().is_err(), "one Wake waits, not three");
        waker.woken();
        other.wake();
        assert!(
            matches!(rx.try_recv(), Ok(AppEvent::Wake)),
            "taken: the next wake sends"
        );
        // A waker no loop listens to does nothing.
        Waker::default().wake();
    }

    #[test]
    fn pause_and_resume_hand_the_phase_over() {
        let control = Arc::new(Control {
            phase: Mutex::new(Phase::Reading),
            changed: Condvar::new(),
        });
        let ctl = Arc::clone(&control);
        let (seen_tx, seen_rx) = mpsc::channel();
        // Stands in for the input thread's loop.
        let reader = std::thread::spawn(move || {
            while ctl.may_read() {
                let _ = seen_tx.send(());
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        seen_rx.recv().expect("the reader reads");
        control.set(&[Phase::Reading], Phase::PauseAsked);
        control.wait_until_paused();
        assert_eq!(
            *control.phase.lock().expect("not poisoned"),
            Phase::Paused,
            "the reader acknowledged the pause"
        );
        while seen_rx.try_recv().is_ok() {}
        std::thread::sleep(Duration::from_millis(20));
        assert!(seen_rx.try_recv().is_err(), "no reading while paused");
        control.set(&[Phase::Paused], Phase::Reading);
        seen_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("reading again after resume");
        control.set(&[Phase::Reading, Phase::Paused], Phase::Stop);
        reader.join().expect("the reader stopped");
        // A reader that has ended never holds up a pause.
        control.set(&[Phase::Reading], Phase::PauseAsked);
        control.wait_until_paused();
    }
}
