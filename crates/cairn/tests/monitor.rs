//! `cairn drift check` against Evidently 0.7.23 on the same files: for each column the
//! same test, a score within 1e-6 relative, the same drift flag; the same count,
//! share and dataset verdict; and the exit codes CI reads (0 stable, 1 drift, 2 bad
//! input). Data sets are numeric, categorical, integer and boolean, with missing
//! values, with references below, at and above Evidently's 1,000-row line. Then
//! `cairn ground-truth import` and `cairn eval online` against a real server.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/evidently_drift.py");

/// A Python with Evidently, and a folder with the generated data sets.
fn setup() -> Option<(PathBuf, tempfile::TempDir)> {
    let Some(python) = cairn_testkit::python_with(&["evidently", "pyarrow"]) else {
        common::skip_or_fail("a Python with evidently 0.7.23 and pyarrow");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&python)
        .args([SCRIPT, "generate"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((python, dir))
}

fn evidently(python: &Path, reference: &Path, current: &Path, extra: &[&str]) -> Value {
    let out = Command::new(python)
        .args([SCRIPT, "check"])
        .arg(reference)
        .arg(current)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "evidently: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `cairn drift check`'s exit code and JSON.
fn cairn(reference: &Path, current: &Path, extra: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["drift", "check", "--format", "json", "--reference"])
        .arg(reference)
        .arg("--current")
        .arg(current)
        .args(extra)
        .output()
        .unwrap();
    let code = out.status.code().unwrap_or(-1);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (code, json, stderr)
}

fn same(what: &str, ours: &Value, theirs: &Value) {
    let (ours_cols, theirs_cols) = (
        ours["columns"].as_object().unwrap(),
        theirs["columns"].as_object().unwrap(),
    );
    let mut a: Vec<_> = ours_cols.keys().collect();
    let mut b: Vec<_> = theirs_cols.keys().collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "{what}: the columns checked");
    for (name, t) in theirs_cols {
        let o = &ours_cols[name];
        assert_eq!(o["stattest"], t["stattest"], "{what}: {name}'s test");
        assert_eq!(o["threshold"], t["threshold"], "{what}: {name}'s threshold");
        assert_eq!(
            o["drift"], t["drift"],
            "{what}: {name}'s drift ({o} against {t})"
        );
        match (o["score"].as_f64(), t["score"].as_f64()) {
            (Some(x), Some(y)) => assert!(
                (x - y).abs() <= 1e-6 * y.abs().max(1e-300),
                "{what}: {name}'s score: cairn {x:e}, evidently {y:e}"
            ),
            (x, y) => assert_eq!(x, y, "{what}: {name}'s score"),
        }
    }
    for key in ["drifted_columns", "share", "dataset_drift"] {
        assert_eq!(ours[key], theirs[key], "{what}: {key}");
    }
}

#[test]
fn drift_checks_equal_evidentlys_with_its_defaults_and_each_test() {
    let Some((python, dir)) = setup() else { return };
    let f = |name: &str| dir.path().join(name);
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        // Small references: ks, chisquare and z by default.
        ("ref500.csv", "cur500.csv", vec![]),
        ("ref500.csv", "same500.csv", vec![]),
        // The line: 1,000 rows is still small, 1,001 is not.
        ("ref1000.csv", "cur1000.csv", vec![]),
        ("ref1001.csv", "cur1001.csv", vec![]),
        // 20,000 current rows: KS's asymptotic distribution.
        ("ref500.csv", "cur20000.csv", vec![]),
        // Large references: wasserstein and jensenshannon by default.
        ("ref5000.csv", "cur5000.csv", vec![]),
        ("ref5000.csv", "same5000.csv", vec![]),
        ("ref5000.parquet", "cur5000.parquet", vec![]),
        // Each test on request, over the columns it takes.
        (
            "ref500.csv",
            "cur500.csv",
            vec![
                "--stattest",
                "ks",
                "--numerical",
                "num_same,num_shift,num_nan,int_many",
                "--categorical",
                "",
            ],
        ),
        (
            "ref5000.csv",
            "cur5000.csv",
            vec![
                "--stattest",
                "wasserstein",
                "--numerical",
                "num_same,num_shift,num_nan",
                "--categorical",
                "",
            ],
        ),
        (
            "ref500.csv",
            "cur500.csv",
            vec!["--stattest", "jensenshannon"],
        ),
        (
            "ref5000.csv",
            "cur5000.csv",
            vec![
                "--stattest",
                "psi",
                "--numerical",
                "num_same,num_shift,num_nan",
                "--categorical",
                "cat_str,bin_str",
            ],
        ),
        ("ref5000.csv", "cur5000.csv", vec!["--stattest", "kl_div"]),
        (
            "ref5000.csv",
            "cur5000.csv",
            vec![
                "--stattest",
                "chisquare",
                "--numerical",
                "",
                "--categorical",
                "cat_str,int_seven,cat_nan",
            ],
        ),
        (
            "ref5000.csv",
            "cur5000.csv",
            vec![
                "--stattest",
                "z",
                "--numerical",
                "",
                "--categorical",
                "bin_str,bool_col",
            ],
        ),
        (
            "ref500.csv",
            "cur500.csv",
            vec!["--stattest", "psi", "--threshold", "0.05"],
        ),
    ];
    for (reference, current, extra) in cases {
        let what = format!("{reference} against {current} {extra:?}");
        let theirs = evidently(&python, &f(reference), &f(current), &extra);
        // cairn takes the same options in its own flags.
        let mut ours_args: Vec<String> = Vec::new();
        let mut mapping = Vec::new();
        for pair in extra.chunks(2) {
            match pair[0] {
                "--numerical" => mapping.push(format!("numerical={}", pair[1])),
                "--categorical" => mapping.push(format!("categorical={}", pair[1])),
                flag => ours_args.extend([flag.to_string(), pair[1].to_string()]),
            }
        }
        if !mapping.is_empty() {
            ours_args.extend(["--column-mapping".to_string(), mapping.join(";")]);
        }
        let args: Vec<&str> = ours_args.iter().map(String::as_str).collect();
        let (code, ours, stderr) = cairn(&f(reference), &f(current), &args);
        assert!(code == 0 || code == 1, "{what}: exit {code}: {stderr}");
        same(&what, &ours, &theirs);
        let drift = theirs["dataset_drift"].as_bool().unwrap();
        assert_eq!(
            code,
            i32::from(drift),
            "{what}: exit code for dataset_drift={drift}"
        );
    }
}

