"""The command line as a newcomer uses it: run from an empty folder with the default settings
(no .env, no DATA_DIR, no DATABASE_URL), init (twice), say, remind, digest, selfcheck; and what
goes wrong at set-up: a missing --env-file, a busy port, output piped into `head`, --help."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_PY = str(ROOT / "run.py")
ENGLISH_ARGPARSE = (
    "usage:",
    "positional arguments",
    "optional arguments",
    "options:",
    "show this help message",
    "error:",
    "the following arguments",
    "invalid choice",
)


def _env(env_extra=None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WECOM_", "BOT_", "HTTP_", "EVIDENCE_"))
        and k not in ("DATABASE_URL", "DATA_DIR", "SANDBOX")
    }
    env.update(BOT_ADMINS="boss", PYTHONIOENCODING="utf-8")
    env.update(env_extra or {})
    return env


def run(tmp_path, *args, env_extra=None, timeout=120):
    """`python3 /abs/run.py ARGS` with tmp_path as the working directory and default paths."""
    return subprocess.run(
        [sys.executable, RUN_PY, *args],
        cwd=tmp_path,
        env=_env(env_extra),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def test_init_twice_then_say(tmp_path, campaign_clock):
    at = ("--at", campaign_clock.arg)
    first = run(tmp_path, "init")
    assert first.returncode == 0, first.stderr
    assert "63 项任务和指标" in first.stdout and "新增 648 条责任分工" in first.stdout
    assert (tmp_path / "data" / "bot.db").is_file(), "DATABASE_URL's default is ./data/bot.db"
    assert run(tmp_path, "say", *at, "boss", "绑定", "zhangsan", "市监局").returncode == 0
    second = run(tmp_path, "init")
    assert "新增 0 条责任分工" in second.stdout
    reply = run(tmp_path, "say", *at, "zhangsan", "进度", "T7", "60%")
    assert reply.returncode == 0 and "T7" in reply.stdout and "60%" in reply.stdout
    log = run(tmp_path, "say", *at, "boss", "日志", "T7")
    assert "60%" in log.stdout
    assert campaign_clock.at.strftime("%m-%d %H:%M") in log.stdout, "logged at the --at time"


def test_bad_config_names_each_problem(tmp_path):
    result = run(tmp_path, "init", env_extra={"HTTP_PORT": "abc", "BOT_TIMEZONE": "Nowhere"})
    assert result.returncode == 2
    assert "HTTP_PORT" in result.stderr and "BOT_TIMEZONE" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_env_file_is_named_not_ignored(tmp_path):
    result = run(tmp_path, "--env-file", "prod.env", "init")
    assert result.returncode == 2
    assert "prod.env" in result.stderr and "--env-file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists(), "nothing was created on the defaults"
    (tmp_path / "prod.env").write_text("DATABASE_URL=sqlite:///prod/bot.db\n", encoding="utf-8")
    assert run(tmp_path, "--env-file", "prod.env", "init").returncode == 0
    assert (tmp_path / "prod" / "bot.db").is_file() and not (tmp_path / "data").exists()


def test_remind_and_digest_through_the_cli(tmp_path):
    """The issue's check, on key days: T7 due 2026-10-09 for 县市场监管局, liaison and head bound."""
    assert run(tmp_path, "init").returncode == 0
    august = ("--at", "2026-08-20T10:00")  # the deadline is set back in August
    run(tmp_path, "say", *august, "boss", "绑定", "li", "市监局")
    run(tmp_path, "say", *august, "boss", "绑定", "chief", "市监局", "负责人")
    setup = run(tmp_path, "say", *august, "boss", "期限", "T7", "2026-10-09")
    assert setup.returncode == 0 and "2026-10-09" in setup.stdout
    expected = {
        "2026-09-22T09:05": "1 个事项提醒，1 条消息",  # 7 working days before
        "2026-10-01T09:05": "今天不是工作日",  # National Day
        "2026-10-09T09:05": "1 个事项提醒，1 条消息",  # the day
        "2026-10-10T09:05": "1 个事项提醒，1 条消息",  # 调休 Saturday, 1st overdue
        "2026-10-13T09:05": "2 个事项提醒，2 条消息",  # 3rd overdue: the head too
    }
    for at, summary in expected.items():
        result = run(tmp_path, "remind", "--at", at)
        assert result.returncode == 0, result.stderr
        assert summary in result.stdout, (at, result.stdout)
    again = run(tmp_path, "remind", "--at", "2026-10-13T15:00")
    assert "0 个事项提醒，0 条消息" in again.stdout
    first = run(tmp_path, "digest", "--at", "2026-10-12T09:05")
    second = run(tmp_path, "digest", "--at", "2026-10-12T10:00")
    assert "周报已发布" in first.stdout and "周报未发布" in second.stdout
    preview = run(tmp_path, "digest", "--at", "2026-10-19T09:05", "--preview")
    assert "预计得分" in preview.stdout


