"""The one order in which code that moves seats takes row locks.

Two transactions can only deadlock when each waits for a lock the other holds. If every path
takes its locks in one global order, no such cycle can form. Ours, top to bottom:

0. **a client address** (a transaction-level advisory lock, `shop.services.carts`): an
   anonymous cart change that may hold more seats, so one address's adds count one by one;
1. **the idempotency key** (its unique index: a duplicate request waits here, then replays);
2. **carts**: the guest cart being merged, then the user's (or the guest's) cart;
3. **events**, ascending id: `FOR NO KEY UPDATE` by the admin paths that change one (cancel,
   edit, publish, tier edits), `FOR SHARE` by the paths that sell or unsell its seats
   (checkout, order cancel), so an event cancel and a sale of that event never overlap;
4. **orders**, ascending id;
5. **ticket types**, ascending id (checkout takes these last of all, in the statement that
   sells and inserts the order, so they are held for that one round trip and the commit; a
   cart whose hold lapsed takes them one statement earlier, with the cart and event locks);
6. **tickets**, ascending id.

A path may skip levels but never goes back up. Who takes what:

| path | locks |
|---|---|
| cart change, merge | (0 →) 2 → 5 |
| checkout | 1 → 2 → 3 (share) → 5 |
| order cancel | 1 → 3 (share) → 4 → 5 → 6 |
| admin event cancel | 3 (no key update) → 4 → 5 → 6 |
| admin tier edit or delete | 3 (no key update) → 5 |
| admin venue or category rename | 3 (no key update, by its trigger: migration 0012) |
| check-in | 6 |

Why events are locked `FOR NO KEY UPDATE` rather than `FOR UPDATE`: inserting a row that
references an event (a cart line, an order line) makes PostgreSQL check the foreign key with
`FOR KEY SHARE` on the event row — late, after the tier locks. `FOR UPDATE` conflicts with that
and would deadlock against a sale in progress; `FOR NO KEY UPDATE` (what an `UPDATE` of
non-key columns takes anyway) does not. `FOR SHARE` does conflict with it, which is how a sale
waits for an event cancel (and sees the event cancelled) instead of racing it.

Every wait is bounded by `lock_timeout` (`CHECKOUT_LOCK_TIMEOUT_MS`, set on every connection):
a wait that times out is a retryable 503 `contention`, never a hang.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from shop.models import Event, TicketType


def lock_events(session: Session, event_ids: Iterable[int], *, to_change: bool) -> None:
    """Level 3: lock events by ascending id — to change them (admin) or to sell or unsell their
    seats (`to_change=False`, shared)."""
    statement = select(Event.id).where(Event.id.in_(sorted(set(event_ids)))).order_by(Event.id)
    if to_change:
        statement = statement.with_for_update(key_share=True)  # FOR NO KEY UPDATE
    else:
        statement = statement.with_for_update(read=True)  # FOR SHARE
    session.execute(statement)


# Built once (order and event cancels run it); an array parameter keeps the
# SQL the same whatever the number of tiers.
_LOCK_TICKET_TYPES = (
    select(TicketType.id)
    .where(TicketType.id == func.any(bindparam("tier_ids", type_=ARRAY(Integer))))
    .order_by(TicketType.id)
    .with_for_update()
)


def lock_ticket_types(session: Session, tier_ids: Iterable[int]) -> None:
    """Level 5: lock ticket types by ascending id."""
    session.execute(_LOCK_TICKET_TYPES, {"tier_ids": sorted(set(tier_ids))})
