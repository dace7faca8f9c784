//! Recognising containers and pods from a process's cgroup paths.

use crate::sys::procs::CgroupLine;
use serde::Serialize;

/// Which runtime (or orchestrator) a cgroup path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Runtime {
    Docker,
    Podman,
    Containerd,
    CriO,
    Kubernetes,
    Lxc,
    Nspawn,
    /// A child that isolab itself spawned.
    Isolab,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Kubernetes => "kubernetes",
            Runtime::Lxc => "lxc",
            Runtime::Nspawn => "nspawn",
            Runtime::Isolab => "isolab",
        }
    }
}

/// A recognised container: the runtime, its id (full, as in the path) and,
/// for Kubernetes, the pod uid and QoS class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Container {
    pub runtime: Runtime,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos: Option<String>,
}

impl Container {
    /// The first 12 characters of a hex id, as `docker ps` shows it; names
    /// (LXC, nspawn) are returned whole.
    pub fn short_id(&self) -> &str {
        let hex = self.id.len() >= 32 && self.id.bytes().all(|b| b.is_ascii_hexdigit());
        if hex { &self.id[..12] } else { &self.id }
    }
}

/// Recognises the container or pod a process belongs to from its cgroup
/// lines: the v2 line first, then the v1 lines in order; the first line whose
/// path names a container wins. `None` for a plain host process.
pub fn recognise(lines: &[CgroupLine]) -> Option<Container> {
    let v2 = lines.iter().filter(|l| l.is_v2());
    let v1 = lines.iter().filter(|l| !l.is_v2());
    v2.chain(v1).find_map(|l| recognise_path(&l.path))
}

/// Recognises one cgroup path. Segments are read from the root down and a
/// deeper match overrides a shallower one, so nested containers
/// (docker-in-docker, kind nodes) resolve to the innermost container.
pub fn recognise_path(path: &str) -> Option<Container> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut found: Option<Container> = None;
    // Set once a Kubernetes pod segment is seen: (pod uid, QoS class).
    let mut pod: Option<(String, String)> = None;
    let mut in_kubepods = false;
    let mut qos_dir: Option<&str> = None;
    for (i, seg) in segments.iter().enumerate() {
        let next = segments.get(i + 1).copied();
        if seg.contains("kubepods") {
            in_kubepods = true;
        }
        if in_kubepods && let Some(p) = pod_segment(seg, qos_dir) {
            pod = Some(p.clone());
            found = Some(Container {
                runtime: Runtime::Kubernetes,
                id: p.0.clone(),
                pod: Some(p.0),
                qos: Some(p.1),
            });
            continue;
        }
        if in_kubepods && matches!(*seg, "burstable" | "besteffort") {
            qos_dir = Some(seg);
            continue;
        }
        let hit = match_segment(seg, next).or_else(|| {
            // In a cgroupfs-driver pod, the container is a bare hex id.
            pod.as_ref()
                .filter(|_| is_hex_id(seg))
                .map(|_| (Runtime::Kubernetes, seg.to_string()))
        });
        if let Some((runtime, id)) = hit {
            found = Some(match &pod {
                Some((uid, qos)) => Container {
                    runtime: Runtime::Kubernetes,
                    id,
                    pod: Some(uid.clone()),
                    qos: Some(qos.clone()),
                },
                None => Container {
                    runtime,
                    id,
                    pod: None,
                    qos: None,
                },
            });
        }
    }
    found
}

/// A Kubernetes pod segment: `pod<uid>` (cgroupfs driver, below
/// `kubepods[/burstable|/besteffort]`) or
/// `kubepods[-burstable|-besteffort]-pod<uid_with_underscores>.slice`
/// (systemd driver; `kubelet-kubepods-...` under kind). Returns (uid, QoS).
fn pod_segment(seg: &str, qos_dir: Option<&str>) -> Option<(String, String)> {
    if let Some(uid) = seg.strip_prefix("pod")
        && looks_like_uid(uid)
    {
        return Some((uid.to_string(), qos_dir.unwrap_or("guaranteed").to_string()));
    }
    let slice = seg.strip_suffix(".slice")?;
    let at = slice.find("kubepods")?;
    let rest = &slice[at + "kubepods".len()..];
    let (qos, uid) = if let Some(uid) = rest.strip_prefix("-burstable-pod") {
        ("burstable", uid)
    } else if let Some(uid) = rest.strip_prefix("-besteffort-pod") {
        ("besteffort", uid)
    } else if let Some(uid) = rest.strip_prefix("-pod") {
        ("guaranteed", uid)
    } else {
        return None;
    };
    let uid = uid.replace('_', "-");
    looks_like_uid(&uid).then(|| (uid, qos.to_string()))
}

