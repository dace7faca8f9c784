//! Shared helpers for the lessons tests.
#![allow(dead_code)]

use isolab::lessons::catalog::{self, Entry};
use isolab::lessons::lesson::Lesson;
use std::path::{Path, PathBuf};

pub fn lessons_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons")
}

pub fn shipped(id: &str) -> Lesson {
    let entries: Vec<Entry> = catalog::load(Some(&lessons_dir())).unwrap();
    let entry = entries
        .into_iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no shipped lesson {id}"));
    entry
        .lesson
        .unwrap_or_else(|e| panic!("lesson {id} has errors: {e:?}"))
}

pub fn isolab() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_isolab"))
}
