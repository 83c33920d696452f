//! A small pool of read-only connections used from tokio's blocking threads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::{Result, StoreError};

#[derive(Clone)]
pub(crate) struct Readers {
    file: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    pub(crate) fn new(file: PathBuf, size: usize) -> Self {
        Readers {
            file: Arc::new(file),
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(size)),
        }
    }

    /// Runs `f` on a read connection in a blocking thread.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match this.idle.lock().ok().and_then(|mut idle| idle.pop()) {
                Some(conn) => conn,
                None => super::open_reader(&this.file)?,
            };
            let out = f(&conn);
            if let Ok(mut idle) = this.idle.lock() {
                idle.push(conn);
            }
            out
        })
        .await?
    }

    /// Drops the idle connections and refuses new reads.
    pub(crate) fn close(&self) {
        self.permits.close();
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}
