//! Exact snapshots (insta) of what a person or a script reads: tables, CSV, JSON and one-line errors.
//!
//! What changes from one run of the tests to the next is replaced before comparing: the temp folder
//! (`[TMP]`), run ids (`[RUN_ID]`, and `[SHORT_ID]` for the 8 characters `runs compare` shows), logged
//! model ids (`[MODEL_ID]`), 18-digit experiment ids (`[EXP_ID]`), dates and epoch milliseconds
//! (`[TIME]`) and durations (`[DURATION]`). Everything else must match to the byte. The snapshots live in
//! `tests/it/snapshots/`; `tests/it/README.md` says how to review and update them.

use crate::common::TestStore;
use std::path::Path;

/// What a test's output may name: its temp folder.
pub trait TempFolder {
    fn temp_folder(&self) -> &Path;
}

impl TempFolder for TestStore {
    fn temp_folder(&self) -> &Path {
        self.dir.path()
    }
}

impl TempFolder for tempfile::TempDir {
    fn temp_folder(&self) -> &Path {
        self.path()
    }
}

/// The filters every snapshot of a command's output goes through.
pub fn settings(s: &impl TempFolder) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(true);
    let tmp = s.temp_folder();
    let mut paths = vec![tmp.to_path_buf()];
    if let Ok(real) = tmp.canonicalize() {
        paths.insert(0, real);
    }
    for p in paths {
        settings.add_filter(&regex_escape(&p.to_string_lossy()), "[TMP]");
    }
    settings.add_filter(r"m-[0-9a-f]{32}\b", "[MODEL_ID]");
    settings.add_filter(r"\b[0-9a-f]{32}\b", "[RUN_ID]");
    // `runs compare` heads its columns with a run id's first 8 characters and the run's name.
    settings.add_filter(r"\b[0-9a-f]{8} \(", "[SHORT_ID] (");
    settings.add_filter(r"\b\d{18}\b", "[EXP_ID]");
    settings.add_filter(
        r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?",
        "[TIME]",
    );
    settings.add_filter(r"\b1\d{12}\b", "[TIME]");
    settings.add_filter(r#""duration_ms": \d+"#, r#""duration_ms": [DURATION]"#);
    settings.add_filter(r"\b\d+(\.\d+)?(ms|s)\b|\b\d+[mh] \d{2}[sm]\b", "[DURATION]");
    settings
}

/// [`settings`] for a table whose column widths follow a value the filters replace (a duration, a temp
/// path): the padding between columns and the length of the rules are not compared, the cells are.
pub fn table_settings(s: &impl TempFolder) -> insta::Settings {
    let mut settings = settings(s);
    settings.add_filter(" {2,}", "  ");
    settings.add_filter("─{2,}", "─");
    settings.add_filter("═{2,}", "═");
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// `snap!(store, "name", text)`: `text` must equal the snapshot `tests/it/snapshots/it__MODULE__name.snap`
/// after [`settings`]' filters.
macro_rules! snap {
    ($s:expr, $name:expr, $value:expr $(,)?) => {
        $crate::snap::settings($s).bind(|| insta::assert_snapshot!($name, $value))
    };
}

/// `snap_table!(store, "name", text)`: as `snap!`, with [`table_settings`].
macro_rules! snap_table {
    ($s:expr, $name:expr, $value:expr $(,)?) => {
        $crate::snap::table_settings($s).bind(|| insta::assert_snapshot!($name, $value))
    };
}
pub(crate) use {snap, snap_table};
