//! Every parser that takes outside input, under property tests and a corpus of nasty cases
//! (`tests/corpus/`): no panic, no stack overflow, an error or a value. Bounded case counts keep CI fast.

use mlx::ml::data::preprocess::InputColumn;
use mlx::ml::data::{CsvChunks, ReadOptions};
use mlx::serve::protocol;
use mlx::store::{FileStore, TrackingStore, meta, metric_file};
use proptest::prelude::*;
use std::path::Path;

fn corpus(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(name),
    )
    .unwrap();
    text.split("\n\x0c\n").map(str::to_string).collect()
}

fn inputs() -> Vec<InputColumn> {
    ["Pclass:long", "Sex:string", "Age:double", "Fare:double"]
        .iter()
        .map(|s| {
            let (n, k) = s.split_once(':').unwrap();
            InputColumn {
                name: n.into(),
                kind: k.into(),
            }
        })
        .collect()
}

fn csv(text: &str) {
    let opts = ReadOptions {
        categorical: vec![],
        expected: [("a".to_string(), "long".to_string())].into(),
    };
    if let Ok(mut c) = CsvChunks::from_reader(
        Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
        Path::new("x"),
        opts,
        7,
    ) {
        while let Ok(Some(_)) = c.next_chunk() {}
    }
    let _ = protocol::parse_csv(text.as_bytes(), &inputs());
}

fn body(text: &str) {
    if let Ok(cols) = protocol::parse_json(text.as_bytes()) {
        let _ = protocol::to_table(cols, &inputs());
    }
}

/// A crafted skops file: build the model and, if it builds, predict two rows. Never a panic.
fn skops_bytes(bytes: &[u8]) -> bool {
    use mlx::ml::ForeignModel;
    let inputs = ["a", "b"]
        .map(|n| InputColumn {
            name: n.into(),
            kind: "double".into(),
        })
        .to_vec();
    let Ok(model) = mlx::ml::from_skops(bytes, Some(inputs)) else {
        return false;
    };
    let table = mlx::ml::data::Table::new(
        vec!["a".into(), "b".into()],
        vec![
            mlx::ml::data::Column::Numeric(vec![Some(0.1), None]),
            mlx::ml::data::Column::Numeric(vec![Some(0.7), Some(f64::MAX)]),
        ],
        2,
    );
    let _ = model.predict(&table, 0);
    true
}

/// A skops zip of `schema` and the fixture arrays the corpus refers to.
fn skops_zip(schema: &[u8]) -> Vec<u8> {
    let mut files = vec![("schema.json", schema.to_vec())];
    files.extend(crate::import_sklearn::fixture_arrays());
    crate::import_sklearn::zip_of(&files)
}

/// A LightGBM model text, parsed and, if it parses, predicted on a few rows. Never a panic.
fn lightgbm_text(text: &str) -> bool {
    let Ok(b) = mlx::ml::parse_lightgbm(text) else {
        return false;
    };
    let (k, nf) = (b.n_outputs, b.ensemble.n_features());
    // Rows as wide as the model (mlx builds them from its feature names).
    predict_rows(
        b.into_form(),
        k,
        nf,
        &[0.0, 1.0, f64::NAN, -1.0, 1e30, f64::MAX, -0.5, 3.0],
    );
    true
}

/// An XGBoost JSON or UBJSON model, parsed and, if it parses, predicted on a few rows.
fn xgboost_bytes(bytes: &[u8]) -> bool {
    let Ok(b) = mlx::ml::parse_xgboost(bytes) else {
        return false;
    };
    let (k, nf) = (b.n_outputs(), b.n_features);
    predict_rows(
        b.into_form(),
        k,
        nf,
        &[0.0, 1.0, f64::NAN, -1.0, 1e30, f64::MAX],
    );
    true
}

/// Predict a row of each value, `nf` wide, as `mlx predict` and `mlx serve` do: values for one output,
/// class probabilities for several.
fn predict_rows(form: mlx::ml::Fitted, k: usize, nf: usize, values: &[f64]) {
    for &x in values {
        let row = vec![x; nf];
        if k == 1 {
            form.predict_values(&row, nf);
        } else {
            form.predict_classes(&row, nf, k);
        }
    }
}

