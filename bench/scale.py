#!/usr/bin/env python3
"""Scale benchmark for run search: seeds N runs with 20 metrics and 10 params each into
an MLflow-compatible server, then times a search that filters on a metric and a param
and orders by another metric (max_results 100), checking every answer against the
expected top 100.

    python3 bench/scale.py --url http://127.0.0.1:5000 seed --runs 100000
    python3 bench/scale.py --url http://127.0.0.1:5000 search --seconds 20

`seed` stores the experiment id in the experiment tag `bench.scale_complete` once all
runs are in, so `search` (against this server or another one on the same database)
finds it. Standard library only, like ../shared/bench/tracking_bench.py.
"""
import argparse
import http.client
import json
import multiprocessing
import statistics
import sys
import time
import urllib.parse

API = "/api/2.0/mlflow"
EXPERIMENT = "bench-scale-v1"
PARAM_VALUES = ["a", "b", "c"]
FILTER = "metrics.m0 > 0.5 and params.p0 = 'b'"
ORDER_BY = ["metrics.m1 DESC"]


def value(idx, k):
    """Metric k of run idx: deterministic, spread over [0, 1)."""
    return ((idx * (7919 + 104729 * k)) % 10007) / 10007.0


def param(idx, k):
    return PARAM_VALUES[(idx + k) % 3]


class Client:
    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data else {}
        for attempt in range(3):
            try:
                self.conn.request(method, API + path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                if resp.status != 200:
                    raise RuntimeError("%s %s -> %d %s" % (method, path, resp.status, raw[:300]))
                return json.loads(raw or b"{}")
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=300)
                if attempt == 2:
                    raise


def experiment_id(cli, create):
    q = urllib.parse.urlencode({"experiment_name": EXPERIMENT})
    try:
        return cli.call("GET", "/experiments/get-by-name?" + q)["experiment"]["experiment_id"]
    except RuntimeError:
        if not create:
            raise SystemExit("no experiment %s: run `seed` first" % EXPERIMENT)
        return cli.call("POST", "/experiments/create", {"name": EXPERIMENT})["experiment_id"]


def seed_worker(args):
    url, exp, start, stop = args
    cli = Client(url)
    t = int(time.time() * 1000)
    for idx in range(start, stop):
        run = cli.call("POST", "/runs/create", {"experiment_id": exp, "run_name": "scale-%d" % idx,
                                                "start_time": t + idx})["run"]["info"]["run_id"]
        cli.call("POST", "/runs/log-batch", {
            "run_id": run,
            "metrics": [{"key": "m%d" % k, "value": value(idx, k), "timestamp": t, "step": 0} for k in range(20)],
            "params": [{"key": "p%d" % k, "value": param(idx, k)} for k in range(10)],
        })
    return stop - start


def seed(cfg):
    cli = Client(cfg.url)
    exp = experiment_id(cli, create=True)
    n, c = cfg.runs, cfg.concurrency
    bounds = [(cfg.url, exp, n * w // c, n * (w + 1) // c) for w in range(c)]
    t0 = time.time()
    with multiprocessing.Pool(c) as pool:
        done = sum(pool.map(seed_worker, bounds))
    dt = time.time() - t0
    cli.call("POST", "/experiments/set-experiment-tag", {"experiment_id": exp, "key": "bench.scale_complete",
                                                           "value": str(n)})
    print(json.dumps({"seeded_runs": done, "seconds": round(dt, 1), "runs_per_s": round(done / dt, 1)}))


def expected_top(n):
    rows = [(value(i, 1), i) for i in range(n) if value(i, 0) > 0.5 and param(i, 0) == "b"]
    rows.sort(reverse=True)
    return [v for v, _ in rows[:100]]


def search(cfg):
    cli = Client(cfg.url)
    exp = experiment_id(cli, create=False)
    tags = {t["key"]: t["value"] for t in cli.call("GET", "/experiments/get?experiment_id=%s" % exp)["experiment"].get("tags", [])}
    n = int(tags.get("bench.scale_complete", "0"))
    if not n:
        raise SystemExit("the experiment is not completely seeded")
    want = expected_top(n)
    body = {"experiment_ids": [exp], "filter": FILTER, "order_by": ORDER_BY, "max_results": 100}
    lats = []
    deadline = time.time() + cfg.seconds
    while time.time() < deadline and len(lats) < cfg.max_searches:
        t = time.perf_counter()
        r = cli.call("POST", "/runs/search", body)
        lats.append((time.perf_counter() - t) * 1000)
        got = [next(m["value"] for m in run["data"]["metrics"] if m["key"] == "m1") for run in r.get("runs", [])]
        if len(got) != len(want) or any(abs(a - b) > 1e-9 for a, b in zip(got, want)):
            raise SystemExit("wrong answer: %d runs, first %s, expected %s" % (len(got), got[:2], want[:2]))
    lats.sort()
    print(json.dumps({"label": cfg.label, "runs": n, "filter": FILTER, "order_by": ORDER_BY, "searches": len(lats),
                      "p50_ms": round(statistics.median(lats), 1),
                      "p90_ms": round(lats[int(len(lats) * 0.9) - 1], 1) if len(lats) >= 10 else None,
                      "max_ms": round(lats[-1], 1)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:5000")
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--runs", type=int, default=100000)
    s.add_argument("--concurrency", type=int, default=8)
    q = sub.add_parser("search")
    q.add_argument("--seconds", type=float, default=20)
    q.add_argument("--max-searches", type=int, default=200)
    q.add_argument("--label", default="")
    cfg = ap.parse_args()
    {"seed": seed, "search": search}[cfg.cmd](cfg)


if __name__ == "__main__":
    sys.exit(main())
