//! Multinomial logistic regression on sparse rows, trained by mini-batch Adam with
//! lazy updates: a batch touches only the weight rows of the features it holds,
//! so an epoch over TF-IDF rows costs their non-zeros, not the vocabulary size.
//! Hand-written because the linear models in linfa and smartcore take dense
//! matrices, which for a 100k-term vocabulary and 150 classes do not fit.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::sparse::Csr;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearConfig {
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    /// L2 penalty on the weights (not the biases).
    #[serde(default = "default_l2")]
    pub l2: f64,
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// Stop when the dev loss has not improved for this many epochs (and keep the
    /// best epoch's weights).
    #[serde(default = "default_patience")]
    pub patience: usize,
    #[serde(default)]
    pub seed: u64,
    /// How much each training row counts in the loss, by its class.
    #[serde(default)]
    pub class_weight: ClassWeight,
}

/// Per-class loss weights, as scikit-learn's `class_weight`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassWeight {
    /// Every row counts once.
    #[default]
    None,
    /// A row of class `c` counts `n / (k * n_c)`: each class weighs the same in
    /// total. Skewed label sets (ATIS: three quarters `atis_flight`, a multi-intent
    /// label with 19 rows) otherwise lose their small classes to the large one.
    Balanced,
    /// The square root of `balanced`'s weights: small classes count more, but a
    /// class 170 times rarer only 13 times more, not 170 (square-root inverse
    /// frequency), gentler on the large class's accuracy.
    SqrtBalanced,
}

impl ClassWeight {
    /// One weight per class for the labels `y` (a class absent from `y` gets 1).
    pub fn weights(self, y: &[usize], n_classes: usize) -> Vec<f64> {
        match self {
            ClassWeight::None => vec![1.0; n_classes],
            ClassWeight::SqrtBalanced => ClassWeight::Balanced
                .weights(y, n_classes)
                .into_iter()
                .map(f64::sqrt)
                .collect(),
            ClassWeight::Balanced => {
                let mut counts = vec![0usize; n_classes];
                for &t in y {
                    counts[t] += 1;
                }
                let present = counts.iter().filter(|&&n| n > 0).count().max(1);
                counts
                    .iter()
                    .map(|&n| {
                        if n == 0 {
                            1.0
                        } else {
                            y.len() as f64 / (present * n) as f64
                        }
                    })
                    .collect()
            }
        }
    }
}

fn default_epochs() -> usize {
    30
}
fn default_lr() -> f64 {
    0.02
}
fn default_l2() -> f64 {
    1e-6
}
fn default_batch() -> usize {
    32
}
fn default_patience() -> usize {
    4
}

impl Default for LinearConfig {
    fn default() -> Self {
        LinearConfig {
            epochs: default_epochs(),
            learning_rate: default_lr(),
            l2: default_l2(),
            batch_size: default_batch(),
            patience: default_patience(),
            seed: 0,
            class_weight: ClassWeight::None,
        }
    }
}

/// Weights `n_features x n_classes`, row-major, and one bias per class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SoftmaxRegression {
    pub n_features: usize,
    pub n_classes: usize,
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

/// What one epoch did, for logging and for stopping a hopeless trial.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochReport {
    pub epoch: usize,
    pub train_loss: f64,
    pub dev_loss: Option<f64>,
    pub dev_accuracy: Option<f64>,
}

/// The caller's verdict after each epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continue {
    Yes,
    /// Stop now (a pruned search trial).
    Stop,
}

impl SoftmaxRegression {
    pub fn zeros(n_features: usize, n_classes: usize) -> Self {
        SoftmaxRegression {
            n_features,
            n_classes,
            weights: vec![0.0; n_features * n_classes],
            bias: vec![0.0; n_classes],
        }
    }

    fn logits_into(&self, idx: &[u32], val: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        let c = self.n_classes;
        for (&j, &v) in idx.iter().zip(val) {
            let w = &self.weights[j as usize * c..(j as usize + 1) * c];
            for (o, wk) in out.iter_mut().zip(w) {
                *o += v * wk;
            }
        }
    }

    /// Class probabilities, one row of `n_classes` per input row.
    pub fn predict_proba(&self, x: &Csr) -> Vec<Vec<f32>> {
        let mut buf = vec![0.0; self.n_classes];
        (0..x.n_rows())
            .map(|i| {
                let (idx, val) = x.row(i);
                self.logits_into(idx, val, &mut buf);
                softmax_in_place(&mut buf);
                buf.clone()
            })
            .collect()
    }

