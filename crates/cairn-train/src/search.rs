//! Hyperparameter samplers: random, and TPE (the `tpe` crate, one optimizer per
//! parameter as Optuna's independent TPE sampler does), started with random
//! trials so its first densities are not built on nothing.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};

use crate::spec::{Param, Sampler, SearchSpec};

/// Trials drawn at random before TPE takes over.
pub fn startup_trials(trials: usize) -> usize {
    (trials / 4).clamp(2, 10)
}

pub struct Search {
    space: Vec<(String, Param)>,
    tpe: Option<Vec<tpe::TpeOptimizer>>,
    rng: rand::rngs::StdRng,
    startup: usize,
    asked: usize,
}

/// A drawn point: the value for the model config, and the raw value TPE was told.
pub struct Point {
    pub values: BTreeMap<String, Value>,
    raw: Vec<f64>,
}

impl Search {
    pub fn new(spec: &SearchSpec) -> Search {
        let space: Vec<(String, Param)> = spec.space.clone().into_iter().collect();
        let tpe = (spec.sampler == Sampler::Tpe).then(|| {
            space
                .iter()
                .map(|(_, p)| {
                    let (lo, hi) = raw_range(p);
                    let range = tpe::range(lo, hi).unwrap_or_else(|_| {
                        tpe::range(lo, lo + f64::EPSILON.max(lo.abs() * 1e-12)).expect("a range")
                    });
                    match p {
                        Param::Choice { .. } => {
                            tpe::TpeOptimizer::new(tpe::histogram_estimator(), range)
                        }
                        Param::Range { .. } => {
                            tpe::TpeOptimizer::new(tpe::parzen_estimator(), range)
                        }
                    }
                })
                .collect()
        });
        Search {
            space,
            tpe,
            rng: rand::rngs::StdRng::seed_from_u64(spec.seed),
            startup: startup_trials(spec.trials),
            asked: 0,
        }
    }

    pub fn ask(&mut self) -> Point {
        let use_tpe = self.asked >= self.startup;
        self.asked += 1;
        let mut raw = Vec::with_capacity(self.space.len());
        let mut values = BTreeMap::new();
        for (i, (key, p)) in self.space.iter().enumerate() {
            let (lo, hi) = raw_range(p);
            let drawn = match (&mut self.tpe, use_tpe) {
                (Some(opts), true) => opts[i].ask(&mut self.rng).unwrap_or(lo),
                _ => {
                    if hi > lo {
                        self.rng.random_range(lo..hi)
                    } else {
                        lo
                    }
                }
            };
            raw.push(drawn);
            values.insert(key.clone(), to_value(p, drawn));
        }
        Point { values, raw }
    }

    /// Reports a finished trial; higher `objective` is better.
    pub fn tell(&mut self, point: &Point, objective: f64) {
        if let Some(opts) = &mut self.tpe {
            for (opt, &raw) in opts.iter_mut().zip(&point.raw) {
                // TPE minimises.
                let _ = opt.tell(raw, -objective);
            }
        }
    }
}

/// The range TPE and the random sampler draw from: log space for `log`, the
/// index of a choice for choices.
fn raw_range(p: &Param) -> (f64, f64) {
    match p {
        Param::Range { low, high, log, .. } if *log => (low.ln(), high.ln()),
        Param::Range { low, high, int, .. } if *int => (*low, high + 1.0),
        Param::Range { low, high, .. } => (*low, *high),
        Param::Choice { choices } => (0.0, choices.len() as f64),
    }
}

fn to_value(p: &Param, raw: f64) -> Value {
    match p {
        Param::Range {
            log,
            int,
            low,
            high,
        } => {
            let v = if *log { raw.exp() } else { raw };
            let v = v.clamp(*low, *high);
            if *int {
                json!(v.floor() as i64)
            } else {
                json!(v)
            }
        }
        Param::Choice { choices } => {
            let i = (raw.floor().max(0.0) as usize).min(choices.len().saturating_sub(1));
            choices.get(i).cloned().unwrap_or(Value::Null)
        }
    }
}

/// Median stopping: a trial is pruned after an epoch when its validation accuracy
/// is below the median that earlier trials had reached by the same epoch.
#[derive(Default)]
pub struct MedianPruner {
    /// epoch -> best-so-far accuracy of each finished trial at that epoch.
    history: BTreeMap<usize, Vec<f64>>,
}

impl MedianPruner {
    /// Fewer finished trials than this never prune anyone.
    const MIN_TRIALS: usize = 3;
    const WARMUP_EPOCHS: usize = 2;

    pub fn should_prune(&self, epoch: usize, best_so_far: f64) -> bool {
        if epoch <= Self::WARMUP_EPOCHS {
            return false;
        }
        match self.history.get(&epoch) {
            Some(v) if v.len() >= Self::MIN_TRIALS => {
                let mut v = v.clone();
                v.sort_by(f64::total_cmp);
                best_so_far < v[v.len() / 2]
            }
            _ => false,
        }
    }

    /// Records a finished trial's curve of best-so-far accuracies (epoch 1 first).
    pub fn record(&mut self, curve: &[f64]) {
        for (i, &a) in curve.iter().enumerate() {
            self.history.entry(i + 1).or_default().push(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpe_concentrates_near_the_optimum() {
        let spec: SearchSpec = serde_norway::from_str(
            "trials: 60\nseed: 3\nspace:\n  x: {low: 0.0, high: 10.0}\n  c: {choices: [a, b, c]}\n",
        )
        .unwrap();
        let mut s = Search::new(&spec);
        let mut late = Vec::new();
        for i in 0..60 {
            let p = s.ask();
            let x = p.values["x"].as_f64().unwrap();
            let bonus = if p.values["c"] == json!("b") {
                1.0
            } else {
                0.0
            };
            s.tell(&p, -(x - 7.0).powi(2) + bonus);
            if i >= 40 {
                late.push((x, p.values["c"].clone()));
            }
        }
        let near = late.iter().filter(|(x, _)| (x - 7.0).abs() < 1.5).count();
        assert!(near >= 12, "late TPE draws near 7: {near} of 20");
        let b = late.iter().filter(|(_, c)| *c == json!("b")).count();
        assert!(b >= 10, "late TPE draws of the better choice: {b} of 20");
    }

    #[test]
    fn log_and_int_ranges_stay_inside() {
        let spec: SearchSpec = serde_norway::from_str(
            "sampler: random\ntrials: 50\nspace:\n  lr: {low: 0.0001, high: 0.1, log: true}\n  n: {low: 1, high: 4, int: true}\n",
        )
        .unwrap();
        let mut s = Search::new(&spec);
        for _ in 0..50 {
            let p = s.ask();
            let lr = p.values["lr"].as_f64().unwrap();
            assert!((0.0001..=0.1).contains(&lr));
            let n = p.values["n"].as_i64().unwrap();
            assert!((1..=4).contains(&n), "{n}");
        }
    }

    #[test]
    fn median_pruning_needs_history() {
        let mut m = MedianPruner::default();
        assert!(!m.should_prune(3, 0.1));
        for c in [[0.5, 0.6, 0.7], [0.5, 0.7, 0.8], [0.4, 0.6, 0.9]] {
            m.record(&c);
        }
        assert!(m.should_prune(3, 0.5));
        assert!(!m.should_prune(3, 0.85));
        assert!(!m.should_prune(2, 0.0), "warm-up epochs are never pruned");
    }
}
