//! Helpers for tests that run the real `cairn` binary and real MLflow.

#![allow(dead_code)]

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

/// Skips a test whose prerequisite is missing, except in CI, where it must be there.
pub fn skip_or_fail(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what} is missing, and CI must run this test (.ci/run installs it)");
    }
    eprintln!("SKIPPED: {what} is missing; run .ci/run (or make .venv with mlflow==3.17.2) to run this test");
}

/// A `cairn server` process on a free port.
pub struct CairnProcess {
    pub child: Child,
    pub url: String,
}

impl CairnProcess {
    /// Starts the binary on `data_dir` and waits for the URL it prints.
    pub fn start(data_dir: &Path) -> CairnProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["server", "--port", "0", "--data-dir"])
            .arg(data_dir)
            .env("CAIRN_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cairn starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("first line");
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .filter(|u| u.starts_with("http://"))
            .unwrap_or_else(|| panic!("cairn printed no URL: {line:?}"))
            .to_string();
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
