"""No outside call inside a database transaction (docs/layers.md): the one session every outside
call uses refuses under the test suite's strict switch, and logs in production."""

from __future__ import annotations

import logging
import os

import pytest

from bot.http import STRICT_ENV, OutsideTransactions
from models.db import database


def test_the_suite_runs_strict():
    assert os.environ.get(STRICT_ENV) == "1"  # set by conftest, inherited by subprocesses


def test_a_call_outside_a_transaction_goes_through(db, fake):
    with OutsideTransactions() as http:
        answer = http.get(f"{fake.base_url}/cgi-bin/gettoken", timeout=5)
    assert answer.status_code == 200


def test_a_call_inside_a_transaction_is_refused_and_never_made(db, fake):
    before = len(fake.requests)
    with (
        OutsideTransactions() as http,
        database.atomic(),
        pytest.raises(RuntimeError, match="inside a database transaction"),
    ):
        http.get(f"{fake.base_url}/cgi-bin/gettoken?corpsecret=s3cr3t", timeout=5)
    assert len(fake.requests) == before


def test_in_production_it_is_logged_with_the_secret_scrubbed(db, fake, monkeypatch, caplog):
    monkeypatch.delenv(STRICT_ENV)
    with (
        caplog.at_level(logging.ERROR, "bot.http"),
        OutsideTransactions() as http,
        database.atomic(),
    ):
        answer = http.get(f"{fake.base_url}/cgi-bin/gettoken?corpsecret=s3cr3t", timeout=5)
    assert answer.status_code == 200
    assert "inside a database transaction" in caplog.text and "s3cr3t" not in caplog.text


def test_the_wecom_client_uses_it(tmp_path, db_url, db, fake, clock):
    from wecom_setup import wecom_config

    from bot.services import build_services

    services = build_services(wecom_config(tmp_path, db_url, fake), clock)
    assert isinstance(services.client.http, OutsideTransactions)
    with database.atomic(), pytest.raises(RuntimeError, match="inside a database transaction"):
        services.client.token()  # a token fetch (gettoken) would be a network call
