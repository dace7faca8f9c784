//! The Root screen's state: a file browser over one process's root
//! filesystem, a file preview, the new-file/new-directory dialog, and the
//! mount table beside the host's. Every kernel access goes through
//! `sys::rootfs::ProcRoot` (safe resolution); `ui::rootfs` only draws this.
//!
//! `RootScreen` is the tab: it opens the process selected on the Processes
//! screen when entered, re-reads the directory after every snapshot (new
//! names get marked), and hands its messages to the status line.

use crate::app::keys::{self, Binding, HelpSection, PromptAction, bind};
use crate::app::{Screen, Shared};
use crate::sys::mounts::{self, MountRow};
use crate::sys::rootfs::{self, Entry, FileContent, FileKind, ProcRoot, RootfsError, UserNs, join};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::Rect;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The preview reads at most this much of a file.
pub const PREVIEW_LIMIT: usize = 256 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    Info,
    Error,
}

/// A file being previewed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preview {
    /// As the process sees it.
    pub path: String,
    pub content: FileContent,
    /// Text lines, or hex dump lines for a binary file.
    pub lines: Vec<String>,
    pub scroll: usize,
}

/// The small dialog that names a new file or directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDialog {
    pub is_dir: bool,
    pub name: String,
    /// Why the last try was refused (bad name, exists, ...).
    pub error: Option<String>,
}

/// What the bottom prompt is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootPrompt {
    None,
    Search(String),
}

/// What a key does while browsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RootAction {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Open,
    Back,
    Search,
    NextMatch,
    PrevMatch,
    NewFile,
    NewDir,
    Mounts,
    MountsDown,
    MountsUp,
    HostPath,
    Refresh,
    Dismiss,
}

use KeyCode::{Char as C, *};

