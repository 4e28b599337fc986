"""The base of every service's application: a process recorder (the inbox's one
transaction), a mapper that stamps each recorded domain event with the correlation
context (``pbx_events.context``), deferred saves, and load-decide-save with retries."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from datetime import date
from typing import Any, TypeVar

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import MutableOrImmutableAggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Tracking,
    Transcoding,
)

from pbx_events import context
from pbx_events.store.recorders import PerMessagePOPOProcessRecorder

META_KEY = "_pbx_meta"

A = TypeVar("A", bound=MutableOrImmutableAggregate[Any])
T = TypeVar("T")


class DateAsISO(Transcoding):
    """Calendar dates (a document's expiry, an approval's end) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class CausationMapper(Mapper[Any]):
    """Stores the correlation context with each domain event (inside the encrypted state)."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if META_KEY not in vars(domain_event):
            causation = context.current()
            if causation is not None:
                object.__setattr__(
                    domain_event,
                    META_KEY,
                    {
                        "correlation_id": causation.correlation_id,
                        "causation_id": causation.causation_id,
                    },
                )
        return super().to_stored_event(domain_event)


def event_meta(domain_event: object) -> dict[str, str]:
    meta = vars(domain_event).get(META_KEY)
    return dict(meta) if isinstance(meta, dict) else {}


#: the aggregates ``save`` collected instead of recording them (inside ``deferred_saves``)
_deferred: ContextVar[list[Any] | None] = ContextVar("pbx_deferred_saves", default=None)


@contextlib.contextmanager
def deferred_saves() -> Iterator[list[Any]]:
    """Inside, ``ServiceApplication.save`` collects the aggregates instead of recording
    them: the inbox then records them with the tracking of the message that caused them,
    in one transaction. So a consumer calls the same application method as an HTTP
    route (load → decide → save), and the message still takes effect exactly once."""
    collected: list[Any] = []
    token = _deferred.set(collected)
    try:
        yield collected
    finally:
        _deferred.reset(token)


class ServiceApplication(Application[Any]):
    """Base of every service's application: process recorder, causation mapper."""

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        """Record the aggregates' new events (collected instead inside ``deferred_saves``)."""
        collected = _deferred.get()
        if collected is not None:
            collected.extend(obj for obj in objs if obj is not None)
            return []
        return super().save(*objs, **kwargs)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def construct_mapper(self) -> Mapper[Any]:
        return self.factory.mapper(
            transcoder=self.construct_transcoder(), mapper_class=CausationMapper
        )

    def construct_recorder(self) -> Any:
        if self.env.get("PERSISTENCE_MODULE", "") in ("", "eventsourcing.popo"):
            return PerMessagePOPOProcessRecorder()
        return self.factory.process_recorder()

    def change(
        self,
        load: Callable[[], A],
        decide: Callable[[A], T],
        also: Callable[[], Sequence[Any]] = tuple,
        attempts: int = 100,
    ) -> T:
        """Load, decide, save with optimistic concurrency: after a lost race (another
        writer saved the aggregate first) load the new version and decide again."""
        for attempt in range(attempts):
            aggregate = load()
            result = decide(aggregate)
            try:
                self.save(aggregate, *also())
            except IntegrityError:
                time.sleep(random.uniform(0, 0.002 * min(attempt + 1, 10)))
                continue
            return result
        raise RuntimeError(f"{type(self).__name__}: gave up after {attempts} lost races")

    def save_tracked(
        self,
        tracking: Tracking,
        *objs: MutableOrImmutableAggregate[Any] | None,
    ) -> None:
        """Save new events and the record of the message that caused them, atomically."""
        processing_event: ProcessingEvent[Any] = ProcessingEvent(tracking=tracking)
        processing_event.collect_events(*objs)
        recordings = self._record(processing_event)
        self._notify(recordings)

    def save_tracked_many(self, trackings: Sequence[Tracking], events: Sequence[Any]) -> None:
        """Save the events of several messages and their tracking records, atomically."""
        processing_event: ProcessingEvent[Any] = ProcessingEvent()
        processing_event.collect_events(*events, trackings=list(trackings))
        recordings = self._record(processing_event)
        self._notify(recordings)

    def tracked_among(self, trackings: Sequence[Tracking]) -> set[Tracking]:
        recorder: Any = self.recorder
        return set(recorder.tracked_among(trackings))

    def is_tracked(self, tracking: Tracking) -> bool:
        recorder: Any = self.recorder
        return bool(recorder.tracking_exists(tracking.application_name, tracking.notification_id))

    def save_position(self, name: str, position: int) -> None:
        """Record how far a follower of this application's log has got (the relay)."""
        recorder: Any = self.recorder
        if not self.is_tracked(Tracking(name, position)):
            recorder.insert_tracking(Tracking(name, position))

    def position(self, name: str) -> int:
        recorder: Any = self.recorder
        value = recorder.max_tracking_id(name)
        return int(value) if value is not None else 0

    def max_notification_id(self) -> int:
        return int(self.recorder.max_notification_id() or 0)

    def notifications_after(self, position: int, limit: int) -> Sequence[Any]:
        return self.recorder.select_notifications(
            start=position, limit=limit, inclusive_of_start=False
        )
