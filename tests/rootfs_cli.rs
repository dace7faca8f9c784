//! The headless commands against real children: output, exit codes, and the
//! one-line messages; and the article's journey (create from the host, see
//! it inside; create inside, see it from the host).

mod common;
mod rootfs_support;

use rootfs_support::*;
use std::process::{Command, Output};

fn isolab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isolab"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 1 with exactly one `isolab: ...` line on stderr containing `needle`.
fn assert_fails(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line, got: {err}");
    assert!(err.starts_with("isolab: "), "{err}");
    assert!(err.contains(needle), "wanted {needle:?} in {err}");
}

#[test]
fn ls_shows_mode_owner_size_name_and_link_targets() {
    let f = fixture("cli-ls");
    let child = chroot_child(&f);
    let pid = child.pid.to_string();
    let o = isolab(&["ls", &pid, "/etc"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let abs = out.lines().find(|l| l.contains(" abs -> ")).unwrap();
    assert!(abs.starts_with("lrwxrwxrwx 0:0 "), "{abs}");
    assert!(
        abs.ends_with(&format!("abs -> {}", f.secret.path.display())),
        "{abs}"
    );
    let hostname = out.lines().find(|l| l.ends_with(" hostname")).unwrap();
    assert!(hostname.starts_with("-rw-r--r-- 0:0 "), "{hostname}");
    assert!(hostname.contains(" 16 hostname"), "{hostname}");
    // Default path is /.
    let root = stdout(&isolab(&["ls", &pid]));
    assert!(
        root.lines()
            .any(|l| l.starts_with('d') && l.ends_with(" etc")),
        "{root}"
    );
    // ls of a symlink shows the link itself.
    let one = stdout(&isolab(&["ls", &pid, "/etc/abs_host_only"]));
    assert_eq!(one.lines().count(), 1);
    assert!(
        one.contains("abs_host_only -> /tmp/isolab-host-only-"),
        "{one}"
    );
}

#[test]
fn cat_reads_inside_and_refuses_what_would_leave() {
    let f = fixture("cli-cat");
    let child = chroot_child_with_proc(&f);
    let pid = child.pid.to_string();
    let o = isolab(&["cat", &pid, "/etc/abs"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), INSIDE_COPY);

    let o = isolab(&["cat", &pid, "/etc/abs_host_only"]);
    assert_fails(
        &o,
        "/etc/abs_host_only: no such file or directory inside process",
    );
    assert!(!stdout(&o).contains("HOST SECRET"));
    assert_fails(&isolab(&["cat", &pid, "/etc/dotdot_chain"]), "no such file");
    assert_fails(&isolab(&["cat", &pid, "/etc/loop_a"]), "symlink loop");
    let magic = isolab(&["cat", &pid, "/etc/magic_self_root"]);
    assert_fails(&magic, "magic link");
    assert!(!stdout(&magic).contains("HOST SECRET"));
    assert_fails(&isolab(&["cat", &pid, "/etc"]), "/etc: is a directory");
    assert_fails(&isolab(&["ls", &pid, "/nowhere"]), "/nowhere: no such file");

    // Large files are cut with a notice (cat's limit is far above 300 kB,
    // so this one is whole).
    let o = isolab(&["cat", &pid, "/etc/big"]);
    assert_eq!(o.stdout.len(), 300_000);
    assert!(stderr(&o).is_empty());
}

#[test]
fn touch_and_mkdir_create_inside_or_refuse() {
    let f = fixture("cli-touch");
    let child = pivot_child(&f);
    let pid = child.pid.to_string();
    let o = isolab(&["touch", &pid, "/tmp/created_by_host"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("created file /tmp/created_by_host"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains(&format!("/proc/{pid}/root/tmp/created_by_host")));
    assert!(f.inside("/tmp/created_by_host").is_file());

    assert_fails(
        &isolab(&["touch", &pid, "/tmp/created_by_host"]),
        "already exists",
    );
    assert_fails(&isolab(&["touch", &pid, "/tmp/dangling"]), "already exists");
    assert!(!f.would_be_created[0].exists());
    assert_fails(&isolab(&["touch", &pid, "/etc/outdir/new"]), "no such file");
    assert!(!f.would_be_created[1].exists());
    assert_fails(&isolab(&["touch", &pid, "/tmp/"]), "the name is empty");
    assert_fails(&isolab(&["touch", &pid, "/tmp/.."]), "'.' and '..'");

    let o = isolab(&["mkdir", &pid, "/tmp/made_dir"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(f.inside("/tmp/made_dir").is_dir());
    assert_fails(&isolab(&["mkdir", &pid, "/tmp/made_dir"]), "already exists");
    assert_fails(&isolab(&["mkdir", &pid, "/etc/loop_a/x"]), "symlink loop");

    // A missing PATH is a usage error.
    let o = isolab(&["touch", &pid]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("touch needs a PATH"));
}

#[test]
fn missing_and_exited_processes() {
    // Above the kernel's PID limit (2^22): never a real process.
    let o = isolab(&["ls", "2147483000", "/"]);
    assert_fails(&o, "no process 2147483000");
    assert_fails(&isolab(&["mounts", "2147483000"]), "no process 2147483000");
    assert_fails(
        &isolab(&["cat", "2147483000", "/etc/hostname"]),
        "no process",
    );
    // A PID that just exited and was reaped.
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id().to_string();
    c.wait().unwrap();
    assert_fails(&isolab(&["ls", &pid]), &format!("no process {pid}"));
}

#[test]
fn mounts_marks_what_the_namespace_changed() {
    let child = private_tmp_child();
    let pid = child.pid.to_string();
    let o = isolab(&["mounts", &pid]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("its own mount namespace"), "{out}");
    let tmp = out
        .lines()
        .find(|l| l.contains(" /tmp ") && l.contains("isolab-test-tmp"))
        .unwrap_or_else(|| panic!("no /tmp row in {out}"));
    assert!(tmp.starts_with("+ ") || tmp.starts_with("~ "), "{tmp}");
    // Our own mount table compared with itself is all `=`.
    let me = std::process::id().to_string();
    let own = stdout(&isolab(&["mounts", &me]));
    assert!(own.contains("same mount namespace"), "{own}");
}

/// The article's demo: a container-like child with a private /tmp; a file
/// made by the host through isolab appears inside, one made inside appears
/// in `isolab ls`, and neither touches the host's /tmp.
#[test]
fn journey_create_from_host_and_from_inside() {
    let child = private_tmp_child();
    let pid = child.pid.to_string();
    let by_host = format!("created_by_host_{}", std::process::id());
    let inside = format!("created_inside_{}", std::process::id());

    let o = isolab(&["touch", &pid, &format!("/tmp/{by_host}")]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let seen = Command::new("nsenter")
        .args(["-t", &pid, "-m", "ls", "/tmp"])
        .output()
        .unwrap();
    assert!(
        stdout(&seen).lines().any(|l| l == by_host),
        "{}",
        stdout(&seen)
    );
    assert!(!std::path::Path::new(&format!("/tmp/{by_host}")).exists());

    let made = Command::new("nsenter")
        .args(["-t", &pid, "-m", "touch", &format!("/tmp/{inside}")])
        .status()
        .unwrap();
    assert!(made.success());
    let ls = stdout(&isolab(&["ls", &pid, "/tmp"]));
    assert!(
        ls.lines().any(|l| l.ends_with(&format!(" {inside}"))),
        "{ls}"
    );
    assert!(
        ls.lines().any(|l| l.ends_with(&format!(" {by_host}"))),
        "{ls}"
    );
    assert!(!std::path::Path::new(&format!("/tmp/{inside}")).exists());
}

/// A kernel without openat2, simulated with a seccomp filter that answers
/// openat2 with ENOSYS: isolab refuses clearly instead of falling back.
#[test]
fn no_openat2_is_a_clear_refusal() {
    if !common::require(
        cfg!(target_arch = "x86_64"),
        "the seccomp filter in this test is written for x86_64",
    ) {
        return;
    }
    use std::os::unix::process::CommandExt;
    let f = fixture("cli-enosys");
    let child = chroot_child(&f);
    let pid = child.pid.to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isolab"));
    cmd.args(["cat", &pid, "/etc/abs_host_only"]);
    // SAFETY: only async-signal-safe calls (prctl) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let filter = [
                // A = syscall number
                libc::sock_filter {
                    code: 0x20,
                    jt: 0,
                    jf: 0,
                    k: 0,
                },
                // if A == openat2 fall through, else skip one
                libc::sock_filter {
                    code: 0x15,
                    jt: 0,
                    jf: 1,
                    k: libc::SYS_openat2 as u32,
                },
                // return ERRNO(ENOSYS)
                libc::sock_filter {
                    code: 0x06,
                    jt: 0,
                    jf: 0,
                    k: 0x0005_0000 | libc::ENOSYS as u32,
                },
                // return ALLOW
                libc::sock_filter {
                    code: 0x06,
                    jt: 0,
                    jf: 0,
                    k: 0x7fff_0000,
                },
            ];
            let prog = libc::sock_fprog {
                len: filter.len() as u16,
                filter: filter.as_ptr() as *mut libc::sock_filter,
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(libc::PR_SET_SECCOMP, 2, &prog as *const libc::sock_fprog) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = cmd.output().unwrap();
    assert_fails(&o, "no openat2");
    assert!(stdout(&o).is_empty());
    assert!(!stderr(&o).contains("HOST SECRET"));
}

#[test]
fn cat_cuts_a_huge_file_with_a_notice() {
    let f = fixture("cli-huge");
    std::fs::write(f.inside("/etc/huge"), vec![b'y'; 17 * 1024 * 1024]).unwrap();
    let child = chroot_child(&f);
    let o = isolab(&["cat", &child.pid.to_string(), "/etc/huge"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(o.stdout.len(), 16 * 1024 * 1024);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("/etc/huge: cut after 16 MiB (the file says 17825792 bytes)"),
        "{err}"
    );
}
