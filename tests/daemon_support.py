"""Helpers for tests that run the real prometheus binary and the promwatchd CLI as subprocesses.

Every process these helpers start is tracked by its pid and stopped by that
pid. Every wait polls with a deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")

POLL_SECONDS = 0.1
HTTP_TIMEOUT_SECONDS = 2.0
READY_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0


class PollTimeout(AssertionError):
    """A condition a test waited for did not come true before its deadline."""


def wait_for(check: Callable[[], T | None], timeout_seconds: float, description: str) -> T:
    """Call ``check`` until it returns a true value (not None, False, 0 or empty); return that value.

    Raises PollTimeout with ``description`` when the deadline passes first.
    """
    deadline = time.monotonic() + timeout_seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise PollTimeout(f"timed out after {timeout_seconds:g}s waiting for {description}")
        time.sleep(POLL_SECONDS)


# HTTP -----------------------------------------------------------------------


def http_request(
    url: str,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    timeout_seconds: float = HTTP_TIMEOUT_SECONDS,
) -> tuple[int, bytes]:
    """Send one request; return (status, body). Raises OSError when the connection fails or times out."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def http_status(url: str, timeout_seconds: float = HTTP_TIMEOUT_SECONDS) -> int | None:
    """Return the status of a GET, or None when the connection fails or times out."""
    try:
        status, _body = http_request(url, timeout_seconds=timeout_seconds)
    except OSError:
        return None
    return status


def metric_value(text: str, sample_name: str, **labels: str) -> float | None:
    """Return the value of the sample with this name and exactly these labels, or None if absent."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == sample_name and sample.labels == labels:
                return sample.value
    return None


# Processes ------------------------------------------------------------------


@dataclass(frozen=True)
class ProcessId:
    """A pid together with its start time, so a reused pid is never taken for the old process."""

    pid: int
    start_ticks: int


def _read_stat(pid: int) -> tuple[str, int, int] | None:
    """Return (state letter, parent pid, start time in clock ticks) from /proc/PID/stat, or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name in brackets may contain spaces, so split after its closing bracket.
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[19])


def process_id(pid: int) -> ProcessId | None:
    stat = _read_stat(pid)
    return None if stat is None else ProcessId(pid, stat[2])


def parent_pid(pid: int) -> int | None:
    stat = _read_stat(pid)
    return None if stat is None else stat[1]


def is_zombie(process: ProcessId) -> bool:
    stat = _read_stat(process.pid)
    return stat is not None and stat[2] == process.start_ticks and stat[0] == "Z"


def is_gone(process: ProcessId) -> bool:
    """True when the process has exited and been reaped (its /proc entry is gone or belongs to a new process)."""
    stat = _read_stat(process.pid)
    return stat is None or stat[2] != process.start_ticks


def has_exited(process: ProcessId) -> bool:
    """True when the process is gone or a zombie: it runs no more, though no one may have reaped it yet."""
    return is_gone(process) or is_zombie(process)


def prometheus_pids(listen_address: str) -> list[int]:
    """Return the pids of live prometheus processes started with ``--web.listen-address=listen_address``.

    Zombies have an empty command line, so they are not listed.
    """
    flag = f"--web.listen-address={listen_address}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"prometheus") and flag in argv:
            found.append(int(entry.name))
    return found