    /// Mean cross-entropy and accuracy of `x` against class indices `y`.
    pub fn loss_and_accuracy(&self, x: &Csr, y: &[usize]) -> (f64, f64) {
        let probs = self.predict_proba(x);
        let mut loss = 0.0;
        let mut right = 0usize;
        for (p, &t) in probs.iter().zip(y) {
            loss -= (p[t].max(1e-12) as f64).ln();
            if argmax(p) == t {
                right += 1;
            }
        }
        let n = y.len().max(1) as f64;
        (loss / n, right as f64 / n)
    }

    /// Trains on `x`/`y` (class indices below `n_classes`), reporting each epoch to
    /// `on_epoch`; with `dev`, keeps the weights of the epoch with the lowest dev loss.
    pub fn fit(
        x: &Csr,
        y: &[usize],
        n_classes: usize,
        dev: Option<(&Csr, &[usize])>,
        config: &LinearConfig,
        mut on_epoch: impl FnMut(&EpochReport) -> Continue,
    ) -> SoftmaxRegression {
        let c = n_classes;
        let f = x.n_cols;
        let mut model = SoftmaxRegression::zeros(f, c);
        let mut adam = LazyAdam::new(f * c, c, config.learning_rate as f32);
        let mut grad = vec![0.0f32; f * c];
        let mut grad_bias = vec![0.0f32; c];
        let mut touched: Vec<u32> = Vec::new();
        let mut is_touched = vec![false; f];
        let mut probs = vec![0.0f32; c];
        let mut order: Vec<usize> = (0..x.n_rows()).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(config.seed);
        let l2 = config.l2 as f32;
        let batch = config.batch_size.max(1);
        let mut best: Option<(f64, SoftmaxRegression)> = None;
        let mut since_best = 0;
        let row_weights: Vec<f32> = (config.class_weight.weights(y, c).into_iter())
            .map(|w| w as f32)
            .collect();
        for epoch in 1..=config.epochs {
            order.shuffle(&mut rng);
            let mut train_loss = 0.0f64;
            for chunk in order.chunks(batch) {
                let scale = 1.0 / chunk.len() as f32;
                grad_bias.iter_mut().for_each(|g| *g = 0.0);
                for &i in chunk {
                    let (idx, val) = x.row(i);
                    model.logits_into(idx, val, &mut probs);
                    softmax_in_place(&mut probs);
                    let w = row_weights[y[i]];
                    train_loss -= w as f64 * (probs[y[i]].max(1e-12) as f64).ln();
                    probs[y[i]] -= 1.0;
                    probs.iter_mut().for_each(|p| *p *= w);
                    for (g, p) in grad_bias.iter_mut().zip(&probs) {
                        *g += p * scale;
                    }
                    for (&j, &v) in idx.iter().zip(val) {
                        let j = j as usize;
                        if !is_touched[j] {
                            is_touched[j] = true;
                            touched.push(j as u32);
                        }
                        let g = &mut grad[j * c..(j + 1) * c];
                        for (gk, p) in g.iter_mut().zip(&probs) {
                            *gk += v * p * scale;
                        }
                    }
                }
                adam.step_bias(&mut model.bias, &grad_bias);
                for &j in &touched {
                    let j = j as usize;
                    let rows = j * c..(j + 1) * c;
                    for (g, w) in grad[rows.clone()]
                        .iter_mut()
                        .zip(&model.weights[rows.clone()])
                    {
                        *g += l2 * w;
                    }
                    adam.step_rows(&mut model.weights, &grad, rows.clone());
                    grad[rows].iter_mut().for_each(|g| *g = 0.0);
                    is_touched[j] = false;
                }
                adam.tick();
                touched.clear();
            }
            let mut report = EpochReport {
                epoch,
                train_loss: train_loss / x.n_rows().max(1) as f64,
                dev_loss: None,
                dev_accuracy: None,
            };
            if let Some((dx, dy)) = dev {
                // Unweighted: the small classes have a handful of dev rows, and their
                // weighted loss would stop training on those few rows' noise.
                let (loss, acc) = model.loss_and_accuracy(dx, dy);
                report.dev_loss = Some(loss);
                report.dev_accuracy = Some(acc);
                if best.as_ref().is_none_or(|(b, _)| loss < *b) {
                    best = Some((loss, model.clone()));
                    since_best = 0;
                } else {
                    since_best += 1;
                }
            }
            if on_epoch(&report) == Continue::Stop
                || (dev.is_some() && config.patience > 0 && since_best >= config.patience)
            {
                break;
            }
        }
        best.map(|(_, m)| m).unwrap_or(model)
    }
}

/// Adam whose step counter advances per batch while each weight row keeps its own
/// moments; rows a batch does not touch are left as they are (TensorFlow's LazyAdam).
struct LazyAdam {
    m: Vec<f32>,
    v: Vec<f32>,
    mb: Vec<f32>,
    vb: Vec<f32>,
    lr: f32,
    t: i32,
}

const BETA1: f32 = 0.9;
const BETA2: f32 = 0.999;
const EPS: f32 = 1e-8;

