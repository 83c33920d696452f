#!/usr/bin/env bash
# Benchmarks cairn's jobs against Prefect 3.9.1 on this machine, in one run: start time
# and idle RSS of each server, trigger-to-start latency of a trivial step, and
# throughput of many trivial runs with two workers. Everything listens on 127.0.0.1;
# every process started here is stopped here. Figures go to docs/benchmarks.md.
#
#   bash bench/jobs.sh                          # both; Prefect from .venv-prefect
#   RUNS=1000 PREFECT_RUNS=100 bash bench/jobs.sh
#
# Prefect is installed once into .venv-prefect (pip install prefect==3.9.1).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${DIR:-${TMPDIR:-/tmp}/cairn-jobs-bench}"
RUNS="${RUNS:-1000}"
PREFECT_RUNS="${PREFECT_RUNS:-100}"
LATENCY_RUNS="${LATENCY_RUNS:-30}"
PREFECT_VENV="${PREFECT_VENV:-$ROOT/.venv-prefect}"
OUT="${OUT:-$DIR/results}"
rm -rf "$DIR"; mkdir -p "$DIR" "$OUT"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# RSS of a process and all its descendants, MiB.
tree_rss_mib() {
  local pids
  pids=$(ps -o pid= --ppid "$1" 2>/dev/null; echo "$1")
  for p in $(pstree -p "$1" 2>/dev/null | grep -o '([0-9]*)' | tr -d '()'); do pids="$pids $p"; done
  ps -o rss= -p "$(echo "$pids" | tr ' \n' ',,' | sed 's/,,*/,/g; s/^,//; s/,$//')" 2>/dev/null | awk '{s+=$1} END {print int(s/1024)}'
}
wait_200() {  # url, max seconds; prints the seconds it took
  local start end
  start=$(date +%s.%N); end=$(( $(date +%s) + $2 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; then
      echo "$(date +%s.%N) - $start" | bc; return 0
    fi
    sleep 0.01
  done
  return 1
}

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# --- cairn ---------------------------------------------------------------------------
(cd "$ROOT" && cargo build --release --quiet -p cairn)
BIN="$ROOT/target/release/cairn"
mkdir -p "$DIR/cairn/jobs"
STARTS="$DIR/cairn-starts"
cat > "$DIR/cairn/jobs/bench.yaml" <<EOF
name: bench-trivial
steps:
  - name: trivial
    kind: command
    argv: [sh, -c, 'date +%s%N >> $STARTS']
EOF
port=$(free_port)
"$BIN" server --port "$port" --data-dir "$DIR/cairn/data" --jobs-dir "$DIR/cairn/jobs" \
  --worker-slots 4 > "$DIR/cairn.log" 2>&1 &
cpid=$!; PIDS+=("$cpid")
startup=$(wait_200 "http://127.0.0.1:$port/health" 30)
sleep 2
idle=$(tree_rss_mib "$cpid")
echo "cairn: start to first /health ${startup}s, idle RSS ${idle} MiB"
echo "{\"startup_s\": $startup, \"idle_rss_mib\": $idle}" > "$OUT/cairn-server.json"
# Latency: the server's embedded worker (woken in process by the trigger).
python3 "$ROOT/bench/jobs_bench.py" cairn --url "http://127.0.0.1:$port" --starts "$STARTS" \
  --phase latency --latency-runs "$LATENCY_RUNS" | tail -1 > "$OUT/cairn-latency.json"
kill "$cpid"; wait "$cpid" 2>/dev/null || true
# Throughput: two `cairn worker` processes (4 slots each), none in the server.
rm -f "$STARTS"
"$BIN" server --port "$port" --data-dir "$DIR/cairn/data2" --jobs-dir "$DIR/cairn/jobs" \
  --worker-slots 0 > "$DIR/cairn2.log" 2>&1 &
cpid=$!; PIDS+=("$cpid")
wait_200 "http://127.0.0.1:$port/health" 30 > /dev/null
for w in 1 2; do
  "$BIN" worker --tracking-uri "http://127.0.0.1:$port" --slots 4 --name "w$w" \
    --scratch "$DIR/scratch-w$w" > "$DIR/worker$w.log" 2>&1 &
  PIDS+=("$!")
done
sleep 1
# Latency again, through the workers on the REST API (long-polling claims): what
# Prefect's separate worker processes compare with.
python3 "$ROOT/bench/jobs_bench.py" cairn --url "http://127.0.0.1:$port" --starts "$STARTS" \
  --phase latency --latency-runs "$LATENCY_RUNS" | tail -1 > "$OUT/cairn-latency-workers.json"
rm -f "$STARTS"
python3 "$ROOT/bench/jobs_bench.py" cairn --url "http://127.0.0.1:$port" --starts "$STARTS" \
  --phase throughput --runs "$RUNS" | tail -1 > "$OUT/cairn-throughput.json"
kill "$cpid"; wait "$cpid" 2>/dev/null || true
cleanup; PIDS=()

# --- Prefect 3.9.1 -------------------------------------------------------------------
if [ ! -x "$PREFECT_VENV/bin/prefect" ]; then
  python3 -m venv "$PREFECT_VENV"
  "$PREFECT_VENV/bin/pip" install --quiet --disable-pip-version-check prefect==3.9.1
fi
PY="$PREFECT_VENV/bin/python"
export PREFECT_HOME="$DIR/prefect-home"
STARTS="$DIR/prefect-starts"
mkdir -p "$DIR/prefect-flows"
cat > "$DIR/prefect-flows/flows.py" <<EOF
import time
from prefect import flow

@flow(log_prints=False)
def trivial():
    with open("$STARTS", "a") as f:
        f.write(f"{time.time_ns()}\n")
EOF
pport=$(free_port)
export PREFECT_API_URL="http://127.0.0.1:$pport/api"
export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_UI_ENABLED=false
"$PREFECT_VENV/bin/prefect" server start --host 127.0.0.1 --port "$pport" > "$DIR/prefect-server.log" 2>&1 &
ppid=$!; PIDS+=("$ppid")
startup=$(wait_200 "http://127.0.0.1:$pport/api/health" 120)
sleep 2
idle=$(tree_rss_mib "$ppid")
echo "prefect: start to first /api/health ${startup}s, idle RSS ${idle} MiB"
echo "{\"startup_s\": $startup, \"idle_rss_mib\": $idle}" > "$OUT/prefect-server.json"
"$PREFECT_VENV/bin/prefect" work-pool create bench --type process > /dev/null
(cd "$DIR/prefect-flows" && "$PY" -c "
from prefect import flow
flow.from_source(source='.', entrypoint='flows.py:trivial').deploy(name='bench', work_pool_name='bench')
") > "$DIR/prefect-deploy.log" 2>&1
for w in 1 2; do
  (cd "$DIR/prefect-flows" && "$PREFECT_VENV/bin/prefect" worker start --pool bench --limit 4 \
    --name "w$w" > "$DIR/prefect-worker$w.log" 2>&1) &
  PIDS+=("$!")
done
sleep 5
"$PY" "$ROOT/bench/jobs_bench.py" prefect --deployment trivial/bench --starts "$STARTS" \
  --phase latency --latency-runs "$LATENCY_RUNS" | tail -1 > "$OUT/prefect-latency.json"
"$PY" "$ROOT/bench/jobs_bench.py" prefect --deployment trivial/bench --starts "$STARTS" \
  --phase throughput --runs "$PREFECT_RUNS" --latency-runs "$LATENCY_RUNS" | tail -1 > "$OUT/prefect-throughput.json"
echo "results in $OUT"
for f in "$OUT"/*.json; do echo "$(basename "$f"): $(cat "$f")"; done
