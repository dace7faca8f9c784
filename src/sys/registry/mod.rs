//! The record of everything isolab creates: children, cgroups and temp
//! dirs (and mounts: none are recorded now, but cleanup still detaches those
//! an older isolab listed, inside its temp dirs), kept in the runtime directory (`sys::paths::runtime_path`,
//! created 0700 and checked to be ours before use).
//!
//! # Who is alive
//! Every isolab process that records anything first creates a lock file
//! `<pid>-<start>-<random>.lock` and holds an exclusive `flock` on it for its
//! whole life (the kernel drops it when the process dies, however it dies).
//! Its records are `<that stem>.<n>.json`. A record is a leftover only when
//! its lock can be taken: that holds across PID namespaces, where the PID
//! and start time in a name mean nothing to the reader. Forked children
//! close the lock fd (`close_locks_in_child`) so they do not keep a dead
//! isolab looking alive.
//!
//! # What cleanup touches
//! A record is rewritten by writing a new file and renaming it over the old
//! one, so a `kill -9` at any moment leaves a complete record. Cleanup reads
//! only regular files of ours and only the exact shape isolab writes
//! (unknown fields: the record is refused and reported). Of what a record
//! lists it acts only on what it can prove isolab made (see `remove_listed`);
//! anything else is reported and left alone. The directory is ours, so only
//! our own uid can plant a record there: the remaining trust is in that uid.
//!
//! Processes are identified by PID *and* start time (field 22 of
//! /proc/PID/stat), and signalled through a pidfd opened before the start
//! time is checked, so a PID the kernel has since reused for a stranger is
//! never signalled.
//!
//! The parts: `lock` (the owner lock and who is alive), `registration`
//! (this process's live record), `record` (the file's shape), `cleanup`
//! (what is left of dead owners).
//! The one process identity is [`crate::sys::process::ProcessId`].

mod cleanup;
mod lock;
mod record;
mod registration;

pub use crate::sys::process::{ProcessId, start_time};
pub use cleanup::{
    CleanupReport, remove_leftovers, remove_leftovers_in, remove_own, remove_recorded_leftovers,
};
pub use lock::{Alive, close_locks_in_child, creator_lock_held, hold_owner_lock};
pub use record::{Record, registry_dir};
pub use registration::{Registration, records_of};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::cleanup::{record_stem, tmp_stem};
    use super::lock::is_stem;
    use super::*;
    use crate::sys::paths::Dir;

    #[test]
    fn names_have_isolab_shapes() {
        assert!(is_stem("12-34-0123456789abcdef"));
        assert!(!is_stem("12-34-0123"));
        assert!(!is_stem("../34-0123456789abcdef"));
        assert_eq!(
            record_stem("12-34-0123456789abcdef.3.json"),
            Some("12-34-0123456789abcdef")
        );
        assert_eq!(record_stem("12.json"), None);
        assert_eq!(
            tmp_stem(".12-34-0123456789abcdef.3.json.99.0.tmp"),
            Some("12-34-0123456789abcdef")
        );
    }

    #[test]
    fn unknown_fields_are_not_a_record() {
        let text =
            br#"{"owner":null,"children":[],"cgroups":[],"mounts":[],"temp_dirs":[],"kill":[1]}"#;
        assert!(serde_json::from_slice::<Record>(text).is_err());
    }

    /// A record whose lock is free (its owner gone) is removed with the
    /// temp dir it made; a live owner's (this process, lock held) is kept;
    /// a temp dir outside isolab's naming is reported and left alone.
    #[test]
    fn leftover_of_dead_owner_is_removed_live_one_kept() {
        let base = tempfile::tempdir().unwrap();
        let dir_path = base.path().join("reg");
        let dir = Dir::ensure(&dir_path).unwrap();
        let me = ProcessId::of(std::process::id() as i32).unwrap();
        let stem = "1-5-00000000000000aa";
        let own_tmp = dir_path.join(format!("tmp-{stem}-x"));
        std::fs::create_dir(&own_tmp).unwrap();
        let foreign = base.path().join("victim");
        std::fs::create_dir(&foreign).unwrap();
        let dead = Record {
            owner: Some(ProcessId {
                pid: 1,
                start_time: 5,
            }),
            temp_dirs: vec![own_tmp.clone(), foreign.clone()],
            ..Record::default()
        };
        dir.create_new(&format!("{stem}.lock")).unwrap();
        dir.write_atomic(
            &format!("{stem}.0.json"),
            &serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        let mut live = Registration::create_in(&dir_path).unwrap();
        let live_tmp = live.temp_dir("live").unwrap();
        let report = remove_leftovers_in(&dir_path).unwrap();
        assert_eq!(report.records, 1, "{report}");
        assert_eq!(report.temp_dirs_removed, 1);
        assert!(!own_tmp.exists());
        assert!(foreign.exists(), "a foreign dir was removed");
        assert!(
            report.left_alone.iter().any(|l| l.contains("victim")),
            "{report}"
        );
        assert!(!dir_path.join(format!("{stem}.0.json")).exists());
        assert!(!dir_path.join(format!("{stem}.lock")).exists());
        assert!(live_tmp.exists());
        assert_eq!(records_of(&dir_path, me.pid).len(), 1);
        live.finish().unwrap();
        assert!(!live_tmp.exists());
        assert!(records_of(&dir_path, me.pid).is_empty());
    }
}
