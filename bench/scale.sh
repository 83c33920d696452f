#!/usr/bin/env bash
# Run search at scale (issue 4): seeds RUNS runs (default 100,000) with 20 metrics and 10
# params each through cairn, times a search filtering on a metric and a param and
# ordering by another metric (max_results 100) on cairn, then on `mlflow server` 3.17.2
# over the same database. Every answer is checked against the expected top 100.
#
#   bash bench/scale.sh                        # 100,000 runs, SQLite
#   BACKEND=postgres bash bench/scale.sh       # the same on PostgreSQL (PG_ADMIN below)
#   RUNS=10000 bash bench/scale.sh             # quicker
#   SEED=0 bash bench/scale.sh                 # search again on the last seeded database
#   MLFLOW=0 bash bench/scale.sh               # cairn only
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${CAIRN_PYTHON:-$ROOT/.venv/bin/python}"
BACKEND="${BACKEND:-sqlite}"
DIR="${DIR:-${TMPDIR:-/tmp}/cairn-bench-scale-$BACKEND}"
RUNS="${RUNS:-100000}"
SEED="${SEED:-1}"
MLFLOW="${MLFLOW:-1}"
PG_ADMIN="${PG_ADMIN:-postgresql://postgres@127.0.0.1:5432/test}"
PG_DB="${PG_DB:-cairn_bench_scale}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_200() { for _ in $(seq 1 "$2"); do curl -sf "$1" >/dev/null && return 0; sleep 1; done; return 1; }
PIDS=()
trap 'for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done' EXIT

case "$BACKEND" in
  sqlite)
    CAIRN_URI="sqlite:///$DIR/data/mlflow.db"
    MLFLOW_URI="$CAIRN_URI" ;;
  postgres)
    CAIRN_URI="${PG_ADMIN%/*}/$PG_DB"
    MLFLOW_URI="${CAIRN_URI/postgresql:\/\//postgresql+psycopg://}" ;;
  *) echo "BACKEND is sqlite or postgres" >&2; exit 2 ;;
esac

(cd "$ROOT" && cargo build --release --quiet)
if [ "$SEED" = 1 ]; then
  rm -rf "$DIR"; mkdir -p "$DIR"
  if [ "$BACKEND" = postgres ]; then
    psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB"
  fi
fi
PORT=$(free_port)
"$ROOT/target/release/cairn" server --port "$PORT" --data-dir "$DIR/data" \
  --backend-store-uri "$CAIRN_URI" > "$DIR/cairn.log" 2>&1 &
CPID=$!; PIDS+=("$CPID")
wait_200 "http://127.0.0.1:$PORT/health" 30
if [ "$SEED" = 1 ]; then
  "$PY" "$ROOT/bench/scale.py" --url "http://127.0.0.1:$PORT" seed --runs "$RUNS"
  if [ "$BACKEND" = postgres ]; then psql -q "$CAIRN_URI" -c "VACUUM ANALYZE"; fi
fi
"$PY" "$ROOT/bench/scale.py" --url "http://127.0.0.1:$PORT" search --seconds 20 --label "cairn ($BACKEND)"
kill "$CPID"; wait "$CPID" 2>/dev/null || true

[ "$MLFLOW" = 1 ] || exit 0
PORT=$(free_port)
(cd "$DIR" && exec "$PY" -m mlflow server --backend-store-uri "$MLFLOW_URI" \
   --artifacts-destination "$DIR/data/artifacts" --host 127.0.0.1 --port "$PORT") > "$DIR/mlflow.log" 2>&1 &
MPID=$!; PIDS+=("$MPID")
wait_200 "http://127.0.0.1:$PORT/health" 180
"$PY" "$ROOT/bench/scale.py" --url "http://127.0.0.1:$PORT" search --seconds 120 --max-searches 20 --label "mlflow 3.17.2 ($BACKEND)"