#[test]
fn drift_check_exit_codes_say_stable_drift_or_bad_input() {
    let Some((_python, dir)) = setup() else {
        return;
    };
    let f = |name: &str| dir.path().join(name);
    // Drift, with the dataset rule moved: 0 and 1 follow the share.
    let (code, json, _) = cairn(
        &f("ref5000.csv"),
        &f("cur5000.csv"),
        &["--drift-share", "0.1"],
    );
    assert_eq!(code, 1, "{json}");
    let (code, _, _) = cairn(&f("ref5000.csv"), &f("same5000.csv"), &[]);
    assert_eq!(code, 0);
    // Bad input: 2, with a message naming what is wrong.
    let (code, _, stderr) = cairn(&f("ref500.csv"), &f("missing.csv"), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.csv"), "{stderr}");
    let (code, _, stderr) = cairn(&f("ref500.csv"), &f("cur500.csv"), &["--stattest", "ks"]);
    assert_eq!(code, 2, "ks does not take categorical columns");
    assert!(stderr.contains("categorical column"), "{stderr}");
    let (code, _, stderr) = cairn(&f("ref500.csv"), &f("cur500.csv"), &["--stattest", "nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("nope"), "{stderr}");
    std::fs::write(f("empty_ref.csv"), "a,b\n1,\n2,\n3,\n").unwrap();
    std::fs::write(f("empty_cur.csv"), "a,b\n1,0.5\n2,0.1\n3,0.2\n").unwrap();
    let (code, _, stderr) = cairn(&f("empty_ref.csv"), &f("empty_cur.csv"), &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("'b'") && stderr.contains("reference"),
        "{stderr}"
    );

    // The HTML report: a row and a drawing per column.
    let html = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["drift", "check", "--reference"])
        .arg(f("ref500.csv"))
        .arg("--current")
        .arg(f("cur500.csv"))
        .arg("--html")
        .arg(&html)
        .output()
        .unwrap();
    // 5 of 11 columns drift there, under Evidently's half.
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("num_shift") && text.contains("5 of 11 columns drifted"),
        "{text}"
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        page.matches("<svg class=\"hist\"").count(),
        11,
        "one drawing per column"
    );
    assert!(page.contains("Dataset drift") || page.contains("No dataset drift"));
}

#[test]
fn ground_truth_is_imported_from_a_file_and_online_metrics_read_back() {
    let data = tempfile::tempdir().unwrap();
    let server = common::CairnProcess::start(data.path());
    let client = cairn_client::Client::new(&server.url);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let now = cairn_testkit::now_ms();
    let records: Vec<cairn_core::predictions::PredictionRecord> = (0..40)
        .map(|i| cairn_core::predictions::PredictionRecord {
            request_id: format!("r{i}"),
            row_index: 0,
            model_name: "churn".into(),
            model_version: 1,
            alias: Some("champion".into()),
            entity_id: Some(format!("c{i}")),
            timestamp_ms: now - 60_000,
            inputs: serde_json::json!({"x": i}),
            outputs: serde_json::json!({"label": i % 2}),
            shadow: false,
            ground_truth: None,
        })
        .collect();
    runtime.block_on(client.log_predictions(&records)).unwrap();

    // A bad row (an empty label on row 3) is named and nothing is sent.
    let bad = data.path().join("bad.csv");
    std::fs::write(&bad, "customer,churned\nc0,0\nc1,1\nc2,\n").unwrap();
    let (ok, _, stderr) = common::cairn(&[
        "ground-truth",
        "import",
        bad.to_str().unwrap(),
        "--model",
        "churn",
        "--entity-column",
        "customer",
        "--label-column",
        "churned",
        "--tracking-uri",
        &server.url,
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("row 3") && stderr.contains("churned"),
        "{stderr}"
    );
    let missing = runtime
        .block_on(client.get_ground_truth("churn", "c0"))
        .unwrap_err();
    assert_eq!(missing.status(), Some(404), "nothing of the file was sent");

    // 30 labels, one in three wrong against the predictions (i % 2).
    let mut csv = String::from("customer,churned\n");
    for i in 0..30 {
        let label = if i % 3 == 0 { 1 - i % 2 } else { i % 2 };
        csv.push_str(&format!("c{i},{label}\n"));
    }
    let good = data.path().join("labels.csv");
    std::fs::write(&good, csv).unwrap();
    let (ok, stdout, stderr) = common::cairn(&[
        "ground-truth",
        "import",
        good.to_str().unwrap(),
        "--model",
        "churn",
        "--entity-column",
        "customer",
        "--label-column",
        "churned",
        "--tracking-uri",
        &server.url,
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("30 ground truth records"), "{stdout}");

    let (ok, stdout, stderr) = common::cairn(&[
        "eval",
        "online",
        "--model",
        "churn",
        "--since",
        "1h",
        "--format",
        "json",
        "--tracking-uri",
        &server.url,
    ]);
    assert!(ok, "{stderr}");
    let eval: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let total = &eval["versions"][0]["total"];
    assert_eq!(total["predictions"], 40);
    assert_eq!(total["labelled"], 30);
    assert_eq!(
        total["classification"]["accuracy"],
        serde_json::json!(20.0 / 30.0)
    );
    let (ok, table, _) = common::cairn(&[
        "eval",
        "online",
        "--model",
        "churn",
        "--since",
        "1h",
        "--tracking-uri",
        &server.url,
    ]);
    assert!(ok);
    assert!(
        table.contains("total") && table.contains("accuracy 0.6667"),
        "{table}"
    );
    server.stop();
}

/// A one-shot HTTP endpoint on a free port: the body of each POST it receives.
fn webhook() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alert", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Headers, then as many body bytes as Content-Length says.
            loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        let _ = tx.send(body.to_string());
                        break;
                    }
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        }
    });
    (url, rx)
}

