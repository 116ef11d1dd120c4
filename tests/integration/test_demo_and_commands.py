"""The demo end to end, and the serve / adopt commands' edges."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ragguard.cli import EXIT_ERROR, app
from ragguard.demo import default_data_dir, run

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_demo_guarded_retriever_serves_no_attacker_text(tmp_path: Path, embedder: object) -> None:
    data = default_data_dir()
    assert data is not None
    result = run(data, tmp_path, say=lambda _: None, embedder=embedder)
    bad_plain, bad_guarded = result.attacker_rows
    assert bad_plain >= 3 and bad_guarded == 0
    assert all(a in ("quarantine", "reject") for a in result.ingest_actions.values())
    reasons = result.audit.by_reason()
    assert reasons.get("unsealed") == 1 and reasons.get("embedding_mismatch") == 1
    assert result.audit.exit_code == 2


def test_demo_command_runs(tmp_path: Path) -> None:
    res = runner.invoke(app, ["demo", "--store", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "attacker-controlled results: unguarded" in res.output and "guarded 0 of 5" in res.output


def test_serve_refuses_to_start_without_tokens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RAGGUARD_API_TOKENS", raising=False)
    res = runner.invoke(app, ["serve", "--store", str(tmp_path), "--port", "1"])
    assert res.exit_code == EXIT_ERROR and "token" in res.output.lower()
    res = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--unsafe-no-auth", "--store", str(tmp_path)])
    assert res.exit_code == EXIT_ERROR and "loopback" in res.output.lower()
