"""The correlation context: which request or message caused the work in progress.

The HTTP edge and the inbox set it; the event-store mapper stamps it on every
domain event recorded meanwhile, and the relay carries it into the AMQP headers.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Causation:
    correlation_id: str
    causation_id: str


_current: ContextVar[Causation | None] = ContextVar("pbx_causation", default=None)


def new_id() -> str:
    return str(uuid.uuid4())


def current() -> Causation | None:
    return _current.get()


@contextlib.contextmanager
def caused_by(correlation_id: str, causation_id: str) -> Iterator[Causation]:
    """Run a block of work as caused by the given request or message."""
    causation = Causation(correlation_id=correlation_id, causation_id=causation_id)
    token = _current.set(causation)
    try:
        yield causation
    finally:
        _current.reset(token)


def set_current(causation: Causation | None) -> None:
    _current.set(causation)
