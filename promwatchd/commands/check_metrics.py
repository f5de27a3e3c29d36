"""``promwatchd check metrics``: validate exposition payloads like ``promtool check metrics``.

Exit codes as promtool: 0 valid, 1 problems found (errors; lint findings only with --lint),
2 usage error or unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promwatchd.exposition.findings import Format
    from promwatchd.exposition.sources import SourceReport

# The validator and json are imported in run(): the CLI imports every check command's module
# to build its parser, and the other commands should not pay for them.

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2

DEFAULT_TIMEOUT_SECONDS = 10.0
"""Prometheus's default scrape_timeout."""
DEFAULT_MAX_BYTES = 100 * 1024 * 1024

_FORMATS = {"auto": None, "text": "text", "openmetrics": "openmetrics"}
"""--format choices and the ``Format`` value each selects (None: detect)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "metrics",
        help="validate /metrics payloads (Prometheus text format 0.0.4, OpenMetrics 1.0), like promtool check metrics",
        description=(
            "Validate exposition payloads from files, standard input (-) or http(s) URLs. "
            "Exit status: 0 valid, 1 problems found, 2 usage error or unreadable input."
        ),
    )
    parser.add_argument(
        "--format",
        choices=list(_FORMATS),
        default="auto",
        help="payload format; auto: the URL's Content-Type, else detected from the payload (default: auto)",
    )
    parser.add_argument(
        "--lint",
        action="store_true",
        help="also check naming conventions (promtool's lint checks), report them as lint findings and count them for the exit status",
    )
    parser.add_argument("--output", choices=["text", "json"], default="text", help="output format (default: text)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"time limit for fetching each URL, in seconds (default: {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_BYTES,
        metavar="BYTES",
        help=f"read at most this many bytes of a URL's body (default: {DEFAULT_MAX_BYTES})",
    )
    parser.add_argument("sources", nargs="+", metavar="FILE|URL|-", help="payload file, http(s) URL, or - for standard input")
    return parser


def run(args: argparse.Namespace) -> int:
    from promwatchd.exposition.findings import Format
    from promwatchd.exposition.sources import SourceError

    format_name = _FORMATS[args.format]
    requested = None if format_name is None else Format(format_name)
    if args.timeout <= 0 or args.max_bytes <= 0:
        print("promwatchd: --timeout and --max-bytes must be positive", file=sys.stderr)
        return EXIT_USAGE
    if args.sources.count("-") > 1:
        print("promwatchd: standard input (-) can be read only once", file=sys.stderr)
        return EXIT_USAGE

    reports: list[SourceReport] = []
    exit_code = EXIT_OK
    for source in args.sources:
        try:
            report = _validate_source(source, requested, args)
        except SourceError as error:
            print(f"promwatchd: {error}", file=sys.stderr)
            exit_code = EXIT_USAGE
            continue
        reports.append(report)
        if _has_problems(report) and exit_code == EXIT_OK:
            exit_code = EXIT_PROBLEMS

    if args.output == "json":
        import json

        json.dump({"sources": [_report_to_dict(report) for report in reports]}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for report in reports:
            _print_report(report, args.lint)
    return exit_code


def _validate_source(source: str, requested: Format | None, args: argparse.Namespace) -> SourceReport:
    from promwatchd.exposition.sources import validate_file, validate_stream, validate_url

    if source == "-":
        return validate_stream(sys.stdin.buffer, "(stdin)", requested, args.lint)
    if source.startswith(("http://", "https://")):
        return validate_url(source, requested, args.lint, args.timeout, args.max_bytes)
    return validate_file(source, requested, args.lint)


def _has_problems(report: SourceReport) -> bool:
    return bool(report.findings) or bool(report.result.suppressed)


def _print_report(report: SourceReport, lint: bool) -> None:
    from promwatchd.exposition.findings import Severity

    write = sys.stdout.write
    for finding in report.findings:
        write(finding.format_text(report.source) + "\n")
    for rule, count in sorted(report.result.suppressed.items()):
        write(f"{report.source}: {count} more {rule} findings not shown\n")

    errors = sum(1 for finding in report.findings if finding.severity is Severity.ERROR) + sum(
        count for rule, count in report.result.suppressed.items() if not rule.startswith("lint-")
    )
    summary = f"{report.source}: {report.result.format.value} format, {report.result.lines} lines, {report.result.samples} samples"
    if report.content_type is not None:
        summary += f", Content-Type {report.content_type!r}"
    summary += f": {errors} errors"
    if lint:
        lints = len(report.findings) + sum(report.result.suppressed.values()) - errors
        summary += f", {lints} lint findings"
    else:
        summary += " (naming conventions not checked; add --lint)"
    write(summary + "\n")


def _report_to_dict(report: SourceReport) -> dict[str, object]:
    return {
        "source": report.source,
        "format": report.result.format.value,
        "content_type": report.content_type,
        "http_status": report.status,
        "lines": report.result.lines,
        "samples": report.result.samples,
        "valid": not _has_problems(report),
        "findings": [finding.to_dict() for finding in report.findings],
        "suppressed_findings": dict(report.result.suppressed),
    }
