"""vacuum the event table that 0009 rewrote, so reading the catalogue's indexes skips its rows
again

Adding a stored generated column (0009's `event.search_periods`) rewrites the whole table, and a
rewritten table starts with an empty visibility map: PostgreSQL no longer knows that any of its
pages is visible to every transaction. An index-only scan (the listing walks its sort index to
the page, counts today's events from an index) must then read each event's row as well, to
check it is visible: on the 100 000-event bench database, PostgreSQL's CPU per listing request
was 1 841 µs instead of 1 015 µs. Autovacuum would set the map again, but it only comes back
once a fifth of the rows have changed, which a catalogue that is mostly read may not see for
months. So this migration vacuums the table itself, right after the rewrite.

`VACUUM` cannot run inside a transaction: Alembic's `autocommit_block` commits what ran before
it and runs it on its own. It takes no lock that blocks reads or writes. A future migration that
rewrites a table (a stored generated column, a column's type changed) vacuums it the same way.

Revision ID: 0010_vacuum_event
Revises: 0009_search
Create Date: 2026-11-28

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_vacuum_event"
down_revision = "0009_search"
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        op.execute("VACUUM (ANALYZE) event")


def downgrade():
    # Nothing to undo: the vacuum changed no schema and no row.
    pass
