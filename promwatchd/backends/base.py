"""The interface every backend implements, and the facts it reports."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol


class BackendError(Exception):
    """An operation on the supervised Prometheus failed (start, stop, restart, status)."""


@dataclass(frozen=True)
class ExitInfo:
    """The exit status of the Prometheus process or container."""

    code: int | None
    signal: int | None = None
    oom_killed: bool = False
    at: float = 0.0
    """Wall-clock time of the exit (time.time())."""
    output_tail: tuple[str, ...] = ()
    """The last lines Prometheus wrote before it ended, oldest first."""


@dataclass(frozen=True)
class BackendEvent:
    """Something the backend saw happen, reported as soon as it saw it."""

    kind: Literal["started", "exited", "oom", "health"]
    exit: ExitInfo | None = None
    detail: str = ""
    expected: bool = False
    """True when the backend caused this itself (a stop or restart it was asked for)."""


@dataclass(frozen=True)
class BackendStatus:
    """A point-in-time view of the supervised Prometheus."""

    running: bool
    pid: int | None = None
    started_at: float | None = None
    last_exit: ExitInfo | None = None
    detail: dict[str, object] = field(default_factory=dict)


class Backend(Protocol):
    """Start, stop and watch one Prometheus.

    Implementations never block the event loop: blocking SDK calls and file
    I/O run in threads. Each reports what it sees on ``events`` as soon as it
    sees it, so a crash is noticed without waiting for the next probe.
    """

    name: str
    supports_fallback: bool
    """True when ``start`` can run Prometheus on another config file."""
    events: asyncio.Queue[BackendEvent]

    async def start(self, config_file: Path | None = None) -> None:
        """Start Prometheus, on ``config_file`` when given and supported."""

    async def stop(self, grace_seconds: float) -> None:
        """Stop Prometheus: SIGTERM, then SIGKILL after ``grace_seconds``."""

    async def restart(self, config_file: Path | None, grace_seconds: float) -> None:
        """Stop (when running) and start again."""

    async def status(self) -> BackendStatus:
        """Return the current state of the process or container."""

    def output_tail(self, lines: int = 50) -> list[str]:
        """Return up to ``lines`` of Prometheus's latest output, oldest first."""

    async def close(self) -> None:
        """Release resources (threads, connections). Does not stop Prometheus."""
