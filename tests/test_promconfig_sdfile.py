"""Files read by file_sd_configs: JSON or YAML lists of target groups, checked like promtool does."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from promwatchd.promconfig import validate_bytes
from promwatchd.promconfig.sdfile import check_sd_file

CONFIG = b"scrape_configs:\n  - job_name: node\n    file_sd_configs:\n      - files: ['targets/*.json', 'targets/*.yml']\n"


def _findings(path: Path) -> list[tuple[str, int, str]]:
    return sorted((f.rule, f.line, f.path) for f in check_sd_file(path))


def test_valid_files_pass(tmp_path: Path) -> None:
    json_file = tmp_path / "a.json"
    json_file.write_text('[{"targets": ["a:9100", "b:9100"], "labels": {"env": "prod"}}]')
    yaml_file = tmp_path / "b.yml"
    yaml_file.write_text("- targets: [c:9100]\n  labels:\n    env: prod\n")

    assert check_sd_file(json_file) == []
    assert check_sd_file(yaml_file) == []


def test_json_syntax_error_position(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[\n  {"targets": ["a:1"],}\n]')

    findings = check_sd_file(path)

    assert [(f.rule, f.line, f.column) for f in findings] == [("invalid-sd-file", 2, 23)]
    assert "not valid JSON" in findings[0].message


def test_group_problems_found(tmp_path: Path) -> None:
    path = tmp_path / "a.yml"
    path.write_text("- targets: ['http://a:1/metrics']\n- targets: [b:1]\n  labelz: {x: y}\n- null\n")

    assert _findings(path) == [
        ("empty-section", 4, "[2]"),
        ("target-with-scheme", 1, "[0].targets[0]"),
        ("unknown-field", 3, "[1].labelz"),
    ]


def test_config_checks_sd_files(tmp_path: Path) -> None:
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "bad.json").write_text('[{"targets": "a:1"}]')

    checked = validate_bytes(CONFIG, "prometheus.yml", tmp_path).findings
    syntax_only = validate_bytes(CONFIG, "prometheus.yml", tmp_path, syntax_only=True).findings

    assert [(f.rule, Path(f.file).name) for f in checked if f.is_error] == [("wrong-type", "bad.json")]
    assert syntax_only == []


PROMTOOL = shutil.which("promtool")


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
@pytest.mark.parametrize(
    ("content", "valid"),
    [
        ('[{"targets": ["a:9100"], "labels": {"env": "prod"}}]', True),
        ('[{"targets": ["a:9100"],}]', False),
        ('[{"targets": ["a:9100"], "labelz": {}}]', False),
        ("[null]", False),
        ('[{"targets": ["http://a:9100"]}]', False),
    ],
    ids=["valid", "trailing comma", "unknown field", "null group", "scheme"],
)
def test_sd_verdict_matches_promtool(content: str, valid: bool, tmp_path: Path) -> None:
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "t.json").write_text(content)
    (tmp_path / "prometheus.yml").write_bytes(CONFIG)

    ours = validate_bytes(CONFIG, "prometheus.yml", tmp_path).valid
    promtool = subprocess.run([PROMTOOL, "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, timeout=60, check=False)

    assert ours is valid
    assert (promtool.returncode == 0) is valid, promtool.stdout + promtool.stderr
