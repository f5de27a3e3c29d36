"""Validate prometheus.yml as Prometheus 3.x loads it: parse, decode strictly, check semantics, check files."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from promwatchd.promconfig.config import CONFIG, SCRAPE_CONFIGS_FILE, check_agent_mode, check_job_names
from promwatchd.promconfig.files import check_referenced_files, check_rule_files, expand_glob
from promwatchd.promconfig.findings import ERROR, Finding
from promwatchd.promconfig.schema import DecodeLimitExceeded, Decoder, Obj
from promwatchd.promconfig.scrape import validate_scrape_with_global
from promwatchd.promconfig.yamlsource import parse_document

# Bound on files named in scrape_config_files, so a broad glob cannot make validation unbounded.
MAX_SCRAPE_CONFIG_FILES = 1000


@dataclass
class FileReport:
    """The outcome for one configuration file; ``readable`` is False when the file could not be read at all."""

    file: str
    findings: list[Finding] = field(default_factory=list)
    readable: bool = True

    @property
    def valid(self) -> bool:
        return self.readable and not any(f.is_error for f in self.findings)

    def to_dict(self) -> dict:
        return {"file": self.file, "valid": self.valid, "findings": [f.to_dict() for f in self.findings]}


def validate_file(path: str | Path, agent: bool = False, syntax_only: bool = False) -> FileReport:
    """Validate one configuration file. Never raises: read errors and bad content become findings."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        finding = Finding(ERROR, "file-unreadable", name, 0, 0, "", f"cannot read the configuration file: {reason}", "check the path and the file's permissions")
        return FileReport(name, [finding], readable=False)
    return validate_bytes(data, name, Path(path).resolve().parent, agent=agent, syntax_only=syntax_only)


def validate_bytes(data: bytes, filename: str, base_dir: Path, agent: bool = False, syntax_only: bool = False) -> FileReport:
    """Validate configuration ``data`` shown as ``filename``; relative paths resolve against ``base_dir``. Never raises."""
    # The node tree contains no reference cycles unless the YAML has recursive aliases, so the
    # cyclic garbage collector only costs time here (more than half of it on large files).
    # NOTE: gc.disable() is process-wide; a concurrent thread also runs without it meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        findings = _validate(data, filename, base_dir, agent, syntax_only)
    except Exception as error:  # noqa: BLE001 - the contract is findings, never an exception
        findings = [Finding(ERROR, "internal-error", filename, 0, 0, "", f"the validator failed on this input ({type(error).__name__}); the file could not be checked", "report this as a promwatchd bug, with the file")]
    finally:
        if collecting:
            gc.enable()
    findings.sort(key=lambda f: (f.file != filename, f.file, f.line, f.column))
    return FileReport(filename, findings)


def _validate(data: bytes, filename: str, base_dir: Path, agent: bool, syntax_only: bool) -> list[Finding]:
    document = parse_document(data, filename)
    findings = list(document.findings)
    if document.root is None:
        return findings

    d = Decoder(filename, document.lines)
    d.context["base_dir"] = base_dir
    d.context["global_name_validation_scheme"] = _peek_global_scheme(document.root)
    d.context["name_validation_scheme"] = d.context["global_name_validation_scheme"]
    config = _decode(CONFIG, document.root, d)
    findings.extend(d.findings)
    if not isinstance(config, Obj):
        return findings

    reported = len(d.findings)
    if agent:
        check_agent_mode(config, d)
    jobs = list(d.context.get("jobs", ()))
    jobs.extend(_load_scrape_config_files(config, base_dir, syntax_only, d, findings))
    check_job_names(jobs, d)
    if not syntax_only:
        check_rule_files(config, base_dir, d)
        check_referenced_files(base_dir, d)
    findings.extend(d.findings[reported:])
    return findings


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


def _load_scrape_config_files(config: Obj, base_dir: Path, syntax_only: bool, d: Decoder, findings: list[Finding]) -> list[tuple[Obj, str]]:
    """Decode the files named in scrape_config_files and check their jobs against the main file's global section.

    NOTE: the files are read even with --syntax-only when they exist, because Prometheus
    loads them at startup and their jobs take part in the job name uniqueness check.
    """
    jobs: list[tuple[Obj, str]] = []
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
            d.warn("glob-matches-nothing", node.value[index], f"scrape_config_files[{index}]", f"scrape config file pattern {pattern!r} matches no file (relative to {base_dir})", "check the path")
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


def _load_one_scrape_config_file(path: Path, global_cfg: Obj | None, explicit: dict[str, bool], syntax_only: bool, findings: list[Finding]) -> list[tuple[Obj, str]]:
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
                jobs.append((job, name))
    if not syntax_only:
        # Prometheus resolves the paths in an included file against that file's directory.
        check_referenced_files(path.parent, d)
    findings.extend(d.findings)
    return jobs
