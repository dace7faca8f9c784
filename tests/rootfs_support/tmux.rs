//! A private tmux server for the Root screen journey: send keys, read the
//! screen, wait for text (never fixed sleeps). Killed on drop.

use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(w: u16, h: u16, argv: &[&str]) -> Tmux {
        let t = Tmux {
            socket: format!("isolab-rootfs-test-{}", super::unique_tag("tmux")),
        };
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

    pub fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "j"];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    pub fn text(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "j", "-l", text]);
    }

    pub fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-t", "j", "-p"])
    }

    /// Waits until one of `texts` shows; returns which one and the screen.
    pub fn wait_for_any(&self, texts: &[&str]) -> (usize, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if let Some(i) = texts.iter().position(|t| s.contains(t)) {
                return (i, s);
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for any of {texts:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {text:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
    }
}
