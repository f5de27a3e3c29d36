"""The daemon's target-check loop: the real CLI and Prometheus, fake exporters on 127.0.0.1.

The daemon must serve the last report at GET /api/targets (secrets masked) and export
promwatchd_targets{job,reason} and, when asked, the per-target series.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from daemon_support import http_request, wait_for
from test_daemon import start_daemon, StartDaemon  # noqa: F401 - the fixture and its type
from test_targets_fakes import fake_exporter_in_thread

SECRET = "target-password-789"
REPORT_TIMEOUT_SECONDS = 30.0


def targets_document(daemon) -> dict:
    code, body = http_request(daemon.url("/api/targets"))
    assert code == 200, f"/api/targets returned {code}"
    return json.loads(body)


def test_daemon_serves_target_report_and_metrics(start_daemon: StartDaemon, tmp_path: Path):
    with fake_exporter_in_thread() as exporter:
        def config_for(prometheus_address: str) -> str:
            return yaml.safe_dump({
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": [
                    {"job_name": "prometheus", "static_configs": [{"targets": [prometheus_address]}]},
                    {"job_name": "exporter", "static_configs": [{"targets": [exporter.address]}]},
                    {
                        "job_name": "broken",
                        "metrics_path": "/absent",
                        "basic_auth": {"username": "u", "password": SECRET},
                        "static_configs": [{"targets": [exporter.address]}],
                    },
                ],
            })

        changes = {
            "targets": {
                "enabled": True,
                "interval": "1s",
                "per_target_metrics": True,
                "extra_health_urls": [{"url": f"{exporter.base_url}/metrics", "body_contains": "# TYPE"}],
            }
        }
        daemon = start_daemon(changes=changes, wait_state=None)
        # The listen address is chosen by the fixture, so the config naming it is written after the start.
        # Prometheus keeps its self-scrape config; the target checker reads this file at each run.
        daemon.config_path.write_text(config_for(daemon.prometheus_address))
        daemon.wait_for_state("healthy")

        def prometheus_target_ok() -> dict | None:
            document = targets_document(daemon)
            report = document["report"]
            if report is None:
                return None
            reasons = {target["job"]: target["reason"] for target in report["targets"]}
            return document if reasons.get("prometheus") == "ok" else None

        document = wait_for(prometheus_target_ok, REPORT_TIMEOUT_SECONDS, "a target report with Prometheus's own target ok")
        body = http_request(daemon.url("/api/targets"))[1].decode()
        metrics = daemon.metrics()

    assert document["enabled"] is True
    report = document["report"]
    assert report["summary"]["by_job"] == {"broken": {"http_status": 1}, "exporter": {"ok": 1}, "prometheus": {"ok": 1}}
    assert [health["ok"] for health in report["health"]] == [True]
    assert SECRET not in body
    assert SECRET not in daemon.log_path.read_text()

    assert daemon.metric("promwatchd_targets", job="broken", reason="http_status") == 1
    assert daemon.metric("promwatchd_targets", job="exporter", reason="ok") == 1
    assert daemon.metric("promwatchd_target_ok", job="exporter", instance=exporter.address) == 1
    assert daemon.metric("promwatchd_target_ok", job="broken", instance=exporter.address) == 0
    assert daemon.metric("promwatchd_health_check_ok", url=f"{exporter.base_url}/metrics") == 1
    assert "promwatchd_targets_last_run_timestamp_seconds" in metrics

    finished = daemon.wait_for_event("target_check_finished")
    assert finished["source"] == "config"
    assert finished["targets"] == 3


def test_daemon_without_target_checks_serves_empty_report(start_daemon: StartDaemon):
    daemon = start_daemon()
    document = targets_document(daemon)
    assert document == {"enabled": False, "runs": 0, "last_error": "", "report": None}
    assert daemon.metric("promwatchd_targets", job="prometheus", reason="ok") is None
