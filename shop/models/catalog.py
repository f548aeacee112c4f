"""The catalogue (week 1): categories, venues, events and their ticket tiers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Computed,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shop.models.base import Base, TimestampMixin
from shop.models.enums import EnumString, EventStatus, one_of

PUBLISHED = text(f"status = '{EventStatus.PUBLISHED}'")
# What a walk along a sort index of the listing checks besides the start: a city is venues.
WALK_FILTERS = ["venue_id", "category_id"]


class Category(TimestampMixin, Base):
    """A kind of event (concerts, comedy, ...), addressed by its slug in URLs."""

    __tablename__ = "category"
    __table_args__ = (
        CheckConstraint("slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'", name="slug_format"),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Venue(TimestampMixin, Base):
    """Where events take place."""

    __tablename__ = "venue"
    __table_args__ = (
        UniqueConstraint("name", "city"),
        # The `city` filter compares case-insensitively.
        Index("ix_venue_city_lower", text("lower(city)")),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
        CheckConstraint("length(btrim(city)) > 0", name="city_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(100))


class Event(TimestampMixin, Base):
    """Something people buy tickets for. Only `published` events are visible to the public.

    `search_vector` and `price_from` are maintained by database triggers (see the week-1
    migration): the first from the title, description, venue, city and category, the second as
    the cheapest tier's price. The application never writes them.
    """

    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        one_of("status", EventStatus, name="status_valid"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_format"),
        CheckConstraint("length(btrim(title)) > 0", name="title_not_blank"),
        # Target of ticket_type's (event_id, currency) key: an event's tiers share its currency.
        UniqueConstraint("id", "currency"),
        Index("ix_event_search_vector", "search_vector", postgresql_using="gin"),
        # A search reads this a fortnight at a time (shop.services.catalog._search_page).
        Index(
            "ix_event_published_search_periods",
            "search_periods",
            postgresql_using="gin",
            postgresql_with={"fastupdate": "off"},
            postgresql_where=PUBLISHED,
        ),
        # One partial index per sort and filter the public listing offers (published only).
        # The sort indexes carry starts_at (upcoming only), venue_id (a city) and category_id,
        # so a price range is counted, and a deep page of any sort or a city's or a category's
        # page walked to, from the index alone, without reading event rows (migration 0008).
        Index(
            "ix_event_published_starts_at",
            "starts_at",
            "id",
            postgresql_where=PUBLISHED,
            postgresql_include=WALK_FILTERS,
        ),
        Index(
            "ix_event_published_price_from",
            "price_from",
            "id",
            postgresql_where=PUBLISHED,
            postgresql_include=["starts_at", *WALK_FILTERS],
        ),
        # `-price` wants the dearest first with events that have no tiers still last.
        Index(
            "ix_event_published_price_from_desc",
            text("price_from DESC NULLS LAST"),
            text("id DESC"),
            postgresql_where=PUBLISHED,
            postgresql_include=["starts_at", *WALK_FILTERS],
        ),
        Index(
            "ix_event_published_title",
            "title",
            "id",
            postgresql_where=PUBLISHED,
            postgresql_include=["starts_at", *WALK_FILTERS],
        ),
        Index(
            "ix_event_published_category",
            "category_id",
            "starts_at",
            "id",
            postgresql_where=PUBLISHED,
        ),
        Index(
            "ix_event_published_venue", "venue_id", "starts_at", "id", postgresql_where=PUBLISHED
        ),
        # A category in a city: one range of this index per venue of the city, read alone.
        Index(
            "ix_event_published_category_venue",
            "category_id",
            "venue_id",
            "starts_at",
            "id",
            postgresql_where=PUBLISHED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    # RESTRICT: a venue or category in use cannot vanish from under its events.
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="RESTRICT"))
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id", ondelete="RESTRICT"))
    image_url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[EventStatus] = mapped_column(
        EnumString(EventStatus, 16), default=EventStatus.DRAFT, server_default=EventStatus.DRAFT
    )
    currency: Mapped[str] = mapped_column(String(3), default="DKK", server_default="DKK")
    price_from: Mapped[Decimal | None]
    # Never needed in Python: deferred, so loading an event does not ship its search document.
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR, deferred=True)
    # search_vector with each word tagged with the 14-day period the event starts in
    # ("1484/jazz"), so a search can read the full-text index a fortnight at a time (0009).
    search_periods: Mapped[str | None] = mapped_column(
        TSVECTOR,
        Computed("event_period_search_vector(event_search_period(starts_at), search_vector)"),
        deferred=True,
    )

    venue: Mapped[Venue] = relationship(lazy="raise")
    category: Mapped[Category] = relationship(lazy="raise")
    ticket_types: Mapped[list[TicketType]] = relationship(
        back_populates="event", lazy="raise", order_by="TicketType.price, TicketType.id"
    )


class PublishedEventDay(Base):
    """How many published events start on each day (UTC): in all (`category_id` and `venue_id`
    0), per category (`venue_id` 0) and per venue (`category_id` 0). What the listing counts
    every event, a category or a city from (see `shop.services.catalog.day_counted_total`).

    Kept exact by database triggers in the same transaction as every insert, update, delete or
    truncate of `event` (migration 0007); the application never writes it. 0 stands for "any"
    (a primary key column cannot be NULL), so the keys are not foreign keys."""

    __tablename__ = "published_event_day"

    category_id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(primary_key=True)
    starts_on: Mapped[date] = mapped_column(primary_key=True)
    events: Mapped[int]


class EventSearchWord(Base):
    """One word of a published event's `search_vector`, with the event's 14-day period (see
    `Event.search_periods`) and start: what a one-word search counts and sorts its matches from
    without reading the events' rows (see `shop.services.catalog._search_page`).

    Kept exact by database triggers in the same transaction as every insert, update, delete or
    truncate of `event` (migration 0011); the application never writes it. `word` compares byte
    by byte (`COLLATE "C"`), as a tsquery prefix compares lexemes, so the words starting with a
    prefix are one range of the primary key."""

    __tablename__ = "event_search_word"

    period: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(primary_key=True)


class EventSearchLexeme(Base):
    """Every word a published event has had (its `search_vector`'s lexemes): what a search's
    prefix words are expanded into, so the full-text index reads exact words (see
    `event_search_exact_query`, migration 0011). Kept by the same triggers as
    `EventSearchWord`; words are never taken out (one no event has any more only adds an
    alternative that matches nothing)."""

    __tablename__ = "event_search_lexeme"

    word: Mapped[str] = mapped_column(Text(collation="C"), primary_key=True)


class TicketType(TimestampMixin, Base):
    """A tier of tickets for one event: its price, how many exist and how many are sold.

    `sold` only ever changes by an increment, never by writing a value read earlier: checkout
    raises it with a conditional `UPDATE ... SET sold = sold + n`, cancelling an order or an
    event lowers it by the seats of the tickets voided (`release_seats`). The CHECK makes
    selling past capacity impossible even if code gets it wrong.
    """

    __tablename__ = "ticket_type"
    __table_args__ = (
        UniqueConstraint("event_id", "name"),
        # Target of cart_item's composite key (a line's event and tier always agree).
        UniqueConstraint("event_id", "id"),
        ForeignKeyConstraint(
            ["event_id", "currency"],
            ["event.id", "event.currency"],
            ondelete="CASCADE",
            onupdate="CASCADE",
        ),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("sold >= 0 AND sold <= capacity", name="sold_within_capacity"),
        CheckConstraint("max_per_order BETWEEN 1 AND 100", name="max_per_order_range"),
        CheckConstraint(
            "max_per_customer IS NULL OR max_per_customer BETWEEN 1 AND 1000",
            name="max_per_customer_range",
        ),
        CheckConstraint(
            "sales_start IS NULL OR sales_end IS NULL OR sales_end > sales_start",
            name="sales_window_order",
        ),
        CheckConstraint("length(btrim(name)) > 0", name="name_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Deleting an event takes its tiers along; tiers with sales are protected by order_item's
    # RESTRICT key, so an event with sales cannot be deleted at all.
    event_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    price: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    capacity: Mapped[int]
    sold: Mapped[int] = mapped_column(default=0, server_default="0")
    sales_start: Mapped[datetime | None]
    sales_end: Mapped[datetime | None]
    max_per_order: Mapped[int] = mapped_column(default=10, server_default="10")
    # Anti-scalping: at most this many tickets per customer across their confirmed orders
    # (checked at checkout); None means no limit beyond max_per_order.
    max_per_customer: Mapped[int | None]

    event: Mapped[Event] = relationship(back_populates="ticket_types", lazy="raise")
