"""Secrets never reach logs, reports or pages."""

from __future__ import annotations

import io
import json

import pytest
import structlog

from promwatchd.logsetup import configure_logging
from promwatchd.redact import MASK, redact_text, redact_value


def test_yaml_password_masked():
    assert redact_text("password: hunter2") == f"password: {MASK}"


def test_quoted_token_masked():
    assert "abc def" not in redact_text('bearer_token: "abc def"')


def test_url_userinfo_masked():
    assert redact_text("http://admin:pa55@127.0.0.1:9090/") == f"http://admin:{MASK}@127.0.0.1:9090/"


def test_authorization_header_masked():
    assert "eyJhbGciOi" not in redact_text("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9")


def test_secret_key_by_name():
    assert redact_value("password", "x") == MASK


def test_nested_mapping_masked():
    value = redact_value("cfg", {"basic_auth": {"username": "u", "password": "p"}})
    assert value == {"basic_auth": {"username": "u", "password": MASK}}


def test_plain_text_unchanged():
    assert redact_text("scrape_interval: 15s") == "scrape_interval: 15s"


@pytest.fixture
def json_logging():
    configure_logging("info", "json")
    yield
    structlog.reset_defaults()


def test_log_line_masked(capsys, json_logging):
    structlog.get_logger("t").info("config_line", line="  password: s3cr3t", password="p4ss")
    out = capsys.readouterr().out
    event = json.loads(out.strip().splitlines()[-1])
    assert "s3cr3t" not in out
    assert "p4ss" not in out
    assert event["password"] == MASK
