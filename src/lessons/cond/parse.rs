//! The parser: tokens to a [`Check`], with bounded nesting and joins.

use super::lex::{Tok, lex};
use super::{Check, Cmp, CondError, FIELDS, Field, Metric, Pred, Target, Value};
use crate::sys::ns::NsKind;

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
