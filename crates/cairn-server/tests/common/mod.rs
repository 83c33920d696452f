//! Spawns a real cairn server on a free port with a fresh data folder.

#![allow(dead_code)]

use cairn_client::Client;
use cairn_server::{Server, ServerConfig};
pub use cairn_testkit::TestPostgres;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub client: Client,
    /// The PostgreSQL database behind a server on that backend, dropped after it.
    pub postgres: Option<TestPostgres>,
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
    pub async fn spawn_on(dir: TempDir, db_path: std::path::PathBuf) -> TestServer {
        let uri = format!("sqlite:///{}", db_path.display());
        let mut server = Self::spawn_with(dir, uri).await;
        server.db_path = db_path;
        server
    }

    async fn spawn_with(dir: TempDir, backend_store_uri: String) -> TestServer {
        let config = ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            backend_store_uri,
            default_artifact_root: "mlflow-artifacts:/".into(),
            db_pool_size: cairn_store::DEFAULT_POOL_SIZE,
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
            postgres: None,
            url,
            dir,
            db_path: std::path::PathBuf::new(),
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

/// Declares each test once and runs it on both backends, as `sqlite::<name>` and
/// `postgres::<name>`: the body gets a fresh server `$s` on a SQLite file or on a
/// PostgreSQL database of its own.
#[macro_export]
macro_rules! on_both_backends {
    ($( $(#[$meta:meta])* async fn $name:ident($s:ident) $body:block )*) => {
        mod sqlite {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test]
                async fn $name() {
                    let $s = $crate::common::TestServer::spawn().await;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test]
                async fn $name() {
                    let Some($s) =
                        $crate::common::TestServer::spawn_postgres(concat!(module_path!(), "::", stringify!($name))).await
                    else {
                        return;
                    };
                    $body
                }
            )*
        }
    };
}
