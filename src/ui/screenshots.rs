//! The fixed states the README's screenshots are drawn from (tests only):
//! each screen's state as its own snapshot tests build it, so a screenshot
//! shows what a test checks. `ui::snapshot_tests::screenshots_in_assets_match`
//! draws them into `assets/*.svg` with the process tree of its fixture.
//! No host data: nothing here reads /proc, /sys or a lesson file.

use crate::app::{Screen, Setup};
use crate::sys::ns::NsKind;
use crossterm::event::KeyEvent;
use ratatui::layout::Rect;

/// Every tab in order, each holding its screenshot state.
pub(super) fn screens(setup: &Setup) -> Vec<Box<dyn Screen>> {
    let mut lab = crate::app::lab::LabScreen::new(setup);
    lab.state = screenshot_lab();
    let mut root = crate::app::rootfs::RootScreen::new(setup);
    root.state = screenshot_root();
    let mut memory = crate::app::memory::MemoryScreen::new(setup);
    memory.state = screenshot_memory();
    let lessons = LessonsShot {
        real: crate::app::lessons::LessonsScreen::new(setup),
        state: screenshot_lessons(),
    };
    vec![
        Box::new(crate::app::processes::ProcessesScreen::default()),
        Box::new(lab),
        Box::new(root),
        Box::new(memory),
        Box::new(lessons),
    ]
}

/// The Lab after the first steps of a pid+mnt+uts spawn, with the inside/
/// outside table (the fixture of `ui::lab`'s `lab_steps_table` snapshot).
fn screenshot_lab() -> crate::app::lab::LabState {
    use crate::sys::inside::CompareRow;
    use crate::sys::spawn::StepReport;
    let mut lab = crate::app::lab::LabState {
        namespaces: vec![NsKind::Pid, NsKind::Mnt, NsKind::Uts],
        // The same picture for root and for a user running the tests.
        rootless: false,
        ..Default::default()
    };
    let mut plan = lab.plan().expect("plan");
    plan.normalize();
    lab.reports = crate::sys::spawn::steps(&plan)
        .iter()
        .take(4)
        .enumerate()
        .map(|(index, step)| StepReport {
            index,
            step: step.clone(),
            outcome: Ok(if index == 0 {
                "setup process is PID 4242".into()
            } else {
                String::new()
            }),
        })
        .collect();
    lab.compare = vec![
        CompareRow {
            what: "hostname",
            kind: NsKind::Uts,
            outside: "host-vm".into(),
            inside: "lab".into(),
        },
        CompareRow {
            what: "interfaces",
            kind: NsKind::Net,
            outside: "lo eth0".into(),
            inside: "lo eth0".into(),
        },
    ];
    lab
}

/// nginx's /tmp seen through its root (the fixture of `ui::rootfs`'s
/// `listing_80x20` snapshot).
fn screenshot_root() -> crate::app::rootfs::RootState {
    use crate::sys::rootfs::{DirList, Entry};
    let entries: Vec<Entry> = [
        ("cache", libc::S_IFDIR | 0o755, 4096, None),
        ("created_by_host", libc::S_IFREG | 0o644, 0, None),
        ("etc-shadow", libc::S_IFLNK | 0o777, 11, Some("/etc/shadow")),
        ("just_a_temp", libc::S_IFREG | 0o600, 1234, None),
        ("run.sh", libc::S_IFREG | 0o755, 80, None),
    ]
    .into_iter()
    .map(|(name, mode, size, link)| Entry::fixture(name, mode, size, link))
    .collect();
    let mut s = crate::app::rootfs::RootState::new(std::path::Path::new("/proc"));
    s.pid = Some(4123);
    s.show_listing(
        DirList::from_entries("/tmp", "/proc/4123/root/tmp".into(), &entries, None),
        &["just_a_temp"],
    );
    s.selected = 1;
    s
}

