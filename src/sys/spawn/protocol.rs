//! What the children tell the parent.

/// How the command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitOutcome {
    Exited(i32),
    Signaled(i32),
}

impl ExitOutcome {
    /// The shell convention: the exit code, or 128+N for signal N.
    pub fn code(self) -> i32 {
        match self {
            ExitOutcome::Exited(c) => c,
            ExitOutcome::Signaled(n) => 128 + n,
        }
    }

    pub(crate) fn from_wait_status(status: i32) -> ExitOutcome {
        if libc::WIFSIGNALED(status) {
            ExitOutcome::Signaled(libc::WTERMSIG(status))
        } else {
            ExitOutcome::Exited(libc::WEXITSTATUS(status))
        }
    }
}
