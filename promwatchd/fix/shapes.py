"""Corrections for values of the wrong YAML shape and fields at the wrong level."""

from __future__ import annotations

from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import SingleQuotedScalarString

from promwatchd.fix.model import Correction
from promwatchd.fix.tree import as_string_item, flow_list, insert_after, line_of, lookup, parse_path
from promwatchd.promconfig import Finding
from promwatchd.promconfig.credentials import is_credential_path
from promwatchd.redact import MASK
from promwatchd.promconfig.config import CONFIG
from promwatchd.promconfig.scrape import SCRAPE_CONFIG

SCRAPE_FIELDS = frozenset(SCRAPE_CONFIG.fields)
CONFIG_FIELDS = frozenset(CONFIG.fields)
GLOBAL_FIELDS = frozenset(CONFIG.fields["global"].fields)
TARGET_GROUP_FIELDS = ("targets", "labels")


def fix_wrong_type(document: Any, finding: Finding) -> Correction | None:
    """Wrap a scalar in a list where a list of strings is expected, or a mapping where a list of entries is."""
    tokens = parse_path(finding.path)
    if not tokens:
        return None
    try:
        parent = lookup(document, tokens[:-1])
        value = lookup(document, tokens)
    except LookupError:
        return None
    key = tokens[-1]
    line = line_of(parent, key)

    if "expected a list of strings" in finding.message and key == "targets" and isinstance(value, str) and "," in value:
        # A target is host:port and contains no comma, so "a:9100, b:9100" can only mean two targets.
        items = [part.strip() for part in value.split(",") if part.strip()]
        parent[key] = flow_list(items)
        return Correction(
            "scalar-to-list",
            line,
            finding.path,
            "targets is a list; the comma-separated string becomes one target per entry",
            safe=True,
            applied=True,
            change=f"{value} -> [{', '.join(items)}]",
        )

    if "expected a list of strings" in finding.message and not isinstance(value, (dict, list)) and value is not None:
        item = as_string_item(value)
        written_item = f"'{item}'" if isinstance(item, SingleQuotedScalarString) else str(item)
        parent[key] = flow_list([item])
        displayed_value, displayed_item = (MASK, MASK) if is_credential_path(tokens) else (f"{value!s}", written_item)
        return Correction(
            "scalar-to-list",
            line,
            finding.path,
            "this field is a list of strings; a single value becomes a one-element list (quoting alone does not make a list)",
            safe=True,
            applied=True,
            change=f"{displayed_value} -> [{displayed_item}]",
        )

    if "expected a list of" in finding.message and "got a mapping" in finding.message and isinstance(value, CommentedMap):
        unknown = _unknown_item_keys(tokens, value)
        if unknown:
            return Correction(
                "mapping-to-list",
                line,
                finding.path,
                f"{key} is a list of entries, but this mapping has keys that an entry does not have ({', '.join(unknown)}); fix them, then put '- ' before the first key",
                safe=False,
                applied=False,
            )
        sequence = CommentedSeq([value])
        parent[key] = sequence
        return Correction(
            "mapping-to-list",
            line,
            finding.path,
            f"{key} is a list of entries; the mapping becomes its first item ('- ' before the first key)",
            safe=True,
            applied=True,
            change=f"{key}: {{{', '.join(map(str, value))}}} -> {key}: [{{{', '.join(map(str, value))}}}]",
        )
    return None


def wrap_root_jobs(document: Any) -> tuple[CommentedMap, Correction] | None:
    """Put a document that is a list of scrape jobs under ``scrape_configs:``; return the new document and the correction."""
    if not isinstance(document, CommentedSeq) or not document:
        return None
    if not all(isinstance(job, dict) and "job_name" in job for job in document):
        return None
    wrapped = CommentedMap()
    wrapped["scrape_configs"] = document
    # Comments above the first job stay at the top of the file, above the new key.
    wrapped.ca.comment = document.ca.comment
    document.ca.comment = None
    correction = Correction(
        "jobs-without-scrape-configs",
        1,
        "",
        "the file is a list of scrape jobs; Prometheus reads them only under the top-level key scrape_configs:",
        safe=True,
        applied=True,
        change="- job_name: ... -> scrape_configs: [- job_name: ...]",
    )
    return wrapped, correction


def _unknown_item_keys(tokens: list[str | int], mapping: CommentedMap) -> list[str]:
    """Return the keys of ``mapping`` that the list item type at ``tokens`` does not define; [] when the type is not known here."""
    if len(tokens) == 3 and tokens[0] == "scrape_configs":
        list_type = SCRAPE_CONFIG.fields.get(str(tokens[2]))
    elif len(tokens) == 1:
        list_type = CONFIG.fields.get(str(tokens[0]))
    else:
        return []
    fields = getattr(getattr(list_type, "item", None), "fields", None)
    if not isinstance(fields, dict):
        return []
    return [str(name) for name in mapping if str(name) not in fields]


