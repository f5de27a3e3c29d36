"""Credentials stay out of excerpts, fix diffs and correction notes, also when they sit below their key."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from promwatchd.cli import main
from promwatchd.promconfig import validate_bytes
from promwatchd.promconfig.credentials import mask_lines, mask_text
from promwatchd.redact import MASK


def test_mask_lines_key_line() -> None:
    lines = ["basic_auth:", "  username: admin", "  password: hunter2", '  "password": "hunter2"']

    masked = mask_lines(lines)

    assert masked[1] == "  username: admin"
    assert masked[2] == f"  password: {MASK}"
    assert "hunter2" not in masked[3]


def test_mask_lines_block_scalar() -> None:
    lines = ["authorization:", "  credentials: |", "    hunter2", "", "    # not a comment in a block scalar", "    second line", "  type: Bearer"]

    masked = mask_lines(lines)

    assert masked[2] == f"    {MASK}"
    assert masked[5] == f"    {MASK}"
    assert masked[6] == "  type: Bearer"


def test_mask_lines_list_item_key() -> None:
    lines = ["scrape_configs:", "  - job_name: a", "    basic_auth:", "      password:", "        hunter2", "    static_configs: [{targets: ['a:1']}]"]

    masked = mask_lines(lines)

    assert masked[4] == f"        {MASK}"
    assert masked[5] == lines[5]


def test_mask_lines_list_of_secrets() -> None:
    lines = ["http_headers:", "  X-Token:", "    secrets:", "      - s3cr3t", "      - other", "    values: [plain]"]

    masked = mask_lines(lines)

    assert masked[3] == f"      {MASK}"
    assert masked[4] == f"      {MASK}"
    assert masked[5] == "    values: [plain]"


def test_mask_lines_tab_indented_child() -> None:
    lines = ["    password: |", "\thunter2", "    username: u"]

    masked = mask_lines(lines)

    assert masked[1] == f"\t{MASK}"
    assert masked[2] == "    username: u"


def test_mask_text_keeps_line_endings() -> None:
    text = "a: 1\r\ntoken: abc\r\nb: 2\n"

    assert mask_text(text) == f"a: 1\r\ntoken: {MASK}\r\nb: 2\n"


def test_excerpt_masks_block_secret(tmp_path: Path) -> None:
    data = b"scrape_configs:\n  - job_name: a\n    authorization:\n      credentials: |\n        hunter2\n\tmore-secret\n"

    findings = validate_bytes(data, "prometheus.yml", tmp_path).findings

    excerpts = [f.excerpt for f in findings if f.excerpt]
    assert excerpts
    assert all("hunter2" not in e and "more-secret" not in e for e in excerpts)
    assert any(MASK in e for e in excerpts)


TABBED = (
    "scrape_configs:\n"
    "  - job_name: a\n"
    "    basic_auth:\n"
    "\tusername: u\n"
    "\tpassword: hunter2\n"
    "    static_configs:\n"
    "      - targets: ['http://user:pa55@host:9100/metrics']\n"
)


def test_fix_output_masks_secrets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(TABBED)

    main(["fix", "config", str(path)])
    text_output = capsys.readouterr().out
    main(["fix", "config", "--output", "json", str(path)])
    json_output = capsys.readouterr().out

    for output in (text_output, json_output):
        assert "hunter2" not in output
        assert "pa55" not in output
    assert MASK in text_output
    assert json.loads(json_output)["diff"]


def test_fix_tabs_nest_under_parent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(TABBED.replace("'http://user:pa55@host:9100/metrics'", "'host:9100'"))

    code = main(["fix", "config", "--write", str(path)])

    assert code == 0, capsys.readouterr().out
    fixed = path.read_text()
    assert "\t" not in fixed
    assert validate_bytes(fixed.encode(), str(path), tmp_path).valid
    assert "        password: hunter2\n" in fixed


def test_broken_pipe_exits_quietly(tmp_path: Path) -> None:
    # Enough findings that the output overflows a pipe's buffer after the reader has gone.
    path = tmp_path / "prometheus.yml"
    path.write_text("scrape_configs:\n" + "".join(f"  - job_name: j{i}\n    bogus_field: 1\n" for i in range(3000)))
    command = [sys.executable, "-m", "promwatchd.cli", "check", "config", "--no-promtool", "--processes", "1", str(path)]

    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    code = process.wait(timeout=60)

    assert code == 141
    assert "Traceback" not in stderr


SECRET_TYPES = (
    "scrape_configs:\n"
    "  - job_name: a\n"
    "    proxy_url: http://127.0.0.1:3128\n"
    "    proxy_connect_header:\n"
    "      Proxy-Authorization: Basic ProxyHdrKKK\n"
    "    http_headers:\n"
    "      X-Auth:\n"
    "        secrets: HdrSecretLLL\n"
    "    params:\n"
    "      token: SecretParamEEE\n"
    "    static_configs:\n"
    "      - targets: ['a:1']\n"
)


def test_secret_types_not_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(SECRET_TYPES)

    assert main(["check", "config", "--no-promtool", str(path)]) == 1
    check_output = capsys.readouterr().out
    main(["fix", "config", str(path)])
    fix_output = capsys.readouterr().out

    for output in (check_output, fix_output):
        for secret in ("ProxyHdrKKK", "HdrSecretLLL", "SecretParamEEE"):
            assert secret not in output
    assert check_output.count("got a scalar") == 3
    assert "scrape_configs[0].params.token: this field is a list of strings" in fix_output
