//! The Root screen's state: a file browser over one process's root
//! filesystem, a file preview, the new-file/new-directory dialog, and the
//! mount table beside the host's. Every kernel access goes through
//! `sys::rootfs::ProcRoot` (safe resolution); `ui::rootfs` only draws this.
//!
//! `RootScreen` is the tab: it opens the process selected on the Processes
//! screen when entered and hands its messages to the status line.
//!
//! Directories are listed on the screen's own thread (`ListWorker`), once
//! when entered and again on `r` or when one fstat per snapshot says the
//! directory changed (new names then get marked); never by the UI thread,
//! which only formats the rows on screen. A listing is held compactly
//! (`DirList`), so a 300,000-entry directory stays responsive and small.

use crate::app::keys::{self, Binding, HelpSection, PromptAction, bind};
use crate::app::{Screen, Shared};
use crate::sys::mounts::{self, MountRow};
use crate::sys::rootfs::{self, Entry, FileContent, FileKind, ProcRoot, RootfsError, UserNs, join};
use crate::sys::rootfs::{DirList, ListLimits};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, MouseButton, MouseEvent, MouseEventKind};
use ratatui::Frame;
use ratatui::layout::Rect;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};

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
        "re-read now (also when the directory's mtime changes)",
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
    root: Option<Arc<ProcRoot>>,
    /// The directory shown, as the process sees it.
    pub cwd: String,
    /// The same, as a naive host path (`/proc/PID/root/...`), for display.
    pub host_cwd: String,
    /// The listing of `cwd` with its NEW marks; `None` while a directory
    /// just entered is being read.
    listed: Option<Arc<Listed>>,
    /// What to show again if reading a directory just entered fails.
    fallback: Option<Fallback>,
    /// The listing asked of the worker and not answered yet.
    loading: Option<Loading>,
    worker: Option<ListWorker>,
    /// Given to the worker: it wakes the main loop after each answer and,
    /// while a long read goes on, now and then for the count.
    pub waker: crate::app::events::Waker,
    /// Listings the worker did (read every entry) and stamp checks (one
    /// fstat), for this state: how tests see that refreshes are cheap.
    counters: Arc<Counters>,
    next_id: u64,
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

/// A listing with its NEW marks (one per row).
#[derive(Debug)]
pub struct Listed {
    pub list: DirList,
    pub new: Vec<bool>,
}

/// The directory shown before one just entered, until that one is read.
#[derive(Debug)]
struct Fallback {
    cwd: String,
    host_cwd: String,
    listed: Arc<Listed>,
    selected: usize,
    scroll: usize,
}

/// A listing asked of the worker.
#[derive(Debug)]
struct Loading {
    id: u64,
    path: String,
    /// Entries read so far (the worker counts).
    count: Arc<AtomicUsize>,
    /// The count last drawn.
    shown: usize,
    /// The name to select when it comes.
    select: Option<String>,
    /// Asked by the user with `r`: say so when it comes.
    manual: bool,
}

#[derive(Debug, Default)]
struct Counters {
    listings: AtomicU64,
    checks: AtomicU64,
}

/// Asked of the worker: list `path` (if `force`, or if its stamp differs
/// from `prev`'s), marking names that are not in `prev`.
struct Ask {
    id: u64,
    root: Arc<ProcRoot>,
    path: String,
    prev: Option<Arc<Listed>>,
    force: bool,
    count: Arc<AtomicUsize>,
}

/// Answered: a listing, `None` (unchanged, or stopped for a newer
/// request), or why not.
struct Answer {
    id: u64,
    result: Result<Option<Arc<Listed>>, RootfsError>,
}

/// The Root screen's thread: every directory read (readdir + one fstatat
/// per entry, the sort, the NEW marks). Only the newest request is worked
/// on; one arriving while a listing runs stops it. It ends when the screen
/// drops its end of the channel, and never holds up quitting (nothing
/// joins it).
#[derive(Debug)]
struct ListWorker {
    ask: Sender<Ask>,
    answers: Receiver<Answer>,
}

