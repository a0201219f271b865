"""A resource's lineage as a graph for ECharts: source system → resource → versions → receiving departments.

Built from `catalog.lineage` (the catalogue's graph data): departments by name, versions by their full
run id (each version node and run links to the run's page), deliveries summed per version and department.
The newest `MAX_VERSIONS` versions are drawn; the table under the graph lists them all.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import quote

from web.clock import beijing_text
from web.monitor.i18n import Lang, coded, label

__all__ = ["MAX_VERSIONS", "lineage_chart", "ol_event_row"]

MAX_VERSIONS = 12
_X = (0, 300, 600, 900)  # columns: source, resource, versions, departments
_GAP = 56


def _column(count: int) -> list[float]:
    """Vertical positions of `count` nodes centred on 0."""
    return [(i - (count - 1) / 2) * _GAP for i in range(count)]


def lineage_chart(graph: dict[str, Any], names: dict[str, str], lang: Lang) -> dict[str, Any]:
    """ECharts graph data (`nodes`, `links`, `categories`) for one resource's `catalog.lineage` graph."""
    source, resource = graph["source"], graph["resource"]
    system_name = source["label"] if lang == "zh" else (source["label_en"] or source["label"])
    resource_name = resource["name"] if lang == "zh" else (resource["name_en"] or resource["name"])
    versions = graph["versions"][-MAX_VERSIONS:]
    categories = [label(k, lang) for k in ("source_system", "resource", "version", "department")]
    nodes: list[dict[str, Any]] = [
        {
            "id": "source",
            "name": system_name,
            "category": 0,
            "x": _X[0],
            "y": 0,
            "tip": f"{label('source_system', lang)}：{system_name}\n{label('provider', lang)}："
            f"{names.get(source['provider_code'], source['provider_name'])}",
        },
        {
            "id": "resource",
            "name": resource_name,
            "category": 1,
            "x": _X[1],
            "y": 0,
            "tip": f"{label('resource', lang)}：{resource_name}（{resource['code']}）",
        },
    ]
    links: list[dict[str, Any]] = [{"source": "source", "target": "resource", "label": label("ev_ingest", lang)}]
    for y, v in zip(_column(len(versions)), versions, strict=True):
        node_id = f"v{v['version']}"
        nodes.append(
            {
                "id": node_id,
                "name": f"{label('version_n', lang, v=v['version'])}\n{v['run_id'] or ''}".strip(),
                "category": 2,
                "x": _X[2],
                "y": y,
                "href": f"/monitor/runs/{quote(str(v['run_id']), safe='')}" if v.get("run_id") else None,
                "tip": f"{label('version_n', lang, v=v['version'])} · {beijing_text(v['committed_at'], seconds=True)}\n"
                f"{label('run_id', lang)}：{v['run_id']}\n{label('rows_n', lang, n=v['rows_total'])}",
            }
        )
        links.append({"source": "resource", "target": node_id, "label": ""})
    shown = {v["version"] for v in versions}
    sums: dict[tuple[int, str], dict[str, Any]] = defaultdict(lambda: {"rows": 0, "count": 0, "failed": 0})
    for d in graph["deliveries"]:
        if d.get("to_version") in shown:
            entry = sums[(d["to_version"], d["department_code"])]
            entry["rows"] += int(d.get("rows") or 0)
            entry["count"] += 1
            entry["failed"] += d.get("status") == "failed"
            entry["mode"] = d.get("mode")
    departments = sorted({code for _, code in sums}, key=lambda c: names.get(c, c))
    for y, code in zip(_column(len(departments)), departments, strict=True):
        nodes.append(
            {
                "id": f"d:{code}",
                "name": names.get(code, code),
                "category": 3,
                "x": _X[3],
                "y": y,
                "tip": f"{label('department', lang)}：{names.get(code, code)}",
            }
        )
    for (version, code), entry in sorted(sums.items()):
        links.append(
            {
                "source": f"v{version}",
                "target": f"d:{code}",
                "label": f"{coded('mode', entry.get('mode'), lang)} {label('rows_n', lang, n=entry['rows'])}",
                "failed": bool(entry["failed"]),
            }
        )
    return {"nodes": nodes, "links": links, "categories": categories, "drawn": len(versions)}


def ol_event_row(event: dict[str, Any]) -> dict[str, str]:
    """One OpenLineage event as a table row: when, what, which job, the hub's run id (full), from where to where."""

    def datasets(items: list[dict[str, Any]] | None) -> str:
        return ", ".join(f"{d.get('namespace')}/{d.get('name')}" for d in items or [])

    run = event.get("run") or {}
    hub_run = ((run.get("facets") or {}).get("govhub_run") or {}).get("run_id")
    return {
        "time": beijing_text(event.get("eventTime"), seconds=True),
        "type": str(event.get("eventType", "")),
        "job": str((event.get("job") or {}).get("name", "")),
        "run": str(hub_run or run.get("runId", "")),
        "hub_run": str(hub_run or ""),
        "inputs": datasets(event.get("inputs")),
        "outputs": datasets(event.get("outputs")),
    }
