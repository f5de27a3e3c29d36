"""Lint rules for health checks: missing ones, and ones that call a tool the image lacks."""

from __future__ import annotations

import posixpath
import re
import shlex

from ruamel.yaml.comments import CommentedMap

from promwatchd.compose.images import PROBE_TOOLS, lookup_image
from promwatchd.compose.prometheus_service import PrometheusService
from promwatchd.compose.service import HealthCheck, health_check, image_of
from promwatchd.compose.source import ComposeFile, position, value_position
from promwatchd.promconfig.findings import ERROR, WARNING, Finding

_SHELL_SEPARATORS = re.compile(r"\|\||&&|[;|&]|\$\(|`")
_SHELL_WORDS_TO_SKIP = frozenset({"exec", "command", "!", "then", "else", "do", "if", "while"})

READY_CHECK_FIX = (
    'add a health check that asks Prometheus\'s readiness endpoint, for example '
    'healthcheck: {test: ["CMD", "wget", "-q", "--spider", "http://localhost:9090/-/ready"], '
    "interval: 10s, timeout: 5s, retries: 3, start_period: 1m}"
)


def health_check_findings(compose: ComposeFile, prometheus: list[PrometheusService]) -> list[Finding]:
    findings: list[Finding] = []
    broken: dict[str, str] = {}

    for service_name in (service.name for service in prometheus):
        service = compose.service(service_name)
        check = health_check(service)
        if check is None or check.kind == "NONE":
            line, column = position(compose.services, service_name)
            findings.append(Finding(
                WARNING, "healthcheck-missing", compose.display_name, line, column, f"services.{service_name}",
                f"service {service_name!r} runs Prometheus without a health check, so neither Docker nor "
                "dependent services can tell when it is ready or hung",
                READY_CHECK_FIX,
            ))

    for name, service in compose.services.items():
        check = health_check(service)
        if check is None or check.kind == "NONE":
            continue
        finding = _missing_tool_finding(compose, str(name), service, check)
        if finding is not None:
            findings.append(finding)
            broken[str(name)] = finding.message

    findings.extend(_healthy_condition_findings(compose, broken))
    return findings


def tools_called(check: HealthCheck) -> list[str]:
    """Return the commands a health check runs, in order: ``sh`` first for CMD-SHELL, then each command of the script."""
    if check.kind == "CMD-SHELL":
        script = " ".join(check.arguments)
        return ["sh", *_script_commands(script)]
    if check.kind == "CMD" and check.arguments:
        first = posixpath.basename(check.arguments[0])
        tools = [first]
        if first in ("sh", "bash") and "-c" in check.arguments[1:-1]:
            tools.extend(_script_commands(check.arguments[check.arguments.index("-c") + 1]))
        return tools
    return []


def _script_commands(script: str) -> list[str]:
    """Return the first word of each simple command in a shell script, skipping variable assignments."""
    commands = []
    for segment in _SHELL_SEPARATORS.split(script):
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        for word in words:
            if "=" in word and not word.startswith("="):
                continue
            if word in _SHELL_WORDS_TO_SKIP:
                continue
            commands.append(posixpath.basename(word))
            break
    return commands


def _missing_tool_finding(compose: ComposeFile, name: str, service: CommentedMap, check: HealthCheck) -> Finding | None:
    image = image_of(service)
    entry = lookup_image(image) if image else None
    if entry is None:
        return None

    missing = [tool for tool in tools_called(check) if tool in PROBE_TOOLS and tool not in entry.tools]
    if not missing:
        return None

    names = " and ".join(dict.fromkeys(missing))
    problem = f"needs {names}, which the image lacks"
    if "sh" in missing and check.kind == "CMD-SHELL":
        problem += " (a CMD-SHELL test runs through /bin/sh)"
    available = ", ".join(sorted(entry.tools)) or "none"
    return Finding(
        ERROR, "healthcheck-tool-missing", compose.display_name, check.line, check.column,
        f"services.{name}.healthcheck.test",
        f"the health check of service {name!r} {problem} ({entry.description}), so it fails on every run "
        f"and the container stays unhealthy while the service works. Probe tools in image {image}: {available}",
        "remove the health check and rely on Prometheus's up series for this target, use an image version "
        "that contains a probe tool, or call only what the image has",
    )


def _healthy_condition_findings(compose: ComposeFile, broken: dict[str, str]) -> list[Finding]:
    """Report ``condition: service_healthy`` on a dependency that can never become healthy."""
    findings = []
    for name, service in compose.services.items():
        depends_on = service.get("depends_on")
        if not isinstance(depends_on, CommentedMap):
            continue
        for dependency, options in depends_on.items():
            if not isinstance(options, CommentedMap) or options.get("condition") != "service_healthy":
                continue
            line, column = value_position(options, "condition")
            path = f"services.{name}.depends_on.{dependency}.condition"
            if dependency in broken:
                findings.append(Finding(
                    ERROR, "depends-on-healthy-never", compose.display_name, line, column, path,
                    f"service {name!r} waits for {dependency!r} to be healthy, but the health check of "
                    f"{dependency!r} cannot run, so {name!r} is never started",
                    f"fix the health check of {dependency!r}, or use a plain depends_on entry "
                    f"(depends_on: [{dependency}]) or condition: service_started",
                ))
                continue
            target = compose.services.get(dependency)
            check = health_check(target) if isinstance(target, CommentedMap) else None
            if isinstance(target, CommentedMap) and (check is None or check.kind == "NONE"):
                # NOTE: a HEALTHCHECK in the image also satisfies the condition; images are not inspected here.
                findings.append(Finding(
                    ERROR, "depends-on-healthy-without-healthcheck", compose.display_name, line, column, path,
                    f"service {name!r} waits for {dependency!r} to be healthy, but {dependency!r} has no health "
                    "check in this file, so Compose fails unless its image defines one",
                    f"add a health check to {dependency!r}, or use condition: service_started",
                ))
    return findings
