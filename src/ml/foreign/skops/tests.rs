use super::*;
use std::io::Write;

/// A skops-like zip of `files` (name, bytes), stored uncompressed.
pub(crate) fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn json_node(v: &str) -> Value {
    serde_json::json!({"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": v, "is_json": true})
}

fn object(class: &str, module: &str, attrs: Value) -> Value {
    serde_json::json!({
        "__class__": class, "__module__": module, "__loader__": "ObjectNode",
        "content": {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
                    "content": attrs, "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": []}},
        "protocol": 2
    })
}

#[test]
fn reads_an_allowed_object_with_arrays() {
    let coef = npy::write(
        "'<f8'",
        false,
        &[1, 2],
        &[1.5f64, -2.0]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect::<Vec<_>>(),
    );
    let schema = object(
        "LogisticRegression",
        "sklearn.linear_model._logistic",
        serde_json::json!({
            "C": json_node("1.0"),
            "coef_": {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "numpy", "file": "1.npy"},
            "tol": json_node("NaN"),
        }),
    );
    let z = zip_of(&[
        ("schema.json", schema.to_string().into_bytes()),
        ("1.npy", coef),
    ]);
    let tree = read(&z).unwrap();
    assert_eq!(tree.class_name(), "LogisticRegression");
    assert_eq!(tree.number("C").unwrap(), 1.0);
    assert!(tree.number("tol").unwrap().is_nan());
    assert_eq!(tree.array("coef_").unwrap(), (vec![1.5, -2.0], vec![1, 2]));
}

#[test]
fn reads_slices_partials_of_known_functions_and_skips_random_states() {
    let list = serde_json::json!({"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": []});
    let schema = object(
        "ColumnTransformer",
        "sklearn.compose._column_transformer",
        serde_json::json!({
            "s": {"__class__": "slice", "__module__": "builtins", "__loader__": "SliceNode", "content": {"start": 0, "stop": 2, "step": null}},
            "f": {"__class__": "partial", "__module__": "functools", "__loader__": "PartialNode", "content": {
                "func": {"__class__": "check_array", "__module__": "sklearn.utils.validation", "__loader__": "FunctionNode"},
                "args": list, "kwds": list}},
            "r": {"__class__": "RandomState", "__module__": "numpy.random.mtrand", "__loader__": "RandomStateNode", "content": {"anything": 1}},
        }),
    );
    let tree = read(&zip_of(&[("schema.json", schema.to_string().into_bytes())])).unwrap();
    assert!(matches!(
        tree.get("s"),
        Some(Node::Slice(Some(0), Some(2), None))
    ));
    assert!(
        matches!(tree.get("f").and_then(|f| f.get("func")), Some(Node::Function(n)) if n == "sklearn.utils.validation.check_array")
    );
    assert_eq!(
        tree.get("r").unwrap().class_name(),
        "numpy.random.mtrand.RandomState"
    );
    let evil = serde_json::json!({"__class__": "partial", "__module__": "functools", "__loader__": "PartialNode", "content": {
        "func": {"__class__": "system", "__module__": "os", "__loader__": "FunctionNode"}, "args": list, "kwds": list}});
    let e = read(&zip_of(&[("schema.json", evil.to_string().into_bytes())])).unwrap_err();
    assert!(e.0.contains("FunctionNode\" (class os.system)"), "{}", e.0);
}

#[test]
fn refuses_unknown_classes_loaders_and_names() {
    let evil = object("Popen", "subprocess", serde_json::json!({}));
    let z = zip_of(&[("schema.json", evil.to_string().into_bytes())]);
    assert!(
        read(&z)
            .unwrap_err()
            .0
            .contains("unsupported class subprocess.Popen")
    );
    let f = serde_json::json!({"__class__": "system", "__module__": "os", "__loader__": "FunctionNode", "content": {}});
    let z = zip_of(&[("schema.json", f.to_string().into_bytes())]);
    assert!(read(&z).unwrap_err().0.contains("FunctionNode"));
    let z = zip_of(&[("../../etc/passwd", b"x".to_vec())]);
    assert!(read(&z).unwrap_err().0.contains("not a plain file name"));
    let missing = object(
        "LogisticRegression",
        "sklearn.linear_model._logistic",
        serde_json::json!({"coef_": {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "numpy", "file": "9.npy"}}),
    );
    let z = zip_of(&[("schema.json", missing.to_string().into_bytes())]);
    assert!(read(&z).unwrap_err().0.contains("no entry \"9.npy\""));
    assert!(read(b"not a zip").unwrap_err().0.contains("not a zip"));
}

/// A dict of `refs` references to one array `1.npy` of `n` elements of `descr` (all zero).
fn many_refs(descr: &str, itemsize: usize, n: usize, refs: usize) -> Vec<u8> {
    let arr = serde_json::json!({"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode", "type": "numpy", "file": "1.npy"});
    let attrs: serde_json::Map<String, Value> =
        (0..refs).map(|i| (format!("a{i}"), arr.clone())).collect();
    let schema = object("Ridge", "sklearn.linear_model._ridge", Value::Object(attrs));
    let npy = npy::write(descr, false, &[n], &vec![0u8; n * itemsize]);
    zip_of(&[
        ("schema.json", schema.to_string().into_bytes()),
        ("1.npy", npy),
    ])
}

