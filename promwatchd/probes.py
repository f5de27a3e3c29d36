"""HTTP probes of Prometheus: health, readiness, a real query, and its own metrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
import structlog

from promwatchd.selfmetrics import WATCHED_METRICS, read_samples

log = structlog.get_logger(__name__)

PROBES = ("healthy", "ready", "query", "metrics")


class ResponseTooLarge(Exception):
    """The body exceeded the configured read limit."""


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one HTTP probe."""

    probe: str
    ok: bool
    duration_seconds: float
    status: int | None = None
    error: str = ""
    """Empty when ok; else one of: refused, timeout, http_status, bad_body, too_large, error."""
    detail: str = ""
    samples: Mapping[str, float] = field(default_factory=dict)
    """For the metrics probe: the watched series, summed over their labels."""


@dataclass(frozen=True)
class ProbeRound:
    """One result per probe, taken concurrently."""

    at: float
    results: Mapping[str, ProbeResult]

    def __getitem__(self, probe: str) -> ProbeResult:
        return self.results[probe]


class Prober:
    """Runs the probe round against one Prometheus base URL.

    Each probe has its own timeout and reads at most ``max_response_bytes``,
    so a hanging or flooding Prometheus costs one timeout, never a stuck loop.
    """

    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        max_response_bytes: int,
        query: str = "vector(1)",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.max_response_bytes = max_response_bytes
        self.query = query
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Prober:
        connector = aiohttp.TCPConnector(limit=8, force_close=True)
        self._session = aiohttp.ClientSession(connector=connector)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run_round(self) -> ProbeRound:
        results = await asyncio.gather(
            self._probe("healthy", "/-/healthy", _check_status_only),
            self._probe("ready", "/-/ready", _check_status_only),
            self._probe("query", "/api/v1/query", _check_query, params={"query": self.query}),
            self._probe("metrics", "/metrics", _check_metrics),
        )
        return ProbeRound(at=time.monotonic(), results={r.probe: r for r in results})

    async def _probe(self, name, path, check, params=None) -> ProbeResult:
        assert self._session is not None, "use Prober as an async context manager"
        url = self.base_url + path
        started = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=self.timeout_seconds)

        try:
            async with self._session.get(url, params=params, timeout=timeout, allow_redirects=False) as response:
                body = await _read_bounded(response, self.max_response_bytes)
                status = response.status
        except asyncio.TimeoutError:
            return _failure(name, started, "timeout", f"{path} timed out after {self.timeout_seconds:g}s")
        except aiohttp.ClientConnectorError as error:
            return _failure(name, started, "refused", f"{path}: cannot connect: {error.os_error or error}")
        except ResponseTooLarge:
            return _failure(name, started, "too_large", f"{path}: response exceeds {self.max_response_bytes} bytes")
        except aiohttp.ClientError as error:
            return _failure(name, started, "error", f"{path}: {type(error).__name__}: {error}")

        duration = time.monotonic() - started
        if status != 200:
            snippet = body[:120].decode("utf-8", "replace").strip()
            return ProbeResult(name, False, duration, status, "http_status", f"{path} returned {status}: {snippet}")

        problem, samples = check(body)
        if problem:
            return ProbeResult(name, False, duration, status, "bad_body", f"{path}: {problem}")
        return ProbeResult(name, True, duration, status, samples=samples)


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > limit:
        raise ResponseTooLarge()

    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


def _failure(name: str, started: float, error: str, detail: str) -> ProbeResult:
    return ProbeResult(name, False, time.monotonic() - started, None, error, detail)


def _check_status_only(body: bytes) -> tuple[str, dict[str, float]]:
    return "", {}


def _check_query(body: bytes) -> tuple[str, dict[str, float]]:
    """Accept only a successful response with a result, so a proxy's 200 page does not pass."""
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "the answer is not JSON", {}
    if not isinstance(answer, dict) or answer.get("status") != "success":
        return "the answer's status is not success", {}

    data = answer.get("data")
    if not isinstance(data, dict) or not data.get("result"):
        return "the answer has no result", {}
    return "", {}


def _check_metrics(body: bytes) -> tuple[str, dict[str, float]]:
    samples = read_samples(body.decode("utf-8", "replace"), WATCHED_METRICS)
    if not samples:
        return "none of Prometheus's own metrics found (is this Prometheus?)", {}
    return "", samples
