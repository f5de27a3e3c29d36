"""A second opinion from ``promtool check config``, run beside promwatchd's own validator."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO

from promwatchd.redact import redact_text

PROMTOOL_TIMEOUT_SECONDS = 60.0

# Discovery mechanisms that Debian's promtool 2.42 package leaves out; it reports them as unknown fields.
DEBIAN_MISSING_DISCOVERY = ("consul_sd_configs", "kubernetes_sd_configs", "kuma_sd_configs", "linode_sd_configs", "nomad_sd_configs")


@dataclass(frozen=True)
class PromtoolVerdict:
    """promtool's result for one file; ``valid`` is None when promtool could not be run."""

    version: str
    valid: bool | None
    exit_code: int | None
    output: str
    note: str = ""

    def to_dict(self) -> dict:
        return {"version": self.version, "valid": self.valid, "exit_code": self.exit_code, "output": self.output, "note": self.note}


def find_promtool(command: str = "promtool") -> tuple[str, ...] | None:
    """Return the promtool command line with its program found on PATH, or None when it is not found.

    ``command`` is a program, or a command line that runs promtool, such as
    ``docker exec -i prometheus promtool``.
    """
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    program = shutil.which(words[0]) if words else None
    return (program, *words[1:]) if program else None


@lru_cache(maxsize=8)
def promtool_version(command: tuple[str, ...]) -> str:
    """Return the version promtool reports, such as ``2.42.0+ds``, or ``unknown``."""
    try:
        process = _start([*command, "--version"], subprocess.DEVNULL)
    except OSError:
        return "unknown"
    finished = _wait(process)
    if finished is None:
        return "unknown"
    match = _VERSION.search(finished[0] + finished[1])
    return match.group(1) if match else "unknown"


# promtool prints "promtool, version 2.42.0+ds (branch: ...)"; other programs' version text does not count.
_VERSION = re.compile(r"^promtool, version (\S+)", re.MULTILINE)


def _start(arguments: list[str], stdin: int | IO[bytes]) -> subprocess.Popen:
    """Start a command in its own process group, so that a timeout can stop it and every process it started."""
    return subprocess.Popen(arguments, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)


def _wait(process: subprocess.Popen) -> tuple[str, str] | None:
    """Return the command's output, or None after killing its process group when it runs past PROMTOOL_TIMEOUT_SECONDS."""
    try:
        return process.communicate(timeout=PROMTOOL_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.communicate()
        return None


class PromtoolRun:
    """A ``promtool check config`` process started in the background; ``verdict`` waits for it."""

    def __init__(self, version: str, process: subprocess.Popen | None, error: str = "", note: str = "") -> None:
        self.version = version
        self.process = process
        self.error = error
        self.note = note

    def verdict(self) -> PromtoolVerdict:
        """Wait for promtool, at most PROMTOOL_TIMEOUT_SECONDS in all, and return its verdict."""
        if self.process is None:
            return PromtoolVerdict(self.version, None, None, self.error)
        finished = _wait(self.process)
        if finished is None:
            return PromtoolVerdict(self.version, None, None, f"promtool timed out after {PROMTOOL_TIMEOUT_SECONDS:g}s")
        output = redact_text((finished[0] + finished[1]).strip())
        code = self.process.returncode
        if "Checking " not in output:
            # promtool names each file it checks, so this output came from the command that should start it.
            return PromtoolVerdict(self.version, None, code, f"promtool did not check the file (exit {code}): {output[-300:] or 'no output'}")
        notes = "; ".join(note for note in (self.note, _note(self.version, output)) if note)
        return PromtoolVerdict(self.version, code == 0, code, output, notes)


def start_promtool(command: tuple[str, ...], config_file: Path, agent: bool, syntax_only: bool, use_stdin: bool = False) -> PromtoolRun:
    """Start ``promtool check config`` on one file with --agent and --syntax-only passed through.

    promtool then checks the file while promwatchd validates it too. With ``use_stdin``,
    the file goes to promtool's standard input as /dev/stdin, for a promtool that cannot
    see this file system, such as one inside a container. promtool then checks the syntax
    only, because the paths the file names would resolve against /dev.
    """
    version = promtool_version(command)
    arguments = [*command, "check", "config"]
    if syntax_only or use_stdin:
        arguments.append("--syntax-only")
    if agent:
        arguments.append("--agent")
    note = ""
    stdin: int | IO[bytes] = subprocess.DEVNULL
    if use_stdin:
        arguments.append("/dev/stdin")
        note = "promtool read the file from standard input and checked its syntax only"
        try:
            stdin = open(config_file, "rb")  # noqa: SIM115 - closed below, once promtool has its own copy
        except OSError as error:
            return PromtoolRun(version, None, f"cannot read {config_file}: {error.strerror}")
    else:
        arguments.append(str(config_file))
    try:
        process = _start(arguments, stdin)
    except OSError as error:
        return PromtoolRun(version, None, f"cannot run {command[0]}: {error.strerror}")
    finally:
        if use_stdin:
            stdin.close()
    return PromtoolRun(version, process, note=note)


def _note(version: str, output: str) -> str:
    notes = []
    missing = [name for name in DEBIAN_MISSING_DISCOVERY if f"field {name} not found" in output]
    if missing and "ds" in version:
        notes.append(f"this promtool build (Debian) has no {', '.join(missing)}; its 'field not found' for them is not an error in the file")
    if version.startswith("2.") and "not found in type" in output:
        notes.append(f"promtool {version} predates Prometheus 3.x and does not know fields added since")
    return "; ".join(notes)


def first_error_line(output: str) -> str:
    """Return promtool's first FAILED line, with the first detail line when it ends in ``unmarshal errors:``."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for index, line in enumerate(lines):
        if "FAILED" in line:
            # The reason is on the next line when this one ends in a colon, as after "unmarshal errors:".
            if line.endswith(":") and index + 1 < len(lines):
                return f"{line} {lines[index + 1]}"
            return line
    return lines[0] if lines else ""
