//! The Root screen on a real 300,000-entry directory (issue 10, point 9):
//! the directory is read once, on the screen's worker thread, while keys
//! keep working; refreshes cost one fstat, not a re-read; paging, End and
//! search work on the whole listing; a result for a directory already left
//! is dropped. And the real binary in tmux: idle on that directory it uses
//! little CPU, and a key shows on screen.
//!
//! The directories live on /dev/shm (tmpfs): 300,000 files take seconds to
//! make there, minutes on a VM's disk.

mod common;
mod rootfs_support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use isolab::app::rootfs::RootState;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rootfs_support::tmux::Tmux;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ENTRIES: usize = 300_000;

/// A temp directory of ENTRIES empty files `entry-0000000`.. on /dev/shm,
/// removed on drop.
fn big_dir(what: &str) -> tempfile::TempDir {
    assert!(
        Path::new("/dev/shm").is_dir(),
        "these tests need a tmpfs at /dev/shm (300,000 files on disk take minutes)"
    );
    let dir = tempfile::Builder::new()
        .prefix(&format!(
            "isolab-rootfs-large-{what}-{}-",
            std::process::id()
        ))
        .tempdir_in("/dev/shm")
        .expect("temp dir on /dev/shm");
    for i in 0..ENTRIES {
        std::fs::File::create(dir.path().join(format!("entry-{i:07}")))
            .unwrap_or_else(|e| panic!("creating entry {i} in {}: {e}", dir.path().display()));
    }
    dir
}

fn press(s: &mut RootState, code: KeyCode) {
    assert!(
        s.on_key(KeyEvent::new(code, KeyModifiers::NONE)),
        "{code:?} not handled"
    );
}

fn typed(s: &mut RootState, text: &str) {
    for c in text.chars() {
        press(s, KeyCode::Char(c));
    }
}

fn loaded(s: &mut RootState) {
    assert!(
        s.wait_loaded(Duration::from_secs(120)),
        "the listing of {} never came",
        s.cwd
    );
}

fn selected_name(s: &RootState) -> String {
    s.selected_entry().map(|e| e.name).unwrap_or_default()
}

fn search(s: &mut RootState, text: &str) {
    press(s, KeyCode::Char('/'));
    typed(s, text);
    press(s, KeyCode::Enter);
}

/// From `/`, walk into `path` (absolute, as our own process sees it) by
/// searching each component and pressing Enter; the last Enter is not
/// waited for. Returns how many listings were done before that last Enter
/// (read after it, the worker may already have counted the new one).
fn walk_to(s: &mut RootState, path: &Path) -> u64 {
    let parts: Vec<String> = path
        .components()
        .skip(1)
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let mut before = s.listings();
    for (i, part) in parts.iter().enumerate() {
        loaded(s);
        search(s, part);
        assert_eq!(&selected_name(s), part, "{:?}", s.message);
        before = s.listings();
        press(s, KeyCode::Enter);
        if i + 1 < parts.len() {
            loaded(s);
        }
    }
    before
}

fn frame(s: &RootState) -> String {
    let mut t = Terminal::new(TestBackend::new(120, 30)).expect("terminal");
    t.draw(|f| isolab::app::rootfs::view::render(f, f.area(), s))
        .expect("draw");
    let buf = t.backend().buffer().clone();
    (0..buf.area.height)
        .map(|y| {
            let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            line.trim_end().to_string() + "\n"
        })
        .collect()
}

