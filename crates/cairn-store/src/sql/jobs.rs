//! The job queue and its history, written once for both stores: runs and their steps,
//! state transitions, step logs, schedule marks, tag limits and leases, all in
//! cairn's own `cairn_job*` tables.
//!
//! A worker claims a step with a lease it renews by heartbeat. On PostgreSQL,
//! replicas and remote workers claim at once: the candidate rows are taken with `FOR
//! UPDATE SKIP LOCKED` (two claimers never wait on, or take, the same step) and a
//! limited tag's row is locked while its running steps are counted. On SQLite, every
//! write runs on the one writer thread, which serialises claims by itself.
//!
//! What a step's end means for its run (retry, schedule what needed it, cancel what
//! cannot run, end the run) is decided by the pure rules in `cairn_core::jobs`; the
//! scripts here apply them in the same transaction as the change that prompted them.

use cairn_core::jobs::{
    advance, Claim, ClaimedStep, JobEvent, JobRun, JobRunId, LogLine, NewLogLine, RetryPolicy,
    State, StepOutcome, StepRun, StepView,
};
use cairn_core::MlflowError;
use serde_json::{Map, Value};

use super::exec::{Cols, Exec};
use super::Dialect;
use crate::types::NewJobRun;
use crate::{Result, StoreError};

/// cairn's job tables, for both backends (`{ID}` is each dialect's auto-increment
/// key).
const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS cairn_job_runs (\
     run_id VARCHAR(32) PRIMARY KEY, \
     job_name VARCHAR(256) NOT NULL, \
     job_version VARCHAR(64) NOT NULL, \
     job_file TEXT NOT NULL, \
     job_source TEXT NOT NULL, \
     pool VARCHAR(256) NOT NULL, \
     params TEXT NOT NULL, \
     trigger_kind VARCHAR(64) NOT NULL, \
     event TEXT NOT NULL, \
     dedup_key VARCHAR(512) UNIQUE, \
     state VARCHAR(16) NOT NULL, \
     created_ms BIGINT NOT NULL, \
     scheduled_ms BIGINT NOT NULL, \
     started_ms BIGINT, \
     ended_ms BIGINT, \
     message TEXT)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_job_runs_job ON cairn_job_runs (job_name, created_ms)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_job_runs_created ON cairn_job_runs (created_ms)",
    "CREATE TABLE IF NOT EXISTS cairn_job_steps (\
     run_id VARCHAR(32) NOT NULL, \
     step_name VARCHAR(256) NOT NULL, \
     position INTEGER NOT NULL, \
     pool VARCHAR(256) NOT NULL, \
     state VARCHAR(16) NOT NULL, \
     attempt INTEGER NOT NULL, \
     needs TEXT NOT NULL, \
     tags TEXT NOT NULL, \
     retry TEXT NOT NULL, \
     timeout_ms BIGINT, \
     ready_ms BIGINT, \
     worker VARCHAR(256), \
     lease_until_ms BIGINT, \
     started_ms BIGINT, \
     ended_ms BIGINT, \
     outputs TEXT NOT NULL, \
     cache_key VARCHAR(128), \
     cached_from VARCHAR(32), \
     message TEXT, \
     PRIMARY KEY (run_id, step_name))",
    // The queue: steps ready to be claimed, oldest first.
    "CREATE INDEX IF NOT EXISTS cairn_idx_job_steps_queue ON cairn_job_steps (state, pool, ready_ms)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_job_steps_cache ON cairn_job_steps (cache_key, ended_ms)",
    // One row per (step, tag): the running steps of a limited tag are counted here.
    "CREATE TABLE IF NOT EXISTS cairn_job_step_tags (\
     run_id VARCHAR(32) NOT NULL, \
     step_name VARCHAR(256) NOT NULL, \
     tag VARCHAR(256) NOT NULL, \
     PRIMARY KEY (tag, run_id, step_name))",
    "CREATE TABLE IF NOT EXISTS cairn_job_events (\
     id {ID}, \
     run_id VARCHAR(32) NOT NULL, \
     step_name VARCHAR(256), \
     attempt INTEGER NOT NULL, \
     state VARCHAR(16) NOT NULL, \
     time_ms BIGINT NOT NULL, \
     message TEXT)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_job_events_run ON cairn_job_events (run_id, id)",
    "CREATE TABLE IF NOT EXISTS cairn_job_logs (\
     id {ID}, \
     run_id VARCHAR(32) NOT NULL, \
     step_name VARCHAR(256) NOT NULL, \
     attempt INTEGER NOT NULL, \
     stream VARCHAR(16) NOT NULL, \
     time_ms BIGINT NOT NULL, \
     line TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cairn_idx_job_logs_run ON cairn_job_logs (run_id, id)",
    // The last time each schedule fired (the key names the schedule's definition, so
    // an edited schedule starts afresh).
    "CREATE TABLE IF NOT EXISTS cairn_job_schedules (\
     job_name VARCHAR(256) NOT NULL, \
     schedule_key VARCHAR(512) NOT NULL, \
     last_ms BIGINT NOT NULL, \
     PRIMARY KEY (job_name, schedule_key))",
    // Schedules paused or resumed from the UI, the API or the CLI, over what the job
    // file says (keyed like the marks: an edited schedule goes back to its file).
    "CREATE TABLE IF NOT EXISTS cairn_job_schedule_pauses (\
     job_name VARCHAR(256) NOT NULL, \
     schedule_key VARCHAR(512) NOT NULL, \
     paused INTEGER NOT NULL, \
     set_ms BIGINT NOT NULL, \
     PRIMARY KEY (job_name, schedule_key))",
    "CREATE TABLE IF NOT EXISTS cairn_job_tag_limits (\
     tag VARCHAR(256) PRIMARY KEY, \
     slots INTEGER NOT NULL)",
    // Named leases (the scheduler's leadership): a holder and until when.
    "CREATE TABLE IF NOT EXISTS cairn_leases (\
     name VARCHAR(256) PRIMARY KEY, \
     holder VARCHAR(256) NOT NULL, \
     until_ms BIGINT NOT NULL)",
];

