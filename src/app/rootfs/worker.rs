//! The Root screen's thread: every directory read (readdir + one fstatat
//! per entry, the sort, the NEW marks) happens here, never on the UI
//! thread.

use crate::app::events::Waker;
use crate::sys::rootfs::{DirList, ListLimits, ProcRoot, RootfsError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};

/// A listing with its NEW marks (one per row).
#[derive(Debug)]
pub struct Listed {
    pub list: DirList,
    pub new: Vec<bool>,
}

#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) listings: AtomicU64,
    pub(super) checks: AtomicU64,
}

/// Asked of the worker: list `path` (if `force`, or if its stamp differs
/// from `prev`'s), marking names that are not in `prev`.
pub(super) struct Ask {
    pub(super) id: u64,
    pub(super) root: Arc<ProcRoot>,
    pub(super) path: String,
    pub(super) prev: Option<Arc<Listed>>,
    pub(super) force: bool,
    pub(super) count: Arc<AtomicUsize>,
}

/// Answered: a listing, `None` (unchanged, or stopped for a newer
/// request), or why not.
pub(super) struct Answer {
    pub(super) id: u64,
    pub(super) result: Result<Option<Arc<Listed>>, RootfsError>,
}

/// The Root screen's thread: every directory read (readdir + one fstatat
/// per entry, the sort, the NEW marks). Only the newest request is worked
/// on; one arriving while a listing runs stops it. It ends when the screen
/// drops its end of the channel, and never holds up quitting (nothing
/// joins it).
#[derive(Debug)]
pub(super) struct ListWorker {
    pub(super) ask: Sender<Ask>,
    pub(super) answers: Receiver<Answer>,
}

impl ListWorker {
    pub(super) fn start(counters: Arc<Counters>, waker: Waker) -> Option<ListWorker> {
        let (ask, asked) = mpsc::channel::<Ask>();
        let (tx, answers) = mpsc::channel::<Answer>();
        std::thread::Builder::new()
            .name("isolab-rootfs".into())
            .spawn(move || {
                let mut next: Option<Ask> = None;
                loop {
                    let mut job = match next.take() {
                        Some(a) => a,
                        None => match asked.recv() {
                            Ok(a) => a,
                            Err(_) => return,
                        },
                    };
                    // Only the newest request matters.
                    while let Ok(newer) = asked.try_recv() {
                        job = newer;
                    }
                    let mut woke = std::time::Instant::now();
                    let result = list_for(&job, &counters, &mut || {
                        // The "reading… N entries" count: ten times a second.
                        if woke.elapsed() >= std::time::Duration::from_millis(100) {
                            waker.wake();
                            woke = std::time::Instant::now();
                        }
                        match asked.try_recv() {
                            Ok(newer) => {
                                next = Some(newer);
                                false
                            }
                            Err(TryRecvError::Empty) => true,
                            Err(TryRecvError::Disconnected) => false,
                        }
                    });
                    if tx.send(Answer { id: job.id, result }).is_err() {
                        return; // the screen is gone
                    }
                    waker.wake();
                }
            })
            .ok()
            .map(|_| ListWorker { ask, answers })
    }
}

/// One request, on the worker: check the stamp unless forced, then list.
fn list_for(
    job: &Ask,
    counters: &Counters,
    go_on: &mut dyn FnMut() -> bool,
) -> Result<Option<Arc<Listed>>, RootfsError> {
    job.root.check_alive()?;
    if !job.force {
        counters.checks.fetch_add(1, Ordering::Relaxed);
        let stamp = job.root.dir_stamp(&job.path)?;
        if job.prev.as_ref().is_some_and(|p| p.list.stamp == stamp) {
            return Ok(None);
        }
    }
    counters.listings.fetch_add(1, Ordering::Relaxed);
    let count = &job.count;
    let listed = job
        .root
        .list_dir_compact(&job.path, ListLimits::SCREEN, &mut |n| {
            count.store(n, Ordering::Relaxed);
            go_on()
        })?;
    Ok(listed.map(|list| {
        let new = new_marks(&list, job.prev.as_deref());
        Arc::new(Listed { list, new })
    }))
}

/// NEW marks for a re-read of the same directory: a name not in the
/// previous listing is new, and one marked before stays marked (until the
/// user leaves the directory). Both are sorted by name: one merge walk.
pub(super) fn new_marks(list: &DirList, prev: Option<&Listed>) -> Vec<bool> {
    let Some(prev) = prev else {
        return vec![false; list.len()];
    };
    let mut j = 0;
    (0..list.len())
        .map(|i| {
            let name = list.name(i);
            while j < prev.list.len() && prev.list.name(j) < name {
                j += 1;
            }
            if j < prev.list.len() && prev.list.name(j) == name {
                prev.new[j]
            } else {
                true
            }
        })
        .collect()
}
