"""Payloads from real scrape failures, read from the cases beside the repository, and the diagnosis each needs.

The cases: an HTML page instead of metrics, OpenMetrics without ``# EOF``, a second TYPE line,
a missing final newline, a space in a label name, and naming-convention lint.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from promwatchd.exposition import Format, sniff_format, validate_bytes

CASES = Path(__file__).resolve().parents[2] / "shared" / "cases"


def case_file(case: str, name: str) -> bytes:
    path = CASES / case / name
    if not path.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} not found; CI checks out shared/ beside the repository")
        pytest.skip(f"{path} not found")
    return path.read_bytes()


def test_html_page_is_reported_as_web_page() -> None:
    payload = case_file("28-html-page-instead-of-metrics", "payload.html")

    result = validate_bytes(payload, sniff_format(payload))

    assert [finding.rule for finding in result.errors] == ["html-page"]
    message = result.errors[0].message
    assert "<!DOCTYPE html>" in message
    assert "web page" in message
    assert "metrics_path" in message
    assert "/wls-exporter/metrics" in message


def test_openmetrics_without_eof_names_last_line() -> None:
    payload = case_file("30-openmetrics-missing-eof", "metrics.txt")

    result = validate_bytes(payload, Format.OPENMETRICS)

    assert [finding.rule for finding in result.errors] == ["om-missing-eof"]
    message = result.errors[0].message
    assert "# EOF" in message
    assert 'rspamd_actions_total{type="no action"} 1' in message
    assert validate_bytes(payload, Format.TEXT).errors == []


def test_openmetrics_with_eof_is_valid() -> None:
    payload = case_file("30-openmetrics-missing-eof", "fixed-metrics.txt")

    assert validate_bytes(payload, Format.OPENMETRICS).errors == []


def test_second_type_line_is_reported() -> None:
    payload = case_file("31-duplicate-type-line", "metrics.txt")

    result = validate_bytes(payload, Format.TEXT)

    assert [(finding.line, finding.rule) for finding in result.errors] == [(3, "duplicate-type")]
    message = result.errors[0].message
    assert "light_8618" in message
    assert "line 1" in message
    assert "promtool" in message


def test_missing_final_newline_is_reported() -> None:
    payload = case_file("32-missing-final-newline", "metrics.txt")

    result = validate_bytes(payload, Format.TEXT)

    assert [(finding.line, finding.rule) for finding in result.errors] == [(3, "text-missing-final-newline")]
    message = result.errors[0].message
    assert "newline" in message
    assert "Prometheus 2.x accepts" in message


def test_space_in_label_name_is_reported() -> None:
    payload = case_file("34-space-in-label-name", "metrics.txt")

    result = validate_bytes(payload, Format.TEXT)

    assert [(finding.line, finding.rule) for finding in result.errors] == [(3, "text-invalid-label-name")]
    message = result.errors[0].message
    assert "'Build Date'" in message
    assert "space" in message
    assert "build_date" in message


@pytest.mark.parametrize(
    "case",
    ["31-duplicate-type-line", "32-missing-final-newline", "34-space-in-label-name", "36-missing-help-type-and-naming-lint"],
)
def test_fixed_payload_is_valid(case: str) -> None:
    payload = case_file(case, "fixed-metrics.txt")

    result = validate_bytes(payload, Format.TEXT)

    assert result.errors == []


def test_naming_lint_matches_promtool() -> None:
    payload = case_file("36-missing-help-type-and-naming-lint", "metrics.txt")
    expected = case_file("36-missing-help-type-and-naming-lint", "expected.md").decode()
    promtool_block = expected.split("$ promtool check metrics < metrics.txt", 1)[1].split("(exit 3)", 1)[0]
    promtool_lines = sorted(line for line in promtool_block.strip().splitlines() if line)

    result = validate_bytes(payload, Format.TEXT)

    assert result.errors == []
    ours = sorted(re.sub(r" \('[a-z]+'\)", "", finding.message.split(";")[0]).replace(": ", " ", 1) for finding in result.lints)
    assert ours == promtool_lines
    assert {finding.rule for finding in result.lints} == {"lint-help-missing", "lint-abbreviated-unit", "lint-reserved-suffix"}


def test_fixed_naming_payload_is_lint_clean() -> None:
    payload = case_file("36-missing-help-type-and-naming-lint", "fixed-metrics.txt")

    assert validate_bytes(payload, Format.TEXT).findings == []
