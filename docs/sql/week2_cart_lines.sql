-- Week 2: a cart's lines with current prices, line totals and the cart subtotal (a window sum),
-- plus the price each line was added at so a price change can be spotted.
-- Run: flask psql -v cart_id=1 -f docs/sql/week2_cart_lines.sql
-- After `flask seed`, cart 1 is the demo customer's open cart.
SELECT ci.id                          AS item_id,
       e.title                        AS event,
       t.name                         AS ticket_type,
       ci.quantity,
       t.price                        AS unit_price,
       ci.unit_price                  AS price_when_added,
       t.price * ci.quantity          AS line_total,
       sum(t.price * ci.quantity) OVER () AS subtotal
FROM cart_item ci
JOIN ticket_type t ON t.id = ci.ticket_type_id
JOIN event e ON e.id = ci.event_id
WHERE ci.cart_id = :cart_id
ORDER BY ci.id;
