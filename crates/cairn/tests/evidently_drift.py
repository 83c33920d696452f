"""Evidently 0.7.23 beside `cairn drift check`: writes the tests' data sets and runs
Evidently's own DataDriftPreset on them, printing the verdict in cairn's JSON form.

    python evidently_drift.py generate OUT_DIR
    python evidently_drift.py check REFERENCE CURRENT [--stattest ID] [--numerical a,b]
                                   [--categorical c,d] [--threshold T]

`check` uses Evidently's public 0.7 API: `Report([DataDriftPreset(...)],
include_tests=True).run(current, reference)`. Per column, the ValueDrift metric's value
is the score and its config the test (a display name, mapped back to the test's id)
and threshold; the drift flag is the status of that metric's "drift" test (FAIL is
drift). The dataset's count and share are DriftedColumnsCount's value, its verdict the
status of its "lt(drift_share)" test.
"""

import json
import math
import sys
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")


def generate(out):
    def make(n, shift, seed, name):
        r = np.random.default_rng(seed)
        df = pd.DataFrame({
            "num_same": r.normal(0, 1, n),
            "num_shift": r.normal(shift, 1, n),
            "int_few": r.integers(0, 4, n),
            "int_seven": r.integers(0, 7, n),
            "int_many": r.integers(0, 100, n),
            "float_few": r.integers(0, 4, n).astype(float) * 0.5,
            "cat_str": r.choice(["red", "green", "blue"], n,
                                p=[0.5, 0.3, 0.2] if shift == 0 else [0.3, 0.3, 0.4]),
            "bin_str": r.choice(["yes", "no"], n),
            "bool_col": r.random(n) < (0.5 if shift == 0 else 0.6),
            "num_nan": np.where(r.random(n) < 0.2, np.nan, r.normal(0, 1, n)),
            "cat_nan": np.where(r.random(n) < 0.1, None, r.choice(["a", "b", "c"], n)),
        })
        df.to_csv(f"{out}/{name}.csv", index=False)
        df.to_parquet(f"{out}/{name}.parquet", index=False)

    for n in (500, 1000, 1001, 5000):
        make(n, 0, 1, f"ref{n}")
        make(n, 0.3, 2, f"cur{n}")
        make(n, 0, 3, f"same{n}")
    # More than 10,000 current rows: scipy's KS leaves its exact method for the
    # asymptotic distribution.
    make(20000, 0.1, 4, "cur20000")


def check(args):
    from evidently import DataDefinition, Dataset, Report
    from evidently.legacy.calculations.stattests.registry import _registered_stat_tests
    from evidently.presets import DataDriftPreset

    opts = {"stattest": None, "numerical": None, "categorical": None, "threshold": None}
    reference, current, rest = args[0], args[1], args[2:]
    for flag, value in zip(rest[::2], rest[1::2]):
        opts[flag.lstrip("-")] = value
    read = pd.read_parquet if reference.endswith(".parquet") else pd.read_csv
    ref, cur = read(reference), read(current)
    split = lambda v: None if v is None else [c for c in v.split(",") if c]
    num, cat = split(opts["numerical"]), split(opts["categorical"])
    if num is not None or cat is not None:
        definition = DataDefinition(numerical_columns=num, categorical_columns=cat)
        cur = Dataset.from_pandas(cur, data_definition=definition)
        ref = Dataset.from_pandas(ref, data_definition=definition)
    threshold = None if opts["threshold"] is None else float(opts["threshold"])
    preset = DataDriftPreset(method=opts["stattest"], threshold=threshold)
    d = Report([preset], include_tests=True).run(cur, ref).dict()

    ids = {}
    for name, by_type in _registered_stat_tests.items():
        for st in by_type.values():
            ids[st.display_name] = st.name
    tests = {}
    for t in d["tests"]:
        tests.setdefault(t["metric_config"]["metric_id"], []).append(t)
    number = lambda x: None if x is None or math.isnan(float(x)) else float(x)
    out = {"columns": {}}
    for m in d["metrics"]:
        cfg = m["config"]
        if cfg["type"] == "evidently:metric_v2:ValueDrift":
            [drift] = [t for t in tests[m["id"]] if t["id"] == "drift"]
            out["columns"][cfg["column"]] = {
                "stattest": ids.get(cfg["method"], cfg["method"]),
                "score": number(m["value"]),
                "threshold": number(cfg["threshold"]),
                "drift": drift["status"] == "FAIL",
            }
        elif cfg["type"] == "evidently:metric_v2:DriftedColumnsCount":
            [verdict] = [t for t in tests[m["id"]] if t["id"] == "lt"]
            out["drifted_columns"] = int(m["value"]["count"])
            out["share"] = float(m["value"]["share"])
            out["dataset_drift"] = verdict["status"] == "FAIL"
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "generate":
        generate(sys.argv[2])
    else:
        check(sys.argv[2:])
