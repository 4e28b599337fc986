"""Sessions, reminders and throttling rules: the decisions, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pbx_identity.domain.reminder import MAX_OPEN_RESETS, InvalidResetTokenError, PasswordReminder
from pbx_identity.domain.session import RefreshOutcome, Session
from pbx_identity.throttle import LoginThrottle, MemoryFailureStore

NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def a_session(version: int = 0) -> Session:
    session = Session("acct", "h0", NOW + timedelta(days=30), version)
    session.collect_events()
    return session


def test_a_refresh_rotates_and_the_old_token_then_revokes_the_family() -> None:
    session = a_session()
    assert session.refresh("h0", "h1", NOW + timedelta(days=30), NOW, 0) is RefreshOutcome.ROTATED
    assert session.token_hash == "h1"
    assert session.refresh("h0", "h2", NOW, NOW, 0) is RefreshOutcome.REUSED
    assert not session.active
    # the family is gone: even the newest token is refused now
    assert session.refresh("h1", "h3", NOW, NOW, 0) is RefreshOutcome.INVALID
    names = [type(e).__name__ for e in session.collect_events()]
    assert names == ["Rotated", "Revoked"]


@pytest.mark.parametrize(
    ("presented", "now", "version"),
    [
        ("unknown", NOW, 0),  # never issued
        ("h0", NOW + timedelta(days=31), 0),  # expired
        ("h0", NOW, 1),  # issued before a password change / logout-all
    ],
)
def test_an_invalid_refresh_changes_nothing(presented: str, now: datetime, version: int) -> None:
    session = a_session()
    assert session.refresh(presented, "h1", now, now, version) is RefreshOutcome.INVALID
    assert session.collect_events() == []
    assert session.active


def a_reminder() -> PasswordReminder:
    reminder = PasswordReminder("PBX00000001")
    reminder.collect_events()
    return reminder


def test_a_reset_token_works_once_and_only_before_it_expires() -> None:
    reminder = a_reminder()
    assert reminder.request("r1", "hash1", NOW + timedelta(minutes=30), NOW)
    assert reminder.request("r2", "hash2", NOW + timedelta(minutes=30), NOW)
    with pytest.raises(InvalidResetTokenError):
        reminder.use("r1", "wrong", NOW)
    reminder.use("r1", "hash1", NOW)
    with pytest.raises(InvalidResetTokenError):
        reminder.use("r1", "hash1", NOW)  # once
    with pytest.raises(InvalidResetTokenError):
        reminder.use("r2", "hash2", NOW + timedelta(minutes=31))  # expired
    with pytest.raises(InvalidResetTokenError):
        reminder.use("r3", "hash1", NOW)  # unknown request
    assert [type(e).__name__ for e in reminder.collect_events()] == ["Requested"] * 2 + ["Used"]


def test_reminders_stop_being_recorded_while_too_many_are_open() -> None:
    reminder = a_reminder()
    for i in range(MAX_OPEN_RESETS):
        assert reminder.request(f"r{i}", f"h{i}", NOW + timedelta(minutes=30), NOW)
    assert not reminder.request("extra", "hx", NOW + timedelta(minutes=30), NOW)
    # once they expire, a new one is fine again
    later = NOW + timedelta(minutes=31)
    assert reminder.request("again", "ha", later + timedelta(minutes=30), later)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_failures_from_one_address_slow_that_address_not_the_owner() -> None:
    clock = Clock()
    throttle = LoginThrottle(MemoryFailureStore(), clock)
    for _ in range(5):
        assert await throttle.retry_after("PBX1", "203.0.113.7") == 0
        await throttle.failed("PBX1", "203.0.113.7")
    assert await throttle.retry_after("PBX1", "203.0.113.7") == 1
    await throttle.failed("PBX1", "203.0.113.7")
    assert await throttle.retry_after("PBX1", "203.0.113.7") == 2  # growing
    assert await throttle.retry_after("PBX1", "198.51.100.1") == 0  # the owner elsewhere


async def test_at_most_a_hundred_failures_of_one_account_are_evaluated_without_delay() -> None:
    clock = Clock()
    throttle = LoginThrottle(MemoryFailureStore(), clock)
    for i in range(100):
        address = f"10.0.{i // 250}.{i % 250}"
        assert await throttle.retry_after("PBX1", address) == 0
        await throttle.failed("PBX1", address)
    wait = await throttle.retry_after("PBX1", "192.0.2.55")
    assert 0 < wait <= 30  # even a fresh address waits, briefly
    clock.now += wait
    assert await throttle.retry_after("PBX1", "192.0.2.55") == 0
    await throttle.succeeded("PBX1", "192.0.2.55")
    assert await throttle.retry_after("PBX1", "10.0.0.1") == 0  # a success clears the ID
