"""Watch the containers of one Compose project and recover a failed service in dependency order.

Containers are found by the labels Compose puts on them
(``com.docker.compose.project`` and ``com.docker.compose.service``), and the
order comes from the compose file's dependency graph
(promwatchd.compose.graph). Each container is followed by a DockerBackend,
which reports crashes, OOM kills and health changes from the engine's event
stream and reconnects when the engine goes away. A poll of every container
is the safety net for events lost while the engine was unreachable.

A recovery of a service starts with its dependencies. Each one that is not
ready is restarted and awaited. Then the service itself is restarted and
awaited, and then every service that depends on it, in start order. Ready means healthy for a
container with a health check, running for one without, and exited with code
0 for a one-shot service (a dependency of some service with
``condition: service_completed_successfully``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any

import docker
import docker.errors
import requests
import structlog

from promwatchd.backends.base import BackendError, BackendEvent
from promwatchd.backends.docker import DockerBackend
from promwatchd.compose.graph import SERVICE_COMPLETED_SUCCESSFULLY, DependencyGraph

log = structlog.get_logger(__name__)

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
CONTAINER_NUMBER_LABEL = "com.docker.compose.container-number"

READY_POLL_SECONDS = 0.2
"""Time between two inspections while waiting for a container to become ready."""

OUTPUT_TAIL_LINES = 50
"""Log lines kept with each failure record."""


class RecoveryError(BackendError):
    """A step of a recovery failed: an engine call, or a service that did not become ready in time."""


@dataclass(frozen=True)
class ServiceState:
    """One container's state as the engine reported it."""

    service: str
    container_id: str
    running: bool
    paused: bool
    status: str
    """The engine's State.Status, such as ``running``, ``exited`` or ``paused``."""
    health: str | None
    """``starting``, ``healthy``, ``unhealthy``, or None without a health check."""
    exit_code: int | None
    oom_killed: bool


@dataclass(frozen=True)
class FailureRecord:
    """Why a service was recovered: what was seen, with the exit code, OOM flag and last log lines."""

    service: str
    reason: str
    """``exited``, ``oom``, ``unhealthy`` or ``not_running`` (found by the poll)."""
    at: float
    exit_code: int | None = None
    oom_killed: bool = False
    output_tail: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecoveryStep:
    """One service handled during a recovery: ``checked`` (was ready), ``restarted`` or ``started``."""

    service: str
    action: str
    started_at: float
    """time.monotonic() when the step began."""
    ready_at: float
    """time.monotonic() when the service was ready."""


@dataclass
class RecoveryReport:
    """The steps of one recovery, in the order they ran, and the error that stopped it, if any."""

    failed: str
    steps: list[RecoveryStep] = field(default_factory=list)
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return not self.error


def find_stack_containers(api: docker.APIClient, project: str) -> dict[str, str]:
    """Return the container id of each service of ``project``, from the Compose labels. Blocking.

    A scaled service has several containers; the one with the lowest container
    number is taken.
    """
    containers = api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"})
    chosen: dict[str, tuple[int, str]] = {}
    for container in containers:
        labels = container.get("Labels") or {}
        service = labels.get(SERVICE_LABEL)
        if not service:
            continue
        number_text = labels.get(CONTAINER_NUMBER_LABEL, "1")
        number = int(number_text) if number_text.isdigit() else 1
        if service not in chosen or number < chosen[service][0]:
            chosen[service] = (number, container["Id"])
    return {service: container_id for service, (_, container_id) in chosen.items()}


