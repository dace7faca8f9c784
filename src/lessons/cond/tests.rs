//! The check language's unit tests (split from the model with it).

use super::lex::parse_number;
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
