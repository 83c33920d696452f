//! What a server leaks, tested on the real binary with its real log: a password in
//! the backend store URI appears nowhere in the log or in error messages, and a
//! database failure reaches the client as an opaque INTERNAL_ERROR while the log
//! keeps its cause under the request's id.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cairn_testkit::TestPostgres;
use serde_json::{json, Value};

const PASSWORD: &str = "Sup3r-S3cret-pa55";

/// `url` with `PASSWORD` as the user's password (the test server trusts every
/// login, so the password is carried but not needed).
fn with_password(url: &str) -> String {
    url.replacen(
        "postgresql://postgres@",
        &format!("postgresql://postgres:{PASSWORD}@"),
        1,
    )
}

/// A `cairn server` whose stderr (its log) goes to `log`.
struct LoggedServer {
    child: Child,
    url: String,
}

impl LoggedServer {
    fn start(data: &Path, backend: &str, log: &Path, level: &str) -> LoggedServer {
        let port_file = data.join("stdout.txt");
        let child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["server", "--port", "0", "--data-dir"])
            .arg(data)
            .args(["--backend-store-uri", backend])
            .env("CAIRN_JOBS_DIR", data.join("jobs"))
            .env("CAIRN_CONTRACTS_DIR", data.join("contracts"))
            .env("CAIRN_LOG", level)
            .stdout(std::fs::File::create(&port_file).expect("stdout file"))
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("cairn starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        let url = loop {
            let out = std::fs::read_to_string(&port_file).unwrap_or_default();
            if let Some(url) = out
                .split_whitespace()
                .find_map(|w| w.strip_prefix("http://"))
                .map(|rest| format!("http://{}", rest.trim_end_matches('/')))
            {
                break url;
            }
            assert!(
                Instant::now() < deadline,
                "cairn did not start; its log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        LoggedServer { child, url }
    }

    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

async fn call(url: &str, path: &str, body: Value) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = response.json().await.unwrap_or(Value::Null);
    (status, request_id, body)
}

#[tokio::test]
async fn a_password_in_the_store_uri_never_reaches_the_log_or_an_error() {
    let Some(db) = TestPostgres::create("a_password_in_the_store_uri_never_reaches_the_log").await
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("server.log");
    // Debug level: the most the log can say.
    let server = LoggedServer::start(dir.path(), &with_password(&db.url), &log, "debug");
    let (status, _, _) = call(
        &server.url,
        "/api/2.0/mlflow/experiments/create",
        json!({"name": "secret-test"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _, _) = call(
        &server.url,
        "/api/2.0/mlflow/experiments/create",
        json!({"name": "secret-test"}),
    )
    .await;
    assert_eq!(status, 400, "a duplicate name is the client's error");
    server.stop();
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.contains("postgresql://postgres:***@"),
        "the log names the database with the password blanked: {text}"
    );
    assert!(
        !text.contains(PASSWORD),
        "the password is in the log: {text}"
    );

    // A server that cannot start says which database failed, without the password.
    let missing = with_password(&db.url).replace(&db.name, "cairn_no_such_database");
    let output = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["server", "--port", "0", "--data-dir"])
        .arg(dir.path())
        .args(["--backend-store-uri", &missing])
        .env("CAIRN_JOBS_DIR", dir.path().join("jobs"))
        .env("CAIRN_CONTRACTS_DIR", dir.path().join("contracts"))
        .env("CAIRN_LOG", "debug")
        .output()
        .expect("cairn runs");
    assert!(
        !output.status.success(),
        "cairn starts on a missing database"
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        said.contains("cairn_no_such_database"),
        "the error names the database: {said}"
    );
    assert!(
        !said.contains(PASSWORD),
        "the password is in the error: {said}"
    );

    let upgrade = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["db", "check", &missing])
        .output()
        .expect("cairn runs");
    let said = String::from_utf8_lossy(&upgrade.stderr).to_string()
        + String::from_utf8_lossy(&upgrade.stdout).as_ref();
    assert!(
        !said.contains(PASSWORD),
        "`cairn db check` shows the password: {said}"
    );
}

#[tokio::test]
async fn a_database_failure_answers_an_opaque_internal_error_and_logs_its_cause() {
    let Some(db) =
        TestPostgres::create("a_database_failure_answers_an_opaque_internal_error").await
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("server.log");
    let server = LoggedServer::start(dir.path(), &db.url, &log, "info");
    let (status, _, created) = call(
        &server.url,
        "/api/2.0/mlflow/experiments/create",
        json!({"name": "doomed"}),
    )
    .await;
    assert_eq!(status, 200, "{created}");

    // The database goes away under the running server.
    db.drop_database().await;
    let (status, request_id, body) = call(
        &server.url,
        "/api/2.0/mlflow/experiments/create",
        json!({"name": "after the fall"}),
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error_code"], "INTERNAL_ERROR", "{body}");
    assert_eq!(
        body["message"],
        cairn_core::error::INTERNAL_MESSAGE,
        "the client sees nothing of the cause"
    );
    let request_id = request_id.expect("every answer carries x-request-id");
    server.stop();

    let text = std::fs::read_to_string(&log).expect("log");
    let failure = text
        .lines()
        .find(|l| l.contains("store failure"))
        .unwrap_or_else(|| panic!("the log has no store failure: {text}"));
    assert!(
        failure.contains(&request_id),
        "the logged failure names the request {request_id}: {failure}"
    );
    assert!(
        failure.contains(&db.name),
        "the logged failure keeps its cause (the missing database): {failure}"
    );
    assert_eq!(
        text.matches("store failure").count(),
        1,
        "the cause is logged once: {text}"
    );
}
