"""The recovery state machine: event tables, and property tests of its invariants."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from promwatchd.machine import (
    Phase,
    ProbeDegraded,
    ProbeFailed,
    ProbeOk,
    ProbeStarting,
    ProcessExited,
    Recheck,
    Rechecked,
    Restart,
    RestartFinished,
    RestartRequested,
    Tick,
    UserConfigChanged,
    initial_state,
    step,
)
from promwatchd.policy import Policy

POLICY = Policy(
    failure_threshold=3,
    backoff_initial=1.0,
    backoff_multiplier=2.0,
    backoff_max=8.0,
    backoff_jitter=0.0,
    stable_after=60.0,
    restart_budget=3,
    budget_window=100.0,
    gave_up_cooldown=30.0,
    stall_timeout=20.0,
    fallback_after=2,
)


class Run:
    """Feeds events at given times and keeps every action, as the daemon would."""

    def __init__(self, policy: Policy = POLICY, now: float = 0.0) -> None:
        self.policy = policy
        self.now = now
        self.state = initial_state(now)
        self.actions: list[Restart] = []

    def at(self, now: float, *events) -> list[Restart]:
        self.now = now
        new_actions: list[Restart] = []
        for event in events:
            self.state, actions = step(self.state, event, now, self.policy)
            new_actions.extend(actions)
        self.actions.extend(new_actions)
        return new_actions

    def recover(self, now: float) -> None:
        """Finish the in-flight restart and report ready."""
        self.at(now, RestartFinished(ok=True), ProbeOk())


def test_start_ready_is_healthy():
    run = Run()
    run.at(1.0, ProbeStarting(progressed=True), ProbeOk())
    assert run.state.phase == Phase.HEALTHY
    assert run.actions == []


def test_crash_restarts_immediately():
    run = Run()
    run.at(1.0, ProbeOk())
    actions = run.at(5.0, ProcessExited("killed"))
    assert [a.cause for a in actions] == ["killed"]
    assert run.state.phase == Phase.RECOVERING
    assert run.state.restart_in_flight


def test_recovery_time_is_measured():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(5.0, ProcessExited("crash"))
    run.recover(7.5)
    assert run.state.phase == Phase.HEALTHY
    assert run.state.last_recovery_seconds == 2.5


def test_second_failure_waits_backoff():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(5.0, ProcessExited("crash"))
    run.recover(6.0)
    actions = run.at(7.0, ProcessExited("crash"))
    assert actions == []
    assert run.state.phase == Phase.DOWN
    assert run.state.next_restart_at == 8.0
    assert run.at(7.9, Tick()) == []
    assert len(run.at(8.0, Tick())) == 1


def test_probe_failures_below_threshold_degrade():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProbeFailed("query failed"))
    run.at(3.0, ProbeFailed("query failed"))
    assert run.state.phase == Phase.DEGRADED
    assert run.actions == []


def test_probe_failures_at_threshold_restart():
    run = Run()
    run.at(1.0, ProbeOk())
    actions = run.at(2.0, ProbeFailed("hung"), ProbeFailed("hung"), ProbeFailed("hung"))
    assert [a.cause for a in actions] == ["probe"]


def test_probe_ok_resets_failure_count():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProbeFailed("x"), ProbeFailed("x"), ProbeOk(), ProbeFailed("x"), ProbeFailed("x"))
    assert run.actions == []
    assert run.state.probe_failures == 2


def test_degraded_probe_does_not_restart():
    run = Run()
    run.at(1.0, ProbeDegraded("the last config reload failed"))
    assert run.state.phase == Phase.DEGRADED
    assert run.actions == []


def test_refused_while_starting_is_ignored():
    run = Run()
    run.at(1.0, *[ProbeFailed("refused")] * 10)
    assert run.state.phase == Phase.STARTING
    assert run.actions == []


def test_progressing_start_is_not_a_failure():
    """A WAL replay slower than the stall timeout keeps going while it progresses."""
    run = Run()
    for second in range(1, 120):
        run.at(float(second), ProbeStarting(progressed=True), Tick())
    assert run.state.phase == Phase.STARTING
    assert run.actions == []


def test_stalled_start_restarts():
    run = Run()
    run.at(5.0, ProbeStarting(progressed=True))
    assert run.at(25.0, Tick()) == []
    actions = run.at(25.1, Tick())
    assert [a.cause for a in actions] == ["stalled"]


def test_budget_exhausted_gives_up():
    run = Run()
    run.at(1.0, ProbeOk())
    for second in (10.0, 20.0, 30.0):
        run.at(second, ProcessExited("crash"))
        run.at(second + 9, Tick())
        run.recover(second + 9.5)
    run.at(40.0, ProcessExited("crash"))
    run.at(50.0, Tick())
    assert run.state.phase == Phase.GAVE_UP
    assert len(run.actions) == 3


def test_gave_up_retries_half_open():
    run = Run()
    run.at(1.0, ProbeOk())
    for second in (10.0, 20.0, 30.0):
        run.at(second, ProcessExited("crash"))
        run.at(second + 9, Tick())
        run.recover(second + 9.5)
    run.at(40.0, ProcessExited("crash"))
    run.at(50.0, Tick())
    reopen_at = run.state.next_restart_at
    assert reopen_at == max(50.0 + POLICY.gave_up_cooldown, 10.0 + POLICY.budget_window)
    assert run.at(reopen_at - 0.1, Tick()) == []
    actions = run.at(reopen_at, Tick())
    assert [a.half_open for a in actions] == [True]


def test_half_open_failure_reopens_circuit():
    run = Run(replace(POLICY, restart_budget=1))
    run.at(1.0, ProbeOk())
    run.at(2.0, ProcessExited("crash"))
    run.recover(3.0)
    run.at(4.0, ProcessExited("crash"))
    run.at(20.0, Tick())
    assert run.state.phase == Phase.GAVE_UP
    run.at(run.state.next_restart_at, Tick())
    assert run.state.half_open
    run.at(run.now + 1, RestartFinished(ok=True), ProcessExited("crash"))
    assert run.state.phase == Phase.GAVE_UP
    assert not run.state.half_open


def test_half_open_success_closes_circuit():
    run = Run(replace(POLICY, restart_budget=1))
    run.at(1.0, ProbeOk())
    run.at(2.0, ProcessExited("crash"))
    run.recover(3.0)
    run.at(4.0, ProcessExited("crash"))
    run.at(20.0, Tick())
    run.at(run.state.next_restart_at, Tick())
    run.recover(run.now + 1)
    assert run.state.phase == Phase.HEALTHY
    assert not run.state.half_open


def test_config_failures_go_to_fallback():
    run = Run()
    first = run.at(1.0, ProcessExited("config"))
    assert [a.config for a in first] == ["user"]
    second = run.at(1.5, RestartFinished(ok=True), ProcessExited("config"))
    assert [a.config for a in second] == ["fallback"]
    run.recover(2.0)
    assert run.state.phase == Phase.FALLBACK
    assert run.state.fallback_active


def test_fallback_switches_back_when_fixed():
    run = Run()
    run.at(1.0, ProcessExited("config"))
    run.at(1.5, RestartFinished(ok=True), ProcessExited("config"))
    run.recover(2.0)
    actions = run.at(10.0, UserConfigChanged(valid=True))
    assert [(a.config, a.cause) for a in actions] == [("user", "switch_back")]
    run.recover(11.0)
    assert run.state.phase == Phase.HEALTHY
    assert not run.state.fallback_active


def test_fallback_stays_on_invalid_change():
    run = Run()
    run.at(1.0, ProcessExited("config"))
    run.at(1.5, RestartFinished(ok=True), ProcessExited("config"))
    run.recover(2.0)
    assert run.at(10.0, UserConfigChanged(valid=False)) == []
    assert run.state.phase == Phase.FALLBACK


def test_failed_switch_back_returns_to_fallback():
    run = Run(replace(POLICY, restart_budget=5))
    run.at(1.0, ProcessExited("config"))
    run.at(1.5, RestartFinished(ok=True), ProcessExited("config"))
    run.recover(2.0)
    run.at(10.0, UserConfigChanged(valid=True))
    actions = run.at(10.5, RestartFinished(ok=True), ProcessExited("config"))
    assert [a.config for a in actions] == ["fallback"]


def test_crash_breaks_config_failure_run():
    run = Run()
    run.at(1.0, ProcessExited("config"))
    run.at(1.5, RestartFinished(ok=True), ProcessExited("crash"))
    run.at(5.0, Tick())
    run.at(5.5, RestartFinished(ok=True), ProcessExited("config"))
    assert all(a.config == "user" for a in run.actions)


def test_fallback_disabled_keeps_user_config():
    run = Run(replace(POLICY, fallback_enabled=False, restart_budget=10))
    for second in range(1, 8):
        run.at(float(second * 20), RestartFinished(ok=True), ProcessExited("config"), Tick())
    assert all(a.config == "user" for a in run.actions)


def test_restart_failure_counts_as_failure():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProcessExited("crash"))
    run.at(2.1, RestartFinished(ok=False, error="binary vanished"))
    assert run.state.phase == Phase.DOWN
    assert "binary vanished" in run.state.last_failure


def test_requested_restart_obeys_budget():
    run = Run(replace(POLICY, restart_budget=1))
    run.at(1.0, ProbeOk())
    assert len(run.at(2.0, RestartRequested("test"))) == 1
    run.recover(3.0)
    assert run.at(4.0, RestartRequested("test")) == []
    assert run.state.phase == Phase.GAVE_UP


def test_backoff_resets_after_stable_period():
    run = Run()
    run.at(1.0, ProbeOk())
    for second in (10.0, 20.0):
        run.at(second, ProcessExited("crash"), Tick())
        run.at(second + 5, Tick())
        run.recover(second + 6)
    assert run.state.streak == 2
    run.at(26.0 + POLICY.stable_after, Tick())
    assert run.state.streak == 0


def test_external_restart_waits_for_ready():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProbeStarting(progressed=True))
    assert run.state.phase == Phase.STARTING
    assert run.actions == []


def test_recovers_without_us_from_down():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProcessExited("crash"))
    run.recover(3.0)
    run.at(4.0, ProcessExited("crash"))
    assert run.state.phase == Phase.DOWN
    run.at(4.2, ProbeOk())
    assert run.state.phase == Phase.HEALTHY
    assert run.state.next_restart_at is None


# Property tests ---------------------------------------------------------------

EVENTS = st.one_of(
    st.just(Tick()),
    st.just(ProbeOk()),
    st.builds(ProbeDegraded, st.sampled_from(["reload failed", "stalled"])),
    st.builds(ProbeStarting, st.booleans()),
    st.builds(ProbeFailed, st.sampled_from(["timeout", "refused"])),
    st.builds(ProcessExited, st.sampled_from(["config", "crash", "killed", "oom"])),
    st.builds(ProcessExited, st.sampled_from(["disk_full", "lock_held"]), st.just(""), st.booleans()),
    st.builds(Rechecked, st.booleans()),
    st.builds(RestartFinished, st.booleans()),
    st.builds(UserConfigChanged, st.booleans()),
    st.just(RestartRequested("property")),
)
POLICIES = st.builds(
    Policy,
    failure_threshold=st.integers(1, 5),
    backoff_initial=st.floats(0.1, 10),
    backoff_multiplier=st.floats(1.0, 4.0),
    backoff_max=st.floats(10, 120),
    backoff_jitter=st.floats(0.0, 0.9),
    stable_after=st.floats(0, 300),
    restart_budget=st.integers(1, 6),
    budget_window=st.floats(10, 600),
    gave_up_cooldown=st.floats(1, 600),
    stall_timeout=st.floats(1, 120),
    fallback_after=st.integers(1, 4),
    fallback_enabled=st.booleans(),
)
TIMELINES = st.lists(st.tuples(st.floats(0, 50), EVENTS), min_size=1, max_size=200)


def _play(policy: Policy, timeline, with_events: bool = False):
    """Yield (now, state before, state after, actions[, event]) for each event.

    RestartFinished is only fed while a restart is in flight, as the daemon does.
    """
    now = 0.0
    state = initial_state(now)
    in_flight = False
    for gap, event in timeline:
        now += gap
        if isinstance(event, RestartFinished) and not in_flight:
            event = Tick()  # the daemon only reports a restart it started
        before = state
        state, actions = step(state, event, now, policy)
        if isinstance(event, RestartFinished):
            in_flight = False
        if any(isinstance(action, Restart) for action in actions):
            in_flight = True
        if with_events:
            yield now, before, state, actions, event
        else:
            yield now, before, state, actions


@settings(max_examples=300, deadline=None)
@given(POLICIES, TIMELINES)
def test_restarts_per_window_within_budget(policy, timeline):
    restart_times: list[float] = []
    for now, _, _, actions in _play(policy, timeline):
        restart_times.extend(now for action in actions if isinstance(action, Restart))
    for i, start in enumerate(restart_times):
        in_window = [t for t in restart_times[i:] if t - start < policy.budget_window]
        assert len(in_window) <= policy.restart_budget


@settings(max_examples=300, deadline=None)
@given(POLICIES, TIMELINES)
def test_backoff_never_above_cap(policy, timeline):
    for _, _, state, _ in _play(policy, timeline):
        assert 0.0 <= state.backoff_delay <= policy.backoff_max


@settings(max_examples=300, deadline=None)
@given(POLICIES, TIMELINES)
def test_one_restart_in_flight(policy, timeline):
    """A restart starts only when none runs, or in the step that reports the last one finished."""
    for _, before, after, actions, event in _play(policy, timeline, with_events=True):
        restarts = [action for action in actions if isinstance(action, Restart)]
        assert len(restarts) <= 1
        if restarts:
            assert not before.restart_in_flight or isinstance(event, RestartFinished)
            assert after.restart_in_flight


@settings(max_examples=200, deadline=None)
@given(POLICIES, TIMELINES)
def test_gave_up_schedules_retry(policy, timeline):
    for now, _, state, _ in _play(policy, timeline):
        if state.phase == Phase.GAVE_UP:
            assert state.next_restart_at is not None
            assert state.next_restart_at >= now


@settings(max_examples=200, deadline=None)
@given(POLICIES, TIMELINES)
def test_fallback_only_after_config_failures(policy, timeline):
    for _, before, _, actions in _play(policy, timeline):
        for action in actions:
            if isinstance(action, Restart) and action.config == "fallback" and before.config == "user":
                assert policy.fallback_enabled


@settings(max_examples=200, deadline=None)
@given(POLICIES, TIMELINES)
def test_blocked_never_restarts_by_itself(policy, timeline):
    """From blocked, a restart needs a cleared recheck, an operator, or a new exit diagnosed as restartable."""
    for _, before, after, actions, event in _play(policy, timeline, with_events=True):
        if before.phase == Phase.BLOCKED and any(isinstance(a, Restart) for a in actions):
            assert isinstance(event, (Rechecked, RestartRequested, ProcessExited, RestartFinished))
            if isinstance(event, ProcessExited):
                assert not event.blocking
            if isinstance(event, RestartFinished):
                # A request or a cleared block waited for the restart in flight to finish.
                assert before.next_restart_cause in ("requested", "unblocked")


def test_stall_timer_starts_after_restart():
    """A long stop (the grace period) does not eat into the new process's stall timeout."""
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProcessExited("crash"))
    run.at(52.0, RestartFinished(ok=True))
    assert run.at(71.0, Tick()) == []
    assert run.state.phase == Phase.RECOVERING


