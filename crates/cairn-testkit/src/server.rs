//! A real `cairn server` (API and web UI) in the test's process, on a free port and a
//! fresh data folder, talked to over HTTP like any client would.

use std::path::PathBuf;

use cairn_client::Client;
use cairn_server::{Server, ServerConfig};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::TestPostgres;

pub struct TestServer {
    pub client: Client,
    /// The PostgreSQL database behind a server on that backend, dropped after it.
    pub postgres: Option<TestPostgres>,
    pub url: String,
    pub dir: TempDir,
    /// The SQLite file of a server on that backend.
    pub db_path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server on a new SQLite file.
    pub async fn spawn() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("mlflow.db");
        Self::spawn_on(dir, db_path).await
    }

    /// A server on a PostgreSQL database of its own, or `None` (the test skips) where
    /// no PostgreSQL answers outside CI.
    pub async fn spawn_postgres(test: &str) -> Option<TestServer> {
        let db = TestPostgres::create(test).await?;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self::spawn_with(dir, db.url.clone()).await;
        server.postgres = Some(db);
        Some(server)
    }

    /// Starts a server on an existing database file.
    pub async fn spawn_on(dir: TempDir, db_path: PathBuf) -> TestServer {
        let uri = format!("sqlite:///{}", db_path.display());
        let mut server = Self::spawn_with(dir, uri).await;
        server.db_path = db_path;
        server
    }

    async fn spawn_with(dir: TempDir, backend_store_uri: String) -> TestServer {
        let config = ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            backend_store_uri: backend_store_uri.into(),
            default_artifact_root: "mlflow-artifacts:/".into(),
            db_pool_size: cairn_store::DEFAULT_POOL_SIZE,
            jobs: None,
            contracts: Some(dir.path().join("contracts")),
            artifacts_destination: dir.path().join("artifacts").display().to_string().into(),
        };
        let server = Server::start(&config).await.expect("server starts");
        let addr = server.local_addr().expect("bound address");
        let ui = cairn_server::ui::router(server.state());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve_with(ui, async move {
            let _ = rx.await;
        }));
        let url = format!("http://{addr}");
        TestServer {
            client: Client::new(&url),
            postgres: None,
            url,
            dir,
            db_path: PathBuf::new(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and gives back its data folder and database file.
    pub async fn stop(mut self) -> (TempDir, PathBuf) {
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

impl Drop for TestServer {
    /// A server the test did not stop stops with it.
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
