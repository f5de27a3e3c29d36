"""Service discovery sections (``*_sd_configs``) and ``static_configs``.

Fields and checks follow the ``SDConfig`` types and their ``UnmarshalYAML`` methods
in Prometheus 3.x ``discovery/``. Each validator stops at its first error, as those
methods do.
"""

from __future__ import annotations

import re
from typing import Any

from promwatchd.promconfig.httpclient import FILE, HTTP_CLIENT_DEFAULTS, HTTP_CLIENT_FIELDS, SECRET, STRING, STRINGS, TLS_CONFIG, FilePath, validate_http_client
from promwatchd.promconfig.kubernetes import KUBERNETES_SD
from promwatchd.promconfig.scalars import Duration, LabelName, is_valid_utf8, split_url, url_problem
from promwatchd.promconfig.schema import INVALID, Bool, Decoder, Int, ListOf, MapOf, Obj, Scalar, Struct, go_quote

DURATION = Duration()
PORT = Int()
BOOL = Bool()


def _label_value_problem(value: str) -> str | None:
    return None if is_valid_utf8(value) else f"{go_quote(value)} is not a valid label value"


class LabelValue(Scalar):
    """A label value: any valid UTF-8 string."""

    def convert(self, text: str, node: Any, d: Decoder, path: str) -> Any:
        problem = _label_value_problem(text)
        if problem is not None:
            d.error("invalid-label-value", node, path, problem, "use valid UTF-8 text")
            return INVALID
        return text


def _label_key_problem(name: str) -> str | None:
    if len(name) > 0 and is_valid_utf8(name):
        return None
    return f"{go_quote(name)} is not a valid label name"


LABEL_SET = MapOf(LabelValue(), key_check=_label_key_problem)


def _fail(obj: Obj, d: Decoder, rule: str, name: str | None, message: str, fix: str = "") -> bool:
    obj.error(d, rule, name, message, fix)
    return True


def sd(name: str, fields: dict[str, Any], check: Any = None, defaults: dict[str, Any] | None = None, http: bool = True) -> Struct:
    """Return an SD config struct; ``check(obj, d) -> bool`` returns True after reporting an error."""

    def validate(obj: Obj, d: Decoder) -> None:
        if check is not None and check(obj, d):
            return
        if http:
            validate_http_client(obj, d)

    if http:
        return Struct(name, {**fields, **HTTP_CLIENT_FIELDS}, [validate], {**HTTP_CLIENT_DEFAULTS, **(defaults or {})})
    return Struct(name, fields, [validate], defaults)


# --- static_configs -------------------------------------------------------------------------

STATIC_CONFIG = Struct("static_config", {"targets": ListOf(Scalar()), "labels": LABEL_SET})


# --- AWS -----------------------------------------------------------------------------------------

AWS_FILTER = Struct("filter", {"name": STRING, "values": STRINGS})
_AWS_COMMON = {
    "region": STRING, "endpoint": STRING, "access_key": STRING, "secret_key": SECRET, "profile": STRING,
    "role_arn": STRING, "external_id": STRING, "refresh_interval": DURATION, "port": PORT,
}


def _check_ec2(obj: Obj, d: Decoder) -> bool:
    for index, item in enumerate(obj.get("filters") or ()):
        if isinstance(item, Obj) and not item.get("values"):
            return _fail(item, d, "missing-field", None, "EC2 SD configuration filter values cannot be empty", "add at least one value to the filter")
    return False


def _check_aws(obj: Obj, d: Decoder) -> bool:
    role = obj.get("role")
    if role not in ("ec2", "ecs", "elasticache", "lightsail", "msk", "rds"):
        return _fail(obj, d, "invalid-value", "role", f"unknown AWS SD role {go_quote(role)}", "use one of: ec2, ecs, elasticache, lightsail, msk, rds")
    return _check_ec2(obj, d) if role == "ec2" else False


# --- Azure ---------------------------------------------------------------------------------------

_AZURE_METHODS = ("OAuth", "ManagedIdentity", "SDK", "WorkloadIdentity")


