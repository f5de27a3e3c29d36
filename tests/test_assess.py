"""Probe rounds to machine events, and the progress memory between rounds."""

from __future__ import annotations

from promwatchd.assess import Progress, assess
from promwatchd.machine import ProbeDegraded, ProbeFailed, ProbeOk, ProbeStarting
from promwatchd.probes import ProbeResult, ProbeRound
from promwatchd.selfmetrics import CPU_SECONDS, RELOAD_SUCCESSFUL, SAMPLES_APPENDED

STALL = 60.0


def ok(probe, samples=None):
    return ProbeResult(probe, True, 0.01, 200, samples=samples or {})


def failed(probe, error="timeout", status=None, detail="timed out"):
    return ProbeResult(probe, False, 1.0, status, error, detail)


def make_round(at=100.0, healthy=None, ready=None, query=None, metrics=None):
    samples = {CPU_SECONDS: 1.0, SAMPLES_APPENDED: 10.0, RELOAD_SUCCESSFUL: 1.0}
    results = {
        "healthy": healthy or ok("healthy"),
        "ready": ready or ok("ready"),
        "query": query or ok("query"),
        "metrics": metrics or ok("metrics", samples),
    }
    return ProbeRound(at=at, results=results)


def test_all_ok_is_probe_ok():
    event, _ = assess(make_round(), Progress(), 0, STALL)
    assert event == ProbeOk()


def test_nothing_answers_is_failure():
    down = make_round(
        healthy=failed("healthy", "refused", detail="/-/healthy: cannot connect"),
        ready=failed("ready", "refused"),
        query=failed("query", "refused"),
        metrics=failed("metrics", "refused"),
    )
    event, _ = assess(down, Progress(), 0, STALL)
    assert isinstance(event, ProbeFailed)
    assert "cannot connect" in event.reason


def test_healthy_alone_is_not_enough():
    """A wedged Prometheus returns 200 on /-/healthy but times out everything else."""
    wedged = make_round(ready=failed("ready"), query=failed("query"), metrics=failed("metrics"))
    event, _ = assess(wedged, Progress(), 0, STALL)
    assert isinstance(event, ProbeFailed)


def test_query_failure_is_failure():
    event, _ = assess(make_round(query=failed("query", detail="/api/v1/query timed out")), Progress(), 0, STALL)
    assert isinstance(event, ProbeFailed)
    assert "query failed" in event.reason


def test_not_ready_503_is_starting():
    starting = make_round(ready=failed("ready", "http_status", 503, "/-/ready returned 503"))
    event, _ = assess(starting, Progress(cpu_seconds=0.5), 0, STALL)
    assert event == ProbeStarting(progressed=True)


def test_frozen_start_has_no_progress():
    starting = make_round(ready=failed("ready", "http_status", 503))
    previous = Progress(cpu_seconds=1.0, samples_appended=10.0)
    event, _ = assess(starting, previous, 0, STALL)
    assert event == ProbeStarting(progressed=False)


def test_new_log_lines_are_progress():
    starting = make_round(ready=failed("ready", "http_status", 503))
    previous = Progress(cpu_seconds=1.0, samples_appended=10.0, output_lines=40)
    event, _ = assess(starting, previous, 41, STALL)
    assert event == ProbeStarting(progressed=True)


def test_reload_failure_is_degraded():
    samples = {CPU_SECONDS: 1.0, SAMPLES_APPENDED: 10.0, RELOAD_SUCCESSFUL: 0.0}
    event, _ = assess(make_round(metrics=ok("metrics", samples)), Progress(), 0, STALL)
    assert isinstance(event, ProbeDegraded)
    assert "reload failed" in event.reason


def test_ingestion_stall_is_degraded():
    _, progress = assess(make_round(at=100.0), Progress(samples_appended=5.0), 0, STALL)
    assert progress.samples_last_advanced_at == 100.0
    event, _ = assess(make_round(at=100.0 + STALL + 1), progress, 0, STALL)
    assert isinstance(event, ProbeDegraded)
    assert "no samples appended" in event.reason


def test_counter_reset_clears_stall_clock():
    previous = Progress(samples_appended=500.0, samples_last_advanced_at=1.0)
    event, progress = assess(make_round(at=1000.0), previous, 0, STALL)
    assert event == ProbeOk()
    assert progress.samples_last_advanced_at is None


def test_missing_own_metrics_is_degraded():
    event, _ = assess(make_round(metrics=failed("metrics", "bad_body")), Progress(), 0, STALL)
    assert isinstance(event, ProbeDegraded)
