//! The Root screen: a process's root filesystem as the process sees it,
//! with a preview pane, the mount table beside the host's, and the
//! new-file dialog. Render only: everything comes from `RootState`.

use super::state::{NewDialog, Preview, RootState};
use crate::sys::mounts::MountMark;
use crate::sys::rootfs::{Entry, FileKind, mode_string};
use crate::text::escape;
use crate::ui::theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

/// The header, the listing and the right-hand pane (preview or mounts).
fn areas(body: Rect, state: &RootState) -> (Rect, Rect, Option<Rect>) {
    let [header, rest] = Layout::vertical([Constraint::Length(2), Constraint::Min(3)]).areas(body);
    if state.preview.is_some() || state.show_mounts {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(rest);
        (header, left, Some(right))
    } else {
        (header, rest, None)
    }
}

/// Draws the screen and records where the listing's rows went (inside its
/// border): the page size and mouse clicks follow what was drawn.
pub fn render(f: &mut Frame, body: Rect, state: &RootState) {
    let (header, list, right) = areas(body, state);
    state.drew_list(Block::default().borders(Borders::ALL).inner(list));
    render_header(f, header, state);
    render_listing(f, list, state);
    if let Some(right) = right {
        if let Some(p) = &state.preview {
            render_preview(f, right, p);
        } else {
            render_mounts(f, right, state);
        }
    }
    if let Some(d) = &state.dialog {
        render_dialog(f, body, state, d);
    }
}

