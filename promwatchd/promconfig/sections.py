"""The global, runtime, storage, tracing, remote_write, remote_read and otlp sections of prometheus.yml."""

from __future__ import annotations

from typing import Any

import yaml

from promwatchd.promconfig.discovery import LabelValue
from promwatchd.promconfig.httpclient import FILE, SECRET, STRING, STRINGS, TLS_CONFIG, with_http_client
from promwatchd.promconfig.relabel import relabel_list
from promwatchd.promconfig.scalars import URL, Base2Bytes, Choice, Duration, is_valid_label_name, is_valid_utf8
from promwatchd.promconfig.schema import Bool, Decoder, Float, Int, MapOf, Obj, Struct, go_quote, scalar_text
from promwatchd.promconfig.cloudauth import AZUREAD_CONFIG, GOOGLE_IAM_CONFIG, SIGV4
from promwatchd.promconfig.scrape import NAME_VALIDATION, validate_scrape_protocols

DURATION = Duration()
UINT = Int(unsigned=True)
INT = Int()
BOOL = Bool()


# --- global ----------------------------------------------------------------------------------------


def _validate_global(obj: Obj, d: Decoder) -> None:
    scheme = obj.get("metric_name_validation_scheme") or "utf8"
    labels = obj.get("external_labels") or {}
    labels_node = obj.nodes.get("external_labels")
    for key_node, value_node in labels_node.value if isinstance(labels_node, yaml.MappingNode) else ():
        name = scalar_text(key_node) if isinstance(key_node, yaml.ScalarNode) else None
        if name is None:
            continue
        value = labels.get(name, "")
        if not is_valid_label_name(name, scheme):
            d.error("invalid-label-name", key_node, obj.path_of(f"external_labels.{name}"), f"{go_quote(name)} is not a valid label name", _label_name_fix(scheme))
            return
        if not isinstance(value, str) or not is_valid_utf8(value):
            d.error("invalid-label-value", value_node, obj.path_of(f"external_labels.{name}"), f"{go_quote(value) if isinstance(value, str) else 'value'} is not a valid label value", "use valid UTF-8 text")
            return

    interval = obj.get("scrape_interval") or 60.0
    timeout = obj.get("scrape_timeout")
    if timeout > interval:
        obj.error(d, "timeout-exceeds-interval", "scrape_timeout", f"global scrape timeout greater than scrape interval: scrape_timeout {obj.nodes['scrape_timeout'].value} > scrape_interval {obj.nodes['scrape_interval'].value if obj.has('scrape_interval') else '1m (the default)'}", "lower global scrape_timeout to at most the global scrape_interval, or raise the interval")
        return
    if obj.has("scrape_protocols"):
        validate_scrape_protocols(list(obj.get("scrape_protocols")), obj, "scrape_protocols", d, " for global config")


def _label_name_fix(scheme: str) -> str:
    if scheme == "legacy":
        return "with metric_name_validation_scheme: legacy, label names must match [a-zA-Z_][a-zA-Z0-9_]*"
    return "use a non-empty label name in valid UTF-8"


GLOBAL_CONFIG = Struct(
    "global",
    {
        "scrape_interval": DURATION,
        "scrape_timeout": DURATION,
        "scrape_protocols": STRINGS,
        "evaluation_interval": DURATION,
        "rule_query_offset": DURATION,
        "query_log_file": STRING,
        "scrape_failure_log_file": STRING,
        "external_labels": MapOf(STRING),
        "body_size_limit": Base2Bytes(),
        "sample_limit": UINT,
        "target_limit": UINT,
        "label_limit": UINT,
        "label_name_length_limit": UINT,
        "label_value_length_limit": UINT,
        "keep_dropped_targets": UINT,
        "metric_name_validation_scheme": NAME_VALIDATION,
        "metric_name_escaping_scheme": STRING,
        "scrape_native_histograms": BOOL,
        "convert_classic_histograms_to_nhcb": BOOL,
        "always_scrape_classic_histograms": BOOL,
        "extra_scrape_metrics": BOOL,
    },
    [_validate_global],
)

RUNTIME_CONFIG = Struct("runtime", {"gogc": INT})


# --- storage ---------------------------------------------------------------------------------------


