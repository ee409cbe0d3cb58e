//! `mlx ui`'s editing, the runs list's filters and the artifact tree (issue #31, points 3–5): in headless
//! Chromium, each edit read back with `mlx ... show` and the real MLflow client; the endpoint's guards
//! over HTTP; the filters against `mlx runs list`; the tree against the API's listing.

use crate::common::{TestStore, mlflow_dump};
use crate::ui::{Browser, get, populated, start_ui};
use serde_json::{Value, json};

const SET_TAG: &str =
    r#"{"target":"run","id":"RUN","action":"set_tag","key":"team","value":"vision"}"#;

fn run_tags(s: &TestStore, run: &str) -> Value {
    s.json(&["runs", "show", run])["info"]["tags"].clone()
}

#[test]
fn the_edit_endpoint_refuses_without_the_token_from_a_foreign_origin_or_a_form_body() {
    let s = TestStore::new();
    let run = s.start(&["--experiment", "e", "--name", "r"]);
    let body = SET_TAG.replace("RUN", &run);
    let ui = start_ui(&s, &["--token", "t0ken"]);
    let auth = ("Authorization", "Bearer t0ken");
    let (status, _, _) = ui.post_json("/admin/edit", &body, &[]);
    assert_eq!(status, 401);
    let (status, _, _) = ui.post_json("/admin/edit", &body, &[("Authorization", "Bearer nope")]);
    assert_eq!(status, 401);
    // A page elsewhere posting with the user's token cannot: its Origin is refused...
    let (status, _, _) = ui.post_json(
        "/admin/edit",
        &body,
        &[auth, ("Origin", "http://evil.example")],
    );
    assert_eq!(status, 403);
    // ... and a form (no preflight) cannot send JSON.
    let (status, _, _) = ui.request(
        "POST",
        "/admin/edit",
        &[("Content-Type", "text/plain"), auth],
        body.as_bytes(),
    );
    assert_eq!(status, 415);
    assert!(run_tags(&s, &run).get("team").is_none(), "nothing written");

    let (status, _, answer) = ui.post_json("/admin/edit", &body, &[auth]);
    assert_eq!(
        (status, answer.as_str()),
        (200, r#"{"done":"tag 'team' set"}"#)
    );
    assert_eq!(run_tags(&s, &run)["team"], "vision");
    // Errors name what is wrong, in one line.
    let (status, _, answer) = ui.post_json(
        "/admin/edit",
        &format!(r#"{{"target":"run","id":"{run}","action":"delete_tag","key":"nope"}}"#),
        &[auth],
    );
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["error"],
        format!("invalid tag: no tag 'nope' on run {run}")
    );
    let (status, _, answer) = ui.post_json(
        "/admin/edit",
        r#"{"target":"experiment","id":"0","action":"rename","value":"x"}"#,
        &[auth],
    );
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&answer).unwrap()["error"],
        "action: 'rename' cannot be done on a experiment (set_tag, delete_tag, describe; rename, delete, restore on runs)"
    );
    drop(ui);
    // No token configured: editing is off, as the alias actions.
    let ui = start_ui(&s, &[]);
    let (status, _, _) = ui.post_json("/admin/edit", &body, &[]);
    assert_eq!(status, 403);
}

/// Fill an edit panel's form and submit it; waits for the view drawn again.
fn submit(b: &mut Browser, panel: &str, fields: &[(&str, &str)], form: &str) {
    let mut js = format!(
        "{{ const p = document.querySelector({panel:?}); p.querySelector('details.edit').open = true; p.querySelector('.edit-token').value = 't0ken';"
    );
    for (sel, value) in fields {
        js.push_str(&format!(
            "p.querySelector({sel:?}).value = {};",
            Value::String((*value).into())
        ));
    }
    js.push_str(&format!("p.querySelector({form:?}).requestSubmit() }}"));
    b.act(&js);
}

fn click(b: &mut Browser, selector: &str) {
    b.act(&format!("document.querySelector({selector:?}).click()"));
}

