//! Safe access to a process's root filesystem, from the host.
//!
//! The naive way, `/proc/PID/root/etc/link`, is a trap: the kernel follows
//! `/proc/PID/root` into the process's root, but an absolute symlink found
//! there (`link -> /etc/shadow`) is resolved against *our* root, so the host's
//! file comes back. So every path here is resolved by the kernel with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` starting from an O_PATH
//! fd of the process's root: absolute links and `..` stay inside, and magic
//! links (`/proc/self/root`, `/proc/N/fd/M`) are refused outright.
//!
//! A `ProcRoot` holds the `/proc/PID` directory fd and a pidfd, so a PID that
//! is reused by another process is never followed: once the process exits,
//! every call says so and stops.
//!
//! The parts: `proc_root` ([`ProcRoot`], the only code that opens a path),
//! `entry` (what one directory entry is), `listing` (a directory's
//! entries, compact), `content` (a file's head), `error` (RootfsError, name checks) and
//! `path` (lexical joins and splits).

mod content;
mod entry;
mod error;
mod listing;
mod path;
mod proc_root;

pub use content::{FileContent, hex_lines, looks_binary};
pub use entry::{Entry, FileKind, IdMap, IdRange, OVERFLOW_ID, UserNs, mode_string};
pub use error::{NameProblem, Pid, RootfsError, validate_new_name};
pub use listing::{DirList, DirStamp, ListLimits, Listing, PROGRESS_EVERY};
pub use path::{join, parent};
pub use proc_root::ProcRoot;

#[cfg(test)]
mod tests {
    use super::path::split_parent;
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate_new_name("created_by_host").is_ok());
        let problem = |n: &str| match validate_new_name(n) {
            Err(RootfsError::BadName { problem, .. }) => Some(problem),
            _ => None,
        };
        assert_eq!(problem(""), Some(NameProblem::Empty));
        assert_eq!(problem("a/b"), Some(NameProblem::ContainsSlash));
        assert_eq!(problem("."), Some(NameProblem::DotOrDotDot));
        assert_eq!(problem(".."), Some(NameProblem::DotOrDotDot));
        assert_eq!(problem("a\0b"), Some(NameProblem::ContainsNul));
        assert!(problem("..hidden").is_none());
    }

    #[test]
    fn modes_render_like_ls() {
        assert_eq!(mode_string(libc::S_IFDIR | 0o755), "drwxr-xr-x");
        assert_eq!(mode_string(libc::S_IFREG | 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string(libc::S_IFDIR | 0o1777), "drwxrwxrwt");
        assert_eq!(mode_string(libc::S_IFLNK | 0o777), "lrwxrwxrwx");
        assert_eq!(mode_string(libc::S_IFREG | 0o2640), "-rw-r-S---");
    }

    #[test]
    fn id_maps_translate_and_report_unmapped() {
        let map = IdMap::parse("         0     100000      65536\n");
        assert_eq!(map.to_inside(100000), Some(0));
        assert_eq!(map.to_inside(101000), Some(1000));
        assert_eq!(map.to_inside(0), None);
        assert_eq!(map.to_inside(165536), None);
        assert!(IdMap::parse("0 0 4294967295").is_identity());
        assert!(!map.is_identity());
    }

    #[test]
    fn binary_detection_and_hex() {
        assert!(!looks_binary(b"hello\n", false));
        assert!(looks_binary(b"\x7fELF\0\0", false));
        assert!(looks_binary(b"\xff\xfe", false));
        // "é" cut in half at the end of a truncated read is still text.
        assert!(!looks_binary(&"abé".as_bytes()[..3], true));
        assert!(looks_binary(&"abé".as_bytes()[..3], false));
        let lines = hex_lines(b"\x7fELF hello world!");
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("00000000  7f 45 4c 46 "));
        assert!(lines[0].ends_with("|.ELF hello world|"));
        assert!(lines[1].starts_with("00000010  21 "));
    }

    #[test]
    fn paths_split_and_join() {
        assert_eq!(split_parent("/tmp/x", false), ("/tmp".into(), "x".into()));
        assert_eq!(split_parent("/x", false), ("/".into(), "x".into()));
        assert_eq!(split_parent("x", false), ("/".into(), "x".into()));
        assert_eq!(split_parent("/tmp/x/", false), ("/tmp/x".into(), "".into()));
        assert_eq!(split_parent("/tmp/x/", true), ("/tmp".into(), "x".into()));
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/tmp", "a"), "/tmp/a");
        assert_eq!(parent("/tmp/a"), "/tmp");
        assert_eq!(parent("/tmp"), "/");
        assert_eq!(parent("/"), "/");
    }

    #[test]
    fn compact_listing_sorts_finds_and_measures() {
        let e = |name: &str, uid: u32, size: u64, link: Option<&str>| Entry {
            name: name.into(),
            kind: FileKind::File,
            mode: libc::S_IFREG | 0o644,
            size,
            inode: 7,
            uid,
            gid: 0,
            uid_inside: None,
            gid_inside: None,
            unmapped: false,
            link_target: link.map(String::from),
            mtime: 5,
        };
        let userns = UserNs {
            uid_map: IdMap::parse("0 100000 65536"),
            gid_map: IdMap::parse("0 0 1"),
        };
        let list = DirList::from_entries(
            "/d",
            "/proc/1/root/d".into(),
            &[
                e("zeta", 101000, 12345, None),
                e("alpha", 100000, 1, Some("/x")),
                e("mid", 5, 0, None),
            ],
            Some(userns),
        );
        assert_eq!(list.len(), 3);
        assert_eq!(
            (0..3).map(|i| list.name(i)).collect::<Vec<_>>(),
            ["alpha", "mid", "zeta"]
        );
        assert_eq!(list.position("mid"), Some(1));
        assert_eq!(list.position("nope"), None);
        let alpha = list.entry(0).expect("alpha");
        assert_eq!(alpha.link_target.as_deref(), Some("/x"));
        assert_eq!((alpha.uid_inside, alpha.gid_inside), (Some(0), Some(0)));
        let mid = list.entry(1).expect("mid");
        assert!(mid.unmapped && mid.uid_inside == Some(OVERFLOW_ID));
        assert_eq!(list.entry(2).expect("zeta").link_target, None);
        // The widest columns, measured once.
        let widest = (0..3)
            .filter_map(|i| list.entry(i))
            .map(|e| e.owner_text().len())
            .max();
        assert_eq!(Some(list.owner_width), widest);
        assert_eq!(list.size_width, 5);
    }
}
