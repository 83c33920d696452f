//! The prediction log, off the request path: a request hands its parsed input and
//! outputs to a bounded queue and answers at once; one writer task turns them into
//! per-row records and writes them in batches. A full queue sheds (and counts) log
//! rows; it never slows or fails a prediction.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cairn_core::predictions::{PredictionRecord, MAX_LOG_BATCH};
use metrics::Counter;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::flavor::Outputs;
use crate::input::ModelInput;
use crate::metrics as m;

/// One answered request, as the writer receives it.
pub struct LogEntry {
    pub request_id: String,
    pub model_name: Arc<str>,
    pub alias: Arc<str>,
    pub model_version: i64,
    pub timestamp_ms: i64,
    pub entity_ids: Option<Vec<Option<String>>>,
    pub input: ModelInput,
    pub outputs: Outputs,
    /// Scored by a shadow challenger and never returned.
    pub shadow: bool,
}

impl LogEntry {
    fn rows(&self) -> usize {
        self.input.rows()
    }

    pub(crate) fn into_records(self, out: &mut Vec<PredictionRecord>) {
        for i in 0..self.input.rows() {
            out.push(PredictionRecord {
                request_id: self.request_id.clone(),
                row_index: i as i64,
                model_name: self.model_name.to_string(),
                model_version: self.model_version,
                alias: Some(self.alias.to_string()),
                entity_id: self
                    .entity_ids
                    .as_ref()
                    .and_then(|ids| ids.get(i).cloned().flatten()),
                timestamp_ms: self.timestamp_ms,
                // A shadow's row is the champion's row with the same request id and
                // row: its inputs are there, once.
                inputs: if self.shadow {
                    serde_json::Value::Null
                } else {
                    self.input.row(i)
                },
                outputs: self.outputs.row(i),
                shadow: self.shadow,
                ground_truth: None,
            });
        }
    }
}

/// Where batches go: the tracking server's prediction-log API, or a test's vector.
#[async_trait]
pub trait PredictionSink: Send + Sync + 'static {
    async fn write(&self, records: &[PredictionRecord]) -> Result<(), String>;
}

