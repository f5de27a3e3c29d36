"""Salvage: keep the scrape jobs that pass validation, drop the others with their reason, and always load."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from promwatchd.cli import main
from promwatchd.fallback import minimal_config, salvage_config, scrape_address
from promwatchd.promconfig import validate_bytes

MIXED = """\
# production scrape config
global:
  scrape_interval: 15s   # default for all jobs
scrape_configs:
  - job_name: prometheus   # keep
    static_configs:
      - targets: ["localhost:9090"]
  - job_name: unitless
    scrape_interval: 10
    static_configs:
      - targets: ["a.example.internal:9100"]
  - job_name: prometheus
    static_configs:
      - targets: ["b.example.internal:9100"]
  - job_name: url-target
    static_configs:
      - targets: ["http://c.example.internal:9100/metrics"]
  - job_name: node
    static_configs:
      - targets: ["d.example.internal:9100"]
  - job_name: slow
    scrape_interval: 5s
    scrape_timeout: 30s
    static_configs:
      - targets: ["e.example.internal:9100"]
"""


def valid(text: str, base_dir: Path) -> bool:
    return validate_bytes(text.encode(), "salvaged.yml", base_dir).valid


def promtool_accepts(binary: str, text: str, directory: Path) -> subprocess.CompletedProcess[str]:
    path = directory / "salvaged.yml"
    path.write_text(text)
    return subprocess.run([binary, "check", "config", str(path)], capture_output=True, text=True, timeout=60, check=False)


def test_salvage_keeps_good_jobs(tmp_path: Path) -> None:
    result = salvage_config(MIXED, tmp_path)

    assert result.kept_jobs == ["prometheus", "node"]
    assert [part.path for part in result.dropped] == ["scrape_configs[1]", "scrape_configs[2]", "scrape_configs[3]", "scrape_configs[5]"]
    assert [part.name for part in result.dropped] == ["unitless", "prometheus", "url-target", "slow"]


def test_salvage_reasons_name_the_error(tmp_path: Path) -> None:
    result = salvage_config(MIXED, tmp_path)
    reasons = {part.name: part.reason for part in result.dropped}

    assert 'not a valid duration string: "10"' in reasons["unitless"]
    assert "found multiple scrape configs" in reasons["prometheus"]
    assert "[target-with-scheme]" in reasons["url-target"]
    assert "[timeout-exceeds-interval]" in reasons["slow"]


def test_salvage_output_validates(tmp_path: Path, promtool_binary: str) -> None:
    result = salvage_config(MIXED, tmp_path)

    assert valid(result.text, tmp_path)
    verdict = promtool_accepts(promtool_binary, result.text, tmp_path)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr


def test_salvage_lists_dropped_jobs_at_top(tmp_path: Path) -> None:
    result = salvage_config(MIXED, tmp_path)
    lines = result.text.splitlines()

    assert lines[0].startswith("# Salvaged by promwatchd")
    assert lines[1] == "# dropped scrape job 'unitless' (scrape_configs[1], line 8): not a valid duration string: \"10\" [invalid-duration]"
    assert len([line for line in lines if line.startswith("# dropped ")]) == 4


def test_salvage_keeps_comments(tmp_path: Path) -> None:
    result = salvage_config(MIXED, tmp_path)

    assert "# production scrape config\n" in result.text
    assert "  scrape_interval: 15s   # default for all jobs\n" in result.text
    assert "  - job_name: prometheus   # keep\n" in result.text


def test_salvage_valid_config_unchanged(tmp_path: Path) -> None:
    text = "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['a:9100']\n"

    result = salvage_config(text, tmp_path)

    assert result.text == text
    assert result.kept_jobs == ["node"]
    assert result.dropped == []


def test_salvage_unparsable_file_empty_config(tmp_path: Path, promtool_binary: str) -> None:
    result = salvage_config("global:\n  scrape_interval: [15s\nscrape_configs: []\n", tmp_path)

    assert result.kept_jobs == []
    assert result.dropped[-1].name == "the whole file"
    assert "cannot be parsed" in result.dropped[-1].reason
    assert valid(result.text, tmp_path)
    assert promtool_accepts(promtool_binary, result.text, tmp_path).returncode == 0


def test_salvage_corrects_tabs_first(tmp_path: Path, promtool_binary: str) -> None:
    text = (
        "scrape_configs:\n"
        "  - job_name: node\n"
        "    static_configs:\n"
        "\t- targets: ['a:9100']\n"
        "  - job_name: broken\n"
        "    scrape_intervall: 5s\n"
        "  - job_name: other\n"
        "    static_configs: [{targets: ['b:9100']}]\n"
    )

    result = salvage_config(text, tmp_path)

    assert result.kept_jobs == ["node", "other"]
    assert [part.name for part in result.dropped] == ["broken"]
    assert result.dropped[0].line == 5
    assert len(result.corrected) == 1
    assert result.corrected[0].startswith("line 4: ")
    assert "# corrected line 4: " in result.text
    assert valid(result.text, tmp_path)
    assert promtool_accepts(promtool_binary, result.text, tmp_path).returncode == 0


def test_salvage_list_root_empty_config(tmp_path: Path) -> None:
    result = salvage_config("- job_name: node\n", tmp_path)

    assert result.kept_jobs == []
    assert valid(result.text, tmp_path)


def test_salvage_drops_bad_section(tmp_path: Path, promtool_binary: str) -> None:
    text = (
        "global:\n  scrape_interval: 15s\n"
        "remote_write:\n  - url: http://127.0.0.1:9201/write\n    remote_timeout: 10\n  - url: http://127.0.0.1:9202/write\n"
        "rule_files:\n  - missing.yml\n  - rules.yml\n"
        "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['a:9100']\n"
    )
    (tmp_path / "rules.yml").write_text("groups: []\n")

    result = salvage_config(text, tmp_path)

    assert result.kept_jobs == ["node"]
    assert [part.path for part in result.dropped] == ["remote_write[0]", "rule_files[0]"]
    assert "http://127.0.0.1:9201/write" not in result.text
    assert "http://127.0.0.1:9202/write" in result.text
    assert "rules.yml" in result.text
    assert valid(result.text, tmp_path)
    verdict = promtool_accepts(promtool_binary, result.text, tmp_path)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr


def test_salvage_bad_global_dropped_then_jobs_checked(tmp_path: Path) -> None:
    text = (
        "global:\n  scrape_interval: 15s\n  bogus: 1\n"
        "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['a:9100']\n"
    )

    result = salvage_config(text, tmp_path)

    assert [part.path for part in result.dropped] == ["global"]
    assert result.kept_jobs == ["node"]
    assert valid(result.text, tmp_path)


def test_salvage_broken_scrape_config_file_dropped(tmp_path: Path) -> None:
    (tmp_path / "jobs.yml").write_text("scrape_configs:\n  - job_name: extra\n    scrape_interval: 10\n")
    text = "scrape_config_files: [jobs.yml]\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['a:9100']\n"

    result = salvage_config(text, tmp_path)

    assert [part.path for part in result.dropped] == ["scrape_config_files"]
    assert result.kept_jobs == ["node"]
    assert valid(result.text, tmp_path)


def test_fallback_salvage_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], promtool_binary: str) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(MIXED)

    assert main(["fallback-config", "--salvage", str(path)]) == 0
    captured = capsys.readouterr()

    assert captured.out.startswith(f"# Generated by promwatchd from {path}")
    assert "# Salvaged by promwatchd" in captured.out
    assert "promwatchd_fallback: 'true'" in captured.out or 'promwatchd_fallback: "true"' in captured.out
    assert captured.err.count("promwatchd: dropped scrape job") == 4
    assert "'url-target' (scrape_configs[3], line 15)" in captured.err
    assert promtool_accepts(promtool_binary, captured.out, tmp_path).returncode == 0


def test_fallback_salvage_cli_nothing_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text("scrape_configs: [\n")

    assert main(["fallback-config", "--salvage", str(path)]) == 0
    captured = capsys.readouterr()

    assert captured.out.startswith("# Generated by promwatchd: a minimal config")
    assert "job_name: promwatchd" in captured.out
    assert "no scrape job of" in captured.err


def test_fallback_salvage_missing_file_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fallback-config", "--salvage", str(tmp_path / "missing.yml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_minimal_config_still_works() -> None:
    text = minimal_config("0.0.0.0:9090", "127.0.0.1:9099")

    assert "127.0.0.1:9090" in text
    assert scrape_address("[::]:9090") == "127.0.0.1:9090"


def test_salvage_second_round_keeps_input_lines(tmp_path: Path) -> None:
    # Dropping the invalid global section makes the default 1m interval apply, so "slow" fails only in the second round.
    text = (
        "global:\n  scrape_interval: 2m\n  bogus: 1\n"
        "scrape_configs:\n"
        "  - job_name: bad\n    scrape_interval: 10\n    static_configs:\n      - targets: ['a:9100']\n"
        "  - job_name: slow\n    scrape_timeout: 90s\n    static_configs:\n      - targets: ['b:9100']\n"
        "  - job_name: node\n    static_configs:\n      - targets: ['c:9100']\n"
    )

    result = salvage_config(text, tmp_path)

    assert result.kept_jobs == ["node"]
    described = [part.describe() for part in result.dropped]
    assert described[0].startswith("section 'global' (global, line 1): field bogus not found")
    assert described[1].startswith("scrape job 'bad' (scrape_configs[0], line 5)")
    assert described[2].startswith("scrape job 'slow' (scrape_configs[1], line 9): scrape timeout greater than scrape interval")
    assert valid(result.text, tmp_path)


def test_salvage_by_lines_keeps_other_lines(tmp_path: Path, promtool_binary: str) -> None:
    jobs = "".join(f"  - job_name: job-{i}   # job {i}\n    static_configs:\n    - targets: ['h{i}:9100']\n" for i in range(300))
    text = "global:\n  scrape_interval: 15s\nscrape_configs:\n" + jobs.replace("  - job_name: job-150   # job 150\n", "  - job_name: job-150   # job 150\n    bogus: 1\n")

    result = salvage_config(text, tmp_path, slow_allowed=False)

    assert [(part.name, part.line) for part in result.dropped] == [("job-150", 454)]
    assert len(result.kept_jobs) == 299
    # Every kept job keeps its comment and its own indentation, as only whole lines were cut.
    assert "  - job_name: job-151   # job 151\n    static_configs:\n    - targets: ['h151:9100']\n" in result.text
    assert valid(result.text, tmp_path)
    assert promtool_accepts(promtool_binary, result.text, tmp_path).returncode == 0


def test_salvage_without_slow_path_gives_up(tmp_path: Path) -> None:
    text = "global:\n  scrape_interval: banana\nscrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['a:1']}]\n"

    assert salvage_config(text, tmp_path).kept_jobs == ["a"]
    quick = salvage_config(text, tmp_path, slow_allowed=False)
    assert quick.kept_jobs == []
    assert "too large to salvage through a YAML round trip" in quick.dropped[-1].reason