#[test]
fn every_edit_in_the_page_round_trips_through_the_store() {
    let s = TestStore::new();
    let (exp, runs) = populated(&s);
    let hand = runs[2].clone();
    let ui = start_ui(&s, &["--token", "t0ken"]);
    let base = format!("http://127.0.0.1:{}", ui.port);
    let mut b = Browser::start(&format!("{base}/#/runs/{hand}"));

    // A run's tags: set, then delete.
    submit(
        &mut b,
        "#edit-run",
        &[(".tag-key", "team"), (".tag-value", "vision")],
        "form.set-tag",
    );
    assert_eq!(run_tags(&s, &hand)["team"], "vision");
    assert_eq!(
        b.eval("document.querySelector('#edit-run .edit-result').textContent"),
        "tag 'team' set"
    );
    click(&mut b, "#edit-run button.delete-tag[data-key=team]");
    assert!(run_tags(&s, &hand).get("team").is_none());

    // Its description, in Markdown, rendered without any of the source's HTML or script links.
    let note = "# Findings\nThe **loss** drops; see [the doc](https://example.org/doc) and `lr`.\n\n- one\n- two\n\n<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\"> [bad](javascript:window.pwned=3)";
    submit(
        &mut b,
        "#edit-run",
        &[(".description-text", note)],
        "form.describe",
    );
    assert_eq!(run_tags(&s, &hand)["mlflow.note.content"], note);
    let md = "document.querySelector('#edit-run .md')";
    assert_eq!(
        b.eval(&format!("{md}.querySelector('strong').textContent")),
        "loss"
    );
    assert_eq!(
        b.eval(&format!("{md}.querySelector('a').getAttribute('href')")),
        "https://example.org/doc"
    );
    assert_eq!(b.eval(&format!("{md}.querySelectorAll('li').length")), 2);
    assert_eq!(
        b.eval(&format!(
            "{md}.querySelectorAll('script, img, [onerror], a[href^=javascript]').length"
        )),
        0
    );
    assert!(
        b.eval(&format!("{md}.textContent"))
            .as_str()
            .unwrap()
            .contains("<script>window.pwned = 1</script>")
    );
    assert_eq!(b.eval("typeof window.pwned"), "undefined");
    b.screenshot("edit-run");

    // Rename, delete, restore.
    submit(
        &mut b,
        "#edit-run",
        &[(".new-name", "renamed-by-hand")],
        "form.rename",
    );
    let info = s.json(&["runs", "show", &hand])["info"].clone();
    assert_eq!(info["run_name"], "renamed-by-hand");
    assert_eq!(info["tags"]["mlflow.runName"], "renamed-by-hand");
    assert_eq!(
        b.eval("document.querySelector('h1').textContent"),
        "Run renamed-by-hand"
    );
    click(&mut b, "#edit-run button.delete-run");
    assert_eq!(
        s.json(&["runs", "show", &hand])["info"]["lifecycle_stage"],
        "deleted"
    );
    click(&mut b, "#edit-run button.restore-run");
    assert_eq!(
        s.json(&["runs", "show", &hand])["info"]["lifecycle_stage"],
        "active"
    );

    // The experiment's tags and description.
    b.open(&format!("#/experiments/{exp}"));
    submit(
        &mut b,
        "#edit-experiment",
        &[(".tag-key", "owner"), (".tag-value", "ml-team")],
        "form.set-tag",
    );
    submit(
        &mut b,
        "#edit-experiment",
        &[(".description-text", "Titanic *baselines*")],
        "form.describe",
    );
    let tags = s.json(&["experiments", "show", "ui"])["experiment"]["tags"].clone();
    assert_eq!(tags["owner"], "ml-team");
    assert_eq!(tags["mlflow.note.content"], "Titanic *baselines*");
    assert_eq!(
        b.eval("document.querySelector('#edit-experiment .md em').textContent"),
        "baselines"
    );
    click(&mut b, "#edit-experiment button.delete-tag[data-key=owner]");
    assert!(
        s.json(&["experiments", "show", "ui"])["experiment"]["tags"]
            .get("owner")
            .is_none()
    );

    // The registered model and a version.
    b.open("#/models/titanic");
    submit(
        &mut b,
        "#edit-model",
        &[(".tag-key", "stage"), (".tag-value", "prod")],
        "form.set-tag",
    );
    submit(
        &mut b,
        "#edit-model",
        &[(".description-text", "Survival on the **Titanic**")],
        "form.describe",
    );
    b.act("{ const v = document.querySelector('#edit-version .pick-version'); v.value = '1'; v.dispatchEvent(new Event('change')) }");
    submit(
        &mut b,
        "#edit-version .edit-panel",
        &[(".tag-key", "validated"), (".tag-value", "yes")],
        "form.set-tag",
    );
    submit(
        &mut b,
        "#edit-version .edit-panel",
        &[(".description-text", "the first")],
        "form.describe",
    );
    let shown = s.json(&["models", "show", "titanic"]);
    assert_eq!(shown["model"]["tags"]["stage"], "prod");
    assert_eq!(shown["model"]["description"], "Survival on the **Titanic**");
    let v1 = shown["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == 1)
        .unwrap()
        .clone();
    assert_eq!(v1["tags"]["validated"], "yes");
    assert_eq!(v1["description"], "the first");
    assert_eq!(
        b.eval("document.querySelector('#edit-model .md strong').textContent"),
        "Titanic"
    );
    click(
        &mut b,
        "#edit-version .edit-panel button.delete-tag[data-key=validated]",
    );
    click(&mut b, "#edit-model button.delete-tag[data-key=stage]");
    let shown = s.json(&["models", "show", "titanic"]);
    assert!(shown["model"]["tags"].get("stage").is_none());
    let v1 = shown["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["version"] == 1)
        .unwrap()
        .clone();
    assert!(v1["tags"].get("validated").is_none(), "{v1}");
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
    drop(b);

    // The real MLflow client reads the same.
    let dump = mlflow_dump(&s.root());
    let seen = &dump["runs"][&hand];
    assert_eq!(seen["run_name"], "renamed-by-hand");
    assert_eq!(seen["tags"]["mlflow.note.content"], note);
    assert_eq!(seen["lifecycle_stage"], "active");
    let e = dump["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "ui")
        .unwrap();
    assert_eq!(e["tags"]["mlflow.note.content"], "Titanic *baselines*");
}

/// Wait until `js` is true in the page (a preview loads after its fetch); fails after 30 s.
fn wait_for(b: &mut Browser, js: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while b.eval(js) != Value::Bool(true) {
        assert!(std::time::Instant::now() < deadline, "never true: {js}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn listed(s: &TestStore, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["runs", "list", "--experiment", "ui"];
    args.extend_from_slice(extra);
    let mut ids: Vec<String> = s
        .json(&args)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn shown(b: &mut Browser) -> Vec<String> {
    let v = b.eval("[...document.querySelectorAll('tr.run')].map(r => r.dataset.run).sort()");
    serde_json::from_value(v).unwrap()
}

#[test]
fn state_time_and_dataset_filters_match_runs_list_and_runs_group_by_a_param() {
    let s = TestStore::new();
    let (exp, runs) = populated(&s);
    s.ok(&["runs", "delete", &runs[0]]);
    let ui = start_ui(&s, &[]);
    let mut b = Browser::start(&format!("http://127.0.0.1:{}/#/experiments/{exp}", ui.port));
    assert_eq!(shown(&mut b), listed(&s, &[]));
    // State, picked in its menu.
    b.act("{ const st = document.getElementById('state'); st.value = 'deleted'; st.dispatchEvent(new Event('change')) }");
    assert_eq!(shown(&mut b), listed(&s, &["--deleted"]));
    assert_eq!(shown(&mut b), vec![runs[0].clone()]);
    assert_eq!(
        b.eval("[...document.querySelectorAll('tr.run.deleted')].map(r => r.dataset.run)"),
        json!([runs[0]])
    );
    b.act("{ const st = document.getElementById('state'); st.value = 'all'; st.dispatchEvent(new Event('change')) }");
    assert_eq!(shown(&mut b), listed(&s, &["--all"]));
    assert_eq!(shown(&mut b).len(), 3);

    // A start-time range: from the second run's start, to the third's.
    let start = |id: &str| {
        s.json(&["runs", "show", id])["info"]["start_time"]
            .as_i64()
            .unwrap()
    };
    let (from, to) = (start(&runs[1]), start(&runs[2]));
    b.open(&format!(
        "#/experiments/{exp}?state=all&from={from}&to={to}"
    ));
    let filter = format!("attributes.start_time >= {from} AND attributes.start_time <= {to}");
    assert_eq!(shown(&mut b), listed(&s, &["--all", "--filter", &filter]));
    assert_eq!(
        b.eval("document.getElementById('cli-equivalent').textContent"),
        format!("mlx runs list --experiment {exp} --filter \"{filter}\" --all")
    );
    // With a typed filter too, and the dataset: the trained runs have the titanic dataset, the hand-logged not.
    b.open(&format!("#/experiments/{exp}?state=all&dataset=titanic"));
    let filter = "datasets.name = 'titanic'";
    assert_eq!(shown(&mut b), listed(&s, &["--all", "--filter", filter]));
    assert_eq!(shown(&mut b).len(), 2);
    b.open(&format!("#/experiments/{exp}?state=all&dataset=titanic&filter=params.model%20%3D%20%27decision-tree%27"));
    let filter = "(params.model = 'decision-tree') AND datasets.name = 'titanic'";
    assert_eq!(shown(&mut b), listed(&s, &["--all", "--filter", filter]));
    assert_eq!(shown(&mut b), vec![runs[1].clone()]);

    // Group by a param: one collapsible group per value, with its best accuracy.
    b.open(&format!("#/experiments/{exp}?state=all&group=params.model"));
    assert_eq!(
        b.eval("[...document.querySelectorAll('tr.group')].map(g => g.dataset.group)"),
        json!(["by-hand", "decision-tree", "logistic-regression"])
    );
    let acc = s.json(&["runs", "show", &runs[2]])["info"]["metrics"]["accuracy"]
        .as_f64()
        .unwrap();
    assert_eq!(acc, 0.5);
    assert_eq!(
        b.eval(
            "document.querySelector('tr.group[data-group=\"by-hand\"] .group-best').textContent"
        ),
        "0.5"
    );
    b.screenshot("runs-grouped");
    b.eval("document.querySelector('tr.group[data-group=\"by-hand\"] button.group-toggle').click(); true");
    assert_eq!(
        b.eval("[...document.querySelectorAll('tr.run')].filter(r => getComputedStyle(r).display === 'none').map(r => r.dataset.run)"),
        json!([runs[2]])
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

#[test]
fn the_artifact_tree_lists_every_file_with_size_download_copy_and_previews() {
    let s = TestStore::new();
    let (_, runs) = populated(&s);
    let run = runs[2].clone();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.csv");
    std::fs::write(&data, "name,score\n\"Smith, J\",0.5\nLee,0.75\n").unwrap();
    s.ok(&["log", "artifact", "--run", &run, data.to_str().unwrap()]);
    let many = dir.path().join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..7 {
        std::fs::write(many.join(format!("part-{i}.txt")), format!("part {i}")).unwrap();
    }
    let big = dir.path().join("big.log");
    std::fs::write(&big, "x".repeat(300_000)).unwrap();
    for f in [&many, &big] {
        s.ok(&[
            "log",
            "artifact",
            "--run",
            &run,
            f.to_str().unwrap(),
            "--dest",
            "out",
        ]);
    }
    let ui = start_ui(&s, &[]);
    let (_, api) = get(&ui, &format!("/api/runs/{run}"));
    let mut want: Vec<String> = api["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(want.len(), 9, "{want:?}");
    let mut b = Browser::start(&format!("http://127.0.0.1:{}/#/runs/{run}", ui.port));
    let listed: Vec<String> = serde_json::from_value(b.eval(
        "[...document.querySelectorAll('#artifacts li.file')].map(l => l.dataset.path).sort()",
    ))
    .unwrap();
    assert_eq!(listed, want);
    b.eval("document.getElementById('artifacts').scrollIntoView(); true");
    b.screenshot("artifact-tree");
    // Folders: out/ (8 files) and out/many/ (7) start collapsed; sizes read as people read them.
    assert_eq!(
        b.eval("[...document.querySelectorAll('#artifacts li.dir')].map(d => [d.dataset.path, d.querySelector('details').open])"),
        json!([["out", false], ["out/many", false]])
    );
    assert_eq!(
        b.eval("document.querySelector('li.file[data-path=\"out/big.log\"] .size').textContent"),
        "293 KB"
    );
    // The CSV shows as a table, quoted commas kept.
    let csv = "document.querySelector('li.file[data-path=\"data.csv\"]')";
    wait_for(
        &mut b,
        &format!("{csv}.querySelector('table.csv') !== null"),
    );
    assert_eq!(
        b.eval(&format!(
            "[...{csv}.querySelectorAll('table.csv td')].map(t => t.textContent)"
        )),
        json!(["Smith, J", "0.5", "Lee", "0.75"])
    );
    assert_eq!(
        b.eval(&format!(
            "{csv}.querySelector('a.download').getAttribute('href')"
        )),
        "/api/runs/".to_string() + &run + "/artifact?path=data.csv"
    );
    b.eval(&format!(
        "{csv}.querySelector('button.copy-path').click(); true"
    ));
    wait_for(
        &mut b,
        &format!("{csv}.querySelector('button.copy-path').dataset.copied !== undefined"),
    );
    assert_eq!(
        b.eval(&format!(
            "{csv}.querySelector('button.copy-path').dataset.copied"
        )),
        format!("runs:/{run}/data.csv")
    );
    // A large file's preview waits for a click, even in an open folder.
    let big = "document.querySelector('li.file[data-path=\"out/big.log\"]')";
    b.eval("document.querySelector('li.dir[data-path=\"out\"] > details').open = true; true");
    assert_eq!(
        b.eval(&format!("{big}.querySelector('.preview').innerHTML")),
        ""
    );
    b.eval(&format!(
        "{big}.querySelector('button.show-preview').click(); true"
    ));
    wait_for(&mut b, &format!("{big}.querySelector('pre') !== null"));
    // The first 200,000 characters, then an ellipsis.
    assert_eq!(
        b.eval(&format!("{big}.querySelector('pre').textContent.length")),
        200_002
    );
    // A small text file in a collapsed folder loads when the folder opens.
    let part = "document.querySelector('li.file[data-path=\"out/many/part-3.txt\"]')";
    assert_eq!(
        b.eval(&format!("{part}.querySelector('pre') === null")),
        true
    );
    b.eval("document.querySelector('li.dir[data-path=\"out/many\"] > details').open = true; true");
    wait_for(&mut b, &format!("{part}.querySelector('pre') !== null"));
    assert_eq!(
        b.eval(&format!("{part}.querySelector('pre').textContent")),
        "part 3"
    );
    assert!(b.errors.is_empty(), "console errors: {:?}", b.errors);
}

/// Every edit action through `POST /admin/edit`, read back with `mlx ... show`: the same on the folder store
/// and on a real MLflow server (through the `TrackingStore` trait).
fn edits_reach_the_store(s: &TestStore) {
    let exp = crate::common::unique("ui-edit");
    let run = crate::train::train(
        s,
        &[
            "--experiment",
            &exp,
            "--model",
            "logistic-regression",
            "--register",
            &exp,
        ],
    )["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let exp_id = s.json(&["experiments", "show", &exp])["experiment"]["experiment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ui = start_ui(s, &["--allow-unauthenticated-admin"]);
    let edit = |body: Value| {
        let (status, _, answer) = ui.post_json("/admin/edit", &body.to_string(), &[]);
        assert_eq!(status, 200, "{body}: {answer}");
    };
    let run_info = || s.json(&["runs", "show", &run])["info"].clone();
    let exp_tags = || s.json(&["experiments", "show", &exp])["experiment"]["tags"].clone();
    let model = || s.json(&["models", "show", &exp]);

    edit(
        json!({"target": "run", "id": run, "action": "set_tag", "key": "team", "value": "vision"}),
    );
    assert_eq!(run_info()["tags"]["team"], "vision");
    edit(json!({"target": "run", "id": run, "action": "delete_tag", "key": "team"}));
    assert!(run_info()["tags"].get("team").is_none());
    edit(json!({"target": "run", "id": run, "action": "describe", "value": "**why**"}));
    edit(json!({"target": "run", "id": run, "action": "rename", "value": "renamed"}));
    let info = run_info();
    assert_eq!(info["tags"]["mlflow.note.content"], "**why**");
    assert_eq!(info["run_name"], "renamed");
    edit(json!({"target": "run", "id": run, "action": "delete"}));
    assert_eq!(run_info()["lifecycle_stage"], "deleted");
    edit(json!({"target": "run", "id": run, "action": "restore"}));
    assert_eq!(run_info()["lifecycle_stage"], "active");

    edit(
        json!({"target": "experiment", "id": exp_id, "action": "set_tag", "key": "owner", "value": "me"}),
    );
    edit(json!({"target": "experiment", "id": exp_id, "action": "describe", "value": "baselines"}));
    assert_eq!(exp_tags()["owner"], "me");
    assert_eq!(exp_tags()["mlflow.note.content"], "baselines");
    edit(json!({"target": "experiment", "id": exp_id, "action": "delete_tag", "key": "owner"}));
    assert!(exp_tags().get("owner").is_none());

    edit(
        json!({"target": "model", "id": exp, "action": "set_tag", "key": "stage", "value": "prod"}),
    );
    edit(json!({"target": "model", "id": exp, "action": "describe", "value": "the model"}));
    edit(
        json!({"target": "version", "id": exp, "version": 1, "action": "set_tag", "key": "ok", "value": "yes"}),
    );
    edit(
        json!({"target": "version", "id": exp, "version": 1, "action": "describe", "value": "v one"}),
    );
    let m = model();
    assert_eq!(m["model"]["tags"]["stage"], "prod");
    assert_eq!(m["model"]["description"], "the model");
    assert_eq!(m["versions"][0]["tags"]["ok"], "yes");
    assert_eq!(m["versions"][0]["description"], "v one");
    edit(json!({"target": "model", "id": exp, "action": "delete_tag", "key": "stage"}));
    edit(
        json!({"target": "version", "id": exp, "version": 1, "action": "delete_tag", "key": "ok"}),
    );
    let m = model();
    assert!(m["model"]["tags"].get("stage").is_none(), "{m}");
    assert!(m["versions"][0]["tags"].get("ok").is_none(), "{m}");
    // An unknown tag is a 400 naming it, on both backends.
    let (status, _, answer) = ui.post_json(
        "/admin/edit",
        &json!({"target": "version", "id": exp, "version": 1, "action": "delete_tag", "key": "nope"}).to_string(),
        &[],
    );
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("no tag 'nope'"), "{answer}");
}

#[test]
fn edits_reach_the_file_store() {
    edits_reach_the_store(&TestStore::new());
}

#[test]
fn edits_reach_an_mlflow_server() {
    edits_reach_the_store(&TestStore::on_server());
}

#[test]
fn edits_reach_an_mlflow_sqlite_database() {
    edits_reach_the_store(&TestStore::on_sqlite());
}
