#!/usr/bin/env bash
# Serving benchmark: one ONNX model (scikit-learn LogisticRegression on iris, through
# skl2onnx, logged with mlflow.onnx.log_model by the stock client) served from
# models:/iris@champion by `cairn serve` and by `mlflow models serve --env-manager
# local`, loaded with wrk over HTTP/1.1 keep-alive at concurrency 1 and 8.
#
#   bash bench/serving.sh                 # both servers, 10 s per load
#   DURATION=20 bash bench/serving.sh
#   CAIRN_SERVE_ARGS=--no-prediction-log bash bench/serving.sh
#   SHADOW=1 bash bench/serving.sh        # the champion alone, then with a shadow
#                                         # challenger (--shadow), ROUNDS times each
#   PACE_MS=2 SHADOW=1 bash bench/serving.sh   # each connection pauses 2 ms between
#                                         # requests (wrk's delay()): a paced load
#
# Needs: a release build (cargo build --release -p cairn), .venv with mlflow 3.17.2,
# onnx, onnxruntime, skl2onnx and scikit-learn (as .ci/run makes it), and wrk
# (Debian package `wrk`). The load generator shares the machine's cores with the
# servers, as in ../shared/bench/baseline-mlflow.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
CAIRN="${CAIRN:-$ROOT/target/release/cairn}"
DURATION="${DURATION:-10}"
MLFLOW="${MLFLOW:-1}"
SHADOW="${SHADOW:-0}"
ROUNDS="${ROUNDS:-3}"
DIR="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT

