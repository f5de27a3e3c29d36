"""Fake exporters for the target checker's tests: aiohttp servers on 127.0.0.1 serving real payloads.

This module contains helpers only; pytest collects it but finds no tests.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

SHARED = Path(__file__).resolve().parents[2] / "shared"
PAYLOADS = SHARED / "conformance" / "metrics" / "payloads"
CASES = SHARED / "cases"

TEXT_PAYLOAD = "node_exporter_textfile_histogram_metrics.prom.txt"
LARGE_TEXT_PAYLOAD = "node_exporter_e2e-output.prom.txt"
OPENMETRICS_PAYLOAD = "om-suite_simple_histogram.om.txt"
INVALID_TEXT_PAYLOAD = "prom-main_TestPromParseErrors_05.prom.txt"

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
USERNAME = "scraper"
PASSWORD = "basic-password-123"
BEARER_TOKEN = "bearer-token-456"
SLOW_SECONDS = 3.0
ENDLESS_MAX_SECONDS = 20.0
"""An endless body stops after this long, so no server outlives a failed test by much."""
THREAD_START_TIMEOUT_SECONDS = 10.0


def require_shared(path: Path) -> Path:
    """Return ``path``, or skip the test when the shared test data is absent (fail instead when CI is "true")."""
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared test data {path} is missing")
        pytest.skip(f"shared test data {path} is not present in this checkout")
    return path


def payload(name: str) -> bytes:
    return require_shared(PAYLOADS / name).read_bytes()


@dataclass
class FakeExporter:
    """A running fake exporter; ``requests`` records each request's path and headers."""

    base_url: str
    port: int
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def headers_of(self, path: str) -> dict[str, str]:
        """Return the headers of the last request for ``path``."""
        for seen_path, headers in reversed(self.requests):
            if seen_path == path:
                return headers
        raise AssertionError(f"no request for {path}; requests: {[p for p, _ in self.requests]}")


def exporter_app(exporter: FakeExporter) -> web.Application:
    """Build the fake exporter: one path per behaviour a scrape can meet."""
    text = payload(TEXT_PAYLOAD)
    openmetrics = payload(OPENMETRICS_PAYLOAD)

    @web.middleware
    async def record(request: web.Request, handler):
        exporter.requests.append((request.path, dict(request.headers)))
        return await handler(request)

    async def metrics(request: web.Request) -> web.Response:
        return web.Response(body=text, headers={"Content-Type": TEXT_CONTENT_TYPE})

    async def openmetrics_handler(request: web.Request) -> web.Response:
        return web.Response(body=openmetrics, headers={"Content-Type": OPENMETRICS_CONTENT_TYPE})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("seconds", SLOW_SECONDS)))
        return web.Response(body=text, headers={"Content-Type": TEXT_CONTENT_TYPE})

    async def wrong_type(request: web.Request) -> web.Response:
        return web.Response(body=text, headers={"Content-Type": "application/json"})

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=payload(INVALID_TEXT_PAYLOAD), headers={"Content-Type": TEXT_CONTENT_TYPE})

    async def large(request: web.Request) -> web.Response:
        return web.Response(body=payload(LARGE_TEXT_PAYLOAD), headers={"Content-Type": TEXT_CONTENT_TYPE})

    async def gzipped(request: web.Request) -> web.Response:
        if "gzip" not in request.headers.get("Accept-Encoding", ""):
            return web.Response(status=406, text="send Accept-Encoding: gzip")
        body = gzip.compress(payload(LARGE_TEXT_PAYLOAD))
        return web.Response(body=body, headers={"Content-Type": TEXT_CONTENT_TYPE, "Content-Encoding": "gzip"})

    async def basic(request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, text="wrong or missing basic auth")
        return await metrics(request)

    async def bearer(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {BEARER_TOKEN}":
            return web.Response(status=401, text="wrong or missing bearer token")
        return await metrics(request)

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": TEXT_CONTENT_TYPE})
        await response.prepare(request)
        line = b"endless_metric_total 1\n" * 1000
        deadline = asyncio.get_running_loop().time() + ENDLESS_MAX_SECONDS
        try:
            while asyncio.get_running_loop().time() < deadline:
                await response.write(line)
                await asyncio.sleep(0.01)
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    async def redirect_loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/redirect")

    async def redirect_to(request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def html(request: web.Request) -> web.Response:
        page = b"<!DOCTYPE html>\n<html><body><a href=\"/wls-exporter/metrics\">metrics</a></body></html>\n"
        return web.Response(body=page, headers={"Content-Type": "text/html; charset=utf-8"})

    application = web.Application(middlewares=[record])
    routes = {
        "/metrics": metrics,
        "/openmetrics": openmetrics_handler,
        "/slow": slow,
        "/wrong-type": wrong_type,
        "/garbage": garbage,
        "/large": large,
        "/gzip": gzipped,
        "/basic": basic,
        "/bearer": bearer,
        "/endless": endless,
        "/redirect": redirect_loop,
        "/redirect-to": redirect_to,
        "/html": html,
    }
    for path, handler in routes.items():
        application.router.add_get(path, handler)
    return application


@asynccontextmanager
async def running_app(application: web.Application, ssl_context=None) -> AsyncIterator[int]:
    """Serve ``application`` on a free 127.0.0.1 port; yield the port; stop it on exit."""
    runner = web.AppRunner(application, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        await runner.cleanup()


@asynccontextmanager
async def fake_exporter(ssl_context=None) -> AsyncIterator[FakeExporter]:
    exporter = FakeExporter("", 0)
    async with running_app(exporter_app(exporter), ssl_context) as port:
        scheme = "https" if ssl_context is not None else "http"
        exporter.port = port
        exporter.base_url = f"{scheme}://127.0.0.1:{port}"
        yield exporter


@asynccontextmanager
async def trickling_server(interval_seconds: float = 0.3, max_seconds: float = 20.0) -> AsyncIterator[int]:
    """A raw TCP server that sends an HTTP response's headers one byte every ``interval_seconds``."""
    tasks: set[asyncio.Task] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Padding: " + b"x" * 1000 + b"\r\n\r\n"
        deadline = asyncio.get_running_loop().time() + max_seconds
        try:
            for byte in head:
                if asyncio.get_running_loop().time() > deadline:
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(interval_seconds)
        except ConnectionError:
            pass
        finally:
            writer.close()

    def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(handle(reader, writer))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """Create a self-signed certificate for 127.0.0.1 with the openssl CLI; skip when openssl is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed, so no test certificate can be made")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=fake-exporter", "-addext", "subjectAltName=IP:127.0.0.1,DNS:fake-exporter.test",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@contextmanager
def fake_exporter_in_thread() -> Iterator[FakeExporter]:
    """Run a fake exporter on its own event loop in a thread, for tests that block (subprocess waits)."""
    started = threading.Event()
    stop: list[asyncio.Event] = []
    holder: list[FakeExporter] = []
    loop = asyncio.new_event_loop()

    async def serve() -> None:
        stop.append(asyncio.Event())
        async with fake_exporter() as exporter:
            holder.append(exporter)
            started.set()
            await stop[0].wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), name="fake-exporter", daemon=True)
    thread.start()
    if not started.wait(THREAD_START_TIMEOUT_SECONDS):
        raise AssertionError("the fake exporter thread did not start")
    try:
        yield holder[0]
    finally:
        loop.call_soon_threadsafe(stop[0].set)
        thread.join(THREAD_START_TIMEOUT_SECONDS)
        loop.close()