#[test]
fn drift_and_evaluate_steps_store_their_reports_and_fail_with_an_alert() {
    let data = tempfile::tempdir().unwrap();
    let jobs = data.path().join("jobs");
    std::fs::create_dir_all(&jobs).unwrap();
    // A reference and a current file whose `x` moved.
    let mut reference = String::from("x,colour\n");
    let mut current = String::from("x,colour\n");
    for i in 0..300 {
        reference.push_str(&format!("{},{}\n", i % 50, ["red", "blue"][i % 2]));
        current.push_str(&format!("{},{}\n", 20 + i % 50, ["red", "blue"][i % 2]));
    }
    std::fs::write(jobs.join("ref.csv"), reference).unwrap();
    std::fs::write(jobs.join("cur.csv"), current).unwrap();
    let (alert_url, alerts) = webhook();
    std::fs::write(
        jobs.join("monitoring.yaml"),
        format!(
            "name: monitoring\n\
             steps:\n\
             \x20 - name: drift\n\
             \x20   kind: drift\n\
             \x20   reference: ref.csv\n\
             \x20   current: cur.csv\n\
             \x20   model: churn\n\
             \x20   version: \"1\"\n\
             \x20   alert_webhook: {alert_url}\n\
             \x20 - name: labels\n\
             \x20   kind: ground_truth\n\
             \x20   file: labels.csv\n\
             \x20   model: churn\n\
             \x20   entity_column: customer\n\
             \x20   label_column: churned\n\
             \x20 - name: evaluate\n\
             \x20   kind: evaluate\n\
             \x20   needs: [labels]\n\
             \x20   model: churn\n\
             \x20   since: 1h\n\
             \x20   min: {{accuracy: \"0.9\"}}\n"
        ),
    )
    .unwrap();
    let jobs_dir = jobs.to_str().unwrap().to_string();
    let server = common::CairnProcess::start_with(data.path(), &["--jobs-dir", &jobs_dir], &[]);
    let client = cairn_client::Client::new(&server.url);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let now = cairn_testkit::now_ms();
    let records: Vec<cairn_core::predictions::PredictionRecord> = (0..10)
        .map(|i| cairn_core::predictions::PredictionRecord {
            request_id: format!("r{i}"),
            row_index: 0,
            model_name: "churn".into(),
            model_version: 1,
            alias: None,
            entity_id: Some(format!("c{i}")),
            timestamp_ms: now - 60_000,
            inputs: serde_json::json!({}),
            outputs: serde_json::json!({"label": "yes"}),
            shadow: false,
            ground_truth: None,
        })
        .collect();
    runtime.block_on(client.log_predictions(&records)).unwrap();
    // The labels arrive as a file, which the job's first step imports.
    let labels: String = (0..10)
        .map(|i| format!("c{i},{}\n", if i < 6 { "yes" } else { "no" }))
        .collect();
    std::fs::write(
        jobs.join("labels.csv"),
        format!("customer,churned\n{labels}"),
    )
    .unwrap();

    let (ok, out, errs) = common::cairn(&[
        "job",
        "run",
        "monitoring",
        "--wait",
        "--tracking-uri",
        &server.url,
    ]);
    assert!(!ok, "both checks fail: {out}\n{errs}");
    assert!(
        out.contains("drift: FAILED") && out.contains("evaluate: FAILED"),
        "{out}"
    );
    let alert = alerts
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the drift alert");
    let alert: serde_json::Value = serde_json::from_str(&alert).unwrap();
    assert_eq!(alert["alert"], "drift");
    assert_eq!(alert["model"], "churn");
    assert_eq!(alert["details"]["dataset_drift"], true);

    let drift = runtime
        .block_on(client.monitor_reports("churn", "drift"))
        .unwrap();
    assert_eq!(drift.len(), 1);
    assert_eq!(drift[0].model_version, Some(1));
    assert!(drift[0].job_run_id.is_some(), "the job run is recorded");
    assert_eq!(drift[0].report["columns"]["x"]["stattest"], "ks");
    let evaluation = runtime
        .block_on(client.monitor_reports("churn", "evaluation"))
        .unwrap();
    assert_eq!(evaluation.len(), 1);
    assert_eq!(evaluation[0].summary["accuracy"], serde_json::json!(0.6));

    // The gauges show the newest of each.
    let metrics = runtime
        .block_on(async {
            reqwest::get(format!("{}/metrics", server.url))
                .await?
                .text()
                .await
        })
        .unwrap();
    assert!(
        metrics.contains("cairn_drift_share{model=\"churn\",version=\"1\"} 0.5"),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("cairn_online_metric{model=\"churn\",version=\"1\",metric=\"accuracy\"} 0.6"),
        "{metrics}"
    );
    server.stop();
}

