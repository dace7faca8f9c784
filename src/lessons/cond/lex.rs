//! The lexer: check text to tokens, each with its column.

use super::{Cmp, CondError};

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Word(String),
    Str(String),
    Num(u64),
    Op(Cmp),
    Open,
    Close,
}

pub(super) fn lex(text: &str) -> Result<Vec<(usize, Tok)>, CondError> {
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
pub(super) fn parse_number(word: &str) -> Option<u64> {
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return word.parse().ok();
    }
    match crate::sys::cgroup::parse_size(word).ok()? {
        crate::sys::cgroup::Limit::Bytes(n) => Some(n),
        crate::sys::cgroup::Limit::Max => None,
    }
}
