"""Demo data: a Copenhagen-flavoured catalogue in DKK with real sales, and (when asked) a demo
customer and a demo admin.

The seed tells the truth: every seat counted in `ticket_type.sold` is a ticket of a confirmed
order (valid, or used for past events), bought by a seeded customer through a checked-out cart,
exactly as checkout would have written it; some orders were cancelled (their tickets void, their
seats back on sale). The demo customer has past orders and an open cart. Drafts never sold.

Deterministic: the same `seed` on the same day gives the same rows (dates are laid out from
today's midnight UTC, so "upcoming" stays upcoming) — except ticket codes, which are random like
real ones, since a code is what gets a person in. Bulk-loaded with COPY, so 100 000 events take
seconds, not minutes.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shop.database import driver_connection
from shop.models import Cart, CartStatus, Category, Event, User, Venue
from shop.services.passwords import hash_password

DEMO_CUSTOMER = {
    "email": "customer@example.com",
    "password": "Customer-Pass-2026",
    "name": "Dana Demo",
}
DEMO_ADMIN = {"email": "admin@example.com", "password": "Admin-Pass-2026", "name": "Anders Admin"}

CATEGORIES = [
    ("concerts", "Concerts"),
    ("jazz", "Jazz"),
    ("comedy", "Comedy"),
    ("theatre", "Theatre"),
    ("classical", "Classical"),
    ("festivals", "Festivals"),
    ("sports", "Sports"),
    ("talks", "Talks"),
    ("family", "Family"),
    ("food-and-drink", "Food & Drink"),
]

VENUES = [
    ("Royal Arena", "Hannemanns Allé 18", "Copenhagen"),
    ("Vega", "Enghavevej 40", "Copenhagen"),
    ("Jazzhouse", "Niels Hemmingsens Gade 10", "Copenhagen"),
    ("Den Grå Hal", "Refshalevej 2", "Copenhagen"),
    ("DR Koncerthuset", "Ørestads Boulevard 13", "Copenhagen"),
    ("Det Kongelige Teater", "Kongens Nytorv 9", "Copenhagen"),
    ("Tivoli Gardens Concert Hall", "Vesterbrogade 3", "Copenhagen"),
    ("Parken", "Øster Allé 50", "Copenhagen"),
    ("Bremen Teater", "Nyropsgade 39", "Copenhagen"),
    ("Pumpehuset", "Studiestræde 52", "Copenhagen"),
    ("Musikhuset Aarhus", "Thomas Jensens Allé 2", "Aarhus"),
    ("Train", "Toldbodgade 6", "Aarhus"),
    ("Godsbanen", "Skovgaardsgade 3", "Aarhus"),
    ("Odeon", "Odeons Kvarter 1", "Odense"),
    ("Posten", "Østre Stationsvej 35", "Odense"),
    ("Aalborg Kongres & Kultur Center", "Europa Plads 4", "Aalborg"),
    ("Studenterhuset", "Gammeltorv 10", "Aalborg"),
    ("Gimle", "Helligkorsvej 2", "Roskilde"),
    ("Tobakken", "Gasværksvej 2", "Esbjerg"),
    ("Godset", "Jernbanegade 7", "Kolding"),
]

# Title templates per category; {a} is an act, {b} a theme.
TITLES = {
    "concerts": ["{a} Live", "{a}: {b} Tour", "{a} Unplugged", "An Evening with {a}"],
    "jazz": [
        "{a} Jazz Quartet",
        "Late Night Jazz with {a}",
        "{b} Jazz Session",
        "{a} Trio plays {b}",
    ],
    "comedy": [
        "{a}: Stand-up Special",
        "Comedy Night with {a}",
        "{b} Comedy Club",
        "{a} Live & Loud",
    ],
    "theatre": ["{b}", "{b} – the Play", "{a} in {b}", "Hamlet Reimagined by {a}"],
    "classical": [
        "{a} plays Beethoven",
        "Nordic Symphonies: {b}",
        "{a} Chamber Orchestra",
        "Mozart by Candlelight",
    ],
    "festivals": [
        "{b} Festival",
        "{b} Weekender",
        "Harbour {b} Festival",
        "{a} & Friends Festival",
    ],
    "sports": ["FC {a} vs {b}", "{b} Cup Final", "Copenhagen {b} Open", "{b} Derby"],
    "talks": ["{a} on {b}", "TechTalk: {b}", "The Future of {b}", "{b} Summit"],
    "family": ["{b} for Kids", "Family Day: {b}", "{a}'s Puppet Show", "Circus {b}"],
    "food-and-drink": ["{b} Tasting", "Smørrebrød & {b}", "Craft Beer: {b}", "Natural Wine {b}"],
}
THEMES = [
    "Northern Lights",
    "Harbour Nights",
    "Midsummer",
    "Hygge",
    "Nyhavn",
    "Blue Hour",
    "Winter Tales",
    "Copenhagen Sound",
    "Aurora",
    "Baltic Breeze",
    "Little Mermaid",
    "Vesterbro",
    "Nørrebro",
    "Christianshavn",
    "Golden Age",
    "New Nordic",
    "Electric Dreams",
    "Saxophone",
    "Sunset",
    "Green Energy",
    "AI",
    "Design",
    "Cycling",
    "Handball",
    "Football",
    "Chess",
    "Coffee",
    "Cheese",
]
ACTS = [
    "Mø",
    "Lukas Graham",
    "Agnes Obel",
    "Aqua Revival",
    "The Raveonettes",
    "Volbeat Tribute",
    "Medina",
    "Tina Dickow",
    "Nik & Jay",
    "Carl Nielsen Ensemble",
    "Copenhagen Phil",
    "Ida Laurberg",
    "Mikkel Bo",
    "Sofie Holm",
    "Jesper Vang",
    "Freja Lund",
    "Oskar Brandt",
    "The Danish Brass",
    "Nordlys",
    "Søren Kragh",
    "Anne Linnet Tribute",
    "Kasper Winding",
]
TIER_SETS = [
    [("Standard", Decimal("250.00"))],
    [("Standard", Decimal("295.00")), ("VIP", Decimal("650.00"))],
    [
        ("Early bird", Decimal("175.00")),
        ("Standard", Decimal("225.00")),
        ("Front row", Decimal("495.00")),
    ],
    [
        ("Student", Decimal("95.00")),
        ("Standard", Decimal("195.00")),
        ("Premium", Decimal("395.00")),
        ("Backstage", Decimal("1200.00")),
    ],
    [("General admission", Decimal("150.00"))],
    [("Seated", Decimal("345.00")), ("Standing", Decimal("275.00"))],
]
DESCRIPTIONS = [
    "An unforgettable night of music in the heart of the city.",
    "Doors open one hour before the show. Food and drinks available on site.",
    "Expect surprises, guest appearances and a crowd that sings along.",
    "A programme for curious minds, followed by a Q&A.",
    "Bring friends and family: something for every age.",
    "Seating is limited; arrive early for the best views of the stage.",
]


# Seeded customers who bought the seeded tickets. Their password hash is not an Argon2 hash, so
# no password signs them in (verify_password answers False for it).
BUYER_PASSWORD_HASH = "!seeded-customer-without-a-password"
FIRST_NAMES = ["Ida", "Emma", "Freja", "Sofie", "Mikkel", "Lucas", "Oscar", "William", "Nora"]
LAST_NAMES = ["Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Larsen", "Holm", "Vang"]


@dataclass
class SeedReport:
    events: int
    ticket_types: int
    orders: int = 0
    tickets: int = 0
    skipped: bool = False
    # Emails of the demo accounts created by this run (empty when they existed already).
    demo_users_created: list[str] = field(default_factory=list)


def catalogue_is_seeded(session: Session) -> bool:
    return session.execute(select(func.count()).select_from(Event)).scalar_one() > 0


def reset_database(session: Session) -> None:
    """Empty every table (schema stays), restarting ids."""
    tables = ", ".join(
        f'"{name}"'
        for name in (
            "ticket",
            "order_item",
            "customer_order",
            "cart_item",
            "cart",
            "idempotency_key",
            "revoked_token",
            "ticket_type",
            "event",
            "venue",
            "category",
            "app_user",
        )
    )
    session.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def ensure_demo_users(session: Session) -> list[str]:
    """The demo customer and admin with the README's published passwords, when missing (only
    when asked for: `flask seed --demo-accounts`, the default outside production); returns the
    emails created."""
    created = []
    for account, role in ((DEMO_CUSTOMER, "customer"), (DEMO_ADMIN, "admin")):
        exists = session.scalar(select(User.id).where(func.lower(User.email) == account["email"]))
        if not exists:
            session.add(
                User(
                    email=account["email"],
                    name=account["name"],
                    password_hash=hash_password(account["password"]),
                    role=role,
                )
            )
            created.append(account["email"])
    session.flush()
    return created


def seed(
    session: Session,
    *,
    events: int = 300,
    random_seed: int = 2026,
    today: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    demo_accounts: bool = True,
) -> SeedReport:
    """Fill an empty catalogue, with its sales. Does nothing (skipped=True) when events already
    exist. `demo_accounts` also creates the documented demo customer and admin (never on a
    public deployment: `flask provision` passes False)."""
    created = ensure_demo_users(session) if demo_accounts else []
    if catalogue_is_seeded(session):
        return SeedReport(events=0, ticket_types=0, skipped=True, demo_users_created=created)

    rng = random.Random(random_seed)
    sales_rng = random.Random(random_seed + 1)  # sales never change the catalogue's draws
    today = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)

    session.add_all(Category(slug=slug, name=name) for slug, name in CATEGORIES)
    session.add_all(Venue(name=name, address=address, city=city) for name, address, city in VENUES)
    session.flush()
    category_ids = dict(session.execute(select(Category.slug, Category.id)).all())
    venue_ids = list(session.scalars(select(Venue.id).order_by(Venue.id)))
    demo_customer_id = (
        session.scalar(select(User.id).where(User.email == DEMO_CUSTOMER["email"]))
        if demo_accounts
        else None
    )
    buyer_ids = _copy_buyers(session, sales_rng, max(10, events // 20))
    first_ids = {
        table: session.scalar(text(f"SELECT coalesce(max(id), 0) + 1 FROM {table}"))
        for table in ("cart", "customer_order", "order_item")
    }
    sales = _Sales(sales_rng, buyer_ids, demo_customer_id, today, first_ids)

    raw = driver_connection(session)
    counts = {"ticket_types": 0}
    with (
        raw.cursor() as cursor,
        _indexes_built_afterwards(
            session, SALES_TABLES, REBUILT_EVENT_INDEXES, REBUILT_CONSTRAINTS
        ),
    ):
        batch = 5000
        for start in range(0, events, batch):
            size = min(batch, events - start)
            event_rows, tier_rows = _generate(
                rng, start, size, events, today, category_ids, venue_ids, counts["ticket_types"]
            )
            _copy(cursor, "event", EVENT_COLUMNS, event_rows)
            _copy(cursor, "ticket_type", TIER_COLUMNS, tier_rows)
            counts["ticket_types"] += len(tier_rows)
            sales.sell(event_rows, tier_rows)
            sales.copy(cursor)
            if progress:
                progress(size)
    for table in ("event", "ticket_type", "cart", "customer_order", "order_item"):
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        )
    if demo_customer_id is not None:
        _open_demo_cart(session, demo_customer_id, first_ids["cart"])
    session.execute(
        text(
            "ANALYZE event; ANALYZE event_search_word; ANALYZE ticket_type; ANALYZE venue;"
            " ANALYZE category; ANALYZE"
            " app_user; ANALYZE cart; ANALYZE customer_order; ANALYZE order_item; ANALYZE ticket"
        )
    )
    return SeedReport(
        events=events,
        ticket_types=counts["ticket_types"],
        orders=sales.orders_written,
        tickets=sales.tickets_written,
        demo_users_created=created,
    )


EVENT_COLUMNS = (
    "id",
    "title",
    "description",
    "starts_at",
    "ends_at",
    "venue_id",
    "category_id",
    "image_url",
    "status",
    "currency",
)
TIER_COLUMNS = (
    "id",
    "event_id",
    "name",
    "description",
    "price",
    "currency",
    "capacity",
    "sold",
    "sales_start",
    "sales_end",
    "max_per_order",
)


SALES_TABLES = ["cart", "customer_order", "order_item", "ticket"]
# The full-text index by fortnight takes each insert's entries one by one (fastupdate = off,
# migration 0009; 10 000 events took 1-3 s longer to insert with it than without): built once
# after the load instead.
REBUILT_EVENT_INDEXES = ["ix_event_published_search_periods"]
# The words' table gets ~13 rows per event from a trigger during the load (migration 0011):
# inserting them into its key one by one doubled the seed's time (30 000 events: 11 -> 21 s);
# the key is built once after the load instead.
REBUILT_CONSTRAINTS = ["pk_event_search_word"]


@contextmanager
def _indexes_built_afterwards(
    session: Session,
    tables: list[str],
    other_indexes: list[str],
    other_constraints: list[str],
) -> Iterator[None]:
    """Bulk loading the way pg_restore does it: drop the tables' secondary indexes, unique
    constraints and foreign keys (and `other_indexes` and `other_constraints`, of other tables:
    a primary key too), load the rows, then
    re-create each from its own definition
    (pg_get_indexdef / pg_get_constraintdef, so names and rules stay exactly the migration's).
    Building an index once over a million rows, and checking a foreign key with one join, is
    several times cheaper than doing both row by row. All of it is one transaction: if the load
    fails, the indexes and constraints were never gone."""
    params = {
        "tables": tables,
        "other_indexes": other_indexes,
        "other_constraints": other_constraints,
    }
    constraints = session.execute(
        text(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid)"
            " FROM pg_constraint WHERE (contype IN ('u', 'f')"
            " AND conrelid::regclass::text = ANY(:tables)) OR conname = ANY(:other_constraints)"
            " ORDER BY contype DESC, conname"
        ),
        params,
    ).all()
    indexes = session.execute(
        text(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE (indrelid::regclass::text = ANY(:tables) AND NOT indisprimary"
            " AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conindid <> 0))"
            " OR indexrelid::regclass::text = ANY(:other_indexes)"
        ),
        params,
    ).all()
    for table, name, _, _ in constraints:  # foreign keys first ('p' < 'u' < 'f' in DESC order)
        session.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        session.execute(text(f'DROP INDEX "{name}"'))
    yield
    session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for _, definition in indexes:
        session.execute(text(definition))
    for table, name, _, definition in reversed(constraints):  # unique ones before keys
        session.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))


def _copy(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _copy_buyers(session: Session, rng: random.Random, count: int) -> list[int]:
    """`count` seeded customers (buyer1@example.com ...), who cannot sign in; those an earlier
    seed left (the catalogue was emptied, the accounts were not) are reused."""
    ids = list(
        session.scalars(
            select(User.id).where(User.password_hash == BUYER_PASSWORD_HASH).order_by(User.id)
        )
    )
    if len(ids) >= count:
        return ids[:count]
    first_id = session.execute(select(func.coalesce(func.max(User.id), 0))).scalar_one() + 1
    new_ids = list(range(first_id, first_id + count - len(ids)))
    raw = driver_connection(session)
    with raw.cursor() as cursor:
        _copy(
            cursor,
            "app_user",
            ("id", "email", "name", "password_hash", "role"),
            [
                (
                    user_id,
                    f"buyer{n}@example.com",
                    f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                    BUYER_PASSWORD_HASH,
                    "customer",
                )
                for n, user_id in enumerate(new_ids, start=len(ids) + 1)
            ],
        )
    session.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('app_user', 'id'),"
            " (SELECT max(id) + 1 FROM app_user), false)"
        )
    )
    return ids + new_ids


BASE32_OF_BYTE = bytes(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[byte % 32] for byte in range(256))


def _copy_text(cursor, table: str, columns: tuple[str, ...], lines: list[str]) -> None:
    """COPY rows already written in COPY's text format (tab-separated, one per line, \\N for
    NULL): for millions of rows, an f-string per row is several times cheaper than letting
    psycopg convert every value."""
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write("".join(lines))


def _text(value: str) -> str:
    """A text value for COPY's text format."""
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


