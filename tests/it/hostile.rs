//! Hostile model files (issue #30, point 3): small files that declared or expanded into gigabytes, or
//! panicked. Each is refused with a one-line error and exit 2, and the process reading it stays under a
//! memory ceiling: its peak RSS, as the kernel accounts it (`getrusage(RUSAGE_CHILDREN)` in a fresh
//! copy of this test binary whose only child it is), never a timing.

use crate::common::TestStore;
use crate::import_sklearn::{SKOPS_FLAVOR, array_node, json_node, model_dir, npy, object};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// The ceiling for reading any hostile file below: the reader's budget is 64 MiB plus 128 bytes per
/// byte of the file, on top of the process itself.
const CEILING_BYTES: u64 = 200 << 20;

const XGB_FLAVOR: &str = "  xgboost:\n    data: model.ubj\n    model_format: ubj\n    xgb_model_class: xgboost.core.Booster\n";
const LGB_FLAVOR: &str =
    "  lightgbm:\n    data: model.lgb\n    model_class: lightgbm.basic.Booster\n";
const LGB_SKOPS_FLAVOR: &str = "  lightgbm:\n    data: model.skops\n    model_class: lightgbm.sklearn.LGBMClassifier\n    serialization_format: skops\n";

/// A zip of `files`, deflated (as a crafted skops file would be, to be small).
fn deflated_zip(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    for (name, bytes) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// UBJSON: an object of one key holding a typed array of 10,000 arrays each declaring 50,000 nulls (no
/// byte per null), padded so every count fits the bytes left: 500 million values (16 GB) declared by
/// 180 KB.
pub(crate) fn xgb_nested_nulls() -> Vec<u8> {
    let mut b = b"{#U\x01U\x01x[$[#l".to_vec();
    b.extend(10_000u32.to_be_bytes());
    for _ in 0..10_000 {
        b.extend(b"$Z#l");
        b.extend(50_000u32.to_be_bytes());
    }
    b.resize(b.len() + 100_000, b'N');
    b
}

/// LightGBM model text whose one tree has a categorical split (`decision_type=1`, `num_cat=1`) with
/// threshold 1e30: as an index it saturated to `usize::MAX`.
pub(crate) fn lgb_categorical_1e30() -> String {
    "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=1\n\
     objective=binary sigmoid:1\nfeature_names=a b\n\n\
     Tree=0\nnum_leaves=2\nnum_cat=1\nsplit_feature=0\nsplit_gain=1\nthreshold=1e30\ndecision_type=1\n\
     left_child=-1\nright_child=-2\nleaf_value=1 2\ncat_boundaries=0 1\ncat_threshold=6\n\
     is_linear=0\nshrinkage=1\n\n\nend of trees\n\nfeature_importances:\na=1\n\nparameters:\n\
     end of parameters\n\npandas_categorical:null\n"
        .to_string()
}

/// The same booster inside an `LGBMClassifier` skops file (MLflow's lightgbm flavor for the wrapper).
pub(crate) fn lgb_classifier_skops() -> Vec<u8> {
    let booster = object(
        "Booster",
        "lightgbm.basic",
        json!({"_handle": json_node(&Value::from(lgb_categorical_1e30()).to_string())}),
    );
    let schema = object(
        "LGBMClassifier",
        "lightgbm.sklearn",
        json!({"_Booster": booster, "_classes": array_node("1.npy")}),
    );
    deflated_zip(&[
        ("schema.json", schema.to_string().into_bytes()),
        (
            "1.npy",
            npy("'<i8'", &[2], &[0i64, 1].map(i64::to_le_bytes).concat()),
        ),
    ])
}

/// A skops file naming one array of `n` zero elements of `descr` `refs` times.
fn skops_refs(descr: &str, itemsize: usize, n: usize, refs: usize) -> Vec<u8> {
    // The first is the coefficients, which a linear model turns into numbers.
    let attrs: serde_json::Map<String, Value> = (0..refs)
        .map(|i| match i {
            0 => ("coef_".to_string(), array_node("1.npy")),
            _ => (format!("a{i}"), array_node("1.npy")),
        })
        .collect();
    let schema = object("Ridge", "sklearn.linear_model._ridge", Value::Object(attrs));
    deflated_zip(&[
        ("schema.json", schema.to_string().into_bytes()),
        ("1.npy", npy(descr, &[n], &vec![0u8; n * itemsize])),
    ])
}

/// 1,300 references to one 2 MiB array: each was copied, 2.6 GB (measured) from a 6 KB file.
pub(crate) fn skops_many_refs() -> Vec<u8> {
    skops_refs("'<f8'", 8, 256 << 10, 1300)
}

/// One 64 MiB array of bytes (a 66 KB file), which would become 512 MiB of doubles.
pub(crate) fn skops_wide_bytes() -> Vec<u8> {
    skops_refs("'|u1'", 1, 64 << 20, 1)
}

/// The hostile model folders: name, folder, and what the one-line error says.
fn hostile_models(root: &Path) -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "xgboost-nested-nulls",
            model_dir(
                root,
                "xgb",
                XGB_FLAVOR,
                &[("model.ubj", xgb_nested_nulls())],
            ),
            "more values than a 180016-byte file can hold (a crafted count?)",
        ),
        (
            "lightgbm-categorical-1e30",
            model_dir(
                root,
                "lgb",
                LGB_FLAVOR,
                &[("model.lgb", lgb_categorical_1e30().into_bytes())],
            ),
            "node 0: categorical threshold 1000000000000000000000000000000 is not a valid cat_boundaries index",
        ),
        (
            "lgbmclassifier-skops-categorical-1e30",
            model_dir(
                root,
                "lgb-skops",
                LGB_SKOPS_FLAVOR,
                &[("model.skops", lgb_classifier_skops())],
            ),
            "node 0: categorical threshold 1000000000000000000000000000000 is not a valid cat_boundaries index",
        ),
        (
            "skops-many-references",
            model_dir(
                root,
                "refs",
                SKOPS_FLAVOR,
                &[("model.skops", skops_many_refs())],
            ),
            "schema.json: array 1.npy: reading this",
        ),
        (
            "skops-wide-bytes",
            model_dir(
                root,
                "wide",
                SKOPS_FLAVOR,
                &[("model.skops", skops_wide_bytes())],
            ),
            "schema.json: array 1.npy: reading this",
        ),
    ]
}

