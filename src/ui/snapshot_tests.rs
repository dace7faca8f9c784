//! Screen snapshots: the Processes screen drawn with ratatui's TestBackend
//! from a fixed, hand-built snapshot, at 80x24, 200x50 and tiny sizes.

use crate::app::model::HostRef;
use crate::app::{App, Setup};
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
        p.facts_mut().ns = host;
        p.rss_bytes = 4 << 20;
        p.cpu_ticks = p.pid as u64;
        p.facts_mut().cgroups = vec![
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
        ]
        .into();
    }
    procs[1].facts_mut().cmdline = Some(vec![]);
    procs[2].facts_mut().cmdline = Some(vec![]);
    procs[5].cpu_percent = 12.5;
    procs[9].facts_mut().cmdline = Some(vec!["sleep".into(), "31337".into()]);
    let id = "3f4e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
    for p in &mut procs[7..9] {
        for (k, v) in [
            (NsKind::Pid, 4026532201),
            (NsKind::Mnt, 4026532199),
            (NsKind::Uts, 4026532200),
            (NsKind::Net, 4026532203),
            (NsKind::PidForChildren, 4026532201),
        ] {
            p.facts_mut().ns.set(k, Some(v));
        }
        p.facts_mut().container = Some(std::sync::Arc::new(Container {
            runtime: Runtime::Docker,
            id: id.into(),
            pod: None,
            qos: None,
        }));
        p.facts_mut().cgroups = vec![CgroupLine {
            hierarchy: 0,
            controllers: vec![],
            path: format!("/system.slice/docker-{id}.scope"),
        }]
        .into();
    }
    procs[7].facts_mut().nspid = vec![4123, 1];
    procs[8].facts_mut().nspid = vec![4124, 7];
    procs[6].facts_mut().unreadable = vec![Unreadable {
        what: crate::sys::procs::ProcFile::Ns,
        reason: "permission denied: run isolab as root (or as this process's user) to read it"
            .into(),
    }];
    procs[6].facts_mut().ns = NsSet::default();
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
    let mut app = App::new(&Setup::new("/proc", Duration::from_secs(1)), users, host);
    app.on_snapshot(fixture());
    app
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn draw(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| crate::app::frame::render(f, app))
        .expect("draw");
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
    let row = app.shared.processes.row_of(pid).expect("row");
    app.shared.processes.select(row);
}

/// The sizes every view is drawn at: a common terminal, a big one, and the
/// smallest that still lays out (below it: "terminal too small").
const SIZES: [(u16, u16); 3] = [(80, 24), (200, 50), (60, 15)];

/// Draws `a` at every size and snapshots each as `<name>_<w>x<h>`.
fn snapshot_at_all_sizes(name: &str, a: &mut App) -> Vec<String> {
    SIZES
        .iter()
        .map(|&(w, h)| {
            let screen = draw(a, w, h);
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
            screen
        })
        .collect()
}

#[test]
fn tree_with_detail() {
    let mut a = app();
    select(&mut a, 4123);
    let [normal, big, _] =
        <[String; 3]>::try_from(snapshot_at_all_sizes("tree", &mut a)).expect("three sizes");
    for s in [&normal, &big] {
        assert!(s.contains("\\_ nginx"), "tree art:\n{s}");
        assert!(s.contains("PID 4123 · nginx"), "detail pane:\n{s}");
        assert!(s.contains("host PID 4123 is PID 1"), "NSpid:\n{s}");
    }
    assert!(
        normal.contains("≠ PID 1: pid mnt net uts pid_for_children"),
        "{normal}"
    );
    assert!(
        big.contains("host PID 4123 is PID 1 in its container"),
        "{big}"
    );
    assert!(
        big.contains("docker:3f4e2a1b9c8d"),
        "CONTAINER column:\n{big}"
    );
    assert!(
        big.contains("v1 memory") || big.contains("v2 unified"),
        "{big}"
    );
}

#[test]
fn a_120_column_terminal_shows_every_ps_axjf_column() {
    let mut a = app();
    select(&mut a, 4123);
    let screen = draw(&mut a, 120, 30);
    let header = screen.lines().nth(1).unwrap_or_default();
    for col in [
        "PPID", "PID", "PGID", "SID", "TTY", "STAT", "USER", "TIME", "COMMAND",
    ] {
        assert!(header.contains(col), "{col} missing: {header}");
    }
    insta::assert_snapshot!(screen);
}

