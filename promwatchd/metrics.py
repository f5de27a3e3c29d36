"""promwatchd's own metrics, in a registry of their own (namespace promwatchd_)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from promwatchd.machine import Phase
from promwatchd.probes import PROBES
from promwatchd.targets.metrics import TargetMetrics


class Metrics:
    """All series promwatchd exports. Labels stay low-cardinality: bounded sets only."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry

        self.state = Gauge("promwatchd_state", "1 for the current state of the supervised Prometheus.", ["state"], registry=r)
        self.prometheus_up = Gauge("promwatchd_prometheus_up", "1 when Prometheus is ready and answers queries.", registry=r)
        self.probe_success = Gauge("promwatchd_probe_success", "1 when the last probe succeeded.", ["probe"], registry=r)
        self.probe_duration = Histogram(
            "promwatchd_probe_duration_seconds",
            "Duration of each probe.",
            ["probe"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.restarts = Counter(
            "promwatchd_restarts", "Restarts of Prometheus by cause and outcome.", ["reason", "outcome"], registry=r
        )
        self.transitions = Counter(
            "promwatchd_state_transitions", "State transitions of the recovery state machine.", ["from_state", "to_state"], registry=r
        )
        self.exits = Counter("promwatchd_prometheus_exits", "Unexpected exits of Prometheus by cause.", ["cause"], registry=r)
        self.backoff_delay = Gauge("promwatchd_backoff_delay_seconds", "Delay before the pending restart.", registry=r)
        self.fallback_active = Gauge("promwatchd_fallback_active", "1 while Prometheus runs on the fallback config.", registry=r)
        self.gave_up = Gauge("promwatchd_gave_up", "1 while the restart budget is exhausted (circuit open).", registry=r)
        self.budget_exhausted = Counter("promwatchd_budget_exhausted", "Times the restart budget ran out.", registry=r)
        self.recovery_duration = Histogram(
            "promwatchd_recovery_duration_seconds",
            "Time from a detected failure until Prometheus was ready again.",
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=r,
        )
        self.last_loop = Gauge("promwatchd_last_loop_timestamp_seconds", "When the supervision loop last ran.", registry=r)
        self.errors = Counter("promwatchd_errors", "Errors promwatchd caught and handled, by component.", ["component"], registry=r)
        self.targets = TargetMetrics(r)

        self.diagnosis = Gauge(
            "promwatchd_diagnosis", "1 for the root cause of the last diagnosis; none when it found nothing.", ["cause"], registry=r
        )

        for phase in Phase:
            self.state.labels(phase.value).set(0)
        for probe in PROBES:
            self.probe_success.labels(probe).set(0)

    def set_phase(self, phase: Phase) -> None:
        for candidate in Phase:
            self.state.labels(candidate.value).set(1 if candidate == phase else 0)
        self.gave_up.set(1 if phase == Phase.GAVE_UP else 0)

    def set_diagnosis(self, cause: str | None) -> None:
        from promwatchd.diagnose.rules import CAUSES

        for candidate in (*CAUSES, "none"):
            self.diagnosis.labels(candidate).set(1 if candidate == (cause or "none") else 0)
