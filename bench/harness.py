"""Shared parts of the benchmarks: ports, readiness polling, process control, a promwatchd run.

Standard library only, so the scripts run with any Python 3.11 that can start
the ``promwatchd`` command. Everything listens on 127.0.0.1, and every wait
is bounded in time and in request count.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

DEFAULT_POLL_SECONDS = 0.025
"""Gap between two /-/ready requests, so a measured ready time is late by at most 25 ms."""
REQUEST_TIMEOUT_SECONDS = 0.25
"""Timeout of one benchmark request, so a stopped (SIGSTOP) Prometheus costs 0.25 s per poll, not a stuck loop."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port: int, path: str, timeout: float = REQUEST_TIMEOUT_SECONDS) -> tuple[int | None, bytes]:
    """GET http://127.0.0.1:<port><path>; return (status, body), or (None, b"") when the request failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    except (OSError, http.client.HTTPException):
        return None, b""
    finally:
        connection.close()


@dataclass(frozen=True)
class ReadyObservation:
    """One /-/ready request that returned 200. Times are wall-clock (time.time())."""

    sent_at: float
    answered_at: float


def poll_ready(
    port: int,
    timeout: float,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    accept: Callable[[ReadyObservation], bool] = lambda observation: True,
) -> ReadyObservation | None:
    """Poll Prometheus's /-/ready until a 200 that ``accept`` takes; return it, or None on timeout.

    At most ``timeout / poll_seconds + 1`` requests are sent.
    """
    deadline = time.monotonic() + timeout
    max_requests = int(timeout / poll_seconds) + 1
    for _ in range(max_requests):
        started = time.monotonic()
        if started >= deadline:
            break
        sent_at = time.time()
        status, _ = http_get(port, "/-/ready")
        if status == 200:
            observation = ReadyObservation(sent_at, time.time())
            if accept(observation):
                return observation
        remaining = poll_seconds - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
    return None


def write_prometheus_config(path: Path, prometheus_port: int, scrape_jobs: int = 1) -> None:
    """Write a Prometheus config that scrapes Prometheus itself every second, so the WAL grows.

    Each of the ``scrape_jobs`` jobs scrapes the same target under its own job
    label, so the series count (and the WAL) grows with the job count.
    """
    jobs = "".join(
        f"  - job_name: prometheus-{index}\n"
        "    static_configs:\n"
        f"      - targets: ['127.0.0.1:{prometheus_port}']\n"
        for index in range(scrape_jobs)
    )
    path.write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  evaluation_interval: 15s\n"
        "scrape_configs:\n" + jobs,
        encoding="utf-8",
    )


def prometheus_command(binary: str, config_file: Path, data_dir: Path, port: int) -> list[str]:
    """Return the argv promwatchd's process backend uses (promwatchd/backends/process.py), without extra_args."""
    return [
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
    ]


def directory_bytes(path: Path) -> int:
    """Return the total size of the regular files under ``path`` (0 when it does not exist)."""
    if not path.exists():
        return 0
    return sum(entry.stat().st_size for entry in path.rglob("*") if entry.is_file())


def stop_process(process: subprocess.Popen[Any], grace_seconds: float) -> None:
    """Send SIGTERM, wait up to ``grace_seconds``, then SIGKILL; return once the process is reaped."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def is_prometheus(pid: int) -> bool:
    """Tell whether ``pid`` is a live prometheus process, so a signal never hits a reused pid."""
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0]
    except OSError:
        return False
    return Path(argv0.decode("utf-8", "replace")).name == "prometheus"


def kill_prometheus(pid: int) -> None:
    """SIGKILL a prometheus process left behind, after checking that the pid is still one."""
    if is_prometheus(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def parse_timestamp(text: str) -> float:
    """Convert structlog's ISO 8601 UTC timestamp (2024-05-01T12:00:00.123456Z) to seconds since the epoch."""
    return datetime.fromisoformat(text).timestamp()


PROMETHEUS_READY_MESSAGE = "Server is ready to receive web requests."
"""The message Prometheus 2.42 logs when it turns ready (caller=main.go:973 in its output)."""


def prometheus_ready_time(line: str) -> float | None:
    """Return the ts= of Prometheus's "ready" log line as seconds since the epoch, or None for other lines.

    Prometheus 2.42 logs ts with millisecond resolution, so this time carries
    at most 1 ms of rounding, against one poll interval for /-/ready.
    """
    if PROMETHEUS_READY_MESSAGE not in line:
        return None
    match = re.search(r"\bts=(\S+)", line)
    if match is None:
        return None
    try:
        return parse_timestamp(match.group(1))
    except ValueError:
        return None


def promwatchd_command() -> list[str]:
    """Return the promwatchd command beside this interpreter, else ``python -m promwatchd.cli``."""
    script = Path(sys.executable).parent / "promwatchd"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "promwatchd.cli"]


