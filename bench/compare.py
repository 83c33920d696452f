#!/usr/bin/env python3
"""Prints a markdown table comparing two tracking_bench.py reports (cairn vs mlflow).

    python3 bench/compare.py results/cairn.json results/mlflow.json
"""
import json
import sys


def phases(path):
    with open(path) as f:
        return {p["name"]: p for p in json.load(f)["results"]}


def main():
    cairn, mlflow = phases(sys.argv[1]), phases(sys.argv[2])
    print("| phase | c | cairn units/s | mlflow units/s | ratio | cairn p50 / p99 ms | mlflow p50 / p99 ms | cairn server CPU % | client CPU % (cairn run) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, c in cairn.items():
        m = mlflow.get(name)
        cu, mu = c["units_per_s"], (m["units_per_s"] if m else None)
        unit = c["unit"]
        if unit == "bytes":  # artifact phases: MiB/s reads better than bytes/s
            cu, mu, unit = cu / 2**20, (mu / 2**20 if mu else None), "MiB"
        ratio = "%.1fx" % (cu / mu) if mu else "n/a"
        print("| %s | %d | %.0f %s | %s | %s | %.1f / %.1f | %s | %.0f | %.0f |" % (
            name, c["concurrency"], cu, unit, "%.1f" % mu if mu else "n/a", ratio,
            c["lat_ms"]["p50"], c["lat_ms"]["p99"],
            "%.0f / %.0f" % (m["lat_ms"]["p50"], m["lat_ms"]["p99"]) if m else "n/a",
            c.get("server_cpu_pct") or 0, c.get("client_cpu_pct") or 0))


if __name__ == "__main__":
    main()
