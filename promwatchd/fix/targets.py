"""Corrections for targets written as URLs: a scheme or a path inside ``host:port``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from promwatchd.fix.model import Correction
from promwatchd.fix.tree import insert_after, line_of, lookup, parse_path, same_style
from promwatchd.promconfig import Finding
from promwatchd.redact import MASK

_TARGET_URL = re.compile(r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?P<host>[^/?#]+)(?P<path>/[^?#]*)?(?P<rest>[?#].*)?$")
_USERINFO_PASSWORD = re.compile(r"^([^:@]*):[^@]*@")
DEFAULT_METRICS_PATH = "/metrics"


@dataclass(frozen=True)
class _Target:
    group: int
    index: int
    scheme: str
    host: str
    path: str
    rest: str


def fix_target_url(document: Any, finding: Finding) -> Correction | None:
    """Strip a scheme and path from a job's targets, moving them to ``scheme`` and ``metrics_path`` when that keeps every target's URL."""
    tokens = parse_path(finding.path)
    if len(tokens) != 6 or tokens[0] != "scrape_configs" or tokens[2] != "static_configs":
        return None
    try:
        job = lookup(document, tokens[:2])
        item_parent = lookup(document, tokens[:5])
    except LookupError:
        return None
    line = line_of(item_parent, tokens[5])

    targets = _job_targets(job)
    if targets is None:
        return None
    job_scheme = str(job.get("scheme", "http"))
    job_path = str(job.get("metrics_path", DEFAULT_METRICS_PATH))
    reason = _unsafe_reason(job, targets, job_path)
    if reason:
        return Correction("target-url", line, finding.path, f"a target is host:port; {reason}", safe=False, applied=False, change=_suggestion(targets, job_path))

    schemes = {target.scheme for target in targets if target.scheme}
    paths = {target.path for target in targets if target.path}
    new_scheme = schemes.pop() if schemes else job_scheme
    new_path = paths.pop() if paths else job_path

    for target in targets:
        group = job["static_configs"][target.group]["targets"]
        group[target.index] = same_style(group[target.index], target.host)
    if new_scheme != job_scheme:
        _set_field(job, "scheme", new_scheme)
    if new_path != job_path:
        _set_field(job, "metrics_path", new_path)

    moved = []
    if new_scheme != job_scheme:
        moved.append(f"scheme: {new_scheme}")
    if new_path != job_path:
        moved.append(f"metrics_path: {new_path}")
    where = f", and the job gets {' and '.join(moved)}" if moved else ""
    return Correction(
        "target-url",
        line,
        finding.path,
        f"a target is host:port; the scheme and path leave the targets{where}, so every URL scraped stays the same",
        safe=True,
        applied=True,
        change=", ".join(f"{_original(target)} -> {target.host}" for target in targets if _original(target) != target.host),
    )


def _job_targets(job: Any) -> list[_Target] | None:
    targets = []
    groups = job.get("static_configs")
    if not isinstance(groups, list):
        return None
    for group_index, group in enumerate(groups):
        if not isinstance(group, dict) or not isinstance(group.get("targets"), list):
            continue
        for index, value in enumerate(group["targets"]):
            match = _TARGET_URL.match(str(value))
            if match is None:
                return None
            targets.append(_Target(group_index, index, (match["scheme"] or "").lower(), match["host"], _normal_path(match["path"]), match["rest"] or ""))
    return targets


def _normal_path(path: str | None) -> str:
    return "" if path in (None, "", "/") else path


def _unsafe_reason(job: Any, targets: list[_Target], job_path: str) -> str:
    """Return why moving the URL parts to the job could change what is scraped, or "" when it cannot."""
    schemes = {target.scheme for target in targets}
    paths = {target.path for target in targets}
    if any("@" in target.host for target in targets):
        return "a target contains a user name and password (user:password@host); move them to the job's basic_auth, with the password in password_file, and keep host:port in the target"
    if job_path == "/probe":
        return "this looks like a blackbox probe job (metrics_path /probe), where the URL should go to __param_target through relabel_configs"
    if any(target.rest for target in targets):
        return "a target has a query or fragment; move its parameters to params"
    if not schemes <= {"", "http", "https"}:
        return f"only http and https are supported schemes, got {', '.join(sorted(s for s in schemes if s))}"
    explicit = schemes - {""}
    job_scheme = str(job.get("scheme", "http"))
    if len(explicit) > 1 or (explicit and "" in schemes and explicit != {job_scheme}):
        return "the job's targets use different schemes; split the job by scheme"
    if "scheme" in job and explicit and explicit != {job_scheme}:
        return f"the job sets scheme: {job_scheme}, but a target says {explicit.pop()}"
    path_values = paths - {""}
    if not path_values or path_values == {job_path}:
        return ""
    if len(paths) > 1:
        return "the job's targets have different paths; split the job, or set __metrics_path__ in each target group's labels"
    if "metrics_path" in job:
        return f"the job sets metrics_path: {job['metrics_path']}, but a target has the path {next(iter(path_values))}"
    path = next(iter(path_values))
    if not path.rstrip("/").endswith("/metrics"):
        return f"the path {path} may be the full metrics path or a prefix ({path.rstrip('/')}/metrics); check which one returns metrics and set metrics_path to it"
    return ""


def _suggestion(targets: list[_Target], job_path: str) -> str:
    # A suggestion shows the target as it should end up: host:port, without a user or password.
    changes = [f"{_original(target)} -> {target.host.rpartition('@')[2]}" for target in targets if _original(target) != target.host]
    paths = sorted({target.path for target in targets if target.path and target.path != job_path})
    if len(paths) == 1 and paths[0].rstrip("/").endswith("/metrics"):
        changes.append(f"metrics_path: {paths[0]}")
    elif len(paths) == 1:
        changes.append(f"metrics_path: {paths[0]} (or {paths[0].rstrip('/')}/metrics)")
    return ", ".join(changes)


def _original(target: _Target) -> str:
    scheme = f"{target.scheme}://" if target.scheme else ""
    return f"{scheme}{_without_password(target.host)}{target.path}{target.rest}"


def _without_password(host: str) -> str:
    """Return ``host`` with the password of a ``user:password@`` prefix masked."""
    return _USERINFO_PASSWORD.sub(rf"\1:{MASK}@", host)


def _set_field(job: Any, key: str, value: str) -> None:
    if key in job:
        job[key] = value
    else:
        insert_after(job, "job_name", key, value)
