"""The recovery state machine: a pure function of (state, event, now).

No I/O, no sleeping, no clock of its own: the daemon passes ``now`` (a
monotonic time in seconds), executes the actions it gets back, and feeds their
results in as events. Every timer (backoff, stall, cool-down) is a deadline in
the state, checked on ``Tick``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Literal

from promwatchd.policy import Policy, backoff_delay, budget_reopens_at, next_random, prune_window

ConfigMode = Literal["user", "fallback"]


class Phase(StrEnum):
    """The condition of the supervised Prometheus, as promwatchd observes it."""

    STARTING = "starting"
    """Started (by us or someone else); waiting for it to become ready."""
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    """Responds, but something is wrong: a failed probe below the threshold, a failed reload."""
    DOWN = "down"
    """Failed; a restart is scheduled."""
    RECOVERING = "recovering"
    """Restarted by us; waiting for it to become ready."""
    FALLBACK = "fallback"
    """Up, but on the generated fallback config because the user's config cannot start."""
    GAVE_UP = "gave_up"
    """The restart budget is spent: the circuit is open until a half-open retry."""
    BLOCKED = "blocked"
    """Down for a cause a restart cannot fix (full disk, held lock, taken port); rechecked periodically."""


UP_PHASES = frozenset({Phase.HEALTHY, Phase.DEGRADED, Phase.FALLBACK})
WAITING_PHASES = frozenset({Phase.STARTING, Phase.RECOVERING})


# Events -------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """Time passed; deadlines may have expired."""


@dataclass(frozen=True)
class ProbeOk:
    """A probe round found Prometheus ready and serving queries."""


@dataclass(frozen=True)
class ProbeDegraded:
    """A probe round found Prometheus ready but not well (for example a failed reload)."""

    reason: str


@dataclass(frozen=True)
class ProbeStarting:
    """Prometheus responds but is not ready yet (WAL replay); ``progressed`` if it moved since the last round."""

    progressed: bool


@dataclass(frozen=True)
class ProbeFailed:
    """A probe round failed: unreachable, timed out, or wrong responses."""

    reason: str


@dataclass(frozen=True)
class ProcessExited:
    """The backend saw Prometheus end on its own; ``cause`` is a short classification.

    ``blocking`` is set when the diagnosis found a cause that a restart cannot
    fix, so the machine waits for it to clear instead of restarting in a loop.
    """

    cause: str
    detail: str = ""
    blocking: bool = False


@dataclass(frozen=True)
class Rechecked:
    """The result of diagnosing a blocked Prometheus again."""

    blocking: bool
    detail: str = ""


@dataclass(frozen=True)
class RestartFinished:
    """The backend finished a restart action (the process is launched, not yet ready)."""

    ok: bool
    error: str = ""


@dataclass(frozen=True)
class UserConfigChanged:
    """The user's config file changed; ``valid`` is the verdict of the validator."""

    valid: bool


@dataclass(frozen=True)
class RestartRequested:
    """An operator asked for a restart through the API."""

    requested_by: str = "api"


Event = (
    Tick
    | ProbeOk
    | ProbeDegraded
    | ProbeStarting
    | ProbeFailed
    | ProcessExited
    | RestartFinished
    | UserConfigChanged
    | RestartRequested
    | Rechecked
)


# Actions ------------------------------------------------------------------


@dataclass(frozen=True)
class Restart:
    """Stop Prometheus if it runs, then start it on ``config``."""

    reason: str
    cause: str
    """Bounded label for metrics: an exit cause, probe, stalled, fallback, switch_back, requested, half_open."""
    attempt: int
    config: ConfigMode
    half_open: bool = False


@dataclass(frozen=True)
class Recheck:
    """Diagnose again whether the blocking cause is still there; the result comes back as ``Rechecked``."""


Action = Restart | Recheck


# State --------------------------------------------------------------------


@dataclass(frozen=True)
class State:
    """Everything the machine remembers. Times are the caller's monotonic seconds."""

    phase: Phase = Phase.STARTING
    reason: str = "initial start"
    since: float = 0.0
    config: ConfigMode = "user"
    """The config Prometheus runs on now (or was last started on)."""

    streak: int = 0
    """Failures since Prometheus was last stable; drives the backoff."""
    probe_failures: int = 0
    """Consecutive failed probe rounds while up."""
    config_failures: int = 0
    """Consecutive exits caused by the user's config."""
    restart_times: tuple[float, ...] = ()
    """Restarts within the budget window."""
    restart_in_flight: bool = False
    half_open: bool = False
    user_config_trial: bool = False
    """The running start is a switch back from the fallback to the user's config."""

    next_restart_at: float | None = None
    next_restart_reason: str = ""
    next_restart_cause: str = ""
    next_restart_config: ConfigMode = "user"
    next_check_at: float | None = None
    """When a blocked Prometheus is diagnosed again."""
    backoff_delay: float = 0.0

    last_progress_at: float = 0.0
    healthy_since: float | None = None
    down_since: float | None = None
    last_recovery_seconds: float | None = None
    last_failure: str = ""
    seed: int = 0x2545F4914F6CDD1D
    passed_through: tuple[tuple[Phase, str], ...] = ()
    """Phases (with reasons) entered and left within the last step, such as down on the way to recovering."""

    @property
    def fallback_active(self) -> bool:
        return self.config == "fallback"


