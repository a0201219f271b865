"""The monitor's views and queries: per-resource status, exchange volume, quarantine, sharing, alerts, log.

Routes are in `web/routes/monitor.py`; this package holds what they read and how viewers sign in.
"""

from web.monitor.alerts import Alert, chain_state, clear_chain_cache, collect_alerts
from web.monitor.auth import Viewer, check_admin, create_admin
from web.monitor.i18n import LABELS, label
from web.monitor.quarantine import csv_chunks, quarantine_rows
from web.monitor.queries import exchange_volume, log_page, overview_rows, quality_trend

__all__ = [
    "LABELS",
    "Alert",
    "Viewer",
    "chain_state",
    "check_admin",
    "clear_chain_cache",
    "collect_alerts",
    "create_admin",
    "csv_chunks",
    "exchange_volume",
    "label",
    "log_page",
    "overview_rows",
    "quality_trend",
    "quarantine_rows",
]
