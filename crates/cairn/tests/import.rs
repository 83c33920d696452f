//! `cairn import --from <mlflow server or its database>`: what MLflow's client wrote
//! into a real `mlflow server` 3.17.2 is, after the import, what cairn answers to the
//! same questions; a second import copies nothing; importing from the database file
//! and artifact folder into PostgreSQL gives the same answers again.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use cairn_client::{Client, SearchExperiments, SearchRuns};
use cairn_core::entities::{Run, ViewType};
use common::{cairn, python_with_mlflow, skip_or_fail, start_mlflow, CairnProcess, TestPostgres};

/// The source's history, written by the stock client.
const POPULATE: &str = r#"
import mlflow
from mlflow import MlflowClient

class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [2.0 * v for v in model_input["x"]]

c = MlflowClient()
for e in range(2):
    mlflow.set_experiment("import-%d" % e)
    for r in range(6):
        with mlflow.start_run(run_name="run-%d-%d" % (e, r)) as run:
            mlflow.log_params({"lr": str(0.1 * (r + 1)), "layers": str(r % 3)})
            mlflow.set_tag("team", "a" if r % 2 else "b")
            for step in range(30):
                mlflow.log_metric("loss", 1.0 / (step + 1 + r), step=step)
            mlflow.log_metric("acc", r / 10.0)
            mlflow.log_text("notes for run %d" % r, "notes/readme.txt")
        if r == 5:
            c.delete_run(run.info.run_id)
mlflow.set_experiment("import-models")
with mlflow.start_run(run_name="trainer"):
    import pandas as pd
    info = mlflow.pyfunc.log_model(name="model", python_model=Doubler(), pip_requirements=["mlflow"],
                                   input_example=pd.DataFrame({"x": [1.0]}))
    for step in range(3):
        mlflow.log_metric("val_acc", 0.8 + step / 100, step=step, model_id=info.model_id)
for _ in range(3):
    mv = mlflow.register_model(info.model_uri, "Doubler")
c.delete_model_version("Doubler", "2")
c.set_registered_model_alias("Doubler", "champion", "3")
c.transition_model_version_stage("Doubler", "1", "Production")
c.set_registered_model_tag("Doubler", "owner", "ml-team")
gone = c.create_experiment("import-deleted")
c.delete_experiment(gone)
print("populated")
"#;

