//! MLflow's `python_function` flavor of mlx models, checked with the real MLflow client (3.17.2): every
//! estimator × task on Titanic and on two data sets made here predicts through `mlflow.pyfunc.load_model`,
//! `mlflow models serve` and `mlflow.pyfunc.spark_udf` exactly what `mlx predict` / `mlx serve` give; and
//! `mlx models add-pyfunc` brings models written before the flavor existed to the same point.

use crate::common::{TestStore, copy_dir, python};
use crate::serve::Server;
use crate::train::titanic;
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};

/// A small deterministic generator (the data sets must not change between runs).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Multi-class with text labels: two measurements, a colour (sometimes missing), a count.
fn species_csv(dir: &Path) -> PathBuf {
    let mut r = Lcg(7);
    let mut out = String::from("length,width,colour,count,species\n");
    for i in 0..240 {
        let length = 2.0 + 6.0 * r.next();
        let width = 1.0 + 3.0 * r.next();
        let colour = ["red", "green", "blue", ""][i % 4];
        let count = (r.next() * 9.0) as i64;
        let score = length - 1.5 * width + if colour == "red" { 1.0 } else { 0.0 } + r.next();
        let species = if score < 1.0 {
            "alpha"
        } else if score < 3.5 {
            "beta"
        } else {
            "gamma"
        };
        out.push_str(&format!(
            "{length:.3},{width:.3},{colour},{count},{species}\n"
        ));
    }
    let path = dir.join("species.csv");
    fs::write(&path, out).unwrap();
    path
}

/// Regression: area, rooms, district and an age that is sometimes missing.
fn houses_csv(dir: &Path) -> PathBuf {
    let mut r = Lcg(11);
    let mut out = String::from("area,rooms,district,age,price\n");
    for i in 0..260 {
        let area = 40.0 + 160.0 * r.next();
        let rooms = 1 + (r.next() * 5.0) as i64;
        let district = ["north", "south", "east", "west"][(r.next() * 4.0) as usize % 4];
        let age = 80.0 * r.next();
        let bonus = match district {
            "north" => 20_000.0,
            "east" => -5_000.0,
            _ => 0.0,
        };
        let price =
            1_500.0 * area + 8_000.0 * rooms as f64 + bonus - 300.0 * age + 20_000.0 * r.next();
        let age = if i % 9 == 0 {
            String::new()
        } else {
            format!("{age:.1}")
        };
        out.push_str(&format!("{area:.2},{rooms},{district},{age},{price:.2}\n"));
    }
    let path = dir.join("houses.csv");
    fs::write(&path, out).unwrap();
    path
}

/// Titanic rows with every feature present (for a model trained with `--na drop`).
fn titanic_complete(dir: &Path) -> PathBuf {
    let mut reader = csv::Reader::from_path(titanic()).unwrap();
    let headers = reader.headers().unwrap().clone();
    let need: Vec<usize> = ["Pclass", "Sex", "Age", "Fare", "Embarked"]
        .iter()
        .map(|n| headers.iter().position(|h| h == *n).unwrap())
        .collect();
    let path = dir.join("titanic_complete.csv");
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(&headers).unwrap();
    for rec in reader.records() {
        let rec = rec.unwrap();
        if need.iter().all(|&i| !rec[i].is_empty()) {
            w.write_record(&rec).unwrap();
        }
    }
    w.flush().unwrap();
    path
}

struct Trained {
    name: String,
    data: PathBuf,
}

/// Train, register as `name` version 1 and alias it Champion.
fn train_registered(s: &TestStore, name: &str, data: &Path, args: &[&str]) -> Trained {
    let mut full = vec![
        "train",
        "--data",
        data.to_str().unwrap(),
        "--register",
        name,
        "--experiment",
        "pyfunc",
    ];
    full.extend(args);
    s.ok(&full);
    s.ok(&["alias", "set", "Champion", "1", "--model", name]);
    Trained {
        name: name.into(),
        data: data.to_path_buf(),
    }
}

/// `mlx predict --with-proba --output json` on `data`.
pub fn mlx_predict(s: &TestStore, uri: &str, data: &Path) -> Value {
    let out = s.ok(&[
        "predict",
        "--model",
        uri,
        "--data",
        data.to_str().unwrap(),
        "--with-proba",
        "--output",
        "json",
    ]);
    serde_json::from_str(&out).unwrap()
}

