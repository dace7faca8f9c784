//! User names for uids, from an /etc/passwd-format file, read once.

use std::collections::HashMap;
use std::path::Path;

/// uid -> name, as in /etc/passwd. Unknown uids print as the number.
#[derive(Clone, Debug, Default)]
pub struct Users(HashMap<u32, String>);

impl Users {
    /// Loads the passwd file at `path`; a missing or unreadable file gives
    /// an empty table (names then show as numbers).
    pub fn load(path: &Path) -> Users {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        Users(
            text.lines()
                .filter_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    let uid = f.nth(1)?.parse().ok()?;
                    Some((uid, name.to_string()))
                })
                .collect(),
        )
    }

    pub fn system() -> Users {
        Users::load(Path::new("/etc/passwd"))
    }

    pub fn name(&self, uid: u32) -> String {
        self.0.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_passwd_format() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("passwd");
        std::fs::write(
            &f,
            "root:x:0:0:root:/root:/bin/bash\nbad line\nada:x:1000:1000::/home/ada:/bin/sh\n",
        )
        .expect("write");
        let u = Users::load(&f);
        assert_eq!(u.name(0), "root");
        assert_eq!(u.name(1000), "ada");
        assert_eq!(u.name(4242), "4242");
    }
}