impl ListWorker {
    fn start(counters: Arc<Counters>, waker: crate::app::events::Waker) -> Option<ListWorker> {
        let (ask, asked) = mpsc::channel::<Ask>();
        let (tx, answers) = mpsc::channel::<Answer>();
        std::thread::Builder::new()
            .name("isolab-rootfs".into())
            .spawn(move || {
                let mut next: Option<Ask> = None;
                loop {
                    let mut job = match next.take() {
                        Some(a) => a,
                        None => match asked.recv() {
                            Ok(a) => a,
                            Err(_) => return,
                        },
                    };
                    // Only the newest request matters.
                    while let Ok(newer) = asked.try_recv() {
                        job = newer;
                    }
                    let mut woke = std::time::Instant::now();
                    let result = list_for(&job, &counters, &mut || {
                        // The "reading… N entries" count: ten times a second.
                        if woke.elapsed() >= std::time::Duration::from_millis(100) {
                            waker.wake();
                            woke = std::time::Instant::now();
                        }
                        match asked.try_recv() {
                            Ok(newer) => {
                                next = Some(newer);
                                false
                            }
                            Err(TryRecvError::Empty) => true,
                            Err(TryRecvError::Disconnected) => false,
                        }
                    });
                    if tx.send(Answer { id: job.id, result }).is_err() {
                        return; // the screen is gone
                    }
                    waker.wake();
                }
            })
            .ok()
            .map(|_| ListWorker { ask, answers })
    }
}

/// One request, on the worker: check the stamp unless forced, then list.
fn list_for(
    job: &Ask,
    counters: &Counters,
    go_on: &mut dyn FnMut() -> bool,
) -> Result<Option<Arc<Listed>>, RootfsError> {
    job.root.check_alive()?;
    if !job.force {
        counters.checks.fetch_add(1, Ordering::Relaxed);
        let stamp = job.root.dir_stamp(&job.path)?;
        if job.prev.as_ref().is_some_and(|p| p.list.stamp == stamp) {
            return Ok(None);
        }
    }
    counters.listings.fetch_add(1, Ordering::Relaxed);
    let count = &job.count;
    let listed = job
        .root
        .list_dir_compact(&job.path, ListLimits::SCREEN, &mut |n| {
            count.store(n, Ordering::Relaxed);
            go_on()
        })?;
    Ok(listed.map(|list| {
        let new = new_marks(&list, job.prev.as_deref());
        Arc::new(Listed { list, new })
    }))
}

/// NEW marks for a re-read of the same directory: a name not in the
/// previous listing is new, and one marked before stays marked (until the
/// user leaves the directory). Both are sorted by name: one merge walk.
fn new_marks(list: &DirList, prev: Option<&Listed>) -> Vec<bool> {
    let Some(prev) = prev else {
        return vec![false; list.len()];
    };
    let mut j = 0;
    (0..list.len())
        .map(|i| {
            let name = list.name(i);
            while j < prev.list.len() && prev.list.name(j) < name {
                j += 1;
            }
            if j < prev.list.len() && prev.list.name(j) == name {
                prev.new[j]
            } else {
                true
            }
        })
        .collect()
}

