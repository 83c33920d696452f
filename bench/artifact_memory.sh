#!/usr/bin/env bash
# Streams a 1 GiB file up through cairn's artifact proxy and back down with curl, and
# reports the server's peak resident memory (VmHWM) and both transfer rates. The proxy
# must stream: the peak stays far below the file size.
#
#   bash bench/artifact_memory.sh                 # local folder destination
#   SIZE_MIB=256 bash bench/artifact_memory.sh    # smaller file
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${DIR:-${TMPDIR:-/tmp}/cairn-bench-mem}"
SIZE_MIB="${SIZE_MIB:-1024}"
rm -rf "$DIR"; mkdir -p "$DIR"

kib() { awk -v k="$2" '$1==k":"{print $2}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

(cd "$ROOT" && cargo build --release --quiet)
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$DIR/payload.bin"
PORT=$(free_port)
"$ROOT/target/release/cairn" server --port "$PORT" --data-dir "$DIR/data" > "$DIR/cairn.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.05; done
URL="http://127.0.0.1:$PORT/api/2.0/mlflow-artifacts/artifacts/bench/payload.bin"
IDLE=$(kib "$PID" VmRSS)
UP=$(curl -sf -T "$DIR/payload.bin" -H 'Content-Type: application/octet-stream' -o /dev/null -w '%{speed_upload}' "$URL")
AFTER_UP=$(kib "$PID" VmHWM)
DOWN=$(curl -sf -o "$DIR/back.bin" -w '%{speed_download}' "$URL")
PEAK=$(kib "$PID" VmHWM)
cmp -s "$DIR/payload.bin" "$DIR/back.bin" && SAME=yes || SAME=NO
awk -v s="$SIZE_MIB" -v i="$IDLE" -v a="$AFTER_UP" -v p="$PEAK" -v u="$UP" -v d="$DOWN" -v same="$SAME" 'BEGIN {
  printf "file %d MiB, identical after the round trip: %s\n", s, same
  printf "upload %.0f MiB/s, download %.0f MiB/s (curl, one connection)\n", u/1048576, d/1048576
  printf "server RSS: idle %.1f MiB, peak during upload %.1f MiB, peak overall %.1f MiB\n", i/1024, a/1024, p/1024
}'
[ "$SAME" = yes ]
