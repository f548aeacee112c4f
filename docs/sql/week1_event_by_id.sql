-- Week 1: one event by id, one row per ticket type, with seats left (capacity - sold).
-- Run: flask psql -v event_id=4 -f docs/sql/week1_event_by_id.sql
SELECT e.id            AS event_id,
       e.title,
       e.description,
       e.starts_at,
       e.ends_at,
       v.name          AS venue,
       v.city,
       t.id            AS ticket_type_id,
       t.name          AS ticket_type,
       t.price,
       t.currency,
       t.capacity,
       t.sold,
       t.capacity - t.sold AS seats_left
FROM event e
JOIN venue v ON v.id = e.venue_id
JOIN ticket_type t ON t.event_id = e.id
WHERE e.id = :event_id
ORDER BY t.price, t.id;
