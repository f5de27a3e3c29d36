"""Lint rules for reload and shutdown: the lifecycle API where reloads are expected, and the stop grace period."""

from __future__ import annotations

from promwatchd.compose.prometheus_service import PrometheusService
from promwatchd.compose.service import parse_go_duration, string_values
from promwatchd.compose.source import ComposeFile, position, value_position
from promwatchd.promconfig.findings import WARNING, Finding

MIN_STOP_GRACE_SECONDS = 30.0
"""Shortest stop_grace_period accepted for Prometheus.

On SIGTERM Prometheus stops scraping, finishes queries and closes the TSDB,
which writes the WAL's last segment and, from 2.30 on with
--enable-feature=memory-snapshot-on-shutdown, a head snapshot. Docker sends
SIGKILL after the grace period (10 s when unset), and a kill there leaves a WAL
to replay on the next start. 30 s is an estimate for a small server, not a
measured bound.
"""

RELOAD_HINTS = ("/-/reload", "configmap-reload", "prometheus-config-reloader")
"""Text in a compose file that shows something reloads Prometheus over HTTP."""


def lifecycle_findings(compose: ComposeFile, prometheus: list[PrometheusService]) -> list[Finding]:
    findings: list[Finding] = []
    reload_users = _reload_users(compose)
    for server in prometheus:
        if reload_users and not server.lifecycle_enabled:
            findings.append(_lifecycle_finding(compose, server, reload_users))
        grace = _stop_grace_finding(compose, server)
        if grace is not None:
            findings.append(grace)
    return findings


def _reload_users(compose: ComposeFile) -> list[str]:
    """Return the services whose settings mention an HTTP reload of Prometheus."""
    users = []
    for name, service in compose.services.items():
        if any(hint in text for text in string_values(service) for hint in RELOAD_HINTS):
            users.append(str(name))
    return users


def _lifecycle_finding(compose: ComposeFile, server: PrometheusService, reload_users: list[str]) -> Finding:
    key = "command" if "command" in server.service else None
    line, column = position(server.service, key) if key else position(compose.services, server.name)
    return Finding(
        WARNING, "lifecycle-api-disabled", compose.display_name, line, column, f"services.{server.name}.command",
        f"service(s) {', '.join(reload_users)} reload Prometheus over HTTP, but service {server.name!r} runs "
        "without --web.enable-lifecycle, so POST /-/reload returns 403 and config changes are not applied",
        "add --web.enable-lifecycle to the command (keeping --config.file and --storage.tsdb.path, because a "
        "command replaces the image's defaults), or reload with SIGHUP: docker kill -s HUP <container>",
    )


def _stop_grace_finding(compose: ComposeFile, server: PrometheusService) -> Finding | None:
    service = server.service
    path = f"services.{server.name}.stop_grace_period"
    raw = service.get("stop_grace_period")
    if raw is None:
        line, column = position(compose.services, server.name)
        seconds_text = "not set, so Docker's default of 10s applies"
    else:
        line, column = value_position(service, "stop_grace_period")
        try:
            seconds = parse_go_duration(raw)
        except ValueError as error:
            return Finding(WARNING, "stop-grace-period-invalid", compose.display_name, line, column, path, str(error),
                           "use a Go duration such as 1m")
        if seconds >= MIN_STOP_GRACE_SECONDS:
            return None
        seconds_text = f"{raw}"
    return Finding(
        WARNING, "stop-grace-period-short", compose.display_name, line, column, path,
        f"stop_grace_period of service {server.name!r} is {seconds_text}: Docker kills Prometheus with SIGKILL "
        "if closing the TSDB takes longer, and the next start must replay the WAL",
        f"set stop_grace_period: 1m (at least {MIN_STOP_GRACE_SECONDS:.0f}s)",
    )
