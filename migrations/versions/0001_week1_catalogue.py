"""week 1: users and catalogue (ERD v1)

Accounts, categories, venues, events and ticket tiers, with the full-text search
configuration and the triggers that keep event.search_vector and event.price_from current.

Revision ID: 0001_week1_catalogue
Revises:
Create Date: 2026-11-27

"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = "0001_week1_catalogue"
down_revision = None
branch_labels = None
depends_on = None

# Full-text search: an English configuration that also folds accents ("Koncerthuset" matches
# "koncerthuset", "café" matches "cafe"). Events get a tsvector kept up to date by triggers, built
# from the title (weight A), category, venue and city (B) and the description (C).
SEARCH_SQL = """
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TEXT SEARCH CONFIGURATION shop_search (COPY = english);
ALTER TEXT SEARCH CONFIGURATION shop_search
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, english_stem;

CREATE FUNCTION event_search_document(p_title text, p_description text, p_venue_id integer,
                                      p_category_id integer) RETURNS tsvector
LANGUAGE sql STABLE AS $$
    SELECT setweight(to_tsvector('shop_search', coalesce(p_title, '')), 'A')
        || setweight(to_tsvector('shop_search', coalesce(c.name, '') || ' ' || replace(coalesce(c.slug, ''), '-', ' ')), 'B')
        || setweight(to_tsvector('shop_search', coalesce(v.name, '') || ' ' || coalesce(v.city, '')), 'B')
        || setweight(to_tsvector('shop_search', coalesce(p_description, '')), 'C')
    FROM (SELECT 1) AS one
    LEFT JOIN venue v ON v.id = p_venue_id
    LEFT JOIN category c ON c.id = p_category_id
$$;

CREATE FUNCTION event_set_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := event_search_document(NEW.title, NEW.description, NEW.venue_id, NEW.category_id);
    RETURN NEW;
END $$;

CREATE TRIGGER event_search_vector
    BEFORE INSERT OR UPDATE OF title, description, venue_id, category_id ON event
    FOR EACH ROW EXECUTE FUNCTION event_set_search_vector();

CREATE FUNCTION venue_refresh_event_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event SET search_vector = event_search_document(title, description, venue_id, category_id)
    WHERE venue_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER venue_refresh_event_search AFTER UPDATE OF name, city ON venue
    FOR EACH ROW EXECUTE FUNCTION venue_refresh_event_search();

CREATE FUNCTION category_refresh_event_search() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event SET search_vector = event_search_document(title, description, venue_id, category_id)
    WHERE category_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER category_refresh_event_search AFTER UPDATE OF name, slug ON category
    FOR EACH ROW EXECUTE FUNCTION category_refresh_event_search();
