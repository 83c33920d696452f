//! A headless Debian chromium driven over WebDriver (chromedriver), for the browser
//! tests of every crate that has pages.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use thirtyfour::prelude::*;

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
            crate::skip_or_fail_named(test, what);
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
