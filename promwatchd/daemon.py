"""Wire the daemon together: settings, logging, backend, supervisor, HTTP server, signals."""

from __future__ import annotations

import asyncio
import signal
import sys

import structlog

from promwatchd.backends.base import Backend, BackendError
from promwatchd.backends.process import ProcessBackend
from promwatchd.logsetup import configure_logging
from promwatchd.metrics import Metrics
from promwatchd.server import StatusServer
from promwatchd.settings import Settings, SettingsError, load_settings
from promwatchd.supervisor import Supervisor

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2


class StartupError(Exception):
    """promwatchd cannot start with these settings; the message names the setting and the fix."""


def make_backend(settings: Settings) -> Backend:
    """Build the configured backend; raise StartupError when its prerequisites are missing."""
    if settings.backend == "docker":
        from promwatchd.backends.docker import DockerBackend

        return DockerBackend(settings.docker.container, settings.docker.engine_url)
    if settings.backend == "compose":
        from promwatchd.backends.compose_backend import ComposeBackend

        compose = settings.compose
        try:
            return ComposeBackend(
                compose.file,
                compose.project,
                compose.service,
                settings.docker.engine_url,
                compose.ready_timeout,
                tuple(compose.exclude_services),
            )
        except BackendError as error:
            raise StartupError(f"{_where(settings)}: {error}") from None

    process = settings.process
    assert process.data_dir is not None
    backend = ProcessBackend(
        binary=process.binary,
        config_file=process.config_file,
        data_dir=process.data_dir,
        listen_address=process.listen_address,
        extra_args=process.extra_args,
        tail_lines=process.output_tail_lines,
    )
    try:
        backend.resolve_binary()
    except BackendError as error:
        raise StartupError(f"{_where(settings)}: {error}") from None
    return backend


def _where(settings: Settings) -> str:
    return f"settings {settings.source}" if settings.source is not None else "default settings"


def run_daemon(settings: Settings, overrides: dict[str, object] | None = None) -> int:
    """Run until SIGTERM or SIGINT; return the process exit code.

    ``overrides`` are the CLI flags' values, applied again on each SIGHUP reload.
    """
    configure_logging(settings.log.level, settings.log.format)
    try:
        return asyncio.run(_main(settings, overrides or {}))
    except StartupError as error:
        print(f"promwatchd: {error}", file=sys.stderr)
        return EXIT_USAGE


async def _main(settings: Settings, overrides: dict[str, object]) -> int:
    backend = make_backend(settings)
    try:
        token = settings.read_token()
    except SettingsError as error:
        raise StartupError(f"{_where(settings)}: {error}") from None

    metrics = Metrics()
    supervisor = Supervisor(settings, backend, metrics)
    server = StatusServer(supervisor, metrics, settings.server.listen_address, token)
    try:
        await server.start()
    except (OSError, ValueError) as error:
        raise StartupError(
            f"{_where(settings)}: cannot listen on {settings.server.listen_address!r} (server.listen_address): {error}; "
            "choose a free address with --listen or server.listen_address"
        ) from None

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _request_stop, stop, signum)
    reloads: set[asyncio.Task[None]] = set()
    loop.add_signal_handler(signal.SIGHUP, _schedule_reload, supervisor, overrides, reloads)
    log.info("promwatchd_started", listen_address=settings.server.listen_address, settings_file=str(settings.source))

    try:
        await supervisor.run(stop)
    finally:
        await server.stop()
        log.info("promwatchd_stopped")
    return EXIT_OK


def _request_stop(stop: asyncio.Event, signum: int) -> None:
    log.info("signal_received", signal=signal.Signals(signum).name, action="stop")
    stop.set()


def _schedule_reload(supervisor: Supervisor, overrides: dict[str, object], reloads: set[asyncio.Task[None]]) -> None:
    task = asyncio.get_running_loop().create_task(_reload_settings(supervisor, overrides), name="settings-reload")
    reloads.add(task)
    task.add_done_callback(reloads.discard)


async def _reload_settings(supervisor: Supervisor, overrides: dict[str, object]) -> None:
    source = supervisor.settings.source
    log.info("signal_received", signal="SIGHUP", action="reload settings", settings_file=str(source))
    try:
        # Reading and validating the file is blocking I/O, so it runs off the event loop.
        settings = await asyncio.to_thread(load_settings, source, None, overrides)
    except SettingsError as error:
        log.error("settings_reload_failed", error=str(error), kept="previous settings")
        return

    configure_logging(settings.log.level, settings.log.format)
    needs_restart = supervisor.apply_settings(settings)
    if needs_restart:
        log.warning("settings_need_daemon_restart", fields=needs_restart)
