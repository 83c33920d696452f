//! Serving with real artifacts: ONNX models made in Python (scikit-learn through
//! skl2onnx, and a graph built with onnx.helper), logged and registered by the stock
//! mlflow client, served by cairn and checked against onnxruntime's outputs; then a
//! promotion under load.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cairn_client::Client;
use common::{python_with_mlflow, skip_or_fail, wait_http_ok, CairnProcess};
use serde_json::{json, Value};

/// Held-out rows and onnxruntime's outputs per model and version.
struct Expected(Value);

impl Expected {
    fn version(&self, model: &str, version: &str) -> &Value {
        &self.0[model][version]
    }
}

/// A Python with mlflow and the ONNX tool chain, or a skip message.
fn python_with_onnx() -> Option<std::path::PathBuf> {
    let python = python_with_mlflow()?;
    let ok = Command::new(&python)
        .args(["-c", "import onnx, onnxruntime, skl2onnx, sklearn"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(python)
}

/// Logs the models of `serving_models.py` through the server at `url`.
fn log_models(python: &Path, url: &str, out: &Path) -> Expected {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/serving_models.py");
    let run = Command::new(python)
        .arg(&script)
        .arg(out)
        .env("MLFLOW_TRACKING_URI", url)
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .output()
        .expect("python runs");
    assert!(
        run.status.success(),
        "serving_models.py failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(out).expect("expected outputs written");
    Expected(serde_json::from_str(&text).expect("expected outputs are JSON"))
}

async fn post(url: &str, content_type: &str, body: String) -> (u16, Option<i64>, Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    let status = resp.status().as_u16();
    let version = resp
        .headers()
        .get("x-cairn-model-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, version, body)
}

async fn post_json(url: &str, body: Value) -> (u16, Option<i64>, Value) {
    post(url, "application/json", body.to_string()).await
}

fn assert_close(got: &Value, want: &Value, what: &str) {
    match (got, want) {
        (Value::Array(g), Value::Array(w)) => {
            assert_eq!(g.len(), w.len(), "{what}: lengths differ: {got} vs {want}");
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                assert_close(g, w, &format!("{what}[{i}]"));
            }
        }
        _ => {
            let (g, w) = (got.as_f64(), want.as_f64());
            let (Some(g), Some(w)) = (g, w) else {
                panic!("{what}: {got} vs {want}");
            };
            assert!((g - w).abs() <= 1e-5, "{what}: {g} vs onnxruntime's {w}");
        }
    }
}

/// `key` of every element of the list `list`, as a list.
fn field(list: &Value, key: impl serde_json::value::Index + Copy) -> Value {
    Value::Array(
        list.as_array()
            .expect("a list")
            .iter()
            .map(|item| item[key].clone())
            .collect(),
    )
}

async fn wait_until(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `cairn server --serve` (the embedded endpoints): every scoring format against
/// onnxruntime, bad payloads, the prediction log, metrics, OpenAPI, and a version
/// that fails to load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onnx_models_from_the_stock_client_predict_as_onnxruntime_does() {
    let Some(python) = python_with_onnx() else {
        return skip_or_fail("a Python with mlflow, onnx, onnxruntime, skl2onnx and scikit-learn");
    };
    let dir = tempfile::tempdir().unwrap();
    let server = CairnProcess::start_with(
        &dir.path().join("data"),
        &[
            "--serve",
            "iris@champion",
            "--serve",
            "models:/linear@prod",
            "--entity-column",
            "id",
            "--poll-interval-ms",
            "200",
        ],
        &[],
    );
    let url = server.url.clone();
    // Before any model exists the endpoints answer 503, and the server runs on.
    let (status, _, body) =
        post_json(&format!("{url}/invocations"), json!({"inputs": [[1]]})).await;
    assert_eq!(
        status, 404,
        "two endpoints: /invocations names them: {body}"
    );
    let (status, _, body) = post_json(
        &format!("{url}/models/iris/invocations"),
        json!({"inputs": [[1]]}),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error_code"], "TEMPORARILY_UNAVAILABLE");

    let expected = log_models(&python, &url, &dir.path().join("expected.json"));
    let client = Client::new(&url);
    client
        .set_registered_model_alias("iris", "champion", "1")
        .await
        .unwrap();
    client
        .set_registered_model_alias("linear", "prod", "1")
        .await
        .unwrap();
    assert!(
        wait_http_ok(&format!("{url}/ping"), Duration::from_secs(20)),
        "both endpoints load"
    );

    let iris = &format!("{url}/models/iris/invocations");
    let v1 = expected.version("iris", "1");
    let rows = v1["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 30);

    // TF-serving formats answer named tensors.
    for body in [
        json!({"inputs": rows}),
        json!({"instances": rows}),
        json!({"inputs": {"X": rows}}),
    ] {
        let (status, version, got) = post_json(iris, body.clone()).await;
        assert_eq!((status, version), (200, Some(1)), "{body}: {got}");
        assert_eq!(got["predictions"]["label"], v1["label"]);
        assert_close(
            &got["predictions"]["probabilities"],
            &v1["probabilities"],
            "probabilities",
        );
    }
    // Data frames answer one record per row; the entity column is not a feature.
    let columns = json!([
        "id",
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width"
    ]);
    let data: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = vec![json!(format!("row-{i}"))];
            row.extend(r.as_array().unwrap().iter().cloned());
            Value::Array(row)
        })
        .collect();
    let split = json!({"dataframe_split": {"columns": columns, "data": data}});
    let mut csv = String::from("id,sepal_length,sepal_width,petal_length,petal_width\n");
    for (i, r) in rows.iter().enumerate() {
        let cells: Vec<String> = r
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect();
        csv.push_str(&format!("row-{i},{}\n", cells.join(",")));
    }
    for (content_type, body) in [("application/json", split.to_string()), ("text/csv", csv)] {
        let (status, version, got) = post(iris, content_type, body).await;
        assert_eq!((status, version), (200, Some(1)), "{content_type}: {got}");
        let records = got["predictions"].as_array().expect("records");
        assert_eq!(records.len(), 30);
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r["label"], v1["label"][i], "{content_type} row {i}");
            assert_close(
                &r["probabilities"],
                &v1["probabilities"][i],
                "probabilities",
            );
        }
    }

    // The two-input graph, by columns (records, reordered) and by named tensors.
    let linear = &format!("{url}/models/linear/invocations");
    let lin = expected.version("linear", "1");
    let records: Vec<Value> = lin["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| json!({"b": r["b"], "a": r["a"]}))
        .collect();
    let (status, _, got) = post_json(linear, json!({"dataframe_records": records})).await;
    assert_eq!(status, 200, "{got}");
    let ys = field(&got["predictions"], "y");
    let want = field(&lin["y"], 0);
    assert_close(&ys, &want, "linear y");
    let a = field(&lin["rows"], "a");
    let b = field(&lin["rows"], "b");
    let (status, _, got) = post_json(linear, json!({"inputs": {"a": a, "b": b}})).await;
    assert_eq!(status, 200, "{got}");
    // A column signature makes named inputs columns, so the answer is records.
    let ys = field(&got["predictions"], "y");
    let want = field(&lin["y"], 0);
    assert_close(&ys, &want, "linear y by named columns");

    // Bad payloads: 400 (or 415) naming what is wrong; the server runs on.
    let bad: Vec<(&str, &str, String, u16, &str)> = vec![
        (
            iris,
            "application/json",
            "{\"inputs\": [[1, 2, 3]]}".into(),
            400,
            "[1, 3]",
        ),
        (
            iris,
            "application/json",
            "{\"inputs\": [[1, 2], [3]]}".into(),
            400,
            "inputs[1]",
        ),
        (
            iris,
            "application/json",
            "{\"inputs\": [[\"a\", 1, 2, 3]]}".into(),
            400,
            "not a number",
        ),
        (
            iris,
            "application/json",
            "{\"data\": []}".into(),
            400,
            "exactly one of",
        ),
        (
            iris,
            "application/json",
            "{\"inputs\": [1], \"instances\": [1]}".into(),
            400,
            "exactly one of",
        ),
        (
            iris,
            "application/json",
            "not json".into(),
            400,
            "valid JSON",
        ),
        (iris, "text/plain", "1,2".into(), 415, "text/plain"),
        (iris, "text/csv", "a,b\n1\n".into(), 400, "CSV row 1"),
        (
            linear,
            "application/json",
            "{\"dataframe_records\": [{\"a\": 1}]}".into(),
            400,
            "missing inputs [\"b\"]",
        ),
        (
            linear,
            "application/json",
            "{\"dataframe_records\": [{\"a\": \"x\", \"b\": 1}]}".into(),
            400,
            "column 'a' row 0",
        ),
        (
            linear,
            "application/json",
            "{\"inputs\": {\"a\": [[1]], \"c\": [[1]]}}".into(),
            400,
            "missing inputs [\"b\"]",
        ),
    ];
    for (endpoint, content_type, body, want_status, needle) in bad {
        let (status, _, got) = post(endpoint, content_type, body.clone()).await;
        assert_eq!(status, want_status, "{body}: {got}");
        let message = got["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{body}: {message:?} lacks {needle:?}"
        );
    }
    let (status, _, got) = post_json(
        &format!("{url}/models/nope/invocations"),
        json!({"inputs": [1]}),
    )
    .await;
    assert_eq!(status, 404, "{got}");

    // Every answered row is in the prediction log, with its entity and version.
    wait_until(
        "row-3's prediction in the log",
        Duration::from_secs(10),
        async || {
            client
                .search_predictions("iris", &[("entity_id", "row-3".to_string())])
                .await
                .map(|p| p.items.len() == 2)
                .unwrap_or(false)
        },
    )
    .await;
    let logged = client
        .search_predictions("iris", &[("entity_id", "row-3".to_string())])
        .await
        .unwrap();
    for r in &logged.items {
        assert_eq!(
            (r.model_version, r.alias.as_deref(), r.row_index),
            (1, Some("champion"), 3)
        );
        assert_eq!(r.outputs["label"], v1["label"][3]);
        assert_eq!(
            r.inputs.as_object().unwrap().len(),
            4,
            "the entity column is not an input"
        );
    }
    let all = client
        .search_predictions("iris", &[("max_results", "1000".to_string())])
        .await
        .unwrap();
    assert_eq!(
        all.items.len(),
        5 * 30,
        "3 tensor requests and 2 frames of 30 rows"
    );

    // Metrics, OpenAPI and Swagger UI.
    let page = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "cairn_serving_requests_total{model=\"iris\",version=\"1\",status=\"ok\"} 5",
        "cairn_serving_rows_predicted_total{model=\"iris\",version=\"1\"} 150",
        "cairn_serving_request_duration_seconds_bucket{model=\"iris\",version=\"1\"",
        "cairn_serving_reloads_total{model=\"iris\"} 1",
    ] {
        assert!(page.contains(needle), "/metrics lacks {needle}:\n{page}");
    }
    let doc: Value = reqwest::get(format!("{url}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/invocations"]["post"].is_object(), "{doc}");
    assert!(doc["paths"]["/models/{name}/invocations"]["post"].is_object());
    let docs = reqwest::get(format!("{url}/docs/")).await.unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));

    // Version 3 (skl2onnx's ZipMap output, which tract cannot run) is refused: the
    // old version keeps serving and /serving/health says why.
    client
        .set_registered_model_alias("iris", "champion", "3")
        .await
        .unwrap();
    wait_until(
        "the failed load in /serving/health",
        Duration::from_secs(10),
        async || {
            let h: Value = reqwest::get(format!("{url}/serving/health"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            h["endpoints"][0]["error"]
                .as_str()
                .is_some_and(|e| e.contains("ZipMap"))
        },
    )
    .await;
    let h: Value = reqwest::get(format!("{url}/serving/health"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["endpoints"][0]["serving_version"], 1);
    assert_eq!(h["endpoints"][0]["alias_version"], 3);
    let (status, version, _) = post_json(iris, json!({"inputs": [rows[0]]})).await;
    assert_eq!((status, version), (200, Some(1)));
    // The tracking API is unaffected by the endpoints beside it.
    assert_eq!(client.health().await.unwrap(), "OK");
    server.stop();
}

/// `cairn serve`: the alias moves between two versions ten times while clients
/// send requests without pause. No request fails, every response names a version
/// and carries that version's predictions, and each move is served within 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_under_load_fails_no_request() {
    let Some(python) = python_with_onnx() else {
        return skip_or_fail("a Python with mlflow, onnx, onnxruntime, skl2onnx and scikit-learn");
    };
    let dir = tempfile::tempdir().unwrap();
    let tracking = CairnProcess::start(&dir.path().join("data"));
    let expected = log_models(&python, &tracking.url, &dir.path().join("expected.json"));
    let client = Client::new(&tracking.url);
    client
        .set_registered_model_alias("iris", "champion", "1")
        .await
        .unwrap();
    let serve = CairnProcess::start_serve(&[
        "models:/iris@champion",
        "--tracking-uri",
        &tracking.url,
        "--poll-interval-ms",
        "200",
    ]);
    assert!(wait_http_ok(
        &format!("{}/ping", serve.url),
        Duration::from_secs(20)
    ));
    let url = format!("{}/invocations", serve.url);
    let row = expected.version("iris", "1")["rows"][0].clone();
    let want = |v: i64| expected.version("iris", &v.to_string())["probabilities"][0].clone();
    let (want1, want2) = (want(1), want(2));
    assert_ne!(
        want1, want2,
        "the two versions must be told apart by their answers"
    );

    // (sent at, version, probabilities) of every response; failures recorded apart.
    type Seen = Arc<Mutex<Vec<(Instant, i64, Value)>>>;
    let seen: Seen = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (seen, failures, stop, url, row) = (
            seen.clone(),
            failures.clone(),
            stop.clone(),
            url.clone(),
            row.clone(),
        );
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let body = json!({"inputs": [row]}).to_string();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let sent = Instant::now();
                let result = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match result {
                    Ok(resp) if resp.status().is_success() => {
                        let version = resp
                            .headers()
                            .get("x-cairn-model-version")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<i64>().ok());
                        let body: Value = resp.json().await.unwrap_or(Value::Null);
                        match version {
                            Some(v) => seen.lock().unwrap().push((
                                sent,
                                v,
                                body["predictions"]["probabilities"][0].clone(),
                            )),
                            None => failures.lock().unwrap().push("no version header".into()),
                        }
                    }
                    Ok(resp) => failures
                        .lock()
                        .unwrap()
                        .push(format!("status {}", resp.status())),
                    Err(e) => failures.lock().unwrap().push(e.to_string()),
                }
            }
        }));
    }

    let mut switch_times = Vec::new();
    for i in 0..10 {
        let target: i64 = if i % 2 == 0 { 2 } else { 1 };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let moved = Instant::now();
        client
            .set_registered_model_alias("iris", "champion", &target.to_string())
            .await
            .unwrap();
        // Served once a request sent after the move is answered by the target, and
        // every later one is too.
        let deadline = moved + Duration::from_secs(5);
        loop {
            let first = seen
                .lock()
                .unwrap()
                .iter()
                .filter(|(sent, v, _)| *sent >= moved && *v == target)
                .map(|(sent, _, _)| *sent)
                .min();
            if let Some(first) = first {
                switch_times.push(first.duration_since(moved));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "move {i} to version {target} never served"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }

    let failures = failures.lock().unwrap();
    assert!(failures.is_empty(), "failed requests: {failures:?}");
    let seen = seen.lock().unwrap();
    for (_, version, probabilities) in seen.iter() {
        let want = match version {
            1 => &want1,
            2 => &want2,
            other => panic!("a response named version {other}"),
        };
        assert_close(probabilities, want, &format!("version {version}'s answer"));
    }
    let slowest = switch_times.iter().max().unwrap();
    let mean = switch_times.iter().sum::<Duration>() / switch_times.len() as u32;
    eprintln!(
        "promotion under load: {} requests, 0 failed; 10 moves served after mean {:?}, max {:?}",
        seen.len(),
        mean,
        slowest
    );
    assert!(
        *slowest <= Duration::from_secs(2),
        "a move took {slowest:?}: {switch_times:?}"
    );
    serve.stop();
    tracking.stop();
}

/// `cairn serve models:/iris@champion --shadow challenger`: 2,000 requests with
/// entity ids are answered by the champion alone; the challenger scores every one
/// off the response path, its predictions logged flagged `shadow` under the same
/// request and entity. Labels for 1,500 entities then give each version's metrics
/// over those same entities, equal to what onnxruntime's answers on the rows say.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_challenger_is_logged_never_returned_and_evaluated_on_the_same_entities() {
    let Some(python) = python_with_onnx() else {
        return skip_or_fail("a Python with mlflow, onnx, onnxruntime, skl2onnx and scikit-learn");
    };
    const REQUESTS: usize = 2_000;
    const LABELLED: usize = 1_500;
    let dir = tempfile::tempdir().unwrap();
    let tracking = CairnProcess::start(&dir.path().join("data"));
    let expected = log_models(&python, &tracking.url, &dir.path().join("expected.json"));
    let client = Client::new(&tracking.url);
    for (alias, version) in [("champion", "1"), ("challenger", "2")] {
        client
            .set_registered_model_alias("iris", alias, version)
            .await
            .unwrap();
    }
    let serve = CairnProcess::start_serve(&[
        "models:/iris@champion",
        "--shadow",
        "challenger",
        "--tracking-uri",
        &tracking.url,
        "--entity-column",
        "id",
        "--shadow-queue",
        "4000",
        "--poll-interval-ms",
        "200",
    ]);
    assert!(wait_http_ok(
        &format!("{}/ping", serve.url),
        Duration::from_secs(20)
    ));
    let health_url = format!("{}/health", serve.url);
    wait_until(
        "the challenger to load",
        Duration::from_secs(20),
        async || {
            let health: Value = reqwest::get(&health_url)
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            health["shadows"][0]["serving_version"] == 2
        },
    )
    .await;

    let (v1, v2) = (expected.version("iris", "1"), expected.version("iris", "2"));
    let rows = v1["rows"].as_array().unwrap().clone();
    let truth: Vec<i64> = v1["truth"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_i64().unwrap())
        .collect();
    let row_of = |entity: usize| entity % rows.len();

    // Eight clients; every answer must be the champion's own.
    let url = format!("{}/invocations", serve.url);
    let mut clients = Vec::new();
    for k in 0..8 {
        let (url, rows, v1) = (url.clone(), rows.clone(), v1.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in (k..REQUESTS).step_by(8) {
                let row = &rows[i % rows.len()];
                let mut data = vec![json!(format!("e{i}"))];
                data.extend(row.as_array().unwrap().iter().cloned());
                let body = json!({"dataframe_split": {
                    "columns": ["id", "sepal_length", "sepal_width", "petal_length", "petal_width"],
                    "data": [data],
                }});
                let resp = http.post(&url).json(&body).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                assert_eq!(resp.headers()["x-cairn-model-version"], "1");
                let got: Value = resp.json().await.unwrap();
                let answer = &got["predictions"][0];
                assert_eq!(answer["label"], v1["label"][i % rows.len()], "e{i}");
                assert_close(
                    &answer["probabilities"],
                    &v1["probabilities"][i % rows.len()],
                    &format!("e{i}: the champion's probabilities"),
                );
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }

    // Both versions' rows reach the log: the champion's answered, the challenger's
    // flagged, one each per request and entity.
    let read = |shadow: bool| {
        let client = client.clone();
        async move {
            client
                .search_predictions(
                    "iris",
                    &[
                        ("shadow", shadow.to_string()),
                        ("max_results", "10000".into()),
                    ],
                )
                .await
                .unwrap()
                .items
        }
    };
    wait_until(
        "both versions' predictions in the log",
        Duration::from_secs(60),
        async || read(true).await.len() == REQUESTS && read(false).await.len() == REQUESTS,
    )
    .await;
    let (answered, shadowed) = (read(false).await, read(true).await);
    let key =
        |r: &cairn_core::predictions::PredictionRecord| (r.request_id.clone(), r.entity_id.clone());
    let mut a: Vec<_> = answered.iter().map(key).collect();
    let mut s: Vec<_> = shadowed.iter().map(key).collect();
    a.sort();
    s.sort();
    assert_eq!(
        a, s,
        "the shadow scored the champion's requests, entity by entity"
    );
    assert!(answered
        .iter()
        .all(|r| r.model_version == 1 && r.alias.as_deref() == Some("champion") && !r.shadow));
    for r in &shadowed {
        assert!(r.model_version == 2 && r.alias.as_deref() == Some("challenger") && r.shadow);
        let entity: usize = r.entity_id.as_deref().unwrap()[1..].parse().unwrap();
        assert_eq!(r.outputs["label"], v2["label"][row_of(entity)], "{r:?}");
        assert!(
            r.inputs.is_null(),
            "its inputs are the champion's row's: {r:?}"
        );
    }

    // Labels arrive for 1,500 of the 2,000 entities.
    let labels: Vec<cairn_core::monitor::GroundTruth> = (0..LABELLED)
        .map(|e| cairn_core::monitor::GroundTruth {
            model_name: "iris".into(),
            entity_id: format!("e{e}"),
            label: Some(truth[row_of(e)].to_string().as_str().into()),
            value: None,
            event_time_ms: None,
        })
        .collect();
    client.log_ground_truth(&labels).await.unwrap();
    let evaluation = client
        .evaluate_online(&cairn_api_types::monitor::OnlineEvaluationRequest {
            model_name: Some("iris".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        evaluation
            .versions
            .iter()
            .map(|v| v.version)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    for (version, outputs) in evaluation.versions.iter().zip([v1, v2]) {
        let total = &version.total;
        assert_eq!(
            (total.predictions, total.labelled),
            (REQUESTS as i64, LABELLED as i64)
        );
        let m = total
            .classification
            .as_ref()
            .expect("classification metrics");
        // What the version's own answers on the same 1,500 entities make of them.
        let mut confusion = [[0i64; 3]; 3];
        let mut loss = 0.0;
        for e in 0..LABELLED {
            let (t, r) = (truth[row_of(e)] as usize, row_of(e));
            let p = outputs["label"][r].as_i64().unwrap() as usize;
            confusion[t][p] += 1;
            let pt = outputs["probabilities"][r][t].as_f64().unwrap();
            loss -= pt.clamp(f64::EPSILON, 1.0 - f64::EPSILON).ln();
        }
        assert_eq!(m.labels, ["0", "1", "2"]);
        assert_eq!(
            m.confusion,
            confusion.map(Vec::from).to_vec(),
            "version {}",
            version.version
        );
        let correct: i64 = (0..3).map(|c| confusion[c][c]).sum();
        assert!((m.accuracy - correct as f64 / LABELLED as f64).abs() < 1e-12);
        let log_loss = m.log_loss.expect("log loss from the logged probabilities");
        assert!(
            (log_loss - loss / LABELLED as f64).abs() < 1e-5,
            "version {}: log loss {log_loss} vs {}",
            version.version,
            loss / LABELLED as f64
        );
        assert!(m.roc_auc.is_some());
        eprintln!(
            "version {}: accuracy {:.4}, log loss {:.4} over the same {LABELLED} entities",
            version.version, m.accuracy, log_loss
        );
    }

    // Counted, none shed.
    let metrics = reqwest::get(format!("{}/metrics", serve.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ok_line = metrics
        .lines()
        .find(|l| l.starts_with("cairn_shadow_requests_total{") && l.contains("status=\"ok\""))
        .unwrap_or_else(|| panic!("no shadow counter in:\n{metrics}"));
    assert!(ok_line.ends_with(&format!(" {REQUESTS}")), "{ok_line}");
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("cairn_shadow_requests_shed_total") && !l.ends_with(" 0")),
        "nothing is shed below the queue's bound"
    );
    serve.stop();
    tracking.stop();
}
