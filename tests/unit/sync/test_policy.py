"""Retry policy and rate limiter as data and arithmetic (a hand-driven clock, no waiting)."""

from __future__ import annotations

import random

import pytest

from connector.sync.jobs import RetryPolicy
from connector.sync.ratelimit import RateLimit, TokenBucket


def test_backoff_doubles_within_equal_jitter_bounds() -> None:
    policy = RetryPolicy(backoff_min=2.0, backoff_max=900.0)
    rng = random.Random(7)
    delays = [policy.delay(attempt, rng=rng) for attempt in (1, 2, 3, 4)]
    for attempt, delay in zip((1, 2, 3, 4), delays, strict=True):
        base = 2.0 * 2 ** (attempt - 1)
        assert base / 2 <= delay <= base


def test_backoff_never_exceeds_the_maximum() -> None:
    policy = RetryPolicy(backoff_min=2.0, backoff_max=60.0)
    assert policy.delay(30) <= 60.0


def test_retry_after_is_used_as_given() -> None:
    assert RetryPolicy().delay(5, retry_after=7.0) == 7.0


def test_absurd_retry_after_is_capped() -> None:
    assert RetryPolicy(retry_after_max=3600).delay(1, retry_after=86400 * 30) == 3600


def test_policy_is_exhausted_at_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert (policy.exhausted(2), policy.exhausted(3)) == (False, True)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_admits_a_full_burst_at_once() -> None:
    bucket = TokenBucket(RateLimit(2, 50), clock=Clock())
    assert [bucket.wait_time() for _ in range(50)] == [0.0] * 50


def test_empty_bucket_waits_one_token_interval() -> None:
    bucket = TokenBucket(RateLimit(2, 50), clock=Clock())
    for _ in range(50):
        bucket.wait_time()
    assert bucket.wait_time() == pytest.approx(0.5)


def test_bucket_refills_at_the_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(RateLimit(7, 7), clock=clock)
    for _ in range(7):
        bucket.wait_time()
    clock.now += 1.0
    assert [bucket.wait_time() for _ in range(7)] == [0.0] * 7
    assert bucket.wait_time() > 0


def test_rate_limit_rejects_a_zero_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimit(0, 1)
