"""Real-world config mistakes: ``check config`` gives the expected diagnosis (rule id, field path, line).

The inputs are the config cases in shared/cases/ beside the clone; each case's
expected.md states the diagnosis these tests assert.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from promwatchd.promconfig import validate_file

CASES_DIR = Path(__file__).resolve().parents[2] / "shared" / "cases"

if not CASES_DIR.is_dir() and os.environ.get("CI") == "true":
    raise AssertionError(f"cases missing at {CASES_DIR}")
pytestmark = pytest.mark.skipif(not CASES_DIR.is_dir(), reason=f"cases not found at {CASES_DIR}")

# (case folder, file, severity, rule id, field path, line)
EXPECTED = [
    ("01-tab-indentation", "prometheus.yml", "error", "tab-indentation", "", 2),
    ("01-tab-indentation", "prometheus.yml", "error", "tab-indentation", "", 3),
    ("01-tab-indentation", "prometheus.yml", "error", "yaml-syntax", "", 2),
    ("01-tab-indentation", "variant-tab-inside-list.yml", "error", "tab-indentation", "", 6),
    ("03-scalar-where-list-expected", "prometheus.yml", "error", "wrong-type", "scrape_configs[0].params.namespace", 10),
    ("03-scalar-where-list-expected", "variant-numeric-params.yml", "error", "wrong-type", "scrape_configs[0].params.cluster", 5),
    ("03-scalar-where-list-expected", "variant-numeric-params.yml", "error", "wrong-type", "scrape_configs[0].params.node", 6),
    ("03-scalar-where-list-expected", "variant-targets-string.yml", "error", "wrong-type", "scrape_configs[0].static_configs[0].targets", 4),
    ("04-static-configs-map-not-list", "prometheus.yml", "error", "wrong-type", "scrape_configs[0].static_configs", 4),
    ("04-static-configs-map-not-list", "variant-dash-without-space.yml", "error", "wrong-type", "scrape_configs[0].static_configs", 4),
    ("06-field-at-wrong-level", "prometheus.yml", "error", "unknown-field", "scrape_configs[0].static_configs[0].scrape_interval", 8),
    ("07-duplicate-job-name", "prometheus.yml", "error", "duplicate-job-name", "scrape_configs[2].job_name", 15),
    ("08-scheme-in-target", "prometheus.yml", "error", "target-with-scheme", "scrape_configs[0].static_configs[0].targets[0]", 6),
    ("08-scheme-in-target", "variant-https.yml", "error", "target-with-scheme", "scrape_configs[0].static_configs[0].targets[0]", 4),
    ("09-path-in-target", "prometheus.yml", "error", "target-with-path", "scrape_configs[1].static_configs[0].targets[0]", 9),
    ("10-scrape-timeout-exceeds-interval", "prometheus.yml", "error", "timeout-exceeds-interval", "scrape_configs[0].scrape_timeout", 6),
    ("10-scrape-timeout-exceeds-interval", "variant-global-both.yml", "error", "timeout-exceeds-interval", "global.scrape_timeout", 3),
    ("10-scrape-timeout-exceeds-interval", "variant-global-timeout-silently-clamped.yml", "warning", "timeout-clamped", "scrape_configs[0].scrape_interval", 6),
    ("11-duration-without-unit", "prometheus.yml", "error", "invalid-duration", "scrape_configs[0].scrape_interval", 3),
    ("11-duration-without-unit", "variant-fractional.yml", "error", "invalid-duration", "scrape_configs[0].scrape_interval", 3),
    ("14-rule-files-points-to-directory", "prometheus.yml", "error", "rule-file-is-directory", "rule_files[0]", 2),
    ("15-rule-files-nested-glob", "prometheus.yml", "error", "invalid-rule-file-glob", "rule_files[0]", 2),
]

CONFIG_CASES = sorted({case for case, *_ in EXPECTED})


@pytest.mark.parametrize(("case", "file", "severity", "rule", "path", "line"), EXPECTED, ids=[f"{c}/{f}:{r}:{n}" for c, f, _, r, _, n in EXPECTED])
def test_case_diagnosis(case: str, file: str, severity: str, rule: str, path: str, line: int) -> None:
    report = validate_file(CASES_DIR / case / file)

    matching = [f for f in report.findings if f.rule == rule and f.path == path and f.line == line]

    assert matching, [(f.rule, f.path, f.line) for f in report.findings]
    assert matching[0].severity == severity
    assert report.valid == (severity != "error")


@pytest.mark.parametrize("case", CONFIG_CASES)
def test_case_fixed_files_are_valid(case: str) -> None:
    fixed = sorted((CASES_DIR / case / "fixed").glob("*.yml"))
    assert fixed

    for path in fixed:
        report = validate_file(path)

        assert report.valid, [f.format_text() for f in report.findings]


def test_case_tab_excerpt_shows_tab() -> None:
    report = validate_file(CASES_DIR / "01-tab-indentation" / "prometheus.yml")
    tab = next(f for f in report.findings if f.rule == "tab-indentation")

    assert "→scrape_interval" in tab.excerpt
    assert tab.excerpt.splitlines()[1].endswith("^")


def test_case_credentials_not_in_output() -> None:
    report = validate_file(CASES_DIR / "03-scalar-where-list-expected" / "prometheus.yml")

    assert "REDACTED_TOKEN" not in str(report.to_dict())
    assert all("REDACTED_TOKEN" not in f.format_text() for f in report.findings)


def test_case_fix_suggests_list_form() -> None:
    report = validate_file(CASES_DIR / "03-scalar-where-list-expected" / "variant-numeric-params.yml")
    fixes = {f.path: f.fix for f in report.findings}

    assert "['1']" in fixes["scrape_configs[0].params.cluster"]
    assert "['1']" in fixes["scrape_configs[0].params.node"]


def test_case_duration_fix_gives_exact_form() -> None:
    report = validate_file(CASES_DIR / "11-duration-without-unit" / "variant-fractional.yml")

    assert "1m30s" in report.findings[0].fix


def test_case_nested_glob_fix_lists_directories() -> None:
    report = validate_file(CASES_DIR / "15-rule-files-nested-glob" / "prometheus.yml")

    assert "rules/service_a/*.rule" in report.findings[0].fix
    assert "rules/service_b/*.rule" in report.findings[0].fix
