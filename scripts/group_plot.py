#!/usr/bin/env python3
"""Group-commit throughput against thread count, as an SVG with no dependencies.

Usage: scripts/group_plot.py docs/bench/group.csv docs/bench/group.svg
The CSV holds the `cargo bench --bench group` figures (time per insert over all threads,
calls per commit, latency percentiles), one row per case and thread count.
"""
import csv
import sys

W, H, L, B, T, R = 640, 400, 70, 50, 30, 150


def main(src, out):
    rows = list(csv.DictReader(open(src)))
    series = {}
    for r in rows:
        series.setdefault(r["case"], []).append(
            (int(r["threads"]), 1e6 / float(r["us_per_insert"]))
        )
    xs = sorted({t for s in series.values() for t, _ in s})
    ymax = max(v for s in series.values() for _, v in s) * 1.1
    px = lambda t: L + (xs.index(t)) * (W - L - R) / (len(xs) - 1)
    py = lambda v: H - B - v * (H - B - T) / ymax
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
           f'<text x="{(L+W-R)/2}" y="{H-12}" text-anchor="middle">threads</text>',
           f'<text x="16" y="{(T+H-B)/2}" transform="rotate(-90 16 {(T+H-B)/2})" '
           'text-anchor="middle">durable inserts per second</text>']
    for t in xs:
        svg.append(f'<text x="{px(t)}" y="{H-B+16}" text-anchor="middle">{t}</text>')
    for i in range(6):
        v = ymax * i / 5
        svg.append(f'<line x1="{L-4}" y1="{py(v)}" x2="{W-R}" y2="{py(v)}" stroke="#ddd"/>')
        svg.append(f'<text x="{L-8}" y="{py(v)+4}" text-anchor="end">{v/1000:.0f}k</text>')
    colors = {"combine": "#1f77b4", "transaction": "#d62728"}
    for k, (name, pts) in enumerate(sorted(series.items())):
        c = colors.get(name, "black")
        path = " ".join(f"{px(t)},{py(v)}" for t, v in sorted(pts))
        svg.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        for t, v in pts:
            svg.append(f'<circle cx="{px(t)}" cy="{py(v)}" r="3" fill="{c}"/>')
        svg.append(f'<text x="{W-R+10}" y="{T+20+18*k}" fill="{c}">{name}</text>')
    svg.append("</svg>")
    open(out, "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
