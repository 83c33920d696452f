//! Jobs end to end, on SQLite and on PostgreSQL: `cairn server` processes with a jobs
//! folder, `cairn worker` processes, steps that are real processes, and the REST API
//! and CLI as a user drives them.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_api_types::jobs::GetJobRunResponse;
use cairn_client::Client;
use cairn_core::jobs::{JobEvent, State};
use common::{CairnProcess, TestDb};
use serde_json::{json, Map, Value};

/// A test's folders and database.
struct Env {
    _dir: tempfile::TempDir,
    root: PathBuf,
    jobs: PathBuf,
    db: TestDb,
}

impl Env {
    async fn new(postgres: bool, test: &str) -> Option<Env> {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let jobs = root.join("jobs");
        std::fs::create_dir_all(&jobs).unwrap();
        let db = if postgres {
            TestDb::postgres(test).await?
        } else {
            TestDb::sqlite(&root.join("data"))
        };
        Some(Env {
            _dir: dir,
            root,
            jobs,
            db,
        })
    }

    fn write_job(&self, file: &str, text: &str) {
        // Written whole and renamed, as an editor saves: the watcher never sees half.
        let tmp = self.root.join(format!(".{file}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.jobs.join(file)).unwrap();
    }

    /// A `cairn server` with this test's jobs folder and database; `extra` flags.
    fn server(&self, name: &str, extra: &[&str]) -> CairnProcess {
        let data = self.root.join(name);
        let uri = self.db.cairn_uri();
        let jobs = self.jobs.display().to_string();
        let mut args = vec![
            "--backend-store-uri",
            uri.as_str(),
            "--jobs-dir",
            jobs.as_str(),
            "--job-lease",
            "2s",
        ];
        args.extend_from_slice(extra);
        CairnProcess::start_with(&data, &args, &[])
    }

    /// A `cairn worker` for `url`, printing its start line (with a URL) first.
    fn worker(&self, url: &str, name: &str, slots: &str) -> CairnProcess {
        let scratch = self.root.join(format!("scratch-{name}"));
        CairnProcess::spawn(
            &[
                "worker",
                "--tracking-uri",
                url,
                "--slots",
                slots,
                "--lease",
                "2s",
                "--name",
                name,
                "--scratch",
                scratch.to_str().unwrap(),
            ],
            &[],
        )
    }
}

/// Runs `scenario` on SQLite, then on PostgreSQL (skipped, saying why, where none
/// answers outside CI).
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    let env = super::Env::new(false, stringify!($name)).await.unwrap();
                    super::$name(env).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    let Some(env) = super::Env::new(true, stringify!($name)).await else {
                        return;
                    };
                    super::$name(env).await;
                }
            )*
        }
    };
}

both_backends!(
    a_dag_with_parameters_and_outputs_runs_in_order,
    a_failing_step_is_retried_with_its_delays_then_fails_the_run,
    a_timeout_stops_the_step,
    the_cache_skips_a_repeated_step,
    a_tag_limit_of_one_holds_across_two_workers,
    a_schedule_fires_once_per_time_across_replicas_and_a_restart,
    a_paused_schedule_starts_nothing_and_resumes_without_catching_up,
    a_waiting_claim_is_answered_when_a_run_is_created,
    an_alias_move_triggers_a_job,
    an_edit_applies_to_the_next_run_and_a_broken_one_keeps_the_last_good,
    a_killed_worker_s_step_crashes_and_is_retried_on_another,
    cancel_ends_the_step_s_process_tree,
    a_webhook_starts_a_run_with_its_secret_once_per_delivery,
);

