"""HTTP client settings shared by scrape jobs, discovery, Alertmanager and remote storage.

Fields and checks follow ``HTTPClientConfig`` in prometheus/common ``config/http_config.go``.
"""

from __future__ import annotations

from typing import Any

import yaml

from promwatchd.promconfig.scalars import URL, Choice
from promwatchd.promconfig.schema import Bool, Decoder, ListOf, MapOf, Obj, Scalar, Struct

# Headers that http_headers must not set (prometheus/common config/headers.go), in Go's canonical form.
RESERVED_HTTP_HEADERS = frozenset(
    {
        "Authorization", "Host", "Content-Encoding", "Content-Length", "Content-Type", "User-Agent",
        "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Www-Authenticate",
        "Accept-Encoding", "X-Prometheus-Remote-Write-Version", "X-Prometheus-Remote-Read-Version",
        "X-Prometheus-Scrape-Timeout-Seconds", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256",
    }
)


class FilePath(Scalar):
    """A path to a file Prometheus reads, relative to the config file's directory.

    Decoding records it in ``Decoder.context["files"]`` so the existence check can run later.
    A ``glob`` path (file_sd_configs) may match no file yet, which Prometheus accepts.
    """

    label = "a file path"

    def __init__(self, glob: bool = False) -> None:
        super().__init__()
        self.glob = glob

    def convert(self, text: str, node: yaml.Node, d: Decoder, path: str) -> Any:
        if text:
            d.context.setdefault("files", []).append((text, node, path, self.glob))
        return text


SECRET = Scalar(secret=True)
STRING = Scalar()
FILE = FilePath()
STRINGS = ListOf(STRING)


def canonical_header_key(name: str) -> str:
    """Return the header name in Go's ``http.CanonicalHeaderKey`` form, such as ``X-Custom-Header``."""
    if not name or any(c in name for c in " \t\r\n:"):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _count(*flags: bool) -> int:
    return sum(1 for flag in flags if flag)


def validate_tls(obj: Obj, d: Decoder) -> None:
    """Check the exclusive pairs of ``TLSConfig.Validate``."""
    for what, names in (("ca, ca_file & ca_ref", ("ca", "ca_file", "ca_ref")), ("cert, cert_file & cert_ref", ("cert", "cert_file", "cert_ref"))):
        if _count(*(bool(obj.get(n)) for n in names)) > 1:
            obj.error(d, "conflicting-fields", names[1], f"at most one of {what} must be configured", f"keep only one of {', '.join(names)}")
    if _count(bool(obj.get("key")), bool(obj.get("key_file")), bool(obj.get("key_ref"))) > 1:
        obj.error(d, "conflicting-fields", "key_file", "at most one of key and key_file must be configured", "keep only one of key, key_file, key_ref")
    using_cert = any(obj.get(n) for n in ("cert", "cert_file", "cert_ref"))
    using_key = any(obj.get(n) for n in ("key", "key_file", "key_ref"))
    if using_cert and not using_key:
        obj.error(d, "missing-field", "cert_file" if obj.has("cert_file") else None, "exactly one of key or key_file must be configured when a client certificate is configured", "add key_file with the client certificate's private key")
    elif using_key and not using_cert:
        obj.error(d, "missing-field", "key_file" if obj.has("key_file") else None, "exactly one of cert or cert_file must be configured when a client key is configured", "add cert_file with the client certificate")


TLS_CONFIG = Struct(
    "tls_config",
    {
        "ca": STRING, "cert": STRING, "key": SECRET, "ca_file": FILE, "cert_file": FILE, "key_file": FILE,
        "ca_ref": STRING, "cert_ref": STRING, "key_ref": STRING, "server_name": STRING,
        "insecure_skip_verify": Bool(),
        "min_version": Choice(("TLS10", "TLS11", "TLS12", "TLS13"), "unknown TLS version: {value}"),
        "max_version": Choice(("TLS10", "TLS11", "TLS12", "TLS13"), "unknown TLS version: {value}"),
    },
    [validate_tls],
)


