"""The durable event log: what the loyalty engine (and, through the same functions, the higher
apps) announces, and how the higher apps read it.

Writing. ``event_record`` appends one row to ``members_event`` *in the caller's transaction*, so an
event exists exactly when the change it describes committed: a process that dies after the commit
loses nothing, and a rolled-back change leaves no event. The set-based paths (batches, imports,
nightly jobs) write theirs with ``event_record_many`` (one COPY).

Reading. A higher app registers a named consumer from its ``AppConfig.ready()``::

    events.consumer_register("campaigns.journeys", handle, types={events.ORDER_INGESTED})

and the periodic task ``members.tasks.events_dispatch`` delivers: each consumer's handler gets the
new events in batches, inside one transaction with the consumer's position, so a handler that
fails (or a worker that is killed) leaves the position where it was and the batch comes again.
Every event reaches every consumer at least once; a handler whose writes are in that transaction,
or carry their own unique key, sees it effectively once.

Why not "every id above the last one seen": ids are drawn when a row is inserted but become
visible when its transaction commits, so a long transaction can commit id 10 after id 11 was read,
and a bare cursor would skip it. Each event carries its transaction's id (``xid``), and a consumer
reads only events of transactions older than every transaction still running
(``pg_snapshot_xmin``): all of those are finished, so none can appear behind the position later.

Order per member. A member's events are delivered in id order, which is the order in which they
happened: every change to a member holds the member's row lock until it commits
(``members.services.member_lock``, or the row UPDATE of a set-based path), so a change that follows
another one draws its id after the first one committed. Reading by
transaction age alone could hand over a member's later event first (its transaction started
earlier), so a batch also takes the member's earlier committed events still ahead of the position,
remembers them (``EventEarlyDelivery``) and skips them when the position reaches them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

logger = logging.getLogger("scrm.events")

# --- The members app's events ------------------------------------------------------------------

MEMBER_ENROLLED = "member_enrolled"
MEMBER_HANDED_OVER = "member_handed_over"
MEMBER_ERASED = "member_erased"
ORDER_INGESTED = "order_ingested"
ORDER_REFUNDED = "order_refunded"
TIER_CHANGED = "tier_changed"
TIER_DOWNGRADE_PENDING = "tier_downgrade_pending"
MILESTONE_REACHED = "milestone_reached"
GIFT_GRANTED = "gift_granted"
VOUCHER_ISSUED = "voucher_issued"
VOUCHER_REDEEMED = "voucher_redeemed"
POINTS_EXPIRING = "points_expiring"
LIFECYCLE_CHANGED = "lifecycle_changed"

# Every known type and what its payload holds. Higher apps add theirs (``event_types_register``);
# recording an unknown type is a programming error.
_types: dict[str, str] = {
    MEMBER_ENROLLED: "store, channel",
    MEMBER_HANDED_OVER: "from_owner_id, to_owner_id, handover",
    MEMBER_ERASED: "",
    ORDER_INGESTED: "order_id, total, events",
    ORDER_REFUNDED: "order_id, refund_id, amount",
    TIER_CHANGED: "from_code, to_code, cause, order_id",
    TIER_DOWNGRADE_PENDING: "from_code, to_code, due_at",
    MILESTONE_REACHED: "milestone_code, order_id",
    GIFT_GRANTED: "gift_id, milestone_code",
    VOUCHER_ISSUED: "voucher_code, template, source",
    VOUCHER_REDEEMED: "voucher_code, order_id",
    POINTS_EXPIRING: "points, expires_at",
    LIFECYCLE_CHANGED: "from_stage, to_stage",
}


def event_types_register(types: Mapping[str, str]) -> None:
    """Higher apps declare their own event types (name: what the payload holds)."""
    _types.update(types)


def event_types() -> dict[str, str]:
    return dict(_types)


def _check_type(type_: str) -> None:
    if type_ not in _types:
        raise ValueError(f"unknown event type {type_!r}: declare it with event_types_register")


def _json(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False)


def event_record(
    type_: str, *, member_id: int | None, occurred_at: datetime | None = None, **payload: Any
) -> None:
    """Append one event in the current transaction (call it inside the change's transaction)."""
    _check_type(type_)
    at = occurred_at or timezone.now()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO members_event (type, member_id, payload, occurred_at, xid)"
                " VALUES (%s, %s, %s::jsonb, %s, pg_current_xact_id()::text::bigint)",
                [type_, member_id, _json(payload), at],
            )
        return
    from members.models import Event

    Event.objects.create(
        type=type_, member_id=member_id, payload=json.loads(_json(payload)), occurred_at=at
    )


SMALL = 50  # up to this many events are written with one INSERT, more with COPY


