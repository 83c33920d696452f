//! A real cairn server with the UI on a free port, and a headless Debian chromium
//! driven over WebDriver (chromedriver), for the browser tests and the scale runs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use cairn_client::Client;
use cairn_server::{Server, ServerConfig};
pub use cairn_testkit::TestPostgres;
use tempfile::TempDir;
use thirtyfour::prelude::*;
use tokio::sync::oneshot;

pub struct UiServer {
    pub url: String,
    pub client: Client,
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    /// The PostgreSQL database behind a server on that backend, dropped after it.
    pub postgres: Option<TestPostgres>,
}

impl UiServer {
    /// On SQLite in a temporary folder.
    pub async fn spawn() -> UiServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let uri = format!("sqlite:///{}", dir.path().join("mlflow.db").display());
        Self::spawn_with(dir, uri).await
    }

    /// On a PostgreSQL database of its own, or `None` (the test skips) where no
    /// PostgreSQL answers outside CI.
    pub async fn spawn_postgres(test: &str) -> Option<UiServer> {
        let db = TestPostgres::create(test).await?;
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self::spawn_with(dir, db.url.clone()).await;
        server.postgres = Some(db);
        Some(server)
    }

    async fn spawn_with(dir: TempDir, backend_store_uri: String) -> UiServer {
        let config = ServerConfig {
            host: "127.0.0.1".into(),
            port: 0,
            backend_store_uri,
            default_artifact_root: "mlflow-artifacts:/".into(),
            artifacts_destination: dir.path().join("artifacts").display().to_string(),
            db_pool_size: cairn_store::DEFAULT_POOL_SIZE,
        };
        let server = Server::start(&config).await.expect("server starts");
        let addr = server.local_addr().expect("bound address");
        let ui = cairn_ui::router(server.state());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server.serve_with(ui, async move {
            let _ = rx.await;
        }));
        let url = format!("http://{addr}");
        UiServer {
            client: Client::new(&url),
            url,
            dir,
            stop: Some(tx),
            postgres: None,
        }
    }
}

impl Drop for UiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Headless chromium behind its chromedriver, quit and killed on drop.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    pub screenshots: PathBuf,
}

fn find(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// A browser, or `None` (after saying what is missing) where chromium or
    /// chromedriver is not installed outside CI; under CI that is a failure.
    pub async fn start(test: &str) -> Option<Browser> {
        let chromium = find(
            "CAIRN_CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        );
        let chromedriver = find("CAIRN_CHROMEDRIVER", &["/usr/bin/chromedriver"]);
        let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
            let what = "Debian's chromium and chromium-driver (/usr/bin/chromium, \
                        /usr/bin/chromedriver; or set CAIRN_CHROMIUM and CAIRN_CHROMEDRIVER)";
            if std::env::var_os("CI").is_some() {
                panic!("{test}: the browser tests need {what} under CI");
            }
            eprintln!("skipped {test}: it needs {what}");
            return None;
        };
        let port = free_port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let status = format!("http://127.0.0.1:{port}/status");
        let mut ready = false;
        for _ in 0..100 {
            if reqwest::get(&status).await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not answer at {status}");
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&chromium.display().to_string())
            .expect("binary capability");
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1400,1000",
        ] {
            caps.add_arg(arg).expect("browser argument");
        }
        let driver = WebDriver::new(format!("http://127.0.0.1:{port}"), caps)
            .await
            .expect("a chromium session");
        let screenshots = std::env::var_os("CAIRN_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots")
            });
        std::fs::create_dir_all(&screenshots).expect("screenshot folder");
        Some(Browser {
            driver,
            chromedriver: child,
            screenshots,
        })
    }

    /// Saves the page as `<name>.png` in the screenshot folder.
    pub async fn shot(&self, name: &str) {
        let path = self.screenshots.join(format!("{name}.png"));
        self.driver
            .screenshot(&path)
            .await
            .unwrap_or_else(|e| panic!("screenshot {}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
    }

    /// Milliseconds from navigation start to the load event of the current page.
    pub async fn load_ms(&self) -> f64 {
        let ret = self
            .driver
            .execute(
                "const t = performance.getEntriesByType('navigation')[0]; \
                 return t.loadEventEnd - t.startTime;",
                Vec::new(),
            )
            .await
            .expect("navigation timing");
        ret.json().as_f64().expect("a number of milliseconds")
    }

    pub async fn quit(self) {
        let _ = self.driver.clone().quit().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}
