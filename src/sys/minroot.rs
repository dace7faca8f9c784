//! The minimal root filesystem isolab builds from what the host has:
//! a static busybox (`/bin/busybox`, Debian's busybox-static) with a symlink
//! per applet, or, without it, the host's shell and a few tools plus the
//! shared libraries they load (found with the ELF loader's `--list`, which is
//! what `ldd` runs). Built once into a temp dir and renamed into place, then
//! cached in isolab's cache directory (`sys::paths::cache_path`:
//! `/var/cache/isolab` for root, else `$XDG_CACHE_HOME/isolab`, ...), which
//! is checked, with the root in it, to be ours before use.
//!
//! Layout: bin/ (busybox + applet links, or the copied tools), dev/ with
//! empty files that the spawner binds the host's null/zero/full/random/
//! urandom/tty onto, proc/ and sys/ mount points, tmp/ (a tmpfs at run time),
//! etc/passwd, etc/group, root/.

use crate::sys::paths::Dir;
use anyhow::Context;
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Bump when the layout changes, so an old cache is not reused.
const LAYOUT_VERSION: u32 = 1;

const BUSYBOX: &str = "/bin/busybox";

/// Tools copied when there is no static busybox.
const FALLBACK_TOOLS: [&str; 12] = [
    "sh", "ls", "cat", "ps", "id", "hostname", "mount", "echo", "sleep", "true", "ip", "uname",
];

/// Where the cache lives (`sys::paths::cache_path`); checked by `ensure_in`.
pub fn cache_base() -> PathBuf {
    crate::sys::paths::cache_path()
}

/// The path of the minimal root, building it first if needed.
pub fn ensure() -> anyhow::Result<PathBuf> {
    ensure_in(&cache_base())
}

/// Which source the root is built from, and a key that changes with it.
fn source_key() -> (bool, String) {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(BUSYBOX) {
        Ok(m) if m.is_file() && is_static(Path::new(BUSYBOX)) => {
            (true, format!("busybox-{}-{}", m.size(), m.mtime()))
        }
        _ => {
            let sh = std::fs::metadata("/bin/sh").map(|m| m.mtime()).unwrap_or(0);
            (false, format!("shell-{sh}"))
        }
    }
}

/// Whether an ELF file has no PT_INTERP (no dynamic loader): static.
fn is_static(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    elf_interpreter(&bytes).is_none() && bytes.starts_with(b"\x7fELF")
}

/// The PT_INTERP of a 64-bit little-endian ELF file, if any.
pub fn elf_interpreter(bytes: &[u8]) -> Option<String> {
    if !bytes.starts_with(b"\x7fELF") || bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return None;
    }
    let u64_at = |o: usize| -> Option<u64> {
        Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?))
    };
    let u16_at = |o: usize| -> Option<u16> {
        Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?))
    };
    let phoff = u64_at(0x20)? as usize;
    let phentsize = u16_at(0x36)? as usize;
    let phnum = u16_at(0x38)? as usize;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let p_type = u32::from_le_bytes(bytes.get(ph..ph + 4)?.try_into().ok()?);
        if p_type == 3 {
            let off = u64_at(ph + 8)? as usize;
            let size = u64_at(ph + 32)? as usize;
            let raw = bytes.get(off..off + size)?;
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            return Some(String::from_utf8_lossy(&raw[..end]).into_owned());
        }
    }
    None
}

/// The minimal root under `base`, built if missing. `base` is created 0700
/// if missing, and `base`, the root and its `bin/` must be directories of
/// ours that group and others cannot write (`sys::paths`): a root someone
/// else planted (in a /tmp fallback, say) is refused, never run.
pub fn ensure_in(base: &Path) -> anyhow::Result<PathBuf> {
    let (busybox, _) = source_key();
    let base_dir = Dir::ensure(base).context("cannot use the minimal-root cache")?;
    let name = root_name();
    let root = base.join(&name);
    if base_dir.stat_name(OsStr::new(&name)).is_ok() {
        check_root(&base_dir, &name)?;
        if root.join("bin/sh").symlink_metadata().is_ok() {
            return Ok(root);
        }
    }
    let tmp_name = format!(".building-{}", std::process::id());
    let tmp = base.join(&tmp_name);
    if base_dir.stat_name(OsStr::new(&tmp_name)).is_ok() {
        std::fs::remove_dir_all(&tmp)
            .with_context(|| format!("cannot remove an old build {}", tmp.display()))?;
    }
    let built = base_dir
        .subdir(&tmp_name)
        .and_then(|_| build(&tmp, busybox));
    if let Err(e) = built {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    match base_dir.rename_noreplace(&tmp_name, &name) {
        Ok(()) => {}
        Err(_) if root.join("bin/sh").symlink_metadata().is_ok() => {
            // Another isolab built it at the same time.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e.context("cannot move the minimal root into place"));
        }
    }
    check_root(&base_dir, &name)?;
    Ok(root)
}

/// The name of the cached root in the cache directory (it changes with
/// the layout and with what the root is built from).
pub fn root_name() -> String {
    format!("minroot-v{LAYOUT_VERSION}-{}", source_key().1)
}

/// Refuses a cached root (or its `bin/`) that is not a directory of ours,
/// closed to group and others.
fn check_root(base: &Dir, name: &str) -> anyhow::Result<()> {
    let root = base.open_subdir(name)?;
    root.open_subdir("bin")?;
    Ok(())
}

fn build(dir: &Path, busybox: bool) -> anyhow::Result<()> {
    for sub in ["bin", "dev", "proc", "sys", "tmp", "etc", "root"] {
        std::fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
    }
    std::fs::set_permissions(dir.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    // Whatever the umask: the root and bin/ must pass `check_root`.
    for d in [dir.to_path_buf(), dir.join("bin")] {
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755))?;
    }
    for dev in ["null", "zero", "full", "random", "urandom", "tty"] {
        std::fs::write(dir.join("dev").join(dev), b"")?;
    }
    std::fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )?;
    std::fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    if busybox {
        build_busybox(dir)
    } else {
        build_from_shell(dir)
    }
}

