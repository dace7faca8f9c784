//! A live run is never taken for dead by a cleanup that runs beside it.
//! In a file of its own: its cleanups would otherwise act on the records
//! that other tests plant for their own `isolab cleanup` to judge.

mod common;
use std::process::Command;
use std::sync::atomic::Ordering;

const ISOLAB: &str = env!("CARGO_BIN_EXE_isolab");

fn need_root() -> bool {
    common::need_root("cgroups")
}

/// A live run is never taken for dead by a cleanup that runs at the same
/// moment. (A lock file made under its own name could be taken by a cleanup
/// in the instant before its owner locked it, and unlinked as a dead
/// owner's; the owner's records then looked dead and the next cleanup killed
/// its command and removed its cgroup.)
#[test]
fn cleanups_running_alongside_many_runs_never_touch_a_live_one() {
    if !need_root() {
        return;
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                let _ = Command::new(ISOLAB).arg("cleanup").output();
            }
        });
        let runners: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    for _ in 0..40 {
                        // No --pid and no --memory: tracked by a cgroup of its own.
                        let o = Command::new(ISOLAB)
                            .args(["run", "--uts", "--", "true"])
                            .output()
                            .expect("run isolab");
                        if !o.status.success() {
                            failures.lock().unwrap().push(format!(
                                "{:?}: {}",
                                o.status,
                                String::from_utf8_lossy(&o.stderr)
                            ));
                        }
                    }
                })
            })
            .collect();
        for r in runners {
            r.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of 320 runs were disturbed by a concurrent cleanup:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
