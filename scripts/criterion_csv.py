#!/usr/bin/env python3
"""Criterion results as one CSV: group, function, parameter, median, p99 and mean per iteration.

Usage: scripts/criterion_csv.py TARGET_DIR/criterion [...] > criterion.csv

For every `<...>/new/benchmark.json` it reads criterion's `estimates.json` (the median and
mean point estimates, in ns per iteration) and `sample.json` (the samples: iteration counts
and total times). `p99_ns` is the 99th percentile (nearest rank) of the per-sample means
(time / iterations of each sample), so with 10-50 samples it is close to the slowest sample:
read it as "the worst sample", not as a per-operation tail latency.
"""
import csv
import json
import math
import pathlib
import sys


def rows(root):
    for bench in sorted(pathlib.Path(root).rglob("new/benchmark.json")):
        new = bench.parent
        meta = json.loads(bench.read_text())
        est = json.loads((new / "estimates.json").read_text())
        sample = json.loads((new / "sample.json").read_text())
        per_iter = sorted(t / n for t, n in zip(sample["times"], sample["iters"]))
        p99 = per_iter[max(0, math.ceil(0.99 * len(per_iter)) - 1)]
        yield {
            "group": meta["group_id"],
            "function": meta.get("function_id") or "",
            "parameter": meta.get("value_str") or "",
            "median_ns": f"{est['median']['point_estimate']:.1f}",
            "p99_ns": f"{p99:.1f}",
            "mean_ns": f"{est['mean']['point_estimate']:.1f}",
            "samples": len(per_iter),
        }


def main():
    w = csv.DictWriter(
        sys.stdout,
        ["group", "function", "parameter", "median_ns", "p99_ns", "mean_ns", "samples"],
    )
    w.writeheader()
    for root in sys.argv[1:]:
        for r in rows(root):
            w.writerow(r)


if __name__ == "__main__":
    main()