/// `needle` (already lower case) in `name`, ignoring case, without
/// allocating for ASCII names (the common case, and the one a huge
/// directory of generated names has).
fn contains_ignoring_case(name: &str, needle: &str) -> bool {
    if name.is_ascii() && needle.is_ascii() {
        let (h, n) = (name.as_bytes(), needle.as_bytes());
        return n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    name.to_lowercase().contains(needle)
}

impl RootState {
    pub fn new(proc_root: &Path) -> RootState {
        RootState {
            proc_root: proc_root.to_path_buf(),
            pid: None,
            root: None,
            cwd: "/".into(),
            host_cwd: String::new(),
            listed: None,
            fallback: None,
            loading: None,
            worker: None,
            waker: Default::default(),
            counters: Arc::default(),
            next_id: 0,
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

    /// Open PID's root at `/` (again, if it is the same PID: keeps nothing
    /// but the worker thread).
    pub fn open(&mut self, pid: i32) {
        let proc_root = self.proc_root.clone();
        let worker = self.worker.take();
        let counters = self.counters.clone();
        let waker = std::mem::take(&mut self.waker);
        // Ids go on rising: an answer to a request made before this open
        // must never match a new one.
        let next_id = self.next_id;
        *self = RootState::new(&proc_root);
        self.worker = worker;
        self.counters = counters;
        self.waker = waker;
        self.next_id = next_id;
        self.pid = Some(pid);
        match ProcRoot::open(&proc_root, pid) {
            Ok(root) => {
                self.userns = root.userns().cloned();
                self.root = Some(Arc::new(root));
                self.load_dir("/", None);
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
            self.loading = None;
            self.listed = None;
            self.fallback = None;
        }
        self.error(e.to_string());
    }

    pub fn is_open(&self) -> bool {
        self.root.is_some()
    }

    /// Re-read the directory now (`r`), and the mount table if shown.
    pub fn refresh(&mut self) {
        if self.root.is_none() {
            return;
        }
        let cwd = self.cwd.clone();
        self.load_dir(&cwd, None);
        if let Some(l) = &mut self.loading {
            l.manual = true;
        }
        if self.show_mounts {
            self.load_mounts();
        }
    }

    /// After a snapshot: have the worker check (one fstat) whether the
    /// directory changed, and whether the process still runs; it re-reads
    /// the entries only if the directory changed.
    pub fn check(&mut self) {
        if self.root.is_none() || self.loading.is_some() {
            return;
        }
        let Some(listed) = self.listed.clone() else {
            return;
        };
        let cwd = self.cwd.clone();
        self.ask(cwd, Some(listed), false, None);
    }

    /// Show `path` (re-read it if it is the one shown); select `select`
    /// (a name) when the listing comes.
    fn load_dir(&mut self, path: &str, select: Option<String>) {
        if self.root.is_none() {
            return;
        }
        let prev = if path == self.cwd {
            self.listed.clone()
        } else {
            // Entering another directory: its rows replace these once read;
            // until then the screen says "reading…" (and goes back here if
            // the directory cannot be read).
            if let Some(listed) = self.listed.take() {
                self.fallback = Some(Fallback {
                    cwd: std::mem::take(&mut self.cwd),
                    host_cwd: std::mem::take(&mut self.host_cwd),
                    listed,
                    selected: self.selected,
                    scroll: self.scroll,
                });
            }
            self.cwd = path.to_string();
            if let Some(root) = &self.root {
                self.host_cwd = root.host_path(path).display().to_string();
            }
            self.selected = 0;
            self.scroll = 0;
            None
        };
        self.ask(path.to_string(), prev, true, select);
    }

    /// Send one listing request to the worker (started on first use).
    fn ask(
        &mut self,
        path: String,
        prev: Option<Arc<Listed>>,
        force: bool,
        select: Option<String>,
    ) {
        let Some(root) = self.root.clone() else {
            return;
        };
        if self.worker.is_none() {
            self.worker = ListWorker::start(self.counters.clone(), self.waker.clone());
            if self.worker.is_none() {
                self.error("cannot start the directory reading thread");
                return;
            }
        }
        self.next_id += 1;
        let count = Arc::new(AtomicUsize::new(0));
        let ask = Ask {
            id: self.next_id,
            root,
            path: path.clone(),
            prev,
            force,
            count: count.clone(),
        };
        if let Some(w) = &self.worker
            && w.ask.send(ask).is_ok()
        {
            self.loading = Some(Loading {
                id: self.next_id,
                path,
                count,
                shown: 0,
                select,
                manual: false,
            });
        }
    }

    /// Take what the worker answered; never blocks. True when the screen
    /// needs drawing (an answer, or the "reading… N entries" count moved).
    pub fn pump(&mut self) -> bool {
        let mut changed = false;
        loop {
            let answer = match self.worker.as_ref().map(|w| w.answers.try_recv()) {
                Some(Ok(a)) => a,
                Some(Err(TryRecvError::Disconnected)) => {
                    self.worker = None;
                    if self.loading.take().is_some() {
                        self.error("the directory reading thread stopped");
                    }
                    return true;
                }
                _ => break,
            };
            // A result for a directory the user has left (or a request
            // superseded by a newer one) is dropped.
            if self.loading.as_ref().map(|l| l.id) != Some(answer.id) {
                continue;
            }
            let loading = self.loading.take().expect("checked above");
            changed = true;
            match answer.result {
                Ok(Some(listed)) => self.show(listed, loading),
                Ok(None) => {}
                Err(e @ (RootfsError::Exited { .. } | RootfsError::NoProcess { .. })) => {
                    self.fail(e)
                }
                Err(e) => {
                    if let Some(f) = self.fallback.take() {
                        self.cwd = f.cwd;
                        self.host_cwd = f.host_cwd;
                        self.listed = Some(f.listed);
                        self.selected = f.selected;
                        self.scroll = f.scroll;
                    }
                    self.fail(e)
                }
            }
        }
        if let Some(l) = &mut self.loading {
            let n = l.count.load(Ordering::Relaxed);
            if n != l.shown {
                l.shown = n;
                changed = true;
            }
        }
        changed
    }

    /// A listing of the directory shown arrived.
    fn show(&mut self, listed: Arc<Listed>, loading: Loading) {
        if loading.path != self.cwd {
            return;
        }
        let keep = loading
            .select
            .or_else(|| self.selected_name().map(String::from));
        let same_dir = self.listed.is_some();
        self.fallback = None;
        self.host_cwd = listed.list.host_path.display().to_string();
        self.listed = Some(listed);
        self.selected = keep
            .and_then(|n| self.list().and_then(|l| l.position(&n)))
            .unwrap_or(if same_dir { self.selected } else { 0 });
        self.clamp();
        if loading.manual && same_dir {
            self.info(format!("re-read {}", self.cwd));
        }
    }

    /// Wait (bounded) until the worker answered the latest request; for
    /// tests and scripts. False if it did not within `timeout`.
    pub fn wait_loaded(&mut self, timeout: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            self.pump();
            if self.loading.is_none() {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
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

    /// The listing shown, if read.
    pub fn list(&self) -> Option<&DirList> {
        self.listed.as_ref().map(|l| &l.list)
    }

    /// Entries in the listing shown (0 while reading).
    pub fn len(&self) -> usize {
        self.list().map_or(0, |l| l.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether row `i` appeared since this directory was first read.
    pub fn is_new(&self, i: usize) -> bool {
        self.listed
            .as_ref()
            .is_some_and(|l| l.new.get(i).copied().unwrap_or(false))
    }

    /// Names marked NEW (few; for tests and messages).
    pub fn new_names(&self) -> Vec<String> {
        let Some(l) = &self.listed else {
            return Vec::new();
        };
        (0..l.list.len())
            .filter(|&i| l.new[i])
            .map(|i| l.list.name(i).to_string())
            .collect()
    }

    /// While a listing runs: the directory and the entries read so far
    /// (`None` when nothing is being read; quiet checks count 0).
    pub fn reading(&self) -> Option<(&str, usize)> {
        self.loading
            .as_ref()
            .map(|l| (l.path.as_str(), l.count.load(Ordering::Relaxed)))
    }

    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// Full listings (every entry read) the worker did for this state.
    pub fn listings(&self) -> u64 {
        self.counters.listings.load(Ordering::Relaxed)
    }

    /// Stamp checks (one fstat of the directory) the worker did.
    pub fn stamp_checks(&self) -> u64 {
        self.counters.checks.load(Ordering::Relaxed)
    }

    /// Show a listing directly (fixtures and drawing tests): `new` names
    /// are marked NEW.
    pub fn show_listing(&mut self, list: DirList, new: &[&str]) {
        let marks = (0..list.len())
            .map(|i| new.contains(&list.name(i)))
            .collect();
        self.cwd = list.path.clone();
        self.host_cwd = list.host_path.display().to_string();
        self.listed = Some(Arc::new(Listed { list, new: marks }));
        self.clamp();
    }

    fn selected_name(&self) -> Option<&str> {
        let l = self.list()?;
        (self.selected < l.len()).then(|| l.name(self.selected))
    }

    pub fn selected_entry(&self) -> Option<Entry> {
        self.list().and_then(|l| l.entry(self.selected))
    }

    /// The selected entry's path as the process sees it.
    pub fn selected_path(&self) -> Option<String> {
        self.selected_name().map(|n| join(&self.cwd, n))
    }

    pub fn set_page(&mut self, page: usize) {
        self.page = page.max(1);
        self.clamp();
    }

    fn clamp(&mut self) {
        self.selected = self.selected.min(self.len().saturating_sub(1));
        if self.selected < self.scroll {
            self.scroll = self.selected;
        }
        if self.selected >= self.scroll + self.page {
            self.scroll = self.selected + 1 - self.page;
        }
    }

    fn move_by(&mut self, delta: isize) {
        let n = self.len();
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
        let kind = self.list().map(|l| l.kind(self.selected));
        let is_dir = match kind {
            Some(FileKind::Dir) => true,
            Some(FileKind::Symlink) => matches!(root.stat(&path), Ok(e) if e.kind == FileKind::Dir),
            _ => false,
        };
        if is_dir {
            self.load_dir(&path, None);
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
        self.load_dir(&parent, Some(from));
    }

    /// The next (or previous) name containing the last search, ignoring
    /// case; one pass over the names, only when asked.
    fn find(&mut self, forward: bool) -> bool {
        let Some(q) = self.last_search.as_ref().map(|q| q.to_lowercase()) else {
            return false;
        };
        let Some(list) = self.list() else {
            return false;
        };
        let n = list.len();
        let start = self.selected;
        let found = (1..=n)
            .map(|step| {
                if forward {
                    (start + step) % n
                } else {
                    (start + n - step) % n
                }
            })
            .find(|&i| contains_ignoring_case(list.name(i), &q));
        match found {
            Some(i) => {
                self.selected = i;
                self.clamp();
                true
            }
            None => false,
        }
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
                let cwd = self.cwd.clone();
                self.load_dir(&cwd, Some(name));
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
            // "re-read DIR" is said when the listing comes.
            RootAction::Refresh => self.refresh(),
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
                if row < self.len() {
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
        self.state.waker = shared.waker();
        match shared.selected_pid() {
            Some(pid) if self.state.pid != Some(pid) => self.state.open(pid),
            // Back on the tab: re-read only if the directory changed.
            Some(_) => self.state.check(),
            None => shared.info("select a process on the Processes screen first"),
        }
        self.pass_message(shared);
    }

    fn on_snapshot(&mut self, shared: &mut Shared) {
        // One fstat per snapshot, on the worker: how a file made inside the
        // process shows up (marked NEW: the directory's mtime moved) and
        // how an exit is seen. The entries are read only when it changed.
        if self.state.is_open() {
            self.state.check();
            self.pass_message(shared);
        }
    }

    fn poll(&mut self, shared: &mut Shared) -> bool {
        let changed = self.state.pump();
        self.pass_message(shared);
        changed
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

    fn loaded(s: &mut RootState) {
        assert!(
            s.wait_loaded(std::time::Duration::from_secs(60)),
            "the listing of {} never came",
            s.cwd
        );
    }

    fn selected_name(s: &RootState) -> Option<String> {
        s.selected_entry().map(|e| e.name)
    }

    #[test]
    fn browsing_our_own_root() {
        let mut s = RootState::new(Path::new("/proc"));
        s.open(std::process::id() as i32);
        assert!(s.is_open(), "{:?}", s.message);
        assert_eq!(s.cwd, "/");
        loaded(&mut s);
        let etc = s.list().and_then(|l| l.position("etc")).expect("etc");
        s.selected = etc;
        s.on_key(key(KeyCode::Enter));
        assert_eq!(s.cwd, "/etc");
        loaded(&mut s);
        s.on_key(key(KeyCode::Char('/')));
        type_str(&mut s, "hostname");
        s.on_key(key(KeyCode::Enter));
        assert_eq!(selected_name(&s).as_deref(), Some("hostname"));
        s.on_key(key(KeyCode::Enter));
        assert!(s.preview.is_some());
        s.on_key(key(KeyCode::Esc));
        assert!(s.preview.is_none());
        s.on_key(key(KeyCode::Backspace));
        assert_eq!(s.cwd, "/");
        loaded(&mut s);
        assert_eq!(selected_name(&s).as_deref(), Some("etc"));
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

    fn dir(names: &[&str]) -> DirList {
        let entries: Vec<Entry> = names
            .iter()
            .map(|n| Entry::fixture(n, libc::S_IFREG | 0o644, 0, None))
            .collect();
        DirList::from_entries("/d", "/proc/1/root/d".into(), &entries, None)
    }

    #[test]
    fn new_marks_are_names_not_there_before_and_stay() {
        let first = dir(&["b", "d"]);
        assert_eq!(new_marks(&first, None), vec![false, false]);
        let first = Listed {
            new: new_marks(&first, None),
            list: first,
        };
        let second = dir(&["a", "b", "c", "d", "e"]);
        let marks = new_marks(&second, Some(&first));
        assert_eq!(marks, vec![true, false, true, false, true]);
        let second = Listed {
            new: marks,
            list: second,
        };
        // "a" stays marked; "b" went away; "f" is new.
        let third = dir(&["a", "c", "d", "f"]);
        assert_eq!(
            new_marks(&third, Some(&second)),
            vec![true, true, false, true]
        );
    }

    #[test]
    fn search_ignores_case_without_allocating_for_ascii() {
        assert!(contains_ignoring_case("Entry-0123", "entry-01"));
        assert!(contains_ignoring_case("abc", ""));
        assert!(!contains_ignoring_case("abc", "abcd"));
        assert!(contains_ignoring_case("ÉCOLE", "école"));
    }
}
