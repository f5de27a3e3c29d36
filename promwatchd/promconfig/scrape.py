"""Scrape jobs (``scrape_configs``) and Alertmanager targets (``alerting``), as ``config/config.go`` checks them."""

from __future__ import annotations

import re
from typing import Any

import yaml

from promwatchd.durations import format_duration
from promwatchd.redact import MASK
from promwatchd.promconfig.cloudauth import SIGV4
from promwatchd.promconfig.discovery import sd_fields
from promwatchd.promconfig.httpclient import HTTP_CLIENT_DEFAULTS, HTTP_CLIENT_FIELDS, SECRET, STRING, STRINGS, validate_http_client, with_http_client
from promwatchd.promconfig.relabel import relabel_list
from promwatchd.promconfig.scalars import Base2Bytes, Choice, Duration
from promwatchd.promconfig.schema import Bool, Decoder, Float, Int, ListOf, MapOf, Obj, Struct, go_quote

SCRAPE_PROTOCOLS = ("OpenMetricsText0.0.1", "OpenMetricsText1.0.0", "PrometheusProto", "PrometheusText0.0.4", "PrometheusText1.0.0")
ESCAPING_SCHEMES = ("allow-utf-8", "underscores", "dots", "values")
DEFAULT_SCRAPE_INTERVAL = 60.0
DEFAULT_SCRAPE_TIMEOUT = 10.0

NAME_VALIDATION = Choice(("legacy", "utf8"), "unrecognized ValidationScheme: {quoted}", fix="use legacy or utf8")
UINT = Int(unsigned=True)
BOOL = Bool()
DURATION = Duration()


def validate_scrape_protocols(protocols: list[Any], obj: Obj, name: str, d: Decoder, suffix: str) -> bool:
    """Check a scrape_protocols list as validateAcceptScrapeProtocols does; return True after an error."""
    if not protocols:
        obj.error(d, "invalid-value", name, f"scrape_protocols cannot be empty{suffix}", f"list at least one of: {', '.join(SCRAPE_PROTOCOLS)}")
        return True
    seen: set[str] = set()
    for protocol in protocols:
        if protocol.lower() in seen:
            listed = " ".join(protocols)
            obj.error(d, "invalid-value", name, f"duplicated protocol in scrape_protocols, got [{listed}]{suffix}", "list each protocol once")
            return True
        if protocol not in SCRAPE_PROTOCOLS:
            obj.error(d, "invalid-value", name, f"scrape_protocols: unknown scrape protocol {protocol}, supported: [{' '.join(SCRAPE_PROTOCOLS)}]{suffix}", f"use protocols among: {', '.join(SCRAPE_PROTOCOLS)}")
            return True
        seen.add(protocol.lower())
    return False


def _peek_scalar(node: yaml.Node, key: str) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key and isinstance(value_node, yaml.ScalarNode):
                return value_node.value
    return None


# --- Targets ---------------------------------------------------------------------------------------

_SCHEME_PREFIX = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://")


def check_targets(obj: Obj, d: Decoder) -> None:
    """Check static targets: Prometheus rejects a "/" (scheme or path); other malformed host:port forms get warnings."""
    groups = obj.get("static_configs") or ()
    for group_index, group in enumerate(groups):
        if not isinstance(group, Obj):
            continue
        targets_node = group.nodes.get("targets")
        for index, target in enumerate(group.get("targets") or ()):
            if not isinstance(target, str):
                continue
            node = targets_node.value[index] if isinstance(targets_node, yaml.SequenceNode) else group.node
            path = f"{group.path}.targets[{index}]"
            _check_target(target, node, path, obj, d)