fn render_header(f: &mut Frame, area: Rect, state: &RootState) {
    let pid = state.pid.map_or("-".to_string(), |p| p.to_string());
    let mut first = vec![
        Span::styled(format!(" root of PID {pid} "), theme::current().key),
        Span::raw(" "),
        // Paths and names below are the process's (or its owner's) choice:
        // escaped, like `isolab ls`, so none can steer the terminal.
        Span::styled(
            escape(&state.cwd).into_owned(),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::styled("  (as the process sees it)", theme::current().dim),
    ];
    if state.exited {
        first.push(Span::styled(
            "  PROCESS EXITED",
            theme::current().alert.add_modifier(Modifier::BOLD),
        ));
    }
    let second = if state.show_host_path {
        Line::from(vec![
            Span::styled(" host path: ", theme::current().dim),
            Span::styled(escape(&state.host_cwd).into_owned(), theme::current().warn),
            Span::styled(
                "  (a naive tool following links here would escape to the host)",
                theme::current().dim,
            ),
        ])
    } else {
        let userns = match &state.userns {
            Some(ns) => {
                let r = ns.uid_map.ranges.first();
                match r {
                    Some(r) => format!(
                        "own user namespace: uid {}..{} inside = {}..{} outside; owners shown outside (inside)",
                        r.inside,
                        r.inside as u64 + r.count as u64,
                        r.outside,
                        r.outside as u64 + r.count as u64
                    ),
                    None => "own user namespace, no uid map yet".to_string(),
                }
            }
            None => "links and .. resolve inside this root (openat2 RESOLVE_IN_ROOT)".to_string(),
        };
        Line::from(Span::styled(format!(" {userns}"), theme::current().dim))
    };
    f.render_widget(Paragraph::new(vec![Line::from(first), second]), area);
}

fn kind_style(e: &Entry) -> Style {
    match e.kind {
        FileKind::Dir => theme::current().dir,
        FileKind::Symlink => theme::current().accent,
        FileKind::File if e.mode & 0o111 != 0 => theme::current().ok,
        FileKind::File => Style::new(),
        _ => theme::current().warn,
    }
}

/// Only the rows on screen are built; the column widths come with the
/// listing (measured once when it was read).
fn render_listing(f: &mut Frame, area: Rect, state: &RootState) {
    let cwd = escape(&state.cwd);
    let mut title = match state.list() {
        Some(l) if l.more > 0 => format!(
            " {cwd} · {} entries (showing the first {}, {} more not kept) ",
            l.len() + l.more,
            l.len(),
            l.more
        ),
        Some(l) => format!(" {cwd} · {} entries ", l.len()),
        None => format!(" {cwd} "),
    };
    match state.reading() {
        Some((_, n)) if state.list().is_some() && n > 0 => {
            title.push_str(&format!("· re-reading… {n} entries "))
        }
        _ => {}
    }
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(list) = state.list().filter(|l| !l.is_empty()) else {
        let msg = if state.exited {
            "the process has exited: nothing to browse".to_string()
        } else if state.pid.is_none() {
            "select a process on the Processes screen".to_string()
        } else if let Some((_, n)) = state.reading() {
            format!("reading… {n} entries")
        } else {
            "(empty directory)".to_string()
        };
        f.render_widget(Paragraph::new(msg).style(theme::current().dim), inner);
        return;
    };
    let (owner_w, size_w) = (list.owner_width, list.size_width);
    let rows = inner.height as usize;
    let mut lines = Vec::with_capacity(rows);
    let scroll = state.scroll.get();
    for i in scroll..list.len().min(scroll + rows) {
        let Some(e) = list.entry(i) else { break };
        let is_new = state.is_new(i);
        let selected = i == state.selected;
        let mut spans = vec![
            Span::raw(if selected { "▸" } else { " " }),
            Span::styled(
                if is_new { "NEW " } else { "    " },
                if is_new {
                    theme::current().badge_ok
                } else {
                    Style::new()
                },
            ),
            Span::raw(format!(
                "{} {:>ow$} {:>sw$} ",
                mode_string(e.mode),
                e.owner_text(),
                e.size,
                ow = owner_w,
                sw = size_w
            )),
            Span::styled(escape(&e.name).into_owned(), kind_style(&e)),
        ];
        if e.kind == FileKind::Dir {
            spans.push(Span::styled("/", kind_style(&e)));
        }
        if let Some(t) = &e.link_target {
            spans.push(Span::styled(
                format!(" -> {}", escape(t)),
                theme::current().dim,
            ));
        }
        let mut line = Line::from(spans);
        if selected {
            line = line.style(theme::current().selected);
        }
        lines.push(line);
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn render_preview(f: &mut Frame, area: Rect, p: &Preview) {
    let kind = if p.content.binary { "hex" } else { "text" };
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" {} ({kind}) ", escape(&p.path)));
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut lines: Vec<Line> = Vec::new();
    if p.content.cut {
        lines.push(Line::from(Span::styled(
            format!(
                "cut: showing the first {} of {} ({} bytes)",
                crate::ui::human_bytes(p.content.bytes.len() as u64),
                crate::ui::human_bytes(p.content.size),
                p.content.size
            ),
            theme::current().badge_warn,
        )));
    }
    if p.lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "(empty file)",
            theme::current().dim,
        )));
    }
    let room = (inner.height as usize).saturating_sub(lines.len());
    for l in p.lines.iter().skip(p.scroll).take(room) {
        // A file's text may hold escapes of its own: shown, not obeyed.
        lines.push(Line::from(escape(l).into_owned()));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn render_mounts(f: &mut Frame, area: Rect, state: &RootState) {
    let title = if state.mounts_same_ns {
        " mounts vs host: same mount namespace "
    } else {
        " mounts vs host: own mount namespace "
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let mut lines = vec![Line::from(Span::styled(
        "= same  ~ changed  + only process  - only host",
        theme::current().dim,
    ))];
    let room = (inner.height as usize).saturating_sub(1);
    for r in state.mounts.iter().skip(state.mounts_scroll).take(room) {
        let t = theme::current();
        let style = match r.mark {
            MountMark::Same => Style::new(),
            MountMark::Changed => t.warn,
            MountMark::OnlyProcess => t.ok,
            MountMark::OnlyHost => t.error,
        };
        let mut text = format!(
            "{} {} {} {}",
            r.mark.symbol(),
            escape(&r.mount.mount_point),
            escape(&r.mount.fstype),
            escape(&r.mount.source)
        );
        if !r.changes.is_empty() {
            text.push_str(&format!(" ({})", escape(&r.changes.join("; "))));
        }
        lines.push(Line::from(Span::styled(text, style)));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

fn render_dialog(f: &mut Frame, area: Rect, state: &RootState, d: &NewDialog) {
    let what = if d.is_dir { "directory" } else { "empty file" };
    let rect = crate::ui::centered(area, 64, 7);
    f.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" New {what} in {} ", escape(&state.cwd)))
        .border_style(theme::current().accent);
    let inner = block.inner(rect);
    f.render_widget(block, rect);
    let mut lines = vec![
        Line::from(vec![
            Span::raw("Name: "),
            Span::styled(
                format!("{}█", escape(&d.name)),
                Style::new().add_modifier(Modifier::BOLD),
            ),
        ]),
        Line::from(Span::styled(
            "created from the host, inside the process's root",
            theme::current().dim,
        )),
    ];
    match &d.error {
        Some(e) => lines.push(Line::from(Span::styled(
            escape(e).into_owned(),
            theme::current().alert,
        ))),
        None => lines.push(Line::from(Span::styled(
            "Enter: create · Esc: cancel",
            theme::current().dim,
        ))),
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), inner);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::sys::mounts::{self, MountMark};
    use crate::sys::rootfs::{DirList, Entry, FileContent, IdMap, UserNs, hex_lines};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::path::Path;

    fn entry(name: &str, mode: u32, size: u64, link: Option<&str>) -> Entry {
        Entry::fixture(name, mode, size, link)
    }

    pub(crate) fn state() -> RootState {
        let mut s = RootState::new(Path::new("/proc"));
        s.pid = Some(4123);
        s.show_listing(listing(None, 0), &["just_a_temp"]);
        s.selected = 1;
        s
    }

    /// The fixture's /tmp, owned by `uid` on disk, seen through `userns`.
    fn listing(userns: Option<UserNs>, uid: u32) -> DirList {
        let mut entries = vec![
            entry("cache", libc::S_IFDIR | 0o755, 4096, None),
            entry("created_by_host", libc::S_IFREG | 0o644, 0, None),
            entry("etc-shadow", libc::S_IFLNK | 0o777, 11, Some("/etc/shadow")),
            entry("just_a_temp", libc::S_IFREG | 0o600, 1234, None),
            entry("run.sh", libc::S_IFREG | 0o755, 80, None),
        ];
        for e in &mut entries {
            e.uid = uid;
            e.gid = uid;
        }
        DirList::from_entries("/tmp", "/proc/4123/root/tmp".into(), &entries, userns)
    }

    fn draw(s: &RootState, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
        t.draw(|f| render(f, f.area(), s)).expect("draw");
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    #[test]
    fn listing_80x20() {
        insta::assert_snapshot!(draw(&state(), 80, 20));
    }

    #[test]
    fn host_path_and_user_namespace_owners() {
        let mut s = state();
        s.show_host_path = true;
        let shown = draw(&s, 100, 12);
        assert!(shown.contains("host path: /proc/4123/root/tmp"));
        s.show_host_path = false;
        s.userns = Some(UserNs {
            uid_map: IdMap::parse("0 100000 65536"),
            gid_map: IdMap::parse("0 100000 65536"),
        });
        s.show_listing(listing(s.userns.clone(), 101000), &["just_a_temp"]);
        insta::assert_snapshot!(draw(&s, 100, 12));
    }

    #[test]
    fn dialog_with_a_bad_name_80x20() {
        let mut s = state();
        s.dialog = Some(NewDialog {
            is_dir: false,
            name: "a/b".into(),
            error: Some(
                "bad name \"a/b\": a name cannot contain '/': give one name, not a path".into(),
            ),
        });
        insta::assert_snapshot!(draw(&s, 80, 20));
    }

    #[test]
    fn preview_text_cut_and_binary() {
        let mut s = state();
        let text = "line one\nline two\n".repeat(3);
        s.preview = Some(Preview {
            path: "/tmp/just_a_temp".into(),
            content: FileContent {
                bytes: text.clone().into_bytes(),
                size: 300_000,
                cut: true,
                binary: false,
            },
            lines: text.lines().map(String::from).collect(),
            scroll: 1,
        });
        insta::assert_snapshot!("preview_text_cut", draw(&s, 100, 14));
        let bytes = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0".to_vec();
        s.preview = Some(Preview {
            path: "/tmp/run.sh".into(),
            lines: hex_lines(&bytes),
            content: FileContent {
                size: bytes.len() as u64,
                bytes,
                cut: false,
                binary: true,
            },
            scroll: 0,
        });
        insta::assert_snapshot!("preview_binary_hex", draw(&s, 140, 10));
    }

    #[test]
    fn mounts_beside_host_and_exit() {
        let mut s = state();
        let host = mounts::parse(
            "22 1 8:1 / / rw shared:1 - ext4 /dev/sda1 rw\n25 22 8:2 / /boot rw shared:2 - ext4 /dev/sda2 rw\n",
        )
        .0;
        let proc_ = mounts::parse(
            "100 99 8:1 / / rw - ext4 /dev/sda1 rw\n102 100 0:55 / /tmp rw - tmpfs tmpfs rw\n",
        )
        .0;
        s.mounts = mounts::compare(&proc_, &host);
        assert_eq!(s.mounts[1].mark, MountMark::OnlyProcess);
        s.show_mounts = true;
        insta::assert_snapshot!("mounts_100x12", draw(&s, 100, 12));
        s.show_mounts = false;
        s.exited = true;
        s.show_listing(
            DirList::from_entries("/tmp", "/proc/4123/root/tmp".into(), &[], None),
            &[],
        );
        s.message = Some((
            crate::app::rootfs::state::Tone::Error,
            "process 4123 has exited; its root filesystem is gone (pick a running process)".into(),
        ));
        insta::assert_snapshot!("exited_80x10", draw(&s, 80, 10));
    }

    #[test]
    fn tiny_sizes_never_panic() {
        let mut s = state();
        s.dialog = Some(NewDialog {
            is_dir: true,
            name: String::new(),
            error: None,
        });
        for (w, h) in [(1, 1), (10, 3), (30, 5), (0, 0)] {
            let _ = draw(&s, w.max(1), h.max(1));
        }
    }
}
