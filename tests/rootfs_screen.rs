//! The Root screen's state driven by keys against a real pivot_root'ed
//! child: browse, preview, search, the `n` dialog (bad names, then a good
//! one), a file made inside marked new on refresh, the mount table, and the
//! process exiting.

mod common;
mod rootfs_support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use isolab::app::rootfs::RootState;
use isolab::sys::mounts::MountMark;
use rootfs_support::*;
use std::path::Path;
use std::time::Duration;

/// A key, then (bounded) whatever listing it asked for: directories are
/// read on the screen's worker thread.
fn key(s: &mut RootState, code: KeyCode) {
    s.on_key(KeyEvent::new(code, KeyModifiers::NONE));
    loaded(s);
}

fn loaded(s: &mut RootState) {
    assert!(
        s.wait_loaded(Duration::from_secs(60)),
        "the listing of {} never came",
        s.cwd
    );
}

fn has(s: &RootState, name: &str) -> bool {
    s.list().and_then(|l| l.position(name)).is_some()
}

fn selected_name(s: &RootState) -> Option<String> {
    s.selected_entry().map(|e| e.name)
}

fn typed(s: &mut RootState, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c));
    }
}

fn select(s: &mut RootState, name: &str) {
    key(s, KeyCode::Char('/'));
    typed(s, name);
    key(s, KeyCode::Enter);
    assert_eq!(selected_name(s).as_deref(), Some(name), "{:?}", s.message);
}

fn dialog_error(s: &RootState) -> String {
    s.dialog
        .as_ref()
        .and_then(|d| d.error.clone())
        .unwrap_or_default()
}

#[test]
fn browse_create_and_watch_a_pivot_root_child() {
    let f = fixture("screen");
    let mut child = pivot_child(&f);
    let mut s = RootState::new(Path::new("/proc"));
    s.open(child.pid);
    assert!(s.is_open(), "{:?}", s.message);
    assert_eq!(s.cwd, "/");
    loaded(&mut s);
    assert!(has(&s, "flip"));
    // The process's root has no host directories such as /usr.
    assert!(!has(&s, "usr"));

    // Into /etc; a hostile link is listed with its target, and opening it
    // stays inside (the file does not exist there).
    select(&mut s, "etc");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.cwd, "/etc");
    select(&mut s, "abs_host_only");
    let target = s.selected_entry().and_then(|e| e.link_target.clone());
    assert_eq!(target, Some(f.host_only.path.display().to_string()));
    key(&mut s, KeyCode::Enter);
    assert!(s.preview.is_none());
    let msg = s.message.clone().map(|m| m.1).unwrap_or_default();
    assert!(msg.contains("no such file"), "{msg}");
    select(&mut s, "abs");
    key(&mut s, KeyCode::Enter);
    let p = s.preview.clone().expect("preview");
    assert_eq!(p.lines, vec!["INSIDE COPY"]);
    key(&mut s, KeyCode::Esc);
    select(&mut s, "big");
    key(&mut s, KeyCode::Enter);
    assert!(s.preview.as_ref().is_some_and(|p| p.content.cut));
    key(&mut s, KeyCode::Esc);
    select(&mut s, "binary");
    key(&mut s, KeyCode::Enter);
    let p = s.preview.clone().expect("preview");
    assert!(p.content.binary && p.lines[0].starts_with("00000000  7f 45 4c 46"));
    key(&mut s, KeyCode::Esc);
    select(&mut s, "magic_self_root");
    key(&mut s, KeyCode::Enter);
    assert!(s.preview.is_none());
    let msg = s.message.clone().map(|m| m.1).unwrap_or_default();
    assert!(msg.contains("magic link"), "{msg}");

    // Up to /, then into /tmp, and the dialog.
    key(&mut s, KeyCode::Backspace);
    assert_eq!(s.cwd, "/");
    assert_eq!(selected_name(&s).as_deref(), Some("etc"));
    select(&mut s, "tmp");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.cwd, "/tmp");
    key(&mut s, KeyCode::Char('n'));
    key(&mut s, KeyCode::Enter);
    assert!(dialog_error(&s).contains("empty"), "{}", dialog_error(&s));
    typed(&mut s, "a/b");
    key(&mut s, KeyCode::Enter);
    assert!(dialog_error(&s).contains("'/'"), "{}", dialog_error(&s));
    for _ in 0..3 {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, "dangling");
    key(&mut s, KeyCode::Enter);
    assert!(
        dialog_error(&s).contains("already exists"),
        "{}",
        dialog_error(&s)
    );
    assert!(!f.would_be_created[0].exists());
    for _ in 0.."dangling".len() {
        key(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, "created_by_host");
    key(&mut s, KeyCode::Enter);
    assert!(s.dialog.is_none(), "{}", dialog_error(&s));
    assert!(f.inside("/tmp/created_by_host").is_file());
    assert_eq!(selected_name(&s).as_deref(), Some("created_by_host"));
    // A directory, with N.
    key(&mut s, KeyCode::Char('N'));
    typed(&mut s, "made_dir");
    key(&mut s, KeyCode::Enter);
    assert!(f.inside("/tmp/made_dir").is_dir());

    // A file made inside the process shows up on refresh, marked new.
    let made = std::process::Command::new("nsenter")
        .args([
            "-t",
            &child.pid.to_string(),
            "-m",
            "-r",
            "/bin/busybox",
            "touch",
            "/tmp/made_inside",
        ])
        .status()
        .unwrap();
    assert!(made.success());
    assert!(!has(&s, "made_inside"));
    key(&mut s, KeyCode::Char('r'));
    assert!(has(&s, "made_inside"));
    let new = s.new_names();
    assert!(new.contains(&"made_inside".to_string()), "{new:?}");
    assert!(!new.contains(&f.secret_name()));

    // The mount table: procfs is the process's own, the host's mounts are
    // missing from it.
    key(&mut s, KeyCode::Char('M'));
    assert!(s.show_mounts && !s.mounts_same_ns);
    assert!(s.mounts.iter().any(|r| r.mark == MountMark::OnlyHost));
    assert!(
        s.mounts
            .iter()
            .any(|r| r.mount.mount_point == "/proc" && r.mark != MountMark::OnlyHost)
    );
    // Host path one key away.
    key(&mut s, KeyCode::Char('H'));
    assert!(s.show_host_path);
    assert_eq!(s.host_cwd, format!("/proc/{}/root/tmp", child.pid));

    // The process exits: the screen says so and stops.
    child.child.kill().unwrap();
    child.child.wait().unwrap();
    s.refresh();
    loaded(&mut s);
    assert!(s.exited);
    let msg = s.message.clone().map(|m| m.1).unwrap_or_default();
    assert!(msg.contains("has exited"), "{msg}");
    key(&mut s, KeyCode::Char('n'));
    assert!(s.dialog.is_none(), "no dialog once the process is gone");
}