def event_record_many(
    rows: Iterable[tuple[str, int | None, Mapping[str, Any], datetime | None]],
) -> int:
    """Append many events at once: (type, member id, payload, occurred at) each. One COPY on
    PostgreSQL, in the current transaction. Returns how many."""
    from members.models import Event

    now = timezone.now()
    prepared: list[tuple[str, int | None, str, datetime]] = []
    for type_, member_id, data, at in rows:
        _check_type(type_)
        prepared.append((type_, member_id, _json(data), at or now))
    if not prepared:
        return 0
    if connection.vendor == "postgresql" and len(prepared) <= SMALL:
        # An order's few events: one INSERT, one round trip.
        values = ", ".join(
            ["(%s, %s, %s::jsonb, %s, pg_current_xact_id()::text::bigint)"] * len(prepared)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO members_event (type, member_id, payload, occurred_at, xid)"  # noqa: S608
                f" VALUES {values}",
                [v for row in prepared for v in row],
            )
    elif connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_current_xact_id()::text::bigint")
            (xid,) = cursor.fetchone()
            with cursor.cursor.copy(
                "COPY members_event (type, member_id, payload, occurred_at, xid) FROM STDIN"
            ) as copy:
                for row in prepared:
                    copy.write_row((*row, xid))
    else:
        Event.objects.bulk_create(
            [
                Event(type=t, member_id=m, payload=json.loads(p), occurred_at=at)
                for t, m, p, at in prepared
            ],
            batch_size=1000,
        )
    return len(prepared)


# --- Consumers ---------------------------------------------------------------------------------

Handler = Callable[[list[Any]], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    handler: Handler
    types: frozenset[str] | None  # None: every type
    start: str  # "now" (only what happens from registration on) or "beginning"
    batch_size: int


_consumers: dict[str, Consumer] = {}


def consumer_register(
    name: str,
    handler: Handler,
    *,
    types: Iterable[str] | None = None,
    start: str = "now",
    batch_size: int = 500,
) -> Consumer:
    """Register a named consumer (from ``AppConfig.ready()``). ``handler(events)`` gets a list of
    ``Event`` rows, each member's in order, inside the transaction that moves the consumer's
    position: raise to have the batch delivered again. A new consumer starts at the end of the
    log unless ``start="beginning"``."""
    if start not in ("now", "beginning"):
        raise ValueError("start is 'now' or 'beginning'")
    wanted = frozenset(types) if types is not None else None
    for t in wanted or ():
        _check_type(t)
    consumer = Consumer(name, handler, wanted, start, batch_size)
    _consumers[name] = consumer
    return consumer


def consumers() -> list[Consumer]:
    return [_consumers[n] for n in sorted(_consumers)]


_FAR = 2**62  # SQLite: no transaction ids; its writers are serialised, so ids commit in order.


def _horizon() -> int:
    """The oldest transaction of this database still running (or, with none, the next one): every
    event of an older transaction is committed or gone.

    The snapshot lists the running transactions of the whole cluster; only this database's can
    write its events, so those of other databases (a benchmark's, another app's) are left out by
    their backends in ``pg_stat_activity``. Where that view hides other roles' sessions, the
    cluster-wide horizon is used: later, never wrong."""
    if connection.vendor != "postgresql":
        return _FAR
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint,"
            " ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x)"
            " FROM pg_current_snapshot() AS s"
        )
        xmin, xmax, running = cursor.fetchone()
        if not running:
            return xmax
        # After the snapshot: a transaction in it that has finished since is visible by now.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT backend_xid::text::bigint, query = '<insufficient privilege>'"
            " FROM pg_stat_activity WHERE datname = current_database()"
        )
        rows = cursor.fetchall()
    if any(hidden for _xid, hidden in rows):
        return xmin
    here = {xid for xid, _hidden in rows if xid is not None}  # 32-bit ids
    mine = [x for x in running if x % 2**32 in here]
    return min(mine) if mine else xmax


def _own_xid() -> int | None:
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id_if_assigned()::text::bigint")
        return cursor.fetchone()[0]


def _state(consumer: Consumer):
    """The consumer's position row, made on first use (at the end of the log for start="now")."""
    from members.models import EventConsumer

    state = EventConsumer.objects.filter(name=consumer.name).first()
    if state is not None:
        return state
    position = (0, 0)
    if consumer.start == "now":
        # Everything of transactions still running may commit later: start at the horizon.
        horizon = _horizon()
        position = (horizon, 0) if horizon != _FAR else (0, _last_id())
    state, _created = EventConsumer.objects.get_or_create(
        name=consumer.name, defaults={"position_xid": position[0], "position_id": position[1]}
    )
    return state


