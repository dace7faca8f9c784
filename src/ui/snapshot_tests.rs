//! Screen snapshots: the Processes screen drawn with ratatui's TestBackend
//! from a fixed, hand-built snapshot, at 80x24, 200x50 and tiny sizes.

use crate::app::App;
use crate::app::state::HostRef;
use crate::sys::container::{Container, Runtime};
use crate::sys::ns::{NsKind, NsSet};
use crate::sys::procs::{CgroupLine, Snapshot, Unreadable};
use crate::sys::tree::tests::proc;
use crate::sys::users::Users;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use std::time::Duration;

fn host_ns() -> NsSet {
    let mut ns = NsSet::default();
    for (i, k) in NsKind::ALL.into_iter().enumerate() {
        ns.set(k, Some(4026531830 + i as u64));
    }
    ns
}

fn fixture() -> Snapshot {
    let host = host_ns();
    let mut procs = vec![
        proc(1, 0, "systemd"),
        proc(2, 0, "kthreadd"),
        proc(14, 2, "ksoftirqd/0"),
        proc(410, 1, "sshd"),
        proc(900, 410, "bash"),
        proc(1200, 900, "isolab"),
        proc(4100, 1, "containerd-shim"),
        proc(4123, 4100, "nginx"),
        proc(4124, 4123, "nginx"),
        proc(5000, 900, "sleep"),
    ];
    for p in &mut procs {
        p.ns = host;
        p.rss_bytes = 4 << 20;
        p.cpu_ticks = p.pid as u64;
        p.cgroups = vec![
            CgroupLine {
                hierarchy: 4,
                controllers: vec!["memory".into()],
                path: "/user.slice".into(),
            },
            CgroupLine {
                hierarchy: 0,
                controllers: vec![],
                path: "/user.slice".into(),
            },
        ];
    }
    procs[1].cmdline = Some(vec![]);
    procs[2].cmdline = Some(vec![]);
    procs[5].cpu_percent = 12.5;
    procs[9].cmdline = Some(vec!["sleep".into(), "31337".into()]);
    let id = "3f4e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
    for p in &mut procs[7..9] {
        for (k, v) in [
            (NsKind::Pid, 4026532201),
            (NsKind::Mnt, 4026532199),
            (NsKind::Uts, 4026532200),
            (NsKind::Net, 4026532203),
            (NsKind::PidForChildren, 4026532201),
        ] {
            p.ns.set(k, Some(v));
        }
        p.container = Some(Container {
            runtime: Runtime::Docker,
            id: id.into(),
            pod: None,
            qos: None,
        });
        p.cgroups = vec![CgroupLine {
            hierarchy: 0,
            controllers: vec![],
            path: format!("/system.slice/docker-{id}.scope"),
        }];
    }
    procs[7].nspid = vec![4123, 1];
    procs[8].nspid = vec![4124, 7];
    procs[6].unreadable = vec![Unreadable {
        what: "ns",
        reason: "permission denied: run isolab as root (or as this process's user) to read it"
            .into(),
    }];
    procs[6].ns = NsSet::default();
    Snapshot {
        procs,
        ticks_per_sec: 100,
        boot_time: 1_700_000_000,
    }
}

fn app() -> App {
    let users = Users::default();
    let host = HostRef {
        ns: host_ns(),
        label: "PID 1".into(),
    };
    let mut app = App::new(users, host, Duration::from_secs(1));
    app.processes.apply_snapshot(fixture());
    app
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn draw(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let area = Rect::new(0, 0, w, h);
    app.processes
        .set_page(crate::ui::processes::list_rows_area(area, app).height as usize);
    term.draw(|f| crate::ui::render(f, app)).expect("draw");
    let buf = term.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn select(app: &mut App, pid: i32) {
    let row = app.processes.row_of(pid).expect("row");
    app.processes.select(row);
}

#[test]
fn tree_80x24() {
    let mut a = app();
    select(&mut a, 4123);
    insta::assert_snapshot!(draw(&mut a, 80, 24));
}

#[test]
fn tree_with_detail_200x50() {
    let mut a = app();
    select(&mut a, 4123);
    insta::assert_snapshot!(draw(&mut a, 200, 50));
}

#[test]
fn unreadable_process_detail_200x50() {
    let mut a = app();
    select(&mut a, 4100);
    let screen = draw(&mut a, 200, 50);
    assert!(screen.contains("ns: — permission denied"));
    insta::assert_snapshot!(screen);
}

#[test]
fn flat_view_sorted_by_cpu_120x30() {
    let mut a = app();
    key(&mut a, KeyCode::F(5));
    insta::assert_snapshot!(draw(&mut a, 120, 30));
}

#[test]
fn help_80x24() {
    let mut a = app();
    key(&mut a, KeyCode::Char('?'));
    insta::assert_snapshot!(draw(&mut a, 80, 24));
}

#[test]
fn search_prompt_and_result_80x24() {
    let mut a = app();
    key(&mut a, KeyCode::Char('/'));
    for c in "3133".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    let typing = draw(&mut a, 80, 24);
    assert!(typing.contains("Search:  3133"));
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.processes.selected_pid, Some(5000));
    insta::assert_snapshot!(draw(&mut a, 80, 24));
}

#[test]
fn compare_200x50() {
    let mut a = app();
    select(&mut a, 900);
    key(&mut a, KeyCode::Char('m'));
    select(&mut a, 4123);
    key(&mut a, KeyCode::Char('c'));
    insta::assert_snapshot!(draw(&mut a, 200, 50));
}

#[test]
fn too_small_and_degenerate_sizes_never_panic() {
    let mut a = app();
    let small = draw(&mut a, 40, 10);
    assert!(small.contains("terminal too small"));
    insta::assert_snapshot!(small);
    for (w, h) in [
        (1, 1),
        (0, 0),
        (59, 15),
        (60, 14),
        (60, 15),
        (300, 3),
        (2, 200),
    ] {
        draw(&mut a, w, h);
    }
}

#[test]
fn mouse_click_selects_the_row_under_it_and_wheel_scrolls() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut a = app();
    let area = Rect::new(0, 0, 200, 50);
    draw(&mut a, 200, 50);
    let rows = crate::ui::processes::list_rows_area(area, &a);
    let click = |row: u16| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 10,
        row,
        modifiers: KeyModifiers::NONE,
    };
    // The third drawn row (tree order: systemd, sshd, bash, ...).
    a.on_mouse(click(rows.y + 2), area);
    assert_eq!(a.processes.selected_pid, Some(900));
    // A click outside the list changes nothing.
    a.on_mouse(click(0), area);
    assert_eq!(a.processes.selected_pid, Some(900));
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: rows.y,
        modifiers: KeyModifiers::NONE,
    };
    a.on_mouse(wheel, area);
    assert_eq!(a.processes.selected, 5);
}
