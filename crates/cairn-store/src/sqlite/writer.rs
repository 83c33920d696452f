//! The one thread that writes, with group commit.
//!
//! Each write is a closure run inside its own SAVEPOINT; the thread takes every write
//! that is already queued (up to a bound) into one transaction and commits once, so
//! concurrent small writes share a commit. A write's result is sent back only after
//! the commit, so an acknowledged write is a committed one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::{metric_names, Result, StoreError};

/// A queued write: runs on the connection (inside a savepoint when `isolate`), and
/// returns whether it failed plus the reply to send once the group's fate is known.
type Job = Box<dyn FnOnce(&Connection, bool) -> (bool, Reply) + Send>;
type Reply = Box<dyn FnOnce(bool) + Send>;

enum Msg {
    Write(Job),
    /// Checkpoint the WAL into the main file and stop.
    Close(oneshot::Sender<()>),
}

/// The most writes one transaction takes: bounds the latency of the first one.
const MAX_GROUP: usize = 256;

pub(crate) struct Writer {
    tx: mpsc::Sender<Msg>,
    /// Writes sent and not yet taken by the thread, for the queue gauge.
    queued: Arc<AtomicUsize>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(crate) fn start(conn: Connection) -> Result<Self> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = queued.clone();
        let thread = std::thread::Builder::new()
            .name("cairn-sqlite-writer".into())
            .spawn(move || run(conn, rx, &taken))?;
        Ok(Writer {
            tx,
            queued,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Runs `f` in the writer thread, inside a savepoint: if it fails, nothing it did
    /// stays; if it succeeds, its result comes back once the transaction committed.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (done_tx, done_rx) = oneshot::channel::<Result<T>>();
        let job: Job = Box::new(move |conn: &Connection, isolate: bool| {
            let outcome = if isolate { savepoint(conn, f) } else { f(conn) };
            let failed = outcome.is_err();
            let reply: Reply = Box::new(move |committed: bool| {
                let result = match outcome {
                    Ok(v) if committed => Ok(v),
                    Ok(_) => Err(StoreError::CommitFailed),
                    Err(e) => Err(e),
                };
                let _ = done_tx.send(result);
            });
            (failed, reply)
        });
        self.queued.fetch_add(1, Ordering::Relaxed);
        self.tx
            .send(Msg::Write(job))
            .map_err(|_| StoreError::Closed)?;
        done_rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Checkpoints and stops the thread; later writes fail with `Closed`.
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Close(tx)).is_ok() {
            let _ = rx.await;
        }
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
    }
}

fn savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    conn.execute_batch("SAVEPOINT w")?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("RELEASE w")?;
            Ok(v)
        }
        Err(e) => {
            conn.execute_batch("ROLLBACK TO w; RELEASE w")?;
            Err(e)
        }
    }
}

fn run(conn: Connection, rx: mpsc::Receiver<Msg>, queued: &AtomicUsize) {
    let queue_gauge = metrics::gauge!(metric_names::SQLITE_WRITER_QUEUE);
    let commit_size = metrics::histogram!(metric_names::SQLITE_COMMIT_SIZE);
    let commit_latency = metrics::histogram!(metric_names::SQLITE_COMMIT_LATENCY);
    let mut close: Option<oneshot::Sender<()>> = None;
    while close.is_none() {
        let Ok(first) = rx.recv() else { break };
        let mut group = Vec::new();
        match first {
            Msg::Write(job) => group.push(job),
            Msg::Close(done) => close = Some(done),
        }
        while close.is_none() && group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(Msg::Write(job)) => group.push(job),
                Ok(Msg::Close(done)) => close = Some(done),
                Err(_) => break,
            }
        }
        if group.is_empty() {
            continue;
        }
        let left = queued.fetch_sub(group.len(), Ordering::Relaxed) - group.len();
        queue_gauge.set(left as f64);
        commit_size.record(group.len() as f64);
        let started = Instant::now();
        let mut began = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        let mut replies: Vec<Reply> = Vec::with_capacity(group.len());
        let mut first = began;
        for job in group {
            // The first write of a transaction has nothing before it to protect, so it
            // runs without a savepoint (whose sub-journal copies every page it touches);
            // if it fails, the transaction is rolled back and begun afresh.
            // A panic in one write must not take the writer thread (and every later
            // write) with it: its caller gets an error, the transaction starts over.
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&conn, !first)));
            let Ok((failed, reply)) = outcome else {
                tracing::error!("a write panicked; its transaction group is rolled back");
                let _ = conn.execute_batch("ROLLBACK");
                for reply in replies.drain(..) {
                    reply(false);
                }
                began = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
                first = began;
                continue;
            };
            if first && failed {
                let _ = conn.execute_batch("ROLLBACK");
                began = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
                // The failed write's reply carries its error; nothing of it stays.
                reply(true);
                continue;
            }
            first = false;
            replies.push(reply);
        }
        // Without BEGIN (it can only fail if another process holds the lock past the
        // busy timeout) each savepoint was its own transaction, committed on RELEASE.
        let committed = !began
            || match conn.execute_batch("COMMIT") {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(error = %e, "commit failed; the group's writes are rolled back");
                    let _ = conn.execute_batch("ROLLBACK");
                    false
                }
            };
        commit_latency.record(started.elapsed().as_secs_f64());
        for reply in replies {
            reply(committed);
        }
    }
    // A final checkpoint folds the WAL back into the main file, so the database is one
    // self-contained file after a clean shutdown.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(error = %e, "WAL checkpoint on shutdown failed");
    }
    drop(conn);
    if let Some(done) = close {
        let _ = done.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (Writer, std::path::PathBuf) {
        let path = std::env::temp_dir().join(format!(
            "cairn-writer-test-{}.db",
            uuid::Uuid::new_v4().simple()
        ));
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .unwrap();
        (Writer::start(conn).unwrap(), path)
    }

    fn count(path: &std::path::Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn failing_and_panicking_writes_leave_their_group_intact() {
        let (w, path) = writer();
        let w = std::sync::Arc::new(w);
        let mut tasks = Vec::new();
        for i in 0..200i64 {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                w.run(move |conn| {
                    // Every 10th write inserts two rows and then fails: neither may stay.
                    conn.execute("INSERT INTO t (x) VALUES (?1)", [i])?;
                    if i % 10 == 0 {
                        conn.execute("INSERT INTO t (x) VALUES (?1)", [1000 + i])?;
                        conn.execute("INSERT INTO t (x) VALUES (?1)", [i])?;
                    }
                    if i == 55 {
                        panic!("a bug in one write");
                    }
                    Ok(i)
                })
                .await
            }));
        }
        let mut ok = 0;
        let mut failed = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(_) => failed += 1,
            }
        }
        // 20 constraint failures and one panic; a panic also fails the writes that
        // shared its transaction, which their callers are told.
        assert!(failed >= 21, "failed {failed}");
        assert_eq!(ok + failed, 200);
        assert_eq!(
            count(&path),
            ok as i64,
            "exactly the acknowledged writes are stored"
        );
        // The writer survived and still writes.
        w.run(|conn| Ok(conn.execute("INSERT INTO t (x) VALUES (5000)", [])?))
            .await
            .unwrap();
        w.close().await;
        assert_eq!(count(&path), ok as i64 + 1);
        let _ = std::fs::remove_file(&path);
    }
}
