"""Run and watch Prometheus in one existing Docker container.

The backend starts, stops and restarts the container and reads its state. It
never creates, removes or reconfigures it, so create the container first (for
example with ``docker create`` or ``docker run``).
"""

from __future__ import annotations

import asyncio
import collections
import math
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, TypeVar

import docker
import docker.errors
import requests
import structlog

from promwatchd.backends.base import BackendError, BackendEvent, BackendStatus, ExitInfo

log = structlog.get_logger(__name__)

T = TypeVar("T")

DEFAULT_ENGINE_ADDRESS = "unix:///var/run/docker.sock"
"""Engine address the docker SDK uses on Linux when neither base_url nor DOCKER_HOST is set."""

OUTPUT_TAIL_MAX_LINES = 200
"""Number of log lines fetched and cached on each die event."""

EXIT_INFO_TAIL_LINES = 50
"""Number of cached log lines copied into the ExitInfo of an ``exited`` event."""

EVENTS_QUEUE_MAX_SIZE = 1000
"""Maximum number of unread events on ``events``. When the queue is full, new events are dropped and logged."""

RECONNECT_INITIAL_DELAY_SECONDS = 0.5
RECONNECT_MAX_DELAY_SECONDS = 30.0
"""The event thread doubles its wait after each failed connection, up to this maximum."""

CLOSE_JOIN_EXTRA_SECONDS = 5.0
"""Time ``close()`` waits for the event thread beyond the API timeout."""


