"""Rules of the exposition validator, one payload per rule, in both formats."""

from __future__ import annotations

import pytest

from promwatchd.exposition import Format, Severity, Validator, sniff_format, validate_bytes
from promwatchd.exposition.detect import check_content_type, format_from_content_type

TEXT = Format.TEXT
OPENMETRICS = Format.OPENMETRICS


def error_rules(payload: bytes, payload_format: Format) -> list[str]:
    return [finding.rule for finding in validate_bytes(payload, payload_format).errors]


VALID_PAYLOADS = [
    pytest.param(TEXT, b"", id="text-empty"),
    pytest.param(TEXT, b"a 1\n", id="text-bare-sample"),
    pytest.param(TEXT, b"# HELP a Help text.\n# TYPE a gauge\na{b=\"c\"} 1.5 1700000000000\n", id="text-gauge"),
    pytest.param(TEXT, b"a{b=\"c\",} 1\n", id="text-trailing-comma"),
    pytest.param(TEXT, b"a { b = \"c\" , d=\"e\" }\t 1 \t 5\n", id="text-blanks-between-tokens"),
    pytest.param(TEXT, b"a +Inf\nb -Inf\nc NaN\nd 1e-3\ne .5\nf 7.\n", id="text-special-values"),
    pytest.param(TEXT, b"a{b=\"\\\\ \\\" \\n\"} 1\n", id="text-escaped-label-value"),
    pytest.param(TEXT, b"a{b=\"\x00\"} 1\n", id="text-nul-in-label-value"),
    pytest.param(TEXT, b"# just a comment\n\n  \na 1\n", id="text-comment-and-blank-lines"),
    pytest.param(TEXT, b"# HELP a\n# TYPE a counter\na 1\n", id="text-help-without-text"),
    pytest.param(TEXT, b'{"my.metric", "my.label"="x"} 1\n', id="text-quoted-utf8-names"),
    pytest.param(
        TEXT,
        b"# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 3\nh_sum 1.2\nh_count 3\n",
        id="text-histogram",
    ),
    pytest.param(TEXT, b"# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 3\ns_count 2\n", id="text-summary"),
    pytest.param(TEXT, b"a 1\nb 1\na{x=\"1\"} 2\n", id="text-untyped-name-reappears"),
    pytest.param(OPENMETRICS, b"# EOF\n", id="om-empty"),
    pytest.param(OPENMETRICS, b"a 1\n# EOF", id="om-no-newline-after-eof"),
    pytest.param(
        OPENMETRICS,
        b"# TYPE c_seconds counter\n# UNIT c_seconds seconds\n# HELP c_seconds x\n"
        b"c_seconds_total 1 # {trace_id=\"abc\"} 0.5 1.5\nc_seconds_created 1700000000.5\n# EOF\n",
        id="om-counter-with-exemplar",
    ),
    pytest.param(
        OPENMETRICS,
        b"# TYPE h histogram\nh_bucket{le=\"1.0\"} 1 # {} 0.3\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1.5\n# EOF\n",
        id="om-histogram",
    ),
    pytest.param(OPENMETRICS, b"# TYPE s stateset\ns{s=\"a\"} 1\ns{s=\"b\"} 0\n# EOF\n", id="om-stateset"),
    pytest.param(OPENMETRICS, b"# TYPE i info\ni_info{version=\"1\"} 1\n# EOF\n", id="om-info"),
    pytest.param(OPENMETRICS, b"# TYPE g gauge\ng 1 1\ng 2 2\n# EOF\n", id="om-increasing-timestamps"),
]


@pytest.mark.parametrize(("payload_format", "payload"), VALID_PAYLOADS)
def test_valid_payload_has_no_errors(payload_format: Format, payload: bytes) -> None:
    assert error_rules(payload, payload_format) == []


