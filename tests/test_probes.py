"""Prober and assess against the real Prometheus, and against fake servers for faults it cannot produce.

The fake servers are aiohttp applications on 127.0.0.1. Real Prometheus cannot
be made on demand to send garbage, hang before its headers, flood a body, or
stay not-ready (503) with its counters moving or frozen.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from conftest import free_port
from daemon_support import http_request, metric_value, running_prometheus
from promwatchd.assess import AssessedEvent, Progress, assess
from promwatchd.machine import ProbeDegraded, ProbeFailed, ProbeOk, ProbeStarting
from promwatchd.probes import PROBES, Prober, ProbeRound
from promwatchd.selfmetrics import CPU_SECONDS, HEAD_SERIES, RELOAD_SUCCESSFUL

TIMEOUT_SECONDS = 1.0
MARGIN_SECONDS = 1.0
"""Slack for scheduling on a loaded machine, above the probe timeout."""
LIMIT_BYTES = 100_000
INGESTION_STALL_SECONDS = 180.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def run_round(base_url: str, timeout_seconds: float = TIMEOUT_SECONDS) -> tuple[ProbeRound, float]:
    """Run one probe round; return it and how long it took in seconds."""
    async with Prober(base_url, timeout_seconds, LIMIT_BYTES) as prober:
        started = time.monotonic()
        probe_round = await prober.run_round()
        return probe_round, time.monotonic() - started


# Real Prometheus ---------------------------------------------------------------


@pytest.fixture
def prometheus(tmp_path: Path, prometheus_binary: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A ready Prometheus on a free port: (base URL, process)."""
    port = free_port()
    with running_prometheus(prometheus_binary, tmp_path, port) as process:
        yield f"http://127.0.0.1:{port}", process


async def test_round_healthy_prometheus(prometheus: tuple[str, subprocess.Popen[bytes]]) -> None:
    base_url, _process = prometheus

    probe_round, elapsed = await run_round(base_url)
    _code, metrics_body = await asyncio.to_thread(http_request, f"{base_url}/metrics")
    event, progress = assess(probe_round, Progress(), 0, INGESTION_STALL_SECONDS)

    assert set(probe_round.results) == set(PROBES)
    for name in PROBES:
        assert probe_round[name].ok is True, f"{name}: {probe_round[name].detail}"
        assert probe_round[name].status == 200
        assert probe_round[name].error == ""
    assert elapsed < TIMEOUT_SECONDS + MARGIN_SECONDS

    samples = probe_round["metrics"].samples
    text = metrics_body.decode()
    assert samples[RELOAD_SUCCESSFUL] == 1
    assert samples[CPU_SECONDS] > 0
    # CPU time only grows, so the value read after the round is at least the probe's.
    assert samples[CPU_SECONDS] <= metric_value(text, CPU_SECONDS)
    assert HEAD_SERIES in samples

    assert event == ProbeOk()
    assert progress.cpu_seconds == samples[CPU_SECONDS]


async def test_round_sigstopped_prometheus(prometheus: tuple[str, subprocess.Popen[bytes]]) -> None:
    base_url, process = prometheus

    os.kill(process.pid, signal.SIGSTOP)
    try:
        # kill only queues the signal. Until every thread has stopped, a request can still get a response.
        await wait_until_stopped(process.pid)
        probe_round, elapsed = await run_round(base_url)
    finally:
        os.kill(process.pid, signal.SIGCONT)
    event, _progress = assess(probe_round, Progress(), 0, INGESTION_STALL_SECONDS)

    assert elapsed < TIMEOUT_SECONDS + MARGIN_SECONDS
    for name in PROBES:
        assert probe_round[name].ok is False
        assert probe_round[name].error == "timeout", f"{name}: {probe_round[name].detail}"
        assert probe_round[name].status is None
    assert isinstance(event, ProbeFailed)
    assert "timed out" in event.reason


async def wait_until_stopped(pid: int, timeout_seconds: float = 5.0) -> None:
    """Wait until every thread of ``pid`` is in the stopped state (T in /proc/PID/task/*/stat)."""
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        states = []
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                states.append(task.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0])
            except (FileNotFoundError, IndexError):
                continue
        if states and all(state == "T" for state in states):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"process {pid} did not stop within {timeout_seconds} s")


