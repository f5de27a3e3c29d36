"""Property tests: the validator never raises, whatever the bytes and however they are chunked."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from promwatchd.exposition import Format, Validator, sniff_format, validate_bytes

PAYLOADS_DIR = Path(__file__).resolve().parents[2] / "shared" / "conformance" / "metrics" / "payloads"

BUILT_IN_PAYLOADS = [
    b"# HELP h Latency.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n",
    b"# TYPE c counter\nc_total{a=\"x\\\"y\"} 1 # {trace_id=\"1\"} 0.5 1.5\nc_created 1.5\n# EOF\n",
    b"# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n{\"my.metric\",\"my.label\"=\"v\"} 1\n",
    b"# TYPE st stateset\nst{st=\"a\"} 1\n# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n",
]


def real_payloads() -> list[bytes]:
    """Small real payloads from the conformance set when it is present, plus built-in ones."""
    found = list(BUILT_IN_PAYLOADS)
    if PAYLOADS_DIR.is_dir():
        found += [path.read_bytes() for path in sorted(PAYLOADS_DIR.iterdir()) if path.stat().st_size <= 4096]
    return found


REAL_PAYLOADS = real_payloads()
INTERESTING_BYTES = st.sampled_from(list(b"\n\r\t \"\\{}=,#+-.eE0123456789_:") + [0x00, 0xFF, 0xC3, 0xE2])

formats = st.sampled_from(list(Format))


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=2048), payload_format=formats)
def test_arbitrary_bytes_never_raise(payload: bytes, payload_format: Format) -> None:
    validate_bytes(payload, payload_format)
    validate_bytes(payload, sniff_format(payload))


@st.composite
def mutated_payloads(draw: st.DrawFn) -> bytes:
    payload = bytearray(draw(st.sampled_from(REAL_PAYLOADS)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        position = draw(st.integers(min_value=0, max_value=len(payload)))
        operation = draw(st.sampled_from(["insert", "delete", "replace", "duplicate-line"]))
        if operation == "insert":
            payload[position:position] = bytes([draw(INTERESTING_BYTES)])
        elif operation == "delete" and position < len(payload):
            del payload[position]
        elif operation == "replace" and position < len(payload):
            payload[position] = draw(INTERESTING_BYTES)
        elif operation == "duplicate-line":
            start = payload.rfind(b"\n", 0, position) + 1
            end = payload.find(b"\n", position)
            end = len(payload) if end == -1 else end + 1
            payload[end:end] = payload[start:end]
    return bytes(payload)


@settings(max_examples=500, deadline=None)
@given(payload=mutated_payloads(), payload_format=formats)
def test_mutated_real_payloads_never_raise(payload: bytes, payload_format: Format) -> None:
    validate_bytes(payload, payload_format)


@settings(max_examples=200, deadline=None)
@given(payload=mutated_payloads(), payload_format=formats, chunk_sizes=st.lists(st.integers(min_value=0, max_value=64), max_size=20))
def test_chunking_does_not_change_findings(payload: bytes, payload_format: Format, chunk_sizes: list[int]) -> None:
    whole = validate_bytes(payload, payload_format).findings

    validator = Validator(payload_format)
    position = 0
    for size in chunk_sizes:
        validator.feed(payload[position : position + size])
        position += size
    validator.feed(payload[position:])
    chunked = validator.close().findings

    assert chunked == whole
