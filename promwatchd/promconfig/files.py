"""Checks of the files a configuration names: rule files, scrape config files, credentials and certificates.

Relative paths are resolved against the configuration file's directory, as Prometheus's
``SetDirectory`` does. Globs follow Go's ``filepath.Glob``: a pattern that matches nothing
is not an error for Prometheus, so it gets a warning here.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import yaml

from promwatchd.promconfig.rulefile import check_rule_file
from promwatchd.promconfig.schema import Decoder, Obj, go_quote
from promwatchd.promconfig.sdfile import check_sd_file

# Bound on the rule files whose contents are checked, so that a broad glob stays quick.
MAX_RULE_FILES = 1000

# Bound on the file_sd files whose contents are checked.
MAX_SD_FILES = 1000

# Referenced files whose absence promtool check config (3.14) reports as an error: the
# authorization credentials file (bearer_token_file becomes one) and the TLS client
# certificate and key. Prometheus reads the others, such as password_file and ca_file,
# only when a request needs them, so a missing one is a warning.
PROMTOOL_CHECKED_FILES = frozenset({"credentials_file", "bearer_token_file", "cert_file", "key_file"})


def resolve(base_dir: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else base_dir / path


def relative_to(base_dir: Path, name: str) -> str:
    """Return " (relative to DIR)" for a relative path in a message, and nothing for an absolute one."""
    return "" if Path(name).is_absolute() else f" (relative to {base_dir})"


def expand_glob(base_dir: Path, pattern: str) -> list[Path]:
    """Return the paths matching ``pattern`` (relative to ``base_dir``), sorted, as filepath.Glob does."""
    full = resolve(base_dir, pattern)
    if not glob.has_magic(pattern):
        return [full] if os.path.lexists(full) else []
    return sorted(Path(p) for p in glob.glob(str(full)))


def _readable_file_problem(path: Path) -> str | None:
    if path.is_dir():
        return "is a directory, not a file"
    if not path.exists():
        return "does not exist"
    if not os.access(path, os.R_OK):
        return "is not readable by this user"
    return None


def check_rule_files(config: Obj, base_dir: Path, d: Decoder) -> None:
    """Check each rule_files entry and the rule files it names.

    Directories and unreadable files are errors, and globs matching nothing get a warning.
    The contents of the first MAX_RULE_FILES files are checked as rule files.
    """
    node = config.nodes.get("rule_files")
    checked = 0
    for index, pattern in enumerate(config.get("rule_files") or ()):
        if not isinstance(pattern, str) or not isinstance(node, yaml.SequenceNode):
            continue
        entry_node = node.value[index]
        path = f"rule_files[{index}]"
        matches = expand_glob(base_dir, pattern)
        if not matches:
            d.warn("glob-matches-nothing", entry_node, path, f"rule file pattern {go_quote(pattern)} matches no file{relative_to(base_dir, pattern)}", "check the path; Prometheus loads no rules from a pattern that matches nothing")
            continue
        for match in matches:
            problem = _readable_file_problem(match)
            if problem is None:
                if checked < MAX_RULE_FILES:
                    checked += 1
                    d.findings.extend(check_rule_file(match, d.context.get("global_name_validation_scheme", "utf8")))
                continue
            if match.is_dir():
                fix = f"name the files, such as {pattern.rstrip('/')}/*.yml (use the extension the rule files have)"
                d.error("rule-file-is-directory", entry_node, path, f"rule file {go_quote(str(match))} {problem}", fix)
            else:
                d.error("file-unreadable", entry_node, path, f"rule file {go_quote(str(match))} {problem}", "fix the path or the file's permissions")


def check_referenced_files(base_dir: Path, d: Decoder) -> None:
    """Check every file path recorded while decoding (credentials, certificates, file_sd files).

    The contents of the first MAX_SD_FILES file_sd files are checked as target groups.
    """
    checked_sd_files = 0
    for name, node, path, is_glob in d.context.get("files", ()):
        if is_glob:
            matches = expand_glob(base_dir, name)
            if not matches:
                d.warn("glob-matches-nothing", node, path, f"{go_quote(name)} matches no file yet{relative_to(base_dir, name)}", "create the file, or check the path; file discovery finds no targets until it exists")
            for match in matches:
                if checked_sd_files < MAX_SD_FILES and match.is_file():
                    checked_sd_files += 1
                    d.findings.extend(check_sd_file(match))
            continue
        problem = _readable_file_problem(resolve(base_dir, name))
        if problem is None:
            continue
        rule = "file-not-found" if problem == "does not exist" else "file-unreadable"
        message = f"file {go_quote(name)} {problem}{relative_to(base_dir, name)}"
        fix = "fix the path, create the file, or fix its permissions"
        if path.rsplit(".", 1)[-1] in PROMTOOL_CHECKED_FILES:
            d.error(rule, node, path, message, fix)
        else:
            d.warn(rule, node, path, f"{message}; Prometheus starts, but requests that need it fail until it exists", fix)
