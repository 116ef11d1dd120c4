"""The scheduling files parse and run `ragguard audit` with a baseline."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parents[1]

# One cron time field: *, a number, a range, a list, with an optional step; or a name (jan, mon).
_ATOM = r"(\*|\d+(-\d+)?|[a-z]{3}(-[a-z]{3})?)(/\d+)?"
_FIELD = re.compile(rf"^{_ATOM}(,{_ATOM})*$", re.IGNORECASE)
_RANGES = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


def _valid_cron_field(field: str, lo: int, hi: int) -> bool:
    if not _FIELD.match(field):
        return False
    return all(lo <= int(n) <= hi for n in re.findall(r"(?<![/\d])\d+", field))


def _valid_schedule(expr: str) -> bool:
    fields = expr.split()
    return len(fields) == 5 and all(_valid_cron_field(f, lo, hi) for f, (lo, hi) in zip(fields, _RANGES, strict=True))


def _audit_args(command: str) -> list[str]:
    """The arguments after `ragguard audit` in a shell command line."""
    words = shlex.split(command)
    for i, w in enumerate(words):
        if w.endswith("ragguard") and i + 1 < len(words) and words[i + 1] == "audit":
            return words[i + 2 :]
    raise AssertionError(f"no `ragguard audit` in {command!r}")


def test_schedule_checker_itself() -> None:
    assert _valid_schedule("17 2 * * *") and _valid_schedule("*/15 0-6 1,15 jan-mar mon")
    assert not _valid_schedule("61 2 * * *") and not _valid_schedule("17 2 * *") and not _valid_schedule("a b c d e")


def test_cron_line() -> None:
    lines = [
        ln
        for ln in (HERE / "ragguard-audit.cron").read_text().splitlines()
        if ln.strip() and not ln.lstrip().startswith("#") and not re.match(r"^[A-Z_]+=", ln)
    ]
    assert len(lines) == 1, lines
    fields = lines[0].split(None, 5)
    assert _valid_schedule(" ".join(fields[:5])), fields[:5]
    args = _audit_args(fields[5])
    assert "--baseline" in args and args[args.index("--baseline") + 1].endswith(".json")
    assert "--update-baseline" not in args  # the nightly job alerts until someone reviews
    assert "%" not in fields[5]  # cron turns an unescaped % into a newline


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((HERE / name).read_text())
    return parser


def test_systemd_service() -> None:
    unit = _unit("ragguard-audit.service")
    assert set(unit.sections()) == {"Unit", "Service"}
    svc = unit["Service"]
    assert svc["Type"] == "oneshot"
    args = _audit_args(svc["ExecStart"])
    assert "--baseline" in args
    assert "SuccessExitStatus" not in svc  # exits 1 and 2 must mark the unit failed
    assert unit["Unit"]["Description"]


def test_systemd_timer() -> None:
    unit = _unit("ragguard-audit.timer")
    assert set(unit.sections()) == {"Unit", "Timer", "Install"}
    timer = unit["Timer"]
    assert timer["OnCalendar"] and timer["Persistent"] == "true"
    assert timer["Unit"] == "ragguard-audit.service"
    assert unit["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_finds_no_syntax_errors(tmp_path: Path) -> None:
    for name in ("ragguard-audit.service", "ragguard-audit.timer"):
        shutil.copy(HERE / name, tmp_path / name)
    res = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "ragguard-audit.timer"), str(tmp_path / "ragguard-audit.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # The executable, user and running manager may be missing on a test machine: only syntax counts.
    syntax = [
        ln
        for ln in res.stderr.splitlines()
        if re.search(r"Unknown (key|section|lvalue)|Failed to parse|Invalid|Missing '='|bad-setting", ln)
    ]
    assert syntax == [], res.stderr


def test_kubernetes_cronjob() -> None:
    doc = yaml.safe_load((HERE / "cronjob.yaml").read_text())
    assert doc["apiVersion"] == "batch/v1" and doc["kind"] == "CronJob"
    spec = doc["spec"]
    assert _valid_schedule(spec["schedule"])
    assert spec["concurrencyPolicy"] == "Forbid"
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 0
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    (container,) = pod["containers"]
    command = container["command"] + container.get("args", [])
    assert command[:2] == ["ragguard", "audit"] and "--baseline" in command
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    baseline = command[command.index("--baseline") + 1]
    assert any(baseline.startswith(m + "/") for m in mounts)  # the baseline lives on a volume
    volumes = {v["name"] for v in pod["volumes"]}
    assert {m["name"] for m in container["volumeMounts"]} <= volumes
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_kubernetes_cronjob_audit_reads_a_0600_copy_of_the_key_never_the_secret_mount() -> None:
    # A Secret's files belong to root; fsGroup makes them group-readable, which ragguard refuses.
    pod = yaml.safe_load((HERE / "cronjob.yaml").read_text())["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    secrets = {name for name, v in volumes.items() if "secret" in v}
    (audit,) = pod["containers"]
    env = {e["name"]: e.get("value") for e in audit["env"]}
    key_file = env["RAGGUARD_KEY_FILE"]
    assert not secrets & {m["name"] for m in audit["volumeMounts"]}  # the audit never sees the Secret itself
    (key_mount,) = [m for m in audit["volumeMounts"] if key_file.startswith(m["mountPath"] + "/")]
    assert volumes[key_mount["name"]]["emptyDir"]["medium"] == "Memory" and key_mount.get("readOnly") is True
    (init,) = pod["initContainers"]
    assert init["command"][:3] == ["install", "-m", "0600"] and init["command"][-1] == key_file
    assert {m["name"] for m in init["volumeMounts"]} == secrets | {key_mount["name"]}
    assert "runAsUser" not in init.get("securityContext", {})  # the pod's non-root user, not root


def test_readme_covers_each_file_and_exit_code() -> None:
    text = (HERE / "README.md").read_text()
    for name in ("ragguard-audit.cron", "ragguard-audit.service", "ragguard-audit.timer", "cronjob.yaml"):
        assert name in text
    for word in ("RAGGUARD_STORE", "RAGGUARD_KEY_FILE", "--baseline", "| 0 |", "| 1 |", "| 2 |"):
        assert word in text
