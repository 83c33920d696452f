//! Classification and regression metrics as scikit-learn defines them, from a
//! confusion matrix or from (score, outcome) pairs: one definition for offline
//! evaluation (`cairn train`) and online evaluation (predictions joined to ground
//! truth). The tests that use them compare with scikit-learn's own values.

use serde::{Deserialize, Serialize};

/// One class's precision, recall and F1 (`zero_division=0`) and its support.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassStats {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: u64,
}

/// `classification_report`'s figures over every label of the matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub weighted_precision: f64,
    pub weighted_recall: f64,
    pub weighted_f1: f64,
    pub per_class: Vec<ClassStats>,
}

/// The figures of `confusion[true][predicted]` over `labels` (its row and column
/// order). Macro averages run over every label, as scikit-learn's do over the union
/// of true and predicted labels; weighted ones by support.
pub fn summarise(labels: &[String], confusion: &[Vec<u64>]) -> Summary {
    let n_labels = labels.len();
    let n: u64 = confusion.iter().flatten().sum();
    let correct: u64 = (0..n_labels).map(|k| confusion[k][k]).sum();
    let mut per_class = Vec::with_capacity(n_labels);
    for (k, label) in labels.iter().enumerate() {
        let tp = confusion[k][k] as f64;
        let support: u64 = confusion[k].iter().sum();
        let predicted: u64 = confusion.iter().map(|row| row[k]).sum();
        per_class.push(ClassStats {
            label: label.clone(),
            precision: ratio(tp, predicted as f64),
            recall: ratio(tp, support as f64),
            f1: ratio(2.0 * tp, predicted as f64 + support as f64),
            support,
        });
    }
    let mean =
        |f: fn(&ClassStats) -> f64| ratio(per_class.iter().map(f).sum::<f64>(), n_labels as f64);
    let total_support: f64 = per_class.iter().map(|c| c.support as f64).sum();
    let weighted = |f: fn(&ClassStats) -> f64| {
        ratio(
            per_class
                .iter()
                .map(|c| f(c) * c.support as f64)
                .sum::<f64>(),
            total_support,
        )
    };
    Summary {
        accuracy: ratio(correct as f64, n as f64),
        macro_precision: mean(|c| c.precision),
        macro_recall: mean(|c| c.recall),
        macro_f1: mean(|c| c.f1),
        weighted_precision: weighted(|c| c.precision),
        weighted_recall: weighted(|c| c.recall),
        weighted_f1: weighted(|c| c.f1),
        per_class,
    }
}

/// `a / b`, and 0 for `b == 0` (scikit-learn's `zero_division=0`).
pub fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

/// `(true positives, false positives)` after each distinct score, highest first.
pub fn cumulative_counts(scores: &[f64], positive: &[bool]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out = Vec::new();
    let (mut tp, mut fp) = (0.0, 0.0);
    for (i, &o) in order.iter().enumerate() {
        if positive[o] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        let last_of_tie = order
            .get(i + 1)
            .is_none_or(|&next| scores[next] != scores[o]);
        if last_of_tie {
            out.push((tp, fp));
        }
    }
    out
}

/// Area under the ROC curve (trapezoids through every distinct threshold, as
/// `sklearn.metrics.roc_auc_score`); `None` when one class is absent.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let counts = cumulative_counts(scores, positive);
    let &(p, n) = counts.last()?;
    if p == 0.0 || n == 0.0 {
        return None;
    }
    let (mut area, mut prev_tpr, mut prev_fpr) = (0.0, 0.0, 0.0);
    for (tp, fp) in counts {
        let (tpr, fpr) = (tp / p, fp / n);
        area += (fpr - prev_fpr) * (tpr + prev_tpr) / 2.0;
        prev_tpr = tpr;
        prev_fpr = fpr;
    }
    Some(area)
}

/// A sum with Neumaier's compensation: a million terms add up as numpy's pairwise
/// sum does, to the last few bits, where a plain fold drifts.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    pub fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
        self.sum = t;
    }

    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// `mean_absolute_error`, `root_mean_squared_error`, `r2_score` and
/// `mean_absolute_percentage_error` of `(predicted, true)` pairs; `None` for none.
pub fn regression(pairs: &[(f64, f64)]) -> Option<(f64, f64, f64, f64)> {
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as f64;
    let (mut abs, mut sq, mut pct, mut y) = (
        Sum::default(),
        Sum::default(),
        Sum::default(),
        Sum::default(),
    );
    for &(p, t) in pairs {
        let e = t - p;
        abs.add(e.abs());
        sq.add(e * e);
        // scikit-learn divides by max(|y|, machine epsilon).
        pct.add(e.abs() / t.abs().max(f64::EPSILON));
        y.add(t);
    }
    let mean = y.value() / n;
    let mut total = Sum::default();
    for &(_, t) in pairs {
        total.add((t - mean) * (t - mean));
    }
    let (ss_res, ss_tot) = (sq.value(), total.value());
    // scikit-learn's `force_finite`: a constant truth scores 1 when predicted
    // exactly and 0 otherwise.
    let r2 = if ss_tot == 0.0 {
        if ss_res == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - ss_res / ss_tot
    };
    Some((abs.value() / n, (ss_res / n).sqrt(), r2, pct.value() / n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_only_predicted_counts_in_the_macro_average() {
        let labels = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        // truth a,a,b; predicted a,c,b
        let confusion = vec![vec![1, 0, 1], vec![0, 1, 0], vec![0, 0, 0]];
        let s = summarise(&labels, &confusion);
        assert!((s.accuracy - 2.0 / 3.0).abs() < 1e-15);
        assert!((s.macro_precision - 2.0 / 3.0).abs() < 1e-15);
        assert!((s.macro_recall - 0.5).abs() < 1e-15);
    }

    #[test]
    fn regression_matches_hand_figures() {
        let (mae, rmse, r2, mape) = regression(&[(1.0, 2.0), (2.0, 2.0), (4.0, 5.0)]).unwrap();
        assert!((mae - 2.0 / 3.0).abs() < 1e-15);
        assert!((rmse - (2.0f64 / 3.0).sqrt()).abs() < 1e-15);
        // mean 3, ss_tot = 1 + 1 + 4 = 6, ss_res = 2
        assert!((r2 - (1.0 - 2.0 / 6.0)).abs() < 1e-15);
        assert!((mape - (0.5 + 0.0 + 0.2) / 3.0).abs() < 1e-15);
    }
}