#[test]
fn unreadable_process_detail() {
    let mut a = app();
    select(&mut a, 4100);
    let shots = snapshot_at_all_sizes("unreadable", &mut a);
    for s in &shots[..2] {
        assert!(s.contains("ns: — permission denied"), "{s}");
    }
}

#[test]
fn flat_view_sorted_by_cpu_then_memory() {
    let mut a = app();
    key(&mut a, KeyCode::F(5));
    let shots = snapshot_at_all_sizes("flat_cpu", &mut a);
    assert!(shots[1].contains("[flat by CPU%]"), "{}", shots[1]);
    key(&mut a, KeyCode::F(6));
    let big = draw(&mut a, 200, 50);
    assert!(big.contains("[flat by RSS]"), "{big}");
}

#[test]
fn help_lists_the_keys() {
    let mut a = app();
    key(&mut a, KeyCode::Char('?'));
    let shots = snapshot_at_all_sizes("help", &mut a);
    // At 200x50 every key fits without scrolling.
    for k in [
        "Everywhere",
        "F5 t",
        "n ",
        "N ",
        "Esc",
        "Shift-Tab",
        "1-9",
        "wheel",
    ] {
        assert!(shots[1].contains(k), "{k} missing:\n{}", shots[1]);
    }
}

#[test]
fn search_prompt_and_result() {
    let mut a = app();
    key(&mut a, KeyCode::Char('/'));
    for c in "3133".chars() {
        key(&mut a, KeyCode::Char(c));
    }
    let typing = draw(&mut a, 80, 24);
    assert!(typing.contains("Search:  3133"), "{typing}");
    key(&mut a, KeyCode::Enter);
    assert_eq!(a.shared.processes.selected_pid, Some(5000));
    let shots = snapshot_at_all_sizes("search_result", &mut a);
    assert!(shots[0].contains("PID 5000 · sleep"), "{}", shots[0]);
}

#[test]
fn compare_marked_and_selected() {
    let mut a = app();
    select(&mut a, 900);
    key(&mut a, KeyCode::Char('m'));
    select(&mut a, 4123);
    key(&mut a, KeyCode::Char('c'));
    let shots = snapshot_at_all_sizes("compare", &mut a);
    assert!(
        shots[0].contains("separate") && shots[0].contains("shared"),
        "{}",
        shots[0]
    );
}

#[test]
fn too_small_and_degenerate_sizes_never_panic() {
    let mut a = app();
    let small = draw(&mut a, 40, 10);
    let joined = small.replace('\n', " ");
    assert!(
        joined.contains("terminal too small: need 60x15, have 40x10"),
        "{small}"
    );
    insta::assert_snapshot!(small);
    key(&mut a, KeyCode::Char('?'));
    for (w, h) in [
        (1, 1),
        (0, 0),
        (1, 0),
        (0, 1),
        (59, 15),
        (60, 14),
        (60, 15),
        (300, 3),
        (2, 200),
        (500, 200),
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
    let [_, body, _] = crate::app::frame::frame_areas(area);
    let rows = crate::app::processes::view::list_rows_area(body, true);
    let click = |row: u16| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: 10,
        row,
        modifiers: KeyModifiers::NONE,
    };
    // The third drawn row (tree order: systemd, sshd, bash, ...).
    a.on_mouse(click(rows.y + 2));
    assert_eq!(a.shared.processes.selected_pid, Some(900));
    // A click outside the list changes nothing.
    a.on_mouse(click(0));
    assert_eq!(a.shared.processes.selected_pid, Some(900));
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 10,
        row: rows.y,
        modifiers: KeyModifiers::NONE,
    };
    a.on_mouse(wheel);
    assert_eq!(a.shared.processes.selected, 5);
}

