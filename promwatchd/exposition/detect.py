"""Choose the exposition format from a Content-Type header or from the payload itself."""

from __future__ import annotations

import re

from promwatchd.exposition.findings import Finding, Format, Severity

OPENMETRICS_MEDIA_TYPE = "application/openmetrics-text"
TEXT_MEDIA_TYPE = "text/plain"
ACCEPT_HEADER = f"{OPENMETRICS_MEDIA_TYPE};version=1.0.0;q=0.9,{TEXT_MEDIA_TYPE};version=0.0.4;q=0.5"
"""The Accept header for fetching a target: both text formats, OpenMetrics preferred, as in Prometheus's scrape request."""

_OPENMETRICS_ONLY_TYPE = re.compile(rb"^# TYPE \S+ (?:info|stateset|gaugehistogram|unknown)$", re.MULTILINE)
_HTML_LINK = re.compile(r"""href\s*=\s*["']([^"']*metrics[^"']*)["']""", re.IGNORECASE)


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def format_from_content_type(content_type: str | None) -> Format | None:
    """Return the format a Content-Type declares, or None when it declares neither."""
    if not content_type:
        return None
    declared = media_type(content_type)
    if declared == OPENMETRICS_MEDIA_TYPE:
        return Format.OPENMETRICS
    if declared == TEXT_MEDIA_TYPE:
        return Format.TEXT
    return None


def sniff_format(head: bytes, tail: bytes = b"") -> Format:
    """Guess the format from the first and last bytes of a payload.

    The guess is OpenMetrics when the payload ends with ``# EOF``, or when its first bytes have a
    ``# UNIT`` line or a TYPE that only OpenMetrics has. Otherwise it is the text format, which is
    also what Prometheus 2 falls back to.
    """
    for part in (tail, head):
        stripped = part.rstrip(b"\n")
        if stripped.endswith(b"\n# EOF") or stripped == b"# EOF":
            return Format.OPENMETRICS
    if b"\n# UNIT " in head or head.startswith(b"# UNIT ") or _OPENMETRICS_ONLY_TYPE.search(head):
        return Format.OPENMETRICS
    return Format.TEXT


def looks_like_html(line: str) -> bool:
    """Return whether the first non-blank line of a payload starts an HTML document."""
    return line.lstrip()[:1] == "<"


def find_metrics_links(line: str) -> list[str]:
    """Return the link targets in an HTML line whose path contains "metrics"."""
    return _HTML_LINK.findall(line)


def describe_html(first_line: str, links: list[str]) -> str:
    """Return a message for a payload that is an HTML page, with the links in it that look like metrics paths."""
    message = (
        f"the body starts with {first_line.strip()[:60]!r}: this is a web page, not metrics, so the scrape fails "
        "(Prometheus: '\"INVALID\" is not a valid start token'); point the scrape path (metrics_path) at "
        "the metrics endpoint"
    )
    if links:
        message += "; links in the page that look like it: " + ", ".join(links)
    return message


def check_content_type(content_type: str | None, status: int | None = None) -> Finding | None:
    """Return a finding when a scrape response's Content-Type is missing or not a metrics format."""
    explanation = (
        "Prometheus 3 fails the scrape of such a response unless the scrape config sets "
        "fallback_scrape_protocol; Prometheus 2 parses it as the text format"
    )
    if not content_type:
        return Finding(0, 0, "content-type-missing", Severity.ERROR, f"response has no Content-Type header: {explanation}; send 'Content-Type: text/plain; version=0.0.4' or '{OPENMETRICS_MEDIA_TYPE}; version=1.0.0'")
    if format_from_content_type(content_type) is None:
        return Finding(0, 0, "content-type-unsupported", Severity.ERROR, f"Content-Type {content_type!r} is not a metrics format: {explanation}; send 'text/plain; version=0.0.4' or '{OPENMETRICS_MEDIA_TYPE}; version=1.0.0'")
    return None
