"""Find the process that listens on a TCP address, from /proc (Linux only)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

_LISTEN_STATE = "0A"
_WILDCARDS = (ipaddress.ip_address("0.0.0.0"), ipaddress.ip_address("::"))


@dataclass(frozen=True)
class PortHolder:
    """A listening socket and, when /proc lets us see it, the process that owns it."""

    address: str
    port: int
    inode: int
    pid: int | None = None
    command: str = ""
    """The holder's command line, arguments separated by spaces."""


def split_address(listen_address: str) -> tuple[str, int]:
    """Split ``host:port`` (IPv6 hosts in brackets); an empty host means all addresses."""
    host, separator, port = listen_address.rpartition(":")
    if not separator or not port.isdigit():
        raise ValueError(f"invalid listen address {listen_address!r}: expected host:port, such as 127.0.0.1:9090")
    return host.strip("[]") or "0.0.0.0", int(port)


def parse_proc_net(text: str, ipv6: bool) -> list[tuple[str, int, int]]:
    """Return (address, port, inode) of each listening socket in a /proc/net/tcp or tcp6 table."""
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _LISTEN_STATE:
            continue
        hex_address, hex_port = fields[1].split(":")
        sockets.append((_decode_address(hex_address, ipv6), int(hex_port, 16), int(fields[9])))
    return sockets


def _decode_address(hex_address: str, ipv6: bool) -> str:
    raw = bytes.fromhex(hex_address)
    if not ipv6:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # The kernel prints an IPv6 address as four 32-bit words in host (little-endian) order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    address = ipaddress.IPv6Address(words)
    return str(address.ipv4_mapped or address)


def _conflicts(wanted_host: str, bound_host: str) -> bool:
    """True when a socket bound to ``bound_host`` blocks a bind to ``wanted_host`` on the same port."""
    try:
        wanted, bound = ipaddress.ip_address(wanted_host), ipaddress.ip_address(bound_host)
    except ValueError:
        return True  # a host name: assume it may resolve to the bound address
    return wanted == bound or wanted in _WILDCARDS or bound in _WILDCARDS


def find_port_holder(listen_address: str, proc: Path = Path("/proc")) -> PortHolder | None:
    """Return the listener that blocks ``listen_address``, or None when the port is free. Blocking."""
    host, port = split_address(listen_address)

    candidates: list[tuple[str, int, int]] = []
    for table, ipv6 in (("tcp", False), ("tcp6", True)):
        try:
            text = (proc / "net" / table).read_text(encoding="ascii")
        except OSError:
            continue
        candidates.extend(s for s in parse_proc_net(text, ipv6) if s[1] == port and _conflicts(host, s[0]))
    if not candidates:
        return None

    address, bound_port, inode = candidates[0]
    pid = _socket_owner(inode, proc)
    command = _command_line(pid, proc) if pid is not None else ""
    return PortHolder(address, bound_port, inode, pid, command)


def _socket_owner(inode: int, proc: Path) -> int | None:
    target = f"socket:[{inode}]"
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) == target:
                    return int(entry.name)
        except OSError:
            continue  # the process ended, or we may not look at it
    return None


def _command_line(pid: int, proc: Path) -> str:
    try:
        raw = (proc / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()
