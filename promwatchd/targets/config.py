"""Read the scrape jobs of a Prometheus config: what the target checker needs to fetch each target.

The file is parsed with PyYAML here, not by the config validator, and only the fields that
change how a target is fetched are read. Defaults follow Prometheus 2.42 (config/config.go):
scrape_interval 1m, scrape_timeout 10s (capped at the job's interval), scheme http,
metrics_path /metrics, follow_redirects true. Relative file paths resolve against the
config file's directory, as Prometheus resolves them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promwatchd.durations import parse_duration
from promwatchd.targets.relabel import RelabelConfigError, RelabelRule
from promwatchd.yamlfile import YamlFileError, read_yaml_mapping

DEFAULT_SCRAPE_INTERVAL = 60.0
DEFAULT_SCRAPE_TIMEOUT = 10.0

_SIZE = re.compile(r"^(\d+)\s*([KMGTPE]?i?B)?$", re.IGNORECASE)
_SIZE_FACTORS = {"": 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50, "eb": 1 << 60}


class ConfigError(Exception):
    """The Prometheus config cannot be read or used; the message names the file and the field."""


@dataclass(frozen=True)
class TLSSettings:
    """``tls_config`` of a scrape job."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str = ""
    insecure_skip_verify: bool = False


@dataclass(frozen=True)
class AuthSettings:
    """The credentials a scrape job sends: ``basic_auth``, ``authorization`` or the older ``bearer_token``."""

    kind: str = ""
    """Empty (none), "basic" or "authorization"."""
    username: str = ""
    password: str = ""
    password_file: Path | None = None
    scheme: str = "Bearer"
    """The Authorization header's scheme (``authorization.type``)."""
    credentials: str = ""
    credentials_file: Path | None = None


@dataclass(frozen=True)
class TargetGroup:
    """A group of targets with shared labels, from static_configs or a file_sd file."""

    targets: tuple[str, ...]
    labels: Mapping[str, str]
    source: str


@dataclass(frozen=True)
class ScrapeJob:
    """One ``scrape_configs`` entry with Prometheus's defaults filled in."""

    name: str
    scheme: str = "http"
    metrics_path: str = "/metrics"
    params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    interval_seconds: float = DEFAULT_SCRAPE_INTERVAL
    timeout_seconds: float = DEFAULT_SCRAPE_TIMEOUT
    body_size_limit: int = 0
    """Bytes; 0 means no limit."""
    follow_redirects: bool = True
    auth: AuthSettings = AuthSettings()
    tls: TLSSettings = TLSSettings()
    static_groups: tuple[TargetGroup, ...] = ()
    file_sd_patterns: tuple[str, ...] = ()
    """Glob patterns of file_sd_configs, already made absolute."""
    relabel_rules: tuple[RelabelRule, ...] = ()
    unsupported_discovery: tuple[str, ...] = ()
    """Service discovery mechanisms the checker cannot expand, such as kubernetes_sd_configs."""


def load_jobs(path: Path) -> list[ScrapeJob]:
    """Read ``path`` and return its scrape jobs; raise ConfigError with one line on any problem."""
    try:
        document = read_yaml_mapping(path, "Prometheus config", "pass the path of your prometheus.yml")
    except YamlFileError as error:
        raise ConfigError(str(error)) from None

    base = path.resolve().parent
    global_section = _mapping(document.get("global"), f"{path}: global")
    global_interval = _duration(global_section, "scrape_interval", DEFAULT_SCRAPE_INTERVAL, f"{path}: global")
    global_timeout = _duration(global_section, "scrape_timeout", DEFAULT_SCRAPE_TIMEOUT, f"{path}: global")

    raw_jobs = document.get("scrape_configs") or []
    if not isinstance(raw_jobs, list):
        raise ConfigError(f"{path}: scrape_configs must be a list of scrape jobs")

    jobs = []
    for index, raw in enumerate(raw_jobs):
        where = f"{path}: scrape_configs[{index}]"
        jobs.append(_parse_job(_mapping(raw, where), where, base, global_interval, global_timeout))
    return jobs