INVALID_PAYLOADS = [
    pytest.param(TEXT, b"0a 1\n", "text-invalid-metric-name", id="text-name-starts-with-digit"),
    pytest.param(TEXT, b"a.b 1\n", "text-invalid-metric-name", id="text-dot-in-name"),
    pytest.param(TEXT, b"a{Build Date=\"x\"} 1\n", "text-invalid-label-name", id="text-space-in-label-name"),
    pytest.param(TEXT, b"a{1b=\"x\"} 1\n", "text-invalid-label-name", id="text-label-name-starts-with-digit"),
    pytest.param(TEXT, b"a{b=c} 1\n", "text-invalid-label-value", id="text-unquoted-label-value"),
    pytest.param(TEXT, b"a{b=\"c} 1\n", "text-invalid-label-value", id="text-unterminated-label-value"),
    pytest.param(TEXT, b"a{b=\"c\" d=\"e\"} 1\n", "text-invalid-label-set", id="text-missing-comma"),
    pytest.param(TEXT, b"a{b=\"1\",b=\"2\"} 1\n", "duplicate-label-name", id="text-duplicate-label"),
    pytest.param(TEXT, b"a\n", "text-missing-value", id="text-missing-value"),
    pytest.param(TEXT, b"a 1_000\n", "text-invalid-value", id="text-underscore-in-value"),
    pytest.param(TEXT, b"a 0x1p-3\n", "text-invalid-value", id="text-hex-value"),
    pytest.param(TEXT, b"a 1 1.5\n", "text-invalid-timestamp", id="text-float-timestamp"),
    pytest.param(TEXT, b"a 1 2 3\n", "text-unexpected-text", id="text-text-after-timestamp"),
    pytest.param(TEXT, b"a 1", "text-missing-final-newline", id="text-no-final-newline"),
    pytest.param(TEXT, b"a 1\r\n", "text-carriage-return", id="text-crlf"),
    pytest.param(TEXT, b"a{b=\"\xff\"} 1\n", "invalid-utf8", id="text-invalid-utf8"),
    pytest.param(TEXT, b"# TYPE a gauge\n# TYPE a gauge\na 1\n", "duplicate-type", id="text-second-type"),
    pytest.param(TEXT, b"# HELP a x\n# HELP a y\na 1\n", "duplicate-help", id="text-second-help"),
    pytest.param(TEXT, b"a 1\n# TYPE a gauge\n", "type-after-samples", id="text-type-after-samples"),
    pytest.param(TEXT, b"# TYPE a foo\n", "text-invalid-type", id="text-unknown-type"),
    pytest.param(TEXT, b"# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{c=\"d\"} 1\n", "metric-family-not-contiguous", id="text-family-split"),
    pytest.param(TEXT, b"a 1\na 2\n", "duplicate-series", id="text-duplicate-series"),
    pytest.param(TEXT, b"a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n", "duplicate-series", id="text-duplicate-series-label-order"),
    pytest.param(TEXT, b"# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n", "histogram-bucket-order", id="text-bucket-order"),
    pytest.param(TEXT, b"# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\n", "histogram-missing-inf-bucket", id="text-no-inf-bucket"),
    pytest.param(TEXT, b"# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\n", "histogram-count-mismatch", id="text-count-mismatch"),
    pytest.param(TEXT, b"# TYPE h histogram\nh_bucket 1\n", "histogram-bucket-missing-le", id="text-bucket-without-le"),
    pytest.param(TEXT, b"# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", "histogram-invalid-le", id="text-invalid-le"),
    pytest.param(TEXT, b"# TYPE h histogram\nh_bucket{le=\"1\"} 5\nh_bucket{le=\"+Inf\"} 4\n", "histogram-bucket-not-cumulative", id="text-not-cumulative"),
    pytest.param(TEXT, b"# TYPE s summary\ns 1\n", "summary-missing-quantile", id="text-summary-without-quantile"),
    pytest.param(TEXT, b"# TYPE s summary\ns{quantile=\"2\"} 1\n", "summary-invalid-quantile", id="text-quantile-out-of-range"),
    pytest.param(OPENMETRICS, b"a 1\n", "om-missing-eof", id="om-missing-eof"),
    pytest.param(OPENMETRICS, b"", "om-missing-eof", id="om-empty-payload"),
    pytest.param(OPENMETRICS, b"a 1\n# EOF\nb 1\n", "om-text-after-eof", id="om-text-after-eof"),
    pytest.param(OPENMETRICS, b"a 1\n\n# EOF\n", "om-blank-line", id="om-blank-line"),
    pytest.param(OPENMETRICS, b"# a comment\n# EOF\n", "om-invalid-comment", id="om-comment"),
    pytest.param(OPENMETRICS, b"a  1\n# EOF\n", "om-invalid-whitespace", id="om-two-spaces"),
    pytest.param(OPENMETRICS, b"a{b=\"1\",} 1\n# EOF\n", "om-invalid-label-set", id="om-trailing-comma"),
    pytest.param(OPENMETRICS, b"a 1 z\n# EOF\n", "om-invalid-timestamp", id="om-invalid-timestamp"),
    pytest.param(OPENMETRICS, b"# TYPE a untyped\n# EOF\n", "om-invalid-type", id="om-untyped"),
    pytest.param(OPENMETRICS, b"# HELP a\n# EOF\n", "om-invalid-help", id="om-help-without-space"),
    pytest.param(OPENMETRICS, b"# UNIT a seconds\n# EOF\n", "om-unit-not-suffix", id="om-unit-not-suffix"),
    pytest.param(OPENMETRICS, b"# TYPE a gauge\na 1\n# HELP a x\n# EOF\n", "om-metadata-after-samples", id="om-help-after-samples"),
    pytest.param(OPENMETRICS, b"# TYPE a counter\na 1\n# EOF\n", "om-sample-name-mismatch", id="om-counter-without-total"),
    pytest.param(OPENMETRICS, b"# TYPE a counter\na_total -1\n# EOF\n", "om-counter-invalid-value", id="om-negative-counter"),
    pytest.param(OPENMETRICS, b"# TYPE a gauge\na 1 # {b=\"c\"} 1\n# EOF\n", "om-exemplar-not-allowed", id="om-exemplar-on-gauge"),
    pytest.param(OPENMETRICS, b"# TYPE a counter\na_total 1 # {b=\"" + b"x" * 130 + b"\"} 1\n# EOF\n", "om-exemplar-too-long", id="om-exemplar-too-long"),
    pytest.param(OPENMETRICS, b"# TYPE a counter\na_total 1 # b 1\n# EOF\n", "om-invalid-exemplar", id="om-exemplar-without-labels"),
    pytest.param(OPENMETRICS, b"# TYPE a stateset\na{a=\"x\"} 2\n# EOF\n", "om-stateset-invalid-value", id="om-stateset-value"),
    pytest.param(OPENMETRICS, b"# TYPE a info\na_info 2\n# EOF\n", "om-info-invalid-value", id="om-info-value"),
    pytest.param(OPENMETRICS, b"# TYPE a gauge\na 0 1\na 0 0\n# EOF\n", "om-timestamp-order", id="om-decreasing-timestamps"),
    pytest.param(OPENMETRICS, b"# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 1\n# EOF\n", "om-metric-interleaved", id="om-interleaved"),
    pytest.param(OPENMETRICS, b"# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_sum 1\n# EOF\n", "om-histogram-sum-without-count", id="om-sum-without-count"),
    pytest.param(OPENMETRICS, b"# TYPE a_created gauge\n# TYPE a counter\n# EOF\n", "metric-family-name-clash", id="om-name-clash"),
]


