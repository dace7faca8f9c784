//! The check language of lesson steps: a small, readable condition over the
//! live system, parsed once and evaluated against a
//! [`Context`](crate::lessons::context::Context).
//!
//! ```text
//! check   := or
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | "(" check ")" | atom
//! atom    := "process" "where" pred
//!          | "file" STRING ("exists" | "contains" STRING) "in" target
//!          | "cgroup" METRIC "of" "process" "where" pred CMP VALUE
//! target  := "host" | "process" "where" pred
//! METRIC  := memory.limit | memory.usage | memory.oom_kills
//! pred    := pand ("or" pand)* ; pand := pnot ("and" pnot)*
//! pnot    := "not" pnot | "(" pred ")" | FIELD CMP VALUE
//! CMP     := = | != | < | <= | > | >= | contains
//! VALUE   := "string" | 123 | 64M | host.pid (the host's namespace id)
//! ```
//!
//! Inside a `where`, `and`/`or` followed by `process`, `file` or `cgroup`
//! (or `not` and one of those) ends the predicate and joins two checks.
//!
//! The parts: this file holds the model (the syntax tree); `lex` turns text
//! into tokens, `parse` tokens into a [`Check`], `eval` evaluates a check
//! against a context, and `describe` puts checks in words.

mod describe;
mod eval;
mod lex;
mod parse;

pub use describe::{describe, describe_pred};
pub use eval::{Outcome, evaluate, matching};
pub use parse::{MAX_DEPTH, MAX_JOINS, parse};

use crate::sys::ns::NsKind;

/// A parse error with its column (1-based) inside the check text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CondError {
    pub column: usize,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    And(Box<Check>, Box<Check>),
    Or(Box<Check>, Box<Check>),
    Not(Box<Check>),
    Process(Pred),
    File {
        path: String,
        /// `None`: exists; `Some(text)`: the file contains text.
        contains: Option<String>,
        target: Target,
    },
    Cgroup {
        metric: Metric,
        of: Pred,
        cmp: Cmp,
        value: u64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Host,
    Process(Pred),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Limit,
    Usage,
    OomKills,
}

impl Metric {
    fn name(self) -> &'static str {
        match self {
            Metric::Limit => "memory limit",
            Metric::Usage => "memory usage",
            Metric::OomKills => "count of OOM kills",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Pred {
    And(Box<Pred>, Box<Pred>),
    Or(Box<Pred>, Box<Pred>),
    Not(Box<Pred>),
    Compare(Field, Cmp, Value),
}

/// What a predicate can look at in one process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Pid,
    Ppid,
    Uid,
    Comm,
    Cmdline,
    State,
    Hostname,
    /// The PID inside the process's own (innermost) PID namespace.
    InnerPid,
    /// How many PID namespaces deep the process is (1 = host only).
    PidDepth,
    Ns(NsKind),
    ParentComm,
    Container,
    Cgroup,
}

const FIELDS: &[(&str, Field)] = &[
    ("pid", Field::Pid),
    ("ppid", Field::Ppid),
    ("uid", Field::Uid),
    ("comm", Field::Comm),
    ("cmdline", Field::Cmdline),
    ("state", Field::State),
    ("hostname", Field::Hostname),
    ("nspid.inner", Field::InnerPid),
    ("nspid.depth", Field::PidDepth),
    ("parent.comm", Field::ParentComm),
    ("container", Field::Container),
    ("cgroup", Field::Cgroup),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
}

impl Cmp {
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
            Cmp::Contains => "contains",
        }
    }
    fn holds_num(self, a: u64, b: u64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Contains => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Number(u64),
    /// The host's namespace id of this kind (PID 1's, or isolab's own).
    HostNs(NsKind),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
