//! Performing a step's "show me" headlessly, and undoing what it started.
//!
//! Commands run through `sh -c` with the directory of the running isolab
//! first on PATH, so a lesson can say `isolab run ...` and mean this isolab.
//! `start:` commands get their own process group, so reset can stop the
//! whole group it created — and nothing else.

use super::lesson::{Action, ActionKind};
use crate::sys::registry;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid as NixPid;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs actions and remembers the process groups it started.
pub struct Runner {
    isolab_dir: PathBuf,
    started: Arc<Mutex<Started>>,
}

/// What a runner started, shared with its [`Stopper`].
#[derive(Default)]
struct Started {
    children: Vec<Child>,
    /// The process group of the `do:` command running now.
    running_do: Option<i32>,
    /// The marker file of this runner in [`markers_dir`], written when it
    /// first starts something, so a crashed isolab's processes are found
    /// and stopped by the next start ([`remove_leftovers`]); with it, the
    /// owner lock that tells a later start this isolab still lives (valid
    /// across PID namespaces, unlike a pid).
    marker: Option<(String, registry::Alive)>,
    /// Set by [`Stopper::close`]: nothing more is started.
    closed: bool,
}

/// Stops what a [`Runner`] started from another thread, without waiting for
/// the thread that owns the runner: that thread may be stuck in a check (a
/// hung file system), and quitting must not wait for it.
#[derive(Clone)]
pub struct Stopper(Arc<Mutex<Started>>);

impl Stopper {
    /// Stops everything started so far and refuses to start more.
    pub fn close(&self) {
        lock(&self.0).closed = true;
        stop(&self.0);
    }
}

fn lock(m: &Mutex<Started>) -> std::sync::MutexGuard<'_, Started> {
    // A panic elsewhere must not keep us from stopping processes.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The environment variable every started process inherits; its value
/// names the isolab (pid and start time) that started it.
pub const MARKER_VAR: &str = "ISOLAB_LESSON_RUN";

fn own_marker() -> Option<String> {
    let me = std::process::id() as i32;
    let id = crate::sys::process::ProcessId::of(me)?;
    Some(format!("{}-{}", id.pid, id.start_time))
}

/// Notes (once) that this isolab has started processes. Best effort:
/// without it they are still stopped on quit, reset, Ctrl-C and panic.
fn remember(started: &mut Started) {
    if started.marker.is_some() {
        return;
    }
    let Some(name) = own_marker() else { return };
    let (Ok(alive), Ok(dir)) = (registry::hold_owner_lock(), markers_dir()) else {
        return;
    };
    let file = format!("{name}.marker");
    if dir.write_atomic(&file, b"").is_ok() {
        started.marker = Some((file, alive));
    }
}