/// `cairn drift check` with sources that are not files: a model version's training
/// set (the dataset `cairn train` logged on its run) and windows of the prediction
/// log (inputs and the prediction, a shadow's rows left out). Each gives exactly the
/// report of the same rows written to files, which the test above holds to
/// Evidently's; the log windows are also compared with Evidently directly.
#[test]
fn drift_reads_a_versions_training_set_and_windows_of_the_prediction_log() {
    let data = tempfile::tempdir().unwrap();
    let server = common::CairnProcess::start(data.path());
    let url = server.url.as_str();
    let client = cairn_client::Client::new(url);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let check = |reference: &str, current: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["drift", "check", "--format", "json", "--tracking-uri", url])
            .args(["--reference", reference, "--current", current])
            .output()
            .unwrap();
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (
            out.status.code().unwrap_or(-1),
            json,
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };

    // A trained and promoted version's run keeps its training rows as its dataset.
    let spec = data.path().join("wine.yaml");
    std::fs::write(
        &spec,
        "task: tabular_classification\nexperiment: wine\ndata: {builtin: wine_is_high_quality}\n\
         model: {kind: logistic}\nregister: {name: wine, thresholds: {test_accuracy: 0.5}}\n",
    )
    .unwrap();
    let (ok, out, err) = common::cairn(&[
        "train",
        spec.to_str().unwrap(),
        "--tracking-uri",
        url,
        "--quiet",
    ]);
    assert!(ok, "cairn train failed:\n{out}\n{err}");
    let version = runtime
        .block_on(client.get_model_version_by_alias("wine", "champion"))
        .unwrap();
    let run = runtime
        .block_on(client.get_run(version.run_id.as_deref().unwrap()))
        .unwrap();
    let input = &run.inputs.dataset_inputs[0];
    assert!(input
        .tags
        .iter()
        .any(|t| t.key == "mlflow.data.context" && t.value == "training"));
    assert_eq!(input.dataset.source_type, "mlflow-artifacts");
    let source: Value = serde_json::from_str(&input.dataset.source).unwrap();
    let path = source["uri"]
        .as_str()
        .unwrap()
        .strip_prefix("mlflow-artifacts:/")
        .unwrap();
    let train_csv = runtime.block_on(client.download_artifact(path)).unwrap();
    let train_text = String::from_utf8(train_csv).unwrap();
    let profile: Value = serde_json::from_str(input.dataset.profile.as_deref().unwrap()).unwrap();
    assert_eq!(
        profile["num_rows"].as_u64().unwrap() as usize,
        train_text.lines().count() - 1,
        "the profile counts the rows kept"
    );
    let train_file = data.path().join("train.csv");
    std::fs::write(&train_file, &train_text).unwrap();
    // Today's data: the training rows with the alcohol scaled up, the label dropped.
    let mut lines = train_text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let alcohol = header.iter().position(|h| *h == "alcohol").unwrap();
    let mut today = header[..header.len() - 1].join(",") + "\n";
    for line in lines {
        let mut cells: Vec<String> = line.split(',').map(str::to_string).collect();
        cells.pop();
        cells[alcohol] = (cells[alcohol].parse::<f64>().unwrap() * 1.5).to_string();
        today += &(cells.join(",") + "\n");
    }
    let today_file = data.path().join("today.csv");
    std::fs::write(&today_file, today).unwrap();
    let today_path = today_file.to_str().unwrap();
    let (code, by_model, err) = check("models:/wine@champion", today_path);
    assert_eq!(code, 0, "{err}");
    let (_, by_file, _) = check(train_file.to_str().unwrap(), today_path);
    assert_eq!(
        by_model, by_file,
        "the version's training set is the file it logged"
    );
    assert_eq!(by_model["columns"]["alcohol"]["drift"], true, "{by_model}");
    assert_eq!(by_model["drifted_columns"], 1);
    let run_id = version.run_id.clone().unwrap();
    assert_eq!(check(&format!("runs:/{run_id}"), today_path).1, by_file);

    // The log: last week's answers, and today's with x moved and more "yes", each
    // row's entity labelled (today, far more often "late"); a shadow's rows in both
    // windows, far off, must not count.
    let now = cairn_testkit::now_ms();
    let day = 86_400_000;
    let row = |i: i64, today: bool| {
        let x = (i % 97) as f64 / 10.0 + if today { 2.5 } else { 0.0 };
        let k = ["a", "b", "c"][(i % 3) as usize];
        let label = if (i % 10) < if today { 6 } else { 3 } {
            "yes"
        } else {
            "no"
        };
        (x, k, label)
    };
    let mut records = Vec::new();
    let header = "x,k,prediction,target\n";
    let mut files = [String::from(header), String::from(header)];
    let mut truths = Vec::new();
    for (w, (at, today)) in [(now - 6 * day, false), (now - 3_600_000, true)]
        .into_iter()
        .enumerate()
    {
        for i in 0..600 {
            let (x, k, label) = row(i, today);
            let truth = if (i % 10) < if today { 7 } else { 2 } {
                "late"
            } else {
                "on_time"
            };
            files[w] += &format!("{x},{k},{label},{truth}\n");
            truths.push(cairn_core::monitor::GroundTruth {
                model_name: "churn".into(),
                entity_id: format!("w{w}-{i}"),
                label: Some(truth.into()),
                value: None,
                event_time_ms: None,
            });
            for shadow in [false, true] {
                records.push(cairn_core::predictions::PredictionRecord {
                    request_id: format!("w{w}-{i}"),
                    row_index: 0,
                    model_name: "churn".into(),
                    model_version: if shadow { 2 } else { 1 },
                    alias: Some(if shadow { "challenger" } else { "champion" }.into()),
                    entity_id: Some(format!("w{w}-{i}")),
                    timestamp_ms: at + i,
                    inputs: if shadow {
                        serde_json::json!({"x": x * 100.0, "k": "z"})
                    } else {
                        serde_json::json!({"x": x, "k": k})
                    },
                    outputs: serde_json::json!({"label": label, "probabilities": {"yes": 0.5, "no": 0.5}}),
                    shadow,
                    ground_truth: None,
                });
            }
        }
    }
    runtime.block_on(client.log_predictions(&records)).unwrap();
    runtime.block_on(client.log_ground_truth(&truths)).unwrap();
    let (week_file, today_file) = (data.path().join("week.csv"), data.path().join("now.csv"));
    std::fs::write(&week_file, &files[0]).unwrap();
    std::fs::write(&today_file, &files[1]).unwrap();
    let (code, by_log, err) = check(
        "predictions:churn@champion?since=7d&until=5d",
        "predictions:churn",
    );
    assert_eq!(code, 1, "x and the prediction drift: {err}\n{by_log}");
    let (_, by_file, _) = check(week_file.to_str().unwrap(), today_file.to_str().unwrap());
    assert_eq!(by_log, by_file, "a window of the log is its rows");
    // Inputs, prediction (prediction drift) and ground truth (label drift).
    for column in ["x", "prediction", "target"] {
        assert_eq!(
            by_log["columns"][column]["drift"], true,
            "{column}: {by_log}"
        );
    }
    assert_eq!(by_log["columns"]["k"]["drift"], false);
    if let Some(python) = cairn_testkit::python_with(&["evidently", "pyarrow"]) {
        same(
            "log windows",
            &by_log,
            &evidently(&python, &week_file, &today_file, &[]),
        );
    } else {
        common::skip_or_fail("a Python with evidently 0.7.23 and pyarrow");
    }

    // An empty window and a bad source are bad input (exit 2), named.
    let (code, _, err) = check("predictions:churn?since=30d&until=20d", "predictions:churn");
    assert_eq!(code, 2);
    assert!(err.contains("no prediction was logged"), "{err}");
    let (code, _, err) = check("predictions:churn?since=1d&until=2d", "predictions:churn");
    assert_eq!(code, 2);
    assert!(
        err.contains("ends") && err.contains("before it starts"),
        "{err}"
    );
    let (code, _, err) = check("models:/nosuch@champion", today_path);
    assert_eq!(code, 2);
    assert!(err.contains("models:/nosuch@champion"), "{err}");
}