def _check_target(target: str, node: yaml.Node, path: str, job: Obj, d: Decoder) -> None:
    scheme_match = _SCHEME_PREFIX.match(target)
    if scheme_match:
        scheme = scheme_match.group(1).lower()
        rest = target[scheme_match.end():]
        host, _, url_path = rest.partition("/")
        userinfo, at, bare_host = host.rpartition("@")
        fix = f"remove {scheme_match.group(0)!r}: write {bare_host!r}"
        job_scheme = job.get("scheme") or "http"
        if scheme != job_scheme:
            fix += f" and set scheme: {scheme} on the job (it is {job_scheme} now)"
        if at:
            fix += ", and move the credentials to basic_auth"
            target = f"{scheme_match.group(0)}{userinfo.partition(':')[0]}:{MASK}@{bare_host}" + (f"/{url_path}" if url_path else "")
        if url_path:
            fix += _path_fix(url_path)
        if job.get("metrics_path") == "/probe":
            fix = "for a probe (blackbox) job keep the URL, but pass it as the target parameter: relabel __address__ to __param_target and set __address__ to the exporter"
        d.error("target-with-scheme", node, path, f"{go_quote(target)} is not a valid hostname: a target is host:port, without a URL scheme", fix)
        return
    if "/" in target:
        host, _, url_path = target.partition("/")
        d.error(
            "target-with-path",
            node,
            path,
            f"{go_quote(target)} is not a valid hostname: a target is host:port, without a URL path",
            f"write {host!r} as the target" + _path_fix(url_path),
        )
        return
    problem = _host_port_problem(target)
    if problem:
        d.warn("invalid-target", node, path, f"target {go_quote(target)} {problem}", "write the target as host:port, such as node1.example.internal:9100")


def _path_fix(url_path: str) -> str:
    """Return the part of a fix that moves a target's URL path to metrics_path and its query to params."""
    path, _, query = url_path.partition("?")
    fix = f", and move the path /{path} to metrics_path"
    if not path.rstrip("/").endswith("metrics"):
        fix += f" (or /{path.rstrip('/')}/metrics if the path is only a prefix)"
    if query:
        fix += f", and the query {query} to params"
    return fix


def _host_port_problem(target: str) -> str | None:
    if target == "":
        return "is empty"
    if any(c.isspace() for c in target):
        return "contains whitespace"
    if target.startswith("["):
        end = target.find("]")
        if end < 0:
            return "has an IPv6 address without the closing ]"
        port = target[end + 1 :]
        if port and not port.startswith(":"):
            return "has text after the IPv6 address that is not a port"
        port = port[1:]
    elif target.count(":") > 1:
        return "has more than one colon; write IPv6 addresses in brackets, such as [::1]:9100"
    else:
        _, _, port = target.partition(":")
        if ":" not in target:
            return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"has an invalid port {go_quote(port)}; the port must be a number from 1 to 65535"
    return None


# --- Scrape config ---------------------------------------------------------------------------------


def _validate_scrape_unmarshal(obj: Obj, d: Decoder) -> None:
    """Check what ScrapeConfig.UnmarshalYAML checks: job_name, the HTTP client settings and static targets."""
    if obj.get("job_name") == "":
        obj.error(d, "missing-field", "job_name", "job_name is empty", "add job_name with a unique name for this job")
        return
    validate_http_client(obj, d)
    if not obj.get("relabel_configs"):
        check_targets(obj, d)


class ScrapeConfigStruct(Struct):
    """scrape_config: relabel rules are checked under the job's metric name validation scheme."""

    def decode(self, node: yaml.Node, d: Decoder, path: str) -> Any:
        previous = d.context.get("name_validation_scheme", "utf8")
        local = _peek_scalar(node, "metric_name_validation_scheme")
        d.context["name_validation_scheme"] = local if local in ("legacy", "utf8") else d.context.get("global_name_validation_scheme", "utf8")
        try:
            return super().decode(node, d, path)
        finally:
            d.context["name_validation_scheme"] = previous


