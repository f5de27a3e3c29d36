"""Real compose mistakes: ``check compose`` gives the diagnosis each case's expected.md states.

The inputs are the compose cases in shared/cases/ beside the clone. The cases
are read-only, so they are read in place.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from promwatchd.compose.check import ComposeReport, check_compose_file
from promwatchd.promconfig.findings import Finding

CASES_DIR = Path(__file__).resolve().parents[2] / "shared" / "cases"

if not CASES_DIR.is_dir() and os.environ.get("CI") == "true":
    raise AssertionError(f"cases missing at {CASES_DIR}")
pytestmark = pytest.mark.skipif(not CASES_DIR.is_dir(), reason=f"cases not found at {CASES_DIR}")


def check_case(case: str, check_host_ports: bool = False) -> ComposeReport:
    return check_compose_file(CASES_DIR / case / "docker-compose.yml", check_host_ports=check_host_ports, environment={})


def only(report: ComposeReport, rule: str) -> Finding:
    matching = [finding for finding in report.findings if finding.rule == rule]
    assert len(matching) == 1, f"expected one {rule} finding, got: {[f.format_text() for f in report.findings]}"
    return matching[0]


@pytest.fixture
def port_9090_taken() -> Iterator[int | None]:
    """Listen on 127.0.0.1:9090 as a forgotten native Prometheus would; yields our pid, or None when another process already listens there."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 9090))
    except OSError as error:
        listener.close()
        if error.errno != errno.EADDRINUSE:
            raise
        yield None
        return
    listener.listen()
    try:
        yield os.getpid()
    finally:
        listener.close()


def test_case17_port_in_use_reported(port_9090_taken: int | None) -> None:
    report = check_case("17-host-port-already-in-use", check_host_ports=True)

    finding = only(report, "host-port-in-use")
    assert finding.severity == "error"
    assert finding.line == 12
    assert finding.path == "services.prometheus.ports"
    assert "9090" in finding.message
    assert "another host port" in finding.fix
    if port_9090_taken is not None:
        assert f"process {port_9090_taken} " in finding.message


def test_case17_port_check_can_be_skipped(port_9090_taken: int | None) -> None:
    report = check_case("17-host-port-already-in-use", check_host_ports=False)

    assert [f for f in report.findings if f.rule == "host-port-in-use"] == []


def test_case17_own_localhost_target_not_reported() -> None:
    report = check_case("17-host-port-already-in-use")

    assert [f for f in report.findings if f.rule == "localhost-target-in-container"] == []


def test_case18_config_directory_reported() -> None:
    report = check_case("18-config-path-is-directory")

    finding = only(report, "config-mount-is-directory")
    assert finding.severity == "error"
    assert finding.line == 6
    assert finding.path == "services.prometheus.volumes"
    assert "prometheus/prometheus.yml is a directory" in finding.message
    assert "./prometheus:/etc/prometheus:ro" in finding.fix


def test_case20_localhost_target_reported() -> None:
    report = check_case("20-localhost-target-inside-container")

    finding = only(report, "localhost-target-in-container")
    expected = CASES_DIR / "20-localhost-target-inside-container" / "prometheus" / "prometheus.yml"
    assert Path(finding.file).resolve() == expected.resolve()
    assert finding.line == 10
    assert finding.path == "scrape_configs[1].static_configs[0].targets[0]"
    assert "'localhost:8090'" in finding.message
    assert "host.docker.internal:8090" in finding.fix
    assert "host-gateway" in finding.fix


def test_case22_missing_wget_reported() -> None:
    report = check_case("22-healthcheck-tool-missing-in-image")

    finding = only(report, "healthcheck-tool-missing")
    assert finding.severity == "error"
    assert finding.line == 7
    assert finding.path == "services.fail2ban-exporter.healthcheck.test"
    assert "wget" in finding.message
    assert "remove the health check" in finding.fix


def test_case22_blocked_dependent_reported() -> None:
    report = check_case("22-healthcheck-tool-missing-in-image")

    finding = only(report, "depends-on-healthy-never")
    assert finding.line == 19
    assert finding.path == "services.prometheus.depends_on.fail2ban-exporter.condition"


def test_case22_fixed_file_passes_tool_rules() -> None:
    report = check_compose_file(
        CASES_DIR / "22-healthcheck-tool-missing-in-image" / "fixed" / "docker-compose.yml",
        check_host_ports=False,
        environment={},
    )

    rules = {finding.rule for finding in report.findings}
    assert "healthcheck-tool-missing" not in rules
    assert "depends-on-healthy-never" not in rules
