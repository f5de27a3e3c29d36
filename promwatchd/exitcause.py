"""Classify why Prometheus exited, from its exit status and its last log lines.

The patterns are the messages Prometheus 2.x and 3.x log before they exit
(cmd/prometheus/main.go: "Error loading config", "Unable to start web
listener", "opening storage failed").
"""

from __future__ import annotations

import signal
from collections.abc import Sequence
from dataclasses import dataclass

from promwatchd.backends.base import ExitInfo

CAUSES = ("config", "port_in_use", "permission", "disk_full", "lock_held", "oom", "killed", "crash", "clean")


@dataclass(frozen=True)
class ExitCause:
    """A bounded cause label, and the log line that shows it (empty when none does)."""

    cause: str
    evidence: str = ""


_LINE_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("config", ("error loading config", "failed to apply configuration")),
    ("port_in_use", ("address already in use",)),
    ("lock_held", ("lock db directory", "resource temporarily unavailable")),
    ("disk_full", ("no space left on device",)),
    ("permission", ("permission denied",)),
)


def classify_exit(exit_info: ExitInfo) -> ExitCause:
    """Return the most specific cause the exit shows; log lines win over the bare status."""
    found = _match_lines(exit_info.output_tail)
    if found is not None:
        return found

    if exit_info.oom_killed:
        return ExitCause("oom", "the kernel's OOM killer ended the process")
    if exit_info.signal == signal.SIGKILL:
        return ExitCause("killed", "killed by SIGKILL (an operator, or the OOM killer)")
    if exit_info.signal is not None:
        return ExitCause("crash", f"ended by signal {signal.Signals(exit_info.signal).name}")
    if exit_info.code == 0:
        return ExitCause("clean", "exited with status 0")
    return ExitCause("crash", f"exited with status {exit_info.code}")


def _match_lines(lines: Sequence[str]) -> ExitCause | None:
    # The newest lines are the ones written just before the exit.
    for line in reversed(lines[-60:]):
        if "level=error" not in line and "level=ERROR" not in line and "panic" not in line:
            continue
        lowered = line.lower()
        for cause, needles in _LINE_PATTERNS:
            if any(needle in lowered for needle in needles):
                return ExitCause(cause, line.strip())
    return None
