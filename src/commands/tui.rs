//! (being written)
#![allow(unused_variables)]
use crate::cli::*;
pub fn run(cli: &Cli) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
