"""The daemon's target-check loop: check every target at ``targets.interval``, export counts, keep the last report."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from promwatchd.targets.config import ConfigError
from promwatchd.targets.health import HealthCheck
from promwatchd.targets.metrics import TargetMetrics
from promwatchd.targets.prometheus_api import PrometheusAPIError
from promwatchd.targets.report import CheckOptions, TargetReport, run_check

if TYPE_CHECKING:
    from promwatchd.settings import Settings

log = structlog.get_logger(__name__)


class TargetCheckLoop:
    """Runs the target checker periodically.

    ``current_settings`` is called before each run, so a SIGHUP reload takes effect at the
    next run. ``count_error`` is called with the component name for each caught error.
    """

    def __init__(
        self,
        current_settings: Callable[[], Settings],
        metrics: TargetMetrics,
        count_error: Callable[[str], None],
    ) -> None:
        self.current_settings = current_settings
        self.metrics = metrics
        self.count_error = count_error
        self.last_report: TargetReport | None = None
        self.last_error: str = ""
        self.runs = 0

    async def run(self) -> None:
        """Check, then sleep ``targets.interval``; forever, until cancelled."""
        while True:
            settings = self.current_settings()
            if settings.targets.enabled:
                await self.run_once(settings)
            await asyncio.sleep(settings.targets.interval)

    async def run_once(self, settings: Settings) -> TargetReport | None:
        """Run one check over all targets; return its report, or None when the targets cannot be gathered."""
        options = options_from_settings(settings)
        try:
            report = await run_check(options)
        except (ConfigError, PrometheusAPIError) as error:
            self.last_error = str(error)
            log.error("target_check_failed", source=settings.targets.source, error=str(error))
            self.count_error("targets")
            return None

        self.last_report = report
        self.last_error = ""
        self.runs += 1
        self.export(report, settings.targets.per_target_metrics)
        reasons = Counter(result.reason for result in report.results)
        log.info(
            "target_check_finished",
            source=settings.targets.source,
            targets=len(report.results),
            failing=len(report.failing),
            reasons=dict(sorted(reasons.items())),
            health_failing=[health.url for health in report.health if not health.ok],
            duration_seconds=round(report.duration_seconds, 3),
        )
        return report

    def export(self, report: TargetReport, per_target: bool) -> None:
        """Replace the exported series with those of ``report``, so vanished jobs and targets disappear."""
        metrics = self.metrics
        metrics.targets.clear()
        for job, counts in report.counts_by_job().items():
            for reason, count in counts.items():
                metrics.targets.labels(job, reason).set(count)

        metrics.target_ok.clear()
        metrics.target_latency.clear()
        if per_target:
            for result in report.results:
                metrics.target_ok.labels(result.job, result.instance).set(1 if result.reason == "ok" else 0)
                if result.latency_seconds is not None:
                    metrics.target_latency.labels(result.job, result.instance).set(result.latency_seconds)

        metrics.health_ok.clear()
        for health in report.health:
            metrics.health_ok.labels(health.url).set(1 if health.ok else 0)
        metrics.last_run.set(time.time())
        metrics.run_duration.set(report.duration_seconds)

    def snapshot(self, enabled: bool) -> dict[str, Any]:
        """Return the document served at GET /api/targets, with secrets masked."""
        return {
            "enabled": enabled,
            "runs": self.runs,
            "last_error": self.last_error,
            "report": self.last_report.to_dict() if self.last_report is not None else None,
        }


def options_from_settings(settings: Settings) -> CheckOptions:
    """Build the check options of one run from the daemon's settings."""
    targets = settings.targets
    health_checks = [
        HealthCheck(check.url, check.expected_status, check.body_contains) for check in targets.extra_health_urls
    ]
    if targets.source == "prometheus":
        return CheckOptions(
            config_file=settings.process.config_file if settings.backend == "process" else None,
            prometheus_url=settings.prometheus_url,
            concurrency=targets.concurrency,
            per_host=targets.per_host,
            health_checks=health_checks,
        )
    return CheckOptions(
        config_file=settings.process.config_file,
        concurrency=targets.concurrency,
        per_host=targets.per_host,
        health_checks=health_checks,
    )
