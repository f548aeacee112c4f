"""browse: the starts_at and title sort indexes carry price_from, so a wide price range's page
is walked from the sort's index alone

A price range is planned once (`shop.services.catalog._price_range_page`): with more than a
thousand matches its page is found by walking the sort's index and checking each event's price.
Without the price in the index, that walk read each walked event's row (and the planner
preferred reading the whole range from the price index and sorting it: 4 ms instead of 0.3 ms
on 10 000 events). The price sorts walk the price indexes themselves, which need nothing more.
Same key columns and order as before (0008), so every sort uses its index as it did.

Revision ID: 0011_browse
Revises: 0010_vacuum_event
Create Date: 2026-11-28

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_browse"
down_revision = "0010_vacuum_event"
branch_labels = None
depends_on = None

PUBLISHED = sa.text("status = 'published'")

# name: key columns, included columns before this migration (0008).
SORT_INDEXES = {
    "ix_event_published_starts_at": (["starts_at", "id"], ["venue_id", "category_id"]),
    "ix_event_published_title": (["title", "id"], ["starts_at", "venue_id", "category_id"]),
}


def _recreate_sort_indexes(with_price: bool) -> None:
    for name, (columns, include) in SORT_INDEXES.items():
        op.drop_index(name, table_name="event")
        op.create_index(
            name,
            "event",
            columns,
            unique=False,
            postgresql_where=PUBLISHED,
            postgresql_include=[*include, "price_from"] if with_price else include,
        )


def upgrade():
    _recreate_sort_indexes(with_price=True)


def downgrade():
    _recreate_sort_indexes(with_price=False)
