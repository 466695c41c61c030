#!/usr/bin/env python3
"""Scaling plot from criterion's results: respond latency and pack load time
against the number of intents (synthetic packs, `triage gen-pack`), log-log.

    python3 benches/scaling/plot.py [target/criterion] [benches/scaling/scaling.svg]

Reads scale/respond_N, scale/floor_N and scale/load_N medians; also prints a
Markdown table.
Standard library only.
"""
import json
import math
import os
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "target/criterion"
out = sys.argv[2] if len(sys.argv) > 2 else "benches/scaling/scaling.svg"
rss_file = os.path.join(os.path.dirname(out), "rss.txt")


def median(kind, n):
    path = os.path.join(root, "scale", f"{kind}_{n}", "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]  # nanoseconds


sizes = sorted(
    int(d.split("_")[1])
    for d in os.listdir(os.path.join(root, "scale"))
    if d.startswith("respond_")
)
respond = [median("respond", n) / 1e3 for n in sizes]  # µs
floor = [median("floor", n) / 1e3 for n in sizes]  # µs
load = [median("load", n) / 1e6 for n in sizes]  # ms
rss = {}
if os.path.exists(rss_file):
    for line in open(rss_file):
        n, kb = line.split()
        rss[int(n)] = int(kb) / 1024

W, H, M = 760, 340, 60


def panel(x0, title, ys, unit, budget=None, extra=None):
    """One log-log panel of `ys` against the sizes; `extra`: (label, values) drawn
    beside it in grey."""
    every = ys + ([budget] if budget else []) + (extra[1] if extra else [])
    lo = 10 ** math.floor(math.log10(min(every)))
    hi = 10 ** math.ceil(math.log10(max(every)))
    xs_lo, xs_hi = math.log10(min(sizes)), math.log10(max(sizes))
    pw, ph = W / 2 - M - 20, H - 2 * M

    def px(n):
        return x0 + M + (math.log10(n) - xs_lo) / (xs_hi - xs_lo) * pw

    def py(v):
        return M + ph - (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph

    s = [f'<text x="{x0 + M + pw / 2}" y="{M - 25}" text-anchor="middle" font-weight="bold">{title}</text>']
    s.append(f'<rect x="{x0 + M}" y="{M}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    d = 0
    while lo * 10 ** d <= hi:
        v = lo * 10 ** d
        s.append(f'<line x1="{x0 + M}" x2="{x0 + M + pw}" y1="{py(v)}" y2="{py(v)}" stroke="#eee"/>')
        s.append(f'<text x="{x0 + M - 6}" y="{py(v) + 4}" text-anchor="end" font-size="11">{v:g} {unit}</text>')
        d += 1
    for n in sizes:
        s.append(f'<text x="{px(n)}" y="{M + ph + 16}" text-anchor="middle" font-size="11">{n:,}</text>')
    s.append(f'<text x="{x0 + M + pw / 2}" y="{M + ph + 34}" text-anchor="middle" font-size="11">intents</text>')
    if budget:
        s.append(f'<line x1="{x0 + M}" x2="{x0 + M + pw}" y1="{py(budget)}" y2="{py(budget)}" stroke="#c33" stroke-dasharray="4 3"/>')
        s.append(f'<text x="{x0 + M + 4}" y="{py(budget) - 4}" font-size="11" fill="#c33">budget</text>')
    if extra:
        label, values = extra
        pts = " ".join(f"{px(n)},{py(v)}" for n, v in zip(sizes, values))
        s.append(f'<polyline points="{pts}" fill="none" stroke="#888" stroke-width="1.5" stroke-dasharray="2 2"/>')
        s.append(f'<text x="{px(sizes[-1]) + 4}" y="{py(values[-1]) + 4}" font-size="10" fill="#666">{label}</text>')
    pts = " ".join(f"{px(n)},{py(v)}" for n, v in zip(sizes, ys))
    s.append(f'<polyline points="{pts}" fill="none" stroke="#2563eb" stroke-width="2"/>')
    for n, v in zip(sizes, ys):
        s.append(f'<circle cx="{px(n)}" cy="{py(v)}" r="3.5" fill="#2563eb"/>')
        label = f"{v:,.0f}" if v >= 100 else f"{v:.3g}"
        s.append(f'<text x="{px(n) - 6}" y="{py(v) - 8}" text-anchor="end" font-size="10">{label}</text>')
    return "\n".join(s)


growth_budget = respond[0] * 3
svg = [
    f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">',
    '<rect width="100%" height="100%" fill="white"/>',
    panel(0, "respond, median per message", respond, "µs", growth_budget, ("floor", floor)),
    panel(W / 2, "pack load + compile, median", load, "ms", 1000),
    "</svg>",
]
with open(out, "w") as f:
    f.write("\n".join(svg) + "\n")

print("| intents | respond (median) | growth vs 10 | floor (median) | floor growth vs 10 | respond / floor | load + compile | peak RSS (`triage ask`) |")
print("|---|---|---|---|---|---|---|---|")
for n, r, fl, l in zip(sizes, respond, floor, load):
    mem = f"{rss[n]:.0f} MB" if n in rss else "–"
    print(
        f"| {n:,} | {r:.1f} µs | {r / respond[0]:.1f}× | {fl:.2f} µs | {fl / floor[0]:.1f}× "
        f"| {r / fl:.1f}× | {l:.1f} ms | {mem} |"
    )
print(f"\nwrote {out}")
