//! Text that someone else wrote, made safe to show on a terminal.
//!
//! Process names, command lines, file names, mount points, cgroup paths and
//! lesson titles are chosen by whoever made them. Printed raw, a name such as
//! `"\e]0;pwned\a\e[2J"` retitles and clears the user's terminal, and a
//! newline in a file name forges a line of output. Every human-readable line
//! isolab prints passes such text through [`escape`] (or [`escape_bytes`] for
//! names that need not be UTF-8), the way `ls -b` and `ps` do: control
//! characters, bidirectional overrides and undecodable bytes become visible
//! escapes, and a backslash is doubled so the result is unambiguous.
//! `--json` output stays exact: JSON escapes for itself.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as itself: C0 controls, DEL, C1
/// controls (0x80-0x9f start escape sequences on some terminals), the
/// bidirectional marks, embeddings, overrides and isolates (they reorder
/// what follows; U+061C is the Arabic letter mark), the line and paragraph
/// separators (some renderers break a line there, forging one), and the
/// backslash (doubled so escapes stay unambiguous).
fn needs_escape(c: char) -> bool {
    c.is_control()
        || c == '\\'
        || matches!(
            c,
            '\u{61c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\u{1b}' => out.push_str("\\e"),
        c if (c as u32) < 0x100 => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
}

/// `s` with every character that could steer a terminal written as a
/// visible escape (`\e`, `\n`, `\x07`, `\u{202e}`, `\\`). Borrows when
/// nothing needs escaping, which is the common case.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if needs_escape(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// For a line meant to be copied and pasted (the `unshare ...` and
/// `docker run ...` equivalents): unchanged when nothing in it could steer
/// the terminal, so its shell quoting (`'\\''`) stays pasteable; else
/// [`escape`]d entirely (then it is for reading, not pasting).
pub fn escape_command(s: &str) -> Cow<'_, str> {
    if s.chars().any(|c| c != '\\' && needs_escape(c)) {
        escape(s)
    } else {
        Cow::Borrowed(s)
    }
}

/// Like [`escape`] for bytes that need not be UTF-8 (file names, mount
/// points, /proc/PID/cmdline): valid UTF-8 is escaped as text, every other
/// byte is shown as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return escape(s);
    }
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        out.push_str(&escape(chunk.valid()));
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    Cow::Owned(out)
}

/// [`escape_bytes`] of an OS string (a path or file name).
pub fn escape_os(s: &std::ffi::OsStr) -> Cow<'_, str> {
    escape_bytes(s.as_encoded_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            escape("nginx: worker"),
            Cow::Borrowed("nginx: worker")
        ));
        assert_eq!(escape("héllo wörld ✓"), "héllo wörld ✓");
    }

    #[test]
    fn terminal_controls_become_visible() {
        assert_eq!(
            escape("\u{1b}]0;pwned\u{7}\u{1b}[2J"),
            "\\e]0;pwned\\x07\\e[2J"
        );
        assert_eq!(escape("a\nb\tc\rd"), "a\\nb\\tc\\rd");
        assert_eq!(escape("\u{9b}31m"), "\\x9b31m");
        assert_eq!(escape("\u{7f}"), "\\x7f");
        assert_eq!(escape("abc\u{202e}txt"), "abc\\u{202e}txt");
        assert_eq!(escape("a\u{61c}b\u{2028}c"), "a\\u{61c}b\\u{2028}c");
    }

    #[test]
    fn backslash_is_doubled_so_escapes_are_unambiguous() {
        assert_eq!(escape("a\\nb"), "a\\\\nb");
        assert_ne!(escape("a\\nb"), escape("a\nb"));
    }

    #[test]
    fn a_command_line_stays_pasteable_unless_it_holds_a_control() {
        let cmd = "sh -c 'echo '\\''hi'\\'''";
        assert!(matches!(escape_command(cmd), Cow::Borrowed(c) if c == cmd));
        assert_eq!(escape_command("echo '\\e' '\u{1b}'"), "echo '\\\\e' '\\e'");
    }

    #[test]
    fn undecodable_bytes_are_hex() {
        assert_eq!(escape_bytes(b"ok\xff\xfe\n"), "ok\\xff\\xfe\\n");
        assert_eq!(escape_bytes("ünï".as_bytes()), "ünï");
        assert_eq!(escape_os(std::ffi::OsStr::new("/tmp/a\nb")), "/tmp/a\\nb");
    }

    #[test]
    fn nothing_escaped_contains_a_control_character() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        assert!(!escape(&all).chars().any(|c| c.is_control()));
    }
}
