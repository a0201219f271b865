"""`govhub catalog` and `govhub subscription`: tables on success, one red line on govhub errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import POLICE, USER, apply_args
from typer.testing import CliRunner

from cli.main import app
from govhub.settings import reset_settings


def _ok(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_seed_list_search_show_and_export(cli: CliRunner, tmp_path: Path) -> None:
    assert "市人社局" in _ok(cli, "catalog", "seed")
    listed = _ok(cli, "catalog", "list")
    assert "101001001" in listed and "312001001" in listed
    found = _ok(cli, "catalog", "search", "身份")
    assert "101001001" in found and "312001001" not in found
    shown = _ok(cli, "catalog", "show", "person")
    assert "公民身份号码" in shown and "市公安局" in shown
    out = tmp_path / "dcat.jsonld"
    _ok(cli, "catalog", "export-dcat", str(out))
    assert len(json.loads(out.read_text(encoding="utf-8"))["dcat:dataset"]) == 4


def test_issue_key_prints_a_key_once(cli: CliRunner) -> None:
    _ok(cli, "catalog", "seed")
    assert _ok(cli, "catalog", "issue-key", USER).strip().startswith(f"gh.{USER}.")


def test_subscription_workflow(cli: CliRunner) -> None:
    _ok(cli, "catalog", "seed")
    applied = _ok(cli, *apply_args("name", "status"))
    assert "pending" in applied
    assert "1" in _ok(cli, "subscription", "list", "--as", POLICE, "--status", "pending")
    assert "granted" in _ok(cli, "subscription", "decide", "1", "--as", POLICE, "--approve")
    assert "revoked" in _ok(cli, "subscription", "revoke", "1", "--as", USER, "--reason", "办结")
    _ok(cli, "subscription", "overdue")


def test_apply_takes_the_api_names_and_says_which_fields_arrive_masked(cli: CliRunner) -> None:
    _ok(cli, "catalog", "seed")
    application = apply_args("gender", "birth_date")
    masked = _ok(cli, *application, "--delivery-mode", "api")
    flat = " ".join(masked.split())
    assert "脱敏字段" in flat and "性别(gender)" in flat and "出生日期(birth_date)：不提供" in flat
    assert "pii_access=false" in flat and "--pii-access" in flat and "市公安局" in flat  # why, and how to ask
    unmasked = cli.invoke(app, [*application, "--pii", "--mode", "file"])
    assert unmasked.exit_code == 0, unmasked.output
    assert "--pii is deprecated: use --pii-access" in unmasked.output and "脱敏字段" not in unmasked.output
    assert "--mode is deprecated" in unmasked.output and "file" in unmasked.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["catalog", "show", "people"], "unknown resource 'people'", id="unknown-resource"),
        pytest.param(
            ["subscription", "decide", "7", "--as", POLICE, "--approve"], "unknown subscription #7", id="unknown-id"
        ),
        pytest.param(apply_args("salary"), "has no field(s) salary", id="unknown-field"),
    ],
)
def test_govhub_errors_are_one_red_line(cli: CliRunner, args: list[str], message: str) -> None:
    _ok(cli, "catalog", "seed")
    result = cli.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_times_are_beijing_time_and_say_so(cli: CliRunner) -> None:
    _ok(cli, "catalog", "seed")
    _ok(cli, *apply_args("name", scope="人社局社保待遇资格认证系统"))
    listed = _ok(cli, "subscription", "list", "--as", POLICE)
    assert "23:59" in listed  # due by the end of a Beijing working day, not 15:59 UTC
    status = CliRunner().invoke(app, ["status"], env={"COLUMNS": "200"})
    assert status.exit_code == 0, status.output
    assert "北京时间" in status.output


def test_department_list_and_names_wherever_codes_are(cli: CliRunner) -> None:
    _ok(cli, "catalog", "seed")
    listed = CliRunner().invoke(app, ["department", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    assert USER in listed.output and "市人社局" in listed.output and "issue-key" in listed.output
    assert _ok(cli, "catalog", "issue-key", "市人社局").strip().startswith(f"gh.{USER}.")
    _ok(cli, *apply_args("name", department="市人社局", scope="人社局社保待遇资格认证系统"))
    assert "granted" in _ok(cli, "subscription", "decide", "1", "--as", "市公安局", "--approve")
    unknown = cli.invoke(app, ["catalog", "issue-key", "市不存在局"])
    assert unknown.exit_code != 0 and "市不存在局" in unknown.output


def test_targets_are_registered_by_name_and_never_printed(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ok(cli, "catalog", "seed")
    monkeypatch.setenv("GOVHUB_DELIVERY_TARGETS", json.dumps({"rsj": "postgresql+psycopg://rs:pw@db.rsj.example/rs"}))
    reset_settings()
    _ok(cli, "target", "add", USER, "rsj-db", "--setting", "rsj")
    added = cli.invoke(app, ["target", "add", POLICE, "gaj-db", "--url"], input="sqlite:////srv/gaj/gaj.db\n")
    assert added.exit_code == 0, added.output
    secret = tmp_path / "hub" / "keys" / "delivery-targets" / POLICE / "gaj-db.url"
    assert secret.read_text().strip() == "sqlite:////srv/gaj/gaj.db" and (secret.stat().st_mode & 0o077) == 0
    listed = _ok(cli, "target", "list")
    assert "rsj-db" in listed and "gaj-db" in listed
    assert "db.rsj.example" not in listed and "/srv/gaj" not in listed and "pw" not in listed
    hub_db = tmp_path / "hub" / "govhub.db"
    refused = cli.invoke(app, ["target", "add", USER, "evil", "--url"], input=f"sqlite:///{hub_db}\n")
    assert refused.exit_code == 1 and "store of the hub itself" in " ".join(refused.output.split())
    assert not (tmp_path / "hub" / "keys" / "delivery-targets" / USER / "evil.url").exists()
    applied = _ok(cli, *apply_args("name"), "--mode", "database", "--target", "rsj-db")
    assert "database" in applied
    _ok(cli, "target", "remove", USER, "rsj-db")
    assert "rsj-db" not in _ok(cli, "target", "list")
