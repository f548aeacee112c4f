"""browse: the sort indexes carry venue_id and category_id, so a city's or a category's page is
walked from the sort's index alone

The listing of every event, a category or a city is planned once (a generic plan: the page and
the city reach the statement unseen by the planner, see `shop.services.catalog.listing_page`).
Such a plan cannot know how many events a city has, and walking the sort's index to the page
had to read each skipped event's row for its venue, so the planner chose collecting all of the
city's events and sorting them (100 000 events: 2.6 ms a page). With `venue_id` and
`category_id` in every sort index, the walk checks the city's venues (and a category) in the
index alone, and is the plan chosen whatever the city: 0.2 ms a page. Same key columns and
order as before (0005, 0007), so every sort uses its index as it did.

Revision ID: 0008_browse
Revises: 0007_browse
Create Date: 2026-11-28

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0008_browse"
down_revision = "0007_browse"
branch_labels = None
depends_on = None

PUBLISHED = sa.text("status = 'published'")

# name: key columns, included columns before this migration (0005, 0007).
SORT_INDEXES = {
    "ix_event_published_starts_at": (["starts_at", "id"], []),
    "ix_event_published_price_from": (["price_from", "id"], ["starts_at"]),
    "ix_event_published_price_from_desc": (
        [sa.text("price_from DESC NULLS LAST"), sa.text("id DESC")],
        ["starts_at"],
    ),
    "ix_event_published_title": (["title", "id"], ["starts_at"]),
}
WALK_FILTERS = ["venue_id", "category_id"]


def _recreate_sort_indexes(with_walk_filters: bool) -> None:
    for name, (columns, include) in SORT_INDEXES.items():
        included = include + WALK_FILTERS if with_walk_filters else include
        op.drop_index(name, table_name="event")
        op.create_index(
            name,
            "event",
            columns,
            unique=False,
            postgresql_where=PUBLISHED,
            **({"postgresql_include": included} if included else {}),
        )


def upgrade():
    _recreate_sort_indexes(with_walk_filters=True)


def downgrade():
    _recreate_sort_indexes(with_walk_filters=False)
