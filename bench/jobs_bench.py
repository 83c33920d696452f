"""Jobs benchmark: cairn's jobs against Prefect 3.9.1, the same measurements for both.

  trigger_to_start  a run is started through the server's API and the trivial step
                    (a process) writes the time it began; the difference, p50 and p99
                    over --latency-runs runs started one after another
  throughput        --runs runs started at once, run to their end by two workers;
                    runs/s from the first start request to the last run's end

The step is as trivial as each tool allows: for cairn a `command` step running
`sh -c 'date +%s%N >> FILE'`, for Prefect a flow whose body appends `time.time_ns()` to
FILE, deployed to a process work pool (each flow run is a Python process, Prefect's
unit of isolation for deployments, as cairn's is a step's process).

Usage (bench/jobs.sh runs both):
  python3 jobs_bench.py cairn   --url http://127.0.0.1:PORT --job bench-trivial --starts FILE
  python jobs_bench.py prefect  --deployment trivial/bench --starts FILE   (Prefect's venv)
"""

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def read_starts(path):
    try:
        with open(path) as f:
            return [int(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def wait_lines(path, n, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if len(read_starts(path)) >= n:
            return True
        time.sleep(0.002)
    return False


# ---- cairn --------------------------------------------------------------------------

def cairn_call(url, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, method="POST" if body is not None else "GET",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read() or b"{}")


def cairn_start(args):
    cairn_call(args.url, "/api/2.0/cairn/jobs/run", {"name": args.job})


def cairn_finals(args):
    """(runs ended, runs ended otherwise than COMPLETED)."""
    runs = cairn_call(args.url, f"/api/2.0/cairn/jobs/runs/list?job={args.job}&max_results=1000")["runs"]
    done = [r for r in runs if r["state"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")]
    return len(done), len([r for r in done if r["state"] != "COMPLETED"])


# ---- prefect ------------------------------------------------------------------------

def prefect_start(args):
    from prefect.deployments import run_deployment
    run_deployment(args.deployment, timeout=0)


def prefect_finals(args):
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    async def count():
        async with get_client() as c:
            final = [StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED]
            flt = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=final)))
            runs = []
            # The server answers 422 above 200 rows a page.
            while True:
                page = await c.read_flow_runs(flow_run_filter=flt, limit=200, offset=len(runs))
                runs.extend(page)
                if len(page) < 200:
                    break
            failed = [r for r in runs if r.state_type != StateType.COMPLETED]
            return len(runs), len(failed)
    return asyncio.run(count())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tool", choices=["cairn", "prefect"])
    ap.add_argument("--url")
    ap.add_argument("--job", default="bench-trivial")
    ap.add_argument("--deployment", default="trivial/bench")
    ap.add_argument("--starts", required=True, help="the file the step appends its start time to")
    ap.add_argument("--latency-runs", type=int, default=30)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--phase", choices=["latency", "throughput", "both"], default="both")
    args = ap.parse_args()
    start = cairn_start if args.tool == "cairn" else prefect_start
    finals = cairn_finals if args.tool == "cairn" else prefect_finals
    out = {"tool": args.tool}

    if args.phase in ("latency", "both"):
        lat = []
        for i in range(args.latency_runs):
            before = len(read_starts(args.starts))
            t0 = time.time_ns()
            start(args)
            if not wait_lines(args.starts, before + 1, 120):
                sys.exit(f"run {i} did not start within 120 s")
            began = read_starts(args.starts)[-1]
            lat.append((began - t0) / 1e6)
            time.sleep(0.2)  # one run at a time: the next starts on an idle system
        out["trigger_to_start_ms"] = {
            "n": len(lat), "p50": round(percentile(lat, 50), 1), "p99": round(percentile(lat, 99), 1),
            "mean": round(statistics.mean(lat), 1)}
        print(f"[{args.tool}] trigger to start: p50 {out['trigger_to_start_ms']['p50']} ms, "
              f"p99 {out['trigger_to_start_ms']['p99']} ms over {len(lat)} runs", flush=True)
        # Let those runs finish before the throughput phase counts.
        end = time.time() + 120
        while time.time() < end and finals(args)[0] < args.latency_runs:
            time.sleep(0.5)

    if args.phase in ("throughput", "both"):
        already, failed_before = finals(args)
        t0 = time.time()
        for _ in range(args.runs):
            start(args)
        submitted = time.time()
        end = t0 + args.timeout
        while time.time() < end:
            done, failed = finals(args)
            failed -= failed_before
            if done >= already + args.runs:
                break
            time.sleep(0.2)
        else:
            sys.exit(f"[{args.tool}] {args.runs} runs did not end within {args.timeout} s")
        t1 = time.time()
        out["throughput"] = {"runs": args.runs, "seconds": round(t1 - t0, 2),
                             "runs_per_s": round(args.runs / (t1 - t0), 2),
                             "submit_seconds": round(submitted - t0, 2), "failed": failed}
        print(f"[{args.tool}] {args.runs} runs in {t1 - t0:.1f} s: {args.runs / (t1 - t0):.2f} runs/s "
              f"(submitting took {submitted - t0:.1f} s; {failed} not completed)", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