/// The job tables' DDL in `dialect`.
pub(crate) fn ddl(dialect: Dialect) -> Vec<String> {
    let id = match dialect {
        Dialect::Sqlite => "INTEGER PRIMARY KEY AUTOINCREMENT",
        Dialect::Postgres => "BIGSERIAL PRIMARY KEY",
    };
    DDL.iter().map(|s| s.replace("{ID}", id)).collect()
}

fn json_map(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

fn list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn state(text: String) -> Result<State> {
    State::parse(&text).ok_or_else(|| {
        StoreError::Mlflow(MlflowError::internal(format!(
            "a job state `{text}` in the database"
        )))
    })
}

const RUN_COLUMNS: &str = "run_id, job_name, job_version, state, params, trigger_kind, event, \
                           created_ms, scheduled_ms, started_ms, ended_ms, message";

fn run_row(r: &dyn Cols) -> Result<JobRun> {
    Ok(JobRun {
        run_id: JobRunId::from_store(r.text(0)?),
        job_name: r.text(1)?,
        job_version: r.text(2)?,
        state: state(r.text(3)?)?,
        params: json_map(&r.text(4)?),
        trigger: r.text(5)?,
        event: json_map(&r.text(6)?),
        created_ms: r.int(7)?,
        scheduled_ms: r.int(8)?,
        started_ms: r.opt_int(9)?,
        ended_ms: r.opt_int(10)?,
        message: r.opt_text(11)?,
    })
}

const STEP_COLUMNS: &str = "run_id, step_name, state, attempt, needs, tags, ready_ms, worker, \
                            lease_until_ms, started_ms, ended_ms, outputs, cached_from, message, \
                            retry, timeout_ms";

/// A step row with its retry policy and timeout (which the API's [`StepRun`] leaves
/// out).
struct StepRow {
    step: StepRun,
    retry: RetryPolicy,
    timeout_ms: Option<i64>,
}

fn step_row(r: &dyn Cols) -> Result<StepRow> {
    Ok(StepRow {
        step: StepRun {
            run_id: JobRunId::from_store(r.text(0)?),
            step_name: r.text(1)?,
            state: state(r.text(2)?)?,
            attempt: r.int(3)?,
            needs: list(&r.text(4)?),
            tags: list(&r.text(5)?),
            ready_ms: r.opt_int(6)?,
            worker: r.opt_text(7)?,
            lease_until_ms: r.opt_int(8)?,
            started_ms: r.opt_int(9)?,
            ended_ms: r.opt_int(10)?,
            outputs: json_map(&r.text(11)?),
            cached_from: r.opt_text(12)?,
            message: r.opt_text(13)?,
        },
        retry: serde_json::from_str(&r.text(14)?).unwrap_or_default(),
        timeout_ms: r.opt_int(15)?,
    })
}

async fn event<E: Exec>(
    ex: &mut E,
    run_id: &str,
    step: Option<&str>,
    attempt: i64,
    state: State,
    now_ms: i64,
    message: Option<&str>,
) -> Result<()> {
    let sql = ex
        .sql(
            "INSERT INTO cairn_job_events (run_id, step_name, attempt, state, time_ms, message) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .arg(run_id)
        .arg(step)
        .arg(attempt)
        .arg(state.as_str())
        .arg(now_ms)
        .arg(message);
    ex.execute(&sql).await?;
    Ok(())
}

pub(crate) async fn create_run<E: Exec>(ex: &mut E, new: &NewJobRun) -> Result<Option<JobRun>> {
    let run = &new.run;
    let mut sql = ex.sql(
        "INSERT INTO cairn_job_runs (run_id, job_name, job_version, job_file, job_source, pool, \
         params, trigger_kind, event, dedup_key, state, created_ms, scheduled_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    );
    if new.dedup_key.is_some() {
        sql.push(" ON CONFLICT (dedup_key) DO NOTHING");
    }
    let sql = sql
        .arg(run.run_id.as_str())
        .arg(run.job_name.as_str())
        .arg(run.job_version.as_str())
        .arg(new.job_file.as_str())
        .arg(new.job_source.as_str())
        .arg(new.pool.as_str())
        .arg(to_json(&run.params))
        .arg(run.trigger.as_str())
        .arg(to_json(&run.event))
        .arg(new.dedup_key.as_deref())
        .arg(run.state.as_str())
        .arg(run.created_ms)
        .arg(run.scheduled_ms);
    if ex.execute(&sql).await? == 0 {
        return Ok(None);
    }
    let id = run.run_id.as_str();
    event(ex, id, None, 0, run.state, run.created_ms, None).await?;
    for (position, s) in new.steps.iter().enumerate() {
        // Steps that need nothing are ready as soon as the run may start.
        let (st, ready) = if s.needs.is_empty() {
            (State::Scheduled, Some(run.scheduled_ms))
        } else {
            (State::Pending, None)
        };
        let sql = ex
            .sql(
                "INSERT INTO cairn_job_steps (run_id, step_name, position, pool, state, attempt, \
                 needs, tags, retry, timeout_ms, ready_ms, outputs) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, '{}')",
            )
            .arg(id)
            .arg(s.name.as_str())
            .arg(position as i64)
            .arg(new.pool.as_str())
            .arg(st.as_str())
            .arg(to_json(&s.needs))
            .arg(to_json(&s.tags))
            .arg(to_json(&s.retry))
            .arg(s.timeout_ms)
            .arg(ready);
        ex.execute(&sql).await?;
        for tag in &s.tags {
            let sql = ex
                .sql("INSERT INTO cairn_job_step_tags (run_id, step_name, tag) VALUES (?1, ?2, ?3)")
                .arg(id)
                .arg(s.name.as_str())
                .arg(tag.as_str());
            ex.execute(&sql).await?;
        }
        event(ex, id, Some(&s.name), 0, st, run.created_ms, None).await?;
    }
    Ok(Some(run.clone()))
}

pub(crate) async fn get_run<E: Exec>(ex: &mut E, id: &str) -> Result<Option<JobRun>> {
    let sql = ex
        .sql(&format!(
            "SELECT {RUN_COLUMNS} FROM cairn_job_runs WHERE run_id = ?1"
        ))
        .arg(id);
    ex.fetch_optional(&sql, run_row).await
}

pub(crate) async fn run_source<E: Exec>(ex: &mut E, id: &str) -> Result<Option<(String, String)>> {
    let sql = ex
        .sql("SELECT job_source, job_file FROM cairn_job_runs WHERE run_id = ?1")
        .arg(id);
    ex.fetch_optional(&sql, |r| Ok((r.text(0)?, r.text(1)?)))
        .await
}

async fn step_rows<E: Exec>(ex: &mut E, id: &str, lock: bool) -> Result<Vec<StepRow>> {
    let mut sql = ex.sql(&format!(
        "SELECT {STEP_COLUMNS} FROM cairn_job_steps WHERE run_id = ?1 ORDER BY position"
    ));
    if lock {
        sql.lock();
    }
    let sql = sql.arg(id);
    ex.fetch(&sql, step_row).await
}

pub(crate) async fn steps<E: Exec>(ex: &mut E, id: &str) -> Result<Vec<StepRun>> {
    Ok(step_rows(ex, id, false)
        .await?
        .into_iter()
        .map(|r| r.step)
        .collect())
}

pub(crate) async fn search_runs<E: Exec>(
    ex: &mut E,
    job: Option<&str>,
    limit: u32,
) -> Result<Vec<JobRun>> {
    let sql = ex
        .sql(&format!(
            "SELECT {RUN_COLUMNS} FROM cairn_job_runs WHERE (?1 IS NULL OR job_name = ?1) \
             ORDER BY created_ms DESC, run_id LIMIT ?2"
        ))
        .arg(job)
        .arg(i64::from(limit));
    ex.fetch(&sql, run_row).await
}

pub(crate) async fn events<E: Exec>(ex: &mut E, id: &str, after: i64) -> Result<Vec<JobEvent>> {
    let sql = ex
        .sql(
            "SELECT id, run_id, step_name, attempt, state, time_ms, message FROM cairn_job_events \
             WHERE run_id = ?1 AND id > ?2 ORDER BY id",
        )
        .arg(id)
        .arg(after);
    ex.fetch(&sql, |r| {
        Ok(JobEvent {
            id: r.int(0)?,
            run_id: JobRunId::from_store(r.text(1)?),
            step_name: r.opt_text(2)?,
            attempt: r.int(3)?,
            state: state(r.text(4)?)?,
            time_ms: r.int(5)?,
            message: r.opt_text(6)?,
        })
    })
    .await
}

/// Applies [`advance`] to the run: schedules what is ready, cancels what cannot run,
/// ends the run when its steps all ended. The caller holds the run's rows.
async fn advance_run<E: Exec>(ex: &mut E, id: &str, now_ms: i64) -> Result<()> {
    let Some(run) = get_run(ex, id).await? else {
        return Ok(());
    };
    let rows = step_rows(ex, id, false).await?;
    let views: Vec<StepView<'_>> = rows
        .iter()
        .map(|r| StepView {
            name: &r.step.step_name,
            state: r.step.state,
            needs: &r.step.needs,
        })
        .collect();
    let adv = advance(run.state, &views);
    for (name, st, message) in &adv.steps {
        let attempt = rows
            .iter()
            .find(|r| &r.step.step_name == name)
            .map_or(0, |r| r.step.attempt);
        let ready = (*st == State::Scheduled).then_some(now_ms);
        let ended = st.is_final().then_some(now_ms);
        let sql = ex
            .sql(
                "UPDATE cairn_job_steps SET state = ?1, ready_ms = ?2, ended_ms = ?3, message = ?4 \
                 WHERE run_id = ?5 AND step_name = ?6",
            )
            .arg(st.as_str())
            .arg(ready)
            .arg(ended)
            .arg(message.as_deref())
            .arg(id)
            .arg(name.as_str());
        ex.execute(&sql).await?;
        event(ex, id, Some(name), attempt, *st, now_ms, message.as_deref()).await?;
    }
    if let Some((st, message)) = adv.run {
        let sql = ex
            .sql(
                "UPDATE cairn_job_runs SET state = ?1, ended_ms = ?2, message = ?3, \
                 started_ms = COALESCE(started_ms, ?2) WHERE run_id = ?4",
            )
            .arg(st.as_str())
            .arg(now_ms)
            .arg(message.as_deref())
            .arg(id);
        ex.execute(&sql).await?;
        event(ex, id, None, 0, st, now_ms, message.as_deref()).await?;
    }
    Ok(())
}

/// Locks the run's row on PostgreSQL (each script that changes a run's steps takes it
/// first, so two workers finishing steps of one run apply the rules one after the
/// other).
async fn lock_run<E: Exec>(ex: &mut E, id: &str) -> Result<Option<State>> {
    let mut sql = ex.sql("SELECT state FROM cairn_job_runs WHERE run_id = ?1");
    sql.lock();
    let sql = sql.arg(id);
    ex.fetch_optional(&sql, |r| state(r.text(0)?)).await
}

/// Claims up to `claim.max` ready steps of `claim.pool` for `claim.worker`, oldest
/// first, skipping steps whose tags are at their limit.
pub(crate) async fn claim<E: Exec>(ex: &mut E, claim: &Claim) -> Result<Vec<ClaimedStep>> {
    let mut sql = ex.sql(
        "SELECT s.run_id, s.step_name, s.tags FROM cairn_job_steps s \
         WHERE s.state = 'SCHEDULED' AND s.pool = ?1 AND s.ready_ms <= ?2 \
         ORDER BY s.ready_ms, s.run_id, s.position LIMIT ?3",
    );
    if ex.dialect() == Dialect::Postgres {
        sql.push(" FOR UPDATE SKIP LOCKED");
    }
    // More candidates than slots: some may be held back by their tags.
    let sql = sql
        .arg(claim.pool.as_str())
        .arg(claim.now_ms)
        .arg((claim.max * 4 + 8) as i64);
    let candidates = ex
        .fetch(&sql, |r| Ok((r.text(0)?, r.text(1)?, list(&r.text(2)?))))
        .await?;
    let mut claimed = Vec::new();
    for (run_id, step_name, tags) in candidates {
        if claimed.len() >= claim.max {
            break;
        }
        if !tags_have_room(ex, &tags).await? {
            continue;
        }
        let Some(run_state) = lock_run(ex, &run_id).await? else {
            continue;
        };
        if run_state.is_final() || run_state == State::Cancelling {
            continue;
        }
        let sql = ex
            .sql(
                "UPDATE cairn_job_steps SET state = 'RUNNING', attempt = attempt + 1, worker = ?1, \
                 lease_until_ms = ?2, started_ms = ?3, ended_ms = NULL, message = NULL \
                 WHERE run_id = ?4 AND step_name = ?5 AND state = 'SCHEDULED'",
            )
            .arg(claim.worker.as_str())
            .arg(claim.now_ms + claim.lease_ms)
            .arg(claim.now_ms)
            .arg(run_id.as_str())
            .arg(step_name.as_str());
        if ex.execute(&sql).await? == 0 {
            continue;
        }
        if run_state != State::Running {
            let sql = ex
                .sql(
                    "UPDATE cairn_job_runs SET state = 'RUNNING', \
                     started_ms = COALESCE(started_ms, ?1) WHERE run_id = ?2",
                )
                .arg(claim.now_ms)
                .arg(run_id.as_str());
            ex.execute(&sql).await?;
            event(ex, &run_id, None, 0, State::Running, claim.now_ms, None).await?;
        }
        let rows = step_rows(ex, &run_id, false).await?;
        let Some(me) = rows.iter().find(|r| r.step.step_name == step_name) else {
            continue;
        };
        let message = format!("worker {}", claim.worker);
        event(
            ex,
            &run_id,
            Some(&step_name),
            me.step.attempt,
            State::Running,
            claim.now_ms,
            Some(&message),
        )
        .await?;
        let Some(run) = get_run(ex, &run_id).await? else {
            continue;
        };
        let Some((job_source, job_file)) = run_source(ex, &run_id).await? else {
            continue;
        };
        let upstream = rows
            .iter()
            .filter(|r| r.step.state == State::Completed)
            .map(|r| (r.step.step_name.clone(), r.step.outputs.clone()))
            .collect();
        claimed.push(ClaimedStep {
            run,
            job_source,
            job_file,
            step: me.step.clone(),
            timeout_ms: me.timeout_ms,
            upstream,
        });
    }
    Ok(claimed)
}

/// Whether every limited tag among `tags` has a free slot. On PostgreSQL the limit's
/// row is locked until the claim commits, so two claimers of one tag count in turn.
async fn tags_have_room<E: Exec>(ex: &mut E, tags: &[String]) -> Result<bool> {
    for tag in tags {
        let mut sql = ex.sql("SELECT slots FROM cairn_job_tag_limits WHERE tag = ?1");
        sql.lock();
        let sql = sql.arg(tag.as_str());
        let Some(slots) = ex.fetch_optional(&sql, |r| r.int(0)).await? else {
            continue;
        };
        let sql = ex
            .sql(
                "SELECT COUNT(*) FROM cairn_job_step_tags t JOIN cairn_job_steps s \
                 ON s.run_id = t.run_id AND s.step_name = t.step_name \
                 WHERE t.tag = ?1 AND s.state = 'RUNNING'",
            )
            .arg(tag.as_str());
        let running = ex.fetch_optional(&sql, |r| r.int(0)).await?.unwrap_or(0);
        if running >= slots {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Renews the leases of a worker's running steps; for each, whether the worker should
/// stop it: its run is being cancelled, or the lease was lost (the step was given up
/// as crashed and may run elsewhere).
pub(crate) async fn heartbeat<E: Exec>(
    ex: &mut E,
    worker: &str,
    steps: &[(String, String, i64)],
    now_ms: i64,
    lease_ms: i64,
) -> Result<Vec<bool>> {
    let mut stop = Vec::with_capacity(steps.len());
    for (run_id, step, attempt) in steps {
        let sql = ex
            .sql(
                "UPDATE cairn_job_steps SET lease_until_ms = ?1 WHERE run_id = ?2 AND step_name = ?3 \
                 AND attempt = ?4 AND worker = ?5 AND state = 'RUNNING'",
            )
            .arg(now_ms + lease_ms)
            .arg(run_id.as_str())
            .arg(step.as_str())
            .arg(*attempt)
            .arg(worker);
        let held = ex.execute(&sql).await? == 1;
        let cancelling = if held {
            let sql = ex
                .sql("SELECT state FROM cairn_job_runs WHERE run_id = ?1")
                .arg(run_id.as_str());
            ex.fetch_optional(&sql, |r| r.text(0)).await?.as_deref() == Some("CANCELLING")
        } else {
            false
        };
        stop.push(!held || cancelling);
    }
    Ok(stop)
}

/// Records the end of a try. A try whose lease was lost (the step was given up and
/// claimed again) changes nothing: `false`.
pub(crate) async fn finish<E: Exec>(ex: &mut E, o: &StepOutcome) -> Result<bool> {
    let id = o.run_id.as_str();
    let Some(run_state) = lock_run(ex, id).await? else {
        return Ok(false);
    };
    let rows = step_rows(ex, id, true).await?;
    let Some(row) = rows.iter().find(|r| r.step.step_name == o.step_name) else {
        return Ok(false);
    };
    if row.step.state != State::Running
        || row.step.attempt != o.attempt
        || row.step.worker.as_deref() != Some(o.worker.as_str())
    {
        return Ok(false);
    }
    let (st, ready) = match o.state {
        State::Failed | State::Crashed if run_state != State::Cancelling => {
            row.retry.after_try(o.attempt, o.state, o.now_ms, o.draw)
        }
        other => (other, None),
    };
    let message = match (st, ready) {
        (State::Scheduled, Some(at)) => Some(format!(
            "try {} ended {}: {}; retry {} of {} in {} ms",
            o.attempt,
            o.state,
            o.message.as_deref().unwrap_or(""),
            o.attempt,
            row.retry.retries,
            at - o.now_ms
        )),
        _ => o.message.clone(),
    };
    let sql = ex
        .sql(
            "UPDATE cairn_job_steps SET state = ?1, ready_ms = ?2, ended_ms = ?3, outputs = ?4, \
             message = ?5, cache_key = ?6, cached_from = ?7, lease_until_ms = NULL \
             WHERE run_id = ?8 AND step_name = ?9",
        )
        .arg(st.as_str())
        .arg(ready)
        .arg(o.now_ms)
        .arg(to_json(&o.outputs))
        .arg(message.as_deref())
        .arg(o.cache_key.as_deref())
        .arg(o.cached_from.as_deref())
        .arg(id)
        .arg(o.step_name.as_str());
    ex.execute(&sql).await?;
    if st == State::Scheduled {
        // The try's own end, then the wait for the next.
        event(
            ex,
            id,
            Some(&o.step_name),
            o.attempt,
            o.state,
            o.now_ms,
            o.message.as_deref(),
        )
        .await?;
    }
    event(
        ex,
        id,
        Some(&o.step_name),
        o.attempt,
        st,
        o.now_ms,
        message.as_deref(),
    )
    .await?;
    advance_run(ex, id, o.now_ms).await?;
    Ok(true)
}

/// Steps whose worker stopped renewing its lease: each try is CRASHED, then retried by
/// its policy. The tries given up, as (run, step, attempt).
pub(crate) async fn expire_leases<E: Exec>(
    ex: &mut E,
    now_ms: i64,
    draw: f64,
) -> Result<Vec<(String, String, i64)>> {
    let mut sql = ex.sql(
        "SELECT run_id, step_name, attempt, worker FROM cairn_job_steps \
         WHERE state = 'RUNNING' AND lease_until_ms < ?1",
    );
    if ex.dialect() == Dialect::Postgres {
        sql.push(" FOR UPDATE SKIP LOCKED");
    }
    let sql = sql.arg(now_ms);
    let lost = ex
        .fetch(&sql, |r| {
            Ok((r.text(0)?, r.text(1)?, r.int(2)?, r.text_or_empty(3)?))
        })
        .await?;
    let mut out = Vec::new();
    for (run_id, step_name, attempt, worker) in lost {
        let outcome = StepOutcome {
            run_id: JobRunId::from_store(run_id.clone()),
            step_name: step_name.clone(),
            attempt,
            worker: worker.clone(),
            state: State::Crashed,
            outputs: Map::new(),
            message: Some(format!("worker {worker} stopped renewing its lease")),
            cache_key: None,
            cached_from: None,
            now_ms,
            draw,
        };
        if finish(ex, &outcome).await? {
            out.push((run_id, step_name, attempt));
        }
    }
    Ok(out)
}

/// Asks a run to stop: steps not started are CANCELLED at once, running ones when
/// their workers have stopped them (they learn it from their heartbeat).
pub(crate) async fn cancel<E: Exec>(ex: &mut E, id: &str, now_ms: i64) -> Result<Option<JobRun>> {
    let Some(st) = lock_run(ex, id).await? else {
        return Ok(None);
    };
    if !st.is_final() && st != State::Cancelling {
        let sql = ex
            .sql("UPDATE cairn_job_runs SET state = 'CANCELLING' WHERE run_id = ?1")
            .arg(id);
        ex.execute(&sql).await?;
        event(ex, id, None, 0, State::Cancelling, now_ms, None).await?;
        let rows = step_rows(ex, id, true).await?;
        for r in rows.iter().filter(|r| r.step.state == State::Scheduled) {
            let sql = ex
                .sql(
                    "UPDATE cairn_job_steps SET state = 'CANCELLED', ended_ms = ?1, \
                     message = 'the run was cancelled' WHERE run_id = ?2 AND step_name = ?3",
                )
                .arg(now_ms)
                .arg(id)
                .arg(r.step.step_name.as_str());
            ex.execute(&sql).await?;
            event(
                ex,
                id,
                Some(&r.step.step_name),
                r.step.attempt,
                State::Cancelled,
                now_ms,
                Some("the run was cancelled"),
            )
            .await?;
        }
        advance_run(ex, id, now_ms).await?;
    }
    get_run(ex, id).await
}

pub(crate) async fn append_logs<E: Exec>(
    ex: &mut E,
    run_id: &str,
    lines: &[NewLogLine],
) -> Result<()> {
    for l in lines {
        let sql = ex
            .sql(
                "INSERT INTO cairn_job_logs (run_id, step_name, attempt, stream, time_ms, line) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .arg(run_id)
            .arg(l.step_name.as_str())
            .arg(l.attempt)
            .arg(l.stream.as_str())
            .arg(l.time_ms)
            .arg(l.line.as_str());
        ex.execute(&sql).await?;
    }
    Ok(())
}

pub(crate) async fn logs<E: Exec>(
    ex: &mut E,
    run_id: &str,
    after: i64,
    limit: u32,
) -> Result<Vec<LogLine>> {
    let sql = ex
        .sql(
            "SELECT id, step_name, attempt, stream, time_ms, line FROM cairn_job_logs \
             WHERE run_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )
        .arg(run_id)
        .arg(after)
        .arg(i64::from(limit));
    ex.fetch(&sql, |r| {
        Ok(LogLine {
            id: r.int(0)?,
            step_name: r.text(1)?,
            attempt: r.int(2)?,
            stream: r.text(3)?,
            time_ms: r.int(4)?,
            line: r.text(5)?,
        })
    })
    .await
}

/// The newest success with `cache_key` that ended at or after `since_ms`.
pub(crate) async fn cached<E: Exec>(
    ex: &mut E,
    cache_key: &str,
    since_ms: i64,
) -> Result<Option<(String, Map<String, Value>)>> {
    let sql = ex
        .sql(
            "SELECT run_id, outputs FROM cairn_job_steps WHERE cache_key = ?1 \
             AND state = 'COMPLETED' AND ended_ms >= ?2 ORDER BY ended_ms DESC LIMIT 1",
        )
        .arg(cache_key)
        .arg(since_ms);
    ex.fetch_optional(&sql, |r| Ok((r.text(0)?, json_map(&r.text(1)?))))
        .await
}

pub(crate) async fn schedule_last<E: Exec>(
    ex: &mut E,
    job: &str,
    key: &str,
) -> Result<Option<i64>> {
    let sql = ex
        .sql("SELECT last_ms FROM cairn_job_schedules WHERE job_name = ?1 AND schedule_key = ?2")
        .arg(job)
        .arg(key);
    ex.fetch_optional(&sql, |r| r.int(0)).await
}

/// Marks a schedule as seen at `now_ms` (its first run is its next time), unless it
/// already was.
pub(crate) async fn arm_schedule<E: Exec>(
    ex: &mut E,
    job: &str,
    key: &str,
    now_ms: i64,
) -> Result<()> {
    let sql = ex
        .sql(
            "INSERT INTO cairn_job_schedules (job_name, schedule_key, last_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (job_name, schedule_key) DO NOTHING",
        )
        .arg(job)
        .arg(key)
        .arg(now_ms);
    ex.execute(&sql).await?;
    Ok(())
}

/// Moves a schedule's mark from `last_ms` to `to_ms` and creates the run (if any),
/// in one transaction: of two schedulers that saw the same `last_ms`, one moves it and
/// the other changes nothing (`None`, and no run).
pub(crate) async fn fire_schedule<E: Exec>(
    ex: &mut E,
    job: &str,
    key: &str,
    last_ms: i64,
    to_ms: i64,
    new: Option<&NewJobRun>,
) -> Result<Option<JobRun>> {
    let sql = ex
        .sql(
            "UPDATE cairn_job_schedules SET last_ms = ?1 \
             WHERE job_name = ?2 AND schedule_key = ?3 AND last_ms = ?4",
        )
        .arg(to_ms)
        .arg(job)
        .arg(key)
        .arg(last_ms);
    if ex.execute(&sql).await? == 0 {
        return Ok(None);
    }
    match new {
        Some(new) => create_run(ex, new).await,
        None => Ok(None),
    }
}

pub(crate) async fn set_tag_limit<E: Exec>(
    ex: &mut E,
    tag: &str,
    slots: Option<i64>,
) -> Result<()> {
    let sql = match slots {
        Some(slots) => ex
            .sql(
                "INSERT INTO cairn_job_tag_limits (tag, slots) VALUES (?1, ?2) \
                 ON CONFLICT (tag) DO UPDATE SET slots = excluded.slots",
            )
            .arg(tag)
            .arg(slots),
        None => ex
            .sql("DELETE FROM cairn_job_tag_limits WHERE tag = ?1")
            .arg(tag),
    };
    ex.execute(&sql).await?;
    Ok(())
}

/// Pauses or resumes a schedule over its file (`None`: as the file says).
pub(crate) async fn set_schedule_paused<E: Exec>(
    ex: &mut E,
    job: &str,
    key: &str,
    paused: Option<bool>,
    now_ms: i64,
) -> Result<()> {
    let sql = match paused {
        Some(paused) => ex
            .sql(
                "INSERT INTO cairn_job_schedule_pauses (job_name, schedule_key, paused, set_ms) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (job_name, schedule_key) \
                 DO UPDATE SET paused = excluded.paused, set_ms = excluded.set_ms",
            )
            .arg(job)
            .arg(key)
            .arg(i64::from(paused))
            .arg(now_ms),
        None => ex
            .sql("DELETE FROM cairn_job_schedule_pauses WHERE job_name = ?1 AND schedule_key = ?2")
            .arg(job)
            .arg(key),
    };
    ex.execute(&sql).await?;
    Ok(())
}

/// Every schedule paused or resumed over its file: (job, schedule key, paused).
pub(crate) async fn schedule_pauses<E: Exec>(ex: &mut E) -> Result<Vec<(String, String, bool)>> {
    let sql = ex.sql(
        "SELECT job_name, schedule_key, paused FROM cairn_job_schedule_pauses \
         ORDER BY job_name, schedule_key",
    );
    ex.fetch(&sql, |r| Ok((r.text(0)?, r.text(1)?, r.int(2)? != 0)))
        .await
}

pub(crate) async fn tag_limits<E: Exec>(ex: &mut E) -> Result<Vec<(String, i64)>> {
    let sql = ex.sql("SELECT tag, slots FROM cairn_job_tag_limits ORDER BY tag");
    ex.fetch(&sql, |r| Ok((r.text(0)?, r.int(1)?))).await
}

/// Takes or renews the lease `name` for `holder` until `now_ms + ms`: held when it
/// is free, expired, or already `holder`'s.
pub(crate) async fn take_lease<E: Exec>(
    ex: &mut E,
    name: &str,
    holder: &str,
    now_ms: i64,
    ms: i64,
) -> Result<bool> {
    let sql = ex
        .sql(
            "INSERT INTO cairn_leases (name, holder, until_ms) VALUES (?1, ?2, ?3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until_ms = excluded.until_ms \
             WHERE cairn_leases.holder = excluded.holder OR cairn_leases.until_ms < ?4",
        )
        .arg(name)
        .arg(holder)
        .arg(now_ms + ms)
        .arg(now_ms);
    Ok(ex.execute(&sql).await? == 1)
}

/// Runs per job and state, and steps waiting in the queue: the Prometheus gauges.
pub(crate) async fn counts<E: Exec>(ex: &mut E) -> Result<(Vec<(String, String, i64)>, i64)> {
    let sql =
        ex.sql("SELECT job_name, state, COUNT(*) FROM cairn_job_runs GROUP BY job_name, state");
    let runs = ex
        .fetch(&sql, |r| Ok((r.text(0)?, r.text(1)?, r.int(2)?)))
        .await?;
    let sql = ex.sql("SELECT COUNT(*) FROM cairn_job_steps WHERE state = 'SCHEDULED'");
    let queued = ex.fetch_optional(&sql, |r| r.int(0)).await?.unwrap_or(0);
    Ok((runs, queued))
}

/// Implements [`JobStore`](crate::JobStore) for a store with `$read` and `$write`
/// macros (see `lite_read`/`lite_write`, `pg_read`/`pg_write`).
macro_rules! job_store {
    ($store:ty, $read:ident, $write:ident) => {
        #[async_trait::async_trait]
        impl $crate::JobStore for $store {
            async fn create_job_run(
                &self,
                new: $crate::NewJobRun,
            ) -> $crate::Result<Option<cairn_core::jobs::JobRun>> {
                $write!(self, |ex| $crate::sql::jobs::create_run(ex, &new).await)
            }

            async fn get_job_run(
                &self,
                run_id: &cairn_core::jobs::JobRunId,
            ) -> $crate::Result<Option<cairn_core::jobs::JobRun>> {
                let id = run_id.to_string();
                $read!(self, |ex| $crate::sql::jobs::get_run(ex, &id).await)
            }

            async fn job_run_source(
                &self,
                run_id: &cairn_core::jobs::JobRunId,
            ) -> $crate::Result<Option<(String, String)>> {
                let id = run_id.to_string();
                $read!(self, |ex| $crate::sql::jobs::run_source(ex, &id).await)
            }

            async fn job_steps(
                &self,
                run_id: &cairn_core::jobs::JobRunId,
            ) -> $crate::Result<Vec<cairn_core::jobs::StepRun>> {
                let id = run_id.to_string();
                $read!(self, |ex| $crate::sql::jobs::steps(ex, &id).await)
            }

            async fn search_job_runs(
                &self,
                job: Option<&str>,
                limit: u32,
            ) -> $crate::Result<Vec<cairn_core::jobs::JobRun>> {
                let job = job.map(str::to_string);
                $read!(self, |ex| $crate::sql::jobs::search_runs(
                    ex,
                    job.as_deref(),
                    limit
                )
                .await)
            }

            async fn job_events(
                &self,
                run_id: &cairn_core::jobs::JobRunId,
                after: i64,
            ) -> $crate::Result<Vec<cairn_core::jobs::JobEvent>> {
                let id = run_id.to_string();
                $read!(self, |ex| $crate::sql::jobs::events(ex, &id, after).await)
            }

            async fn claim_job_steps(
                &self,
                claim: cairn_core::jobs::Claim,
            ) -> $crate::Result<Vec<cairn_core::jobs::ClaimedStep>> {
                $write!(self, |ex| $crate::sql::jobs::claim(ex, &claim).await)
            }

            async fn heartbeat_job_steps(
                &self,
                worker: &str,
                steps: Vec<(String, String, i64)>,
                now_ms: i64,
                lease_ms: i64,
            ) -> $crate::Result<Vec<bool>> {
                let worker = worker.to_string();
                $write!(self, |ex| {
                    $crate::sql::jobs::heartbeat(ex, &worker, &steps, now_ms, lease_ms).await
                })
            }

            async fn finish_job_step(
                &self,
                outcome: cairn_core::jobs::StepOutcome,
            ) -> $crate::Result<bool> {
                $write!(self, |ex| $crate::sql::jobs::finish(ex, &outcome).await)
            }

            async fn expire_job_leases(
                &self,
                now_ms: i64,
                draw: f64,
            ) -> $crate::Result<Vec<(String, String, i64)>> {
                $write!(self, |ex| $crate::sql::jobs::expire_leases(
                    ex, now_ms, draw
                )
                .await)
            }

            async fn cancel_job_run(
                &self,
                run_id: &cairn_core::jobs::JobRunId,
                now_ms: i64,
            ) -> $crate::Result<Option<cairn_core::jobs::JobRun>> {
                let id = run_id.to_string();
                $write!(self, |ex| $crate::sql::jobs::cancel(ex, &id, now_ms).await)
            }

            async fn append_job_logs(
                &self,
                run_id: &cairn_core::jobs::JobRunId,
                lines: Vec<cairn_core::jobs::NewLogLine>,
            ) -> $crate::Result<()> {
                let id = run_id.to_string();
                $write!(self, |ex| $crate::sql::jobs::append_logs(ex, &id, &lines)
                    .await)
            }

            async fn job_logs(
                &self,
                run_id: &cairn_core::jobs::JobRunId,
                after: i64,
                limit: u32,
            ) -> $crate::Result<Vec<cairn_core::jobs::LogLine>> {
                let id = run_id.to_string();
                $read!(self, |ex| $crate::sql::jobs::logs(ex, &id, after, limit)
                    .await)
            }

            async fn cached_job_step(
                &self,
                cache_key: &str,
                since_ms: i64,
            ) -> $crate::Result<Option<(String, serde_json::Map<String, serde_json::Value>)>> {
                let key = cache_key.to_string();
                $read!(self, |ex| $crate::sql::jobs::cached(ex, &key, since_ms)
                    .await)
            }

            async fn job_schedule_last(&self, job: &str, key: &str) -> $crate::Result<Option<i64>> {
                let (job, key) = (job.to_string(), key.to_string());
                $read!(self, |ex| $crate::sql::jobs::schedule_last(ex, &job, &key)
                    .await)
            }

            async fn arm_job_schedule(
                &self,
                job: &str,
                key: &str,
                now_ms: i64,
            ) -> $crate::Result<()> {
                let (job, key) = (job.to_string(), key.to_string());
                $write!(self, |ex| $crate::sql::jobs::arm_schedule(
                    ex, &job, &key, now_ms
                )
                .await)
            }

            async fn fire_job_schedule(
                &self,
                job: &str,
                key: &str,
                last_ms: i64,
                to_ms: i64,
                new: Option<$crate::NewJobRun>,
            ) -> $crate::Result<Option<cairn_core::jobs::JobRun>> {
                let (job, key) = (job.to_string(), key.to_string());
                $write!(self, |ex| {
                    $crate::sql::jobs::fire_schedule(ex, &job, &key, last_ms, to_ms, new.as_ref())
                        .await
                })
            }

            async fn set_job_schedule_paused(
                &self,
                job: &str,
                key: &str,
                paused: Option<bool>,
                now_ms: i64,
            ) -> $crate::Result<()> {
                let (job, key) = (job.to_string(), key.to_string());
                $write!(self, |ex| $crate::sql::jobs::set_schedule_paused(
                    ex, &job, &key, paused, now_ms
                )
                .await)
            }

            async fn job_schedule_pauses(&self) -> $crate::Result<Vec<(String, String, bool)>> {
                $read!(self, |ex| $crate::sql::jobs::schedule_pauses(ex).await)
            }

            async fn set_job_tag_limit(&self, tag: &str, slots: Option<i64>) -> $crate::Result<()> {
                let tag = tag.to_string();
                $write!(self, |ex| $crate::sql::jobs::set_tag_limit(ex, &tag, slots)
                    .await)
            }

            async fn job_tag_limits(&self) -> $crate::Result<Vec<(String, i64)>> {
                $read!(self, |ex| $crate::sql::jobs::tag_limits(ex).await)
            }

            async fn take_lease(
                &self,
                name: &str,
                holder: &str,
                now_ms: i64,
                ms: i64,
            ) -> $crate::Result<bool> {
                let (name, holder) = (name.to_string(), holder.to_string());
                $write!(self, |ex| $crate::sql::jobs::take_lease(
                    ex, &name, &holder, now_ms, ms
                )
                .await)
            }

            async fn job_counts(&self) -> $crate::Result<(Vec<(String, String, i64)>, i64)> {
                $read!(self, |ex| $crate::sql::jobs::counts(ex).await)
            }
        }
    };
}
pub(crate) use job_store;
