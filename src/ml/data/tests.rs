//! Unit tests of `ml/data/`: reading, typing and the table's digest.

use super::*;
use std::path::{Path, PathBuf};

fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("d.csv");
    std::fs::write(&p, text).unwrap();
    (d, p)
}

#[test]
fn types_and_missing_values() {
    let (_d, p) = write("a,b,c\n1,x,2.5\n,y,NA\n3,,4\n");
    let t = Table::read_csv(&p, &ReadOptions::default()).unwrap();
    assert_eq!(t.n_rows, 3);
    assert_eq!(
        t.columns[0],
        Column::Numeric(vec![Some(1.0), None, Some(3.0)])
    );
    assert_eq!(
        t.columns[1],
        Column::Text(vec![Some("x".into()), Some("y".into()), None])
    );
    assert_eq!(t.columns[0].mlflow_type(), "long");
    assert_eq!(t.columns[2].mlflow_type(), "double");
}

#[test]
fn column_types_are_the_ones_pandas_reads() {
    let (_d, p) =
        write("a,b,c,d,e,f,g,h\n59.0,1e3,1,True,007,true,True,-3\n127.0,2,,False,010,FALSE,,+4\n");
    let t = Table::read_csv(&p, &ReadOptions::default()).unwrap();
    assert_eq!(
        t.kinds,
        [
            "double", "double", "double", "boolean", "long", "boolean", "string", "long"
        ]
    );
    assert_eq!(t.mlflow_type("e"), Some("long"));
    // Booleans are categories spelled as pandas prints them; a categorical number as it reads.
    assert_eq!(
        t.column("f"),
        Some(&Column::Text(vec![
            Some("True".into()),
            Some("False".into())
        ]))
    );
    let opts = ReadOptions {
        categorical: vec!["e".into()],
        ..Default::default()
    };
    let t = Table::read_csv(&p, &opts).unwrap();
    assert_eq!(
        t.column("e"),
        Some(&Column::Text(vec![Some("7".into()), Some("10".into())]))
    );
    assert_eq!(t.mlflow_type("e"), Some("long"));
    assert_eq!(pandas_type(&[None, None]), "double");
    let (_d, p) = write("a,b\n1,x\nn/a,none\n<NA>,y\n");
    let t = Table::read_csv(&p, &ReadOptions::default()).unwrap();
    assert_eq!(t.kinds, ["double", "string"]);
    assert_eq!(
        t.column("a"),
        Some(&Column::Numeric(vec![Some(1.0), None, None]))
    );
    assert_eq!(pandas_type(&[Some("9223372036854775808".into())]), "double");
}

#[test]
fn longs_past_i64_max_are_out_of_range_though_they_round_to_it() {
    let range = "out of range for long (-9223372036854775808..9223372036854775807)";
    for text in ["9223372036854775808", "9223372036854776832", "1e19"] {
        let x = parse_finite(text).unwrap();
        assert_eq!(
            check_integer_text("long", text, x),
            Err(format!("{text} is {range}"))
        );
        assert!(check_integer("long", x).is_err(), "{text}");
    }
    assert_eq!(
        check_integer("long", 9_223_372_036_854_775_807.0),
        Err(format!("9223372036854776000 is {range}")),
        "as a float, i64::MAX is 2^63"
    );
    for text in ["9223372036854775807", "-9223372036854775808", "7"] {
        let x = parse_finite(text).unwrap();
        assert_eq!(check_integer_text("long", text, x), Ok(()), "{text}");
    }
    assert_eq!(check_integer("long", -9_223_372_036_854_775_808.0), Ok(()));
    assert_eq!(
        check_integer("integer", 2_147_483_648.0),
        Err("2147483648 is out of range for integer (-2147483648..2147483647)".into())
    );
    assert_eq!(check_integer("integer", 2_147_483_647.0), Ok(()));
    let (_d, p) = write("age\n9223372036854775807\n9223372036854775809\n");
    let opts = ReadOptions {
        expected: [("age".to_string(), "long".to_string())].into(),
        ..Default::default()
    };
    assert_eq!(
        Table::read_csv(&p, &opts).unwrap_err().to_string(),
        format!(
            "{}: column 'age', row 3: 9223372036854775809 is {range} (the model expects long)",
            p.display()
        )
    );
}

#[test]
fn bad_files_name_the_problem() {
    let (_d, p) = write("");
    let e = Table::read_csv(&p, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty"), "{e}");
    let (_d, p) = write("a,b\n");
    let e = Table::read_csv(&p, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no data rows"), "{e}");
    let (_d, p) = write("a,b\n1,2\n3\n");
    let e = Table::read_csv(&p, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("row 3") && e.contains("1 fields"), "{e}");
    let (_d, p) = write("age,y\n1,0\n2,1\nabc,0\n4,1\n");
    let text: String = std::iter::once("age,y\n".to_string())
        .chain((0..20).map(|i| {
            if i == 2 {
                "abc,0\n".into()
            } else {
                format!("{i},1\n")
            }
        }))
        .collect();
    let (_e, q) = write(&text);
    let t = Table::read_csv(&q, &ReadOptions::default()).unwrap();
    let e = t
        .check_numeric(&q, &["age".into()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("column 'age', row 4") && e.contains("\"abc\""),
        "{e}"
    );
    assert!(
        t.check_numeric(&q, &["y".into()]).is_ok(),
        "unused columns are not checked"
    );
    let opts = ReadOptions {
        expected: [("age".to_string(), "long".to_string())].into(),
        ..Default::default()
    };
    let e = Table::read_csv(&p, &opts).unwrap_err().to_string();
    assert!(
        e.contains("column 'age', row 4") && e.contains("expects long"),
        "{e}"
    );
    let e = Table::read_csv(Path::new("/no/such.csv"), &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("/no/such.csv"), "{e}");
}

#[test]
fn digest_changes_with_data() {
    let (_d, p) = write("a,b\n1,x\n2,y\n");
    let (_e, q) = write("a,b\n1,x\n2,z\n");
    let t1 = Table::read_csv(&p, &ReadOptions::default()).unwrap();
    let t2 = Table::read_csv(&q, &ReadOptions::default()).unwrap();
    assert_eq!(digest(&t1).len(), 8);
    assert_ne!(digest(&t1), digest(&t2));
    assert_eq!(digest(&t1), digest(&t1.clone()));
}
