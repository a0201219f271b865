"""Run summaries as a table a data admin reads: counts that reconcile and the top rejection reasons."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.table import Table

__all__ = ["run_table"]


def run_table(summaries: Iterable[dict[str, Any]], *, title: str = "ingest runs — 采集结果") -> Table:
    """One row per run (a recheck under the ingest that caused it): extracted = accepted + rejected + pending."""
    table = Table(title=title, show_lines=False)
    for column, justify in (
        ("resource", "left"),
        ("extracted", "right"),
        ("accepted", "right"),
        ("rejected", "right"),
        ("pending", "right"),
        ("warned", "right"),
        ("reconciles", "center"),
        ("version", "right"),
        ("seconds", "right"),
        ("top rejection reasons", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for s in _with_rechecks(summaries):
        reasons = "; ".join(f"{r['reason']} ×{r['rows']}" for r in (s.get("top_reasons") or [])[:3]) or "—"
        reconciles = s.get("reconciled")
        kind = s.get("kind") or "ingest"
        table.add_row(
            s["resource"] if kind == "ingest" else f"  {s['resource']} ({kind})",
            f"{s.get('extracted') or 0:,}",
            f"{s.get('accepted') or 0:,}",
            f"{s.get('rejected') or 0:,}",
            f"{s.get('pending') or 0:,}",
            f"{s.get('warned') or 0:,}",
            "[green]✓[/]" if reconciles else "[red]✗[/]",
            "—" if s.get("version") is None else str(s["version"]),
            f"{s.get('seconds') or 0:.2f}",
            reasons,
        )
    return table


def _with_rechecks(summaries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each run followed by the rechecks it caused (`rechecks` of a run summary)."""
    out = []
    for s in summaries:
        out.append(s)
        out.extend(s.get("rechecks") or [])
    return out
