"""Evidence collectors: the holder of a port, and the data directory's state."""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import free_port
from promwatchd.diagnose.ports import find_port_holder, parse_proc_net, split_address
from promwatchd.diagnose.storage import can_write, inspect_storage, inspect_wal, wal_gaps

PROC_NET_TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 51234 1 0000000000000000 100 0 0 10 0
   1: 0100007F:2382 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000     0        0 51299 1 0000000000000000 20 4 30 10 -1
"""
PROC_NET_TCP6 = """  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 778 1 0000000000000000 100 0 0 10 0
"""


def test_parse_ipv4_listener():
    assert parse_proc_net(PROC_NET_TCP, ipv6=False) == [("127.0.0.1", 9090, 51234)]


def test_parse_ipv6_listeners():
    assert parse_proc_net(PROC_NET_TCP6, ipv6=True) == [("::", 8080, 777), ("::1", 8081, 778)]


def test_split_address_forms():
    assert split_address("127.0.0.1:9090") == ("127.0.0.1", 9090)
    assert split_address(":9090") == ("0.0.0.0", 9090)
    assert split_address("[::1]:9090") == ("::1", 9090)


def test_split_address_invalid():
    with pytest.raises(ValueError, match="expected host:port"):
        split_address("9090")


def test_port_holder_is_real_prometheus(tmp_path, prometheus_binary):
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {}\n", encoding="utf-8")
    process = subprocess.Popen(
        [prometheus_binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        holder = None
        while holder is None and time.monotonic() < deadline:
            holder = find_port_holder(f"127.0.0.1:{port}")
            time.sleep(0.1)
        assert holder is not None
        assert holder.pid == process.pid
        assert "prometheus" in holder.command
        assert f"127.0.0.1:{port}" in holder.command
        wildcard = find_port_holder(f":{port}")
        assert wildcard is not None
        assert wildcard.pid == process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_free_port_has_no_holder():
    assert find_port_holder(f"127.0.0.1:{free_port()}") is None


@pytest.mark.parametrize(
    ("segments", "gaps"),
    [([], ()), ([0], ()), ([0, 1, 2], ()), ([0, 2], (1,)), ([3, 7, 8], (4, 5, 6)), ([5, 3, 4], ())],
)
def test_wal_gaps(segments, gaps):
    assert wal_gaps(segments) == gaps


def test_inspect_wal_finds_gap(tmp_path):
    wal = tmp_path / "wal"
    wal.mkdir()
    (wal / "00000000").write_bytes(b"")
    (wal / "00000002").write_bytes(b"")
    (wal / "checkpoint.00000001").mkdir()
    state = inspect_wal(tmp_path)
    assert state.segments == (0, 2)
    assert state.checkpoints == (1,)
    assert state.gaps == (1,)


def test_inspect_wal_missing_dir(tmp_path):
    assert inspect_wal(tmp_path).segments == ()


@pytest.mark.parametrize(
    ("mode", "owner", "group", "uid", "gids", "expected"),
    [
        (0o755, 100, 100, 100, {100}, True),
        (0o555, 100, 100, 100, {100}, False),
        (0o775, 100, 200, 300, {200}, True),
        (0o755, 100, 200, 300, {200}, False),
        (0o777, 100, 100, 300, set(), True),
        (0o700, 100, 100, 0, set(), True),
    ],
)
def test_can_write_table(mode, owner, group, uid, gids, expected):
    assert can_write(mode, owner, group, uid, gids) is expected


def test_storage_not_writable_for_other_user(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    if os.getuid() == 0:
        os.chown(data, 0, 0)
    evidence = inspect_storage(data, uid=65534, gids={65534})
    assert evidence.exists
    assert evidence.writable is False
    assert evidence.mode == 0o755


def test_storage_missing_reports_parent_space(tmp_path):
    evidence = inspect_storage(tmp_path / "absent")
    assert evidence.exists is False
    assert evidence.free_bytes is not None
    assert evidence.free_bytes > 0


def test_lock_holder_found(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    with open(data / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        evidence = inspect_storage(data)
    assert evidence.lock_file
    assert evidence.lock_holder_pid == os.getpid()


def test_unlocked_lock_file_has_no_holder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "lock").write_text("", encoding="utf-8")
    evidence = inspect_storage(data)
    assert evidence.lock_file
    assert evidence.lock_holder_pid is None