def test_selfcheck_follows_the_clock(tmp_path, campaign_clock):
    assert run(tmp_path, "init").returncode == 0
    check = run(tmp_path, "selfcheck", "--at", campaign_clock.arg)
    assert check.returncode == 0, check.stdout + check.stderr  # warnings only: no WeCom yet
    year = campaign_clock.at.year
    warned = f"缺少 {year + 1} 年的节假日安排" in check.stdout
    assert warned == campaign_clock.next_year_missing, check.stdout
    if not warned:
        assert f"已包含 {year} 年" in check.stdout


def test_selfcheck_fails_when_nobody_is_an_admin(tmp_path):
    assert run(tmp_path, "init").returncode == 0
    check = run(tmp_path, "selfcheck", "--at", "2026-11-26T09:30", env_extra={"BOT_ADMINS": ""})
    assert check.returncode == 1
    line = next(line for line in check.stdout.splitlines() if "管理员" in line)
    assert "故障" in line, check.stdout
    assert "BOT_ADMINS" in check.stdout and "Traceback" not in check.stderr


def test_say_talks_to_the_demo_database(tmp_path, campaign_clock):
    """`say --demo` uses ./data/demo/demo.db with the demo's people, seeded at the --at time;
    everything the demo keeps is in that folder of its own."""
    result = run(tmp_path, "say", "--demo", "--at", campaign_clock.arg, "demo_scj", "任务", "T11")
    assert result.returncode == 0, result.stderr
    overdue = (campaign_clock.at.date() - timedelta(days=3)).isoformat()  # the demo's T11
    assert "T11" in result.stdout and overdue in result.stdout, result.stdout
    assert "已载入演示数据" in result.stderr, "set-up notices stay out of the reply"
    assert "已载入演示数据" not in result.stdout and "方案已载入" not in result.stdout
    assert (tmp_path / "data" / "demo" / "demo.db").is_file()
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["demo"], "nothing beside it"
    again = run(tmp_path, "say", "--demo", "--at", campaign_clock.arg, "demo_admin", "日志", "T11")
    assert again.returncode == 0 and "T11" in again.stdout
    assert "已载入演示数据" not in again.stderr, "seeded once"
    ledger = run(tmp_path, "say", "--demo", "--at", campaign_clock.arg, "demo_admin", "导出")
    assert ledger.returncode == 0 and ".xlsx" in ledger.stdout, ledger.stdout
    exports = (tmp_path / "data" / "demo" / "exports").rglob("*")
    assert any(p.is_file() for p in exports), "the ledger is kept in the demo's own folder"
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["demo"]


