"""``promwatchd check config``: validate prometheus.yml files as Prometheus 3.x loads them.

Exit codes follow promtool: 0 when every file is valid, 1 when a file is invalid,
2 for usage errors or files that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promwatchd.promconfig import FileReport
    from promwatchd.promconfig.promtool import PromtoolVerdict

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

DEFAULT_PROMTOOL = "promtool"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``config`` subcommand to ``promwatchd check``."""
    parser = subparsers.add_parser(
        "config",
        help="validate Prometheus configuration files (prometheus.yml)",
        description="Validate Prometheus configuration files as Prometheus 3.x loads them, with positions, field paths and fixes.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="configuration file to check")
    parser.add_argument("--agent", action="store_true", help="check for Prometheus in agent mode (alerting, rule_files and remote_read are not allowed)")
    parser.add_argument("--syntax-only", action="store_true", help="do not check that referenced files (rule files, certificates, credential files) exist; files named in scrape_config_files are still read when present")
    parser.add_argument("--output", choices=["text", "json"], default="text", help="output format (default: text)")
    parser.add_argument(
        "--promtool",
        default=DEFAULT_PROMTOOL,
        metavar="COMMAND",
        help="promtool for a second opinion: a program, or a command line such as 'docker exec -i prometheus promtool' with --promtool-stdin (default: promtool from PATH)",
    )
    parser.add_argument(
        "--promtool-stdin",
        action="store_true",
        help="send each file to promtool on standard input, for a promtool that cannot see this file system, such as one inside a container; promtool then checks syntax only",
    )
    parser.add_argument("--no-promtool", action="store_true", help="do not run promtool for a second opinion")
    parser.add_argument("--processes", type=_positive_int, metavar="N", help="validate a file of 256 KiB or more in up to N processes at the same time (default: the usable CPUs, at most 4; 1 validates in this process only)")
    return parser


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"invalid process count {value!r}: expected a whole number of 1 or more")
    return number


def run(args: argparse.Namespace) -> int:
    """Validate each file, print the results and return the exit code."""
    # Imported here so that other check commands do not pay for the validator's import,
    # and the promtool helpers (with subprocess) only when promtool runs.
    from promwatchd.promconfig import validate_file
    from promwatchd.promconfig.parallel import available_processes

    promtool = None
    missing: PromtoolVerdict | None = None
    if not args.no_promtool:
        from promwatchd.promconfig.promtool import PromtoolVerdict, find_promtool, start_promtool

        promtool = find_promtool(args.promtool)
        if promtool is None and args.promtool != DEFAULT_PROMTOOL:
            # Asked for by name, so its absence is reported; the default is only used when present.
            missing = PromtoolVerdict("unknown", None, None, f"{args.promtool!r} not found: check the --promtool command")
    # This command runs no other threads, so the validator may fork to check a large file in parts.
    processes = args.processes or available_processes()
    results: list[tuple[FileReport, PromtoolVerdict | None]] = []
    for path in args.files:
        # promtool checks the file while promwatchd does, so its second opinion adds little to the wall time.
        second_run = None
        if promtool is not None and path.is_file():
            second_run = start_promtool(promtool, path, agent=args.agent, syntax_only=args.syntax_only, use_stdin=args.promtool_stdin)
        report = validate_file(path, agent=args.agent, syntax_only=args.syntax_only, processes=processes)
        second = second_run.verdict() if second_run is not None else missing
        if second is not None and second.valid is not None and second.valid != report.valid and second.version.startswith("2."):
            second = _with_version_note(second)
        results.append((report, second if report.readable else None))

    if args.output == "json":
        _print_json(results)
    else:
        _print_text(results)

    if any(not report.readable for report, _ in results):
        return EXIT_USAGE
    if any(not report.valid for report, _ in results):
        return EXIT_INVALID
    return EXIT_OK


def _with_version_note(second: PromtoolVerdict) -> PromtoolVerdict:
    """Add to a disagreeing promtool 2.x verdict that the two check against different Prometheus versions."""
    from dataclasses import replace

    note = f"promtool {second.version} checks as Prometheus 2.x does, promwatchd as 3.x does; if your Prometheus is 2.x, promtool's verdict is the one that counts"
    return replace(second, note="; ".join(part for part in (second.note, note) if part))


def _print_json(results: list[tuple[FileReport, PromtoolVerdict | None]]) -> None:
    files = []
    for report, second in results:
        entry = report.to_dict()
        entry["promtool"] = second.to_dict() if second is not None else None
        files.append(entry)
    json.dump({"valid": all(report.valid for report, _ in results), "files": files}, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _print_text(results: list[tuple[FileReport, PromtoolVerdict | None]]) -> None:
    for report, second in results:
        print(f"Checking {report.file}")
        for finding in report.findings:
            print("  " + finding.format_text().replace("\n", "\n  "))
        errors = sum(1 for f in report.findings if f.is_error)
        warnings = len(report.findings) - errors
        if report.valid:
            print(f" SUCCESS: {report.file} is a valid Prometheus configuration ({warnings} warning{'s' if warnings != 1 else ''})")
        else:
            print(f"  FAILED: {errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}")
        if second is not None:
            _print_promtool(report, second)
        print()


def _print_promtool(report: FileReport, second: PromtoolVerdict) -> None:
    if second.valid is None:
        print(f"  promtool: not run: {second.output}")
        return
    verdict = "valid" if second.valid else f"invalid (exit {second.exit_code})"
    agreement = "agrees" if second.valid == report.valid else "disagrees"
    print(f"  promtool {second.version}: {verdict}; {agreement}")
    if not second.valid:
        from promwatchd.promconfig.promtool import first_error_line

        print(f"    {first_error_line(second.output)}")
    if second.note:
        print(f"    note: {second.note}")