#[async_trait]
impl PredictionSink for cairn_client::Client {
    async fn write(&self, records: &[PredictionRecord]) -> Result<(), String> {
        self.log_predictions(records)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The queue's sending side, shared by every endpoint.
#[derive(Clone)]
pub struct PredictionLog {
    tx: mpsc::Sender<LogEntry>,
    shed: Counter,
}

/// The writer task; await [`LogWriter::finish`] after dropping every
/// [`PredictionLog`] to flush what is queued.
pub struct LogWriter {
    task: JoinHandle<()>,
}

/// Requests gathered into one write at most, and how long the writer waits for
/// them after the first arrives.
pub(crate) const BATCH_ENTRIES: usize = 2048;
pub(crate) const GATHER: Duration = Duration::from_millis(100);

/// Attempts per batch before its rows are counted as failed: a restarting tracking
/// server is waited for, a dead one does not stall the queue forever.
const WRITE_ATTEMPTS: u32 = 5;

impl PredictionLog {
    /// A queue of `capacity` requests and its writer over `sink`.
    pub fn start(sink: Arc<dyn PredictionSink>, capacity: usize) -> (PredictionLog, LogWriter) {
        m::handle();
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let task = tokio::spawn(write_loop(rx, sink));
        (
            PredictionLog {
                tx,
                shed: metrics::counter!(m::LOG_SHED),
            },
            LogWriter { task },
        )
    }

    /// Queues an entry, or sheds it when the queue is full.
    pub fn record(&self, entry: LogEntry) {
        if let Err(e) = self.tx.try_send(entry) {
            let entry = match e {
                mpsc::error::TrySendError::Full(entry)
                | mpsc::error::TrySendError::Closed(entry) => entry,
            };
            self.shed.increment(entry.rows() as u64);
        }
    }
}

impl LogWriter {
    pub async fn finish(self) {
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the prediction-log writer stopped");
        }
    }
}

async fn write_loop(mut rx: mpsc::Receiver<LogEntry>, sink: Arc<dyn PredictionSink>) {
    let written = metrics::counter!(m::LOG_WRITTEN);
    let failed = metrics::counter!(m::LOG_FAILED);
    let mut entries = Vec::with_capacity(BATCH_ENTRIES);
    let mut records = Vec::new();
    loop {
        if rx.recv_many(&mut entries, BATCH_ENTRIES).await == 0 {
            return;
        }
        // Gather for a moment: under load that makes a few large writes a second
        // instead of one per request, which would cost the machine more CPU than
        // the predictions themselves.
        let deadline = tokio::time::Instant::now() + GATHER;
        while entries.len() < BATCH_ENTRIES {
            let room = BATCH_ENTRIES - entries.len();
            match tokio::time::timeout_at(deadline, rx.recv_many(&mut entries, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        for entry in entries.drain(..) {
            entry.into_records(&mut records);
        }
        deliver(sink.as_ref(), &records, &written, &failed).await;
        records.clear();
    }
}

/// Writes `records` in batches the API takes, each retried a few times; a batch the
/// sink keeps refusing is dropped and counted in `failed`.
pub(crate) async fn deliver(
    sink: &dyn PredictionSink,
    records: &[PredictionRecord],
    written: &Counter,
    failed: &Counter,
) {
    for batch in records.chunks(MAX_LOG_BATCH) {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match sink.write(batch).await {
                Ok(()) => {
                    written.increment(batch.len() as u64);
                    break;
                }
                Err(e) if attempt >= WRITE_ATTEMPTS => {
                    tracing::error!(error = %e, rows = batch.len(), "prediction log: batch dropped");
                    failed.increment(batch.len() as u64);
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, attempt, "prediction log: write failed, retrying");
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flavor::OutTensor;
    use serde_json::json;
    use std::sync::Mutex;

    struct Memory {
        rows: Mutex<Vec<PredictionRecord>>,
        gate: tokio::sync::Semaphore,
    }

    #[async_trait]
    impl PredictionSink for Memory {
        async fn write(&self, records: &[PredictionRecord]) -> Result<(), String> {
            // Blocks until the test opens the gate, to fill the queue.
            let permit = self.gate.acquire().await.map_err(|e| e.to_string())?;
            permit.forget();
            self.rows.lock().unwrap().extend_from_slice(records);
            Ok(())
        }
    }

    fn entry(request: &str, rows: usize) -> LogEntry {
        LogEntry {
            request_id: request.into(),
            model_name: "m".into(),
            alias: "champion".into(),
            model_version: 2,
            timestamp_ms: 1,
            entity_ids: Some((0..rows).map(|i| Some(format!("e{i}"))).collect()),
            input: ModelInput::Tensor(json!((0..rows).map(|i| vec![i, i]).collect::<Vec<_>>())),
            outputs: Outputs {
                tensors: vec![(
                    "y".into(),
                    OutTensor {
                        shape: vec![rows],
                        values: (0..rows).map(|i| json!(i * 10)).collect(),
                    },
                )],
            },
            shadow: false,
        }
    }

    #[tokio::test]
    async fn rows_are_written_one_record_each_and_a_full_queue_sheds() {
        let sink = Arc::new(Memory {
            rows: Mutex::new(Vec::new()),
            gate: tokio::sync::Semaphore::new(0),
        });
        let (log, writer) = PredictionLog::start(sink.clone(), 2);
        // The writer takes the first entry and blocks in the sink; two more fill the
        // queue; the rest are shed without waiting.
        log.record(entry("r0", 2));
        tokio::time::sleep(Duration::from_millis(50)).await;
        for i in 1..=5 {
            log.record(entry(&format!("r{i}"), 1));
        }
        sink.gate.add_permits(100);
        drop(log);
        writer.finish().await;
        let rows = sink.rows.lock().unwrap();
        let ids: Vec<(&str, i64)> = rows
            .iter()
            .map(|r| (r.request_id.as_str(), r.row_index))
            .collect();
        assert_eq!(ids, [("r0", 0), ("r0", 1), ("r1", 0), ("r2", 0)]);
        assert_eq!(rows[1].entity_id.as_deref(), Some("e1"));
        assert_eq!(rows[1].inputs, json!([1, 1]));
        assert_eq!(rows[1].outputs, json!({"y": 10}));
        assert_eq!(rows[1].alias.as_deref(), Some("champion"));
    }
}
