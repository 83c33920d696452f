//! Data drift per column and for the dataset, with Evidently 0.7's defaults exactly:
//! its column typing, its choice of test by type, reference size and number of
//! values, each test's threshold and direction, its missing-value handling and its
//! dataset rule (drift when at least half the columns drift).
//!
//! Evidently types columns from the *current* data; a column only in the reference
//! is left out, one only in the current is an error, as are a column with no value
//! on either side and a test asked for a column type it does not take. Text columns
//! (strings mostly distinct) are drift-checked by Evidently with a trained domain
//! classifier; cairn leaves them out and says so (`skipped`).

use std::collections::HashMap;

use serde::Serialize;

use crate::stattests;
use crate::table::{Table, Values};
use crate::{Error, Result};

/// What a column is for drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Numerical,
    Categorical,
}

/// The tests cairn computes, by Evidently's ids.
pub const STATTESTS: &[&str] = &[
    "ks",
    "wasserstein",
    "jensenshannon",
    "psi",
    "kl_div",
    "chisquare",
    "z",
];

/// How a check runs: Evidently's `DataDriftPreset` arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// One test for every column (`method=`); each column's default when `None`.
    pub stattest: Option<String>,
    /// One threshold for every column; the test's default when `None`.
    pub threshold: Option<f64>,
    /// The numerical columns; inferred when `None` (see `DataDefinition`).
    pub numerical: Option<Vec<String>>,
    /// The categorical columns; inferred when `None`.
    pub categorical: Option<Vec<String>>,
    /// The share of drifting columns from which the dataset drifts.
    pub drift_share: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            stattest: None,
            threshold: None,
            numerical: None,
            categorical: None,
            drift_share: 0.5,
        }
    }
}

/// Both sides' shares of each bin or category, for the report's overlaid histograms.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Distribution {
    /// A bin's lower edge, or a category.
    pub labels: Vec<String>,
    pub reference: Vec<f64>,
    pub current: Vec<f64>,
}

/// One column's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnDrift {
    pub column: String,
    pub kind: Kind,
    /// Evidently's id of the test (`ks`, `wasserstein`, ...).
    pub stattest: String,
    /// A p-value or a distance, by test; NaN where the test has none (never drift).
    pub score: f64,
    pub threshold: f64,
    pub drift: bool,
    /// Values compared on each side (missing and infinite ones dropped).
    pub reference_rows: usize,
    pub current_rows: usize,
    #[serde(skip)]
    pub distribution: Distribution,
}

/// A whole check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// Numerical columns first, then categorical ones, each in file order (as
    /// Evidently lists them).
    pub columns: Vec<ColumnDrift>,
    pub drifted_columns: usize,
    pub share: f64,
    pub dataset_drift: bool,
    pub drift_share: f64,
    /// Columns not checked, and why.
    pub skipped: Vec<(String, String)>,
}

impl DriftReport {
    /// The JSON `cairn drift check --format json` prints.
    pub fn to_json(&self) -> serde_json::Value {
        let columns: serde_json::Map<String, serde_json::Value> = self
            .columns
            .iter()
            .map(|c| {
                (
                    c.column.clone(),
                    serde_json::json!({
                        "stattest": c.stattest,
                        "score": finite(c.score),
                        "threshold": c.threshold,
                        "drift": c.drift,
                    }),
                )
            })
            .collect();
        serde_json::json!({
            "columns": columns,
            "drifted_columns": self.drifted_columns,
            "share": self.share,
            "dataset_drift": self.dataset_drift,
        })
    }
}

fn finite(x: f64) -> serde_json::Value {
    if x.is_finite() {
        serde_json::json!(x)
    } else {
        serde_json::Value::Null
    }
}

/// Whether a score drifts against a threshold (`p <= t`, `p < t` or `d >= t`).
type Rule = fn(f64, f64) -> bool;

/// Columns with their types, and columns left out with why.
type Typed = (Vec<(String, Kind)>, Vec<(String, String)>);

