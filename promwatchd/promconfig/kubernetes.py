"""Kubernetes service discovery (``kubernetes_sd_configs``), as ``discovery/kubernetes/kubernetes.go`` checks it."""

from __future__ import annotations

import re
from typing import Any

from promwatchd.promconfig.httpclient import FILE, STRING, STRINGS, has_custom_http_client, validate_http_client, with_http_client
from promwatchd.promconfig.scalars import URL, Choice
from promwatchd.promconfig.schema import Bool, Decoder, ListOf, Obj, Struct, go_quote

BOOL = Bool()


def _fail(obj: Obj, d: Decoder, rule: str, name: str | None, message: str, fix: str = "") -> bool:
    obj.error(d, rule, name, message, fix)
    return True

_K8S_ROLES = ("pod", "service", "endpoints", "endpointslice", "node", "ingress")
_K8S_ALLOWED_SELECTORS = {
    "pod": ("pod", "node"),
    "service": ("service",),
    "endpointslice": ("pod", "service", "endpointslice"),
    "endpoints": ("pod", "service", "endpoints"),
    "node": ("node",),
    "ingress": ("ingress",),
}


def _field_selector_problem(selector: str) -> str | None:
    """Return the error of Kubernetes ``fields.ParseSelector``: each term is key=value, key==value or key!=value."""
    if selector.strip() == "":
        return None
    for term in selector.split(","):
        if not any(op in term for op in ("!=", "==", "=")):
            return f"invalid selector: '{selector}'; can't understand '{term}'"
    return None


_LABEL_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_LABEL_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_LABEL_TERM = re.compile(
    rf"^\s*(!\s*{_LABEL_KEY}|{_LABEL_KEY}\s*((=|==|!=)\s*{_LABEL_VALUE}|\s+(in|notin)\s*\(\s*{_LABEL_VALUE}(\s*,\s*{_LABEL_VALUE})*\s*\)|\s*(<|>)\s*-?\d+)?)\s*$"
)


def _label_selector_problem(selector: str) -> str | None:
    """Approximate Kubernetes ``labels.Parse``: terms separated by commas outside parentheses."""
    if selector.strip() == "":
        return None
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    for term in terms:
        if not _LABEL_TERM.match(term):
            return f"unable to parse requirement: invalid label selector {go_quote(selector)}"
    return None


def _check_kubernetes(obj: Obj, d: Decoder) -> bool:
    role = obj.get("role")
    if role == "":
        return _fail(obj, d, "missing-field", "role", "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)", "add role")
    reported = len(d.findings)
    validate_http_client(obj, d)
    if len(d.findings) > reported:
        return True

    custom_http = has_custom_http_client(obj)
    api_server = obj.has("api_server") and obj.get("api_server") != ""
    kubeconfig = obj.get("kubeconfig_file") != ""
    namespaces = obj.get("namespaces")
    own_namespace = isinstance(namespaces, Obj) and namespaces.get("own_namespace")

    if api_server and kubeconfig:
        return _fail(obj, d, "conflicting-fields", "kubeconfig_file", "cannot use 'kubeconfig_file' and 'api_server' simultaneously", "keep one of kubeconfig_file and api_server")
    if kubeconfig and custom_http:
        return _fail(obj, d, "conflicting-fields", "kubeconfig_file", "cannot use a custom HTTP client configuration together with 'kubeconfig_file'", "put the client settings into the kubeconfig file, or use api_server")
    if not api_server and custom_http:
        return _fail(obj, d, "missing-field", "api_server", "to use custom HTTP client configuration please provide the 'api_server' URL explicitly", "add api_server, such as https://kubernetes.default.svc")
    if api_server and own_namespace:
        return _fail(obj, d, "conflicting-fields", "namespaces", "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously", "remove namespaces.own_namespace or api_server")
    if kubeconfig and own_namespace:
        return _fail(obj, d, "conflicting-fields", "namespaces", "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously", "remove namespaces.own_namespace or kubeconfig_file")

    seen: set[str] = set()
    for selector in obj.get("selectors") or ():
        if not isinstance(selector, Obj):
            continue
        selector_role = selector.get("role")
        if selector_role in seen:
            return _fail(selector, d, "duplicate-selector", "role", f"duplicated selector role: {selector_role}", "merge the selectors of the same role")
        seen.add(selector_role)
        allowed = _K8S_ALLOWED_SELECTORS[role]
        if selector_role not in allowed:
            return _fail(selector, d, "invalid-value", "role", f"{role} role supports only {', '.join(allowed)} selectors", f"use a selector role among: {', '.join(allowed)}")
        problem = _field_selector_problem(selector.get("field"))
        if problem is not None:
            return _fail(selector, d, "invalid-selector", "field", problem, "write field selectors as key=value, key==value or key!=value, separated by commas")
        problem = _label_selector_problem(selector.get("label"))
        if problem is not None:
            return _fail(selector, d, "invalid-selector", "label", problem, "write label selectors as key=value, key!=value, key in (a,b) or key, separated by commas")
    return False


def _k8s_role(message: str) -> Any:
    return Choice(_K8S_ROLES, message, fix=f"use one of: {', '.join(_K8S_ROLES)}")


KUBERNETES_SD = with_http_client(
    "kubernetes_sd_config",
    {
        "api_server": URL(),
        "role": _k8s_role("unknown Kubernetes SD role {quoted}"),
        "kubeconfig_file": FILE,
        "namespaces": Struct("namespaces", {"own_namespace": BOOL, "names": STRINGS}),
        "selectors": ListOf(Struct("selector", {"role": _k8s_role("unknown Kubernetes SD role {quoted}"), "label": STRING, "field": STRING})),
        "attach_metadata": Struct("attach_metadata", {"node": BOOL, "namespace": BOOL, "deployment": BOOL, "job": BOOL, "cronjob": BOOL}),
    },
)
# The Kubernetes check runs the HTTP client check itself, between the role check and its cross-field checks.
KUBERNETES_SD.validators = [_check_kubernetes]
