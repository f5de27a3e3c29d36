"""Read the fields of one compose service: ports, volumes, health check, command and durations.

The readers follow the Compose specification's short and long syntax and keep
the 1-based line and column of each entry for findings.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from promwatchd.compose.source import position, value_position

MAX_PORT_RANGE = 1024
"""Longest published port range expanded into single ports; longer ranges are skipped."""

_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_GO_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class PublishedPort:
    """A container port published on a host port, with the position of its entry."""

    service: str
    host_ip: str
    host_port: int
    container_port: int
    protocol: str
    line: int
    column: int


@dataclass(frozen=True)
class Mount:
    """One entry of a service's ``volumes``: a bind mount, a named or anonymous volume, or a tmpfs."""

    service: str
    kind: str
    """``bind``, ``volume`` or ``tmpfs``; a ``volume`` without source is anonymous."""
    source: str
    target: str
    read_only: bool
    line: int
    column: int


@dataclass(frozen=True)
class HealthCheck:
    """A service's ``healthcheck``: the command as the engine runs it, and its timing in seconds."""

    kind: str
    """``CMD`` (exec form), ``CMD-SHELL`` (run by /bin/sh -c) or ``NONE`` (disabled)."""
    arguments: tuple[str, ...]
    interval_seconds: float
    retries: int
    line: int
    column: int


def parse_go_duration(text: str | int | float) -> float:
    """Return the seconds in a Go duration such as ``1m30s`` or ``1.5s``, as Compose reads them.

    A bare number is taken as seconds. Raises ValueError naming the text otherwise.
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    stripped = str(text).strip()
    if stripped == "0":
        return 0.0
    parts = _GO_DURATION_PART.findall(stripped)
    if not parts or "".join(number + unit for number, unit in parts) != stripped:
        raise ValueError(f"invalid duration {text!r}: expected a Go duration, such as 10s, 1m or 1m30s")
    return sum(float(number) * _GO_UNIT_SECONDS[unit] for number, unit in parts)


def image_of(service: CommentedMap) -> str:
    image = service.get("image")
    return image if isinstance(image, str) else ""


def command_arguments(service: CommentedMap) -> list[str] | None:
    """Return the service's ``command`` as a list of arguments, or None when the image's default applies."""
    command = service.get("command")
    if command is None:
        return None
    if isinstance(command, str):
        try:
            return shlex.split(command)
        except ValueError:
            return command.split()
    if isinstance(command, CommentedSeq):
        return [str(argument) for argument in command]
    return None


def flag_value(arguments: list[str], flag: str) -> str | None:
    """Return the value of ``--flag=value`` or ``--flag value`` in ``arguments``, the last one winning."""
    found = None
    for index, argument in enumerate(arguments):
        if argument == flag and index + 1 < len(arguments):
            found = arguments[index + 1]
        elif argument.startswith(flag + "="):
            found = argument[len(flag) + 1 :]
    return found


def has_flag(arguments: list[str], flag: str) -> bool:
    """Return whether ``flag`` is given, alone or as ``--flag=true``."""
    for argument in arguments:
        if argument == flag or argument == f"{flag}=true":
            return True
    return False


def published_ports(name: str, service: CommentedMap) -> list[PublishedPort]:
    """List the host ports that ``service`` publishes. Entries without a host port are left out."""
    ports = service.get("ports")
    if not isinstance(ports, CommentedSeq):
        return []

    published: list[PublishedPort] = []
    for index, entry in enumerate(ports):
        line, column = position(ports, index)
        if isinstance(entry, CommentedMap):
            published.extend(_long_port(name, entry, line, column))
        elif isinstance(entry, (str, int)) and not isinstance(entry, bool):
            published.extend(_short_port(name, str(entry), line, column))
    return published


def _short_port(name: str, text: str, line: int, column: int) -> list[PublishedPort]:
    """Read ``[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]``; the host IP may be an IPv6 address in brackets."""
    text, _, protocol = text.partition("/")
    host_ip = ""
    if text.startswith("["):
        bracket_end = text.find("]")
        host_ip, text = text[1:bracket_end], text[bracket_end + 2 :]
    parts = text.split(":")
    if len(parts) == 1:
        return []
    if len(parts) == 3:
        host_ip = parts[0]
    elif len(parts) > 3:
        host_ip = ":".join(parts[:-2])
    host, container = parts[-2], parts[-1]
    if not host:
        return []
    return _expand(name, host_ip, host, container, protocol or "tcp", line, column)


def _long_port(name: str, entry: CommentedMap, line: int, column: int) -> list[PublishedPort]:
    published = entry.get("published")
    target = entry.get("target")
    if published in (None, "") or target is None:
        return []
    host_ip = str(entry.get("host_ip") or "")
    protocol = str(entry.get("protocol") or "tcp")
    return _expand(name, host_ip, str(published), str(target), protocol, line, column)


def _expand(name: str, host_ip: str, host: str, container: str, protocol: str, line: int, column: int) -> list[PublishedPort]:
    """Expand ``8000-8002`` style ranges into single ports; invalid numbers give no ports."""
    try:
        host_ports = _port_range(host)
        container_ports = _port_range(container)
    except ValueError:
        return []
    if len(host_ports) > MAX_PORT_RANGE:
        return []
    if len(container_ports) != len(host_ports):
        container_ports = [container_ports[0]] * len(host_ports)
    return [
        PublishedPort(name, host_ip, host_port, container_port, protocol.lower(), line, column)
        for host_port, container_port in zip(host_ports, container_ports)
    ]


def _port_range(text: str) -> list[int]:
    first, _, last = text.strip().partition("-")
    start = int(first)
    end = int(last) if last else start
    if not (0 < start <= end <= 65535):
        raise ValueError(f"invalid port range {text!r}")
    return list(range(start, end + 1))


def mounts(name: str, service: CommentedMap) -> list[Mount]:
    """List the entries of the service's ``volumes`` in short or long syntax."""
    volumes = service.get("volumes")
    if not isinstance(volumes, CommentedSeq):
        return []

    found: list[Mount] = []
    for index, entry in enumerate(volumes):
        line, column = position(volumes, index)
        if isinstance(entry, str):
            found.append(_short_mount(name, entry, line, column))
        elif isinstance(entry, CommentedMap) and isinstance(entry.get("target"), str):
            kind = str(entry.get("type") or "volume")
            source = str(entry.get("source") or "")
            found.append(Mount(name, kind, source, entry["target"], bool(entry.get("read_only")), line, column))
    return found