command -v wrk > /dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }
[ -x "$CAIRN" ] || { echo "$CAIRN is missing: cargo build --release -p cairn" >&2; exit 1; }

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_200() {
  local url=$1 limit=$2 start
  start=$(date +%s)
  until curl -sf -o /dev/null "$url"; do
    if (( $(date +%s) - start > limit )); then echo "no 200 from $url in ${limit}s" >&2; return 1; fi
    sleep 0.05
  done
}
# Resident memory of a process and all its descendants, in MiB.
tree_rss() {
  local pids=("$1") all=() p
  while ((${#pids[@]})); do
    p=${pids[0]}; pids=("${pids[@]:1}"); all+=("$p")
    for c in $(pgrep -P "$p" || true); do pids+=("$c"); done
  done
  ps -o rss= -p "$(IFS=,; echo "${all[*]}")" | awk '{s+=$1} END {printf "%.0f", s/1024}'
}

TRACK_PORT=$(free_port)
setsid ${TRACKING_NICE:+nice -n "$TRACKING_NICE"} "$CAIRN" server --port "$TRACK_PORT" --data-dir "$DIR/data" > "$DIR/tracking.log" 2>&1 &
PIDS+=($!)
wait_200 "http://127.0.0.1:$TRACK_PORT/health" 30
TRACKING="http://127.0.0.1:$TRACK_PORT"
MLFLOW_TRACKING_URI="$TRACKING" MLFLOW_DISABLE_TELEMETRY=true \
  "$PY" "$ROOT/crates/cairn/tests/serving_models.py" "$DIR/expected.json" > "$DIR/log-models.log" 2>&1
curl -sf -X POST -H "Content-Type: application/json" "$TRACKING/api/2.0/mlflow/registered-models/alias" \
  -d '{"name": "iris", "alias": "champion", "version": "1"}' > /dev/null
curl -sf -X POST -H "Content-Type: application/json" "$TRACKING/api/2.0/mlflow/registered-models/alias" \
  -d '{"name": "iris", "alias": "challenger", "version": "2"}' > /dev/null

BODY='{"inputs": [[5.1, 3.5, 1.4, 0.2]]}'
if [ "$SHADOW" = 1 ]; then
  # A data frame with an entity id, as a monitored deployment sends.
  BODY='{"dataframe_split": {"columns": ["id", "a", "b", "c", "d"], "data": [["e1", 5.1, 3.5, 1.4, 0.2]]}}'
fi
cat > "$DIR/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
EOF
if [ -n "${PACE_MS:-}" ]; then
  echo "function delay() return $PACE_MS end" >> "$DIR/post.lua"
fi

# Runs wrk against $1 at concurrency $2; prints "req/s p50_ms p99_ms errors".
load() {
  local url=$1 c=$2 out
  out=$(wrk -t1 -c"$c" -d"${DURATION}s" --latency -s "$DIR/post.lua" "$url")
  echo "$out" > "$DIR/wrk-last.txt"
  local rps p50 p99 errs
  rps=$(awk '/^Requests\/sec/ {print $2}' <<< "$out")
  p50=$(awk '$1 == "50%" {print $2}' <<< "$out")
  p99=$(awk '$1 == "99%" {print $2}' <<< "$out")
  errs=$(awk '/Non-2xx/ {print $NF}' <<< "$out"); errs=${errs:-0}
  to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
  printf "%.0f %s %s %s\n" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "$errs"
}

RESULTS=()
bench() {
  local name=$1 port=$2; shift 2
  local t0 t1 pid
  t0=$(date +%s.%N)
  setsid "$@" > "$DIR/$name.log" 2>&1 &
  pid=$!; PIDS+=("$pid")
  wait_200 "http://127.0.0.1:$port/ping" 180
  t1=$(date +%s.%N)
  sleep 2
  local url="http://127.0.0.1:$port/invocations"
  local answer
  answer=$(curl -sf -X POST -H 'Content-Type: application/json' -d "$BODY" "$url")
  echo "$name answers: $answer" >&2
  local rss startup
  rss=$(tree_rss "$pid")
  startup=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
  for c in 1 8; do
    read -r rps p50 p99 errs <<< "$(load "$url" "$c")"
    local extra=""
    if [ "$SHADOW" = 1 ]; then
      # Requests the shadow scored and shed so far (cumulative over both loads).
      local m ok shed
      m=$(curl -sf "http://127.0.0.1:$port/metrics")
      ok=$(awk '/^cairn_shadow_requests_total\{.*status="ok"/ {s+=$NF} END {printf "%d", s}' <<< "$m")
      shed=$(awk '/^cairn_shadow_requests_shed_total/ {s+=$NF} END {printf "%d", s}' <<< "$m")
      extra=" $ok | $shed |"
    fi
    RESULTS+=("| $name | $c | $rps | $p50 | $p99 | $errs | $startup | $rss |$extra")
    echo "${RESULTS[-1]}" >&2
  done
  kill -TERM -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

if [ "$SHADOW" = 1 ]; then
  # Alternating rounds, so drift in the machine's speed hits both alike.
  for round in $(seq "$ROUNDS"); do
    for shadow in "" "--shadow challenger"; do
      CAIRN_PORT=$(free_port)
      # shellcheck disable=SC2086
      bench "cairn serve ${shadow:-(no shadow)} #$round" "$CAIRN_PORT" "$CAIRN" serve \
        models:/iris@champion --tracking-uri "$TRACKING" --port "$CAIRN_PORT" \
        --cache-dir "$DIR/cache" --entity-column id $shadow ${CAIRN_SERVE_ARGS:-}
    done
  done
  MLFLOW=0
else
  CAIRN_PORT=$(free_port)
  # shellcheck disable=SC2086
  bench "cairn serve" "$CAIRN_PORT" "$CAIRN" serve models:/iris@champion --tracking-uri "$TRACKING" \
    --port "$CAIRN_PORT" --cache-dir "$DIR/cache" ${CAIRN_SERVE_ARGS:-}
fi
if [ "$MLFLOW" = 1 ]; then
  MLFLOW_PORT=$(free_port)
  bench "mlflow models serve" "$MLFLOW_PORT" env PATH="$(dirname "$PY"):$PATH" \
    MLFLOW_TRACKING_URI="$TRACKING" MLFLOW_DISABLE_TELEMETRY=true \
    "$(dirname "$PY")/mlflow" models serve -m models:/iris@champion --env-manager local \
    -h 127.0.0.1 -p "$MLFLOW_PORT"
fi

echo
echo "$(date -u +%Y-%m-%d), $(nproc) cores, wrk -t1 keep-alive${PACE_MS:+, ${PACE_MS} ms pause per connection between requests}, ${DURATION}s per row, body $BODY"
echo
if [ "$SHADOW" = 1 ]; then
  echo "| server | concurrency | req/s | p50 ms | p99 ms | errors | startup to /ping 200 s | RSS MiB | shadow scored | shadow shed |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
else
  echo "| server | concurrency | req/s | p50 ms | p99 ms | errors | startup to /ping 200 s | RSS MiB |"
  echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
fi
printf '%s\n' "${RESULTS[@]}"
