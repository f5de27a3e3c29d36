"""Backoff arithmetic and the restart budget's reopening time."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from promwatchd.policy import Policy, backoff_delay, budget_reopens_at, next_random, prune_window

POLICY = Policy(backoff_initial=1.0, backoff_multiplier=2.0, backoff_max=60.0, backoff_jitter=0.0)


def test_first_restart_immediate():
    assert backoff_delay(POLICY, 1, 0.5) == 0.0


def test_backoff_doubles():
    delays = [backoff_delay(POLICY, n, 0.0) for n in range(2, 7)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_backoff_capped():
    assert backoff_delay(POLICY, 50, 0.0) == 60.0


def test_huge_streak_does_not_overflow():
    assert backoff_delay(POLICY, 10**9, 0.0) == 60.0


def test_jitter_only_shortens():
    policy = Policy(backoff_initial=4.0, backoff_max=60.0, backoff_jitter=0.25)
    assert backoff_delay(policy, 2, 0.0) == 4.0
    assert backoff_delay(policy, 2, 0.999) > 3.0
    assert backoff_delay(policy, 2, 0.999) < 4.0


@given(st.integers(0, 2**64 - 1))
def test_random_in_unit_interval(seed):
    new_seed, value = next_random(seed)
    assert 0.0 <= value < 1.0
    assert new_seed != 0


def test_random_is_deterministic():
    assert next_random(12345) == next_random(12345)


def test_prune_window_drops_old():
    assert prune_window((1.0, 50.0, 99.0), now=100.0, window=50.0) == (99.0,)


def test_reopen_waits_for_cooldown():
    policy = Policy(restart_budget=3, budget_window=100.0, gave_up_cooldown=30.0)
    assert budget_reopens_at(policy, (0.0, 1.0, 2.0), now=90.0) == 120.0


def test_reopen_waits_for_window_room():
    policy = Policy(restart_budget=3, budget_window=100.0, gave_up_cooldown=30.0)
    assert budget_reopens_at(policy, (50.0, 51.0, 52.0), now=60.0) == 150.0
