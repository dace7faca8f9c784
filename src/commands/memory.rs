//! (being written)
#![allow(unused_variables)]
use crate::cli::*;
pub fn cgroup(a: &CgroupArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn limit(a: &LimitArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn hog(a: &HogArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
