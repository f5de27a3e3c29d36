"""The process backend: promwatchd starts and owns the ``prometheus`` binary."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import functools
import os
import shutil
import signal
import time
from collections import deque
from pathlib import Path

import structlog

from promwatchd.backends.base import BackendError, BackendEvent, BackendStatus, ExitInfo

log = structlog.get_logger(__name__)

_PR_SET_PDEATHSIG = 1
_LIBC_NAME = ctypes.util.find_library("c")
# Loaded before any fork: the child may only call into it, not load it.
_LIBC = ctypes.CDLL(_LIBC_NAME, use_errno=True) if _LIBC_NAME else None


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to send SIGTERM to the child when promwatchd dies, so it never leaves an orphan.

    Runs in the child between fork and exec. When promwatchd died before the
    request took effect, the child is already an orphan and exits at once.
    """
    if _LIBC is None:
        return
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


class ProcessBackend:
    """Runs Prometheus as a child process and watches it.

    The child's stdout and stderr are merged and kept as a ring of the last
    ``tail_lines`` lines for diagnosis. A stop sends SIGTERM (and SIGCONT, so a
    stopped process can act on it), waits the grace period for the TSDB to
    close cleanly, then sends SIGKILL.
    """

    name = "process"
    supports_fallback = True

    def __init__(
        self,
        binary: str,
        config_file: Path,
        data_dir: Path,
        listen_address: str,
        extra_args: list[str] | None = None,
        tail_lines: int = 200,
    ) -> None:
        self.binary = binary
        self.config_file = config_file
        self.data_dir = data_dir
        self.listen_address = listen_address
        self.extra_args = list(extra_args or [])
        self.events: asyncio.Queue[BackendEvent] = asyncio.Queue()

        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._lines_seen = 0
        self._process: asyncio.subprocess.Process | None = None
        self._started_at: float | None = None
        self._last_exit: ExitInfo | None = None
        self._stopping = False
        self._watchers: set[asyncio.Task[None]] = set()
        self._exited: asyncio.Event = asyncio.Event()
        self._current_config: Path = config_file

    @property
    def lines_seen(self) -> int:
        """Count of output lines Prometheus has written since promwatchd started it the first time."""
        return self._lines_seen

    @property
    def pid(self) -> int | None:
        """The pid of the running child, or None."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        """True while the child process promwatchd started has not exited."""
        return self._process is not None and self._process.returncode is None

    @property
    def current_config(self) -> Path:
        return self._current_config

    def resolve_binary(self) -> str:
        """Return the binary's full path; raise BackendError naming the setting when it is missing."""
        found = shutil.which(self.binary)
        if found is None:
            raise BackendError(
                f"prometheus binary {self.binary!r} not found (setting process.binary); "
                "install it (Debian: apt-get install prometheus) or set process.binary to its full path"
            )
        return found

    def command(self, config_file: Path) -> list[str]:
        return [
            self.resolve_binary(),
            f"--config.file={config_file}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--web.listen-address={self.listen_address}",
            "--web.enable-lifecycle",
            *self.extra_args,
        ]

    async def start(self, config_file: Path | None = None) -> None:
        if self._process is not None and self._process.returncode is None:
            raise BackendError(f"prometheus is already running (pid {self._process.pid}); stop it first")

        config = config_file or self.config_file
        argv = self.command(config)
        await asyncio.to_thread(self.data_dir.mkdir, parents=True, exist_ok=True)

        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=functools.partial(_die_with_parent, os.getpid()),
            )
        except OSError as error:
            raise BackendError(f"cannot start {argv[0]}: {error.strerror}") from error

        self._process = process
        self._started_at = time.time()
        self._stopping = False
        self._exited = asyncio.Event()
        self._current_config = config
        log.info("prometheus_started", pid=process.pid, config_file=str(config), data_dir=str(self.data_dir))

        watcher = asyncio.create_task(self._watch(process), name=f"prometheus-{process.pid}")
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        self.events.put_nowait(BackendEvent("started", detail=f"pid {process.pid}"))

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while True:
            try:
                raw = await process.stdout.readline()
            except (ValueError, asyncio.LimitOverrunError):
                # A line longer than the stream limit: keep a marker, read on.
                raw = b"<line too long, skipped>\n"
            if not raw:
                break
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._tail.append(line)
            self._lines_seen += 1
            log.debug("prometheus_output", pid=process.pid, line=line)

        code = await process.wait()
        exit_info = ExitInfo(
            code=code if code >= 0 else None,
            signal=-code if code < 0 else None,
            at=time.time(),
            output_tail=tuple(self._tail),
        )
        self._last_exit = exit_info
        expected = self._stopping
        self._exited.set()
        log.info(
            "prometheus_exited",
            pid=process.pid,
            exit_code=exit_info.code,
            signal=exit_info.signal,
            expected=expected,
        )
        self.events.put_nowait(BackendEvent("exited", exit=exit_info, expected=expected))

    async def stop(self, grace_seconds: float) -> None:
        process = self._process
        if process is None or process.returncode is not None:
            return

        self._stopping = True
        log.info("prometheus_stopping", pid=process.pid, grace_seconds=grace_seconds)
        _signal(process, signal.SIGTERM)
        _signal(process, signal.SIGCONT)

        try:
            await asyncio.wait_for(self._exited.wait(), timeout=grace_seconds)
        except asyncio.TimeoutError:
            log.warning("prometheus_kill_after_grace", pid=process.pid, grace_seconds=grace_seconds)
            _signal(process, signal.SIGKILL)
            await self._exited.wait()

    async def restart(self, config_file: Path | None, grace_seconds: float) -> None:
        await self.stop(grace_seconds)
        await self.start(config_file)

    async def status(self) -> BackendStatus:
        process = self._process
        running = process is not None and process.returncode is None
        return BackendStatus(
            running=running,
            pid=process.pid if running and process is not None else None,
            started_at=self._started_at if running else None,
            last_exit=self._last_exit,
            detail={"config_file": str(self._current_config)},
        )

    def output_tail(self, lines: int = 50) -> list[str]:
        return list(self._tail)[-lines:]

    async def close(self) -> None:
        for watcher in list(self._watchers):
            if self._process is None or self._process.returncode is not None:
                watcher.cancel()


def _signal(process: asyncio.subprocess.Process, signum: int) -> None:
    # send_signal does nothing once the process is reaped, so a reused pid is never hit.
    try:
        process.send_signal(signum)
    except ProcessLookupError:
        pass
