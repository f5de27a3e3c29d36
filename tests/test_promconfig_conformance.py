"""Conformance: our verdict on Prometheus's own config test files agrees with the upstream tests.

The files and their upstream verdicts live in shared/conformance/config/ beside the
clone (see its README.md). Each file is validated with --syntax-only, as the manifest's
promtool column was produced, and with --agent where the upstream test uses agent mode.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

from promwatchd.promconfig import Finding, validate_file

CONFORMANCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "config"

# Files where our verdict or our message still differs from upstream, with the reason. Empty: all agree.
KNOWN_DISAGREEMENTS: dict[str, str] = {}

_GO_FIELD_ERROR = re.compile(r"field (\S+) (not found|already set) in type")
_FILE_PREFIX = re.compile(r"^parsing YAML file \S+: ")


def _rows() -> list[dict[str, str]]:
    if not CONFORMANCE_DIR.is_dir():
        if os.environ.get("CI") == "true":
            raise AssertionError(f"conformance files missing at {CONFORMANCE_DIR}")
        return []
    with open(CONFORMANCE_DIR / "manifest.tsv", encoding="utf-8", newline="") as manifest:
        return list(csv.DictReader(manifest, delimiter="\t", quoting=csv.QUOTE_NONE))


ROWS = _rows()
pytestmark = pytest.mark.skipif(not ROWS, reason=f"conformance files not found at {CONFORMANCE_DIR}")


def _names_same_problem(expected: str, errors: list[Finding]) -> bool:
    """Return whether one of our errors names the field or states the problem of an upstream error substring.

    Go-internal wording ("not found in type config.plain", "unmarshal errors") is matched by
    the field name and the kind of error; other substrings must appear in one of our messages.
    """
    expected = _FILE_PREFIX.sub("", expected)
    go_field = _GO_FIELD_ERROR.match(expected)
    if go_field:
        name, kind = go_field.groups()
        rule = "unknown-field" if kind == "not found" else "duplicate-key"
        return any(f.rule == rule and f"field {name} " in f.message for f in errors)
    if expected == "unmarshal errors":
        return any(f.rule in ("wrong-type", "unknown-field") for f in errors)
    return any(expected.lower() in f.message.lower() for f in errors)


def _check_row(row: dict[str, str]) -> str | None:
    """Return why our result differs from upstream for this row, or None when it agrees."""
    agent = "run with --agent" in row["note"]
    report = validate_file(CONFORMANCE_DIR / row["file"], agent=agent, syntax_only=True)
    errors = [f for f in report.findings if f.is_error]
    verdict = "good" if report.valid else "bad"
    if verdict != row["upstream_verdict"]:
        return f"verdict {verdict}, upstream {row['upstream_verdict']}: {[f.message for f in errors]}"
    if verdict == "bad":
        for part in filter(None, row["upstream_error"].split(" ;; ")):
            if not _names_same_problem(part, errors):
                return f"upstream error {part!r} not named by ours: {[f.message for f in errors]}"
    return None


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_conformance_file(row: dict[str, str]) -> None:
    problem = _check_row(row)
    if row["file"] in KNOWN_DISAGREEMENTS:
        assert problem is not None, f"{row['file']} now agrees; remove it from KNOWN_DISAGREEMENTS"
        pytest.xfail(KNOWN_DISAGREEMENTS[row["file"]])
    assert problem is None, problem


def test_conformance_agreement_figure() -> None:
    agreeing = sum(1 for row in ROWS if _check_row(row) is None)
    assert agreeing == len(ROWS) - len(KNOWN_DISAGREEMENTS), f"{agreeing} of {len(ROWS)} agree"


def test_conformance_findings_not_repeated() -> None:
    for row in ROWS:
        report = validate_file(CONFORMANCE_DIR / row["file"], syntax_only=True)

        assert not [f for f in report.findings if f.rule == "internal-error"], row["file"]
        assert len(set(report.findings)) == len(report.findings), row["file"]