class ComposeStack:
    """Follow every container of one Compose project and recover failed services in dependency order.

    Call ``open()``, then ``run()`` in a task; ``close()`` stops watching and
    leaves the containers as they are. ``recover()`` can also be called directly.
    Every engine call runs in a worker thread (asyncio.to_thread), so the event loop does not wait on the engine.
    """

    def __init__(
        self,
        project: str,
        graph: DependencyGraph,
        base_url: str | None = None,
        api_timeout_seconds: float = 30.0,
        ready_timeout_seconds: float = 120.0,
        poll_interval_seconds: float = 5.0,
        grace_seconds: float = 60.0,
    ) -> None:
        """``ready_timeout_seconds`` limits the wait for each service in a recovery, ``grace_seconds`` each stop."""
        self.project = project
        self.graph = graph
        self.base_url = base_url
        self.api_timeout_seconds = api_timeout_seconds
        self.ready_timeout_seconds = ready_timeout_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self.grace_seconds = grace_seconds

        self.containers: dict[str, str] = {}
        self.failures: dict[str, FailureRecord] = {}
        """The last failure seen for each service."""
        self.recoveries: list[RecoveryReport] = []

        self._backends: dict[str, DockerBackend] = {}
        self._pumps: list[asyncio.Task[None]] = []
        self._events: asyncio.Queue[tuple[str, BackendEvent]] = asyncio.Queue()
        self._recovery_lock = asyncio.Lock()
        self._client: docker.DockerClient | None = None
        self._client_lock = threading.Lock()
        self._one_shot = {
            edge.dependency for edge in graph.dependencies if edge.condition == SERVICE_COMPLETED_SUCCESSFULLY
        }

    async def open(self) -> None:
        """Find the project's containers and start following their events.

        Raises BackendError when the engine is unreachable or a service of the
        graph has no container (create the stack first, for example with
        ``docker compose up --no-start``).
        """
        self.containers = await self._call("list containers of", lambda api: find_stack_containers(api, self.project))
        missing = [service for service in self.graph.services if service not in self.containers]
        if missing:
            raise BackendError(
                f"Compose project {self.project!r} has no container for service(s) {', '.join(missing)}. "
                "Create the stack first (docker compose up --no-start), or check the project name."
            )

        for service in self.graph.services:
            backend = DockerBackend(self.containers[service], base_url=self.base_url, api_timeout_seconds=self.api_timeout_seconds)
            await backend.open()
            self._backends[service] = backend
            self._pumps.append(asyncio.create_task(self._pump(service, backend), name=f"compose-events-{service}"))
        log.info("compose_stack_opened", project=self.project, services=list(self.graph.services))

    def service_backend(self, service: str) -> DockerBackend:
        """Return the DockerBackend of one service's container; ``open()`` must have run."""
        return self._backends[service]

    @property
    def events(self) -> asyncio.Queue[tuple[str, BackendEvent]]:
        """(service, event) for every container of the stack. ``run()`` consumes it; without ``run()``, the caller does."""
        return self._events

    async def _pump(self, service: str, backend: DockerBackend) -> None:
        while True:
            event = await backend.events.get()
            await self._events.put((service, event))

    async def run(self) -> None:
        """Recover services as failures arrive from the event stream or the poll, until cancelled."""
        poll = asyncio.create_task(self._poll_loop(), name=f"compose-poll-{self.project}")
        try:
            while True:
                service, event = await self._events.get()
                failure = self._failure_from_event(service, event)
                if failure is not None:
                    await self._recover_failure(failure)
        finally:
            poll.cancel()
            await asyncio.gather(poll, return_exceptions=True)

    def _failure_from_event(self, service: str, event: BackendEvent) -> FailureRecord | None:
        now = time.time()
        if event.kind == "oom":
            log.warning("compose_service_oom", project=self.project, service=service)
            return None  # the exit that follows carries the OOM flag
        if event.kind == "health" and event.detail == "unhealthy":
            return FailureRecord(service, "unhealthy", now)
        if event.kind != "exited" or event.expected or event.exit is None:
            return None
        if service in self._one_shot and event.exit.code == 0:
            return None
        return FailureRecord(
            service,
            "oom" if event.exit.oom_killed else "exited",
            event.exit.at or now,
            exit_code=event.exit.code,
            oom_killed=event.exit.oom_killed,
            output_tail=event.exit.output_tail[-OUTPUT_TAIL_LINES:],
        )

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_seconds)
            for service in self.graph.start_order():
                if self._recovery_lock.locked():
                    break
                try:
                    state = await self.state(service)
                except BackendError as error:
                    log.warning("compose_poll_failed", project=self.project, service=service, error=str(error))
                    break
                if self._is_ready_or_starting(service, state):
                    continue
                reason = "unhealthy" if state.health == "unhealthy" else "not_running"
                log.warning("compose_poll_found_failure", project=self.project, service=service, reason=reason, status=state.status)
                await self._recover_failure(
                    FailureRecord(service, reason, time.time(), exit_code=state.exit_code, oom_killed=state.oom_killed)
                )

    def _is_ready_or_starting(self, service: str, state: ServiceState) -> bool:
        if service in self._one_shot and not state.running:
            return state.exit_code == 0
        return state.running and not state.paused and state.health != "unhealthy"

    async def _recover_failure(self, failure: FailureRecord) -> None:
        # An earlier recovery may have restarted this service already, for
        # example after an engine restart, which reports every container's exit.
        # NOTE: a container that Docker's own restart policy restarted counts as
        # not ready until its health check passes, so it is restarted once more.
        try:
            state = await self.state(failure.service)
        except BackendError as error:
            log.warning("compose_inspect_failed", project=self.project, service=failure.service, error=str(error))
        else:
            if self._is_ready(failure.service, state):
                log.info("compose_failure_already_recovered", project=self.project, service=failure.service, reason=failure.reason)
                return
            if not state.running and state.oom_killed and not failure.oom_killed:
                # The engine's oom event can be missing, but State.OOMKilled is set.
                failure = replace(failure, reason="oom", oom_killed=True)
        if not failure.output_tail:
            failure = await self._with_output_tail(failure)
        self.failures[failure.service] = failure
        log.warning(
            "compose_service_failed",
            project=self.project,
            service=failure.service,
            reason=failure.reason,
            exit_code=failure.exit_code,
            oom_killed=failure.oom_killed,
        )
        report = await self.recover(failure.service)
        self._drain_events_caused_by_recovery()
        if not report.succeeded:
            log.error("compose_recovery_failed", project=self.project, service=failure.service, error=report.error)

    def _drain_events_caused_by_recovery(self) -> None:
        """Drop queued start and health events, which the recovery's own restarts produce."""
        kept = []
        while not self._events.empty():
            service, event = self._events.get_nowait()
            if event.kind == "exited" and not event.expected:
                kept.append((service, event))
        for item in kept:
            self._events.put_nowait(item)

    async def _with_output_tail(self, failure: FailureRecord) -> FailureRecord:
        container = self.containers[failure.service]
        try:
            output = await self._call("read the log of", lambda api: api.logs(container, tail=OUTPUT_TAIL_LINES))
        except BackendError as error:
            log.warning("compose_logs_failed", project=self.project, service=failure.service, error=str(error))
            return failure
        lines = output.decode("utf-8", errors="replace").splitlines() if isinstance(output, bytes) else []
        return replace(failure, output_tail=tuple(lines))

    async def recover(self, failed: str) -> RecoveryReport:
        """Recover ``failed`` and its dependents as the module docstring describes; one recovery runs at a time."""
        plan = self.graph.restart_plan(failed)
        report = RecoveryReport(failed=failed)
        async with self._recovery_lock:
            log.info("compose_recovery_started", project=self.project, service=failed, steps=list(plan.steps))
            started = time.monotonic()
            try:
                for service in plan.dependencies:
                    report.steps.append(await self._ensure_ready(service))
                for service in (failed, *plan.dependents):
                    report.steps.append(await self._restart_until_ready(service))
            except BackendError as error:
                report.error = str(error)
            self.recoveries.append(report)
            if report.succeeded:
                log.info(
                    "compose_recovery_finished",
                    project=self.project,
                    service=failed,
                    steps=[f"{step.service}:{step.action}" for step in report.steps],
                    duration_seconds=round(time.monotonic() - started, 3),
                )
        return report

    async def _ensure_ready(self, service: str) -> RecoveryStep:
        """Leave a ready dependency alone; restart one that is not, and wait until it is ready."""
        started = time.monotonic()
        state = await self.state(service)
        if self._is_ready(service, state):
            return RecoveryStep(service, "checked", started, time.monotonic())
        log.warning("compose_dependency_not_ready", project=self.project, service=service, status=state.status, health=state.health)
        return await self._restart_until_ready(service)

    async def _restart_until_ready(self, service: str) -> RecoveryStep:
        backend = self._backends[service]
        started = time.monotonic()
        state = await self.state(service)
        if state.paused:
            # The engine cannot stop a paused container, so it is unpaused first and then restarted.
            await self._call("unpause", lambda api: api.unpause(self.containers[service]))
        action = "restarted" if state.running else "started"
        log.info("compose_service_restarting", project=self.project, service=service, action=action)
        await backend.restart(None, self.grace_seconds)
        await self.wait_ready(service, self.ready_timeout_seconds)
        return RecoveryStep(service, action, started, time.monotonic())

    async def wait_ready(self, service: str, timeout_seconds: float) -> ServiceState:
        """Wait until ``service`` is ready; raise RecoveryError with its state and log tail on timeout or exit."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            state = await self.state(service)
            if self._is_ready(service, state):
                return state
            exited_for_good = not state.running and service not in self._one_shot and state.status in ("exited", "dead")
            if exited_for_good or time.monotonic() >= deadline:
                break
            await asyncio.sleep(READY_POLL_SECONDS)

        container = self.containers[service]
        tail = await self._call("read the log of", lambda api: api.logs(container, tail=10))
        text = tail.decode("utf-8", errors="replace").strip() if isinstance(tail, bytes) else ""
        what = f"exited with code {state.exit_code}" if not state.running else f"is {state.status}, health {state.health}"
        raise RecoveryError(
            f"service {service!r} of project {self.project!r} did not become ready within {timeout_seconds} s: "
            f"it {what}. Last log lines:\n{text}"
        )

    def _is_ready(self, service: str, state: ServiceState) -> bool:
        if service in self._one_shot:
            return not state.running and state.exit_code == 0
        if not state.running or state.paused:
            return False
        return state.health in (None, "healthy")

    async def state(self, service: str) -> ServiceState:
        """Inspect the container of ``service``."""
        container = self.containers[service]
        info = await self._call("inspect", lambda api: api.inspect_container(container))
        state = info.get("State") or {}
        health = state.get("Health") or {}
        return ServiceState(
            service=service,
            container_id=container,
            running=bool(state.get("Running")),
            paused=bool(state.get("Paused")),
            status=str(state.get("Status") or ""),
            health=health.get("Status"),
            exit_code=state.get("ExitCode"),
            oom_killed=bool(state.get("OOMKilled")),
        )

    async def close(self) -> None:
        """Stop following events and close the engine connections. The containers keep running."""
        for task in self._pumps:
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self._pumps.clear()
        for backend in self._backends.values():
            await backend.close()
        self._backends.clear()
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.to_thread(client.close)
        log.info("compose_stack_closed", project=self.project)

    def _api(self) -> docker.APIClient:
        """Return the API client, connecting on first use; called from worker threads."""
        with self._client_lock:
            if self._client is None:
                if self.base_url is None:
                    self._client = docker.from_env(timeout=self.api_timeout_seconds)
                else:
                    self._client = docker.DockerClient(base_url=self.base_url, timeout=self.api_timeout_seconds)
            return self._client.api

    async def _call(self, action: str, operation: Any) -> Any:
        """Run ``operation`` on the API client in a worker thread; raise BackendError on any engine failure."""
        try:
            return await asyncio.to_thread(lambda: operation(self._api()))
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            raise BackendError(
                f"Docker engine failed to {action} the containers of Compose project {self.project!r}: {error}"
            ) from error
