//! Snapshots of the Memory screen, drawn with ratatui's TestBackend from a
//! hand-built state: v1 with an OOM kill on the graph, v2 with events, the
//! limit editor with a validation error, the confirmation for a live cgroup,
//! and tiny sizes that must not panic.

mod common;
use isolab::app::memory::{Dialog, MemoryState};
use isolab::sys::cgroup::{
    CgroupMounts, CgroupReport, CgroupVersion, Limit, MemoryCgroup, MemoryEvents, MemoryHierarchy,
    MemoryStats, explain, parse_cgroup_lines,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::PathBuf;

const MIB: u64 = 1 << 20;

fn stats(version: CgroupVersion, dir: &str, usage: u64, limit: Limit, kills: u64) -> MemoryStats {
    let v2 = version == CgroupVersion::V2;
    MemoryStats {
        version,
        dir: PathBuf::from(dir),
        usage,
        limit,
        peak: Some(32 * MIB),
        failcnt: (!v2).then_some(90),
        events: v2.then_some(MemoryEvents {
            low: 0,
            high: 0,
            max: 120,
            oom: kills,
            oom_kill: kills,
        }),
        oom_kills: Some(kills),
        swap_usage: Some(0),
        swap_limit: Some(Limit::Max),
        high: v2.then_some(Limit::Max),
        low: v2.then_some(Limit::Bytes(0)),
        min: v2.then_some(Limit::Bytes(0)),
    }
}

/// A state as the screen sees it after a hog climbed to 32M and was killed.
fn state(version: CgroupVersion, owned: bool) -> MemoryState {
    let (mountinfo, lines, mount, path) = match version {
        CgroupVersion::V1 => (
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
            "4:memory:/isolab/4242-1000-lab\n0::/\n",
            "/sys/fs/cgroup/memory",
            "/isolab/4242-1000-lab",
        ),
        CgroupVersion::V2 => (
            "29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            "0::/system.slice/web.service\n",
            "/sys/fs/cgroup",
            "/system.slice/web.service",
        ),
    };
    let mounts = CgroupMounts::parse(mountinfo);
    let hierarchy = MemoryHierarchy {
        version,
        mount: PathBuf::from(mount),
    };
    let dir = hierarchy.dir_of(path);
    let dir_text = dir.display().to_string();
    let mut m = MemoryState::new("/nonexistent-proc");
    m.pid = Some(4300);
    m.comm = "sleep".into();
    m.dir = Some(dir.clone());
    let limit = Limit::Bytes(32 * MIB);
    // Usage climbs 16 MiB/s to the limit, the OOM kill, then stays low.
    for i in 0..=40u64 {
        let at = i as f64 * 0.25;
        let (usage, kills) = if i <= 8 {
            (i * 4 * MIB, 0)
        } else {
            (MIB / 2, 1)
        };
        m.record(at, stats(version, &dir_text, usage, limit, kills));
    }
    m.report = Some(CgroupReport {
        pid: 4300,
        layout: mounts.layout(),
        layout_explained: mounts.layout().describe(),
        cgroups: explain(&parse_cgroup_lines(lines), &mounts),
        memory: Some(MemoryCgroup {
            hierarchy,
            dir,
            created_by_isolab: owned,
            stats: m.stats.clone(),
            unavailable: None,
        }),
    });
    m.message = Some((false, "hog 4301 killed by SIGKILL (the OOM killer)".into()));
    m
}

fn draw(m: &MemoryState, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| isolab::app::memory::view::render(f, f.area(), m))
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

#[test]
fn v1_after_the_oom_kill_120x36() {
    let m = state(CgroupVersion::V1, true);
    let screen = draw(&m, 120, 36);
    assert!(screen.contains("OOM kill ×1"), "{screen}");
    assert!(screen.contains("failcnt  90"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn v2_live_cgroup_with_events_100x30() {
    let m = state(CgroupVersion::V2, false);
    let screen = draw(&m, 100, 30);
    assert!(screen.contains("not isolab's"), "{screen}");
    assert!(screen.contains("max 120 oom 1"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn the_limit_editor_shows_the_validation_error_80x24() {
    let mut m = state(CgroupVersion::V1, true);
    m.message = None;
    m.dialog = Dialog::EditLimit {
        text: "12Q".into(),
        error: None,
    };
    m.submit_limit("12Q");
    let screen = draw(&m, 80, 24);
    assert!(screen.contains("unknown unit"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn a_live_cgroup_asks_before_changing_100x30() {
    let mut m = state(CgroupVersion::V2, false);
    m.submit_limit("64M");
    let screen = draw(&m, 100, 30);
    assert!(
        screen.contains("/sys/fs/cgroup/system.slice/web.service"),
        "{screen}"
    );
    assert!(screen.contains("LIVE"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn tiny_and_empty_never_panic() {
    let m = state(CgroupVersion::V1, true);
    for (w, h) in [(1, 1), (10, 3), (20, 6), (60, 15)] {
        draw(&m, w, h);
    }
    let empty = MemoryState::new("/nonexistent-proc");
    let screen = draw(&empty, 60, 15);
    assert!(screen.contains("no samples yet"), "{screen}");
}
