"""Agreement of the validator with the upstream verdicts of the shared conformance payloads.

The payloads and their verdicts (``upstream_should_parse``) come from the OpenMetrics parser
test suite, Prometheus's parser tests and node_exporter's fixtures; the manifest's README
describes them. Prometheus's parser tests expect only what its lenient scrape parser does,
so a few payloads that break the format specification are listed below as deliberate
disagreements, each with the rule it breaks.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from promwatchd.exposition import Format, validate_bytes

CONFORMANCE = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "metrics"

DELIBERATE_DISAGREEMENTS = {
    "payloads/prom-989db7b_omtestdata.om.txt": (
        "a histogram with negative bucket bounds has a negative _sum, and a summary has negative quantile "
        "values and sum; OpenMetrics 1.0 forbids all three (prometheus_client rejects it too)"
    ),
    "payloads/prom-main_TestNHCBParserErrorHandling.om.txt": (
        "the +Inf bucket is smaller than the bucket before it and than _count: histogram buckets are cumulative"
    ),
    "payloads/prom-main_TestOpenMetricsParse.om.txt": (
        "parser test input: a summary family split by other families' metadata, exemplars on _count and _sum, "
        "an info sample without _info, a stateset sample without its state label (prometheus_client rejects it too)"
    ),
    "payloads/prom-main_TestOpenMetricsParse_UTF8.om.txt": (
        "the same series three times and a family split in two groups (prometheus_client rejects it too)"
    ),
    "payloads/prom-main_createTestOpenMetricsHistogram.om.txt": (
        "a histogram with negative bucket bounds also has _sum, which OpenMetrics 1.0 forbids"
    ),
    "payloads/prom-main_TestPromParse.prom.txt": (
        "parser test input: two labels without a comma between them, a family split in two groups and the "
        "same series four times"
    ),
    "payloads/prom-main_TestUTF8PromParse.prom.txt": (
        "the same series four times: Prometheus stores one sample and rejects the rest as duplicates"
    ),
    "payloads/prom-main_createTestPromHistogram.prom.txt": (
        "no newline after the last line: promtool rejects it ('unexpected end of input stream'), Prometheus's "
        "scrape parser accepts it"
    ),
}


@dataclass(frozen=True)
class Payload:
    file: str
    format: Format
    expectation: str


def load_manifest() -> list[Payload]:
    if not CONFORMANCE.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"conformance payloads not found at {CONFORMANCE}; CI checks out shared/ beside the repository")
        pytest.skip(f"conformance payloads not found at {CONFORMANCE}")
    with open(CONFORMANCE / "manifest.tsv", newline="", encoding="utf-8") as manifest:
        rows = csv.DictReader(manifest, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [
            Payload(
                row["file"],
                Format.OPENMETRICS if row["format"] == "openmetrics" else Format.TEXT,
                row["upstream_should_parse"],
            )
            for row in rows
        ]


def verdict(payload: Payload) -> tuple[bool, list[str]]:
    result = validate_bytes((CONFORMANCE / payload.file).read_bytes(), payload.format)
    return not result.errors, [f"{finding.line}:{finding.column} {finding.rule}" for finding in result.errors]


class AgreementSummary:
    """A pytest plugin, registered by the test, that prints the agreement figures after the run."""

    def __init__(self, line: str) -> None:
        self.line = line

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(self.line)


def test_agreement_with_upstream_verdicts(request: pytest.FixtureRequest) -> None:
    payloads = load_manifest()
    agreed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    unexpected: list[str] = []
    deliberate_seen: set[str] = set()

    for payload in payloads:
        if payload.expectation == "unspecified":
            continue
        valid, errors = verdict(payload)
        if payload.file.startswith("payloads/om-suite_"):
            suite = "OpenMetrics suite"
        elif payload.format is Format.OPENMETRICS:
            suite = "OpenMetrics, Prometheus tests"
        else:
            suite = "text 0.0.4, Prometheus and node_exporter"
        total[suite] += 1
        if valid == (payload.expectation == "yes"):
            agreed[suite] += 1
            continue
        if payload.file in DELIBERATE_DISAGREEMENTS:
            deliberate_seen.add(payload.file)
            continue
        unexpected.append(f"{payload.file}: upstream {payload.expectation}, validator errors {errors[:3]}")

    figures = "; ".join(f"{suite} {agreed[suite]}/{total[suite]}" for suite in sorted(total))
    summary = (
        f"exposition conformance, agreement with upstream_should_parse: {figures}; "
        f"deliberate disagreements: {len(deliberate_seen)}"
    )
    request.config.pluginmanager.register(AgreementSummary(summary), "exposition-agreement-summary")

    assert unexpected == [], f"agreement: {figures}\n" + "\n".join(unexpected)
    assert agreed["OpenMetrics suite"] == total["OpenMetrics suite"]
    stale = set(DELIBERATE_DISAGREEMENTS) - deliberate_seen
    assert stale == set(), f"listed as disagreements but now agreeing: {sorted(stale)}"


def test_payloads_without_expectation_have_no_errors() -> None:
    """node_exporter's textfile collector inputs carry no verdict, but all parse with promtool and prometheus_client."""
    payloads = [payload for payload in load_manifest() if payload.expectation == "unspecified"]
    assert payloads, "the manifest has no payloads without an expectation"

    for payload in payloads:
        valid, errors = verdict(payload)
        assert valid, f"{payload.file}: {errors[:3]}"