/// Run tests/interop/mlflow_pyfunc.py in `mode` on `spec`; returns its JSON report.
pub fn run_check(s: &TestStore, spec: &Value, mode: &str) -> Value {
    let path = s.dir.path().join(format!("spec-{mode}.json"));
    fs::write(&path, spec.to_string()).unwrap();
    let out = std::process::Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/mlflow_pyfunc.py"))
        .arg(&path)
        .arg(mode)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .current_dir(s.dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mlflow_pyfunc.py {mode} failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().expect("a report line")).unwrap()
}

#[test]
fn every_estimator_predicts_the_same_through_mlflow_pyfunc_serve_and_spark() {
    let s = TestStore::new();
    let dir = s.dir.path();
    let t = titanic();
    let complete = titanic_complete(dir);
    let species = species_csv(dir);
    let houses = houses_csv(dir);
    let titanic_cls = [
        "--target",
        "Survived",
        "--features",
        "Pclass,Sex,Age,Fare,Embarked",
        "--map",
        "Sex=male:0,female:1",
    ];
    let titanic_reg = [
        "--target",
        "Fare",
        "--task",
        "regression",
        "--features",
        "Pclass,Sex,Age,SibSp,Parch,Embarked",
        "--map",
        "Sex=male:0,female:1",
    ];
    let sp = ["--target", "species", "--na", "median"];
    let ho = ["--target", "price", "--na", "mean"];
    // (name, data, common args, estimator and preprocessing variants): every estimator × task, and the
    // preprocessing options (maps, one-hot, ordinal, every missing-value policy, scaling) among them.
    let plan: Vec<(&str, &Path, &[&str], Vec<&str>)> = vec![
        (
            "t-lr",
            &t,
            &titanic_cls,
            vec!["--model", "logistic-regression", "--na", "mean", "--scale"],
        ),
        (
            "t-rf",
            &t,
            &titanic_cls,
            vec![
                "--model",
                "random-forest",
                "--n-estimators",
                "25",
                "--na",
                "median",
            ],
        ),
        (
            "t-dt",
            &t,
            &titanic_cls,
            vec![
                "--model",
                "decision-tree",
                "--na",
                "zero",
                "--encoding",
                "ordinal",
            ],
        ),
        (
            "t-knn",
            &t,
            &titanic_cls,
            vec!["--model", "knn", "--na", "mean", "--scale"],
        ),
        (
            "t-nb",
            &complete,
            &titanic_cls,
            vec!["--model", "gaussian-nb", "--na", "drop"],
        ),
        (
            "tf-linear",
            &t,
            &titanic_reg,
            vec!["--model", "linear-regression", "--na", "mean"],
        ),
        (
            "tf-ridge",
            &t,
            &titanic_reg,
            vec!["--model", "ridge", "--na", "median", "--scale"],
        ),
        (
            "tf-lasso",
            &t,
            &titanic_reg,
            vec!["--model", "lasso", "--na", "mean", "--alpha", "0.5"],
        ),
        (
            "tf-rf",
            &t,
            &titanic_reg,
            vec![
                "--model",
                "random-forest",
                "--n-estimators",
                "20",
                "--na",
                "mean",
            ],
        ),
        (
            "tf-dt",
            &t,
            &titanic_reg,
            vec![
                "--model",
                "decision-tree",
                "--na",
                "zero",
                "--max-depth",
                "6",
            ],
        ),
        (
            "tf-knn",
            &t,
            &titanic_reg,
            vec!["--model", "knn", "--na", "mean", "--scale"],
        ),
        (
            "s-lr",
            &species,
            &sp,
            vec!["--model", "logistic-regression"],
        ),
        (
            "s-rf",
            &species,
            &sp,
            vec!["--model", "random-forest", "--n-estimators", "20"],
        ),
        ("s-dt", &species, &sp, vec!["--model", "decision-tree"]),
        ("s-knn", &species, &sp, vec!["--model", "knn", "--scale"]),
        ("s-nb", &species, &sp, vec!["--model", "gaussian-nb"]),
        (
            "h-linear",
            &houses,
            &ho,
            vec!["--model", "linear-regression"],
        ),
        ("h-ridge", &houses, &ho, vec!["--model", "ridge", "--scale"]),
        ("h-lasso", &houses, &ho, vec!["--model", "lasso"]),
        (
            "h-rf",
            &houses,
            &ho,
            vec!["--model", "random-forest", "--n-estimators", "20"],
        ),
        ("h-dt", &houses, &ho, vec!["--model", "decision-tree"]),
        ("h-knn", &houses, &ho, vec!["--model", "knn"]),
        // Gradient boosting keeps missing values (Titanic's Age, the houses' age) and routes them.
        (
            "t-gb",
            &t,
            &titanic_cls,
            vec!["--model", "gradient-boosting", "--n-estimators", "30"],
        ),
        (
            "tf-gb",
            &t,
            &titanic_reg,
            vec!["--model", "gradient-boosting", "--n-estimators", "20"],
        ),
        (
            "s-gb",
            &species,
            &sp,
            vec!["--model", "gradient-boosting", "--n-estimators", "20"],
        ),
        (
            "h-gb",
            &houses,
            &["--target", "price"],
            vec!["--model", "gradient-boosting", "--n-estimators", "20"],
        ),
        // Every feature numeric (the loader's one-copy path), missing ages kept.
        (
            "hn-gb",
            &houses,
            &["--target", "price", "--features", "area,rooms,age"],
            vec!["--model", "gradient-boosting", "--n-estimators", "20"],
        ),
    ];
    let mut models = Vec::new();
    let mut expected = std::collections::BTreeMap::new();
    for (name, data, common, variant) in &plan {
        let mut args: Vec<&str> = common.to_vec();
        args.extend(variant);
        let m = train_registered(&s, name, data, &args);
        let e = mlx_predict(&s, &format!("models:/{name}@Champion"), &m.data);
        models.push(json!({"name": m.name, "data": m.data, "expected": e}));
        expected.insert(name.to_string(), e);
    }
    // Labels keep the target's type: ints for Survived, strings for species; regression gives floats.
    assert!(expected["t-lr"]["predictions"][0]["prediction"].is_i64());
    assert!(expected["s-rf"]["predictions"][0]["prediction"].is_string());
    assert!(expected["h-knn"]["predictions"][0].is_f64());

    // Bad input: the same message as mlx (mlx predict numbers CSV rows from 2, a DataFrame from 0).
    let bad_csv = dir.join("bad.csv");
    fs::write(
        &bad_csv,
        "Pclass,Sex,Age,Fare,Embarked\n3,male,22,7.25,S\n1,female,,71.28,C\n",
    )
    .unwrap();
    let err = s.fails(&[
        "predict",
        "--model",
        "models:/t-nb@Champion",
        "--data",
        bad_csv.to_str().unwrap(),
    ]);
    let tail = "missing value (the model was trained with --na drop)";
    assert!(
        err.contains(&format!("column 'Age', row 3: {tail}")),
        "{err}"
    );
    let unknown_csv = dir.join("unknown.csv");
    fs::write(
        &unknown_csv,
        "Pclass,Sex,Age,Fare,Embarked\n3,other,22,7.25,S\n",
    )
    .unwrap();
    let err = s.fails(&[
        "predict",
        "--model",
        "models:/t-lr@Champion",
        "--data",
        unknown_csv.to_str().unwrap(),
    ]);
    let unknown = "unknown value \"other\" (known: female, male, or their codes 0, 1)";
    assert!(
        err.contains(&format!("column 'Sex', row 2: {unknown}")),
        "{err}"
    );
    let bad = json!([
        {"name": "t-nb", "rows": {"Pclass": [3, 1], "Sex": ["male", "female"], "Age": [22.0, null],
                                  "Fare": [7.25, 71.28], "Embarked": ["S", "C"]},
         "message": format!("column 'Age', row 1: {tail}")},
        {"name": "t-lr", "rows": {"Pclass": [3], "Sex": ["other"], "Age": [22.0], "Fare": [7.25],
                                  "Embarked": ["S"]},
         "message": format!("column 'Sex', row 0: {unknown}")},
    ]);
    let spec = json!({"store": s.root(), "models": models, "bad": bad});
    let report = run_check(&s, &spec, "load");
    assert_eq!(report.as_array().unwrap().len(), plan.len() + 2, "{report}");
    for r in report.as_array().unwrap().iter().take(plan.len()) {
        let dtype = r["dtype"].as_str().unwrap();
        let name = r["name"].as_str().unwrap();
        let want = match name.split('-').next().unwrap() {
            "t" => "int64",
            "s" => "object",
            _ => "float64",
        };
        assert_eq!(dtype, want, "{name}");
    }

    // mlflow models serve answers /invocations as mlx serve does.
    let mut servers = Vec::new();
    let mut serve = Vec::new();
    for (name, proba) in [
        ("t-lr", true),
        ("s-rf", true),
        ("h-knn", false),
        ("tf-lasso", false),
    ] {
        let server = Server::start(&s, &["--model", &format!("models:/{name}@Champion")]);
        let m = models
            .iter()
            .find(|m| m["name"] == name)
            .expect("trained above");
        serve.push(
            json!({"name": name, "data": m["data"], "expected": m["expected"], "proba": proba,
                          "mlx_url": format!("http://127.0.0.1:{}", server.port)}),
        );
        servers.push(server);
    }
    let spec = json!({"store": s.root(), "models": [], "serve": serve});
    let report = run_check(&s, &spec, "serve");
    assert_eq!(report.as_array().unwrap().len(), 4, "{report}");
    for server in servers {
        server.stop();
    }

    // spark_udf on a local Spark session (one session for every model).
    let spec = json!({"store": s.root(), "models": models});
    let report = run_check(&s, &spec, "spark");
    assert_eq!(report.as_array().unwrap().len(), plan.len(), "{report}");
}

