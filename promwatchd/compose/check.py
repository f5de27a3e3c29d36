"""Run every compose lint rule on one file and collect the findings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promwatchd.compose.healthchecks import health_check_findings
from promwatchd.compose.hostports import host_port_findings
from promwatchd.compose.lifecycle import lifecycle_findings
from promwatchd.compose.localhost_targets import localhost_target_findings
from promwatchd.compose.mounts import mount_findings
from promwatchd.compose.prometheus_service import prometheus_services
from promwatchd.compose.source import ComposeFileError, load_compose_file
from promwatchd.promconfig.findings import Finding


@dataclass
class ComposeReport:
    """The result of checking one compose file: an error when it could not be read, else the findings."""

    file: str
    error: str = ""
    prometheus_services: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return not self.error

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "readable": self.readable,
            "error": self.error,
            "prometheus_services": self.prometheus_services,
            "findings": [finding.to_dict() for finding in self.findings],
        }


def check_compose_file(
    path: Path,
    check_host_ports: bool = True,
    proc: Path = Path("/proc"),
    environment: Mapping[str, str] | None = None,
) -> ComposeReport:
    """Lint ``path``: health checks, host ports, mounts, TSDB storage, lifecycle flags and localhost targets.

    ``check_host_ports`` also compares the published ports with the TCP sockets
    listening on this host (from ``proc``/net/tcp and tcp6). ``environment``
    supplies the variables for interpolation (default: this process's environment).
    Findings are sorted by file and line.
    """
    try:
        compose = load_compose_file(path, environment)
    except ComposeFileError as error:
        return ComposeReport(file=str(path), error=str(error))

    prometheus = prometheus_services(compose)
    findings: list[Finding] = []
    findings.extend(health_check_findings(compose, prometheus))
    findings.extend(host_port_findings(compose, check_host_ports, proc))
    findings.extend(mount_findings(compose, prometheus))
    findings.extend(lifecycle_findings(compose, prometheus))
    findings.extend(localhost_target_findings(compose, prometheus))
    findings.sort(key=lambda finding: (finding.file != str(path), finding.file, finding.line, finding.column))

    return ComposeReport(file=str(path), prometheus_services=[server.name for server in prometheus], findings=findings)
