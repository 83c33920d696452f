"""The drift and online-metrics benchmark's Python side (see drift.sh).

    python drift_bench.py data OUT_DIR ROWS COLS      reference/current Parquet files
    python drift_bench.py evidently REF CUR           Evidently 0.7.23's DataDriftPreset
    python drift_bench.py predictions OUT ROWS        1M logged predictions + labels (JSON lines)
    python drift_bench.py sklearn ROWS_FILE           scikit-learn's metrics on the same rows

Each timing command prints one JSON line: {"seconds": ..., ...}.
"""

import json
import sys
import time

import numpy as np
import pandas as pd


def data(out, rows, cols):
    r = np.random.default_rng(0)
    ref = pd.DataFrame({f"f{i}": r.normal(0, 1, rows) for i in range(cols)})
    # Half the columns move a little, so half are drift and half not.
    cur = pd.DataFrame({f"f{i}": r.normal(0.15 if i % 2 else 0.0, 1, rows) for i in range(cols)})
    ref.to_parquet(f"{out}/reference.parquet", index=False)
    cur.to_parquet(f"{out}/current.parquet", index=False)


def evidently(ref_path, cur_path):
    import warnings
    warnings.filterwarnings("ignore")
    from evidently import Report
    from evidently.presets import DataDriftPreset
    start = time.perf_counter()
    ref, cur = pd.read_parquet(ref_path), pd.read_parquet(cur_path)
    read = time.perf_counter() - start
    snap = Report([DataDriftPreset()], include_tests=True).run(cur, ref)
    d = snap.dict()
    total = time.perf_counter() - start
    count = [m for m in d["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount")][0]
    print(json.dumps({"seconds": total, "read_seconds": read, "drifted": count["value"]["count"]}))


def predictions(out, rows):
    r = np.random.default_rng(1)
    truth = r.integers(0, 3, rows)
    noise = r.random(rows)
    pred = np.where(noise < 0.8, truth, r.integers(0, 3, rows))
    with open(out, "w") as f:
        for i in range(rows):
            f.write(f"{i},{pred[i]},{truth[i]}\n")


def sklearn(path):
    from sklearn import metrics as m
    rows = np.loadtxt(path, delimiter=",", dtype=np.int64)
    y_pred, y_true = rows[:, 1], rows[:, 2]
    start = time.perf_counter()
    acc = m.accuracy_score(y_true, y_pred)
    m.precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    m.precision_recall_fscore_support(y_true, y_pred, average="weighted", zero_division=0)
    m.precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    m.confusion_matrix(y_true, y_pred)
    print(json.dumps({"seconds": time.perf_counter() - start, "accuracy": acc}))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "data":
        data(args[0], int(args[1]), int(args[2]))
    elif cmd == "evidently":
        evidently(args[0], args[1])
    elif cmd == "predictions":
        predictions(args[0], int(args[1]))
    else:
        sklearn(args[0])