/// The fitted state of a model folder (`model.json`, and `trees.bin` if any).
fn fitted_state(folder: &Path) -> Vec<Vec<u8>> {
    ["model.json", "trees.bin"]
        .iter()
        .filter_map(|f| fs::read(folder.join(f)).ok())
        .collect()
}

/// Strip what the flavor adds, leaving the folder as mlx wrote it before.
fn strip_flavor(dir: &Path) {
    let path = dir.join("MLmodel");
    let mut meta: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    meta["flavors"]
        .as_mapping_mut()
        .unwrap()
        .remove("python_function")
        .expect("a fresh model has the flavor");
    meta["signature"]["params"] = serde_yaml_ng::Value::Null;
    fs::write(&path, serde_yaml_ng::to_string(&meta).unwrap()).unwrap();
    fs::remove_dir_all(dir.join("code")).unwrap();
    for f in ["requirements.txt", "python_env.yaml", "conda.yaml"] {
        fs::remove_file(dir.join(f)).unwrap();
    }
}

#[test]
fn add_pyfunc_brings_older_models_to_mlflow_without_changing_predictions() {
    let s = TestStore::new();
    let dir = s.dir.path();
    let t = titanic();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pre-pyfunc");
    let mut models = Vec::new();
    // Folders written by mlx before the flavor existed (see tests/fixtures/pre-pyfunc/README.md).
    for name in ["lr", "dt"] {
        let folder = dir.join(name);
        copy_dir(&fixtures.join(name), &folder);
        let uri = folder.to_str().unwrap();
        let before = mlx_predict(&s, uri, &t);
        let state = fitted_state(&folder);
        let added = s
            .mlx()
            .args(["models", "add-pyfunc", uri])
            .assert()
            .success();
        let said = String::from_utf8_lossy(&added.get_output().stderr).to_string();
        assert!(said.contains("Added the python_function flavor"), "{said}");
        assert_eq!(
            state,
            fitted_state(&folder),
            "the fitted state is not touched"
        );
        assert_eq!(mlx_predict(&s, uri, &t), before);
        let mlmodel = fs::read_to_string(folder.join("MLmodel")).unwrap();
        assert!(mlmodel.contains("loader_module: mlx_pyfunc"), "{mlmodel}");
        assert!(folder.join("code/mlx_pyfunc.py").is_file());
        // A second run refreshes the loader and changes nothing else.
        let out = s
            .mlx()
            .args(["models", "add-pyfunc", uri])
            .output()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stderr).contains("Refreshed"));
        assert_eq!(fs::read_to_string(folder.join("MLmodel")).unwrap(), mlmodel);
        models.push(json!({"name": name, "uri": uri, "data": t, "expected": before}));
    }
    assert!(
        models[0]["expected"]["predictions"][0]["prediction"].is_string(),
        "lr predicts Embarked's text labels"
    );

    // A registered model whose folder lacks the flavor, fixed through its models:/ URI.
    s.ok(&[
        "train",
        "--data",
        t.to_str().unwrap(),
        "--target",
        "Survived",
        "--features",
        "Pclass,Sex,Age,Fare",
        "--na",
        "mean",
        "--model",
        "random-forest",
        "--n-estimators",
        "10",
        "--register",
        "old",
    ]);
    s.ok(&["alias", "set", "Champion", "1", "--model", "old"]);
    let resolved = s.json(&["models", "show", "old"]);
    let source = resolved["versions"][0]["source"].as_str().unwrap();
    let model_id = source.strip_prefix("models:/").unwrap();
    let folder = s
        .files()
        .iter()
        .find(|f| f.contains(model_id) && f.ends_with("artifacts/MLmodel"))
        .map(|f| s.root().join(f).parent().unwrap().to_path_buf())
        .expect("the logged model's folder");
    strip_flavor(&folder);
    let before = mlx_predict(&s, "models:/old@Champion", &t);
    s.ok(&["models", "add-pyfunc", "models:/old@Champion"]);
    assert_eq!(mlx_predict(&s, "models:/old@Champion", &t), before);
    models.push(json!({"name": "old", "data": t, "expected": before}));
    let spec = json!({"store": s.root(), "models": models});
    let report = run_check(&s, &spec, "load");
    assert_eq!(report.as_array().unwrap().len(), 3, "{report}");

    // Not an mlx model, or someone else's python_function: a clear error, nothing written.
    let foreign = dir.join("foreign");
    fs::create_dir_all(&foreign).unwrap();
    fs::write(foreign.join("MLmodel"), "flavors:\n  sklearn: {}\n").unwrap();
    let err = s.fails(&["models", "add-pyfunc", foreign.to_str().unwrap()]);
    assert!(err.contains("no mlx flavor"), "{err}");
    assert_eq!(fs::read_dir(&foreign).unwrap().count(), 1);
    let other = dir.join("other");
    copy_dir(&fixtures.join("dt"), &other);
    let mlmodel = fs::read_to_string(other.join("MLmodel")).unwrap().replace(
        "flavors:\n",
        "flavors:\n  python_function:\n    loader_module: mlflow.sklearn\n",
    );
    fs::write(other.join("MLmodel"), &mlmodel).unwrap();
    let err = s.fails(&["models", "add-pyfunc", other.to_str().unwrap()]);
    assert!(err.contains("loader_module mlflow.sklearn"), "{err}");
    assert_eq!(fs::read_to_string(other.join("MLmodel")).unwrap(), mlmodel);
    assert!(!other.join("code").exists());
}