def _last_id() -> int:
    from members.models import Event

    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def events_deliver(name: str, *, include_own_transaction: bool = False) -> int:
    """Deliver one batch of new events to the consumer ``name``. Returns how many events the
    handler got (0 when there was nothing new, or another worker holds the consumer now).

    ``include_own_transaction``: also deliver the events the current transaction wrote itself
    (for a test, or a drain inside the writing transaction); they count as early deliveries."""
    from members.models import EventConsumer, EventEarlyDelivery

    consumer = _consumers[name]
    _state(consumer)
    try:
        with transaction.atomic():
            state = (
                EventConsumer.objects.select_for_update(skip_locked=True).filter(name=name).first()
            )
            if state is None:  # another worker is delivering to this consumer
                return 0
            horizon = _horizon()
            own = _own_xid() if include_own_transaction else None
            position = (state.position_xid, state.position_id)
            stream = _stream(position, horizon, consumer)
            if len(stream) == consumer.batch_size:
                new_position = (stream[-1].xid, stream[-1].pk)
            else:
                new_position = max(position, (horizon, 0)) if horizon != _FAR else position
                if horizon == _FAR and stream:
                    new_position = (0, stream[-1].pk)
            already = set(
                EventEarlyDelivery.objects.filter(
                    consumer=state, event_id__in=[e.pk for e in stream]
                ).values_list("event_id", flat=True)
            )
            early = _early(stream, new_position, consumer, state, own)
            deliver = sorted([e for e in stream if e.pk not in already] + early, key=lambda e: e.pk)
            if deliver:
                consumer.handler(deliver)
            if already:
                EventEarlyDelivery.objects.filter(consumer=state, event_id__in=already).delete()
            if early:
                EventEarlyDelivery.objects.bulk_create(
                    [EventEarlyDelivery(consumer=state, event_id=e.pk) for e in early],
                    ignore_conflicts=True,
                )
            EventConsumer.objects.filter(pk=state.pk).update(
                position_xid=new_position[0],
                position_id=new_position[1],
                delivered=F("delivered") + len(deliver),
                last_delivery_at=timezone.now() if deliver else F("last_delivery_at"),
                failures=0 if deliver else F("failures"),
                last_error="" if deliver else F("last_error"),
            )
            return len(deliver)
    except Exception as exc:
        logger.exception("event consumer %s failed; its batch will be delivered again", name)
        EventConsumer.objects.filter(name=name).update(
            failures=F("failures") + 1, last_error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        return 0


def _stream(position: tuple[int, int], horizon: int, consumer: Consumer) -> list[Any]:
    """The next events after ``position`` of finished transactions, in (xid, id) order."""
    from members.models import Event

    qs = Event.objects.all()
    if consumer.types is not None:
        qs = qs.filter(type__in=sorted(consumer.types))
    if connection.vendor == "postgresql":
        qs = qs.extra(  # a row comparison, served by event_xid_id_idx
            where=["(xid, id) > (%s, %s)", "xid < %s"], params=[position[0], position[1], horizon]
        ).order_by("xid", "id")
    else:
        qs = qs.filter(id__gt=position[1]).order_by("id")
    return list(qs[: consumer.batch_size])


def _early(
    stream: Sequence[Any],
    position: tuple[int, int],
    consumer: Consumer,
    state: Any,
    own: int | None,
) -> list[Any]:
    """Committed events ahead of ``position`` that must go with this batch: a member's earlier
    events (by id) than the ones in the batch, and with ``own`` the current transaction's."""
    if connection.vendor != "postgresql":
        return []
    from members.models import Event, EventEarlyDelivery

    last_of: dict[int, int] = {}
    for e in stream:
        if e.member_id is not None:
            last_of[e.member_id] = max(last_of.get(e.member_id, 0), e.pk)
    if not last_of and own is None:
        return []
    where = ["(xid, id) > (%s, %s)"]
    params: list[Any] = [position[0], position[1]]
    alternatives = []
    if last_of:
        alternatives.append("(member_id = ANY(%s) AND id < %s)")
        params += [list(last_of), max(last_of.values())]
    if own is not None:
        alternatives.append("xid = %s")
        params.append(own)
    where.append("(" + " OR ".join(alternatives) + ")")
    qs = Event.objects.extra(where=where, params=params)  # noqa: S610
    if consumer.types is not None:
        qs = qs.filter(type__in=sorted(consumer.types))
    in_stream = {e.pk for e in stream}
    done = set(EventEarlyDelivery.objects.filter(consumer=state).values_list("event_id", flat=True))
    return [
        e
        for e in qs.order_by("id")
        if e.pk not in in_stream
        and e.pk not in done
        and (e.xid == own or (e.member_id in last_of and e.pk < last_of[e.member_id]))
    ]


def events_drain(
    name: str, *, max_batches: int = 100, include_own_transaction: bool = False
) -> int:
    """Deliver batches to ``name`` until nothing is left (or ``max_batches``). Returns events."""
    total = 0
    for _ in range(max_batches):
        n = events_deliver(name, include_own_transaction=include_own_transaction)
        total += n
        if n == 0:
            break
    return total


def consumer_lag(name: str) -> int:
    """How many events of the consumer's types are past its position (for the console)."""
    from members.models import Event, EventConsumer

    consumer = _consumers.get(name)
    state = EventConsumer.objects.filter(name=name).first()
    if consumer is None or state is None:
        return 0
    qs = Event.objects.all()
    if consumer.types is not None:
        qs = qs.filter(type__in=sorted(consumer.types))
    if connection.vendor == "postgresql":
        qs = qs.extra(
            where=["(xid, id) > (%s, %s)"], params=[state.position_xid, state.position_id]
        )
    else:
        qs = qs.filter(id__gt=state.position_id)
    return qs.count()
