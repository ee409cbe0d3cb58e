//! Unit tests of the folder store's `TrackingStore` impl in `mod.rs`.

use super::*;

#[test]
fn delete_tag_removes_a_run_or_experiment_tag_and_names_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("mlruns"));
    let exp = store
        .create_experiment("e", None, &BTreeMap::new())
        .unwrap();
    let run = store
        .create_run(NewRun {
            run_id: None,
            experiment_id: exp.clone(),
            run_name: Some("r".into()),
            user_id: "u".into(),
            start_time: 1,
            tags: BTreeMap::from([("team".to_string(), "vision".to_string())]),
        })
        .unwrap()
        .run_id;
    store.set_experiment_tag(&exp, "owner", "me").unwrap();
    store
        .delete_tag(&TagOwner::Run(run.clone()), "team")
        .unwrap();
    store
        .delete_tag(&TagOwner::Experiment(exp.clone()), "owner")
        .unwrap();
    assert!(!store.get_run(&run).unwrap().data.tags.contains_key("team"));
    assert!(store.get_experiment(&exp).unwrap().tags.is_empty());
    let e = store
        .delete_tag(&TagOwner::Run(run.clone()), "team")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("invalid tag: no tag 'team' on run {run}")
    );
    // A key cannot reach outside the tags folder.
    let e = store
        .delete_tag(&TagOwner::Run(run), "../meta.yaml")
        .unwrap_err();
    assert!(matches!(e, StoreError::InvalidKey { .. }), "{e}");
}

#[test]
fn experiment_ids_look_like_mlflows() {
    for _ in 0..200 {
        let id = new_experiment_id();
        assert_eq!(id.len(), 18);
        assert!(id.bytes().all(|b| b.is_ascii_digit()));
        assert_ne!(id.as_bytes()[0], b'0');
    }
}