/// The loader's fast kNN search (a float32 bound over groups of training rows, then exact distances)
/// keeps exactly the rows scikit-learn's heap keeps, on tied, huge-valued and tiny data.
#[test]
fn the_loaders_knn_search_keeps_the_heaps_rows_on_hard_data() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(python())
        .arg(root.join("tests/interop/knn_candidates.py"))
        .arg(root.join("src/ml/mlx_pyfunc.py"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "ok 48");
}

/// Cells that pandas types differently from how they look: integral floats (`59.0`), exponents (`1e3`),
/// an integer column with gaps, booleans with and without gaps, leading zeros (`007`), gaps spelled `n/a`.
fn pandas_edge_csv(dir: &Path) -> PathBuf {
    let mut out = String::from("age,amount,visits,flag,member,code,count,colour,weight,label\n");
    for i in 0..48 {
        let age = 20 + (i * 7) % 50;
        let amount = if i % 3 == 0 {
            "1e3".to_string()
        } else {
            format!("{}", 100 + i * 10)
        };
        let visits = if i % 7 == 3 {
            String::new()
        } else {
            format!("{}", i % 5)
        };
        let flag = if (i * 5) % 3 == 0 { "True" } else { "False" };
        let member = match i % 9 {
            4 => "",
            k if k % 2 == 0 => "True",
            _ => "False",
        };
        let code = format!("{:03}", [7, 10, 42][i % 3]);
        let colour = ["red", "green", "blue"][(i * 11) % 3];
        let label = if age + (i % 4) * 9 > 45 { "yes" } else { "no" };
        // pandas' other missing-value spellings.
        let weight = match i % 10 {
            2 => "n/a".to_string(),
            6 => "<NA>".to_string(),
            k => format!("{}", 50 + k * 3),
        };
        out.push_str(&format!(
            "{age}.0,{amount},{visits},{flag},{member},{code},{},{colour},{weight},{label}\n",
            i % 13
        ));
    }
    let path = dir.join("edge.csv");
    fs::write(&path, out).unwrap();
    path
}