/// A one-tree LightGBM model whose split is `decision_type` at `threshold`, with `num_cat`
/// categorical splits declared.
fn lightgbm_split(threshold: &str, decision_type: &str, num_cat: &str) -> String {
    format!(
        "tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\nmax_feature_idx=1\n\
         objective=regression\nfeature_names=a b\n\nTree=0\nnum_leaves=2\nnum_cat={num_cat}\n\
         split_feature=0\nsplit_gain=1\nthreshold={threshold}\ndecision_type={decision_type}\n\
         left_child=-1\nright_child=-2\nleaf_value=1 2\ncat_boundaries=0 1\ncat_threshold=6\n\
         is_linear=0\nshrinkage=1\n\n\nend of trees\n\nparameters:\nend of parameters\n"
    )
}

/// A one-tree XGBoost JSON model on two features (a stump on feature 1).
fn xgboost_json(split_index: &str, condition: &str) -> String {
    format!(
        r#"{{"learner": {{"feature_names": [], "learner_model_param": {{"base_score": "5E-1", "num_class": "0", "num_feature": "2"}},
            "objective": {{"name": "binary:logistic"}}, "gradient_booster": {{"name": "gbtree", "model": {{"tree_info": [0],
            "trees": [{{"left_children": [1, -1, -1], "right_children": [2, -1, -1], "split_indices": [{split_index}, 0, 0],
            "split_conditions": [{condition}, -0.25, 0.75], "default_left": [0, 0, 0], "split_type": [0, 0, 0]}}]}}}}}}}}"#
    )
}

/// JSON as UBJSON the way XGBoost writes it (counted objects, typed float arrays).
fn to_ubjson(v: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value;
    let key = |k: &str, out: &mut Vec<u8>| {
        out.push(b'U');
        out.push(k.len() as u8);
        out.extend(k.as_bytes());
    };
    match v {
        Value::Null => out.push(b'Z'),
        Value::Bool(b) => out.push(if *b { b'T' } else { b'F' }),
        Value::Number(n) if n.is_i64() => {
            out.push(b'L');
            out.extend(n.as_i64().unwrap().to_be_bytes());
        }
        Value::Number(n) => {
            out.push(b'd');
            out.extend((n.as_f64().unwrap() as f32).to_be_bytes());
        }
        Value::String(s) => {
            out.push(b'S');
            key(s, out);
        }
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_f64) => {
            out.extend(b"[$d#L");
            out.extend((a.len() as i64).to_be_bytes());
            for x in a {
                out.extend((x.as_f64().unwrap() as f32).to_be_bytes());
            }
        }
        Value::Array(a) => {
            out.push(b'[');
            a.iter().for_each(|x| to_ubjson(x, out));
            out.push(b']');
        }
        Value::Object(m) => {
            out.extend(b"{#l");
            out.extend((m.len() as i32).to_be_bytes());
            for (k, x) in m {
                key(k, out);
                to_ubjson(x, out);
            }
        }
    }
}

/// The sound one-tree model of [`xgboost_json`], as UBJSON.
fn xgboost_ubjson() -> Vec<u8> {
    let mut out = Vec::new();
    to_ubjson(
        &serde_json::from_str(&xgboost_json("1", "0.5")).unwrap(),
        &mut out,
    );
    out
}

fn uri(store: &FileStore, text: &str) {
    use mlx::store::{ModelUri, VersionRef};
    if let Ok(uri) = ModelUri::parse(text) {
        let _ = store.resolve_model(&uri);
    }
    if let Ok(v) = VersionRef::parse(text.strip_prefix("models:/").unwrap_or(text)) {
        let _ = store.resolve_model_version(&v);
    }
}

