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
use std::time::{Duration, Instant};

/// Runs actions and remembers the process groups it started.
pub struct Runner {
    isolab_dir: PathBuf,
    started: Vec<Child>,
    /// The marker file of this runner in [`registry_dir`], written when it
    /// first starts something, so a crashed isolab's processes are found
    /// and stopped by the next start ([`remove_leftovers`]).
    marker: Option<PathBuf>,
}

/// The environment variable every started process inherits; its value
/// names the isolab (pid and start time) that started it.
pub const MARKER_VAR: &str = "ISOLAB_LESSON_RUN";

fn own_marker() -> Option<String> {
    let me = std::process::id() as i32;
    let id = registry::ProcessId::of(me)?;
    Some(format!("{}-{}", id.pid, id.start_time))
}

impl Runner {
    /// `isolab` is the binary lesson commands call as `isolab`.
    pub fn new(isolab: &Path) -> Runner {
        Runner {
            isolab_dir: isolab
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            started: Vec::new(),
            marker: None,
        }
    }

    /// Notes (once) that this isolab has started processes. Best effort:
    /// without it they are still stopped on quit, reset, Ctrl-C and panic.
    fn remember(&mut self) {
        if self.marker.is_some() {
            return;
        }
        let Some(name) = own_marker() else { return };
        let dir = registry_dir();
        let path = dir.join(format!("{name}.marker"));
        if std::fs::create_dir_all(&dir).is_ok() && std::fs::write(&path, b"").is_ok() {
            self.marker = Some(path);
        }
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
                self.remember();
                let child = self
                    .command(&action.command)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .map_err(|e| anyhow::anyhow!("starting `{}`: {e}", action.command))?;
                self.started.push(child);
                Ok(())
            }
            ActionKind::Do => run_to_end(self.command(&action.command), &action.command),
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
        self.started.len()
    }

    /// Stops every process group this runner started: SIGTERM (and SIGCONT,
    /// for stopped members), then SIGKILL after a grace period.
    pub fn stop_all(&mut self) {
        for child in &self.started {
            let group = NixPid::from_raw(child.id() as i32);
            let _ = killpg(group, Signal::SIGTERM);
            let _ = killpg(group, Signal::SIGCONT);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for child in &mut self.started {
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
        self.started.clear();
        if let Some(path) = self.marker.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop_all();
    }
}

/// The lessons' own registry directory: a subdirectory of isolab's, so
/// other isolab versions sharing the machine never read (or discard) these
/// records. `learn` and `demo` clean it at start.
pub fn registry_dir() -> PathBuf {
    registry::registry_dir().join("lessons")
}

/// Stops the processes of every isolab that started lesson actions and
/// died without stopping them: those whose environment carries a dead
/// isolab's marker. Returns how many were stopped.
pub fn remove_leftovers(proc_root: &Path) -> usize {
    let Ok(markers) = std::fs::read_dir(registry_dir()) else {
        return 0;
    };
    let mut dead = Vec::new();
    for entry in markers.flatten() {
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
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
        let _ = proc_root;
        if (registry::ProcessId {
            pid,
            start_time: start_ticks,
        })
        .is_alive()
        {
            continue;
        }
        dead.push((format!("{MARKER_VAR}={name}"), path));
    }
    if dead.is_empty() {
        return 0;
    }
    let mut stopped = 0;
    let pids: Vec<i32> = std::fs::read_dir(proc_root)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .collect()
        })
        .unwrap_or_default();
    for pid in pids {
        // The pidfd is opened before the environment is read, so the process
        // checked is the process signalled.
        let Some(fd) = registry::pidfd_open(pid) else {
            continue;
        };
        let Ok(environ) = std::fs::read(proc_root.join(pid.to_string()).join("environ")) else {
            continue;
        };
        let ours = environ
            .split(|b| *b == 0)
            .any(|var| dead.iter().any(|(m, _)| var == m.as_bytes()));
        if ours && registry::pidfd_send_signal(&fd, libc::SIGKILL) {
            stopped += 1;
        }
    }
    for (_, path) in dead {
        let _ = std::fs::remove_file(path);
    }
    stopped
}

fn run_to_end(mut cmd: Command, text: &str) -> anyhow::Result<()> {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| anyhow::anyhow!("running `{text}`: {e}"))?;
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
