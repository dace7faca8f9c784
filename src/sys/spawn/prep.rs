//! What is made before the fork: everything the children need, allocated
//! while allocating is still free of post-fork rules, and the cgroup.

use super::plan::{ChildCommand, Plan, RootFs, find_command};
use crate::sys::cgroup::{Limit, OwnedCgroup};
use crate::sys::registry::Registration;
use anyhow::Context;
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::Path;

/// Everything the child needs, prepared (allocated) before the fork.
pub(crate) struct ChildPrep {
    /// The program's path, found before the fork in the root it runs in
    /// (`find_command`: a host path, or the path inside another root), so
    /// what was checked is what is exec'd; `None`: search PATH (init).
    pub(super) program: Option<CString>,
    pub(super) root: Option<CString>,
    pub(super) minimal: bool,
    pub(super) argv: Vec<CString>,
    pub(super) hostname: Option<CString>,
    /// /dev/null, opened before the fork (the new root may lack it).
    pub(super) null: Option<OwnedFd>,
    /// PATH is unset here: the command gets the default one. Read before
    /// the fork, as `std::env` takes a lock another thread may hold.
    pub(super) default_path: bool,
}

impl ChildPrep {
    /// Resolve the root and the program (a usage error when the program
    /// is not in the minimal root) and turn every string into a C string.
    pub(super) fn new(plan: &Plan) -> anyhow::Result<ChildPrep> {
        let root = match &plan.rootfs {
            RootFs::Host => None,
            RootFs::Minimal => Some(crate::sys::minroot::ensure()?),
            RootFs::Dir(d) => Some(
                d.canonicalize()
                    .with_context(|| format!("cannot resolve the root {}", d.display()))?,
            ),
        };
        // The program is found before the fork, inside the root it will run
        // in, and exactly that path is exec'd: what is checked is what runs.
        let program = match &plan.command {
            ChildCommand::Exec(argv) => {
                let name = argv.first().map(String::as_str).unwrap_or("");
                let found = find_command(root.as_deref().unwrap_or(Path::new("/")), name);
                if found.is_none() && plan.rootfs == RootFs::Minimal {
                    return crate::usage(format!(
                        "command not found in the minimal root: {name} (it has busybox applets)"
                    ));
                }
                found.and_then(|p| CString::new(p.into_os_string().into_encoded_bytes()).ok())
            }
            ChildCommand::Init => None,
        };
        Ok(ChildPrep {
            program,
            root: root
                .as_ref()
                .map(|r| CString::new(r.as_os_str().as_encoded_bytes()))
                .transpose()?,
            minimal: plan.rootfs == RootFs::Minimal,
            argv: match &plan.command {
                ChildCommand::Init => Vec::new(),
                ChildCommand::Exec(argv) => argv
                    .iter()
                    .map(|a| CString::new(a.as_bytes()))
                    .collect::<Result<_, _>>()?,
            },
            hostname: plan
                .hostname
                .as_ref()
                .map(|h| CString::new(h.as_bytes()))
                .transpose()?,
            null: if plan.null_stdio {
                Some(
                    std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open("/dev/null")
                        .context("cannot open /dev/null")?
                        .into(),
                )
            } else {
                None
            },
            default_path: std::env::var_os("PATH").is_none(),
        })
    }
}

fn next_seq() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// The cgroup the setup process joins, recorded in `registration`: the
/// memory limit's, or (no PID namespace) one that only tracks descendants.
/// On an error the caller finishes the record (nothing is left then).
pub(super) fn create_cgroup(
    plan: &Plan,
    registration: &mut Registration,
) -> anyhow::Result<Option<OwnedCgroup>> {
    match plan.memory_bytes {
        // Best effort: a user who may not create cgroups (not root) or a
        // host without a memory hierarchy runs untracked, as before.
        None if plan.tracks_descendants() => {
            match OwnedCgroup::create(&format!("run{}", next_seq()), None) {
                Ok(c) => match registration.add_cgroup(c.path()) {
                    Ok(()) => Ok(Some(c)),
                    Err(e) => {
                        let _ = c.remove();
                        Err(e)
                    }
                },
                Err(_) => Ok(None),
            }
        }
        Some(bytes) => {
            match OwnedCgroup::create(&format!("run{}", next_seq()), Some(Limit::Bytes(bytes))) {
                Ok(c) => {
                    registration.add_cgroup(c.path())?;
                    Ok(Some(c))
                }
                Err(e) => {
                    Err(e.context("cannot create the memory cgroup for --memory (needs root)"))
                }
            }
        }
        None => Ok(None),
    }
}
