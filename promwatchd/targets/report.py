"""A target-check run: gather the targets, check them, summarise by job and reason, render as text or JSON."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promwatchd.redact import redact_value
from promwatchd.targets.config import ConfigError, ScrapeJob, load_jobs
from promwatchd.targets.discovery import Target, discover
from promwatchd.targets.health import HealthCheck, HealthResult, check_health, prometheus_health_checks
from promwatchd.targets.prometheus_api import fetch_active_targets
from promwatchd.targets.reasons import PASSING_REASONS
from promwatchd.targets.scrape import DEFAULT_MAX_BODY_BYTES, CheckResult, TargetScraper


@dataclass
class CheckOptions:
    """Options of one run: the target source, the concurrency limits and the extra health URLs."""

    config_file: Path | None = None
    prometheus_url: str | None = None
    concurrency: int = 64
    per_host: int = 4
    health_checks: list[HealthCheck] = field(default_factory=list)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    """Body limit for jobs without body_size_limit."""


@dataclass
class TargetReport:
    """The outcome of one run over all targets."""

    source: str
    started_at: float
    duration_seconds: float = 0.0
    results: list[CheckResult] = field(default_factory=list)
    health: list[HealthResult] = field(default_factory=list)
    dropped_by_relabeling: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def failing(self) -> list[CheckResult]:
        return [result for result in self.results if result.reason != "ok"]

    @property
    def problems_found(self) -> bool:
        return bool(self.failing) or any(not result.ok for result in self.health)

    def counts_by_job(self) -> dict[str, dict[str, int]]:
        """Return {job: {reason: count}}."""
        counts: dict[str, Counter[str]] = {}
        for result in self.results:
            counts.setdefault(result.job, Counter())[result.reason] += 1
        return {job: dict(counter) for job, counter in sorted(counts.items())}

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data, with secrets masked."""
        data = {
            "source": self.source,
            "started_at": self.started_at,
            "duration_seconds": round(self.duration_seconds, 3),
            "summary": {
                "targets": len(self.results),
                "ok": sum(1 for result in self.results if result.reason == "ok"),
                "failing": len(self.failing),
                "dropped_by_relabeling": self.dropped_by_relabeling,
                "by_job": self.counts_by_job(),
            },
            "targets": [result.to_dict() for result in self.results],
            "health": [result.to_dict() for result in self.health],
            "warnings": self.warnings,
        }
        return redact_value("", data)


async def run_check(options: CheckOptions, on_done: Callable[[CheckResult], None] | None = None) -> TargetReport:
    """Gather the targets from the config or from Prometheus, check them all, and check the health URLs.

    Raises ConfigError or PrometheusAPIError when the targets cannot be gathered.
    """
    started_at = time.time()
    started = time.monotonic()

    jobs: list[ScrapeJob] = []
    config_warnings: list[str] = []
    if options.config_file is not None:
        try:
            jobs = load_jobs(options.config_file)
        except ConfigError as error:
            if not options.prometheus_url:
                raise
            # With --prometheus the config only supplies job settings such as credentials and TLS.
            config_warnings.append(f"job settings not used: {error}")

    health_checks = list(options.health_checks)
    if options.prometheus_url:
        targets = await fetch_active_targets(options.prometheus_url)
        report = TargetReport(source=options.prometheus_url, started_at=started_at, warnings=config_warnings)
        health_checks = prometheus_health_checks(options.prometheus_url) + health_checks
    else:
        found = discover(jobs)
        targets = found.targets
        report = TargetReport(
            source=str(options.config_file),
            started_at=started_at,
            dropped_by_relabeling=found.dropped,
            warnings=found.warnings,
        )

    jobs_by_name = {job.name: job for job in jobs}
    async with TargetScraper(
        jobs_by_name, options.concurrency, options.per_host, options.max_body_bytes, on_done=on_done
    ) as scraper:
        report.results = await scraper.check_all(targets)
    if health_checks:
        report.health = await check_health(health_checks)
    report.duration_seconds = time.monotonic() - started
    return report


def render_text(report: TargetReport) -> str:
    """Render the report for a terminal: one line per failing target, then the summary."""
    lines: list[str] = []
    for result in sorted(report.failing, key=lambda r: (r.job, r.instance)):
        data = redact_value("", result.to_dict())
        heading = [data["job"], data["instance"], data["reason"]]
        if data["status"] is not None:
            heading.append(f"status={data['status']}")
        if data["latency_seconds"] is not None:
            heading.append(f"latency={data['latency_seconds']:.3f}s")
        if data["url"]:
            heading.append(data["url"])
        lines.append(" ".join(heading))
        lines.append(f"    {data['message']}")
        for error in data["format_errors"][1:]:
            lines.append(f"    {error}")
        for note in data["notes"]:
            lines.append(f"    note: {note}")
        if result.prometheus_reason is not None:
            agreement = "agrees" if result.agrees_with_prometheus else "differs"
            lines.append(f"    prometheus ({agreement}): {redact_value('', result.prometheus_last_error) or 'no error (up)'}")
    for result in report.results:
        if result.reason in PASSING_REASONS and result.agrees_with_prometheus is False:
            lines.append(f"{result.job} {result.instance} ok here but Prometheus reports: {redact_value('', result.prometheus_last_error)}")

    for health in report.health:
        state = "ok" if health.ok else f"FAILED: {health.message}"
        lines.append(f"health {health.url}: {state}")
    for warning in report.warnings:
        lines.append(f"warning: {warning}")

    summary = report.to_dict()["summary"]
    lines.append(
        f"{summary['targets']} targets: {summary['ok']} ok, {summary['failing']} failing"
        f" ({summary['dropped_by_relabeling']} dropped by relabeling) in {report.duration_seconds:.1f}s"
    )
    for job, counts in summary["by_job"].items():
        shown = ", ".join(f"{reason}={count}" for reason, count in sorted(counts.items()))
        lines.append(f"  job {job}: {shown}")
    return "\n".join(lines) + "\n"
