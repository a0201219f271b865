"""`govhub dispute`: the applicant escalates, only the sharing authority decides, the log records it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import OTHER_USER, POLICE, USER, apply_args
from typer.testing import CliRunner

from catalog import HUB_ADMIN, configure_limits
from cli.main import app
from exchange.log import EventType
from govhub.db import session_scope
from govhub.exchange_log import hub_log
from govhub.settings import reset_settings


@pytest.fixture
def cli(cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The catalogue's CLI runner with a dispute time limit of 3 working days."""
    monkeypatch.setenv("GOVHUB_SHARING_DISPUTE_WORKING_DAYS", "3")
    reset_settings()
    yield cli
    configure_limits(answer_working_days=10, dispute_working_days=10)


def _run(cli: CliRunner, *args: str, code: int = 0) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def _refused_application(cli: CliRunner) -> None:
    _run(cli, "catalog", "seed")
    _run(cli, *apply_args("name"))
    _run(cli, "subscription", "decide", "1", "--as", POLICE, "--refuse", "--reason", "超出履职范围")


def test_escalate_and_decide_a_dispute_with_the_decision_in_the_exchange_log(cli: CliRunner) -> None:
    _refused_application(cli)
    refused = _run(cli, "dispute", "escalate", "1", "--as", OTHER_USER, "--grounds", "冒名", code=1)
    assert "only the applying department" in refused
    assert refused.index("错误：只有申请部门") < refused.index("error:")  # Chinese first
    opened = _run(cli, "dispute", "escalate", "1", "--as", USER, "--grounds", "履职确需")
    assert "待处理 open" in opened and "剩 3 个工作日" in opened
    assert "sharing authority" in _run(
        cli, "dispute", "decide", "1", "--as", POLICE, "--grant", "--reason", "x", code=1
    )
    decided = _run(cli, "dispute", "decide", "1", "--as", HUB_ADMIN, "--grant", "--reason", "属于履职所需")
    assert "granted" in decided and "属于履职所需" in decided
    assert "granted" in _run(cli, "subscription", "list", "--as", USER)
    with session_scope() as session:
        events = hub_log(session).query()
    admin = [e for e in events if e.type == EventType.ADMIN]
    assert len(admin) == 1
    assert admin[0].source == HUB_ADMIN and admin[0].department == USER and admin[0].resource == "person"
    assert admin[0].details == {
        "action": "dispute_decided",
        "dispute_id": 1,
        "subscription_id": 1,
        "outcome": "granted",
        "reason": "属于履职所需",
        "decided_with": "cli",
    }
    escalated = [e for e in events if e.type == EventType.SUBSCRIPTION]
    assert [e.details["action"] for e in escalated] == ["dispute_escalated"]  # type: ignore[index]
    assert escalated[0].department == USER


def test_the_dispute_time_limit_comes_from_the_settings(cli: CliRunner) -> None:
    _refused_application(cli)
    _run(cli, "dispute", "escalate", "1", "--as", USER, "--grounds", "履职确需")
    from catalog import current_limits

    assert current_limits().dispute_working_days == 3


def test_a_missing_statement_is_one_red_line_naming_the_field(cli: CliRunner) -> None:
    _run(cli, "catalog", "seed")
    out = _run(cli, *apply_args("name", valid_until=None), code=1)
    assert "valid_until is required" in out and "共享申请" in out


def test_dispute_errors_are_chinese_first_and_admin_keys_are_issued_by_cli(cli: CliRunner) -> None:
    _run(cli, "catalog", "seed")
    unknown = _run(cli, "dispute", "decide", "7", "--as", HUB_ADMIN, "--uphold", "--reason", "x", code=1)
    assert unknown.index("错误：协调 #7 不存在") < unknown.index("error: unknown dispute #7")
    assert "暂无共享争议" in _run(cli, "dispute", "list")
    key = _run(cli, "admin", "issue-key", "zhang-wei").strip()
    assert key.startswith("gha.zhang-wei.") and len(key) > 40
    assert "有效 yes" in _run(cli, "admin", "list-keys") and key not in _run(cli, "admin", "list-keys")
    bad = _run(cli, "admin", "issue-key", "张 伟", code=1)
    assert bad.index("错误：管理员密钥名称") < bad.index("error:")
    _run(cli, "admin", "revoke-key", "zhang-wei")
    assert "已作废 no" in _run(cli, "admin", "list-keys")
