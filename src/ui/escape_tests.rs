//! Names that try to steer the terminal, drawn with ratatui's TestBackend:
//! no cell may hold a control character, and the forgery must be visible
//! as an escape (ratatui 0.30 drops control characters itself, which would
//! hide `\e]0;pwned` as `]0;pwned`; isolab escapes them, like the CLI).

use crate::app::model::HostRef;
use crate::app::{App, Setup};
use crate::sys::cgroup::{CgroupReport, CgroupVersion, Layout, Membership};
use crate::sys::procs::{CgroupLine, Snapshot};
use crate::sys::tree::tests::proc;
use crate::sys::users::Users;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `exec -a "$(printf '\e]0;pwned\a\e[2J')"` puts in argv[0], plus a
/// newline that would forge a line.
const EVIL: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2J\nFORGED";
/// How isolab shows it.
const SHOWN: &str = "\\e]0;pwned\\x07\\e[2J\\nFORGED";

/// Every cell's text, one line per row; fails if any cell holds a control
/// character (which would reach the terminal, or be silently dropped).
fn cells(buf: &Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let sym = buf[(x, y)].symbol();
            assert!(
                !sym.chars().any(char::is_control),
                "cell ({x},{y}) holds a control character: {sym:?}"
            );
            out.push_str(sym);
        }
        out.push('\n');
    }
    out
}

fn draw_app(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| crate::app::frame::render(f, app))
        .expect("draw");
    cells(term.backend().buffer())
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn app_with_an_evil_process() -> App {
    let mut init = proc(1, 0, "systemd");
    let mut evil = proc(77, 1, EVIL);
    let mut child = proc(78, 77, "sleep");
    evil.facts_mut().cmdline = Some(vec![EVIL.into(), "31337".into()]);
    let cg = vec![CgroupLine {
        hierarchy: 4,
        controllers: vec!["memory".into()],
        path: format!("/isolab-test-{EVIL}"),
    }];
    for p in [&mut init, &mut evil, &mut child] {
        p.facts_mut().cgroups = cg.clone().into();
    }
    let snap = Snapshot {
        procs: vec![init, evil, child],
        ticks_per_sec: 100,
        boot_time: 1_700_000_000,
    };
    let host = HostRef {
        ns: Default::default(),
        label: "PID 1".into(),
    };
    let setup = Setup::new("/proc", Duration::from_secs(1));
    let mut app = App::new(&setup, Users::default(), host);
    app.on_snapshot(snap);
    app
}

#[test]
fn processes_tree_detail_and_compare_show_escapes_not_controls() {
    let mut app = app_with_an_evil_process();
    // The tree and the detail pane of the evil process, wide and narrow.
    let row = app.shared.processes.row_of(77).expect("row");
    app.shared.processes.select(row);
    for (w, h) in [(200, 50), (80, 40)] {
        let screen = draw_app(&mut app, w, h);
        assert!(
            screen.contains(&format!("{SHOWN} 31337")),
            "tree:\n{screen}"
        );
        assert!(
            screen.contains(&format!("PID 77 · {SHOWN}")),
            "detail:\n{screen}"
        );
        assert!(
            screen.contains(&format!("/isolab-test-{SHOWN}")),
            "cgroup:\n{screen}"
        );
    }
    // The child names the evil process among its parents.
    let row = app.shared.processes.row_of(78).expect("row");
    app.shared.processes.select(row);
    let screen = draw_app(&mut app, 200, 50);
    assert!(
        screen.contains(&format!("77 {SHOWN}")),
        "parents:\n{screen}"
    );
    // Compare: marked PID 1, selected the evil one.
    let row = app.shared.processes.row_of(1).expect("row");
    app.shared.processes.select(row);
    key(&mut app, KeyCode::Char('m'));
    let row = app.shared.processes.row_of(77).expect("row");
    app.shared.processes.select(row);
    key(&mut app, KeyCode::Char('c'));
    let screen = draw_app(&mut app, 200, 50);
    assert!(screen.contains("compare namespaces"), "{screen}");
    assert!(screen.contains("77 \\e]0;pwned"), "compare:\n{screen}");
}

#[test]
fn the_status_line_escapes_its_message() {
    let mut app = app_with_an_evil_process();
    app.shared.error(format!("cannot read {EVIL}"));
    let screen = draw_app(&mut app, 200, 50);
    assert!(
        screen.contains(&format!("cannot read {SHOWN}")),
        "status:\n{screen}"
    );
}

fn draw_with(w: u16, h: u16, render: impl FnOnce(&mut ratatui::Frame)) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(render).expect("draw");
    cells(term.backend().buffer())
}

