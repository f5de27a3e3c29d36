"""The target checker's series in promwatchd's registry.

``promwatchd_targets{job,reason}`` stays small: jobs times the bounded set of reasons.
The per-target series (one per job and instance) exist only when
``targets.per_target_metrics`` is true.

NOTE: targets of one job that share an instance label (same address, different paths or
params) share one per-target series, which shows the last of them checked.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge


class TargetMetrics:
    """Series of the daemon's target-check loop."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.targets = Gauge(
            "promwatchd_targets",
            "Scrape targets by job and by the reason of the last target check (ok when the scrape works).",
            ["job", "reason"],
            registry=registry,
        )
        self.target_ok = Gauge(
            "promwatchd_target_ok",
            "1 when the last check of this target found it scrapable (only with targets.per_target_metrics).",
            ["job", "instance"],
            registry=registry,
        )
        self.target_latency = Gauge(
            "promwatchd_target_check_latency_seconds",
            "Response time of this target in the last check (only with targets.per_target_metrics).",
            ["job", "instance"],
            registry=registry,
        )
        self.health_ok = Gauge(
            "promwatchd_health_check_ok",
            "1 when the last check of this health URL returned the expected status and body.",
            ["url"],
            registry=registry,
        )
        self.last_run = Gauge(
            "promwatchd_targets_last_run_timestamp_seconds", "When the last target check finished.", registry=registry
        )
        self.run_duration = Gauge(
            "promwatchd_targets_run_duration_seconds", "Duration of the last target check over all targets.", registry=registry
        )