def validate_proxy(obj: Obj, d: Decoder) -> None:
    """Check ``ProxyConfig.Validate``: proxy_url, proxy_from_environment and no_proxy exclude each other."""
    proxy_url = obj.get("proxy_url")
    from_env = obj.get("proxy_from_environment")
    if obj.get("proxy_connect_header") and not from_env and not proxy_url:
        obj.error(d, "missing-field", "proxy_connect_header", "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured", "set proxy_url, or remove proxy_connect_header")
    if from_env and proxy_url:
        obj.error(d, "conflicting-fields", "proxy_url", "if proxy_from_environment is configured, proxy_url must not be configured", "remove proxy_url or proxy_from_environment")
    if from_env and obj.get("no_proxy"):
        obj.error(d, "conflicting-fields", "no_proxy", "if proxy_from_environment is configured, no_proxy must not be configured", "remove no_proxy; set NO_PROXY in the environment instead")
    if not obj.has("proxy_url") and obj.get("no_proxy"):
        obj.error(d, "missing-field", "no_proxy", "if no_proxy is configured, proxy_url must also be configured", "set proxy_url, or remove no_proxy")


PROXY_FIELDS = {
    "proxy_url": URL(),
    "no_proxy": STRING,
    "proxy_from_environment": Bool(),
    "proxy_connect_header": MapOf(ListOf(SECRET), key_check=None),
}

BASIC_AUTH = Struct(
    "basic_auth",
    {"username": STRING, "username_file": FILE, "username_ref": STRING, "password": SECRET, "password_file": FILE, "password_ref": STRING},
)

AUTHORIZATION = Struct("authorization", {"type": STRING, "credentials": SECRET, "credentials_file": FILE, "credentials_ref": STRING})

OAUTH2 = Struct(
    "oauth2",
    {
        "client_id": STRING, "client_secret": SECRET, "client_secret_file": FILE, "client_secret_ref": STRING,
        "client_certificate_key_id": STRING, "client_certificate_key": SECRET, "client_certificate_key_file": FILE,
        "client_certificate_key_ref": STRING, "grant_type": STRING, "signature_algorithm": STRING, "iss": STRING,
        "audience": STRING, "claims": MapOf(Scalar()), "scopes": STRINGS, "token_url": STRING,
        "endpoint_params": MapOf(STRING), "tls_config": TLS_CONFIG, **PROXY_FIELDS,
    },
    [validate_proxy],
)

HEADER = Struct("http_headers entry", {"values": STRINGS, "secrets": ListOf(SECRET), "files": ListOf(FILE)})


def _header_name_problem(name: str) -> str | None:
    canonical = canonical_header_key(name)
    if canonical in RESERVED_HTTP_HEADERS:
        return f"setting header {canonical!r} is not allowed".replace("'", '"')
    return None


HTTP_CLIENT_FIELDS = {
    "basic_auth": BASIC_AUTH,
    "authorization": AUTHORIZATION,
    "oauth2": OAUTH2,
    "bearer_token": SECRET,
    "bearer_token_file": FILE,
    "tls_config": TLS_CONFIG,
    "follow_redirects": Bool(),
    "enable_http2": Bool(),
    **PROXY_FIELDS,
    "http_headers": MapOf(HEADER, key_check=_header_name_problem, key_rule="reserved-header"),
}

HTTP_CLIENT_DEFAULTS = {"follow_redirects": True, "enable_http2": True}

_GRANT_TYPE_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


# The fields that validate_http_client and validate_proxy read from the struct itself.
_CHECKED_HTTP_CLIENT_FIELDS = frozenset(
    {"basic_auth", "authorization", "oauth2", "bearer_token", "bearer_token_file", "proxy_url", "proxy_from_environment", "proxy_connect_header", "no_proxy"}
)


