//! The check language of lesson steps: a small, readable condition over the
//! live system, parsed once and evaluated against a [`Context`].
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

use super::context::{Context, ProcessView};
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

// ---------------------------------------------------------------- lexer

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(u64),
    Op(Cmp),
    Open,
    Close,
}

fn lex(text: &str) -> Result<Vec<(usize, Tok)>, CondError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push((col, Tok::Open));
            i += 1;
        } else if c == ')' {
            out.push((col, Tok::Close));
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(CondError {
                            column: col,
                            message: "this quoted text has no closing \"".into(),
                        });
                    }
                    Some('"') => break,
                    Some('\\') if chars.get(i + 1).is_some() => {
                        s.push(chars[i + 1]);
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push((col, Tok::Str(s)));
        } else if "=!<>".contains(c) {
            let next = chars.get(i + 1).copied();
            let (op, len) = match (c, next) {
                ('!', Some('=')) => (Cmp::Ne, 2),
                ('<', Some('=')) => (Cmp::Le, 2),
                ('>', Some('=')) => (Cmp::Ge, 2),
                ('=', Some('=')) => (Cmp::Eq, 2),
                ('=', _) => (Cmp::Eq, 1),
                ('<', _) => (Cmp::Lt, 1),
                ('>', _) => (Cmp::Gt, 1),
                _ => {
                    return Err(CondError {
                        column: col,
                        message: "`!` must be followed by `=` (use `not` to negate)".into(),
                    });
                }
            };
            out.push((col, Tok::Op(op)));
            i += len;
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if word.starts_with(|ch: char| ch.is_ascii_digit()) {
                let n = parse_number(&word).ok_or_else(|| CondError {
                    column: col,
                    message: format!(
                        "`{word}` is not a number or size (write 42, 64M, 512K or 1G)"
                    ),
                })?;
                out.push((col, Tok::Num(n)));
            } else if word == "contains" {
                out.push((col, Tok::Op(Cmp::Contains)));
            } else {
                out.push((col, Tok::Word(word)));
            }
        } else {
            return Err(CondError {
                column: col,
                message: format!("unexpected character `{c}`"),
            });
        }
    }
    Ok(out)
}

/// A plain number or a binary size (`64M` = 64 MiB), as cgroup limits are
/// written. Sizes use the one size grammar, [`crate::sys::cgroup::parse_size`]
/// (so `1.5G`, `64MB` and `1T` work here as in `isolab limit`); a plain
/// number is any u64, as before (ids and counts, not only sizes).
fn parse_number(word: &str) -> Option<u64> {
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok();
    }
    match crate::sys::cgroup::parse_size(word).ok()? {
        crate::sys::cgroup::Limit::Bytes(n) => Some(n),
        crate::sys::cgroup::Limit::Max => None,
    }
}

// ---------------------------------------------------------------- parser

/// How deep `(` and `not` may nest. The parser, the evaluator and the
/// drop of a check recurse once per level: a 48 KB line of `(` must be an
/// error, not a stack overflow. The shipped lessons nest 2 deep.
pub const MAX_DEPTH: usize = 32;

/// How many `and`/`or` one check may hold. A chain is parsed by a loop but
/// builds a tree as deep as it is long, which evaluation recurses through.
pub const MAX_JOINS: usize = 128;

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end_col: usize,
    /// Current nesting of `(` and `not`.
    depth: usize,
    /// `and`/`or` seen so far.
    joins: usize,
}

