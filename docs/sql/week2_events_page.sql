-- Week 2: one page of the public listing, sorted by start time (ties broken by id), with the
-- total count for the pagination metadata in the same query.
-- Run: flask psql -v page_size=20 -v page_offset=0 -f docs/sql/week2_events_page.sql
-- (page_offset = (page - 1) * page_size)
SELECT e.id,
       e.title,
       e.starts_at,
       e.price_from,
       count(*) OVER () AS total_items
FROM event e
WHERE e.status = 'published'
  AND e.starts_at >= now()
ORDER BY e.starts_at, e.id
LIMIT :page_size OFFSET :page_offset;
