"""Settings and startup checks: tokens, unsafe_no_auth on loopback only, TOML, env."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr, ValidationError
from ragguard import ConfigurationError, Settings
from ragguard.testing import make_guard
from server_helpers import TOKEN

from ragguard_server import ServerConfigError, ServerSettings, create_app, is_loopback, serve


def test_startup_without_token_fails() -> None:
    settings = ServerSettings(core=Settings())
    with pytest.raises(ServerConfigError, match="RAGGUARD_API_TOKENS"):
        create_app(settings, guard=make_guard())
    with pytest.raises(ServerConfigError, match="RAGGUARD_API_TOKENS"):
        serve(settings)  # refused before anything is opened or bound
    assert issubclass(ServerConfigError, ConfigurationError)  # the CLI prints these as one line


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.5", "example.com", "localhost.example.com"])
def test_unsafe_no_auth_refused_off_loopback(host: str) -> None:
    settings = ServerSettings(host=host, unsafe_no_auth=True, core=Settings())
    with pytest.raises(ServerConfigError, match="loopback"):
        create_app(settings, guard=make_guard())
    with pytest.raises(ServerConfigError, match="loopback"):
        serve(settings)
    # Even with tokens configured, the flag is refused off loopback: it is a mistake either way.
    with pytest.raises(ServerConfigError, match="loopback"):
        ServerSettings(host=host, unsafe_no_auth=True, api_tokens=[SecretStr(TOKEN)], core=Settings()).check_startup()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_unsafe_no_auth_on_loopback_serves_without_token(host: str) -> None:
    app = create_app(ServerSettings(host=host, unsafe_no_auth=True, core=Settings()), guard=make_guard())
    with TestClient(app) as c:
        assert c.post("/v1/search", json={"query": "x"}).status_code == 200


def test_tokens_still_required_when_configured_with_unsafe_flag() -> None:
    settings = ServerSettings(host="127.0.0.1", unsafe_no_auth=True, api_tokens=[SecretStr(TOKEN)], core=Settings())
    with TestClient(create_app(settings, guard=make_guard())) as c:
        assert c.post("/v1/search", json={"query": "x"}).status_code == 401


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.1") and not is_loopback("")


def test_tokens_from_env_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGGUARD_API_TOKENS", f" {TOKEN} , other-token-0123456789 ,")
    monkeypatch.setenv("RAGGUARD_MAX_RECORDS_PER_REQUEST", "7")
    monkeypatch.setenv("RAGGUARD_PORT", "9123")
    monkeypatch.setenv("RAGGUARD_COLLECTION", "kb-from-env")
    s = ServerSettings()
    assert [t.get_secret_value() for t in s.api_tokens] == [TOKEN, "other-token-0123456789"]
    assert s.max_records_per_request == 7 and s.port == 9123
    assert s.core.collection == "kb-from-env"  # the core settings come from the same environment
    assert TOKEN not in repr(s) and TOKEN not in str(s.model_dump())


@pytest.mark.parametrize("tokens", ["weak-tok", f"{TOKEN},tiny", "has space in the token value"])
def test_weak_tokens_rejected_without_echo(monkeypatch: pytest.MonkeyPatch, tokens: str) -> None:
    monkeypatch.setenv("RAGGUARD_API_TOKENS", tokens)
    with pytest.raises(ValidationError) as info:
        ServerSettings()
    text = str(info.value)
    assert "API token #" in text
    for part in tokens.split(","):
        assert part not in text


def test_server_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "server.toml"
    cfg.write_text('host = "0.0.0.0"\nport = 9000\nmax_text_chars = 500\napi_tokens = ["' + TOKEN + '"]\n')
    monkeypatch.setenv("RAGGUARD_SERVER_CONFIG", str(cfg))
    monkeypatch.setenv("RAGGUARD_PORT", "9001")  # environment wins over the file
    s = ServerSettings()
    assert (s.host, s.port, s.max_text_chars) == ("0.0.0.0", 9001, 500)
    s.check_startup()

    cfg.write_text("no_such_setting = 1\n")
    with pytest.raises(ValidationError):
        ServerSettings()
    monkeypatch.setenv("RAGGUARD_SERVER_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ServerConfigError, match="does not exist"):
        ServerSettings()


def _run_module(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    import os

    base = {k: v for k, v in os.environ.items() if not k.startswith("RAGGUARD_")}
    return subprocess.run(
        [sys.executable, "-m", "ragguard_server"],
        env={**base, "RAGGUARD_STORE": str(tmp_path / "store"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_module_refuses_to_start_without_token(tmp_path: Path) -> None:
    proc = _run_module({}, tmp_path)
    assert proc.returncode == 3
    assert "RAGGUARD_API_TOKENS" in proc.stderr and "Traceback" not in proc.stderr


def test_module_refuses_unsafe_no_auth_on_all_interfaces(tmp_path: Path) -> None:
    proc = _run_module({"RAGGUARD_UNSAFE_NO_AUTH": "true", "RAGGUARD_HOST": "0.0.0.0"}, tmp_path)
    assert proc.returncode == 3
    assert "loopback" in proc.stderr


def test_module_refuses_chroma_server_without_key(tmp_path: Path) -> None:
    proc = _run_module({"RAGGUARD_API_TOKENS": TOKEN, "RAGGUARD_CHROMA_URL": "http://127.0.0.1:9"}, tmp_path)
    assert proc.returncode == 3
    assert "RAGGUARD_SIGNING_KEY" in proc.stderr and TOKEN not in proc.stderr


def test_module_rejects_weak_token_without_echo(tmp_path: Path) -> None:
    proc = _run_module({"RAGGUARD_API_TOKENS": "weakling"}, tmp_path)
    assert proc.returncode == 3
    assert "api_tokens" in proc.stderr and "weakling" not in proc.stderr


def _invoke_serve(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> tuple[Any, list[ServerSettings]]:
    """Run ``ragguard serve ARGS`` with the server stubbed out: the CLI result and the settings it would serve."""
    from ragguard.cli import app
    from typer.testing import CliRunner

    import ragguard_server

    seen: list[ServerSettings] = []
    monkeypatch.setattr(ragguard_server, "serve", seen.append)
    return CliRunner().invoke(app, ["serve", "--store", str(tmp_path / "store"), *args]), seen


def _server_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str) -> Path:
    toml = tmp_path / "server.toml"
    toml.write_text(text)
    monkeypatch.setenv("RAGGUARD_SERVER_CONFIG", str(toml))
    return toml


def _cli_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> ServerSettings:
    """The settings ``ragguard serve ARGS`` would start the server with (the server itself is not run)."""
    result, seen = _invoke_serve(monkeypatch, tmp_path, *args)
    assert result.exit_code == 0, result.output
    (settings,) = seen
    return settings


def test_serve_cli_leaves_unset_options_to_the_environment_and_the_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _server_toml(monkeypatch, tmp_path, "port = 18433\nmax_k = 2\n")
    monkeypatch.setenv("RAGGUARD_UNSAFE_NO_AUTH", "true")
    monkeypatch.delenv("RAGGUARD_API_TOKENS", raising=False)
    settings = _cli_settings(monkeypatch, tmp_path)
    assert (settings.port, settings.max_k, settings.unsafe_no_auth, settings.host) == (18433, 2, True, "127.0.0.1")
    monkeypatch.setenv("RAGGUARD_PORT", "18434")  # the environment outranks the file
    assert _cli_settings(monkeypatch, tmp_path).port == 18434
    # and the command line outranks both
    settings = _cli_settings(monkeypatch, tmp_path, "--port", "18435", "--host", "::1", "-v")
    assert (settings.port, settings.host, settings.log_level) == (18435, "::1", "debug")


def test_serve_cli_names_a_misspelt_server_setting_and_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = _server_toml(monkeypatch, tmp_path, "prot = 9000\n")
    result, seen = _invoke_serve(monkeypatch, tmp_path)
    assert result.exit_code == 3 and seen == []
    assert f"invalid setting prot (from {toml} or a RAGGUARD_ variable)" in " ".join(result.output.split())
    assert "did you mean 'port'?" in result.output