def _check_azure(obj: Obj, d: Decoder) -> bool:
    if not obj.get("subscription_id"):
        return _fail(obj, d, "missing-field", "subscription_id", "azure SD configuration requires a subscription_id", "add subscription_id")
    method = obj.get("authentication_method")
    if method == "OAuth":
        for field in ("tenant_id", "client_id", "client_secret"):
            if not obj.get(field):
                return _fail(obj, d, "missing-field", field, f"azure SD configuration requires a {field}", f"add {field}, or use another authentication_method")
    if method not in _AZURE_METHODS:
        return _fail(obj, d, "invalid-value", "authentication_method", f'unknown authentication_type {go_quote(method)}. Supported types are "OAuth", "ManagedIdentity", "SDK" or "WorkloadIdentity"', "use OAuth, ManagedIdentity, SDK or WorkloadIdentity")
    return False


# --- Consul, Nomad, Eureka, Marathon, Kuma, PuppetDB, HTTP ------------------------------------------


def _check_consul(obj: Obj, d: Decoder) -> bool:
    if not obj.get("server").strip():
        return _fail(obj, d, "missing-field", "server", "consul SD configuration requires a server address", "add server, such as localhost:8500")
    if (obj.get("username") or obj.get("password")) and obj.has("basic_auth"):
        return _fail(obj, d, "conflicting-fields", "basic_auth", "at most one of consul SD configuration username and password and basic auth can be configured", "keep basic_auth and remove username and password")
    if obj.get("token") and (obj.has("authorization") or obj.has("oauth2")):
        return _fail(obj, d, "conflicting-fields", "token", "at most one of consul SD token, authorization, or oauth2 can be configured", "keep one of token, authorization, oauth2")
    return False


def _check_server_url(prefix: str, obj: Obj, d: Decoder, empty: str, invalid: str) -> bool:
    server = obj.get("server")
    if server == "":
        return _fail(obj, d, "missing-field", "server", empty, "add server with the full URL")
    problem = url_problem(server)
    if problem is not None:
        return _fail(obj, d, "invalid-url", "server", problem, "write a full URL such as http://host:port")
    scheme, host = split_url(server)
    if not scheme or not host:
        return _fail(obj, d, "invalid-url", "server", invalid, "write a full URL such as http://host:port")
    return False


def _check_eureka(obj: Obj, d: Decoder) -> bool:
    return _check_server_url("eureka_sd", obj, d, "eureka_sd: empty or null eureka server", "eureka_sd: invalid eureka server URL")


def _check_kuma(obj: Obj, d: Decoder) -> bool:
    server = obj.get("server")
    return _check_server_url("kuma", obj, d, f"kuma SD server must not be empty: {server}", f"kuma SD server must not be empty and have a scheme: {server}")


def _check_marathon(obj: Obj, d: Decoder) -> bool:
    if not obj.get("servers"):
        return _fail(obj, d, "missing-field", "servers", "marathon_sd: must contain at least one Marathon server", "add servers")
    token, token_file = bool(obj.get("auth_token")), bool(obj.get("auth_token_file"))
    if token and token_file:
        return _fail(obj, d, "conflicting-fields", "auth_token_file", "marathon_sd: at most one of auth_token & auth_token_file must be configured", "keep one of them")
    if token or token_file:
        if obj.has("basic_auth"):
            return _fail(obj, d, "conflicting-fields", "basic_auth", "marathon_sd: at most one of basic_auth, auth_token & auth_token_file must be configured", "keep one authentication method")
        if obj.get("bearer_token") or obj.get("bearer_token_file"):
            return _fail(obj, d, "conflicting-fields", "bearer_token" if obj.has("bearer_token") else "bearer_token_file", "marathon_sd: at most one of bearer_token, bearer_token_file, auth_token & auth_token_file must be configured", "keep one authentication method")
        if obj.has("authorization"):
            return _fail(obj, d, "conflicting-fields", "authorization", "marathon_sd: at most one of auth_token, auth_token_file & authorization must be configured", "keep one authentication method")
    return False


