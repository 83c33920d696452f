//! The wire format details the MLflow client depends on, checked over raw HTTP.

use cairn_testkit::on_both_backends;

use cairn_testkit::TestServer;
use serde_json::{json, Value};

async fn raw(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, String) {
    let mut req = reqwest::Client::new().request(method, format!("{}{}", s.url, path));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

on_both_backends! {
    async fn unknown_routes_are_404_without_json(s) {
        let (status, body) = raw(&s, reqwest::Method::GET, "/api/2.0/mlflow/nope", None).await;
        assert_eq!(status, 404);
        assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");
        let (status, _) = raw(
            &s,
            reqwest::Method::GET,
            "/api/2.0/mlflow/runs/create",
            None,
        )
        .await;
        assert_eq!(status, 405);
    }

    async fn errors_carry_mlflow_codes_and_name_the_field(s) {
        let (status, body) = raw(
            &s,
            reqwest::Method::POST,
            "/api/2.0/mlflow/runs/log-metric",
            Some("{\"run_id\": \"x\", \"key\": \"k\", \"value\": 1}"),
        )
        .await;
        assert_eq!(status, 400);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error_code"], "INVALID_PARAMETER_VALUE");
        assert!(
            v["message"].as_str().unwrap().contains("'timestamp'"),
            "{body}"
        );

        let (status, body) = raw(
            &s,
            reqwest::Method::POST,
            "/api/2.0/mlflow/runs/log-metric",
            Some("{\"run_id\": \"x\", \"key\": \"k\", \"value\": 1, \"timestamp\": \"soon\"}"),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body.contains("timestamp"), "{body}");

        let (status, body) = raw(
            &s,
            reqwest::Method::POST,
            "/api/2.0/mlflow/experiments/create",
            Some("{not json"),
        )
        .await;
        assert_eq!(status, 400);
        assert!(body.contains("INVALID_PARAMETER_VALUE"), "{body}");
    }

    async fn nan_goes_out_as_a_string_and_empty_fields_are_omitted(s) {
        let run = s
            .client
            .create_run("0", Some("n"), None, &[])
            .await
            .unwrap()
            .info
            .run_id;
        let body =
            json!({"run_id": run, "key": "k", "value": "NaN", "timestamp": 1, "step": "3"}).to_string();
        let (status, _) = raw(
            &s,
            reqwest::Method::POST,
            "/api/2.0/mlflow/runs/log-metric",
            Some(&body),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = raw(
            &s,
            reqwest::Method::GET,
            &format!("/api/2.0/mlflow/runs/get?run_id={run}"),
            None,
        )
        .await;
        assert_eq!(status, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["run"]["data"]["metrics"][0]["value"], "NaN");
        assert_eq!(v["run"]["data"]["metrics"][0]["step"], 3);
        assert!(
            v["run"]["data"].get("params").is_none(),
            "empty lists are omitted: {body}"
        );
        assert!(v["run"]["info"].get("end_time").is_none());

        let (status, body) = raw(
            &s,
            reqwest::Method::POST,
            "/api/2.0/mlflow/runs/search",
            Some("{\"experiment_ids\": [\"0\"], \"filter\": \"tags.none = 'x'\"}"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body, "{}");
    }

    async fn ajax_prefix_camel_case_and_legacy_bodies(s) {
        let (status, body) = raw(
            &s,
            reqwest::Method::POST,
            "/ajax-api/2.0/mlflow/experiments/create",
            Some("{\"name\": \"camel\"}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = raw(
            &s,
            reqwest::Method::GET,
            "/ajax-api/2.0/mlflow/experiments/get-by-name?experimentName=camel",
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // Old clients double-encode the JSON body as a string.
        let (status, body) = raw(
            &s,
            reqwest::Method::POST,
            "/api/2.0/mlflow/experiments/create",
            Some("\"{\\\"name\\\": \\\"legacy\\\"}\""),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let (status, _) = raw(
            &s,
            reqwest::Method::POST,
            "/api/2.0/mlflow/experiments/search",
            Some(""),
        )
        .await;
        assert_eq!(status, 200);
        let (status, body) = raw(&s, reqwest::Method::GET, "/version", None).await;
        assert_eq!((status, body.as_str()), (200, "3.17.2"));
        let (status, body) = raw(
            &s,
            reqwest::Method::GET,
            "/api/3.0/mlflow/server-info",
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert!(body.contains("\"store_type\""));
    }
}

/// A Python that has `openapi-spec-validator`: `$CAIRN_PYTHON`, the project's `.venv`
/// or `python3`, whichever imports it.
fn python_with_spec_validator() -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var_os("CAIRN_PYTHON").map(std::path::PathBuf::from),
        Some(root.join(".venv/bin/python")),
        Some(std::path::PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|py| {
        std::process::Command::new(py)
            .args(["-c", "import openapi_spec_validator"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// `v` with every object's keys in sorted order.
fn sorted_keys(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries = map.into_iter().collect::<Vec<_>>();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sorted_keys(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted_keys).collect()),
        other => other,
    }
}

/// Runs `openapi-spec-validator` on a document: whether it passed, and what it said.
fn validate(python: &std::path::Path, doc: &Value) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_string_pretty(doc).unwrap()).unwrap();
    let out = std::process::Command::new(python)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

/// The OpenAPI document the server serves at `/openapi.json` is the one checked in
/// (`tests/openapi.json`: a change to the API shows in review as a change to it;
/// `CAIRN_UPDATE_SNAPSHOTS=1` rewrites it), Swagger UI is at `/docs`, and the document
/// is valid by `openapi-spec-validator`, which also refuses a broken copy (so this
/// check can fail).
#[tokio::test]
async fn openapi_document_matches_its_snapshot_and_validates() {
    let s = TestServer::spawn().await;
    let resp = reqwest::get(format!("{}/openapi.json", s.url))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let doc: Value = resp.json().await.unwrap();
    // Keys sorted, so that the text does not depend on whether some crate in the
    // build turns on serde_json's `preserve_order`.
    let served = serde_json::to_string_pretty(&sorted_keys(doc.clone())).unwrap() + "\n";
    let snapshot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi.json");
    if std::env::var_os("CAIRN_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&snapshot, &served).unwrap();
    }
    let expected = std::fs::read_to_string(&snapshot).unwrap_or_default();
    assert!(
        expected == served,
        "the served OpenAPI document differs from {}; if the API changed on purpose, \
         rerun with CAIRN_UPDATE_SNAPSHOTS=1 and review the diff",
        snapshot.display()
    );
    let operations = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .collect::<Vec<_>>();
    let mut ids = operations
        .iter()
        .map(|op| op["operationId"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    ids.sort();
    let count = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are unique");
    for op in &operations {
        for (status, response) in op["responses"].as_object().unwrap() {
            assert!(
                !response["description"].as_str().unwrap_or("").is_empty(),
                "{} answers {status} without a description",
                op["operationId"]
            );
        }
    }

    let docs = reqwest::get(format!("{}/docs/", s.url)).await.unwrap();
    assert_eq!(docs.status().as_u16(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));

    let Some(python) = python_with_spec_validator() else {
        cairn_testkit::skip_or_fail("openapi-spec-validator (pip install openapi-spec-validator)");
        return;
    };
    let (valid, said) = validate(&python, &doc);
    assert!(
        valid,
        "openapi-spec-validator refuses the document:\n{said}"
    );
    let mut broken = doc.clone();
    broken["paths"]["/api/2.0/mlflow/runs/get"]["get"]["responses"]["200"] =
        json!({"content": "not a media type map"});
    let (valid, said) = validate(&python, &broken);
    assert!(!valid, "a broken document passed the validator:\n{said}");
}