@pytest.mark.parametrize(("payload_format", "payload", "rule"), INVALID_PAYLOADS)
def test_invalid_payload_reports_rule(payload_format: Format, payload: bytes, rule: str) -> None:
    assert rule in error_rules(payload, payload_format)


def test_finding_has_line_and_column() -> None:
    result = validate_bytes(b"# TYPE a gauge\na{b=\"c\"} x\n", TEXT)

    assert len(result.errors) == 1
    finding = result.errors[0]
    assert (finding.line, finding.column) == (2, 10)
    assert finding.rule == "text-invalid-value"
    assert "'x'" in finding.message


def test_invalid_label_name_message_suggests_a_fix() -> None:
    finding = validate_bytes(b"a{Build Date=\"x\"} 1\n", TEXT).errors[0]

    assert "'Build Date'" in finding.message
    assert "build_date" in finding.message


def test_lint_findings_kept_apart_from_errors() -> None:
    result = validate_bytes(b"# TYPE a_ms counter\na_ms 1\n", TEXT)

    assert result.errors == []
    assert {finding.rule for finding in result.lints} == {
        "lint-help-missing",
        "lint-abbreviated-unit",
        "lint-counter-missing-total",
    }
    assert all(finding.severity is Severity.LINT for finding in result.lints)


def test_chunk_boundaries_do_not_change_findings() -> None:
    payload = b"# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\na{b=\"\xff\"} 1\nb 1"
    whole = validate_bytes(payload, TEXT).findings

    validator = Validator(TEXT)
    for index in range(len(payload)):
        validator.feed(payload[index : index + 1])
    byte_by_byte = validator.close().findings

    assert byte_by_byte == whole