def _check_http_url(obj: Obj, d: Decoder, query: bool = False) -> bool:
    url = obj.get("url")
    if url == "":
        return _fail(obj, d, "missing-field", "url", "URL is missing", "add url with the full http or https URL")
    problem = url_problem(url)
    if problem is not None:
        return _fail(obj, d, "invalid-url", "url", problem, "write a full URL such as http://host:port/path")
    scheme, host = split_url(url)
    if scheme not in ("http", "https"):
        return _fail(obj, d, "invalid-url", "url", "URL scheme must be 'http' or 'https'", "start the URL with http:// or https://")
    if host == "":
        return _fail(obj, d, "invalid-url", "url", "host is missing in URL", "add the host after the scheme, such as http://host:port/path")
    if query and obj.get("query") == "":
        return _fail(obj, d, "missing-field", "query", "query missing", "add query with a PuppetDB PQL query")
    return False


# --- Others -----------------------------------------------------------------------------------------


def _require(field: str, message: str, fix: str = "") -> Any:
    def check(obj: Obj, d: Decoder) -> bool:
        if not obj.get(field):
            return _fail(obj, d, "missing-field", field, message, fix or f"add {field}")
        return False

    return check


def _all(*checks: Any) -> Any:
    def check(obj: Obj, d: Decoder) -> bool:
        return any(c(obj, d) for c in checks)

    return check


def _role(allowed: tuple[str, ...], missing: str, unknown: str) -> Any:
    def check(obj: Obj, d: Decoder) -> bool:
        role = obj.get("role")
        if role == "":
            return _fail(obj, d, "missing-field", "role", missing, f"add role: one of {', '.join(allowed)}")
        if role not in allowed:
            return _fail(obj, d, "invalid-value", "role", unknown.format(quoted=go_quote(role), value=role), f"use one of: {', '.join(allowed)}")
        return False

    return check


def _secret_key_pair(obj: Obj, d: Decoder) -> bool:
    secret, secret_file = bool(obj.get("secret_key")), bool(obj.get("secret_key_file"))
    if not secret and not secret_file:
        return _fail(obj, d, "missing-field", None, "one of secret_key & secret_key_file must be configured", "add secret_key_file")
    if secret and secret_file:
        return _fail(obj, d, "conflicting-fields", "secret_key", "at most one of secret_key & secret_key_file must be configured", "keep secret_key_file and remove secret_key")
    return False


def _check_dns(obj: Obj, d: Decoder) -> bool:
    if not obj.get("names"):
        return _fail(obj, d, "missing-field", "names", "DNS-SD config must contain at least one SRV record name", "add names")
    record = obj.get("type").upper()
    if record in ("A", "AAAA", "MX", "NS"):
        if obj.get("port") == 0:
            return _fail(obj, d, "missing-field", "port", "a port is required in DNS-SD configs for all record types except SRV", "add port")
    elif record != "SRV":
        return _fail(obj, d, "invalid-value", "type", f"invalid DNS-SD records type {obj.get('type')}", "use SRV, A, AAAA, MX or NS")
    return False


_FILE_SD_NAME = re.compile(r"^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$")


def _check_file_sd(obj: Obj, d: Decoder) -> bool:
    files = obj.get("files") or ()
    if not files:
        return _fail(obj, d, "missing-field", "files", "file service discovery config must contain at least one path name", "add files")
    for index, name in enumerate(files):
        if isinstance(name, str) and not _FILE_SD_NAME.match(name):
            d.error("invalid-file-sd-path", obj.nodes["files"].value[index], f"{obj.path}.files[{index}]", f"path name {go_quote(name)} is not valid for file discovery", "use a path ending in .json, .yml or .yaml, with * only in the file name")
            return True
    return False


def _check_docker(obj: Obj, d: Decoder) -> bool:
    host = obj.get("host")
    if host == "":
        return _fail(obj, d, "missing-field", "host", "host missing", "add host, such as unix:///var/run/docker.sock")
    problem = url_problem(host)
    if problem is not None:
        return _fail(obj, d, "invalid-url", "host", problem)
    return False


