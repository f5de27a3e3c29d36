"""The daemon diagnoses each unexpected exit before it acts, with real Prometheus processes.

Each failure is set up for real: a port held by another Prometheus, a TSDB
lock held by another instance, a gap in the WAL, a full disk. The daemon must
name the cause and stop restarting (state blocked) instead of looping. Once
the cause clears, it must recover.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import free_port
from daemon_support import (
    READY_TIMEOUT_SECONDS,
    Daemon,
    daemon_settings,
    http_request,
    http_status,
    prometheus_config,
    run_cli,
    running_prometheus,
    wait_for,
)

BLOCKED_SETTINGS = {"recovery": {"blocked_recheck": "1s"}}


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.stop()
        daemon.stop_leftover_prometheus()


def start_daemon(directory: Path, prometheus_port: int, prometheus_binary: str, promtool_binary: str, changes: dict) -> Daemon:
    directory.mkdir()
    settings = daemon_settings(prometheus_port, free_port(), prometheus_binary, promtool_binary, changes)
    daemon = Daemon(directory, settings, prometheus_config(f"127.0.0.1:{prometheus_port}"))
    daemon.start()
    return daemon


def test_port_taken_blocks_restarts(tmp_path, prometheus_binary, promtool_binary, daemons):
    port = free_port()
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    with running_prometheus(prometheus_binary, other_dir, port) as other:
        daemon = start_daemon(tmp_path / "daemon", port, prometheus_binary, promtool_binary, BLOCKED_SETTINGS)
        daemons.append(daemon)
        status = daemon.wait_for_state("blocked", 20)

        top = status["diagnosis"][0]
        assert top["cause"] == "port_in_use"
        assert f"pid {other.pid}" in top["summary"]
        assert daemon.metric("promwatchd_state", state="blocked") == 1
        assert daemon.metric("promwatchd_diagnosis", cause="port_in_use") == 1

        daemon.wait_for_event("blocked_recheck", 10)
        daemon.wait_for_event("blocked_recheck", 10)
        assert daemon.state() == "blocked"
        assert daemon.events("restart_started") == []
        assert other.poll() is None, "the other Prometheus must never be stopped by promwatchd"

    status = daemon.wait_for_state("healthy", READY_TIMEOUT_SECONDS)
    assert daemon.events("restart_started", cause="unblocked")
    assert http_status(daemon.prometheus_url("/-/ready")) == 200


def test_held_lock_blocks_restarts(tmp_path, prometheus_binary, promtool_binary, daemons):
    shared_data = tmp_path / "shared-data"
    other_port, port = free_port(), free_port()
    (tmp_path / "other.yml").write_text(prometheus_config(f"127.0.0.1:{other_port}"), encoding="utf-8")
    other = subprocess.Popen(
        [
            prometheus_binary,
            f"--config.file={tmp_path / 'other.yml'}",
            f"--storage.tsdb.path={shared_data}",
            f"--web.listen-address=127.0.0.1:{other_port}",
            "--storage.tsdb.use-lockfile",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: http_status(f"http://127.0.0.1:{other_port}/-/ready") == 200, READY_TIMEOUT_SECONDS, "the other Prometheus ready")
        changes = {
            **BLOCKED_SETTINGS,
            "process": {"data_dir": str(shared_data), "extra_args": ["--storage.tsdb.use-lockfile"]},
        }
        daemon = start_daemon(tmp_path / "daemon", port, prometheus_binary, promtool_binary, changes)
        daemons.append(daemon)
        status = daemon.wait_for_state("blocked", 20)

        top = status["diagnosis"][0]
        assert top["cause"] == "lock_held"
        assert any(f"pid {other.pid}" in line for line in top["evidence"])
        assert daemon.events("restart_started") == []
    finally:
        other.terminate()
        other.wait(timeout=30)

    daemon.wait_for_state("healthy", READY_TIMEOUT_SECONDS)


def test_wal_gap_blocks_restarts(tmp_path, prometheus_binary, promtool_binary, daemons):
    port = free_port()
    data = tmp_path / "data"
    seeded = tmp_path / "seed"
    seeded.mkdir()
    # One real run writes a real WAL; a later segment number then leaves a gap, as after a manual delete.
    with running_prometheus(prometheus_binary, seeded, port):
        pass
    (seeded / "data").rename(data)
    segments = sorted(p.name for p in (data / "wal").iterdir() if p.name.isdigit())
    last = int(segments[-1])
    (data / "wal" / f"{last + 2:08d}").write_bytes(b"")

    changes = {**BLOCKED_SETTINGS, "process": {"data_dir": str(data)}}
    daemon = start_daemon(tmp_path / "daemon", port, prometheus_binary, promtool_binary, changes)
    daemons.append(daemon)
    status = daemon.wait_for_state("blocked", 20)

    top = status["diagnosis"][0]
    assert top["cause"] == "wal_gap"
    assert any(f"missing {last + 1:08d}" in line for line in top["evidence"])
    assert daemon.events("restart_started") == []
    assert (data / "wal" / f"{last + 2:08d}").exists(), "promwatchd must never delete WAL files"


def test_full_disk_blocks_restarts(tmp_path, prometheus_binary, promtool_binary, daemons):
    """The data directory is on a full 4 MiB tmpfs, mounted in a private mount namespace of the daemon."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to mount a small tmpfs in a private mount namespace")

    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    data = mount_point / "data"
    fill_and_run = (
        'mount -t tmpfs -o size=4m tmpfs "$0" && mkdir "$0/data" '
        '&& (dd if=/dev/zero of="$0/fill" bs=64k 2>/dev/null; true) && exec "$@"'
    )
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", fill_and_run, str(mount_point)]

    directory = tmp_path / "daemon"
    directory.mkdir()
    port = free_port()
    settings = daemon_settings(port, free_port(), prometheus_binary, promtool_binary, {**BLOCKED_SETTINGS, "process": {"data_dir": str(data)}})
    daemon = Daemon(directory, settings, prometheus_config(f"127.0.0.1:{port}"))
    daemon.start(command_prefix=prefix)
    daemons.append(daemon)
    status = daemon.wait_for_state("blocked", 30)

    top = status["diagnosis"][0]
    assert top["cause"] == "disk_full"
    assert any("0 bytes free" in line for line in top["evidence"])
    assert daemon.events("restart_started") == []
    assert daemon.metric("promwatchd_diagnosis", cause="disk_full") == 1