#[test]
fn a_300k_directory_is_read_once_off_the_ui_thread_and_paged() {
    let big = big_dir("screen");
    let mut s = RootState::new(Path::new("/proc"));
    s.open(std::process::id() as i32);
    assert!(s.is_open(), "{:?}", s.message);
    let before = walk_to(&mut s, big.path());

    // Entering returned at once: the read runs on the worker, the screen
    // says so, and keys are handled meanwhile.
    assert!(s.is_loading(), "the listing was done on the UI thread");
    assert_eq!(s.cwd, big.path().display().to_string());
    press(&mut s, KeyCode::Char('H'));
    assert!(s.show_host_path);
    press(&mut s, KeyCode::Char('H'));
    assert!(frame(&s).contains("reading… "), "{}", frame(&s));
    loaded(&mut s);
    assert_eq!(s.len(), ENTRIES, "{:?}", s.message);
    assert_eq!(s.listings(), before + 1);
    let shown = frame(&s);
    assert!(shown.contains(&format!("{ENTRIES} entries")), "{shown}");

    // Many snapshots and frames later: still one listing; each refresh was
    // one stamp check (fstat), on the worker.
    let checks = s.stamp_checks();
    for _ in 0..50 {
        s.check();
        loaded(&mut s);
        let _ = frame(&s);
    }
    assert_eq!(s.listings(), before + 1, "a refresh re-read the entries");
    assert_eq!(s.stamp_checks(), checks + 50);

    // Paging and search over all of it. A page is as many rows as the
    // last frame drew (the view records it while drawing).
    let _ = frame(&s);
    let page = s.page.get();
    assert!(page > 1, "{page}");
    press(&mut s, KeyCode::End);
    assert_eq!(selected_name(&s), format!("entry-{:07}", ENTRIES - 1));
    assert!(frame(&s).contains(&format!("entry-{:07}", ENTRIES - 1)));
    press(&mut s, KeyCode::Home);
    assert_eq!(selected_name(&s), "entry-0000000");
    press(&mut s, KeyCode::PageDown);
    press(&mut s, KeyCode::PageDown);
    assert_eq!(selected_name(&s), format!("entry-{:07}", 2 * page));
    press(&mut s, KeyCode::PageUp);
    assert_eq!(selected_name(&s), format!("entry-{page:07}"));
    search(&mut s, "0123456");
    assert_eq!(selected_name(&s), "entry-0123456");
    assert!(frame(&s).contains("▸    -rw-r--r--"));
    search(&mut s, "99999");
    assert_eq!(selected_name(&s), "entry-0199999");
    press(&mut s, KeyCode::Char('>'));
    assert_eq!(selected_name(&s), "entry-0299999");
    press(&mut s, KeyCode::Char('>'));
    assert_eq!(selected_name(&s), "entry-0099999");
    press(&mut s, KeyCode::Char('<'));
    assert_eq!(selected_name(&s), "entry-0299999");
    assert_eq!(s.listings(), before + 1, "navigation re-read the entries");

    // A file made in the directory: the next check sees the new stamp and
    // reads it again (once), marking the name NEW; the selection stays.
    std::fs::File::create(big.path().join("made-later")).expect("create");
    s.check();
    loaded(&mut s);
    assert_eq!(s.listings(), before + 2);
    assert_eq!(s.len(), ENTRIES + 1);
    assert_eq!(s.new_names(), vec!["made-later".to_string()]);
    assert_eq!(selected_name(&s), "entry-0299999");
    s.check();
    loaded(&mut s);
    assert_eq!(s.listings(), before + 2);
    // `r` always reads.
    press(&mut s, KeyCode::Char('r'));
    loaded(&mut s);
    assert_eq!(s.listings(), before + 3);
    assert_eq!(s.new_names(), vec!["made-later".to_string()]);

    // Compact: all of it is kept, in little memory.
    let heap = s.list().map_or(0, |l| l.heap_bytes());
    println!(
        "{} entries held in {:.1} MiB",
        s.len(),
        heap as f64 / (1 << 20) as f64
    );
    assert!(heap < 32 << 20, "{heap} bytes for {} entries", s.len());

    // Leave while it is being read: the stale result is dropped, the
    // parent is shown.
    press(&mut s, KeyCode::Char('r'));
    assert!(s.is_loading());
    press(&mut s, KeyCode::Backspace);
    loaded(&mut s);
    let parent = big.path().parent().expect("parent");
    assert_eq!(s.cwd, parent.display().to_string());
    let name = big.path().file_name().expect("name").to_string_lossy();
    assert_eq!(selected_name(&s), name);
    assert!(
        s.len() < ENTRIES,
        "the big listing was shown for its parent"
    );
    // And into it again, then straight out before it is read.
    press(&mut s, KeyCode::Enter);
    assert!(s.is_loading());
    press(&mut s, KeyCode::Backspace);
    loaded(&mut s);
    assert_eq!(s.cwd, parent.display().to_string());
    assert!(s.len() < ENTRIES);
}

