"""Diagnosis rules: the true root cause ranks first, on evidence from real failures.

The log lines come from the cases' expected.md, which records what Debian's
Prometheus 2.42 logged when each failure was reproduced.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import SHARED
from promwatchd.diagnose.ports import PortHolder
from promwatchd.diagnose.rules import ConfigProblem, Evidence, diagnose
from promwatchd.diagnose.storage import StorageEvidence, WalState

CASES = SHARED / "cases"


def confirmed_lines(case: str) -> list[str]:
    """Return the lines between BEGIN CONFIRM and END CONFIRM of a case's expected.md."""
    path = CASES / case / "expected.md"
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{path} is missing; CI has shared/ beside the clone")
        pytest.skip(f"{path} is missing (shared/ is not beside the checkout)")
    text = path.read_text(encoding="utf-8")
    block = re.search(r"BEGIN CONFIRM -->\n```text\n(.*?)```", text, re.S)
    assert block is not None, f"{path} has no confirmation block"
    return block.group(1).splitlines()


def storage(path="/var/lib/prometheus", **facts) -> StorageEvidence:
    defaults = dict(exists=True, is_directory=True, owner_uid=0, owner_gid=0, mode=0o755, writable=True,
                    free_bytes=50 * 2**30, total_bytes=100 * 2**30, free_inodes=10**6)
    defaults.update(facts)
    return StorageEvidence(Path(path), **defaults)


def top(evidence: Evidence) -> str:
    findings = diagnose(evidence)
    assert findings, "no finding"
    return findings[0].cause


def test_healthy_evidence_has_no_finding():
    evidence = Evidence("127.0.0.1:9090", probes={"healthy": {"ok": True}, "ready": {"ok": True, "status": 200}, "query": {"ok": True}}, storage=storage())
    assert diagnose(evidence) == []


def test_port_in_use_names_holder():
    lines = confirmed_lines("17-host-port-already-in-use")
    holder = PortHolder("127.0.0.1", 9090, 1234, pid=4242, command="/usr/bin/prometheus --config.file=/etc/prometheus/prometheus.yml")
    evidence = Evidence("127.0.0.1:9090", output_tail=lines, port_holder=holder, pid=None, storage=storage())
    finding = diagnose(evidence)[0]
    assert finding.cause == "port_in_use"
    assert "pid 4242" in finding.summary
    assert any("itself a Prometheus" in line for line in finding.evidence)
    assert finding.restart_helps is False


def test_own_process_on_port_is_fine():
    holder = PortHolder("127.0.0.1", 9090, 1234, pid=77, command="prometheus")
    evidence = Evidence("127.0.0.1:9090", port_holder=holder, pid=77, storage=storage())
    assert diagnose(evidence) == []


def test_wal_gap_ranks_first():
    lines = confirmed_lines("23-wal-segment-gap-after-manual-delete")
    wal = WalState(segments=(0, 2), gaps=(1,))
    evidence = Evidence("127.0.0.1:9090", output_tail=lines, storage=storage(wal=wal), recent_exit_causes=("crash",))
    finding = diagnose(evidence)[0]
    assert finding.cause == "wal_gap"
    assert any("missing 00000001" in line for line in finding.evidence)
    assert "move" in finding.fix


def test_disk_full_from_log_and_space():
    lines = confirmed_lines("25-disk-full")
    evidence = Evidence("127.0.0.1:9090", output_tail=lines, storage=storage(free_bytes=0, free_inodes=5000), recent_exit_causes=("crash",) * 3)
    assert top(evidence) == "disk_full"


def test_disk_full_sigbus_form():
    """A full disk at start-up can surface as a Go SIGBUS crash instead of ENOSPC."""
    lines = ["unexpected fault address 0x7fbaadb7f000", "fatal error: fault", "[signal SIGBUS: bus error code=0x2]"]
    evidence = Evidence("127.0.0.1:9090", output_tail=lines, storage=storage(free_bytes=4096))
    assert top(evidence) == "disk_full"


def test_wal_repair_is_data_loss():
    lines = confirmed_lines("40-wal-corruption-auto-repair-drops-data")
    evidence = Evidence("127.0.0.1:9090", output_tail=lines, storage=storage())
    finding = diagnose(evidence)[0]
    assert finding.cause == "wal_corruption"
    assert "data was lost" in finding.summary
    assert finding.severity == "warning"


def test_invalid_config_with_position():
    problem = ConfigProblem("prometheus.yml", 7, 5, "duplicate-job-name", 'job_name "node" is used twice')
    line = 'level=error msg="Error loading config (--config.file=prometheus.yml)" err="found multiple scrape configs with job name \\"node\\""'
    evidence = Evidence("127.0.0.1:9090", output_tail=[line], config_file=Path("prometheus.yml"), config_problems=[problem], storage=storage())
    finding = diagnose(evidence)[0]
    assert finding.cause == "config_invalid"
    assert "prometheus.yml:7" in finding.summary
    assert finding.confidence >= 0.9


def test_lock_held_by_other_pid():
    evidence = Evidence("127.0.0.1:9090", pid=10, storage=storage(lock_file=True, lock_holder_pid=99))
    finding = diagnose(evidence)[0]
    assert finding.cause == "lock_held"
    assert any("pid 99" in line for line in finding.evidence)


def test_permission_denied_data_dir():
    line = 'level=error err="opening storage failed: mkdir /prometheus/wal: permission denied"'
    evidence = Evidence("127.0.0.1:9090", output_tail=[line], storage=storage(path="/prometheus", writable=False, owner_uid=0, mode=0o755))
    finding = diagnose(evidence)[0]
    assert finding.cause == "data_dir_permission"
    assert "chown" in finding.fix


