//! Job runs as the store keeps them and the API shows them: states (Prefect's names),
//! runs, steps, their transitions and log lines.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::MlflowError;

/// A job run's id: 32 hex digits, as MLflow's run ids.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct JobRunId(String);

impl JobRunId {
    pub fn new() -> Self {
        JobRunId(uuid::Uuid::new_v4().simple().to_string())
    }

    /// An id from a request: 32 lowercase hex digits.
    pub fn parse(id: &str) -> Result<Self, MlflowError> {
        if id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(JobRunId(id.to_string()))
        } else if id.is_empty() {
            Err(MlflowError::missing("run_id"))
        } else {
            Err(MlflowError::invalid_parameter(format!(
                "`run_id` `{id}` is not a job run id (32 hex digits)"
            )))
        }
    }

    /// An id read back from the store, which only ever holds ids made by
    /// [`JobRunId::new`].
    pub fn from_store(id: String) -> Self {
        JobRunId(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for JobRunId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for JobRunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A run's or a step's state, with Prefect's state names.
///
/// A run is SCHEDULED (waiting for its time), PENDING (created, no step started),
/// RUNNING, then COMPLETED, FAILED (a step failed after its retries), CRASHED (a step's
/// worker vanished and no retry was left), or CANCELLED (after CANCELLING while steps
/// stop). A step is PENDING until what it needs completed, SCHEDULED when it may be
/// claimed (also while it waits to be retried), RUNNING, then final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    Scheduled,
    Pending,
    Running,
    Completed,
    Failed,
    Crashed,
    Cancelling,
    Cancelled,
}

impl State {
    pub const ALL: [State; 8] = [
        State::Scheduled,
        State::Pending,
        State::Running,
        State::Completed,
        State::Failed,
        State::Crashed,
        State::Cancelling,
        State::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Scheduled => "SCHEDULED",
            State::Pending => "PENDING",
            State::Running => "RUNNING",
            State::Completed => "COMPLETED",
            State::Failed => "FAILED",
            State::Crashed => "CRASHED",
            State::Cancelling => "CANCELLING",
            State::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether nothing follows this state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            State::Completed | State::Failed | State::Crashed | State::Cancelled
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobRun {
    pub run_id: JobRunId,
    pub job_name: String,
    /// The job file's version (a digest of its text) the run uses.
    pub job_version: String,
    pub state: State,
    /// The run's parameters (name to value).
    #[schema(value_type = Object)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// What started it: `manual`, `schedule`, `model_version_created`, `alias_set`,
    /// `job_completed`, `webhook`.
    pub trigger: String,
    /// The trigger's details (the schedule time, the event's model and version...).
    #[schema(value_type = Object)]
    pub event: serde_json::Map<String, serde_json::Value>,
    pub created_ms: i64,
    pub scheduled_ms: i64,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    pub message: Option<String>,
}

/// A step of a job run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepRun {
    pub run_id: JobRunId,
    pub step_name: String,
    pub state: State,
    /// Tries started so far (1 on the first).
    pub attempt: i64,
    pub needs: Vec<String>,
    pub tags: Vec<String>,
    /// When a SCHEDULED step may be claimed.
    pub ready_ms: Option<i64>,
    pub worker: Option<String>,
    pub lease_until_ms: Option<i64>,
    pub started_ms: Option<i64>,
    pub ended_ms: Option<i64>,
    #[schema(value_type = Object)]
    pub outputs: serde_json::Map<String, serde_json::Value>,
    /// The run whose success this step reused, when the cache answered.
    pub cached_from: Option<String>,
    pub message: Option<String>,
}

/// One state change of a run (step `None`) or of a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobEvent {
    pub id: i64,
    pub run_id: JobRunId,
    pub step_name: Option<String>,
    pub attempt: i64,
    pub state: State,
    pub time_ms: i64,
    pub message: Option<String>,
}

/// A line a step printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogLine {
    pub id: i64,
    pub step_name: String,
    pub attempt: i64,
    /// `stdout` or `stderr` (or `cairn` for the engine's own notes).
    pub stream: String,
    pub time_ms: i64,
    pub line: String,
}

/// A worker asking for steps to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Claim {
    pub worker: String,
    pub pool: String,
    /// Free slots: at most this many steps.
    pub max: usize,
    /// Set by the service from its own clock (a worker's may differ).
    #[serde(default)]
    pub now_ms: i64,
    /// How long a claim holds without a heartbeat.
    pub lease_ms: i64,
    /// How long the server may hold the request while nothing is ready (a long poll:
    /// a step created meanwhile is answered at once); 0 answers at once.
    #[serde(default)]
    pub wait_ms: i64,
}

/// A step claimed, with what running it takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClaimedStep {
    pub run: JobRun,
    pub job_source: String,
    pub job_file: String,
    pub step: StepRun,
    pub timeout_ms: Option<i64>,
    /// The outputs of the run's completed steps, by step.
    #[schema(value_type = Vec<Object>)]
    pub upstream: Vec<(String, serde_json::Map<String, serde_json::Value>)>,
}

