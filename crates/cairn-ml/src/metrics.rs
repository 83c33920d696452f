//! Classification metrics, defined as scikit-learn defines them (the tests compare
//! with scikit-learn's own values): precision/recall/F1 with `zero_division=0`,
//! one-vs-rest ROC AUC and average precision, and expected calibration error.

use serde::{Deserialize, Serialize};

use cairn_core::metrics::{cumulative_counts, ratio};
pub use cairn_core::metrics::{roc_auc, ClassStats};

/// Everything the evaluation logs about one labelled set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub weighted_precision: f64,
    pub weighted_recall: f64,
    pub weighted_f1: f64,
    pub per_class: Vec<ClassStats>,
    /// `confusion[true][predicted]`, rows and columns in `labels` order.
    pub labels: Vec<String>,
    pub confusion: Vec<Vec<u64>>,
    /// Mean over classes of one-vs-rest ROC AUC; classes with no positive or no
    /// negative example are left out (their AUC is undefined).
    pub roc_auc_ovr: Option<f64>,
    /// Mean over classes of one-vs-rest average precision (area under PR).
    pub pr_auc_ovr: Option<f64>,
    /// Expected calibration error of the top-label confidence, 15 equal bins.
    pub ece: Option<f64>,
    /// The curves behind the AUCs and the ECE, for plots; not part of the JSON
    /// report (they hold a point per distinct score).
    #[serde(skip)]
    pub curves: Option<Curves>,
}

/// Points of one curve, `(x, y)`, and the area the report gives for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub area: f64,
}

/// One reliability-diagram bin: top-label confidences in `(lower, upper]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: u64,
    pub mean_confidence: f64,
    pub accuracy: f64,
}

/// ROC (false/true positive rate) and precision-recall (recall/precision) curves,
/// one-vs-rest: the micro average over all classes first, then each class when
/// there are few enough to tell apart on one chart; and the reliability bins.
#[derive(Debug, Clone, PartialEq)]
pub struct Curves {
    pub roc: Vec<Curve>,
    pub pr: Vec<Curve>,
    pub reliability: Vec<ReliabilityBin>,
}

/// Classes drawn one by one on the ROC and PR charts; above this only the micro
/// average is drawn (150 overlaid lines say nothing).
pub const MAX_CLASS_CURVES: usize = 10;

/// Most points kept per curve: enough for a smooth line, small enough for an SVG.
const MAX_CURVE_POINTS: usize = 400;

/// `y_true` and `y_pred` index `labels`; `proba[i][k]` is the score of class `k`
/// (the first `proba[i].len()` labels) for row `i`.
pub fn evaluate(
    labels: &[String],
    y_true: &[usize],
    y_pred: &[usize],
    proba: Option<&[Vec<f32>]>,
) -> Report {
    let n_labels = labels.len();
    let mut confusion = vec![vec![0u64; n_labels]; n_labels];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        confusion[t][p] += 1;
    }
    let summary = cairn_core::metrics::summarise(labels, &confusion);
    let (roc_auc_ovr, pr_auc_ovr, ece) = match proba {
        Some(p) => {
            let (roc, pr) = one_vs_rest(y_true, p);
            (roc, pr, Some(expected_calibration_error(y_true, p, 15)))
        }
        None => (None, None, None),
    };
    let curves = proba.map(|p| curves(labels, y_true, p));
    Report {
        accuracy: summary.accuracy,
        macro_precision: summary.macro_precision,
        macro_recall: summary.macro_recall,
        macro_f1: summary.macro_f1,
        weighted_precision: summary.weighted_precision,
        weighted_recall: summary.weighted_recall,
        weighted_f1: summary.weighted_f1,
        per_class: summary.per_class,
        labels: labels.to_vec(),
        confusion,
        roc_auc_ovr,
        pr_auc_ovr,
        ece,
        curves,
    }
}

