"""search: the full-text index by fortnight, so a search reads the fortnights it needs, not the
whole catalogue

- `event.search_periods`: the event's `search_vector` with every word tagged with the period of
  14 days the event starts in (`1484/jazz`: period 1484 counted from 1970-01-01 UTC), a
  generated column, so PostgreSQL keeps it current whenever the words or the start change.
- `ix_event_published_search_periods`: a GIN index over it, published events only. A search
  reads it one period at a time from the current one and stops once it has counted one match
  past the cap: a common word costs about the same on 10 000 or 100 000 events (the old index
  made it read every event's entry for the word, past, draft and cancelled ones included:
  14 000 for "concert" on 100 000 events). Past periods are never read, so no job has to take
  past events out. `fastupdate = off`: the search reads the index up to ~14 times, and each
  read would scan the whole pending list of new entries again.

Revision ID: 0009_search
Revises: 0008_browse
Create Date: 2026-11-28

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_search"
down_revision = "0008_browse"
branch_labels = None
depends_on = None

# SQL-standard bodies (RETURN ...): PostgreSQL resolves the names when the function is created,
# so they also work where it runs them with an empty search_path (index builds, generated
# columns). All of them are truly IMMUTABLE: the epoch of a timestamptz does not depend on the
# session's time zone (`starts_at - to_timestamp(0)` is an interval, unlike `extract(epoch FROM
# starts_at)`, which PostgreSQL marks STABLE), and tsvector/tsquery text is fixed.
FUNCTIONS_SQL = r"""
-- Periods of 14 × 24 hours from 1970-01-01 00:00 UTC (1 209 600 seconds).
CREATE FUNCTION event_search_period(starts_at timestamptz) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN floor(extract(epoch FROM starts_at - to_timestamp(0)) / 1209600)::integer;

-- Every lexeme 'word' of the text form becomes 'period/word' (quotes inside a lexeme are
-- doubled, hence the pattern); positions and weights stay as they were.
CREATE FUNCTION event_period_search_vector(period integer, document tsvector) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN regexp_replace(document::text, '''((?:[^'']|'''')*)''', '''' || period || '/\1''', 'g')
        ::tsvector;

-- The same for a query, in two steps so that a search tags its words once, not per period:
-- event_period_search_template turns 'jazz':* & 'cop':* into '#/jazz':* & '#/cop':* (NULL
-- for an empty query: only stop words, which matches nothing), and event_period_search_query
-- puts the period in place of '#' (~1 µs; the regular expression costs ~5). '#' is never part
-- of a lexeme: only word characters reach PostgreSQL (shop.services.catalog.search_query). The
-- query finds in event_period_search_vector(1484, v) exactly what the original finds in v, for
-- events of period 1484 only.
CREATE FUNCTION event_period_search_template(query tsquery) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN numnode(query) > 0 THEN
        regexp_replace(query::text, '''((?:[^'']|'''')*)''', '''#/\1''', 'g') END;

CREATE FUNCTION event_period_search_query(period integer, template text) RETURNS tsquery
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN replace(template, '#', period::text)::tsquery;
"""


def upgrade():
    op.execute(FUNCTIONS_SQL)
    op.execute(
        "ALTER TABLE event ADD COLUMN search_periods tsvector GENERATED ALWAYS AS"
        " (event_period_search_vector(event_search_period(starts_at), search_vector)) STORED"
    )
    op.create_index(
        "ix_event_published_search_periods",
        "event",
        ["search_periods"],
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
        postgresql_where=sa.text("status = 'published'"),
    )


def downgrade():
    op.drop_index("ix_event_published_search_periods", table_name="event")
    op.drop_column("event", "search_periods")
    op.execute("DROP FUNCTION event_period_search_query(integer, text)")
    op.execute("DROP FUNCTION event_period_search_template(tsquery)")
    op.execute("DROP FUNCTION event_period_search_vector(integer, tsvector)")
    op.execute("DROP FUNCTION event_search_period(timestamptz)")