def test_oom_loop():
    evidence = Evidence("127.0.0.1:9090", oom_killed=True, recent_exit_causes=("oom", "oom", "oom"), storage=storage())
    assert top(evidence) == "oom_loop"


def test_crash_loop_unknown_shows_tail():
    tail = ["panic: runtime error: index out of range", "goroutine 1 [running]:"]
    evidence = Evidence("127.0.0.1:9090", recent_exit_causes=("crash", "crash", "crash"), output_tail=tail, storage=storage())
    finding = diagnose(evidence)[0]
    assert finding.cause == "crash_loop"
    assert "panic: runtime error: index out of range" in finding.evidence


def test_slow_replay_is_not_failure():
    evidence = Evidence(
        "127.0.0.1:9090",
        probes={"healthy": {"ok": True}, "ready": {"ok": False, "status": 503}},
        startup_progressing=True,
        output_tail=['level=info component=tsdb msg="WAL segment loaded" segment=12 maxSegment=40'],
        storage=storage(),
    )
    finding = diagnose(evidence)[0]
    assert finding.cause == "wal_replay_slow"
    assert finding.severity == "info"
    assert finding.restart_helps is False


def test_hung_query_engine():
    evidence = Evidence(
        "127.0.0.1:9090",
        probes={"healthy": {"ok": True}, "ready": {"ok": True, "status": 200}, "query": {"ok": False, "error": "timeout", "detail": "/api/v1/query timed out after 2s"}},
        storage=storage(),
    )
    assert top(evidence) == "query_engine_hung"


def test_reload_failed_running_old_config():
    lines = confirmed_lines("38-reload-rejected-old-config-kept")
    running_log = lines[: lines.index("== restart with the file now on disk")]
    evidence = Evidence(
        "127.0.0.1:9090",
        probes={"healthy": {"ok": True}, "ready": {"ok": True, "status": 200}, "query": {"ok": True}},
        self_metrics={"prometheus_config_last_reload_successful": 0.0},
        loaded_config_matches_file=False,
        output_tail=running_log,
        storage=storage(),
    )
    finding = diagnose(evidence)[0]
    assert finding.cause == "reload_failed"
    assert len(finding.evidence) >= 2


def test_reload_failure_then_restart_is_config():
    """After the restart onto the invalid file, Prometheus is down and the config is the cause."""
    lines = confirmed_lines("38-reload-rejected-old-config-kept")
    evidence = Evidence("127.0.0.1:9090", output_tail=lines, running=False, storage=storage())
    assert top(evidence) == "config_invalid"


def test_failing_targets_by_reason():
    evidence = Evidence("127.0.0.1:9090", targets_by_reason={"ok": 10, "timeout": 2, "http_status": 1}, storage=storage())
    finding = diagnose(evidence)[0]
    assert finding.cause == "targets_failing"
    assert finding.evidence[0] == "2 targets: timeout"


def test_critical_outranks_warning():
    evidence = Evidence(
        "127.0.0.1:9090",
        targets_by_reason={"timeout": 3},
        storage=storage(free_bytes=0),
        output_tail=["level=error msg=\"Scrape commit failed\" err=\"write to WAL: no space left on device\""],
    )
    causes = [f.cause for f in diagnose(evidence)]
    assert causes.index("disk_full") < causes.index("targets_failing")


def test_healthy_own_port_holder_unknown_pid():
    """Without a daemon the pid is unknown; a healthy Prometheus on its own port is no finding."""
    holder = PortHolder("127.0.0.1", 9090, 1234, pid=77, command="prometheus")
    probes = {"healthy": {"ok": True}, "ready": {"ok": True, "status": 200}, "query": {"ok": True}}
    evidence = Evidence("127.0.0.1:9090", probes=probes, port_holder=holder, pid=None, running=None, storage=storage())
    assert diagnose(evidence) == []


def test_foreign_holder_while_ours_down():
    holder = PortHolder("127.0.0.1", 9090, 1234, pid=77, command="nginx: master process")
    evidence = Evidence("127.0.0.1:9090", port_holder=holder, pid=None, running=False, storage=storage())
    finding = diagnose(evidence)[0]
    assert finding.cause == "port_in_use"
    assert "nginx" in finding.summary


def test_stopped_process_is_unresponsive():
    timeout = {"ok": False, "error": "timeout", "detail": "timed out after 1s"}
    evidence = Evidence(
        "127.0.0.1:9090",
        probes={"healthy": timeout, "ready": timeout, "query": timeout, "metrics": timeout},
        pid=321,
        process_state="T",
        storage=storage(),
    )
    finding = diagnose(evidence)[0]
    assert finding.cause == "unresponsive"
    assert "SIGSTOP" in finding.summary
    assert finding.restart_helps


def test_lifecycle_disabled_explains_stale_config():
    evidence = Evidence(
        "127.0.0.1:9090",
        probes={"healthy": {"ok": True}, "ready": {"ok": True, "status": 200}, "query": {"ok": True}},
        self_metrics={"prometheus_config_last_reload_successful": 1.0},
        loaded_config_matches_file=False,
        flags={"web.enable-lifecycle": "false"},
        storage=storage(),
    )
    findings = diagnose(evidence)
    assert [f.cause for f in findings] == ["lifecycle_disabled"]
    assert "SIGHUP" in findings[0].fix


def test_lifecycle_enabled_stale_config_is_reload():
    evidence = Evidence(
        "127.0.0.1:9090",
        self_metrics={"prometheus_config_last_reload_successful": 1.0},
        loaded_config_matches_file=False,
        flags={"web.enable-lifecycle": "true"},
        storage=storage(),
    )
    assert top(evidence) == "reload_failed"
