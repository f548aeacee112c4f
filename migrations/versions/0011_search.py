"""search: a table of (fortnight, word, start, event) rows, so a one-word search counts and
sorts its matches from a btree index alone

- `event_search_word`: one row per word of each published event's `search_vector`, with the
  event's 14-day period (migration 0009's `event_search_period`) and start. Its primary key,
  `(period, word, starts_at, event_id)`, is the index a one-word search reads: the word's
  entries of one fortnight, with the start and id the count and the soonest-first page need,
  without visiting the event's row (PostgreSQL reads a heap row for every match of a GIN
  index, even to count it: ~1 µs each, against ~0.1 µs for an index-only entry).
  `word` is compared byte by byte (`COLLATE "C"`), as a tsquery prefix compares lexemes, so a
  prefix is one range of the index.
- Triggers on `event` (insert, update, delete, truncate) keep it exact in the same transaction
  as the change: a published event's rows leave with it, and an update whose status, start or
  words changed moves them.
- `event_search_prefix_end` and `event_search_single_prefix`: the end of a prefix's range, and
  the prefix of a tsquery that is one prefix word (NULL otherwise: such searches read the GIN
  index as before).
- `event_search_lexeme`: every word a published event has had (kept by the same triggers,
  never emptied but by TRUNCATE), and `event_search_exact_query`, which replaces each prefix
  word of a search by the few words it is a prefix of: the GIN index reads exact words far
  faster than prefixes (a two-word search on 100 000 events: 4.5 -> 0.7 ms).

Revision ID: 0011_search
Revises: 0010_vacuum_event
Create Date: 2026-11-28

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011_search"
down_revision = "0010_vacuum_event"
branch_labels = None
depends_on = None

# The rows of a set of events: one per word of the published ones (`COLLATE "C"`: compared
# with the table's words byte by byte, whatever the database's default collation).
WORDS_OF = """
        SELECT event_search_period(e.starts_at) AS period, w.lexeme COLLATE "C" AS word,
               e.starts_at, e.id AS event_id
        FROM {rows} AS e CROSS JOIN unnest(e.search_vector) AS w
        WHERE e.status = 'published'"""

# Deleted by their whole key: the primary key's index finds each row.
DELETE_WORDS = f"""
        DELETE FROM event_search_word AS s
        USING ({WORDS_OF}) AS gone
        WHERE (s.period, s.word, s.starts_at, s.event_id)
            = (gone.period, gone.word, gone.starts_at, gone.event_id);"""
INSERT_WORDS = f"""
        INSERT INTO event_search_word (period, word, starts_at, event_id){WORDS_OF};
        INSERT INTO event_search_lexeme (word)
        SELECT DISTINCT word FROM ({WORDS_OF}) AS words ORDER BY word
        ON CONFLICT DO NOTHING;"""

# Every word a published event gets also goes into `event_search_lexeme` (in word order, so
# two writers adding the same new words cannot deadlock: the second waits for the first's
# commit). Nothing is ever taken out: a word no event has any more only makes a search's query
# one alternative longer (see event_search_exact_query).

# Inserts, deletes and truncates: statement-level triggers, like published_event_day's (0007),
# so a bulk load (`flask seed` copies 100 000 events in one statement) inserts every word in
# one statement. PostgreSQL gives a trigger transition tables for one kind of change only.
# Updates: a row-level trigger whose WHEN PostgreSQL checks without calling any function, so
# the many updates that change no word (a new price_from after a tier is repriced, an image,
# an end time) cost nothing here; an event whose status, start or words changed loses its old
# rows, then gets its new ones (two statements: a word it keeps is deleted before it is
# inserted again).
FUNCTIONS_SQL = f"""
CREATE FUNCTION event_search_word_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        -- Not DELETE: a reseed empties a million rows, and TRUNCATE leaves no dead ones behind.
        TRUNCATE event_search_word, event_search_lexeme;
    ELSIF TG_OP = 'INSERT' THEN{INSERT_WORDS.format(rows="new_rows")}
    ELSIF TG_OP = 'DELETE' THEN{DELETE_WORDS.format(rows="old_rows")}
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION event_search_word_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{DELETE_WORDS.format(rows="(SELECT OLD.*)")}{INSERT_WORDS.format(rows="(SELECT NEW.*)")}
    RETURN NULL;
END $$;

CREATE TRIGGER event_search_word_insert AFTER INSERT ON event
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_search_word_sync();
CREATE TRIGGER event_search_word_update AFTER UPDATE ON event
    FOR EACH ROW WHEN ((OLD.id, OLD.status, OLD.starts_at, OLD.search_vector)
        IS DISTINCT FROM (NEW.id, NEW.status, NEW.starts_at, NEW.search_vector))
    EXECUTE FUNCTION event_search_word_move();
