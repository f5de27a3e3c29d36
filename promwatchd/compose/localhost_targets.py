"""Lint rule for scrape targets on localhost in the Prometheus config a container mounts.

Inside a container, ``localhost`` is the container's own loopback interface, not
the host's and not another container's, unless the service uses ``network_mode: host``.
"""

from __future__ import annotations

import ipaddress
import posixpath
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from promwatchd.compose.prometheus_service import PrometheusService, path_is_under
from promwatchd.compose.service import mounts, published_ports
from promwatchd.compose.source import ComposeFile, position
from promwatchd.promconfig.findings import WARNING, Finding

LOCAL_HOSTS = frozenset({"localhost", "ip6-localhost"})


def localhost_target_findings(compose: ComposeFile, prometheus: list[PrometheusService]) -> list[Finding]:
    findings: list[Finding] = []
    for server in prometheus:
        if str(server.service.get("network_mode", "")) == "host":
            continue
        config_path = mounted_config_file(compose, server)
        if config_path is None:
            continue
        config = _load_config(config_path)
        if config is None:
            continue
        for target, line, column, field_path in _static_targets(config):
            host, port = _split_target(target)
            if not _is_loopback(host) or port == server.listen_port:
                continue
            findings.append(Finding(
                WARNING, "localhost-target-in-container", str(config_path), line, column, field_path,
                f"target {target!r} is scraped from inside the container of service {server.name!r} "
                f"({compose.display_name}), where {host} is the container itself and nothing else listens, "
                "so the scrape fails with \"connection refused\"",
                _fix_for(compose, server, port),
            ))
    return findings


def mounted_config_file(compose: ComposeFile, server: PrometheusService) -> Path | None:
    """Return the host file that is mounted as the container's config file, or None when none is bind-mounted."""
    candidates = [mount for mount in mounts(server.name, server.service) if mount.kind == "bind"]
    candidates = [mount for mount in candidates if path_is_under(server.config_file, mount.target)]
    if not candidates:
        return None
    mount = max(candidates, key=lambda candidate: len(posixpath.normpath(candidate.target)))
    relative = posixpath.relpath(server.config_file, posixpath.normpath(mount.target))
    host_path = compose.resolve_host_path(mount.source)
    if relative != ".":
        host_path = host_path / relative
    return host_path if host_path.is_file() else None


def _load_config(path: Path) -> CommentedMap | None:
    try:
        data = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError):
        return None  # `promwatchd check config` reports an unreadable or invalid config
    return data if isinstance(data, CommentedMap) else None


def _static_targets(config: CommentedMap) -> list[tuple[str, int, int, str]]:
    """Return (target, line, column, field path) for each static target in scrape_configs."""
    found = []
    scrape_configs = config.get("scrape_configs")
    if not isinstance(scrape_configs, CommentedSeq):
        return found
    for job_index, job in enumerate(scrape_configs):
        static_configs = job.get("static_configs") if isinstance(job, CommentedMap) else None
        if not isinstance(static_configs, CommentedSeq):
            continue
        for group_index, group in enumerate(static_configs):
            targets = group.get("targets") if isinstance(group, CommentedMap) else None
            if not isinstance(targets, CommentedSeq):
                continue
            for target_index, target in enumerate(targets):
                if isinstance(target, str):
                    line, column = position(targets, target_index)
                    path = f"scrape_configs[{job_index}].static_configs[{group_index}].targets[{target_index}]"
                    found.append((target, line, column, path))
    return found


def _split_target(target: str) -> tuple[str, int | None]:
    host, separator, port = target.rpartition(":")
    if not separator or not port.isdigit() or (host.count(":") and not host.startswith("[")):
        return target.strip("[]"), None
    return host.strip("[]"), int(port)


def _is_loopback(host: str) -> bool:
    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _fix_for(compose: ComposeFile, server: PrometheusService, port: int | None) -> str:
    """Suggest the service that serves ``port`` in this file, or the host gateway when none does."""
    for name, service in compose.services.items():
        if name == server.name or port is None:
            continue
        container_ports = {published.container_port for published in published_ports(str(name), service)}
        exposed = service.get("expose")
        if isinstance(exposed, CommentedSeq):
            container_ports.update(int(str(entry).split("/")[0]) for entry in exposed if str(entry).split("/")[0].isdigit())
        if port in container_ports:
            return f"use the service name: '{name}:{port}'"
    port_text = f":{port}" if port is not None else ""
    return (
        f"if the application runs on the host, use 'host.docker.internal{port_text}' and add "
        f"extra_hosts: [\"host.docker.internal:host-gateway\"] to service {server.name!r} (the application must "
        "listen on an address the container can reach, not only 127.0.0.1); if it runs in a compose service, "
        "use that service's name"
    )