pub fn parse(text: &str) -> Result<Check, CondError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end_col: text.chars().count() + 1,
        depth: 0,
        joins: 0,
    };
    if p.toks.is_empty() {
        return Err(
            p.err_here("the check is empty: start with `process where`, `file` or `cgroup`")
        );
    }
    let check = p.check()?;
    if p.pos < p.toks.len() {
        return Err(p.err_here("unexpected text after a complete check (missing `and`/`or`?)"));
    }
    Ok(check)
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n).map(|(_, t)| t)
    }
    fn col(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end_col, |(c, _)| *c)
    }
    fn err_here(&self, message: impl Into<String>) -> CondError {
        CondError {
            column: self.col(),
            message: message.into(),
        }
    }
    fn is_word(&self, n: usize, w: &str) -> bool {
        matches!(self.peek_at(n), Some(Tok::Word(x)) if x == w)
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(0, w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect_word(&mut self, w: &str, why: &str) -> Result<(), CondError> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(self.err_here(format!("expected `{w}` {why}")))
        }
    }
    /// Whether a check (an atom after any `not`s and `(`s) starts at token
    /// `n`. A loop, not recursion: the run of `not`s may be long.
    fn starts_check(&self, mut n: usize) -> bool {
        loop {
            if ["process", "file", "cgroup"]
                .iter()
                .any(|w| self.is_word(n, w))
            {
                return true;
            }
            if self.is_word(n, "not") || matches!(self.peek_at(n), Some(Tok::Open)) {
                n += 1;
            } else {
                return false;
            }
        }
    }
    /// Enters one level of `(` or `not`, or fails past [`MAX_DEPTH`].
    fn deeper(&mut self) -> Result<(), CondError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_here(format!(
                "`(` and `not` nest more than {MAX_DEPTH} deep here; write the check flatter"
            )));
        }
        Ok(())
    }
    /// Counts one `and`/`or`, or fails past [`MAX_JOINS`].
    fn join(&mut self) -> Result<(), CondError> {
        self.joins += 1;
        if self.joins > MAX_JOINS {
            return Err(self.err_here(format!(
                "the check joins more than {MAX_JOINS} conditions with `and`/`or`; make it shorter"
            )));
        }
        Ok(())
    }

    fn check(&mut self) -> Result<Check, CondError> {
        let mut left = self.check_and()?;
        while self.eat_word("or") {
            self.join()?;
            let right = self.check_and()?;
            left = Check::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn check_and(&mut self) -> Result<Check, CondError> {
        let mut left = self.check_unary()?;
        while self.eat_word("and") {
            self.join()?;
            let right = self.check_unary()?;
            left = Check::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn check_unary(&mut self) -> Result<Check, CondError> {
        if self.is_word(0, "not") {
            self.deeper()?;
            self.pos += 1;
            let inner = self.check_unary()?;
            self.depth -= 1;
            return Ok(Check::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.deeper()?;
            self.pos += 1;
            let inner = self.check()?;
            if self.peek() != Some(&Tok::Close) {
                return Err(self.err_here("expected `)` to close the `(`"));
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(inner);
        }
        if self.eat_word("process") {
            self.expect_word("where", "after `process`")?;
            return Ok(Check::Process(self.pred()?));
        }
        if self.eat_word("file") {
            let path = match self.peek() {
                Some(Tok::Str(s)) => s.clone(),
                _ => return Err(self.err_here("expected a quoted path after `file`")),
            };
            if !path.starts_with('/') {
                return Err(self.err_here(format!(
                    "the path {path:?} must be absolute (as the process sees it)"
                )));
            }
            self.pos += 1;
            let contains = if self.eat_word("exists") {
                None
            } else if self.peek() == Some(&Tok::Op(Cmp::Contains)) {
                self.pos += 1;
                match self.peek() {
                    Some(Tok::Str(s)) => {
                        let s = s.clone();
                        self.pos += 1;
                        Some(s)
                    }
                    _ => return Err(self.err_here("expected quoted text after `contains`")),
                }
            } else {
                return Err(
                    self.err_here("expected `exists` or `contains \"text\"` after the path")
                );
            };
            self.expect_word("in", "then `host` or `process where ...`")?;
            let target = if self.eat_word("host") {
                Target::Host
            } else {
                self.expect_word("process", "or `host` after `in`")?;
                self.expect_word("where", "after `process`")?;
                Target::Process(self.pred()?)
            };
            return Ok(Check::File {
                path,
                contains,
                target,
            });
        }
        if self.eat_word("cgroup") {
            let metric = match self.peek() {
                Some(Tok::Word(w)) if w == "memory.limit" => Metric::Limit,
                Some(Tok::Word(w)) if w == "memory.usage" => Metric::Usage,
                Some(Tok::Word(w)) if w == "memory.oom_kills" => Metric::OomKills,
                _ => {
                    return Err(self.err_here(
                        "expected memory.limit, memory.usage or memory.oom_kills after `cgroup`",
                    ));
                }
            };
            self.pos += 1;
            self.expect_word("of", "after the cgroup metric")?;
            self.expect_word("process", "after `of`")?;
            self.expect_word("where", "after `process`")?;
            let of = self.pred()?;
            let cmp = match self.peek() {
                Some(Tok::Op(c)) if *c != Cmp::Contains => *c,
                _ => return Err(self.err_here("expected a comparison (<=, >=, =, ...) and a size")),
            };
            self.pos += 1;
            let value = match self.peek() {
                Some(Tok::Num(n)) => *n,
                _ => return Err(self.err_here("expected a size like 64M or a number")),
            };
            self.pos += 1;
            return Ok(Check::Cgroup {
                metric,
                of,
                cmp,
                value,
            });
        }
        Err(self.err_here("expected `process where`, `file`, `cgroup`, `not` or `(`"))
    }

    fn pred(&mut self) -> Result<Pred, CondError> {
        let mut left = self.pred_and()?;
        while self.is_word(0, "or") && !self.starts_check(1) {
            self.join()?;
            self.pos += 1;
            let right = self.pred_and()?;
            left = Pred::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn pred_and(&mut self) -> Result<Pred, CondError> {
        let mut left = self.pred_not()?;
        while self.is_word(0, "and") && !self.starts_check(1) {
            self.join()?;
            self.pos += 1;
            let right = self.pred_not()?;
            left = Pred::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }
    fn pred_not(&mut self) -> Result<Pred, CondError> {
        if self.is_word(0, "not") {
            self.deeper()?;
            self.pos += 1;
            let inner = self.pred_not()?;
            self.depth -= 1;
            return Ok(Pred::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.deeper()?;
            self.pos += 1;
            let inner = self.pred()?;
            if self.peek() != Some(&Tok::Close) {
                return Err(self.err_here("expected `)` to close the `(`"));
            }
            self.pos += 1;
            self.depth -= 1;
            return Ok(inner);
        }
        let field = match self.peek() {
            Some(Tok::Word(w)) => field_named(w).ok_or_else(|| {
                self.err_here(format!(
                    "unknown field `{w}`; known: {}, ns.KIND ({})",
                    FIELDS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", "),
                    ns_names()
                ))
            })?,
            _ => return Err(self.err_here("expected a field such as comm, hostname or ns.pid")),
        };
        self.pos += 1;
        let cmp = match self.peek() {
            Some(Tok::Op(c)) => *c,
            _ => {
                return Err(self.err_here("expected a comparison: =, !=, <, <=, >, >= or contains"));
            }
        };
        self.pos += 1;
        let value = match self.peek() {
            Some(Tok::Str(s)) => Value::Text(s.clone()),
            Some(Tok::Num(n)) => Value::Number(*n),
            Some(Tok::Word(w)) if w.starts_with("host.") => {
                let kind = NsKind::from_proc_name(&w["host.".len()..]).ok_or_else(|| {
                    self.err_here(format!("unknown namespace in `{w}`; known: {}", ns_names()))
                })?;
                Value::HostNs(kind)
            }
            _ => {
                return Err(self.err_here(
                    "expected a value: \"text\", a number, or host.KIND (like host.pid)",
                ));
            }
        };
        let numeric = matches!(
            field,
            Field::Pid
                | Field::Ppid
                | Field::Uid
                | Field::InnerPid
                | Field::PidDepth
                | Field::Ns(_)
        );
        if cmp == Cmp::Contains && numeric {
            return Err(self.err_here("`contains` compares text; this field is a number"));
        }
        if numeric && matches!(value, Value::Text(_)) {
            return Err(self.err_here("this field is a number: compare it with a number"));
        }
        if !numeric && !matches!(value, Value::Text(_)) {
            return Err(self.err_here("this field is text: compare it with \"quoted text\""));
        }
        if matches!(value, Value::HostNs(_)) && !matches!(field, Field::Ns(_)) {
            return Err(self.err_here("host.KIND compares only with a namespace field (ns.KIND)"));
        }
        self.pos += 1;
        Ok(Pred::Compare(field, cmp, value))
    }
}

fn ns_names() -> String {
    NsKind::ISOLATING
        .iter()
        .map(|k| k.proc_name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn field_named(w: &str) -> Option<Field> {
    if let Some(kind) = w.strip_prefix("ns.") {
        return NsKind::from_proc_name(kind).map(Field::Ns);
    }
    FIELDS.iter().find(|(n, _)| *n == w).map(|(_, f)| *f)
}

// ---------------------------------------------------------------- evaluation

/// The result of evaluating a check: passed, or not yet with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    NotYet(String),
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self, Outcome::Pass)
    }
}

pub fn evaluate(check: &Check, ctx: &dyn Context) -> Outcome {
    match check {
        Check::And(a, b) => match evaluate(a, ctx) {
            Outcome::Pass => evaluate(b, ctx),
            not_yet => not_yet,
        },
        Check::Or(a, b) => match (evaluate(a, ctx), evaluate(b, ctx)) {
            (Outcome::NotYet(x), Outcome::NotYet(y)) => Outcome::NotYet(format!("{x}; nor {y}")),
            _ => Outcome::Pass,
        },
        Check::Not(inner) => match evaluate(inner, ctx) {
            Outcome::Pass => {
                Outcome::NotYet(format!("expected the opposite of: {}", describe(inner)))
            }
            Outcome::NotYet(_) => Outcome::Pass,
        },
        Check::Process(pred) => {
            if matching(pred, ctx).is_empty() {
                Outcome::NotYet(format!("no process {} yet", describe_pred(pred)))
            } else {
                Outcome::Pass
            }
        }
        Check::File {
            path,
            contains,
            target,
        } => {
            let pids: Vec<i32> = match target {
                Target::Host => ctx.host().map(|h| h.pid).into_iter().collect(),
                Target::Process(pred) => matching(pred, ctx),
            };
            if pids.is_empty() {
                if let Target::Process(pred) = target {
                    return Outcome::NotYet(format!("no process {} yet", describe_pred(pred)));
                }
                return Outcome::NotYet("the host's root could not be read".into());
            }
            let found = pids.iter().any(|&pid| match contains {
                None => ctx.file_exists(pid, path),
                Some(text) => ctx
                    .read_file(pid, path)
                    .is_some_and(|c| c.contains(text.as_str())),
            });
            if found {
                Outcome::Pass
            } else {
                Outcome::NotYet(describe_file_missing(path, contains.as_deref(), target))
            }
        }
        Check::Cgroup {
            metric,
            of,
            cmp,
            value,
        } => {
            let pids = matching(of, ctx);
            if pids.is_empty() {
                return Outcome::NotYet(format!("no process {} yet", describe_pred(of)));
            }
            let mut seen = Vec::new();
            for pid in pids {
                let Some(mem) = ctx.memory(pid) else { continue };
                let actual = match metric {
                    Metric::Limit => mem.limit,
                    Metric::Usage => Some(mem.usage),
                    Metric::OomKills => Some(mem.oom_kills),
                };
                match actual {
                    Some(a) if cmp.holds_num(a, *value) => return Outcome::Pass,
                    Some(a) => seen.push(show_amount(*metric, a)),
                    None => seen.push("no limit".to_string()),
                }
            }
            let now = if seen.is_empty() {
                "its memory cgroup could not be read".to_string()
            } else {
                format!("it is {}", seen.join(", "))
            };
            Outcome::NotYet(format!(
                "the {} of the process {} is not {} {} yet ({now})",
                metric.name(),
                describe_pred(of),
                cmp.symbol(),
                show_amount(*metric, *value)
            ))
        }
    }
}

fn show_amount(metric: Metric, n: u64) -> String {
    match metric {
        Metric::OomKills => n.to_string(),
        _ => crate::sys::cgroup::human_bytes(n),
    }
}

/// The PIDs of processes matching a predicate.
pub fn matching(pred: &Pred, ctx: &dyn Context) -> Vec<i32> {
    ctx.processes()
        .iter()
        .filter(|p| pred_holds(pred, p, ctx))
        .map(|p| p.pid)
        .collect()
}

fn pred_holds(pred: &Pred, p: &ProcessView, ctx: &dyn Context) -> bool {
    match pred {
        Pred::And(a, b) => pred_holds(a, p, ctx) && pred_holds(b, p, ctx),
        Pred::Or(a, b) => pred_holds(a, p, ctx) || pred_holds(b, p, ctx),
        Pred::Not(a) => !pred_holds(a, p, ctx),
        Pred::Compare(field, cmp, value) => compare(*field, *cmp, value, p, ctx),
    }
}

fn compare(field: Field, cmp: Cmp, value: &Value, p: &ProcessView, ctx: &dyn Context) -> bool {
    let number = |n: Option<u64>| -> bool {
        let want = match value {
            Value::Number(n) => Some(*n),
            Value::HostNs(kind) => ctx.host().and_then(|h| h.ns.get(*kind)),
            Value::Text(_) => None,
        };
        match (n, want) {
            (Some(a), Some(b)) => cmp.holds_num(a, b),
            _ => false,
        }
    };
    let text = |s: Option<String>| -> bool {
        let (Some(s), Value::Text(want)) = (s, value) else {
            return false;
        };
        match cmp {
            Cmp::Eq => s == *want,
            Cmp::Ne => s != *want,
            Cmp::Contains => s.contains(want.as_str()),
            Cmp::Lt => s < *want,
            Cmp::Le => s <= *want,
            Cmp::Gt => s > *want,
            Cmp::Ge => s >= *want,
        }
    };
    match field {
        Field::Pid => number(Some(p.pid as u64)),
        Field::Ppid => number(Some(p.ppid as u64)),
        Field::Uid => number(p.uid.map(u64::from)),
        Field::InnerPid => number(p.nspid.last().map(|n| *n as u64)),
        Field::PidDepth => number(Some(p.nspid.len().max(1) as u64)),
        Field::Ns(kind) => number(p.ns.get(kind)),
        Field::Comm => text(Some(p.comm.clone())),
        Field::Cmdline => text(p.cmdline.as_ref().map(|a| a.join(" "))),
        Field::State => text(Some(p.state.to_string())),
        Field::Hostname => text(ctx.hostname(p.pid)),
        Field::ParentComm => text(
            ctx.processes()
                .iter()
                .find(|q| q.pid == p.ppid)
                .map(|q| q.comm.clone()),
        ),
        Field::Container => text(p.container.clone()),
        Field::Cgroup => text(Some(p.cgroup_paths.join("\n"))),
    }
}

// ---------------------------------------------------------------- words

/// The check in words, for "not yet" messages and the lesson screen.
pub fn describe(check: &Check) -> String {
    match check {
        Check::And(a, b) => format!("{} and {}", describe(a), describe(b)),
        Check::Or(a, b) => format!("{} or {}", describe(a), describe(b)),
        Check::Not(a) => format!("not ({})", describe(a)),
        Check::Process(p) => format!("a process {}", describe_pred(p)),
        Check::File {
            path,
            contains,
            target,
        } => match contains {
            None => format!("the file `{path}` exists {}", describe_target(target)),
            Some(t) => format!(
                "the file `{path}` {} contains {t:?}",
                describe_target(target)
            ),
        },
        Check::Cgroup {
            metric,
            of,
            cmp,
            value,
        } => format!(
            "the {} of the process {} is {} {}",
            metric.name(),
            describe_pred(of),
            cmp.symbol(),
            show_amount(*metric, *value)
        ),
    }
}

fn describe_target(t: &Target) -> String {
    match t {
        Target::Host => "on the host".into(),
        Target::Process(p) => format!("inside the root of the process {}", describe_pred(p)),
    }
}

fn describe_file_missing(path: &str, contains: Option<&str>, target: &Target) -> String {
    match contains {
        None => format!(
            "the file `{path}` does not exist {} yet",
            describe_target(target)
        ),
        Some(t) => format!(
            "the file `{path}` {} does not contain {t:?} yet",
            describe_target(target)
        ),
    }
}

pub fn describe_pred(pred: &Pred) -> String {
    match pred {
        Pred::And(a, b) => format!("{} and {}", describe_pred(a), describe_pred(b)),
        Pred::Or(a, b) => format!("{} or {}", describe_pred(a), describe_pred(b)),
        Pred::Not(a) => format!("not {}", describe_pred(a)),
        Pred::Compare(field, cmp, value) => describe_compare(*field, *cmp, value),
    }
}

fn describe_compare(field: Field, cmp: Cmp, value: &Value) -> String {
    let v = match value {
        Value::Text(s) => format!("`{s}`"),
        Value::Number(n) => n.to_string(),
        Value::HostNs(k) => format!("the host's {} namespace", k.proc_name()),
    };
    match (field, cmp, value) {
        (Field::Ns(kind), Cmp::Ne, Value::HostNs(k2)) if kind == *k2 => {
            format!("with its own {} namespace", ns_label(kind))
        }
        (Field::Ns(kind), Cmp::Eq, Value::HostNs(k2)) if kind == *k2 => {
            format!("in the host's {} namespace", ns_label(kind))
        }
        (Field::Comm, Cmp::Eq, _) => format!("named {v}"),
        (Field::Hostname, Cmp::Eq, _) => format!("with the hostname {v}"),
        (Field::Cmdline, Cmp::Eq, _) => format!("running {v}"),
        (Field::Cmdline, Cmp::Contains, _) => format!("whose command line contains {v}"),
        (Field::InnerPid, Cmp::Eq, _) => format!("that is PID {v} inside its PID namespace"),
        (Field::ParentComm, Cmp::Eq, _) => format!("whose parent is named {v}"),
        (Field::Uid, Cmp::Eq, _) => format!("running as uid {v}"),
        (Field::State, Cmp::Eq, _) => format!("in state {v}"),
        _ => format!("with {} {} {v}", field_name(field), cmp.symbol()),
    }
}

fn ns_label(kind: NsKind) -> &'static str {
    match kind {
        NsKind::Pid => "PID",
        NsKind::Mnt => "mount",
        NsKind::Net => "network",
        NsKind::Ipc => "IPC",
        NsKind::Uts => "UTS",
        NsKind::User => "user",
        NsKind::Cgroup => "cgroup",
        NsKind::Time => "time",
        NsKind::PidForChildren => "pid_for_children",
        NsKind::TimeForChildren => "time_for_children",
    }
}

fn field_name(field: Field) -> String {
    if let Field::Ns(kind) = field {
        return format!("ns.{}", kind.proc_name());
    }
    FIELDS
        .iter()
        .find(|(_, f)| *f == field)
        .map_or_else(|| "?".to_string(), |(n, _)| n.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_examples_of_the_brief() {
        for text in [
            r#"process where comm = "bash" and ns.pid != host.pid"#,
            r#"process where hostname = "box""#,
            r#"file "/tmp/created_by_host" exists in process where comm = "sleep""#,
            r#"cgroup memory.limit of process where cmdline = "sleep 5" <= 64M"#,
            r#"process where comm = "a" and process where comm = "b""#,
            r#"not (process where comm = "a" or comm = "b") and file "/x" exists in host"#,
        ] {
            parse(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        }
    }

    #[test]
    fn and_before_a_new_atom_joins_checks() {
        let c = parse(r#"process where comm = "a" and process where comm = "b""#).unwrap();
        assert!(matches!(c, Check::And(_, _)));
        let c = parse(r#"process where comm = "a" and pid = 3"#).unwrap();
        assert!(matches!(c, Check::Process(Pred::And(_, _))));
    }

    #[test]
    fn nesting_and_chains_are_bounded_with_a_column() {
        let atom = r#"process where pid = 1"#;
        let ok = format!("{}{atom}{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        parse(&ok).unwrap();
        let deep = format!("{}{atom}", "(".repeat(12_000));
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.column, MAX_DEPTH + 1, "{e:?}");
        assert!(e.message.contains("nest"), "{e:?}");
        let nots = format!("{}{atom}", "not ".repeat(20_000));
        assert!(parse(&nots).unwrap_err().message.contains("nest"));
        let inner = format!("process where {}pid = 1", "not ".repeat(20_000));
        assert!(parse(&inner).unwrap_err().message.contains("nest"));
        // The lookahead after `and` walks a long run of `not`s by a loop.
        let after = format!("{atom} and {}{atom}", "not ".repeat(200_000));
        assert!(parse(&after).unwrap_err().message.contains("nest"));
        let chain = vec!["pid = 1"; 5000].join(" and ");
        let e = parse(&format!("process where {chain}")).unwrap_err();
        assert!(e.message.contains("joins more than"), "{e:?}");
    }

    #[test]
    fn numbers_and_sizes_use_the_one_size_grammar() {
        // What the lesson language accepted before it shared the grammar.
        for (word, n) in [
            ("42", 42),
            ("18446744073709551615", u64::MAX),
            ("64M", 64 << 20),
            ("64m", 64 << 20),
            ("64MiB", 64 << 20),
            ("512K", 512 << 10),
            ("512k", 512 << 10),
            ("512KiB", 512 << 10),
            ("1G", 1 << 30),
            ("1g", 1 << 30),
            ("1GiB", 1 << 30),
        ] {
            assert_eq!(parse_number(word), Some(n), "{word}");
        }
        // What it gains: the forms `isolab limit` takes.
        assert_eq!(parse_number("1.5G"), Some(3 << 29));
        assert_eq!(parse_number("64MB"), Some(64 << 20));
        // Still refused.
        for word in [
            "64Q",
            "0x10",
            "99999999999999999999G",
            "18446744073709551616",
        ] {
            assert_eq!(parse_number(word), None, "{word}");
        }
    }

    #[test]
    fn errors_carry_columns() {
        let e = parse(r#"process where colour = "red""#).unwrap_err();
        assert_eq!(e.column, 15);
        let e = parse(r#"process where comm = 3"#).unwrap_err();
        assert!(e.message.contains("text"), "{e:?}");
        let e = parse(r#"cgroup memory.limit of process where comm = "x" <= 64Q"#).unwrap_err();
        assert!(e.message.contains("size"), "{e:?}");
    }
}
