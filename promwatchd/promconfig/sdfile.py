"""Files read by file_sd_configs: lists of target groups in JSON or YAML, as promtool check config reads them.

Prometheus itself starts with a broken file: file discovery logs the error and the job
gets no targets from that file until it is fixed, which is easy to miss. promtool fails
the config, so these findings are errors.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from promwatchd.promconfig.discovery import STATIC_CONFIG
from promwatchd.promconfig.findings import ERROR, Finding
from promwatchd.promconfig.readfile import read_referenced_file
from promwatchd.promconfig.schema import DecodeLimitExceeded, Decoder, ListOf, Obj, go_quote
from promwatchd.promconfig.yamlsource import parse_document

TARGET_GROUPS = ListOf(STATIC_CONFIG, null_item="nil target group item found")


def check_sd_file(path: Path) -> list[Finding]:
    """Return the findings of one file_sd file: its extension, its syntax, and each target group."""
    name = str(path)
    extension = path.suffix.lower()
    if extension not in (".json", ".yml", ".yaml"):
        return []  # The config's own check reports a files pattern with another extension.
    data = read_referenced_file(path, "file_sd file", "split the targets into several files")
    if isinstance(data, Finding):
        return [data]

    if extension == ".json":
        problem = _json_problem(data, name)
        if problem is not None:
            return [problem]

    document = parse_document(data, name)
    findings = list(document.findings)
    if document.root is None:
        return findings
    d = Decoder(name, document.lines)
    try:
        TARGET_GROUPS.decode(document.root, d, "")
        # The list is invalid as a whole when one group is, so the groups are checked one by one.
        items = document.root.value if isinstance(document.root, yaml.SequenceNode) else []
        for index, item in enumerate(items):
            group = STATIC_CONFIG.decode(item, Decoder(name, document.lines), f"[{index}]") if isinstance(item, yaml.MappingNode) else None
            if isinstance(group, Obj):
                _check_group_targets(group, d)
    except (DecodeLimitExceeded, RecursionError):
        d.error("yaml-too-large", document.root, "", "the file_sd file is too large or too deeply nested to check", "split the targets into several files")
    findings.extend(d.findings)
    return findings


def _json_problem(data: bytes, name: str) -> Finding | None:
    """Return a finding when ``data`` is not JSON, which file discovery requires of a .json file."""
    try:
        json.loads(data)
    except json.JSONDecodeError as error:
        return Finding(ERROR, "invalid-sd-file", name, error.lineno, error.colno, "", f"the file is not valid JSON: {error.msg}", "fix the JSON syntax; a .json file is read as JSON, not YAML")
    except UnicodeDecodeError as error:
        return Finding(ERROR, "invalid-encoding", name, 0, 0, "", f"the file is not valid UTF-8: byte {error.start}", "save the file as UTF-8")
    return None


def _check_group_targets(group: Obj, d: Decoder) -> None:
    """Report targets with a scheme or path: Prometheus reads a target as host:port and fails to scrape the rest."""
    node = group.nodes.get("targets")
    for index, target in enumerate(group.get("targets") or ()):
        if not isinstance(target, str) or "/" not in target:
            continue
        target_node = node.value[index] if node is not None and hasattr(node, "value") and isinstance(node.value, list) else group.node
        host = target.split("://", 1)[-1].split("/", 1)[0]
        d.error(
            "target-with-scheme" if "://" in target else "target-with-path",
            target_node,
            f"{group.path}.targets[{index}]",
            f"{go_quote(target)} is not a valid hostname: a target is host:port",
            f"write {host!r} and set scheme and metrics_path on the job that reads this file",
        )
