"""One validation pass over a configuration text: parse, decode, cross-section checks and referenced files.

A pass covers either a whole file or one chunk of a split file (see split.py). A chunk's
pass keeps only the findings inside its own scrape jobs, because every chunk also
decodes the sections around the list and the first chunk reports those. Repeated job
names span chunks, so the pass returns its jobs and the caller checks their names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from promwatchd.promconfig.compose import MAX_NODES
from promwatchd.promconfig.config import CONFIG, SCRAPE_CONFIGS_FILE, JobRef, check_agent_mode, job_ref
from promwatchd.promconfig.files import check_referenced_files, check_rule_files, expand_glob, relative_to
from promwatchd.promconfig.findings import ERROR, Finding
from promwatchd.promconfig.schema import MAX_DECODED_NODES, DecodeLimitExceeded, Decoder, Obj
from promwatchd.promconfig.scrape import validate_scrape_with_global
from promwatchd.promconfig.split import Chunk, boundaries_hold
from promwatchd.promconfig.yamlsource import parse_document, parse_text

# Bound on files named in scrape_config_files, so a broad glob cannot make validation unbounded.
MAX_SCRAPE_CONFIG_FILES = 1000


@dataclass
class PassResult:
    """The findings of one pass, and the jobs of the main file and of its scrape_config_files, in load order."""

    findings: list[Finding] = field(default_factory=list)
    main_jobs: list[JobRef] = field(default_factory=list)
    included_jobs: list[JobRef] = field(default_factory=list)


class SplitRejected(Exception):
    """A chunk cannot stand for its part of the file: it failed to parse, hit a size limit, or its items differ from the split's."""


