#!/usr/bin/env bash
# Drift over 1,000,000 rows x 20 columns and online metrics over 1,000,000 logged
# predictions: cairn against Evidently 0.7.23 and scikit-learn on the same data, on
# this machine, in one run. Figures go to docs/benchmarks.md.
#
#   bash bench/drift.sh                   # ROWS=1000000 COLS=20 PREDICTIONS=1000000
#
# Needs the project's .venv (.ci/run installs evidently, pandas<3, scikit-learn).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${DIR:-${TMPDIR:-/tmp}/cairn-drift-bench}"
ROWS="${ROWS:-1000000}"
COLS="${COLS:-20}"
PREDICTIONS="${PREDICTIONS:-1000000}"
PY="${CAIRN_PYTHON:-$ROOT/.venv/bin/python}"
rm -rf "$DIR"; mkdir -p "$DIR"
cargo build --release --quiet -p cairn --manifest-path "$ROOT/Cargo.toml"
CAIRN="$ROOT/target/release/cairn"

# Peak RSS (MiB) and wall seconds of a command, from GNU time.
source "$ROOT/bench/measure.sh"

echo "== data: $ROWS rows x $COLS columns, reference and current (Parquet)" >&2
"$PY" "$ROOT/bench/drift_bench.py" data "$DIR" "$ROWS" "$COLS"

echo "== drift" >&2
measure cairn-drift "$CAIRN" drift check --reference "$DIR/reference.parquet" \
  --current "$DIR/current.parquet" --format json
measure evidently-drift "$PY" "$ROOT/bench/drift_bench.py" evidently \
  "$DIR/reference.parquet" "$DIR/current.parquet"
echo "cairn: $(head -c 300 "$DIR/cairn-drift.out")" >&2
echo "evidently: $(cat "$DIR/evidently-drift.out")" >&2

echo "== online metrics over $PREDICTIONS logged predictions" >&2
"$PY" "$ROOT/bench/drift_bench.py" predictions "$DIR/rows.csv" "$PREDICTIONS"
"$CAIRN" server --port 0 --data-dir "$DIR/server" > "$DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$DIR/server.log" | head -1 || true)
  [ -n "$URL" ] && break; sleep 0.1
done
"$PY" - "$URL" "$DIR/rows.csv" <<'PY'
import json, sys, time, urllib.request
url, path = sys.argv[1], sys.argv[2]
def post(route, body):
    req = urllib.request.Request(url + route, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
rows = [l.strip().split(",") for l in open(path)]
now = int(time.time() * 1000)
start = time.perf_counter()
for i in range(0, len(rows), 10000):
    chunk = rows[i:i + 10000]
    post("/api/2.0/cairn/predictions/log-batch", {"predictions": [
        {"request_id": f"r{e}", "row_index": 0, "model_name": "bench", "model_version": 1,
         "entity_id": f"e{e}", "timestamp_ms": now - 3_600_000, "inputs": {},
         "outputs": {"label": int(p)}} for e, p, _ in chunk]})
    post("/api/2.0/cairn/ground-truth/log-batch", {"ground_truth": [
        {"model_name": "bench", "entity_id": f"e{e}", "label": t} for e, _, t in chunk]})
print(f"loaded {len(rows)} predictions and labels in {time.perf_counter() - start:.1f} s", file=sys.stderr)
PY
for i in 1 2 3; do
  curl -s -o "$DIR/eval.json" -w '{"name": "cairn-online-metrics", "seconds": %{time_total}}\n' \
    "$URL/api/2.0/cairn/evaluations/online?model_name=bench"
done
"$PY" -c "import json; e=json.load(open('$DIR/eval.json')); t=e['versions'][0]['total']; print('cairn: labelled', t['labelled'], 'accuracy', t['classification']['accuracy'])" >&2
measure sklearn-metrics "$PY" "$ROOT/bench/drift_bench.py" sklearn "$DIR/rows.csv"
echo "sklearn: $(cat "$DIR/sklearn-metrics.out")" >&2