def stop_process(process: ProcessId, timeout_seconds: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop a process this test run started: SIGCONT and SIGTERM, then SIGKILL once the deadline passes."""
    if is_gone(process):
        return
    for signum in (signal.SIGCONT, signal.SIGTERM):
        _send(process, signum)
    deadline = time.monotonic() + timeout_seconds
    while not has_exited(process):
        if time.monotonic() > deadline:
            _send(process, signal.SIGKILL)
            break
        time.sleep(POLL_SECONDS)


def _send(process: ProcessId, signum: int) -> None:
    if is_gone(process):
        return
    try:
        os.kill(process.pid, signum)
    except ProcessLookupError:
        pass


# A bare Prometheus -----------------------------------------------------------


def prometheus_config(listen_address: str, scrape_interval: str = "1s") -> str:
    """Return a Prometheus config that scrapes the server itself."""
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": [{"job_name": "prometheus", "static_configs": [{"targets": [listen_address]}]}],
    }
    return yaml.safe_dump(config, sort_keys=False)


@contextmanager
def running_prometheus(binary: str, directory: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Start Prometheus on 127.0.0.1:``port`` with a self-scraping config, wait until ready, stop it on exit."""
    listen_address = f"127.0.0.1:{port}"
    config_path = directory / "prometheus.yml"
    config_path.write_text(prometheus_config(listen_address))
    output = (directory / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={directory / 'data'}",
            f"--web.listen-address={listen_address}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: process.poll() is not None or http_status(f"http://{listen_address}/-/ready") == 200,
            READY_TIMEOUT_SECONDS,
            f"prometheus on {listen_address} to become ready",
        )
        if process.poll() is not None:
            log_text = (directory / "prometheus.log").read_text(errors="replace")
            raise AssertionError(f"prometheus exited with status {process.returncode}:\n{log_text[-2000:]}")
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
        output.close()


# The promwatchd daemon ---------------------------------------------------------


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Return ``base`` with ``changes`` applied; nested mappings merge, other values replace."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def daemon_settings(
    prometheus_port: int,
    server_port: int,
    prometheus_binary: str,
    promtool_binary: str,
    changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Return settings with short probe intervals and timeouts, with ``changes`` merged in."""
    settings = {
        "state_dir": "state",
        "process": {
            "binary": prometheus_binary,
            "config_file": "prometheus.yml",
            "listen_address": f"127.0.0.1:{prometheus_port}",
        },
        "server": {"listen_address": f"127.0.0.1:{server_port}"},
        "probes": {"interval": "1s", "timeout": "1s", "startup_interval": "200ms"},
        "recovery": {
            "hung_stop_grace_period": "5s",
            "stall_timeout": "10s",
            "stop_grace_period": "20s",
            "backoff_initial": "200ms",
            "backoff_max": "1s",
        },
        "fallback": {"promtool": promtool_binary, "watch_interval": "500ms"},
    }
    return deep_merge(settings, changes or {})


def promwatchd_command() -> list[str]:
    """Return the argv prefix of the installed promwatchd CLI (the console script beside this Python)."""
    script = Path(sys.executable).parent / "promwatchd"
    if script.exists():
        return [str(script)]
    found = shutil.which("promwatchd")
    if found is not None:
        return [found]
    return [sys.executable, "-m", "promwatchd.cli"]


def clean_environment() -> dict[str, str]:
    """Return this process's environment without PROMWATCHD_* variables, which would override the settings file."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PROMWATCHD_")}


def run_cli(arguments: list[str], timeout_seconds: float = STOP_TIMEOUT_SECONDS) -> subprocess.CompletedProcess[str]:
    """Run promwatchd to completion and return its result; for runs that are expected to exit on their own."""
    return subprocess.run(
        promwatchd_command() + arguments,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_seconds,
        env=clean_environment(),
    )


class Daemon:
    """A running ``promwatchd run`` and the files and ports it uses."""

    def __init__(self, directory: Path, settings: dict[str, Any], prometheus_config_text: str) -> None:
        self.directory = directory
        self.settings_path = directory / "promwatchd.yaml"
        self.config_path = directory / "prometheus.yml"
        self.log_path = directory / "promwatchd.log"
        self.stderr_path = directory / "promwatchd.stderr"
        self.settings = settings
        self.server_address = settings["server"]["listen_address"]
        self.prometheus_address = settings["process"]["listen_address"]

        self.write_settings(settings)
        self.config_path.write_text(prometheus_config_text)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None, "the daemon was not started"
        return self.process.pid

    def write_settings(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        write_replacing(self.settings_path, yaml.safe_dump(settings, sort_keys=False).encode())

    def start(self, extra_arguments: list[str] | None = None, command_prefix: list[str] | None = None) -> None:
        """Start the daemon; ``command_prefix`` runs it through another command that ends with exec."""
        arguments = ["run", "--config", str(self.settings_path), "--log-format", "json", *(extra_arguments or [])]
        with self.log_path.open("wb") as stdout, self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                (command_prefix or []) + promwatchd_command() + arguments,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                cwd=self.directory,
                env=clean_environment(),
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # HTTP

    def url(self, path: str) -> str:
        return f"http://{self.server_address}{path}"

    def prometheus_url(self, path: str) -> str:
        return f"http://{self.prometheus_address}{path}"

    def status(self) -> dict[str, Any]:
        code, body = http_request(self.url("/api/status"))
        assert code == 200, f"/api/status returned {code}: {body[:200]!r}"
        return json.loads(body)

    def healthz(self) -> tuple[int, dict[str, Any]]:
        code, body = http_request(self.url("/healthz"))
        return code, json.loads(body)

    def metrics(self) -> str:
        code, body = http_request(self.url("/metrics"))
        assert code == 200, f"/metrics returned {code}"
        return body.decode()

    def metric(self, sample_name: str, **labels: str) -> float | None:
        return metric_value(self.metrics(), sample_name, **labels)

    def state(self) -> str | None:
        """Return the state from /api/status, or None while that request fails."""
        try:
            return self.status()["state"]
        except (OSError, AssertionError, ValueError):
            return None

    def wait_for_state(self, states: str | tuple[str, ...], timeout_seconds: float = READY_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Wait until /api/status shows one of ``states``; return that status. Fails early if the daemon exits."""
        expected = (states,) if isinstance(states, str) else states
        seen: list[str | None] = []

        def check() -> dict[str, Any] | None:
            if not self.running():
                raise AssertionError(f"promwatchd exited with status {self.process.returncode}; stderr: {self.stderr()}")
            try:
                status = self.status()
            except (OSError, AssertionError, ValueError):
                seen.append(None)
                return None
            seen.append(status["state"])
            return status if status["state"] in expected else None

        try:
            return wait_for(check, timeout_seconds, f"state {' or '.join(expected)}")
        except PollTimeout as error:
            distinct = list(dict.fromkeys(seen))
            raise PollTimeout(f"{error}; states seen: {distinct}; last events: {self.event_names()[-15:]}") from None

    # Logs

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def events(self, name: str | None = None, **fields: Any) -> list[dict[str, Any]]:
        """Return the JSON log events, oldest first, with this event name and these field values."""
        found = []
        for line in self.log_lines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if name is not None and event.get("event") != name:
                continue
            if all(event.get(key) == value for key, value in fields.items()):
                found.append(event)
        return found

    def event_names(self) -> list[str]:
        return [str(event.get("event")) for event in self.events()]

    def wait_for_event(self, name: str, timeout_seconds: float = READY_TIMEOUT_SECONDS, **fields: Any) -> dict[str, Any]:
        events = wait_for(lambda: self.events(name, **fields), timeout_seconds, f"log event {name} {fields or ''}")
        return events[0]

    # Prometheus

    def prometheus_process(self) -> ProcessId | None:
        """Return the live Prometheus child of this daemon, or None when there is none."""
        for pid in prometheus_pids(self.prometheus_address):
            if parent_pid(pid) == self.pid:
                return process_id(pid)
        return None

    def wait_for_new_prometheus(self, old: ProcessId | None, timeout_seconds: float = READY_TIMEOUT_SECONDS) -> ProcessId:
        """Wait until a Prometheus child other than ``old`` runs and returns 200 on /-/ready; return it."""

        def check() -> ProcessId | None:
            current = self.prometheus_process()
            if current is None or current == old:
                return None
            if http_status(self.prometheus_url("/-/ready")) != 200:
                return None
            return current

        return wait_for(check, timeout_seconds, f"a new ready prometheus child (old pid {old.pid if old else None})")

    def stop(self, timeout_seconds: float = STOP_TIMEOUT_SECONDS) -> int:
        """Send SIGTERM to the daemon and wait for it to exit; return its exit status.

        When it does not exit within ``timeout_seconds`` it is killed and PollTimeout is raised.
        """
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_seconds)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
                raise PollTimeout(f"promwatchd (pid {self.pid}) did not exit within {timeout_seconds:g}s of SIGTERM") from None
        return self.process.returncode

    def stop_leftover_prometheus(self) -> list[int]:
        """Stop every Prometheus still running on this daemon's listen address; return their pids."""
        leftovers = prometheus_pids(self.prometheus_address)
        for pid in leftovers:
            process = process_id(pid)
            if process is not None:
                stop_process(process)
        return leftovers


def write_replacing(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file and rename it over ``path``, so a reader never sees half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