/// Stops every process group in `started`: SIGTERM (and SIGCONT, for
/// stopped members), then SIGKILL after a grace period.
fn stop(started: &Mutex<Started>) {
    let (mut children, marker, running_do) = {
        let mut s = lock(started);
        (
            std::mem::take(&mut s.children),
            s.marker.take(),
            s.running_do,
        )
    };
    if let Some(group) = running_do {
        let _ = killpg(NixPid::from_raw(group), Signal::SIGKILL);
    }
    for child in &children {
        let group = NixPid::from_raw(child.id() as i32);
        let _ = killpg(group, Signal::SIGTERM);
        let _ = killpg(group, Signal::SIGCONT);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for child in &mut children {
        let group = NixPid::from_raw(child.id() as i32);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = killpg(group, Signal::SIGKILL);
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        // Members of the group that outlived its leader.
        let _ = killpg(group, Signal::SIGKILL);
    }
    if let Some((file, _alive)) = marker
        && let Ok(dir) = markers_dir()
    {
        let _ = dir.remove_file(&file);
    }
}

impl Runner {
    /// `isolab` is the binary lesson commands call as `isolab`.
    pub fn new(isolab: &Path) -> Runner {
        Runner {
            isolab_dir: isolab
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            started: Arc::default(),
        }
    }

    /// A handle that stops this runner's processes from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.started.clone())
    }

    /// A runner for the isolab that is running now.
    pub fn for_current_exe() -> Runner {
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("isolab"));
        Runner::new(&exe)
    }

    fn command(&self, text: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(text);
        if let Some(m) = own_marker() {
            cmd.env(MARKER_VAR, m);
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![self.isolab_dir.clone()];
        paths.extend(std::env::split_paths(&path));
        if let Ok(joined) = std::env::join_paths(paths) {
            cmd.env("PATH", joined);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Performs the action. `do:` waits (up to two minutes) and fails with
    /// the command's own error output; `start:` returns once started.
    pub fn perform(&mut self, action: &Action) -> anyhow::Result<()> {
        match action.kind {
            ActionKind::Start => {
                // Spawned under the lock, so a concurrent close either sees
                // this child or prevents it.
                let mut started = lock(&self.started);
                if started.closed {
                    anyhow::bail!("isolab is quitting: `{}` was not started", action.command);
                }
                remember(&mut started);
                let child = self
                    .command(&action.command)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .map_err(|e| anyhow::anyhow!("starting `{}`: {e}", action.command))?;
                started.children.push(child);
                Ok(())
            }
            ActionKind::Do => self.run_to_end(&action.command),
        }
    }

    /// Runs a lesson's `cleanup:` line; failures are reported, not fatal.
    pub fn run_cleanup(&self, text: &str) -> Option<String> {
        let mut cmd = self.command(text);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        match cmd.status() {
            Ok(_) => None,
            Err(e) => Some(format!("cleanup `{text}` could not run: {e}")),
        }
    }

    pub fn started_count(&self) -> usize {
        lock(&self.started).children.len()
    }

    /// Stops every process group this runner started: SIGTERM (and SIGCONT,
    /// for stopped members), then SIGKILL after a grace period.
    pub fn stop_all(&mut self) {
        stop(&self.started);
    }

    fn run_to_end(&self, text: &str) -> anyhow::Result<()> {
        let mut child = {
            let mut started = lock(&self.started);
            if started.closed {
                anyhow::bail!("isolab is quitting: `{text}` was not run");
            }
            let child = self
                .command(text)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .process_group(0)
                .spawn()
                .map_err(|e| anyhow::anyhow!("running `{text}`: {e}"))?;
            started.running_do = Some(child.id() as i32);
            child
        };
        let result = wait_to_end(&mut child, text);
        lock(&self.started).running_do = None;
        result
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// The lessons' own marker directory: `lessons/` in isolab's checked
/// runtime directory (owned by us, 0700: no one else can plant a marker),
/// so other isolab versions sharing the machine never read (or discard)
/// these markers. `learn` and `demo` clean it at start.
fn markers_dir() -> anyhow::Result<crate::sys::paths::Dir> {
    crate::sys::paths::runtime_dir()?.subdir("lessons")
}

/// Whether the isolab that wrote marker `pid-start` still lives: its owner
/// lock is held (across PID namespaces); an isolab from before locks is
/// judged by its pid and start time. Never dead on a doubt.
fn marker_owner_alive(pid: i32, start_ticks: u64) -> bool {
    let id = crate::sys::process::ProcessId {
        pid,
        start_time: start_ticks,
    };
    match registry::creator_lock_held(&id) {
        Some(held) => held,
        None => id.is_alive(),
    }
}

/// Stops the processes of every isolab that started lesson actions and
/// died without stopping them: those owned by our own uid whose
/// environment carries a dead isolab's marker (anyone can set a variable;
/// only our uid's processes are ours to stop). Returns how many were
/// stopped.
pub fn remove_leftovers(proc_root: &Path) -> usize {
    let Ok(dir) = markers_dir() else {
        return 0;
    };
    let mut dead = Vec::new();
    for name in dir.names().unwrap_or_default() {
        let Some(name) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".marker"))
            .map(str::to_string)
        else {
            continue;
        };
        let Some((pid, start)) = name.split_once('-') else {
            continue;
        };
        let (Ok(pid), Ok(start_ticks)) = (pid.parse(), start.parse()) else {
            continue;
        };
        if marker_owner_alive(pid, start_ticks) {
            continue;
        }
        dead.push((format!("{MARKER_VAR}={name}"), format!("{name}.marker")));
    }
    if dead.is_empty() {
        return 0;
    }
    let me = nix::unistd::geteuid().as_raw();
    let mut stopped = 0;
    let pids: Vec<i32> = std::fs::read_dir(proc_root)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    for pid in pids {
        // The pidfd is opened before the owner and environment are read, so
        // the process checked is the process signalled.
        let Some(fd) = crate::sys::pidfd::open(pid).ok() else {
            continue;
        };
        let proc_dir = proc_root.join(pid.to_string());
        let owner = std::fs::metadata(&proc_dir).map(|m| std::os::unix::fs::MetadataExt::uid(&m));
        if owner.ok() != Some(me) {
            continue;
        }
        let Ok(environ) = std::fs::read(proc_dir.join("environ")) else {
            continue;
        };
        let ours = environ
            .split(|b| *b == 0)
            .any(|var| dead.iter().any(|(m, _)| var == m.as_bytes()));
        if ours && crate::sys::pidfd::send_signal(&fd, libc::SIGKILL) {
            stopped += 1;
        }
    }
    for (_, file) in dead {
        let _ = dir.remove_file(&file);
    }
    stopped
}

fn wait_to_end(child: &mut Child, text: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = killpg(NixPid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            anyhow::bail!("`{text}` did not finish within two minutes and was stopped");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if status.success() {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        use std::io::Read;
        let _ = stderr.read_to_string(&mut err);
    }
    anyhow::bail!("`{text}` failed ({status}): {}", err.trim())
}
