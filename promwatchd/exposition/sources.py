"""Read a payload from a file, standard input or a URL and validate it as it arrives.

The caller chooses the format or lets it be detected: from the Content-Type of an HTTP
response, otherwise from the first (and, for files, last) bytes of the payload.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from promwatchd.exposition.detect import sniff_format
from promwatchd.exposition.findings import Finding, Format
from promwatchd.exposition.validator import ValidationResult, Validator

CHUNK_BYTES = 64 * 1024
HEAD_BYTES = 64 * 1024
TAIL_BYTES = 4 * 1024


class SourceError(Exception):
    """The input could not be read at all (missing file, refused connection, timeout)."""


class SourceReport:
    """The outcome of validating one source."""

    def __init__(
        self,
        source: str,
        result: ValidationResult,
        content_type: str | None = None,
        status: int | None = None,
        response_findings: list[Finding] | None = None,
    ) -> None:
        self.source = source
        self.result = result
        self.content_type = content_type
        self.status = status
        self.response_findings: list[Finding] = [] if response_findings is None else response_findings
        """Findings about the HTTP response rather than the payload (status, Content-Type, size)."""

    def __repr__(self) -> str:
        return (
            f"SourceReport(source={self.source!r}, result={self.result!r}, content_type={self.content_type!r}, "
            f"status={self.status!r}, response_findings={self.response_findings!r})"
        )

    @property
    def findings(self) -> list[Finding]:
        return self.response_findings + self.result.findings


class PairedValidation:
    """The chosen validator, plus a text-format validator when the payload is OpenMetrics.

    The second validator checks whether a failing OpenMetrics body would be valid as the text
    format, because serving it as text/plain is the usual workaround.
    """

    def __init__(self, payload_format: Format, lint: bool) -> None:
        self.validator = Validator(payload_format, lint)
        self.text_validator = Validator(Format.TEXT, lint=False) if payload_format is Format.OPENMETRICS else None

    def feed(self, chunk: bytes) -> None:
        self.validator.feed(chunk)
        if self.text_validator is not None:
            self.text_validator.feed(chunk)

    def close(self) -> ValidationResult:
        result = self.validator.close()
        if self.text_validator is None:
            return result
        text_result = self.text_validator.close()
        if result.errors and not text_result.errors:
            result.findings = [_with_text_format_note(finding) for finding in result.findings]
        return result


def _with_text_format_note(finding: Finding) -> Finding:
    if finding.rule != "om-missing-eof":
        return finding
    note = ". The same body is valid as the text format, so serving it as 'text/plain; version=0.0.4' also works"
    return Finding(finding.line, finding.column, finding.rule, finding.severity, finding.message + note)


def validate_stream(stream: BinaryIO, source: str, requested: Format | None, lint: bool, seekable: bool = False) -> SourceReport:
    """Validate a binary stream; ``requested`` None detects the format from the payload."""
    head = stream.read(HEAD_BYTES)
    tail = b""
    if requested is None and seekable and len(head) == HEAD_BYTES:
        position = stream.tell()
        size = stream.seek(0, os.SEEK_END)
        stream.seek(max(position, size - TAIL_BYTES))
        tail = stream.read(TAIL_BYTES)
        stream.seek(position)
    payload_format = requested or sniff_format(head, tail)
    validation = PairedValidation(payload_format, lint)
    validation.feed(head)
    while chunk := stream.read(CHUNK_BYTES):
        validation.feed(chunk)
    return SourceReport(source, validation.close())


def validate_file(path: str, requested: Format | None, lint: bool) -> SourceReport:
    try:
        with open(path, "rb") as stream:
            return validate_stream(stream, path, requested, lint, seekable=True)
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from error


def validate_url(url: str, requested: Format | None, lint: bool, timeout_seconds: float, max_bytes: int) -> SourceReport:
    """Fetch ``url`` like a scrape and validate the body, reading at most ``max_bytes``."""
    # Imported here: asyncio and aiohttp take about 0.1 s to import, and files and stdin do not need them.
    from promwatchd.exposition.fetch import fetch_and_validate

    return fetch_and_validate(url, requested, lint, timeout_seconds, max_bytes)