def initial_state(now: float, seed: int = 0x2545F4914F6CDD1D) -> State:
    """Return the state of a Prometheus that was just started (or found running)."""
    return State(since=now, last_progress_at=now, seed=seed)


# Transition function -------------------------------------------------------


def step(state: State, event: Event, now: float, policy: Policy) -> tuple[State, list[Action]]:
    """Apply ``event`` at time ``now``; return the new state and the actions to run."""
    original_phase = state.phase
    state = replace(
        state,
        restart_times=prune_window(state.restart_times, now, policy.budget_window),
        passed_through=(),
    )

    match event:
        case Tick():
            state = _on_tick(state, now, policy)
        case ProbeOk():
            state = _on_ready(state, now, policy, degraded_reason=None)
        case ProbeDegraded(reason=reason):
            state = _on_ready(state, now, policy, degraded_reason=reason)
        case ProbeStarting(progressed=progressed):
            state = _on_starting(state, now, progressed)
        case ProbeFailed(reason=reason):
            state = _on_probe_failed(state, now, policy, reason)
        case ProcessExited(cause=cause, detail=detail, blocking=True):
            state = _block(state, now, policy, f"exited: {cause}" + (f" ({detail})" if detail else ""))
        case ProcessExited(cause=cause, detail=detail):
            state = _on_exit(state, now, policy, cause, detail)
        case Rechecked(blocking=True, detail=detail):
            if state.phase == Phase.BLOCKED:
                state = replace(state, next_check_at=now + policy.blocked_recheck, reason=detail or state.reason)
        case Rechecked(blocking=False):
            if state.phase == Phase.BLOCKED:
                state = replace(state, next_check_at=None)
                state = _schedule(state, now, "the blocking cause cleared", "unblocked", state.config)
        case RestartFinished(ok=ok, error=error):
            # The stall timer starts when the new process does, not when the stop began.
            state = replace(state, restart_in_flight=False, last_progress_at=now)
            if not ok:
                state = _fail(state, now, policy, f"restart failed: {error}", cause="restart_failed")
        case UserConfigChanged(valid=valid):
            state = _on_user_config(state, now, valid)
        case RestartRequested(requested_by=who):
            state = _schedule(state, now, f"restart requested by {who}", "requested", state.config)

    middle = (state.phase, state.reason)
    state, actions = _maybe_restart(state, now, policy)
    if not actions and state.phase == Phase.BLOCKED and state.next_check_at is not None and now >= state.next_check_at:
        state = replace(state, next_check_at=None)
        actions = [Recheck()]
    if middle[0] not in (original_phase, state.phase):
        state = replace(state, passed_through=(middle,))
    return state, actions


def _enter(state: State, phase: Phase, now: float, reason: str) -> State:
    if phase == state.phase:
        return replace(state, reason=reason)
    return replace(state, phase=phase, since=now, reason=reason)


def _schedule(state: State, at: float, reason: str, cause: str, config: ConfigMode) -> State:
    return replace(
        state, next_restart_at=at, next_restart_reason=reason, next_restart_cause=cause, next_restart_config=config
    )


def _on_tick(state: State, now: float, policy: Policy) -> State:
    if state.phase in WAITING_PHASES and not state.restart_in_flight:
        waited_since = max(state.since, state.last_progress_at)
        if now - waited_since > policy.stall_timeout:
            return _fail(state, now, policy, f"no startup progress for {policy.stall_timeout:g}s", cause="stalled")

    if state.phase in UP_PHASES and state.healthy_since is not None:
        if state.streak and now - state.healthy_since >= policy.stable_after:
            state = replace(state, streak=0, backoff_delay=0.0)

    return state


def _on_ready(state: State, now: float, policy: Policy, degraded_reason: str | None) -> State:
    if state.restart_in_flight:
        return state

    if state.phase in (Phase.DOWN, Phase.GAVE_UP, Phase.BLOCKED):
        # Prometheus came back without us (another supervisor, an operator).
        state = replace(state, next_restart_at=None, next_check_at=None)

    recovery = state.last_recovery_seconds
    if state.down_since is not None:
        recovery = now - state.down_since

    state = replace(
        state,
        probe_failures=0,
        half_open=False,
        user_config_trial=False,
        config_failures=0 if state.config == "user" else state.config_failures,
        healthy_since=state.healthy_since if state.phase in UP_PHASES else now,
        down_since=None,
        last_recovery_seconds=recovery,
    )

    if state.config == "fallback":
        reason = "running on the fallback config because the user's config cannot start"
        return _enter(state, Phase.FALLBACK, now, reason)
    if degraded_reason is not None:
        return _enter(state, Phase.DEGRADED, now, degraded_reason)
    return _enter(state, Phase.HEALTHY, now, "ready")


