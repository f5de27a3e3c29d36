"""Mask secrets before they reach a log line, a report or a page."""

from __future__ import annotations

import re
from typing import Any

MASK = "<secret>"

# Prometheus config keys whose values are credentials (config/config.go, common/config/http_config.go).
SECRET_KEYS = frozenset(
    {
        "password",
        "bearer_token",
        "credentials",
        "client_secret",
        "secret_key",
        "token",
        "api_key",
        "auth_token",
        "access_key",
        "sas_token",
        "key",
    }
)

_INLINE_SECRET = re.compile(
    r"(?i)\b(password|bearer_token|credentials|client_secret|secret_key|token|api_key|auth_token)(\s*[:=]\s*)"
    # An already masked value is matched whole, so that a quote after it is kept.
    r"(" + re.escape(MASK) + r"|\"[^\"]*\"|'[^']*'|\S+)"
)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/@\s:]+):([^/@\s]+)@")
_AUTH_HEADER = re.compile(r"(?i)\b(authorization:\s*|bearer\s+)([A-Za-z0-9._~+/=-]{8,})")


def redact_text(text: str) -> str:
    """Mask ``key: value`` pairs of secret keys, passwords in URLs, and bearer tokens in free text."""
    text = _INLINE_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{m.group(2)}:{MASK}@", text)
    return _AUTH_HEADER.sub(lambda m: f"{m.group(1)}{MASK}", text)


def redact_value(key: str, value: Any) -> Any:
    """Mask a value by its key, and secrets inside strings, lists and mappings."""
    if key.lower() in SECRET_KEYS and value not in (None, ""):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_value("", v) for v in value)
    return value


def redact_event(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: redact every field of the event."""
    return {key: redact_value(key, value) for key, value in event.items()}