@pytest.mark.parametrize(
    "args",
    [
        ["selfcheck"],
        ["say", "boss", "帮助"],
        ["remind"],
    ],
)
def test_commands_never_create_a_database_and_say_to_init(tmp_path, args):
    """Run in the wrong folder (or without the service's --env-file), a command used to leave
    an empty data/bot.db behind and answer from it."""
    done = run(tmp_path, *args)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert "还没有数据库" in done.stderr and "python3 run.py init" in done.stderr, done.stderr
    assert str(tmp_path / "data" / "bot.db") in done.stderr
    assert not (tmp_path / "data").exists(), "nothing was created"


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_busy_port_names_the_setting_to_change(tmp_path, command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(tmp_path, command, env_extra={"HTTP_PORT": str(port)}, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"端口 {port} 已被占用" in result.stderr and "HTTP_PORT" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_serve_at_a_pinned_time_is_refused_with_wecom(tmp_path):
    wecom = {
        "WECOM_CORP_ID": "ww1436e0e65a779aee",
        "WECOM_AGENT_ID": "1000002",
        "WECOM_SECRET": "s3cret",
        "WECOM_TOKEN": "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
        "WECOM_ENCODING_AES_KEY": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
    }
    result = run(tmp_path, "serve", "--at", "2026-11-26T09:30", env_extra=wecom, timeout=60)
    assert result.returncode == 2 and "--at" in result.stderr and "企业微信" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [["--help"], ["say", "--demo", "--at", "2026-11-26T09:30", "demo_admin", "帮助"]],
    ids=["help", "say"],
)
def test_output_into_a_closed_pipe_is_not_an_error(tmp_path, args):
    """`run.py … | head -1`: the reader is gone before run.py writes (closed here at once)."""
    proc = subprocess.Popen(
        [sys.executable, RUN_PY, *args],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    err = err.decode("utf-8", "replace")
    assert "Broken pipe" not in err and "BrokenPipeError" not in err, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert proc.returncode in (0, 1)


def _help(tmp_path, *args) -> str:
    result = run(tmp_path, *args, "--help")
    assert result.returncode == 0, result.stderr
    return result.stdout


def _argument_lines(text: str) -> list[str]:
    """Lines under 位置参数/选项 naming an argument, joined with their wrapped help."""
    entries: list[str] = []
    section = None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            section = line if line in ("位置参数：", "选项：") else None
        elif section and re.match(r"^  \S", line):
            entries.append(line.strip())
        elif section and entries and line.startswith("      "):
            entries[-1] += " " + line.strip()
    return entries


def test_help_is_chinese_with_a_line_for_every_argument(tmp_path):
    main = _help(tmp_path)
    commands = re.findall(r"^    ([a-z]+) +\S", main, flags=re.MULTILINE)
    assert {
        "serve",
        "demo",
        "init",
        "say",
        "selfcheck",
        "remind",
        "digest",
        "import",
        "pack",
        "worker",
    } <= set(commands)
    procs = {
        name: subprocess.Popen(
            [sys.executable, RUN_PY, name, "--help"],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        for name in commands
    }
    texts = {"": main}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        texts[name] = out
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for name, text in texts.items():
        assert text.startswith("用法：run.py"), (name, text)
        lowered = text.lower()
        assert not [e for e in ENGLISH_ARGPARSE if e in lowered], (name, text)
        entries = _argument_lines(text)
        assert any(e.startswith("-h, --help") for e in entries), (name, text)
        for entry in entries:
            assert cjk.search(entry), f"{name or 'run.py'}: no Chinese help for {entry!r}"
    for option in ("--demo", "--at", "userid", "消息"):
        assert option in texts["say"]
    assert "--clock-offset" in texts["worker"] and "--env-file" in texts[""]
    assert "--apply" in texts["import"] and "--by" in texts["import"] and "--out" in texts["pack"]


def test_argument_errors_are_chinese(tmp_path):
    missing = run(tmp_path, "say")
    assert missing.returncode == 2 and "错误" in missing.stderr and "userid" in missing.stderr
    bad_time = run(tmp_path, "remind", "--at", "明天")
    assert bad_time.returncode == 2 and "不是时间" in bad_time.stderr
    unknown = run(tmp_path, "start")
    assert unknown.returncode == 2 and "serve" in unknown.stderr
    for result in (missing, bad_time, unknown):
        assert not [e for e in ENGLISH_ARGPARSE if e in result.stderr.lower()], result.stderr


# ---------------------------------------------------------------- the remote sandbox

SANDBOX_SECRET = "a-long-enough-sandbox-secret"


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_remote_sandbox_without_a_secret_does_not_start(tmp_path, command):
    result = run(tmp_path, command, env_extra={"SANDBOX": "1", "HTTP_PORT": "0"}, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "SANDBOX=1" in result.stderr and "SANDBOX_SECRET" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "data").exists(), "nothing was created"


def _bind_through_the_remote_sandbox(tmp_path, env_extra: dict) -> list[str]:
    """`run.py serve` with SANDBOX=1: boss binds zhangsan through the sandbox's API (with the
    secret); returns what the server printed at start."""
    from conftest import SUNDAY_NIGHT
    from helpers import SandboxApi, run_py_server

    env = {"SANDBOX": "1", "SANDBOX_SECRET": SANDBOX_SECRET, "BOT_ADMINS": "boss", **env_extra}
    printed: list[str] = []
    with run_py_server(tmp_path, ["serve", "--at", SUNDAY_NIGHT.arg], env, printed) as url:
        api = SandboxApi(url.removesuffix("/sandbox"), secret=SANDBOX_SECRET)
        status, body = api.call("send", {"userid": "boss", "text": "绑定 zhangsan 市监局"})
        assert status == 202, body
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            _, feed = api.call("feed?after_out=0&after_in=0")
            if any("已绑定" in m["text"] for m in feed["outgoing"]):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"no reply from the worker: {feed}")
    return printed


def _members(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT wecom_userid FROM member")]


def test_a_remote_sandbox_works_on_its_own_database(tmp_path):
    assert run(tmp_path, "init").returncode == 0  # the office's real database, data/bot.db
    printed = "".join(_bind_through_the_remote_sandbox(tmp_path, {}))
    data = tmp_path / "data"
    assert _members(data / "sandbox.db") == ["zhangsan"], "the web process and its worker"
    assert _members(data / "bot.db") == [], "the real database is untouched"
    assert "扮演任何人" in printed and str(data / "sandbox.db") in printed, printed
    # Every command of this deployment means the same database.
    reply = run(
        tmp_path,
        "say",
        "zhangsan",
        "我的任务",
        env_extra={"SANDBOX": "1", "SANDBOX_SECRET": SANDBOX_SECRET},
    )
    assert reply.returncode == 0 and "县市场监管局" in reply.stdout, reply.stdout + reply.stderr


def test_a_remote_sandbox_uses_the_main_database_when_told(tmp_path):
    assert run(tmp_path, "init").returncode == 0
    printed = "".join(
        _bind_through_the_remote_sandbox(tmp_path, {"SANDBOX_USE_MAIN_DATABASE": "是"})
    )
    data = tmp_path / "data"
    assert _members(data / "bot.db") == ["zhangsan"]
    assert not (data / "sandbox.db").exists()
    assert "沙盒使用正式数据库" in printed, printed


def test_import_and_pack_through_the_cli(tmp_path):
    """run.py import: a dry run that changes nothing, --apply of what it showed, a second
    import that finds nothing; --apply without a dry run is refused. run.py pack: one zip."""
    import zipfile

    sys.path.insert(0, str(ROOT / "tests"))
    import sheet_layouts

    assert run(tmp_path, "init").returncode == 0
    (tmp_path / "分解表.xlsx").write_bytes(sheet_layouts.task_breakdown())
    refused = run(tmp_path, "import", "分解表.xlsx", "--apply", "--by", "boss")
    assert refused.returncode == 1 and "请先运行" in refused.stderr
    preview = run(tmp_path, "import", "分解表.xlsx", "--by", "boss")
    assert preview.returncode == 0, preview.stderr
    assert "【导入预览】分解表.xlsx" in preview.stdout and "T7-1" in preview.stdout
    assert "--apply --by boss" in preview.stdout and "县商贸局" in preview.stdout
    applied = run(tmp_path, "import", "分解表.xlsx", "--apply", "--by", "boss")
    assert applied.returncode == 0, applied.stderr
    assert "已导入“分解表.xlsx”：新增节点 2 个" in applied.stdout
    again = run(tmp_path, "import", "分解表.xlsx", "--by", "boss")
    assert "没有需要改动的内容" in again.stdout
    log = run(tmp_path, "say", "boss", "日志", "T7")
    assert "导入《分解表.xlsx》" in log.stdout and "boss" in log.stdout
    missing = run(tmp_path, "import", "没有这个文件.xlsx")
    assert missing.returncode == 2 and "找不到文件" in missing.stderr

    packed = run(tmp_path, "pack", "--out", "材料包.zip")
    assert packed.returncode == 0, packed.stderr
    assert "已生成" in packed.stdout and "✗ Z1 " in packed.stdout
    with zipfile.ZipFile(tmp_path / "材料包.zip") as zf:
        assert "迎检材料包/目录.xlsx" in zf.namelist()
    assert run(tmp_path, "pack", "没有的类别").returncode == 2
