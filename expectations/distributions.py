"""The distribution of a stage's main metrics over the rows it landed: numbers Dagster plots
across runs (one metadata entry per metric and quantile) and a histogram a person can read."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tessera.core.baseline import MAIN_METRICS

QUANTILES = {"p10": 10, "median": 50, "p90": 90}
BARS = " ▁▂▃▄▅▆▇█"


def distributions(entries: Iterable[dict[str, Any]], landed_only: bool = True) -> dict[str, dict[str, Any]]:
    """metric → n, min, p10, median, p90, max and a 12-bin histogram (counts, edges), over the
    landed rows that have the metric (a metric no landed row has is left out). `landed_only`
    False: the entries are already the landed rows' metrics."""
    values: dict[str, list[float]] = {m: [] for m in MAIN_METRICS}
    for e in entries:
        if landed_only and e.get("status") != "landed":
            continue
        for m in MAIN_METRICS:
            v = e.get(m)
            if v is not None and np.isfinite(v):
                values[m].append(float(v))
    out: dict[str, dict[str, Any]] = {}
    for m, vs in values.items():
        if not vs:
            continue
        x = np.asarray(vs)
        counts, edges = np.histogram(x, bins=12)
        out[m] = {
            "n": int(x.size),
            "min": float(x.min()),
            **{k: float(np.percentile(x, q)) for k, q in QUANTILES.items()},
            "max": float(x.max()),
            "histogram": {"counts": counts.tolist(), "edges": [round(float(e), 4) for e in edges]},
        }
    return out


def markdown(dists: dict[str, dict[str, Any]]) -> str:
    """A table: one metric a row, its quantiles and a one-line histogram."""
    if not dists:
        return "no landed rows with these metrics"
    lines = ["| metric | n | min | p10 | median | p90 | max | histogram |", "|---|---|---|---|---|---|---|---|"]
    for m, d in dists.items():
        lines.append(f"| {m} | {d['n']} | " + " | ".join(number(d[k]) for k in ("min", "p10", "median", "p90", "max")) + f" | `{sparkline(d['histogram']['counts'])}` |")
    return "\n".join(lines)


def sparkline(counts: list[int]) -> str:
    top = max(counts) or 1
    return "".join(BARS[0 if c == 0 else max(1, round(c / top * (len(BARS) - 1)))] for c in counts)


def number(v: float) -> str:
    """3 significant digits, or thousands separators past 1,000."""
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
