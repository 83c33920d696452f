//! What cairn's test suites share: a real server on a free port ([`TestServer`]),
//! each test run on both backends ([`on_both_backends!`]), a PostgreSQL database per
//! test ([`TestPostgres`]), a headless chromium ([`Browser`]) and the rule for missing
//! prerequisites ([`skip_or_fail`]).

mod browser;
mod postgres;
mod server;

pub use browser::Browser;
pub use postgres::{postgres_admin_url, TestPostgres};
pub use server::TestServer;

/// Whether this run is CI's, where every test must run.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// What a test does when `what` (a tool, a server, a package) is missing: outside CI
/// it says so and the caller returns early (the test skips); under CI, where
/// `.ci/run` installs everything, it fails. The test is named by its thread, which
/// the test harness names after it.
pub fn skip_or_fail(what: &str) {
    let thread = std::thread::current();
    skip_or_fail_named(thread.name().unwrap_or("a test"), what);
}

/// [`skip_or_fail`] for a test named by its caller.
pub fn skip_or_fail_named(test: &str, what: &str) {
    assert!(
        !under_ci(),
        "{test}: {what} is missing, and CI must run this test (.ci/run installs it)"
    );
    eprintln!("SKIPPED {test}: {what} is missing; .ci/run installs it");
}

/// Milliseconds since the Unix epoch, MLflow's timestamps.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Declares each test once and runs it on both backends, as `sqlite::<name>` and
/// `postgres::<name>`: the body gets a fresh [`TestServer`] `$s` on a SQLite file or
/// on a PostgreSQL database of its own (skipped, or failed under CI, without one).
#[macro_export]
macro_rules! on_both_backends {
    ($( $(#[$meta:meta])* async fn $name:ident($s:ident) $body:block )*) => {
        mod sqlite {
            #[allow(unused_imports, reason = "not every suite uses every import")]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test]
                async fn $name() {
                    let $s = $crate::TestServer::spawn().await;
                    $body
                }
            )*
        }
        mod postgres {
            #[allow(unused_imports, reason = "not every suite uses every import")]
            use super::*;
            $(
                $(#[$meta])*
                #[tokio::test]
                async fn $name() {
                    let Some($s) =
                        $crate::TestServer::spawn_postgres(concat!(module_path!(), "::", stringify!($name))).await
                    else {
                        return;
                    };
                    $body
                }
            )*
        }
    };
}

/// A Python that imports every one of `modules`: `$CAIRN_PYTHON`, the project's
/// `.venv`, or `python3`, the first that does. The reference tools (scikit-learn,
/// Evidently, ...) run in it beside cairn on the same data.
pub fn python_with(modules: &[&str]) -> Option<std::path::PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let candidates = [
        std::env::var_os("CAIRN_PYTHON").map(std::path::PathBuf::from),
        Some(root.join(".venv/bin/python")),
        Some(std::path::PathBuf::from("python3")),
    ];
    let import = format!("import {}", modules.join(", "));
    candidates.into_iter().flatten().find(|py| {
        std::process::Command::new(py)
            .args(["-c", &import])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}
