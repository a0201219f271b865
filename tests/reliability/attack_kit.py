"""What the attack tests aim at and how they judge the outcome (this module holds no tests).

The targets come from the app's own OpenAPI spec (every operation, every path/query parameter and
body field) and, for the verification bodies the spec leaves opaque, from the verification catalogue
(`exchange/verify/items.yaml`: each item's subject fields and params). `Tally.judge` decides whether
one attack held: the answer is what the attack expects (a refusal, or at least no 5xx), the exchange
log gained an event for it, and the body carries none of the hub's protected values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from exchange.log import ExchangeEvent
from exchange.verify import VerificationService

__all__ = [
    "INJECTIONS",
    "METHODS",
    "Operation",
    "Tally",
    "Target",
    "injection_targets",
    "operations",
    "payloads",
    "protected_operations",
]

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SQL_INJECTIONS = (
    "' OR '1'='1",
    "1; DROP TABLE subscription; --",
    "' UNION SELECT key_hash, api_key_hash FROM department --",
    "1' AND (SELECT COUNT(*) FROM verification_client) > 0 --",
    '" OR ""="',
    "%' OR 1=1 --",
    "1 OR pg_sleep(5) IS NULL",
    "'; UPDATE department SET active = 1; --",
)
PATH_TRAVERSALS = (
    "../../../../etc/passwd",
    "..%2f..%2f..%2fkeys%2fdelivery.secret",
    "..\\..\\..\\windows\\win.ini",
    "/etc/passwd",
    "....//....//keys/hub-ed25519.key",
    "file:///etc/passwd",
    "%2e%2e%2f%2e%2e%2fgovhub.db",
    "../keys/delivery.secret\x00.json",
)
OTHER_HOSTILE = ("{{7*7}}${7*7}", "<script>alert(1)</script>", "\x00", "A" * 5000, "9" * 40, "-1", "𠮷" * 50, "null")
INJECTIONS = SQL_INJECTIONS + PATH_TRAVERSALS + OTHER_HOSTILE


def payloads(long: bool) -> tuple[str, ...]:
    """The hostile strings: three SQL injections, three traversals and a 40-digit number bounded; all when long."""
    return INJECTIONS if long else (*SQL_INJECTIONS[:3], *PATH_TRAVERSALS[:3], "9" * 40)


@dataclass(frozen=True)
class Operation:
    """One operation of the spec."""

    method: str
    path: str
    spec: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def params(self, where: str) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == where]


@dataclass(frozen=True)
class Target:
    """One place a hostile value can go: a path or query parameter, or a body (or form) field."""

    operation: Operation
    location: str  # "path", "query", "body", "form", "verify-body"
    name: str  # for verify-body: "subject.<field>", "params.<name>", "case_number", "purpose"
    item: str | None = None  # the verification item whose body carries it


def operations(spec: Mapping[str, Any]) -> list[Operation]:
    """Every operation in the spec."""
    return [Operation(m.upper(), path, op) for path, ops in spec["paths"].items() for m, op in ops.items()]


def protected_operations(spec: Mapping[str, Any]) -> list[Operation]:
    """Operations that need a key: a declared security scheme, or the verification client's X-Client-Key."""
    return [
        op
        for op in operations(spec)
        if op.spec.get("security") or "x-client-key" in {h.lower() for h in op.params("header")}
    ]


def body_fields(spec: Mapping[str, Any], op: Operation) -> tuple[str, list[str]]:
    """("body" | "form", the field names) of an operation's request body, resolved through $ref."""
    content = op.spec.get("requestBody", {}).get("content", {})
    for media, location in (("application/json", "body"), ("application/x-www-form-urlencoded", "form")):
        if media in content:
            schema = content[media]["schema"]
            if "$ref" in schema:
                schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            return location, list(schema.get("properties", {}))
    return "", []


def injection_targets(spec: Mapping[str, Any], service: VerificationService) -> list[Target]:
    """Every path and query parameter and body field of the spec, plus the verification body members."""
    targets: list[Target] = []
    for op in operations(spec):
        targets += [Target(op, "path", name) for name in op.params("path")]
        targets += [Target(op, "query", name) for name in op.params("query")]
        if op.method == "POST" and op.path.startswith("/api/verify/{item}"):
            targets += _verify_body_targets(op, service)  # the members, and each subject field and param
            continue
        location, names = body_fields(spec, op)
        targets += [Target(op, location, name) for name in names]
    return targets


def _verify_body_targets(op: Operation, service: VerificationService) -> list[Target]:
    """case_number, purpose, and each subject field and param name, once, with an item that takes it."""
    seen: dict[str, str] = {"case_number": "identity_matches", "purpose": "identity_matches"}
    for code, item in service.items.items():
        for name in item.subject:
            seen.setdefault(f"subject.{name}", code)
        for param in item.params:
            seen.setdefault(f"params.{param.name}", code)
    return [Target(op, "verify-body", name, item) for name, item in seen.items()]


def fill_path(path: str, values: Mapping[str, str], *, hostile: tuple[str, str] | None = None) -> str:
    """The path with its {parameters} filled (`hostile` = (name, value) to put in one of them, URL-quoted)."""
    for name, value in values.items():
        if hostile and hostile[0] == name:
            value = quote(hostile[1], safe="")
        path = path.replace("{" + name + "}", str(value))
    return path


@dataclass
class Tally:
    """Attacks tried and held for one family, with a line for each that did not hold."""

    family: str
    protected: list[str]
    tried: int = 0
    held: int = 0
    failures: list[str] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def judge(
        self,
        what: str,
        response: Any,
        new_events: Iterable[ExchangeEvent],
        *,
        expect: Callable[[int], bool],
        must_log: bool,
        may_show: Iterable[str] = (),
        problem: str | None = None,
    ) -> bool:
        """Count one attack: held when `expect(status)`, logged (if `must_log`), nothing protected shown and
        no `problem` found by the caller's own check."""
        self.tried += 1
        status = response.status_code
        self.statuses[status] = self.statuses.get(status, 0) + 1
        events = list(new_events)
        text = response.content.decode("utf-8", "replace")
        allowed = set(may_show)
        leaked = [v for v in self.protected if v not in allowed and v in text]
        problems = [problem] if problem else []
        if not expect(status):
            problems.append(f"answered {status}: {text[:200]}")
        refusal = status >= 400
        if must_log and not any(e.outcome in ("denied", "failed", "invalid") or not refusal for e in events):
            problems.append("no exchange-log event records it")
        if leaked:
            problems.append(f"the answer shows protected values {[v[:12] for v in leaked[:3]]}")
        if "root:x:0:0" in text or "PRIVATE KEY" in text:
            problems.append("the answer shows a file from disk")
        if problems:
            self.failures.append(f"{what}: {'; '.join(problems)}")
            return False
        self.held += 1
        return True

    def figures(self) -> dict[str, Any]:
        return {"statuses": ", ".join(f"{code}×{n}" for code, n in sorted(self.statuses.items()))}

    def report(self, n: int = 8) -> str:
        return f"{self.family}: {self.tried - self.held} of {self.tried} did not hold\n" + "\n".join(self.failures[:n])
