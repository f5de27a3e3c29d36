"""``--prometheus`` mode against a real Prometheus 2.42 scraping fake exporters on 127.0.0.1.

The checker's reason for each target must agree with Prometheus's own lastError.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from conftest import free_port
from test_targets_fakes import BEARER_TOKEN, fake_exporter, running_app
from promwatchd.targets.health import HealthCheck, check_health
from promwatchd.targets.report import CheckOptions, render_text, run_check
from promwatchd.targets.scrape import ACCEPT_HEADER

READY_TIMEOUT_SECONDS = 30.0
SCRAPED_TIMEOUT_SECONDS = 30.0


@asynccontextmanager
async def running_prometheus(binary: str, directory: Path, config: dict) -> AsyncIterator[str]:
    """Start Prometheus with ``config`` on a free port; yield its base URL once ready; stop it by pid."""
    port = free_port()
    config_path = directory / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    log = (directory / "prometheus.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={directory / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_until(lambda: _status(f"{base_url}/-/ready"), READY_TIMEOUT_SECONDS, "prometheus ready")
        yield base_url
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def _status(url: str) -> bool:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            async with session.get(url) as response:
                return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


async def wait_until(check, timeout_seconds: float, description: str):
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout_seconds:g}s waiting for {description}")
        await asyncio.sleep(0.2)


async def all_targets_scraped(base_url: str) -> bool:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        async with session.get(f"{base_url}/api/v1/targets?state=active") as response:
            answer = json.loads(await response.read())
    active = answer["data"]["activeTargets"]
    return bool(active) and all(target["health"] != "unknown" for target in active)


def garbage_app() -> web.Application:
    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=b"this is not { metrics\n", headers={"Content-Type": "text/plain; version=0.0.4"})

    application = web.Application()
    application.router.add_get("/metrics", garbage)
    return application


async def test_prometheus_mode_agrees_with_last_error(prometheus_binary: str, tmp_path: Path):
    async with fake_exporter() as exporter, fake_exporter() as other, running_app(garbage_app()) as garbage_port:
        bearer = {"authorization": {"credentials": BEARER_TOKEN}}
        jobs = {
            "ok": ("/metrics", exporter.address, {}),
            "notfound": ("/absent", exporter.address, {}),
            "slow": ("/slow", exporter.address, {"scrape_timeout": "1s", "params": {"seconds": ["2"]}}),
            "html": ("/html", exporter.address, {}),
            "garbage": ("/metrics", f"127.0.0.1:{garbage_port}", {}),
            "refused": ("/metrics", f"127.0.0.1:{free_port()}", {}),
            "wrongtype": ("/wrong-type", exporter.address, {}),
            "redirect": ("/redirect", exporter.address, {}),
            "gzip": ("/gzip", exporter.address, {}),
            "limited": ("/large", exporter.address, {"body_size_limit": "100KB"}),
            "samehost": ("/redirect-to", exporter.address, {**bearer, "params": {"to": [f"{exporter.base_url}/bearer"]}}),
            "otherhost": ("/redirect-to", exporter.address, {**bearer, "params": {"to": [f"{other.base_url}/bearer"]}}),
        }
        config = {
            "global": {"scrape_interval": "2s", "scrape_timeout": "1500ms"},
            "scrape_configs": [
                {"job_name": name, "metrics_path": path, "static_configs": [{"targets": [address]}], **extra}
                for name, (path, address, extra) in jobs.items()
            ],
        }
        async with running_prometheus(prometheus_binary, tmp_path, config) as base_url:
            await wait_until(lambda: all_targets_scraped(base_url), SCRAPED_TIMEOUT_SECONDS, "every target scraped once")
            report = await run_check(CheckOptions(prometheus_url=base_url, config_file=tmp_path / "prometheus.yml"))
            api_only = await run_check(CheckOptions(prometheus_url=base_url))
        prometheus_headers = next(
            headers for path, headers in exporter.requests
            if path == "/metrics" and headers.get("User-Agent", "").startswith("Prometheus/")
        )

    by_job = {result.job: result for result in report.results}
    expected = {
        "ok": "ok",
        "notfound": "http_status",
        "slow": "timeout",
        "html": "format",
        "garbage": "format",
        "refused": "refused",
        "wrongtype": "content_type",
        "redirect": "redirects",
        "gzip": "ok",
        "limited": "too_large",
        "samehost": "ok",
        "otherhost": "ok",
    }
    assert {job: result.reason for job, result in by_job.items()} == expected, render_text(report)
    for job, result in by_job.items():
        assert result.agrees_with_prometheus, f"{job}: ours {result.reason}, Prometheus {result.prometheus_last_error!r}"
    assert by_job["slow"].timeout_seconds == 1.0
    assert by_job["notfound"].prometheus_last_error == "server returned HTTP status 404 Not Found"
    assert by_job["wrongtype"].prometheus_last_error == ""
    # Prometheus sends the credentials on every redirect hop, also to another host:port.
    assert by_job["otherhost"].status == 200
    assert [health.ok for health in report.health] == [True, True]

    # The checker sends the same scrape headers as this Prometheus (timeout 1500ms -> "1.5").
    assert prometheus_headers["Accept"] == ACCEPT_HEADER
    assert prometheus_headers["Accept-Encoding"] == "gzip"
    assert prometheus_headers["X-Prometheus-Scrape-Timeout-Seconds"] == "1.5"

    # Without the config the checker cannot know body_size_limit, and the comparison shows it.
    limited = next(result for result in api_only.results if result.job == "limited")
    assert limited.reason == "ok"
    assert limited.prometheus_reason == "too_large"
    assert limited.agrees_with_prometheus is False


async def test_health_checks_status_and_body():
    async with fake_exporter() as exporter:
        results = await check_health([
            HealthCheck(f"{exporter.base_url}/metrics", 200, "# TYPE"),
            HealthCheck(f"{exporter.base_url}/metrics", 200, "no such text"),
            HealthCheck(f"{exporter.base_url}/absent", 200),
            HealthCheck(f"{exporter.base_url}/absent", 404),
            HealthCheck(f"http://127.0.0.1:{free_port()}/-/healthy"),
        ])
    assert [result.ok for result in results] == [True, False, False, True, False]
    assert "does not contain 'no such text'" in results[1].message
    assert "returned HTTP status 404, expected 200" in results[2].message
    assert results[4].status is None
