//! Job files as users write them: what reads, and what is refused with its place.

use std::path::Path;
use std::time::Duration;

use cairn_jobs::kinds::{Action, Render, Tmpl};
use cairn_jobs::spec::{MissedPolicy, RetryDelay, ScheduleKind, Trigger};
use cairn_jobs::{JobSpec, ParamValue, Registry};
use serde_json::json;

const TRAIN: &str = r#"
name: train-wine
description: Train, gate and promote the wine classifier.
parameters:
  lr:
    type: float
    default: 0.1
    description: learning rate
  model:
    type: choice
    choices: [logistic, tree]
    default: logistic
  epochs:
    type: int
    required: true
schedules:
  - cron: "0 2 * * *"
    timezone: Europe/Paris
    parameters: {epochs: 5}
  - interval: 15m
    paused: true
    parameters: {epochs: 1}
missed: skip
triggers:
  - on: alias_set
    model: wine
    alias: challenger
steps:
  - name: train
    kind: command
    argv: [python, train.py, "--lr=${{ params.lr }}", "--epochs", "${{ params.epochs }}"]
    retries: 2
    retry_delay: [1s, 5s]
    timeout: 10m
    tags: [gpu]
  - name: report
    kind: command
    needs: [train]
    argv: [echo, "${{ steps.train.outputs.run_id }}", "${{ event.version }}"]
    cache:
      expiry: 1d
  - name: notify
    kind: http
    needs: [report]
    method: post
    url: "http://127.0.0.1:9/hook"
    body: '{"run": "${{ job.run_id }}"}'
    retries: 3
    retry_backoff: {base: 2s, factor: 3, max: 30s}
    retry_jitter: 0.5
"#;

fn parse(text: &str) -> Result<JobSpec, String> {
    JobSpec::parse(text, Path::new("jobs/train.yaml"), &Registry::default())
        .map_err(|e| e.to_string())
}

