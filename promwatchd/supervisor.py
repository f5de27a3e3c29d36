"""The daemon's core: probes and backend events in, state machine decisions out, actions run.

One task owns the state: it takes events from a queue, calls the pure
``machine.step`` and starts the actions it returns. Probing, backend events,
the clock and the config watcher are producers on that queue. A restart runs
as its own task and reports back with ``RestartFinished``, so the loop never
waits on Prometheus.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import structlog

from promwatchd import configcheck
from promwatchd.assess import Progress, assess
from promwatchd.atomicfile import write_atomic
from promwatchd.backends.base import Backend, BackendError, BackendEvent
from promwatchd.exitcause import classify_exit
from promwatchd.fallback import FALLBACK_FILE_NAME, minimal_config, salvaged_fallback
from promwatchd.diagnose.gather import ProcessFacts, Target, gather
from promwatchd.diagnose.rules import Finding, diagnose, is_blocking
from promwatchd.machine import (
    UP_PHASES,
    WAITING_PHASES,
    Event,
    Phase,
    ProbeFailed,
    ProbeOk,
    ProcessExited,
    Recheck,
    Rechecked,
    Restart,
    RestartFinished,
    RestartRequested,
    State,
    Tick,
    UserConfigChanged,
    initial_state,
    step,
)
from promwatchd.metrics import Metrics
from promwatchd.probes import ProbeRound, Prober
from promwatchd.redact import redact_text, redact_value
from promwatchd.settings import Settings
from promwatchd.targets.loop import TargetCheckLoop

log = structlog.get_logger(__name__)

TICK_SECONDS = 0.25
DIAGNOSIS_TIMEOUT_SECONDS = 5.0
RECENT_EXITS_KEPT = 10
WAL_REPAIR_MARKERS = ("Starting corruption repair", "Deleting all segments newer than corrupted segment")
RESTART_FIRST_CAUSES = frozenset({"killed", "clean"})
"""Exit causes that no blocking problem produces, so the restart does not wait for a diagnosis."""
TRANSITIONS_KEPT = 100
HUNG_CAUSES = frozenset({"probe", "stalled"})


@dataclass(frozen=True)
class Transition:
    """One recorded change of phase."""

    at: float
    """Wall-clock time (time.time())."""
    from_phase: str
    to_phase: str
    reason: str


class Supervisor:
    """Keeps one Prometheus healthy through one backend."""

    def __init__(
        self,
        settings: Settings,
        backend: Backend,
        metrics: Metrics,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self.metrics = metrics
        self.clock = clock
        self.policy = settings.policy(backend.supports_fallback)
        self.state: State = initial_state(clock())
        self.transitions: deque[Transition] = deque(maxlen=TRANSITIONS_KEPT)
        self.last_round: ProbeRound | None = None
        self.last_exit: dict[str, Any] | None = None
        self.recent_exit_causes: deque[str] = deque(maxlen=RECENT_EXITS_KEPT)
        self.diagnosis: list[Finding] = []
        self.last_loop_at = clock()
        self.rounds_done = 0
        self.target_checks = TargetCheckLoop(
            lambda: self.settings, metrics.targets, lambda component: metrics.errors.labels(component).inc()
        )

        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._progress = Progress()
        self._last_probe_event = ""
        self._restart_task: asyncio.Task[None] | None = None
        self._pending_restart_cause: str | None = None
        self._probe_wakeup = asyncio.Event()
        self._fallback_digest: str | None = None
        self._checked_digest: str | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()

    # Public API -------------------------------------------------------------

    @property
    def fallback_path(self) -> Path:
        return self.settings.state_dir / FALLBACK_FILE_NAME

    def request_restart(self, requested_by: str) -> None:
        """Queue an operator's restart request; the state machine applies the restart budget."""
        log.info("restart_requested", requested_by=requested_by)
        self._queue.put_nowait(RestartRequested(requested_by))

    def apply_settings(self, settings: Settings) -> list[str]:
        """Take new settings at run time; return the changed fields that need a daemon restart."""
        needs_restart = [
            name
            for name in ("backend", "process", "docker", "compose", "server", "state_dir", "prometheus")
            if getattr(settings, name) != getattr(self.settings, name)
        ]
        self.settings = settings.model_copy(
            update={name: getattr(self.settings, name) for name in needs_restart}
        )
        self.policy = self.settings.policy(self.backend.supports_fallback)
        log.info("settings_reloaded", needs_daemon_restart=needs_restart)
        return needs_restart

    def loop_alive(self) -> bool:
        """True while the supervision loop keeps running its ticks."""
        return self.clock() - self.last_loop_at < max(5.0, 20 * TICK_SECONDS)

    # Run ----------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Supervise until ``stop`` is set; then stop the tasks (and, for the process backend, Prometheus)."""
        log.info(
            "supervisor_started",
            backend=self.backend.name,
            prometheus_url=self.settings.prometheus_url,
            fallback_enabled=self.policy.fallback_enabled,
        )
        self.metrics.set_phase(self.state.phase)

        if self.backend.name == "process":
            await self._initial_start()
        elif hasattr(self.backend, "open"):
            await self._open_backend()

        tasks = [
            asyncio.create_task(self._guard("reconcile", self._reconcile_loop), name="reconcile"),
            asyncio.create_task(self._guard("probe", self._probe_loop), name="probe"),
            asyncio.create_task(self._guard("backend_events", self._backend_event_loop), name="backend-events"),
            asyncio.create_task(self._guard("ticker", self._tick_loop), name="ticker"),
            asyncio.create_task(self._guard("config_watch", self._config_watch_loop), name="config-watch"),
            asyncio.create_task(self._guard("targets", self.target_checks.run), name="targets"),
        ]
        await stop.wait()
        log.info("supervisor_stopping")

        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._restart_task is not None and not self._restart_task.done():
            await asyncio.gather(self._restart_task, return_exceptions=True)

        if self.backend.name == "process":
            await self.backend.stop(self.settings.recovery.stop_grace_period)
        await self.backend.close()
        log.info("supervisor_stopped")

    async def _initial_start(self) -> None:
        try:
            await self.backend.start(self.settings.process.config_file)
        except BackendError as error:
            log.error("prometheus_start_failed", error=str(error))
            self.metrics.errors.labels("backend").inc()
            self._queue.put_nowait(RestartFinished(ok=False, error=str(error)))

    async def _open_backend(self) -> None:
        """Start following the container's events; an engine that is down now is retried by each restart."""
        try:
            await self.backend.open()
        except BackendError as error:
            log.error("backend_open_failed", backend=self.backend.name, error=str(error))
            self.metrics.errors.labels("backend").inc()

    async def _guard(self, component: str, body: Callable[[], Any]) -> None:
        """Run a loop forever: log and count any error, then start it again after a pause."""
        log.info("component_started", component=component)
        while True:
            try:
                await body()
            except asyncio.CancelledError:
                log.info("component_stopped", component=component)
                raise
            except Exception as error:  # noqa: BLE001 - a loop must outlive any one failure
                log.error("component_failed", component=component, error=f"{type(error).__name__}: {error}", exc_info=True)
                self.metrics.errors.labels(component).inc()
                await asyncio.sleep(1.0)

    # The one owner of the state ---------------------------------------------

    async def _reconcile_loop(self) -> None:
        while True:
            event = await self._queue.get()
            self.handle(event)

    def handle(self, event: Event) -> None:
        """Apply one event: step the machine, record what changed, start the actions."""
        now = self.clock()
        if isinstance(event, Tick):
            self.last_loop_at = now
            self.metrics.last_loop.set(time.time())

        before = self.state
        after, actions = step(before, event, now, self.policy)
        self.state = after
        self._record(before, after, event)

        for action in actions:
            if isinstance(action, Recheck):
                self._start_task(self._run_recheck(), "recheck")
            else:
                self._start_restart(action)

    def _record(self, before: State, after: State, event: Event) -> None:
        previous = before.phase
        for phase, reason in (*after.passed_through, (after.phase, after.reason)):
            if phase != previous:
                self._record_transition(previous, phase, reason, after, event)
                previous = phase
        self._record_outcomes(before, after)

    def _record_transition(self, before: Phase, after: Phase, reason: str, state: State, event: Event) -> None:
        self.transitions.append(Transition(time.time(), before.value, after.value, reason))
        self.metrics.transitions.labels(before.value, after.value).inc()
        self.metrics.set_phase(after)
        self._probe_wakeup.set()

        level = "info"
        if after in (Phase.DOWN, Phase.FALLBACK):
            level = "warning"
        elif after == Phase.GAVE_UP:
            level = "error"
        getattr(log, level)(
            "state_transition",
            from_state=before.value,
            to_state=after.value,
            reason=reason,
            trigger=type(event).__name__,
        )

        if after == Phase.GAVE_UP:
            self.metrics.budget_exhausted.inc()
            retry_in = (state.next_restart_at or self.clock()) - self.clock()
            log.error(
                "restart_budget_exhausted",
                reason=reason,
                restarts_in_window=len(state.restart_times),
                budget=self.policy.restart_budget,
                window_seconds=self.policy.budget_window,
                half_open_retry_in_seconds=round(retry_in, 1),
            )

    def _record_outcomes(self, before: State, after: State) -> None:
        if after.phase in UP_PHASES and before.phase not in UP_PHASES:
            self._settle_restart("ready")
            if any(marker in line for line in self.backend.output_tail(200) for marker in WAL_REPAIR_MARKERS):
                # Prometheus repaired its WAL on start by dropping data, and logs that only at warn level.
                self._start_task(self._diagnose(), "diagnosis")
            if after.last_recovery_seconds is not None and before.down_since is not None:
                self.metrics.recovery_duration.observe(after.last_recovery_seconds)
                log.info("prometheus_recovered", recovery_seconds=round(after.last_recovery_seconds, 3), config=after.config)
        elif after.phase in (Phase.DOWN, Phase.GAVE_UP) and before.phase == Phase.RECOVERING:
            self._settle_restart("failed")

        if after.phase == Phase.DEGRADED and before.phase != Phase.DEGRADED:
            # Up but unwell (a failed reload, stalled ingestion): explain it in /api/status.
            self._start_task(self._diagnose(), "diagnosis")

        if after.fallback_active != before.fallback_active:
            self.metrics.fallback_active.set(1 if after.fallback_active else 0)
            user_config = str(self.settings.process.config_file)
            if after.fallback_active:
                log.warning("fallback_activated", fallback_config=str(self.fallback_path), user_config=user_config)
            else:
                log.info("fallback_deactivated", user_config=user_config)

        self.metrics.backoff_delay.set(after.backoff_delay if after.next_restart_at is not None else 0)
        self.metrics.prometheus_up.set(1 if after.phase in UP_PHASES else 0)

    def _settle_restart(self, outcome: str) -> None:
        if self._pending_restart_cause is None:
            return
        self.metrics.restarts.labels(self._pending_restart_cause, outcome).inc()
        log.info("restart_outcome", cause=self._pending_restart_cause, outcome=outcome)
        self._pending_restart_cause = None

    # Actions -------------------------------------------------------------------

    def _start_restart(self, action: Restart) -> None:
        if self._pending_restart_cause is not None:
            # A new restart before the last one reached ready: the last one failed.
            self._settle_restart("failed")
        self._pending_restart_cause = action.cause
        self._restart_task = asyncio.create_task(self._run_restart(action), name="restart")

    async def _run_restart(self, action: Restart) -> None:
        grace = self.settings.recovery.stop_grace_period
        if action.cause in HUNG_CAUSES:
            grace = self.settings.recovery.hung_stop_grace_period

        log.info(
            "restart_started",
            reason=action.reason,
            cause=action.cause,
            attempt=action.attempt,
            config=action.config,
            half_open=action.half_open,
            grace_seconds=grace,
        )
        started = time.monotonic()
        try:
            config_file = await self._config_for(action)
            await self.backend.restart(config_file, grace)
        except (BackendError, OSError) as error:
            log.error("restart_failed", cause=action.cause, attempt=action.attempt, error=str(error))
            self.metrics.errors.labels("restart").inc()
            self._queue.put_nowait(RestartFinished(ok=False, error=str(error)))
            return

        log.info("restart_launched", cause=action.cause, duration_seconds=round(time.monotonic() - started, 3))
        self._progress = Progress()
        self._queue.put_nowait(RestartFinished(ok=True))
        self._probe_wakeup.set()

    async def _config_for(self, action: Restart) -> Path | None:
        if not self.backend.supports_fallback:
            return None
        user_config = self.settings.process.config_file
        if action.config == "user":
            return user_config

        kind = "minimal"
        # A fallback that itself failed on its config restarts on the minimal config, which always loads.
        salvage = self.settings.fallback.salvage and action.cause != "config"
        if salvage and await self._write_salvaged_fallback(user_config):
            kind = "salvaged"
        else:
            text = minimal_config(self.settings.process.listen_address, self.settings.server.listen_address, user_config)
            await asyncio.to_thread(write_atomic, self.fallback_path, text.encode("utf-8"))
        self._fallback_digest = await asyncio.to_thread(configcheck.file_digest, user_config)
        self._checked_digest = self._fallback_digest
        log.info("fallback_config_written", path=str(self.fallback_path), kind=kind)
        return self.fallback_path

    async def _write_salvaged_fallback(self, user_config: Path) -> bool:
        """Write the user's config without its failing jobs as the fallback; return False when it cannot be used."""
        try:
            salvaged = await asyncio.to_thread(salvaged_fallback, user_config, self.fallback_path)
        except Exception as error:  # noqa: BLE001 - the minimal config is the way out of any failure here
            log.error("fallback_salvage_failed", user_config=str(user_config), error=repr(error))
            return False
        if salvaged.text is None:
            log.info("fallback_salvage_unusable", user_config=str(user_config), reason=salvaged.unusable_reason)
            return False

        text, result = salvaged.text, salvaged.result
        # The copy keeps the user's credentials, so only the owner may read it.
        await asyncio.to_thread(write_atomic, self.fallback_path, text.encode("utf-8"), 0o600)
        verdict = await configcheck.check_with_promtool(self.settings.fallback.promtool, self.fallback_path)
        if verdict.valid is False:
            log.warning("fallback_salvage_rejected", user_config=str(user_config), promtool_output=verdict.output)
            return False
        log.info(
            "fallback_salvaged",
            user_config=str(user_config),
            kept_jobs=len(result.kept_jobs),
            dropped=[part.describe() for part in result.dropped[:20]],
            dropped_count=len(result.dropped),
            corrected=result.corrected[:20],
        )
        return True

    # Producers -------------------------------------------------------------------

    async def _tick_loop(self) -> None:
        while True:
            self._queue.put_nowait(Tick())
            await asyncio.sleep(TICK_SECONDS)

    async def _probe_loop(self) -> None:
        probes = self.settings.probes
        async with Prober(self.settings.prometheus_url, probes.timeout, probes.max_response_bytes, probes.query) as prober:
            while True:
                # Settings may change on SIGHUP; the next round uses them.
                probes = self.settings.probes
                prober.timeout_seconds = probes.timeout
                prober.max_response_bytes = probes.max_response_bytes
                prober.query = probes.query

                started = time.monotonic()
                probe_round = await prober.run_round()
                self._observe(probe_round)

                phase = self.state.phase
                fast = phase in WAITING_PHASES or phase == Phase.DOWN or self.state.restart_in_flight
                interval = self.settings.probes.startup_interval if fast else self.settings.probes.interval
                self._probe_wakeup.clear()
                remaining = interval - (time.monotonic() - started)
                if remaining > 0:
                    try:
                        await asyncio.wait_for(self._probe_wakeup.wait(), timeout=remaining)
                    except asyncio.TimeoutError:
                        pass

    def _observe(self, probe_round: ProbeRound) -> None:
        self.last_round = probe_round
        self.rounds_done += 1
        for result in probe_round.results.values():
            self.metrics.probe_success.labels(result.probe).set(1 if result.ok else 0)
            self.metrics.probe_duration.labels(result.probe).observe(result.duration_seconds)

        lines = getattr(self.backend, "lines_seen", 0)
        event, self._progress = assess(probe_round, self._progress, lines, self.settings.probes.ingestion_stall)
        if getattr(self.backend, "running", None) is False and not isinstance(event, ProbeFailed):
            # Our process is not running, so whatever responds on its address is someone else's.
            event = ProbeFailed(f"{self.settings.prometheus_url} answers, but promwatchd's Prometheus is not running")

        summary = type(event).__name__ + ":" + getattr(event, "reason", "")
        if summary != self._last_probe_event:
            failed = {name: r.detail for name, r in probe_round.results.items() if not r.ok}
            log.info("probe_state_changed", verdict=type(event).__name__, reason=getattr(event, "reason", ""), failed=failed)
            self._last_probe_event = summary
        self._queue.put_nowait(event)

    async def _backend_event_loop(self) -> None:
        while True:
            event = await self.backend.events.get()
            await self._on_backend_event(event)

    async def _on_backend_event(self, event: BackendEvent) -> None:
        if event.kind != "exited" or event.exit is None:
            log.info("backend_event", kind=event.kind, detail=event.detail)
            return
        if event.expected:
            return

        cause = classify_exit(event.exit)
        tail = [redact_text(line) for line in event.exit.output_tail[-10:]]
        self.last_exit = {
            "at": event.exit.at,
            "exit_code": event.exit.code,
            "signal": event.exit.signal,
            "oom_killed": event.exit.oom_killed,
            "cause": cause.cause,
            "evidence": redact_text(cause.evidence),
            "output_tail": tail,
        }
        self.metrics.exits.labels(cause.cause).inc()
        self.recent_exit_causes.append(cause.cause)
        log.warning(
            "prometheus_exit_unexpected",
            cause=cause.cause,
            evidence=cause.evidence,
            exit_code=event.exit.code,
            signal=event.exit.signal,
            output_tail=tail[-3:],
        )

        # Diagnose before acting: a restart does not fix a full disk or a taken port. Those
        # causes make Prometheus log an error and exit non-zero, so a SIGKILL or a clean exit
        # restarts at once. The fast pass decides; the thorough one follows for the report.
        blocking, detail = False, cause.evidence
        if cause.cause not in RESTART_FIRST_CAUSES:
            top = await self._diagnose(event.exit, thorough=False)
            blocking = is_blocking(top)
            if blocking and top is not None:
                detail = redact_text(top.summary)
        self._queue.put_nowait(ProcessExited(cause.cause, detail, blocking=blocking))
        self._start_task(self._diagnose(event.exit), "diagnosis")

    async def _diagnose(self, exit_info=None, with_output: bool = True, thorough: bool = True) -> Finding | None:
        """Run the diagnosis rules on the current evidence; record and export the result."""
        started = time.monotonic()
        try:
            evidence = await asyncio.wait_for(
                self._gather_evidence(exit_info, with_output, thorough), DIAGNOSIS_TIMEOUT_SECONDS
            )
        except asyncio.TimeoutError:
            log.warning("diagnosis_timed_out", timeout_seconds=DIAGNOSIS_TIMEOUT_SECONDS)
            self.metrics.errors.labels("diagnosis").inc()
            return None

        self.diagnosis = diagnose(evidence)
        top = self.diagnosis[0] if self.diagnosis else None
        self.metrics.set_diagnosis(top.cause if top is not None else None)
        log.info(
            "diagnosis_finished",
            root_cause=top.cause if top else None,
            summary=top.summary if top else "",
            evidence=list(top.evidence) if top else [],
            fix=top.fix if top else "",
            blocking=is_blocking(top),
            thorough=thorough,
            duration_seconds=round(time.monotonic() - started, 3),
        )
        return top

    async def _gather_evidence(self, exit_info=None, with_output: bool = True, thorough: bool = True):
        """Collect evidence; without ``with_output`` only live facts count, not the last run's log."""
        owned = self.backend.name == "process"
        listen_address = self.settings.process.listen_address if owned else _host_port(self.settings.prometheus_url)
        target = Target(
            url=self.settings.prometheus_url,
            listen_address=listen_address,
            config_file=self.settings.process.config_file if owned and not self.state.fallback_active else None,
            data_dir=self.settings.process.data_dir if owned else None,
            timeout_seconds=self.settings.probes.timeout,
            max_response_bytes=self.settings.probes.max_response_bytes,
            targets_by_reason=self._targets_by_reason(),
        )
        status = await self.backend.status()
        last = exit_info or status.last_exit
        facts = ProcessFacts(
            running=status.running,
            pid=status.pid,
            exit_code=last.code if last else None,
            exit_signal=last.signal if last else None,
            oom_killed=last.oom_killed if last else False,
            recent_exit_causes=tuple(self.recent_exit_causes),
            output_tail=self._output_for_diagnosis(last) if with_output else (),
        )
        return await gather(target, facts, probe_round=self.last_round, thorough=thorough)

    def _targets_by_reason(self) -> dict[str, int]:
        """Sum the last target check's per-job counts by reason; empty before the first check."""
        report = self.target_checks.last_report
        totals: dict[str, int] = {}
        if report is None:
            return totals
        for counts in report.counts_by_job().values():
            for reason, count in counts.items():
                totals[reason] = totals.get(reason, 0) + count
        return totals

    def _output_for_diagnosis(self, last) -> tuple[str, ...]:
        if last is not None:
            return tuple(last.output_tail)
        return tuple(self.backend.output_tail(60))

    async def _run_recheck(self) -> None:
        # Only live facts: the log of the failed run would still show the old cause.
        top = await self._diagnose(with_output=False)
        blocking = is_blocking(top)
        log.info("blocked_recheck", still_blocked=blocking, root_cause=top.cause if top else None)
        self._queue.put_nowait(Rechecked(blocking=blocking, detail=redact_text(top.summary) if top else ""))

    def _start_task(self, coroutine, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _config_watch_loop(self) -> None:
        """While on the fallback, validate the user's config each time it changes."""
        user_config = self.settings.process.config_file
        while True:
            await asyncio.sleep(self.settings.fallback.watch_interval)
            if not self.state.fallback_active or self.state.restart_in_flight:
                continue

            digest = await asyncio.to_thread(configcheck.file_digest, user_config)
            if digest is None or digest == self._checked_digest:
                continue
            self._checked_digest = digest

            verdict = await configcheck.check_user_config(self.settings.fallback.promtool, user_config)
            log.info(
                "user_config_changed",
                path=str(user_config),
                valid=verdict.valid,
                promtool_valid=verdict.promtool.valid,
                promtool_output=redact_text(verdict.promtool.output[-500:]),
                errors=verdict.errors[: configcheck.MAX_ERRORS_LOGGED],
                error_count=len(verdict.errors),
            )
            if verdict.disagree:
                log.warning(
                    "config_verdicts_disagree",
                    path=str(user_config),
                    promtool_valid=verdict.promtool.valid,
                    validator_errors=verdict.errors[: configcheck.MAX_ERRORS_LOGGED],
                    decision="following promtool, which comes with the running Prometheus",
                )
            self._queue.put_nowait(UserConfigChanged(valid=verdict.valid))

    # Reporting -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Return the status document served at /api/status and embedded in /healthz."""
        now_mono, now_wall = self.clock(), time.time()
        state = self.state

        def wall(mono: float | None) -> float | None:
            return None if mono is None else round(now_wall - (now_mono - mono), 3)

        probes = {}
        if self.last_round is not None:
            for name, result in self.last_round.results.items():
                probes[name] = {
                    "ok": result.ok,
                    "status": result.status,
                    "error": result.error,
                    "detail": redact_text(result.detail),
                    "duration_seconds": round(result.duration_seconds, 4),
                }

        return {
            "state": state.phase.value,
            "reason": redact_text(state.reason),
            "since": wall(state.since),
            "backend": self.backend.name,
            "prometheus_url": self.settings.prometheus_url,
            "config": state.config,
            "fallback_active": state.fallback_active,
            "fallback_config": str(self.fallback_path) if state.fallback_active else None,
            "last_failure": redact_text(state.last_failure),
            "last_exit": self.last_exit,
            "pid": getattr(self.backend, "pid", None),
            "recent_exit_causes": list(self.recent_exit_causes),
            "output_tail": [redact_text(line) for line in self.backend.output_tail(20)],
            "diagnosis": [redact_value("", finding.to_dict()) for finding in self.diagnosis],
            "restart_in_flight": state.restart_in_flight,
            "restarts_in_window": len(state.restart_times),
            "restart_budget": self.policy.restart_budget,
            "budget_window_seconds": self.policy.budget_window,
            "failure_streak": state.streak,
            "next_restart_at": wall(state.next_restart_at),
            "next_restart_reason": redact_text(state.next_restart_reason) if state.next_restart_at else None,
            "backoff_delay_seconds": round(state.backoff_delay, 3),
            "last_recovery_seconds": state.last_recovery_seconds,
            "probes": probes,
            "transitions": [
                {"at": t.at, "from": t.from_phase, "to": t.to_phase, "reason": redact_text(t.reason)}
                for t in reversed(self.transitions)
            ],
        }


def _host_port(url: str) -> str:
    """Return host:port of an http(s) URL, with the scheme's default port when none is given."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname or '127.0.0.1'}:{port}"
