//! Background WAL checkpoints.
//!
//! SQLite's automatic checkpoint runs inside the committing writer and copies every
//! page of the WAL into the database file, with two fsyncs; on MLflow's schema (whose
//! key-first primary keys spread one logged batch over hundreds of pages) that stalled
//! the single writer for milliseconds every few commits. This thread checkpoints
//! PASSIVE-ly (never blocking the writer or readers) from its own connection instead;
//! the writer keeps a large automatic threshold only as a safety valve.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// How often the WAL is folded back into the database file.
const INTERVAL: Duration = Duration::from_millis(250);
/// The writer's own automatic checkpoint threshold, in pages (64 MiB at 4 KiB pages).
pub(crate) const WRITER_AUTOCHECKPOINT_PAGES: i64 = 16384;

pub(crate) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub(crate) fn start(file: PathBuf) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cairn-sqlite-checkpoint".into())
            .spawn(move || {
                let conn = match Connection::open(&file) {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "background checkpoints disabled");
                        return;
                    }
                };
                let _ = conn.busy_timeout(Duration::from_secs(5));
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::debug!(error = %e, "passive checkpoint skipped");
                    }
                }
            })?;
        Ok(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread (the writer does the final, truncating checkpoint).
    pub(crate) fn stop(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}
