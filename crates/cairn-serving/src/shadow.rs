//! Shadow scoring: a challenger alias scores every request its champion answered,
//! off the response path. The champion hands the request's body (a reference-counted
//! buffer, no copy) to a bounded queue and answers at once; one thread per shadow
//! scores from the queue and writes its predictions to the prediction log flagged
//! `shadow`, under the same request id and entity ids, so online evaluation compares
//! the two versions on the same entities. Nothing of it is ever returned.
//!
//! The thread runs under Linux's `SCHED_IDLE` policy: it gets a core only when no
//! request-serving thread wants one, so under load the queue fills instead of the
//! champion slowing down, and what does not fit is shed and counted
//! (`cairn_shadow_requests_shed_total`).

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use axum::body::Bytes;
use metrics::Counter;
use thread_priority::unix::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
use thread_priority::{ThreadBuilder, ThreadPriority};
use tokio::sync::mpsc;

use crate::endpoint::Endpoint;
use crate::error::ServingError;
use crate::metrics as m;
use crate::predlog::{LogEntry, PredictionLog};

/// A request the champion answered, as the shadow receives it.
struct ShadowRequest {
    request_id: String,
    content_type: Option<String>,
    body: Bytes,
    timestamp_ms: i64,
}

/// The champion's side of a shadow: its endpoint (for health) and the queue.
pub struct Shadow {
    /// The challenger: follows its alias like any endpoint, but is not routed.
    pub endpoint: Arc<Endpoint>,
    tx: mpsc::Sender<ShadowRequest>,
    shed: Counter,
}

/// The scoring thread; [`ShadowWorker::finish`] waits for it to drain its queue
/// once every [`Shadow`] is dropped.
pub struct ShadowWorker {
    thread: JoinHandle<()>,
}

impl Shadow {
    /// A queue of `capacity` requests and the thread that scores them with
    /// `endpoint`'s current version and logs the answers to `log`.
    pub fn start(
        endpoint: Arc<Endpoint>,
        log: PredictionLog,
        entity_column: Option<Arc<str>>,
        capacity: usize,
    ) -> Result<(Shadow, ShadowWorker), ServingError> {
        m::handle();
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let worker_endpoint = endpoint.clone();
        let thread = ThreadBuilder::default()
            .name(format!("cairn-shadow-{}", endpoint.name))
            .policy(ThreadSchedulePolicy::Normal(
                NormalThreadSchedulePolicy::Idle,
            ))
            .priority(ThreadPriority::Min)
            .spawn(move |priority| {
                if let Err(e) = priority {
                    // Still correct, only no longer guaranteed out of the champion's way.
                    tracing::warn!(error = ?e, model = %worker_endpoint.model,
                        "the shadow scorer runs at normal priority: SCHED_IDLE was refused");
                }
                score_loop(rx, &worker_endpoint, &log, entity_column.as_deref());
            })
            .map_err(|e| ServingError::Load(format!("cannot start the shadow scorer: {e}")))?;
        let shed = metrics::counter!(m::SHADOW_SHED, "model" => endpoint.model.name.clone());
        Ok((Shadow { endpoint, tx, shed }, ShadowWorker { thread }))
    }

    /// Queues a request the champion answered, or sheds it when the queue is full.
    pub fn offer(&self, request_id: &str, content_type: Option<&str>, body: Bytes) {
        let request = ShadowRequest {
            request_id: request_id.to_string(),
            content_type: content_type.map(str::to_string),
            body,
            timestamp_ms: crate::endpoint::now_ms(),
        };
        if self.tx.try_send(request).is_err() {
            self.shed.increment(1);
        }
    }
}

impl ShadowWorker {
    /// Waits for the thread, which ends once its queue is closed and drained.
    pub async fn finish(self) {
        let joined = tokio::task::spawn_blocking(move || self.thread.join()).await;
        if !matches!(joined, Ok(Ok(()))) {
            tracing::error!("the shadow scorer stopped abnormally");
        }
    }
}

fn score_loop(
    mut rx: mpsc::Receiver<ShadowRequest>,
    endpoint: &Endpoint,
    log: &PredictionLog,
    entity_column: Option<&str>,
) {
    let name = endpoint.model.name.clone();
    let unloaded =
        metrics::counter!(m::SHADOW_REQUESTS, "model" => name.clone(), "status" => "unloaded");
    while let Some(request) = rx.blocking_recv() {
        let Some(model) = endpoint.current() else {
            unloaded.increment(1);
            continue;
        };
        let started = Instant::now();
        let version = model.version.to_string();
        match model.score(
            request.content_type.as_deref(),
            &request.body,
            entity_column,
        ) {
            Ok(scored) => {
                metrics::counter!(m::SHADOW_REQUESTS, "model" => name.clone(),
                    "version" => version.clone(), "status" => "ok")
                .increment(1);
                log.record(LogEntry {
                    request_id: request.request_id,
                    model_name: endpoint.name.clone(),
                    alias: endpoint.alias.clone(),
                    model_version: model.version,
                    // The champion's answer time, so both versions' rows share a window.
                    timestamp_ms: request.timestamp_ms,
                    entity_ids: scored.entity_ids,
                    input: scored.input,
                    outputs: scored.outputs,
                    shadow: true,
                });
            }
            Err(e) => {
                metrics::counter!(m::SHADOW_REQUESTS, "model" => name.clone(),
                    "version" => version.clone(), "status" => "error")
                .increment(1);
                tracing::debug!(model = %endpoint.model, error = %e,
                    "the shadow failed on a request its champion answered");
            }
        }
        metrics::histogram!(m::SHADOW_LATENCY, "model" => name.clone(), "version" => version)
            .record(started.elapsed().as_secs_f64());
    }
}
