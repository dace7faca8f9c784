//! Every key binding, in one table: the dispatcher looks keys up here and
//! the help screen is drawn from it, so help can never drift from behaviour.

use crossterm::event::KeyCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Help,
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    CollapseOrParent,
    Expand,
    ToggleCollapse,
    CollapseAll,
    ExpandAll,
    ToggleView,
    SortNext,
    SortPrev,
    Search,
    SearchNext,
    SearchPrev,
    Follow,
    Mark,
    Compare,
    ToggleDetail,
}

pub struct Binding {
    pub action: Action,
    pub keys: &'static [KeyCode],
    pub what: &'static str,
}

const fn b(action: Action, keys: &'static [KeyCode], what: &'static str) -> Binding {
    Binding { action, keys, what }
}

use KeyCode::{Char as C, *};

pub const BINDINGS: &[Binding] = &[
    b(Action::Help, &[C('?'), F(1)], "show or hide this help"),
    b(Action::Quit, &[C('q'), F(10)], "quit (also Ctrl-C)"),
    b(Action::Up, &[Up, C('k')], "move up"),
    b(Action::Down, &[Down, C('j')], "move down"),
    b(Action::PageUp, &[PageUp], "page up"),
    b(Action::PageDown, &[PageDown], "page down"),
    b(Action::Home, &[Home, C('g')], "first process"),
    b(Action::End, &[End, C('G')], "last process"),
    b(
        Action::CollapseOrParent,
        &[Left, C('h')],
        "collapse subtree, or go to parent",
    ),
    b(Action::Expand, &[Right, C('l')], "expand subtree"),
    b(
        Action::ToggleCollapse,
        &[Enter, C(' ')],
        "collapse/expand subtree",
    ),
    b(Action::CollapseAll, &[C('-')], "collapse all"),
    b(Action::ExpandAll, &[C('+'), C('=')], "expand all"),
    b(Action::ToggleView, &[F(5), C('t')], "tree / flat view"),
    b(
        Action::SortNext,
        &[F(6), C('>')],
        "next sort column (flat view)",
    ),
    b(
        Action::SortPrev,
        &[C('<')],
        "previous sort column (flat view)",
    ),
    b(
        Action::Search,
        &[C('/'), F(3)],
        "search name, PID or command line",
    ),
    b(Action::SearchNext, &[C('n')], "next match"),
    b(Action::SearchPrev, &[C('N')], "previous match"),
    b(Action::Follow, &[C('F')], "follow the selected process"),
    b(Action::Mark, &[C('m')], "mark for compare (again: unmark)"),
    b(
        Action::Compare,
        &[C('c')],
        "compare marked and selected namespaces",
    ),
    b(
        Action::ToggleDetail,
        &[C('d')],
        "show / hide the detail pane",
    ),
];

pub fn action_for(code: KeyCode) -> Option<Action> {
    BINDINGS
        .iter()
        .find(|b| b.keys.contains(&code))
        .map(|b| b.action)
}

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
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            for k in b.keys {
                assert!(!seen.contains(k), "{k:?} bound twice");
                seen.push(*k);
            }
        }
    }
}