#[test]
fn signatures_are_what_pandas_reads_and_mlflow_predicts_on_pandas_read_csv() {
    let s = TestStore::new();
    let dir = s.dir.path();
    let written =
        crate::common::interop_json("pandas_signature.py", &["write".as_ref(), dir.as_os_str()]);
    assert_eq!(written, json!(["diabetes.csv", "wine.csv"]));
    let edge = pandas_edge_csv(dir);
    let wine = dir.join("wine.csv");
    let diabetes = dir.join("diabetes.csv");
    let every = "age,amount,visits,flag,member,code,count,colour,weight";
    let plan: Vec<(&str, &Path, Vec<&str>)> = vec![
        (
            "e-lr",
            &edge,
            vec!["--target", "label", "--features", every, "--na", "mean"],
        ),
        (
            "e-gb",
            &edge,
            vec![
                "--target",
                "label",
                "--na",
                "median",
                "--model",
                "gradient-boosting",
            ],
        ),
        (
            "e-cat",
            &edge,
            vec![
                "--target",
                "label",
                "--na",
                "mean",
                "--model",
                "random-forest",
                "--categorical",
                "code",
                "--encoding",
                "ordinal",
            ],
        ),
        ("w-lr", &wine, vec!["--target", "quality"]),
        (
            "w-dt",
            &wine,
            vec!["--target", "quality", "--model", "decision-tree"],
        ),
        (
            "d-lin",
            &diabetes,
            vec![
                "--target",
                "progression",
                "--na",
                "mean",
                "--model",
                "linear-regression",
            ],
        ),
        (
            "d-rf",
            &diabetes,
            vec![
                "--target",
                "progression",
                "--na",
                "mean",
                "--model",
                "random-forest",
            ],
        ),
    ];
    let mut spec = Vec::new();
    let mut expected = Vec::new();
    for (name, data, args) in &plan {
        let t = train_registered(&s, name, data, args);
        let uri = format!("models:/{name}@Champion");
        expected.push(mlx_predict(&s, &uri, &t.data)["predictions"].clone());
        spec.push(json!({"name": name, "uri": uri, "data": t.data}));
    }
    let path = dir.join("spec-pandas.json");
    fs::write(&path, Value::from(spec).to_string()).unwrap();
    let out = std::process::Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pandas_signature.py"))
        .arg("check")
        .arg(&path)
        .env("MLFLOW_ALLOW_FILE_STORE", "true")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    for (entry, exp) in report.as_array().unwrap().iter().zip(&expected) {
        let name = &entry["name"];
        assert_eq!(entry["signature"], entry["pandas"], "{name}");
        assert!(entry.get("error").is_none(), "{name}: {}", entry["error"]);
        let got = entry["predictions"].as_array().unwrap();
        let exp = exp.as_array().unwrap();
        assert_eq!(got.len(), exp.len(), "{name}");
        for (i, (g, e)) in got.iter().zip(exp).enumerate() {
            match e.get("prediction") {
                Some(label) => assert_eq!(g, label, "{name} row {i}"),
                None => {
                    let (g, e) = (g.as_f64().unwrap(), e.as_f64().unwrap());
                    assert!(
                        (g - e).abs() <= 1e-9 * e.abs().max(1.0),
                        "{name} row {i}: {g} vs {e}"
                    );
                }
            }
        }
    }
    // The types themselves, as pandas gives them (the edge file's columns, in order).
    assert_eq!(
        report[0]["pandas"],
        json!({"age": "double", "amount": "double", "visits": "double", "flag": "boolean",
               "member": "string", "code": "long", "count": "long", "colour": "string",
               "weight": "double"})
    );
    assert_eq!(report[2]["signature"]["code"], "long");
    assert_eq!(
        report[3]["pandas"],
        json!({"alcohol": "double", "acidity": "double", "sulphates": "double", "organic": "boolean",
               "region": "string"})
    );
}