/// Thousands of keys, clicks, snapshots and sizes in a fixed pseudo-random
/// order: nothing may panic, and the selection always names a listed row.
#[test]
fn random_keys_sizes_and_snapshots_never_panic() {
    use crate::app::keys::GLOBAL_KEYS;
    use crate::app::processes::KEYS;
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut a = app();
    let mut codes: Vec<KeyCode> = KEYS
        .iter()
        .flat_map(|b| b.keys.iter().copied())
        .chain(GLOBAL_KEYS.iter().flat_map(|b| b.keys.iter().copied()))
        .filter(|k| *k != KeyCode::Char('q') && *k != KeyCode::F(10) && *k != KeyCode::Char('!'))
        .collect();
    codes.extend([KeyCode::Char('x'), KeyCode::Backspace, KeyCode::Char('4')]);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let full = fixture();
    for step in 0..3000 {
        match next(10) {
            0 => {
                // A snapshot with a random subset of the processes.
                let mut s = full.clone();
                s.procs.retain(|p| p.pid == 1 || next(4) != 0);
                a.on_snapshot(s);
            }
            1 => {
                let kind = match next(3) {
                    0 => MouseEventKind::ScrollDown,
                    1 => MouseEventKind::ScrollUp,
                    _ => MouseEventKind::Down(MouseButton::Left),
                };
                let m = MouseEvent {
                    kind,
                    column: next(200) as u16,
                    row: next(50) as u16,
                    modifiers: KeyModifiers::NONE,
                };
                a.on_mouse(m);
            }
            _ => key(&mut a, codes[next(codes.len())]),
        }
        if step % 7 == 0 {
            let (w, h) = [
                (80, 24),
                (200, 50),
                (60, 15),
                (1, 1),
                (0, 0),
                (61, 16),
                (150, 40),
            ][next(7)];
            draw(&mut a, w, h);
        }
        let p = &a.shared.processes;
        if let Some(pid) = p.selected_pid {
            assert_eq!(
                p.rows.get(p.selected).map(|r| r.pid),
                Some(pid),
                "step {step}"
            );
        }
        assert!(!a.shared.quit, "only q, F10 and Ctrl-C quit");
        a.shared.take_foreground();
    }
}

/// Every screen (each tab, and the help overlay) drawn with `theme`, as
/// the cells of the frame.
fn frames_with(theme: crate::ui::theme::Theme) -> Vec<ratatui::buffer::Buffer> {
    crate::ui::theme::install(theme);
    let mut a = app();
    select(&mut a, 4123);
    let mut out = Vec::new();
    for tab in ['1', '2', '3', '4', '5', '?'] {
        key(&mut a, KeyCode::Char(tab));
        for (w, h) in SIZES {
            let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
            term.draw(|f| crate::app::frame::render(f, &a))
                .expect("draw");
            out.push(term.backend().buffer().clone());
        }
        if tab == '?' {
            key(&mut a, KeyCode::Esc);
        }
    }
    crate::ui::theme::install(crate::ui::theme::Theme::default());
    out
}

#[test]
fn never_colour_frames_have_no_colours_only_modifiers() {
    use crate::cli::ThemeName;
    use ratatui::style::{Color, Modifier};
    for name in [ThemeName::Default, ThemeName::Projector] {
        let mut reversed = 0;
        for buf in frames_with(crate::ui::theme::Theme::new(name, false)) {
            for cell in &buf.content {
                assert_eq!(
                    (cell.fg, cell.bg),
                    (Color::Reset, Color::Reset),
                    "{name:?}: a coloured cell {:?}",
                    cell.symbol()
                );
                reversed += cell.modifier.contains(Modifier::REVERSED) as usize;
            }
        }
        // The selection and the tabs still show, by reverse video.
        assert!(reversed > 0, "{name:?}: nothing reversed");
    }
    // The colour theme does colour (the test above is not vacuous).
    let coloured = frames_with(crate::ui::theme::Theme::default())
        .iter()
        .flat_map(|b| b.content.clone())
        .filter(|c| c.fg != Color::Reset || c.bg != Color::Reset)
        .count();
    assert!(coloured > 0);
}

#[test]
fn the_projector_is_bold_and_has_no_dim_grey() {
    use crate::cli::ThemeName;
    use ratatui::style::{Color, Modifier};
    for buf in frames_with(crate::ui::theme::Theme::new(ThemeName::Projector, true)) {
        for cell in &buf.content {
            assert!(
                cell.modifier.contains(Modifier::BOLD),
                "{:?}",
                cell.symbol()
            );
            assert!(!cell.modifier.contains(Modifier::DIM));
            assert!(
                ![Color::DarkGray, Color::Gray].contains(&cell.fg),
                "grey text {:?}",
                cell.symbol()
            );
        }
    }
    // Wider gaps between the tabs, and clicks still land on them.
    crate::ui::theme::install(crate::ui::theme::Theme::new(ThemeName::Projector, true));
    let mut a = app();
    let text = draw(&mut a, 120, 30);
    assert!(
        text.starts_with(" isolab    1 Processes    2 Lab "),
        "{text}"
    );
    let col = text.find("2 Lab").expect("tab 2") as u16;
    assert_eq!(a.tab_at(col), Some(1));
    crate::ui::theme::install(crate::ui::theme::Theme::default());
}

