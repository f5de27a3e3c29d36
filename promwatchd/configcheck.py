"""Validate a Prometheus config file with promtool and promwatchd's validator, and notice when the file changes."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import shutil
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

PROMTOOL_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class ConfigVerdict:
    """promtool's verdict; ``valid`` is None when promtool could not be run."""

    valid: bool | None
    output: str


async def check_with_promtool(promtool: str, config_file: Path) -> ConfigVerdict:
    """Run ``promtool check config FILE``; exit status 0 means valid."""
    binary = shutil.which(promtool) if promtool else None
    if binary is None:
        return ConfigVerdict(None, f"promtool {promtool!r} not found; config not validated")

    try:
        process = await asyncio.create_subprocess_exec(
            binary,
            "check",
            "config",
            str(config_file),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Its own process group, so that a timeout also stops what a wrapper script started.
            start_new_session=True,
        )
    except OSError as error:
        return ConfigVerdict(None, f"cannot run {binary}: {error.strerror}")

    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=PROMTOOL_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await process.wait()
        log.warning("promtool_timed_out", config_file=str(config_file), timeout_seconds=PROMTOOL_TIMEOUT_SECONDS)
        return ConfigVerdict(None, f"promtool timed out after {PROMTOOL_TIMEOUT_SECONDS:g}s")

    text = output.decode("utf-8", "replace").strip()
    return ConfigVerdict(process.returncode == 0, text)


@dataclass(frozen=True)
class UserConfigVerdict:
    """The verdict on the user's config: promtool's, and the validator's errors, one line each.

    ``valid`` is promtool's verdict when promtool ran, because promtool comes with the
    Prometheus that loads the file. Without promtool it is the validator's.
    """

    valid: bool
    promtool: ConfigVerdict
    errors: list[str]

    @property
    def disagree(self) -> bool:
        """Return whether promtool passed the file and the validator did not, or the other way round."""
        return self.promtool.valid is not None and self.promtool.valid == bool(self.errors)


# Enough errors to say what is wrong in one log line.
MAX_ERRORS_LOGGED = 5


async def check_user_config(promtool: str, config_file: Path) -> UserConfigVerdict:
    """Validate the user's config with promtool and with the validator at the same time."""
    ours = asyncio.to_thread(_validator_errors, config_file)
    promtool_verdict, errors = await asyncio.gather(check_with_promtool(promtool, config_file), ours)
    valid = promtool_verdict.valid if promtool_verdict.valid is not None else not errors
    return UserConfigVerdict(valid, promtool_verdict, errors)


def _validator_errors(config_file: Path) -> list[str]:
    """Return the validator's errors as ``file:line:col [rule] path: message`` lines. Blocking."""
    from promwatchd.promconfig import validate_file
    from promwatchd.redact import redact_text

    report = validate_file(config_file)
    errors = [finding for finding in report.findings if finding.is_error]
    return [redact_text(f"{f.location()} [{f.rule}] {f.path + ': ' if f.path else ''}{f.message}") for f in errors]


def file_digest(path: Path) -> str | None:
    """Return the SHA-256 of a file's bytes, or None when it cannot be read. Blocking."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