class DaemonRun:
    """One ``promwatchd run --log-format json`` process, with its log lines parsed as they arrive."""

    def __init__(self, command: list[str], settings_file: Path) -> None:
        self.command = [*command, "run", "--config", str(settings_file), "--log-format", "json"]
        self.events: list[dict[str, Any]] = []
        self.unparsed_lines: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self._condition = threading.Condition()
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "call start() first"
        return self.process.pid

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._reader = threading.Thread(target=self._read_lines, name="promwatchd-log", daemon=True)
        self._reader.start()

    def _read_lines(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            with self._condition:
                if isinstance(event, dict) and "event" in event and "timestamp" in event:
                    event["_at"] = parse_timestamp(event["timestamp"])
                    self.events.append(event)
                else:
                    self.unparsed_lines.append(line)
                self._condition.notify_all()

    def mark(self) -> int:
        """Return the index of the next event, so later waits see only events logged after this call."""
        with self._condition:
            return len(self.events)

    def events_since(self, mark: int) -> list[dict[str, Any]]:
        """Return a copy of the events logged at index ``mark`` or later."""
        with self._condition:
            return list(self.events[mark:])

    def find(self, predicate: Callable[[dict[str, Any]], bool], after: int = 0) -> dict[str, Any] | None:
        """Return the first event at index ``after`` or later that matches, or None."""
        with self._condition:
            for event in self.events[after:]:
                if predicate(event):
                    return event
        return None

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], after: int, timeout: float
    ) -> dict[str, Any] | None:
        """Wait up to ``timeout`` seconds for a matching event logged at index ``after`` or later."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for event in self.events[after:]:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process is None or self.process.poll() is not None:
                    return None
                self._condition.wait(timeout=min(remaining, 0.5))

    def prometheus_pids(self) -> list[int]:
        """Return the pids of every Prometheus promwatchd has started, oldest first."""
        with self._condition:
            return [e["pid"] for e in self.events if e["event"] == "prometheus_started" and "pid" in e]

    def status(self, server_port: int) -> dict[str, Any] | None:
        """Return promwatchd's /api/status document, or None unless it returns a 200 with JSON."""
        status, body = http_get(server_port, "/api/status", timeout=2.0)
        if status != 200:
            return None
        try:
            return json.loads(body)
        except ValueError:
            return None

    def wait_state(self, server_port: int, state: str, timeout: float, poll_seconds: float = 0.1) -> bool:
        """Poll /api/status until its "state" is ``state``; False on timeout or when the daemon exits."""
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / poll_seconds) + 1):
            if time.monotonic() >= deadline or self.process is None or self.process.poll() is not None:
                return False
            document = self.status(server_port)
            if document is not None and document.get("state") == state:
                return True
            time.sleep(poll_seconds)
        return False

    def stop(self, grace_seconds: float) -> int | None:
        """Stop promwatchd (SIGTERM, then SIGKILL after the grace) and any Prometheus it left; return its exit code."""
        if self.process is None:
            return None
        stop_process(self.process, grace_seconds)
        if self._reader is not None:
            self._reader.join(timeout=5)
        for pid in self.prometheus_pids():
            kill_prometheus(pid)
        return self.process.returncode

    def output_tail(self, lines: int = 20) -> list[str]:
        """Return the last log lines as text, for an error message."""
        with self._condition:
            rendered = [json.dumps({k: v for k, v in e.items() if k != "_at"}) for e in self.events[-lines:]]
            return self.unparsed_lines[-lines:] + rendered


@contextmanager
def running_daemon(command: list[str], settings_file: Path, grace_seconds: float) -> Iterator[DaemonRun]:
    """Start promwatchd and stop it (and any Prometheus it started) on the way out, also on errors."""
    daemon = DaemonRun(command, settings_file)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop(grace_seconds)


def summarize(values: list[float]) -> dict[str, float | int | None]:
    """Return count, median, max and min of ``values`` (None when empty)."""
    if not values:
        return {"count": 0, "median": None, "max": None, "min": None}
    return {
        "count": len(values),
        "median": statistics.median(values),
        "max": max(values),
        "min": min(values),
    }


def _command_output(argv: list[str]) -> str:
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unavailable ({error})"
    return (completed.stdout or completed.stderr).strip()


def machine_info(prometheus_binary: str | None) -> dict[str, Any]:
    """Describe the machine and the software versions a benchmark ran with."""
    cpu_model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    prometheus_version = "not found"
    if prometheus_binary:
        prometheus_version = _command_output([prometheus_binary, "--version"]).splitlines()[0]
    return {
        "nproc": _command_output(["nproc"]),
        "cpu_model": cpu_model,
        "free_h": _command_output(["free", "-h"]),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "prometheus": prometheus_version,
        "loadavg": Path("/proc/loadavg").read_text(encoding="utf-8").strip(),
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def find_prometheus(binary: str) -> str:
    """Return the prometheus binary's full path; exit with a message naming the option when it is missing."""
    found = shutil.which(binary)
    if found is None:
        sys.exit(f"prometheus binary {binary!r} not found; install it (Debian: apt-get install prometheus) or pass --prometheus PATH")
    return found


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` as indented JSON, creating the parent directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
