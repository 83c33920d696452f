#!/usr/bin/env bash
# Run search at scale (issue 4): seeds RUNS runs (default 100,000) with 20 metrics and 10
# params each through cairn, times a search filtering on a metric and a param and
# ordering by another metric (max_results 100) on cairn, then on `mlflow server` 3.17.2
# over the same database file. Every answer is checked against the expected top 100.
#
#   bash bench/scale.sh                 # 100,000 runs, SQLite
#   RUNS=10000 bash bench/scale.sh      # quicker
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${CAIRN_PYTHON:-$ROOT/.venv/bin/python}"
DIR="${DIR:-${TMPDIR:-/tmp}/cairn-bench-scale}"
RUNS="${RUNS:-100000}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_200() { for _ in $(seq 1 "$2"); do curl -sf "$1" >/dev/null && return 0; sleep 1; done; return 1; }
PIDS=()
trap 'for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done' EXIT

(cd "$ROOT" && cargo build --release --quiet)
rm -rf "$DIR"; mkdir -p "$DIR"
PORT=$(free_port)
"$ROOT/target/release/cairn" server --port "$PORT" --data-dir "$DIR/data" > "$DIR/cairn.log" 2>&1 &
CPID=$!; PIDS+=("$CPID")
wait_200 "http://127.0.0.1:$PORT/health" 30
"$PY" "$ROOT/bench/scale.py" --url "http://127.0.0.1:$PORT" seed --runs "$RUNS"
"$PY" "$ROOT/bench/scale.py" --url "http://127.0.0.1:$PORT" search --seconds 20 --label cairn
kill "$CPID"; wait "$CPID" 2>/dev/null || true

PORT=$(free_port)
(cd "$DIR" && exec "$PY" -m mlflow server --backend-store-uri "sqlite:///$DIR/data/mlflow.db" \
   --artifacts-destination "$DIR/data/artifacts" --host 127.0.0.1 --port "$PORT") > "$DIR/mlflow.log" 2>&1 &
MPID=$!; PIDS+=("$MPID")
wait_200 "http://127.0.0.1:$PORT/health" 180
"$PY" "$ROOT/bench/scale.py" --url "http://127.0.0.1:$PORT" search --seconds 120 --max-searches 20 --label "mlflow 3.17.2"