fn looks_like_uid(s: &str) -> bool {
    s.len() >= 32
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_')
}

/// A container id: at least 12 hex digits (docker uses 64).
fn is_hex_id(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `<prefix><hex>` or `<prefix><hex>.scope`, returning the hex id.
fn scoped_id<'a>(seg: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = seg.strip_prefix(prefix)?;
    let id = rest.strip_suffix(".scope").unwrap_or(rest);
    is_hex_id(id).then_some(id)
}

/// One segment (with the next one for `docker/<id>`-style pairs) naming a
/// container: the runtime and the id or name.
fn match_segment(seg: &str, next: Option<&str>) -> Option<(Runtime, String)> {
    // The monitors (conmon, lxc.monitor) run beside the container, not in it.
    if seg.starts_with("libpod-conmon-") || seg.starts_with("crio-conmon-") {
        return None;
    }
    let pair = |name: &str| -> Option<String> {
        (seg == name).then_some(next).flatten().map(str::to_string)
    };
    if let Some(id) = pair("docker").filter(|id| is_hex_id(id)) {
        return Some((Runtime::Docker, id));
    }
    if let Some(id) = scoped_id(seg, "docker-") {
        return Some((Runtime::Docker, id.to_string()));
    }
    if let Some(id) = scoped_id(seg, "libpod-") {
        return Some((Runtime::Podman, id.to_string()));
    }
    if let Some(id) = scoped_id(seg, "cri-containerd-") {
        return Some((Runtime::Containerd, id.to_string()));
    }
    if let Some(id) = pair("k8s.io").filter(|id| is_hex_id(id)) {
        return Some((Runtime::Containerd, id));
    }
    if let Some(id) = scoped_id(seg, "crio-") {
        return Some((Runtime::CriO, id.to_string()));
    }
    if let Some(name) = pair("lxc") {
        return Some((Runtime::Lxc, name));
    }
    if let Some(name) = seg.strip_prefix("lxc.payload.").filter(|n| !n.is_empty()) {
        return Some((Runtime::Lxc, name.to_string()));
    }
    if let Some(name) = seg
        .strip_prefix("machine-")
        .and_then(|s| s.strip_suffix(".scope"))
    {
        let name = unescape_unit(name);
        // libvirt's VMs and libvirt-lxc guests share the machine.slice naming.
        if name.starts_with("qemu-") || name.starts_with("lxc-") {
            return None;
        }
        return Some((Runtime::Nspawn, name));
    }
    if let Some(name) = pair("isolab") {
        return Some((Runtime::Isolab, name));
    }
    None
}