def _check_dockerswarm(obj: Obj, d: Decoder) -> bool:
    if _check_docker(obj, d):
        return True
    role = obj.get("role")
    if role == "":
        return _fail(obj, d, "missing-field", "role", "role missing (one of: tasks, services, nodes)", "add role")
    if role not in ("services", "nodes", "tasks"):
        return _fail(obj, d, "invalid-value", "role", f"invalid role {role}, expected tasks, services, or nodes", "use tasks, services or nodes")
    return False


def _check_openstack(obj: Obj, d: Decoder) -> bool:
    if obj.get("availability") not in ("public", "internal", "admin"):
        return _fail(obj, d, "invalid-value", "availability", f"unknown availability {obj.get('availability')}, must be one of admin, internal or public", "use public, internal or admin")
    return _all(_role(("instance", "hypervisor", "loadbalancer"), "role missing (one of: instance, hypervisor, loadbalancer)", "unknown OpenStack SD role {quoted}"), _require("region", "openstack SD configuration requires a region"))(obj, d)


def _check_outscale(obj: Obj, d: Decoder) -> bool:
    return _all(
        _require("region", "outscale SD configuration requires a region"),
        _require("access_key", "outscale SD configuration requires access_key"),
        _secret_key_pair,
    )(obj, d)


def _check_ovhcloud(obj: Obj, d: Decoder) -> bool:
    checks = _all(
        _require("endpoint", "endpoint can not be empty"),
        _require("application_key", "application key can not be empty"),
        _require("application_secret", "application secret can not be empty"),
        _require("consumer_key", "consumer key can not be empty"),
    )
    if checks(obj, d):
        return True
    if obj.get("service") not in ("dedicated_server", "vps"):
        return _fail(obj, d, "invalid-value", "service", f"unknown service: {obj.get('service')}", "use dedicated_server or vps")
    return False


def _check_scaleway(obj: Obj, d: Decoder) -> bool:
    return _all(
        _role(("instance", "baremetal"), "role missing (one of: instance, baremetal)", "unknown role {quoted}"),
        _require("project_id", "project_id is mandatory"),
        _secret_key_pair,
        _require("access_key", "access_key is mandatory"),
    )(obj, d)


def _check_stackit(obj: Obj, d: Decoder) -> bool:
    endpoint = obj.get("endpoint")
    if endpoint == "" and obj.get("region") == "":
        return _fail(obj, d, "missing-field", "endpoint", "stackit_sd: endpoint and region missing", "add region or endpoint")
    problem = url_problem(endpoint)
    if problem is not None:
        return _fail(obj, d, "invalid-url", "endpoint", f"stackit_sd: invalid endpoint {go_quote(endpoint)}: {problem}", "write a full URL such as https://host")
    return False


def _check_triton(obj: Obj, d: Decoder) -> bool:
    if obj.get("role") not in ("container", "cn"):
        return _fail(obj, d, "invalid-value", "role", "triton SD configuration requires role to be 'container' or 'cn'", "use container or cn")
    checks = _all(
        _require("account", "triton SD configuration requires an account"),
        _require("dns_suffix", "triton SD configuration requires a dns_suffix"),
        _require("endpoint", "triton SD configuration requires an endpoint"),
    )
    if checks(obj, d):
        return True
    if obj.get("refresh_interval") <= 0:
        return _fail(obj, d, "invalid-value", "refresh_interval", "triton SD configuration requires RefreshInterval to be a positive integer", "set refresh_interval, such as 60s")
    return False


def _check_uyuni(obj: Obj, d: Decoder) -> bool:
    if obj.get("server") == "":
        return _fail(obj, d, "missing-field", "server", "Uyuni SD configuration requires server host", "add server")
    problem = url_problem(obj.get("server"))
    if problem is not None:
        return _fail(obj, d, "invalid-url", "server", f"Uyuni Server URL is not valid: {problem}")
    return _all(_require("username", "Uyuni SD configuration requires a username"), _require("password", "Uyuni SD configuration requires a password"))(obj, d)