/// The ROC, PR and reliability curves of `proba` (see [`Curves`]).
pub fn curves(labels: &[String], y_true: &[usize], proba: &[Vec<f32>]) -> Curves {
    let n_classes = proba.first().map_or(0, Vec::len);
    let mut roc = Vec::new();
    let mut pr = Vec::new();
    // Micro average: every (row, class) pair is one binary decision.
    let all_scores: Vec<f64> = proba.iter().flatten().map(|&v| v as f64).collect();
    let all_positive: Vec<bool> = y_true
        .iter()
        .flat_map(|&t| (0..n_classes).map(move |k| k == t))
        .collect();
    let mut push = |name: &str, scores: &[f64], positive: &[bool]| {
        let counts = cumulative_counts(scores, positive);
        let Some(&(p, n)) = counts.last() else { return };
        if p == 0.0 || n == 0.0 {
            return;
        }
        let mut roc_points = vec![(0.0, 0.0)];
        roc_points.extend(counts.iter().map(|&(tp, fp)| (fp / n, tp / p)));
        let mut pr_points = vec![(0.0, 1.0)];
        pr_points.extend(counts.iter().map(|&(tp, fp)| (tp / p, tp / (tp + fp))));
        roc.push(Curve {
            name: name.to_string(),
            points: thin(roc_points),
            area: roc_auc(scores, positive).unwrap_or(f64::NAN),
        });
        pr.push(Curve {
            name: name.to_string(),
            points: thin(pr_points),
            area: average_precision(scores, positive).unwrap_or(f64::NAN),
        });
    };
    push("micro average", &all_scores, &all_positive);
    if n_classes <= MAX_CLASS_CURVES {
        for (k, label) in labels.iter().enumerate().take(n_classes) {
            let scores: Vec<f64> = proba.iter().map(|p| p[k] as f64).collect();
            let positive: Vec<bool> = y_true.iter().map(|&t| t == k).collect();
            push(label, &scores, &positive);
        }
    }
    Curves {
        roc,
        pr,
        reliability: reliability_bins(y_true, proba, 15),
    }
}

/// Keeps at most [`MAX_CURVE_POINTS`], evenly spaced, always the first and last.
fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    if points.len() <= MAX_CURVE_POINTS {
        return points;
    }
    let last = points.len() - 1;
    (0..MAX_CURVE_POINTS)
        .map(|i| points[i * last / (MAX_CURVE_POINTS - 1)])
        .collect()
}

fn one_vs_rest(y_true: &[usize], proba: &[Vec<f32>]) -> (Option<f64>, Option<f64>) {
    let n_classes = proba.first().map_or(0, Vec::len);
    let (mut roc, mut pr, mut counted) = (0.0, 0.0, 0);
    for k in 0..n_classes {
        let scores: Vec<f64> = proba.iter().map(|p| p[k] as f64).collect();
        let positive: Vec<bool> = y_true.iter().map(|&t| t == k).collect();
        if let (Some(r), Some(a)) = (
            roc_auc(&scores, &positive),
            average_precision(&scores, &positive),
        ) {
            roc += r;
            pr += a;
            counted += 1;
        }
    }
    if counted == 0 {
        return (None, None);
    }
    (Some(roc / counted as f64), Some(pr / counted as f64))
}

/// Average precision, `sum_n (R_n - R_{n-1}) P_n` over distinct thresholds, as
/// `sklearn.metrics.average_precision_score`; `None` without positives.
pub fn average_precision(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let counts = cumulative_counts(scores, positive);
    let &(p, n) = counts.last()?;
    if p == 0.0 || n == 0.0 {
        return None;
    }
    let (mut ap, mut prev_recall) = (0.0, 0.0);
    for (tp, fp) in counts {
        let recall = tp / p;
        ap += (recall - prev_recall) * (tp / (tp + fp));
        prev_recall = recall;
    }
    Some(ap)
}

/// Bins of equal width over the top-label confidence; bin `b` holds confidences in
/// `(b/bins, (b+1)/bins]` (a confidence of 0 goes to the first).
pub fn reliability_bins(y_true: &[usize], proba: &[Vec<f32>], bins: usize) -> Vec<ReliabilityBin> {
    let mut count = vec![0u64; bins];
    let mut conf_sum = vec![0.0f64; bins];
    let mut right = vec![0.0f64; bins];
    for (p, &t) in proba.iter().zip(y_true) {
        let k = crate::linear::argmax(p);
        let conf = p[k] as f64;
        let b = ((conf * bins as f64).ceil() as usize).clamp(1, bins) - 1;
        count[b] += 1;
        conf_sum[b] += conf;
        if k == t {
            right[b] += 1.0;
        }
    }
    (0..bins)
        .map(|b| {
            let c = count[b] as f64;
            ReliabilityBin {
                lower: b as f64 / bins as f64,
                upper: (b + 1) as f64 / bins as f64,
                count: count[b],
                mean_confidence: ratio(conf_sum[b], c),
                accuracy: ratio(right[b], c),
            }
        })
        .collect()
}

/// The count-weighted gap between accuracy and confidence over
/// [`reliability_bins`].
pub fn expected_calibration_error(y_true: &[usize], proba: &[Vec<f32>], bins: usize) -> f64 {
    let n = proba.len() as f64;
    reliability_bins(y_true, proba, bins)
        .iter()
        .filter(|b| b.count > 0)
        .map(|b| b.count as f64 / n * (b.accuracy - b.mean_confidence).abs())
        .sum()
}

