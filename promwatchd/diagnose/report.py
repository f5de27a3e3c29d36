"""Render a diagnosis for a person (top-down text) or a program (JSON), secrets masked."""

from __future__ import annotations

import json
from collections.abc import Sequence

from promwatchd.diagnose.rules import Finding
from promwatchd.redact import redact_text, redact_value

EXIT_HEALTHY = 0
EXIT_WARNING = 1
EXIT_CRITICAL = 3
"""Exit status by the worst finding; 2 stays the usage-error status of every promwatchd command."""


def exit_code(findings: Sequence[Finding]) -> int:
    severities = {finding.severity for finding in findings}
    if "critical" in severities:
        return EXIT_CRITICAL
    if "warning" in severities:
        return EXIT_WARNING
    return EXIT_HEALTHY


def render_text(url: str, findings: Sequence[Finding]) -> str:
    if not findings:
        return f"Prometheus at {url}: no problem found.\n"

    lines = [f"Prometheus at {url}: {len(findings)} finding(s), most likely root cause first.", ""]
    for number, finding in enumerate(findings, start=1):
        lines.append(f"{number}. [{finding.severity}] {finding.cause}: {redact_text(finding.summary)}")
        lines.append(f"   confidence {finding.confidence:.0%}; a restart {'helps' if finding.restart_helps else 'does not help'}")
        for evidence in finding.evidence:
            lines.append(f"   - {redact_text(evidence)}")
        lines.append(f"   fix: {redact_text(finding.fix)}")
        lines.append("")
    return "\n".join(lines)


def render_json(url: str, findings: Sequence[Finding]) -> str:
    document = {
        "prometheus_url": url,
        "root_cause": findings[0].cause if findings else None,
        "findings": [redact_value("", finding.to_dict()) for finding in findings],
    }
    return json.dumps(document, indent=2)
