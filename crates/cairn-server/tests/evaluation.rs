//! Online evaluation (`/api/2.0/cairn/ground-truth/...`, `evaluations/online`) on both
//! backends: ground truth joined to the prediction log, each version's metrics equal
//! to scikit-learn's on the same joined rows, a late label replacing an earlier one,
//! and bad batches refused whole.

use std::collections::BTreeMap;

use cairn_api_types::monitor::OnlineEvaluationRequest;
use cairn_core::monitor::{GroundTruth, LabelText, OnlineEvaluation, WindowMetrics};
use cairn_core::predictions::PredictionRecord;
use cairn_testkit::on_both_backends;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000;
const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const CLASSES: [&str; 3] = ["cat", "dog", "emu"];

/// A small deterministic generator (the data must be the same on both backends).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Two versions of a classifier predicting 600 entities each over three days, the
/// second better than the first; the truth of entity i is `CLASSES[i % 3]`.
fn predictions() -> Vec<PredictionRecord> {
    let mut rng = Lcg(7);
    let mut out = Vec::new();
    for version in [1i64, 2] {
        for i in 0..600i64 {
            let truth = (i % 3) as usize;
            let skill = if version == 1 { 0.55 } else { 0.8 };
            let mut p = [rng.next(), rng.next(), rng.next()];
            p[truth] += skill * 2.0 * rng.next();
            let sum: f64 = p.iter().sum();
            let p = p.map(|x| x / sum);
            let predicted = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0);
            out.push(PredictionRecord {
                request_id: format!("r{version}-{i}"),
                row_index: 0,
                model_name: "animals".into(),
                model_version: version,
                alias: Some(
                    if version == 1 {
                        "champion"
                    } else {
                        "challenger"
                    }
                    .into(),
                ),
                entity_id: Some(format!("e{i}")),
                timestamp_ms: T0 + (i % 3) * DAY + i * 1000,
                inputs: json!({"x": i}),
                outputs: json!({
                    "label": CLASSES[predicted],
                    "probabilities": {"cat": p[0], "dog": p[1], "emu": p[2]},
                }),
                shadow: false,
                ground_truth: None,
            });
        }
    }
    out
}

fn truth(entity: i64, label: &str, at: i64) -> GroundTruth {
    GroundTruth {
        model_name: "animals".into(),
        entity_id: format!("e{entity}"),
        label: Some(LabelText::from(label)),
        value: None,
        event_time_ms: Some(at),
    }
}

/// Each version's joined rows: (true label, predicted label, class probabilities).
type Joined = BTreeMap<i64, Vec<(String, String, [f64; 3])>>;

