"""One relay per service publishes at a time, however many replicas run: each holds out
for the service's advisory lock (``pbx_events.relay.Leadership``). The replicas here are
real processes on real PostgreSQL; the holder is killed with SIGKILL mid-stream and the
standby takes over within seconds, nothing lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pbx_events.envelope import stable_event_id
from pbx_events.store import ensure_schema, postgres_env

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
import leadership_worker  # noqa: E402  (the same aggregate topic as in the workers)

SCHEMA = "leaders"


def published(path: Path) -> list[tuple[int, str]]:
    if not path.exists():
        return []
    return [
        (int(pid), message_id)
        for pid, message_id in (line.split() for line in path.read_text().splitlines())
    ]


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> float:
    """Seconds it took for ``check()`` to hold."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def replicas(
    fresh_database_url: str, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    out = tmp_path / "published.txt"

    def start() -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), *sys.path])}
        process = subprocess.Popen(  # our own interpreter and module
            [
                sys.executable,
                "-c",
                "import leadership_worker; leadership_worker.main()",
                fresh_database_url,
                SCHEMA,
                str(out),
            ],
            env=env,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def test_two_replicas_publish_each_message_once_and_the_standby_takes_over_a_killed_holder(
    fresh_database_url: str, tmp_path: Path, replicas: Callable[[], subprocess.Popen[bytes]]
) -> None:
    out = tmp_path / "published.txt"
    ensure_schema(fresh_database_url, SCHEMA)
    app = leadership_worker.SignupApp(postgres_env(fresh_database_url, SCHEMA))
    ids = [app.register(f"PBX{i:05d}") for i in range(40)]
    first = replicas()
    wait_until(lambda: len(published(out)) >= 5)  # the first holds the lock
    second = replicas()
    time.sleep(1.0)  # the second is up, a standby

    # more arrive while the holder publishes; it is killed mid-stream
    ids += [app.register(f"PBX{i:05d}") for i in range(40, 120)]
    wait_until(lambda: len(published(out)) >= 50)
    before_kill = published(out)
    assert {pid for pid, _ in before_kill} == {first.pid}, "the standby published"
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed_at = len(published(out))

    # the standby takes over within seconds; everything is published
    expected = {stable_event_id(i, 1, "identity.AccountRegistered.v1") for i in ids}
    took = wait_until(lambda: {m for _, m in published(out)} >= expected, timeout=60)
    after_kill = published(out)[killed_at:]
    assert after_kill and {pid for pid, _ in after_kill} == {second.pid}
    assert took < 15, f"the standby took {took:.1f} s to take over and finish"
    # a batch in flight when the holder died may be published again (at-least-once): at
    # most one batch of 5, never more
    twice = [m for m, n in Counter(m for _, m in published(out)).items() if n > 1]
    assert len(twice) <= 5
    assert second.poll() is None
