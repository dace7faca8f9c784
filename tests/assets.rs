//! The generated files in `assets/` are the code's own output, committed so
//! the README and a packager can use them without building: the man page
//! is what `isolab man` prints (the screenshots are checked by the unit
//! test `ui::snapshot_tests::screenshots_in_assets_match`). A stale file
//! fails naming the command that regenerates it; `ISOLAB_UPDATE_ASSETS=1`
//! (the switch the screenshots use) writes it instead. No root needed.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_isolab");

fn updating() -> bool {
    std::env::var_os("ISOLAB_UPDATE_ASSETS").is_some_and(|v| v == "1")
}

#[test]
fn the_man_page_in_assets_is_isolab_man() {
    // A config home of its own: no user's config file can change (or fail) it.
    let home = tempfile::tempdir().expect("tempdir");
    let out = Command::new(BIN)
        .arg("man")
        .env("XDG_CONFIG_HOME", home.path())
        .env_remove("NO_COLOR")
        .output()
        .expect("run isolab man");
    assert!(out.status.success(), "isolab man failed: {out:?}");
    let page = String::from_utf8(out.stdout).expect("the man page is UTF-8");
    assert!(page.contains(".TH isolab 1"), "not a man page:\n{page}");
    assert!(page.contains("CONFIGURATION FILE"), "{page}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/isolab.1");
    if updating() {
        std::fs::create_dir_all(path.parent().expect("assets/")).expect("create assets/");
        std::fs::write(&path, &page).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != page {
        let first = committed
            .lines()
            .zip(page.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(page.lines().count()));
        panic!(
            "assets/isolab.1 is stale or missing (first difference at line {}): regenerate it with\n  \
             ISOLAB_UPDATE_ASSETS=1 cargo test --profile release-tests --test assets\n\
             and commit it",
            first + 1
        );
    }
}