def test_immediate_restart_passes_through_down():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProcessExited("killed"))
    assert run.state.phase == Phase.RECOVERING
    assert [phase for phase, _ in run.state.passed_through] == [Phase.DOWN]


def test_passed_through_cleared_next_step():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProcessExited("killed"))
    run.at(2.1, Tick())
    assert run.state.passed_through == ()


def test_blocking_exit_does_not_restart():
    run = Run()
    run.at(1.0, ProbeOk())
    actions = run.at(2.0, ProcessExited("disk_full", "no space left on device", blocking=True))
    assert actions == []
    assert run.state.phase == Phase.BLOCKED
    assert run.state.next_check_at == 2.0 + POLICY.blocked_recheck


def test_blocked_rechecks_periodically():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProcessExited("lock_held", blocking=True))
    assert run.at(2.0 + POLICY.blocked_recheck - 0.1, Tick()) == []
    assert run.at(2.0 + POLICY.blocked_recheck, Tick()) == [Recheck()]
    assert run.at(40.0, Tick()) == []
    run.at(41.0, Rechecked(blocking=True, detail="still locked"))
    assert run.state.phase == Phase.BLOCKED
    assert run.state.next_check_at == 41.0 + POLICY.blocked_recheck


def test_cleared_block_restarts():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProcessExited("port_in_use", blocking=True))
    run.at(32.0, Tick())
    actions = run.at(33.0, Rechecked(blocking=False))
    assert [a.cause for a in actions] == ["unblocked"]
    assert run.state.phase == Phase.RECOVERING


def test_blocked_clears_when_ready():
    run = Run()
    run.at(1.0, ProbeOk())
    run.at(2.0, ProcessExited("port_in_use", blocking=True))
    run.at(5.0, ProbeOk())
    assert run.state.phase == Phase.HEALTHY
    assert run.state.next_check_at is None