async def test_round_nothing_listening() -> None:
    probe_round, elapsed = await run_round(f"http://127.0.0.1:{free_port()}")
    event, _progress = assess(probe_round, Progress(), 0, INGESTION_STALL_SECONDS)

    assert elapsed < TIMEOUT_SECONDS + MARGIN_SECONDS
    for name in PROBES:
        assert probe_round[name].error == "refused", f"{name}: {probe_round[name].detail}"
    assert isinstance(event, ProbeFailed)
    assert event.reason.startswith("not answering")


# Fake servers ------------------------------------------------------------------


class FakePrometheus:
    """An aiohttp server that responds like a healthy Prometheus, except on the paths given handlers.

    ``cpu_step`` is added to process_cpu_seconds_total on each /metrics request.
    ``release`` ends handlers that wait or stream, so shutdown is bounded.
    """

    def __init__(self, handlers: dict[str, Handler], cpu_step: float = 0.25) -> None:
        self.handlers = handlers
        self.cpu_step = cpu_step
        self.cpu_seconds = 1.0
        self.release = asyncio.Event()
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        application = web.Application()
        defaults: dict[str, Handler] = {
            "/-/healthy": self.healthy,
            "/-/ready": self.healthy,
            "/api/v1/query": self.query,
            "/metrics": self.metrics,
        }
        for path, handler in {**defaults, **self.handlers}.items():
            application.router.add_get(path, handler)
        self._runner = web.AppRunner(application, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthy(self, request: web.Request) -> web.Response:
        return web.Response(text="Prometheus Server is Healthy.\n")

    async def query(self, request: web.Request) -> web.Response:
        body = {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]}}
        return web.json_response(body)

    async def metrics(self, request: web.Request) -> web.Response:
        self.cpu_seconds += self.cpu_step
        text = (
            "# TYPE process_cpu_seconds_total counter\n"
            f"process_cpu_seconds_total {self.cpu_seconds}\n"
            "prometheus_config_last_reload_successful 1\n"
            "prometheus_tsdb_head_series 10\n"
        )
        return web.Response(text=text)

    async def not_ready(self, request: web.Request) -> web.Response:
        return web.Response(status=503, text="Service Unavailable")

    async def hang(self, request: web.Request) -> web.Response:
        await self.release.wait()
        return web.Response(text="late")

    async def drip(self, request: web.Request) -> web.StreamResponse:
        """Send headers at once, then one byte every 100 ms until released."""
        response = web.StreamResponse()
        await response.prepare(request)
        while not self.release.is_set():
            try:
                await response.write(b"x")
            except ConnectionError:
                break
            await asyncio.sleep(0.1)
        return response

    async def flood(self, request: web.Request) -> web.StreamResponse:
        """Stream a body without a Content-Length until the client goes away (at most 1 GiB)."""
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b"x" * 65536
        for _ in range(16384):
            if self.release.is_set():
                break
            try:
                await response.write(chunk)
            except ConnectionError:
                break
        return response


StartFake = Callable[..., Awaitable[FakePrometheus]]


@pytest.fixture
async def start_fake() -> AsyncIterator[StartFake]:
    """Yield a function that starts a FakePrometheus; all are stopped at teardown."""
    servers: list[FakePrometheus] = []

    async def start(
        handlers: dict[str, Handler] | Callable[[FakePrometheus], dict[str, Handler]] | None = None,
        cpu_step: float = 0.25,
    ) -> FakePrometheus:
        """Start a server; ``handlers`` may be a function of the server, to use its own handlers."""
        server = FakePrometheus({}, cpu_step)
        if callable(handlers):
            server.handlers = handlers(server)
        elif handlers is not None:
            server.handlers = handlers
        servers.append(server)
        await server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()


async def test_fake_healthy_round_ok(start_fake: StartFake) -> None:
    server = await start_fake()

    probe_round, _elapsed = await run_round(server.base_url)
    event, _progress = assess(probe_round, Progress(), 0, INGESTION_STALL_SECONDS)

    assert all(result.ok for result in probe_round.results.values())
    assert event == ProbeOk()


def body_handler(body: bytes, content_type: str = "application/json") -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type)

    return handler


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"<html><body>proxy login</body></html>", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b'{"status": "error", "error": "bad query"}', "status is not success"),
        (b'["success"]', "status is not success"),
        (b'{"status": "success", "data": {"resultType": "vector", "result": []}}', "no result"),
    ],
)
async def test_query_garbage_bad_body(start_fake: StartFake, body: bytes, detail: str) -> None:
    server = await start_fake({"/api/v1/query": body_handler(body)})

    probe_round, _elapsed = await run_round(server.base_url)
    query = probe_round["query"]
    event, _progress = assess(probe_round, Progress(), 0, INGESTION_STALL_SECONDS)

    assert query.ok is False
    assert query.status == 200
    assert query.error == "bad_body"
    assert detail in query.detail
    assert probe_round["ready"].ok is True
    assert isinstance(event, ProbeFailed)
    assert event.reason.startswith("query failed")


