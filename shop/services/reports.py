"""Sales reports for admins, computed by PostgreSQL (one query per report, no loop of queries)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from shop.pagination import Page
from shop.services.availability import HELD_SQL, seats_left

SALES_BY_TICKET_TYPE = text(
    f"""
    WITH page_events AS (
        SELECT id FROM event
        WHERE (CAST(:starts_from AS timestamptz) IS NULL OR starts_at >= :starts_from)
          AND (CAST(:starts_to AS timestamptz) IS NULL OR starts_at <= :starts_to)
        ORDER BY starts_at, id
        LIMIT :limit OFFSET :offset
    ),
    held AS ({HELD_SQL.format(tier_filter="ci.event_id IN (SELECT id FROM page_events)")}),
    tier_sales AS (
        SELECT oi.ticket_type_id, sum(oi.line_total) AS revenue,
               count(DISTINCT oi.order_id) AS orders
        FROM order_item oi JOIN customer_order o ON o.id = oi.order_id
        WHERE o.status = 'confirmed' AND oi.event_id IN (SELECT id FROM page_events)
        GROUP BY oi.ticket_type_id
    ),
    event_orders AS (
        SELECT oi.event_id, count(DISTINCT oi.order_id) AS orders
        FROM order_item oi JOIN customer_order o ON o.id = oi.order_id
        WHERE o.status = 'confirmed' AND oi.event_id IN (SELECT id FROM page_events)
        GROUP BY oi.event_id
    )
    SELECT e.id AS event_id, e.title, e.starts_at, e.status, e.currency,
           coalesce(eo.orders, 0) AS event_orders,
           t.id AS ticket_type_id, t.name AS ticket_type,
           t.capacity, t.sold, coalesce(h.held, 0) AS held,
           coalesce(s.revenue, 0) AS revenue, coalesce(s.orders, 0) AS orders
    FROM page_events pe
    JOIN event e ON e.id = pe.id
    LEFT JOIN event_orders eo ON eo.event_id = e.id
    LEFT JOIN ticket_type t ON t.event_id = e.id
    LEFT JOIN held h ON h.ticket_type_id = t.id
    LEFT JOIN tier_sales s ON s.ticket_type_id = t.id
    ORDER BY e.starts_at, e.id, t.id
    """
)

EVENTS_IN_RANGE = text(
    """
    SELECT count(*) FROM event
    WHERE (CAST(:starts_from AS timestamptz) IS NULL OR starts_at >= :starts_from)
      AND (CAST(:starts_to AS timestamptz) IS NULL OR starts_at <= :starts_to)
    """
)


def _figures(
    capacity: int, sold: int, held: int, revenue: Decimal, orders: int, currency: str
) -> dict:
    return {
        "capacity": capacity,
        "sold": sold,
        "held": held,
        "remaining": seats_left(capacity, sold, held),
        "revenue": {"amount": Decimal(revenue).quantize(Decimal("0.01")), "currency": currency},
        "sell_through": round(sold / capacity, 4) if capacity else 0.0,
        "orders": orders,
    }


def sales_report(
    session: Session,
    starts_from: datetime | None,
    starts_to: datetime | None,
    page: int,
    page_size: int,
) -> Page:
    """Per event (starting in the range) and per ticket type: capacity, sold, held (live cart
    holds), remaining, revenue of confirmed orders, sell-through (sold / capacity) and orders."""
    params = {"starts_from": starts_from, "starts_to": starts_to}
    total = session.scalar(EVENTS_IN_RANGE, params)
    rows = session.execute(
        SALES_BY_TICKET_TYPE, {**params, "limit": page_size, "offset": (page - 1) * page_size}
    ).mappings()
    events: dict[int, dict] = {}
    for row in rows:
        event = events.setdefault(
            row["event_id"],
            {
                "event_id": row["event_id"],
                "title": row["title"],
                "starts_at": row["starts_at"],
                "status": row["status"],
                "currency": row["currency"],
                "orders": row["event_orders"],
                "ticket_types": [],
            },
        )
        if row["ticket_type_id"] is not None:
            event["ticket_types"].append(
                {
                    "ticket_type_id": row["ticket_type_id"],
                    "name": row["ticket_type"],
                    **_figures(
                        row["capacity"],
                        row["sold"],
                        row["held"],
                        row["revenue"],
                        row["orders"],
                        row["currency"],
                    ),
                }
            )
    items = []
    for event in events.values():
        tiers = event["ticket_types"]
        totals = _figures(
            sum(t["capacity"] for t in tiers),
            sum(t["sold"] for t in tiers),
            sum(t["held"] for t in tiers),
            sum((t["revenue"]["amount"] for t in tiers), Decimal("0")),
            event["orders"],
            event["currency"],
        )
        items.append({**event, **totals})
    return Page(items=items, page=page, page_size=page_size, total_items=total)


OVERVIEW_TOTALS = text(
    """
    SELECT
        (SELECT count(*) FROM customer_order WHERE status = 'confirmed') AS orders,
        (SELECT count(*) FROM customer_order WHERE status = 'cancelled') AS cancelled_orders,
        (SELECT count(*) FROM ticket WHERE status <> 'void') AS tickets,
        (SELECT coalesce(sum(total), 0) FROM customer_order WHERE status = 'confirmed') AS revenue,
        (SELECT count(*) FROM event
          WHERE status = 'published' AND starts_at > now()) AS upcoming_events,
        (SELECT count(*) FROM app_user WHERE role = 'customer') AS customers
    """
)

TOP_EVENTS = text(
    """
    SELECT oi.event_id, e.title, sum(oi.line_total) AS revenue, sum(oi.quantity) AS tickets,
           count(DISTINCT oi.order_id) AS orders
    FROM order_item oi
    JOIN customer_order o ON o.id = oi.order_id AND o.status = 'confirmed'
    JOIN event e ON e.id = oi.event_id
    GROUP BY oi.event_id, e.title
    ORDER BY revenue DESC, oi.event_id
    LIMIT :top
    """
)

SALES_PER_DAY = text(
    """
    SELECT (o.created_at AT TIME ZONE 'Europe/Copenhagen')::date AS day,
           count(*) AS orders, sum(o.total) AS revenue, sum(q.tickets) AS tickets
    FROM customer_order o
    CROSS JOIN LATERAL (SELECT sum(quantity) AS tickets FROM order_item WHERE order_id = o.id) q
    WHERE o.status = 'confirmed' AND o.created_at >= now() - make_interval(days => :days)
    GROUP BY day
    ORDER BY day
    """
)


def overview(session: Session, *, currency: str = "DKK", days: int = 30, top: int = 5) -> dict:
    """Totals, the top events by revenue and sales per day (shop time) for the last `days`."""
    totals = session.execute(OVERVIEW_TOTALS).mappings().one()
    return {
        "totals": {
            "orders": totals["orders"],
            "cancelled_orders": totals["cancelled_orders"],
            "tickets": totals["tickets"],
            "revenue": {"amount": totals["revenue"], "currency": currency},
            "upcoming_events": totals["upcoming_events"],
            "customers": totals["customers"],
        },
        "top_events": [
            {**row, "revenue": {"amount": row["revenue"], "currency": currency}}
            for row in session.execute(TOP_EVENTS, {"top": top}).mappings()
        ],
        "sales_per_day": [
            {**row, "revenue": {"amount": row["revenue"], "currency": currency}}
            for row in session.execute(SALES_PER_DAY, {"days": days}).mappings()
        ],
    }
