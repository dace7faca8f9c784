//! The Root screen's state: a file browser over one process's root
//! filesystem, a file preview, the new-file/new-directory dialog, and the
//! mount table beside the host's. Every kernel access goes through
//! `sys::rootfs::ProcRoot` (safe resolution); `view.rs` only draws this,
//! and records where (the list's rectangle and page) for the keys and the
//! mouse in `mod.rs`.
//!
//! Directories are listed on the screen's own thread (`worker.rs`), once
//! when entered and again on `r` or when one fstat per snapshot says the
//! directory changed (new names then get marked); never by the UI thread,
//! which only formats the rows on screen. A listing is held compactly
//! (`DirList`), so a 300,000-entry directory stays responsive and small.

use super::worker::{Ask, Counters, ListWorker, Listed};
use crate::sys::mounts::{self, MountRow};
use crate::sys::rootfs::DirList;
use crate::sys::rootfs::{self, Entry, FileContent, FileKind, ProcRoot, RootfsError, UserNs, join};
use ratatui::layout::Rect;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::TryRecvError;

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
    /// First row shown (kept so the selection stays visible, also when a
    /// draw finds the list shorter than before).
    pub scroll: Cell<usize>,
    /// Rows the list can show, and where it was drawn: `view.rs` records
    /// both on every draw; PgUp/PgDn page by it, clicks map through it.
    pub page: Cell<usize>,
    pub list_area: Cell<Rect>,
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

/// `needle` (already lower case) in `name`, ignoring case, without
/// allocating for ASCII names (the common case, and the one a huge
/// directory of generated names has).
pub(super) fn contains_ignoring_case(name: &str, needle: &str) -> bool {
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
            scroll: Cell::new(0),
            page: Cell::new(20),
            list_area: Cell::new(Rect::default()),
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

    pub(super) fn info(&mut self, msg: impl Into<String>) {
        self.message = Some((Tone::Info, msg.into()));
    }

    pub(super) fn error(&mut self, msg: impl Into<String>) {
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
                    scroll: self.scroll.get(),
                });
            }
            self.cwd = path.to_string();
            if let Some(root) = &self.root {
                self.host_cwd = root.host_path(path).display().to_string();
            }
            self.selected = 0;
            self.scroll.set(0);
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
                        self.scroll.set(f.scroll);
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

    pub(super) fn load_mounts(&mut self) {
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

    pub(super) fn selected_name(&self) -> Option<&str> {
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

    fn set_page(&self, page: usize) {
        self.page.set(page.max(1));
        self.clamp_scroll();
    }

    /// Called by the view while it draws: where the list went, so the page
    /// size and the mouse follow the terminal's size.
    pub fn drew_list(&self, list: Rect) {
        self.list_area.set(list);
        self.set_page(list.height as usize);
    }

    pub(super) fn clamp(&mut self) {
        self.selected = self.selected.min(self.len().saturating_sub(1));
        self.clamp_scroll();
    }

    fn clamp_scroll(&self) {
        let (selected, page) = (self.selected, self.page.get());
        let mut scroll = self.scroll.get();
        if selected < scroll {
            scroll = selected;
        }
        if selected >= scroll + page {
            scroll = selected + 1 - page;
        }
        self.scroll.set(scroll);
    }

    pub(super) fn move_by(&mut self, delta: isize) {
        let n = self.len();
        if n == 0 {
            return;
        }
        self.selected = (self.selected as isize + delta).clamp(0, n as isize - 1) as usize;
        self.clamp();
    }

    /// Enter: open a directory, preview a file (links are followed inside
    /// the process's root by the kernel).
    pub(super) fn enter(&mut self) {
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

    pub(super) fn go_up(&mut self) {
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
    pub(super) fn find(&mut self, forward: bool) -> bool {
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

    pub(super) fn create(&mut self) {
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
}
