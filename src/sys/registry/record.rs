//! The record file's shape: what one isolab process has created.

use crate::sys::paths;
use crate::sys::process::ProcessId;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What one isolab process has created and must remove. Exactly these
/// fields: a file with any other is not a record isolab wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub owner: Option<ProcessId>,
    pub children: Vec<ProcessId>,
    pub cgroups: Vec<PathBuf>,
    pub mounts: Vec<PathBuf>,
    pub temp_dirs: Vec<PathBuf>,
}

/// Where records live (`sys::paths::runtime_path`); not checked here.
pub fn registry_dir() -> PathBuf {
    paths::runtime_path()
}