#[test]
fn colours_are_chosen_only_in_the_theme() {
    // Each screen names what a thing is (theme.warn, theme.selected); the
    // colours live in ui/theme.rs, so --color never and --theme reach all.
    for (file, text) in [
        ("ui/help.rs", include_str!("help.rs")),
        ("app/lab/view.rs", include_str!("../app/lab/view.rs")),
        (
            "app/lessons/view.rs",
            include_str!("../app/lessons/view.rs"),
        ),
        ("app/memory/view.rs", include_str!("../app/memory/view.rs")),
        ("ui/mod.rs", include_str!("mod.rs")),
        ("app/frame.rs", include_str!("../app/frame.rs")),
        (
            "app/processes/view.rs",
            include_str!("../app/processes/view.rs"),
        ),
        ("app/rootfs/view.rs", include_str!("../app/rootfs/view.rs")),
    ] {
        assert!(
            !text.contains("Color::"),
            "src/{file} picks a colour itself"
        );
    }
    // And no colour theme style carries a colour when colour is off.
    use crate::cli::ThemeName;
    for name in [ThemeName::Default, ThemeName::Projector] {
        let t = crate::ui::theme::Theme::new(name, false);
        let dbg = format!("{t:?}");
        assert!(
            !dbg.contains("fg: Some") && !dbg.contains("bg: Some"),
            "{dbg}"
        );
    }
}

/// The README's screenshots, `assets/NAME.svg`: every screen at 100x30 in
/// the default theme, drawn from the fixtures of the snapshot tests (the
/// process tree above; the other screens' in `ui::screenshots`). Tabs are switched by
/// setting `active`, not by key: entering a tab reads the host (a PID's
/// root, its cgroup, the lesson files), and a screenshot must not.
/// `ISOLAB_UPDATE_ASSETS=1` rewrites the files instead of comparing.
#[test]
fn screenshots_in_assets_match() {
    crate::ui::theme::install(crate::ui::theme::Theme::default());
    let setup = Setup::new("/nonexistent-proc", Duration::from_secs(1));
    let host = HostRef {
        ns: host_ns(),
        label: "PID 1".into(),
    };
    let shared = crate::app::Shared::new(Users::default(), host, setup.interval);
    let mut a = App::with_screens(shared, crate::ui::screenshots::screens(&setup));
    a.on_snapshot(fixture());
    select(&mut a, 4123);
    let update = std::env::var_os("ISOLAB_UPDATE_ASSETS").is_some_and(|v| v == "1");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut stale = Vec::new();
    for (name, tab, title) in [
        ("processes", 0, "isolab: the Processes screen"),
        ("lab", 1, "isolab: the namespace Lab"),
        ("root", 2, "isolab: the Root filesystem browser"),
        ("memory", 3, "isolab: the Memory screen"),
        ("lessons", 4, "isolab: a lesson step"),
        ("help", 0, "isolab: the help overlay"),
    ] {
        a.active = tab;
        if name == "help" {
            key(&mut a, KeyCode::Char('?'));
        }
        let mut term = Terminal::new(TestBackend::new(100, 30)).expect("terminal");
        term.draw(|f| crate::app::frame::render(f, &a))
            .expect("draw");
        let svg = crate::ui::svg::buffer_to_svg(term.backend().buffer(), title);
        let path = dir.join(format!("{name}.svg"));
        if update {
            std::fs::create_dir_all(&dir).expect("create assets/");
            std::fs::write(&path, &svg).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(svg.as_str()) {
            stale.push(format!("assets/{name}.svg"));
        }
    }
    assert!(
        stale.is_empty(),
        "{} differ from the screens (or are missing): regenerate them with\n  \
         ISOLAB_UPDATE_ASSETS=1 cargo test --profile release-tests --lib screenshots_in_assets_match\n\
         and commit the files",
        stale.join(", ")
    );
}
