//! (being written)
#![allow(unused_variables)]
use crate::cli::*;
pub fn ls(a: &PathArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn cat(a: &PathArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn touch(a: &PathArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn mkdir(a: &PathArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn mounts(a: &PidArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
