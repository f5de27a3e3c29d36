"""Validate a Prometheus config file with promtool, and notice when the file changes."""

from __future__ import annotations

import asyncio
import hashlib
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
        )
    except OSError as error:
        return ConfigVerdict(None, f"cannot run {binary}: {error.strerror}")

    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=PROMTOOL_TIMEOUT_SECONDS)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return ConfigVerdict(None, f"promtool timed out after {PROMTOOL_TIMEOUT_SECONDS:g}s")

    text = output.decode("utf-8", "replace").strip()
    return ConfigVerdict(process.returncode == 0, text)


def file_digest(path: Path) -> str | None:
    """Return the SHA-256 of a file's bytes, or None when it cannot be read. Blocking."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
