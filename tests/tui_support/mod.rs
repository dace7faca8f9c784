//! Drive the real binary in tmux, as a person would: send keys, read the
//! screen, wait for text (never fixed sleeps).

#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Whether tmux is installed; if not, the test fails unless
    /// ISOLAB_TEST_ALLOW_SKIP=1 (then false: the caller returns).
    #[track_caller]
    pub fn available() -> bool {
        crate::common::require(
            Command::new("tmux").arg("-V").output().is_ok(),
            "tmux is not installed (scripts/test.sh installs it)",
        )
    }

    /// A private tmux server with one `bash` window of `w`x`h`. Without
    /// tmux the test fails, unless ISOLAB_TEST_ALLOW_SKIP=1 (then None).
    pub fn start(w: u16, h: u16) -> Option<Tmux> {
        if !Tmux::available() {
            return None;
        }
        let t = Tmux::start_program(w, h, &["PS1=$ ", "bash", "--norc", "--noprofile"]);
        t.cmd(&["set-option", "-g", "window-size", "manual"]);
        t.wait_for("$", 10);
        Some(t)
    }

    /// A private tmux server whose one window runs `argv` (under `env
    /// TERM=xterm-256color`, so it may start with NAME=VALUE settings),
    /// `w`x`h`. tmux is installed wherever these tests run (scripts/test.sh
    /// installs it).
    pub fn start_program(w: u16, h: u16, argv: &[&str]) -> Tmux {
        let t = Tmux::unstarted();
        let (w, h) = (w.to_string(), h.to_string());
        let mut args = vec![
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "j",
            "-x",
            &w,
            "-y",
            &h,
            "env",
            "TERM=xterm-256color",
        ];
        args.extend_from_slice(argv);
        t.cmd(&args);
        t
    }

    /// A handle on a server of its own (one per call, also across tests
    /// running in parallel in this process).
    fn unstarted() -> Tmux {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Tmux {
            socket: format!("isolab-test-{}-{n}", std::process::id()),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types text literally, then presses Enter.
    pub fn type_line(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "j", "-l", text]);
        self.cmd(&["send-keys", "-t", "j", "Enter"]);
    }

    /// Types text literally (no Enter).
    pub fn type_text(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "j", "-l", text]);
    }

    /// Sends tmux key names (`q`, `Enter`, `C-c`, `/`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "j"];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    pub fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-t", "j", "-p"])
    }

    /// The screen with its colours, as SGR escape sequences.
    pub fn screen_with_colours(&self) -> String {
        self.cmd(&["capture-pane", "-t", "j", "-p", "-e"])
    }

    pub fn alternate_on(&self) -> bool {
        self.cmd(&["display-message", "-t", "j", "-p", "#{alternate_on}"])
            .trim()
            == "1"
    }

    /// Waits until the screen contains `text`; panics with the screen if not.
    pub fn wait_for(&self, text: &str, secs: u64) -> String {
        self.wait_until(secs, &format!("{text:?} on screen"), |s| s.contains(text))
    }

    /// Waits until one of `texts` shows; returns which one and the screen.
    pub fn wait_for_any(&self, texts: &[&str], secs: u64) -> (usize, String) {
        let s = self.wait_until(secs, &format!("any of {texts:?} on screen"), |s| {
            texts.iter().any(|t| s.contains(t))
        });
        let i = texts.iter().position(|t| s.contains(t)).unwrap_or(0);
        (i, s)
    }

    pub fn wait_until(&self, secs: u64, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The PID of the program running in the pane's shell (isolab).
    pub fn foreground_pid(&self, comm: &str) -> i32 {
        let shell: i32 = self
            .cmd(&["display-message", "-t", "j", "-p", "#{pane_pid}"])
            .trim()
            .parse()
            .expect("pane pid");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            for entry in std::fs::read_dir("/proc").expect("proc").flatten() {
                let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                    continue;
                };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                    continue;
                };
                let Some(close) = stat.rfind(')') else {
                    continue;
                };
                let name = &stat[stat.find('(').unwrap_or(0) + 1..close];
                let ppid: i32 = stat[close + 2..]
                    .split(' ')
                    .nth(1)
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                if ppid == shell && name == comm {
                    return pid;
                }
            }
            assert!(Instant::now() < deadline, "no {comm} under the pane shell");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// After isolab exits: the alternate screen is off and the shell answers
    /// with echo and canonical mode back on.
    pub fn assert_terminal_restored(&self, tag: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.alternate_on() {
            assert!(Instant::now() < deadline, "still in the alternate screen");
            std::thread::sleep(Duration::from_millis(50));
        }
        // $((6*7)) makes the output differ from the typed command line.
        self.type_line(&format!(
            "echo \"modes:$(stty -a | tr ' ;' '\\n\\n' | grep -xE -- '-?(icanon|echo)' | tr '\\n' ' ')restored-$((6*7))-{tag}\""
        ));
        let s = self.wait_for(&format!("restored-42-{tag}"), 10);
        let line = s
            .lines()
            .find(|l| l.contains(&format!("restored-42-{tag}")))
            .unwrap_or_default();
        assert!(
            line.contains("modes:icanon echo restored"),
            "terminal modes not restored: {line}\n{s}"
        );
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
    }
}
