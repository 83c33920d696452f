//! The metrics computed on fixed predictions, compared with scikit-learn's own
//! values (the PyPI package in the project's venv) to 1e-9.

use std::path::PathBuf;
use std::process::Command;

use cairn_ml::metrics::{evaluate, ood_report};
use serde_json::{json, Value};

fn python_with_sklearn() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    [
        std::env::var_os("CAIRN_PYTHON").map(PathBuf::from),
        Some(root.join(".venv/bin/python")),
        Some(PathBuf::from("python3")),
    ]
    .into_iter()
    .flatten()
    .find(|py| {
        Command::new(py)
            .args(["-c", "import sklearn, numpy"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// A fixed, irregular data set: 5 classes in truth, a 6th label only predicted,
/// probabilities with ties (rounded to 2 decimals before normalising).
fn fixture() -> (Vec<usize>, Vec<usize>, Vec<Vec<f32>>) {
    let mut state: u64 = 42;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    let (mut y_true, mut y_pred, mut proba) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..300 {
        let t = i % 5;
        let mut p: Vec<f32> = (0..5)
            .map(|k| {
                let base = next() + if k == t { 0.8 * next() } else { 0.0 };
                ((base * 100.0).round() / 100.0) as f32 + 0.01
            })
            .collect();
        let sum: f32 = p.iter().sum();
        p.iter_mut().for_each(|v| *v /= sum);
        let mut pred = cairn_ml::linear::argmax(&p);
        if i % 37 == 0 {
            pred = 5;
        }
        y_true.push(t);
        y_pred.push(pred);
        proba.push(p);
    }
    (y_true, y_pred, proba)
}

const SCRIPT: &str = r#"
import json, sys
import numpy as np
from sklearn import metrics
from sklearn.preprocessing import label_binarize
d = json.load(open(sys.argv[1]))
yt, yp = np.array(d["y_true"]), np.array(d["y_pred"])
P = np.array(d["proba"], dtype=np.float64)
L = list(range(6))
out = {"accuracy": metrics.accuracy_score(yt, yp)}
for avg in ["macro", "weighted"]:
    p, r, f, _ = metrics.precision_recall_fscore_support(yt, yp, labels=L, average=avg, zero_division=0)
    out[avg] = [p, r, f]
p, r, f, s = metrics.precision_recall_fscore_support(yt, yp, labels=L, average=None, zero_division=0)
out["per_class"] = [list(map(float, x)) for x in (p, r, f, s)]
out["confusion"] = metrics.confusion_matrix(yt, yp, labels=L).tolist()
out["roc_auc_ovr"] = metrics.roc_auc_score(yt, P, multi_class="ovr", labels=list(range(5)))
out["pr_auc_ovr"] = metrics.average_precision_score(label_binarize(yt, classes=list(range(5))), P, average="macro")
conf, pred = P.max(axis=1), P.argmax(axis=1)
bins = np.clip(np.ceil(conf * 15).astype(int), 1, 15) - 1
ece = 0.0
for b in range(15):
    m = bins == b
    if m.any():
        ece += m.mean() * abs((pred[m] == yt[m]).mean() - conf[m].mean())
out["ece"] = ece
oos = np.array(d["is_oos"])
out["ood_auroc"] = metrics.roc_auc_score(oos, -np.array(d["score"]))
print(json.dumps(out))
"#;

fn close(a: f64, b: &Value, what: &str) {
    let b = b
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: scikit-learn gave {b}"));
    assert!((a - b).abs() <= 1e-9, "{what}: cairn {a}, scikit-learn {b}");
}

#[test]
fn metrics_equal_scikit_learns() {
    let Some(python) = python_with_sklearn() else {
        if std::env::var_os("CI").is_some() {
            panic!("a Python with scikit-learn is missing, and CI must run this test");
        }
        eprintln!("SKIPPED: no Python with scikit-learn (run .ci/run to make .venv)");
        return;
    };
    let (y_true, y_pred, proba) = fixture();
    let labels: Vec<String> = (0..6).map(|k| format!("c{k}")).collect();
    let report = evaluate(&labels, &y_true, &y_pred, Some(&proba));
    // Out-of-scope: the rows of class 4 play out-of-scope, the top probability is
    // the in-scope score.
    let score: Vec<f64> = proba
        .iter()
        .map(|p| p.iter().fold(0.0f32, |a, &b| a.max(b)) as f64)
        .collect();
    let is_oos: Vec<bool> = y_true.iter().map(|&t| t == 4).collect();
    let correct: Vec<bool> = y_true.iter().zip(&y_pred).map(|(t, p)| t == p).collect();
    let ood = ood_report(&score, &correct, &is_oos, 0.3, 0.5);

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("fixture.json");
    let proba64: Vec<Vec<f64>> = proba
        .iter()
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    std::fs::write(
        &input,
        json!({"y_true": y_true, "y_pred": y_pred, "proba": proba64, "score": score, "is_oos": is_oos})
            .to_string(),
    )
    .unwrap();
    let out = Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sk: Value = serde_json::from_slice(&out.stdout).unwrap();

    close(report.accuracy, &sk["accuracy"], "accuracy");
    close(report.macro_precision, &sk["macro"][0], "macro precision");
    close(report.macro_recall, &sk["macro"][1], "macro recall");
    close(report.macro_f1, &sk["macro"][2], "macro F1");
    close(
        report.weighted_precision,
        &sk["weighted"][0],
        "weighted precision",
    );
    close(
        report.weighted_recall,
        &sk["weighted"][1],
        "weighted recall",
    );
    close(report.weighted_f1, &sk["weighted"][2], "weighted F1");
    for (k, c) in report.per_class.iter().enumerate() {
        close(
            c.precision,
            &sk["per_class"][0][k],
            &format!("precision of {}", c.label),
        );
        close(
            c.recall,
            &sk["per_class"][1][k],
            &format!("recall of {}", c.label),
        );
        close(c.f1, &sk["per_class"][2][k], &format!("F1 of {}", c.label));
        close(
            c.support as f64,
            &sk["per_class"][3][k],
            &format!("support of {}", c.label),
        );
    }
    assert_eq!(json!(report.confusion), sk["confusion"]);
    close(
        report.roc_auc_ovr.unwrap(),
        &sk["roc_auc_ovr"],
        "ROC AUC (OvR)",
    );
    close(
        report.pr_auc_ovr.unwrap(),
        &sk["pr_auc_ovr"],
        "PR AUC (OvR)",
    );
    close(report.ece.unwrap(), &sk["ece"], "ECE");
    close(ood.auroc.unwrap(), &sk["ood_auroc"], "OOD AUROC");
    // The fixture is not trivial: these would hide a broken comparison.
    assert!(
        report.accuracy > 0.3 && report.accuracy < 0.95,
        "{}",
        report.accuracy
    );
    assert!(report.per_class[5].support == 0 && report.per_class[5].precision == 0.0);
}
