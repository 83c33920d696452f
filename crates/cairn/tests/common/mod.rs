//! Helpers for tests that run the real `cairn` binary and real MLflow.

#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a part: `expect` would fail in some"
)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// `../shared` beside the checkout, where the compatibility suite lives.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CAIRN_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"));
    dir.join("compat/client_flow.py").exists().then_some(dir)
}

/// A Python with the `mlflow` package: `$CAIRN_PYTHON`, the project's `.venv`, or
/// `python3`, whichever imports mlflow.
pub fn python_with_mlflow() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("CAIRN_PYTHON").map(PathBuf::from),
        Some(workspace_root().join(".venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|py| {
        Command::new(py)
            .args(["-c", "import mlflow"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    })
}

/// Skips a test whose prerequisite is missing, except in CI (see `cairn_testkit`).
pub fn skip_or_fail(what: &str) {
    cairn_testkit::skip_or_fail(what);
}

/// A `cairn server` process on a free port.
pub struct CairnProcess {
    pub child: Child,
    pub url: String,
}

impl CairnProcess {
    /// Starts the binary on `data_dir` and waits for the URL it prints.
    pub fn start(data_dir: &Path) -> CairnProcess {
        Self::start_with(data_dir, &[], &[])
    }

    /// Starts the binary with extra arguments and environment.
    /// The jobs and contracts folders are inside the data folder unless the test
    /// names them, so no test leaves a `./jobs` or `./contracts` in the source tree.
    pub fn start_with(data_dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> CairnProcess {
        let mut full = vec!["server", "--port", "0", "--data-dir"];
        let data = data_dir.to_str().expect("a UTF-8 data folder");
        full.push(data);
        full.extend_from_slice(args);
        let jobs = data_dir.join("jobs");
        let jobs = jobs.to_str().expect("a UTF-8 jobs folder");
        let contracts = data_dir.join("contracts");
        let contracts = contracts.to_str().expect("a UTF-8 contracts folder");
        let mut envs = envs.to_vec();
        if !envs.iter().any(|(k, _)| *k == "CAIRN_JOBS_DIR") {
            envs.push(("CAIRN_JOBS_DIR", jobs));
        }
        if !envs.iter().any(|(k, _)| *k == "CAIRN_CONTRACTS_DIR") {
            envs.push(("CAIRN_CONTRACTS_DIR", contracts));
        }
        Self::spawn(&full, &envs)
    }

    /// Starts `cairn serve <args> --port 0`; `url` is its base URL.
    pub fn start_serve(args: &[&str]) -> CairnProcess {
        let mut full = vec!["serve", "--port", "0"];
        full.extend_from_slice(args);
        Self::spawn(&full, &[])
    }

    /// Runs `cairn <args>` and waits for the first line, which ends with a URL on
    /// the bound port; `url` is that URL's scheme and authority.
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> CairnProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(args)
            .envs(envs.iter().copied())
            .env("CAIRN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cairn starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        // The first line with a URL names the bound port; anything before it (a
        // warning, were logs ever printed there) is passed on so a failure shows it.
        let mut seen = String::new();
        let url = loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).expect("stdout line");
            if n == 0 {
                panic!("cairn exited before printing its URL; its stdout: {seen:?}");
            }
            if let Some(rest) = line
                .trim()
                .rsplit(' ')
                .next()
                .and_then(|u| u.strip_prefix("http://"))
            {
                break format!("http://{}", rest.split('/').next().unwrap_or(rest));
            }
            eprint!("{line}");
            seen.push_str(&line);
        };
        // Keep draining stdout so later lines never block the process on a full pipe.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        CairnProcess { child, url }
    }

    /// Stops the server with SIGTERM, as a service manager would, and waits.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }

    /// Kills the server with SIGKILL: no chance to clean up.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for CairnProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `url` until it answers 200 or `timeout` passes.
pub fn wait_http_ok(url: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if http_probe::get_is_ok(url).unwrap_or(false) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    false
}

/// Tiny blocking GET over std, so the helpers need no async runtime.
mod http_probe {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    pub fn get_is_ok(url: &str) -> std::io::Result<bool> {
        let rest = url.trim_start_matches("http://");
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let mut s = TcpStream::connect(host)?;
        write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
        let mut buf = String::new();
        s.read_to_string(&mut buf)?;
        Ok(buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200"))
    }
}

/// An S3-compatible server (moto's, from PyPI) on a free loopback port, with one
/// empty bucket; stopped on drop.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    pub bucket: String,
    python: PathBuf,
}

impl S3Server {
    /// `None` when the Python lacks `moto[server]`.
    pub fn start(python: &Path, bucket: &str) -> Option<S3Server> {
        let has_moto = Command::new(python)
            .args(["-c", "import moto.server, flask"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !has_moto {
            return None;
        }
        let port = free_port();
        let child = Command::new(python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto server starts");
        let endpoint = format!("http://127.0.0.1:{port}");
        let server = S3Server {
            child,
            endpoint,
            bucket: bucket.to_string(),
            python: python.to_path_buf(),
        };
        assert!(
            wait_http_ok(
                &format!("{}/moto-api/", server.endpoint),
                Duration::from_secs(60)
            ),
            "moto server did not answer"
        );
        server.boto3(&format!("s3.create_bucket(Bucket={bucket:?})"));
        Some(server)
    }

    /// The environment that points cairn (and boto3) at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_DEFAULT_REGION", "us-east-1".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// Runs `code` with `s3` bound to a boto3 client for this server; returns stdout.
    pub fn boto3(&self, code: &str) -> String {
        let script = format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url={:?}, region_name='us-east-1', \
             aws_access_key_id='testing', aws_secret_access_key='testing')\n{code}\n",
            self.endpoint
        );
        let out = Command::new(&self.python)
            .args(["-c", &script])
            .output()
            .expect("python runs");
        assert!(
            out.status.success(),
            "boto3 call failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The keys of every object in the bucket.
    pub fn keys(&self) -> Vec<String> {
        self.boto3(&format!(
            "p = s3.get_paginator('list_objects_v2')\n\
             for page in p.paginate(Bucket={:?}):\n    \
             [print(o['Key']) for o in page.get('Contents', [])]",
            self.bucket
        ))
        .lines()
        .map(str::to_string)
        .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(
    unused_imports,
    reason = "not every test binary that shares this module uses it"
)]
pub use cairn_testkit::TestPostgres;

/// Runs `cairn <args>`, returning (success, stdout, stderr).
pub fn cairn(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(args)
        .env("CAIRN_LOG", "warn")
        .output()
        .expect("cairn runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The database behind a test's servers: a SQLite file in the data folder, or a
/// PostgreSQL database of the test's own. cairn and `mlflow server` name it each in
/// their own spelling.
pub enum TestDb {
    Sqlite(PathBuf),
    Postgres(TestPostgres),
}

impl TestDb {
    /// A SQLite file in `data` (where `cairn server --data-dir data` keeps it).
    pub fn sqlite(data: &Path) -> TestDb {
        TestDb::Sqlite(data.join("mlflow.db"))
    }

    /// A fresh PostgreSQL database, or `None` where none answers outside CI.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        TestPostgres::create(test).await.map(TestDb::Postgres)
    }

    /// `--backend-store-uri` for cairn.
    pub fn cairn_uri(&self) -> String {
        match self {
            TestDb::Sqlite(path) => format!("sqlite:///{}", path.display()),
            TestDb::Postgres(db) => db.url.clone(),
        }
    }

    /// The same database as SQLAlchemy (so `mlflow`) spells it.
    pub fn mlflow_uri(&self) -> String {
        match self {
            TestDb::Sqlite(path) => format!("sqlite:///{}", path.display()),
            TestDb::Postgres(db) => db.url.replacen("postgresql://", "postgresql+psycopg://", 1),
        }
    }

    /// Starts cairn on this database with its files under `data`.
    pub fn start_cairn(&self, data: &Path) -> CairnProcess {
        CairnProcess::start_with(data, &["--backend-store-uri", &self.cairn_uri()], &[])
    }
}

/// A point of `key` at `step`, with a timestamp that grows with the step.
pub fn metric(key: &str, value: f64, step: i64) -> cairn_core::entities::Metric {
    cairn_core::entities::Metric {
        key: key.into(),
        value,
        timestamp: 1_700_000_000_000 + step,
        step,
        run_id: None,
        model_id: None,
    }
}

/// An `mlflow server` process, stopped with SIGTERM when dropped.
pub struct MlflowServer(pub Child);

impl Drop for MlflowServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        let _ = self.0.wait();
    }
}

/// Starts `mlflow server` 3.17.2 on `db_uri` (SQLAlchemy's spelling) with its artifact
/// proxy on `artifacts`, and waits until it answers; returns it with its URL.
pub fn start_mlflow(python: &Path, db_uri: &str, artifacts: &Path) -> (MlflowServer, String) {
    let port = free_port();
    let child = Command::new(python)
        .args(["-m", "mlflow", "server", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--backend-store-uri", db_uri])
        .arg("--artifacts-destination")
        .arg(artifacts)
        .args(["--workers", "1"])
        .env("MLFLOW_DISABLE_TELEMETRY", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mlflow server starts");
    let server = MlflowServer(child);
    let url = format!("http://127.0.0.1:{port}");
    assert!(
        wait_http_ok(&format!("{url}/health"), Duration::from_secs(120)),
        "mlflow server did not come up on {db_uri}"
    );
    (server, url)
}
