"""rename_lock_order: renaming a venue or a category locks its events in ascending id first

Renaming a venue or a category rewrites its events' search vectors (the triggers
`venue_refresh_event_search` and `category_refresh_event_search`, migration 0001) with one
`UPDATE event ... WHERE venue_id = ...`, which locks the events in whatever order it finds them.
A checkout locks the events it sells from `FOR SHARE` in ascending id
(`shop.services.locking.lock_events`), so a rename during sales could hold event 7 and wait for
event 3 while a checkout held event 3 and waited for event 7: PostgreSQL broke the deadlock by
aborting one of them, and the buyer got a 503 (found by a review test,
`tests/test_admin_writes_during_sales.py`). The triggers now lock the events in ascending id
(`FOR NO KEY UPDATE`, what the `UPDATE` takes anyway) before rewriting them, the order every
other path uses.

Revision ID: 0012_rename_lock_order
Revises: 0011_search
Create Date: 2026-11-28

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_rename_lock_order"
down_revision = "0011_search"
branch_labels = None
depends_on = None

REFRESH = """
CREATE OR REPLACE FUNCTION {table}_refresh_event_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
{lock}    UPDATE event SET search_vector = event_search_document(title, description, venue_id, category_id)
    WHERE {table}_id = NEW.id;
    RETURN NULL;
END $$;
"""
# Events in ascending id, as every other path locks them (shop.services.locking).
LOCK = "    PERFORM 1 FROM event WHERE {table}_id = NEW.id ORDER BY id FOR NO KEY UPDATE;\n"


def upgrade():
    for table in ("venue", "category"):
        op.execute(REFRESH.format(table=table, lock=LOCK.format(table=table)))


def downgrade():
    for table in ("venue", "category"):
        op.execute(REFRESH.format(table=table, lock=""))
