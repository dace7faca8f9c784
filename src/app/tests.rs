//! The app's own tests: tabs, the shared selection, the help overlay,
//! prompts and clicks, driven through `App` with a probe screen.
use super::*;
use crate::sys::tree::tests::proc;
use crossterm::event::{KeyCode, KeyModifiers};
use keys::{Binding, bind};

/// A second screen, as another helper would add one: its own state and
/// key table, reading the selection the Processes screen owns.
/// What the probe saw, shared with the test (screens are boxed).
#[derive(Default)]
struct Probe {
    seen: std::rc::Rc<std::cell::RefCell<Vec<Option<Pid>>>>,
    snapshots: std::rc::Rc<std::cell::Cell<usize>>,
}

#[derive(Clone, Copy)]
enum ProbeAction {
    Record,
    RunTrue,
}

const PROBE_KEYS: &[Binding<ProbeAction>] = &[
    bind(
        ProbeAction::Record,
        &[KeyCode::Char('r')],
        "record the selection",
    ),
    bind(ProbeAction::RunTrue, &[KeyCode::Char('e')], "run true"),
];

impl Screen for Probe {
    fn title(&self) -> &'static str {
        "Probe"
    }
    fn help(&self) -> Vec<HelpSection> {
        vec![keys::help_section("Probe", PROBE_KEYS)]
    }
    fn on_key(&mut self, key: KeyEvent, shared: &mut Shared) -> bool {
        match keys::lookup(PROBE_KEYS, key.code) {
            Some(ProbeAction::Record) => self.seen.borrow_mut().push(shared.selected_pid()),
            Some(ProbeAction::RunTrue) => {
                shared.run_in_foreground("true", std::process::Command::new("true"))
            }
            None => return false,
        }
        true
    }
    fn on_snapshot(&mut self, _shared: &mut Shared) {
        self.snapshots.set(self.snapshots.get() + 1);
    }
    fn poll(&mut self, _shared: &mut Shared) -> bool {
        // Redraw when a snapshot arrived since the last poll.
        self.snapshots.get() % 2 == 1
    }
    fn render(&self, _f: &mut Frame, _body: Rect, _shared: &Shared) {}
}

/// Draws `a` as the main loop would: the draw records the geometry the
/// mouse and paging use.
fn draw(a: &App, w: u16, h: u16) {
    let mut term =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("terminal");
    term.draw(|f| crate::app::frame::render(f, a))
        .expect("draw");
}

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}

fn app() -> App {
    app_with(Probe::default())
}

fn app_with(probe: Probe) -> App {
    let shared = Shared::new(Users::default(), HostRef::default(), Duration::from_secs(1));
    let mut app = App::with_screens(
        shared,
        vec![
            Box::new(processes::ProcessesScreen::default()),
            Box::new(probe),
        ],
    );
    let procs = vec![proc(1, 0, "init"), proc(7, 1, "sh"), proc(9, 7, "sleep")];
    app.on_snapshot(crate::sys::procs::Snapshot {
        procs,
        ticks_per_sec: 100,
        boot_time: 0,
    });
    app
}

#[test]
fn tabs_switch_by_number_and_tab_and_screens_share_the_selection() {
    let probe = Probe::default();
    let (seen, snapshots) = (probe.seen.clone(), probe.snapshots.clone());
    let mut a = app_with(probe);
    assert_eq!(snapshots.get(), 1, "every screen hears of each snapshot");
    assert!(a.poll(), "a screen's poll can ask for a redraw");
    press(&mut a, KeyCode::End); // Processes: select the last row
    assert_eq!(a.shared.selected_pid(), Some(9));
    press(&mut a, KeyCode::Char('2'));
    assert_eq!(a.active_screen().title(), "Probe");
    press(&mut a, KeyCode::Char('r'));
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.active, 0, "Tab wraps around");
    press(&mut a, KeyCode::BackTab);
    assert_eq!(a.active, 1);
    press(&mut a, KeyCode::Char('9'));
    assert_eq!(a.active, 1, "no screen 9: stays");
    assert!(a.shared.status.is_some(), "and says why");
    press(&mut a, KeyCode::Char('1'));
    assert_eq!(a.active, 0);
    press(&mut a, KeyCode::Home);
    a.show_screen(1);
    press(&mut a, KeyCode::Char('r'));
    assert_eq!(*seen.borrow(), vec![Some(9), Some(1)]);
    assert!(a.show_screen_titled("Processes"));
    assert!(!a.show_screen_titled("Nope"));
}

#[test]
fn a_screen_can_ask_to_run_a_program_in_the_foreground() {
    let mut a = app();
    a.show_screen(1);
    press(&mut a, KeyCode::Char('e'));
    let fg = a.shared.take_foreground().expect("a foreground request");
    assert_eq!(fg.label, "true");
    assert!(a.shared.take_foreground().is_none(), "taken once");
    press(&mut a, KeyCode::Char('!'));
    assert!(
        a.shared
            .take_foreground()
            .expect("shell")
            .label
            .starts_with("shell ")
    );
}

