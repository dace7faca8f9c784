//! The collector thread: refreshes a snapshot every interval and sends it
//! as a plain value, so the UI thread never waits on /proc.
//!
//! Two snapshots take turns: the UI shows one while the collector refreshes
//! the other in place (`ProcReader::refresh` keeps what it already read of
//! each live process). The UI hands its previous snapshot back with
//! `recycle`, so a steady state allocates almost nothing per refresh.
//! Snapshots go straight into the main loop's channel (`AppEvent::Collected`).

use super::events::AppEvent;
use crate::sys::procs::{Pid, ProcReader, Snapshot};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

pub enum Collected {
    /// A snapshot, and the memory cgroups (paths as in /proc/PID/cgroup)
    /// whose OOM-kill counter rose since the previous one.
    Snapshot(Snapshot, Vec<String>),
    Error(String),
}

pub struct Collector {
    /// An error sent and not yet shown (`error_shown`): the next one waits,
    /// so errors do not pile up in the loop's channel while it is busy or
    /// the UI is suspended. (Snapshots cannot: only two exist.)
    error_pending: Arc<AtomicBool>,
    /// Dropped (with `stop`) to wake a thread waiting for a snapshot back.
    recycle: Option<Sender<Snapshot>>,
    /// Dropping this sender stops the thread.
    stop: Option<Sender<()>>,
    /// The process the user is looking at (see `ProcReader::set_focus`).
    focus: Sender<Option<Pid>>,
}

impl Collector {
    /// Starts the thread; it sends to the main loop on `tx`.
    pub fn start(
        mut reader: ProcReader,
        interval: Duration,
        tx: Sender<AppEvent>,
    ) -> anyhow::Result<Collector> {
        // Only two snapshots are in play: while the UI is suspended (a
        // foreground shell) and hands none back, the collector stops
        // refreshing.
        let error_pending = Arc::new(AtomicBool::new(false));
        let error_sent = Arc::clone(&error_pending);
        let (recycle, recycled) = mpsc::channel::<Snapshot>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let (focus, focus_rx) = mpsc::channel::<Option<Pid>>();
        std::thread::Builder::new()
            .name("isolab-collector".into())
            .spawn(move || {
                // At most two snapshots exist: one shown by the UI, one
                // here (or in the channel). With both away, skip the tick.
                let mut spare: Option<Snapshot> = None;
                let mut oom_watch = crate::sys::cgroup::OomWatch::new(
                    crate::sys::cgroup::MemoryHierarchy::detect().ok(),
                );
                let mut made = 0;
                loop {
                    let started = Instant::now();
                    if let Some(pid) = focus_rx.try_iter().last() {
                        reader.set_focus(pid);
                    }
                    if spare.is_none() {
                        spare = recycled.try_iter().last();
                    }
                    let snap = match spare.take() {
                        Some(s) => Some(s),
                        None if made < 2 => {
                            made += 1;
                            Some(Snapshot::default())
                        }
                        None => None,
                    };
                    let Some(mut snap) = snap else {
                        // The UI has not handed one back yet (it is busy or
                        // suspended): wait for it, or for the next tick.
                        match recycled.recv_timeout(interval) {
                            Ok(s) => spare = Some(s),
                            Err(RecvTimeoutError::Timeout) => {}
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                        if !matches!(stop_rx.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                            return;
                        }
                        continue;
                    };
                    let msg = match reader.refresh(&mut snap) {
                        Ok(()) => {
                            let oom = oom_watch.rose(&snap);
                            Collected::Snapshot(snap, oom)
                        }
                        Err(e) => {
                            spare = Some(snap);
                            Collected::Error(format!("{e:#}"))
                        }
                    };
                    let skip = matches!(msg, Collected::Error(_))
                        && error_sent.swap(true, Ordering::AcqRel);
                    if !skip && tx.send(AppEvent::Collected(msg)).is_err() {
                        return; // the loop is gone
                    }
                    let wait = interval.saturating_sub(started.elapsed());
                    match stop_rx.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })
            .map_err(|e| anyhow::anyhow!("cannot start the /proc collector thread: {e}"))?;
        Ok(Collector {
            error_pending,
            recycle: Some(recycle),
            stop: Some(stop_tx),
            focus,
        })
    }

    /// Tells the collector which process the user is looking at: its
    /// static facts are re-read on every refresh, not once per rotation.
    pub fn focus(&self, pid: Option<Pid>) {
        let _ = self.focus.send(pid);
    }

    /// The loop has shown the error it got: the next one may be sent.
    pub fn error_shown(&self) {
        self.error_pending.store(false, Ordering::Release);
    }

    /// Gives a snapshot the UI no longer shows back for refreshing in place.
    pub fn recycle(&self, old: Snapshot) {
        // If the thread has ended the snapshot is simply dropped.
        if let Some(r) = &self.recycle {
            let _ = r.send(old);
        }
    }
}

impl Drop for Collector {
    /// Tells the thread to stop. It is not joined: a scan of 10,000
    /// processes can take a second, and quitting should not wait for it
    /// (the thread only reads /proc; it ends at its next check or with
    /// the process).
    fn drop(&mut self) {
        self.stop.take();
        self.recycle.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real /proc: snapshots keep coming as the UI hands old ones back,
    /// each refreshed in place, and dropping the collector stops it.
    #[test]
    fn snapshots_flow_and_recycled_ones_are_refreshed() {
        let reader = ProcReader::new("/proc").expect("open /proc");
        let (tx, rx) = mpsc::channel();
        let collector =
            Collector::start(reader, Duration::from_millis(100), tx).expect("collector thread");
        let me = std::process::id() as i32;
        let mut shown: Option<Snapshot> = None;
        for _ in 0..4 {
            let msg = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("a snapshot from the collector");
            let snap = match msg {
                AppEvent::Collected(Collected::Snapshot(s, _)) => s,
                AppEvent::Collected(Collected::Error(e)) => panic!("collector error: {e}"),
                _ => panic!("the collector sends only what it collected"),
            };
            assert!(
                snap.get(me).is_some(),
                "this test process is in the snapshot"
            );
            assert!(snap.ticks_per_sec > 0 && snap.boot_time > 0);
            if let Some(old) = shown.replace(snap) {
                collector.recycle(old);
            }
        }
        drop(collector);
    }
}
