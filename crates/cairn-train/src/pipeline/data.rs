//! Data preparation: reading each task's splits (train, dev or validation, test),
//! encoding the text labels as class indices, and logging the split sizes and
//! sources to the run. Nothing here fits or scores; the task modules (`text`,
//! `tabular`) call it first and hand its splits to the trainers.

use cairn_ml::data::TextExamples;
use cairn_ml::tabular::Table;
use cairn_ml::text_classifier::{classes_of, encode_labels};

use crate::error::Result;
use crate::spec::{TabularSpec, TextSpec};
use crate::tracker::{kv, metric, RunRef, Tracker};

/// The text task's splits, read and label-encoded.
pub(super) struct TextData {
    /// The training rows: all of `data.train`, or nine in ten of them when the
    /// spec names no dev file.
    pub(super) train: TextExamples,
    pub(super) test: TextExamples,
    /// The classes training saw; a label's index here is its class index.
    pub(super) classes: Vec<String>,
    /// The training labels as class indices.
    pub(super) y: Vec<usize>,
    /// The dev rows whose labels training saw (the others cannot steer early
    /// stopping), with their class indices.
    pub(super) dev_texts: Vec<String>,
    pub(super) dev_y: Vec<usize>,
}

/// Reads the text task's train, dev and test files (a tenth of train is held out
/// as dev when the spec names no dev file) and logs their sizes and paths.
pub(super) fn read_text(s: &TextSpec, tracker: &Tracker, parent: &RunRef) -> Result<TextData> {
    let layout = cairn_ml::data::TextFile {
        path: s.data.train.clone(),
        delimiter: s.data.delimiter,
        has_header: s.data.has_header,
        text_column: s.data.text_column.clone(),
        label_column: s.data.label_column.clone(),
        slot_column: s.data.slot_column.clone(),
    };
    let train_all = layout.read()?;
    let test = layout.with_path(s.data.test.clone()).read()?;
    let (train, dev) = match &s.data.dev {
        Some(p) => (train_all, layout.with_path(p.clone()).read()?),
        None => holdout(train_all, 0.1),
    };
    let classes = classes_of(&train.labels);
    let y: Vec<usize> = encode_labels(&classes, &train.labels)
        .into_iter()
        .flatten()
        .collect();
    // Dev rows with labels training never saw cannot steer early stopping.
    let (dev_texts, dev_y): (Vec<String>, Vec<usize>) = dev
        .texts
        .iter()
        .zip(encode_labels(&classes, &dev.labels))
        .filter_map(|(t, y)| y.map(|y| (t.clone(), y)))
        .unzip();
    tracker.log(
        parent,
        &[
            metric("train_rows", train.len() as f64, 0),
            metric("dev_rows", dev_texts.len() as f64, 0),
            metric("test_rows", test.len() as f64, 0),
            metric("classes", classes.len() as f64, 0),
        ],
        &[
            kv("data.train", s.data.train.display().to_string()),
            kv("data.test", s.data.test.display().to_string()),
            kv(
                "data.dev",
                s.data
                    .dev
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "10% of train".into()),
            ),
        ],
        &[],
    )?;
    Ok(TextData {
        train,
        test,
        classes,
        y,
        dev_texts,
        dev_y,
    })
}

/// Every `1 / fraction`-th row (at least every second) goes to dev, the rest to
/// train, slot tags with their rows.
fn holdout(all: TextExamples, fraction: f64) -> (TextExamples, TextExamples) {
    let mut train = TextExamples::default();
    let mut dev = TextExamples::default();
    let every = (1.0 / fraction).round().max(2.0) as usize;
    let mut slots = all.slots.into_iter();
    for (i, (t, l)) in all.texts.into_iter().zip(all.labels).enumerate() {
        let side = if i % every == every - 1 {
            &mut dev
        } else {
            &mut train
        };
        side.texts.push(t);
        side.labels.push(l);
        if let Some(tags) = slots.next() {
            side.slots.push(tags);
        }
    }
    (train, dev)
}

/// Where the training rows go among a run's artifacts.
pub const TRAINING_SET_ARTIFACT: &str = "datasets/train.csv";

