//! The CI checks in `scripts/` fail when they should: `check-layers.sh` on the small source trees in
//! `scripts/tests/` (a clean one, a cycle, an ml sub-layer broken), `check-file-length.sh` on a long file.

use std::path::Path;
use std::process::{Command, Output};

fn script(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("scripts").join(name)).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("bash runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn check_layers_passes_a_tree_that_follows_the_rules() {
    let out = script("check-layers.sh", &["scripts/tests/clean"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains("no layer violations, no cycles"));
}

#[test]
fn check_layers_names_the_files_of_a_cycle() {
    let out = script("check-layers.sh", &["scripts/tests/cycle"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    let cycle = text
        .lines()
        .find(|l| l.starts_with("cycle:"))
        .unwrap_or_else(|| panic!("no cycle reported:\n{text}"));
    assert!(cycle.contains("scripts/tests/cycle/redact.rs"), "{cycle}");
    assert!(cycle.contains("scripts/tests/cycle/timefmt.rs"), "{cycle}");
}

#[test]
fn check_layers_holds_ml_to_its_sub_layers() {
    let out = script("check-layers.sh", &["scripts/tests/ml-layers"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("ml/core.rs: ml::core (ml layer 0) imports ml::data (ml layer 1)"),
        "{text}"
    );
    assert!(
        text.contains("module 'ml::extra' has no sub-layer"),
        "{text}"
    );
}

#[test]
fn check_file_length_names_a_long_file() {
    let out = script(
        "check-file-length.sh",
        &["scripts/tests/cycle"],
        &[("MAX_FILE_LINES", "4")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("scripts/tests/cycle/redact.rs: 5 lines (at most 4)"));
    let out = script("check-file-length.sh", &["scripts/tests/cycle"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}
