"""A second opinion from ``promtool check config``, run beside promwatchd's own validator."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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


def find_promtool(name: str = "promtool") -> str | None:
    return shutil.which(name)


@lru_cache(maxsize=8)
def promtool_version(binary: str) -> str:
    """Return the version promtool reports, such as ``2.42.0+ds``, or ``unknown``."""
    try:
        result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    match = re.search(r"version (\S+)", result.stdout + result.stderr)
    return match.group(1) if match else "unknown"


def run_promtool(binary: str, config_file: Path, agent: bool, syntax_only: bool) -> PromtoolVerdict:
    """Run ``promtool check config`` on one file with --agent and --syntax-only passed through."""
    version = promtool_version(binary)
    command = [binary, "check", "config"]
    if syntax_only:
        command.append("--syntax-only")
    if agent:
        command.append("--agent")
    command.append(str(config_file))
    try:
        result = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=PROMTOOL_TIMEOUT_SECONDS, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return PromtoolVerdict(version, None, None, f"promtool timed out after {PROMTOOL_TIMEOUT_SECONDS:g}s")
    except OSError as error:
        return PromtoolVerdict(version, None, None, f"cannot run {binary}: {error.strerror}")

    output = redact_text((result.stdout + result.stderr).strip())
    return PromtoolVerdict(version, result.returncode == 0, result.returncode, output, _note(version, output))


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
            if line.endswith("unmarshal errors:") and index + 1 < len(lines):
                return f"{line} {lines[index + 1]}"
            return line
    return lines[0] if lines else ""