def validate_http_client(obj: Obj, d: Decoder) -> None:
    """Check ``HTTPClientConfig.Validate``: one authentication method, complete oauth2, consistent proxy settings."""
    if _CHECKED_HTTP_CLIENT_FIELDS.isdisjoint(obj.values) and _CHECKED_HTTP_CLIENT_FIELDS.isdisjoint(obj.schema.defaults):
        # Every check below would read zero values and pass. Most scrape jobs take this path.
        return
    basic = obj.get("basic_auth")
    authz = obj.get("authorization")
    oauth2 = obj.get("oauth2")
    bearer = bool(obj.get("bearer_token"))
    bearer_file = bool(obj.get("bearer_token_file"))

    if bearer and bearer_file:
        obj.error(d, "conflicting-fields", "bearer_token_file", "at most one of bearer_token & bearer_token_file must be configured", "keep bearer_token_file and remove bearer_token")
        return
    if (basic is not None or oauth2 is not None) and (bearer or bearer_file):
        name = "bearer_token" if bearer else "bearer_token_file"
        obj.error(d, "conflicting-fields", name, "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured", "keep one authentication method")
        return
    if basic is not None:
        if _count(bool(basic.get("username")), bool(basic.get("username_file")), bool(basic.get("username_ref"))) > 1:
            basic.error(d, "conflicting-fields", None, "at most one of basic_auth username, username_file & username_ref must be configured", "keep one of username, username_file")
        if _count(bool(basic.get("password")), bool(basic.get("password_file")), bool(basic.get("password_ref"))) > 1:
            basic.error(d, "conflicting-fields", None, "at most one of basic_auth password, password_file & password_ref must be configured", "keep one of password, password_file")
    if authz is not None:
        if bearer or bearer_file:
            obj.error(d, "conflicting-fields", "authorization", "authorization is not compatible with bearer_token & bearer_token_file", "move the token into authorization.credentials or credentials_file")
        elif _count(bool(authz.get("credentials")), bool(authz.get("credentials_file")), bool(authz.get("credentials_ref"))) > 1:
            authz.error(d, "conflicting-fields", None, "at most one of authorization credentials & credentials_file must be configured", "keep credentials_file and remove credentials")
        elif authz.get("type", "").strip().lower() == "basic":
            authz.error(d, "invalid-value", "type", 'authorization type cannot be set to "basic", use "basic_auth" instead', "replace authorization with basic_auth")
        elif basic is not None or oauth2 is not None:
            obj.error(d, "conflicting-fields", "authorization", "at most one of basic_auth, oauth2 & authorization must be configured", "keep one authentication method")
    if oauth2 is not None:
        _validate_oauth2(obj, oauth2, basic, d)
    validate_proxy(obj, d)


def _validate_oauth2(obj: Obj, oauth2: Obj, basic: Obj | None, d: Decoder) -> None:
    if basic is not None:
        obj.error(d, "conflicting-fields", "oauth2", "at most one of basic_auth, oauth2 & authorization must be configured", "keep one authentication method")
    elif not oauth2.get("client_id"):
        oauth2.error(d, "missing-field", None, "oauth2 client_id must be configured", "add client_id")
    elif not oauth2.get("token_url"):
        oauth2.error(d, "missing-field", None, "oauth2 token_url must be configured", "add token_url")
    elif oauth2.get("grant_type") == _GRANT_TYPE_JWT_BEARER:
        keys = (bool(oauth2.get("client_certificate_key")), bool(oauth2.get("client_certificate_key_file")), bool(oauth2.get("client_certificate_key_ref")))
        if _count(*keys) > 1:
            oauth2.error(d, "conflicting-fields", None, "at most one of oauth2 client_certificate_key, client_certificate_key_file & client_certificate_key_ref must be configured using grant-type=urn:ietf:params:oauth:grant-type:jwt-bearer", "keep one of them")
        elif oauth2.get("signature_algorithm") not in ("", "RS256", "RS384", "RS512"):
            oauth2.error(d, "invalid-value", "signature_algorithm", "valid signature algorithms are RS256, RS384 and RS512", "use RS256, RS384 or RS512")
    elif _count(bool(oauth2.get("client_secret")), bool(oauth2.get("client_secret_file")), bool(oauth2.get("client_secret_ref"))) > 1:
        oauth2.error(d, "conflicting-fields", None, "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured using grant-type=client_credentials", "keep one of client_secret, client_secret_file")


def has_custom_http_client(obj: Obj) -> bool:
    """Return whether any HTTP client field differs from prometheus/common's DefaultHTTPClientConfig."""
    for name in HTTP_CLIENT_FIELDS:
        if not obj.has(name):
            continue
        value = obj.get(name)
        if name in HTTP_CLIENT_DEFAULTS:
            if value != HTTP_CLIENT_DEFAULTS[name]:
                return True
        elif isinstance(value, Obj):
            if value.values:
                return True
        elif value:
            return True
    return False


def with_http_client(name: str, fields: dict[str, Any], validators: list | None = None, defaults: dict[str, Any] | None = None, http_first: bool = True) -> Struct:
    """Return a Struct with the HTTP client fields inlined; ``http_first`` runs their checks before ``validators``."""
    checks = list(validators or [])
    checks = [validate_http_client, *checks] if http_first else [*checks, validate_http_client]
    return Struct(name, {**fields, **HTTP_CLIENT_FIELDS}, checks, {**HTTP_CLIENT_DEFAULTS, **(defaults or {})})
