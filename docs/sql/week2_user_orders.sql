-- Week 2: a user's orders, newest first, with their items as snapshots.
-- Run: flask psql -v user_id=1 -f docs/sql/week2_user_orders.sql
-- After `flask seed`, user 1 is the demo customer (customer@example.com).
SELECT o.id              AS order_id,
       o.created_at,
       o.status,
       o.total,
       o.currency,
       oi.event_title,
       oi.event_starts_at,
       oi.ticket_type_name,
       oi.unit_price,
       oi.quantity,
       oi.line_total
FROM customer_order o
JOIN order_item oi ON oi.order_id = o.id
WHERE o.user_id = :user_id
ORDER BY o.created_at DESC, o.id DESC, oi.id;
