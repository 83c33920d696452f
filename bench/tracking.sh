#!/usr/bin/env bash
# Benchmarks cairn's tracking API with ../shared/bench/tracking_bench.py, the same harness
# and scenarios as the MLflow baseline, and records start-up time and idle memory.
# With MLFLOW=1 it then runs the same scenarios against `mlflow server` 3.17.2 in the same
# run. Everything listens on 127.0.0.1; every process started here is stopped here.
#
#   bash bench/tracking.sh                       # cairn only
#   MLFLOW=1 bash bench/tracking.sh              # cairn, then mlflow server
#   N=1000 DURATION=3 bash bench/tracking.sh     # quick smoke run
#   CAIRN_ARGS="--backend-store-uri postgresql://postgres@127.0.0.1:5432/bench" bash bench/tracking.sh
#   BEFORE=/tmp/cairn-old MLFLOW=1 bash bench/tracking.sh  # an older build first, for before/after
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
PY="${CAIRN_PYTHON:-$ROOT/.venv/bin/python}"
DIR="${DIR:-${TMPDIR:-/tmp}/cairn-bench}"
N="${N:-10000}"
DURATION="${DURATION:-10}"
CONC="${CONC:-4}"
SCENARIOS="${SCENARIOS:-training_run,log_metric,log_batch_1000,search,get_history}"
OUT="${OUT:-$DIR/results}"
mkdir -p "$OUT"

rss_mib() { awk '/^VmRSS:/{print int($2/1024)}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_200() {  # url, max seconds; prints the seconds it took
  local start end
  start=$(date +%s.%N); end=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; then
      echo "$(date +%s.%N) - $start" | bc; return 0
    fi
    sleep 0.005
  done
  return 1
}

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

(cd "$ROOT" && cargo build --release --quiet)
BIN="$ROOT/target/release/cairn"

# --- cairn (and, with BEFORE=<binary>, an older build first) ------------------------
# One function for both, so a before/after comparison runs the same steps.
bench_cairn() {  # binary, name for files and messages, label
  local bin=$1 name=$2 label=$3 port cpid startup idle
  rm -rf "${DIR:?}/$name"; mkdir -p "$DIR/$name"
  port=$(free_port)
  # shellcheck disable=SC2086 # CAIRN_ARGS holds several words on purpose
  "$bin" server --port "$port" --data-dir "$DIR/$name" ${CAIRN_ARGS:-} > "$DIR/$name.log" 2>&1 &
  cpid=$!; PIDS+=("$cpid")
  startup=$(wait_200 "http://127.0.0.1:$port/health" 30)
  sleep 2
  idle=$(rss_mib "$cpid")
  echo "$name: start to first /health ${startup}s, idle RSS ${idle} MiB"
  echo "{\"startup_s\": $startup, \"idle_rss_mib\": $idle}" > "$OUT/$name-startup.json"
  "$PY" "$SHARED/bench/tracking_bench.py" --url "http://127.0.0.1:$port" --server-pid "$cpid" \
    --scenarios "$SCENARIOS" --duration "$DURATION" --concurrency "$CONC" --search-runs "$N" \
    --seed-concurrency 8 --label "$label" --out "$OUT/$name.json"
  echo "$name: RSS after load $(rss_mib "$cpid") MiB"
  kill "$cpid"; wait "$cpid" 2>/dev/null || true
}

if [ -n "${BEFORE:-}" ]; then
  bench_cairn "$BEFORE" cairn-before "cairn before ($BEFORE)"
fi
bench_cairn "$BIN" cairn "cairn $(git -C "$ROOT" rev-parse --short HEAD)"

# --- mlflow server, same machine, same run -----------------------------------------
if [ "${MLFLOW:-0}" = 1 ]; then
  rm -rf "$DIR/mlflow"; mkdir -p "$DIR/mlflow/artifacts"
  PORT=$(free_port)
  (cd "$DIR/mlflow" && exec "$PY" -m mlflow server --backend-store-uri "sqlite:///$DIR/mlflow/mlflow.db" \
     --artifacts-destination "$DIR/mlflow/artifacts" --host 127.0.0.1 --port "$PORT") > "$DIR/mlflow.log" 2>&1 &
  MPID=$!; PIDS+=("$MPID")
  STARTUP=$(wait_200 "http://127.0.0.1:$PORT/health" 120)
  echo "mlflow: start to first /health ${STARTUP}s"
  "$PY" "$SHARED/bench/tracking_bench.py" --url "http://127.0.0.1:$PORT" --server-pid "$MPID" \
    --scenarios "$SCENARIOS" --duration "$DURATION" --concurrency "$CONC" --search-runs "$N" \
    --seed-concurrency 8 --label "mlflow 3.17.2" --out "$OUT/mlflow.json"
  pkill -P "$MPID" 2>/dev/null || true; kill "$MPID" 2>/dev/null || true
fi
echo "results in $OUT"
