"""`govhub correction`: flag, list, confirm, reject, show; errors Chinese first; the time limit is a setting."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from correction_support import ALICE, BOB, OTHER_USER, POLICE, USER, CorrectionHub, correction_hub
from typer.testing import CliRunner

from catalog import configure_limits, get_flag
from catalog.workdays import add_working_days
from cli.main import app
from govhub.settings import reset_settings


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CorrectionHub]:
    monkeypatch.setenv("GOVHUB_CORRECTION_ANSWER_WORKING_DAYS", "3")
    yield correction_hub(tmp_path, monkeypatch)
    reset_settings()
    configure_limits(correction_working_days=10)


def _run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def _flag(*who: str, key: str = ALICE, code: int = 0) -> str:
    return _run(
        "correction",
        "flag",
        "person",
        key,
        "name",
        "--problem",
        "姓名用字有误",
        "--evidence",
        "户口簿原件",
        *who,
        code=code,
    )


def test_flag_confirm_show_list(hub: CorrectionHub) -> None:
    out = _flag("--as", "市人社局")
    assert "纠错 #1" in out and "待核实" in out
    with hub.session() as session:
        flag = get_flag(session, 1)
        assert flag.due_at.replace(tzinfo=dt.UTC) == add_working_days(flag.raised_at.replace(tzinfo=dt.UTC), 3)
    assert "已确认待更正" in _run("correction", "confirm", "1", "--as", "市公安局", "--reason", "核实属实")
    hub.publish({ALICE: "张叁", BOB: "李四"})
    assert "#1" in _run("correction", "check", "person")
    shown = _run("correction", "show", "1")
    for step in ("flagged", "confirmed", "notified", "closed"):
        assert step in shown
    assert "已更正关闭" in _run("correction", "list", "--as", USER)
    assert "#1" not in _run("correction", "check", "person")


def test_refusals_are_bilingual_and_change_nothing(hub: CorrectionHub) -> None:
    out = _flag("--as", OTHER_USER, code=1)
    assert "错误:" in out and "未获得该信息项的共享授权" in out and "no grant" in out
    assert "须指定且只能指定一个提出方" in _flag(code=1)
    assert "须指定且只能指定一个提出方" in _flag("--as", USER, "--admin", "admin", code=1)
    _flag("--as", USER)
    assert "请勿重复提出" in _flag("--admin", "admin", code=1)
    assert "只有数据提供部门" in _run("correction", "confirm", "1", "--as", USER, code=1)
    assert "驳回纠错必须说明理由" in _run("correction", "reject", "1", "--as", POLICE, "--reason", " ", code=1)
    assert "纠错 #9 不存在" in _run("correction", "show", "9", code=1)
    with hub.session() as session:
        assert get_flag(session, 1).status == "open"
    assert "已驳回" in _run("correction", "reject", "1", "--as", POLICE, "--reason", "档案记载无误")
