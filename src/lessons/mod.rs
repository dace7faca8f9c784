//! The guided-lesson engine: model, parser, checks, progress.
