"""Fetch a scrape target over HTTP(S) and validate the response like Prometheus would parse it."""

from __future__ import annotations

import asyncio

import aiohttp

from promwatchd.exposition.detect import ACCEPT_HEADER, check_content_type, format_from_content_type, sniff_format
from promwatchd.exposition.findings import Finding, Format, Severity
from promwatchd.exposition.sources import CHUNK_BYTES, HEAD_BYTES, PairedValidation, SourceError, SourceReport


def fetch_and_validate(url: str, requested: Format | None, lint: bool, timeout_seconds: float, max_bytes: int) -> SourceReport:
    """Fetch ``url`` like a scrape and validate the body, reading at most ``max_bytes``."""
    return asyncio.run(_validate_url(url, requested, lint, timeout_seconds, max_bytes))


async def _validate_url(url: str, requested: Format | None, lint: bool, timeout_seconds: float, max_bytes: int) -> SourceReport:
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url, headers={"Accept": ACCEPT_HEADER}, allow_redirects=True) as response:
                return await _validate_response(url, response, requested, lint, max_bytes)
    except TimeoutError as error:
        raise SourceError(f"fetching {url} timed out after {timeout_seconds:g} s (--timeout)") from error
    except aiohttp.InvalidURL as error:
        raise SourceError(f"invalid URL {url!r}") from error
    except aiohttp.ClientError as error:
        raise SourceError(f"fetching {url} failed: {error}") from error


async def _validate_response(
    url: str, response: aiohttp.ClientResponse, requested: Format | None, lint: bool, max_bytes: int
) -> SourceReport:
    content_type = response.headers.get("Content-Type")
    response_findings: list[Finding] = []
    if response.status != 200:
        response_findings.append(
            Finding(0, 0, "http-status", Severity.ERROR,
                    f"server returned HTTP status {response.status} {response.reason or ''}".rstrip()
                    + ": Prometheus marks the target down; check the URL and metrics_path")
        )
    content_type_finding = check_content_type(content_type)
    if content_type_finding is not None:
        response_findings.append(content_type_finding)

    head = await _read_up_to(response, min(HEAD_BYTES, max_bytes))
    payload_format = requested or format_from_content_type(content_type) or sniff_format(head)
    validation = PairedValidation(payload_format, lint)
    validation.feed(head)
    received = len(head)
    truncated = False
    while True:
        chunk = await response.content.read(CHUNK_BYTES)
        if not chunk:
            break
        if received + len(chunk) > max_bytes:
            validation.feed(chunk[: max_bytes - received])
            truncated = True
            break
        received += len(chunk)
        validation.feed(chunk)
    result = validation.close()
    if truncated:
        response_findings.append(
            Finding(0, 0, "body-too-large", Severity.ERROR,
                    f"stopped reading the body after {max_bytes} bytes (--max-bytes); the findings cover only that "
                    "part. A scrape with body_size_limit set below the body size fails the same way")
        )
    return SourceReport(url, result, content_type, response.status, response_findings)


async def _read_up_to(response: aiohttp.ClientResponse, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = await response.content.read(remaining)
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)