def check_text(
    text: str, filename: str, base_dir: Path, agent: bool, syntax_only: bool, chunk: Chunk | None = None, parts: int = 1, keep_alive: list[object] | None = None
) -> PassResult:
    """Validate ``text`` (the file, or ``chunk.text`` for one of ``parts`` chunks) and return the findings and jobs.

    A chunk's pass gets 1/``parts`` of the node limits, so that the chunks together stay
    within the limits of one pass over the file. Raises SplitRejected for a chunk that
    cannot stand for its part, and then the file must be validated in one pass.
    The parsed document is appended to ``keep_alive`` when given, for a process about to exit.
    """
    document = parse_text(text, filename, max_nodes=MAX_NODES // parts)
    if keep_alive is not None:
        keep_alive.append(document)
    result = PassResult(list(document.findings))
    if chunk is not None and (result.findings or not boundaries_hold(chunk, document.root)):
        raise SplitRejected
    if document.root is None:
        return result

    d = Decoder(filename, document.lines)
    d.budget = MAX_DECODED_NODES // parts
    d.context["base_dir"] = base_dir
    d.context["global_name_validation_scheme"] = _peek_global_scheme(document.root)
    d.context["name_validation_scheme"] = d.context["global_name_validation_scheme"]
    if chunk is not None:
        d.context["first_scrape_index"] = chunk.first_index
    config = _decode(CONFIG, document.root, d)
    if keep_alive is not None:
        keep_alive.append(config)
    if chunk is not None and d.budget < 0:
        raise SplitRejected
    result.findings.extend(d.findings)
    if not isinstance(config, Obj):
        return result

    reported = len(d.findings)
    result.main_jobs = list(d.context.get("jobs", ()))
    owns_sections = chunk is None or chunk.first_index == 0
    if owns_sections:
        if agent:
            check_agent_mode(config, d)
        result.included_jobs = _load_scrape_config_files(config, base_dir, syntax_only, d, result.findings)
        if not syntax_only:
            check_rule_files(config, base_dir, d)
    if not syntax_only:
        check_referenced_files(base_dir, d)
    result.findings.extend(d.findings[reported:])

    if not owns_sections:
        # The first chunk reports the sections around the list; this one reports its own jobs.
        result.findings = [f for f in result.findings if f.file == filename and f.line > 0 and chunk.owns_line(f.line - 1)]
    return result


def _decode(schema, node: yaml.Node, d: Decoder) -> object:
    try:
        return schema.decode(node, d, "")
    except DecodeLimitExceeded:
        d.error("yaml-too-large", node, "", "the document expands to too many nodes (counting aliases) to validate", "remove alias chains")
    except RecursionError:
        d.error("yaml-too-deep", node, "", "the document is nested too deeply to validate", "reduce the nesting")
    return None


def _peek_global_scheme(root: yaml.Node) -> str:
    if not isinstance(root, yaml.MappingNode):
        return "utf8"
    for key, value in root.value:
        if getattr(key, "value", None) == "global" and isinstance(value, yaml.MappingNode):
            for inner_key, inner_value in value.value:
                if getattr(inner_key, "value", None) == "metric_name_validation_scheme" and getattr(inner_value, "value", None) in ("legacy", "utf8"):
                    return inner_value.value
    return "utf8"


def _load_scrape_config_files(config: Obj, base_dir: Path, syntax_only: bool, d: Decoder, findings: list[Finding]) -> list[JobRef]:
    """Decode the files named in scrape_config_files and check their jobs against the main file's global section.

    NOTE: the files are read even with --syntax-only when they exist, because Prometheus
    loads them at startup and their jobs take part in the job name uniqueness check.
    """
    jobs: list[JobRef] = []
    patterns = config.get("scrape_config_files") or ()
    node = config.nodes.get("scrape_config_files")
    global_cfg = config.get("global")
    global_cfg = global_cfg if isinstance(global_cfg, Obj) else None
    explicit = {"scrape_timeout": global_cfg is not None and global_cfg.has("scrape_timeout")}
    loaded = 0
    seen: dict[Path, int] = {}
    for index, pattern in enumerate(patterns):
        if not isinstance(pattern, str):
            continue
        matches = [m for m in expand_glob(base_dir, pattern) if m.is_file()]
        if not matches and not syntax_only and isinstance(node, yaml.SequenceNode):
            d.warn("glob-matches-nothing", node.value[index], f"scrape_config_files[{index}]", f"scrape config file pattern {pattern!r} matches no file{relative_to(base_dir, pattern)}", "check the path")
        for match in matches:
            resolved = match.resolve()
            if resolved in seen:
                # Prometheus would load the file again, and its jobs would clash with themselves.
                d.error(
                    "duplicate-scrape-config-file",
                    node.value[index] if isinstance(node, yaml.SequenceNode) else config.node,
                    f"scrape_config_files[{index}]",
                    f"scrape config file {str(match)!r} is already included by scrape_config_files[{seen[resolved]}], so its jobs would be defined twice",
                    "list each scrape config file once",
                )
                continue
            seen[resolved] = index
            loaded += 1
            if loaded > MAX_SCRAPE_CONFIG_FILES:
                return jobs
            jobs.extend(_load_one_scrape_config_file(match, global_cfg, explicit, syntax_only, findings))
    return jobs


def _load_one_scrape_config_file(path: Path, global_cfg: Obj | None, explicit: dict[str, bool], syntax_only: bool, findings: list[Finding]) -> list[JobRef]:
    name = str(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        findings.append(Finding(ERROR, "file-unreadable", name, 0, 0, "", f"cannot read the scrape config file: {error.strerror}", "check the path and permissions"))
        return []
    document = parse_document(data, name)
    findings.extend(document.findings)
    if document.root is None:
        return []
    d = Decoder(name, document.lines)
    included = _decode(SCRAPE_CONFIGS_FILE, document.root, d)
    jobs = []
    if isinstance(included, Obj):
        for job in included.get("scrape_configs") or ():
            if isinstance(job, Obj):
                if job.ok:
                    validate_scrape_with_global(job, global_cfg, explicit, d)
                jobs.append(job_ref(job, name))
    if not syntax_only:
        # Prometheus resolves the paths in an included file against that file's directory.
        check_referenced_files(path.parent, d)
    findings.extend(d.findings)
    return jobs
