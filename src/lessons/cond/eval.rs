//! The evaluator: a [`Check`] against a [`Context`], with the reason when it
//! does not hold yet.

use super::describe::{describe, describe_file_missing, describe_pred, show_amount};
use super::{Check, Cmp, Field, Metric, Pred, Target, Value};
use crate::lessons::context::{Context, ProcessView};

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