pub const KEYS: &[Binding<RootAction>] = &[
    bind(RootAction::Up, &[Up, C('k')], "move up"),
    bind(RootAction::Down, &[Down, C('j')], "move down"),
    bind(RootAction::PageUp, &[PageUp], "page up"),
    bind(RootAction::PageDown, &[PageDown], "page down"),
    bind(RootAction::Home, &[Home, C('g')], "first entry"),
    bind(RootAction::End, &[End, C('G')], "last entry"),
    bind(
        RootAction::Open,
        &[Enter, Right, C('l')],
        "open directory / preview file (text, or hex if binary)",
    ),
    bind(
        RootAction::Back,
        &[Backspace, Left, C('h')],
        "up one directory (never above the process's /)",
    ),
    bind(RootAction::Search, &[C('/'), F(3)], "search names here"),
    bind(RootAction::NextMatch, &[C('>')], "next match"),
    bind(RootAction::PrevMatch, &[C('<')], "previous match"),
    bind(
        RootAction::NewFile,
        &[C('n')],
        "new empty file here, made from the host",
    ),
    bind(
        RootAction::NewDir,
        &[C('N'), C('d')],
        "new directory here, made from the host",
    ),
    bind(
        RootAction::Mounts,
        &[C('M')],
        "mount table beside the host's (= ~ + - marks)",
    ),
    bind(
        RootAction::MountsDown,
        &[C('J')],
        "scroll the mount table down",
    ),
    bind(RootAction::MountsUp, &[C('K')], "scroll the mount table up"),
    bind(
        RootAction::HostPath,
        &[C('H')],
        "show the host path (/proc/PID/root/...)",
    ),
    bind(
        RootAction::Refresh,
        &[C('r'), F(5)],
        "re-read now (also after every snapshot)",
    ),
    bind(
        RootAction::Dismiss,
        &[Esc],
        "hide the mount table and the message",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreviewAction {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Close,
}

pub const PREVIEW_KEYS: &[Binding<PreviewAction>] = &[
    bind(PreviewAction::Up, &[Up, C('k')], "scroll up"),
    bind(PreviewAction::Down, &[Down, C('j')], "scroll down"),
    bind(PreviewAction::PageUp, &[PageUp], "page up"),
    bind(PreviewAction::PageDown, &[PageDown, C(' ')], "page down"),
    bind(PreviewAction::Top, &[Home, C('g')], "top"),
    bind(PreviewAction::Bottom, &[End, C('G')], "bottom"),
    bind(
        PreviewAction::Close,
        &[Esc, Backspace, Left, C('h'), Enter],
        "close the preview",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogAction {
    Create,
    Cancel,
    DeleteChar,
}

pub const DIALOG_KEYS: &[Binding<DialogAction>] = &[
    bind(DialogAction::Create, &[Enter], "create it"),
    bind(DialogAction::Cancel, &[Esc], "cancel"),
    bind(DialogAction::DeleteChar, &[Backspace], "delete a character"),
];

#[derive(Debug)]
pub struct RootState {
    pub proc_root: PathBuf,
    pub pid: Option<i32>,
    root: Option<ProcRoot>,
    /// The directory shown, as the process sees it.
    pub cwd: String,
    /// The same, as a naive host path (`/proc/PID/root/...`), for display.
    pub host_cwd: String,
    pub entries: Vec<Entry>,
    /// Names that appeared since the previous refresh of this directory.
    pub new_names: HashSet<String>,
    seen: Option<(String, HashSet<String>)>,
    pub userns: Option<UserNs>,
    pub selected: usize,
    pub scroll: usize,
    /// Rows the list can show (set from the terminal size before a draw).
    pub page: usize,
    pub preview: Option<Preview>,
    pub dialog: Option<NewDialog>,
    pub prompt: RootPrompt,
    pub last_search: Option<String>,
    pub show_mounts: bool,
    pub mounts: Vec<MountRow>,
    pub mounts_same_ns: bool,
    pub mounts_scroll: usize,
    pub show_host_path: bool,
    /// The process is gone: the screen says so and stops reading.
    pub exited: bool,
    pub message: Option<(Tone, String)>,
}

impl RootState {
    pub fn new(proc_root: &Path) -> RootState {
        RootState {
            proc_root: proc_root.to_path_buf(),
            pid: None,
            root: None,
            cwd: "/".into(),
            host_cwd: String::new(),
            entries: Vec::new(),
            new_names: HashSet::new(),
            seen: None,
            userns: None,
            selected: 0,
            scroll: 0,
            page: 20,
            preview: None,
            dialog: None,
            prompt: RootPrompt::None,
            last_search: None,
            show_mounts: false,
            mounts: Vec::new(),
            mounts_same_ns: false,
            mounts_scroll: 0,
            show_host_path: false,
            exited: false,
            message: None,
        }
    }

    fn info(&mut self, msg: impl Into<String>) {
        self.message = Some((Tone::Info, msg.into()));
    }

    fn error(&mut self, msg: impl Into<String>) {
        self.message = Some((Tone::Error, msg.into()));
    }

    /// Open PID's root at `/` (again, if it is the same PID: keeps nothing).
    pub fn open(&mut self, pid: i32) {
        let proc_root = self.proc_root.clone();
        *self = RootState::new(&proc_root);
        self.pid = Some(pid);
        match ProcRoot::open(&proc_root, pid) {
            Ok(root) => {
                self.userns = root.userns().cloned();
                self.root = Some(root);
                self.load_dir("/");
                self.load_mounts();
            }
            Err(e) => self.fail(e),
        }
    }

    /// Take an error from the kernel side: an exit stops the screen.
    fn fail(&mut self, e: RootfsError) {
        if matches!(
            e,
            RootfsError::Exited { .. } | RootfsError::NoProcess { .. }
        ) {
            self.exited = true;
            self.root = None;
            self.dialog = None;
        }
        self.error(e.to_string());
    }

    pub fn is_open(&self) -> bool {
        self.root.is_some()
    }

    /// Re-read the directory (and the mount table if shown); names that were
    /// not there before are marked new.
    pub fn refresh(&mut self) {
        if self.root.is_none() {
            return;
        }
        if let Some(root) = &self.root
            && !root.is_alive()
        {
            let pid = root.pid();
            self.fail(RootfsError::Exited { pid });
            return;
        }
        let cwd = self.cwd.clone();
        self.load_dir(&cwd);
        if self.show_mounts {
            self.load_mounts();
        }
    }

    fn load_dir(&mut self, path: &str) {
        let Some(root) = &self.root else { return };
        match root.list_dir(path) {
            Ok(listing) => {
                let same_dir = path == self.cwd;
                let names: HashSet<String> =
                    listing.entries.iter().map(|e| e.name.clone()).collect();
                self.new_names = match &self.seen {
                    Some((dir, before)) if dir == &listing.path => {
                        let mut fresh: HashSet<String> =
                            names.difference(before).cloned().collect();
                        // Keep the mark until the user leaves the directory.
                        fresh.extend(
                            self.new_names
                                .iter()
                                .filter(|n| names.contains(*n))
                                .cloned(),
                        );
                        fresh
                    }
                    _ => HashSet::new(),
                };
                self.seen = Some((listing.path.clone(), names));
                let keep = if same_dir {
                    self.entries.get(self.selected).map(|e| e.name.clone())
                } else {
                    None
                };
                self.cwd = listing.path;
                self.host_cwd = listing.host_path.display().to_string();
                self.entries = listing.entries;
                self.selected = keep
                    .and_then(|n| self.entries.iter().position(|e| e.name == n))
                    .unwrap_or(if same_dir { self.selected } else { 0 });
                if !same_dir {
                    self.scroll = 0;
                }
                self.clamp();
            }
            Err(e) => self.fail(e),
        }
    }

    fn load_mounts(&mut self) {
        let Some(root) = &self.root else { return };
        let text = match root.mountinfo_text() {
            Ok(t) => t,
            Err(e) => return self.fail(e),
        };
        let (process, _) = mounts::parse(&text);
        match mounts::read_host(&self.proc_root) {
            Ok((host, _)) => {
                let host_ns = std::fs::metadata(self.proc_root.join("1/ns/mnt"))
                    .ok()
                    .map(|m| std::os::unix::fs::MetadataExt::ino(&m));
                self.mounts_same_ns = root.mnt_ns().is_some() && root.mnt_ns() == host_ns;
                self.mounts = mounts::compare(&process, &host);
            }
            Err(e) => self.error(format!("reading the host's mount table: {e}")),
        }
    }

    pub fn selected_entry(&self) -> Option<&Entry> {
        self.entries.get(self.selected)
    }

    /// The selected entry's path as the process sees it.
    pub fn selected_path(&self) -> Option<String> {
        self.selected_entry().map(|e| join(&self.cwd, &e.name))
    }

    pub fn set_page(&mut self, page: usize) {
        self.page = page.max(1);
        self.clamp();
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.entries.len().saturating_sub(1));
        if self.selected < self.scroll {
            self.scroll = self.selected;
        }
        if self.selected >= self.scroll + self.page {
            self.scroll = self.selected + 1 - self.page;
        }
    }

    fn move_by(&mut self, delta: isize) {
        let n = self.entries.len();
        if n == 0 {
            return;
        }
        self.selected = (self.selected as isize + delta).clamp(0, n as isize - 1) as usize;
        self.clamp();
    }

    /// Enter: open a directory, preview a file (links are followed inside
    /// the process's root by the kernel).
    fn enter(&mut self) {
        let Some(path) = self.selected_path() else {
            return;
        };
        let Some(root) = &self.root else { return };
        let is_dir = match self.selected_entry().map(|e| e.kind) {
            Some(FileKind::Dir) => true,
            Some(FileKind::Symlink) => matches!(root.stat(&path), Ok(e) if e.kind == FileKind::Dir),
            _ => false,
        };
        if is_dir {
            self.load_dir(&path);
            return;
        }
        match root.read_file(&path, PREVIEW_LIMIT) {
            Ok(content) => {
                let lines = if content.binary {
                    rootfs::hex_lines(&content.bytes)
                } else {
                    String::from_utf8_lossy(&content.bytes)
                        .lines()
                        .map(|l| l.replace('\t', "    "))
                        .collect()
                };
                self.preview = Some(Preview {
                    path,
                    content,
                    lines,
                    scroll: 0,
                });
            }
            Err(e) => self.fail(e),
        }
    }

    fn go_up(&mut self) {
        if self.cwd == "/" {
            self.info("already at / of the process's root: .. never leaves it");
            return;
        }
        let from = self
            .cwd
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_string();
        let parent = rootfs::parent(&self.cwd);
        self.load_dir(&parent);
        if let Some(i) = self.entries.iter().position(|e| e.name == from) {
            self.selected = i;
            self.clamp();
        }
    }

    fn find(&mut self, forward: bool) -> bool {
        let Some(q) = self.last_search.as_ref().map(|q| q.to_lowercase()) else {
            return false;
        };
        let n = self.entries.len();
        for step in 1..=n {
            let i = if forward {
                (self.selected + step) % n
            } else {
                (self.selected + n - step) % n
            };
            if self.entries[i].name.to_lowercase().contains(&q) {
                self.selected = i;
                self.clamp();
                return true;
            }
        }
        false
    }

    fn create(&mut self) {
        let Some(dialog) = &self.dialog else { return };
        let Some(root) = &self.root else { return };
        let (name, is_dir) = (dialog.name.clone(), dialog.is_dir);
        match root.create_in(&self.cwd, &name, is_dir) {
            Ok(_) => {
                self.dialog = None;
                let what = if is_dir { "directory" } else { "file" };
                let path = join(&self.cwd, &name);
                let msg = format!(
                    "created {what} {path} inside PID {} (host path {})",
                    root.pid(),
                    root.host_path(&path).display()
                );
                self.refresh();
                if let Some(i) = self.entries.iter().position(|e| e.name == name) {
                    self.selected = i;
                    self.clamp();
                }
                self.info(msg);
            }
            Err(e @ (RootfsError::Exited { .. } | RootfsError::NoProcess { .. })) => self.fail(e),
            Err(e) => {
                if let Some(d) = &mut self.dialog {
                    d.error = Some(e.to_string());
                }
            }
        }
    }

    /// Handle a key; false if the screen has no use for it (the app may then
    /// treat it as a global key, like switching screens or quitting).
    pub fn on_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        if let Some(d) = &mut self.dialog {
            match keys::lookup(DIALOG_KEYS, key.code) {
                Some(DialogAction::Cancel) => self.dialog = None,
                Some(DialogAction::Create) => self.create(),
                Some(DialogAction::DeleteChar) => {
                    d.name.pop();
                    d.error = None;
                }
                None => {
                    if let KeyCode::Char(c) = key.code {
                        d.name.push(c);
                        d.error = None;
                    }
                }
            }
            return true;
        }
        if let RootPrompt::Search(q) = &mut self.prompt {
            match keys::lookup(keys::PROMPT_KEYS, key.code) {
                Some(PromptAction::Cancel) => self.prompt = RootPrompt::None,
                Some(PromptAction::Accept) => {
                    let q = std::mem::take(q);
                    self.prompt = RootPrompt::None;
                    if !q.is_empty() {
                        self.last_search = Some(q.clone());
                        if !self.find(true) {
                            self.error(format!("no name in {} matches \"{q}\"", self.cwd));
                        }
                    }
                }
                Some(PromptAction::DeleteChar) => {
                    q.pop();
                }
                None => {
                    if let KeyCode::Char(c) = key.code {
                        q.push(c);
                    }
                }
            }
            return true;
        }
        if let Some(p) = &mut self.preview {
            let page = self.page.max(1);
            let max = p.lines.len().saturating_sub(1);
            match keys::lookup(PREVIEW_KEYS, key.code) {
                Some(PreviewAction::Up) => p.scroll = p.scroll.saturating_sub(1),
                Some(PreviewAction::Down) => p.scroll = (p.scroll + 1).min(max),
                Some(PreviewAction::PageUp) => p.scroll = p.scroll.saturating_sub(page),
                Some(PreviewAction::PageDown) => p.scroll = (p.scroll + page).min(max),
                Some(PreviewAction::Top) => p.scroll = 0,
                Some(PreviewAction::Bottom) => p.scroll = max,
                Some(PreviewAction::Close) => self.preview = None,
                None => return false,
            }
            return true;
        }
        if self.exited {
            // Nothing to browse any more; only the app's global keys apply.
            return false;
        }
        let Some(action) = keys::lookup(KEYS, key.code) else {
            return false;
        };
        self.act(action);
        true
    }

    fn act(&mut self, action: RootAction) {
        let page = self.page as isize;
        match action {
            RootAction::Up => self.move_by(-1),
            RootAction::Down => self.move_by(1),
            RootAction::PageUp => self.move_by(-page),
            RootAction::PageDown => self.move_by(page),
            RootAction::Home => self.move_by(isize::MIN / 2),
            RootAction::End => self.move_by(isize::MAX / 2),
            RootAction::Open => self.enter(),
            RootAction::Back => self.go_up(),
            RootAction::Search => self.prompt = RootPrompt::Search(String::new()),
            RootAction::NextMatch | RootAction::PrevMatch => {
                if self.last_search.is_none() {
                    self.info("no search yet: press / to search");
                } else if !self.find(action == RootAction::NextMatch) {
                    self.error("no name matches the search here");
                }
            }
            RootAction::NewFile | RootAction::NewDir => {
                self.dialog = Some(NewDialog {
                    is_dir: action == RootAction::NewDir,
                    name: String::new(),
                    error: None,
                })
            }
            RootAction::Mounts => {
                self.show_mounts = !self.show_mounts;
                self.mounts_scroll = 0;
                if self.show_mounts {
                    self.load_mounts();
                }
            }
            RootAction::MountsDown => {
                self.mounts_scroll =
                    (self.mounts_scroll + 1).min(self.mounts.len().saturating_sub(1))
            }
            RootAction::MountsUp => self.mounts_scroll = self.mounts_scroll.saturating_sub(1),
            RootAction::HostPath => self.show_host_path = !self.show_host_path,
            RootAction::Refresh => {
                self.refresh();
                if !self.exited {
                    self.info(format!("re-read {}", self.cwd));
                }
            }
            RootAction::Dismiss => {
                self.message = None;
                self.show_mounts = false;
            }
        }
    }

    /// Scroll the listing (mouse wheel) or select a row (click).
    pub fn on_mouse(&mut self, m: MouseEvent, list: Rect) {
        match m.kind {
            MouseEventKind::ScrollDown if self.preview.is_none() => self.move_by(3),
            MouseEventKind::ScrollUp if self.preview.is_none() => self.move_by(-3),
            MouseEventKind::Down(MouseButton::Left)
                if list.contains(ratatui::layout::Position::new(m.column, m.row)) =>
            {
                let row = self.scroll + (m.row - list.y) as usize;
                if row < self.entries.len() {
                    self.selected = row;
                    self.clamp();
                }
            }
            _ => {}
        }
    }
}

/// The Root tab.
pub struct RootScreen {
    pub state: RootState,
}

impl RootScreen {
    /// No IO here: the process is opened when the tab is entered.
    pub fn new(setup: &crate::app::Setup) -> RootScreen {
        RootScreen {
            state: RootState::new(&setup.proc_root),
        }
    }

    /// Hand the screen's message to the status line.
    fn pass_message(&mut self, shared: &mut Shared) {
        match self.state.message.take() {
            Some((Tone::Info, m)) => shared.info(m),
            Some((Tone::Error, m)) => shared.error(m),
            None => {}
        }
    }
}

impl Screen for RootScreen {
    fn title(&self) -> &'static str {
        "Root"
    }

    fn help(&self) -> Vec<HelpSection> {
        vec![
            keys::help_section("Root filesystem", KEYS),
            keys::help_section("In a preview", PREVIEW_KEYS),
            keys::help_section("In the new-name dialog", DIALOG_KEYS),
            keys::help_section("While typing a search", keys::PROMPT_KEYS),
            HelpSection {
                title: "Marks",
                lines: vec![
                    ("NEW".into(), "appeared since this directory was first read"),
                    (
                        "0:0 (inside 0:0)".into(),
                        "owner on disk, and as the process's user namespace sees it",
                    ),
                    (
                        "-> target".into(),
                        "a symlink, resolved inside the process's root (openat2)",
                    ),
                ],
            },
        ]
    }

    fn hints(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("Enter", "Open "),
            ("h", "Up "),
            ("/", "Search "),
            ("n", "New file "),
            ("N", "New dir "),
            ("M", "Mounts "),
            ("H", "Host path "),
            ("?", "Help"),
        ]
    }

    fn wants_text(&self, _shared: &Shared) -> bool {
        self.state.dialog.is_some() || matches!(self.state.prompt, RootPrompt::Search(_))
    }

    fn prompt(&self, _shared: &Shared) -> Option<(&'static str, String)> {
        match &self.state.prompt {
            RootPrompt::Search(q) => Some(("Search: ", q.clone())),
            RootPrompt::None => None,
        }
    }

    fn on_key(&mut self, key: KeyEvent, shared: &mut Shared) -> bool {
        let used = self.state.on_key(key);
        if used {
            shared.status = None;
        }
        self.pass_message(shared);
        used
    }

    fn on_mouse(&mut self, m: MouseEvent, body: Rect, _shared: &mut Shared) {
        let list = crate::ui::rootfs::list_area(body, &self.state);
        self.state.on_mouse(m, list);
    }

    fn on_enter(&mut self, shared: &mut Shared) {
        match shared.selected_pid() {
            Some(pid) if self.state.pid != Some(pid) => self.state.open(pid),
            Some(_) => self.state.refresh(),
            None => shared.info("select a process on the Processes screen first"),
        }
        self.pass_message(shared);
    }

    fn on_snapshot(&mut self, shared: &mut Shared) {
        // One directory read per snapshot: cheap, and it is how a file made
        // inside the process shows up (marked NEW) and how an exit is seen.
        if self.state.is_open() {
            self.state.refresh();
            self.pass_message(shared);
        }
    }

    fn layout(&mut self, body: Rect, _shared: &mut Shared) {
        self.state
            .set_page(crate::ui::rootfs::list_area(body, &self.state).height as usize);
    }

    fn render(&self, f: &mut Frame, body: Rect, _shared: &Shared) {
        crate::ui::rootfs::render(f, body, &self.state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn type_str(s: &mut RootState, text: &str) {
        for c in text.chars() {
            s.on_key(key(KeyCode::Char(c)));
        }
    }

    #[test]
    fn browsing_our_own_root() {
        let mut s = RootState::new(Path::new("/proc"));
        s.open(std::process::id() as i32);
        assert!(s.is_open(), "{:?}", s.message);
        assert_eq!(s.cwd, "/");
        let etc = s.entries.iter().position(|e| e.name == "etc").expect("etc");
        s.selected = etc;
        s.on_key(key(KeyCode::Enter));
        assert_eq!(s.cwd, "/etc");
        s.on_key(key(KeyCode::Char('/')));
        type_str(&mut s, "hostname");
        s.on_key(key(KeyCode::Enter));
        assert_eq!(
            s.selected_entry().map(|e| e.name.as_str()),
            Some("hostname")
        );
        s.on_key(key(KeyCode::Enter));
        assert!(s.preview.is_some());
        s.on_key(key(KeyCode::Esc));
        assert!(s.preview.is_none());
        s.on_key(key(KeyCode::Backspace));
        assert_eq!(s.cwd, "/");
        assert_eq!(s.selected_entry().map(|e| e.name.as_str()), Some("etc"));
        s.on_key(key(KeyCode::Backspace));
        assert_eq!(s.cwd, "/");
        s.on_key(key(KeyCode::Char('M')));
        assert!(s.show_mounts && !s.mounts.is_empty());
    }

    #[test]
    fn dialog_refuses_bad_names_without_touching_anything() {
        let mut s = RootState::new(Path::new("/proc"));
        s.open(std::process::id() as i32);
        s.on_key(key(KeyCode::Char('n')));
        s.on_key(key(KeyCode::Enter));
        let err = s.dialog.as_ref().and_then(|d| d.error.clone());
        assert!(err.is_some_and(|e| e.contains("empty")));
        type_str(&mut s, "a/b");
        s.on_key(key(KeyCode::Enter));
        let err = s.dialog.as_ref().and_then(|d| d.error.clone());
        assert!(err.is_some_and(|e| e.contains("'/'")));
        s.on_key(key(KeyCode::Esc));
        assert!(s.dialog.is_none());
    }
}
