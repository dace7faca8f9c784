//! Checks in words, for "not yet" messages and the lesson screen.

use super::{Check, Cmp, FIELDS, Field, Metric, Pred, Target, Value};
use crate::sys::ns::NsKind;

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

pub(super) fn describe_file_missing(path: &str, contains: Option<&str>, target: &Target) -> String {
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

pub(super) fn show_amount(metric: Metric, n: u64) -> String {
    match metric {
        Metric::OomKills => n.to_string(),
        _ => crate::sys::cgroup::human_bytes(n),
    }
}
