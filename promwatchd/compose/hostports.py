"""Lint rules for published host ports: two services on one port, or a port another process holds."""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from pathlib import Path

from promwatchd.compose.service import PublishedPort, published_ports
from promwatchd.compose.source import ComposeFile
from promwatchd.diagnose.ports import find_port_holder
from promwatchd.promconfig.findings import ERROR, Finding

_ALL_ADDRESSES = ("", "0.0.0.0", "::")

BUILDINFO_TIMEOUT_SECONDS = 1.0
"""Timeout of the buildinfo request sent to the process that listens on a published port."""


def host_port_findings(compose: ComposeFile, check_host: bool, proc: Path = Path("/proc")) -> list[Finding]:
    """Report host ports published twice in the file and, when ``check_host`` is set, TCP ports already bound on this host."""
    ports = [port for name, service in compose.services.items() for port in published_ports(str(name), service)]
    findings = _conflicts_between_services(compose, ports)
    if check_host:
        findings.extend(_ports_in_use(compose, ports, proc))
    return findings


def _conflicts_between_services(compose: ComposeFile, ports: list[PublishedPort]) -> list[Finding]:
    findings = []
    seen: list[PublishedPort] = []
    for port in ports:
        earlier = next((other for other in seen if _overlap(port, other)), None)
        seen.append(port)
        if earlier is None:
            continue
        findings.append(Finding(
            ERROR, "host-port-conflict", compose.display_name, port.line, port.column,
            f"services.{port.service}.ports",
            f"service {port.service!r} publishes host port {port.host_port}/{port.protocol}, which service "
            f"{earlier.service!r} already publishes on line {earlier.line}, so the second container fails to start",
            f"publish one of them on another host port, such as {port.host_port + 1}:{port.container_port}",
        ))
    return findings


def _overlap(first: PublishedPort, second: PublishedPort) -> bool:
    if first.host_port != second.host_port or first.protocol != second.protocol:
        return False
    if first.host_ip in _ALL_ADDRESSES or second.host_ip in _ALL_ADDRESSES:
        return True
    try:
        return ipaddress.ip_address(first.host_ip) == ipaddress.ip_address(second.host_ip)
    except ValueError:
        return first.host_ip == second.host_ip


def _ports_in_use(compose: ComposeFile, ports: list[PublishedPort], proc: Path) -> list[Finding]:
    findings = []
    for port in ports:
        if port.protocol != "tcp":
            continue
        host = port.host_ip if port.host_ip not in _ALL_ADDRESSES else "0.0.0.0"
        address = f"[{host}]:{port.host_port}" if ":" in host else f"{host}:{port.host_port}"
        holder = find_port_holder(address, proc)
        if holder is None:
            continue
        # NOTE: docker-proxy listens on the published ports of running containers,
        # including this stack's own when it is up. Such a listener is not reported,
        # so a port taken by another project's container is missed.
        if holder.command.split(" ", 1)[0].endswith("docker-proxy"):
            continue

        if holder.pid is None:
            who = "a process this user may not inspect"
        else:
            who = f"process {holder.pid} ({holder.command or 'command line unknown'})"
        version = prometheus_version(holder.address, holder.port)
        if version is not None:
            note = f": it is itself Prometheus {version}, probably one installed on the host earlier"
        elif "prometheus" in holder.command.split(" ", 1)[0]:
            note = ": it is itself a Prometheus server, probably one installed on the host earlier"
        else:
            note = ""
        findings.append(Finding(
            ERROR, "host-port-in-use", compose.display_name, port.line, port.column,
            f"services.{port.service}.ports",
            f"host port {port.host_port} of service {port.service!r} is already bound on "
            f"{holder.address}:{holder.port} by {who}{note}, so Docker cannot publish it "
            "(\"bind: address already in use\")",
            "stop that process if it is unwanted (for a system service: systemctl disable --now <unit>), or "
            f"publish the container on another host port, such as \"{port.host_port + 1}:{port.container_port}\". "
            "promwatchd never stops the holder itself",
        ))
    return findings


def prometheus_version(address: str, port: int) -> str | None:
    """Return the version from /api/v1/status/buildinfo of a loopback or wildcard listener, or None.

    Listeners on other addresses are not asked, so that the check sends nothing off this host.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.is_unspecified:
        host = "127.0.0.1" if ip.version == 4 else "[::1]"
    elif ip.is_loopback:
        host = str(ip) if ip.version == 4 else f"[{ip}]"
    else:
        return None

    url = f"http://{host}:{port}/api/v1/status/buildinfo"
    try:
        with urllib.request.urlopen(url, timeout=BUILDINFO_TIMEOUT_SECONDS) as response:
            document = json.loads(response.read(65536))
    except (OSError, urllib.error.URLError, ValueError):
        return None
    version = (document.get("data") or {}).get("version") if isinstance(document, dict) else None
    return str(version) if version else None