SCRAPE_CONFIG = ScrapeConfigStruct(
    "scrape_config",
    {
        "job_name": STRING,
        "honor_labels": BOOL,
        "honor_timestamps": BOOL,
        "track_timestamps_staleness": BOOL,
        "params": MapOf(STRINGS),
        "scrape_interval": DURATION,
        "scrape_timeout": DURATION,
        "scrape_protocols": STRINGS,
        "fallback_scrape_protocol": STRING,
        "scrape_native_histograms": BOOL,
        "always_scrape_classic_histograms": BOOL,
        "convert_classic_histograms_to_nhcb": BOOL,
        "scrape_failure_log_file": STRING,
        "metrics_path": STRING,
        "scheme": STRING,
        "enable_compression": BOOL,
        "body_size_limit": Base2Bytes(),
        "sample_limit": UINT,
        "target_limit": UINT,
        "label_limit": UINT,
        "label_name_length_limit": UINT,
        "label_value_length_limit": UINT,
        "native_histogram_bucket_limit": UINT,
        "native_histogram_min_bucket_factor": Float(),
        "keep_dropped_targets": UINT,
        "metric_name_validation_scheme": NAME_VALIDATION,
        "metric_name_escaping_scheme": STRING,
        "extra_scrape_metrics": BOOL,
        "relabel_configs": relabel_list("empty or null target relabeling rule in scrape config"),
        "metric_relabel_configs": relabel_list("empty or null metric relabeling rule in scrape config"),
        **sd_fields(),
        **HTTP_CLIENT_FIELDS,
    },
    [_validate_scrape_unmarshal],
    {"metrics_path": "/metrics", "scheme": "http", "honor_timestamps": True, "enable_compression": True, **HTTP_CLIENT_DEFAULTS},
)


def validate_scrape_with_global(job: Obj, global_cfg: Obj | None, global_explicit: dict[str, bool], d: Decoder) -> None:
    """Check what ScrapeConfig.Validate checks: apply the global defaults, then compare timeout and interval, then check protocols."""
    name = job.get("job_name")
    global_interval, global_timeout, global_protocols = _global_scrape_settings(global_cfg, d)
    interval = job.get("scrape_interval") or global_interval
    timeout = job.get("scrape_timeout")

    if timeout and timeout > interval:
        where = "scrape_timeout" if job.has("scrape_timeout") else None
        interval_source = "" if job.has("scrape_interval") else " (the global scrape_interval)"
        job.error(
            d,
            "timeout-exceeds-interval",
            where,
            f"scrape timeout greater than scrape interval for scrape config with job name {go_quote(name)}: scrape_timeout {format_duration(timeout)} > scrape_interval {format_duration(interval)}{interval_source}",
            f"set scrape_timeout to at most {format_duration(interval)} (for example 80% of it), or raise scrape_interval",
        )
    elif not timeout and global_explicit.get("scrape_timeout") and global_interval >= global_timeout > interval:
        job.warn(
            d,
            "timeout-clamped",
            "scrape_interval" if job.has("scrape_interval") else None,
            f"the effective scrape timeout for job {go_quote(name)} is {format_duration(interval)}, not the {format_duration(global_timeout)} set as global scrape_timeout, because a timeout cannot exceed the job's scrape_interval",
            f"set scrape_timeout on the job to at most {format_duration(interval)} to make this explicit, or raise its scrape_interval",
        )

    protocols = job.get("scrape_protocols") if job.has("scrape_protocols") else global_protocols
    if protocols is not None and validate_scrape_protocols(list(protocols), job, "scrape_protocols", d, f" for scrape config with job name {go_quote(name)}"):
        return
    fallback = job.get("fallback_scrape_protocol")
    if fallback and fallback not in SCRAPE_PROTOCOLS:
        job.error(d, "invalid-value", "fallback_scrape_protocol", f"invalid fallback_scrape_protocol for scrape config with job name {go_quote(name)}: unknown scrape protocol {fallback}, supported: [{' '.join(SCRAPE_PROTOCOLS)}]", f"use one of: {', '.join(SCRAPE_PROTOCOLS)}")
        return
    _validate_name_schemes(job, global_cfg, d)


