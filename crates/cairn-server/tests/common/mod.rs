//! Spawns a real cairn server on a free port with a fresh data folder.

#![allow(dead_code)]

use cairn_client::Client;
use cairn_server::{Server, ServerConfig};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub client: Client,
    pub url: String,
    pub dir: TempDir,
    pub db_path: std::path::PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    pub async fn spawn() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("mlflow.db");
        Self::spawn_on(dir, db_path).await
    }

    /// Starts a server on an existing database file.
    pub async fn spawn_on(dir: TempDir, db_path: std::path::PathBuf) -> TestServer {
        let config = ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            backend_store_uri: format!("sqlite:///{}", db_path.display()),
            default_artifact_root: "mlflow-artifacts:/".into(),
            artifacts_destination: dir.path().join("artifacts").display().to_string(),
        };
        let server = Server::start(&config).await.expect("server starts");
        let addr = server.local_addr().expect("bound address");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(async move {
            let _ = rx.await;
        }));
        let url = format!("http://{addr}");
        TestServer {
            client: Client::new(&url),
            url,
            dir,
            db_path,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and gives back its data folder.
    pub async fn stop(mut self) -> (TempDir, std::path::PathBuf) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("temp dir"));
        (dir, self.db_path.clone())
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
