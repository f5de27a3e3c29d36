"""ComposeStack against a real engine: ordered recovery, an unhealthy dependency, OOM diagnosis, an engine restart.

The containers are created with the docker SDK and given the labels Compose
puts on its containers, rather than with a compose CLI, because the test engine
has no bridge network (``--bridge=none``) and Compose would create one for the
project. The dependency graph still comes from a compose file, parsed by
promwatchd.compose. All containers use host networking.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import pytest

from docker_support import TEST_LABEL, build_prometheus_image, free_tcp_port, prometheus_command, prometheus_ready
from promwatchd.backends.compose import ComposeStack
from promwatchd.compose.graph import build_graph
from promwatchd.compose.source import load_compose_file

pytestmark = pytest.mark.docker

SECOND_NS = 1_000_000_000
"""The engine takes health check durations in nanoseconds."""

STACK_FILE = """\
services:
  exporter:
    image: test
  prometheus:
    image: test
    depends_on:
      exporter:
        condition: service_healthy
  sidecar:
    image: test
    depends_on:
      - prometheus
"""

# The exporter stand-in is healthy while /prometheus/ok exists; it creates the file when it starts.
EXPORTER_COMMAND = ["-c", ": > /prometheus/ok; exec /bin/busybox sleep 100000"]
EXPORTER_HEALTHCHECK = {
    "test": ["CMD", "/bin/sh", "-c", "test -e /prometheus/ok"],
    "interval": SECOND_NS,
    "timeout": 2 * SECOND_NS,
    "retries": 1,
}


@dataclass
class Stack:
    project: str
    port: int
    containers: dict[str, docker.models.containers.Container]


def compose_labels(project: str, service: str) -> dict[str, str]:
    return {
        TEST_LABEL: "true",
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.container-number": "1",
    }


def create_service(client: docker.DockerClient, image: str, project: str, service: str, **options: object) -> docker.models.containers.Container:
    return client.containers.create(
        image,
        name=f"{project}-{service}-1",
        network_mode="host",
        labels=compose_labels(project, service),
        **options,
    )


def create_stack(client: docker.DockerClient, image: str) -> Stack:
    """Create and start exporter, prometheus and sidecar, as Compose would for STACK_FILE."""
    project = f"pwtest{uuid.uuid4().hex[:8]}"
    port = free_tcp_port()
    # busybox sleep as pid 1 ignores SIGTERM, so the stand-ins stop with SIGKILL instead of waiting out the grace period.
    sleeper = {"entrypoint": ["/bin/sh"], "command": EXPORTER_COMMAND, "stop_signal": "SIGKILL"}
    containers = {
        "exporter": create_service(client, image, project, "exporter", healthcheck=EXPORTER_HEALTHCHECK, **sleeper),
        "prometheus": create_service(
            client,
            image,
            project,
            "prometheus",
            command=prometheus_command(port),
            healthcheck={
                "test": ["CMD", "/bin/wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}/-/ready"],
                "interval": SECOND_NS,
                "timeout": 2 * SECOND_NS,
                "retries": 3,
            },
        ),
        "sidecar": create_service(
            client, image, project, "sidecar", entrypoint=["/bin/busybox"], command=["sleep", "100000"], stop_signal="SIGKILL"
        ),
    }
    for container in containers.values():
        container.start()
    return Stack(project, port, containers)


def remove_stack(stack: Stack) -> None:
    for container in stack.containers.values():
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def wait_for(condition, timeout_seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}")


async def wait_for_async(condition, timeout_seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}")


def health(container: docker.models.containers.Container) -> str | None:
    container.reload()
    return ((container.attrs.get("State") or {}).get("Health") or {}).get("Status")


def graph_for(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "docker-compose.yml"
    path.write_text(STACK_FILE)
    return build_graph(load_compose_file(path, environment={}).services)


@pytest.fixture
def stack(docker_client: docker.DockerClient, prometheus_image: str) -> Iterator[Stack]:
    created = create_stack(docker_client, prometheus_image)
    try:
        wait_for(lambda: health(created.containers["exporter"]) == "healthy", 30, "the exporter to become healthy")
        wait_for(lambda: prometheus_ready(created.port), 30, "Prometheus to become ready")
        yield created
    finally:
        remove_stack(created)


@pytest.fixture
async def watcher(stack: Stack, docker_engine: str, tmp_path: Path) -> AsyncIterator[ComposeStack]:
    watched = ComposeStack(stack.project, graph_for(tmp_path), base_url=docker_engine, ready_timeout_seconds=60, poll_interval_seconds=1.0, grace_seconds=5)
    await watched.open()
    try:
        yield watched
    finally:
        await watched.close()


def started_at(container: docker.models.containers.Container) -> str:
    container.reload()
    return container.attrs["State"]["StartedAt"]


async def test_killed_prometheus_recovered_in_order(stack: Stack, watcher: ComposeStack) -> None:
    sidecar_before = started_at(stack.containers["sidecar"])
    runner = asyncio.create_task(watcher.run())
    try:
        await asyncio.to_thread(stack.containers["prometheus"].kill)
        await wait_for_async(lambda: watcher.recoveries, 60, "a recovery")
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    report = watcher.recoveries[0]
    assert report.succeeded, report.error
    assert [(step.service, step.action) for step in report.steps] == [
        ("exporter", "checked"),
        ("prometheus", "started"),
        ("sidecar", "restarted"),
    ]
    prometheus_step, sidecar_step = report.steps[1], report.steps[2]
    assert sidecar_step.started_at >= prometheus_step.ready_at
    assert prometheus_ready(stack.port)
    assert started_at(stack.containers["sidecar"]) != sidecar_before
    assert started_at(stack.containers["sidecar"]) > started_at(stack.containers["prometheus"])

    failure = watcher.failures["prometheus"]
    assert failure.reason == "exited"
    assert failure.exit_code == 137
    assert failure.oom_killed is False


async def test_unhealthy_dependency_fixed_first(stack: Stack, watcher: ComposeStack) -> None:
    exporter = stack.containers["exporter"]
    await asyncio.to_thread(exporter.exec_run, ["/bin/busybox", "rm", "/prometheus/ok"])
    await asyncio.to_thread(wait_for, lambda: health(exporter) == "unhealthy", 30, "the exporter to become unhealthy")

    report = await watcher.recover("prometheus")

    assert report.succeeded, report.error
    assert [(step.service, step.action) for step in report.steps] == [
        ("exporter", "restarted"),
        ("prometheus", "restarted"),
        ("sidecar", "restarted"),
    ]
    exporter_step, prometheus_step = report.steps[0], report.steps[1]
    assert prometheus_step.started_at >= exporter_step.ready_at
    assert health(exporter) == "healthy"
    assert prometheus_ready(stack.port)


async def test_ready_timeout_reported(docker_client: docker.DockerClient, prometheus_image: str, docker_engine: str, tmp_path: Path) -> None:
    project = f"pwtest{uuid.uuid4().hex[:8]}"
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  never-healthy:\n    image: test\n")
    graph = build_graph(load_compose_file(path, environment={}).services)
    container = create_service(
        docker_client,
        prometheus_image,
        project,
        "never-healthy",
        entrypoint=["/bin/busybox"],
        command=["sleep", "100000"],
        healthcheck={"test": ["CMD", "/bin/busybox", "false"], "interval": SECOND_NS, "timeout": SECOND_NS, "retries": 1},
    )
    watched = ComposeStack(project, graph, base_url=docker_engine, ready_timeout_seconds=3, grace_seconds=1)
    try:
        await watched.open()
        report = await watched.recover("never-healthy")
    finally:
        await watched.close()
        container.remove(force=True)

    assert not report.succeeded
    assert "service 'never-healthy'" in report.error
    assert "did not become ready within 3 s" in report.error
    assert report.steps == []


async def test_oom_kill_diagnosed(docker_client: docker.DockerClient, prometheus_image: str, docker_engine: str, tmp_path: Path) -> None:
    project = f"pwtest{uuid.uuid4().hex[:8]}"
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  hog:\n    image: test\n    mem_limit: 16m\n")
    graph = build_graph(load_compose_file(path, environment={}).services)
    # The string doubles until it passes the 16 MiB limit; the kernel OOM killer ends it within seconds.
    hog = create_service(
        docker_client,
        prometheus_image,
        project,
        "hog",
        entrypoint=["/bin/sh"],
        command=["-c", "echo allocating; x=0123456789abcdef; while :; do x=\"$x$x\"; done"],
        mem_limit="16m",
        memswap_limit="16m",
    )
    watched = ComposeStack(project, graph, base_url=docker_engine, ready_timeout_seconds=5, poll_interval_seconds=1.0, grace_seconds=1)
    try:
        await watched.open()
        runner = asyncio.create_task(watched.run())
        try:
            await asyncio.to_thread(hog.start)
            await wait_for_async(lambda: "hog" in watched.failures, 60, "the OOM kill to be reported")
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    finally:
        await watched.close()
        hog.remove(force=True)

    failure = watched.failures["hog"]
    assert failure.reason == "oom"
    assert failure.oom_killed is True
    assert failure.exit_code == 137
    assert "allocating" in failure.output_tail


async def test_engine_restart_survived(private_dockerd, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = docker.DockerClient(base_url=private_dockerd.base_url, timeout=60)
    try:
        image = await asyncio.to_thread(build_prometheus_image, client)
        created = await asyncio.to_thread(create_stack, client, image)
        await asyncio.to_thread(wait_for, lambda: prometheus_ready(created.port), 30, "Prometheus to become ready")
        watched = ComposeStack(created.project, graph_for(tmp_path), base_url=private_dockerd.base_url, ready_timeout_seconds=60, poll_interval_seconds=1.0, grace_seconds=5)
        await watched.open()
        runner = asyncio.create_task(watched.run())
        try:
            await asyncio.to_thread(private_dockerd.stop)
            assert not prometheus_ready(created.port)
            await asyncio.to_thread(private_dockerd.start)

            await wait_for_async(lambda: any(report.succeeded for report in watched.recoveries), 90, "a recovery after the engine restart")
            await wait_for_async(lambda: prometheus_ready(created.port), 30, "Prometheus to be ready again")
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await watched.close()

        first = next(report for report in watched.recoveries if report.succeeded)
        assert [step.service for step in first.steps] == ["exporter", "prometheus", "sidecar"]
        for container in created.containers.values():
            container.reload()
            assert container.status == "running", f"{container.name} is {container.status}"
    finally:
        client.close()


async def test_supervisor_compose_backend_restarts_in_order(stack: Stack, docker_engine: str, tmp_path: Path) -> None:
    """The daemon's supervisor with backend compose: a killed Prometheus comes back, then its dependents."""
    from promwatchd.backends.compose_backend import ComposeBackend
    from promwatchd.machine import Phase
    from promwatchd.metrics import Metrics
    from promwatchd.settings import load_settings
    from promwatchd.supervisor import Supervisor

    compose_file = tmp_path / "docker-compose.yml"
    compose_file.write_text(STACK_FILE)
    settings_file = tmp_path / "promwatchd.yaml"
    settings_file.write_text(
        "state_dir: state\n"
        "backend: compose\n"
        f"prometheus: {{url: 'http://127.0.0.1:{stack.port}'}}\n"
        f"docker: {{engine_url: '{docker_engine}'}}\n"
        f"compose: {{file: docker-compose.yml, project: {stack.project}, ready_timeout: 60s}}\n"
        "probes: {interval: 1s, timeout: 1s, startup_interval: 200ms}\n"
        "recovery: {stop_grace_period: 5s}\n"
    )
    settings = load_settings(settings_file, environ={})
    backend = ComposeBackend(settings.compose.file, settings.compose.project, "prometheus", docker_engine, 60)
    supervisor = Supervisor(settings, backend, Metrics())
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    sidecar_before = started_at(stack.containers["sidecar"])

    try:
        await wait_for_async(lambda: supervisor.state.phase == Phase.HEALTHY, 30, "healthy before the kill")
        await asyncio.to_thread(stack.containers["prometheus"].kill)
        await wait_for_async(lambda: supervisor.state.phase != Phase.HEALTHY, 5, "the kill noticed")
        await wait_for_async(lambda: supervisor.state.phase == Phase.HEALTHY, 90, "healthy after the ordered restart")
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)

    report = backend.stack.recoveries[-1]
    assert report.succeeded, report.error
    assert [step.service for step in report.steps] == ["exporter", "prometheus", "sidecar"]
    assert started_at(stack.containers["sidecar"]) != sidecar_before
    assert supervisor.last_exit is not None
    assert supervisor.last_exit["cause"] == "killed"
    assert prometheus_ready(stack.port)