def _global_scrape_settings(global_cfg: Obj | None, d: Decoder) -> tuple[float, float, Any]:
    """Return the global scrape interval and timeout with Prometheus's defaults applied, and the global scrape_protocols.

    The result is kept in ``d.context`` for the next job with the same global section, so
    that a file with thousands of jobs computes it once.
    """
    cached = d.context.get("global_scrape_settings")
    if cached is not None and cached[0] is global_cfg:
        return cached[1]
    interval = _global(global_cfg, "scrape_interval") or DEFAULT_SCRAPE_INTERVAL
    timeout = _global(global_cfg, "scrape_timeout") or min(DEFAULT_SCRAPE_TIMEOUT, interval)
    settings = (interval, timeout, _global(global_cfg, "scrape_protocols"))
    d.context["global_scrape_settings"] = (global_cfg, settings)
    return settings


def _global(global_cfg: Obj | None, name: str) -> Any:
    if global_cfg is None:
        return None
    value = global_cfg.get(name)
    return value if global_cfg.has(name) else None


def _validate_name_schemes(job: Obj, global_cfg: Obj | None, d: Decoder) -> None:
    global_scheme = _global(global_cfg, "metric_name_validation_scheme") or "utf8"
    global_escaping = _global(global_cfg, "metric_name_escaping_scheme") or ""
    if global_escaping == "":
        global_escaping = "underscores" if global_scheme == "legacy" else "allow-utf-8"
    elif global_escaping not in ESCAPING_SCHEMES:
        (global_cfg or job).error(d, "invalid-value", "metric_name_escaping_scheme" if global_cfg else None, f"unknown global name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {go_quote(global_escaping)}", "use allow-utf-8, underscores, dots or values")
        return

    local_scheme = job.get("metric_name_validation_scheme") or ""
    local_unset = local_scheme == ""
    scheme = global_scheme if local_unset else local_scheme
    escaping = job.get("metric_name_escaping_scheme")
    if escaping == "" and local_unset:
        escaping = global_escaping
    elif escaping == "":
        escaping = "underscores" if scheme == "legacy" else "allow-utf-8"
    if escaping == "allow-utf-8" and scheme != "utf8":
        job.error(d, "invalid-value", "metric_name_escaping_scheme" if job.has("metric_name_escaping_scheme") else None, "utf8 metric names requested but validation scheme is not set to UTF8", "set metric_name_escaping_scheme to underscores, dots or values, or metric_name_validation_scheme to utf8")
    elif escaping not in ESCAPING_SCHEMES:
        job.error(d, "invalid-value", "metric_name_escaping_scheme", f"unknown scrape config name escaping method specified, must be one of 'allow-utf-8', 'underscores', 'dots', or 'values', got {go_quote(escaping)}", "use allow-utf-8, underscores, dots or values")


# --- Alerting --------------------------------------------------------------------------------------



def _validate_alertmanager(obj: Obj, d: Decoder) -> None:
    if obj.has("sigv4") and any(obj.has(n) for n in ("basic_auth", "authorization", "oauth2")):
        obj.error(d, "conflicting-fields", "sigv4", "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured", "keep one authentication method")
        return
    if not obj.get("relabel_configs"):
        check_targets(obj, d)


ALERTMANAGER_CONFIG = with_http_client(
    "alertmanager_config",
    {
        "sigv4": SIGV4,
        "scheme": STRING,
        "path_prefix": STRING,
        "timeout": DURATION,
        "api_version": Choice(("v2",), "expected Alertmanager api version to be one of [v2] but got {value}", fix="use api_version: v2 (Alertmanager API v1 was removed in Prometheus 3.0)", allow_empty=False),
        "relabel_configs": relabel_list("empty or null Alertmanager target relabeling rule"),
        "alert_relabel_configs": relabel_list("empty or null Alertmanager alert relabeling rule"),
        **sd_fields(),
    },
    [_validate_alertmanager],
    {"scheme": "http", "timeout": 10.0, "api_version": "v2"},
)

ALERTING_CONFIG = Struct(
    "alerting",
    {
        "alert_relabel_configs": relabel_list("empty or null alert relabeling rule"),
        "alertmanagers": ListOf(ALERTMANAGER_CONFIG, null_item="empty or null Alertmanager config section"),
    },
)

__all__ = ["SCRAPE_CONFIG", "ALERTING_CONFIG", "validate_scrape_with_global", "validate_scrape_protocols"]