/// What a server answers about every run, in a form two servers can be compared on.
async fn runs_by_id(c: &Client) -> BTreeMap<String, (Run, Vec<(i64, i64, String)>)> {
    let exps = c
        .search_experiments(&SearchExperiments {
            view_type: ViewType::All,
            max_results: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut all = BTreeMap::new();
    for e in exps.items {
        let runs = c
            .search_runs(&SearchRuns {
                experiment_ids: vec![e.experiment_id.clone()],
                view_type: ViewType::All,
                max_results: Some(1000),
                ..Default::default()
            })
            .await
            .unwrap();
        for mut r in runs.items {
            let mut histories = Vec::new();
            for m in &r.data.metrics {
                for p in c
                    .get_metric_history(&r.info.run_id, &m.key, None, None)
                    .await
                    .unwrap()
                    .items
                {
                    histories.push((p.step, p.timestamp, format!("{}={}", p.key, p.value)));
                }
            }
            histories.sort();
            r.data.tags.sort_by(|a, b| a.key.cmp(&b.key));
            r.data.params.sort_by(|a, b| a.key.cmp(&b.key));
            all.insert(r.info.run_id.clone(), (r, histories));
        }
    }
    all
}

/// The same searches on both servers give the same answers.
async fn assert_same_answers(mlflow: &Client, cairn: &Client) {
    let exps = |c: &Client| {
        let c = c.clone();
        async move {
            let mut e: Vec<(String, String, String)> = c
                .search_experiments(&SearchExperiments {
                    view_type: ViewType::All,
                    max_results: Some(1000),
                    ..Default::default()
                })
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|e| (e.experiment_id, e.name, format!("{:?}", e.lifecycle_stage)))
                .collect();
            e.sort();
            e
        }
    };
    assert_eq!(exps(mlflow).await, exps(cairn).await, "experiments");

    let (want, got) = (runs_by_id(mlflow).await, runs_by_id(cairn).await);
    assert_eq!(want.len(), 13, "12 runs and the trainer in the source");
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "run ids"
    );
    for (id, (w, wh)) in &want {
        let (g, gh) = &got[id];
        assert_eq!(w.info, g.info, "run {id}: info");
        assert_eq!(w.data.params, g.data.params, "run {id}: params");
        assert_eq!(w.data.tags, g.data.tags, "run {id}: tags");
        assert_eq!(wh, gh, "run {id}: metric histories");
        assert_eq!(w.outputs, g.outputs, "run {id}: outputs");
    }

    // Logged models, with their params, tags and metrics.
    let models = |c: &Client| {
        let c = c.clone();
        async move {
            let exp = c
                .get_experiment_by_name("import-models")
                .await
                .unwrap()
                .experiment_id;
            let page: serde_json::Value = c
                .post(
                    "logged-models/search",
                    &serde_json::json!({ "experiment_ids": [exp] }),
                )
                .await
                .unwrap();
            let mut models = page["models"].as_array().cloned().unwrap_or_default();
            for m in &mut models {
                // Ordering of lists is not part of the contract; compare them sorted.
                for list in ["metrics", "params"] {
                    if let Some(items) = m["data"][list].as_array_mut() {
                        items.sort_by_key(|v| v.to_string());
                    }
                }
                if let Some(items) = m["info"]["tags"].as_array_mut() {
                    items.sort_by_key(|v| v.to_string());
                }
            }
            models
        }
    };
    let (want, got) = (models(mlflow).await, models(cairn).await);
    assert_eq!(want.len(), 1);
    assert_eq!(want[0]["data"]["metrics"].as_array().map(Vec::len), Some(3));
    for field in [
        "model_id",
        "name",
        "artifact_uri",
        "status",
        "source_run_id",
    ] {
        assert_eq!(
            want[0]["info"][field], got[0]["info"][field],
            "logged model {field}"
        );
    }
    assert_eq!(
        want[0]["data"], got[0]["data"],
        "logged model params and metrics"
    );

    // A search with a filter and an order, on the first experiment.
    let exp = mlflow
        .get_experiment_by_name("import-0")
        .await
        .unwrap()
        .experiment_id;
    let search = SearchRuns {
        experiment_ids: vec![exp],
        filter: Some("metrics.acc >= 0.1 and params.layers != '2' and tags.team = 'a'".into()),
        order_by: vec!["metrics.loss ASC".into()],
        view_type: ViewType::ActiveOnly,
        ..Default::default()
    };
    let ids = |p: cairn_core::entities::Page<Run>| {
        p.items
            .into_iter()
            .map(|r| r.info.run_id)
            .collect::<Vec<_>>()
    };
    let want = ids(mlflow.search_runs(&search).await.unwrap());
    assert_eq!(want.len(), 2);
    assert_eq!(
        want,
        ids(cairn.search_runs(&search).await.unwrap()),
        "filtered search"
    );

    // The registry: versions by number (2 deleted in both), stages, alias, tags.
    let versions = |c: &Client| {
        let c = c.clone();
        async move {
            let mut v: Vec<(String, String, Option<String>, Option<String>)> = c
                .search_model_versions(Some("name = 'Doubler'"), &[], None, None)
                .await
                .unwrap()
                .items
                .into_iter()
                .map(|v| (v.version, v.current_stage, v.source, v.run_id))
                .collect();
            v.sort();
            v
        }
    };
    let want = versions(mlflow).await;
    assert_eq!(
        want.iter().map(|v| v.0.as_str()).collect::<Vec<_>>(),
        ["1", "3"]
    );
    assert_eq!(want, versions(cairn).await, "model versions");
    let model = cairn.get_registered_model("Doubler").await.unwrap();
    assert_eq!(model.aliases.len(), 1);
    assert_eq!(model.aliases[0].version, "3");
    assert!(model
        .tags
        .iter()
        .any(|t| t.key == "owner" && t.value == "ml-team"));
    assert_eq!(
        mlflow
            .get_model_version_by_alias("Doubler", "champion")
            .await
            .unwrap()
            .source,
        cairn
            .get_model_version_by_alias("Doubler", "champion")
            .await
            .unwrap()
            .source
    );
}

