//! Shadow scoring: a challenger alias scores every request its champion answered,
//! off the response path. The champion hands the request's body (a reference-counted
//! buffer, no copy) to a bounded queue and answers at once; one thread per shadow
//! scores from the queue and writes its predictions to the prediction log flagged
//! `shadow`, under the same request id and entity ids, so online evaluation compares
//! the two versions on the same entities. Nothing of it is ever returned.
//!
//! The shadow works only while its champion is quiet: no request in flight and none
//! answered for [`QUIET`]. Measured on a 2-core machine, any work running beside a
//! busy champion, even a thread of Linux's idle scheduling class that the kernel
//! preempts at once, doubles the champion's p99 (the cores share more than the
//! scheduler sees), so the shadow waits for the gaps between requests instead of
//! competing with them; it also runs under `SCHED_IDLE`, so that in those gaps it
//! still gives way to anything else. Under sustained load its queue fills, and what
//! does not fit is shed and counted (`cairn_shadow_requests_shed_total`). The thread also turns its answers into log
//! records, serialises and sends them itself, on a single-threaded runtime and a
//! connection of its own, rather than through the champion's log writer: that work
//! (the socket writes included, which on loopback also do the receiving side's
//! work) is as large as the scoring, and on the serving runtime's threads it would
//! delay the champion's requests. Its rows carry no inputs: they are the champion's
//! row with the same request id and row index.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use cairn_core::predictions::PredictionRecord;

use axum::body::Bytes;
use metrics::Counter;
use thread_priority::unix::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
use thread_priority::{ThreadBuilder, ThreadPriority};
use tokio::sync::mpsc;

use crate::endpoint::Endpoint;
use crate::error::ServingError;
use crate::metrics as m;
use crate::predlog::{self, LogEntry, PredictionSink};

/// A request the champion answered, as the shadow receives it.
struct ShadowRequest {
    request_id: String,
    content_type: Option<String>,
    body: Bytes,
    timestamp_ms: i64,
}

/// How long the champion must have been idle before the shadow scores or writes.
pub const QUIET: Duration = Duration::from_millis(1);

/// The champion's side of a shadow: its endpoint (for health), the queue, and what
/// the shadow reads to stay out of the champion's way.
pub struct Shadow {
    /// The challenger: follows its alias like any endpoint, but is not routed.
    pub endpoint: Arc<Endpoint>,
    tx: mpsc::Sender<ShadowRequest>,
    shed: Counter,
    activity: Arc<Activity>,
}

/// The champion's requests in flight and when the last one ended.
struct Activity {
    in_flight: AtomicUsize,
    /// Microseconds since `origin` when the last request ended.
    last_done_us: AtomicU64,
    origin: Instant,
}

impl Activity {
    fn now_us(&self) -> u64 {
        self.origin.elapsed().as_micros() as u64
    }

    /// Waits until the champion has been quiet for [`QUIET`]; polls at half that,
    /// only while the shadow has something to do.
    fn wait_for_quiet(&self) {
        loop {
            let busy = self.in_flight.load(Ordering::Acquire) > 0;
            let idle_for = self
                .now_us()
                .saturating_sub(self.last_done_us.load(Ordering::Acquire));
            if !busy && idle_for >= QUIET.as_micros() as u64 {
                return;
            }
            std::thread::sleep(QUIET / 2);
        }
    }
}

/// Marks a champion request in flight until dropped.
pub struct Busy<'a>(&'a Activity);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0
            .last_done_us
            .store(self.0.now_us(), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The scoring thread; [`ShadowWorker::finish`] waits for it to drain its queue
/// once every [`Shadow`] is dropped.
pub struct ShadowWorker {
    thread: JoinHandle<()>,
}

impl Shadow {
    /// A queue of `capacity` requests and the thread that scores them with
    /// `endpoint`'s current version and writes the answers to `sink` (give it a
    /// client of its own: its connections live on the thread's runtime).
    pub fn start(
        endpoint: Arc<Endpoint>,
        sink: Arc<dyn PredictionSink>,
        entity_column: Option<Arc<str>>,
        capacity: usize,
    ) -> Result<(Shadow, ShadowWorker), ServingError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ServingError::Load(format!("cannot start the shadow's runtime: {e}")))?;
        m::handle();
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let worker_endpoint = endpoint.clone();
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            last_done_us: AtomicU64::new(0),
            origin: Instant::now(),
        });
        let quiet = activity.clone();
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
                score_loop(
                    rx,
                    &worker_endpoint,
                    &runtime,
                    sink.as_ref(),
                    entity_column.as_deref(),
                    &quiet,
                );
            })
            .map_err(|e| ServingError::Load(format!("cannot start the shadow scorer: {e}")))?;
        let shed = metrics::counter!(m::SHADOW_SHED, "model" => endpoint.model.name.clone());
        let shadow = Shadow {
            endpoint,
            tx,
            shed,
            activity,
        };
        Ok((shadow, ShadowWorker { thread }))
    }

    /// Marks one of the champion's requests in flight, for as long as the guard
    /// lives.
    pub fn busy(&self) -> Busy<'_> {
        self.activity.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(&self.activity)
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

/// Scores queued requests until the queue closes, gathering the answers' records
/// and writing them when [`predlog::BATCH_ENTRIES`] requests' worth are pending or
/// the oldest has waited [`predlog::GATHER`].
fn score_loop(
    mut rx: mpsc::Receiver<ShadowRequest>,
    endpoint: &Endpoint,
    runtime: &tokio::runtime::Runtime,
    sink: &dyn PredictionSink,
    entity_column: Option<&str>,
    activity: &Activity,
) {
    let name = endpoint.model.name.clone();
    let unloaded =
        metrics::counter!(m::SHADOW_REQUESTS, "model" => name.clone(), "status" => "unloaded");
    let written = metrics::counter!(m::LOG_WRITTEN);
    let failed = metrics::counter!(m::LOG_FAILED);
    let mut pending: Vec<PredictionRecord> = Vec::new();
    let (mut gathered, mut deadline) = (0usize, tokio::time::Instant::now());
    loop {
        let next = if gathered == 0 {
            rx.blocking_recv()
        } else {
            // The timer is made inside the runtime's context, as tokio requires.
            match runtime.block_on(async { tokio::time::timeout_at(deadline, rx.recv()).await }) {
                Ok(next) => next,
                Err(_) => {
                    activity.wait_for_quiet();
                    runtime.block_on(predlog::deliver(sink, &pending, &written, &failed));
                    pending.clear();
                    gathered = 0;
                    continue;
                }
            }
        };
        let Some(request) = next else { break };
        let Some(model) = endpoint.current() else {
            unloaded.increment(1);
            continue;
        };
        activity.wait_for_quiet();
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
                LogEntry {
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
                }
                .into_records(&mut pending);
                if gathered == 0 {
                    deadline = tokio::time::Instant::now() + predlog::GATHER;
                }
                gathered += 1;
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
        if gathered >= predlog::BATCH_ENTRIES {
            activity.wait_for_quiet();
            runtime.block_on(predlog::deliver(sink, &pending, &written, &failed));
            pending.clear();
            gathered = 0;
        }
    }
    runtime.block_on(predlog::deliver(sink, &pending, &written, &failed));
}
