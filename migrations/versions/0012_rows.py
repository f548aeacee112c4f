"""rows: `listed_event`, each event's listing item written once (JSON text without the seats)
and its unsold seats, kept by triggers, so a listing page splices 20 rows instead of building
them

- `listed_event`: one row per event (any status; the listing reads only the ids its own walk
  found): the item's JSON text up to `"ticketsAvailable" : ` (`item_head`: id, title, times,
  venue, category, image, priceFrom, written as the listing writes them), the sort columns the
  page orders its items by (`starts_at`, `title`, `price_from`), and `unsold`, the sum over its
  tiers of `capacity - sold`. A page then takes 20 rows by primary key and subtracts what live
  holds take from them (usually nothing), instead of joining venue and category, reading every
  tier of every event and formatting 13 values per item: PostgreSQL's CPU per browse statement
  ~890 -> ~510 µs in pgbench (docs/decisions.md "The listing's read model").
- Statement-level triggers keep it exact in the same transaction as the change: `event`
  (insert: a new row; an update of a listed value: the item again), `venue` and `category`
  (a renamed one: its events' items), `ticket_type` (insert, update, delete: `unsold` moves by
  the change of `capacity - sold`, netted per event). An event's row leaves with it (foreign
  key ON DELETE CASCADE; TRUNCATE ... CASCADE empties both).
- Lock order: every trigger locks the rows it changes in ascending id (`FOR NO KEY UPDATE`,
  before changing them), so two writers cannot deadlock on this table; the rows are locked
  after the tiers (level 5 of `shop.services.locking`), only by statements that change tiers,
  events, venues or categories. `unsold` moves by a delta (`unsold + change`), never written
  from a sum read earlier: two sales of different tiers of one event, each under its own tier
  lock, both count.

Revision ID: 0012_rows
Revises: 0011_search
Create Date: 2026-11-28

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_rows"
down_revision = "0011_search"
branch_labels = None
depends_on = None

# The item's JSON text as `shop.catalog.json_bodies` wrote it per page before: `format()` of one
# template, strings quoted and escaped by `to_json` (json_build_object's escaping), times as
# marshmallow's `isoformat()` of a UTC datetime (`.ffffff` only with fractions of a second).
# Marked IMMUTABLE: every input is an argument, and `AT TIME ZONE 'UTC'` names its zone.
FUNCTIONS_SQL = """
CREATE FUNCTION listed_event_time(moment timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(moment AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_trunc('second', moment) = moment THEN ''
                ELSE to_char(moment AT TIME ZONE 'UTC', '.US') END
        || '+00:00'
$$;

CREATE FUNCTION listed_event_json(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(to_json(value)::text, 'null')
$$;

CREATE FUNCTION listed_event_item_head(
    event_id integer, title text, starts_at timestamptz, ends_at timestamptz,
    venue_id integer, venue_name text, venue_city text, category_slug text,
    category_name text, image_url text, price_from numeric, currency text
) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT format(
        '{"id" : %s, "title" : %s, "startsAt" : "%s", "endsAt" : "%s", '
        '"venue" : {"id" : %s, "name" : %s, "city" : %s}, "category" : {"slug" : %s, '
        '"name" : %s}, "imageUrl" : %s, "priceFrom" : %s, "ticketsAvailable" : ',
        event_id, listed_event_json(title), listed_event_time(starts_at),
        listed_event_time(ends_at), venue_id, listed_event_json(venue_name),
        listed_event_json(venue_city), listed_event_json(category_slug),
        listed_event_json(category_name), listed_event_json(image_url),
        CASE WHEN price_from IS NULL THEN 'null'
             ELSE format('{"amount" : "%s", "currency" : %s}', price_from,
                         listed_event_json(currency)) END)
$$;

-- What every event's row should hold (the triggers, the seed and `flask check` read it; a view,
-- so a condition on `id` reaches `event`'s primary key, and a whole fill is one join).
CREATE VIEW listed_event_source AS
    SELECT e.id, e.starts_at, e.title, e.price_from,
           listed_event_item_head(e.id, e.title, e.starts_at, e.ends_at, v.id, v.name, v.city,
                                  c.slug, c.name, e.image_url, e.price_from, e.currency)
               AS item_head,
           (SELECT coalesce(sum(t.capacity - t.sold), 0)::integer
            FROM ticket_type AS t WHERE t.event_id = e.id) AS unsold
    FROM event AS e
    JOIN venue AS v ON v.id = e.venue_id
    JOIN category AS c ON c.id = e.category_id;

-- The item (and sort columns) of the events `ids` written again, their rows locked first in
-- ascending id.
CREATE FUNCTION listed_event_rewrite(ids integer[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM listed_event WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE listed_event AS l
    SET starts_at = x.starts_at, title = x.title, price_from = x.price_from,
        item_head = x.item_head
    FROM listed_event_source AS x
    WHERE x.id = ANY(ids) AND l.id = x.id;
END $$;

CREATE FUNCTION listed_event_from_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO listed_event (id, starts_at, title, price_from, item_head, unsold)
        SELECT * FROM listed_event_source WHERE id IN (SELECT id FROM new_rows)
        ORDER BY id;
    ELSE
        PERFORM listed_event_rewrite(ARRAY(
            SELECT n.id FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE (n.title, n.starts_at, n.ends_at, n.venue_id, n.category_id, n.image_url,
                   n.price_from, n.currency)
                IS DISTINCT FROM (o.title, o.starts_at, o.ends_at, o.venue_id, o.category_id,
                                  o.image_url, o.price_from, o.currency)));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION listed_event_from_venue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM listed_event_rewrite(ARRAY(
        SELECT e.id FROM event AS e
        WHERE e.venue_id IN (
            SELECT n.id FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE (n.name, n.city) IS DISTINCT FROM (o.name, o.city))));
    RETURN NULL;
END $$;

CREATE FUNCTION listed_event_from_category() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM listed_event_rewrite(ARRAY(
        SELECT e.id FROM event AS e
        WHERE e.category_id IN (
            SELECT n.id FROM new_rows AS n JOIN old_rows AS o ON o.id = n.id
            WHERE (n.slug, n.name) IS DISTINCT FROM (o.slug, o.name))));
    RETURN NULL;
END $$;

-- `unsold` moves by each event's net change of `capacity - sold` over the statement's tiers:
-- the rows after it add, the rows before it take away. Tiers whose capacity and sold did not
-- change (a price or a name edited) lock nothing.
CREATE FUNCTION listed_event_unsold() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changes integer[][];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(ARRAY[event_id, change] ORDER BY event_id) INTO changes
        FROM (SELECT event_id, sum(capacity - sold)::integer AS change FROM new_rows
              GROUP BY event_id) AS netted
        WHERE change <> 0;
    ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(ARRAY[event_id, change] ORDER BY event_id) INTO changes
        FROM (SELECT event_id, -sum(capacity - sold)::integer AS change FROM old_rows
              GROUP BY event_id) AS netted
        WHERE change <> 0;
    ELSE
        SELECT array_agg(ARRAY[event_id, change] ORDER BY event_id) INTO changes
        FROM (SELECT event_id, sum(change)::integer AS change
              FROM (SELECT event_id, capacity - sold AS change FROM new_rows
                    UNION ALL
                    SELECT event_id, sold - capacity FROM old_rows) AS both_sides
              GROUP BY event_id) AS netted
        WHERE change <> 0;
    END IF;
    IF changes IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM listed_event
    WHERE id IN (SELECT changes[i][1] FROM generate_subscripts(changes, 1) AS i)
    ORDER BY id FOR NO KEY UPDATE;
    UPDATE listed_event AS l SET unsold = l.unsold + changes[i][2]
    FROM generate_subscripts(changes, 1) AS i
    WHERE l.id = changes[i][1];
    RETURN NULL;
END $$;

CREATE TRIGGER listed_event_insert AFTER INSERT ON event
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listed_event_from_event();
CREATE TRIGGER listed_event_update AFTER UPDATE ON event
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listed_event_from_event();
CREATE TRIGGER listed_event_venue_update AFTER UPDATE ON venue
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listed_event_from_venue();
CREATE TRIGGER listed_event_category_update AFTER UPDATE ON category
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listed_event_from_category();
CREATE TRIGGER listed_event_unsold_insert AFTER INSERT ON ticket_type
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listed_event_unsold();
CREATE TRIGGER listed_event_unsold_update AFTER UPDATE ON ticket_type
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listed_event_unsold();
CREATE TRIGGER listed_event_unsold_delete AFTER DELETE ON ticket_type
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION listed_event_unsold();
"""

DROP_SQL = """
DROP TRIGGER listed_event_insert ON event;
DROP TRIGGER listed_event_update ON event;
DROP TRIGGER listed_event_venue_update ON venue;
DROP TRIGGER listed_event_category_update ON category;
DROP TRIGGER listed_event_unsold_insert ON ticket_type;
DROP TRIGGER listed_event_unsold_update ON ticket_type;
DROP TRIGGER listed_event_unsold_delete ON ticket_type;
DROP FUNCTION listed_event_unsold();
DROP FUNCTION listed_event_from_category();
DROP FUNCTION listed_event_from_venue();
DROP FUNCTION listed_event_from_event();
DROP FUNCTION listed_event_rewrite(integer[]);
DROP VIEW listed_event_source;
DROP FUNCTION listed_event_item_head(integer, text, timestamptz, timestamptz, integer, text,
                                     text, text, text, text, numeric, text);
DROP FUNCTION listed_event_json(text);
DROP FUNCTION listed_event_time(timestamptz);
"""


def upgrade():
    op.create_table(
        "listed_event",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("price_from", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("item_head", sa.Text(), nullable=False),
        sa.Column("unsold", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["id"], ["event.id"], name=op.f("fk_listed_event_id_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listed_event")),
    )
    op.execute(FUNCTIONS_SQL)
    op.execute(
        "INSERT INTO listed_event (id, starts_at, title, price_from, item_head, unsold)"
        " SELECT * FROM listed_event_source ORDER BY id"
    )
    with op.get_context().autocommit_block():
        op.execute("VACUUM (ANALYZE) listed_event")


def downgrade():
    op.execute(DROP_SQL)
    op.drop_table("listed_event")
