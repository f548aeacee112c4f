"""Demo data: a Copenhagen-flavoured catalogue in DKK, a demo customer and a demo admin.

Deterministic: the same `seed` on the same day gives the same rows (dates are laid out from
today's midnight UTC, so "upcoming" stays upcoming). Bulk-loaded with COPY, so 100 000 events take
seconds, not minutes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shop.models import Category, Event, User, Venue
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


@dataclass
class SeedReport:
    events: int
    ticket_types: int
    skipped: bool = False
    # Emails of the demo accounts created by this run (empty when they existed already).
    demo_users_created: list[str] = field(default_factory=list)


def catalogue_is_seeded(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(Event)) > 0


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
    """Create the demo customer and admin when missing; returns the emails created."""
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
    """Fill an empty catalogue. Does nothing (skipped=True) when events already exist.
    `demo_accounts` also creates the documented demo customer and admin (never on a public
    deployment: `flask provision` passes False)."""
    created = ensure_demo_users(session) if demo_accounts else []
    if catalogue_is_seeded(session):
        return SeedReport(events=0, ticket_types=0, skipped=True, demo_users_created=created)

    rng = random.Random(random_seed)
    today = (today or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)

    session.add_all(Category(slug=slug, name=name) for slug, name in CATEGORIES)
    session.add_all(Venue(name=name, address=address, city=city) for name, address, city in VENUES)
    session.flush()
    category_ids = dict(session.execute(select(Category.slug, Category.id)).all())
    venue_ids = list(session.scalars(select(Venue.id).order_by(Venue.id)))

    connection = session.connection()
    raw = connection.connection.driver_connection  # psycopg connection, for COPY
    counts = {"ticket_types": 0}
    with raw.cursor() as cursor:
        batch = 5000
        for start in range(0, events, batch):
            size = min(batch, events - start)
            event_rows, tier_rows = _generate(
                rng, start, size, events, today, category_ids, venue_ids
            )
            _copy(
                cursor,
                "event",
                (
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
                ),
                event_rows,
            )
            _copy(
                cursor,
                "ticket_type",
                (
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
                ),
                tier_rows,
            )
            counts["ticket_types"] += len(tier_rows)
            if progress:
                progress(size)
    session.execute(
        text("SELECT setval(pg_get_serial_sequence('event', 'id'), (SELECT max(id) FROM event))")
    )
    session.execute(text("ANALYZE event; ANALYZE ticket_type; ANALYZE venue; ANALYZE category"))
    return SeedReport(
        events=events, ticket_types=counts["ticket_types"], demo_users_created=created
    )


def _copy(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _generate(
    rng: random.Random,
    start: int,
    size: int,
    total: int,
    today: datetime,
    category_ids: dict[str, int],
    venue_ids: list[int],
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
            capacity = rng.choice([20, 50, 100, 200, 500, 1000])
            roll = rng.random()
            if day_offset < 0 or roll < 0.06:
                sold = capacity  # past events and a few sold-out tiers
            elif roll < 0.15:
                sold = capacity - rng.randint(1, min(5, capacity))  # nearly sold out
            else:
                sold = int(capacity * rng.random() * 0.7)
            price = base_price + Decimal(rng.choice([0, 25, 50, 100]))
            sales_end = starts_at if tier_name != "Early bird" else starts_at - timedelta(days=7)
            tiers.append(
                (
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
