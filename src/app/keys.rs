//! Key tables. Every key a user can press is in exactly one table here or
//! in a screen's own table: the dispatchers look keys up in these tables
//! and the help overlay is drawn from the very same tables, so the help can
//! never drift from behaviour.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// One row of a key table: the keys, what they do (for the help), and the
/// action the dispatcher acts on.
pub struct Binding<A: 'static> {
    pub action: A,
    pub keys: &'static [KeyCode],
    pub what: &'static str,
}

pub const fn bind<A>(action: A, keys: &'static [KeyCode], what: &'static str) -> Binding<A> {
    Binding { action, keys, what }
}

/// The action bound to `code` in `table`, if any.
pub fn lookup<A: Copy>(table: &[Binding<A>], code: KeyCode) -> Option<A> {
    table
        .iter()
        .find(|b| b.keys.contains(&code))
        .map(|b| b.action)
}

/// A key table without its action type, as the help overlay shows it.
pub struct HelpSection {
    pub title: &'static str,
    /// (keys, what they do)
    pub lines: Vec<(String, &'static str)>,
}

pub fn help_section<A>(title: &'static str, table: &[Binding<A>]) -> HelpSection {
    HelpSection {
        title,
        lines: table
            .iter()
            .map(|b| {
                let keys: Vec<String> = b.keys.iter().map(key_name).collect();
                (keys.join(" "), b.what)
            })
            .collect(),
    }
}

/// The keys of [`type_into`], which live outside the tables (they are
/// Ctrl chords): shown under every prompt table's own keys.
pub const LINE_EDIT_HELP: &[(&str, &str)] = &[
    ("Ctrl-U", "erase the line"),
    ("Ctrl-W", "erase the last word"),
];

/// A prompt table's help, with the line editor's keys after it.
pub fn prompt_help_section<A>(title: &'static str, table: &[Binding<A>]) -> HelpSection {
    let mut section = help_section(title, table);
    section.lines.extend(
        LINE_EDIT_HELP
            .iter()
            .map(|&(k, what)| (k.to_string(), what)),
    );
    section
}

/// Ctrl-C always quits, whatever screen or prompt is active (in raw mode
/// it arrives as a key, not as SIGINT).
pub fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c')
}

use KeyCode::{Char as C, *};

/// Keys that work on every screen (unless a prompt takes text input).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalAction {
    Help,
    Quit,
    NextScreen,
    PrevScreen,
    /// Go to the screen numbered by the digit pressed.
    GoToScreen,
    Shell,
}

pub const GLOBAL_KEYS: &[Binding<GlobalAction>] = &[
    bind(
        GlobalAction::Help,
        &[C('?'), F(1)],
        "show or hide this help",
    ),
    bind(
        GlobalAction::Quit,
        &[C('q'), F(10)],
        "quit (Ctrl-C quits anywhere)",
    ),
    bind(
        GlobalAction::NextScreen,
        &[Tab],
        "next screen (tabs on top)",
    ),
    bind(GlobalAction::PrevScreen, &[BackTab], "previous screen"),
    bind(
        GlobalAction::GoToScreen,
        &[
            C('1'),
            C('2'),
            C('3'),
            C('4'),
            C('5'),
            C('6'),
            C('7'),
            C('8'),
            C('9'),
        ],
        "go to screen N",
    ),
    bind(
        GlobalAction::Shell,
        &[C('!')],
        "open a shell (exit it to come back)",
    ),
];

/// Keys while the help overlay is open (any other key closes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelpAction {
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
}

pub const HELP_KEYS: &[Binding<HelpAction>] = &[
    bind(HelpAction::ScrollUp, &[Up, C('k')], "scroll this help up"),
    bind(
        HelpAction::ScrollDown,
        &[Down, C('j')],
        "scroll this help down",
    ),
    bind(HelpAction::PageUp, &[PageUp], "page up"),
    bind(HelpAction::PageDown, &[PageDown], "page down"),
];

/// Keys while typing a search (`/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptAction {
    Accept,
    Cancel,
    DeleteChar,
}

pub const PROMPT_KEYS: &[Binding<PromptAction>] = &[
    bind(PromptAction::Accept, &[Enter], "find the first match"),
    bind(PromptAction::Cancel, &[Esc], "cancel the search"),
    bind(PromptAction::DeleteChar, &[Backspace], "delete a character"),
];

/// A key typed into a line being edited (a search, an option), as a
/// shell's line editor takes it: Ctrl-U erases the line, Ctrl-W the last
/// word, any other Ctrl key is ignored (it must not type its letter), and
/// a character is appended. Enter, Esc and Backspace are the prompt
/// table's.
pub fn type_into(text: &mut String, key: KeyEvent) {
    let KeyCode::Char(c) = key.code else {
        return;
    };
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        match c {
            'u' => text.clear(),
            'w' => {
                let kept = text.trim_end().len();
                let word_start = text[..kept].rfind(' ').map_or(0, |i| i + 1);
                text.truncate(word_start);
            }
            _ => {}
        }
    } else if !key.modifiers.contains(KeyModifiers::ALT) {
        text.push(c);
    }
}

/// The name of a key as the help shows it.
pub fn key_name(code: &KeyCode) -> String {
    match code {
        KeyCode::Char(' ') => "Space".into(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::F(n) => format!("F{n}"),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::BackTab => "Shift-Tab".into(),
        other => format!("{other:?}"),
    }
}

/// Shortens a run of digit keys (`1 2 3 … 9`) to `1-9` for the help.
pub fn compact_digits(keys: &str) -> String {
    if keys == "1 2 3 4 5 6 7 8 9" {
        "1-9".into()
    } else {
        keys.into()
    }
}

/// Panics (in tests) when a key is bound twice in one table or clashes
/// with a global key: a clash would make one of the two unreachable.
#[cfg(test)]
pub fn assert_no_clashes<A>(table: &[Binding<A>]) {
    let mut seen: Vec<KeyCode> = GLOBAL_KEYS.iter().flat_map(|b| b.keys).copied().collect();
    for b in table {
        for k in b.keys {
            assert!(!seen.contains(k), "{k:?} bound twice");
            seen.push(*k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_and_prompt_tables_bind_each_key_once() {
        assert_no_clashes::<GlobalAction>(&[]);
        assert_no_clashes(PROMPT_KEYS);
        assert_no_clashes(HELP_KEYS);
    }

    #[test]
    fn ctrl_u_and_ctrl_w_erase_as_in_a_shell() {
        let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
        let mut t = String::new();
        for c in "sleep 1010  ".chars() {
            type_into(&mut t, KeyEvent::from(KeyCode::Char(c)));
        }
        type_into(
            &mut t,
            KeyEvent::new(KeyCode::Char('X'), KeyModifiers::SHIFT),
        );
        assert_eq!(t, "sleep 1010  X");
        type_into(&mut t, ctrl('w'));
        assert_eq!(t, "sleep 1010  ");
        type_into(&mut t, ctrl('w'));
        assert_eq!(t, "sleep ", "trailing blanks go with the word before them");
        type_into(&mut t, ctrl('a'));
        assert_eq!(t, "sleep ", "another Ctrl key types nothing");
        type_into(&mut t, ctrl('u'));
        assert_eq!(t, "");
        type_into(&mut t, ctrl('w'));
        assert_eq!(t, "");
    }
}