def test_wal_repair_reported_as_data_loss(tmp_path, prometheus_binary, promtool_binary, daemons):
    """A WAL record corrupted after an unclean stop: Prometheus repairs it on start by dropping data."""
    port = free_port()
    seeded = tmp_path / "seed"
    seeded.mkdir()
    with running_prometheus(prometheus_binary, seeded, port) as prometheus:
        wait_for(lambda: _wal_size(seeded / "data") > 8192, 30, "the WAL to hold a few scrapes")
        prometheus.kill()  # unclean stop, as a crash leaves it
        prometheus.wait(timeout=10)
    data = tmp_path / "data"
    (seeded / "data").rename(data)
    segment = data / "wal" / "00000000"
    with segment.open("r+b") as handle:
        handle.seek(segment.stat().st_size // 2)
        handle.write(b"\xff" * 64)

    daemon = start_daemon(tmp_path / "daemon", port, prometheus_binary, promtool_binary, {"process": {"data_dir": str(data)}})
    daemons.append(daemon)
    daemon.wait_for_state("healthy", 30)

    finding = wait_for(
        lambda: next((f for f in daemon.status()["diagnosis"] if f["cause"] == "wal_corruption"), None),
        15,
        "a wal_corruption finding in /api/status",
    )
    assert "data was lost" in finding["summary"]
    assert finding["severity"] == "warning"
    assert any("corruption" in line for line in finding["evidence"])


def _wal_size(data: Path) -> int:
    wal = data / "wal"
    return sum(p.stat().st_size for p in wal.iterdir() if p.name.isdigit()) if wal.exists() else 0


def test_failed_reload_diagnosed(tmp_path, prometheus_binary, promtool_binary, daemons):
    """The file is replaced by an invalid one and Prometheus gets SIGHUP, so it keeps the old config."""
    port = free_port()
    daemon = start_daemon(tmp_path / "daemon", port, prometheus_binary, promtool_binary, {})
    daemons.append(daemon)
    daemon.wait_for_state("healthy", 30)

    job = "  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % port
    daemon.config_path.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n" + job + job, encoding="utf-8")
    process = daemon.prometheus_process()
    assert process is not None
    os.kill(process.pid, signal.SIGHUP)

    status = daemon.wait_for_state("degraded", 20)
    finding = wait_for(
        lambda: next((f for f in daemon.status()["diagnosis"] if f["cause"] == "reload_failed"), None),
        15,
        "a reload_failed finding in /api/status",
    )
    assert "reload failed" in status["reason"]
    assert any("prometheus_config_last_reload_successful is 0" in line for line in finding["evidence"])
    assert any("prometheus.yml:" in line for line in finding["evidence"]), "the file's problem with its line"
    assert daemon.events("restart_started") == [], "a failed reload must not restart Prometheus onto the bad file"


def test_cli_names_disabled_lifecycle(tmp_path, prometheus_binary):
    """Prometheus runs without --web.enable-lifecycle; the file changed and POST /-/reload was refused."""
    port = free_port()
    directory = tmp_path / "prometheus"
    directory.mkdir()
    with running_prometheus(prometheus_binary, directory, port):
        config = directory / "prometheus.yml"
        document = yaml.safe_load(config.read_text(encoding="utf-8"))
        document["scrape_configs"].append({"job_name": "node", "static_configs": [{"targets": ["127.0.0.1:9100"]}]})
        config.write_text(yaml.safe_dump(document), encoding="utf-8")
        refused = http_request(f"http://127.0.0.1:{port}/-/reload", method="POST")
        settings = tmp_path / "promwatchd.yaml"
        settings.write_text(
            f"state_dir: state\nprocess:\n  config_file: {config}\n  data_dir: {directory / 'data'}\n"
            f"  listen_address: 127.0.0.1:{port}\nserver:\n  listen_address: 127.0.0.1:{free_port()}\n",
            encoding="utf-8",
        )
        result = run_cli(["diagnose", "--config", str(settings), "--output", "json"])

    assert refused[0] == 403
    report = json.loads(result.stdout)
    assert report["root_cause"] == "lifecycle_disabled"
    assert result.returncode == 1


def test_unwritable_data_dir_blocks_restarts(prometheus_binary, promtool_binary, daemons):
    """Prometheus runs as nobody (through setpriv) on a data directory only root may write."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv(1) to run Prometheus as another user")

    # tmp_path is private to root, so nobody could not even read the config there.
    directory = Path(tempfile.mkdtemp(prefix="promwatchd-perm-"))
    try:
        directory.chmod(0o755)
        data = directory / "data"
        data.mkdir(mode=0o755)
        wrapper = directory / "prometheus-as-nobody"
        wrapper.write_text(
            f'#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups -- {prometheus_binary} "$@"\n',
            encoding="utf-8",
        )
        wrapper.chmod(0o755)

        port = free_port()
        changes = {**BLOCKED_SETTINGS, "process": {"binary": str(wrapper), "data_dir": str(data)}}
        daemon = start_daemon(directory / "daemon", port, prometheus_binary, promtool_binary, changes)
        (directory / "daemon").chmod(0o755)
        daemon.config_path.chmod(0o644)
        daemons.append(daemon)
        status = daemon.wait_for_state("blocked", 30)

        top = status["diagnosis"][0]
        assert top["cause"] == "data_dir_permission"
        assert any("permission denied" in line for line in top["evidence"])
        assert daemon.events("restart_started") == []
    finally:
        for daemon in list(daemons):
            daemon.stop()
            daemon.stop_leftover_prometheus()
            daemons.remove(daemon)
        shutil.rmtree(directory, ignore_errors=True)
