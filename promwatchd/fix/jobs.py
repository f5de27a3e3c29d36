"""Corrections for scrape jobs that share a job_name: merge identical jobs, suggest a rename otherwise."""

from __future__ import annotations

from typing import Any

from promwatchd.fix.model import Correction
from promwatchd.fix.tree import line_of, parse_path, plain
from promwatchd.promconfig import Finding


def fix_duplicate_job(document: Any, finding: Finding) -> Correction | None:
    """Merge a job into an earlier one with the same name when only their static targets differ."""
    tokens = parse_path(finding.path)
    jobs = document.get("scrape_configs") if isinstance(document, dict) else None
    if len(tokens) != 3 or tokens[0] != "scrape_configs" or not isinstance(jobs, list) or not isinstance(tokens[1], int) or tokens[1] >= len(jobs):
        return None
    index = tokens[1]
    duplicate = jobs[index]
    name = str(duplicate.get("job_name"))
    first_index = next((i for i, job in enumerate(jobs[:index]) if isinstance(job, dict) and str(job.get("job_name")) == name), None)
    if first_index is None:
        return None
    first = jobs[first_index]
    line = line_of(duplicate, "job_name")

    if _only_static_targets_differ(first, duplicate):
        _merge_target_groups(first["static_configs"], duplicate["static_configs"])
        del jobs[index]
        return Correction(
            "merge-duplicate-jobs",
            line,
            finding.path,
            f"job {name!r} is defined twice with the same settings except its targets; the target groups are merged into the first definition, so series keep their job label",
            safe=True,
            applied=True,
            change=f"scrape_configs[{index}] merged into scrape_configs[{first_index}]",
        )

    new_name = _free_name(name, jobs)
    return Correction(
        "rename-duplicate-job",
        line,
        finding.path,
        f"job {name!r} is defined twice with different settings; rename one, for example to {new_name!r}. Not applied: the new name changes the job label of its series, which dashboards, rules and alerts select on",
        safe=False,
        applied=False,
        change=f"job_name: {name} -> {new_name}",
    )


def _only_static_targets_differ(first: Any, second: Any) -> bool:
    if not isinstance(first, dict) or not isinstance(second, dict):
        return False
    if not isinstance(first.get("static_configs"), list) or not isinstance(second.get("static_configs"), list):
        return False
    rest_first = {key: value for key, value in plain(first).items() if key != "static_configs"}
    rest_second = {key: value for key, value in plain(second).items() if key != "static_configs"}
    return rest_first == rest_second


def _merge_target_groups(into: list, groups: list) -> None:
    """Append each group's targets to a group in ``into`` with the same labels, or append the group.

    A group with comments is appended whole, because its comments would be lost with the
    targets moved out of it. Prometheus reads two groups with the same labels as one.
    """
    for group in groups:
        if not isinstance(group, dict) or _has_comments(group):
            into.append(group)
            continue
        same = next(
            (
                existing
                for existing in into
                if isinstance(existing, dict)
                and plain(existing.get("labels") or {}) == plain(group.get("labels") or {})
                and isinstance(existing.get("targets"), list)
                and isinstance(group.get("targets"), list)
                and set(existing) <= {"targets", "labels"}
                and set(group) <= {"targets", "labels"}
            ),
            None,
        )
        if same is None:
            into.append(group)
        else:
            same["targets"].extend(target for target in group["targets"] if target not in same["targets"])


def _has_comments(node: Any) -> bool:
    """Return whether a round-trip node or anything under it carries a comment."""
    attribute = getattr(node, "ca", None)
    if attribute is not None and (any(attribute.comment or ()) or any(any(tokens or ()) for tokens in attribute.items.values())):
        return True
    if isinstance(node, dict):
        return any(_has_comments(child) for child in node.values())
    if isinstance(node, list):
        return any(_has_comments(child) for child in node)
    return False


def _free_name(name: str, jobs: list) -> str:
    used_names = {str(job.get("job_name")) for job in jobs if isinstance(job, dict)}
    suffix = 2
    while f"{name}-{suffix}" in used_names:
        suffix += 1
    return f"{name}-{suffix}"
