"""Prometheus duration strings."""

from __future__ import annotations

import pytest

from promwatchd.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), ("1d", 86400.0), ("2w", 1209600.0)],
)
def test_parse_valid(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "30", "5 m", "1m1h", "1.5s", "-1s", "s", "abc"])
def test_parse_invalid(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_format_short():
    assert format_duration(0.25) == "0.25s"
    assert format_duration(150) == "2m30s"
    assert format_duration(3900) == "1h5m"