/// How a try of a step ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepOutcome {
    pub run_id: JobRunId,
    pub step_name: String,
    pub attempt: i64,
    pub worker: String,
    /// COMPLETED, FAILED, CRASHED or CANCELLED.
    pub state: State,
    #[schema(value_type = Object)]
    pub outputs: serde_json::Map<String, serde_json::Value>,
    pub message: Option<String>,
    /// The step's inputs' digest, for later runs' cache look-ups.
    pub cache_key: Option<String>,
    /// The run whose success was reused instead of running.
    pub cached_from: Option<String>,
    /// Set by the service from its own clock.
    #[serde(default)]
    pub now_ms: i64,
    /// A uniform draw in [0, 1) for the retry delay's jitter, set by the service.
    #[serde(default)]
    pub draw: f64,
}

/// A line a step printed, to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewLogLine {
    pub step_name: String,
    pub attempt: i64,
    pub stream: String,
    pub time_ms: i64,
    pub line: String,
}

/// How a failed try of a step is retried (Prefect's `retries`,
/// `retry_delay_seconds`, `retry_jitter_factor`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RetryPolicy {
    /// Tries after the first.
    pub retries: u32,
    pub delay: RetryDelay,
    /// Each delay moves by up to this fraction of itself, at random, so that many
    /// steps failing together do not retry in lockstep.
    #[serde(default)]
    pub jitter: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetryDelay {
    /// The n-th retry waits the n-th delay (the last one for later retries), in ms.
    List(Vec<u64>),
    /// `base_ms * factor^(n-1)`, at most `max_ms`.
    Exponential {
        base_ms: u64,
        factor: f64,
        max_ms: u64,
    },
}

impl Default for RetryDelay {
    fn default() -> Self {
        RetryDelay::List(vec![0])
    }
}

impl RetryPolicy {
    /// The wait before retry `n` (1-based) in ms, without jitter.
    pub fn delay_ms(&self, n: u32) -> u64 {
        match &self.delay {
            RetryDelay::List(list) => list
                .get(n.saturating_sub(1) as usize)
                .or(list.last())
                .copied()
                .unwrap_or(0),
            RetryDelay::Exponential {
                base_ms,
                factor,
                max_ms,
            } => {
                let ms = *base_ms as f64 * factor.powi(n.saturating_sub(1) as i32);
                ms.min(*max_ms as f64) as u64
            }
        }
    }

    /// What follows a try that ended in `outcome` (FAILED or CRASHED): SCHEDULED again
    /// at the returned time while retries are left, else the outcome itself.
    /// `draw` is a uniform number in [0, 1) for the jitter (the caller's randomness,
    /// so this stays a pure function).
    pub fn after_try(
        &self,
        attempt: i64,
        outcome: State,
        now_ms: i64,
        draw: f64,
    ) -> (State, Option<i64>) {
        if attempt <= i64::from(self.retries) {
            let base = self.delay_ms(attempt as u32) as f64;
            let jitter = base * self.jitter * (2.0 * draw - 1.0);
            let wait = (base + jitter).max(0.0) as i64;
            (State::Scheduled, Some(now_ms + wait))
        } else {
            (outcome, None)
        }
    }
}

/// A step as [`advance`] sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct StepView<'a> {
    pub name: &'a str,
    pub state: State,
    pub needs: &'a [String],
}

/// What [`advance`] decided.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Advance {
    /// Steps to move: (name, new state, message).
    pub steps: Vec<(String, State, Option<String>)>,
    /// The run's new state, when it changes.
    pub run: Option<(State, Option<String>)>,
}