def _short_mount(name: str, text: str, line: int, column: int) -> Mount:
    """Read ``[SOURCE:]TARGET[:MODE]``; a source starting with ``/``, ``.`` or ``~`` is a host path."""
    parts = text.split(":")
    if len(parts) == 1:
        return Mount(name, "volume", "", parts[0], False, line, column)
    source, target = parts[0], parts[1]
    options = parts[2].split(",") if len(parts) > 2 else []
    kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
    return Mount(name, kind, source, target, "ro" in options, line, column)


def health_check(service: CommentedMap) -> HealthCheck | None:
    """Return the service's health check, or None when the compose file sets none.

    ``disable: true`` and ``test: ["NONE"]`` give kind ``NONE``. Without
    ``interval`` and ``retries`` the engine's defaults apply: 30 s and 3.
    """
    check = service.get("healthcheck")
    if not isinstance(check, CommentedMap):
        return None
    line, column = value_position(check, "test") if "test" in check else position(service, "healthcheck")

    test = check.get("test")
    if check.get("disable") is True:
        kind, arguments = "NONE", ()
    elif isinstance(test, str):
        kind, arguments = "CMD-SHELL", (test,)
    elif isinstance(test, CommentedSeq) and test:
        kind, arguments = str(test[0]), tuple(str(argument) for argument in test[1:])
    else:
        kind, arguments = "NONE", ()

    try:
        interval = parse_go_duration(check.get("interval", "30s"))
    except ValueError:
        interval = 30.0
    retries = check.get("retries", 3)
    return HealthCheck(kind, arguments, interval, retries if isinstance(retries, int) else 3, line, column)


def depends_on_names(service: CommentedMap) -> list[str]:
    """Return the services named in ``depends_on``, in list or mapping form."""
    depends_on = service.get("depends_on")
    if isinstance(depends_on, CommentedSeq):
        return [str(name) for name in depends_on]
    if isinstance(depends_on, CommentedMap):
        return [str(name) for name in depends_on]
    return []


def string_values(node: Any) -> list[str]:
    """Return every string scalar below ``node``, depth first."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, CommentedMap):
        return [text for value in node.values() for text in string_values(value)]
    if isinstance(node, CommentedSeq):
        return [text for value in node for text in string_values(value)]
    return []