#[test]
fn the_corpus_of_nasty_cases() {
    for f in corpus("filters.txt") {
        let _ = mlx::search::parse_filter(&f);
        let _ = mlx::search::parse_order_by(&f);
    }
    for l in corpus("metric_lines.txt") {
        let _ = metric_file::parse_line(&l);
        let _ = metric_file::parse_file(&l);
    }
    for y in corpus("yaml.txt") {
        let _ = meta::parse(Path::new("x"), &y);
    }
    for t in corpus("toml.txt") {
        let _ = mlx::project::Project::parse(Path::new("MLproject.toml"), &t);
    }
    for c in corpus("csv.txt") {
        csv(&c);
    }
    for b in corpus("json_bodies.txt") {
        body(&b);
    }
    // Crafted skops object trees: the first is a sound model (so the harness does reach prediction).
    let schemas = corpus("skops_schema.txt");
    assert!(skops_bytes(&skops_zip(schemas[0].as_bytes())));
    for schema in &schemas[1..] {
        skops_bytes(&skops_zip(schema.as_bytes()));
    }
    // The hostile model files of issue #30: refused, never a panic or an unbounded allocation (their
    // memory ceilings are checked through the binary in `hostile`).
    assert!(lightgbm_text(&lightgbm_split("0", "1", "1")));
    assert!(!lightgbm_text(&crate::hostile::lgb_categorical_1e30()));
    for t in [
        "1e30",
        "-1",
        "1",
        "0.5",
        "nan",
        "inf",
        "-inf",
        "1e308",
        "18446744073709551616",
    ] {
        assert!(!lightgbm_text(&lightgbm_split(t, "1", "1")), "{t}");
        lightgbm_text(&lightgbm_split(t, "9", "1"));
    }
    assert!(xgboost_bytes(xgboost_json("1", "0.5").as_bytes()));
    assert!(xgboost_bytes(&xgboost_ubjson()));
    assert!(!xgboost_bytes(&crate::hostile::xgb_nested_nulls()));
    for (i, c) in [
        ("1e30", "0.5"),
        ("-1", "0.5"),
        ("2", "0.5"),
        ("1", "1e400"),
        ("1.5", "0.5"),
    ] {
        xgboost_bytes(xgboost_json(i, c).as_bytes());
    }
    assert!(!skops_bytes(&crate::hostile::lgb_classifier_skops()));
    assert!(!skops_bytes(&crate::hostile::skops_many_refs()));
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("mlruns"));
    for u in corpus("model_uris.txt") {
        uri(&store, &u);
    }
    // The documented limit: 100 levels of parentheses parse, 101 are refused with a clear error.
    let nested = |n: usize| format!("{}metrics.a > 1{}", "(".repeat(n), ")".repeat(n));
    assert!(mlx::search::parse_filter(&nested(100)).is_ok());
    assert!(
        mlx::search::parse_filter(&nested(101))
            .unwrap_err()
            .message
            .contains("nested too deeply")
    );
    // Deep nesting is refused, not a stack overflow.
    let deep = format!("{}metrics.a > 1{}", "(".repeat(5000), ")".repeat(5000));
    assert!(
        mlx::search::parse_filter(&deep)
            .unwrap_err()
            .message
            .contains("nested too deeply")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn filters_never_panic(s in "[ -~]{0,60}") {
        let _ = mlx::search::parse_filter(&s);
        let _ = mlx::search::parse_order_by(&s);
    }

    #[test]
    fn filter_shaped_inputs_never_panic(
        kind in prop::sample::select(vec!["metrics", "params", "tags", "attributes", "datasets", "x", ""]),
        key in "[a-z_`\"' .]{0,8}",
        op in prop::sample::select(vec!["=", "!=", "<", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT", "<>", "=="]),
        value in "[0-9a-z'\"(),. %_-]{0,12}",
        join in prop::sample::select(vec![" AND ", " OR ", " ", " NOT "]),
    ) {
        let f = format!("{kind}.{key} {op} {value}{join}{kind}.{key} {op} {value}");
        let _ = mlx::search::parse_filter(&f);
    }

    #[test]
    fn metric_lines_round_trip_or_error(ts in any::<i64>(), v in any::<f64>(), step in any::<i64>(), junk in "[ -~]{0,20}") {
        let p = mlx::store::entities::MetricPoint { timestamp: ts, value: v, step };
        let parsed = metric_file::parse_line(metric_file::format_line(&p).trim()).unwrap();
        prop_assert_eq!(parsed.timestamp, ts);
        prop_assert_eq!(parsed.step, step);
        prop_assert!(parsed.value == v || (v.is_nan() && parsed.value.is_nan()));
        let _ = metric_file::parse_line(&junk);
    }

    #[test]
    fn yaml_never_panics(s in "[ -~\n]{0,80}") {
        let _ = meta::parse(Path::new("x"), &s);
    }

    #[test]
    fn meta_round_trips(k in "[a-z_]{1,10}", v in "\\PC{0,30}") {
        let mut m = meta::Meta::new();
        m.insert(k.clone(), meta::s(v.clone()));
        let back = meta::parse(Path::new("x"), &meta::render(&m)).unwrap();
        prop_assert_eq!(back.get(&k), Some(&meta::s(v)));
    }

    #[test]
    fn mlproject_never_panics(s in "[ -~\n]{0,120}") {
        let _ = mlx::project::Project::parse(Path::new("MLproject.toml"), &s);
    }

    #[test]
    fn csv_never_panics(s in "[a-z0-9,\"\n .-]{0,120}") {
        csv(&s);
    }

    #[test]
    fn scoring_bodies_never_panic(s in "[ -~]{0,100}") {
        body(&s);
        let _ = protocol::parse_csv(s.as_bytes(), &inputs());
    }

    #[test]
    fn json_shaped_bodies_never_panic(
        key in prop::sample::select(vec!["inputs", "instances", "dataframe_split", "dataframe_records", "x"]),
        inner in prop::sample::select(vec!["[]", "{}", "[{}]", "[[1,2]]", "{\"columns\":[\"Pclass\"],\"data\":[[1]]}", "{\"Pclass\":[1,2],\"Sex\":[\"a\"]}", "[{\"Pclass\":\"x\"}]", "null", "\"s\""]),
    ) {
        body(&format!("{{\"{key}\": {inner}}}"));
    }

    #[test]
    fn skops_files_with_flipped_bytes_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let sound = corpus("skops_schema.txt").swap_remove(0);
        let mut bytes = skops_zip(sound.as_bytes());
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        skops_bytes(&bytes);
    }

    #[test]
    fn lightgbm_splits_never_panic(threshold in any::<f64>(), decision_type in any::<i8>(), num_cat in 0u8..3) {
        lightgbm_text(&lightgbm_split(&threshold.to_string(), &decision_type.to_string(), &num_cat.to_string()));
    }

    #[test]
    fn lightgbm_header_counts_never_panic(
        key in prop::sample::select(vec!["max_feature_idx", "num_class", "num_tree_per_iteration", "num_leaves", "num_cat"]),
        value in prop::sample::select(vec!["0", "-1", "18446744073709551615", "18446744073709551616", "4294967296", "16777217", "1e3", ""]),
    ) {
        let text = lightgbm_split("0", "1", "1");
        let start = text.find(&format!("{key}=")).unwrap();
        let end = start + text[start..].find('\n').unwrap();
        lightgbm_text(&format!("{}{key}={value}{}", &text[..start], &text[end..]));
    }

    #[test]
    fn xgboost_ubjson_with_flipped_bytes_never_panics(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let mut bytes = xgboost_ubjson();
        for (at, b) in flips {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        xgboost_bytes(&bytes);
    }

    #[test]
    fn skops_schemas_never_panic(s in "[ -~]{0,80}") {
        skops_bytes(&skops_zip(s.as_bytes()));
    }

    #[test]
    fn model_uris_never_escape_or_panic(s in "(runs:/|models:/|file://|)[a-z0-9./@%-]{0,30}") {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("mlruns"));
        uri(&store, &s);
        prop_assert!(!dir.path().join("mlruns").exists(), "resolving never writes");
    }
}
