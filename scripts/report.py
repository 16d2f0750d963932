#!/usr/bin/env python3
"""Markdown tables of one benchmark run, for BENCHMARKS.md.

Usage: scripts/report.py RESULTS_DIR > tables.md

From criterion.csv: one table per criterion group (median, p99 of the sample means, and
the ratio of every pcoll side to its reference: `std_X` for `pcoll_X` where there is one,
else the group's first side whose name starts with `std`, else `sled`, else none). From store.csv, space.csv, restart.csv and
counters.csv (peers benches): the same rows as tables, unchanged.
"""
import collections
import csv
import pathlib
import sys


def human(ns):
    ns = float(ns)
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def reference(names):
    for prefix in ("std", "sled"):
        for n in names:
            if n.startswith(prefix):
                return n
    return None


def criterion_tables(rows):
    groups = collections.OrderedDict()
    for r in rows:
        groups.setdefault(r["group"], []).append(r)
    for group, rs in groups.items():
        by_param = collections.OrderedDict()
        for r in rs:
            by_param.setdefault(r["parameter"], []).append(r)
        print(f"\n#### `{group}`\n")
        print("| side | N | median | p99 (samples) | ratio to reference |")
        print("|---|---:|---:|---:|---:|")
        for param, prs in by_param.items():
            names = [r["function"] for r in prs]
            median = {r["function"]: float(r["median_ns"]) for r in prs}
            for r in prs:
                # pcoll_X is compared with std_X when there is one (scaling: hash with hash).
                twin = "std_" + r["function"].removeprefix("pcoll_")
                ref = twin if twin in median and twin != r["function"] else reference(names)
                base = median.get(ref)
                ratio = ""
                if base and not r["function"].startswith(("std", "sled")):
                    ratio = f"{float(r['median_ns']) / base:.2f}× {ref}"
                print(f"| {r['function']} | {param} | {human(r['median_ns'])} | {human(r['p99_ns'])} | {ratio} |")


def plain_table(name, rows):
    print(f"\n#### `{name}`\n")
    cols = list(rows[0].keys())
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        print("| " + " | ".join(r[c] for c in cols) + " |")


def main():
    src = pathlib.Path(sys.argv[1])
    for name in ["criterion.csv", "store.csv", "space.csv", "counters.csv", "restart.csv", "build.csv"]:
        p = src / name
        if not p.exists():
            continue
        with p.open() as f:
            rows = list(csv.DictReader(f))
        if not rows:
            continue
        if name == "criterion.csv":
            criterion_tables(rows)
        else:
            plain_table(name, rows)


if __name__ == "__main__":
    main()