/// Undoes systemd's unit-name escaping (`\x2d` for `-`, and so on).
fn unescape_unit(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && bytes.get(i + 1) == Some(&b'x')
            && let Some(hex) = name.get(i + 2..i + 4)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const D: &str = "4c6b5f3a9e2d1c0b8a7f6e5d4c3b2a190817263544536271809a8b7c6d5e4f3a";
    const E: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn c(runtime: Runtime, id: &str) -> Option<Container> {
        Some(Container {
            runtime,
            id: id.to_string(),
            pod: None,
            qos: None,
        })
    }

    fn k8s(id: &str, pod: &str, qos: &str) -> Option<Container> {
        Some(Container {
            runtime: Runtime::Kubernetes,
            id: id.to_string(),
            pod: Some(pod.to_string()),
            qos: Some(qos.to_string()),
        })
    }

    #[test]
    fn real_world_cgroup_paths() {
        let pod = "8d2b7c1e-4f3a-4b5c-9d6e-7f8a9b0c1d2e";
        let pod_us = "8d2b7c1e_4f3a_4b5c_9d6e_7f8a9b0c1d2e";
        let table: Vec<(String, Option<Container>)> = vec![
            // docker, cgroupfs driver (v1 and v2 look alike)
            (format!("/docker/{D}"), c(Runtime::Docker, D)),
            // docker, systemd driver
            (
                format!("/system.slice/docker-{D}.scope"),
                c(Runtime::Docker, D),
            ),
            // docker-in-docker: the innermost container wins
            (format!("/docker/{D}/docker/{E}"), c(Runtime::Docker, E)),
            (
                format!("/system.slice/docker-{D}.scope/docker/{E}"),
                c(Runtime::Docker, E),
            ),
            // the docker daemon itself is no container
            ("/system.slice/docker.service".into(), None),
            // podman, rootful and rootless (systemd), and the conmon beside it
            (
                format!("/machine.slice/libpod-{D}.scope"),
                c(Runtime::Podman, D),
            ),
            (
                format!("/machine.slice/libpod-{D}.scope/container"),
                c(Runtime::Podman, D),
            ),
            (
                format!(
                    "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{D}.scope"
                ),
                c(Runtime::Podman, D),
            ),
            (format!("/machine.slice/libpod-conmon-{D}.scope"), None),
            (format!("/libpod_parent/libpod-{D}"), c(Runtime::Podman, D)),
            // containerd (systemd driver outside Kubernetes; ctr/nerdctl k8s.io namespace)
            (
                format!("/system.slice/cri-containerd-{D}.scope"),
                c(Runtime::Containerd, D),
            ),
            (format!("/k8s.io/{D}"), c(Runtime::Containerd, D)),
            // cri-o
            (
                format!("/machine.slice/crio-{D}.scope"),
                c(Runtime::CriO, D),
            ),
            (format!("/machine.slice/crio-conmon-{D}.scope"), None),
            // Kubernetes, cgroupfs driver, every QoS class
            (
                format!("/kubepods/burstable/pod{pod}/{D}"),
                k8s(D, pod, "burstable"),
            ),
            (
                format!("/kubepods/besteffort/pod{pod}/{D}"),
                k8s(D, pod, "besteffort"),
            ),
            (format!("/kubepods/pod{pod}/{D}"), k8s(D, pod, "guaranteed")),
            (
                format!("/kubepods/burstable/pod{pod}"),
                k8s(pod, pod, "burstable"),
            ),
            // Kubernetes, systemd driver, with each runtime below the pod
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{pod_us}.slice/cri-containerd-{D}.scope"
                ),
                k8s(D, pod, "burstable"),
            ),
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{pod_us}.slice/crio-{D}.scope"
                ),
                k8s(D, pod, "besteffort"),
            ),
            (
                format!("/kubepods.slice/kubepods-pod{pod_us}.slice/docker-{D}.scope"),
                k8s(D, pod, "guaranteed"),
            ),
            // kind: a Kubernetes node inside a docker container
            (
                format!(
                    "/docker/{E}/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod{pod_us}.slice/cri-containerd-{D}.scope"
                ),
                k8s(D, pod, "besteffort"),
            ),
            (
                format!("/docker/{E}/system.slice/containerd.service"),
                c(Runtime::Docker, E),
            ),
            // LXC (v1 layout, v2 payload layout, and the monitor beside it)
            ("/lxc/web01".into(), c(Runtime::Lxc, "web01")),
            ("/lxc.payload.web01".into(), c(Runtime::Lxc, "web01")),
            (
                "/lxc.payload.web01/system.slice/cron.service".into(),
                c(Runtime::Lxc, "web01"),
            ),
            ("/lxc.monitor.web01".into(), None),
            // systemd-nspawn (unit-name escaping), not libvirt's qemu
            (
                "/machine.slice/machine-debian\\x2dbox.scope".into(),
                c(Runtime::Nspawn, "debian-box"),
            ),
            (
                "/machine.slice/machine-qemu\\x2d1\\x2dvm1.scope".into(),
                None,
            ),
            // isolab's own children
            ("/isolab/lab-4242".into(), c(Runtime::Isolab, "lab-4242")),
            (
                "/system.slice/isolab/lab-7".into(),
                c(Runtime::Isolab, "lab-7"),
            ),
            // plain host processes
            ("/".into(), None),
            ("/user.slice/user-1000.slice/session-2.scope".into(), None),
            ("/system.slice/sshd.service".into(), None),
            ("/init.scope".into(), None),
        ];
        for (path, want) in table {
            assert_eq!(recognise_path(&path), want, "path {path}");
        }
    }

    #[test]
    fn v2_line_first_then_v1() {
        let line = |hierarchy, ctl: &[&str], path: &str| CgroupLine {
            hierarchy,
            controllers: ctl.iter().map(|s| s.to_string()).collect(),
            path: path.to_string(),
        };
        // Hybrid host: v2 shows "/", the v1 memory line names the container.
        let hybrid = [
            line(4, &["memory"], &format!("/docker/{D}")),
            line(0, &[], "/"),
        ];
        assert_eq!(recognise(&hybrid), c(Runtime::Docker, D));
        let both = [
            line(4, &["memory"], "/isolab/lab-1"),
            line(0, &[], &format!("/system.slice/docker-{E}.scope")),
        ];
        assert_eq!(recognise(&both), c(Runtime::Docker, E));
        assert_eq!(recognise(&[line(0, &[], "/init.scope")]), None);
    }

    #[test]
    fn short_ids() {
        assert_eq!(c(Runtime::Docker, D).unwrap().short_id(), &D[..12]);
        assert_eq!(c(Runtime::Lxc, "web01").unwrap().short_id(), "web01");
    }
}
#[cfg(test)]
mod seed_tests {
    use super::*;