/// A `sleep` nobody else runs, killed on drop.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest = &stat[stat.rfind(')').expect(")") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

#[test]
fn tmux_the_tui_idles_cheaply_on_a_300k_directory_and_keys_work() {
    let big = big_dir("tmux");
    let secs = (5_000_000 + std::process::id()).to_string();
    let sleeper = Sleeper(
        Command::new("sleep")
            .arg(&secs)
            .stdin(Stdio::null())
            .spawn()
            .expect("sleep"),
    );
    // A short interval: many refreshes in the measured window.
    let t = Tmux::start_program(
        150,
        40,
        &[env!("CARGO_BIN_EXE_isolab"), "--interval", "0.2"],
    );
    let screen = t.wait_for("Processes", 30);
    let isolab: i32 = t
        .cmd(&["display-message", "-t", "j", "-p", "#{pane_pid}"])
        .trim()
        .parse()
        .expect("pane pid");
    let comm = std::fs::read_to_string(format!("/proc/{isolab}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "isolab", "the pane does not run isolab");

    // Select the sleeper (its root is ours), open the Root tab.
    let wanted = format!("sleep {secs}");
    for attempt in 0.. {
        assert!(attempt < 20, "the sleeper never showed up");
        t.keys(&["/"]);
        t.wait_for("Search", 30);
        t.type_text(&wanted);
        t.keys(&["Enter"]);
        let (found, _) = t.wait_for_any(&[&wanted, "no process matches"], 30);
        if found == 0 {
            break;
        }
    }
    let tabs = screen.lines().next().unwrap_or("");
    let words: Vec<&str> = tabs.split_whitespace().collect();
    let root_tab = words[words.iter().position(|w| *w == "Root").expect("Root tab") - 1];
    t.keys(&[root_tab]);
    t.wait_for(&format!("root of PID {}", sleeper.0.id()), 30);
    for part in big.path().components().skip(1) {
        let part = part.as_os_str().to_string_lossy();
        t.wait_for(" entries ", 60);
        t.keys(&["/"]);
        t.type_text(&part);
        t.keys(&["Enter"]);
        t.wait_until(30, &format!("{part} selected"), |s| {
            s.lines().any(|l| l.contains('▸') && l.contains(&*part))
        });
        t.keys(&["Enter"]);
    }
    let title = format!("{} · {ENTRIES} entries", big.path().display());
    t.wait_for(&title, 120);

    // Idle on it: a few seconds of refreshes (~15 snapshots). The window is
    // a measurement, not a wait for something.
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let (t0, c0) = (Instant::now(), cpu_ticks(isolab));
    std::thread::sleep(Duration::from_secs(3));
    let (t1, c1) = (Instant::now(), cpu_ticks(isolab));
    let share = (c1 - c0) as f64 / hz / (t1 - t0).as_secs_f64();
    println!(
        "isolab idle on {ENTRIES} entries: {:.1}% of one core",
        share * 100.0
    );
    assert!(
        share < 0.30,
        "isolab used {:.0}% of a core idling on the directory (it re-reads it?)",
        share * 100.0
    );

    // Keys are reflected on screen.
    t.keys(&["H"]);
    t.wait_for("host path: /proc/", 30);
    t.keys(&["End"]);
    t.wait_until(30, "the last entry selected", |s| {
        s.lines()
            .any(|l| l.contains('▸') && l.contains(&format!("entry-{:07}", ENTRIES - 1)))
    });
    t.keys(&["/"]);
    t.type_text("0150000");
    t.keys(&["Enter"]);
    t.wait_until(30, "entry-0150000 selected", |s| {
        s.lines()
            .any(|l| l.contains('▸') && l.contains("entry-0150000"))
    });
    t.keys(&["q"]);
    drop(sleeper);
}
