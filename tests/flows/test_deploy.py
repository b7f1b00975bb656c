"""The service files in deploy/: systemd units pass `systemd-analyze verify` (skipped where the
tool is absent), and the Windows service definitions (WinSW) run the same two commands."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import PurePosixPath

import pytest
from service_setup import ROOT

from bot.config import Config
from bot.runtime.cli import build_parser

SYSTEMD = ROOT / "deploy" / "systemd"
WINDOWS = ROOT / "deploy" / "windows"
UNITS = ("dubanbot-web.service", "dubanbot-worker.service", "dubanbot.target")
INSTALL_DIR = "/opt/dubanbot"
VENV_PYTHON = "/opt/dubanbot/venv/bin/python"


def _exec_commands(unit: str) -> list[list[str]]:
    lines = (SYSTEMD / unit).read_text(encoding="utf-8").splitlines()
    return [line.split("=", 1)[1].split() for line in lines if line.startswith("ExecStart=")]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_units_verify(tmp_path):
    """Verified as installed: the paths point at this checkout and this Python (the tool checks
    that ExecStart's program exists). Any complaint, even one it only warns about, fails."""
    for name in UNITS:
        text = (SYSTEMD / name).read_text(encoding="utf-8")
        text = text.replace(VENV_PYTHON, sys.executable).replace(INSTALL_DIR, str(ROOT))
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr


def test_the_units_run_web_and_worker_with_the_same_settings():
    (web,) = _exec_commands("dubanbot-web.service")
    (worker,) = _exec_commands("dubanbot-worker.service")
    assert web[:-1] == worker[:-1] and (web[-1], worker[-1]) == ("web", "worker")
    assert web[0] == VENV_PYTHON and web[2:4] == ["--env-file", f"{INSTALL_DIR}/.env"]
    args = build_parser().parse_args(web[2:])
    assert args.command == "web" and args.env_file == f"{INSTALL_DIR}/.env"
    for unit in ("dubanbot-web.service", "dubanbot-worker.service"):
        text = (SYSTEMD / unit).read_text(encoding="utf-8")
        assert "Restart=always" in text and "KillSignal=SIGTERM" in text


def _sections(unit: str) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current = None
    for line in (SYSTEMD / unit).read_text(encoding="utf-8").splitlines():
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
        elif "=" in line and not line.startswith("#") and current is not None:
            key, value = line.split("=", 1)
            current[key] = value
    return sections


@pytest.mark.parametrize("unit", ["dubanbot-web.service", "dubanbot-worker.service"])
def test_the_units_stop_retrying_and_write_only_the_data_folder(unit):
    """A wrong setting no longer restarts for ever; the program folder is root's and read-only
    to the service, which may write its data folder only: the folder DATA_DIR's default means
    beside the unit's --env-file."""
    sections = _sections(unit)
    assert int(sections["Unit"]["StartLimitIntervalSec"]) >= 60
    assert 1 <= int(sections["Unit"]["StartLimitBurst"]) <= 10
    service = sections["Service"]
    assert "2" in service["RestartPreventExitStatus"].split(), "a setting to fix: no restart"
    assert service["ProtectSystem"] == "strict"
    data = Config.from_mapping({}, base_dir=PurePosixPath(INSTALL_DIR)).data_dir
    assert service["ReadWritePaths"].split() == [PurePosixPath(data).as_posix()]
    for setting in ("NoNewPrivileges", "PrivateTmp", "ProtectHome"):
        assert service[setting] == "yes", setting


def test_the_readme_service_steps_keep_the_code_root_owned_and_env_private():
    """The README's Linux steps: .env owned by the service user, mode 0600; the data folder the
    units may write created for it; nothing hands the program folder to the service user."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    steps = readme.split("### Linux（systemd", 1)[1].split("```", 2)[1]
    assert (
        f"-o dubanbot -g dubanbot -m 600 {INSTALL_DIR}/config.example.env {INSTALL_DIR}/.env"
        in steps
    )
    assert f"install -d -o dubanbot -g dubanbot -m 700 {INSTALL_DIR}/data" in steps
    assert "chown -R" not in steps and "chmod -R" not in steps
    assert steps.index("/.env\n") < steps.index(" init\n"), ".env is private before it is filled"


def test_windows_services_run_web_and_worker():
    found = {}
    for name in ("dubanbot-web", "dubanbot-worker"):
        root = ET.parse(WINDOWS / f"{name}.xml").getroot()
        assert root.tag == "service" and root.findtext("id") == name
        arguments = root.findtext("arguments").split()
        found[name] = arguments
        assert root.findtext("executable").endswith("python.exe")
        assert root.findtext("workingdirectory") == "C:\\dubanbot"
        assert [e.get("action") for e in root.findall("onfailure")] == ["restart"] * 3
        assert root.findtext("stoptimeout") == "30 sec"  # above the worker's 10 s of grace
        assert {e.get("name"): e.get("value") for e in root.findall("env")}["PYTHONUTF8"] == "1"
        parsed = build_parser().parse_args(arguments[1:])
        assert parsed.env_file == "C:\\dubanbot\\.env"
    assert [a[-1] for a in found.values()] == ["web", "worker"]
    assert found["dubanbot-web"][:-1] == found["dubanbot-worker"][:-1]
