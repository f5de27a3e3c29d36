"""``promwatchd fix config``: correct common prometheus.yml mistakes, show the diff, and optionally write the file.

Exit codes: 0 when the file has nothing to fix, or was fixed and written with --write.
1 when problems remain in the file: also after a dry run that found fixable ones, and
when the write was not done (the result is invalid) or failed. 2 for usage errors and
files that cannot be read.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import stat
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``config`` subcommand to ``promwatchd fix``."""
    parser = subparsers.add_parser(
        "config",
        help="correct common mistakes in a Prometheus configuration file (prometheus.yml)",
        description=(
            "Correct common mistakes in prometheus.yml and print a unified diff. Safe corrections are applied; "
            "corrections that could change what Prometheus does (such as renaming a job) are only suggested. "
            "Without --write the file is not changed."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="configuration file to correct")
    parser.add_argument(
        "--write",
        action="store_true",
        help="replace FILE with the corrected text when it passes validation, keeping a timestamped backup FILE.<UTC time>.bak beside it",
    )
    parser.add_argument("--output", choices=["text", "json"], default="text", help="output format (default: text)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Correct one file, print the result and return the exit code."""
    from promwatchd.fix import fix_config_text

    path: Path = args.file
    try:
        original_bytes = path.read_bytes()
    except OSError as error:
        _error(f"cannot read {path}: {error.strerror or type(error).__name__}")
        return EXIT_USAGE
    try:
        original = original_bytes.decode("utf-8")
    except UnicodeDecodeError as error:
        _error(f"cannot fix {path}: it is not valid UTF-8 (byte {error.start}); Prometheus reads configuration files as UTF-8")
        return EXIT_USAGE

    result = fix_config_text(original, str(path), path.resolve().parent)
    diff = _masked_diff(original, result.fixed, path)

    written: Path | None = None
    write_error = ""
    if args.write and result.changed and result.valid:
        try:
            written = write_with_backup(path, original_bytes, result.fixed.encode("utf-8"))
        except OSError as error:
            write_error = f"cannot write {path}: {error.strerror or type(error).__name__}; the file is unchanged"

    if args.output == "json":
        data = result.to_dict()
        data.update({"diff": diff, "written": args.write and written is not None, "backup": str(written) if written else None, "error": write_error or None})
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        _print_text(result, diff, args.write, written)
    if write_error:
        _error(write_error)

    if not result.changed:
        return EXIT_OK if result.valid else EXIT_PROBLEMS
    if written is not None:
        return EXIT_OK
    return EXIT_PROBLEMS


def _masked_diff(original: str, fixed: str, path: Path) -> str:
    """Return the unified diff of the two texts with every credential masked in both.

    A change inside a credential's value therefore shows no line. Values under the keys
    in CREDENTIAL_KEYS and passwords in URLs with a scheme do not appear in the diff.
    """
    from promwatchd.promconfig.credentials import mask_text
    from promwatchd.redact import redact_text

    before = mask_text(original).splitlines(keepends=True)
    after = mask_text(fixed).splitlines(keepends=True)
    return redact_text("".join(difflib.unified_diff(before, after, f"{path}", f"{path} (fixed)")))


def write_with_backup(path: Path, original: bytes, fixed: bytes) -> Path:
    """Copy ``path`` to a timestamped backup beside it, then replace it atomically with ``fixed``; return the backup's path.

    Both files get the original's permission bits, owner and group; when this user may
    not set them, nothing is written and PermissionError is raised. A symbolic link is followed, so the
    file it points to is replaced and the link stays. Raises OSError when either write
    fails; the original file is then unchanged.
    """
    from promwatchd.atomicfile import write_atomic

    target = path.resolve()
    status = os.stat(target)
    mode = stat.S_IMODE(status.st_mode)
    owner = (status.st_uid, status.st_gid)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    backup = target.with_name(f"{target.name}.{stamp}.bak")
    counter = 1
    while backup.exists():
        counter += 1
        backup = target.with_name(f"{target.name}.{stamp}.{counter}.bak")

    write_atomic(backup, original, mode, owner)
    try:
        write_atomic(target, fixed, mode, owner)
    except OSError:
        backup.unlink(missing_ok=True)
        raise
    return backup


def _print_text(result: Any, diff: str, write: bool, written: Path | None) -> None:
    print(f"Fixing {result.filename}")
    for correction in result.corrections:
        print("  " + correction.format_text().replace("\n", "\n  "))
    if diff:
        print()
        sys.stdout.write(diff if diff.endswith("\n") else diff + "\n")
        print()
    errors = [finding for finding in result.remaining if finding.is_error]
    for finding in errors:
        print("  remaining: " + finding.format_text().replace("\n", "\n  "))

    if not result.corrections and not errors:
        print(f" OK: {result.filename} has nothing to fix")
    elif errors:
        not_written = " (not written)" if write and result.changed else ""
        remain = "1 error remains" if len(errors) == 1 else f"{len(errors)} errors remain"
        print(f"  FAILED: {remain} after the corrections{not_written}")
    elif written is not None:
        print(f" FIXED: wrote {result.filename}; the original is in {written}")
    elif write and result.changed:
        print(f"  FAILED: the corrected file passes validation, but {result.filename} could not be written; it is unchanged")
    elif result.changed:
        print(" FIXABLE: the corrected file passes validation; run again with --write to replace the file")


def _error(message: str) -> None:
    print(f"promwatchd: {message}", file=sys.stderr)
