//! Recognising containers and pods from a process's cgroup paths.

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

use crate::sys::procs::CgroupLine;

/// Recognises the container (or pod) a process belongs to from its cgroup
/// lines. The deepest recognisable component wins, so docker-in-docker
/// reports the inner container. Lines are tried in order; the first that
/// names a container decides.
pub fn recognise(lines: &[CgroupLine]) -> Option<Container> {
    lines.iter().find_map(|l| recognise_path(&l.path))
}

/// Recognises one cgroup path (see `recognise`).
pub fn recognise_path(path: &str) -> Option<Container> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if let Some(pod) = kubernetes(&parts) {
        return Some(pod);
    }
    // Walk from the deepest component up: nested runtimes report the innermost.
    for (i, part) in parts.iter().enumerate().rev() {
        let parent = if i > 0 { parts[i - 1] } else { "" };
        if let Some(c) = component(parent, part) {
            return Some(c);
        }
    }
    None
}

fn container(runtime: Runtime, id: &str) -> Container {
    Container {
        runtime,
        id: id.to_string(),
        pod: None,
        qos: None,
    }
}

fn is_hex_id(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `prefix<hex>.scope` -> hex.
fn scoped<'a>(part: &'a str, prefix: &str) -> Option<&'a str> {
    let id = part.strip_prefix(prefix)?.strip_suffix(".scope")?;
    is_hex_id(id).then_some(id)
}

/// systemd escapes `-` in unit names as `\x2d`.
fn unescape_unit(s: &str) -> String {
    s.replace("\\x2d", "-")
}

fn component(parent: &str, part: &str) -> Option<Container> {
    if let Some(id) = scoped(part, "docker-") {
        return Some(container(Runtime::Docker, id));
    }
    if parent == "docker" && is_hex_id(part) {
        return Some(container(Runtime::Docker, part));
    }
    if let Some(id) = scoped(part, "libpod-") {
        return Some(container(Runtime::Podman, id));
    }
    if let Some(id) = part.strip_prefix("libpod-").filter(|id| is_hex_id(id)) {
        return Some(container(Runtime::Podman, id));
    }
    if let Some(id) = scoped(part, "cri-containerd-") {
        return Some(container(Runtime::Containerd, id));
    }
    if parent == "k8s.io" && is_hex_id(part) {
        return Some(container(Runtime::Containerd, part));
    }
    if let Some(id) = scoped(part, "crio-") {
        return Some(container(Runtime::CriO, id));
    }
    if parent == "lxc" && !part.is_empty() {
        return Some(container(Runtime::Lxc, part));
    }
    if let Some(name) = part
        .strip_prefix("lxc.payload.")
        .or_else(|| part.strip_prefix("lxc.payload/"))
    {
        return Some(container(Runtime::Lxc, name));
    }
    if let Some(name) = part
        .strip_prefix("machine-")
        .and_then(|n| n.strip_suffix(".scope"))
    {
        return Some(container(Runtime::Nspawn, &unescape_unit(name)));
    }
    if parent == "isolab" {
        return Some(container(Runtime::Isolab, part));
    }
    None
}

/// Kubernetes pods, cgroupfs driver (`/kubepods/burstable/pod<uid>/<id>`,
/// guaranteed pods sit directly under `/kubepods/pod<uid>`) and systemd
/// driver (`kubepods-burstable-pod<uid_with_underscores>.slice/<runtime>-<id>.scope`).
fn kubernetes(parts: &[&str]) -> Option<Container> {
    let start = parts
        .iter()
        .position(|p| *p == "kubepods" || *p == "kubepods.slice")?;
    let mut qos = "guaranteed".to_string();
    let mut pod = None;
    let mut id = None;
    for part in &parts[start + 1..] {
        let systemd = part
            .strip_prefix("kubepods-")
            .and_then(|p| p.strip_suffix(".slice"));
        if let Some(rest) = systemd {
            // kubepods-burstable.slice, kubepods-burstable-pod<uid>.slice, kubepods-pod<uid>.slice
            let (class, pod_part) = match rest.split_once("-pod") {
                Some((class, uid)) => (Some(class), Some(uid)),
                None if rest.starts_with("pod") => (None, rest.strip_prefix("pod")),
                None => (Some(rest), None),
            };
            if let Some(class) = class.filter(|c| !c.starts_with("pod")) {
                qos = class.to_string();
            }
            if let Some(uid) = pod_part {
                pod = Some(uid.replace('_', "-"));
            }
        } else if *part == "burstable" || *part == "besteffort" {
            qos = part.to_string();
        } else if let Some(uid) = part.strip_prefix("pod") {
            pod = Some(uid.to_string());
        } else if pod.is_some() {
            let cid = ["cri-containerd-", "crio-", "docker-", "cri-dockerd-"]
                .iter()
                .find_map(|p| scoped(part, p))
                .or(is_hex_id(part).then_some(*part));
            if let Some(cid) = cid {
                id = Some(cid.to_string());
            }
        }
    }
    let pod = pod?;
    Some(Container {
        runtime: Runtime::Kubernetes,
        id: id.unwrap_or_else(|| format!("pod{pod}")),
        pod: Some(pod),
        qos: Some(qos),
    })
}

#[cfg(test)]
mod tests {
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
