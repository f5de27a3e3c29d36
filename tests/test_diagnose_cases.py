"""Each config case users reported, started with the real Prometheus 2.42: the diagnosis names the config.

Prometheus runs on the case's file with a fresh data directory. When it
exits, its output and our validator's findings are the evidence, as the
daemon gathers them. The top finding must be config_invalid at the place the
validator found, and the fix must point at that file.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import SHARED, free_port
from promwatchd.diagnose.gather import _config_problems
from promwatchd.diagnose.rules import Evidence, diagnose

CASES = SHARED / "cases"
CONFIG_CASES = [
    "01-tab-indentation",
    "03-scalar-where-list-expected",
    "04-static-configs-map-not-list",
    "06-field-at-wrong-level",
    "07-duplicate-job-name",
    "08-scheme-in-target",
    "09-path-in-target",
    "10-scrape-timeout-exceeds-interval",
    "11-duration-without-unit",
    "14-rule-files-points-to-directory",
    "15-rule-files-nested-glob",
]


def case_files() -> list[Path]:
    if not CASES.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CASES} is missing; CI has shared/ beside the clone")
        return []
    files = []
    for case in CONFIG_CASES:
        files.extend(sorted(p for p in (CASES / case).glob("*.yml")))
    return files


def run_prometheus(binary: str, config: Path, data: Path) -> tuple[int | None, list[str]]:
    """Start Prometheus on ``config``; return its exit status (None when it kept running) and its output."""
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{free_port()}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=config.parent,
    )
    try:
        output, _ = process.communicate(timeout=5)
        return process.returncode, output.decode("utf-8", "replace").splitlines()
    except subprocess.TimeoutExpired:
        process.terminate()
        output, _ = process.communicate(timeout=30)
        return None, output.decode("utf-8", "replace").splitlines()


@pytest.mark.parametrize("config", case_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_config_case_diagnosed(config, tmp_path, prometheus_binary):
    status, output = run_prometheus(prometheus_binary, config, tmp_path / "data")
    problems = _config_problems(config)

    if status is None:
        # Prometheus 2.42 accepts this variant (for example a global timeout it clamps silently).
        assert not problems, f"Prometheus starts on {config.name}, but the validator reports {problems[0]}"
        return

    evidence = Evidence("127.0.0.1:9090", output_tail=output, config_file=config, config_problems=problems, running=False)
    findings = diagnose(evidence)
    assert findings, f"no finding for {config.name}; Prometheus said: {output[-3:]}"
    top = findings[0]
    assert top.cause == "config_invalid"
    assert any("error loading config" in line.lower() for line in top.evidence)
    if problems:
        assert f"{problems[0].file}:{problems[0].line}" in top.summary


def test_config_path_is_directory(tmp_path, prometheus_binary):
    """A bind mount of a missing host file creates a directory where prometheus.yml should be."""
    config = tmp_path / "prometheus.yml"
    config.mkdir()
    status, output = run_prometheus(prometheus_binary, config, tmp_path / "data")
    problems = _config_problems(config)

    assert status not in (None, 0)
    evidence = Evidence("127.0.0.1:9090", output_tail=output, config_file=config, config_problems=problems, running=False)
    top = diagnose(evidence)[0]
    assert top.cause == "config_invalid"
    assert any("is a directory" in line for line in top.evidence)
