"""The target checker against real servers on 127.0.0.1: one test per reason, auth, gzip and hostile targets."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest

from conftest import free_port
from test_targets_fakes import (
    BEARER_TOKEN,
    PASSWORD,
    USERNAME,
    fake_exporter,
    make_self_signed_cert,
    trickling_server,
)
from promwatchd.targets.config import AuthSettings, ScrapeJob, TLSSettings
from promwatchd.targets.discovery import build_target
from promwatchd.targets.scrape import ACCEPT_HEADER, CheckResult, TargetScraper


async def check(address: str, path: str = "/metrics", **job_fields) -> CheckResult:
    job = ScrapeJob(name="test", metrics_path=path, timeout_seconds=job_fields.pop("timeout_seconds", 2.0), **job_fields)
    target = build_target(job, address, {})
    assert target is not None
    async with TargetScraper({job.name: job}) as scraper:
        return await scraper.check(target)


async def test_ok_text_payload():
    async with fake_exporter() as exporter:
        result = await check(exporter.address)
    assert result.reason == "ok", result.message
    assert result.status == 200
    assert result.samples == 13
    assert result.bytes == 999
    assert result.latency_seconds is not None


async def test_ok_openmetrics_payload():
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/openmetrics")
    assert result.reason == "ok", result.message
    assert result.samples == 4


async def test_request_headers_match_prometheus():
    async with fake_exporter() as exporter:
        await check(exporter.address, timeout_seconds=2.5)
        headers = exporter.headers_of("/metrics")
    assert headers["Accept"] == ACCEPT_HEADER
    assert headers["Accept-Encoding"] == "gzip"
    assert headers["X-Prometheus-Scrape-Timeout-Seconds"] == "2.5"


async def test_refused_on_closed_port():
    result = await check(f"127.0.0.1:{free_port()}")
    assert result.reason == "refused"
    assert "connection refused" in result.message


async def test_dns_for_invalid_name():
    result = await check("target.invalid:9100")
    assert result.reason == "dns"
    assert "no such host" in result.message


async def test_timeout_on_slow_target():
    async with fake_exporter() as exporter:
        started = time.monotonic()
        result = await check(exporter.address, "/slow", timeout_seconds=0.5)
        elapsed = time.monotonic() - started
    assert result.reason == "timeout"
    assert "context deadline exceeded" in result.message
    assert elapsed < 1.5


async def test_http_status_404():
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/no-such-path")
    assert result.reason == "http_status"
    assert result.status == 404
    assert result.message == "server returned HTTP status 404 Not Found"


async def test_content_type_wrong_with_valid_body():
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/wrong-type")
    assert result.reason == "content_type"
    assert result.samples == 13
    assert "application/json" in result.message


async def test_format_on_garbage():
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/garbage")
    assert result.reason == "format"
    assert result.format_errors
    assert result.format_errors[0].startswith("line 1: text-invalid-label-set")


async def test_too_large_against_body_size_limit():
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/large", body_size_limit=100_000)
    assert result.reason == "too_large"
    assert "100000 bytes" in result.message


async def test_gzip_body_decompressed_and_counted():
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/gzip")
        limited = await check(exporter.address, "/gzip", body_size_limit=200_000)
    assert result.reason == "ok", result.message
    assert result.bytes == 376_918
    assert result.samples == 3027
    assert limited.reason == "too_large"


async def test_basic_auth_password_file(tmp_path: Path):
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")
    auth = AuthSettings(kind="basic", username=USERNAME, password_file=password_file)
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/basic", auth=auth)
        without = await check(exporter.address, "/basic")
    assert result.reason == "ok", result.message
    assert without.reason == "http_status"
    assert without.status == 401


async def test_bearer_token_file(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(BEARER_TOKEN)
    auth = AuthSettings(kind="authorization", credentials_file=token_file)
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/bearer", auth=auth)
    assert result.reason == "ok", result.message


async def test_missing_credentials_file_is_client_config(tmp_path: Path):
    auth = AuthSettings(kind="authorization", credentials_file=tmp_path / "absent")
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/bearer", auth=auth)
    assert result.reason == "client_config"
    assert "credentials_file" in result.message


async def test_tls_self_signed_rejected_then_trusted(tmp_path: Path):
    cert, key = make_self_signed_cert(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    async with fake_exporter(server_context) as exporter:
        untrusted = await check(exporter.address, scheme="https")
        trusted = await check(exporter.address, scheme="https", tls=TLSSettings(ca_file=cert))
        skipped = await check(exporter.address, scheme="https", tls=TLSSettings(insecure_skip_verify=True))
        by_name = await check(exporter.address, scheme="https", tls=TLSSettings(ca_file=cert, server_name="fake-exporter.test"))
    assert untrusted.reason == "tls"
    assert "certificate" in untrusted.message.lower()
    assert trusted.reason == "ok", trusted.message
    assert skipped.reason == "ok", skipped.message
    assert by_name.reason == "ok", by_name.message


async def test_https_scheme_against_plain_http_is_tls_or_connection():
    async with fake_exporter() as exporter:
        result = await check(exporter.address, scheme="https")
    assert result.reason in ("tls", "connection"), result.message


async def test_redirect_loop_stops_after_ten():
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/redirect")
        requests = sum(1 for path, _ in exporter.requests if path == "/redirect")
    assert result.reason == "redirects"
    assert "stopped after 10 redirects" in result.message
    assert requests == 10


async def test_redirect_not_followed_when_disabled():
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/redirect", follow_redirects=False)
    assert result.reason == "http_status"
    assert result.status == 302


async def test_trickling_headers_bounded_by_timeout():
    async with trickling_server() as port:
        started = time.monotonic()
        result = await check(f"127.0.0.1:{port}", timeout_seconds=1.0)
        elapsed = time.monotonic() - started
    assert result.reason == "timeout"
    assert elapsed < 2.0


async def test_endless_body_bounded_by_timeout():
    async with fake_exporter() as exporter:
        started = time.monotonic()
        result = await check(exporter.address, "/endless", timeout_seconds=1.0, body_size_limit=10**9)
        elapsed = time.monotonic() - started
    assert result.reason == "timeout"
    assert elapsed < 2.0


async def test_endless_body_bounded_by_size():
    async with fake_exporter() as exporter:
        result = await check(exporter.address, "/endless", timeout_seconds=10.0, body_size_limit=200_000)
    assert result.reason == "too_large"
    assert result.latency_seconds is not None
    assert result.latency_seconds < 5.0


async def test_invalid_address_not_fetched():
    result = await check("127.0.0.1:9100/metrics")
    assert result.reason == "invalid_target"
    assert "not a valid hostname" in result.message


async def test_per_host_limit_bounds_parallel_fetches():
    async with fake_exporter() as exporter:
        job = ScrapeJob(name="test", metrics_path="/slow", timeout_seconds=5.0, params={"seconds": ("0.3",)})
        targets = [build_target(job, exporter.address, {"n": str(i)}) for i in range(4)]
        async with TargetScraper({job.name: job}, concurrency=10, per_host=2) as scraper:
            started = time.monotonic()
            results = await scraper.check_all(targets)
            elapsed = time.monotonic() - started
    assert [result.reason for result in results] == ["ok"] * 4
    assert elapsed >= 0.6
