"""Time recovery of a containerised Prometheus: promwatchd against Docker's own mechanisms.

Everything runs on a private dockerd (started here with tests/docker_support.py,
on its own socket, host networking only) with the test Prometheus image built
FROM scratch out of /usr/bin/prometheus. Each of the --runs rounds measures,
from the fault until the first 200 from /-/ready (polled every 25 ms):

Crash: SIGKILL from the host to the container's Prometheus process.
  - promwatchd: the supervisor with the Docker backend (single container).
  - promwatchd compose: ComposeStack, the compose-aware recovery.
  - Docker: the container's restart policy ``always``, without promwatchd.

Hang: SIGSTOP from the host to the Prometheus process.
  - promwatchd: the supervisor with the Docker backend, probes every
    --probe-interval with a timeout of the same length, failure_threshold 3.
  - Health check restarter: a simulation of autoheal-style restarters. The
    container has a typical compose health check (wget /-/ready, interval 10 s,
    timeout 5 s, retries 3). A loop here inspects its health every
    --restarter-poll seconds and restarts it when the status is ``unhealthy``.

A stopped (SIGSTOP) process ignores SIGTERM, so each hang restart waits out
the stop grace period before SIGKILL: both sides use --hung-grace seconds.

Usage (root, from the repository root):
  .venv/bin/python bench/compose_recovery.py --runs 3 --output bench/results/compose-recovery.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY / "tests"))
sys.path.insert(0, str(REPOSITORY / "bench"))

import docker  # noqa: E402
import docker.errors  # noqa: E402
from docker_support import (  # noqa: E402
    TEST_LABEL,
    Dockerd,
    build_prometheus_image,
    make_short_temp_dir,
    prometheus_command,
    remove_directory,
)
from harness import free_port, machine_info, poll_ready, summarize  # noqa: E402

from promwatchd.backends.compose import ComposeStack  # noqa: E402
from promwatchd.backends.docker import DockerBackend  # noqa: E402
from promwatchd.compose.graph import build_graph  # noqa: E402
from promwatchd.logsetup import configure_logging  # noqa: E402
from promwatchd.machine import Phase  # noqa: E402
from promwatchd.metrics import Metrics  # noqa: E402
from promwatchd.settings import load_settings  # noqa: E402
from promwatchd.supervisor import Supervisor  # noqa: E402

SECOND_NS = 1_000_000_000
READY_POLL_SECONDS = 0.025
RECOVERY_TIMEOUT_SECONDS = 180.0

TYPICAL_HEALTHCHECK = {"interval": 10 * SECOND_NS, "timeout": 5 * SECOND_NS, "retries": 3}
"""A common compose health check: interval 10s, timeout 5s, retries 3, as in docker/docker-compose.yml."""


def create_prometheus(client: docker.DockerClient, image: str, port: int, **options: Any) -> Any:
    labels = {TEST_LABEL: "true", **options.pop("labels", {})}
    return client.containers.create(
        image,
        command=prometheus_command(port),
        name=f"bench-{uuid.uuid4().hex[:8]}",
        network_mode="host",
        labels=labels,
        healthcheck={
            "test": ["CMD", "/bin/wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}/-/ready"],
            **TYPICAL_HEALTHCHECK,
        },
        **options,
    )


def main_pid(container: Any) -> int:
    container.reload()
    return int(container.attrs["State"]["Pid"])


def wait_ready(port: int, timeout: float = 60.0) -> None:
    if poll_ready(port, timeout, READY_POLL_SECONDS) is None:
        raise RuntimeError(f"Prometheus on 127.0.0.1:{port} not ready within {timeout} s")


def time_fault(container: Any, port: int, fault: int) -> float:
    """Send ``fault`` to the container's Prometheus and return the seconds until a new process is ready."""
    old_pid = main_pid(container)
    faulted_at = time.monotonic()
    os.kill(old_pid, fault)
    # A 200 counts only from a new process, because the old one may still respond to a request it accepted before the signal.
    while True:
        observation = poll_ready(port, RECOVERY_TIMEOUT_SECONDS, READY_POLL_SECONDS)
        if observation is None:
            raise RuntimeError(f"Prometheus on 127.0.0.1:{port} not ready within {RECOVERY_TIMEOUT_SECONDS} s of the fault")
        if main_pid(container) not in (0, old_pid):
            return time.monotonic() - faulted_at
        time.sleep(READY_POLL_SECONDS)


async def supervised(base_url: str, container: Any, port: int, settings_dir: Path, args: argparse.Namespace, fault: int) -> float:
    settings_file = settings_dir / "promwatchd.yaml"
    settings_file.write_text(
        f"state_dir: {settings_dir / 'state'}\n"
        "backend: docker\n"
        f"prometheus: {{url: 'http://127.0.0.1:{port}'}}\n"
        f"docker: {{container: {container.name}, engine_url: '{base_url}'}}\n"
        f"probes: {{interval: {args.probe_interval}, timeout: {args.probe_interval}, startup_interval: 200ms}}\n"
        f"recovery: {{hung_stop_grace_period: {args.hung_grace}}}\n",
        encoding="utf-8",
    )
    settings = load_settings(settings_file, environ={})
    backend = DockerBackend(container.name, base_url=base_url)
    await backend.open()
    supervisor = Supervisor(settings, backend, Metrics())
    stop = asyncio.Event()
    task = asyncio.create_task(supervisor.run(stop))
    try:
        deadline = time.monotonic() + 60
        while supervisor.state.phase != Phase.HEALTHY:
            if time.monotonic() > deadline:
                raise RuntimeError("the supervisor did not reach healthy within 60 s")
            await asyncio.sleep(0.05)
        return await asyncio.to_thread(time_fault, container, port, fault)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def compose_watched(base_url: str, container: Any, project: str, port: int, fault: int) -> float:
    graph = build_graph({"prometheus": {}})
    stack = ComposeStack(project, graph, base_url=base_url, grace_seconds=1)
    await stack.open()
    runner = asyncio.create_task(stack.run())
    try:
        return await asyncio.to_thread(time_fault, container, port, fault)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await stack.close()


