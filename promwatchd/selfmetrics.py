"""Read the few series of Prometheus's own /metrics that show progress and health."""

from __future__ import annotations

import math
from collections.abc import Iterable

SAMPLES_APPENDED = "prometheus_tsdb_head_samples_appended_total"
RELOAD_SUCCESSFUL = "prometheus_config_last_reload_successful"
CPU_SECONDS = "process_cpu_seconds_total"
HEAD_SERIES = "prometheus_tsdb_head_series"

WATCHED_METRICS = frozenset({SAMPLES_APPENDED, RELOAD_SUCCESSFUL, CPU_SECONDS, HEAD_SERIES})


def read_samples(text: str, names: Iterable[str]) -> dict[str, float]:
    """Return the value of each named metric in a text exposition, summed over label sets.

    This scans for a handful of known names in Prometheus's own output and
    skips anything it cannot read; it is not a format validator.
    """
    wanted = frozenset(names)
    totals: dict[str, float] = {}

    for line in text.splitlines():
        if not line or line[0] == "#":
            continue

        name_end = len(line)
        for i, char in enumerate(line):
            if char in "{ ":
                name_end = i
                break
        name = line[:name_end]
        if name not in wanted:
            continue

        rest = line[name_end:]
        if rest.startswith("{"):
            closing = rest.rfind("}")
            if closing < 0:
                continue
            rest = rest[closing + 1 :]
        fields = rest.split()
        if not fields:
            continue

        try:
            value = float(fields[0])
        except ValueError:
            continue
        if math.isnan(value):
            continue
        totals[name] = totals.get(name, 0.0) + value

    return totals
