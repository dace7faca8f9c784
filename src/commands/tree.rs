//! (being written)
#![allow(unused_variables)]
use crate::cli::*;
pub fn tree(cli: &Cli, a: &TreeArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn ns(cli: &Cli, a: &NsArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