/// What [`peak_rss`] sends the probe: a command to run.
const PROBE_VAR: &str = "MLX_TEST_RSS_PROBE";

/// Runs `cmd` as the only child of a fresh copy of this test binary (the probe below) and returns
/// its exit code, stderr and peak RSS in bytes.
fn peak_rss(cmd: &Command) -> (Option<i32>, String, u64) {
    let envs: Vec<(String, Option<String>)> = cmd
        .get_envs()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.map(|v| v.to_string_lossy().into_owned()),
            )
        })
        .collect();
    let spec = json!({
        "program": cmd.get_program().to_string_lossy(),
        "args": cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>(),
        "envs": envs,
        "cwd": cmd.get_current_dir().map(|d| d.to_string_lossy().into_owned()),
    });
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "hostile::rss_probe",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_VAR, spec.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("rss-probe: ").map(|(_, r)| r))
        .unwrap_or_else(|| {
            panic!(
                "the probe did not report: {stdout} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let r: Value = serde_json::from_str(line).unwrap();
    (
        r["code"].as_i64().map(|c| c as i32),
        r["stderr"].as_str().unwrap().to_string(),
        r["max_rss_kb"].as_u64().unwrap() * 1024,
    )
}

/// The probe: run by [`peak_rss`] in its own process, never by a test run (ignored).
#[test]
#[ignore = "run by peak_rss in a process of its own"]
fn rss_probe() {
    // Run by hand (`--include-ignored`) there is nothing to measure.
    let Ok(spec) = std::env::var(PROBE_VAR) else {
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let mut cmd = Command::new(spec["program"].as_str().unwrap());
    for a in spec["args"].as_array().unwrap() {
        cmd.arg(a.as_str().unwrap());
    }
    for kv in spec["envs"].as_array().unwrap() {
        match kv[1].as_str() {
            Some(v) => cmd.env(kv[0].as_str().unwrap(), v),
            None => cmd.env_remove(kv[0].as_str().unwrap()),
        };
    }
    cmd.env_remove(PROBE_VAR);
    if let Some(d) = spec["cwd"].as_str() {
        cmd.current_dir(d);
    }
    let out = cmd.output().unwrap();
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    let report = json!({
        "code": out.status.code(),
        "stderr": String::from_utf8_lossy(&out.stderr),
        // Linux reports ru_maxrss in kilobytes.
        "max_rss_kb": usage.max_rss(),
    });
    println!("rss-probe: {report}");
}

#[test]
fn hostile_model_files_are_refused_in_one_line_under_a_memory_ceiling() {
    let s = TestStore::new();
    let root = s.dir.path();
    let data = root.join("rows.csv");
    std::fs::write(&data, "a,b\n0.1,0.7\n0.9,0.2\n").unwrap();
    // Every file is tried, then every problem reported.
    let mut problems = Vec::new();
    for (name, dir, why) in hostile_models(root) {
        let mut cmd = s.mlx_std();
        cmd.args(["predict", "-m", &dir, "--data", data.to_str().unwrap()]);
        let (code, stderr, rss) = peak_rss(&cmd);
        let lines: Vec<&str> = stderr.lines().collect();
        if code != Some(2) || lines.len() != 1 || !lines[0].starts_with("error: ") {
            problems.push(format!(
                "{name}: exit {code:?}, not one error line: {stderr}"
            ));
        } else if !lines[0].contains(why) {
            problems.push(format!("{name}: {stderr} should say {why:?}"));
        }
        if rss >= CEILING_BYTES {
            problems.push(format!(
                "{name}: peak RSS {} MB over the {} MB ceiling",
                rss >> 20,
                CEILING_BYTES >> 20
            ));
        }
        eprintln!(
            "{name}: peak RSS {} MB: {}",
            rss >> 20,
            lines.first().unwrap_or(&"")
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn types_from_outside_builtins_and_numpy_are_refused_with_exit_2() {
    let s = TestStore::new();
    let root = s.dir.path();
    let data = root.join("rows.csv");
    std::fs::write(&data, "a,b\n0.1,0.7\n").unwrap();
    for (loader, module, class) in [
        ("TypeNode", "builtins", "eval"),
        ("TypeNode", "os", "system"),
        ("DTypeNode", "os", "system"),
        ("DTypeNode", "builtins", "exec"),
    ] {
        let t =
            json!({"__class__": class, "__module__": module, "__loader__": loader, "content": {}});
        let schema = object(
            "LogisticRegression",
            "sklearn.linear_model._logistic",
            json!({"dtype": t}),
        );
        let dir = model_dir(
            root,
            &format!("{loader}-{module}-{class}"),
            SKOPS_FLAVOR,
            &[(
                "model.skops",
                deflated_zip(&[("schema.json", schema.to_string().into_bytes())]),
            )],
        );
        let err = s.fails(&["predict", "-m", &dir, "--data", data.to_str().unwrap()]);
        assert!(
            err.ends_with(&format!(
                "unsupported type {module}.{class} (as a {loader}): mlx reads builtin and numpy types only"
            )),
            "{err}"
        );
    }
}

/// A planted pickle (issue #30, point 5): `mlx models import` would unpickle it with the user's Python,
/// running its code. Where import is offered the error says so, and before it runs one line names the
/// model and who logged it.
#[test]
fn importing_a_pickle_says_whose_code_will_run_before_it_runs() {
    let s = TestStore::new();
    let out = s
        .mlx()
        .env("LOGNAME", "mallory")
        .args(["log", "start"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let run_id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let run = s.json(&["runs", "show", &run_id]);
    let artifacts = run["info"]["artifact_uri"].as_str().unwrap();
    let artifacts = Path::new(artifacts.trim_start_matches("file://"));
    let flavor =
        "  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n";
    let folder = model_dir(
        artifacts,
        "model",
        flavor,
        &[("model.pkl", b"planted".to_vec())],
    );
    let data = s.dir.path().join("rows.csv");
    std::fs::write(&data, "a,b\n0.1,0.7\n").unwrap();

    // Where import is offered, the error says what it does.
    let uri = format!("runs:/{run_id}/model");
    let err = s.fails(&["predict", "-m", &uri, "--data", data.to_str().unwrap()]);
    assert!(
        err.ends_with(
            "a scikit-learn model in cloudpickle format: mlx reads only the skops format (MLflow 3's default), \
             never pickles; convert it once with `mlx models import`, which unpickles it with your Python: \
             code in the model runs, so only for a model you trust"
        ),
        "{err}"
    );
    let help = s.ok(&["models", "import", "--help"]);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains(
            "Unpickling runs code from the model with that Python: import only models you trust (a line \
             naming the model and who logged it is printed before it runs)"
        ),
        "{help}"
    );

    // Before Python is run, one line: the model, who logged it, that its code will run.
    let python = "/nonexistent/python3";
    let import = |uri: &str| {
        let out = s
            .mlx()
            .args(["models", "import", uri, "--python", python])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8(out.stderr).unwrap()
    };
    let stderr = import(&uri);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "warning: importing {uri} unpickles it with {python}: code in the model, logged by mallory, \
             will run on this machine (import only models you trust)"
        )
    );
    assert!(
        lines[1].contains("cannot run Python '/nonexistent/python3'"),
        "{stderr}"
    );
    assert_eq!(lines.len(), 2, "{stderr}");
    // A folder outside a store: nobody is known to have logged it.
    let copy = model_dir(
        s.dir.path(),
        "loose",
        flavor,
        &[("model.pkl", b"planted".to_vec())],
    );
    let stderr = import(&copy);
    assert_eq!(
        stderr.lines().next().unwrap(),
        format!(
            "warning: importing {copy} unpickles it with {python}: code in the model, logged by an unknown user \
             (a folder outside a store), will run on this machine (import only models you trust)"
        )
    );
    assert!(Path::new(&folder).join("model.pkl").exists());
}

/// `mlx models show` loads the newest version to say whether it serves: the LightGBM split that
/// panicked (exit 101) is now a "no" with the reason, and the listing is shown.
#[test]
fn models_show_names_the_bad_categorical_split_instead_of_panicking() {
    let s = TestStore::new();
    let run_id = s.ok(&["log", "start"]).trim().to_string();
    let run = s.json(&["runs", "show", &run_id]);
    let artifacts = run["info"]["artifact_uri"].as_str().unwrap();
    let artifacts = Path::new(artifacts.trim_start_matches("file://"));
    model_dir(
        artifacts,
        "model",
        LGB_SKOPS_FLAVOR,
        &[("model.skops", lgb_classifier_skops())],
    );
    s.ok(&[
        "register",
        &format!("runs:/{run_id}/model"),
        "--name",
        "lgb",
    ]);
    let shown = s.json(&["models", "show", "lgb"]);
    let error = shown["latest"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("{shown}"));
    assert!(
        error.ends_with(
            "model.skops: Tree=0: node 0: categorical threshold 1000000000000000000000000000000 is not a valid cat_boundaries index"
        ),
        "{error}"
    );
}
