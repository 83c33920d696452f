#!/usr/bin/env python3
"""Differential wire harness: the same raw HTTP requests to `mlflow server` 3.17.2 and
to `cairn server`, compared on HTTP status, the JSON body's `error_code` and the set of
key paths of the JSON answer.

Usage:
  python run.py --mlflow URL --cairn URL [--json OUT]
  python run.py --start [--json OUT]            # starts both servers on free ports
  python run.py --start-mlflow --record mlflow.json   # only MLflow: record its answers
  python run.py --cairn URL --against mlflow.json     # compare cairn with a recording
  python run.py --start-cairn --against mlflow.json

Standard library only; every request is sent byte for byte as the case gives it
(http.client, no automatic Accept-Encoding; Host and Content-Length are the only
headers added). See cases.py for the cases and the setup phase.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cases as casemod  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

# ---------------------------------------------------------------- HTTP


def send(base, method, path, headers=None, body=None, timeout=60.0):
    """Sends one request exactly as given; returns a dict describing the answer."""
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body if body else None)
        resp = conn.getresponse()
        data = resp.read()
        status = resp.status
        ctype = resp.getheader("Content-Type", "")
    except Exception as e:  # connection reset, timeout, ...
        return {"status": 0, "ctype": "", "kind": "transport-error", "error_code": None,
                "keys": None, "snippet": f"{type(e).__name__}: {e}",
                "ms": round((time.monotonic() - t0) * 1000), "json": None}
    finally:
        conn.close()
    return describe(status, ctype, data, round((time.monotonic() - t0) * 1000))


def describe(status, ctype, data, ms):
    kind, obj = "non-json", None
    if not data.strip():
        kind = "empty"
    else:
        try:
            obj = json.loads(data)
            if isinstance(obj, dict):
                kind = "json-object"
            elif isinstance(obj, list):
                kind = "json-array"
            else:
                kind = "json-scalar"
        except (ValueError, UnicodeDecodeError):
            obj = None
    error_code = obj.get("error_code") if isinstance(obj, dict) else None
    if error_code is not None and not isinstance(error_code, str):
        error_code = repr(error_code)
    keys = sorted(key_paths(obj)) if isinstance(obj, (dict, list)) else None
    snippet = data[:2000].decode("utf-8", "replace")
    if len(data) > 2000:
        snippet += f"... ({len(data)} bytes)"
    return {"status": status, "ctype": ctype, "kind": kind, "error_code": error_code,
            "keys": keys, "snippet": snippet, "ms": ms, "json": obj}


LISTS = "first"  # or "union" (--lists)


def key_paths(obj, prefix=""):
    """Key paths of a JSON value: `run.info.run_id`; a list contributes the paths of
    its first element under `name[]` (with --lists union: of all its elements)."""
    out = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{prefix}.{k}" if prefix else str(k)
            out.add(p)
            out |= key_paths(v, p)
    elif isinstance(obj, list) and obj:
        for item in (obj[:1] if LISTS == "first" else obj):
            out |= key_paths(item, prefix + "[]")
    return out


# ---------------------------------------------------------------- placeholders

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
PLACEHOLDER_B = re.compile(rb"\{([a-z][a-z0-9_]*)\}")


def fill(value, ctx):
    if value is None:
        return None
    if isinstance(value, bytes):
        return PLACEHOLDER_B.sub(
            lambda m: str(ctx[m.group(1).decode()]).encode()
            if m.group(1).decode() in ctx else m.group(0), value)
    return PLACEHOLDER.sub(lambda m: str(ctx[m.group(1)]) if m.group(1) in ctx else m.group(0), value)


def to_bytes(body):
    if body is None:
        return None
    if isinstance(body, bytes):
        return body
    return body.encode("utf-8")


def dig(obj, path):
    cur = obj
    for part in path.split("."):
        if isinstance(cur, list):
            cur = cur[int(part)]
        elif isinstance(cur, dict):
            cur = cur[part]
        else:
            raise KeyError(path)
    return cur


def run_setup(base, sfx, log):
    """Runs cases.SETUP on one server; returns the placeholder values."""
    ctx = {"sfx": sfx}
    ok = True
    for step in casemod.SETUP:
        path = fill(step["path"], ctx)
        body = to_bytes(fill(step.get("body"), ctx))
        headers = {k: fill(v, ctx) for k, v in step.get("headers", casemod.JSON_CT).items()}
        ans = send(base, step["method"], path, headers, body)
        if ans["status"] != 200:
            ok = False
            log(f"  setup step {step['name']!r} on {base}: HTTP {ans['status']} {ans['snippet'][:200]}")
        for var, jpath in step.get("save", {}).items():
            try:
                ctx[var] = dig(ans["json"], jpath)
            except (KeyError, IndexError, TypeError, ValueError):
                ctx[var] = f"MISSING-{var}"
                ok = False
                log(f"  setup step {step['name']!r}: no {jpath} in the answer")
        for var, value in step.get("set", {}).items():
            ctx[var] = fill(value, ctx)
    return ctx, ok


def run_case(base, case, ctx):
    path = fill(case["path"], ctx)
    headers = {k: fill(v, ctx) for k, v in case.get("headers", {}).items()}
    body = to_bytes(fill(case.get("body"), ctx))
    return send(base, case["method"], path, headers, body)


# ---------------------------------------------------------------- comparison


def compare(a, b):
    """Differences between the MLflow answer a and the cairn answer b, as a dict of
    kind -> (mlflow, cairn)."""
    d = {}
    if a["status"] != b["status"]:
        d["status"] = (a["status"], b["status"])
    if a["error_code"] != b["error_code"]:
        d["error_code"] = (a["error_code"], b["error_code"])
    # The body kind matters: a 404 with a non-JSON body is ENDPOINT_NOT_FOUND to the client.
    if a["kind"] != b["kind"] and not (
        {a["kind"], b["kind"]} <= {"empty", "non-json"} and a["status"] >= 400
    ):
        d["kind"] = (a["kind"], b["kind"])
    ka, kb = set(a["keys"] or []), set(b["keys"] or [])
    ok_a, ok_b = a["status"] < 400, b["status"] < 400
    # Key sets are compared between two answers of the same class only: a success
    # against an error is already a status difference. Key differences of two error
    # bodies ({error_code, message, sqlstate, error_class}) are counted apart: the
    # client reads only error_code and message.
    if a["kind"] == b["kind"] == "json-object" and ka != kb and ok_a == ok_b:
        d["keys" if ok_a else "error_keys"] = (sorted(ka - kb), sorted(kb - ka))
    return d


def fmt_diff(name, a, b, d):
    parts = [f"{a['status']} vs {b['status']}"]
    if "error_code" in d:
        parts.append(f"error_code {d['error_code'][0]} vs {d['error_code'][1]}")
    if "kind" in d:
        parts.append(f"body {d['kind'][0]} vs {d['kind'][1]}")
    for k, label in (("keys", "keys"), ("error_keys", "error-body keys")):
        if k in d:
            only_a, only_b = d[k]
            if only_a:
                parts.append(f"{label} only in mlflow: " + ",".join(only_a))
            if only_b:
                parts.append(f"{label} only in cairn: " + ",".join(only_b))
    return f"DIFF {name}: " + "; ".join(parts)


# ---------------------------------------------------------------- servers


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_health(url, proc, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} before answering /health")
        ans = send(url, "GET", "/health", {}, None, timeout=5)
        if ans["status"] == 200:
            return
        time.sleep(0.5)
    raise SystemExit(f"{what} did not answer {url}/health within {seconds} s")


def wait_or_explain(url, proc, seconds, what, logpath):
    try:
        wait_health(url, proc, seconds, what)
    except SystemExit:
        stop(proc)
        try:
            with open(logpath, "rb") as f:
                tail = f.read()[-3000:].decode("utf-8", "replace")
            print(f"--- last lines of {logpath}:\n{tail}", file=sys.stderr)
        except OSError:
            pass
        raise


def start_mlflow(tmp, mlflow_bin):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    os.makedirs(os.path.join(tmp, "mlflow-art"), exist_ok=True)
    log = open(os.path.join(tmp, "mlflow.log"), "wb")
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    cmd = [mlflow_bin, "server",
           "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db",
           "--artifacts-destination", f"{tmp}/mlflow-art",
           "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            cwd=tmp, start_new_session=True)
    wait_or_explain(url, proc, 240, "mlflow server", log.name)
    return proc, url


def start_cairn(tmp, cairn_bin):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = os.path.join(tmp, "cairn-data")
    os.makedirs(data, exist_ok=True)
    log = open(os.path.join(tmp, "cairn.log"), "wb")
    env = dict(os.environ, CAIRN_LOG=os.environ.get("CAIRN_LOG", "warn"))
    cmd = [cairn_bin, "server", "--host", "127.0.0.1", "--port", str(port),
           "--data-dir", data,
           "--backend-store-uri", f"sqlite:///{tmp}/cairn.db",
           "--artifacts-destination", f"{tmp}/cairn-art"]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            cwd=tmp, start_new_session=True)
    wait_or_explain(url, proc, 120, "cairn server", log.name)
    return proc, url


def stop(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: the server and its workers
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# ---------------------------------------------------------------- main


def strip(ans):
    return {k: v for k, v in ans.items() if k != "json"}


def request_summary(case):
    body = case.get("body")
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body is not None and len(body) > 400:
        body = body[:400] + f"... ({len(body)} chars)"
    return {"method": case["method"], "path": case["path"][:400],
            "headers": case.get("headers", {}), "body": body}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mlflow", help="base URL of a running mlflow server")
    ap.add_argument("--cairn", help="base URL of a running cairn server")
    ap.add_argument("--start", action="store_true", help="start both servers on free ports")
    ap.add_argument("--start-mlflow", action="store_true")
    ap.add_argument("--start-cairn", action="store_true")
    ap.add_argument("--mlflow-bin", default=os.path.join(REPO, ".venv", "bin", "mlflow"))
    ap.add_argument("--cairn-bin", default=os.path.join(REPO, "target", "debug", "cairn"))
    ap.add_argument("--json", help="write every case with both answers to this file")
    ap.add_argument("--record", help="only MLflow: save status/error_code/keys per case here")
    ap.add_argument("--against", help="compare cairn with a file written by --record")
    ap.add_argument("--only", help="run only cases whose name contains this text")
    ap.add_argument("--sfx", help="fixed name suffix (default: random per run; --against reuses the recorded one)")
    ap.add_argument("--lists", choices=["first", "union"], default="first",
                    help="key paths of a list: of its first element (default) or of all its elements")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp folder (databases, artifacts, server logs) of --start")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every case")
    args = ap.parse_args()
    global LISTS
    LISTS = args.lists

    if args.start:
        args.start_mlflow = not args.against
        args.start_cairn = not args.record
    want_mlflow = bool(args.mlflow or args.start_mlflow)
    want_cairn = bool(args.cairn or args.start_cairn)
    if args.record and not want_mlflow:
        ap.error("--record needs --mlflow URL or --start-mlflow")
    if not args.record and not want_cairn:
        ap.error("give --cairn URL or --start (or --record for MLflow alone)")
    if not args.record and not (want_mlflow or args.against):
        ap.error("give --mlflow URL, --start or --against FILE")

    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    tmp = None
    if args.start_mlflow or (args.start_cairn and not args.record):
        tmp = tempfile.mkdtemp(prefix="cairn-diff-", dir="/tmp")
    procs = []
    try:
        if args.start_mlflow:
            log(f"starting mlflow server (data under {tmp}) ...")
            p, args.mlflow = start_mlflow(tmp, args.mlflow_bin)
            procs.append(p)
            log(f"  mlflow on {args.mlflow}")
        if args.start_cairn and not args.record:
            log("starting cairn server ...")
            p, args.cairn = start_cairn(tmp, args.cairn_bin)
            procs.append(p)
            log(f"  cairn on {args.cairn}")
        return run_all(args, log)
    finally:
        for p in procs:
            stop(p)
        if tmp and args.keep:
            log(f"server logs and data kept under {tmp}")
        elif tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def run_all(args, log):
    cases = casemod.CASES
    names = [c["name"] for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SystemExit(f"duplicate case names: {sorted(dup)}")
    if args.only:
        cases = [c for c in cases if args.only in c["name"]]

    recorded = None
    if args.against:
        with open(args.against) as f:
            recorded = json.load(f)
        sfx = recorded["sfx"]
        global LISTS
        if recorded.get("lists", LISTS) != LISTS:
            LISTS = recorded["lists"]
            log(f"using --lists {LISTS}, as the recording was made with it")
    else:
        sfx = args.sfx or uuid.uuid4().hex[:8]

    servers = []
    if args.mlflow and not args.against:
        servers.append(("mlflow", args.mlflow))
    if args.cairn and not args.record:
        servers.append(("cairn", args.cairn))

    ctxs = {}
    for label, base in servers:
        log(f"setup on {label} ({base}) ...")
        ctxs[label], ok = run_setup(base, sfx, log)
        if not ok:
            log(f"  setup on {label} was incomplete; cases that use its missing values will differ")

    results = []
    rec_by_name = {r["name"]: r for r in recorded["cases"]} if recorded else {}
    compared = differ = 0
    kinds = {"status": 0, "error_code": 0, "kind": 0, "keys": 0, "error_keys": 0}
    only_error_keys = 0
    for case in cases:
        answers = {}
        for label, base in servers:
            answers[label] = run_case(base, case, ctxs[label])
        if recorded is not None:
            r = rec_by_name.get(case["name"])
            if r is None:
                log(f"  {case['name']}: not in the recording, skipped")
                continue
            answers["mlflow"] = r["mlflow"]
        entry = {"name": case["name"], "request": request_summary(case)}
        for label, ans in answers.items():
            entry[label] = strip(ans)
        if "mlflow" in answers and "cairn" in answers:
            d = compare(answers["mlflow"], answers["cairn"])
            compared += 1
            entry["diff"] = {k: list(v) for k, v in d.items()}
            if d:
                differ += 1
                for k in d:
                    kinds[k] += 1
                if set(d) == {"error_keys"}:
                    only_error_keys += 1
                print(fmt_diff(case["name"], answers["mlflow"], answers["cairn"], d), flush=True)
            elif args.verbose:
                print(f"same {case['name']}: {answers['mlflow']['status']}", flush=True)
        elif args.verbose or args.record:
            a = next(iter(answers.values()))
            print(f"{case['name']}: {a['status']} {a['error_code'] or ''} {a['kind']}", flush=True)
        results.append(entry)

    if args.record:
        with open(args.record, "w") as f:
            json.dump({"sfx": sfx, "mlflow_url": args.mlflow, "lists": LISTS, "cases": results}, f, indent=1)
        log(f"recorded {len(results)} cases to {args.record}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"sfx": sfx, "mlflow": args.mlflow, "cairn": args.cairn,
                       "compared": compared, "differ": differ, "cases": results}, f, indent=1)
    if not args.record:
        print(f"by kind: status {kinds['status']}, error_code {kinds['error_code']}, "
              f"body kind {kinds['kind']}, key set {kinds['keys']}, "
              f"error-body keys {kinds['error_keys']} ({only_error_keys} differ only there)")
        print(f"{compared} compared, {differ} differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