def _on_starting(state: State, now: float, progressed: bool) -> State:
    if state.phase in UP_PHASES:
        # Ready went away without an exit we saw: Prometheus restarted under us.
        state = replace(state, last_progress_at=now, healthy_since=None)
        return _enter(state, Phase.STARTING, now, "restarted by someone else; waiting for ready")
    if progressed and state.phase in WAITING_PHASES:
        return replace(state, last_progress_at=now)
    return state


def _on_probe_failed(state: State, now: float, policy: Policy, reason: str) -> State:
    if state.phase not in UP_PHASES:
        # While starting, refused connections are normal; the stall timer decides.
        return state

    failures = state.probe_failures + 1
    state = replace(state, probe_failures=failures)
    if failures >= policy.failure_threshold:
        return _fail(state, now, policy, reason, cause="probe")
    if state.config == "fallback":
        return state
    return _enter(state, Phase.DEGRADED, now, f"{reason} ({failures}/{policy.failure_threshold} failed rounds)")


def _on_exit(state: State, now: float, policy: Policy, cause: str, detail: str) -> State:
    reason = f"exited: {cause}" + (f" ({detail})" if detail else "")
    return _fail(state, now, policy, reason, cause=cause)


def _on_user_config(state: State, now: float, valid: bool) -> State:
    if state.config != "fallback" or not valid or state.phase == Phase.BLOCKED:
        return state
    return _schedule(state, now, "user config fixed; switching back from the fallback", "switch_back", "user")


def _block(state: State, now: float, policy: Policy, reason: str) -> State:
    """Stop restarting: record the failure and wait for the cause to clear."""
    state = replace(
        state,
        probe_failures=0,
        healthy_since=None,
        down_since=state.down_since if state.down_since is not None else now,
        last_failure=reason,
        half_open=False,
        user_config_trial=False,
        next_restart_at=None,
        next_check_at=now + policy.blocked_recheck,
    )
    return _enter(state, Phase.BLOCKED, now, reason)


def _fail(state: State, now: float, policy: Policy, reason: str, cause: str) -> State:
    """Record a failure and schedule the next restart (or the fallback, or the open circuit)."""
    streak = state.streak + 1
    config_failures = state.config_failures + 1 if cause == "config" and state.config == "user" else 0
    seed, random_value = next_random(state.seed)

    state = replace(
        state,
        streak=streak,
        config_failures=config_failures,
        probe_failures=0,
        healthy_since=None,
        down_since=state.down_since if state.down_since is not None else now,
        last_failure=reason,
        seed=seed,
    )

    config, restart_reason, restart_cause, immediate = state.config, reason, cause, False
    if state.user_config_trial and cause == "config":
        config, restart_reason, restart_cause, immediate = (
            "fallback", "user config still cannot start; back to the fallback", "fallback", True,
        )
    elif policy.fallback_enabled and state.config == "user" and config_failures >= policy.fallback_after:
        restart_reason = f"config failed {config_failures} starts in a row; starting on the fallback"
        config, restart_cause, immediate = "fallback", "fallback", True
    state = replace(state, user_config_trial=False)

    if state.half_open:
        reopen_at = budget_reopens_at(policy, state.restart_times, now)
        state = _schedule(replace(state, half_open=False), reopen_at, "half-open retry", "half_open", config)
        return _enter(state, Phase.GAVE_UP, now, f"half-open retry failed: {reason}")

    delay = 0.0 if immediate else backoff_delay(policy, streak, random_value)
    state = replace(state, backoff_delay=delay)
    state = _schedule(state, now + delay, restart_reason, restart_cause, config)
    return _enter(state, Phase.DOWN, now, reason)


def _maybe_restart(state: State, now: float, policy: Policy) -> tuple[State, list[Action]]:
    """Run the scheduled restart once it is due, if none is in flight and the budget allows."""
    if state.next_restart_at is None or now < state.next_restart_at or state.restart_in_flight:
        return state, []

    half_open = state.phase == Phase.GAVE_UP
    if len(state.restart_times) >= policy.restart_budget:
        reopen_at = budget_reopens_at(policy, state.restart_times, now)
        reason = (
            f"restart budget exhausted: {len(state.restart_times)} restarts within "
            f"{policy.budget_window:g}s; last failure: {state.last_failure}"
        )
        state = _schedule(state, reopen_at, "half-open retry", "half_open", state.next_restart_config)
        return _enter(state, Phase.GAVE_UP, now, reason), []

    config = state.next_restart_config
    action = Restart(
        reason=state.next_restart_reason,
        cause=state.next_restart_cause,
        attempt=max(state.streak, 1),
        config=config,
        half_open=half_open,
    )
    state = replace(
        state,
        restart_times=state.restart_times + (now,),
        restart_in_flight=True,
        half_open=half_open,
        user_config_trial=state.config == "fallback" and config == "user",
        config=config,
        next_restart_at=None,
        last_progress_at=now,
        healthy_since=None,
    )
    return _enter(state, Phase.RECOVERING, now, action.reason), [action]