def _check_zookeeper(kind: str) -> Any:
    def check(obj: Obj, d: Decoder) -> bool:
        if not obj.get("servers"):
            return _fail(obj, d, "missing-field", "servers", f"{kind} SD config must contain at least one Zookeeper server", "add servers")
        if not obj.get("paths"):
            return _fail(obj, d, "missing-field", "paths", f"{kind} SD config must contain at least one path", "add paths")
        for path in obj.get("paths"):
            if isinstance(path, str) and not path.startswith("/"):
                return _fail(obj, d, "invalid-value", "paths", f"{kind} SD config paths must begin with '/': {path}", "start each path with /")
        return False

    return check


def _check_oci(obj: Obj, d: Decoder) -> bool:
    if obj.get("region") == "":
        return _fail(obj, d, "missing-field", "region", "oci_sd: region is required", "add region")
    auth = obj.get("auth")
    credentials = ("tenancy", "user", "fingerprint", "key_file", "key_passphrase", "key_passphrase_file")
    if auth == "api_key":
        for field in ("tenancy", "user", "fingerprint", "key_file"):
            if not obj.get(field):
                return _fail(obj, d, "missing-field", field, f"oci_sd: api_key auth requires {field}", f"add {field}")
        if obj.get("key_passphrase") and obj.get("key_passphrase_file"):
            return _fail(obj, d, "conflicting-fields", "key_passphrase", "oci_sd: at most one of key_passphrase and key_passphrase_file must be configured")
    elif auth == "instance_principal":
        if any(obj.get(f) for f in credentials):
            return _fail(obj, d, "conflicting-fields", None, "oci_sd: instance_principal auth must not have tenancy, user, fingerprint, key_file, key_passphrase, or key_passphrase_file set")
    else:
        return _fail(obj, d, "invalid-value", "auth", f'oci_sd: unknown auth method {go_quote(auth)}, expected "api_key" or "instance_principal"', "use api_key or instance_principal")
    for index, compartment in enumerate(obj.get("compartments") or ()):
        if compartment == "":
            return _fail(obj, d, "invalid-value", "compartments", f"oci_sd: compartments[{index}] must not be empty")
    if obj.get("refresh_interval") <= 0:
        return _fail(obj, d, "invalid-value", "refresh_interval", "oci_sd: refresh_interval must be positive", "set refresh_interval, such as 60s")
    return False


MOBY_FILTER = Struct("filter", {"name": STRING, "values": STRINGS})