def fix_unknown_field(document: Any, finding: Finding) -> Correction | None:
    """Move a known field that sits one level too deep or too high to where Prometheus reads it."""
    tokens = parse_path(finding.path)
    if not tokens or not isinstance(tokens[-1], str):
        return None
    key = tokens[-1]
    try:
        parent = lookup(document, tokens[:-1])
    except LookupError:
        return None
    if not isinstance(parent, CommentedMap):
        return None

    if len(tokens) == 1:
        return _fix_top_level_field(document, key, finding)
    if len(tokens) == 3 and tokens[0] == "scrape_configs" and key in TARGET_GROUP_FIELDS:
        return _move_into_static_configs(lookup(document, tokens[:2]), finding)
    if len(tokens) == 5 and tokens[0] == "scrape_configs" and str(tokens[2]).endswith("_configs") and key in SCRAPE_FIELDS:
        return _move_to_job(lookup(document, tokens[:2]), str(tokens[2]), parent, key, finding)
    return None


def _move_to_job(job: CommentedMap, section: str, group: CommentedMap, key: str, finding: Finding) -> Correction:
    line = line_of(group, key)
    groups = sum(len(value) for name, value in job.items() if str(name).endswith("_configs") and name not in ("relabel_configs", "metric_relabel_configs") and isinstance(value, list))
    if key in job:
        return Correction(
            "field-to-job",
            line,
            finding.path,
            f"{key} is a scrape_config field, not a {section[:-1]} field, and the job already sets it; remove one of the two",
            safe=False,
            applied=False,
        )
    if groups != 1:
        return Correction(
            "field-to-job",
            line,
            finding.path,
            f"{key} is a scrape_config field; this job has {groups} target groups, so a value per group needs a separate job per group",
            safe=False,
            applied=False,
        )
    value = group.pop(key)
    insert_after(job, "job_name", key, value)
    return Correction(
        "field-to-job",
        line,
        finding.path,
        f"{key} is a scrape_config field, not a {section[:-1]} field; it moves up to the job",
        safe=True,
        applied=True,
        change=f"{finding.path} -> {finding.path.split('.')[0]}.{key}",
    )


def _move_into_static_configs(job: CommentedMap, finding: Finding) -> Correction:
    line = line_of(job, finding.path.rsplit(".", 1)[-1])
    if "static_configs" in job:
        return Correction(
            "targets-to-static-configs",
            line,
            finding.path,
            "targets and labels belong in a static_configs list item; this job already has static_configs, so add them there",
            safe=False,
            applied=False,
        )
    group = CommentedMap()
    for name in TARGET_GROUP_FIELDS:
        if name in job:
            group[name] = job.pop(name)
    job["static_configs"] = CommentedSeq([group])
    return Correction(
        "targets-to-static-configs",
        line,
        finding.path,
        "targets and labels are not scrape_config fields; they move into a static_configs list item",
        safe=True,
        applied=True,
        change=f"{', '.join(group)} -> static_configs: [{{{', '.join(group)}}}]",
    )


def _fix_top_level_field(document: CommentedMap, key: str, finding: Finding) -> Correction | None:
    line = line_of(document, key)
    if "job_name" in document and key in SCRAPE_FIELDS:
        job = CommentedMap()
        moved = [name for name in list(document) if name in SCRAPE_FIELDS and name not in CONFIG_FIELDS]
        for name in moved:
            job[name] = document.pop(name)
        jobs = document.get("scrape_configs")
        if jobs is None:
            document["scrape_configs"] = CommentedSeq([job])
        elif isinstance(jobs, list):
            jobs.append(job)
        else:
            document.update({name: job[name] for name in moved})
            return None
        return Correction(
            "job-at-top-level",
            line,
            finding.path,
            "job_name and the other scrape_config fields at the top level form a job; they move into a scrape_configs list item",
            safe=True,
            applied=True,
            change=f"{', '.join(moved)} -> scrape_configs: [{{job_name: {job['job_name']}, ...}}]",
        )
    if key in GLOBAL_FIELDS:
        section = document.get("global")
        if section is None:
            section = CommentedMap()
            document.insert(0, "global", section)
        if not isinstance(section, CommentedMap):
            return None
        if key in section:
            return Correction("field-to-global", line, finding.path, f"{key} belongs under global:, which already sets it; remove one of the two", safe=False, applied=False)
        section[key] = document.pop(key)
        return Correction(
            "field-to-global",
            line,
            finding.path,
            f"{key} is a global setting; it moves under global:",
            safe=True,
            applied=True,
            change=f"{key} -> global.{key}",
        )
    return None
