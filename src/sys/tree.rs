//! Turning a flat snapshot into the rows of a `ps axjf`-style tree.

use crate::sys::procs::Pid;

/// One visible row of the tree: which process, how deep, and the tree art
/// (`\_ ` in ps style) to draw before its command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeRow {
    /// Index into `Snapshot::procs`.
    pub index: usize,
    pub pid: Pid,
    pub depth: usize,
    /// The tree art, e.g. ` \_ ` with leading indentation, as `ps axjf` draws it.
    pub art: String,
    pub has_children: bool,
    pub collapsed: bool,
}
