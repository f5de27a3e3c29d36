"""Recovery policy: backoff, restart budget and thresholds, as pure arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class Policy:
    """The knobs of the recovery state machine. All times are in seconds."""

    failure_threshold: int = 3
    """Consecutive failed probe rounds before a running Prometheus counts as down."""
    backoff_initial: float = 1.0
    """Delay before the second restart of a failure streak; the first is immediate."""
    backoff_multiplier: float = 2.0
    backoff_max: float = 60.0
    backoff_jitter: float = 0.2
    """Fraction of the delay removed at random, so that delays never exceed the cap."""
    stable_after: float = 300.0
    """Healthy time after which the failure streak (and so the backoff) resets."""
    restart_budget: int = 5
    """Restarts allowed within any ``budget_window``; one more opens the circuit."""
    budget_window: float = 600.0
    gave_up_cooldown: float = 300.0
    """Minimum wait in gave_up before one half-open retry."""
    stall_timeout: float = 60.0
    """A start that shows no progress for this long has failed."""
    fallback_after: int = 3
    """Consecutive exits caused by the config before Prometheus runs on the fallback config."""
    fallback_enabled: bool = True
    blocked_recheck: float = 30.0
    """How often a blocked Prometheus (full disk, held lock, taken port) is diagnosed again."""


def next_random(seed: int) -> tuple[int, float]:
    """Advance a xorshift64 generator and return (new seed, a float in [0, 1))."""
    x = seed & _MASK64 or 0x9E3779B97F4A7C15
    x ^= (x << 13) & _MASK64
    x ^= x >> 7
    x ^= (x << 17) & _MASK64
    return x, (x >> 11) / float(1 << 53)


def backoff_delay(policy: Policy, failures: int, random_value: float) -> float:
    """Return the wait before restart number ``failures`` of a failure streak.

    The first restart is immediate, because most crashes are one-off and the
    fastest recovery wins. From the second on, the delay grows geometrically
    from ``backoff_initial`` up to ``backoff_max``; jitter only shortens it.
    """
    if failures <= 1:
        return 0.0

    exponent = min(failures - 2, 64)
    delay = min(policy.backoff_max, policy.backoff_initial * policy.backoff_multiplier**exponent)
    return delay * (1.0 - policy.backoff_jitter * random_value)


def prune_window(restart_times: tuple[float, ...], now: float, window: float) -> tuple[float, ...]:
    """Keep the restart times that fall within the last ``window`` seconds."""
    return tuple(t for t in restart_times if now - t < window)


def budget_reopens_at(policy: Policy, restart_times: tuple[float, ...], now: float) -> float:
    """Return when a half-open retry may run: after the cool-down, and once the budget has room.

    Waiting for the oldest restart to leave the window keeps the budget true
    for the retry too: no window ever contains more than ``restart_budget``.
    """
    room_at = now
    excess = len(restart_times) - policy.restart_budget
    if excess >= 0:
        room_at = sorted(restart_times)[excess] + policy.budget_window
    return max(now + policy.gave_up_cooldown, room_at)
