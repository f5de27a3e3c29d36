"""Real-world config mistakes: ``fix config --write`` applies the safe correction or only suggests it.

Each case directory contains the broken input and an expected.md that states the correction
and whether it is safe to apply. Most cases also contain the corrected YAML in fixed/.
A comment is added to every input to check that comments survive the rewrite.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from promwatchd.cli import main
from promwatchd.promconfig import validate_file

CASES_DIR = Path(__file__).resolve().parents[2] / "shared" / "cases"

if not CASES_DIR.is_dir() and os.environ.get("CI") == "true":
    raise AssertionError(f"cases missing at {CASES_DIR}")
pytestmark = pytest.mark.skipif(not CASES_DIR.is_dir(), reason=f"cases not found at {CASES_DIR}")

HEADER_COMMENT = "# managed by the platform team\n"
SECTION_COMMENT = "# scrape jobs follow\n"

# (case folder, input file, correction rule id, file in fixed/ the result must equal, or None)
APPLIED = [
    ("01-tab-indentation", "prometheus.yml", "tab-indentation", "prometheus.yml"),
    ("01-tab-indentation", "variant-tab-inside-list.yml", "tab-indentation", None),
    ("03-scalar-where-list-expected", "prometheus.yml", "scalar-to-list", "prometheus.yml"),
    ("03-scalar-where-list-expected", "variant-numeric-params.yml", "scalar-to-list", "variant-numeric-params.yml"),
    ("03-scalar-where-list-expected", "variant-targets-string.yml", "scalar-to-list", "variant-targets-string.yml"),
    ("04-static-configs-map-not-list", "prometheus.yml", "mapping-to-list", "prometheus.yml"),
    ("04-static-configs-map-not-list", "variant-dash-without-space.yml", "dash-without-space", None),
    ("06-field-at-wrong-level", "prometheus.yml", "field-to-job", "prometheus.yml"),
    ("07-duplicate-job-name", "prometheus.yml", "merge-duplicate-jobs", "prometheus.yml"),
    ("08-scheme-in-target", "prometheus.yml", "target-url", "prometheus.yml"),
    ("08-scheme-in-target", "variant-https.yml", "target-url", "variant-https.yml"),
    # fixed/ contains the upstream project's 5s/4s choice, but the safe correction sets the timeout to the interval.
    ("10-scrape-timeout-exceeds-interval", "prometheus.yml", "timeout-to-interval", None),
    ("10-scrape-timeout-exceeds-interval", "variant-global-both.yml", "timeout-to-interval", None),
    ("11-duration-without-unit", "prometheus.yml", "duration-unit", "prometheus.yml"),
    ("11-duration-without-unit", "variant-fractional.yml", "duration-fraction", "variant-fractional.yml"),
]


def with_comments(text: str) -> str:
    """Return ``text`` with a comment at the top and one before ``scrape_configs:``."""
    return HEADER_COMMENT + re.sub(r"^scrape_configs:", SECTION_COMMENT + "scrape_configs:", text, count=1, flags=re.MULTILINE)


def copy_case(tmp_path: Path, case: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(with_comments((CASES_DIR / case / name).read_text()))
    return path


def promtool_check(binary: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, "check", "config", str(path)], capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("case", "name", "rule", "fixed"), APPLIED, ids=[f"{c}/{n}" for c, n, _, _ in APPLIED])
def test_fix_case_applied(tmp_path: Path, capsys: pytest.CaptureFixture[str], promtool_binary: str, case: str, name: str, rule: str, fixed: str | None) -> None:
    path = copy_case(tmp_path, case, name)
    original = path.read_bytes()

    assert main(["fix", "config", "--write", str(path)]) == 0
    out = capsys.readouterr().out

    assert f"[{rule}] applied (safe)" in out
    assert f"--- {path}" in out
    written = path.read_text()
    assert written.startswith(HEADER_COMMENT)
    assert SECTION_COMMENT in written
    if fixed is not None:
        assert written == with_comments((CASES_DIR / case / "fixed" / fixed).read_text())
    assert validate_file(path).valid
    verdict = promtool_check(promtool_binary, path)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr

    backups = list(tmp_path.glob(f"{name}.*.bak"))
    assert len(backups) == 1
    assert backups[0].read_bytes() == original


def test_fix_case_timeout_becomes_interval(tmp_path: Path) -> None:
    path = copy_case(tmp_path, "10-scrape-timeout-exceeds-interval", "prometheus.yml")

    assert main(["fix", "config", "--write", str(path)]) == 0

    written = path.read_text()
    assert "    scrape_interval: 1s\n    scrape_timeout: 1s\n" in written


def test_fix_case_global_timeout_becomes_interval(tmp_path: Path) -> None:
    path = copy_case(tmp_path, "10-scrape-timeout-exceeds-interval", "variant-global-both.yml")

    assert main(["fix", "config", "--write", str(path)]) == 0

    assert "  scrape_interval: 1s\n  scrape_timeout: 1s\n" in path.read_text()


def test_fix_case_timeout_explains_interval(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = copy_case(tmp_path, "10-scrape-timeout-exceeds-interval", "prometheus.yml")

    main(["fix", "config", str(path)])

    assert "raise scrape_interval" in capsys.readouterr().out


def test_fix_case_tab_inside_list_keeps_structure(tmp_path: Path) -> None:
    path = copy_case(tmp_path, "01-tab-indentation", "variant-tab-inside-list.yml")

    assert main(["fix", "config", "--write", str(path)]) == 0

    assert "- job_name: linux\n  static_configs:\n  - targets:" in path.read_text()


def test_fix_case_dash_without_space(tmp_path: Path) -> None:
    path = copy_case(tmp_path, "04-static-configs-map-not-list", "variant-dash-without-space.yml")

    assert main(["fix", "config", "--write", str(path)]) == 0

    assert "      - targets: ['db1.example.internal:3306']\n" in path.read_text()


def test_fix_case_path_in_target_suggested(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = copy_case(tmp_path, "09-path-in-target", "prometheus.yml")
    original = path.read_bytes()

    assert main(["fix", "config", "--write", str(path)]) == 1
    out = capsys.readouterr().out

    assert "[target-url] suggested, not applied (unsafe)" in out
    assert "/nodexpo/metrics" in out
    assert path.read_bytes() == original
    assert list(tmp_path.glob("*.bak")) == []


def test_fix_case_duplicate_rename_suggested(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (CASES_DIR / "07-duplicate-job-name" / "prometheus.yml").read_text()
    # A different metrics_path in the second job rules out the merge.
    text = text.replace("  metrics_path: /actuator/prometheus\n  static_configs:\n  - targets:\n    - music-1", "  metrics_path: /other\n  static_configs:\n  - targets:\n    - music-1")
    path = tmp_path / "prometheus.yml"
    path.write_text(text)

    assert main(["fix", "config", "--write", str(path)]) == 1
    out = capsys.readouterr().out

    assert "[rename-duplicate-job] suggested, not applied (unsafe)" in out
    assert "spring-music_prometheus_scrape-2" in out
    assert path.read_text() == text


def test_fix_case_silently_clamped_nothing_to_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = copy_case(tmp_path, "10-scrape-timeout-exceeds-interval", "variant-global-timeout-silently-clamped.yml")
    original = path.read_bytes()

    assert main(["fix", "config", "--write", str(path)]) == 0

    assert "nothing to fix" in capsys.readouterr().out
    assert path.read_bytes() == original