def _validate_retention(obj: Obj, d: Decoder) -> None:
    if obj.get("size") < 0:
        obj.error(d, "invalid-value", "size", f"'storage.tsdb.retention.size' must be greater than or equal to 0, got {obj.nodes['size'].value}", "use a size such as 50GB, or 0 for no size limit")
    elif not 0 <= obj.get("percentage") <= 100:
        obj.error(d, "invalid-value", "percentage", f"'storage.tsdb.retention.percentage' must be in the range [0, 100], got {obj.nodes['percentage'].value}", "use a percentage from 0 to 100")


def _validate_tsdb(obj: Obj, d: Decoder) -> None:
    encoding = obj.get("chunk_encoding")
    floats = encoding.get("floats") if isinstance(encoding, Obj) else ""
    if floats not in ("", "xor", "xor2"):
        encoding.error(d, "invalid-value", "floats", f"'storage.tsdb.chunk_encoding.floats' must be 'xor' or 'xor2', or the field must be omitted entirely, got {go_quote(floats)}", "use xor or xor2 (lower case), or remove the field")


TSDB_CONFIG = Struct(
    "tsdb",
    {
        "out_of_order_time_window": DURATION,
        "stale_series_compaction_threshold": Float(),
        "chunk_encoding": Struct("chunk_encoding", {"floats": STRING}),
        "retention": Struct("retention", {"time": DURATION, "size": Base2Bytes(), "percentage": Float()}, [_validate_retention]),
    },
    [_validate_tsdb],
)

STORAGE_CONFIG = Struct("storage", {"tsdb": TSDB_CONFIG, "exemplars": Struct("exemplars", {"max_exemplars": INT})})


# --- tracing ---------------------------------------------------------------------------------------

# Headers remote write, remote read and tracing must not set (reservedHeaders in config/config.go).
RESERVED_HEADERS = frozenset(
    {
        "host", "content-encoding", "content-length", "content-type", "user-agent", "connection", "keep-alive",
        "proxy-authenticate", "proxy-authorization", "www-authenticate", "accept-encoding",
        "x-prometheus-remote-write-version", "x-prometheus-remote-read-version", "x-amz-date",
        "x-amz-security-token", "x-amz-content-sha256",
    }
)


def _check_headers(obj: Obj, d: Decoder, authorization_message: str, authorization_fix: str) -> bool:
    headers_node = obj.nodes.get("headers")
    if not isinstance(headers_node, yaml.MappingNode):
        return False
    for key_node, _ in headers_node.value:
        name = key_node.value
        path = obj.path_of(f"headers.{name}")
        if name.lower() == "authorization":
            d.error("reserved-header", key_node, path, authorization_message, authorization_fix)
            return True
        if name.lower() in RESERVED_HEADERS:
            d.error("reserved-header", key_node, path, f"{name} is a reserved header. It must not be changed", "remove this header; Prometheus sets it itself")
            return True
    return False


def _validate_tracing(obj: Obj, d: Decoder) -> None:
    if _check_headers(obj, d, "custom authorization header configuration is not yet supported", "remove the Authorization header"):
        return
    if obj.get("endpoint") == "":
        obj.error(d, "missing-field", "endpoint", "tracing endpoint must be set", "add endpoint, such as localhost:4317")
        return
    compression = obj.get("compression")
    if compression not in ("", "gzip"):
        obj.error(d, "invalid-value", "compression", f"invalid compression type {compression} provided, valid options: gzip", "use gzip, or remove compression")


TRACING_CONFIG = Struct(
    "tracing",
    {
        "client_type": Choice(("http", "grpc"), "expected tracing client type to be to be http or grpc, but got {value}", allow_empty=False),
        "endpoint": STRING,
        "sampling_fraction": Float(),
        "insecure": BOOL,
        "tls_config": TLS_CONFIG,
        "headers": MapOf(STRING),
        "compression": STRING,
        "timeout": DURATION,
    },
    [_validate_tracing],
)


# --- remote_write and remote_read --------------------------------------------------------------------

_AUTH_HEADER_MESSAGE = "authorization header must be changed via the basic_auth, authorization, oauth2, sigv4, azuread or google_iam parameter"
_PROTOBUF_MESSAGES = ("prometheus.WriteRequest", "io.prometheus.write.v2.Request")

QUEUE_DEFAULTS = {"capacity": 10000, "max_shards": 50, "min_shards": 1, "max_samples_per_send": 2000, "batch_send_deadline": 5.0, "min_backoff": 0.03, "max_backoff": 5.0}