/// Keeps the rows the model learns from (the fit and validation parts, label
/// included) with the run, as a CSV artifact, and logs it as the run's dataset input
/// in MLflow's terms (context `training`, source type `mlflow-artifacts`, as
/// `mlflow.log_input` records a dataset in the artifact proxy), so a drift check can
/// take the training data of a model version as its reference (`cairn drift check
/// --reference models:/name@champion`).
fn log_training_set(tracker: &Tracker, run: &RunRef, train: &Table, label: &str) -> Result<()> {
    use sha2::Digest;
    let mut csv = csv::Writer::from_writer(Vec::new());
    // Writing to memory fails only as an I/O error would.
    let write_err = std::io::Error::from;
    csv.write_record(
        train
            .feature_names
            .iter()
            .map(String::as_str)
            .chain([label]),
    )
    .map_err(write_err)?;
    for (row, y) in train.rows.rows().into_iter().zip(&train.labels) {
        csv.write_record(row.iter().map(f64::to_string).chain([y.clone()]))
            .map_err(write_err)?;
    }
    let bytes = csv.into_inner().map_err(|e| e.into_error())?;
    // MLflow's digests are 8 hex characters of a hash of the data; this one hashes
    // the file as written.
    let digest: String = sha2::Sha256::digest(&bytes)
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    let schema = serde_json::json!({
        "mlflow_colspec": train
            .feature_names
            .iter()
            .map(|n| serde_json::json!({"type": "double", "name": n, "required": true}))
            .chain([serde_json::json!({"type": "string", "name": label, "required": true})])
            .collect::<Vec<_>>()
    });
    let profile = serde_json::json!({
        "num_rows": train.labels.len(),
        "num_elements": train.labels.len() * (train.feature_names.len() + 1),
    });
    tracker.upload(run, TRAINING_SET_ARTIFACT, bytes)?;
    let uri = format!(
        "mlflow-artifacts:/{}/{TRAINING_SET_ARTIFACT}",
        run.artifact_path
    );
    let input = cairn_core::entities::DatasetInput {
        tags: vec![kv("mlflow.data.context", "training")],
        dataset: cairn_core::entities::Dataset {
            name: "train".into(),
            digest,
            source_type: "mlflow-artifacts".into(),
            source: serde_json::json!({ "uri": uri }).to_string(),
            schema: Some(schema.to_string()),
            profile: Some(profile.to_string()),
        },
    };
    tracker.block(tracker.client.log_inputs(&run.run_id, &[input]))?;
    Ok(())
}

/// Where the tabular data came from, as the run's params: a contract (with its
/// file's version), the built-in set, or a file.
fn source_params(s: &TabularSpec) -> Vec<cairn_core::entities::KeyValue> {
    if let Some((contract, version)) = &s.data.from_contract {
        return vec![
            kv("data.source", format!("contract:{contract}")),
            kv("data.contract", contract.clone()),
            kv("data.contract_version", version.clone()),
        ];
    }
    let source = s.data.builtin.clone().unwrap_or_else(|| {
        s.data
            .csv
            .as_ref()
            .or(s.data.parquet.as_ref())
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    });
    vec![kv("data.source", source)]
}

/// The tabular task's splits: the model is fitted on `fit_part`, early choices
/// (search trials) are made on `validation`, and `test` is scored once.
pub(super) struct TabularData {
    pub(super) fit_part: Table,
    pub(super) validation: Table,
    pub(super) test: Table,
}

/// Reads the tabular task's table (a CSV or Parquet file, or the built-in wine
/// set), splits it into fit, validation and test parts, and logs their sizes and
/// the source.
pub(super) fn read_tabular(
    s: &TabularSpec,
    tracker: &Tracker,
    parent: &RunRef,
) -> Result<TabularData> {
    let table = match (&s.data.csv, &s.data.parquet) {
        (Some(path), _) => Table::from_csv(path, &s.data.label_column)?,
        (_, Some(path)) => Table::from_parquet(path, &s.data.label_column)?,
        _ => Table::wine_is_high_quality(),
    };
    let (train, test) = table.split(s.data.test_fraction, s.data.seed);
    log_training_set(tracker, parent, &train, &s.data.label_column)?;
    let (fit_part, validation) = train.split(s.data.test_fraction, s.data.seed.wrapping_add(1));
    tracker.log(
        parent,
        &[
            metric("train_rows", fit_part.labels.len() as f64, 0),
            metric("validation_rows", validation.labels.len() as f64, 0),
            metric("test_rows", test.labels.len() as f64, 0),
        ],
        &source_params(s),
        &[],
    )?;
    Ok(TabularData {
        fit_part,
        validation,
        test,
    })
}