SD_CONFIGS: dict[str, Struct] = {
    "aws_sd_configs": sd("aws_sd_config", {**_AWS_COMMON, "role": STRING, "filters": ListOf(AWS_FILTER), "clusters": STRINGS}, _check_aws),
    "azure_sd_configs": sd(
        "azure_sd_config",
        {"environment": STRING, "port": PORT, "subscription_id": STRING, "tenant_id": STRING, "client_id": STRING, "client_secret": SECRET, "refresh_interval": DURATION, "authentication_method": STRING, "resource_group": STRING},
        _check_azure,
        {"authentication_method": "OAuth", "port": 80},
    ),
    "consul_sd_configs": sd(
        "consul_sd_config",
        {
            "server": STRING, "path_prefix": STRING, "token": SECRET, "datacenter": STRING, "namespace": STRING, "partition": STRING,
            "tag_separator": STRING, "scheme": STRING, "username": STRING, "password": SECRET, "allow_stale": BOOL,
            "refresh_interval": DURATION, "services": STRINGS, "tags": STRINGS, "node_meta": MapOf(STRING), "filter": STRING, "health_filter": STRING,
        },
        _check_consul,
        {"server": "localhost:8500"},
    ),
    "digitalocean_sd_configs": sd("digitalocean_sd_config", {"refresh_interval": DURATION, "port": PORT, "role": STRING}, _role(("droplets", "databases"), "role missing (one of: droplets, databases)", "unknown DigitalOcean SD role {quoted}"), {"role": "droplets"}),
    "docker_sd_configs": sd("docker_sd_config", {"host": STRING, "port": PORT, "filters": ListOf(MOBY_FILTER), "host_networking_host": STRING, "refresh_interval": DURATION, "match_first_network": BOOL}, _check_docker),
    "dockerswarm_sd_configs": sd("dockerswarm_sd_config", {"host": STRING, "role": STRING, "port": PORT, "filters": ListOf(MOBY_FILTER), "refresh_interval": DURATION}, _check_dockerswarm),
    "dns_sd_configs": sd("dns_sd_config", {"names": STRINGS, "refresh_interval": DURATION, "type": STRING, "port": PORT}, _check_dns, {"type": "SRV"}, http=False),
    "ec2_sd_configs": sd("ec2_sd_config", {**_AWS_COMMON, "filters": ListOf(AWS_FILTER)}, _check_ec2),
    "ecs_sd_configs": sd("ecs_sd_config", {**_AWS_COMMON, "clusters": STRINGS, "request_concurrency": PORT}),
    "elasticache_sd_configs": sd("elasticache_sd_config", {**_AWS_COMMON, "clusters": STRINGS, "request_concurrency": PORT}),
    "eureka_sd_configs": sd("eureka_sd_config", {"server": STRING, "refresh_interval": DURATION}, _check_eureka),
    "file_sd_configs": sd("file_sd_config", {"files": ListOf(FilePath(glob=True)), "refresh_interval": DURATION}, _check_file_sd, http=False),
    "gce_sd_configs": sd(
        "gce_sd_config",
        {"project": STRING, "zone": STRING, "filter": STRING, "refresh_interval": DURATION, "port": PORT, "tag_separator": STRING},
        _all(_require("project", "GCE SD configuration requires a project"), _require("zone", "GCE SD configuration requires a zone")),
        http=False,
    ),
    "hetzner_sd_configs": sd("hetzner_sd_config", {"refresh_interval": DURATION, "port": PORT, "role": STRING, "label_selector": STRING}, _role(("robot", "hcloud"), "role missing (one of: robot, hcloud)", "unknown role {quoted}")),
    "http_sd_configs": sd("http_sd_config", {"refresh_interval": DURATION, "url": STRING}, _check_http_url),
    "ionos_sd_configs": sd("ionos_sd_config", {"datacenter_id": STRING, "refresh_interval": DURATION, "port": PORT}, _require("datacenter_id", "datacenter id can't be empty")),
    "kubernetes_sd_configs": KUBERNETES_SD,
    "kuma_sd_configs": sd("kuma_sd_config", {"refresh_interval": DURATION, "fetch_timeout": DURATION, "server": STRING, "client_id": STRING}, _check_kuma),
    "lightsail_sd_configs": sd("lightsail_sd_config", dict(_AWS_COMMON)),
    "linode_sd_configs": sd("linode_sd_config", {"refresh_interval": DURATION, "port": PORT, "tag_separator": STRING, "region": STRING}),
    "marathon_sd_configs": sd("marathon_sd_config", {"servers": STRINGS, "refresh_interval": DURATION, "auth_token": SECRET, "auth_token_file": FILE}, _check_marathon),
    "msk_sd_configs": sd("msk_sd_config", {**_AWS_COMMON, "clusters": STRINGS, "request_concurrency": PORT}),
    "nerve_sd_configs": sd("nerve_sd_config", {"servers": STRINGS, "paths": STRINGS, "timeout": DURATION}, _check_zookeeper("nerve"), http=False),
    "nomad_sd_configs": sd(
        "nomad_sd_config",
        {"allow_stale": BOOL, "namespace": STRING, "refresh_interval": DURATION, "region": STRING, "server": STRING, "tag_separator": STRING},
        _require("server", "nomad SD configuration requires a server address"),
    ),
    "oci_sd_configs": sd(
        "oci_sd_config",
        {
            "auth": STRING, "tenancy": STRING, "user": STRING, "fingerprint": STRING, "key_file": FILE, "key_passphrase": SECRET,
            "key_passphrase_file": FILE, "region": STRING, "compartments": STRINGS, "port": PORT, "refresh_interval": DURATION,
        },
        _check_oci,
        {"auth": "api_key", "refresh_interval": 60.0, "port": 80},
    ),
    "openstack_sd_configs": sd(
        "openstack_sd_config",
        {
            "identity_endpoint": STRING, "username": STRING, "userid": STRING, "password": SECRET, "project_name": STRING,
            "project_id": STRING, "domain_name": STRING, "domain_id": STRING, "application_credential_name": STRING,
            "application_credential_id": STRING, "application_credential_secret": SECRET, "role": STRING, "region": STRING,
            "refresh_interval": DURATION, "port": PORT, "all_tenants": BOOL, "tls_config": TLS_CONFIG, "availability": STRING,
        },
        _check_openstack,
        {"availability": "public"},
        http=False,
    ),
    "outscale_sd_configs": sd(
        "outscale_sd_config",
        {"endpoint": STRING, "region": STRING, "access_key": STRING, "secret_key": SECRET, "secret_key_file": FILE, "refresh_interval": DURATION, "port": PORT},
        _check_outscale,
    ),
    "ovhcloud_sd_configs": sd(
        "ovhcloud_sd_config",
        {"endpoint": STRING, "application_key": STRING, "application_secret": SECRET, "consumer_key": SECRET, "refresh_interval": DURATION, "service": STRING},
        _check_ovhcloud,
        {"endpoint": "ovh-eu"},
        http=False,
    ),
    "puppetdb_sd_configs": sd("puppetdb_sd_config", {"refresh_interval": DURATION, "url": STRING, "query": STRING, "include_parameters": BOOL, "port": PORT}, lambda obj, d: _check_http_url(obj, d, query=True)),
    "rds_sd_configs": sd("rds_sd_config", {**_AWS_COMMON, "clusters": STRINGS, "filters": ListOf(AWS_FILTER), "request_concurrency": PORT}),
    "scaleway_sd_configs": sd(
        "scaleway_sd_config",
        {
            "project_id": STRING, "api_url": STRING, "zone": STRING, "access_key": STRING, "secret_key": SECRET, "secret_key_file": FILE,
            "name_filter": STRING, "tags_filter": STRINGS, "refresh_interval": DURATION, "port": PORT, "role": STRING,
        },
        _check_scaleway,
    ),
    "serverset_sd_configs": sd("serverset_sd_config", {"servers": STRINGS, "paths": STRINGS, "timeout": DURATION}, _check_zookeeper("serverset"), http=False),
    "stackit_sd_configs": sd(
        "stackit_sd_config",
        {
            "project": STRING, "refresh_interval": DURATION, "port": PORT, "region": STRING, "endpoint": STRING,
            "service_account_key": SECRET, "private_key": SECRET, "service_account_key_path": FILE, "private_key_path": FILE,
            "credentials_file_path": FILE,
        },
        _check_stackit,
        {"region": "eu01"},
    ),
    "triton_sd_configs": sd(
        "triton_sd_config",
        {"account": STRING, "role": STRING, "dns_suffix": STRING, "endpoint": STRING, "groups": STRINGS, "port": PORT, "refresh_interval": DURATION, "tls_config": TLS_CONFIG, "version": PORT},
        _check_triton,
        {"role": "container", "refresh_interval": 60.0},
        http=False,
    ),
    "uyuni_sd_configs": sd("uyuni_sd_config", {"server": STRING, "username": STRING, "password": SECRET, "entitlement": STRING, "separator": STRING, "refresh_interval": DURATION}, _check_uyuni),
    "vultr_sd_configs": sd("vultr_sd_config", {"refresh_interval": DURATION, "port": PORT}),
}


def sd_fields() -> dict[str, ListOf]:
    """Return the ``*_sd_configs`` and ``static_configs`` fields that scrape and Alertmanager configs inline."""
    fields: dict[str, ListOf] = {"static_configs": ListOf(STATIC_CONFIG, null_item="empty or null section in static_configs")}
    for key, schema in SD_CONFIGS.items():
        fields[key] = ListOf(schema, null_item=f"empty or null section in {key}")
    return fields


__all__ = ["SD_CONFIGS", "STATIC_CONFIG", "LABEL_SET", "LabelName", "sd_fields"]
