"""The bounded set of reasons a target check ends with, and how Prometheus's lastError maps onto it."""

from __future__ import annotations

REASONS: dict[str, str] = {
    "ok": "the scrape succeeds",
    "dns": "the target's host name does not resolve",
    "refused": "the connection was refused: nothing listens on that port",
    "timeout": "no complete response within the job's scrape_timeout",
    "tls": "the TLS handshake or the certificate verification failed",
    "http_status": "the target returned a status other than 200",
    "redirects": "the target redirected more than 10 times",
    "connection": "the connection failed otherwise: reset, closed early, or an invalid HTTP response",
    "content_type": "the Content-Type is not a metrics format: Prometheus 2 still scrapes it, Prometheus 3 fails it",
    "format": "the body is not a valid exposition payload",
    "too_large": "the body (after gzip decompression) reaches body_size_limit or the checker's limit",
    "client_config": "a credentials or TLS file of the job cannot be read or used",
    "invalid_target": "Prometheus would not scrape the target at all, such as an address with a path",
    "other": "Prometheus reported an error the checker does not classify",
}
"""Reason -> description. The metric label ``reason`` and the JSON field ``reason`` take these values."""

PASSING_REASONS = frozenset({"ok", "content_type"})
"""Reasons with which Prometheus 2.42 still scrapes the target (health up)."""

_LAST_ERROR_PATTERNS = (
    ("context deadline exceeded", "timeout"),
    ("Client.Timeout", "timeout"),
    ("connection refused", "refused"),
    ("no such host", "dns"),
    ("server misbehaving", "dns"),
    ("x509:", "tls"),
    ("tls:", "tls"),
    ("server returned HTTP status", "http_status"),
    ("body size limit exceeded", "too_large"),
    ("stopped after 10 redirects", "redirects"),
    ("does not end with # EOF", "format"),
    ("connection reset", "connection"),
    ("EOF", "connection"),
    ("malformed HTTP", "connection"),
    ("unable to read", "client_config"),
    ("is not a valid start token", "format"),
    ("expected", "format"),
    ("invalid", "format"),
)


def classify_last_error(last_error: str) -> str:
    """Map Prometheus's lastError text (2.42 wording) to a reason; "ok" when it is empty."""
    if not last_error:
        return "ok"
    for pattern, reason in _LAST_ERROR_PATTERNS:
        if pattern in last_error:
            return reason
    return "other"


def reasons_agree(ours: str, prometheus: str) -> bool:
    """Return whether our reason matches the one classified from Prometheus's lastError.

    ``content_type`` agrees with ``ok`` because Prometheus 2 scrapes such targets.
    """
    if ours in PASSING_REASONS and prometheus in PASSING_REASONS:
        return True
    return ours == prometheus
