//! The collector thread: reads a snapshot every interval and sends it as a
//! plain value, so the UI thread never waits on /proc.

use crate::sys::procs::{ProcReader, Snapshot};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub enum Collected {
    Snapshot(Snapshot),
    Error(String),
}

pub struct Collector {
    pub rx: Receiver<Collected>,
    /// Dropping this sender stops the thread.
    stop: Option<Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

impl Collector {
    pub fn start(mut reader: ProcReader, interval: Duration) -> Collector {
        let (tx, rx) = mpsc::channel();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("isolab-collector".into())
            .spawn(move || {
                loop {
                    let started = Instant::now();
                    let msg = match reader.snapshot() {
                        Ok(s) => Collected::Snapshot(s),
                        Err(e) => Collected::Error(format!("{e:#}")),
                    };
                    if tx.send(msg).is_err() {
                        return;
                    }
                    let wait = interval.saturating_sub(started.elapsed());
                    match stop_rx.recv_timeout(wait) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                }
            })
            .ok();
        Collector {
            rx,
            stop: Some(stop_tx),
            handle,
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