/// The "copied" figure of a row of the import's summary.
fn copied(summary: &str, row: &str) -> u64 {
    summary
        .lines()
        .find(|l| l.trim_start().starts_with(row))
        .and_then(|l| l.split_whitespace().find_map(|w| w.parse().ok()))
        .unwrap_or_else(|| panic!("no {row} row in {summary}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn import_from_a_running_mlflow_server_twice() {
    let Some(python) = python_with_mlflow() else {
        return skip_or_fail("a Python with the mlflow package");
    };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("mlflow");
    std::fs::create_dir_all(&source).unwrap();
    let db_uri = format!("sqlite:///{}", source.join("mlflow.db").display());
    let (mlflow, mlflow_url) = start_mlflow(&python, &db_uri, &source.join("artifacts"));
    let out = Command::new(&python)
        .args(["-c", POPULATE])
        .env("MLFLOW_TRACKING_URI", &mlflow_url)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "populating mlflow failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let data = dir.path().join("cairn");
    let data_arg = data.display().to_string();
    let (ok, summary, err) = cairn(&["import", "--from", &mlflow_url, "--data-dir", &data_arg]);
    assert!(ok, "import failed: {err}");
    println!("{summary}");
    assert!(summary.contains("import summary"), "{summary}");

    let server = CairnProcess::start(&data);
    let (m, c) = (Client::new(&mlflow_url), Client::new(&server.url));
    assert_same_answers(&m, &c).await;
    // The artifacts came along: a run's file and the model's, byte for byte.
    let run = c
        .search_runs(&SearchRuns {
            experiment_ids: vec![
                c.get_experiment_by_name("import-1")
                    .await
                    .unwrap()
                    .experiment_id,
            ],
            filter: Some("attributes.run_name = 'run-1-2'".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .remove(0);
    let path = format!(
        "{}/notes/readme.txt",
        run.info
            .artifact_uri
            .trim_start_matches("mlflow-artifacts:/")
    );
    assert_eq!(
        c.download_artifact(&path).await.unwrap(),
        b"notes for run 2"
    );
    assert_eq!(
        c.download_artifact(&path).await.unwrap(),
        m.download_artifact(&path).await.unwrap()
    );
    server.stop();

    // Again: nothing is copied twice, and the answers are still the same.
    let (ok, again, err) = cairn(&["import", "--from", &mlflow_url, "--data-dir", &data_arg]);
    assert!(ok, "second import failed: {err}");
    println!("{again}");
    for row in ["experiments", "runs", "model versions", "artifact files"] {
        assert_eq!(
            copied(&again, row),
            0,
            "the second import copied {row} again"
        );
    }
    let server = CairnProcess::start(&data);
    assert_same_answers(&m, &Client::new(&server.url)).await;
    server.stop();

    // Without the journal (as after an import killed before it wrote a run's line) the
    // runs are copied again over themselves: no point, param or tag twice.
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("import-journal-")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    let (ok, third, err) = cairn(&["import", "--from", &mlflow_url, "--data-dir", &data_arg]);
    assert!(ok, "import without the journal failed: {err}");
    assert_eq!(copied(&third, "runs"), 13, "{third}");
    let server = CairnProcess::start(&data);
    assert_same_answers(&m, &Client::new(&server.url)).await;
    server.stop();

    // From the database and artifact folder `mlflow server` uses, into PostgreSQL.
    let Some(pg) = TestPostgres::create(module_path!()).await else {
        return;
    };
    let data = dir.path().join("cairn-pg");
    let data_arg = data.display().to_string();
    let from_artifacts = source.join("artifacts").display().to_string();
    let (ok, summary, err) = cairn(&[
        "import",
        "--from",
        &db_uri,
        "--from-artifacts",
        &from_artifacts,
        "--data-dir",
        &data_arg,
        "--backend-store-uri",
        &pg.url,
    ]);
    assert!(ok, "import from the database failed: {err}");
    println!("{summary}");
    let server = CairnProcess::start_with(&data, &["--backend-store-uri", &pg.url], &[]);
    let c = Client::new(&server.url);
    assert_same_answers(&m, &c).await;
    assert_eq!(
        c.download_artifact(&path).await.unwrap(),
        b"notes for run 2",
        "artifacts came from the source's folder"
    );
    server.stop();
    drop(mlflow);
}
