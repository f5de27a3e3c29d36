"""ProcessBackend in this process, running the real prometheus binary."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from conftest import free_port
from daemon_support import (
    http_status,
    is_gone,
    process_id,
    prometheus_config,
    prometheus_pids,
    stop_process,
)
from promwatchd.backends.base import BackendError, BackendEvent
from promwatchd.backends.process import ProcessBackend
from promwatchd.exitcause import classify_exit

EVENT_TIMEOUT_SECONDS = 15.0
READY_TIMEOUT_SECONDS = 30.0
READY_LINE = "Server is ready to receive web requests"

BROKEN_CONFIG = "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: [prometheus\n"

MakeBackend = Callable[..., ProcessBackend]


@pytest.fixture
async def make_backend(tmp_path: Path, prometheus_binary: str) -> AsyncIterator[MakeBackend]:
    """Yield a function that builds a ProcessBackend on a free port; every one is stopped at teardown."""
    backends: list[ProcessBackend] = []

    def make(
        config_text: str | None = None,
        binary: str | None = None,
        listen_address: str | None = None,
        extra_args: list[str] | None = None,
    ) -> ProcessBackend:
        number = len(backends)
        listen_address = listen_address or f"127.0.0.1:{free_port()}"
        config_file = tmp_path / f"prometheus-{number}.yml"
        config_file.write_text(config_text if config_text is not None else prometheus_config(listen_address))
        backend = ProcessBackend(
            binary=binary or prometheus_binary,
            config_file=config_file,
            data_dir=tmp_path / f"data-{number}",
            listen_address=listen_address,
            extra_args=extra_args,
        )
        backends.append(backend)
        return backend

    try:
        yield make
    finally:
        for backend in backends:
            # stop() sends SIGCONT too, so a test that stopped Prometheus with SIGSTOP leaves nothing behind.
            await backend.stop(10.0)
            await backend.close()
            for pid in prometheus_pids(backend.listen_address):
                process = process_id(pid)
                if process is not None:
                    stop_process(process)


async def next_event(backend: ProcessBackend, kind: str, timeout_seconds: float = EVENT_TIMEOUT_SECONDS) -> BackendEvent:
    """Return the next event of ``kind``, skipping others; fail when none arrives in time."""
    deadline = time.monotonic() + timeout_seconds
    skipped: list[str] = []
    while True:
        remaining = deadline - time.monotonic()
        try:
            event = await asyncio.wait_for(backend.events.get(), max(remaining, 0))
        except TimeoutError:
            raise AssertionError(f"no {kind!r} event within {timeout_seconds:g}s; skipped: {skipped}") from None
        if event.kind == kind:
            return event
        skipped.append(event.kind)


async def wait_ready(backend: ProcessBackend, timeout_seconds: float = READY_TIMEOUT_SECONDS) -> None:
    """Poll /-/ready until it returns 200; fail on timeout."""
    url = f"http://{backend.listen_address}/-/ready"
    deadline = time.monotonic() + timeout_seconds
    while await asyncio.to_thread(http_status, url) != 200:
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not return 200 within {timeout_seconds:g}s; output: {backend.output_tail(5)}")
        await asyncio.sleep(0.1)


async def start_ready(backend: ProcessBackend) -> int:
    """Start Prometheus, wait until it is ready, and return its pid."""
    await backend.start()
    await next_event(backend, "started")
    await wait_ready(backend)
    status = await backend.status()
    assert status.pid is not None
    return status.pid


async def test_start_becomes_ready(make_backend: MakeBackend) -> None:
    backend = make_backend()

    await backend.start()
    started = await next_event(backend, "started")
    status = await backend.status()
    await wait_ready(backend)

    assert status.running is True
    assert started.detail == f"pid {status.pid}"
    assert prometheus_pids(backend.listen_address) == [status.pid]
    assert process_id(status.pid) is not None
    assert status.detail["config_file"] == str(backend.config_file)
    assert status.last_exit is None
    assert (backend.data_dir / "wal").is_dir()


async def test_start_twice_raises(make_backend: MakeBackend) -> None:
    backend = make_backend()
    pid = await start_ready(backend)

    with pytest.raises(BackendError, match=f"already running \\(pid {pid}\\)"):
        await backend.start()

    assert prometheus_pids(backend.listen_address) == [pid]


async def test_stop_healthy_exits_0(make_backend: MakeBackend) -> None:
    backend = make_backend()
    pid = await start_ready(backend)
    process = process_id(pid)

    started = time.monotonic()
    await backend.stop(10.0)
    elapsed = time.monotonic() - started
    event = await next_event(backend, "exited", timeout_seconds=1.0)
    status = await backend.status()

    assert elapsed < 10.0
    assert event.expected is True
    assert event.exit is not None
    assert event.exit.code == 0
    assert event.exit.signal is None
    assert classify_exit(event.exit).cause == "clean"
    assert status.running is False
    assert status.last_exit == event.exit
    assert is_gone(process)


async def test_kill_reports_signal_9(make_backend: MakeBackend) -> None:
    backend = make_backend()
    pid = await start_ready(backend)

    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    event = await next_event(backend, "exited", timeout_seconds=1.0)
    latency = time.monotonic() - killed_at

    assert latency < 1.0
    assert event.expected is False
    assert event.exit is not None
    assert event.exit.signal == 9
    assert event.exit.code is None
    assert classify_exit(event.exit).cause == "killed"


async def test_stop_sigstopped_within_grace(make_backend: MakeBackend) -> None:
    backend = make_backend()
    pid = await start_ready(backend)
    process = process_id(pid)
    os.kill(pid, signal.SIGSTOP)

    started = time.monotonic()
    await backend.stop(10.0)
    elapsed = time.monotonic() - started
    event = await next_event(backend, "exited", timeout_seconds=1.0)

    # SIGCONT lets the stopped process act on the SIGTERM, so it shuts down cleanly.
    assert elapsed < 10.0
    assert event.expected is True
    assert event.exit is not None
    assert event.exit.code == 0
    assert event.exit.signal is None
    assert is_gone(process)


@pytest.fixture
async def hanging_receiver() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """A remote-write endpoint on 127.0.0.1 that accepts requests and never responds: (URL, request received).

    With a send in flight to it, Prometheus waits up to --storage.remote.flush-deadline
    before it exits on SIGTERM. Nothing else makes the real binary slow to stop on demand.
    """
    received = asyncio.Event()
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        received.set()
        await release.wait()
        return web.Response(status=204)

    application = web.Application()
    application.router.add_post("/write", hang)
    runner = web.AppRunner(application, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}/write", received
    finally:
        release.set()
        await runner.cleanup()


def slow_stop_config(listen_address: str, receiver_url: str, rules_file: Path) -> str:
    """Return a config whose recording rule sends a sample every second to ``receiver_url``."""
    rules_file.write_text(
        yaml.safe_dump({"groups": [{"name": "one", "interval": "1s", "rules": [{"record": "test:one", "expr": "vector(1)"}]}]})
    )
    config = yaml.safe_load(prometheus_config(listen_address))
    config["rule_files"] = [str(rules_file)]
    config["remote_write"] = [{"url": receiver_url, "queue_config": {"batch_send_deadline": "100ms"}}]
    return yaml.safe_dump(config)


async def test_stop_sigstopped_killed_after_grace(
    make_backend: MakeBackend, hanging_receiver: tuple[str, asyncio.Event], tmp_path: Path
) -> None:
    receiver_url, received = hanging_receiver
    listen_address = f"127.0.0.1:{free_port()}"
    config_text = slow_stop_config(listen_address, receiver_url, tmp_path / "rules.yml")
    backend = make_backend(
        config_text=config_text, listen_address=listen_address, extra_args=["--storage.remote.flush-deadline=30s"]
    )
    pid = await start_ready(backend)
    process = process_id(pid)
    await asyncio.wait_for(received.wait(), EVENT_TIMEOUT_SECONDS)
    os.kill(pid, signal.SIGSTOP)

    started = time.monotonic()
    await backend.stop(1.0)
    elapsed = time.monotonic() - started
    event = await next_event(backend, "exited", timeout_seconds=1.0)

    # The flush to the hanging receiver keeps Prometheus from exiting within the grace.
    assert elapsed >= 1.0
    assert elapsed < 1.0 + 2.0
    assert event.expected is True
    assert event.exit is not None
    assert event.exit.signal == 9
    assert any("Received SIGTERM" in line for line in event.exit.output_tail)
    assert is_gone(process)


async def test_restart_new_pid(make_backend: MakeBackend) -> None:
    backend = make_backend()
    old_pid = await start_ready(backend)
    old = process_id(old_pid)

    await backend.restart(None, 10.0)
    exited = await next_event(backend, "exited", timeout_seconds=1.0)
    await next_event(backend, "started")
    await wait_ready(backend)
    status = await backend.status()

    assert exited.expected is True
    assert exited.exit is not None
    assert exited.exit.code == 0
    assert status.pid != old_pid
    assert is_gone(old)
    assert prometheus_pids(backend.listen_address) == [status.pid]


async def test_output_tail_has_ready_line(make_backend: MakeBackend) -> None:
    backend = make_backend()
    await start_ready(backend)

    # /-/ready can return 200 before the watcher has read the log line, so poll for it.
    deadline = time.monotonic() + 5.0
    while not any(READY_LINE in line for line in backend.output_tail(200)):
        assert time.monotonic() < deadline, f"no {READY_LINE!r} in the output tail: {backend.output_tail(200)}"
        await asyncio.sleep(0.05)
    tail = backend.output_tail(200)

    assert all(line.startswith("ts=") for line in tail)
    assert backend.lines_seen >= len(tail)
    assert len(backend.output_tail(3)) == 3
    assert backend.output_tail(3) == tail[-3:]


async def test_bad_config_exit_cause_config(make_backend: MakeBackend) -> None:
    backend = make_backend(config_text=BROKEN_CONFIG)

    await backend.start()
    event = await next_event(backend, "exited")
    cause = classify_exit(event.exit)

    assert event.expected is False
    assert event.exit is not None
    assert event.exit.code not in (None, 0)
    assert cause.cause == "config"
    assert "Error loading config" in cause.evidence
    assert str(backend.config_file) in cause.evidence
    assert any("did not find expected" in line for line in event.exit.output_tail)


async def test_missing_binary_raises(make_backend: MakeBackend) -> None:
    backend = make_backend(binary="/nonexistent/prometheus")

    with pytest.raises(BackendError) as raised:
        await backend.start()

    assert "process.binary" in str(raised.value)
    assert "/nonexistent/prometheus" in str(raised.value)
    assert backend.events.empty()
    assert (await backend.status()).running is False


async def test_missing_binary_resolve_raises(make_backend: MakeBackend) -> None:
    backend = make_backend(binary="no-such-prometheus-binary")

    with pytest.raises(BackendError, match="process.binary"):
        backend.resolve_binary()

