//! Shared helpers for the lessons tests.
#![allow(dead_code)]

use isolab::lessons::catalog::{self, Entry};
use isolab::lessons::lesson::Lesson;
use std::path::{Path, PathBuf};

pub fn lessons_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons")
}

/// A lesson built into the binary (the same text as `lessons/ID.lesson`).
pub fn shipped(id: &str) -> Lesson {
    let entries: Vec<Entry> = catalog::shipped();
    let entry = entries
        .into_iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no shipped lesson {id}"));
    entry
        .lesson
        .unwrap_or_else(|e| panic!("lesson {id} has errors: {e:?}"))
}

pub fn isolab() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_isolab"))
}

/// What a finished isolab said.
pub struct Ran {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub out: String,
    pub err: String,
}

/// Runs isolab (`exe`, or the built one) with `args` in `cwd`, `stdin` typed
/// in, progress under `state`. A run still going after 60 s is killed and
/// the test fails: it hung (a FIFO, a stuck worker).
pub fn run_in(exe: Option<&Path>, args: &[&str], cwd: &Path, stdin: &str, state: &Path) -> Ran {
    use std::io::{Read, Write};
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};
    let exe = exe.map(Path::to_path_buf).unwrap_or_else(isolab);
    // A copied binary may still be open for writing in a child another
    // test thread forks (ETXTBSY until it execs): retry a little.
    let mut tries = 0;
    let mut child = loop {
        match Command::new(&exe)
            .args(args)
            .current_dir(cwd)
            .env("XDG_STATE_HOME", state)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            other => break other.unwrap(),
        }
    };
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("isolab {args:?} hung: still running after 60 s (killed)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    Ran {
        code: status.code(),
        signal: status.signal(),
        out: text(out_reader.join().unwrap()),
        err: text(err_reader.join().unwrap()),
    }
}

/// Whether the test may run as root-only: fails unless it is root, or
/// ISOLAB_TEST_ALLOW_SKIP=1 allows a skip (then says so).
#[track_caller]
pub fn require_root(test: &str) -> bool {
    crate::common::need_root(&format!("{test} checks what isolab refuses as root"))
}

/// A number no other test (or helper) uses for its `sleep`: unique per
/// test process and `salt`.
pub fn unique(salt: u32) -> u32 {
    7_000_000 + (std::process::id() % 100_000) * 10 + salt
}
