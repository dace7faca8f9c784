//! uid -> user name, from a passwd file (normally /etc/passwd), read once and
//! kept: looking a name up per process per refresh would cost a file read each.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The user names of one passwd file, reloaded only when the file changes.
#[derive(Clone, Debug, Default)]
pub struct UserNames {
    path: PathBuf,
    modified: Option<SystemTime>,
    names: HashMap<u32, String>,
}

impl UserNames {
    /// Reads `passwd` (e.g. `/etc/passwd`). A missing or unreadable file
    /// gives an empty table: every uid then shows as its number.
    pub fn load(passwd: impl Into<PathBuf>) -> UserNames {
        let path = passwd.into();
        let modified = modified(&path);
        let names = std::fs::read_to_string(&path)
            .map(|text| parse_passwd(&text))
            .unwrap_or_default();
        UserNames {
            path,
            modified,
            names,
        }
    }

    /// Re-reads the file if it changed since it was loaded (one stat call).
    pub fn refresh(&mut self) {
        if modified(&self.path) != self.modified {
            *self = UserNames::load(std::mem::take(&mut self.path));
        }
    }

    /// The user name of `uid`, if the file names it.
    pub fn get(&self, uid: u32) -> Option<&str> {
        self.names.get(&uid).map(String::as_str)
    }

    /// The user name of `uid`, or the number itself when it has no name.
    pub fn name(&self, uid: u32) -> Cow<'_, str> {
        match self.get(uid) {
            Some(name) => Cow::Borrowed(name),
            None => Cow::Owned(uid.to_string()),
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// `name:password:uid:gid:gecos:home:shell`, one user a line. The first
/// name listed for a uid wins (as getpwuid does).
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(uid) = uid.parse::<u32>() {
            names.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    names
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_passwd_lines() {
        let text = "root:x:0:0:root:/root:/bin/bash\n\
                    # a comment\n\
                    broken line\n\
                    alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n\
                    toor:x:0:0::/root:/bin/sh\n";
        let names = parse_passwd(text);
        assert_eq!(names.get(&0).map(String::as_str), Some("root"));
        assert_eq!(names.get(&1000).map(String::as_str), Some("alice"));
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn unknown_uid_shows_its_number_and_reload_sees_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        std::fs::write(&path, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let mut users = UserNames::load(&path);
        assert_eq!(users.name(0), "root");
        assert_eq!(users.name(4242), "4242");
        std::fs::write(
            &path,
            "root:x:0:0::/root:/bin/sh\nbob:x:4242:4242::/:/bin/sh\n",
        )
        .unwrap();
        // Make sure the modification time differs even on coarse clocks.
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
        users.refresh();
        assert_eq!(users.name(4242), "bob");
        assert_eq!(UserNames::load(dir.path().join("missing")).name(0), "0");
    }
}