async def test_metrics_garbage_degraded(start_fake: StartFake) -> None:
    server = await start_fake({"/metrics": body_handler(b"<html>not metrics</html>", "text/html")})

    probe_round, _elapsed = await run_round(server.base_url)
    event, _progress = assess(probe_round, Progress(), 0, INGESTION_STALL_SECONDS)

    assert probe_round["metrics"].error == "bad_body"
    assert probe_round["query"].ok is True
    assert isinstance(event, ProbeDegraded)
    assert "own metrics unavailable" in event.reason


async def test_hanging_endpoint_times_out(start_fake: StartFake) -> None:
    server = await start_fake(lambda fake: {"/api/v1/query": fake.hang})

    probe_round, elapsed = await run_round(server.base_url)
    query = probe_round["query"]

    assert elapsed < TIMEOUT_SECONDS + MARGIN_SECONDS
    assert query.error == "timeout"
    assert query.duration_seconds >= TIMEOUT_SECONDS * 0.9
    assert query.duration_seconds < TIMEOUT_SECONDS + MARGIN_SECONDS
    assert probe_round["ready"].ok is True


async def test_dripping_body_times_out(start_fake: StartFake) -> None:
    server = await start_fake(lambda fake: {"/metrics": fake.drip})

    probe_round, elapsed = await run_round(server.base_url)

    assert elapsed < TIMEOUT_SECONDS + MARGIN_SECONDS
    assert probe_round["metrics"].error == "timeout"


async def test_endless_body_too_large(start_fake: StartFake) -> None:
    server = await start_fake(lambda fake: {"/metrics": fake.flood})

    probe_round, elapsed = await run_round(server.base_url)
    metrics = probe_round["metrics"]

    assert metrics.error == "too_large"
    assert str(LIMIT_BYTES) in metrics.detail
    assert elapsed < TIMEOUT_SECONDS


async def test_declared_huge_body_too_large(start_fake: StartFake) -> None:
    server = await start_fake({"/api/v1/query": body_handler(b"x" * (LIMIT_BYTES + 1))})

    probe_round, elapsed = await run_round(server.base_url)

    assert probe_round["query"].error == "too_large"
    assert elapsed < TIMEOUT_SECONDS


async def test_body_at_limit_accepted(start_fake: StartFake) -> None:
    padding = b" " * (LIMIT_BYTES - 200)
    answer = json.dumps({"status": "success", "data": {"resultType": "vector", "result": [1]}}).encode()
    server = await start_fake({"/api/v1/query": body_handler(answer + padding)})

    probe_round, _elapsed = await run_round(server.base_url)

    assert len(answer + padding) <= LIMIT_BYTES
    assert probe_round["query"].ok is True


async def starting_rounds(server: FakePrometheus) -> tuple[AssessedEvent, AssessedEvent]:
    """Run two rounds against a not-ready server; return the assessed events of the first and second."""
    async with Prober(server.base_url, TIMEOUT_SECONDS, LIMIT_BYTES) as prober:
        first, progress = assess(await prober.run_round(), Progress(), 0, INGESTION_STALL_SECONDS)
        second, _progress = assess(await prober.run_round(), progress, 0, INGESTION_STALL_SECONDS)
    return first, second


async def test_not_ready_cpu_moving_progressed(start_fake: StartFake) -> None:
    server = await start_fake(lambda fake: {"/-/ready": fake.not_ready, "/api/v1/query": fake.not_ready}, cpu_step=0.25)

    first, second = await starting_rounds(server)

    assert first == ProbeStarting(progressed=False)
    assert second == ProbeStarting(progressed=True)


async def test_not_ready_cpu_frozen_no_progress(start_fake: StartFake) -> None:
    server = await start_fake(lambda fake: {"/-/ready": fake.not_ready, "/api/v1/query": fake.not_ready}, cpu_step=0.0)

    first, second = await starting_rounds(server)

    assert first == ProbeStarting(progressed=False)
    assert second == ProbeStarting(progressed=False)