/// The type Evidently infers for a current column, or why it has none.
fn infer(values: &Values) -> std::result::Result<Kind, &'static str> {
    match values {
        Values::Float(_) => Ok(Kind::Numerical),
        Values::Int(v) => {
            let mut distinct: Vec<i64> = v.clone();
            distinct.sort_unstable();
            distinct.dedup();
            Ok(if distinct.len() <= 10 {
                Kind::Categorical
            } else {
                Kind::Numerical
            })
        }
        Values::Bool(_) => Ok(Kind::Categorical),
        Values::Text(v) => {
            let present: Vec<&str> = v.iter().flatten().map(String::as_str).collect();
            if present.is_empty() {
                return Err("no value to type");
            }
            let mut distinct = present.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() as f64 > 0.5 * present.len() as f64 {
                Err(
                    "text (mostly distinct strings): Evidently checks text with a trained \
                     domain classifier, which cairn does not reproduce",
                )
            } else {
                Ok(Kind::Categorical)
            }
        }
        Values::Objects(_) => {
            Err("true/false with missing values (objects, not typed by Evidently)")
        }
    }
}

/// Each current column's type, after the columns the options name.
fn kinds(current: &Table, opts: &Options) -> Result<Typed> {
    let listed = |l: &Option<Vec<String>>| l.iter().flatten().cloned().collect::<Vec<_>>();
    let (num, cat) = (listed(&opts.numerical), listed(&opts.categorical));
    for name in num.iter().chain(&cat) {
        if current.column(name).is_none() {
            return Err(Error::Input(format!(
                "column '{name}' is not in the current data"
            )));
        }
    }
    let mut typed = Vec::new();
    let mut skipped = Vec::new();
    for (name, values) in &current.columns {
        let kind = if num.contains(name) {
            Some(Kind::Numerical)
        } else if cat.contains(name) {
            Some(Kind::Categorical)
        } else {
            match infer(values) {
                // Only the lists not given are inferred.
                Ok(Kind::Numerical) if opts.numerical.is_none() => Some(Kind::Numerical),
                Ok(Kind::Categorical) if opts.categorical.is_none() => Some(Kind::Categorical),
                Ok(_) => None,
                Err(why) => {
                    skipped.push((name.clone(), why.to_string()));
                    None
                }
            }
        };
        if let Some(k) = kind {
            typed.push((name.clone(), k));
        }
    }
    // Evidently lists numerical columns first, then categorical, each in file order.
    typed.sort_by_key(|(_, k)| *k == Kind::Categorical);
    Ok((typed, skipped))
}

/// A category: numbers compare by value (1 and 1.0 are one), strings as text.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Key {
    Bool(bool),
    Num(f64),
    Str(String),
}

impl Key {
    fn label(&self) -> String {
        match self {
            Key::Bool(b) => if *b { "True" } else { "False" }.to_string(),
            Key::Num(x) => format!("{x}"),
            Key::Str(s) => s.clone(),
        }
    }

    fn hash_key(&self) -> (u8, u64, &str) {
        match self {
            Key::Bool(b) => (0, u64::from(*b), ""),
            // -0.0 and 0.0 are one category.
            Key::Num(x) => (1, (if *x == 0.0 { 0.0 } else { *x }).to_bits(), ""),
            Key::Str(s) => (2, 0, s.as_str()),
        }
    }
}

/// A column's present values as categories (missing and infinite ones dropped).
fn categories(name: &str, side: &str, values: &Values) -> Result<Vec<Key>> {
    let keys: Vec<Key> = match values {
        Values::Float(v) => v
            .iter()
            .filter(|x| x.is_finite())
            .map(|&x| Key::Num(x))
            .collect(),
        Values::Int(v) => v.iter().map(|&x| Key::Num(x as f64)).collect(),
        Values::Bool(v) => v.iter().map(|&b| Key::Bool(b)).collect(),
        Values::Text(v) => v.iter().flatten().map(|s| Key::Str(s.clone())).collect(),
        Values::Objects(_) => {
            return Err(Error::Input(format!(
                "column '{name}' in the {side} data mixes true/false with missing values"
            )))
        }
    };
    if keys.is_empty() {
        return Err(Error::Input(format!(
            "column '{name}' has no value in the {side} data (all missing)"
        )));
    }
    Ok(keys)
}

