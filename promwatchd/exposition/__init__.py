"""Validator for the Prometheus text format 0.0.4 and OpenMetrics 1.0 text exposition formats.

``Validator`` reads a payload in chunks of bytes and reports ``Finding`` objects with line,
column, rule id, severity and a message. It does not raise on payload bytes: invalid UTF-8,
NUL bytes and a missing final newline become findings, and a property test feeds it arbitrary
and mutated payloads to check that.
"""

from __future__ import annotations

from promwatchd.exposition.detect import check_content_type, format_from_content_type, sniff_format
from promwatchd.exposition.findings import Finding, Format, Severity
from promwatchd.exposition.validator import ValidationResult, Validator, validate_bytes

__all__ = [
    "Finding",
    "Format",
    "Severity",
    "ValidationResult",
    "Validator",
    "check_content_type",
    "format_from_content_type",
    "sniff_format",
    "validate_bytes",
]