"""

# event.price_from is the cheapest tier's price, kept by statement-level triggers (one UPDATE per
# statement, not per row, so bulk loads stay fast) so the listing can sort and filter by price
# through an index. An UPDATE of ticket_type touches the event only when a price (or the event)
# changed: checkout raises `sold` on tiers and must not lock their event rows as well.
PRICE_FROM_SQL = """
CREATE FUNCTION event_refresh_price_from() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE event e SET price_from = (SELECT min(t.price) FROM ticket_type t WHERE t.event_id = e.id)
        WHERE e.id IN (SELECT DISTINCT event_id FROM new_rows);
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE event e SET price_from = (SELECT min(t.price) FROM ticket_type t WHERE t.event_id = e.id)
        WHERE e.id IN (SELECT DISTINCT event_id FROM old_rows);
    ELSE
        UPDATE event e SET price_from = (SELECT min(t.price) FROM ticket_type t WHERE t.event_id = e.id)
        WHERE e.id IN (
            SELECT n.event_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.price IS DISTINCT FROM o.price OR n.event_id IS DISTINCT FROM o.event_id
            UNION
            SELECT o.event_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE n.event_id IS DISTINCT FROM o.event_id
        );
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER ticket_type_price_from_insert AFTER INSERT ON ticket_type
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_refresh_price_from();
CREATE TRIGGER ticket_type_price_from_update AFTER UPDATE ON ticket_type
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_refresh_price_from();
CREATE TRIGGER ticket_type_price_from_delete AFTER DELETE ON ticket_type
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION event_refresh_price_from();
"""

DROP_SQL = """
DROP FUNCTION IF EXISTS event_refresh_price_from() CASCADE;
DROP FUNCTION IF EXISTS category_refresh_event_search() CASCADE;
DROP FUNCTION IF EXISTS venue_refresh_event_search() CASCADE;
DROP FUNCTION IF EXISTS event_set_search_vector() CASCADE;
DROP FUNCTION IF EXISTS event_search_document(text, text, integer, integer);
DROP TEXT SEARCH CONFIGURATION IF EXISTS shop_search;
"""


def upgrade():
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), server_default="customer", nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "email = btrim(email) AND position('@' in email) > 1",
            name=op.f("ck_app_user_email_shape"),
        ),
        sa.CheckConstraint("role IN ('customer', 'admin')", name=op.f("ck_app_user_role_valid")),
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_app_user_name_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
    )
    op.create_index("uq_app_user_email_lower", "app_user", [sa.text("lower(email)")], unique=True)

    op.create_table(
        "category",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name=op.f("ck_category_slug_format")
        ),
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_category_name_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category")),
        sa.UniqueConstraint("name", name=op.f("uq_category_name")),
        sa.UniqueConstraint("slug", name=op.f("uq_category_slug")),
    )

    op.create_table(
        "venue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("length(btrim(city)) > 0", name=op.f("ck_venue_city_not_blank")),
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_venue_name_not_blank")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venue")),
        sa.UniqueConstraint("name", "city", name=op.f("uq_venue_name_city")),
    )
    op.create_index("ix_venue_city_lower", "venue", [sa.text("lower(city)")], unique=False)

    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("venue_id", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("image_url", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("currency", sa.String(length=3), server_default="DKK", nullable=False),
        sa.Column("price_from", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("search_vector", postgresql.TSVECTOR(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name=op.f("ck_event_currency_format")),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'cancelled')",
            name=op.f("ck_event_status_valid"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_event_ends_after_starts")),
        sa.CheckConstraint("length(btrim(title)) > 0", name=op.f("ck_event_title_not_blank")),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["category.id"],
            name=op.f("fk_event_category_id_category"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"],
            ["venue.id"],
            name=op.f("fk_event_venue_id_venue"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
        sa.UniqueConstraint("id", "currency", name=op.f("uq_event_id_currency")),
    )
    op.create_index(
        "ix_event_published_category",
        "event",
        ["category_id", "starts_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_index(
        "ix_event_published_price_from",
        "event",
        ["price_from", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_index(
        "ix_event_published_price_from_desc",
        "event",
        [sa.text("price_from DESC NULLS LAST"), sa.text("id DESC")],
        unique=False,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_index(
        "ix_event_published_starts_at",
        "event",
        ["starts_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_index(
        "ix_event_published_title",
        "event",
        ["title", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_index(
        "ix_event_published_venue",
        "event",
        ["venue_id", "starts_at", "id"],
        unique=False,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_index(
        "ix_event_search_vector",
        "event",
        ["search_vector"],
        unique=False,
        postgresql_using="gin",
    )

    op.create_table(
        "ticket_type",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("price", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("sold", sa.Integer(), server_default="0", nullable=False),
        sa.Column("sales_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sales_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_per_order", sa.Integer(), server_default="10", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_ticket_type_capacity_positive")),
        sa.CheckConstraint("length(btrim(name)) > 0", name=op.f("ck_ticket_type_name_not_blank")),
        sa.CheckConstraint(
            "max_per_order BETWEEN 1 AND 100",
            name=op.f("ck_ticket_type_max_per_order_range"),
        ),
        sa.CheckConstraint("price >= 0", name=op.f("ck_ticket_type_price_not_negative")),
        sa.CheckConstraint(
            "sales_start IS NULL OR sales_end IS NULL OR sales_end > sales_start",
            name=op.f("ck_ticket_type_sales_window_order"),
        ),
        sa.CheckConstraint(
            "sold >= 0 AND sold <= capacity",
            name=op.f("ck_ticket_type_sold_within_capacity"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id", "currency"],
            ["event.id", "event.currency"],
            name=op.f("fk_ticket_type_event_id_currency_event"),
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_type")),
        sa.UniqueConstraint("event_id", "id", name=op.f("uq_ticket_type_event_id_id")),
        sa.UniqueConstraint("event_id", "name", name=op.f("uq_ticket_type_event_id_name")),
    )

    op.execute(SEARCH_SQL)
    op.execute(PRICE_FROM_SQL)


def downgrade():
    op.execute(DROP_SQL)
    op.drop_table("ticket_type")
    op.drop_table("event")
    op.drop_table("venue")
    op.drop_table("category")
    op.drop_table("app_user")
    # The unaccent extension stays: other databases objects may use it, and it is harmless.