/// A column's present values as numbers, sorted.
fn numbers(name: &str, side: &str, values: &Values) -> Result<Vec<f64>> {
    let mut v: Vec<f64> = match values {
        Values::Float(v) => v.iter().copied().filter(|x| x.is_finite()).collect(),
        Values::Int(v) => v.iter().map(|&x| x as f64).collect(),
        _ => {
            return Err(Error::Input(format!(
                "column '{name}' in the {side} data should contain numerical values only"
            )))
        }
    };
    if v.is_empty() {
        return Err(Error::Input(format!(
            "column '{name}' has no value in the {side} data (all missing)"
        )));
    }
    v.sort_unstable_by(f64::total_cmp);
    Ok(v)
}

fn distinct_sorted(v: &[f64]) -> usize {
    if v.is_empty() {
        return 0;
    }
    1 + v.windows(2).filter(|w| w[0] != w[1]).count()
}

/// Distinct values over two sorted arrays.
fn distinct_union(a: &[f64], b: &[f64]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    let mut last: Option<f64> = None;
    while i < a.len() || j < b.len() {
        let x = if j >= b.len() || (i < a.len() && a[i] <= b[j]) {
            i += 1;
            a[i - 1]
        } else {
            j += 1;
            b[j - 1]
        };
        if last != Some(x) {
            n += 1;
            last = Some(x);
        }
    }
    n
}

/// Evidently's default test (`_get_default_stattest`).
fn default_test(kind: Kind, n_ref: usize, n_values: usize) -> &'static str {
    match (kind, n_ref <= 1000) {
        (Kind::Numerical, true) if n_values > 5 => "ks",
        (Kind::Numerical, true) if n_values > 2 => "chisquare",
        (Kind::Numerical, true) => "z",
        (Kind::Numerical, false) if n_values > 5 => "wasserstein",
        (Kind::Numerical, false) => "jensenshannon",
        (Kind::Categorical, true) if n_values > 2 => "chisquare",
        (Kind::Categorical, true) => "z",
        (Kind::Categorical, false) => "jensenshannon",
    }
}

/// A test's default threshold, and whether a score drifts against a threshold.
fn rule(test: &str) -> (f64, Rule) {
    match test {
        "ks" => (0.05, |p, t| p <= t),
        "chisquare" | "z" => (0.05, |p, t| p < t),
        // wasserstein, jensenshannon, psi, kl_div: distances.
        _ => (0.1, |d, t| d >= t),
    }
}

/// Whether a test takes a column of this kind (Evidently's `allowed_feature_types`).
fn allowed(test: &str, kind: Kind) -> bool {
    match test {
        "ks" | "wasserstein" => kind == Kind::Numerical,
        "chisquare" | "z" => kind == Kind::Categorical,
        _ => true,
    }
}

/// Checks `current` against `reference`.
#[tracing::instrument(level = "debug", skip_all, fields(columns = current.columns.len()))]
pub fn check(reference: &Table, current: &Table, opts: &Options) -> Result<DriftReport> {
    if let Some(t) = &opts.stattest {
        if !STATTESTS.contains(&t.as_str()) {
            return Err(Error::Input(format!(
                "stattest '{t}' is not one of {}",
                STATTESTS.join(", ")
            )));
        }
    }
    if !(opts.drift_share > 0.0 && opts.drift_share <= 1.0) {
        return Err(Error::Input(format!(
            "drift share must be in (0, 1], got {}",
            opts.drift_share
        )));
    }
    let (typed, skipped) = kinds(current, opts)?;
    if typed.is_empty() {
        return Err(Error::Input("no column to check for drift".into()));
    }
    let mut jobs = Vec::new();
    for (name, kind) in &typed {
        let cur = current
            .column(name)
            .ok_or_else(|| Error::Input(format!("column '{name}' vanished")))?;
        let Some(reference) = reference.column(name) else {
            return Err(Error::Input(format!(
                "column '{name}' is in the current data but not in the reference"
            )));
        };
        jobs.push((name.as_str(), *kind, reference, cur));
    }
    // Columns are independent: spread them over the machine's cores.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len());
    let chunk = jobs.len().div_ceil(threads);
    let results: Vec<Result<ColumnDrift>> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|(n, k, r, c)| column(n, *k, r, c, opts))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| vec![Err(Error::Input("a drift thread failed".into()))])
            })
            .collect()
    });
    let columns = results.into_iter().collect::<Result<Vec<_>>>()?;
    let drifted_columns = columns.iter().filter(|c| c.drift).count();
    let share = drifted_columns as f64 / columns.len() as f64;
    Ok(DriftReport {
        dataset_drift: share >= opts.drift_share,
        drifted_columns,
        share,
        drift_share: opts.drift_share,
        columns,
        skipped,
    })
}