/// scikit-learn's figures for each version's joined rows.
fn sklearn(rows: &Joined) -> Option<Value> {
    let Some(python) = cairn_testkit::python_with(&["sklearn"]) else {
        cairn_testkit::skip_or_fail("a Python with scikit-learn");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rows.json");
    let payload: BTreeMap<String, Value> = rows
        .iter()
        .map(|(v, rows)| {
            (
                v.to_string(),
                json!({
                    "y_true": rows.iter().map(|r| &r.0).collect::<Vec<_>>(),
                    "y_pred": rows.iter().map(|r| &r.1).collect::<Vec<_>>(),
                    "proba": rows.iter().map(|r| r.2.to_vec()).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    std::fs::write(&data, serde_json::to_string(&payload).unwrap()).unwrap();
    let script = r#"
import json, sys
from sklearn import metrics as m
data = json.load(open(sys.argv[1]))
labels = ["cat", "dog", "emu"]
out = {}
for v, d in data.items():
    t, p, pr = d["y_true"], d["y_pred"], d["proba"]
    prf = lambda avg: m.precision_recall_fscore_support(t, p, average=avg, zero_division=0)[:3]
    per = m.precision_recall_fscore_support(t, p, labels=labels, zero_division=0)
    out[v] = {
        "accuracy": m.accuracy_score(t, p),
        "macro": list(prf("macro")),
        "weighted": list(prf("weighted")),
        "per_class": [list(map(float, x)) for x in per],
        "confusion": m.confusion_matrix(t, p, labels=labels).tolist(),
        "roc_auc": m.roc_auc_score(t, pr, multi_class="ovr", labels=labels),
        "log_loss": m.log_loss(t, pr, labels=labels),
        "rows": len(t),
    }
print(json.dumps(out))
"#;
    let out = std::process::Command::new(python)
        .args(["-c", script])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: cairn {got}, scikit-learn {want}"
    );
}

fn check_against(total: &WindowMetrics, want: &Value) {
    let c = total
        .classification
        .as_ref()
        .expect("classification metrics");
    let f = |v: &Value| v.as_f64().unwrap();
    close("accuracy", c.accuracy, f(&want["accuracy"]));
    close("precision_macro", c.precision_macro, f(&want["macro"][0]));
    close("recall_macro", c.recall_macro, f(&want["macro"][1]));
    close("f1_macro", c.f1_macro, f(&want["macro"][2]));
    close(
        "precision_weighted",
        c.precision_weighted,
        f(&want["weighted"][0]),
    );
    close(
        "recall_weighted",
        c.recall_weighted,
        f(&want["weighted"][1]),
    );
    close("f1_weighted", c.f1_weighted, f(&want["weighted"][2]));
    for (k, class) in c.per_class.iter().enumerate() {
        close("precision", class.precision, f(&want["per_class"][0][k]));
        close("recall", class.recall, f(&want["per_class"][1][k]));
        close("f1", class.f1, f(&want["per_class"][2][k]));
        assert_eq!(class.support as f64, f(&want["per_class"][3][k]));
    }
    assert_eq!(c.labels, CLASSES);
    assert_eq!(
        serde_json::to_value(&c.confusion).unwrap(),
        want["confusion"]
    );
    close("roc_auc", c.roc_auc.expect("roc_auc"), f(&want["roc_auc"]));
    close(
        "log_loss",
        c.log_loss.expect("log_loss"),
        f(&want["log_loss"]),
    );
    assert_eq!(c.rows as f64, f(&want["rows"]));
}

fn request(window: &str) -> OnlineEvaluationRequest {
    OnlineEvaluationRequest {
        model_name: Some("animals".into()),
        since_ms: Some(T0.to_string()),
        until_ms: Some((T0 + 3 * DAY).to_string()),
        window: Some(window.into()),
        ..Default::default()
    }
}

on_both_backends! {
    async fn each_versions_online_metrics_equal_scikit_learns_on_the_joined_rows(s) {
        let logged = predictions();
        for chunk in logged.chunks(500) {
            s.client.log_predictions(chunk).await.unwrap();
        }
        // Labels for 450 of the 600 entities; the first 60 arrive wrong, then are
        // corrected a day later (the correction replaces them, the change is kept).
        let late = T0 + 4 * DAY;
        let wrong: Vec<_> = (0..60).map(|i| truth(i, CLASSES[(i as usize + 1) % 3], late)).collect();
        s.client.log_ground_truth(&wrong).await.unwrap();
        let right: Vec<_> = (0..450).map(|i| truth(i, CLASSES[i as usize % 3], late + DAY)).collect();
        s.client.log_ground_truth(&right).await.unwrap();
        // Sending the same batch again changes nothing.
        s.client.log_ground_truth(&right[..10]).await.unwrap();
        let e0 = s.client.get_ground_truth("animals", "e0").await.unwrap();
        assert_eq!(e0.label.as_deref(), Some("cat"));
        assert_eq!(e0.replaced.len(), 1, "{e0:?}");
        assert_eq!(e0.replaced[0].label.as_deref(), Some("dog"));

        let eval: OnlineEvaluation = s.client.evaluate_online(&request("all")).await.unwrap();
        assert_eq!(eval.prediction_key, "label");
        assert_eq!(eval.probability_key.as_deref(), Some("probabilities"));
        assert_eq!(eval.versions.len(), 2);

        let mut rows = Joined::new();
        for r in &logged {
            let i: i64 = r.entity_id.as_deref().unwrap()[1..].parse().unwrap();
            if i >= 450 {
                continue;
            }
            let p = &r.outputs["probabilities"];
            rows.entry(r.model_version).or_default().push((
                CLASSES[i as usize % 3].to_string(),
                r.outputs["label"].as_str().unwrap().to_string(),
                [p["cat"].as_f64().unwrap(), p["dog"].as_f64().unwrap(), p["emu"].as_f64().unwrap()],
            ));
        }
        let Some(want) = sklearn(&rows) else { return };
        for v in &eval.versions {
            assert_eq!(v.total.predictions, 600);
            assert_eq!(v.total.labelled, 450);
            close("coverage", v.total.coverage, 0.75);
            check_against(&v.total, &want[v.version.to_string()]);
        }
        let (v1, v2) = (&eval.versions[0], &eval.versions[1]);
        assert!(
            v2.total.classification.as_ref().unwrap().accuracy
                > v1.total.classification.as_ref().unwrap().accuracy,
            "the better version scores better"
        );

        // Per day: three windows per version, whose counts add up to the total.
        let daily = s.client.evaluate_online(&request("day")).await.unwrap();
        for v in &daily.versions {
            assert_eq!(v.windows.len(), 3, "{:?}", v.windows);
            assert_eq!(v.windows.iter().map(|w| w.predictions).sum::<i64>(), 600);
            assert_eq!(v.windows.iter().map(|w| w.labelled).sum::<i64>(), 450);
            assert_eq!(v.windows[0].start_ms, T0);
            assert_eq!(v.windows[1].start_ms, T0 + DAY);
            let delay = v.windows[0].mean_label_delay_ms.unwrap();
            assert!(delay > 4.0 * DAY as f64 && delay < 5.0 * DAY as f64, "{delay}");
        }

        // One version, one alias.
        let mut one = request("all");
        one.version = Some("2".into());
        let only = s.client.evaluate_online(&one).await.unwrap();
        assert_eq!(only.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [2]);
        let mut by_alias = request("all");
        by_alias.alias = Some("champion".into());
        let champion = s.client.evaluate_online(&by_alias).await.unwrap();
        assert_eq!(champion.versions.iter().map(|v| v.version).collect::<Vec<_>>(), [1]);
    }

    async fn a_regressions_errors_equal_scikit_learns(s) {
        let mut rng = Lcg(11);
        let mut records = Vec::new();
        let mut truths = Vec::new();
        let mut pairs = Vec::new();
        for i in 0..300i64 {
            let y = 100.0 + 50.0 * rng.next();
            let pred = y + 10.0 * (rng.next() - 0.5);
            records.push(PredictionRecord {
                request_id: format!("q{i}"),
                row_index: 0,
                model_name: "price".into(),
                model_version: 3,
                alias: None,
                entity_id: Some(format!("h{i}")),
                timestamp_ms: T0 + i,
                inputs: json!({"rooms": i % 5}),
                outputs: json!({"prediction": pred}),
                shadow: false,
                ground_truth: None,
            });
            if i % 4 != 0 {
                truths.push(GroundTruth {
                    model_name: "price".into(),
                    entity_id: format!("h{i}"),
                    label: None,
                    value: Some(y),
                    event_time_ms: None,
                });
                pairs.push((pred, y));
            }
        }
        s.client.log_predictions(&records).await.unwrap();
        s.client.log_ground_truth(&truths).await.unwrap();
        let mut q = request("all");
        q.model_name = Some("price".into());
        let eval = s.client.evaluate_online(&q).await.unwrap();
        assert_eq!(eval.prediction_key, "prediction");
        let r = eval.versions[0].total.regression.as_ref().expect("regression metrics");
        assert_eq!(r.rows, 225);

        let Some(python) = cairn_testkit::python_with(&["sklearn"]) else {
            cairn_testkit::skip_or_fail("a Python with scikit-learn");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("pairs.json");
        std::fs::write(&data, serde_json::to_string(&pairs).unwrap()).unwrap();
        let out = std::process::Command::new(python)
            .args(["-c", "import json,sys\nfrom sklearn import metrics as m\np=json.load(open(sys.argv[1]))\nyp=[a for a,b in p]; yt=[b for a,b in p]\nprint(json.dumps([m.mean_absolute_error(yt,yp), m.root_mean_squared_error(yt,yp), m.r2_score(yt,yp), m.mean_absolute_percentage_error(yt,yp)]))"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let want: Vec<f64> = serde_json::from_slice(&out.stdout).unwrap();
        close("mae", r.mae, want[0]);
        close("rmse", r.rmse, want[1]);
        close("r2", r.r2, want[2]);
        close("mape", r.mape, want[3]);
    }

    async fn a_bad_ground_truth_row_refuses_its_whole_batch(s) {
        let mut bad = truth(2, "cat", T0);
        bad.label = None;
        let err = s
            .client
            .log_ground_truth(&[truth(1, "dog", T0), bad])
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400));
        assert!(err.to_string().contains("ground_truth[1].label"), "{err}");
        let missing = s.client.get_ground_truth("animals", "e1").await.unwrap_err();
        assert_eq!(missing.status(), Some(404), "nothing of the batch was written");

        let mut q = request("fortnight");
        q.model_name = Some("animals".into());
        let err = s.client.evaluate_online(&q).await.unwrap_err();
        assert_eq!(err.status(), Some(400));
        assert!(err.to_string().contains("window"), "{err}");
    }
}