const SMALL_BUDGET: Limits = Limits {
    budget_base: 1 << 20,
    budget_per_byte: 16,
    ..LIMITS
};

#[test]
fn each_reference_to_an_array_is_charged_to_the_budget() {
    // 8192 doubles: 64 KiB of data, charged 128 KiB per reference (its copy and its numbers).
    let z = many_refs("'<f8'", 8, 8192, 2);
    assert!(Archive::read(&z, SMALL_BUDGET).unwrap().tree().is_ok());
    let z = many_refs("'<f8'", 8, 8192, 100);
    let e = Archive::read(&z, SMALL_BUDGET)
        .unwrap()
        .tree()
        .unwrap_err()
        .0;
    let want = format!(
        "schema.json: array 1.npy: reading this {}-byte file would take more than its memory budget of {} bytes (1 MiB + 16 per byte of the file); refused as a crafted file",
        z.len(),
        (1 << 20) + 16 * z.len()
    );
    assert_eq!(e, want);
    // The real budget reads it.
    assert!(read(&z).is_ok());
}

#[test]
fn an_array_of_bytes_is_charged_for_the_numbers_it_becomes() {
    // 512 KiB of bytes would become 4 MiB of doubles.
    let z = many_refs("'|u1'", 1, 512 << 10, 1);
    let e = Archive::read(&z, SMALL_BUDGET)
        .unwrap()
        .tree()
        .unwrap_err()
        .0;
    assert!(
        e.starts_with("schema.json: array 1.npy: reading this"),
        "{e}"
    );
    // Half of it fits.
    let z = many_refs("'|u1'", 1, 64 << 10, 1);
    assert!(Archive::read(&z, SMALL_BUDGET).unwrap().tree().is_ok());
}

#[test]
fn an_entry_that_unpacks_past_the_budget_is_refused_before_it_is_read() {
    let z = zip_of(&[("1.npy", vec![0u8; 4 << 20])]);
    let e = Archive::read(&z, SMALL_BUDGET).err().unwrap().0;
    assert!(
        e.starts_with(&format!("entry 1.npy: reading this {}-byte file", z.len())),
        "{e}"
    );
    // A long JSON value in the schema is charged as well.
    let schema = object(
        "Ridge",
        "sklearn.linear_model._ridge",
        serde_json::json!({"alpha": json_node(&format!("[{}0]", "0,".repeat(20_000)))}),
    );
    let z = zip_of(&[("schema.json", schema.to_string().into_bytes())]);
    let e = Archive::read(&z, SMALL_BUDGET)
        .unwrap()
        .tree()
        .unwrap_err()
        .0;
    assert!(
        e.starts_with("schema.json: a JSON value in builtins.str: reading this"),
        "{e}"
    );
}

#[test]
fn types_outside_builtin_and_numpy_types_are_refused() {
    let with_type = |loader: &str, module: &str, class: &str| {
        let t = serde_json::json!({"__class__": class, "__module__": module, "__loader__": loader, "content": {}});
        let schema = object(
            "Ridge",
            "sklearn.linear_model._ridge",
            serde_json::json!({"dtype": t}),
        );
        read(&zip_of(&[("schema.json", schema.to_string().into_bytes())]))
    };
    for (loader, module, class) in [
        ("TypeNode", "os", "system"),
        ("TypeNode", "builtins", "eval"),
        ("TypeNode", "subprocess", "Popen"),
        ("DTypeNode", "os", "system"),
        ("DTypeNode", "builtins", "eval"),
    ] {
        let e = with_type(loader, module, class).unwrap_err().0;
        assert_eq!(
            e,
            format!(
                "unsupported type {module}.{class} (as a {loader}): mlx reads builtin and numpy types only"
            )
        );
    }
    for (loader, module, class) in [
        ("TypeNode", "builtins", "str"),
        ("TypeNode", "numpy", "float64"),
        ("DTypeNode", "numpy", "dtype"),
    ] {
        let tree = with_type(loader, module, class).unwrap();
        assert!(
            matches!(tree.get("dtype"), Some(Node::Type(t)) if *t == format!("{module}.{class}"))
        );
    }
}

#[test]
fn stops_zip_bombs() {
    // 64 MiB of zeros compresses to ~64 KiB; with a 1 MiB cap it is refused after reading 1 MiB.
    let z = zip_of(&[("schema.json", vec![0u8; 64 << 20])]);
    assert!(z.len() < 1 << 20);
    let small = Limits {
        max_entries: 10,
        max_entry_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        ..LIMITS
    };
    let e = Archive::read(&z, small).err().unwrap().0;
    assert!(e.contains("unpacks to"), "{e}");
    let many: Vec<(String, Vec<u8>)> = (0..12).map(|i| (format!("{i}.npy"), vec![])).collect();
    let many: Vec<(&str, Vec<u8>)> = many.iter().map(|(n, b)| (n.as_str(), b.clone())).collect();
    let e = Archive::read(&zip_of(&many), small).err().unwrap().0;
    assert!(e.contains("12 entries"), "{e}");
}
