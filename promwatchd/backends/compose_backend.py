"""The compose backend: the supervisor's Backend for Prometheus inside a Compose project.

The supervisor's state machine decides when to restart; a restart here is
``ComposeStack.recover``: dependencies first (made ready), then Prometheus
until it is ready, then its dependents. Prometheus's own container events
are forwarded to the supervisor; the other services' events are logged.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from promwatchd.backends.base import BackendError, BackendEvent, BackendStatus
from promwatchd.backends.compose import ComposeStack
from promwatchd.compose.graph import GraphError, build_graph
from promwatchd.compose.source import ComposeFileError, load_compose_file

log = structlog.get_logger(__name__)


class ComposeBackend:
    """Start, stop and restart the Prometheus service of one Compose project, in dependency order."""

    name = "compose"
    supports_fallback = False
    """The service's command line and config mount are fixed by the compose file."""

    def __init__(
        self,
        compose_file: Path,
        project: str | None,
        service: str,
        base_url: str | None = None,
        ready_timeout_seconds: float = 120.0,
        exclude_services: tuple[str, ...] = (),
    ) -> None:
        """``exclude_services`` are left alone, such as promwatchd's own sidecar, which must not restart itself."""
        try:
            compose = load_compose_file(compose_file)
            graph = build_graph(compose.services).without(frozenset(exclude_services) - {service})
        except (ComposeFileError, GraphError) as error:
            raise BackendError(f"cannot use compose file {str(compose_file)!r} (setting compose.file): {error}") from None
        if service not in graph.services:
            raise BackendError(
                f"service {service!r} is not in {compose_file} (setting compose.service); "
                f"its services are: {', '.join(graph.services)}"
            )

        # Compose names a project after the directory of its file unless a name is given.
        self.project = project or compose_file.resolve().parent.name
        self.service = service
        self.events: asyncio.Queue[BackendEvent] = asyncio.Queue()
        self.stack = ComposeStack(self.project, graph, base_url=base_url, ready_timeout_seconds=ready_timeout_seconds)
        self._forwarder: asyncio.Task[None] | None = None

    async def open(self) -> None:
        """Find the project's containers and start forwarding Prometheus's events."""
        if self._forwarder is not None:
            return
        await self.stack.open()
        self._forwarder = asyncio.create_task(self._forward(), name=f"compose-forward-{self.project}")

    async def _forward(self) -> None:
        while True:
            service, event = await self.stack.events.get()
            if service == self.service:
                self.events.put_nowait(event)
            else:
                log.info("compose_service_event", project=self.project, service=service, kind=event.kind, detail=event.detail)

    async def start(self, config_file: Path | None = None) -> None:
        await self.open()
        await self.stack.service_backend(self.service).start(None)

    async def stop(self, grace_seconds: float) -> None:
        await self.open()
        await self.stack.service_backend(self.service).stop(grace_seconds)

    async def restart(self, config_file: Path | None, grace_seconds: float) -> None:
        """Recover Prometheus in dependency order; raise BackendError when a step does not become ready."""
        await self.open()
        self.stack.grace_seconds = grace_seconds
        report = await self.stack.recover(self.service)
        if not report.succeeded:
            raise BackendError(report.error)

    async def status(self) -> BackendStatus:
        await self.open()
        return await self.stack.service_backend(self.service).status()

    def output_tail(self, lines: int = 50) -> list[str]:
        if self._forwarder is None:
            return []
        return self.stack.service_backend(self.service).output_tail(lines)

    async def close(self) -> None:
        if self._forwarder is not None:
            self._forwarder.cancel()
            await asyncio.gather(self._forwarder, return_exceptions=True)
        await self.stack.close()