def test_findings_per_rule_are_capped() -> None:
    from promwatchd.exposition.validator import MAX_FINDINGS_PER_RULE

    result = validate_bytes(b"0a 1\n" * (MAX_FINDINGS_PER_RULE + 5), TEXT)

    assert len(result.errors) == MAX_FINDINGS_PER_RULE
    assert result.suppressed["text-invalid-metric-name"] == 5


def test_html_page_is_one_finding() -> None:
    result = validate_bytes(b"<!DOCTYPE html>\n<html><a href=\"/app/metrics\">m</a></html>\n", TEXT)

    assert [finding.rule for finding in result.errors] == ["html-page"]
    assert "/app/metrics" in result.errors[0].message


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", OPENMETRICS),
        ("text/plain; version=0.0.4; charset=utf-8", TEXT),
        ("text/html", None),
        (None, None),
    ],
)
def test_format_from_content_type(content_type: str | None, expected: Format | None) -> None:
    assert format_from_content_type(content_type) is expected


def test_missing_content_type_explains_prometheus_3() -> None:
    finding = check_content_type(None)

    assert finding is not None
    assert finding.rule == "content-type-missing"
    assert "fallback_scrape_protocol" in finding.message


def test_sniff_format() -> None:
    assert sniff_format(b"a 1\n# EOF\n") is OPENMETRICS
    assert sniff_format(b"# TYPE a stateset\n") is OPENMETRICS
    assert sniff_format(b"# TYPE a gauge\na 1\n") is TEXT
    assert sniff_format(b"a 1\n", tail=b"b 2\n# EOF") is OPENMETRICS


def test_column_counts_leading_blanks() -> None:
    finding = validate_bytes(b"a 1\n  b{c=d} 1\n", TEXT).errors[0]

    assert (finding.line, finding.column) == (2, 7)


def test_column_counts_characters_not_bytes() -> None:
    finding = validate_bytes('a{b="é"} x\n'.encode(), TEXT).errors[0]

    assert (finding.line, finding.column) == (1, 10)


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        (b"\xef\xbb\xbfa 1\n", "byte-order-mark"),
        (b"a{b=\"c\"} 1 # {x=\"y\"} 1\n", "text-exemplar-not-supported"),
        (b"a 1 99999999999999999999999\n", "text-invalid-timestamp"),
    ],
)
def test_text_format_specific_errors(payload: bytes, rule: str) -> None:
    assert error_rules(payload, TEXT) == [rule]
