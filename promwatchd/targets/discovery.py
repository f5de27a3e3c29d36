"""Turn scrape jobs into targets: expand static_configs and file_sd_configs, relabel, build the URL.

The steps follow Prometheus 2.42's ``populateLabels`` (scrape/target.go): the job's defaults
become the labels ``job``, ``__scheme__``, ``__metrics_path__``, ``__scrape_interval__``,
``__scrape_timeout__`` and ``__param_<name>``; relabel_configs run; a missing port is set
from the scheme (80 or 443); ``__meta_*`` labels go; ``instance`` defaults to ``__address__``.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import yaml

from promwatchd.durations import format_duration
from promwatchd.targets.config import ConfigError, ScrapeJob, TargetGroup, parse_group
from promwatchd.targets.relabel import relabel

FILE_SD_EXTENSIONS = (".json", ".yml", ".yaml")
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
"""Characters Go's url.URL leaves unescaped in a path."""


@dataclass(frozen=True)
class Target:
    """One target to fetch, or one that cannot be scraped (``error`` set)."""

    job: str
    url: str
    labels: Mapping[str, str]
    """The target's labels after relabeling, without the internal ``__`` labels."""
    timeout_seconds: float
    error: str = ""
    """The reason Prometheus would not scrape this target at all, such as an invalid address."""
    prometheus_last_error: str | None = None
    """Prometheus's own lastError, in --prometheus mode."""
    prometheus_health: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def instance(self) -> str:
        return self.labels.get("instance", "")


@dataclass
class Discovery:
    """The targets of all jobs, with the problems found while expanding them."""

    targets: list[Target] = field(default_factory=list)
    dropped: int = 0
    """Targets dropped by relabel_configs (keep, drop, keepequal, dropequal)."""
    warnings: list[str] = field(default_factory=list)


def discover(jobs: list[ScrapeJob]) -> Discovery:
    """Expand every job's target groups into targets."""
    found = Discovery()
    for job in jobs:
        if job.unsupported_discovery:
            found.warnings.append(
                f"job {job.name!r}: {', '.join(job.unsupported_discovery)} not expanded by the checker; "
                "use --prometheus to check the targets Prometheus discovered"
            )
        groups = list(job.static_groups)
        groups.extend(_file_sd_groups(job, found.warnings))
        for group in groups:
            for address in group.targets:
                target = build_target(job, address, group.labels)
                if target is None:
                    found.dropped += 1
                else:
                    found.targets.append(target)
    return found


def _file_sd_groups(job: ScrapeJob, warnings: list[str]) -> list[TargetGroup]:
    groups: list[TargetGroup] = []
    for pattern in job.file_sd_patterns:
        paths = sorted(glob.glob(pattern))
        if not paths:
            warnings.append(f"job {job.name!r}: file_sd_configs pattern {pattern!r} matches no file")
        for path in paths:
            try:
                groups.extend(read_file_sd(Path(path)))
            except ConfigError as error:
                warnings.append(f"job {job.name!r}: {error}")
    return groups


def read_file_sd(path: Path) -> list[TargetGroup]:
    """Read one file_sd file (JSON or YAML); each group gets the label ``__meta_filepath``."""
    if path.suffix not in FILE_SD_EXTENSIONS:
        raise ConfigError(f"file_sd file {str(path)!r} has no .json, .yml or .yaml extension, so Prometheus ignores it")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read file_sd file {str(path)!r}: {error}") from None
    try:
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as error:
        raise ConfigError(f"invalid file_sd file {str(path)!r}: {error}") from None

    if document is None:
        return []
    if not isinstance(document, list):
        raise ConfigError(f"file_sd file {str(path)!r}: expected a list of target groups")

    groups = []
    for index, raw in enumerate(document):
        group = parse_group(raw, f"{path}[{index}]")
        groups.append(TargetGroup(group.targets, {**group.labels, "__meta_filepath": str(path)}, group.source))
    return groups


def build_target(job: ScrapeJob, address: str, group_labels: Mapping[str, str]) -> Target | None:
    """Build one target from its address and group labels; None when relabeling drops it."""
    labels: dict[str, str] = {**group_labels, "__address__": address}
    defaults = {
        "job": job.name,
        "__scrape_interval__": format_go_duration(job.interval_seconds),
        "__scrape_timeout__": format_go_duration(job.timeout_seconds),
        "__metrics_path__": job.metrics_path,
        "__scheme__": job.scheme,
    }
    for name, value in defaults.items():
        labels.setdefault(name, value)
    for name, values in job.params.items():
        if values:
            labels.setdefault(f"__param_{name}", values[0])

    relabeled = relabel(labels, list(job.relabel_rules))
    if not relabeled:
        return None  # Prometheus also drops a target whose labels are all removed.

    public = {name: value for name, value in relabeled.items() if not name.startswith("__")}
    address = relabeled.get("__address__", "")
    public.setdefault("instance", address)
    if not address:
        return Target(job.name, "", public, job.timeout_seconds, error="no __address__ label after relabeling")

    scheme = relabeled.get("__scheme__", "")
    address, error = add_default_port(address, scheme)
    if error:
        return Target(job.name, "", public, job.timeout_seconds, error=error)
    public["instance"] = relabeled.get("instance") or address

    url = build_url(scheme, address, relabeled.get("__metrics_path__", ""), job.params, relabeled)
    return Target(job.name, url, public, job.timeout_seconds)


def add_default_port(address: str, scheme: str) -> tuple[str, str]:
    """Return (address with port, error); the port defaults to 80 for http and 443 for https (Prometheus 2)."""
    if "/" in address:
        return address, f"{address!r} is not a valid hostname"
    if _has_port(address):
        return address, ""
    if scheme in ("http", ""):
        return address + ":80", ""
    if scheme == "https":
        return address + ":443", ""
    return address, f"invalid scheme {scheme!r}"


def _has_port(address: str) -> bool:
    if address.startswith("["):
        return "]:" in address
    return address.count(":") == 1


def build_url(
    scheme: str,
    address: str,
    path: str,
    params: Mapping[str, tuple[str, ...]],
    labels: Mapping[str, str],
) -> str:
    """Build the scrape URL as Prometheus's ``Target.URL`` does.

    The job's params come first; a ``__param_<name>`` label replaces the first value of that
    param or adds it. The query is sorted by key, like Go's ``url.Values.Encode``.
    """
    query: dict[str, list[str]] = {name: list(values) for name, values in params.items()}
    for name, value in labels.items():
        if not name.startswith("__param_"):
            continue
        key = name[len("__param_") :]
        if query.get(key):
            query[key][0] = value
        else:
            query[key] = [value]

    pairs = [(key, value) for key in sorted(query) for value in query[key]]
    encoded = urlencode(pairs)
    url = f"{scheme}://{address}{quote(path, safe=_PATH_SAFE)}"
    return f"{url}?{encoded}" if encoded else url


def format_go_duration(seconds: float) -> str:
    """Format seconds as Prometheus prints a duration label value (``1m``, ``10s``, ``1m30s``)."""
    if seconds and seconds < 1:
        return f"{int(round(seconds * 1000))}ms"
    return format_duration(seconds) if seconds >= 60 else f"{int(seconds)}s"