fn column(
    name: &str,
    kind: Kind,
    reference: &Values,
    current: &Values,
    opts: &Options,
) -> Result<ColumnDrift> {
    match kind {
        Kind::Numerical => numerical(name, reference, current, opts),
        Kind::Categorical => {
            let r = categories(name, "reference", reference)?;
            let c = categories(name, "current", current)?;
            categorical(name, kind, &r, &c, opts)
        }
    }
}

fn resolve(
    name: &str,
    kind: Kind,
    default: &'static str,
    opts: &Options,
) -> Result<(String, f64, Rule)> {
    let test = opts.stattest.as_deref().unwrap_or(default);
    // Only a test asked for is checked against the column's type: Evidently's own
    // default gives chisquare or z to a numerical column with few values.
    if opts.stattest.is_some() && !allowed(test, kind) {
        return Err(Error::Input(format!(
            "stattest '{test}' does not take {} column '{name}'",
            match kind {
                Kind::Numerical => "numerical",
                Kind::Categorical => "categorical",
            }
        )));
    }
    let (t, drifts) = rule(test);
    Ok((test.to_string(), opts.threshold.unwrap_or(t), drifts))
}

fn numerical(
    name: &str,
    reference: &Values,
    current: &Values,
    opts: &Options,
) -> Result<ColumnDrift> {
    let r = numbers(name, "reference", reference)?;
    let c = numbers(name, "current", current)?;
    let n_values = distinct_union(&r, &c);
    let (test, threshold, drifts) = resolve(
        name,
        Kind::Numerical,
        default_test(Kind::Numerical, r.len(), n_values),
        opts,
    )?;
    let hist = || binned(&r, &c);
    let (score, distribution) = match test.as_str() {
        "ks" => (stattests::ks_2samp_pvalue(&r, &c), hist().2),
        "wasserstein" => (stattests::wasserstein_normed(&r, &c), hist().2),
        "jensenshannon" | "psi" | "kl_div" => {
            let (rp, cp, d) = hist();
            (distance(&test, rp, cp), d)
        }
        // chisquare and z on a numerical column: its distinct values are categories.
        _ => {
            let rk: Vec<Key> = r.iter().map(|&x| Key::Num(x)).collect();
            let ck: Vec<Key> = c.iter().map(|&x| Key::Num(x)).collect();
            return categorical_with(name, Kind::Numerical, &rk, &ck, &test, threshold, drifts);
        }
    };
    Ok(ColumnDrift {
        column: name.to_string(),
        kind: Kind::Numerical,
        stattest: test,
        score,
        threshold,
        drift: drifts(score, threshold),
        reference_rows: r.len(),
        current_rows: c.len(),
        distribution,
    })
}

/// Evidently's `get_binned_data` for a numerical column: Sturges bins over both
/// sides when the reference has more than 20 distinct values, else each distinct
/// value as a category. Shares of each side's rows.
fn binned(r: &[f64], c: &[f64]) -> (Vec<f64>, Vec<f64>, Distribution) {
    if distinct_sorted(r) > 20 {
        let lo = r[0].min(c[0]);
        let hi = r[r.len() - 1].max(c[c.len() - 1]);
        let edges = stattests::sturges_edges(lo, hi, r.len() + c.len(), false);
        let rp: Vec<f64> = stattests::histogram(r, &edges)
            .into_iter()
            .map(|n| n as f64 / r.len() as f64)
            .collect();
        let cp: Vec<f64> = stattests::histogram(c, &edges)
            .into_iter()
            .map(|n| n as f64 / c.len() as f64)
            .collect();
        let labels = edges[..edges.len() - 1]
            .iter()
            .map(|e| format!("{e:.4}"))
            .collect();
        let d = Distribution {
            labels,
            reference: rp.clone(),
            current: cp.clone(),
        };
        (rp, cp, d)
    } else {
        let rk: Vec<Key> = r.iter().map(|&x| Key::Num(x)).collect();
        let ck: Vec<Key> = c.iter().map(|&x| Key::Num(x)).collect();
        let counts = count(&rk, &ck);
        shares(&counts, r.len(), c.len())
    }
}

