"""DockerBackend against a real Docker engine and a real Prometheus container."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pytest

from docker_support import (
    Dockerd,
    build_prometheus_image,
    create_prometheus_container,
    free_tcp_port,
    make_short_temp_dir,
    prometheus_ready,
    run_prometheus_container,
    wait_until_ready,
)
from promwatchd.backends.base import BackendError, BackendEvent
from promwatchd.backends.docker import DockerBackend

pytestmark = pytest.mark.docker

EVENT_TIMEOUT_SECONDS = 15.0
READY_LINE = "Server is ready to receive web requests"


@pytest.fixture
async def backend(docker_engine: str, prometheus_container: tuple[str, int]) -> AsyncIterator[DockerBackend]:
    name, _port = prometheus_container
    backend = DockerBackend(name, base_url=docker_engine)
    await backend.open()
    yield backend
    await backend.close()


async def next_event(
    backend: DockerBackend,
    kind: str,
    timeout_seconds: float = EVENT_TIMEOUT_SECONDS,
    seen: list[BackendEvent] | None = None,
) -> BackendEvent:
    """Return the next event of ``kind``, skipping others (appended to ``seen`` when given).

    Raises AssertionError when none arrives within ``timeout_seconds``.
    """
    skipped = seen if seen is not None else []
    deadline = time.monotonic() + timeout_seconds
    while True:
        remaining = deadline - time.monotonic()
        try:
            event = await asyncio.wait_for(backend.events.get(), max(remaining, 0))
        except TimeoutError:
            kinds = [event.kind for event in skipped]
            raise AssertionError(f"no {kind!r} event within {timeout_seconds} s; other events: {kinds}") from None
        if event.kind == kind:
            return event
        skipped.append(event)


async def wait_ready(port: int) -> None:
    await asyncio.to_thread(wait_until_ready, port)


def kill_container(client: docker.DockerClient, name: str, signal: str = "SIGKILL") -> None:
    client.containers.get(name).kill(signal=signal)


class UnixSocketProxy:
    """Forward connections on the unix socket ``path`` to the unix socket ``target``.

    ``cut()`` closes the listener and every forwarded connection, which looks
    to a client like an engine outage. ``start()`` listens again.
    """

    def __init__(self, path: Path, target: str) -> None:
        self.path = path
        self.target = target
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._forward, path=str(self.path))

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        self.path.unlink(missing_ok=True)

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_unix_connection(self.target)
        except OSError:
            client_writer.close()
            return
        self._writers.update((client_writer, upstream_writer))
        await asyncio.gather(
            self._pump(client_reader, upstream_writer),
            self._pump(upstream_reader, client_writer),
        )

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


async def wait_for_container_status(
    client: docker.DockerClient,
    name: str,
    status: str,
    timeout_seconds: float = EVENT_TIMEOUT_SECONDS,
) -> None:
    deadline = time.monotonic() + timeout_seconds
    container = client.containers.get(name)
    while container.status != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"container {name} is {container.status}, not {status}, after {timeout_seconds} s")
        await asyncio.sleep(0.1)
        container.reload()


async def test_kill_reports_exit_137(backend, docker_client, prometheus_container):
    name, _port = prometheus_container

    killed_at = time.monotonic()
    kill_container(docker_client, name)
    event = await next_event(backend, "exited")
    latency = time.monotonic() - killed_at

    assert event.exit is not None
    assert event.exit.code == 137
    assert event.exit.signal == 9
    assert event.exit.oom_killed is False
    assert event.expected is False
    assert latency < 5.0


async def test_restart_after_kill_recovers(backend, docker_client, prometheus_container):
    name, port = prometheus_container
    kill_container(docker_client, name)
    await next_event(backend, "exited")

    await backend.restart(None, grace_seconds=5)
    started = await next_event(backend, "started")
    await wait_ready(port)

    assert started.detail == "start"
    assert prometheus_ready(port)


async def test_output_tail_after_kill(backend, docker_client, prometheus_container):
    name, _port = prometheus_container
    before = backend.output_tail()

    kill_container(docker_client, name)
    event = await next_event(backend, "exited")
    tail = backend.output_tail()

    assert before == []
    assert tail
    assert any(READY_LINE in line for line in tail)
    assert any(READY_LINE in line for line in event.exit.output_tail)
    assert len(backend.output_tail(3)) == 3


async def test_status_running(backend, docker_client, prometheus_container):
    name, _port = prometheus_container
    container = docker_client.containers.get(name)

    status = await backend.status()

    assert status.running is True
    assert status.pid > 0
    assert status.pid == container.attrs["State"]["Pid"]
    assert abs(status.started_at - time.time()) < 120
    assert status.last_exit is None
    assert status.detail["state"] == "running"
    assert status.detail["container_id"] == container.id
    assert status.detail["restart_count"] == 0


async def test_status_health_healthy(backend):
    # The health check runs every second, so the status should turn healthy within a few seconds.
    deadline = time.monotonic() + EVENT_TIMEOUT_SECONDS
    status = await backend.status()
    while status.detail["health"] != "healthy" and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        status = await backend.status()

    assert status.detail["health"] == "healthy"


async def test_status_after_kill(backend, docker_client, prometheus_container):
    name, _port = prometheus_container
    kill_container(docker_client, name)
    await next_event(backend, "exited")

    status = await backend.status()

    assert status.running is False
    assert status.pid is None
    assert status.started_at is None
    assert status.detail["state"] == "exited"
    assert status.last_exit is not None
    assert status.last_exit.code == 137
    assert status.last_exit.signal == 9
    assert status.last_exit.oom_killed is False
    assert abs(status.last_exit.at - time.time()) < 60


async def test_stop_leaves_container_stopped(backend, docker_client, prometheus_container):
    name, port = prometheus_container

    await backend.stop(grace_seconds=10)
    event = await next_event(backend, "exited")
    state = docker_client.containers.get(name).attrs["State"]

    assert state["Running"] is False
    # Prometheus exits cleanly on SIGTERM, well within the grace period.
    assert state["ExitCode"] == 0
    assert event.exit.code == 0
    assert event.exit.signal is None
    assert event.expected is True
    assert not prometheus_ready(port)


async def test_restart_exit_is_expected(backend, prometheus_container):
    await backend.restart(None, grace_seconds=10)
    event = await next_event(backend, "exited")
    assert event.expected is True


async def test_start_after_stop_serves_ready(backend, prometheus_container):
    _name, port = prometheus_container
    await backend.stop(grace_seconds=10)
    await next_event(backend, "exited")

    await backend.start()
    await next_event(backend, "started")
    await wait_ready(port)
    status = await backend.status()

    assert status.running is True
    assert prometheus_ready(port)


async def test_health_event_after_restart(backend):
    await backend.restart(None, grace_seconds=10)

    # After a restart the engine reports "starting" first, then "healthy" once a check passes.
    event = await next_event(backend, "health")
    while event.detail == "starting":
        event = await next_event(backend, "health")

    assert event.detail == "healthy"


@pytest.mark.parametrize("operation", ["status", "start", "stop", "restart"])
async def test_missing_container_raises(docker_engine, operation):
    name = "promwatchd-test-no-such-container"
    backend = DockerBackend(name, base_url=docker_engine)
    calls = {
        "status": backend.status,
        "start": backend.start,
        "stop": lambda: backend.stop(1),
        "restart": lambda: backend.restart(None, 1),
    }
    try:
        with pytest.raises(BackendError) as raised:
            await calls[operation]()
    finally:
        await backend.close()

    message = str(raised.value)
    assert name in message
    assert "not found" in message
    assert docker_engine in message


async def test_unreachable_engine_raises(tmp_path):
    engine = f"unix://{tmp_path}/missing.sock"
    backend = DockerBackend("prometheus", base_url=engine, api_timeout_seconds=5)
    try:
        with pytest.raises(BackendError) as raised:
            await backend.status()
    finally:
        await backend.close()

    message = str(raised.value)
    assert engine in message
    assert "unreachable" in message
    assert "'prometheus'" in message


async def test_restart_does_not_block_loop(backend, docker_client, prometheus_container):
    name, port = prometheus_container
    # A stopped process cannot handle the SIGTERM, so the engine waits the
    # whole grace period and then sends SIGKILL. The restart takes over 2 s.
    kill_container(docker_client, name, signal="SIGSTOP")

    tick_times: list[float] = []

    async def tick() -> None:
        while True:
            tick_times.append(time.monotonic())
            await asyncio.sleep(0.05)

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    try:
        await backend.restart(None, grace_seconds=2)
    finally:
        ticker.cancel()
    elapsed = time.monotonic() - started
    gaps = [later - earlier for earlier, later in zip(tick_times, tick_times[1:])]
    await wait_ready(port)

    assert elapsed >= 2.0
    assert len(tick_times) >= elapsed / 0.05 * 0.5
    assert max(gaps) < 0.25


async def test_close_keeps_container_running(docker_engine, docker_client, prometheus_container):
    name, _port = prometheus_container
    backend = DockerBackend(name, base_url=docker_engine)
    await backend.open()

    started = time.monotonic()
    await backend.close()
    duration = time.monotonic() - started
    state = docker_client.containers.get(name).attrs["State"]

    # Closing the event stream unblocks the thread at once, without waiting for the join timeout.
    assert duration < 2.0
    assert state["Running"] is True


async def test_oom_reports_oom_killed(docker_engine, docker_client, prometheus_image):
    port = free_tcp_port()
    # Prometheus 2.42 needs far more than 8 MiB to start, so the kernel OOM killer ends it.
    container = create_prometheus_container(
        docker_client,
        prometheus_image,
        port,
        mem_limit="8m",
        memswap_limit="8m",
    )
    backend = DockerBackend(container.name, base_url=docker_engine)
    try:
        await backend.start()
        oom = await next_event(backend, "oom")
        exited = await next_event(backend, "exited")
        status = await backend.status()
    finally:
        await backend.close()
        container.remove(force=True)

    assert oom.detail == "oom"
    assert exited.exit.oom_killed is True
    assert exited.exit.code == 137
    assert status.last_exit.oom_killed is True


async def test_events_survive_engine_restart(private_dockerd: Dockerd):
    client = docker.DockerClient(base_url=private_dockerd.base_url, timeout=60)
    image = build_prometheus_image(client)
    port = free_tcp_port()
    container = run_prometheus_container(client, image, port)
    client.close()
    await wait_ready(port)

    backend = DockerBackend(container.name, base_url=private_dockerd.base_url, api_timeout_seconds=10)
    seen: list[BackendEvent] = []
    try:
        await backend.open()

        # Stopping dockerd stops the container too (no live restore).
        await asyncio.to_thread(private_dockerd.stop)
        await asyncio.to_thread(private_dockerd.start)
        exited = await next_event(backend, "exited", timeout_seconds=60, seen=seen)

        await backend.start()
        await next_event(backend, "started", seen=seen)
        await wait_ready(port)
        status = await backend.status()
    finally:
        await backend.close()

    assert exited.exit is not None
    # Whether the die event or the state after reconnecting reported the exit,
    # it is reported once.
    assert [event.kind for event in seen].count("exited") == 0
    assert status.running is True
    assert prometheus_ready(port)



async def test_exit_while_disconnected_reported(docker_engine, docker_client, prometheus_container):
    if not docker_engine.startswith("unix://"):
        pytest.skip(f"the proxy in this test forwards only to a unix socket, not to {docker_engine}")
    name, _port = prometheus_container
    directory = make_short_temp_dir()
    proxy = UnixSocketProxy(directory / "proxy.sock", docker_engine.removeprefix("unix://"))
    await proxy.start()
    backend = DockerBackend(name, base_url=f"unix://{proxy.path}", api_timeout_seconds=10)
    seen: list[BackendEvent] = []
    try:
        await backend.open()

        # The engine sends the die event while the backend has no connection,
        # so only the state it reads after reconnecting shows the exit.
        await proxy.cut()
        kill_container(docker_client, name)
        await wait_for_container_status(docker_client, name, "exited")
        await proxy.start()
        exited = await next_event(backend, "exited", timeout_seconds=30, seen=seen)
        status = await backend.status()
    finally:
        await backend.close()
        await proxy.cut()
        shutil.rmtree(directory, ignore_errors=True)

    assert exited.exit.code == 137
    assert exited.exit.signal == 9
    assert any(READY_LINE in line for line in exited.exit.output_tail)
    assert [event.kind for event in seen].count("exited") == 0
    assert status.running is False