class DockerBackend:
    """Start, stop and watch Prometheus in one existing Docker container.

    Every SDK call runs in a worker thread (``asyncio.to_thread``), so the event
    loop does not wait on the engine. A background thread follows the engine's
    event stream for the container and puts these on ``events``:

    - ``started`` (detail ``start``) when the container starts;
    - ``exited`` (detail ``die``) when it stops for any reason, including a
      stop requested through this backend, with the exit code and output tail;
    - ``oom`` (detail ``oom``) when the kernel OOM killer killed a process in
      it, just before the matching ``exited``;
    - ``health`` with detail ``starting``, ``healthy`` or ``unhealthy`` when the
      container's health check status changes.

    ``events`` is created in the constructor. An asyncio.Queue binds to the
    running event loop on first use (Python 3.10 and later), so use one backend
    from one event loop. The event thread starts in ``open()``, and ``start``,
    ``stop``, ``restart`` and ``status`` call ``open()`` when it has not run yet.
    Events from before the first subscription are not reported: call
    ``status()`` for the state at that time.
    """

    name = "docker"
    supports_fallback = False

    def __init__(
        self,
        container: str,
        base_url: str | None = None,
        api_timeout_seconds: float = 30.0,
    ) -> None:
        """Prepare a backend for ``container``, a name or id, without contacting the engine.

        ``base_url`` is the engine address, such as ``unix:///run/docker.sock``.
        When it is None, the SDK reads DOCKER_HOST, DOCKER_TLS_VERIFY and
        DOCKER_CERT_PATH (``docker.from_env``). ``api_timeout_seconds`` limits
        each API call. Stop and restart get their grace period added to it.
        """
        self.container = container
        self.base_url = base_url
        self.api_timeout_seconds = api_timeout_seconds
        self.engine_address = base_url or os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE_ADDRESS
        self.events: asyncio.Queue[BackendEvent] = asyncio.Queue(maxsize=EVENTS_QUEUE_MAX_SIZE)

        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._first_attempt_done = threading.Event()
        self._dropped_events = 0

        # The API client serves the async methods. The event thread has its own
        # client, so that closing the event stream never touches their connections.
        self._client_lock = threading.Lock()
        self._client: docker.DockerClient | None = None
        self._events_client: docker.DockerClient | None = None
        self._stream_lock = threading.Lock()
        self._stream: Any = None

        # One deadline per exit this backend caused (stop, restart), so that the
        # matching die event is reported as expected, not as a crash.
        self._expected_lock = threading.Lock()
        self._expected_exits: list[float] = []

        self._tail_lock = threading.Lock()
        self._tail: collections.deque[str] = collections.deque(maxlen=OUTPUT_TAIL_MAX_LINES)

        # State last reported on ``events``, read and written by the event thread only.
        # None until the first connection, whose state is not reported as an event.
        self._known_running: bool | None = None
        self._known_started_at: str | None = None
        self._oom_pending = False

    async def __aenter__(self) -> DockerBackend:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Start the event thread and wait until it has subscribed to the engine's events.

        It returns early when the first subscription fails (the thread keeps
        retrying) or takes longer than the API timeout. Later calls do nothing.
        Raises RuntimeError after ``close()``.
        """
        if self._closed:
            raise RuntimeError(f"DockerBackend for container {self.container!r} is closed")

        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.Thread(
                target=self._follow_events,
                name=f"promwatchd-docker-events-{self.container}",
                daemon=True,
            )
            self._thread.start()
            log.info("docker_backend_opened", container=self.container, engine=self.engine_address)

        # Concurrent callers all wait, so none of them acts before the subscription.
        if not self._first_attempt_done.is_set():
            await asyncio.to_thread(self._first_attempt_done.wait, self.api_timeout_seconds)

    async def start(self, config_file: Path | None = None) -> None:
        """Start the container, or do nothing when it is running.

        ``config_file`` is not supported and is ignored (with a warning): the
        Prometheus command line is fixed when the container is created, which is
        also why ``supports_fallback`` is False.
        """
        await self.open()
        self._warn_config_ignored(config_file)

        started = time.monotonic()
        await self._call("start", lambda api: api.start(self.container))
        log.info("container_started", container=self.container, duration_seconds=_elapsed(started))

    async def stop(self, grace_seconds: float) -> None:
        """Stop the container, with SIGKILL when it still runs after ``grace_seconds``.

        The engine first sends the container's stop signal, which is SIGTERM
        unless the image or ``docker create --stop-signal`` sets another. The
        engine API takes whole seconds, so ``grace_seconds`` is rounded up.
        Stopping a stopped container does nothing.
        """
        await self.open()
        await self._stop_or_restart("stop", grace_seconds)

    async def restart(self, config_file: Path | None, grace_seconds: float) -> None:
        """Restart the container, or start it when it is stopped.

        The stop works as in ``stop``, with ``grace_seconds`` rounded up to whole
        seconds. ``config_file`` is ignored, as in ``start``.
        """
        await self.open()
        self._warn_config_ignored(config_file)
        await self._stop_or_restart("restart", grace_seconds)

    def _warn_config_ignored(self, config_file: Path | None) -> None:
        if config_file is not None:
            log.warning(
                "docker_config_file_ignored",
                container=self.container,
                config_file=str(config_file),
                reason="the docker backend cannot change the Prometheus command line",
            )

    async def _stop_or_restart(self, action: str, grace_seconds: float) -> None:
        """Run the engine's stop or restart with the grace period in whole seconds, marking the exit as ours."""
        timeout = _whole_seconds(grace_seconds)
        await self._expect_exit(timeout)

        started = time.monotonic()
        if action == "stop":
            await self._call(action, lambda api: api.stop(self.container, timeout=timeout))
        else:
            await self._call(action, lambda api: api.restart(self.container, timeout=timeout))
        log.info(
            "container_stopped" if action == "stop" else "container_restarted",
            container=self.container,
            grace_seconds=timeout,
            duration_seconds=_elapsed(started),
        )

    async def _expect_exit(self, grace_seconds: int) -> None:
        """Mark the next die event as caused by us when the container runs now."""
        info = await self._call("inspect", lambda api: api.inspect_container(self.container))
        if not (info.get("State") or {}).get("Running"):
            return
        deadline = time.time() + grace_seconds + self.api_timeout_seconds + CLOSE_JOIN_EXTRA_SECONDS
        with self._expected_lock:
            self._expected_exits.append(deadline)

    def _consume_expected_exit(self) -> bool:
        now = time.time()
        with self._expected_lock:
            self._expected_exits = [deadline for deadline in self._expected_exits if deadline >= now]
            if not self._expected_exits:
                return False
            self._expected_exits.pop(0)
            return True

    async def status(self) -> BackendStatus:
        """Inspect the container and return its state.

        ``started_at`` is set only while the container runs, and ``last_exit``
        only while it does not. ``detail`` contains ``container_id``, ``state``
        (the engine's State.Status, such as ``running`` or ``exited``),
        ``health`` (None without a health check) and ``restart_count``.
        """
        await self.open()
        info = await self._call("inspect", lambda api: api.inspect_container(self.container))
        return self._status_from_inspect(info)

    def output_tail(self, lines: int = 50) -> list[str]:
        """Return up to ``lines`` cached log lines, oldest first.

        The cache is the container's log (stdout and stderr) as the event thread
        fetched it at the last exit it saw, at most OUTPUT_TAIL_MAX_LINES lines.
        It is empty before that first exit and does not follow output written since.
        """
        if lines <= 0:
            return []
        with self._tail_lock:
            cached = list(self._tail)
        return cached[-lines:]

    async def close(self) -> None:
        """Stop the event thread and close the engine connections. The container keeps running."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        self._close_stream()

        thread = self._thread
        if thread is not None:
            await asyncio.to_thread(thread.join, self.api_timeout_seconds + CLOSE_JOIN_EXTRA_SECONDS)
            if thread.is_alive():
                # The thread is a daemon thread, so it cannot keep the process alive.
                log.warning("docker_events_thread_still_running", container=self.container)

        with self._client_lock:
            clients = [self._client, self._events_client]
            self._client = None
            self._events_client = None
        for client in clients:
            if client is not None:
                await asyncio.to_thread(client.close)
        log.info("docker_backend_closed", container=self.container, engine=self.engine_address)

    # Engine calls

    def _connect(self) -> docker.DockerClient:
        """Create a client, which contacts the engine to agree on the API version."""
        if self.base_url is None:
            return docker.from_env(timeout=self.api_timeout_seconds)
        return docker.DockerClient(base_url=self.base_url, timeout=self.api_timeout_seconds)

    def _api(self) -> docker.APIClient:
        """Return the API client of the async methods, connecting on first use."""
        with self._client_lock:
            if self._client is None:
                self._client = self._connect()
            return self._client.api

    def _events_api(self) -> docker.APIClient:
        """Return the API client of the event thread, connecting on first use."""
        with self._client_lock:
            if self._events_client is None:
                self._events_client = self._connect()
            return self._events_client.api

    async def _call(self, action: str, operation: Callable[[docker.APIClient], T]) -> T:
        """Run ``operation`` on the API client in a worker thread.

        Raises BackendError for any engine error or connection failure.
        """
        if self._closed:
            raise RuntimeError(f"DockerBackend for container {self.container!r} is closed")
        try:
            return await asyncio.to_thread(lambda: operation(self._api()))
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            raise self._backend_error(action, error) from error

    def _backend_error(self, action: str, error: Exception) -> BackendError:
        """Describe a failed engine call: what failed, on which container and engine, and what to do."""
        container = self.container
        engine = self.engine_address
        if isinstance(error, docker.errors.NotFound):
            return BackendError(
                f"Docker container {container!r} not found on engine {engine}. "
                "Create the container first, or set the name of an existing one."
            )
        if isinstance(error, docker.errors.APIError):
            return BackendError(
                f"Docker engine {engine} failed to {action} container {container!r}: "
                f"{error.explanation or error}"
            )
        if isinstance(error, requests.exceptions.Timeout):
            return BackendError(
                f"Docker engine {engine} timed out after {self.api_timeout_seconds} s "
                f"(plus any grace period) trying to {action} container {container!r}. "
                "Check that dockerd is responsive, or raise the API timeout."
            )
        return BackendError(
            f"Docker engine {engine} is unreachable, so promwatchd could not {action} "
            f"container {container!r}: {error}. Check that dockerd is running at that "
            "address and that promwatchd may open its socket."
        )

    def _status_from_inspect(self, info: dict[str, Any]) -> BackendStatus:
        state = info.get("State") or {}
        running = bool(state.get("Running"))
        health = state.get("Health") or {}

        last_exit = None
        finished_at = _parse_docker_time(state.get("FinishedAt"))
        if not running and finished_at is not None:
            code = state.get("ExitCode")
            last_exit = ExitInfo(
                code=code,
                signal=_signal_from_exit_code(code),
                oom_killed=bool(state.get("OOMKilled")),
                at=finished_at,
                output_tail=tuple(self.output_tail(EXIT_INFO_TAIL_LINES)),
            )

        return BackendStatus(
            running=running,
            pid=(state.get("Pid") or None) if running else None,
            started_at=_parse_docker_time(state.get("StartedAt")) if running else None,
            last_exit=last_exit,
            detail={
                "container_id": info.get("Id"),
                "state": state.get("Status"),
                "health": health.get("Status"),
                "restart_count": info.get("RestartCount", 0),
            },
        )

    # Event thread

    def _follow_events(self) -> None:
        """Follow the engine's events for the container until ``close()``, reconnecting on failure."""
        failures = 0
        while not self._closing.is_set():
            error: Exception | None = None
            try:
                self._stream_events()
                failures = 0
            except (docker.errors.DockerException, requests.exceptions.RequestException) as caught:
                error = caught
                failures += 1
            except Exception as caught:  # noqa: BLE001 - a bug here must not end crash detection
                log.exception("docker_events_failed", container=self.container, engine=self.engine_address)
                error = caught
                failures += 1

            self._first_attempt_done.set()
            if self._closing.is_set():
                break

            delay = min(
                RECONNECT_MAX_DELAY_SECONDS,
                RECONNECT_INITIAL_DELAY_SECONDS * 2 ** min(failures, 16),
            )
            log.warning(
                "docker_events_disconnected",
                container=self.container,
                engine=self.engine_address,
                error=str(error) if error is not None else "event stream ended",
                failures=failures,
                retry_in_seconds=delay,
            )
            self._closing.wait(delay)

        self._first_attempt_done.set()
        log.info("docker_events_stopped", container=self.container, engine=self.engine_address)

    def _stream_events(self) -> None:
        """Subscribe to the container's events and handle them until the stream ends.

        Raises the SDK's errors when the engine cannot be reached.
        """
        api = self._events_api()
        stream = api.events(
            decode=True,
            filters={"type": "container", "container": self.container},
        )
        with self._stream_lock:
            self._stream = stream
        if self._closing.is_set():
            # close() ran before the stream was stored, so it could not close it.
            self._close_stream()
            return

        log.info("docker_events_connected", container=self.container, engine=self.engine_address)
        # Subscribe first, then inspect, so that a change between the two is not lost.
        self._resync_state(api)
        self._first_attempt_done.set()

        for event in stream:
            if self._closing.is_set():
                break
            self._handle_event(api, event)

        with self._stream_lock:
            self._stream = None

    def _close_stream(self) -> None:
        """Close the event stream, which unblocks the thread's read."""
        with self._stream_lock:
            stream = self._stream
            self._stream = None
        if stream is None:
            return
        try:
            stream.close()
        except (OSError, AttributeError, docker.errors.DockerException) as error:
            # The engine may have closed the connection first, so this is not a failure.
            log.debug("docker_events_close_failed", container=self.container, error=str(error))

    def _resync_state(self, api: docker.APIClient) -> None:
        """Report a start or exit that happened while the event stream was down.

        The first connection only records the state.
        """
        try:
            info = api.inspect_container(self.container)
        except docker.errors.NotFound:
            log.warning(
                "docker_container_not_found",
                container=self.container,
                engine=self.engine_address,
            )
            info = {}

        state = info.get("State") or {}
        running = bool(state.get("Running"))
        started_at = state.get("StartedAt")
        previous_running = self._known_running
        previous_started_at = self._known_started_at
        self._known_running = running
        self._known_started_at = started_at
        if previous_running is None:
            return

        # StartedAt is unknown (None) when the inspect after a start event failed.
        restarted = running and previous_started_at is not None and started_at != previous_started_at
        if previous_running and (not running or restarted):
            # When the container restarted meanwhile, the old run's exit code is gone.
            code = None if running else state.get("ExitCode")
            oom_killed = False if running else bool(state.get("OOMKilled"))
            finished_at = _parse_docker_time(state.get("FinishedAt")) or time.time()
            self._report_exit(api, code, oom_killed, finished_at, missed=True)

        if running and (not previous_running or restarted):
            log.warning("docker_start_missed", container=self.container)
            self._emit(BackendEvent(kind="started", detail="start"))

    def _handle_event(self, api: docker.APIClient, event: dict[str, Any]) -> None:
        action = event.get("Action") or event.get("status") or ""
        if action == "die":
            self._on_die(api, event)
        elif action == "start":
            self._on_start(api)
        elif action == "oom":
            self._oom_pending = True
            log.warning("docker_event_oom", container=self.container)
            self._emit(BackendEvent(kind="oom", detail="oom"))
        elif action.startswith("health_status"):
            health = action.partition(":")[2].strip()
            log.info("docker_event_health_status", container=self.container, health=health)
            self._emit(BackendEvent(kind="health", detail=health))
        elif action == "destroy":
            log.warning("docker_event_destroy", container=self.container)
            self._known_running = False
            self._known_started_at = None

    def _on_die(self, api: docker.APIClient, event: dict[str, Any]) -> None:
        if self._known_running is False:
            # _resync_state already reported this exit, because it happened
            # between the subscription and the inspect.
            log.debug("docker_event_duplicate_skipped", container=self.container, action="die")
            return
        self._known_running = False

        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        code = _parse_int(attributes.get("exitCode"))
        oom_killed = self._oom_pending
        self._oom_pending = False
        time_nano = event.get("timeNano")
        exited_at = time_nano / 1e9 if isinstance(time_nano, int) else time.time()

        self._report_exit(api, code, oom_killed, exited_at, missed=False)

    def _report_exit(self, api: docker.APIClient, code: int | None, oom_killed: bool, at: float, missed: bool) -> None:
        """Emit an ``exited`` event with the output tail; ``missed`` when found by a resync, not an event."""
        tail = self._refresh_output_tail(api)
        exit_info = ExitInfo(
            code=code,
            signal=_signal_from_exit_code(code),
            oom_killed=oom_killed,
            at=at,
            output_tail=tuple(tail[-EXIT_INFO_TAIL_LINES:]),
        )
        expected = self._consume_expected_exit()
        log_method = log.warning if missed else log.info
        log_method(
            "docker_exit_missed" if missed else "docker_event_die",
            container=self.container,
            exit_code=code,
            signal=exit_info.signal,
            oom_killed=oom_killed,
            expected=expected,
        )
        self._emit(BackendEvent(kind="exited", exit=exit_info, detail="die", expected=expected))

    def _on_start(self, api: docker.APIClient) -> None:
        if self._known_running is True:
            log.debug("docker_event_duplicate_skipped", container=self.container, action="start")
            return
        self._known_running = True
        self._oom_pending = False

        # StartedAt lets _resync_state notice a restart while the stream is down.
        try:
            info = api.inspect_container(self.container)
            self._known_started_at = (info.get("State") or {}).get("StartedAt")
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            log.warning("docker_inspect_failed", container=self.container, error=str(error))
            self._known_started_at = None

        log.info("docker_event_start", container=self.container)
        self._emit(BackendEvent(kind="started", detail="start"))

    def _refresh_output_tail(self, api: docker.APIClient) -> list[str]:
        """Fetch the container's last log lines into the cache and return the cache.

        On failure it logs the error and keeps the previous lines.
        """
        try:
            output = api.logs(self.container, stdout=True, stderr=True, tail=OUTPUT_TAIL_MAX_LINES)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
            log.warning("docker_logs_failed", container=self.container, error=str(error))
        else:
            text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else str(output)
            with self._tail_lock:
                self._tail.clear()
                self._tail.extend(text.splitlines())
        with self._tail_lock:
            return list(self._tail)

    def _emit(self, event: BackendEvent) -> None:
        """Hand ``event`` from the event thread to the event loop, which puts it on ``events``."""
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._put_event, event)
        except RuntimeError:
            log.warning("backend_event_dropped", container=self.container, kind=event.kind, reason="event loop closed")

    def _put_event(self, event: BackendEvent) -> None:
        try:
            self.events.put_nowait(event)
        except asyncio.QueueFull:
            self._dropped_events += 1
            # Log the first drop and then every 100th, so that a stalled reader does not flood the log.
            if self._dropped_events % 100 == 1:
                log.warning(
                    "backend_event_dropped",
                    container=self.container,
                    kind=event.kind,
                    reason="event queue full",
                    dropped_total=self._dropped_events,
                )


def _elapsed(started: float) -> float:
    return round(time.monotonic() - started, 3)


def _whole_seconds(seconds: float) -> int:
    """Round a grace period up to the whole seconds that the engine API accepts."""
    return max(0, math.ceil(seconds))


def _parse_int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _signal_from_exit_code(code: int | None) -> int | None:
    """Infer the signal that ended a container from its exit code.

    Docker reports a container killed by signal N as exit code 128 + N, so a
    process that called exit(128 + N) itself looks the same.
    """
    if code is None or not 128 < code <= 128 + 64:
        return None
    return code - 128


def _parse_docker_time(value: object) -> float | None:
    """Convert an engine timestamp (RFC 3339 with nanoseconds) to epoch seconds.

    The engine's zero time (year 1) means "never" and becomes None.
    """
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.year <= 1:
        return None
    return parsed.timestamp()
