"""The demo's 政务服务 side: the simulated identity provider the hub trusts, and the record as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from cli.support import beijing
from simulators.idp import SimulatedIdP
from web.access_page import answer_text

__all__ = ["access_table", "demo_idp"]


def demo_idp(keys_dir: Path) -> SimulatedIdP:
    """The simulated IdP (key in `<keys>/idp-simulated/`), its public half where the hub looks for it by default
    (`<keys>/idp-public.pem`, unless GOVHUB_IDP_PUBLIC_KEY names another)."""
    idp = SimulatedIdP.load_or_create(Path(keys_dir) / "idp-simulated")
    public = Path(keys_dir) / "idp-public.pem"
    if not public.exists() or public.read_text(encoding="ascii") != idp.public_key_pem():
        public.write_text(idp.public_key_pem(), encoding="ascii")
    return idp


def _when(text: str | None) -> str:
    from datetime import datetime

    return beijing(datetime.fromisoformat(text), seconds=True) if text else "—"


def access_table(record: dict[str, Any]) -> Table:
    """`GET /api/access-record`'s answer as one table: queries, then deliveries, newest first."""
    table = Table(title=f"access record — 谁查了我的数据（{record['subject_masked']}）")
    for column in (
        "when 时间（北京时间）",
        "what 类型",
        "who 单位",
        "for 事项/资源",
        "case 办件编号",
        "purpose 用途",
        "answer 答复",
    ):
        table.add_column(column)
    for q in record["queries"]:
        table.add_row(
            _when(q["at"]),
            "核验 query",
            q["client_name"],
            q["item_name"],
            q["case_number"] or "—",
            q["purpose"] or "—",
            answer_text(q["answer"], q["resource"], "zh"),
        )
    for d in record["deliveries"]:
        start, to = d["from_version"], d["to_version"]
        versions = f"全量 snapshot v{to}" if start is None else f"v{to}" if start + 1 == to else f"v{start + 1}–v{to}"
        table.add_row(
            _when(d["at"]),
            "交付 delivery",
            d["department_name"],
            f"{d['resource']} {versions}",
            "—",
            d["purpose"],
            d["mode"],
        )
    return table