def _validate_queue(obj: Obj, d: Decoder) -> None:
    """Check the rules of QueueConfig.Validate on the defaults overridden by the fields set in the file (an explicit 0 counts)."""
    value = {name: obj.get(name) if obj.has(name) else QUEUE_DEFAULTS[name] for name in QUEUE_DEFAULTS}
    checks = (
        ("max_shards", value["max_shards"] <= 0, "remote write queue max_shards must be positive"),
        ("min_shards", value["min_shards"] <= 0, "remote write queue min_shards must be positive"),
        ("min_shards", value["min_shards"] > value["max_shards"], "remote write queue min_shards must not be greater than max_shards"),
        ("max_samples_per_send", value["max_samples_per_send"] <= 0, "remote write queue max_samples_per_send must be positive"),
        ("capacity", value["capacity"] <= 0, "remote write queue capacity must be positive"),
        ("max_backoff", value["max_backoff"] < value["min_backoff"], "remote write queue max_backoff must not be less than min_backoff"),
    )
    for name, failed, message in checks:
        if failed:
            obj.error(d, "invalid-value", name, message, f"set {name} to a positive value consistent with the other queue settings, or remove it to use the default")
            return


QUEUE_CONFIG = Struct(
    "queue_config",
    {
        "capacity": INT, "max_shards": INT, "min_shards": INT, "max_samples_per_send": INT, "batch_send_deadline": DURATION,
        "min_backoff": DURATION, "max_backoff": DURATION, "retry_on_http_429": BOOL, "sample_age_limit": DURATION,
    },
    [_validate_queue],
)



def _validate_remote_write(obj: Obj, d: Decoder) -> None:
    if not obj.get("url"):
        obj.error(d, "missing-field", "url", "url for remote_write is empty", "add url with the receiver's write endpoint")
        return
    if _check_headers(obj, d, _AUTH_HEADER_MESSAGE, "use basic_auth, authorization, oauth2, sigv4, azuread or google_iam instead of the header"):
        return
    message_type = obj.get("protobuf_message")
    if message_type not in _PROTOBUF_MESSAGES:
        obj.error(d, "invalid-value", "protobuf_message", f"invalid protobuf_message value: unknown type for remote write protobuf message {message_type}, supported: {', '.join(_PROTOBUF_MESSAGES)}", f"use {' or '.join(_PROTOBUF_MESSAGES)}")
        return
    configured = [n for n in ("basic_auth", "authorization", "oauth2", "sigv4", "azuread", "google_iam") if obj.has(n)]
    if obj.get("bearer_token") or obj.get("bearer_token_file"):
        configured.insert(1, "authorization")
    if len(configured) > 1:
        obj.error(d, "conflicting-fields", configured[1], f"at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam must be configured. Currently configured: [{' '.join(configured)}]", "keep one authentication method")


REMOTE_WRITE_CONFIG = with_http_client(
    "remote_write",
    {
        "url": URL(),
        "remote_timeout": DURATION,
        "headers": MapOf(STRING),
        "write_relabel_configs": relabel_list("empty or null relabeling rule in remote write config"),
        "name": STRING,
        "send_exemplars": BOOL,
        "send_native_histograms": BOOL,
        "round_robin_dns": BOOL,
        "protobuf_message": STRING,
        "failed_request_logging": BOOL,
        "queue_config": QUEUE_CONFIG,
        "metadata_config": Struct("metadata_config", {"send": BOOL, "send_interval": DURATION, "max_samples_per_send": INT}),
        "sigv4": SIGV4,
        "azuread": AZUREAD_CONFIG,
        "google_iam": GOOGLE_IAM_CONFIG,
    },
    [_validate_remote_write],
    {"protobuf_message": "prometheus.WriteRequest", "follow_redirects": True, "enable_http2": False},
    http_first=False,
)


def _validate_remote_read(obj: Obj, d: Decoder) -> None:
    if not obj.get("url"):
        obj.error(d, "missing-field", "url", "url for remote_read is empty", "add url with the remote read endpoint")
        return
    _check_headers(obj, d, _AUTH_HEADER_MESSAGE, "use basic_auth, authorization or oauth2 instead of the header")


