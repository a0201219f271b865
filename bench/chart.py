"""The README's chart: rows/s of every full-load case and seconds of every 1 % incremental run, per side.

Drawn with matplotlib's Agg backend (no display) from the peers summary `bench_peers.summarise` returns.

    from bench.chart import write_chart
    write_chart(summary, Path("bench/rows_per_second.png"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["COLOURS", "write_chart"]

COLOURS = {"raw": "#8c8c8c", "dlt": "#4c72b0", "govhub": "#2ca02c"}


def write_chart(summary: dict[str, Any], path: Path) -> Path:
    """Write a two-panel bar chart (full: rows/s; incremental: seconds) to `path` and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = summary.get("cases") or []
    full = [c for c in cases if c["phase"] == "full"]
    incremental = [c for c in cases if c["phase"] == "incremental"]
    if not full:
        raise ValueError("no full-load case in the summary: nothing to chart (run bench.bench_peers first)")
    fig, axes = plt.subplots(1, 2 if incremental else 1, figsize=(12 if incremental else 7, 4.2), squeeze=False)
    _bars(axes[0][0], full, "rows_per_s", "rows/s (higher is better)", "{:,.0f}")
    axes[0][0].set_title(f"full load of {summary.get('rows', 0):,} rows")
    if incremental:
        _bars(axes[0][1], incremental, "seconds", "seconds (lower is better)", "{:.1f} s")
        axes[0][1].set_title(f"after a 1 % change ({summary.get('changed', 0):,} rows)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=colour) for colour in COLOURS.values()]
    fig.legend(handles, list(COLOURS), loc="lower center", ncol=len(COLOURS), frameon=False)
    source = summary.get("source", "sqlite")
    fig.suptitle(f"govhub vs raw ADBC→Parquet vs dlt — source {source}, median of {summary.get('repeat', '?')}")
    fig.tight_layout(rect=(0, 0.07, 1, 0.95))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _bars(ax: Any, cases: list[dict[str, Any]], key: str, label: str, fmt: str) -> None:
    names = [c["case"] for c in cases]
    values = [c[key] for c in cases]
    bars = ax.barh(names, values, color=[COLOURS.get(c["side"], "#cccccc") for c in cases])
    ax.invert_yaxis()
    ax.set_xlabel(label)
    ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=3, fontsize=8)
    ax.set_xlim(0, max(values, default=1) * 1.25 or 1)
    ax.spines[["top", "right"]].set_visible(False)
    ax.xaxis.set_major_formatter(lambda x, _pos: f"{x:,.0f}")
