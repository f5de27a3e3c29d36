"""``promwatchd check config``: exit codes, text and JSON output, and promtool's second opinion."""

from __future__ import annotations

import json
import time
import shutil
from pathlib import Path

import pytest

from promwatchd.cli import main

GOOD = "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['localhost:9100']\n"
BAD = "scrape_configs:\n  - job_name: node\n    scrape_interval: 10\n"


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.yml"
    path.write_text(GOOD)
    return path


@pytest.fixture
def bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yml"
    path.write_text(BAD)
    return path


def test_check_config_valid_exit_0(good_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "config", "--no-promtool", str(good_file)]) == 0
    assert "SUCCESS" in capsys.readouterr().out


def test_check_config_invalid_exit_1(bad_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "config", "--no-promtool", str(bad_file)]) == 1
    out = capsys.readouterr().out

    assert f"{bad_file}:3:22: error [invalid-duration] scrape_configs[0].scrape_interval:" in out
    assert "fix: add a unit: 10s" in out


def test_check_config_unreadable_exit_2(tmp_path: Path, good_file: Path) -> None:
    assert main(["check", "config", "--no-promtool", str(good_file), str(tmp_path / "missing.yml")]) == 2


def test_check_config_directory_exit_2(tmp_path: Path) -> None:
    assert main(["check", "config", "--no-promtool", str(tmp_path)]) == 2


def test_check_config_usage_error_exit_2() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "config", "--output", "xml", "x.yml"])
    assert exit_info.value.code == 2


def test_check_config_json_output(good_file: Path, bad_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "config", "--no-promtool", "--output", "json", str(good_file), str(bad_file)])
    data = json.loads(capsys.readouterr().out)

    assert code == 1
    assert data["valid"] is False
    assert [(f["file"], f["valid"]) for f in data["files"]] == [(str(good_file), True), (str(bad_file), False)]
    finding = data["files"][1]["findings"][0]
    assert {k: finding[k] for k in ("severity", "rule", "line", "column", "path")} == {
        "severity": "error",
        "rule": "invalid-duration",
        "line": 3,
        "column": 22,
        "path": "scrape_configs[0].scrape_interval",
    }
    assert finding["message"] and finding["fix"]


def test_check_config_agent_flag(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("rule_files: [a.yml]\n")

    assert main(["check", "config", "--no-promtool", "--syntax-only", str(path)]) == 0
    assert main(["check", "config", "--no-promtool", "--syntax-only", "--agent", str(path)]) == 1


def test_check_config_syntax_only_skips_files(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("scrape_configs:\n  - job_name: a\n    bearer_token_file: /nonexistent/token\n")

    assert main(["check", "config", "--no-promtool", str(path)]) == 1
    assert main(["check", "config", "--no-promtool", "--syntax-only", str(path)]) == 0


def test_check_config_secret_not_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yml"
    path.write_text("scrape_configs:\n  - job_name: a\n    basic_auth:\n      username: u\n      password: s3cr3t-value\n    bearer_token: other-s3cr3t\n")

    assert main(["check", "config", "--output", "json", str(path)]) == 1
    assert main(["check", "config", str(path)]) == 1
    out = capsys.readouterr().out
    assert "s3cr3t" not in out


def test_check_config_invalid_utf8_label_printable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yml"
    path.write_text('global:\n  external_labels:\n    !!binary "/w==": value\n    name: "\\xff"\n')

    assert main(["check", "config", "--no-promtool", "--output", "json", str(path)]) == 1
    assert main(["check", "config", "--no-promtool", str(path)]) == 1
    out = capsys.readouterr().out
    out.encode("utf-8")
    assert '"\\xff" is not a valid label name' in out


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_check_config_promtool_second_opinion(good_file: Path, bad_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "config", "--output", "json", str(good_file), str(bad_file)])
    data = json.loads(capsys.readouterr().out)

    assert code == 1
    good, bad = data["files"]
    assert good["promtool"]["valid"] is True
    assert bad["promtool"]["valid"] is False
    assert bad["promtool"]["exit_code"] == 1
    assert good["promtool"]["version"] != "unknown"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_check_config_promtool_text_and_debian_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k8s.yml"
    path.write_text("scrape_configs:\n  - job_name: k\n    kubernetes_sd_configs:\n      - role: pod\n")

    code = main(["check", "config", "--syntax-only", str(path)])
    out = capsys.readouterr().out

    assert code == 0
    assert "promtool" in out
    if "+ds" in out:
        assert "has no kubernetes_sd_configs" in out


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_promtool_command_line_and_stdin(good_file: Path, bad_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "config", "--output", "json", "--promtool", "env promtool", "--promtool-stdin", str(good_file), str(bad_file)])
    good, bad = json.loads(capsys.readouterr().out)["files"]

    assert code == 1
    assert good["promtool"]["valid"] is True
    assert bad["promtool"]["valid"] is False
    assert "/dev/stdin" in bad["promtool"]["output"]
    assert "checked its syntax only" in good["promtool"]["note"]


