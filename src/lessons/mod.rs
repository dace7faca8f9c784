//! Guided lessons: the file format ([`lesson`]), the check language
//! ([`cond`]) evaluated against a [`context::Context`], saved progress,
//! finding lesson files, and performing a step's "show me".

pub mod catalog;
pub mod cond;
pub mod context;
pub mod lesson;
pub mod progress;
pub mod render;
pub mod runner;

use cond::Outcome;
use context::Context;
use lesson::Step;

/// Evaluates a step's check; a step without one passes (a reading step).
/// The lesson's own `waiting:` text, when given, replaces the generated reason.
pub fn check_step(step: &Step, ctx: &dyn Context) -> Outcome {
    match &step.check {
        None => Outcome::Pass,
        Some(check) => match cond::evaluate(check, ctx) {
            Outcome::Pass => Outcome::Pass,
            Outcome::NotYet(reason) => Outcome::NotYet(step.waiting.clone().unwrap_or(reason)),
        },
    }
}
