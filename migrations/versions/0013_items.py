"""items: `listed_event`, each event's listing item written once as JSON text (without the
seats), kept by triggers that a sale never fires

- `listed_event`: one row per event (any status; the listing reads only the ids its own walk
  found): the item's JSON text up to `"ticketsAvailable" : ` (`item_head`: id, title, times,
  venue, category, image, priceFrom, written as the listing wrote them per page), and the sort
  columns the page orders its items by (`starts_at`, `title`, `price_from`). A page takes its
  20 rows by primary key and adds only the seats left, read from the page's own tiers, instead
  of joining venue and category and formatting 11 values per item (docs/decisions.md "The
  listing's item text").
- Nothing in it moves when seats do. Session 9's `listed_event` (branch `rows`, reverted) also
  kept each event's unsold seats, by a trigger on `ticket_type`, so every sale updated its
  event's row as well: a sale's database ceiling fell 2-3 x. Here the item depends only on
  columns of `event` (`price_from` included: migration 0001's trigger keeps it from the tiers'
  prices), `venue` and `category`, so the triggers are on those three tables alone, row-level
  with a `WHEN` clause naming the columns the item shows: PostgreSQL evaluates the clause in C
  and calls no function at all for any other change. A sale updates `ticket_type.sold` only;
  the price trigger's `UPDATE event` then matches no row (no price changed), and a row-level
  trigger does not fire for an update of no rows (a statement-level one would, once per sale).
- Lock order (shop.services.locking): a row of `listed_event` is locked only by a statement
  that holds its event's row lock already (an event updated or deleted: the `UPDATE` or
  `DELETE` took it), or, for a venue or category renamed, after locking the events in
  ascending id (as 0012_rename_lock_order's trigger does, whichever of the two fires first)
  and then the rows in ascending id. So its rows are always taken after their events' and add
  no cycle.

Revision ID: 0013_items
Revises: 0012_rename_lock_order
Create Date: 2026-11-28

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0013_items"
down_revision = "0012_rename_lock_order"
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
               AS item_head
    FROM event AS e
    JOIN venue AS v ON v.id = e.venue_id
    JOIN category AS c ON c.id = e.category_id;

-- An event inserted: its row. An event whose listed values changed (the trigger's WHEN): its
-- row written again (the UPDATE holds the event's row lock).
CREATE FUNCTION listed_event_from_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO listed_event (id, starts_at, title, price_from, item_head)
        SELECT * FROM listed_event_source WHERE id = NEW.id;
    ELSE
        UPDATE listed_event AS l
        SET starts_at = x.starts_at, title = x.title, price_from = x.price_from,
            item_head = x.item_head
        FROM listed_event_source AS x
        WHERE x.id = NEW.id AND l.id = NEW.id;
    END IF;
    RETURN NULL;
END $$;

-- A venue or category renamed: its events' rows written again. The events are locked first,
-- in ascending id (what 0012_rename_lock_order's trigger on the same update does, whichever
-- fires first), then their rows, in ascending id: the order of shop.services.locking.
CREATE FUNCTION listed_event_from_place() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    ids integer[];
BEGIN
    IF TG_TABLE_NAME = 'venue' THEN
        SELECT array_agg(id) INTO ids FROM (
            SELECT id FROM event WHERE venue_id = NEW.id ORDER BY id FOR NO KEY UPDATE
        ) AS locked;
    ELSE
        SELECT array_agg(id) INTO ids FROM (
            SELECT id FROM event WHERE category_id = NEW.id ORDER BY id FOR NO KEY UPDATE
        ) AS locked;
    END IF;
    PERFORM 1 FROM listed_event WHERE id = ANY(ids) ORDER BY id FOR NO KEY UPDATE;
    UPDATE listed_event AS l
    SET item_head = x.item_head
    FROM listed_event_source AS x
    WHERE x.id = ANY(ids) AND l.id = x.id;
    RETURN NULL;
END $$;

CREATE TRIGGER listed_event_insert AFTER INSERT ON event
    FOR EACH ROW EXECUTE FUNCTION listed_event_from_event();
CREATE TRIGGER listed_event_update AFTER UPDATE ON event
    FOR EACH ROW
    WHEN ((OLD.title, OLD.starts_at, OLD.ends_at, OLD.venue_id, OLD.category_id,
           OLD.image_url, OLD.price_from, OLD.currency)
          IS DISTINCT FROM (NEW.title, NEW.starts_at, NEW.ends_at, NEW.venue_id,
                            NEW.category_id, NEW.image_url, NEW.price_from, NEW.currency))
    EXECUTE FUNCTION listed_event_from_event();
CREATE TRIGGER listed_event_venue_update AFTER UPDATE ON venue
    FOR EACH ROW
    WHEN ((OLD.name, OLD.city) IS DISTINCT FROM (NEW.name, NEW.city))
    EXECUTE FUNCTION listed_event_from_place();
CREATE TRIGGER listed_event_category_update AFTER UPDATE ON category
    FOR EACH ROW
    WHEN ((OLD.slug, OLD.name) IS DISTINCT FROM (NEW.slug, NEW.name))
    EXECUTE FUNCTION listed_event_from_place();
"""

DROP_SQL = """
DROP TRIGGER listed_event_insert ON event;
DROP TRIGGER listed_event_update ON event;
DROP TRIGGER listed_event_venue_update ON venue;
DROP TRIGGER listed_event_category_update ON category;
DROP FUNCTION listed_event_from_place();
DROP FUNCTION listed_event_from_event();
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
        sa.ForeignKeyConstraint(
            ["id"], ["event.id"], name=op.f("fk_listed_event_id_event"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listed_event")),
    )
    op.execute(FUNCTIONS_SQL)
    op.execute(
        "INSERT INTO listed_event (id, starts_at, title, price_from, item_head)"
        " SELECT * FROM listed_event_source ORDER BY id"
    )
    with op.get_context().autocommit_block():
        op.execute("VACUUM (ANALYZE) listed_event")


def downgrade():
    op.execute(DROP_SQL)
    op.drop_table("listed_event")
