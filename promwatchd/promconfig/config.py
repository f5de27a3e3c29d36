"""The top level of prometheus.yml, and the checks that span sections (``Config.UnmarshalYAML`` and ``config.Load``)."""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import NamedTuple

import yaml

from promwatchd.promconfig.findings import ERROR, Finding
from promwatchd.promconfig.schema import Decoder, ListOf, Obj, Scalar, Struct, go_quote
from promwatchd.promconfig.scrape import ALERTING_CONFIG, SCRAPE_CONFIG, validate_scrape_with_global
from promwatchd.promconfig.sections import (
    GLOBAL_CONFIG,
    OTLP_CONFIG,
    REMOTE_READ_CONFIG,
    REMOTE_WRITE_CONFIG,
    RUNTIME_CONFIG,
    STORAGE_CONFIG,
    TRACING_CONFIG,
    validate_translation_strategy,
)

# Wildcards only in the last path element, as patRulePath in config/config.go.
RULE_PATH_PATTERN = re.compile(r"^[^*]*(\*[^/]*)?$")

# In a chunk of a split file, the list contains the items from d.context["first_scrape_index"] on.
SCRAPE_CONFIG_LIST = ListOf(SCRAPE_CONFIG, null_item="empty or null scrape config section", first_index_key="first_scrape_index")


def _check_globs(obj: Obj, d: Decoder, field: str, file_kind: str) -> None:
    node = obj.nodes.get(field)
    for index, pattern in enumerate(obj.get(field) or ()):
        if isinstance(pattern, str) and not RULE_PATH_PATTERN.match(pattern):
            d.error(
                f"invalid-{file_kind.replace(' ', '-')}-glob",
                node.value[index] if isinstance(node, yaml.SequenceNode) else obj.node,
                f"{obj.path_of(field)}[{index}]",
                f"invalid {file_kind} path {go_quote(pattern)}: wildcards are allowed only in the file name, not in directory names",
                _per_directory_fix(pattern, d.context.get("base_dir")),
            )


def _per_directory_fix(pattern: str, base_dir: Path | None) -> str:
    """Suggest one glob per directory that the pattern's directory part matches today."""
    directory, _, name = pattern.rpartition("/")
    found = []
    if base_dir is not None and directory:
        found = sorted(p for p in glob.glob(str(base_dir / directory)) if os.path.isdir(p))
    if not found:
        return "list one glob per directory, such as rules/service_a/*.yml and rules/service_b/*.yml"
    relative = [os.path.relpath(p, base_dir) if not os.path.isabs(directory) else p for p in found[:10]]
    listed = ", ".join(f"{p}/{name}" for p in relative)
    return f"list one glob per directory: {listed} (directories created later are not picked up)"


class JobRef(NamedTuple):
    """The position of a scrape job's name: enough to report a repeated name without the decoded job."""

    name: str
    file: str
    line: int
    column: int
    path: str


def job_ref(job: Obj, filename: str) -> JobRef:
    """Return the reference of a decoded job; the position is its job_name's, or the job's own when it has none."""
    node = job.node_of("job_name")
    return JobRef(job.get("job_name"), filename, node.start_mark.line + 1, node.start_mark.column + 1, job.path_of("job_name"))


def check_job_names(jobs: list[JobRef]) -> list[Finding]:
    """Return a finding for each repeated job name, at its second occurrence, with ``jobs`` in load order."""
    findings = []
    first: dict[str, JobRef] = {}
    for job in jobs:
        if not isinstance(job.name, str):
            continue  # A job_name that failed to decode has its own finding.
        earlier = first.setdefault(job.name, job)
        if earlier is job:
            continue
        where = f"line {earlier.line}" if earlier.file == job.file else f"{earlier.file}:{earlier.line}"
        findings.append(
            Finding(
                ERROR,
                "duplicate-job-name",
                job.file,
                job.line,
                job.column,
                job.path,
                f"found multiple scrape configs with job name {go_quote(job.name)} (first at {earlier.path}, {where})",
                "merge the two jobs when only their targets differ, or rename one (renaming changes the job label of its series)",
            )
        )
    return findings


def _check_unique_names(obj: Obj, d: Decoder, field: str, section: str) -> None:
    seen: set[str] = set()
    for item in obj.get(field) or ():
        if not isinstance(item, Obj):
            continue
        name = item.get("name")
        if name and name in seen:
            item.error(d, f"duplicate-{section.replace(' ', '-')}-name", "name", f"found multiple {section} configs with job name {go_quote(name)}", "give each entry a unique name")
        seen.add(name)


def validate_config(obj: Obj, d: Decoder) -> None:
    """Run the cross-section checks of Config.UnmarshalYAML and config.Load on the decoded top level."""
    _check_globs(obj, d, "rule_files", "rule file")
    _check_globs(obj, d, "scrape_config_files", "scrape config file")

    global_cfg = obj.get("global")
    explicit = {"scrape_timeout": isinstance(global_cfg, Obj) and global_cfg.has("scrape_timeout")}
    jobs = [job for job in obj.get("scrape_configs") or () if isinstance(job, Obj)]
    for job in jobs:
        if job.ok:
            validate_scrape_with_global(job, global_cfg if isinstance(global_cfg, Obj) else None, explicit, d)
    d.context["jobs"] = [job_ref(job, d.filename) for job in jobs]

    _check_unique_names(obj, d, "remote_write", "remote write")
    _check_unique_names(obj, d, "remote_read", "remote read")

    scheme = global_cfg.get("metric_name_validation_scheme") if isinstance(global_cfg, Obj) else ""
    otlp = obj.get("otlp")
    validate_translation_strategy(otlp if isinstance(otlp, Obj) else None, scheme or "utf8", d)


CONFIG = Struct(
    "config",
    {
        "global": GLOBAL_CONFIG,
        "runtime": RUNTIME_CONFIG,
        "alerting": ALERTING_CONFIG,
        "rule_files": ListOf(Scalar()),
        "scrape_config_files": ListOf(Scalar()),
        "scrape_configs": SCRAPE_CONFIG_LIST,
        "storage": STORAGE_CONFIG,
        "tracing": TRACING_CONFIG,
        "remote_write": ListOf(REMOTE_WRITE_CONFIG, null_item="empty or null remote write config section"),
        "remote_read": ListOf(REMOTE_READ_CONFIG, null_item="empty or null remote read config section"),
        "otlp": OTLP_CONFIG,
    },
    [validate_config],
)

# A file named in scrape_config_files: scrape_configs only (the ScrapeConfigs type in config/config.go).
SCRAPE_CONFIGS_FILE = Struct("scrape_config_files entry", {"scrape_configs": SCRAPE_CONFIG_LIST})


def check_agent_mode(obj: Obj, d: Decoder) -> None:
    """Reject the sections agent mode has no use for, as config.LoadFile does with agentMode."""
    alerting = obj.get("alerting")
    if isinstance(alerting, Obj) and (alerting.get("alertmanagers") or alerting.get("alert_relabel_configs")):
        obj.error(d, "agent-mode-field", "alerting", "field alerting is not allowed in agent mode", "remove alerting, or run Prometheus in server mode (without --agent)")
    if obj.get("rule_files"):
        obj.error(d, "agent-mode-field", "rule_files", "field rule_files is not allowed in agent mode", "remove rule_files, or run Prometheus in server mode (without --agent)")
    if obj.get("remote_read"):
        obj.error(d, "agent-mode-field", "remote_read", "field remote_read is not allowed in agent mode", "remove remote_read, or run Prometheus in server mode (without --agent)")
