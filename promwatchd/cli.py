"""The promwatchd command line. Exit codes: 0 fine, 1 problems found, 2 usage or input error."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from typing import TYPE_CHECKING

from promwatchd import __version__
from promwatchd.commands import load_check_commands

if TYPE_CHECKING:
    from types import ModuleType

    from promwatchd.settings import Settings

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
# As a shell reports a command killed by SIGPIPE: 128 + 13.
EXIT_BROKEN_PIPE = 141


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """Build the parser; for ``check NAME`` only that check's module is imported."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="promwatchd", description="Keep one Prometheus server healthy.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="supervise Prometheus until stopped (SIGTERM or SIGINT)")
    _add_settings_flags(run)
    run.add_argument("--listen", metavar="HOST:PORT", help="address of promwatchd's own HTTP server (server.listen_address)")
    run.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log level (log.level)")
    run.add_argument("--log-format", choices=["auto", "json", "console"], help="log format (log.format); auto: JSON unless stdout is a terminal")

    fallback = commands.add_parser("fallback-config", help="print the minimal config promwatchd falls back to")
    _add_settings_flags(fallback)
    fallback.add_argument(
        "--salvage",
        type=Path,
        metavar="FILE",
        help="print the fallback the daemon starts when FILE (a prometheus.yml) cannot start: FILE without the scrape jobs and other parts that fail validation, or the minimal config when no job passes; each dropped part and the reason are listed on stderr and as comments at the top",
    )

    only = argv[1] if len(argv) >= 2 and argv[0] == "check" else None
    check_modules = load_check_commands(only)
    if check_modules:
        check = commands.add_parser("check", help="validate files and endpoints, like promtool check")
        check_commands = check.add_subparsers(dest="check_command", metavar="WHAT", required=True)
        for module in check_modules.values():
            module.add_parser(check_commands)

    fix = commands.add_parser("fix", help="correct common mistakes in files")
    fix_commands = fix.add_subparsers(dest="fix_command", metavar="WHAT", required=True)
    for module in load_fix_commands().values():
        module.add_parser(fix_commands)

    from promwatchd.commands import diagnose

    diagnose.add_parser(commands)

    commands.add_parser("version", help="print the version")
    return parser


def _add_settings_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="promwatchd settings file (YAML); default /etc/promwatchd/promwatchd.yaml if present",
    )


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        # The reader of our output went away, as `promwatchd check config FILE | head` does.
        # Point stdout at /dev/null so that the flush at exit does not fail a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _run(argv: list[str] | None) -> int:
    parser = build_parser(argv)
    args = parser.parse_args(argv)

    if args.command == "version":
        print(f"promwatchd {__version__}")
        return EXIT_OK
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    if args.command == "check":
        return load_check_commands(args.check_command)[args.check_command].run(args)
    if args.command == "diagnose":
        from promwatchd.commands import diagnose

        return diagnose.run(args)
    if args.command == "fix":
        return load_fix_commands()[args.fix_command].run(args)
    # Imported here: pydantic costs about 150 ms, which the check commands do not need.
    from promwatchd.settings import SettingsError, load_settings

    overrides = {}
    if args.command == "run":
        overrides = {"server.listen_address": args.listen, "log.level": args.log_level, "log.format": args.log_format}
    try:
        settings = load_settings(args.config, overrides=overrides)
    except SettingsError as error:
        for line in str(error).splitlines():
            print(f"promwatchd: {line}", file=sys.stderr)
        return EXIT_USAGE

    if args.command == "fallback-config" and args.salvage is not None:
        return _print_salvaged(args.salvage, settings)
    if args.command == "fallback-config":
        return _print_fallback(settings)

    from promwatchd.daemon import run_daemon

    return run_daemon(settings, overrides)


def _print_fallback(settings: Settings) -> int:
    from promwatchd.fallback import minimal_config

    sys.stdout.write(minimal_config(settings.process.listen_address, settings.server.listen_address))
    return EXIT_OK


def load_fix_commands() -> dict[str, ModuleType]:
    """Import the ``fix`` subcommand modules, keyed by subcommand name; each is light until it runs."""
    from promwatchd.commands import fix_config

    return {"config": fix_config}


def _print_salvaged(path: Path, settings: Settings) -> int:
    """Print the config the daemon falls back to when ``path`` cannot start, with what was left out on stderr."""
    from promwatchd.fallback import mark_as_fallback, minimal_config, salvage_config

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else f"not valid UTF-8 (byte {error.start})"
        print(f"promwatchd: cannot read {path}: {reason or type(error).__name__}", file=sys.stderr)
        return EXIT_USAGE

    result = salvage_config(text, path.resolve().parent)
    for description in result.corrected:
        print(f"promwatchd: corrected {description}", file=sys.stderr)
    for part in result.dropped:
        print(f"promwatchd: dropped {part.describe()}", file=sys.stderr)
    if result.kept_jobs:
        sys.stdout.write(mark_as_fallback(result.text, path))
        return EXIT_OK

    print(f"promwatchd: no scrape job of {path} passes validation, so the fallback is the minimal config", file=sys.stderr)
    sys.stdout.write(minimal_config(settings.process.listen_address, settings.server.listen_address, path))
    return EXIT_OK

if __name__ == "__main__":
    sys.exit(main())
