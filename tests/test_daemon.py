"""The promwatchd CLI as a subprocess, supervising the real prometheus binary.

Each test starts its own daemon on free ports in tmp_path and stops it by pid
with SIGTERM at the end, even when the test fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from conftest import free_port
from daemon_support import (
    Daemon,
    PollTimeout,
    daemon_settings,
    deep_merge,
    has_exited,
    http_request,
    http_status,
    is_gone,
    prometheus_config,
    prometheus_pids,
    run_cli,
    wait_for,
    write_replacing,
)

STOP_GRACE_SECONDS = 20.0
"""recovery.stop_grace_period in daemon_settings()."""

# An unclosed flow sequence: Prometheus exits with "Error loading config".
BROKEN_CONFIG = """\
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: [prometheus
"""

SECRET = "s3cr3t-value"
# Valid except for the duration "banana", so Prometheus and promtool reject it.
SECRET_CONFIG = f"""\
global:
  scrape_interval: 1s
  evaluation_interval: banana
scrape_configs:
  - job_name: guarded
    basic_auth: {{username: u, password: {SECRET}}}
    static_configs: [{{targets: ["127.0.0.1:1"]}}]
"""

StartDaemon = Callable[..., Daemon]


def two_free_ports() -> tuple[int, int]:
    first = free_port()
    second = free_port()
    while second == first:
        second = free_port()
    return first, second


@pytest.fixture
def start_daemon(tmp_path: Path, prometheus_binary: str, promtool_binary: str) -> Iterator[StartDaemon]:
    """Yield a function that starts ``promwatchd run`` in its own directory and returns a Daemon.

    At teardown every daemon gets SIGTERM and must exit, and no Prometheus may
    be left on its listen address.
    """
    daemons: list[Daemon] = []

    def start(
        changes: dict[str, Any] | None = None,
        config_text: str | None = None,
        wait_state: str | tuple[str, ...] | None = "healthy",
        extra_arguments: list[str] | None = None,
        timeout_seconds: float = 30.0,
    ) -> Daemon:
        directory = tmp_path / f"daemon-{len(daemons)}"
        directory.mkdir()
        prometheus_port, server_port = two_free_ports()
        settings = daemon_settings(prometheus_port, server_port, prometheus_binary, promtool_binary, changes)
        if config_text is None:
            config_text = prometheus_config(f"127.0.0.1:{prometheus_port}")

        daemon = Daemon(directory, settings, config_text)
        daemons.append(daemon)
        daemon.start(extra_arguments)
        if wait_state is not None:
            daemon.wait_for_state(wait_state, timeout_seconds)
        return daemon

    try:
        yield start
    finally:
        problems = []
        for daemon in daemons:
            if daemon.process is None:
                continue
            try:
                daemon.stop(STOP_GRACE_SECONDS + 10)
            except PollTimeout as error:
                problems.append(str(error))
            leftovers = daemon.stop_leftover_prometheus()
            if leftovers:
                problems.append(f"prometheus still running on {daemon.prometheus_address} after promwatchd exited: pids {leftovers}")
        assert not problems, "; ".join(problems)


@pytest.fixture
def daemon(start_daemon: StartDaemon) -> Daemon:
    """A daemon with the default test settings, already healthy."""
    return start_daemon()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def prometheus_loaded_config(daemon: Daemon) -> dict[str, Any]:
    """Return the config Prometheus runs on now, from its /api/v1/status/config."""
    code, body = http_request(daemon.prometheus_url("/api/v1/status/config"))
    assert code == 200, f"/api/v1/status/config returned {code}"
    return yaml.safe_load(json.loads(body)["data"]["yaml"])


def transition_pairs(status: dict[str, Any]) -> list[tuple[str, str]]:
    """Return the (from, to) state pairs of /api/status, oldest first."""
    return [(t["from"], t["to"]) for t in reversed(status["transitions"])]


# Crashes and hangs of Prometheus ---------------------------------------------


def test_kill_child_restarted(daemon: Daemon) -> None:
    old = daemon.prometheus_process()
    assert old is not None

    os.kill(old.pid, signal.SIGKILL)
    new = daemon.wait_for_new_prometheus(old)
    wait_for(
        lambda: daemon.metric("promwatchd_restarts_total", reason="killed", outcome="ready") == 1,
        15,
        "restarts_total{reason=killed,outcome=ready} to reach 1",
    )
    status = daemon.wait_for_state("healthy")

    assert new.pid != old.pid
    assert is_gone(old)
    assert http_status(daemon.prometheus_url("/-/ready")) == 200
    assert daemon.metric("promwatchd_restarts_total", reason="killed", outcome="failed") is None
    assert daemon.metric("promwatchd_recovery_duration_seconds_count") == 1
    assert daemon.metric("promwatchd_prometheus_exits_total", cause="killed") == 1

    assert status["last_exit"]["signal"] == 9
    assert status["last_exit"]["cause"] == "killed"
    # The first restart of a failure streak is immediate: down and recovering
    # are entered in one step, and both transitions are recorded.
    assert transition_pairs(status)[-3:] == [("healthy", "down"), ("down", "recovering"), ("recovering", "healthy")]

    exits = daemon.events("prometheus_exit_unexpected")
    assert len(exits) == 1
    assert exits[0]["signal"] == 9
    assert exits[0]["cause"] == "killed"

    failed = daemon.events("state_transition", from_state="healthy", to_state="down")
    assert len(failed) == 1
    assert "killed" in failed[0]["reason"]
    assert daemon.events("state_transition", from_state="recovering", to_state="healthy")
    assert daemon.events("restart_outcome", cause="killed", outcome="ready")


def test_sigstop_child_replaced(start_daemon: StartDaemon) -> None:
    daemon = start_daemon({"recovery": {"failure_threshold": 2}})
    old = daemon.prometheus_process()
    assert old is not None

    os.kill(old.pid, signal.SIGSTOP)
    new = daemon.wait_for_new_prometheus(old, timeout_seconds=30)
    wait_for(
        lambda: daemon.metric("promwatchd_restarts_total", reason="probe", outcome="ready") == 1,
        15,
        "restarts_total{reason=probe,outcome=ready} to reach 1",
    )
    status = daemon.wait_for_state("healthy")
    # The daemon reaps the stopped process before it starts the new one.
    wait_for(lambda: is_gone(old), 5, f"stopped prometheus (pid {old.pid}) to be reaped")

    assert new.pid != old.pid
    assert not has_exited(new)

    # Round one fails (degraded, 1/2), round two reaches the threshold: down,
    # and the immediate restart enters recovering in the same step.
    assert transition_pairs(status)[-4:] == [
        ("healthy", "degraded"),
        ("degraded", "down"),
        ("down", "recovering"),
        ("recovering", "healthy"),
    ]
    assert "failed rounds" in status["transitions"][3]["reason"]

    started = daemon.events("restart_started")
    assert len(started) == 1
    assert started[0]["cause"] == "probe"
    assert started[0]["grace_seconds"] == 5.0

    old_exit = daemon.events("prometheus_exited", pid=old.pid)
    assert len(old_exit) == 1
    assert old_exit[0]["expected"] is True
    assert daemon.events("prometheus_exit_unexpected") == []


# Fallback config ---------------------------------------------------------------


def test_broken_config_fallback(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(config_text=BROKEN_CONFIG, wait_state="fallback")
    digest_before = hashlib.sha256(BROKEN_CONFIG.encode()).hexdigest()

    status = daemon.status()
    assert status["fallback_active"] is True
    assert status["config"] == "fallback"
    assert daemon.metric("promwatchd_fallback_active") == 1
    assert daemon.metric("promwatchd_state", state="fallback") == 1

    code, health = daemon.healthz()
    assert code == 200
    assert health["prometheus"]["state"] == "fallback"
    assert health["prometheus"]["fallback_active"] is True

    assert http_status(daemon.prometheus_url("/-/ready")) == 200
    loaded = prometheus_loaded_config(daemon)
    assert loaded["global"]["external_labels"] == {"promwatchd_fallback": "true"}
    assert sha256(daemon.config_path) == digest_before

    config_exits = daemon.events("prometheus_exit_unexpected", cause="config")
    assert len(config_exits) == 3
    assert len(daemon.events("fallback_activated")) == 1
    assert daemon.metric("promwatchd_restarts_total", reason="fallback", outcome="ready") == 1

    write_replacing(daemon.config_path, prometheus_config(daemon.prometheus_address).encode())
    status = daemon.wait_for_state("healthy", timeout_seconds=30)

    assert status["config"] == "user"
    assert status["fallback_active"] is False
    assert daemon.metric("promwatchd_fallback_active") == 0
    assert daemon.metric("promwatchd_state", state="healthy") == 1
    assert daemon.metric("promwatchd_restarts_total", reason="switch_back", outcome="ready") == 1
    assert "external_labels" not in prometheus_loaded_config(daemon)["global"]

    changed = daemon.events("user_config_changed")
    assert len(changed) == 1
    assert changed[0]["valid"] is True
    assert len(daemon.events("fallback_deactivated")) == 1


PARTLY_BROKEN_CONFIG = """\
global:
  scrape_interval: 1s
  external_labels:
    site: lab
scrape_configs:
  - job_name: kept
    static_configs:
      - targets: ['127.0.0.1:9']
  - job_name: broken
    scrape_intervall: 5s
    static_configs:
      - targets: ['127.0.0.1:9']
"""


def test_fallback_keeps_valid_jobs(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(config_text=PARTLY_BROKEN_CONFIG, wait_state="fallback")
    digest_before = hashlib.sha256(PARTLY_BROKEN_CONFIG.encode()).hexdigest()

    assert http_status(daemon.prometheus_url("/-/ready")) == 200
    loaded = prometheus_loaded_config(daemon)
    assert [job["job_name"] for job in loaded["scrape_configs"]] == ["kept"]
    assert loaded["global"]["external_labels"] == {"site": "lab", "promwatchd_fallback": "true"}
    assert sha256(daemon.config_path) == digest_before

    salvaged = daemon.events("fallback_salvaged")
    assert len(salvaged) == 1
    assert salvaged[0]["kept_jobs"] == 1
    assert salvaged[0]["dropped_count"] == 1
    assert "'broken'" in salvaged[0]["dropped"][0]
    assert [event["kind"] for event in daemon.events("fallback_config_written")] == ["salvaged"]


def test_fallback_minimal_when_salvage_off(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(changes={"fallback": {"salvage": False}}, config_text=PARTLY_BROKEN_CONFIG, wait_state="fallback")

    loaded = prometheus_loaded_config(daemon)

    assert [job["job_name"] for job in loaded["scrape_configs"]] == ["prometheus", "promwatchd"]
    assert daemon.events("fallback_salvaged") == []


def test_fallback_validates_without_promtool(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(changes={"fallback": {"promtool": ""}}, config_text=BROKEN_CONFIG, wait_state="fallback")

    # Still broken: promtool is off, so the validator keeps Prometheus on the fallback and reports where.
    write_replacing(daemon.config_path, PARTLY_BROKEN_CONFIG.encode())
    checked = daemon.wait_for_event("user_config_changed", timeout_seconds=15)

    assert checked["valid"] is False
    assert checked["promtool_valid"] is None
    assert checked["error_count"] == 1
    assert checked["errors"][0].endswith("[unknown-field] scrape_configs[1].scrape_intervall: field scrape_intervall not found in type scrape_config")
    assert ":10:5 " in checked["errors"][0]
    assert daemon.status()["fallback_active"] is True

    write_replacing(daemon.config_path, prometheus_config(daemon.prometheus_address).encode())
    status = daemon.wait_for_state("healthy", timeout_seconds=30)

    assert status["config"] == "user"
    assert [event["valid"] for event in daemon.events("user_config_changed")] == [False, True]


# Signals to the daemon --------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_stops_cleanly(daemon: Daemon, signum: int) -> None:
    child = daemon.prometheus_process()
    assert child is not None

    started = time.monotonic()
    os.kill(daemon.pid, signum)
    exit_code = daemon.process.wait(timeout=STOP_GRACE_SECONDS + 5)
    elapsed = time.monotonic() - started

    assert exit_code == 0
    assert elapsed < STOP_GRACE_SECONDS
    assert has_exited(child)
    assert prometheus_pids(daemon.prometheus_address) == []
    assert daemon.stderr() == ""

    child_exit = daemon.events("prometheus_exited", pid=child.pid)
    assert len(child_exit) == 1
    assert child_exit[0]["expected"] is True
    assert child_exit[0]["exit_code"] == 0
    assert len(daemon.events("promwatchd_stopped")) == 1

    names = daemon.event_names()
    assert names.index("prometheus_exited") < names.index("promwatchd_stopped")


def test_sigkill_daemon_no_orphan(daemon: Daemon) -> None:
    child = daemon.prometheus_process()
    assert child is not None

    os.kill(daemon.pid, signal.SIGKILL)
    daemon.process.wait(timeout=10)

    # The child is reparented once the daemon dies, so it may stay a zombie until
    # its new parent reaps it; a zombie runs no more.
    wait_for(lambda: has_exited(child), 10, f"prometheus (pid {child.pid}) to exit after promwatchd was killed")
    assert daemon.process.returncode == -signal.SIGKILL
    assert prometheus_pids(daemon.prometheus_address) == []


def probe_rounds(daemon: Daemon) -> float:
    """Return how many rounds the ready probe has run, from promwatchd's /metrics."""
    count = daemon.metric("promwatchd_probe_duration_seconds_count", probe="ready")
    assert count is not None
    return count


def test_sighup_reloads_interval(daemon: Daemon) -> None:
    daemon.write_settings(deep_merge(daemon.settings, {"probes": {"interval": "200ms"}}))
    os.kill(daemon.pid, signal.SIGHUP)
    reloaded = daemon.wait_for_event("settings_reloaded", timeout_seconds=10)

    assert reloaded["needs_daemon_restart"] == []

    # With the old 1s interval, 10 more rounds take 10s; with 200ms about 2s.
    rounds_before = probe_rounds(daemon)
    wait_for(lambda: probe_rounds(daemon) >= rounds_before + 10, 5, "10 probe rounds at the new 200ms interval")

    assert daemon.running()
    code, health = daemon.healthz()
    assert code == 200
    assert health["prometheus"]["state"] == "healthy"
    assert daemon.events("settings_reload_failed") == []


def test_sighup_applies_probe_query(daemon: Daemon) -> None:
    # probes.query is not marked "(restart)" in config.example.yaml, so a reload must apply it.
    # "vector(1) > 2" returns an empty vector, which the query probe rejects.
    daemon.write_settings(deep_merge(daemon.settings, {"probes": {"query": "vector(1) > 2"}}))
    os.kill(daemon.pid, signal.SIGHUP)
    reloaded = daemon.wait_for_event("settings_reloaded", timeout_seconds=10)
    assert reloaded["needs_daemon_restart"] == []

    def query_probe_failed() -> dict[str, Any] | None:
        query = daemon.status()["probes"]["query"]
        return query if not query["ok"] else None

    query = wait_for(query_probe_failed, 5, "the query probe to fail on the reloaded query")
    assert query["error"] == "bad_body"
    assert "no result" in query["detail"]


def test_sighup_invalid_settings_kept(daemon: Daemon) -> None:
    child = daemon.prometheus_process()
    daemon.settings_path.write_text("probes:\n  interval: abc\n")

    os.kill(daemon.pid, signal.SIGHUP)
    failed = daemon.wait_for_event("settings_reload_failed", timeout_seconds=10)

    assert "probes.interval" in failed["error"]
    assert failed["kept"] == "previous settings"
    assert daemon.events("settings_reloaded") == []
    assert daemon.running()
    assert daemon.prometheus_process() == child
    assert daemon.state() == "healthy"


def test_sighup_server_change_reported(daemon: Daemon) -> None:
    old_address = daemon.server_address
    other_port = free_port()
    daemon.write_settings(deep_merge(daemon.settings, {"server": {"listen_address": f"127.0.0.1:{other_port}"}}))

    os.kill(daemon.pid, signal.SIGHUP)
    warning = daemon.wait_for_event("settings_need_daemon_restart", timeout_seconds=10)

    assert warning["fields"] == ["server"]
    assert http_status(f"http://{old_address}/healthz") == 200
    assert http_status(f"http://127.0.0.1:{other_port}/healthz") is None


# The restart API --------------------------------------------------------------


def test_restart_api_disabled_without_token(daemon: Daemon) -> None:
    code, body = http_request(daemon.url("/api/restart"), method="POST")
    code_with_header, _ = http_request(
        daemon.url("/api/restart"), method="POST", headers={"Authorization": "Bearer anything"}
    )

    assert code == 403
    assert "server.token_file" in json.loads(body)["error"]
    assert code_with_header == 403
    assert daemon.events("restart_requested") == []
    assert daemon.events("restart_started") == []


def test_restart_api_token(start_daemon: StartDaemon, tmp_path: Path) -> None:
    token = "test-token-5f2a9c"
    token_file = tmp_path / "api-token"
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    daemon = start_daemon({"server": {"token_file": str(token_file)}})
    old = daemon.prometheus_process()
    restart_url = daemon.url("/api/restart")

    missing, _ = http_request(restart_url, method="POST")
    wrong, _ = http_request(restart_url, method="POST", headers={"Authorization": "Bearer wrong-token"})
    basic, _ = http_request(restart_url, method="POST", headers={"Authorization": f"Basic {token}"})
    assert missing == 401
    assert wrong == 401
    assert basic == 401
    assert daemon.events("restart_requested") == []

    accepted, body = http_request(restart_url, method="POST", headers={"Authorization": f"Bearer {token}"})
    assert accepted == 202
    assert json.loads(body)["accepted"] is True

    new = daemon.wait_for_new_prometheus(old)
    wait_for(
        lambda: daemon.metric("promwatchd_restarts_total", reason="requested", outcome="ready") == 1,
        15,
        "restarts_total{reason=requested,outcome=ready} to reach 1",
    )
    assert new != old
    assert len(daemon.events("restart_requested")) == 1
    assert len(daemon.events("api_unauthorized")) == 3
    assert all(token not in line for line in daemon.log_lines())


# Bad input --------------------------------------------------------------------


def write_settings_file(
    directory: Path, prometheus_binary: str, promtool_binary: str, changes: dict[str, Any]
) -> tuple[Path, dict[str, Any]]:
    """Write a settings file and a valid prometheus.yml into ``directory``; return the file and the settings."""
    prometheus_port, server_port = two_free_ports()
    settings = daemon_settings(prometheus_port, server_port, prometheus_binary, promtool_binary, changes)
    (directory / "prometheus.yml").write_text(prometheus_config(f"127.0.0.1:{prometheus_port}"))
    path = directory / "promwatchd.yaml"
    path.write_text(yaml.safe_dump(settings, sort_keys=False))
    return path, settings


@pytest.mark.parametrize(
    ("changes", "field", "detail"),
    [
        ({"probes": {"interval": "abc"}}, "probes.interval", "'abc'"),
        ({"probes": {"intervall": "1s"}}, "probes.intervall", "unknown field"),
        ({"recovery": {"restart_budget": 0}}, "recovery.restart_budget", "greater than or equal to 1"),
        ({"log": {"level": "loud"}}, "log.level", "'loud'"),
    ],
)
def test_invalid_settings_exit_2(
    tmp_path: Path, prometheus_binary: str, promtool_binary: str, changes: dict[str, Any], field: str, detail: str
) -> None:
    path, settings = write_settings_file(tmp_path, prometheus_binary, promtool_binary, changes)

    result = run_cli(["run", "--config", str(path)])
    lines = result.stderr.splitlines()

    assert result.returncode == 2
    assert len(lines) == 1
    assert str(path) in lines[0]
    assert f"{field}:" in lines[0]
    assert detail in lines[0]
    assert "Traceback" not in result.stderr
    assert prometheus_pids(settings["process"]["listen_address"]) == []


def test_two_invalid_fields_two_lines(tmp_path: Path, prometheus_binary: str, promtool_binary: str) -> None:
    changes = {"probes": {"interval": "abc", "intervall": "1s"}}
    path, _settings = write_settings_file(tmp_path, prometheus_binary, promtool_binary, changes)

    result = run_cli(["run", "--config", str(path)])
    lines = result.stderr.splitlines()

    assert result.returncode == 2
    assert len(lines) == 2
    assert any("probes.interval:" in line for line in lines)
    assert any("probes.intervall:" in line for line in lines)
    assert all(str(path) in line for line in lines)


def test_missing_settings_file_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"

    result = run_cli(["run", "--config", str(path)])
    lines = result.stderr.splitlines()

    assert result.returncode == 2
    assert len(lines) == 1
    assert str(path) in lines[0]
    assert "not found" in lines[0]


def test_settings_yaml_error_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "promwatchd.yaml"
    path.write_text("probes:\n  interval: [1s\n")

    result = run_cli(["run", "--config", str(path)])
    lines = result.stderr.splitlines()

    assert result.returncode == 2
    assert len(lines) == 1
    assert f"{path}:" in lines[0]
    assert "invalid YAML" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_binary_exit_2(tmp_path: Path, prometheus_binary: str, promtool_binary: str) -> None:
    changes = {"process": {"binary": "/nonexistent/prometheus"}}
    path, settings = write_settings_file(tmp_path, prometheus_binary, promtool_binary, changes)

    result = run_cli(["run", "--config", str(path), "--log-format", "json"])
    lines = result.stderr.splitlines()

    assert result.returncode == 2
    assert len(lines) == 1
    assert "process.binary" in lines[0]
    assert "/nonexistent/prometheus" in lines[0]
    assert "Traceback" not in result.stderr


def test_busy_port_exit_2(tmp_path: Path, prometheus_binary: str, promtool_binary: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy_address = f"127.0.0.1:{holder.getsockname()[1]}"
        changes = {"server": {"listen_address": busy_address}}
        path, settings = write_settings_file(tmp_path, prometheus_binary, promtool_binary, changes)

        result = run_cli(["run", "--config", str(path), "--log-format", "json"])

    lines = result.stderr.splitlines()
    assert result.returncode == 2
    assert len(lines) == 1
    assert "server.listen_address" in lines[0]
    assert busy_address in lines[0]
    assert "Traceback" not in result.stderr
    assert prometheus_pids(settings["process"]["listen_address"]) == []


def test_unreachable_url_gives_up(start_daemon: StartDaemon) -> None:
    _unused, dead_port = two_free_ports()
    daemon = start_daemon(
        {
            "prometheus": {"url": f"http://127.0.0.1:{dead_port}"},
            "recovery": {"stall_timeout": "2s", "restart_budget": 2, "budget_window": "1m", "gave_up_cooldown": "5s"},
        },
        wait_state=None,
    )

    status = daemon.wait_for_state("gave_up", timeout_seconds=30)
    code, health = daemon.healthz()

    assert daemon.running()
    assert code == 200
    assert health["status"] == "ok"
    assert health["prometheus"]["state"] == "gave_up"
    assert status["restarts_in_window"] == 2
    assert "restart budget exhausted" in status["reason"]
    assert status["probes"]["ready"]["error"] == "refused"

    reached = {to_state for _, to_state in transition_pairs(status)}
    assert "down" in reached
    assert "recovering" in reached
    assert "healthy" not in reached

    assert daemon.metric("promwatchd_state", state="gave_up") == 1
    assert daemon.metric("promwatchd_gave_up") == 1
    assert daemon.metric("promwatchd_restarts_total", reason="stalled", outcome="failed") == 2

    exhausted = daemon.events("restart_budget_exhausted")
    assert len(exhausted) == 1
    assert exhausted[0]["budget"] == 2
    assert exhausted[0]["restarts_in_window"] == 2

    assert daemon.events("component_failed") == []
    assert all("Traceback" not in line for line in daemon.log_lines())
    assert daemon.stderr() == ""


# Secrets ------------------------------------------------------------------------


def test_secret_not_exposed(start_daemon: StartDaemon) -> None:
    daemon = start_daemon(config_text=SECRET_CONFIG, wait_state="fallback", extra_arguments=["--log-level", "debug"])

    # A second broken version while on the fallback makes promtool check it, and its output is logged.
    write_replacing(daemon.config_path, SECRET_CONFIG.replace("banana", "bananas").encode())
    checked = daemon.wait_for_event("user_config_changed", timeout_seconds=15)
    assert checked["valid"] is False

    status_code, status_body = http_request(daemon.url("/api/status"))
    health_code, health_body = http_request(daemon.url("/healthz"))
    _metrics_code, metrics_body = http_request(daemon.url("/metrics"))
    log_lines = daemon.log_lines()

    assert status_code == 200
    assert health_code == 200
    assert len(daemon.events("prometheus_output")) > 0
    assert len(daemon.events("prometheus_exit_unexpected", cause="config")) == 3
    assert [line for line in log_lines if SECRET in line] == []
    assert SECRET not in daemon.stderr()
    assert SECRET.encode() not in status_body
    assert SECRET.encode() not in health_body
    assert SECRET.encode() not in metrics_body
    # The fallback keeps the guarded job, and with it the password it needs, in a file only the owner reads.
    fallback_file = daemon.directory / "state" / "fallback-prometheus.yml"
    assert "evaluation_interval" not in fallback_file.read_text()
    assert stat.S_IMODE(fallback_file.stat().st_mode) == 0o600