/// Moves a run forward after one of its steps changed: PENDING steps whose needs all
/// COMPLETED become SCHEDULED; those with a need that ended otherwise are CANCELLED
/// (and so on down the graph); when every step is final, the run ends: FAILED if a
/// step failed, else CRASHED if one crashed, else CANCELLED if one was cancelled (or
/// the run was being cancelled), else COMPLETED.
pub fn advance(run: State, steps: &[StepView<'_>]) -> Advance {
    let mut states: Vec<State> = steps.iter().map(|s| s.state).collect();
    let index = |name: &str| steps.iter().position(|s| s.name == name);
    let mut out = Advance::default();
    loop {
        let mut changed = false;
        for (i, s) in steps.iter().enumerate() {
            if states[i] != State::Pending {
                continue;
            }
            if run == State::Cancelling {
                states[i] = State::Cancelled;
                out.steps.push((
                    s.name.to_string(),
                    State::Cancelled,
                    Some("the run was cancelled".into()),
                ));
                changed = true;
                continue;
            }
            let needs: Vec<(usize, State)> = s
                .needs
                .iter()
                .filter_map(|n| index(n).map(|j| (j, states[j])))
                .collect();
            if let Some((j, st)) = needs
                .iter()
                .find(|(_, st)| st.is_final() && *st != State::Completed)
            {
                states[i] = State::Cancelled;
                out.steps.push((
                    s.name.to_string(),
                    State::Cancelled,
                    Some(format!("not run: `{}` ended {st}", steps[*j].name)),
                ));
                changed = true;
            } else if needs.iter().all(|(_, st)| *st == State::Completed) {
                states[i] = State::Scheduled;
                out.steps.push((s.name.to_string(), State::Scheduled, None));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    if !run.is_final() && states.iter().all(|s| s.is_final()) {
        let count = |st: State| states.iter().filter(|&&s| s == st).count();
        let end = if count(State::Failed) > 0 {
            (
                State::Failed,
                Some(format!(
                    "{} of {} steps failed",
                    count(State::Failed),
                    states.len()
                )),
            )
        } else if count(State::Crashed) > 0 {
            (
                State::Crashed,
                Some(format!(
                    "{} of {} steps crashed",
                    count(State::Crashed),
                    states.len()
                )),
            )
        } else if run == State::Cancelling || count(State::Cancelled) > 0 {
            (State::Cancelled, None)
        } else {
            (State::Completed, None)
        };
        out.run = Some(end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(name: &'a str, state: State, needs: &'a [String]) -> StepView<'a> {
        StepView { name, state, needs }
    }

    #[test]
    fn a_completed_step_schedules_what_needs_it() {
        let a = vec!["a".to_string()];
        let steps = [
            view("a", State::Completed, &[]),
            view("b", State::Pending, &a),
            view("c", State::Pending, &a),
        ];
        let adv = advance(State::Running, &steps);
        assert_eq!(
            adv.steps,
            vec![
                ("b".into(), State::Scheduled, None),
                ("c".into(), State::Scheduled, None)
            ]
        );
        assert_eq!(adv.run, None);
    }

    #[test]
    fn a_failure_cancels_everything_downstream_and_fails_the_run() {
        let a = vec!["a".to_string()];
        let b = vec!["b".to_string()];
        let steps = [
            view("a", State::Failed, &[]),
            view("b", State::Pending, &a),
            view("c", State::Pending, &b),
        ];
        let adv = advance(State::Running, &steps);
        assert_eq!(adv.steps.len(), 2);
        assert!(adv.steps.iter().all(|(_, st, _)| *st == State::Cancelled));
        assert_eq!(adv.run.unwrap().0, State::Failed);
    }

    #[test]
    fn the_run_ends_with_its_steps() {
        let steps = [
            view("a", State::Completed, &[]),
            view("b", State::Completed, &[]),
        ];
        assert_eq!(
            advance(State::Running, &steps).run,
            Some((State::Completed, None))
        );
        let steps = [
            view("a", State::Completed, &[]),
            view("b", State::Crashed, &[]),
        ];
        assert_eq!(
            advance(State::Running, &steps).run.unwrap().0,
            State::Crashed
        );
        let steps = [
            view("a", State::Running, &[]),
            view("b", State::Pending, &[]),
        ];
        let adv = advance(State::Cancelling, &steps);
        assert_eq!(
            adv.steps,
            vec![(
                "b".into(),
                State::Cancelled,
                Some("the run was cancelled".into())
            )]
        );
        assert_eq!(adv.run, None, "a step still runs");
        let steps = [view("a", State::Cancelled, &[])];
        assert_eq!(
            advance(State::Cancelling, &steps).run,
            Some((State::Cancelled, None))
        );
    }

    #[test]
    fn retries_wait_their_delays_then_give_up() {
        let p = RetryPolicy {
            retries: 2,
            delay: RetryDelay::List(vec![1000, 5000]),
            jitter: 0.0,
        };
        assert_eq!(
            p.after_try(1, State::Failed, 0, 0.3),
            (State::Scheduled, Some(1000))
        );
        assert_eq!(
            p.after_try(2, State::Failed, 0, 0.3),
            (State::Scheduled, Some(5000))
        );
        assert_eq!(p.after_try(3, State::Failed, 0, 0.3), (State::Failed, None));
        assert_eq!(
            p.after_try(3, State::Crashed, 0, 0.3),
            (State::Crashed, None)
        );
        let j = RetryPolicy { jitter: 0.5, ..p };
        assert_eq!(
            j.after_try(1, State::Failed, 0, 0.0),
            (State::Scheduled, Some(500))
        );
        assert_eq!(j.after_try(1, State::Failed, 0, 0.999_999).1.unwrap(), 1499);
        let e = RetryPolicy {
            retries: 5,
            delay: RetryDelay::Exponential {
                base_ms: 100,
                factor: 2.0,
                max_ms: 350,
            },
            jitter: 0.0,
        };
        assert_eq!([1, 2, 3, 4].map(|n| e.delay_ms(n)), [100, 200, 350, 350]);
    }

    #[test]
    fn states_have_prefects_names() {
        for s in State::ALL {
            assert_eq!(State::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
