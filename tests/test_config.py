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
    import run

    env_file = tmp_path / ".env"
    env_file.write_text("HTTP_PORT=9001\nBOT_ADMINS=fromfile\n", encoding="utf-8")
    monkeypatch.setenv("HTTP_PORT", "9002")
    monkeypatch.delenv("BOT_ADMINS", raising=False)
    config = run.load_config(str(env_file))
    assert config.http_port == 9002
    assert config.admins == {"fromfile"}