    const HEX: &str = "3f4e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
    const HEX2: &str = "aaaabbbbccccddddeeeeffff00001111222233334444555566667777888899990";

    fn check(path: &str, runtime: Runtime, id: &str) {
        let c = recognise_path(path).unwrap_or_else(|| panic!("not recognised: {path}"));
        assert_eq!(c.runtime, runtime, "{path}");
        assert_eq!(c.id, id, "{path}");
    }

    #[test]
    fn recognises_every_runtime() {
        let table: Vec<(String, Runtime, String)> = vec![
            (format!("/docker/{HEX}"), Runtime::Docker, HEX.into()),
            (
                format!("/system.slice/docker-{HEX}.scope"),
                Runtime::Docker,
                HEX.into(),
            ),
            // docker-in-docker: the inner container wins
            (
                format!("/docker/{HEX}/docker/{HEX2}"),
                Runtime::Docker,
                HEX2.into(),
            ),
            (
                format!("/machine.slice/libpod-{HEX}.scope"),
                Runtime::Podman,
                HEX.into(),
            ),
            (
                format!(
                    "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{HEX}.scope/container"
                ),
                Runtime::Podman,
                HEX.into(),
            ),
            (
                format!("/libpod_parent/libpod-{HEX}"),
                Runtime::Podman,
                HEX.into(),
            ),
            (
                format!("/system.slice/cri-containerd-{HEX}.scope"),
                Runtime::Containerd,
                HEX.into(),
            ),
            (format!("/k8s.io/{HEX}"), Runtime::Containerd, HEX.into()),
            (
                format!("/machine.slice/crio-{HEX}.scope"),
                Runtime::CriO,
                HEX.into(),
            ),
            ("/lxc/web01".into(), Runtime::Lxc, "web01".into()),
            ("/lxc.payload.web01".into(), Runtime::Lxc, "web01".into()),
            (
                "/machine.slice/machine-my\\x2dbox.scope/payload".into(),
                Runtime::Nspawn,
                "my-box".into(),
            ),
            (
                "/isolab/4242-lab".into(),
                Runtime::Isolab,
                "4242-lab".into(),
            ),
        ];
        for (path, runtime, id) in table {
            check(&path, runtime, &id);
        }
    }

    #[test]
    fn recognises_kubernetes_pods_with_both_drivers() {
        let uid = "0d2f3c4b-1a2b-4c5d-8e9f-0a1b2c3d4e5f";
        let uid_ = uid.replace('-', "_");
        let cases = [
            (format!("/kubepods/burstable/pod{uid}/{HEX}"), "burstable"),
            (format!("/kubepods/besteffort/pod{uid}/{HEX}"), "besteffort"),
            (format!("/kubepods/pod{uid}/{HEX}"), "guaranteed"),
            (
                format!(
                    "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/cri-containerd-{HEX}.scope"
                ),
                "burstable",
            ),
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/crio-{HEX}.scope"
                ),
                "besteffort",
            ),
            (
                format!("/kubepods.slice/kubepods-pod{uid_}.slice/docker-{HEX}.scope"),
                "guaranteed",
            ),
        ];
        for (path, qos) in cases {
            let c = recognise_path(&path).unwrap_or_else(|| panic!("not recognised: {path}"));
            assert_eq!(c.runtime, Runtime::Kubernetes, "{path}");
            assert_eq!(c.pod.as_deref(), Some(uid), "{path}");
            assert_eq!(c.qos.as_deref(), Some(qos), "{path}");
            assert_eq!(c.id, HEX, "{path}");
        }
    }

    #[test]
    fn ordinary_host_paths_are_not_containers() {
        for path in [
            "/",
            "/user.slice/user-1000.slice/session-3.scope",
            "/system.slice/sshd.service",
            "/init.scope",
            "/docker",
        ] {
            assert_eq!(recognise_path(path), None, "{path}");
        }
    }

    #[test]
    fn short_id_is_twelve_hex_chars() {
        let c = recognise_path(&format!("/docker/{HEX}")).expect("docker");
        assert_eq!(c.short_id(), &HEX[..12]);
        let lxc = recognise_path("/lxc/web01").expect("lxc");
        assert_eq!(lxc.short_id(), "web01");
    }
}
