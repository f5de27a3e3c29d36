"""promwatchd's HTTP endpoints, served in-process over a real socket."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from promwatchd.backends.process import ProcessBackend
from promwatchd.machine import ProcessExited
from promwatchd.metrics import Metrics
from promwatchd.server import StatusServer
from promwatchd.settings import load_settings
from promwatchd.supervisor import Supervisor


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts(tmp_path: Path):
    settings_file = tmp_path / "promwatchd.yaml"
    settings_file.write_text("state_dir: state\n", encoding="utf-8")
    settings = load_settings(settings_file, environ={})
    # A missing binary makes any restart the machine requests fail at once, without a process.
    backend = ProcessBackend("/nonexistent/prometheus", tmp_path / "prometheus.yml", tmp_path / "data", "127.0.0.1:1")
    clock = FakeClock()
    metrics = Metrics()
    supervisor = Supervisor(settings, backend, metrics, clock=clock)
    return supervisor, metrics, clock


async def client_for(supervisor, metrics, token=None) -> TestClient:
    server = StatusServer(supervisor, metrics, "127.0.0.1:0", token)
    client = TestClient(TestServer(server.app(), host="127.0.0.1"))
    await client.start_server()
    return client


async def test_healthz_ok_while_loop_runs(parts):
    supervisor, metrics, _ = parts
    client = await client_for(supervisor, metrics)
    try:
        response = await client.get("/healthz")
        body = await response.json()
        assert response.status == 200
        assert body["supervision_loop_alive"] is True
        assert body["prometheus"]["state"] == "starting"
    finally:
        await client.close()


async def test_healthz_fails_when_loop_stalls(parts):
    supervisor, metrics, clock = parts
    clock.now += 60.0  # no Tick handled for a minute
    client = await client_for(supervisor, metrics)
    try:
        response = await client.get("/healthz")
        body = await response.json()
        assert response.status == 503
        assert body["status"] == "stalled"
    finally:
        await client.close()


async def test_readyz_waits_for_first_round(parts):
    supervisor, metrics, _ = parts
    client = await client_for(supervisor, metrics)
    try:
        assert (await client.get("/readyz")).status == 503
        supervisor.rounds_done = 1
        assert (await client.get("/readyz")).status == 200
    finally:
        await client.close()


async def test_metrics_exposition(parts):
    supervisor, metrics, _ = parts
    supervisor.handle(ProcessExited("killed", "killed by SIGKILL"))
    client = await client_for(supervisor, metrics)
    try:
        response = await client.get("/metrics")
        text = await response.text()
        assert response.headers["Content-Type"].startswith("text/plain")
        assert 'promwatchd_state{state="recovering"} 1.0' in text
        assert 'promwatchd_state_transitions_total{from_state="starting",to_state="down"} 1.0' in text
        assert 'promwatchd_state_transitions_total{from_state="down",to_state="recovering"} 1.0' in text
        assert "promwatchd_fallback_active 0.0" in text
    finally:
        await supervisor._restart_task
        await client.close()


async def test_metrics_openmetrics_negotiated(parts):
    supervisor, metrics, _ = parts
    client = await client_for(supervisor, metrics)
    try:
        response = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        text = await response.text()
        assert response.headers["Content-Type"].startswith("application/openmetrics-text")
        assert text.endswith("# EOF\n")
    finally:
        await client.close()


async def test_status_reports_transition(parts):
    supervisor, metrics, _ = parts
    supervisor.handle(ProcessExited("config", "Error loading config password: hunter2"))
    client = await client_for(supervisor, metrics)
    try:
        body = await (await client.get("/api/status")).json()
        assert body["state"] == "recovering"
        assert [(t["from"], t["to"]) for t in body["transitions"]] == [("down", "recovering"), ("starting", "down")]
        assert body["restarts_in_window"] == 1
        assert "hunter2" not in str(body)
    finally:
        await supervisor._restart_task
        await client.close()


async def test_restart_disabled_without_token(parts):
    supervisor, metrics, _ = parts
    client = await client_for(supervisor, metrics)
    try:
        response = await client.post("/api/restart")
        assert response.status == 403
        assert "server.token_file" in (await response.json())["error"]
    finally:
        await client.close()


async def test_restart_needs_right_token(parts):
    supervisor, metrics, _ = parts
    client = await client_for(supervisor, metrics, token="s3cret")
    try:
        assert (await client.post("/api/restart")).status == 401
        assert (await client.post("/api/restart", headers={"Authorization": "Bearer wrong"})).status == 401
        accepted = await client.post("/api/restart", headers={"Authorization": "Bearer s3cret"})
        assert accepted.status == 202
        assert supervisor._queue.qsize() == 1
    finally:
        await client.close()


async def test_get_restart_not_allowed(parts):
    supervisor, metrics, _ = parts
    client = await client_for(supervisor, metrics, token="s3cret")
    try:
        assert (await client.get("/api/restart")).status == 405
    finally:
        await client.close()


async def test_diagnosis_counts_failing_targets(parts):
    """The last target check's failures reach the daemon's diagnosis as targets_failing."""
    from promwatchd.targets.report import TargetReport
    from promwatchd.targets.scrape import CheckResult

    supervisor, metrics, _ = parts
    supervisor.target_checks.last_report = TargetReport(
        source="config",
        started_at=0.0,
        results=[
            CheckResult("node", "a:9100", "http://a:9100/metrics", "ok"),
            CheckResult("node", "b:9100", "http://b:9100/metrics", "timeout"),
            CheckResult("app", "c:8080", "http://c:8080/metrics", "http_status", status=404),
        ],
    )
    await supervisor._diagnose()
    causes = [finding.cause for finding in supervisor.diagnosis]
    assert "targets_failing" in causes
    finding = supervisor.diagnosis[causes.index("targets_failing")]
    assert finding.summary == "2 of 3 scrape targets fail"
