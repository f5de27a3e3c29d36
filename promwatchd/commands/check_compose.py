"""``promwatchd check compose``: lint a Docker Compose file that runs Prometheus.

Exit codes: 0 when no file has findings, 1 when one has, 2 when a file cannot
be read or is not a compose file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promwatchd.compose.check import ComposeReport

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNREADABLE = 2


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``compose`` subcommand to ``promwatchd check``."""
    parser = subparsers.add_parser(
        "compose",
        help="lint a Docker Compose file that runs Prometheus",
        description=(
            "Lint the Prometheus service of a compose file and its neighbours: health checks and the tools "
            "they need, host port conflicts, config and TSDB mounts, --web.enable-lifecycle, "
            "stop_grace_period and localhost targets in the mounted prometheus.yml. Each finding has a "
            "line, a rule id and a fix."
        ),
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="compose file to check, such as docker-compose.yml")
    parser.add_argument("--output", choices=["text", "json"], default="text", help="output format (default: text)")
    parser.add_argument(
        "--no-host-ports",
        action="store_true",
        help="do not compare published ports with the TCP ports already bound on this host",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    """Check each file, print the findings and return the exit code."""
    # Imported here so that other check commands do not pay for ruamel.yaml and the rules.
    from promwatchd.compose.check import check_compose_file

    reports = [check_compose_file(path, check_host_ports=not args.no_host_ports) for path in args.files]
    if args.output == "json":
        json.dump({"files": [report.to_dict() for report in reports]}, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_text(reports)

    if any(not report.readable for report in reports):
        return EXIT_UNREADABLE
    if any(report.findings for report in reports):
        return EXIT_FINDINGS
    return EXIT_OK


def _print_text(reports: list[ComposeReport]) -> None:
    for report in reports:
        print(f"Checking {report.file}")
        if not report.readable:
            print(f"  FAILED: {report.error}")
            print()
            continue
        if not report.prometheus_services:
            print("  note: no service runs a Prometheus image, so only the rules for neighbours ran")
        for finding in report.findings:
            print("  " + finding.format_text().replace("\n", "\n  "))
        count = len(report.findings)
        if count:
            print(f"  {count} finding{'s' if count != 1 else ''}")
        else:
            print(" SUCCESS: no findings")
        print()