/// Each category's (reference, current) rows, in sorted category order.
fn count(r: &[Key], c: &[Key]) -> Vec<(Key, f64, f64)> {
    let mut map: HashMap<(u8, u64, String), (Key, f64, f64)> = HashMap::new();
    for (side, keys) in [(0, r), (1, c)] {
        for k in keys {
            let (a, b, s) = k.hash_key();
            let e = map
                .entry((a, b, s.to_string()))
                .or_insert_with(|| (k.clone(), 0.0, 0.0));
            if side == 0 {
                e.1 += 1.0;
            } else {
                e.2 += 1.0;
            }
        }
    }
    let mut out: Vec<_> = map.into_values().collect();
    out.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    out
}

fn shares(
    counts: &[(Key, f64, f64)],
    n_r: usize,
    n_c: usize,
) -> (Vec<f64>, Vec<f64>, Distribution) {
    let rp: Vec<f64> = counts.iter().map(|(_, r, _)| r / n_r as f64).collect();
    let cp: Vec<f64> = counts.iter().map(|(_, _, c)| c / n_c as f64).collect();
    let d = Distribution {
        labels: counts.iter().map(|(k, _, _)| k.label()).collect(),
        reference: rp.clone(),
        current: cp.clone(),
    };
    (rp, cp, d)
}

/// jensenshannon (no smoothing), psi and kl_div (zero shares smoothed) of two
/// share vectors.
fn distance(test: &str, rp: Vec<f64>, cp: Vec<f64>) -> f64 {
    match test {
        "jensenshannon" => stattests::jensenshannon(&rp, &cp),
        "psi" => stattests::psi(&stattests::feel_zeroes(rp), &stattests::feel_zeroes(cp)),
        _ => stattests::kl_div(&stattests::feel_zeroes(rp), &stattests::feel_zeroes(cp)),
    }
}

fn categorical(
    name: &str,
    kind: Kind,
    r: &[Key],
    c: &[Key],
    opts: &Options,
) -> Result<ColumnDrift> {
    let n_values = count(r, c).len();
    let (test, threshold, drifts) =
        resolve(name, kind, default_test(kind, r.len(), n_values), opts)?;
    categorical_with(name, kind, r, c, &test, threshold, drifts)
}

fn categorical_with(
    name: &str,
    kind: Kind,
    r: &[Key],
    c: &[Key],
    test: &str,
    threshold: f64,
    drifts: Rule,
) -> Result<ColumnDrift> {
    let counts = count(r, c);
    let (rp, cp, distribution) = shares(&counts, r.len(), c.len());
    let score = match test {
        "chisquare" => {
            let k = c.len() as f64 / r.len() as f64;
            let exp: Vec<f64> = counts.iter().map(|(_, r, _)| r * k).collect();
            let obs: Vec<f64> = counts.iter().map(|(_, _, c)| *c).collect();
            stattests::chisquare_pvalue(&obs, &exp)
        }
        "z" => {
            if counts.len() == 1 {
                // The same one value on both sides.
                1.0
            } else {
                // "Not the smallest category", on each side.
                let x_r = r.len() as f64 - counts[0].1;
                let x_c = c.len() as f64 - counts[0].2;
                stattests::z_test_pvalue(x_r, r.len() as f64, x_c, c.len() as f64)
            }
        }
        _ => distance(test, rp, cp),
    };
    Ok(ColumnDrift {
        column: name.to_string(),
        kind,
        stattest: test.to_string(),
        score,
        threshold,
        drift: drifts(score, threshold),
        reference_rows: r.len(),
        current_rows: c.len(),
        distribution,
    })
}