def test_named_promtool_missing_reported(good_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "config", "--promtool", "promtool-that-does-not-exist", str(good_file)])
    out = capsys.readouterr().out

    assert code == 0
    assert "promtool: not run: 'promtool-that-does-not-exist' not found" in out


DOCKER_CLI = shutil.which("docker")


@pytest.mark.skipif(DOCKER_CLI is None, reason="docker CLI not installed")
def test_promtool_inside_container(docker_engine: str, prometheus_container: tuple[str, int], good_file: Path, bad_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name, _port = prometheus_container
    command = f"docker -H {docker_engine} exec -i {name} promtool"

    code = main(["check", "config", "--output", "json", "--promtool", command, "--promtool-stdin", str(good_file), str(bad_file)])
    good, bad = json.loads(capsys.readouterr().out)["files"]

    assert code == 1
    assert good["promtool"]["valid"] is True, good["promtool"]
    assert good["promtool"]["version"].startswith("2.42")
    assert bad["promtool"]["valid"] is False
    assert bad["promtool"]["exit_code"] == 1


def test_promtool_not_run_reported(good_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `false` exits 1 without checking anything, and its --version text is not promtool's.
    code = main(["check", "config", "--output", "json", "--promtool", "false", str(good_file)])
    verdict = json.loads(capsys.readouterr().out)["files"][0]["promtool"]

    assert code == 0
    assert verdict["valid"] is None
    assert verdict["version"] == "unknown"
    assert "promtool did not check the file" in verdict["output"]


def test_hanging_promtool_stopped(good_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # A fake: a wrapper whose child keeps promtool's output open long after the timeout.
    monkeypatch.setattr("promwatchd.promconfig.promtool.PROMTOOL_TIMEOUT_SECONDS", 1.0)
    started = time.monotonic()

    code = main(["check", "config", "--output", "json", "--promtool", "sh -c 'sleep 60; :' sh", str(good_file)])
    elapsed = time.monotonic() - started
    verdict = json.loads(capsys.readouterr().out)["files"][0]["promtool"]

    assert code == 0
    assert elapsed < 10
    assert verdict["valid"] is None
    assert "timed out after 1s" in verdict["output"]


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_promtool_2_disagreement_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A label name that Prometheus 3 accepts (UTF-8 names) and promtool 2.42 rejects.
    path = tmp_path / "p.yml"
    path.write_text("scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [a:1]\n        labels:\n          bad-label: x\n")

    main(["check", "config", "--output", "json", str(path)])
    verdict = json.loads(capsys.readouterr().out)["files"][0]["promtool"]

    if not verdict["version"].startswith("2."):
        pytest.skip(f"promtool {verdict['version']} checks as Prometheus 3 does")
    assert verdict["valid"] is False
    assert "checks as Prometheus 2.x does, promwatchd as 3.x does" in verdict["note"]