class _Sales:
    """Turns each tier's `sold` into what checkout would have written: per order a checked-out
    cart, a confirmed order, its line and one ticket per seat (valid; scanned for most past
    events). Some tiers also get a cancelled order (void tickets, not counted in `sold`). Rows
    are collected per batch and COPYed; ids are assigned here so the rows can reference each
    other without a round trip."""

    def __init__(
        self,
        rng: random.Random,
        buyer_ids: list[int],
        demo_customer_id: int | None,
        today: datetime,
        first_ids: dict[str, int],
    ) -> None:
        self.rng = rng
        self.buyer_ids = buyer_ids
        self.today = today
        # The demo customer's history: an order for a past event (tickets scanned), two upcoming
        # orders and a cancelled one. Order 1 is theirs, as docs/sql's examples assume.
        self.demo_wants = (
            {"past": 1, "upcoming": 2, "cancelled": 1} if demo_customer_id is not None else {}
        )
        self.demo_customer_id = demo_customer_id
        # The first cart id (1 on an empty database) stays free for the demo customer's open cart.
        self.next_cart = first_ids["cart"] + (demo_customer_id is not None)
        self.next_order = first_ids["customer_order"]
        self.next_item = first_ids["order_item"]
        self.orders_written = 0
        self.tickets_written = 0
        self._reset()

    def _reset(self) -> None:
        self.carts: list[str] = []
        self.orders: list[str] = []
        self.items: list[str] = []
        # Ticket lines with "{code}" left to fill: codes are drawn in bulk when copying.
        self.tickets: list[str] = []

    def _buyer(self, kind: str) -> int:
        if self.demo_customer_id is not None and self.demo_wants.get(kind):
            self.demo_wants[kind] -= 1
            return self.demo_customer_id
        return self.buyer_ids[self.rng.randrange(len(self.buyer_ids))]

    def sell(self, event_rows: list[tuple], tier_rows: list[tuple]) -> None:
        events = {row[0]: row for row in event_rows}
        for tier in tier_rows:
            event = events[tier[1]]
            sold, max_per_order = tier[7], tier[10]
            starts_at, status = event[3], event[8]
            past = starts_at < self.today
            left = sold
            while left > 0:
                quantity = min(left, self.rng.randint(1, min(max_per_order, 6)))
                left -= quantity
                self._order(event, tier, quantity, "past" if past else "upcoming")
            if not past and status == "published" and self.rng.random() < 0.05:
                self._order(event, tier, self.rng.randint(1, 3), "cancelled")

    def _order(self, event: tuple, tier: tuple, quantity: int, kind: str) -> None:
        tier_id, event_id, tier_name, _, price, currency = tier[:6]
        starts_at = event[3]
        user_id = self._buyer(kind)
        latest = min(starts_at, self.today) - timedelta(days=1)
        at = latest - timedelta(days=self.rng.randint(0, 45), seconds=self.rng.randint(0, 86399))
        cart_id, order_id, item_id = self.next_cart, self.next_order, self.next_item
        self.next_cart, self.next_order, self.next_item = cart_id + 1, order_id + 1, item_id + 1
        at_text = at.isoformat()
        total = price * quantity
        self.carts.append(f"{cart_id}\t{user_id}\tchecked_out\t{at_text}\t{at_text}\n")
        if kind == "cancelled":
            cancelled = (at + timedelta(hours=self.rng.randint(1, 20))).isoformat()
            order = (
                f"cancelled\t{total}\t{currency}\t{at_text}\t{cancelled}\t{at_text}\t{cancelled}"
            )
        else:
            order = f"confirmed\t{total}\t{currency}\t{at_text}\t\\N\t{at_text}\t{at_text}"
        self.orders.append(f"{order_id}\t{user_id}\t{cart_id}\t{order}\n")
        self.items.append(
            f"{order_id}\t{item_id}\t{event_id}\t{tier_id}\t{_text(event[1])}"
            f"\t{starts_at.isoformat()}\t{_text(tier_name)}\t{price}\t{quantity}\t{total}\n"
        )
        # An order's tickets share their fate: void when it was cancelled, scanned together
        # (most past orders: a party arrives at once) or still valid.
        if kind == "cancelled":
            state = f"void\t\\N\t{cancelled}\t{at_text}\t{cancelled}"
        elif kind == "past" and self.rng.random() < 0.85:
            scanned = (starts_at - timedelta(minutes=self.rng.randint(0, 90))).isoformat()
            state = f"used\t{scanned}\t\\N\t{at_text}\t{scanned}"
        else:
            state = f"valid\t\\N\t\\N\t{at_text}\t{at_text}"
        self.tickets.extend([f"{item_id}\t{{code}}\t{state}\n"] * quantity)

    def copy(self, cursor) -> None:
        """COPY this batch's rows (tables in foreign-key order), then start the next batch."""
        _copy_text(
            cursor, "cart", ("id", "user_id", "status", "created_at", "updated_at"), self.carts
        )
        _copy_text(
            cursor,
            "customer_order",
            (
                "id",
                "user_id",
                "cart_id",
                "status",
                "total",
                "currency",
                "confirmed_at",
                "cancelled_at",
                "created_at",
                "updated_at",
            ),
            self.orders,
        )
        _copy_text(
            cursor,
            "order_item",
            (
                "order_id",
                "id",
                "event_id",
                "ticket_type_id",
                "event_title",
                "event_starts_at",
                "ticket_type_name",
                "unit_price",
                "quantity",
                "line_total",
            ),
            self.items,
        )
        # Codes as checkout makes them (32 base32 characters, 160 random bits), drawn for the
        # whole batch at once: each random byte becomes one of the 32 characters (256 is a
        # multiple of 32, so every character is equally likely: 5 bits each).
        codes = secrets.token_bytes(32 * len(self.tickets)).translate(BASE32_OF_BYTE).decode()
        _copy_text(
            cursor,
            "ticket",
            (
                "order_item_id",
                "code",
                "status",
                "checked_in_at",
                "voided_at",
                "created_at",
                "updated_at",
            ),
            [
                line.replace("{code}", codes[32 * n : 32 * n + 32], 1)
                for n, line in enumerate(self.tickets)
            ],
        )
        self.orders_written += len(self.orders)
        self.tickets_written += len(self.tickets)
        self._reset()