def health_restarter(container: Any, poll_seconds: float, grace_seconds: int, stop: threading.Event) -> None:
    """Restart ``container`` when its health status is unhealthy, checking every ``poll_seconds``."""
    while not stop.wait(poll_seconds):
        container.reload()
        health = ((container.attrs.get("State") or {}).get("Health") or {}).get("Status")
        if health == "unhealthy":
            container.restart(timeout=grace_seconds)


def run_round(client: docker.DockerClient, base_url: str, image: str, args: argparse.Namespace) -> dict[str, float]:
    results: dict[str, float] = {}

    def with_container(name: str, measure: Callable[[Any, int], float], **options: Any) -> None:
        port = free_port()
        container = create_prometheus(client, image, port, **options)
        try:
            container.start()
            wait_ready(port)
            results[name] = measure(container, port)
            print(f"  {name}: {results[name]:.3f} s", flush=True)
        finally:
            container.remove(force=True)

    with tempfile.TemporaryDirectory(prefix="pwd-bench-") as directory:
        with_container("crash_promwatchd", lambda c, p: asyncio.run(supervised(base_url, c, p, Path(directory), args, signal.SIGKILL)))

    project = f"bench{uuid.uuid4().hex[:8]}"
    compose_labels = {"com.docker.compose.project": project, "com.docker.compose.service": "prometheus"}
    with_container(
        "crash_promwatchd_compose",
        lambda c, p: asyncio.run(compose_watched(base_url, c, project, p, signal.SIGKILL)),
        labels=compose_labels,
    )
    with_container("crash_docker_restart_policy", lambda c, p: time_fault(c, p, signal.SIGKILL), restart_policy={"Name": "always"})

    with tempfile.TemporaryDirectory(prefix="pwd-bench-") as directory:
        with_container("hang_promwatchd", lambda c, p: asyncio.run(supervised(base_url, c, p, Path(directory), args, signal.SIGSTOP)))

    def restarter_measure(container: Any, port: int) -> float:
        stop = threading.Event()
        thread = threading.Thread(target=health_restarter, args=(container, args.restarter_poll, int(args.hung_grace), stop), daemon=True)
        # The first health check runs one interval after the start, so wait until the container is healthy.
        deadline = time.monotonic() + 60
        while ((container.attrs.get("State") or {}).get("Health") or {}).get("Status") != "healthy":
            if time.monotonic() > deadline:
                raise RuntimeError("the container did not become healthy within 60 s")
            time.sleep(0.2)
            container.reload()
        thread.start()
        try:
            return time_fault(container, port, signal.SIGSTOP)
        finally:
            stop.set()
            thread.join(30)

    with_container("hang_healthcheck_restarter", restarter_measure)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="number of rounds (default: 3)")
    parser.add_argument("--probe-interval", type=float, default=1.0, help="promwatchd probe interval and timeout, in seconds (default: 1)")
    parser.add_argument("--hung-grace", type=float, default=2.0, help="stop grace period for a hung container, in seconds, on both sides (default: 2)")
    parser.add_argument("--restarter-poll", type=float, default=1.0, help="how often the simulated restarter reads the health status, in seconds (default: 1)")
    parser.add_argument("--output", type=Path, help="write the results as JSON to this file")
    args = parser.parse_args()

    if os.geteuid() != 0:
        print("compose_recovery.py starts its own dockerd and needs root", file=sys.stderr)
        return 2
    configure_logging("warning", "console")

    directory = make_short_temp_dir()
    dockerd = Dockerd(directory)
    rounds: list[dict[str, float]] = []
    try:
        dockerd.start()
        client = docker.DockerClient(base_url=dockerd.base_url, timeout=120)
        image = build_prometheus_image(client)
        for number in range(1, args.runs + 1):
            print(f"round {number}", flush=True)
            rounds.append(run_round(client, dockerd.base_url, image, args))
        client.close()
    finally:
        dockerd.stop()
        remove_directory(directory)

    summary = {name: summarize([round_[name] for round_ in rounds]) for name in rounds[0]} if rounds else {}
    ratios = {
        "crash_docker_over_promwatchd": [r["crash_docker_restart_policy"] / r["crash_promwatchd"] for r in rounds],
        "crash_docker_over_promwatchd_compose": [r["crash_docker_restart_policy"] / r["crash_promwatchd_compose"] for r in rounds],
        "hang_restarter_over_promwatchd": [r["hang_healthcheck_restarter"] / r["hang_promwatchd"] for r in rounds],
    }
    document = {
        "settings": vars(args) | {"output": str(args.output) if args.output else None},
        "typical_healthcheck_seconds": {key: value / SECOND_NS if key != "retries" else value for key, value in TYPICAL_HEALTHCHECK.items()},
        "rounds": rounds,
        "summary": summary,
        "ratios": ratios,
        "machine": machine_info("/usr/bin/prometheus"),
    }
    print(json.dumps({"summary": summary, "ratios": ratios}, indent=2))
    if args.output is not None:
        args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
