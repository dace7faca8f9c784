//! User names for uids: from the system's user database through NSS
//! (`getpwuid_r`, so LDAP or systemd-homed users have names too), asked
//! once per uid and cached; or from an /etc/passwd-format file (fixtures).

use nix::unistd::{Uid, User};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// NSS answers by uid (`None`: no such user), shared by a table's clones.
type NssCache = Arc<Mutex<HashMap<u32, Option<String>>>>;

/// uid -> name. Unknown uids print as the number. Clones share one cache.
#[derive(Clone, Debug, Default)]
pub struct Users {
    /// Names known up front (read from a passwd-format file).
    table: HashMap<u32, String>,
    /// When set, uids not in `table` are looked up through NSS; every
    /// answer (a miss too) is kept, since a lookup may cost a network trip.
    nss: Option<NssCache>,
}

impl Users {
    /// Loads the passwd file at `path`; a missing or unreadable file gives
    /// an empty table (names then show as numbers). No NSS lookups.
    pub fn load(path: &Path) -> Users {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        Users {
            table: text
                .lines()
                .filter_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    let uid = f.nth(1)?.parse().ok()?;
                    Some((uid, name.to_string()))
                })
                .collect(),
            nss: None,
        }
    }

    /// The system's users, through NSS, looked up as they are asked for.
    pub fn system() -> Users {
        Users {
            table: HashMap::new(),
            nss: Some(Arc::default()),
        }
    }

    pub fn name(&self, uid: u32) -> String {
        if let Some(name) = self.table.get(&uid) {
            return name.clone();
        }
        let Some(cache) = &self.nss else {
            return uid.to_string();
        };
        // A poisoned cache only means another thread panicked mid-insert:
        // the map itself is still whole.
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(uid)
            .or_insert_with(|| {
                User::from_uid(Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .clone()
            .unwrap_or_else(|| uid.to_string())
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

    #[test]
    fn system_users_come_from_nss_and_are_cached() {
        let u = Users::system();
        // uid 0 is root in every user database isolab runs against.
        assert_eq!(u.name(0), "root");
        // A uid no database has (the overflow id's neighbour) prints as a number.
        assert_eq!(u.name(4_000_000_123), "4000000123");
        let shared = u.clone();
        let cache = shared.nss.as_ref().expect("nss");
        let cached = cache.lock().expect("cache").clone();
        assert_eq!(cached.get(&0), Some(&Some("root".to_string())));
        assert_eq!(cached.get(&4_000_000_123), Some(&None));
    }

    #[test]
    fn the_default_table_is_numbers_only() {
        assert_eq!(Users::default().name(0), "0");
    }
}