REMOTE_READ_CONFIG = with_http_client(
    "remote_read",
    {
        "url": URL(),
        "remote_timeout": DURATION,
        "chunked_read_limit": UINT,
        "headers": MapOf(STRING),
        "read_recent": BOOL,
        "name": STRING,
        "required_matchers": MapOf(LabelValue()),
        "filter_external_labels": BOOL,
    },
    [_validate_remote_read],
    http_first=False,
)


# --- otlp ------------------------------------------------------------------------------------------

TRANSLATION_STRATEGIES = ("UnderscoreEscapingWithSuffixes", "UnderscoreEscapingWithoutSuffixes", "NoUTF8EscapingWithSuffixes", "NoTranslation")


def _attribute_problems(attributes: list[str], adjective: str) -> list[str]:
    problems, seen = [], set()
    for attribute in attributes:
        attribute = attribute.strip()
        if attribute == "":
            problems.append(f"empty {adjective} OTel resource attribute")
        elif attribute in seen:
            problems.append(f"duplicated {adjective} OTel resource attribute {go_quote(attribute)}")
        seen.add(attribute)
    return problems


def _validate_otlp(obj: Obj, d: Decoder) -> None:
    promote_all = obj.get("promote_all_resource_attributes")
    promote = list(obj.get("promote_resource_attributes") or ())
    ignore = list(obj.get("ignore_resource_attributes") or ())
    if promote_all:
        if promote:
            obj.error(d, "conflicting-fields", "promote_resource_attributes", "'promote_all_resource_attributes' and 'promote_resource_attributes' cannot be configured simultaneously", "remove promote_resource_attributes, or set promote_all_resource_attributes to false")
            return
        problems = _attribute_problems(ignore, "ignored")
        if problems:
            obj.error(d, "invalid-value", "ignore_resource_attributes", f"invalid 'ignore_resource_attributes': {'; '.join(problems)}", "remove empty and repeated entries")
    else:
        if ignore:
            obj.error(d, "conflicting-fields", "ignore_resource_attributes", "'ignore_resource_attributes' cannot be configured unless 'promote_all_resource_attributes' is true", "set promote_all_resource_attributes: true, or remove ignore_resource_attributes")
            return
        problems = _attribute_problems(promote, "promoted")
        if problems:
            obj.error(d, "invalid-value", "promote_resource_attributes", f"invalid 'promote_resource_attributes': {'; '.join(problems)}", "remove empty and repeated entries")


OTLP_CONFIG = Struct(
    "otlp",
    {
        "promote_all_resource_attributes": BOOL,
        "promote_resource_attributes": STRINGS,
        "ignore_resource_attributes": STRINGS,
        "translation_strategy": STRING,
        "keep_identifying_resource_attributes": BOOL,
        "convert_histograms_to_nhcb": BOOL,
        "promote_scope_metadata": BOOL,
        "label_name_underscore_sanitization": BOOL,
        "label_name_preserve_multiple_underscores": BOOL,
    },
    [_validate_otlp],
    {"translation_strategy": "UnderscoreEscapingWithSuffixes"},
)


def validate_translation_strategy(otlp: Obj | None, global_scheme: str, d: Decoder) -> None:
    """Check otlp.translation_strategy against the global metric name validation scheme, as config.Load does."""
    if otlp is None:
        return
    strategy = otlp.get("translation_strategy")
    if strategy in ("UnderscoreEscapingWithSuffixes", "UnderscoreEscapingWithoutSuffixes", ""):
        return
    if strategy in ("NoTranslation", "NoUTF8EscapingWithSuffixes"):
        if global_scheme == "legacy":
            otlp.error(d, "invalid-value", "translation_strategy", f"OTLP translation strategy {go_quote(strategy)} is not allowed when UTF8 is disabled", "use UnderscoreEscapingWithSuffixes, or set global metric_name_validation_scheme to utf8")
        return
    otlp.error(d, "invalid-value", "translation_strategy", f"unsupported OTLP translation strategy {go_quote(strategy)}", f"use one of: {', '.join(TRANSLATION_STRATEGIES)}")


__all__: list[Any] = [
    "GLOBAL_CONFIG", "RUNTIME_CONFIG", "STORAGE_CONFIG", "TRACING_CONFIG", "REMOTE_WRITE_CONFIG",
    "REMOTE_READ_CONFIG", "OTLP_CONFIG", "validate_translation_strategy",
]