/// A v2 cgroup after a hog climbed to its 32M limit and was OOM-killed
/// (the fixture of tests/cgroup_screen.rs's `v2_live_cgroup_with_events`).
fn screenshot_memory() -> crate::app::memory::MemoryState {
    use crate::sys::cgroup::{
        CgroupMounts, CgroupReport, CgroupVersion, Limit, MemoryCgroup, MemoryEvents,
        MemoryHierarchy, MemoryStats, explain, parse_cgroup_lines,
    };
    const MIB: u64 = 1 << 20;
    let mounts = CgroupMounts::parse("29 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n");
    let hierarchy = MemoryHierarchy {
        version: CgroupVersion::V2,
        mount: "/sys/fs/cgroup".into(),
    };
    let dir = hierarchy.dir_of("/system.slice/web.service");
    let stats = |usage: u64, kills: u64| MemoryStats {
        version: CgroupVersion::V2,
        dir: dir.clone(),
        usage,
        limit: Limit::Bytes(32 * MIB),
        peak: Some(32 * MIB),
        failcnt: None,
        events: Some(MemoryEvents {
            low: 0,
            high: 0,
            max: 120,
            oom: kills,
            oom_kill: kills,
        }),
        oom_kills: Some(kills),
        swap_usage: Some(0),
        swap_limit: Some(Limit::Max),
        high: Some(Limit::Max),
        low: Some(Limit::Bytes(0)),
        min: Some(Limit::Bytes(0)),
    };
    let mut m = crate::app::memory::MemoryState::new("/nonexistent-proc");
    m.pid = Some(4300);
    m.comm = "sleep".into();
    m.dir = Some(dir.clone());
    // Usage climbs 16 MiB/s to the limit, the OOM kill, then stays low.
    for i in 0..=40u64 {
        let (usage, kills) = if i <= 8 {
            (i * 4 * MIB, 0)
        } else {
            (MIB / 2, 1)
        };
        m.record(i as f64 * 0.25, stats(usage, kills));
    }
    m.report = Some(CgroupReport {
        pid: 4300,
        layout: mounts.layout(),
        layout_explained: mounts.layout().describe(),
        cgroups: explain(
            &parse_cgroup_lines("0::/system.slice/web.service\n"),
            &mounts,
        ),
        memory: Some(MemoryCgroup {
            hierarchy,
            dir,
            created_by_isolab: false,
            stats: m.stats.clone(),
            unavailable: None,
        }),
    });
    m.message = Some((false, "hog 4301 killed by SIGKILL (the OOM killer)".into()));
    m
}

/// A step with its live pane and a "not yet" reason (the fixture of
/// tests/lessons_screen.rs's `step_with_live_pane_and_reason`).
fn screenshot_lessons() -> crate::app::lessons::LessonsState {
    use crate::app::lessons::{LessonsState, LiveRow, View};
    use crate::lessons::catalog::Entry;
    use crate::lessons::cond::Outcome;
    use crate::lessons::progress::Progress;
    const LESSON: &str = "lesson: Namespaces\nabout: One kind at a time.\n\nstep: A hostname of its own\nThe *UTS* namespace holds the hostname. Run:\n```\nunshare --uts sh -c 'hostname box; exec sleep 1'\n```\nhint: Use a second terminal.\nstart: unshare --uts sh -c 'hostname box; exec sleep 1'\ncheck: process where hostname = \"box\" and ns.uts != host.uts\n\nstep: Reading\nJust text with `code`.\n";
    let entries = vec![
        Entry::from_text("01-ns", None, LESSON),
        Entry::from_text(
            "02-broken",
            None,
            "lesson: X\nstep: S\ncheck: process where\n",
        ),
    ];
    let mut progress = Progress::default();
    progress.set_step("01-ns", 1);
    let mut s = LessonsState::new(
        entries,
        progress,
        "/nonexistent/progress.json".into(),
        false,
    );
    s.view = View::Step;
    s.lesson = Some(0);
    s.step = 0;
    s.rows = vec![LiveRow {
        pid: 4242,
        nspid: "4242".into(),
        hostname: "myhost".into(),
        command: "sleep 1".into(),
        own_ns: "uts".into(),
    }];
    s.outcome = Some(Outcome::NotYet(
        "no process with the hostname `box` and with its own UTS namespace yet".into(),
    ));
    s
}

/// The Lessons tab showing a fixed state: the real screen loads lesson
/// files and progress and starts a worker when entered (host data).
struct LessonsShot {
    real: crate::app::lessons::LessonsScreen,
    state: crate::app::lessons::LessonsState,
}

impl Screen for LessonsShot {
    fn title(&self) -> &'static str {
        self.real.title()
    }
    fn help(&self) -> Vec<crate::app::keys::HelpSection> {
        self.real.help()
    }
    fn on_key(&mut self, _key: KeyEvent, _shared: &mut crate::app::Shared) -> bool {
        false
    }
    fn render(&self, f: &mut ratatui::Frame, body: Rect, _shared: &crate::app::Shared) {
        crate::app::lessons::view::render_in(f, body, &self.state);
    }
    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        self.real.hints()
    }
}
