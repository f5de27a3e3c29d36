"""Recorded support cases of scrape failures, each reproduced on 127.0.0.1 and diagnosed by the target checker.

Each test loads the case's prometheus.yml, points its one target at a fake exporter that
behaves like the case's target, and checks the diagnosis the case's expected.md gives.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from aiohttp import web

from test_targets_fakes import CASES, TEXT_CONTENT_TYPE, require_shared, running_app
from promwatchd.targets.config import load_jobs
from promwatchd.targets.report import CheckOptions, run_check


def case_dir(name: str) -> Path:
    return require_shared(CASES / name)


def point_case_at(case: Path, address: str, directory: Path, job_changes: dict | None = None) -> Path:
    """Copy the case's prometheus.yml with its target replaced by ``address``; return the copy's path."""
    config = yaml.safe_load((case / "prometheus.yml").read_text())
    job = config["scrape_configs"][0]
    job["static_configs"] = [{"targets": [address]}]
    job.update(job_changes or {})
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def serve_at(path: str, body: bytes, content_type: str = TEXT_CONTENT_TYPE, delay_seconds: float = 0.0) -> web.Application:
    async def handler(request: web.Request) -> web.Response:
        await asyncio.sleep(delay_seconds)
        return web.Response(body=body, headers={"Content-Type": content_type})

    application = web.Application()
    application.router.add_get(path, handler)
    return application


def test_slow_target_case_effective_timeout_is_global_default():
    case = case_dir("26-slow-target-context-deadline")
    [job] = load_jobs(case / "prometheus.yml")
    assert job.name == "kong"
    assert job.interval_seconds == 15.0
    assert job.timeout_seconds == 10.0


async def test_slow_target_case_diagnosed_as_timeout(tmp_path: Path):
    case = case_dir("26-slow-target-context-deadline")
    application = serve_at("/metrics", (case / "metrics.txt").read_bytes(), delay_seconds=2.0)
    async with running_app(application) as port:
        config = point_case_at(case, f"127.0.0.1:{port}", tmp_path, {"scrape_timeout": "1s", "scrape_interval": "4s"})
        report = await run_check(CheckOptions(config_file=config))
        raised = point_case_at(case, f"127.0.0.1:{port}", tmp_path, {"scrape_timeout": "3s", "scrape_interval": "4s"})
        fixed = await run_check(CheckOptions(config_file=raised))

    [result] = report.results
    assert result.reason == "timeout"
    assert result.job == "kong"
    assert result.timeout_seconds == 1.0
    assert "context deadline exceeded" in result.message
    assert "scrape_timeout of 1s" in result.message
    assert result.latency_seconds is not None
    assert 0.9 <= result.latency_seconds < 1.5

    [fixed_result] = fixed.results
    assert fixed_result.reason == "ok", fixed_result.message
    assert 2.0 <= fixed_result.latency_seconds < 3.0


async def test_wrong_metrics_path_case_finds_working_path(tmp_path: Path):
    case = case_dir("27-wrong-metrics-path-404")
    application = serve_at("/monitoring/prometheus", (case / "metrics.txt").read_bytes())
    async with running_app(application) as port:
        config = point_case_at(case, f"127.0.0.1:{port}", tmp_path)
        report = await run_check(CheckOptions(config_file=config))

    [result] = report.results
    assert result.job == "hymir"
    assert result.reason == "http_status"
    assert result.status == 404
    assert result.message == "server returned HTTP status 404 Not Found"
    assert result.url.endswith("/actuator/prometheus")
    assert result.suggestion == "metrics_path: /monitoring/prometheus"


async def test_html_page_case_diagnosed_with_link(tmp_path: Path):
    case = case_dir("28-html-page-instead-of-metrics")
    page = (case / "payload.html").read_bytes()
    metrics = (CASES / "27-wrong-metrics-path-404" / "metrics.txt").read_bytes()
    application = serve_at("/wls-exporter", page, content_type="text/html; charset=utf-8")

    async def linked_metrics(request: web.Request) -> web.Response:
        return web.Response(body=metrics, headers={"Content-Type": TEXT_CONTENT_TYPE})

    application.router.add_get("/wls-exporter/metrics", linked_metrics)
    async with running_app(application) as port:
        config = point_case_at(case, f"127.0.0.1:{port}", tmp_path)
        report = await run_check(CheckOptions(config_file=config))

    [result] = report.results
    assert result.job == "weblogic1"
    assert result.reason == "format"
    assert result.status == 200
    assert result.content_type == "text/html; charset=utf-8"
    assert "html-page" in result.message
    assert "<!DOCTYPE html>" in result.message
    assert "web page" in result.message
    assert "/wls-exporter/metrics" in result.message
    assert result.html_links == ["/wls-exporter/metrics"]
    assert result.suggestion == "metrics_path: /wls-exporter/metrics"
    assert any("text/html" in note for note in result.notes)