def _open_demo_cart(session: Session, user_id: int, cart_id: int) -> None:
    """The demo customer's open cart (cart 1 on an empty database), holding two upcoming tiers
    that are on sale. One they already have (the catalogue was emptied, carts were not) stays."""
    if session.scalar(
        select(Cart.id).where(Cart.user_id == user_id, Cart.status == CartStatus.ACTIVE)
    ):
        return
    session.execute(
        text(
            "INSERT INTO cart (id, user_id, status, hold_expires_at, hold_started_at)"
            " VALUES (:cart_id, :user_id, 'active', now() + interval '15 minutes', now())"
        ),
        {"user_id": user_id, "cart_id": cart_id},
    )
    session.execute(
        text(
            """
            INSERT INTO cart_item (cart_id, event_id, ticket_type_id, quantity, unit_price)
            SELECT :cart_id, event_id, id, quantity, price FROM (
                SELECT DISTINCT ON (e.id) e.id AS event_id, t.id, t.price, e.starts_at,
                       2 AS quantity
                FROM event e JOIN ticket_type t ON t.event_id = e.id
                WHERE e.id <= 300  -- the first events are enough (and cheap to search)
                  AND e.status = 'published' AND e.starts_at > now() + interval '7 days'
                  AND (t.sales_end IS NULL OR t.sales_end > now()) AND t.capacity - t.sold >= 4
                ORDER BY e.id, t.price
            ) on_sale
            ORDER BY starts_at, event_id
            LIMIT 2
            """
        ),
        {"cart_id": cart_id},
    )


