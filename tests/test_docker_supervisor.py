"""The supervisor with the Docker backend: a killed container is restarted and ready again."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from docker_support import prometheus_ready
from promwatchd.backends.docker import DockerBackend
from promwatchd.machine import Phase
from promwatchd.metrics import Metrics
from promwatchd.settings import load_settings
from promwatchd.supervisor import Supervisor

pytestmark = pytest.mark.docker


async def wait_for(condition, timeout_seconds: float, what: str) -> float:
    """Poll ``condition`` every 50 ms; return the seconds it took, or fail naming ``what``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_seconds:
        if condition():
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout_seconds:g}s")


async def test_killed_container_restarted(tmp_path: Path, docker_engine, docker_client, prometheus_container):
    name, port = prometheus_container
    settings_file = tmp_path / "promwatchd.yaml"
    settings_file.write_text(
        "state_dir: state\n"
        "backend: docker\n"
        f"prometheus: {{url: 'http://127.0.0.1:{port}'}}\n"
        f"docker: {{container: {name}, engine_url: '{docker_engine}'}}\n"
        "probes: {interval: 1s, timeout: 1s, startup_interval: 200ms}\n",
        encoding="utf-8",
    )
    settings = load_settings(settings_file, environ={})
    backend = DockerBackend(name, base_url=docker_engine)
    await backend.open()
    supervisor = Supervisor(settings, backend, Metrics())
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))

    try:
        await wait_for(lambda: supervisor.state.phase == Phase.HEALTHY, 20, "healthy before the kill")
        started_before = docker_client.containers.get(name).attrs["State"]["StartedAt"]

        await asyncio.to_thread(lambda: docker_client.containers.get(name).kill(signal="SIGKILL"))
        await wait_for(lambda: supervisor.state.phase != Phase.HEALTHY, 5, "the kill noticed")
        await wait_for(lambda: supervisor.state.phase == Phase.HEALTHY, 30, "healthy after the restart")

        state = docker_client.containers.get(name).attrs["State"]
        assert state["Running"] is True
        assert state["StartedAt"] != started_before
        assert prometheus_ready(port)
        assert supervisor.last_exit is not None
        assert supervisor.last_exit["exit_code"] == 137
        assert supervisor.last_exit["cause"] == "killed"
        assert supervisor.state.last_recovery_seconds is not None
        assert len(supervisor.state.restart_times) == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)

    assert docker_client.containers.get(name).attrs["State"]["Running"] is True, "the daemon must not stop a container on exit"
