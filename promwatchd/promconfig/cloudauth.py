"""Cloud authentication blocks: sigv4 (AWS), azuread (Azure) and google_iam (Google Cloud).

The rules and messages follow ``SigV4Config.Validate`` in prometheus/sigv4 v0.4.1 (the
version Prometheus 3.14 uses) and ``AzureADConfig.Validate`` in Prometheus 3.14's
storage/remote/azuread. Like Prometheus, each block stops at its first problem.
"""

from __future__ import annotations

import re

from promwatchd.promconfig.httpclient import FILE, SECRET, STRING
from promwatchd.promconfig.schema import Bool, Decoder, Obj, Struct, go_quote

AZURE_CLOUDS = ("AzureChina", "AzureGovernment", "AzurePublic")
AZURE_METHODS = ("managed_identity", "workload_identity", "oauth", "sdk", "certificate")

_HEX = "[0-9a-fA-F]"
# The forms github.com/google/uuid's Parse accepts: canonical, in braces, as a URN, and 32 hex digits.
_UUID = re.compile(rf"(?:urn:uuid:|\{{(?=.{{36}}\}}$))?{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}\}}?|{_HEX}{{32}}", re.IGNORECASE)
# Go's \w and \s are ASCII only.
_SCOPE = re.compile(r"[0-9A-Za-z_\t\n\f\r :/.\-]+")


def is_go_uuid(text: str) -> bool:
    """Return whether google/uuid's Parse accepts ``text``."""
    if text.startswith("{") != text.endswith("}") or (text.startswith("urn:") and len(text) != 45):
        return False
    return _UUID.fullmatch(text) is not None


def _validate_sigv4(obj: Obj, d: Decoder) -> None:
    if bool(obj.get("access_key")) != bool(obj.get("secret_key")):
        name = "secret_key" if obj.get("access_key") else "access_key"
        obj.error(d, "missing-field", name, "must provide a AWS SigV4 Access key and Secret Key if credentials are specified in the SigV4 config", "set both access_key and secret_key, or neither to use the AWS default credentials chain")
        return
    if obj.get("external_id") and not obj.get("role_arn"):
        obj.error(d, "missing-field", "external_id", "external_id can only be used with role_arn", "add role_arn for the role to assume, or remove external_id")


SIGV4 = Struct(
    "sigv4",
    {"region": STRING, "access_key": STRING, "secret_key": SECRET, "profile": STRING, "role_arn": STRING, "external_id": STRING, "use_fips_sts_endpoint": Bool(), "service_name": STRING},
    [_validate_sigv4],
)


def _validate_azuread(obj: Obj, d: Decoder) -> None:
    cloud = obj.get("cloud") or "AzurePublic"
    if cloud not in AZURE_CLOUDS:
        obj.error(d, "invalid-value", "cloud", f"must provide a cloud in the Azure AD config: {go_quote(cloud)} is not one of {', '.join(AZURE_CLOUDS)}", f"use one of {', '.join(AZURE_CLOUDS)}, or remove cloud for AzurePublic")
        return

    methods = [name for name in AZURE_METHODS if obj.has(name)]
    if not methods:
        obj.error(d, "missing-field", None, "must provide an Azure Managed Identity, Azure Workload Identity, Azure OAuth, Azure Certificate or Azure SDK in the Azure AD config", f"add one of {', '.join(AZURE_METHODS)}")
        return
    if len(methods) > 1:
        obj.error(d, "conflicting-fields", methods[1], f"cannot provide multiple authentication methods in the Azure AD config (found {', '.join(methods)})", "keep one authentication method")
        return

    method = obj.get(methods[0])
    if isinstance(method, Obj) and not _method_valid(methods[0], method, d):
        return

    scope = obj.get("scope")
    if scope and _SCOPE.fullmatch(scope) is None:
        obj.error(d, "invalid-value", "scope", f"the provided scope contains invalid characters: {go_quote(scope)}", "use letters, digits, spaces and the characters _ : / . -")


# For each method: its required fields in the order Prometheus checks them, then the fields that must be a UUID.
_REQUIRED = {
    "managed_identity": ((), ("client_id",)),
    "workload_identity": (("client_id", "tenant_id"), ("client_id", "tenant_id")),
    "oauth": (("client_id", "client_secret", "tenant_id"), ("client_id",)),
    "sdk": ((), ()),
    "certificate": (("client_id", "tenant_id", "certificate_path"), ("client_id",)),
}
_METHOD_NAMES = {"managed_identity": "Managed Identity", "workload_identity": "Workload Identity", "oauth": "OAuth", "sdk": "SDK", "certificate": "Certificate"}


def _method_valid(name: str, method: Obj, d: Decoder) -> bool:
    """Check one authentication method's required fields and UUIDs; return False after the first problem."""
    required, uuids = _REQUIRED[name]
    title = _METHOD_NAMES[name]
    for field in required:
        if not method.get(field):
            method.error(d, "missing-field", field, f"must provide an Azure {title} {field} in the Azure AD config", f"add {field}")
            return False
    for field in uuids:
        value = method.get(field)
        if value and not is_go_uuid(value):
            method.error(d, "invalid-value", field, f"the provided Azure {title} {field} is invalid: {go_quote(value)} is not a UUID", "write the ID as shown in the Azure portal, such as 00000000-0000-0000-0000-000000000000")
            return False
    return True


AZUREAD_CONFIG = Struct(
    "azuread",
    {
        "managed_identity": Struct("managed_identity", {"client_id": STRING}),
        "workload_identity": Struct("workload_identity", {"client_id": STRING, "tenant_id": STRING, "token_file_path": FILE}),
        "oauth": Struct("oauth", {"client_id": STRING, "client_secret": SECRET, "tenant_id": STRING}),
        "sdk": Struct("sdk", {"tenant_id": STRING}),
        "certificate": Struct(
            "certificate",
            {"client_id": STRING, "tenant_id": STRING, "certificate_path": FILE, "certificate_key_path": FILE, "certificate_password": SECRET, "send_certificate_chain": Bool()},
        ),
        "cloud": STRING,
        "scope": STRING,
    },
    [_validate_azuread],
)

GOOGLE_IAM_CONFIG = Struct("google_iam", {"credentials_file": FILE})