fn build_busybox(dir: &Path) -> anyhow::Result<()> {
    let target = dir.join("bin/busybox");
    std::fs::copy(BUSYBOX, &target)
        .with_context(|| format!("cannot copy {BUSYBOX} into {}", target.display()))?;
    let out = Command::new(BUSYBOX)
        .arg("--list")
        .output()
        .with_context(|| format!("cannot run {BUSYBOX} --list"))?;
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        let applet = applet.trim();
        if applet.is_empty() || applet.contains('/') || applet == "busybox" {
            continue;
        }
        let link = dir.join("bin").join(applet);
        if link.symlink_metadata().is_err() {
            std::os::unix::fs::symlink("busybox", &link)?;
        }
    }
    if dir.join("bin/sh").symlink_metadata().is_err() {
        std::os::unix::fs::symlink("busybox", dir.join("bin/sh"))?;
    }
    Ok(())
}

/// Copy a file to the same absolute path under `dir`.
fn copy_into(dir: &Path, file: &Path) -> anyhow::Result<()> {
    let rel = file.strip_prefix("/").unwrap_or(file);
    let dst = dir.join(rel);
    if dst.exists() {
        return Ok(());
    }
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(file, &dst)
        .with_context(|| format!("cannot copy {} into {}", file.display(), dst.display()))?;
    Ok(())
}

/// The libraries an executable loads, from the ELF loader's `--list`.
fn libraries(exe: &Path) -> Vec<PathBuf> {
    let Ok(bytes) = std::fs::read(exe) else {
        return Vec::new();
    };
    let Some(interp) = elf_interpreter(&bytes) else {
        return Vec::new();
    };
    let mut libs = vec![PathBuf::from(&interp)];
    if let Ok(out) = Command::new(&interp).arg("--list").arg(exe).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux... (0x...)"
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.split_whitespace().next(),
                None => line.split_whitespace().next(),
            };
            if let Some(p) = path.filter(|p| p.starts_with('/')) {
                libs.push(PathBuf::from(p));
            }
        }
    }
    libs
}

fn build_from_shell(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir.join("bin"))?;
    let mut copied_any_shell = false;
    for tool in FALLBACK_TOOLS {
        let Some(found) = crate::sys::spawn::find_command(Path::new("/"), tool) else {
            continue;
        };
        let real = std::fs::canonicalize(&found).unwrap_or(found);
        let dst = dir.join("bin").join(tool);
        std::fs::copy(&real, &dst)
            .with_context(|| format!("cannot copy {} into {}", real.display(), dst.display()))?;
        for lib in libraries(&real) {
            let real_lib = std::fs::canonicalize(&lib).unwrap_or(lib.clone());
            copy_into(dir, &real_lib)?;
            if lib != real_lib {
                // Keep the name the loader asks for.
                let link = dir.join(lib.strip_prefix("/").unwrap_or(&lib));
                if link.symlink_metadata().is_err() {
                    if let Some(p) = link.parent() {
                        std::fs::create_dir_all(p)?;
                    }
                    std::os::unix::fs::symlink(&real_lib, &link)?;
                }
            }
        }
        copied_any_shell |= tool == "sh";
    }
    if !copied_any_shell {
        anyhow::bail!(
            "cannot build a minimal root: no /bin/busybox and no sh found; install busybox-static"
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_of_a_dynamic_binary() {
        let bytes = std::fs::read("/bin/ls").unwrap();
        let interp = elf_interpreter(&bytes).unwrap();
        assert!(interp.contains("ld-linux"), "{interp}");
    }

    #[test]
    fn builds_a_root_with_a_shell() {
        let dir = tempfile::tempdir().unwrap();
        let root = ensure_in(dir.path()).unwrap();
        assert!(root.join("bin/sh").symlink_metadata().is_ok());
        assert!(root.join("dev/null").exists());
        // Cached: a second call returns the same dir without rebuilding.
        assert_eq!(ensure_in(dir.path()).unwrap(), root);
    }

    #[test]
    fn shell_fallback_copies_libraries() {
        let dir = tempfile::tempdir().unwrap();
        build_from_shell(dir.path()).unwrap();
        assert!(dir.path().join("bin/sh").exists());
        let interp = elf_interpreter(&std::fs::read("/bin/ls").unwrap()).unwrap();
        assert!(dir.path().join(interp.trim_start_matches('/')).exists());
    }
}
