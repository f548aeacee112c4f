-- Week 1: every published, upcoming event with its venue, category and cheapest price.
-- Run: flask psql -f docs/sql/week1_all_events.sql
SELECT e.id,
       e.title,
       e.starts_at,
       v.name  AS venue,
       v.city,
       c.name  AS category,
       e.price_from,
       e.currency
FROM event e
JOIN venue v ON v.id = e.venue_id
JOIN category c ON c.id = e.category_id
WHERE e.status = 'published'
  AND e.starts_at >= now()
ORDER BY e.starts_at, e.id;