/// Out-of-scope detection quality: `score` is the in-scope confidence (higher means
/// more likely in scope), `correct` whether the in-scope prediction was right.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OodReport {
    /// AUROC of `-score` for telling out-of-scope rows (positive) from in-scope.
    pub auroc: Option<f64>,
    /// At the chosen threshold: in-scope rows predicted correctly and kept.
    pub in_scope_accuracy: f64,
    /// At the chosen threshold: out-of-scope rows rejected.
    pub oos_recall: f64,
    /// At the chosen threshold: rejected rows that really were out of scope.
    pub oos_precision: f64,
    /// The best out-of-scope recall at any threshold that keeps in-scope accuracy
    /// at or above `target_in_scope_accuracy`.
    pub oos_recall_at_target: Option<f64>,
    pub target_in_scope_accuracy: f64,
    pub threshold: f64,
}

pub fn ood_report(
    score: &[f64],
    correct: &[bool],
    is_oos: &[bool],
    threshold: f64,
    target_in_scope_accuracy: f64,
) -> OodReport {
    let neg: Vec<f64> = score.iter().map(|s| -s).collect();
    let n_in = is_oos.iter().filter(|o| !**o).count() as f64;
    let n_oos = is_oos.len() as f64 - n_in;
    let mut kept_right = 0.0;
    let mut rejected_oos = 0.0;
    let mut rejected = 0.0;
    for ((&s, &c), &o) in score.iter().zip(correct).zip(is_oos) {
        let reject = s < threshold;
        if reject {
            rejected += 1.0;
            if o {
                rejected_oos += 1.0;
            }
        } else if !o && c {
            kept_right += 1.0;
        }
    }
    // Sweep thresholds upward: each step rejects the rows at the next score.
    let mut order: Vec<usize> = (0..score.len()).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]));
    let mut best: Option<f64> = None;
    let mut right_kept: f64 = correct
        .iter()
        .zip(is_oos)
        .filter(|(c, o)| **c && !**o)
        .count() as f64;
    let mut oos_rejected = 0.0;
    let mut i = 0;
    loop {
        if n_in > 0.0 && n_oos > 0.0 && right_kept / n_in >= target_in_scope_accuracy {
            best = Some(best.unwrap_or(0.0).max(oos_rejected / n_oos));
        }
        if i >= order.len() {
            break;
        }
        let s = score[order[i]];
        while i < order.len() && score[order[i]] == s {
            let o = order[i];
            if is_oos[o] {
                oos_rejected += 1.0;
            } else if correct[o] {
                right_kept -= 1.0;
            }
            i += 1;
        }
    }
    OodReport {
        auroc: roc_auc(&neg, is_oos),
        in_scope_accuracy: ratio(kept_right, n_in),
        oos_recall: ratio(rejected_oos, n_oos),
        oos_precision: ratio(rejected_oos, rejected),
        oos_recall_at_target: best,
        target_in_scope_accuracy,
        threshold,
    }
}

/// The threshold that keeps `keep` (e.g. 0.97) of the in-scope `dev_scores`: the
/// dev split has no out-of-scope rows, so the threshold is set from in-scope
/// confidence alone.
pub fn threshold_keeping(dev_scores: &[f64], keep: f64) -> f64 {
    let mut s = dev_scores.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return 0.0;
    }
    let drop = ((1.0 - keep.clamp(0.0, 1.0)) * s.len() as f64).floor() as usize;
    s[drop.min(s.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_of_a_perfect_and_a_reversed_ranking() {
        let s = [0.9, 0.8, 0.3, 0.1];
        assert_eq!(roc_auc(&s, &[true, true, false, false]), Some(1.0));
        assert_eq!(roc_auc(&s, &[false, false, true, true]), Some(0.0));
        assert_eq!(roc_auc(&s, &[true, true, true, true]), None);
        // Ties count half.
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, false]), Some(0.5));
    }

    #[test]
    fn thresholds_keep_the_share_asked_for() {
        let dev: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        assert_eq!(threshold_keeping(&dev, 0.95), 0.05);
        let r = ood_report(
            &[0.9, 0.8, 0.2, 0.1],
            &[true, true, false, false],
            &[false, false, true, true],
            0.5,
            0.9,
        );
        assert_eq!(r.oos_recall, 1.0);
        assert_eq!(r.in_scope_accuracy, 1.0);
        assert_eq!(r.oos_recall_at_target, Some(1.0));
        assert_eq!(r.auroc, Some(1.0));
    }
}