fn params(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Waits until the run ended.
async fn wait_end(c: &Client, run_id: &str, within: Duration) -> GetJobRunResponse {
    let start = Instant::now();
    loop {
        let d = c.get_job_run(run_id).await.expect("the run");
        if d.run.state.is_final() {
            return d;
        }
        assert!(
            start.elapsed() < within,
            "run {run_id} did not end within {within:?}: {d:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `f` holds of the run.
async fn wait_for(
    c: &Client,
    run_id: &str,
    within: Duration,
    what: &str,
    f: impl Fn(&GetJobRunResponse) -> bool,
) -> GetJobRunResponse {
    let start = Instant::now();
    loop {
        let d = c.get_job_run(run_id).await.expect("the run");
        if f(&d) {
            return d;
        }
        assert!(
            start.elapsed() < within,
            "{what} not seen within {within:?}: {d:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn logs(c: &Client, run_id: &str) -> String {
    c.job_run_logs(run_id, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|l| format!("[{}#{}] {}\n", l.step_name, l.attempt, l.line))
        .collect()
}

/// Waits until the server's jobs folder has `job` at a version other than `not`.
async fn wait_job(c: &Client, job: &str, not: Option<&str>) -> String {
    let start = Instant::now();
    loop {
        if let Ok(j) = c.get_job(job).await {
            if Some(j.version.as_str()) != not {
                return j.version;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "job {job} not (re)read"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const DAG: &str = r#"
name: dag
parameters:
  greeting: {type: string, default: hello}
  n: {type: int, required: true}
steps:
  - name: a
    kind: command
    argv: [sh, -c, 'echo "word=${{ params.greeting }}" >> "$CAIRN_OUTPUTS"; echo a says ${{ params.greeting }}']
  - name: b
    kind: command
    needs: [a]
    argv: [sh, -c, 'echo "n=$(( ${{ params.n }} * 2 ))" >> "$CAIRN_OUTPUTS"; echo b got ${{ steps.a.outputs.word }}']
  - name: c
    kind: command
    needs: [a, b]
    argv: [sh, -c, 'test "${{ steps.b.outputs.n }}" = 6 && echo c saw ${{ steps.b.outputs.n }} in run ${{ job.run_id }}']
"#;

async fn a_dag_with_parameters_and_outputs_runs_in_order(env: Env) {
    env.write_job("dag.yaml", DAG);
    let server = env.server("s", &[]);
    let c = Client::new(&server.url);
    wait_job(&c, "dag", None).await;

    // A missing required parameter, and one of the wrong type, are refused by name.
    let err = c.run_job("dag", Map::new()).await.unwrap_err().to_string();
    assert!(err.contains("`n`") && err.contains("required"), "{err}");
    let err = c
        .run_job("dag", params(json!({"n": "three"})))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("`n`") && err.contains("not an int"), "{err}");
    let err = c.run_job("nope", Map::new()).await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err}");

    let run = c.run_job("dag", params(json!({"n": 3}))).await.unwrap();
    assert_eq!(run.params, params(json!({"greeting": "hello", "n": 3})));
    let d = wait_end(&c, run.run_id.as_str(), Duration::from_secs(30)).await;
    let log = logs(&c, run.run_id.as_str()).await;
    assert_eq!(d.run.state, State::Completed, "{d:#?}\n{log}");
    let step = |n: &str| d.steps.iter().find(|s| s.step_name == n).unwrap();
    assert_eq!(step("a").outputs, params(json!({"word": "hello"})));
    assert_eq!(step("b").outputs, params(json!({"n": "6"})));
    assert!(step("b").started_ms >= step("a").ended_ms, "b ran after a");
    assert!(step("c").started_ms >= step("b").ended_ms, "c ran after b");
    assert!(log.contains("b got hello"), "{log}");
    assert!(
        log.contains(&format!("c saw 6 in run {}", run.run_id)),
        "{log}"
    );

    // The CLI: `cairn job run NAME -p key=value --wait`, exit 0 on COMPLETED.
    let (ok, out, errs) = common::cairn(&[
        "job",
        "run",
        "dag",
        "-p",
        "n=3",
        "-p",
        "greeting=hi",
        "--wait",
        "--tracking-uri",
        &server.url,
    ]);
    assert!(ok, "{out}\n{errs}");
    assert!(
        out.contains("b got hi") && out.contains("run: COMPLETED"),
        "{out}"
    );
    let (ok, out, _) = common::cairn(&[
        "job",
        "run",
        "dag",
        "-p",
        "n=4",
        "--wait",
        "--tracking-uri",
        &server.url,
    ]);
    assert!(!ok, "c fails when n is not 3: {out}");
    assert!(out.contains("c: FAILED"), "{out}");

    // Prometheus: runs by job and state (gauges set each second), step durations.
    let start = Instant::now();
    loop {
        let metrics = reqwest::get(format!("{}/metrics", server.url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let done = metrics.contains("cairn_job_runs{job=\"dag\",state=\"COMPLETED\"} 2")
            && metrics.contains("cairn_job_runs{job=\"dag\",state=\"FAILED\"} 1");
        if done {
            assert!(
                metrics.contains("cairn_job_step_seconds_count"),
                "{metrics}"
            );
            assert!(metrics.contains("cairn_job_queue_depth"), "{metrics}");
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{metrics}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn a_failing_step_is_retried_with_its_delays_then_fails_the_run(env: Env) {
    env.write_job(
        "flaky.yaml",
        "name: flaky\nsteps:\n  - name: try\n    kind: command\n    argv: [sh, -c, 'echo try $CAIRN_ATTEMPT; exit 3']\n    retries: 2\n    retry_delay: [1s, 2s]\n  - name: after\n    kind: command\n    needs: [try]\n    argv: [echo, never]\n",
    );
    let server = env.server("s", &[]);
    let c = Client::new(&server.url);
    wait_job(&c, "flaky", None).await;
    let run = c.run_job("flaky", Map::new()).await.unwrap();
    let id = run.run_id.as_str();
    let d = wait_end(&c, id, Duration::from_secs(30)).await;
    assert_eq!(d.run.state, State::Failed, "{d:#?}");
    let step = &d.steps[0];
    assert_eq!((step.state, step.attempt), (State::Failed, 3));
    assert_eq!(step.message.as_deref(), Some("exited with code 3"));
    assert_eq!(
        d.steps[1].state,
        State::Cancelled,
        "what needs a failed step does not run"
    );
    let log = logs(&c, id).await;
    for n in 1..=3 {
        assert!(log.contains(&format!("try {n}\n")), "{log}");
    }
    // Each retry waited its delay: from a try's FAILED to the next try's RUNNING.
    let events: Vec<JobEvent> = c.job_run_events(id, 0).await.unwrap();
    let at = |attempt: i64, state: State| {
        events
            .iter()
            .find(|e| {
                e.step_name.as_deref() == Some("try") && e.attempt == attempt && e.state == state
            })
            .unwrap_or_else(|| panic!("no {state} for try {attempt}: {events:#?}"))
            .time_ms
    };
    assert!(
        at(2, State::Running) - at(1, State::Failed) >= 1000,
        "{events:#?}"
    );
    assert!(
        at(3, State::Running) - at(2, State::Failed) >= 2000,
        "{events:#?}"
    );
    let retry_note = events
        .iter()
        .find(|e| e.attempt == 1 && e.state == State::Scheduled)
        .and_then(|e| e.message.clone())
        .unwrap_or_default();
    assert!(retry_note.contains("retry 1 of 2"), "{retry_note}");
}

async fn a_timeout_stops_the_step(env: Env) {
    env.write_job(
        "slow.yaml",
        "name: slow\nsteps:\n  - name: sleep\n    kind: command\n    argv: [sleep, '60']\n    timeout: 1s\n",
    );
    let server = env.server("s", &[]);
    let c = Client::new(&server.url);
    wait_job(&c, "slow", None).await;
    let started = Instant::now();
    let run = c.run_job("slow", Map::new()).await.unwrap();
    let d = wait_end(&c, run.run_id.as_str(), Duration::from_secs(20)).await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "stopped long before its 60 s"
    );
    assert_eq!(d.run.state, State::Failed);
    let message = d.steps[0].message.clone().unwrap_or_default();
    assert!(message.contains("timed out after 1s"), "{message}");
}

async fn the_cache_skips_a_repeated_step(env: Env) {
    let counter = env.root.join("counter");
    env.write_job(
        "cached.yaml",
        &format!(
            "name: cached\nparameters:\n  x: {{type: int, default: 1}}\nsteps:\n  - name: expensive\n    kind: command\n    argv: [sh, -c, 'echo ran >> {}; echo \"double=$(( ${{{{ params.x }}}} * 2 ))\" >> \"$CAIRN_OUTPUTS\"']\n    cache:\n      expiry: 1h\n  - name: use\n    kind: command\n    needs: [expensive]\n    argv: [echo, '${{{{ steps.expensive.outputs.double }}}}']\n",
            counter.display()
        ),
    );
    let server = env.server("s", &[]);
    let c = Client::new(&server.url);
    wait_job(&c, "cached", None).await;
    let first = c.run_job("cached", params(json!({"x": 2}))).await.unwrap();
    let d1 = wait_end(&c, first.run_id.as_str(), Duration::from_secs(30)).await;
    assert_eq!(d1.run.state, State::Completed);
    let second = c.run_job("cached", params(json!({"x": 2}))).await.unwrap();
    let d2 = wait_end(&c, second.run_id.as_str(), Duration::from_secs(30)).await;
    assert_eq!(d2.run.state, State::Completed);
    assert_eq!(
        d2.steps[0].cached_from.as_deref(),
        Some(first.run_id.as_str())
    );
    assert_eq!(d2.steps[0].outputs, params(json!({"double": "4"})));
    assert!(logs(&c, second.run_id.as_str()).await.contains("[use#1] 4"));
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        1,
        "ran once"
    );
    // Other inputs: not the same step, so it runs.
    let third = c.run_job("cached", params(json!({"x": 5}))).await.unwrap();
    let d3 = wait_end(&c, third.run_id.as_str(), Duration::from_secs(30)).await;
    assert_eq!(d3.steps[0].cached_from, None);
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        2
    );
}

async fn a_tag_limit_of_one_holds_across_two_workers(env: Env) {
    let mut job = String::from("name: gpu\nsteps:\n");
    for i in 0..4 {
        job.push_str(&format!(
            "  - name: s{i}\n    kind: command\n    argv: [sh, -c, 'echo $CAIRN_STEP on $CAIRN_JOB_RUN_ID; sleep 0.4']\n    tags: [gpu]\n"
        ));
    }
    env.write_job("gpu.yaml", &job);
    let server = env.server("s", &["--worker-slots", "0"]);
    let c = Client::new(&server.url);
    wait_job(&c, "gpu", None).await;
    c.set_job_tag_limit("gpu", Some(1)).await.unwrap();
    let _w1 = env.worker(&server.url, "w1", "2");
    let _w2 = env.worker(&server.url, "w2", "2");
    let run = c.run_job("gpu", Map::new()).await.unwrap();
    let d = wait_end(&c, run.run_id.as_str(), Duration::from_secs(60)).await;
    assert_eq!(d.run.state, State::Completed, "{d:#?}");
    let mut spans: Vec<(i64, i64)> = d
        .steps
        .iter()
        .map(|s| (s.started_ms.unwrap(), s.ended_ms.unwrap()))
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[1].0 >= w[0].1, "two gpu steps overlapped: {spans:?}");
    }
    // And without the limit they do run together.
    c.set_job_tag_limit("gpu", None).await.unwrap();
    let run = c.run_job("gpu", Map::new()).await.unwrap();
    let d = wait_end(&c, run.run_id.as_str(), Duration::from_secs(60)).await;
    let mut spans: Vec<(i64, i64)> = d
        .steps
        .iter()
        .map(|s| (s.started_ms.unwrap(), s.ended_ms.unwrap()))
        .collect();
    spans.sort();
    assert!(
        spans.windows(2).any(|w| w[1].0 < w[0].1),
        "4 slots ran nothing at once: {spans:?}"
    );
}

async fn a_schedule_fires_once_per_time_across_replicas_and_a_restart(env: Env) {
    // Every second; no worker, so the runs stay queued and are only counted.
    env.write_job(
        "tick.yaml",
        "name: tick\nschedules:\n  - cron: '* * * * * *'\nsteps:\n  - name: s\n    kind: command\n    argv: ['true']\n",
    );
    let replicas = matches!(env.db, TestDb::Postgres(_));
    let a = env.server("a", &["--worker-slots", "0"]);
    let b = replicas.then(|| env.server("b", &["--worker-slots", "0"]));
    let c = Client::new(&a.url);
    tokio::time::sleep(Duration::from_secs(4)).await;
    // The leader (whichever) goes away; the other takes over within its lease, or
    // (one server) it comes back.
    let killed_ms = cairn_testkit::now_ms();
    a.kill9();
    let a2 = env.server("a2", &["--worker-slots", "0"]);
    let c2 = Client::new(&a2.url);
    tokio::time::sleep(Duration::from_secs(14)).await;
    let runs = c2.list_job_runs(Some("tick"), 1000).await.unwrap();
    drop(b);
    drop(a2);
    drop(c);
    let mut times: Vec<i64> = runs
        .iter()
        .map(|r| {
            assert_eq!(r.trigger, "schedule");
            r.event["scheduled_ms"].as_i64().unwrap()
        })
        .collect();
    times.sort();
    let n = times.len();
    times.dedup();
    assert_eq!(times.len(), n, "a time fired twice: {times:?}");
    // Runs before the kill, and runs after it: the schedule goes on once another
    // replica (or the restarted one) leads, within the 10 s leader lease. How many
    // depends on how fast the servers start on a loaded machine, so no total is
    // asked for.
    let before = times.iter().filter(|t| **t <= killed_ms).count();
    let after = times.iter().filter(|t| **t > killed_ms).count();
    assert!(
        before >= 1 && after >= 2,
        "a per-second schedule over ~18 s, killed at {killed_ms}: {times:?}"
    );
    assert!(
        times.iter().all(|t| t % 1000 == 0),
        "times are whole seconds: {times:?}"
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn scheduled_times(c: &Client, job: &str) -> Vec<i64> {
    let mut t: Vec<i64> = c
        .list_job_runs(Some(job), 1000)
        .await
        .unwrap()
        .iter()
        .map(|r| r.event["scheduled_ms"].as_i64().unwrap())
        .collect();
    t.sort();
    t
}

async fn a_paused_schedule_starts_nothing_and_resumes_without_catching_up(env: Env) {
    env.write_job(
        "tick.yaml",
        "name: tick\nschedules:\n  - cron: '* * * * * *'\n  - interval: 1h\n    paused: true\nsteps:\n  - name: s\n    kind: command\n    argv: ['true']\n",
    );
    let server = env.server("s", &["--worker-slots", "0"]);
    let c = Client::new(&server.url);
    wait_job(&c, "tick", None).await;
    let job = c.get_job("tick").await.unwrap();
    assert!(!job.schedules[0].paused && job.schedules[0].next_ms.is_some());
    assert!(job.schedules[1].paused && job.schedules[1].paused_in_file);

    // Paused over the file, by the API.
    let sc = c.set_job_schedule_paused("tick", 0, true).await.unwrap();
    assert!(
        sc.paused && !sc.paused_in_file && sc.next_ms.is_none(),
        "{sc:?}"
    );
    // A scheduler pass that read the schedule before the pause may still fire once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let paused_at = now_ms();
    let before = scheduled_times(&c, "tick").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        scheduled_times(&c, "tick").await,
        before,
        "a paused schedule fired"
    );
    let job = c.get_job("tick").await.unwrap();
    assert!(job.schedules[0].paused && job.schedules[0].next_ms.is_none());

    // Resumed by the CLI (every schedule of the job: the file's paused one too).
    let (ok, out, errs) = common::cairn(&["job", "resume", "tick", "--tracking-uri", &server.url]);
    assert!(ok, "{out}\n{errs}");
    assert!(
        out.contains("tick schedule 0") && out.contains("tick schedule 1"),
        "{out}"
    );
    let resumed_at = now_ms();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = scheduled_times(&c, "tick").await;
    let new: Vec<i64> = after
        .iter()
        .copied()
        .filter(|t| !before.contains(t))
        .collect();
    assert!(
        !new.is_empty(),
        "the resumed schedule did not fire: {after:?}"
    );
    assert!(
        new.iter().all(|&t| t > resumed_at - 1000),
        "a run for a time the schedule was paused through ({paused_at}..{resumed_at}): {new:?}"
    );
    let job = c.get_job("tick").await.unwrap();
    assert!(!job.schedules[1].paused && job.schedules[1].paused_in_file);

    // Back to what the file says, and a schedule that does not exist.
    let (ok, out, errs) = common::cairn(&[
        "job",
        "pause",
        "tick",
        "--schedule",
        "1",
        "--tracking-uri",
        &server.url,
    ]);
    assert!(ok, "{out}\n{errs}");
    let job = c.get_job("tick").await.unwrap();
    assert!(job.schedules[1].paused && job.schedules[1].paused_in_file);
    let err = c
        .set_job_schedule_paused("tick", 2, true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`schedule`"), "{err}");
}

fn claim(worker: &str, wait_ms: i64) -> cairn_core::jobs::Claim {
    cairn_core::jobs::Claim {
        worker: worker.into(),
        pool: "default".into(),
        max: 1,
        now_ms: 0,
        lease_ms: 10_000,
        wait_ms,
    }
}

/// A worker's claim is a long poll: held while nothing is ready, answered as soon as
/// a run is created (not at the end of its wait), and ended when the server stops.
async fn a_waiting_claim_is_answered_when_a_run_is_created(env: Env) {
    env.write_job(
        "one.yaml",
        "name: one\nsteps:\n  - name: s\n    kind: command\n    argv: ['true']\n",
    );
    let server = env.server("s", &["--worker-slots", "0"]);
    let c = Client::new(&server.url);
    wait_job(&c, "one", None).await;

    // Nothing ready and no wait: an empty answer.
    assert!(c.claim_job_steps(claim("w", 0)).await.unwrap().is_empty());

    // A claim waiting up to 20 s gets the run created 1 s into its wait.
    let waiting = {
        let c = c.clone();
        tokio::spawn(async move {
            let asked = Instant::now();
            let steps = c.claim_job_steps(claim("w", 20_000)).await.unwrap();
            (steps, asked.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiting.is_finished(), "the claim did not wait");
    let run = c.run_job("one", Map::new()).await.unwrap();
    let (steps, took) = waiting.await.unwrap();
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert_eq!(steps[0].run.run_id, run.run_id);
    assert!(
        took < Duration::from_secs(15),
        "answered at its deadline, not on the run: {took:?}"
    );

    // A claim waiting when the server is asked to stop does not hold the stop up.
    let held = {
        let c = c.clone();
        tokio::spawn(async move { c.claim_job_steps(claim("w", 20_000)).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopping = Instant::now();
    server.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(15),
        "the server waited for a claim's long poll to stop: {:?}",
        stopping.elapsed()
    );
    let _ = held.await.unwrap();
}

async fn an_alias_move_triggers_a_job(env: Env) {
    env.write_job(
        "on-promote.yaml",
        "name: on-promote\ntriggers:\n  - on: alias_set\n    model: wine\n    alias: champion\nsteps:\n  - name: note\n    kind: command\n    argv: [sh, -c, 'echo \"seen=${{ event.model }}@${{ event.alias }}=${{ event.version }}\" >> \"$CAIRN_OUTPUTS\"']\n",
    );
    let server = env.server("s", &[]);
    let c = Client::new(&server.url);
    wait_job(&c, "on-promote", None).await;
    c.create_registered_model("wine", None, &[]).await.unwrap();
    c.create_model_version("wine", "s3://bucket/wine/1", None)
        .await
        .unwrap();
    c.create_model_version("wine", "s3://bucket/wine/2", None)
        .await
        .unwrap();
    c.set_registered_model_alias("wine", "staging", "1")
        .await
        .unwrap();
    c.set_registered_model_alias("wine", "champion", "2")
        .await
        .unwrap();
    let start = Instant::now();
    let run = loop {
        let runs = c.list_job_runs(Some("on-promote"), 10).await.unwrap();
        if let Some(r) = runs.into_iter().next() {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no run for the alias move"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(run.trigger, "alias_set");
    let d = wait_end(&c, run.run_id.as_str(), Duration::from_secs(30)).await;
    assert_eq!(
        d.steps[0].outputs,
        params(json!({"seen": "wine@champion=2"}))
    );
    // The other alias started nothing.
    assert_eq!(
        c.list_job_runs(Some("on-promote"), 10).await.unwrap().len(),
        1
    );
}

async fn an_edit_applies_to_the_next_run_and_a_broken_one_keeps_the_last_good(env: Env) {
    let job = |word: &str| {
        format!(
            "name: edited\nsteps:\n  - name: say\n    kind: command\n    argv: [echo, {word}]\n"
        )
    };
    env.write_job("edited.yaml", &job("one"));
    let server = env.server("s", &[]);
    let c = Client::new(&server.url);
    let v1 = wait_job(&c, "edited", None).await;
    let r1 = c.run_job("edited", Map::new()).await.unwrap();
    wait_end(&c, r1.run_id.as_str(), Duration::from_secs(30)).await;
    assert!(logs(&c, r1.run_id.as_str()).await.contains("[say#1] one"));

    env.write_job("edited.yaml", &job("two"));
    let v2 = wait_job(&c, "edited", Some(&v1)).await;
    let r2 = c.run_job("edited", Map::new()).await.unwrap();
    assert_eq!(r2.job_version, v2);
    wait_end(&c, r2.run_id.as_str(), Duration::from_secs(30)).await;
    assert!(logs(&c, r2.run_id.as_str()).await.contains("[say#1] two"));

    env.write_job("edited.yaml", &job("three").replace("argv", "argz"));
    let start = Instant::now();
    let error = loop {
        let j = c.get_job("edited").await.unwrap();
        if let Some(e) = j.error {
            assert_eq!(j.version, v2, "the last good version stays active");
            break e;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the broken edit was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        error.contains("edited.yaml, line 5") && error.contains("argz"),
        "{error}"
    );
    let r3 = c.run_job("edited", Map::new()).await.unwrap();
    wait_end(&c, r3.run_id.as_str(), Duration::from_secs(30)).await;
    assert!(logs(&c, r3.run_id.as_str()).await.contains("[say#1] two"));
    // The CLI lists it with the error.
    let (ok, out, _) = common::cairn(&["job", "list", "--tracking-uri", &server.url]);
    assert!(
        ok && out.contains("latest edit refused") && out.contains("argz"),
        "{out}"
    );
}

async fn a_killed_worker_s_step_crashes_and_is_retried_on_another(env: Env) {
    let pid_file = env.root.join("child.pid");
    env.write_job(
        "long.yaml",
        &format!(
            "name: long\nsteps:\n  - name: work\n    kind: command\n    argv: [sh, -c, 'if [ $CAIRN_ATTEMPT = 1 ]; then sleep 300 & echo $! > {}; wait; fi; echo finished on try $CAIRN_ATTEMPT']\n    retries: 1\n",
            pid_file.display()
        ),
    );
    let server = env.server("s", &["--worker-slots", "0"]);
    let c = Client::new(&server.url);
    wait_job(&c, "long", None).await;
    let w1 = env.worker(&server.url, "w1", "1");
    let run = c.run_job("long", Map::new()).await.unwrap();
    let id = run.run_id.as_str();
    wait_for(
        &c,
        id,
        Duration::from_secs(20),
        "the step running on w1",
        |d| {
            d.steps[0].state == State::Running
                && std::fs::read_to_string(&pid_file).is_ok_and(|p| !p.trim().is_empty())
        },
    )
    .await;
    let child = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(alive(&child));
    w1.kill9();
    // The first try's process tree does not outlive its worker: the retry would
    // otherwise run beside it.
    let start = Instant::now();
    while alive(&child) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the step's child {child} outlived its killed worker"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _w2 = env.worker(&server.url, "w2", "1");
    let d = wait_end(&c, id, Duration::from_secs(40)).await;
    assert_eq!(d.run.state, State::Completed, "{d:#?}");
    assert_eq!(d.steps[0].attempt, 2);
    assert_eq!(d.steps[0].worker.as_deref(), Some("w2"));
    let events = c.job_run_events(id, 0).await.unwrap();
    let crashed = events
        .iter()
        .find(|e| e.attempt == 1 && e.state == State::Crashed)
        .unwrap_or_else(|| panic!("no CRASHED try: {events:#?}"));
    assert!(
        crashed.message.as_deref().unwrap_or("").contains("w1"),
        "{crashed:?}"
    );
    assert!(logs(&c, id).await.contains("finished on try 2"));
}

fn alive(pid: &str) -> bool {
    std::process::Command::new("kill")
        .args(["-0", pid])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

async fn cancel_ends_the_step_s_process_tree(env: Env) {
    let pid_file = env.root.join("child.pid");
    env.write_job(
        "forever.yaml",
        &format!(
            "name: forever\nsteps:\n  - name: tree\n    kind: command\n    argv: [sh, -c, 'sleep 300 & echo $! > {}; wait']\n  - name: later\n    kind: command\n    needs: [tree]\n    argv: [echo, never]\n",
            pid_file.display()
        ),
    );
    let server = env.server("s", &[]);
    let c = Client::new(&server.url);
    wait_job(&c, "forever", None).await;
    let run = c.run_job("forever", Map::new()).await.unwrap();
    let id = run.run_id.as_str();
    wait_for(
        &c,
        id,
        Duration::from_secs(20),
        "the step's child started",
        |_| std::fs::read_to_string(&pid_file).is_ok_and(|p| !p.trim().is_empty()),
    )
    .await;
    let child = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    assert!(alive(&child));
    let r = c.cancel_job_run(id).await.unwrap();
    assert!(
        matches!(r.state, State::Cancelling | State::Cancelled),
        "{r:?}"
    );
    let d = wait_end(&c, id, Duration::from_secs(20)).await;
    assert_eq!(d.run.state, State::Cancelled, "{d:#?}");
    assert_eq!(d.steps[0].state, State::Cancelled);
    assert_eq!(d.steps[1].state, State::Cancelled);
    let start = Instant::now();
    while alive(&child) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the step's child {child} outlived the cancel"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_webhook_starts_a_run_with_its_secret_once_per_delivery(env: Env) {
    env.write_job(
        "hook.yaml",
        "name: hook\nparameters:\n  size: {type: int, default: 1}\ntriggers:\n  - on: webhook\n    secret_env: CAIRN_TEST_HOOK_SECRET\nsteps:\n  - name: s\n    kind: command\n    argv: [sh, -c, 'echo \"got=${{ event.source }}-${{ params.size }}\" >> \"$CAIRN_OUTPUTS\"']\n",
    );
    let data = env.root.join("s");
    let uri = env.db.cairn_uri();
    let jobs = env.jobs.display().to_string();
    let server = CairnProcess::start_with(
        &data,
        &["--backend-store-uri", &uri, "--jobs-dir", &jobs],
        &[("CAIRN_TEST_HOOK_SECRET", "s3cret-value")],
    );
    let c = Client::new(&server.url);
    wait_job(&c, "hook", None).await;
    let url = format!("{}/api/2.0/cairn/jobs/webhook/hook", server.url);
    let http = reqwest::Client::new();
    let body = json!({"source": "ci", "params": {"size": 3}});
    for token in [None, Some("wrong")] {
        let mut req = http.post(&url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        let text = r.text().await.unwrap();
        assert!(
            text.contains("UNAUTHENTICATED") && !text.contains("s3cret"),
            "{text}"
        );
    }
    let send = || {
        http.post(&url)
            .bearer_auth("s3cret-value")
            .header("x-cairn-delivery", "delivery-1")
            .json(&body)
            .send()
    };
    let r: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(r["duplicate"], false, "{r}");
    let id = r["run"]["run_id"].as_str().unwrap().to_string();
    let again: Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(again["duplicate"], true, "{again}");
    let d = wait_end(&c, &id, Duration::from_secs(30)).await;
    assert_eq!(d.run.trigger, "webhook");
    assert_eq!(d.steps[0].outputs, params(json!({"got": "ci-3"})));
    assert_eq!(c.list_job_runs(Some("hook"), 10).await.unwrap().len(), 1);
    // A job without a webhook trigger has no webhook.
    let r = http
        .post(format!("{}/api/2.0/cairn/jobs/webhook/nope", server.url))
        .bearer_auth("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[allow(dead_code)]
fn unused(_: &Path) {}
