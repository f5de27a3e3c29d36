"""The validator's short path for common lines, and its label-set cache, against the full grammar."""

from __future__ import annotations

import pytest

from promwatchd.exposition import Format, Validator, validate_bytes
from promwatchd.exposition import syntax

TEXT = Format.TEXT
OPENMETRICS = Format.OPENMETRICS


def error_lines(payload: bytes, payload_format: Format = TEXT) -> list[tuple[int, str]]:
    return [(finding.line, finding.rule) for finding in validate_bytes(payload, payload_format, lint=False).errors]


def test_brace_in_label_value_is_valid() -> None:
    assert error_lines(b'a{b="x}y"} 1\n') == []


def test_brace_in_label_value_repeated_series() -> None:
    assert error_lines(b'a{b="x}y"} 1\na{b="x}y"} 2\n') == [(2, "duplicate-series")]


def test_cached_label_text_in_two_families() -> None:
    assert error_lines(b'a{x="1"} 1\nb{x="1"} 1\nb{x="1"} 2\n') == [(3, "duplicate-series")]


def test_cached_label_text_other_order_is_same_series() -> None:
    payload = b'a{c="1",b="2"} 1\nx{c="1",b="2"} 1\nx{b="2",c="1"} 2\n'
    assert error_lines(payload) == [(3, "duplicate-series")]


@pytest.mark.parametrize("payload_format", [TEXT, OPENMETRICS])
def test_duplicate_label_name_reported_every_time(payload_format: Format) -> None:
    payload = b'a{b="1",b="2"} 1\nc{b="1",b="2"} 1\n' + (b"# EOF\n" if payload_format is OPENMETRICS else b"")
    assert error_lines(payload, payload_format) == [(1, "duplicate-label-name"), (2, "duplicate-label-name")]


def test_label_text_of_other_shape_takes_full_grammar() -> None:
    rules = [rule for _, rule in error_lines(b'a{b="1" c="2"} 1\n')]
    assert rules == ["text-invalid-label-set"]


def test_openmetrics_trailing_comma_is_reported() -> None:
    rules = [rule for _, rule in error_lines(b'a{b="1",} 1\n# EOF\n', OPENMETRICS)]
    assert rules == ["om-invalid-label-set"]


def test_label_cache_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syntax, "MAX_CACHED_LABEL_CHARACTERS", 200)
    lines = [f'a{{series="{index}"}} 1\n'.encode() for index in range(100)]
    payload = b"".join(lines) + b'a{series="0"} 2\n'
    validator = Validator(TEXT, lint=False)
    validator.feed(payload)
    result = validator.close()

    assert [(finding.line, finding.rule) for finding in result.errors] == [(101, "duplicate-series")]
    cached_characters = sum(len(text) for text in validator._grammar.cached_label_sets)
    assert cached_characters <= 200
