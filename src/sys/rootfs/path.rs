//! Paths as the process sees them, split and joined lexically (nothing is
//! opened here: `proc_root` resolves them).

/// Join a directory (as the process sees it) and a name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The parent of a path as the process sees it (lexically; `/` stays `/`).
pub fn parent(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => trimmed[..i].to_string(),
    }
}

/// Split `/a/b/c` into (`/a/b`, `c`). Trailing slashes are kept on the name
/// side only when `allow_trailing_slash` is false, so `touch /x/` is refused.
pub(super) fn split_parent(path: &str, allow_trailing_slash: bool) -> (String, String) {
    let path = if allow_trailing_slash {
        let t = path.trim_end_matches('/');
        if t.is_empty() { "/" } else { t }
    } else {
        path
    };
    match path.rfind('/') {
        Some(i) => {
            let dir = if i == 0 { "/" } else { &path[..i] };
            (dir.to_string(), path[i + 1..].to_string())
        }
        None => ("/".to_string(), path.to_string()),
    }
}
