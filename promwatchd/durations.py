"""Prometheus duration strings ("1m30s", "500ms") to seconds."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}

# Units in Prometheus's order, each at most once (model.ParseDuration in prometheus/common).
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")


def parse_duration(text: str) -> float:
    """Return the seconds in a Prometheus duration such as ``1h30m`` or ``250ms``.

    Raises ValueError naming the text when it is not one; "0" alone is allowed,
    as Prometheus allows it.
    """
    if text == "0":
        return 0.0

    match = _DURATION.match(text)
    if not text or match is None or not any(match.groups()):
        raise ValueError(f"invalid duration {text!r}: expected a number with a unit, such as 30s, 5m or 1h30m")

    total = 0.0
    for unit, amount in zip(_UNIT_SECONDS, match.groups()):
        if amount is not None:
            total += int(amount) * _UNIT_SECONDS[unit]
    return total


def format_duration(seconds: float) -> str:
    """Return a short human form: 0.25s, 45s, 2m30s, 1h5m."""
    if seconds < 60:
        return f"{seconds:.3g}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m" if minutes else f"{hours}h"