impl LazyAdam {
    fn new(n: usize, n_bias: usize, lr: f32) -> Self {
        LazyAdam {
            m: vec![0.0; n],
            v: vec![0.0; n],
            mb: vec![0.0; n_bias],
            vb: vec![0.0; n_bias],
            lr,
            t: 1,
        }
    }

    fn step_size(&self) -> f32 {
        self.lr * (1.0 - BETA2.powi(self.t)).sqrt() / (1.0 - BETA1.powi(self.t))
    }

    fn step_rows(&mut self, w: &mut [f32], g: &[f32], rows: std::ops::Range<usize>) {
        let lr = self.step_size();
        for k in rows {
            self.m[k] = BETA1 * self.m[k] + (1.0 - BETA1) * g[k];
            self.v[k] = BETA2 * self.v[k] + (1.0 - BETA2) * g[k] * g[k];
            w[k] -= lr * self.m[k] / (self.v[k].sqrt() + EPS);
        }
    }

    fn step_bias(&mut self, b: &mut [f32], g: &[f32]) {
        let lr = self.step_size();
        for k in 0..b.len() {
            self.mb[k] = BETA1 * self.mb[k] + (1.0 - BETA1) * g[k];
            self.vb[k] = BETA2 * self.vb[k] + (1.0 - BETA2) * g[k] * g[k];
            b[k] -= lr * self.mb[k] / (self.vb[k].sqrt() + EPS);
        }
    }

    fn tick(&mut self) {
        self.t = self.t.saturating_add(1);
    }
}

pub fn softmax_in_place(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}

pub fn argmax(p: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_separable_problem() {
        // Feature k marks class k % 3.
        let mut x = Csr::new(6);
        let mut y = Vec::new();
        for i in 0..60 {
            x.push_row([((i % 6) as u32, 1.0)]);
            y.push(i % 3);
        }
        let config = LinearConfig {
            epochs: 20,
            learning_rate: 0.1,
            ..Default::default()
        };
        let mut epochs = 0;
        let m = SoftmaxRegression::fit(&x, &y, 3, Some((&x, &y)), &config, |r| {
            epochs = r.epoch;
            Continue::Yes
        });
        let (_, acc) = m.loss_and_accuracy(&x, &y);
        assert_eq!(acc, 1.0);
        assert!(epochs > 1);
        let mut stopped_at = 0;
        SoftmaxRegression::fit(&x, &y, 3, None, &config, |r| {
            stopped_at = r.epoch;
            Continue::Stop
        });
        assert_eq!(stopped_at, 1);
    }

    #[test]
    fn balanced_weights_match_scikit_learn() {
        // sklearn.utils.class_weight.compute_class_weight("balanced", classes=[0, 1, 2],
        // y=[0]*6 + [1]*3 + [2]) == [0.5556, 1.1111, 3.3333]; class 3 never occurs.
        let y = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2];
        let w = ClassWeight::Balanced.weights(&y, 4);
        let want = [10.0 / 18.0, 10.0 / 9.0, 10.0 / 3.0, 1.0];
        for (a, b) in w.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{w:?}");
        }
        assert_eq!(ClassWeight::None.weights(&y, 2), [1.0, 1.0]);
        let sqrt = ClassWeight::SqrtBalanced.weights(&y, 4);
        assert!((sqrt[2] - (10.0f64 / 3.0).sqrt()).abs() < 1e-12, "{sqrt:?}");
    }

    #[test]
    fn balanced_weights_win_back_a_small_class() {
        // Feature 0 is on every row; feature 1 on all 10 rows of class 1 and on 20 of
        // class 0's 90. Unweighted, a row with both is class 0 two times in three;
        // balanced, class 1's rows count 9 times as much and it wins.
        let mut x = Csr::new(2);
        let mut y = Vec::new();
        for i in 0..100 {
            if i < 20 {
                x.push_row([(0, 1.0), (1, 1.0)]);
                y.push(0);
            } else if i < 90 {
                x.push_row([(0, 1.0)]);
                y.push(0);
            } else {
                x.push_row([(0, 1.0), (1, 1.0)]);
                y.push(1);
            }
        }
        let mut probe = Csr::new(2);
        probe.push_row([(0, 1.0), (1, 1.0)]);
        let fit = |class_weight| {
            let config = LinearConfig {
                epochs: 40,
                learning_rate: 0.05,
                class_weight,
                ..Default::default()
            };
            let m = SoftmaxRegression::fit(&x, &y, 2, None, &config, |_| Continue::Yes);
            argmax(&m.predict_proba(&probe)[0])
        };
        assert_eq!(fit(ClassWeight::None), 0);
        assert_eq!(fit(ClassWeight::Balanced), 1);
    }
}
