"""Corrections for durations: a missing unit, a fraction, and a scrape timeout above the scrape interval."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from promwatchd.durations import parse_duration
from promwatchd.fix.model import Correction
from promwatchd.fix.tree import line_of, lookup, parse_path, same_style
from promwatchd.promconfig import Finding

# Milliseconds per unit, largest first: the units of a Prometheus duration string, in the order they must appear.
_UNIT_MS = {"y": 365 * 86_400_000, "w": 7 * 86_400_000, "d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1000, "ms": 1}
_FRACTION = re.compile(r"^(\d*\.\d+|\d+\.\d*)(ms|s|m|h|d|w|y)$")
_BARE_NUMBER = re.compile(r"^\d+$")

# Fields where a bare number can only mean seconds. Other durations (retention, rule "for")
# are left alone: there the intended unit is a guess.
SECONDS_FIELDS = frozenset({"scrape_interval", "scrape_timeout", "evaluation_interval", "refresh_interval"})

# Above this many seconds a bare number is more likely milliseconds or a typo than seconds.
MAX_PLAIN_SECONDS = 300

DEFAULT_SCRAPE_INTERVAL = "1m"


def format_duration_ms(milliseconds: int) -> str:
    """Return the canonical Prometheus form of a duration, such as ``1m30s`` for 90000."""
    if milliseconds == 0:
        return "0s"
    parts = []
    for unit, size in _UNIT_MS.items():
        amount, milliseconds = divmod(milliseconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def fix_duration(document: Any, finding: Finding) -> Correction | None:
    """Add the unit ``s`` to a bare number of seconds, or write a fractional duration in whole units."""
    tokens = parse_path(finding.path)
    try:
        parent = lookup(document, tokens[:-1])
        value = lookup(document, tokens)
    except LookupError:
        return None
    key = tokens[-1]
    text = str(value).strip()
    line = line_of(parent, key)

    if _BARE_NUMBER.match(text):
        return _bare_number(parent, key, text, line, finding.path)

    match = _FRACTION.match(text)
    if match:
        milliseconds = Decimal(match.group(1)) * _UNIT_MS[match.group(2)]
        if milliseconds == milliseconds.to_integral_value():
            exact = format_duration_ms(int(milliseconds))
            parent[key] = same_style(value, exact)
            return Correction(
                "duration-fraction",
                line,
                finding.path,
                "Prometheus durations take whole numbers only; the same length written in whole units",
                safe=True,
                applied=True,
                change=f"{text} -> {exact}",
            )
    return None


def _bare_number(parent: Any, key: str, text: str, line: int, path: str) -> Correction:
    """Add the unit ``s`` where seconds are the only sensible reading, else suggest the unit."""
    seconds = int(text)
    if key in SECONDS_FIELDS and seconds <= MAX_PLAIN_SECONDS:
        parent[key] = f"{seconds}s"
        return Correction(
            "duration-unit",
            line,
            path,
            f"a duration needs a unit; {text} is taken as seconds, the only sensible reading for {key}",
            safe=True,
            applied=True,
            change=f"{text} -> {seconds}s",
        )
    readings = f"{format_duration_ms(seconds)} if milliseconds, {format_duration_ms(seconds * 1000)} if seconds"
    return Correction(
        "duration-unit",
        line,
        path,
        f"a duration needs a unit, and {text} could mean more than one length for {key}; write the unit you meant",
        safe=False,
        applied=False,
        change=f"{text} -> {readings}",
    )


def fix_timeout(document: Any, finding: Finding) -> Correction | None:
    """Lower a scrape_timeout above its scrape_interval to the interval, which is what Prometheus would apply."""
    tokens = parse_path(finding.path)
    if not tokens or tokens[-1] != "scrape_timeout":
        return None
    try:
        section = lookup(document, tokens[:-1])
    except LookupError:
        return None

    if not isinstance(section, dict):
        return None
    interval = section.get("scrape_interval")
    if interval is None and tokens[0] == "scrape_configs":
        global_section = document.get("global")
        interval = global_section.get("scrape_interval") if isinstance(global_section, dict) else None
    if interval is None:
        interval = DEFAULT_SCRAPE_INTERVAL
    try:
        parse_duration(str(interval))
    except ValueError:
        return None

    old = section["scrape_timeout"]
    section["scrape_timeout"] = same_style(old, str(interval))
    return Correction(
        "timeout-to-interval",
        line_of(section, "scrape_timeout"),
        finding.path,
        f"a scrape cannot run longer than its interval, so the timeout {old} never takes effect; it becomes {interval}. If scrapes are slow, raise scrape_interval instead (see scrape_duration_seconds)",
        safe=True,
        applied=True,
        change=f"scrape_timeout: {old} -> {interval}",
    )