#[test]
fn search_prompt_takes_every_key_but_ctrl_c() {
    let mut a = app();
    press(&mut a, KeyCode::Char('/'));
    for c in "q2?!".chars() {
        press(&mut a, KeyCode::Char(c));
    }
    assert!(!a.shared.quit);
    assert_eq!(a.active, 0);
    assert!(!a.help);
    assert_eq!(
        a.active_screen().prompt(&a.shared).map(|p| p.1),
        Some("q2?!".into())
    );
    a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(a.shared.quit);
}

#[test]
fn help_lists_every_key_of_every_table_and_scrolls() {
    let mut a = app();
    let all: Vec<String> = a
        .help_sections()
        .iter()
        .flat_map(|s| s.lines.iter().map(|l| l.0.clone()))
        .collect();
    for b in processes::KEYS {
        for k in b.keys {
            let name = keys::key_name(k);
            assert!(
                all.iter().any(|l| l.split(' ').any(|w| w == name)),
                "{name} missing from help"
            );
        }
    }
    draw(&a, 80, 24);
    press(&mut a, KeyCode::Char('?'));
    assert!(a.help);
    press(&mut a, KeyCode::PageDown);
    press(&mut a, KeyCode::PageDown);
    press(&mut a, KeyCode::PageDown);
    let bottom = a.help_scroll;
    assert!(
        bottom > 0 && bottom + a.help_page() == a.help_len(),
        "clamped at the end"
    );
    press(&mut a, KeyCode::Up);
    assert_eq!(a.help_scroll, bottom - 1);
    press(&mut a, KeyCode::Char('x'));
    assert!(!a.help, "any other key closes");
    assert!(!a.shared.quit);
}

#[test]
fn a_full_screen_app_gives_every_key_but_ctrl_c_to_its_one_screen() {
    let probe = Probe::default();
    let seen = probe.seen.clone();
    let shared = Shared::new(Users::default(), HostRef::default(), Duration::from_secs(1));
    let mut a = App::full_screen(shared, Box::new(probe));
    for c in ['?', '2', 'q', '!', 'r'] {
        press(&mut a, KeyCode::Char(c));
    }
    assert!(!a.help, "? is the screen's");
    assert!(
        !a.shared.quit,
        "q is the screen's: it quits by setting shared.quit"
    );
    assert!(a.shared.status.is_none(), "2 is not a tab number");
    assert!(
        a.shared.take_foreground().is_none(),
        "! is not the global shell"
    );
    assert_eq!(seen.borrow().len(), 1, "the screen got r");
    // Drawn alone: no tab line, no status line, and the TUI's minimum
    // size does not apply (the screen has its own).
    let mut t =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(50, 12)).expect("test terminal");
    t.draw(|f| frame::render(f, &a)).expect("draw");
    let buf = t.backend().buffer();
    let text: String = buf.content().iter().map(|c| c.symbol()).collect();
    assert!(text.trim().is_empty(), "{text}");
    a.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(a.shared.quit, "Ctrl-C still quits");
}

#[test]
fn a_worker_wakes_the_loop_through_the_shared_waker() {
    let a = app();
    let waker = a.shared.waker();
    std::thread::spawn(move || waker.wake())
        .join()
        .expect("the worker thread");
    assert!(matches!(a.shared.events.try_recv(), Ok(AppEvent::Wake)));
}

#[test]
fn the_root_and_memory_workers_wake_the_loop() {
    let shared = Shared::new(Users::default(), HostRef::default(), Duration::from_secs(1));
    let me = std::process::id() as i32;
    let mut root = rootfs::RootState::new(std::path::Path::new("/proc"));
    root.waker = shared.waker();
    root.open(me);
    assert!(
        root.wait_loaded(Duration::from_secs(60)),
        "{:?}",
        root.message
    );
    assert!(
        matches!(shared.events.try_recv(), Ok(AppEvent::Wake)),
        "a listing came with a Wake"
    );
    shared.waker.woken();
    let mut memory = memory::MemoryState::new("/proc");
    memory.waker = shared.waker();
    memory.show(me, "test");
    memory.pump(); // starts the worker, which answers at once
    assert!(
        matches!(
            shared.events.recv_timeout(Duration::from_secs(60)),
            Ok(AppEvent::Wake)
        ),
        "the memory worker's answer came with a Wake"
    );
}

#[test]
fn clicking_a_tab_switches_to_it() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mut a = app();
    draw(&a, 100, 30);
    let column = (0..100)
        .find(|&c| a.tab_at(c) == Some(1))
        .expect("the Probe tab is drawn");
    a.on_mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column,
        row: 0,
        modifiers: KeyModifiers::NONE,
    });
    assert_eq!(a.active, 1);
}
