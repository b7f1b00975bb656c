import re
from pathlib import Path

import pytest

from bot.config import SETTINGS, Config, ConfigError, sqlite_url
from models.db import make_database

ROOT = Path(__file__).resolve().parent.parent

VALID_WECOM = {
    "WECOM_CORP_ID": "ww1436e0e65a779aee",
    "WECOM_AGENT_ID": "1000002",
    "WECOM_SECRET": "s3cret",
    "WECOM_TOKEN": "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo",
    "WECOM_ENCODING_AES_KEY": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt",
}


def test_defaults(tmp_path):
    config = Config.from_mapping({}, base_dir=tmp_path)
    assert config.data_dir == tmp_path.resolve() / "data"
    assert config.database_url == sqlite_url(tmp_path.resolve() / "data" / "bot.db")
    assert (config.http_host, config.http_port) == ("127.0.0.1", 8000)
    assert str(config.timezone) == "Asia/Shanghai"
    assert config.sandbox_enabled and not config.sandbox_remote_allowed
    assert not config.wecom_enabled


def test_relative_paths_mean_the_working_directory_once(tmp_path, monkeypatch):
    """Every process and file store must mean the same folder: paths are absolute from here on,
    whichever directory a later caller (Flask's send_file, a worker) resolves them against."""
    office = tmp_path / "办公室 1"
    office.mkdir()
    monkeypatch.chdir(office)
    config = Config.from_mapping(
        {"DATA_DIR": "files/../files", "DATABASE_URL": "sqlite:///db/x.db"}
    )
    assert config.data_dir == office.resolve() / "files" and config.data_dir.is_absolute()
    assert config.database_url == sqlite_url(office.resolve() / "db" / "x.db")
    monkeypatch.chdir(tmp_path)  # a later change of directory changes nothing
    handle = make_database(config.database_url)
    assert Path(handle.database) == office.resolve() / "db" / "x.db"
    # Absolute paths and other databases are left as they are.
    elsewhere = tmp_path / "abs.db"
    url = f"sqlite:///{elsewhere}"
    assert Config.from_mapping({"DATABASE_URL": url}).database_url == url
    pg = "postgresql://postgres@127.0.0.1:5432/bot"
    assert Config.from_mapping({"DATABASE_URL": pg}, base_dir=office).database_url == pg


def test_every_problem_is_named_in_one_error():
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping(
            {
                "DATABASE_URL": "mysql://x",
                "HTTP_PORT": "80x",
                "BOT_TIMEZONE": "Mars/Base",
                "SANDBOX": "maybe",
                "BOT_ADMINS": "ok,bad id",
                "EVIDENCE_MAX_MB": "0",
            }
        )
    text = str(caught.value)
    for name in (
        "DATABASE_URL",
        "HTTP_PORT",
        "BOT_TIMEZONE",
        "SANDBOX",
        "BOT_ADMINS",
        "EVIDENCE_MAX_MB",
    ):
        assert name in text
    assert len(caught.value.problems) == 6


def test_half_filled_wecom_settings_name_what_is_missing():
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({"WECOM_CORP_ID": "ww1"})
    text = str(caught.value)
    for name in ("WECOM_AGENT_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_ENCODING_AES_KEY"):
        assert name in text


def test_aes_key_length_is_checked_without_assert():
    with pytest.raises(ConfigError, match="43"):
        Config.from_mapping({**VALID_WECOM, "WECOM_ENCODING_AES_KEY": "short"})


def test_wecom_settings_turn_the_sandbox_off():
    config = Config.from_mapping({**VALID_WECOM, "SANDBOX": "1"})
    assert config.wecom_enabled and not config.sandbox_enabled
    assert "s3cret" not in repr(config)


def test_admins_accept_full_width_commas():
    assert Config.from_mapping({"BOT_ADMINS": "a， b,c"}).admins == {"a", "b", "c"}


def test_example_env_lists_every_setting_with_a_comment():
    text = (ROOT / "config.example.env").read_text(encoding="utf-8")
    listed = re.findall(r"^#?\s*([A-Z_]+)=", text, flags=re.MULTILINE)
    assert sorted(listed) == sorted(SETTINGS)
    lines = text.splitlines()
    for name in SETTINGS:
        index = next(i for i, line in enumerate(lines) if re.match(rf"^#?\s*{name}=", line))
        assert lines[index - 1].startswith("#"), f"{name} needs a comment line above it"


def test_environment_wins_over_dotenv(tmp_path, monkeypatch):
    from bot.runtime.startup import load_config

    env_file = tmp_path / ".env"
    env_file.write_text("HTTP_PORT=9001\nBOT_ADMINS=fromfile\n", encoding="utf-8")
    monkeypatch.setenv("HTTP_PORT", "9002")
    monkeypatch.delenv("BOT_ADMINS", raising=False)
    config = load_config(str(env_file))
    assert config.http_port == 9002
    assert config.admins == {"fromfile"}


# ---------------------------------------------------------------- the remote sandbox

SECRET = "correct-horse-battery"


