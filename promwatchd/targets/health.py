"""Health endpoint checks: Prometheus's /-/healthy and /-/ready, and extra URLs with an expected status and body text."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

from promwatchd.probes import ResponseTooLarge, _read_bounded

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class HealthCheck:
    """One URL to check, with the status it must return and text its body must contain ("" for any body)."""

    url: str
    expected_status: int = 200
    body_contains: str = ""


@dataclass(frozen=True)
class HealthResult:
    """The outcome of one health check."""

    url: str
    ok: bool
    status: int | None
    latency_seconds: float
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "status": self.status,
            "latency_seconds": round(self.latency_seconds, 4),
            "message": self.message,
        }


def prometheus_health_checks(base_url: str) -> list[HealthCheck]:
    """Return the checks of Prometheus's own endpoints; the body texts are those of Prometheus 2.42."""
    base = base_url.rstrip("/")
    return [
        HealthCheck(f"{base}/-/healthy", 200, "Healthy"),
        HealthCheck(f"{base}/-/ready", 200, "Ready"),
    ]


async def check_health(checks: list[HealthCheck], timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> list[HealthResult]:
    """Run the checks concurrently; each is bounded by ``timeout_seconds`` and reads at most 1 MiB."""
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        return list(await asyncio.gather(*(_check_one(session, check, timeout_seconds) for check in checks)))


async def _check_one(session: aiohttp.ClientSession, check: HealthCheck, timeout_seconds: float) -> HealthResult:
    started = time.monotonic()
    try:
        async with session.get(check.url, allow_redirects=False) as response:
            status = response.status
            body = await _read_bounded(response, MAX_BODY_BYTES)
    except TimeoutError:
        return HealthResult(check.url, False, None, time.monotonic() - started, f"timed out after {timeout_seconds:g}s")
    except ResponseTooLarge:
        return HealthResult(check.url, False, None, time.monotonic() - started, f"response exceeds {MAX_BODY_BYTES} bytes")
    except aiohttp.ClientError as error:
        return HealthResult(check.url, False, None, time.monotonic() - started, f"request failed: {error}")

    latency = time.monotonic() - started
    if status != check.expected_status:
        return HealthResult(check.url, False, status, latency, f"returned HTTP status {status}, expected {check.expected_status}")
    text = body.decode("utf-8", "replace")
    if check.body_contains and check.body_contains not in text:
        shown = text[:80].strip()
        return HealthResult(check.url, False, status, latency, f"body does not contain {check.body_contains!r} (body starts with {shown!r})")
    return HealthResult(check.url, True, status, latency)
