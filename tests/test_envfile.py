"""The settings file as editors leave it (bot/runtime/envfile.py): UTF-8 with or without a BOM,
Notepad's UTF-16 and GBK, unknown keys with the setting they probably mean, who may read it."""

from __future__ import annotations

import codecs
import os
import stat
from dataclasses import replace

import pytest

from bot import selfcheck
from bot.config import READERS_UNKNOWN, Config
from bot.runtime import envfile
from bot.runtime.envfile import EnvFileError, broad_readers, read_env_file

TEXT = "# 督办机器人的设置\nBOT_ADMINS=boss\nHTTP_PORT=8080\n"


@pytest.mark.parametrize(
    "data, encoding",
    [
        (TEXT.encode("utf-8"), "UTF-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "UTF-8（带 BOM）"),
        (TEXT.encode("utf-16"), "UTF-16"),  # Notepad's "Unicode": a BOM, then UTF-16LE
        (TEXT.encode("gbk"), "GBK/GB18030"),  # Notepad's "ANSI" on Chinese Windows
        ("# 𠀀\nBOT_ADMINS=boss\nHTTP_PORT=8080\n".encode("gb18030"), "GBK/GB18030"),
        (TEXT.replace("\n", "\r\n").encode("gbk"), "GBK/GB18030"),
    ],
)
def test_each_encoding_reads_every_setting(tmp_path, data, encoding):
    """A BOM once cost the first setting its name ("\\ufeffBOT_ADMINS")."""
    path = tmp_path / ".env"
    path.write_bytes(data)
    env = read_env_file(path)
    assert env.values == {"BOT_ADMINS": "boss", "HTTP_PORT": "8080"}
    assert env.encoding == encoding and env.unknown == ()


def test_an_encoding_that_is_neither_is_refused_in_chinese(tmp_path):
    path = tmp_path / ".env"
    path.write_bytes(b"BOT_ADMINS=\xff\xfe\xfa\n")
    with pytest.raises(EnvFileError, match=r"编码无法识别.*另存为.*UTF-8"):
        read_env_file(path)


def test_unknown_keys_come_with_what_they_probably_mean(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "HTTP_PROT=9000\nbot_admins=boss\nWECOM_SECERT=x\nPGPASSWORD=pw\nDATA_DIR=data\n",
        encoding="utf-8",
    )
    assert read_env_file(path).unknown == (
        ("HTTP_PROT", "HTTP_PORT"),
        ("bot_admins", "BOT_ADMINS"),  # settings are read in capitals only
        ("WECOM_SECERT", "WECOM_SECRET"),
        ("PGPASSWORD", ""),  # nothing close: named, without a guess
    )


@pytest.mark.parametrize(
    "line, secret",
    [
        ("WECOM_SECRET=s3cret", True),
        ("SANDBOX_SECRET=abcdefghijklmnopq", True),
        ("DATABASE_URL=postgresql://bot:pw@db:5432/duban", True),
        ("DATABASE_URL=postgresql://bot@db:5432/duban", False),
        ("WECOM_SECRET=", False),
        ("BOT_ADMINS=boss", False),
    ],
)
def test_what_counts_as_a_secret(tmp_path, line, secret):
    path = tmp_path / ".env"
    path.write_text(line + "\n", encoding="utf-8")
    assert read_env_file(path).holds_secret is secret


@pytest.mark.skipif(os.name != "posix", reason="mode bits mean nothing on Windows")
def test_a_readable_file_with_a_secret_is_tightened(tmp_path):
    path = tmp_path / ".env"
    path.write_text("WECOM_SECRET=s3cret\n", encoding="utf-8")
    os.chmod(path, 0o644)
    said = envfile.tighten_env_file(read_env_file(path))
    assert "0644" in said and "0600" in said
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert envfile.tighten_env_file(read_env_file(path)) == "", "nothing more to say"
    assert envfile.exposed_to(read_env_file(path)) == ()
    plain = tmp_path / "plain.env"
    plain.write_text("BOT_ADMINS=boss\n", encoding="utf-8")
    os.chmod(plain, 0o644)
    assert envfile.tighten_env_file(read_env_file(plain)) == "", "no secret: left as it is"
    assert stat.S_IMODE(os.stat(plain).st_mode) == 0o644


# ---------------------------------------------------------------- Windows' access lists

EVERYONE, USERS, AUTHENTICATED, SYSTEM, ADMINS = (
    "S-1-1-0",
    "S-1-5-32-545",
    "S-1-5-11",
    "S-1-5-18",
    "S-1-5-32-544",
)
FULL, READ_DATA, GENERIC_READ, WRITE_ONLY = 0x1F01FF, 0x1, 0x80000000, 0x2
OWNER = "S-1-5-21-1-2-3-1001"


def test_broad_groups_that_may_read_are_found():
    """An access list as a file under D:\\ inherits it (Users may read) against one as icacls
    leaves it (the owner, SYSTEM and Administrators only)."""
    inherited = [
        (0, 0x10, FULL, SYSTEM),
        (0, 0x10, FULL, ADMINS),
        (0, 0x10, 0x1200A9, USERS),
        (0, 0x10, 0x1301BF, AUTHENTICATED),
    ]
    assert broad_readers(inherited) == ("Users", "Authenticated Users")
    assert broad_readers([(0, 0, FULL, OWNER), (0, 0, FULL, SYSTEM), (0, 0, FULL, ADMINS)]) == ()
    assert broad_readers([(0, 0, GENERIC_READ, EVERYONE)]) == ("Everyone",)
    assert broad_readers([(0, 0, WRITE_ONLY, EVERYONE)]) == (), "cannot read"
    assert broad_readers([(0, 0x08, FULL, EVERYONE)]) == (), "inherit-only: not this file"
    assert broad_readers([(1, 0, READ_DATA, EVERYONE)]) == (), "a deny entry grants nothing"


def test_on_windows_the_access_list_decides(tmp_path, monkeypatch):
    path = tmp_path / ".env"
    path.write_text("WECOM_SECRET=s3cret\n", encoding="utf-8")
    monkeypatch.setattr(envfile.sys, "platform", "win32")
    monkeypatch.setattr(envfile, "windows_aces", lambda p: [(0, 0x10, 0x1200A9, USERS)])
    assert envfile.exposed_to(read_env_file(path)) == ("Users",)

    def broken(_path):
        raise OSError(5, "denied")

    monkeypatch.setattr(envfile, "windows_aces", broken)
    assert envfile.exposed_to(read_env_file(path)) == (READERS_UNKNOWN,)


def test_selfcheck_flags_a_readable_settings_file_with_the_icacls_line(tmp_path, monkeypatch):
    monkeypatch.setattr(selfcheck, "WINDOWS", True)
    config = Config.from_mapping({"DATA_DIR": str(tmp_path)})
    path = tmp_path / ".env"
    readable = selfcheck._settings_access(
        replace(config, env_file=path, env_file_readers=("Users",))
    )
    assert readable.level == selfcheck.WARN and readable.name == "设置文件权限"
    assert "Users 也能读取" in readable.detail
    assert readable.advice.startswith(f'在管理员命令提示符中运行：icacls "{path}" /inheritance:r')
    assert "*S-1-5-18:F" in readable.advice
    monkeypatch.setattr(selfcheck, "WINDOWS", False)
    unknown = selfcheck._settings_access(
        replace(config, env_file=path, env_file_readers=(READERS_UNKNOWN,))
    )
    assert "不知道还有谁能读取" in unknown.detail and f"chmod 600 {path}" in unknown.advice


def test_selfcheck_names_unknown_settings_and_where_things_are(tmp_path):
    config = Config.from_mapping({"DATA_DIR": str(tmp_path / "data")})
    plain = selfcheck._settings(config)
    assert plain.level == selfcheck.OK and "未找到 .env，使用默认设置" in plain.detail
    assert str(tmp_path / "data") in plain.detail and "bot.db" in plain.detail
    misspelt = selfcheck._settings(
        replace(config, env_file=tmp_path / ".env", unknown_settings=(("HTTP_PROT", "HTTP_PORT"),))
    )
    assert misspelt.level == selfcheck.WARN and "HTTP_PROT（是不是 HTTP_PORT？）" in misspelt.detail