#[test]
fn root_screen_escapes_names_targets_paths_mounts_and_text() {
    use crate::app::rootfs::{Preview, RootState};
    use crate::sys::mounts;
    use crate::sys::rootfs::{Entry, FileContent};
    let entry = |name: &str, mode: u32, link: Option<&str>| Entry::fixture(name, mode, 1, link);
    let mut s = RootState::new(Path::new("/proc"));
    s.pid = Some(4123);
    s.cwd = format!("/tmp/{EVIL}");
    let entries = [
        entry(EVIL, libc::S_IFREG | 0o644, None),
        entry("link", libc::S_IFLNK | 0o777, Some(EVIL)),
    ];
    s.show_listing(
        crate::sys::rootfs::DirList::from_entries(
            &s.cwd,
            "/proc/4123/root/tmp".into(),
            &entries,
            None,
        ),
        &[],
    );
    // mountinfo writes a newline as \012; the escape byte is raw.
    let (process, _) = mounts::parse(
        "30 1 0:40 / /tmp/mnt\u{1b}]0;pwned\u{7}\u{1b}[2J\\012FORGED rw - tmpfs none rw\n",
    );
    s.mounts = mounts::compare(&process, &[]);
    s.show_mounts = true;
    let screen = draw_with(160, 20, |f| {
        crate::app::rootfs::view::render(f, f.area(), &s)
    });
    assert!(screen.contains(&format!("/tmp/{SHOWN}")), "cwd:\n{screen}");
    assert!(
        screen.contains(&format!(" {SHOWN}\n")) || screen.contains(&format!(" {SHOWN} ")),
        "name:\n{screen}"
    );
    assert!(
        screen.contains(&format!("link -> {SHOWN}")),
        "target:\n{screen}"
    );
    assert!(
        screen.contains(&format!("+ /tmp/mnt{SHOWN} tmpfs none")),
        "mount:\n{screen}"
    );

    let text = format!("hello {EVIL}\n");
    s.preview = Some(Preview {
        path: format!("/tmp/{EVIL}"),
        content: FileContent {
            bytes: text.clone().into_bytes(),
            size: text.len() as u64,
            cut: false,
            binary: false,
        },
        lines: vec![format!("hello {EVIL}")],
        scroll: 0,
    });
    let screen = draw_with(160, 20, |f| {
        crate::app::rootfs::view::render(f, f.area(), &s)
    });
    assert!(
        screen.contains(&format!("hello {SHOWN}")),
        "preview:\n{screen}"
    );
}

#[test]
fn memory_screen_escapes_comm_cgroup_paths_and_messages() {
    use crate::app::memory::MemoryState;
    let mut m = MemoryState::new("/proc");
    m.pid = Some(77);
    m.comm = EVIL.into();
    let path = format!("/isolab-test-{EVIL}");
    let dir = PathBuf::from(format!("/sys/fs/cgroup/memory{path}"));
    m.dir = Some(dir.clone());
    m.error = Some(format!("reading {}: gone", dir.display()));
    m.message = Some((false, format!("{}: refused", dir.display())));
    m.report = Some(CgroupReport {
        pid: 77,
        layout: Layout::V1,
        layout_explained: "v1 only",
        cgroups: vec![Membership {
            line: CgroupLine {
                hierarchy: 4,
                controllers: vec!["memory".into()],
                path: path.clone(),
            },
            version: CgroupVersion::V1,
            dir: Some(dir),
            explanation: format!("v1 hierarchy #4 for memory: its own tree, cgroup {path}"),
        }],
        memory: None,
    });
    let screen = draw_with(200, 40, |f| {
        crate::app::memory::view::render(f, f.area(), &m)
    });
    assert!(
        screen.contains(&format!("PID 77 {SHOWN}")),
        "title:\n{screen}"
    );
    assert!(
        screen.contains(&format!("4:memory:/isolab-test-{SHOWN}")),
        "cgroup line:\n{screen}"
    );
    assert!(
        screen.contains(&format!("/sys/fs/cgroup/memory/isolab-test-{SHOWN}")),
        "dir:\n{screen}"
    );
    assert!(
        screen.contains(&format!("isolab-test-{SHOWN}: refused")),
        "message:\n{screen}"
    );
}

#[test]
fn lab_escapes_what_the_child_reports_and_the_typed_options() {
    use crate::app::lab::LabState;
    use crate::sys::inside::CompareRow;
    use crate::sys::ns::NsKind;
    let mut lab = LabState {
        namespaces: vec![NsKind::Pid, NsKind::Uts],
        hostname: format!("h{EVIL}"),
        command: format!("sleep {EVIL}"),
        rootless: false,
        ..LabState::default()
    };
    // The child chose its hostname: the table shows it escaped.
    lab.compare = vec![CompareRow {
        what: "hostname",
        kind: NsKind::Uts,
        outside: "host-vm".into(),
        inside: EVIL.into(),
    }];
    lab.message = Some((true, format!("started {EVIL}")));
    let screen = draw_with(200, 50, |f| {
        crate::app::lab::view::render(f, f.area(), &lab)
    });
    assert!(
        screen.contains(&format!("h{SHOWN}")),
        "hostname row:\n{screen}"
    );
    assert!(
        screen.contains(&format!("sleep {SHOWN}")),
        "command row:\n{screen}"
    );
    assert!(
        screen.contains(&format!("started {SHOWN}")),
        "message:\n{screen}"
    );
    assert!(screen.contains("\\e]0;pwned"), "inside column:\n{screen}");
}
