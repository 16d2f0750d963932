#!/usr/bin/env python3
"""The plots of BENCHMARKS.md, from the CSV files of one benchmark run.

Usage: scripts/plots.py RESULTS_DIR OUT_DIR   (needs matplotlib: `pip install matplotlib`)

Reads RESULTS_DIR/criterion.csv (scripts/criterion_csv.py), restart.csv (peers bench
`restart`) and store.csv (peers bench `store`); writes OUT_DIR/scaling.png, restart.png and
store.png. A missing input skips its plot.
"""
import collections
import csv
import pathlib
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    if not path.exists():
        print(f"skipped: no {path}")
        return None
    with path.open() as f:
        return list(csv.DictReader(f))


def scaling(rows, out):
    """Time per operation against N (benches/scaling.rs)."""
    groups = [
        ("scale_get_hit", "get of a present key", 1.0),
        ("scale_insert_1000_per_txn", "insert (1000 per transaction)", 1000.0),
    ]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (group, title, per) in zip(axes, groups):
        series = collections.defaultdict(list)
        for r in rows:
            if r["group"] == group:
                series[r["function"]].append((int(r["parameter"]), float(r["median_ns"]) / per))
        for name in sorted(series):
            pts = sorted(series[name])
            style = "-" if name.startswith("pcoll") else "--"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("entries N")
        ax.set_ylabel("ns per operation (criterion median)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("u64 → u64 maps: pcoll (Durability::Process) against std")
    fig.tight_layout()
    fig.savefig(out / "scaling.png", dpi=110)


def restart(rows, out):
    """Reopen time against data size, per target (peers/benches/restart.rs)."""
    targets = sorted({r["target"] for r in rows}, reverse=True)
    fig, axes = plt.subplots(1, len(targets), figsize=(6 * len(targets), 4.6), squeeze=False)
    for ax, target in zip(axes[0], targets):
        series = collections.defaultdict(list)
        for r in rows:
            if r["target"] == target and r["median_ms"]:
                series[f"{r['store']} {r['case']}"].append((int(r["size_mib"]), float(r["median_ms"])))
        for name in sorted(series):
            pts = sorted(series[name])
            style = "-" if name.startswith("pcoll") else "--"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("data size (MiB)")
        ax.set_ylabel("open + first get (ms, median)")
        ax.set_title(f"restart time, {target}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "restart.png", dpi=110)


def store(rows, out):
    """ns per operation per phase and store, one panel per (target, mode)."""
    panels = sorted({(r["target"], r["mode"]) for r in rows})
    cols = 2
    nrows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(12, 4.2 * nrows), squeeze=False)
    for ax, (target, mode) in zip(axes.flat, panels):
        # `len` is left out: sled's scan (10 s) would flatten every other bar.
        sel = [
            r
            for r in rows
            if r["target"] == target and r["mode"] == mode and r["ns_per_op"] and r["phase"] != "len"
        ]
        phases = list(dict.fromkeys(r["phase"] for r in sel))
        stores = list(dict.fromkeys(r["store"] for r in sel))
        width = 0.8 / max(1, len(stores))
        for i, s in enumerate(stores):
            vals = {r["phase"]: float(r["ns_per_op"]) for r in sel if r["store"] == s}
            xs = [j + i * width for j, p in enumerate(phases) if p in vals]
            ax.bar(xs, [vals[p] for p in phases if p in vals], width, label=s)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(phases))])
        ax.set_xticklabels(phases, rotation=20, fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("ns per operation (mean over the phase)")
        ax.set_title(f"24-byte keys, 150-byte values: {target}, {mode}")
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(out / "store.png", dpi=110)


def main():
    src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    for name, plot in [("criterion.csv", scaling), ("restart.csv", restart), ("store.csv", store)]:
        rows = read(src / name)
        if rows:
            plot(rows, out)
            print(f"wrote from {name}")


if __name__ == "__main__":
    main()
