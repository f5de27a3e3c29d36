"""Read the active targets of a running Prometheus from its HTTP API (``GET /api/v1/targets``)."""

from __future__ import annotations

import json

import aiohttp

from promwatchd.durations import parse_duration
from promwatchd.probes import ResponseTooLarge, _read_bounded
from promwatchd.targets.config import DEFAULT_SCRAPE_TIMEOUT
from promwatchd.targets.discovery import Target

MAX_RESPONSE_BYTES = 256 * 1024 * 1024


class PrometheusAPIError(Exception):
    """The targets API cannot be read; the message names the URL and the cause."""


async def fetch_active_targets(base_url: str, timeout_seconds: float = 30.0) -> list[Target]:
    """Return Prometheus's active targets with their scrape URL, labels, health and lastError."""
    url = base_url.rstrip("/") + "/api/v1/targets?state=active"
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url) as response:
                body = await _read_bounded(response, MAX_RESPONSE_BYTES)
                status = response.status
    except TimeoutError:
        raise PrometheusAPIError(f"reading {url} timed out after {timeout_seconds:g}s") from None
    except ResponseTooLarge:
        raise PrometheusAPIError(f"reading {url} failed: the response exceeds {MAX_RESPONSE_BYTES} bytes") from None
    except aiohttp.ClientError as error:
        raise PrometheusAPIError(f"reading {url} failed: {error}; check --prometheus") from None
    if status != 200:
        raise PrometheusAPIError(f"{url} returned HTTP status {status}; check --prometheus (the base URL of Prometheus)")
    return parse_active_targets(body, url)


def parse_active_targets(body: bytes, url: str = "/api/v1/targets") -> list[Target]:
    """Parse the JSON of ``/api/v1/targets`` into targets; raise PrometheusAPIError on any other shape."""
    try:
        answer = json.loads(body)
        active = answer["data"]["activeTargets"]
    except (ValueError, KeyError, TypeError):
        raise PrometheusAPIError(f"{url} did not return the targets API's JSON (data.activeTargets)") from None

    targets = []
    for entry in active or []:
        labels = {str(key): str(value) for key, value in (entry.get("labels") or {}).items()}
        try:
            timeout = parse_duration(str(entry.get("scrapeTimeout") or "10s"))
        except ValueError:
            timeout = DEFAULT_SCRAPE_TIMEOUT
        targets.append(
            Target(
                job=str(entry.get("scrapePool") or labels.get("job", "")),
                url=str(entry.get("scrapeUrl") or ""),
                labels=labels,
                timeout_seconds=timeout,
                prometheus_last_error=str(entry.get("lastError") or ""),
                prometheus_health=str(entry.get("health") or "unknown"),
            )
        )
    return targets
