//! (being written)
#![allow(unused_variables)]
use crate::cli::*;
pub fn learn(cli: &Cli, a: &LearnArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn lessons(cli: &Cli, a: &LessonsArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
pub fn demo(cli: &Cli, a: &DemoArgs) -> anyhow::Result<i32> {
    anyhow::bail!("not built yet")
}
