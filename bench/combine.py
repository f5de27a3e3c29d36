"""Combine the JSON results of repeated benchmark runs into one table.

For recovery.py results, the table shows each run's median and max per
measure and each run's ratios. Every row ends with the median and the max
over the runs. For idle.py results, it shows each run's figures with the
same two columns.

Usage: python bench/combine.py bench/results/recovery-*.json
       python bench/combine.py bench/results/idle-*.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

RECOVERY_MEASURES = (
    "bare_start_fresh",
    "bare_start_reused",
    "bare_start_reused_log",
    "crash_detected",
    "crash_ready_again",
    "crash_ready_again_log",
    "crash_daemon_recovery",
    "hang_first_failed_round",
    "hang_detected",
    "hang_ready_again",
    "hang_ready_after_detection",
    "hang_ready_after_detection_log",
    "hang_daemon_recovery",
)
IDLE_FIGURES = ("rss_mean_mib", "rss_peak_mib", "vmhwm_mib", "cpu_percent_of_one_core", "cpu_percent_max_one_second")


def cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_row(name: str, values: list[float | None], digits: int, width: int) -> None:
    present = [v for v in values if v is not None]
    median = statistics.median(present) if present else None
    maximum = max(present) if present else None
    cells = "  ".join(f"{cell(v, digits):>8}" for v in values)
    print(f"{name:<{width}}  {cells}  {cell(median, digits):>8}  {cell(maximum, digits):>8}")


def combine_recovery(reports: list[dict[str, Any]]) -> None:
    width = max(len(name) for name in (*RECOVERY_MEASURES, *reports[0]["ratios"]))
    runs = "  ".join(f"{'run ' + str(i + 1):>8}" for i in range(len(reports)))
    print(f"{'median per run (s)':<{width}}  {runs}  {'median':>8}  {'max':>8}")
    for measure in RECOVERY_MEASURES:
        print_row(measure, [r["summaries"].get(measure, {}).get("median") for r in reports], 3, width)

    print()
    print(f"{'max per run (s)':<{width}}  {runs}  {'median':>8}  {'max':>8}")
    for measure in RECOVERY_MEASURES:
        print_row(measure, [r["summaries"].get(measure, {}).get("max") for r in reports], 3, width)

    print()
    print(f"{'ratio per run':<{width}}  {runs}  {'median':>8}  {'max':>8}")
    for name in reports[0]["ratios"]:
        print_row(name, [r["ratios"].get(name) for r in reports], 2, width)

    print()
    for index, target in enumerate(reports[0]["targets"]):
        verdicts = ["met" if r["targets"][index]["met"] else "MISSED" for r in reports]
        print(f"{target['target']}: {', '.join(verdicts)}")


def combine_idle(reports: list[dict[str, Any]]) -> None:
    width = max(len(f) for f in IDLE_FIGURES) + 2
    runs = "  ".join(f"{'run ' + str(i + 1):>8}" for i in range(len(reports)))
    print(f"{'figure':<{width}}  {runs}  {'median':>8}  {'max':>8}")
    for figure in IDLE_FIGURES:
        print_row(figure, [r.get(figure) for r in reports], 2, width)
    print()
    for index, target in enumerate(reports[0]["targets"]):
        verdicts = ["met" if r["targets"][index]["met"] else "MISSED" for r in reports]
        print(f"{target['target']}: {', '.join(verdicts)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Combine JSON results of repeated recovery.py or idle.py runs.")
    parser.add_argument("files", nargs="+", type=Path, help="result files written with --output, all from the same script")
    args = parser.parse_args(argv)

    reports = []
    for path in args.files:
        try:
            reports.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as error:
            parser.error(f"cannot read results file {path}: {error}")

    if all("summaries" in r for r in reports):
        combine_recovery(reports)
    elif all("rss_mean_mib" in r for r in reports):
        combine_idle(reports)
    else:
        parser.error("pass result files of one script only: all from recovery.py or all from idle.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
