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