def _parse_job(raw: Mapping[str, Any], where: str, base: Path, global_interval: float, global_timeout: float) -> ScrapeJob:
    name = raw.get("job_name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: job_name is missing")
    where = f"{where} (job {name!r})"

    interval = _duration(raw, "scrape_interval", global_interval, where)
    # Prometheus caps the inherited global timeout at the job's interval.
    timeout = _duration(raw, "scrape_timeout", min(global_timeout, interval), where)

    scheme = str(raw.get("scheme", "http"))
    if scheme not in ("http", "https"):
        raise ConfigError(f"{where}: scheme must be http or https, got {scheme!r}")

    params: dict[str, tuple[str, ...]] = {}
    for key, values in _mapping(raw.get("params"), f"{where}: params").items():
        if not isinstance(values, list):
            raise ConfigError(f"{where}: params.{key} must be a list of strings")
        params[str(key)] = tuple(str(value) for value in values)

    rules = []
    for rule_index, rule in enumerate(raw.get("relabel_configs") or []):
        try:
            rules.append(RelabelRule.from_config(rule, f"{where}: relabel_configs[{rule_index}]"))
        except RelabelConfigError as error:
            raise ConfigError(str(error)) from None

    return ScrapeJob(
        name=name,
        scheme=scheme,
        metrics_path=str(raw.get("metrics_path", "/metrics")),
        params=params,
        interval_seconds=interval,
        timeout_seconds=timeout,
        body_size_limit=_size(raw.get("body_size_limit", 0), where),
        follow_redirects=bool(raw.get("follow_redirects", True)),
        auth=_parse_auth(raw, where, base),
        tls=_parse_tls(_mapping(raw.get("tls_config"), f"{where}: tls_config"), base),
        static_groups=_static_groups(raw.get("static_configs"), where),
        file_sd_patterns=_file_sd_patterns(raw.get("file_sd_configs"), where, base),
        relabel_rules=tuple(rules),
        unsupported_discovery=tuple(sorted(key for key in raw if key.endswith("_sd_configs") and key != "file_sd_configs")),
    )


def _parse_auth(raw: Mapping[str, Any], where: str, base: Path) -> AuthSettings:
    basic = raw.get("basic_auth")
    if basic:
        basic = _mapping(basic, f"{where}: basic_auth")
        return AuthSettings(
            kind="basic",
            username=str(basic.get("username") or ""),
            password=str(basic.get("password") or ""),
            password_file=_path(basic.get("password_file"), base),
        )

    authorization = raw.get("authorization")
    if authorization:
        authorization = _mapping(authorization, f"{where}: authorization")
        return AuthSettings(
            kind="authorization",
            scheme=str(authorization.get("type") or "Bearer"),
            credentials=str(authorization.get("credentials") or ""),
            credentials_file=_path(authorization.get("credentials_file"), base),
        )

    # bearer_token and bearer_token_file are the pre-2.26 spelling of authorization.
    if raw.get("bearer_token") or raw.get("bearer_token_file"):
        return AuthSettings(
            kind="authorization",
            credentials=str(raw.get("bearer_token") or ""),
            credentials_file=_path(raw.get("bearer_token_file"), base),
        )
    return AuthSettings()


def _parse_tls(raw: Mapping[str, Any], base: Path) -> TLSSettings:
    return TLSSettings(
        ca_file=_path(raw.get("ca_file"), base),
        cert_file=_path(raw.get("cert_file"), base),
        key_file=_path(raw.get("key_file"), base),
        server_name=str(raw.get("server_name") or ""),
        insecure_skip_verify=bool(raw.get("insecure_skip_verify", False)),
    )


def _static_groups(raw: Any, where: str) -> tuple[TargetGroup, ...]:
    groups = []
    for index, group in enumerate(raw or []):
        group_where = f"{where}: static_configs[{index}]"
        groups.append(parse_group(group, group_where))
    return tuple(groups)


def parse_group(raw: Any, where: str) -> TargetGroup:
    """Parse one ``{targets: [...], labels: {...}}`` group; raise ConfigError naming ``where``."""
    group = _mapping(raw, where)
    targets = group.get("targets") or []
    if not isinstance(targets, list):
        raise ConfigError(f"{where}: targets must be a list of host:port strings")
    labels = _mapping(group.get("labels"), f"{where}: labels")
    return TargetGroup(
        targets=tuple(str(target) for target in targets),
        labels={str(key): str(value) for key, value in labels.items()},
        source=where,
    )


def _file_sd_patterns(raw: Any, where: str, base: Path) -> tuple[str, ...]:
    patterns = []
    for index, section in enumerate(raw or []):
        section = _mapping(section, f"{where}: file_sd_configs[{index}]")
        for pattern in section.get("files") or []:
            pattern = str(pattern)
            patterns.append(pattern if Path(pattern).is_absolute() else str(base / pattern))
    return tuple(patterns)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _duration(section: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = section.get(key)
    if value is None:
        return default
    try:
        return parse_duration(str(value))
    except ValueError as error:
        raise ConfigError(f"{where}: {key}: {error}") from None


def _size(value: Any, where: str) -> int:
    """Parse body_size_limit: bytes with an optional base-2 unit (KB and KiB both mean 1024)."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value).strip())
    if match is None:
        raise ConfigError(f"{where}: body_size_limit: invalid size {value!r}: expected a number with a unit, such as 10MB")
    unit = (match.group(2) or "").lower().replace("i", "")
    return int(match.group(1)) * _SIZE_FACTORS[unit]


def _path(value: Any, base: Path) -> Path | None:
    if not value:
        return None
    path = Path(str(value))
    return path if path.is_absolute() else base / path
