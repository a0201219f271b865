"""Run summaries as a table a data admin reads: counts that reconcile and the top rejection reasons."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Table

__all__ = ["run_table"]


def run_table(summaries: Iterable[dict[str, Any]], *, title: str = "ingest runs — 采集结果") -> Table:
    """One row per run: extracted = accepted + rejected, version, seconds, top reasons."""
    table = Table(title=title, show_lines=False)
    for column, justify in (
        ("resource", "left"),
        ("extracted", "right"),
        ("accepted", "right"),
        ("rejected", "right"),
        ("warned", "right"),
        ("reconciles", "center"),
        ("version", "right"),
        ("seconds", "right"),
        ("top rejection reasons", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for s in summaries:
        reasons = "; ".join(f"{r['reason']} ×{r['rows']}" for r in (s.get("top_reasons") or [])[:3]) or "—"
        reconciles = s.get("reconciled")
        table.add_row(
            s["resource"],
            f"{s.get('extracted') or 0:,}",
            f"{s.get('accepted') or 0:,}",
            f"{s.get('rejected') or 0:,}",
            f"{s.get('warned') or 0:,}",
            "[green]✓[/]" if reconciles else "[red]✗[/]",
            "—" if s.get("version") is None else str(s["version"]),
            f"{s.get('seconds') or 0:.2f}",
            reasons,
        )
    return table
