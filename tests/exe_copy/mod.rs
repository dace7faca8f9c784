//! Copying an executable that a test then runs.
//!
//! `std::fs::copy` holds the destination open for writing in this process;
//! a test on another thread that forks meanwhile inherits that fd until its
//! child execs, and running the copy then fails with ETXTBSY ("Text file
//! busy"). `cp` holds it in a process of its own, which nothing forks.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Copies `src` to `dst` (mode 0755) so that `dst` can be run at once.
pub fn copy_executable(src: impl AsRef<Path>, dst: impl AsRef<Path>) {
    let (src, dst) = (src.as_ref(), dst.as_ref());
    let status = std::process::Command::new("cp")
        .arg("--")
        .arg(src)
        .arg(dst)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cp {} {} failed",
        src.display(),
        dst.display()
    );
    std::fs::set_permissions(dst, std::fs::Permissions::from_mode(0o755))
        .expect("chmod 0755 the copy");
}
