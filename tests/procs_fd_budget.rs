//! Two /proc readers in one process under a tight open-files limit: the
//! stat files they keep open share one budget, so neither runs the process
//! out of fds and loses processes (an open that fails for lack of fds looks
//! like an exited process). Its own test binary: it lowers RLIMIT_NOFILE.

mod common;
mod procs_support;

use isolab::sys::procs::ProcReader;
use procs_support::{Spawned, wait_for};

#[test]
fn two_readers_share_the_kept_fd_budget_and_lose_no_process() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    // 2,100 fds: the budget is 2,100 - 1,024 = 1,076 kept stat files. Two
    // readers each keeping that many would need 2,152: more than there are.
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if !common::require(
        hard >= 2100,
        &format!("the hard open-files limit ({hard}) is below 2,100 (raise it: ulimit -Hn)"),
    ) {
        return;
    }
    setrlimit(Resource::RLIMIT_NOFILE, 2100, 2100).expect("setrlimit");

    let tag = format!("7{}", std::process::id());
    let _sleepers = Spawned::sh(&format!(
        "i=0; while [ $i -lt 1100 ]; do sleep {tag} & i=$((i+1)); done; wait"
    ));
    let count = |s: &isolab::sys::procs::Snapshot| {
        s.procs
            .iter()
            .filter(|p| {
                p.facts.comm == "sleep"
                    && p.facts
                        .cmdline
                        .as_ref()
                        .is_some_and(|a| a.get(1) == Some(&tag))
            })
            .count()
    };
    // Count the sleepers the plain way first, so that every snapshot
    // below, even each reader's first, must find all of them.
    wait_for(30, "1,100 sleepers", || {
        let argv = format!("sleep\0{tag}\0");
        let n = std::fs::read_dir("/proc")
            .ok()?
            .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
            .filter(|c| c == argv.as_bytes())
            .count();
        (n == 1100).then_some(())
    });
    let mut first = ProcReader::new("/proc").expect("reader");
    assert_eq!(count(&first.snapshot().expect("first")), 1100);
    let mut second = ProcReader::new("/proc").expect("reader");
    for _ in 0..3 {
        assert_eq!(count(&second.snapshot().expect("second")), 1100);
        assert_eq!(count(&first.snapshot().expect("first")), 1100);
    }
}
