#!/usr/bin/env bash
# Data-quality checks: `cairn data check` against Pandera 0.35.0 on Polars 2.1.0 over
# the same constraints and the same 10,000,000-row Parquet file, on this machine, in
# one run; then cairn alone over a 2 GiB Parquet file under a 256 MiB memory limit.
# cairn runs with each field's profile (its default) and with --no-profile (the
# constraints alone, what Pandera does). All report wall time and peak RSS (GNU time, the whole process, reading included).
# Figures go to docs/benchmarks.md.
#
#   bash bench/quality.sh                 # ROWS=10000000 BIG_GIB=2 RUNS=3
#
# Pandera goes into .venv-quality once:
#   python3 -m venv .venv-quality
#   .venv-quality/bin/pip install 'pandera[polars]==0.35.0' 'polars==2.1.0' pyarrow
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${DIR:-${TMPDIR:-/tmp}/cairn-quality-bench}"
ROWS="${ROWS:-10000000}"
BIG_GIB="${BIG_GIB:-2}"
RUNS="${RUNS:-3}"
PY="${QUALITY_PYTHON:-$ROOT/.venv-quality/bin/python}"
rm -rf "$DIR"; mkdir -p "$DIR/contracts"
cargo build --release --quiet -p cairn --manifest-path "$ROOT/Cargo.toml"
CAIRN="$ROOT/target/release/cairn"

# Peak RSS (MiB) and wall seconds of a command, from GNU time.
source "$ROOT/bench/measure.sh"

echo "== data: $ROWS rows (Parquet, snappy) and a ${BIG_GIB} GiB file (uncompressed)" >&2
"$PY" "$ROOT/bench/quality_bench.py" data "$DIR" "$ROWS" 42 > "$DIR/expected.json"
"$PY" "$ROOT/bench/quality_bench.py" big "$DIR" "$BIG_GIB" 7 > "$DIR/big.json"

# The constraints Pandera checks (bench/quality_bench.py's schema), as a view.
cat > "$DIR/contracts/rows.yaml" <<YAML
view: rows
source: ../rows.parquet
entity: id
fields:
  id: {type: int, required: true, unique: true}
  score: {type: float, min: 0, max: 1}
  level: {type: int, gt: 0, lt: 10}
  grade: {type: string, accepted_values: [a, b, c]}
  code: {type: string, regex: "^[A-Z]{3}\$", min_length: 3, max_length: 3}
  active: {type: bool, required: true}
YAML
cat > "$DIR/contracts/big.yaml" <<YAML
view: big
source: ../big.parquet
entity: id
fields:
  id: {type: int, required: true}
  x1: {type: float, min: 0, lt: 1}
  x2: {type: float, min: 0, lt: 1}
  x3: {type: float, min: 0, lt: 1}
  x4: {type: float, min: 0, lt: 1}
  x5: {type: float, min: 0, lt: 1}
  x6: {type: float, min: 0, lt: 1}
  x7: {type: float, min: 0, lt: 1}
YAML

# cairn with each field's profile (its default) and with the constraints only, as
# Pandera checks them.
for i in $(seq 1 "$RUNS"); do
  measure "cairn-$i" "$CAIRN" data check rows --contracts-dir "$DIR/contracts" --format json
  measure "cairn-checks-$i" "$CAIRN" data check rows --contracts-dir "$DIR/contracts" \
    --format json --no-profile
  measure "pandera-$i" "$PY" "$ROOT/bench/quality_bench.py" pandera "$DIR/rows.parquet"
done
measure "cairn-big" "$CAIRN" data check big --contracts-dir "$DIR/contracts" --format json \
  --memory-limit-mib 256

# The violations each found, per field and constraint, beside the expected ones.
"$PY" - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
cairn = json.load(open(f"{d}/cairn-1.out"))
found = {}
for f in cairn["views"][0]["fields"]:
    for c in f["constraints"]:
        if c["violations"]:
            found.setdefault(f["field"], {})[c["constraint"]] = c["violations"]
pandera = json.loads(open(f"{d}/pandera-1.out").read().strip().splitlines()[-1])
big = json.load(open(f"{d}/cairn-big.out"))
print(json.dumps({
    "expected": json.load(open(f"{d}/expected.json"))["expected"],
    "cairn": found, "cairn_violations": cairn["violations"], "cairn_rows": cairn["views"][0]["rows"],
    "pandera": pandera["counts"], "pandera_validate_s": pandera["validate_s"],
    "big": json.loads(open(f"{d}/big.json").read()), "big_rows_checked": big["views"][0]["rows"],
    "big_violations": big["violations"],
}, indent=1))
PY