def test_a_remote_sandbox_needs_a_secret():
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({"SANDBOX": "1"})
    (problem,) = caught.value.problems
    assert (
        "SANDBOX_SECRET" in problem and "管理员" in problem and "secrets.token_urlsafe" in problem
    )
    for weak in ("short", "has a space in it!", "中文口令中文口令中文口令中文口令"):
        with pytest.raises(ConfigError, match="SANDBOX_SECRET"):
            Config.from_mapping({"SANDBOX": "1", "SANDBOX_SECRET": weak})
    config = Config.from_mapping({"SANDBOX": "1", "SANDBOX_SECRET": SECRET})
    assert config.sandbox_remote_allowed and config.sandbox_secret == SECRET
    assert SECRET not in repr(config)
    # No remote sandbox, no secret needed: the default, SANDBOX=0, or WeCom (sandbox off).
    assert not Config.from_mapping({}).sandbox_secret
    assert not Config.from_mapping({"SANDBOX": "0"}).sandbox_enabled
    assert not Config.from_mapping({**VALID_WECOM, "SANDBOX": "1"}).sandbox_enabled


def test_a_remote_sandbox_has_its_own_database_unless_told_in_so_many_words(tmp_path):
    main = "sqlite:///prod/bot.db"
    remote = {"SANDBOX": "1", "SANDBOX_SECRET": SECRET, "DATABASE_URL": main}
    config = Config.from_mapping(remote, base_dir=tmp_path)
    assert config.database_url == sqlite_url(tmp_path.resolve() / "data" / "sandbox.db")
    assert config.sandbox_separate_database
    pg = Config.from_mapping(
        {**remote, "DATABASE_URL": "postgresql://u@127.0.0.1/bot"}, base_dir=tmp_path
    )
    assert pg.database_url == config.database_url, "a PostgreSQL main database is left alone too"
    for words in ("是", "yes", "YES"):
        told = Config.from_mapping(
            {**remote, "SANDBOX_USE_MAIN_DATABASE": words}, base_dir=tmp_path
        )
        assert told.database_url == sqlite_url(tmp_path.resolve() / "prod" / "bot.db")
        assert not told.sandbox_separate_database
    for words in ("", "否", "no"):
        kept = Config.from_mapping(
            {**remote, "SANDBOX_USE_MAIN_DATABASE": words}, base_dir=tmp_path
        )
        assert kept.database_url == config.database_url
    for vague in ("1", "true", "y", "对"):
        with pytest.raises(ConfigError, match="SANDBOX_USE_MAIN_DATABASE"):
            Config.from_mapping({**remote, "SANDBOX_USE_MAIN_DATABASE": vague})
    # The local sandbox and WeCom keep the main database.
    assert Config.from_mapping({"DATABASE_URL": main}, base_dir=tmp_path).database_url.endswith(
        "prod/bot.db"
    )
    wecom = Config.from_mapping({**VALID_WECOM, **remote}, base_dir=tmp_path)
    assert wecom.database_url.endswith("prod/bot.db")


def test_a_remote_sandbox_answers_to_named_hosts():
    remote = {"SANDBOX": "1", "SANDBOX_SECRET": SECRET}
    assert Config.from_mapping(remote).sandbox_hosts == (("127.0.0.1", None),)
    on_lan = Config.from_mapping({**remote, "HTTP_HOST": "192.168.1.20"})
    assert on_lan.sandbox_hosts == (("192.168.1.20", None),), "HTTP_HOST by default"
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({**remote, "HTTP_HOST": "0.0.0.0"})
    assert "SANDBOX_HOSTS" in str(caught.value)
    named = Config.from_mapping(
        {
            **remote,
            "HTTP_HOST": "0.0.0.0",
            "SANDBOX_HOSTS": "Bot.Example.cn， 192.168.1.20:8000,[fe80::1]:8443",
        }
    )
    assert named.sandbox_hosts == (
        ("bot.example.cn", None),
        ("192.168.1.20", 8000),
        ("fe80::1", 8443),
    )
    for bad in ("http://bot.example.cn", "bot.example.cn/sandbox", "a b", "host:99999", "fe80::1"):
        with pytest.raises(ConfigError, match="SANDBOX_HOSTS"):
            Config.from_mapping({**remote, "SANDBOX_HOSTS": bad})


def test_board_base_url_is_a_scheme_and_a_host_only():
    read = Config.from_mapping
    assert read({}).board_base_url == "" and not read({}).board_secure
    config = read({"BOARD_BASE_URL": "https://Duban.Example.gov.cn/"})
    assert config.board_base_url == "https://duban.example.gov.cn" and config.board_secure
    assert read({"BOARD_BASE_URL": "http://10.0.0.5:8080"}).board_base_url == "http://10.0.0.5:8080"
    for bad in (
        "duban.example.gov.cn",
        "ftp://duban.example.gov.cn",
        "https://duban.example.gov.cn/board",
        "https://duban.example.gov.cn/?x=1",
        "https://user:pw@duban.example.gov.cn",
        "https://duban.example.gov.cn:99999",
    ):
        with pytest.raises(ConfigError) as caught:
            read({"BOARD_BASE_URL": bad})
        assert any("BOARD_BASE_URL" in p for p in caught.value.problems), bad


def test_board_needs_its_address_once_wecom_is_configured():
    assert Config.from_mapping({}).board_enabled  # the sandbox signs people in
    assert not Config.from_mapping({"SANDBOX": "0"}).board_enabled
    assert not Config.from_mapping(VALID_WECOM).board_enabled
    assert Config.from_mapping({**VALID_WECOM, "BOARD_BASE_URL": "https://b.cn"}).board_enabled
    with pytest.raises(ConfigError) as caught:
        Config.from_mapping({"BOARD_SESSION_HOURS": "0", "WECOM_OAUTH_URL": "open.weixin.qq.com"})
    assert len(caught.value.problems) == 2
