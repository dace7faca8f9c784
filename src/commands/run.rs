//! (being written)
#![allow(unused_variables)]
use crate::cli::*;
pub fn run(a: &RunArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn exec(a: &ExecArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn cleanup() -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
