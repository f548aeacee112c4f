-- Week 2: an order's totals, from the snapshots taken at checkout (later price changes to the
-- ticket type do not change what the customer paid).
-- Run: flask psql -v order_id=1 -f docs/sql/week2_order_totals.sql
-- After `flask seed`, order 1 is the demo customer's first order.
SELECT o.id                 AS order_id,
       o.status,
       o.total              AS order_total,
       o.currency,
       sum(oi.quantity)     AS tickets,
       sum(oi.line_total)   AS sum_of_lines,
       o.total = sum(oi.line_total) AS totals_agree
FROM customer_order o
JOIN order_item oi ON oi.order_id = o.id
WHERE o.id = :order_id
GROUP BY o.id;