fn refused(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

struct Values;

impl Render for Values {
    fn render(&self, t: &Tmpl) -> cairn_jobs::Result<String> {
        t.template.render(&t.text, |r| Some(format!("<{r}>")))
    }
}

#[test]
fn a_whole_job_reads() {
    let job = parse(TRAIN).unwrap();
    assert_eq!(job.name, "train-wine");
    assert_eq!(job.parameters.len(), 3);
    assert_eq!(job.parameters[0].default, Some(ParamValue::Float(0.1)));
    assert!(job.parameters[2].required);
    assert_eq!(job.schedules.len(), 2);
    assert_eq!(
        job.schedules[0].when,
        ScheduleKind::Cron {
            expr: "0 2 * * *".into(),
            timezone: "Europe/Paris".into()
        }
    );
    assert_eq!(
        job.schedules[0].parameters,
        vec![("epochs".to_string(), ParamValue::Int(5))]
    );
    assert!(job.schedules[1].paused);
    assert_eq!(job.missed, MissedPolicy::Skip);
    assert_eq!(
        job.triggers,
        vec![Trigger::AliasSet {
            model: Some("wine".into()),
            alias: Some("challenger".into())
        }]
    );
    let names: Vec<_> = job
        .order()
        .into_iter()
        .map(|i| job.steps[i].name.as_str())
        .collect();
    assert_eq!(names, ["train", "report", "notify"]);
    let train = &job.steps[0];
    assert_eq!(train.retry.retries, 2);
    assert_eq!(train.retry.delay_ms(1), 1000);
    assert_eq!(train.retry.delay_ms(2), 5000);
    assert_eq!(train.retry.delay_ms(7), 5000);
    assert_eq!(train.timeout, Some(Duration::from_secs(600)));
    assert_eq!(train.tags, ["gpu"]);
    assert_eq!(
        job.steps[1].cache.as_ref().unwrap().expiry,
        Some(Duration::from_secs(86400))
    );
    let notify = &job.steps[2];
    assert!(matches!(notify.retry.delay, RetryDelay::Exponential { .. }));
    assert_eq!(notify.retry.delay_ms(1), 2000);
    assert_eq!(notify.retry.delay_ms(2), 6000);
    assert_eq!(notify.retry.delay_ms(4), 30000);

    match train.config.plan(&Values).unwrap() {
        Action::Process { argv, cwd, .. } => {
            assert_eq!(
                argv,
                [
                    "python",
                    "train.py",
                    "--lr=<params.lr>",
                    "--epochs",
                    "<params.epochs>"
                ]
            );
            assert_eq!(cwd.as_deref(), Some(Path::new("jobs")));
        }
        other => panic!("{other:?}"),
    }
    match notify.config.plan(&Values).unwrap() {
        Action::Http {
            method,
            body,
            expect_status,
            ..
        } => {
            assert_eq!(method, "POST");
            assert_eq!(body.as_deref(), Some(r#"{"run": "<job.run_id>"}"#));
            assert!(expect_status.contains(&200) && !expect_status.contains(&404));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn parameters_are_checked_for_a_run() {
    let job = parse(TRAIN).unwrap();
    let given = |v: serde_json::Value| v.as_object().unwrap().clone();
    let err = job
        .resolve_params(&given(json!({})))
        .unwrap_err()
        .to_string();
    assert!(err.contains("epochs") && err.contains("required"), "{err}");
    let got = job.resolve_params(&given(json!({"epochs": "3"}))).unwrap();
    assert_eq!(
        serde_json::Value::Object(got),
        json!({"lr": 0.1, "model": "logistic", "epochs": 3})
    );
    let err = job
        .resolve_params(&given(json!({"epochs": "three"})))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("epochs") && err.contains("not an int"),
        "{err}"
    );
    let err = job
        .resolve_params(&given(json!({"epochs": 1.5})))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("epochs") && err.contains("not an int"),
        "{err}"
    );
    let err = job
        .resolve_params(&given(json!({"epochs": 1, "model": "svm"})))
        .unwrap_err()
        .to_string();
    assert!(err.contains("logistic, tree"), "{err}");
    let err = job
        .resolve_params(&given(json!({"batch": 1})))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such parameter"), "{err}");
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let err = refused(&TRAIN.replace("missed: skip", "mised: skip"));
    assert!(err.starts_with("jobs/train.yaml, line 23"), "{err}");
    assert!(err.contains("mised"), "{err}");

    // Inside a step, among the kind's own keys.
    let err = refused(&TRAIN.replace("    method: post", "    methd: post"));
    assert!(err.starts_with("jobs/train.yaml, line 45"), "{err}");
    assert!(err.contains("steps[2]") && err.contains("methd"), "{err}");

    // Among a parameter's keys.
    let err = refused(&TRAIN.replace(
        "    description: learning rate",
        "    descripton: learning rate",
    ));
    assert!(
        err.contains("line 8") && err.contains("descripton"),
        "{err}"
    );
}

#[test]
fn a_missing_need_and_a_cycle_are_refused() {
    let err = refused(&TRAIN.replace("needs: [train]", "needs: [trian]"));
    assert!(err.starts_with("jobs/train.yaml, line 38"), "{err}");
    assert!(
        err.contains("steps[1].needs[0]") && err.contains("`trian`"),
        "{err}"
    );

    let cyclic = TRAIN.replace(
        "    argv: [python, train.py",
        "    needs: [notify]\n    argv: [python, train.py",
    );
    let err = refused(&cyclic);
    assert!(
        err.contains("cycle") && err.contains("train") && err.contains("notify"),
        "{err}"
    );
}

#[test]
fn bad_templates_are_refused_where_they_are() {
    let err = refused(&TRAIN.replace("${{ params.lr }}", "${{ params.rate }}"));
    assert!(
        err.contains("line 31") && err.contains("steps[0].argv[2]") && err.contains("params.rate"),
        "{err}"
    );

    // An output of a step the step does not need.
    let err = refused(&TRAIN.replace("needs: [train]", "needs: []"));
    assert!(
        err.contains("line 39") && err.contains("does not need `train`"),
        "{err}"
    );

    let err = refused(&TRAIN.replace("${{ job.run_id }}", "${{ job.id }}"));
    assert!(err.contains("line 47") && err.contains("job.id"), "{err}");

    let err = refused(&TRAIN.replace("${{ params.epochs }}", "${{ params.epochs"));
    assert!(
        err.contains("line 31") && err.contains("never closed"),
        "{err}"
    );
}

#[test]
fn other_mistakes_are_refused_with_their_place() {
    let err = refused(&TRAIN.replace("kind: http", "kind: htp"));
    assert!(
        err.contains("line 43") && err.contains("command, http, train, promote"),
        "{err}"
    );
    let err = refused(&TRAIN.replace("timeout: 10m", "timeout: ten minutes"));
    assert!(
        err.contains("line 34") && err.contains("steps[0].timeout"),
        "{err}"
    );
    let err = refused(&TRAIN.replace("Europe/Paris", "Europe/Pariss"));
    assert!(
        err.contains("line 18") && err.contains("time zone"),
        "{err}"
    );
    let err = refused(&TRAIN.replace("0 2 * * *", "0 25 * * *"));
    assert!(err.contains("line 17") && err.contains("cron"), "{err}");
    let err = refused(&TRAIN.replace("default: 0.1", "default: fast"));
    assert!(
        err.contains("line 7") && err.contains("not a finite float"),
        "{err}"
    );
    let err = refused(&TRAIN.replace("- name: notify", "- name: report"));
    assert!(err.contains("a second step named `report`"), "{err}");
    let err = refused("name: x\nsteps: []\n");
    assert!(err.contains("at least one step"), "{err}");
    let err = refused("name: x\nsteps:\n  - name: a\n    kind: command\n    argv: [a\n");
    assert!(err.contains("not valid YAML"), "{err}");
    let err = refused("name: x\nname: y\nsteps: []\n");
    assert!(err.contains("line 2") && err.contains("twice"), "{err}");
}

#[test]
fn an_inline_training_spec_is_passed_as_written() {
    let job = parse(
        "name: t\nparameters:\n  lr: {type: float, default: 0.5}\nsteps:\n  - name: fit\n    kind: train\n    spec:\n      task: tabular\n      data:\n        path: wine.csv\n      lr: ${{ params.lr }}\n",
    )
    .unwrap();
    match job.steps[0].config.plan(&Values).unwrap() {
        Action::Process { argv, files, .. } => {
            assert_eq!(
                argv[..3],
                ["cairn", "train", "${CAIRN_SCRATCH}/train-spec.yaml"]
            );
            assert_eq!(argv[argv.len() - 2..], ["--base", "jobs"]);
            assert_eq!(files.len(), 1);
            assert_eq!(
                files[0].1,
                "task: tabular\ndata:\n  path: wine.csv\nlr: <params.lr>\n"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_example_jobs_read() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/jobs");
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
            let job = JobSpec::read(&path, &Registry::default())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!job.steps.is_empty());
            read += 1;
        }
    }
    assert!(read >= 2, "examples/jobs has its jobs");
}

#[test]
fn a_data_check_step_runs_cairn_data_check() {
    let job = parse(
        "name: q\nparameters:\n  view: {type: string, default: trips}\nsteps:\n  - name: check\n    \
         kind: data_check\n    check: ${{ params.view }}\n    contracts_dir: contracts\n",
    )
    .unwrap();
    match job.steps[0].config.plan(&Values).unwrap() {
        Action::Process { argv, .. } => assert_eq!(
            argv,
            [
                "cairn",
                "data",
                "check",
                "--format",
                "json",
                "<params.view>",
                "--contracts-dir",
                "jobs/contracts"
            ]
        ),
        other => panic!("{other:?}"),
    }
    let err = refused("name: q\nsteps:\n  - name: c\n    kind: data_check\n    view: x\n");
    assert!(err.contains("line 5") && err.contains("view"), "{err}");
}