def _generate(
    rng: random.Random,
    start: int,
    size: int,
    total: int,
    today: datetime,
    category_ids: dict[str, int],
    venue_ids: list[int],
    tiers_before: int,
) -> tuple[list[tuple], list[tuple]]:
    slugs = list(category_ids)
    events: list[tuple] = []
    tiers: list[tuple] = []
    for index in range(start, start + size):
        event_id = index + 1
        slug = slugs[index % len(slugs)]
        title = rng.choice(TITLES[slug]).format(a=rng.choice(ACTS), b=rng.choice(THEMES))
        status, day_offset = _status_and_day(rng, index, total)
        starts_at = today + timedelta(
            days=day_offset, hours=rng.choice([12, 16, 18, 19, 20]), minutes=rng.choice([0, 30])
        )
        ends_at = starts_at + timedelta(hours=rng.choice([1, 2, 3, 4]))
        venue_id = venue_ids[rng.randrange(len(venue_ids))]
        image = f"https://images.example.com/events/{event_id}.jpg"
        events.append(
            (
                event_id,
                title,
                rng.choice(DESCRIPTIONS),
                starts_at,
                ends_at,
                venue_id,
                category_ids[slug],
                image,
                status,
                "DKK",
            )
        )
        for tier_name, base_price in rng.choice(TIER_SETS):
            capacity, sold = _capacity_and_sold(rng, status, day_offset < 0)
            price = base_price + Decimal(rng.choice([0, 25, 50, 100]))
            sales_end = starts_at if tier_name != "Early bird" else starts_at - timedelta(days=7)
            tiers.append(
                (
                    tiers_before + len(tiers) + 1,
                    event_id,
                    tier_name,
                    f"{tier_name} ticket",
                    price,
                    "DKK",
                    capacity,
                    sold,
                    None,
                    sales_end,
                    rng.choice([4, 6, 8, 10]),
                )
            )
    return events, tiers