CREATE TRIGGER event_search_word_delete AFTER DELETE ON event
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_search_word_sync();
CREATE TRIGGER event_search_word_truncate AFTER TRUNCATE ON event
    FOR EACH STATEMENT EXECUTE FUNCTION event_search_word_sync();

-- The first string after every string that starts with `prefix`, in byte order (COLLATE "C",
-- which for UTF-8 is code point order): the prefix with its last character's code point plus
-- one. A search's prefix ends with a word character (shop.services.catalog.search_query), never
-- the last code point (U+10FFFF), and the surrogates (U+D800-DFFF) are skipped.
CREATE FUNCTION event_search_prefix_end(prefix text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN left(prefix, -1) || chr(CASE ascii(right(prefix, 1))
        WHEN 55295 THEN 57344 ELSE ascii(right(prefix, 1)) + 1 END);

-- 'jazz':* -> jazz: the prefix of a tsquery that is a single prefix word, NULL for anything
-- else (several words, an empty query, a phrase such as to_tsquery makes of "foo_bar").
CREATE FUNCTION event_search_single_prefix(query tsquery) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE WHEN numnode(query) = 1 THEN
        replace(substring(query::text FROM '^''((?:[^'']|'''')+)'':\\*$'), '''''', '''') END;

-- 'nigh':* & 'kold':* -> 'night' & 'kold': each prefix word of a tsquery replaced by the words
-- of published events it is a prefix of, when there are 1 to 8 of them ('co':* -> ( 'coffe' |
-- 'comedi' | 'concert' | 'copenhagen' )); with none or more than 8 the prefix stays. The same
-- matches: every word of a published event is in event_search_lexeme. Why: the GIN index
-- reads a prefix word by collecting every entry under it into a bitmap before combining the
-- words, while exact words are combined as it reads them (a two-word search on 100 000
-- events: 4.5 ms -> 0.7 ms over 14 fortnights).
CREATE FUNCTION event_search_exact_query(query tsquery) RETURNS tsquery
    LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    result text := query::text;
    quoted text;  -- a prefix as the query's text writes it (quotes doubled)
    words text[];
BEGIN
    FOR quoted IN
        SELECT DISTINCT m[1] FROM regexp_matches(result, '''((?:[^'']|'''')+)'':\\*', 'g') AS m
    LOOP
        SELECT array_agg(lexeme ORDER BY word) INTO words FROM (
            SELECT word, '''' || replace(replace(word, '\\', '\\\\'), '''', '''''') || '''' AS lexeme
            FROM event_search_lexeme
            WHERE word >= replace(quoted, '''''', '''')
                AND word < event_search_prefix_end(replace(quoted, '''''', ''''))
            ORDER BY word LIMIT 9
        ) AS found;
        IF cardinality(words) BETWEEN 1 AND 8 THEN
            result := replace(
                result, '''' || quoted || ''':*', '( ' || array_to_string(words, ' | ') || ' )');
        END IF;
    END LOOP;
    RETURN result::tsquery;
END $$;
"""


def upgrade():
    op.create_table(
        "event_search_word",
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("word", sa.Text(collation="C"), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "period", "word", "starts_at", "event_id", name=op.f("pk_event_search_word")
        ),
    )
    # Vacuumed once a hundredth of its rows have changed, not a fifth: until a page is vacuumed
    # again, an index-only scan reads the row of each of its entries as well (an admin edit
    # dirties the pages of the event's old rows).
    op.execute(
        "ALTER TABLE event_search_word SET (autovacuum_vacuum_scale_factor = 0.01,"
        " autovacuum_vacuum_insert_scale_factor = 0.01)"
    )
    op.create_table(
        "event_search_lexeme",
        sa.Column("word", sa.Text(collation="C"), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_event_search_lexeme")),
    )
    op.execute(FUNCTIONS_SQL)
    op.execute(INSERT_WORDS.format(rows="event"))
    # A new table's pages are not marked all-visible until it is vacuumed, and until then an
    # index-only scan reads each entry's row as well (see 0010).
    with op.get_context().autocommit_block():
        op.execute("VACUUM (ANALYZE) event_search_word, event_search_lexeme")


def downgrade():
    op.execute("DROP FUNCTION event_search_exact_query(tsquery)")
    op.execute("DROP FUNCTION event_search_single_prefix(tsquery)")
    op.execute("DROP FUNCTION event_search_prefix_end(text)")
    op.execute("DROP FUNCTION event_search_word_sync() CASCADE")
    op.execute("DROP FUNCTION event_search_word_move() CASCADE")
    op.drop_table("event_search_lexeme")
    op.drop_table("event_search_word")
