"""The conservation check: do seats, tickets, money and holds add up? (`flask check`)

The database's constraints refuse single bad rows; these rules span rows and tables, so only a
query over the whole data can verify them. Each rule is one SQL statement that returns the
rows breaking it (none when all is well):

- `tier_sold`: per ticket type, `sold` = its valid + used tickets, and `sold <= capacity`;
- `tier_held`: per ticket type, `sold` + seats in live holds <= `capacity` (every live hold can
  still be bought: cart changes, merges and capacity cuts all keep this);
- `order_total`: per order, `total` = the sum of its lines' totals;
- `line_tickets`: per order line, one ticket per seat (tickets = `quantity`);
- `cart_hold`: an open (`active`) cart with lines has a hold end (expired or not) no further
  than one hold period from now, and no more renewals than allowed;
- `event_days`: `published_event_day` (kept by triggers, what the listing counts from) holds
  the number of published events starting on each day, in all, per category and per venue;
- `search_words`: `event_search_word` (kept by triggers, what a one-word search reads) holds
  exactly the words of the published events, each with its event's period and start, and
  every one of them is in `event_search_lexeme` (what prefixes are expanded into).

Every concurrency test and failure drill ends with `find_violations(...) == []`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.orm import Session

from shop.services.availability import HELD_SQL


@dataclass(frozen=True)
class Violation:
    rule: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.subject}: {self.detail}"


RULES = {
    "tier_sold": text(
        """
        SELECT t.id, t.sold, t.capacity, count(tk.id) AS tickets
        FROM ticket_type t
        LEFT JOIN order_item oi ON oi.ticket_type_id = t.id
        LEFT JOIN ticket tk ON tk.order_item_id = oi.id AND tk.status IN ('valid', 'used')
        GROUP BY t.id
        HAVING t.sold <> count(tk.id) OR t.sold > t.capacity
        ORDER BY t.id
        """
    ),
    "tier_held": text(
        f"""
        WITH held AS ({HELD_SQL.format(tier_filter="true")})
        SELECT t.id, t.sold, t.capacity, held.held
        FROM ticket_type t JOIN held ON held.ticket_type_id = t.id
        WHERE t.sold + held.held > t.capacity
        ORDER BY t.id
        """
    ),
    "order_total": text(
        """
        SELECT o.id, o.total, coalesce(sum(oi.line_total), 0) AS lines_total
        FROM customer_order o LEFT JOIN order_item oi ON oi.order_id = o.id
        GROUP BY o.id
        HAVING o.total <> coalesce(sum(oi.line_total), 0)
        ORDER BY o.id
        """
    ),
    "line_tickets": text(
        """
        SELECT oi.id, oi.order_id, oi.quantity, count(tk.id) AS tickets
        FROM order_item oi LEFT JOIN ticket tk ON tk.order_item_id = oi.id
        GROUP BY oi.id
        HAVING count(tk.id) <> oi.quantity
        ORDER BY oi.id
        """
    ),
    "cart_hold": text(
        """
        SELECT c.id, c.hold_expires_at, c.hold_renewals
        FROM cart c
        WHERE c.status = 'active'
          AND EXISTS (SELECT 1 FROM cart_item ci WHERE ci.cart_id = c.id)
          AND (c.hold_expires_at IS NULL
               OR c.hold_expires_at > clock_timestamp() + make_interval(mins => :hold_minutes)
               OR c.hold_renewals > :max_renewals)
        ORDER BY c.id
        """
    ),
    # A day whose counter left zero behind is fine (counters are netted, not deleted).
    "event_days": text(
        """
        WITH recounted AS (
            SELECT coalesce(category_id, 0) AS category_id, coalesce(venue_id, 0) AS venue_id,
                   starts_on, count(*) AS events
            FROM (
                SELECT category_id, venue_id, (starts_at AT TIME ZONE 'UTC')::date AS starts_on
                FROM event WHERE status = 'published'
            ) AS published
            GROUP BY GROUPING SETS ((starts_on), (category_id, starts_on), (venue_id, starts_on))
        )
        SELECT coalesce(d.category_id, r.category_id) AS category_id,
               coalesce(d.venue_id, r.venue_id) AS venue_id,
               coalesce(d.starts_on, r.starts_on) AS starts_on,
               coalesce(d.events, 0) AS counted, coalesce(r.events, 0) AS events
        FROM published_event_day AS d
        FULL JOIN recounted AS r
            ON (r.category_id, r.venue_id, r.starts_on) = (d.category_id, d.venue_id, d.starts_on)
        WHERE coalesce(d.events, 0) <> coalesce(r.events, 0)
        ORDER BY 3, 1, 2
        """
    ),
    "search_words": text(
        """
        WITH expected AS (
            SELECT event_search_period(e.starts_at) AS period, w.lexeme COLLATE "C" AS word,
                   e.starts_at, e.id AS event_id
            FROM event AS e CROSS JOIN unnest(e.search_vector) AS w
            WHERE e.status = 'published'
        ), kept AS (
            SELECT period, word, starts_at, event_id FROM event_search_word
        )
        SELECT event_id, word, 'missing' AS problem FROM (TABLE expected EXCEPT TABLE kept) AS m
        UNION ALL
        SELECT event_id, word, 'not a published event''s word'
        FROM (TABLE kept EXCEPT TABLE expected) AS x
        UNION ALL
        SELECT DISTINCT ON (k.word) k.event_id, k.word, 'not among the lexemes'
        FROM kept AS k
        WHERE NOT EXISTS (SELECT 1 FROM event_search_lexeme AS l WHERE l.word = k.word)
        ORDER BY 1, 2
        """
    ),
}


def _describe(rule: str, row: Row[Any]) -> Violation:
    if rule == "tier_sold":
        return Violation(
            rule,
            f"ticket type {row.id}",
            f"sold {row.sold}, valid + used tickets {row.tickets}, capacity {row.capacity}",
        )
    if rule == "tier_held":
        return Violation(
            rule,
            f"ticket type {row.id}",
            f"sold {row.sold} + held {row.held} > capacity {row.capacity}",
        )
    if rule == "order_total":
        return Violation(
            rule, f"order {row.id}", f"total {row.total}, sum of lines {row.lines_total}"
        )
    if rule == "line_tickets":
        return Violation(
            rule,
            f"order {row.order_id} line {row.id}",
            f"quantity {row.quantity}, tickets {row.tickets}",
        )
    if rule == "event_days":
        return Violation(
            rule,
            f"day {row.starts_on} (category {row.category_id}, venue {row.venue_id}; 0: any)",
            f"counted {row.counted}, published events {row.events}",
        )
    if rule == "search_words":
        return Violation(rule, f"event {row.event_id} word {row.word!r}", str(row.problem))
    return Violation(
        rule,
        f"cart {row.id}",
        f"hold ends {row.hold_expires_at}, renewed {row.hold_renewals} times",
    )


def find_violations(session: Session, *, hold_minutes: int, max_renewals: int) -> list[Violation]:
    """Every broken rule, in rule order (an empty list: everything adds up)."""
    params = {"hold_minutes": hold_minutes, "max_renewals": max_renewals}
    return [
        _describe(rule, row)
        for rule, statement in RULES.items()
        for row in session.execute(statement, params if rule == "cart_hold" else {})
    ]
