"""The four source systems as running things: registries (SQL), credit API (HTTP), payment files (inbox).

Deterministic generators with a chosen share of labelled bad records, for the demo, tests and benchmarks.
"""

from simulators.bad import BAD_KINDS, FILE_BAD_KINDS, BadKind, BadRecord, count_by_kind
from simulators.corrupt import flip_bytes, resend, truncate, wrong_manifest
from simulators.credit import CreditSimulator, FaultMode
from simulators.generate import Table, generate_persons
from simulators.generate_orgs import generate_credit, generate_entities
from simulators.home import SIM_EPOCH, SimulatorHome, build_all, build_population
from simulators.nontax import manifest_path, settlement_name
from simulators.registry import connect, create_table, sql_url
from simulators.tick import TickSummary, tick_all

__all__ = [
    "BAD_KINDS",
    "FILE_BAD_KINDS",
    "SIM_EPOCH",
    "BadKind",
    "BadRecord",
    "CreditSimulator",
    "FaultMode",
    "SimulatorHome",
    "Table",
    "TickSummary",
    "build_all",
    "build_population",
    "connect",
    "count_by_kind",
    "create_table",
    "flip_bytes",
    "generate_credit",
    "generate_entities",
    "generate_persons",
    "manifest_path",
    "resend",
    "settlement_name",
    "sql_url",
    "tick_all",
    "truncate",
    "wrong_manifest",
]