// ---- cairn data check ------------------------------------------------------------------

/// `cairn data check`'s exit code, stdout and stderr.
fn data_check(dir: &Path, name: &str, extra: &[&str]) -> (i32, String, String) {
    data_check_with(dir, name, extra, &[])
}

fn data_check_with(
    dir: &Path,
    name: &str,
    extra: &[&str],
    envs: &[(&str, String)],
) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["data", "check", name, "--contracts-dir"])
        .arg(dir)
        .args(extra)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .env("CAIRN_LOG", "warn")
        .env_remove("CAIRN_JOB_RUN_ID")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_check_exit_codes_say_clean_violations_or_bad_input_and_a_server_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("clean.csv"), "id,score\n1,0.5\n2,0.9\n").unwrap();
    std::fs::write(d.join("dirty.csv"), "id,score\n1,0.5\n2,1.9\n").unwrap();
    let view = |name: &str, file: &str| {
        format!("view: {name}\nsource: {file}\nentity: id\nfields:\n  id: {{type: int}}\n  score: {{type: float, max: 1}}\n")
    };
    std::fs::write(d.join("clean.yaml"), view("clean", "clean.csv")).unwrap();
    std::fs::write(d.join("dirty.yaml"), view("dirty", "dirty.csv")).unwrap();
    std::fs::write(d.join("gone.yaml"), view("gone", "missing.csv")).unwrap();

    let (code, out, err) = data_check(d, "clean", &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("passed") && out.contains("ok    max <= 1"),
        "{out}"
    );
    let (code, out, err) = data_check(d, "dirty", &["--format", "json"]);
    assert_eq!(code, 1, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["violations"], 1);
    let example = &report["views"][0]["fields"][1]["constraints"][1]["examples"][0];
    assert_eq!(
        (example["entity"].as_str(), example["value"].as_str()),
        (Some("2"), Some("1.9"))
    );
    // Bad input: an unknown name, a missing source, a broken edit of the file named.
    let (code, _, err) = data_check(d, "nothing", &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no view or contract is named `nothing`"),
        "{err}"
    );
    let (code, _, err) = data_check(d, "gone", &[]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.csv"), "{err}");
    std::fs::write(
        d.join("dirty.yaml"),
        view("dirty", "dirty.csv").replace("max: 1", "max: one"),
    )
    .unwrap();
    let (code, _, err) = data_check(d, "nothing-either", &[]);
    assert_eq!(code, 2, "{err}");
    std::fs::write(d.join("dirty.yaml"), view("dirty", "dirty.csv")).unwrap();

    // With a server: the result is kept in its history.
    let server = cairn_testkit::TestServer::spawn().await;
    let (code, _, err) = data_check(d, "dirty", &["--tracking-uri", &server.url]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("kept as data check"), "{err}");
    let kept = server.client.data_checks(Some("dirty")).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].violations, 1);
    assert!(!kept[0].passed);

    // A source on an object store, read with the settings artifacts use (moto's S3).
    let Some(python) = common::python_with_mlflow() else {
        common::skip_or_fail("a Python with moto[server] (CAIRN_PYTHON)");
        return;
    };
    let Some(s3) = common::S3Server::start(&python, "lake") else {
        common::skip_or_fail("moto[server] in CAIRN_PYTHON");
        return;
    };
    s3.boto3(
        "s3.put_object(Bucket='lake', Key='scores/dirty.csv', Body=b'id,score\\n1,0.5\\n2,1.9\\n')",
    );
    let remote = tempfile::tempdir().unwrap();
    std::fs::write(
        remote.path().join("remote.yaml"),
        view("remote", "s3://lake/scores/dirty.csv"),
    )
    .unwrap();
    let (code, out, err) =
        data_check_with(remote.path(), "remote", &["--format", "json"], &s3.env());
    assert_eq!(code, 1, "{out}{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            report["violations"].as_u64(),
            report["views"][0]["rows"].as_u64()
        ),
        (Some(1), Some(2))
    );
}
