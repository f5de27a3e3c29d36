"""Lint rules for the Prometheus service's mounts: config file mounts, the TSDB volume and its permissions."""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path

from promwatchd.compose.prometheus_service import PrometheusService, path_is_under
from promwatchd.compose.service import Mount, mounts
from promwatchd.compose.source import ComposeFile, position
from promwatchd.promconfig.findings import ERROR, WARNING, Finding

FILE_SUFFIXES = (".yml", ".yaml", ".json", ".rules", ".conf", ".txt")
"""Container paths with these suffixes are taken to be files."""

_NEAR_MISS_SUFFIXES = (".yml", ".yaml", ".yml.txt", ".yaml.txt", ".sample.yml", ".example.yml")


def mount_findings(compose: ComposeFile, prometheus: list[PrometheusService]) -> list[Finding]:
    findings: list[Finding] = []
    for server in prometheus:
        server_mounts = mounts(server.name, server.service)
        findings.extend(_file_mount_findings(compose, server, server_mounts))
        findings.extend(_tsdb_findings(compose, server, server_mounts))
    return findings


def _expects_file(server: PrometheusService, target: str) -> bool:
    normalized = posixpath.normpath(target)
    return normalized == server.config_file or normalized.endswith(FILE_SUFFIXES)


def _file_mount_findings(compose: ComposeFile, server: PrometheusService, server_mounts: list[Mount]) -> list[Finding]:
    findings = []
    for mount in server_mounts:
        if mount.kind != "bind" or not _expects_file(server, mount.target):
            continue
        host_path = compose.resolve_host_path(mount.source)
        path = f"services.{server.name}.volumes"

        if host_path.is_dir():
            entries = sorted(entry.name for entry in host_path.iterdir())
            contents = f"containing {', '.join(entries[:3])}{' and more' if len(entries) > 3 else ''}" if entries else "empty"
            removal = "remove the empty directory" if not entries else "remove the directory once you have checked that it holds nothing you need"
            nearby = _near_misses(host_path)
            hint = f" Files with similar names next to it: {', '.join(nearby)}." if nearby else ""
            findings.append(Finding(
                ERROR, "config-mount-is-directory", compose.display_name, mount.line, mount.column, path,
                f"bind-mount source {host_path} is a directory ({contents}), but {mount.target} in the container "
                "is a file, so Docker fails with \"not a directory\" when it creates the container. Docker itself "
                f"creates a missing source as an empty directory.{hint}",
                f"stop the stack, {removal}, put the config file at that path and start again; "
                f"or mount the containing directory instead ({posixpath.dirname(mount.source) or '.'}:"
                f"{posixpath.dirname(mount.target)}:ro)",
            ))
        elif not host_path.exists():
            findings.append(Finding(
                WARNING, "bind-source-missing", compose.display_name, mount.line, mount.column, path,
                f"bind-mount source {host_path} does not exist, so Docker will create it as an empty directory "
                f"and the file mount on {mount.target} will fail",
                f"create the file {host_path} before starting the stack",
            ))
    return findings


def _near_misses(directory: Path) -> list[str]:
    stem = directory.name.split(".", 1)[0]
    names = []
    for suffix in _NEAR_MISS_SUFFIXES:
        candidate = directory.with_name(stem + suffix)
        if candidate != directory and candidate.is_file():
            names.append(candidate.name)
    return names


def _tsdb_findings(compose: ComposeFile, server: PrometheusService, server_mounts: list[Mount]) -> list[Finding]:
    covering = [mount for mount in server_mounts if path_is_under(server.tsdb_path, mount.target)]
    if not covering:
        line, column = position(compose.services, server.name)
        return [Finding(
            WARNING, "tsdb-not-on-volume", compose.display_name, line, column, f"services.{server.name}",
            f"the TSDB path {server.tsdb_path} of service {server.name!r} is not on a named volume or bind mount, "
            "so the data lives in an anonymous volume or the container layer and is lost when the container "
            "is removed",
            f"add a named volume: volumes: [\"prometheus_data:{server.tsdb_path}\"] with "
            "prometheus_data: {} under the top-level volumes key",
        )]

    # The deepest mount decides where the TSDB is written.
    mount = max(covering, key=lambda candidate: len(posixpath.normpath(candidate.target)))
    path = f"services.{server.name}.volumes"
    if mount.kind == "volume" and not mount.source:
        return [Finding(
            WARNING, "tsdb-not-on-volume", compose.display_name, mount.line, mount.column, path,
            f"the TSDB path {server.tsdb_path} is on an anonymous volume, which 'docker compose down -v' and "
            "'docker rm -v' delete and which a new container does not always reuse",
            f"name the volume: \"prometheus_data:{mount.target}\", and declare prometheus_data under volumes",
        )]
    if mount.read_only:
        return [Finding(
            ERROR, "tsdb-read-only", compose.display_name, mount.line, mount.column, path,
            f"the TSDB path {server.tsdb_path} is mounted read-only, so Prometheus cannot open its storage",
            "remove :ro from this mount",
        )]
    if mount.kind == "bind":
        return _bind_writable_findings(compose, server, mount)
    return []


def _bind_writable_findings(compose: ComposeFile, server: PrometheusService, mount: Mount) -> list[Finding]:
    """Report a bind-mounted TSDB directory that the container's user cannot write."""
    host_path = compose.resolve_host_path(mount.source)
    uid_text, _, gid_text = server.user.partition(":")
    if not uid_text.isdigit():
        # NOTE: a user name is resolved in the image's /etc/passwd, which is not read here; only root is known.
        if uid_text != "root":
            return []
        uid_text = "0"
    uid = int(uid_text)
    gid = int(gid_text) if gid_text.isdigit() else uid
    if uid == 0:
        return []

    path = f"services.{server.name}.volumes"
    if not host_path.exists():
        return [Finding(
            ERROR, "tsdb-not-writable", compose.display_name, mount.line, mount.column, path,
            f"bind-mount source {host_path} does not exist, so Docker creates it owned by root with mode 0755, "
            f"and Prometheus (uid {uid}) cannot write its TSDB there",
            f"create it first: mkdir -p {host_path} && chown {uid}:{gid} {host_path}; or use a named volume",
        )]
    if not host_path.is_dir():
        return [Finding(
            ERROR, "tsdb-mount-not-directory", compose.display_name, mount.line, mount.column, path,
            f"bind-mount source {host_path} for the TSDB path {server.tsdb_path} is not a directory",
            "point the mount at a directory, or use a named volume",
        )]

    info = host_path.stat()
    if _may_write(info, uid, gid):
        return []
    return [Finding(
        ERROR, "tsdb-not-writable", compose.display_name, mount.line, mount.column, path,
        f"bind-mount source {host_path} (owner {info.st_uid}:{info.st_gid}, mode {stat.S_IMODE(info.st_mode):04o}) "
        f"is not writable by the container's user {uid}:{gid}, so Prometheus fails with \"permission denied\" "
        "when it opens the TSDB",
        f"chown -R {uid}:{gid} {host_path}, or use a named volume, which Docker initialises with the image's ownership",
    )]


def _may_write(info: os.stat_result, uid: int, gid: int) -> bool:
    """Return whether uid:gid may create files in a directory with these permissions (ACLs are not read)."""
    mode = info.st_mode
    if info.st_uid == uid:
        return bool(mode & stat.S_IWUSR and mode & stat.S_IXUSR)
    if info.st_gid == gid:
        return bool(mode & stat.S_IWGRP and mode & stat.S_IXGRP)
    return bool(mode & stat.S_IWOTH and mode & stat.S_IXOTH)