def _capacity_and_sold(rng: random.Random, status: str, past: bool) -> tuple[int, int]:
    """A tier's size and the seats sold so far. Every sold seat becomes a real ticket, so sales
    are what a shop months ahead of most of its events would see: small rooms sold out or
    nearly, past events mostly full, the rest early sales. Drafts and cancelled events have
    none (a cancelled event's tickets are void and their seats no longer count)."""
    roll = rng.random()
    if past:
        capacity = rng.choice([20, 30, 40])
        return capacity, int(capacity * (0.3 + rng.random() * 0.5))
    if roll < 0.03:
        capacity = rng.choice([20, 30, 40])
        return capacity, capacity if status == "published" else 0  # sold out
    if roll < 0.06:
        capacity = rng.choice([20, 30, 40])
        return capacity, capacity - rng.randint(1, 5) if status == "published" else 0
    capacity = rng.choice([50, 100, 200, 500, 1000])
    return capacity, int(capacity * rng.random() * 0.005) if status == "published" else 0


def _status_and_day(rng: random.Random, index: int, total: int) -> tuple[str, int]:
    """Mostly published upcoming events over the next six months; some past, draft, cancelled."""
    bucket = index % 20
    if bucket == 0:
        return "published", -rng.randint(1, 120)  # past
    if bucket == 1:
        return "draft", rng.randint(10, 180)
    if bucket == 2 and index % 40 == 2:
        return "cancelled", rng.randint(5, 90)
    return "published", rng.randint(1, 180)
