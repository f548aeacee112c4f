"""Review: the cart's and the checkout's answers are byte for byte what main answered, recorded
in tests/golden/answers_on_main.json (status, headers and body of every request of a scenario:
carts of 0, 1, 19 and 20 lines with texts that need escaping, odd prices and times, lapsed
holds, tiers sold out and events cancelled since; every checkout refusal; idempotent replays).

What varies from run to run is replaced before comparing, and checked on the way: every id is
named by its table and the order it first appeared in (ids come from sequences set apart per
table, so a number tells its table), times taken from the clock become `<time>` once they
are checked to be written as Python's isoformat writes them (a time built in PostgreSQL would
drop trailing zeros), ticket codes `<code>`, JWTs `<jwt>`, cart tokens `<cart-token-N>`,
ETags `<etag>`.

Recording: `REVIEW_RECORD_ANSWERS=1 pytest tests/test_answers_as_recorded_on_main.py` (on main
only)."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden" / "answers_on_main.json"
RECORD = os.environ.get("REVIEW_RECORD_ANSWERS") == "1"
SPACING = 10_000_000  # each table's ids start at its own multiple of this
# Headers that describe this transfer, not the answer.
TRANSFER_HEADERS = {"date", "x-request-id", "content-length", "server"}
GUEST = {"REMOTE_ADDR": "198.51.100.23"}
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)")
BIG_NUMBER = re.compile(r"(?<![\w.])(\d{8,10})(?![\w.])")
JWT = re.compile(r"eyJ[\w-]+\.[\w-]+\.[\w-]+")
TICKET_CODE = re.compile(r'"code": ?"([A-Z2-7]{32})"')
# Fixed moments (event starts): written as they are, fractions ending in zeros included.
START = datetime(2031, 5, 4, 19, 30, 0, 120000, tzinfo=UTC)


class Recorder:
    """Names what varies and collects the normalized answers of a scenario."""

    def __init__(self, sql) -> None:
        self.tables: dict[int, str] = {}
        for k, row in enumerate(
            sql(
                "SELECT s.relname AS seq, t.relname AS tab FROM pg_class s"
                " JOIN pg_depend d ON d.objid = s.oid AND d.deptype IN ('a', 'i')"
                " JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S'"
                " ORDER BY t.relname"
            ),
            start=1,
        ):
            sql("SELECT setval(CAST(:s AS regclass), :v, false)", s=row["seq"], v=k * SPACING)
            self.tables[k] = row["tab"]
        self.labels: dict[int, str] = {}
        self.counts: dict[str, int] = {}
        self.tokens: dict[str, str] = {}
        self.fixed_times: set[str] = set()
        self.answers: list[dict] = []

    def fixed(self, moment: datetime) -> datetime:
        self.fixed_times.add(moment.isoformat())
        return moment

    def _label(self, match: re.Match) -> str:
        number = int(match.group(1))
        table = self.tables.get(number // SPACING)
        if table is None:
            return match.group(1)
        if number not in self.labels:
            self.counts[table] = self.counts.get(table, 0) + 1
            self.labels[number] = f"{table}#{self.counts[table]}"
        return f"<{self.labels[number]}>"

    def _time(self, match: re.Match) -> str:
        text = match.group(0)
        if text in self.fixed_times:
            return text
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        assert moment.isoformat() == text, f"{text!r} is not written as isoformat writes it"
        return "<time>"

    def _token(self, token: str) -> str:
        if token not in self.tokens:
            self.tokens[token] = f"<cart-token-{len(self.tokens) + 1}>"
        return self.tokens[token]

    def text(self, text: str) -> str:
        for token in sorted(self.tokens, key=len, reverse=True):
            text = text.replace(token, self.tokens[token])
        text = JWT.sub("<jwt>", text)
        text = TICKET_CODE.sub(lambda m: m.group(0).replace(m.group(1), "<code>"), text)
        text = ISO_TIME.sub(self._time, text)
        return BIG_NUMBER.sub(self._label, text)

    def note(self, what: str, response) -> dict:
        token = response.headers.get("X-Cart-Token")
        if token:
            self._token(token)
        headers = []
        for name, value in response.headers.items():
            if name.lower() in TRANSFER_HEADERS:
                continue
            if name.lower() == "etag":
                value = ("W/" if value.startswith("W/") else "") + "<etag>"
            headers.append([name, self.text(value)])
        answer = {
            "what": what,
            "status": response.status_code,
            "headers": headers,
            "body": self.text(response.get_data(as_text=True)),
        }
        self.answers.append(answer)
        return response.get_json(silent=True) or {}


def check_against_main(name: str, recorder: Recorder) -> None:
    recorded = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if RECORD:
        recorded[name] = recorder.answers
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(recorded, indent=1, ensure_ascii=False) + "\n")
        return
    assert name in recorded, f"no answers recorded for {name}"
    want = recorded[name]
    for got, expected in zip(recorder.answers, want, strict=False):
        assert got == expected, got["what"]
    assert len(recorder.answers) == len(want)


ODD_TITLES = [
    'Jazz "Live" \\ Ø 🎷 </script>',
    "tab\there & new\nline \u2028 sep",
    "bell\u0007 del\u007f <b>",
    "%s $1 {} ' quote",
]
ODD_PRICES = [Decimal("0.00"), Decimal("0.50"), Decimal("99999999.99"), Decimal("12.30")]


@pytest.fixture
def recorder(sql):
    return Recorder(sql)


@pytest.fixture
def catalogue(make, recorder):
    """Twenty-two events of one tier each (odd titles, prices and start times) and a venue."""
    venue = make.venue(name='Hall "One"', city="Ærøskøbing")
    category = make.category(slug="golden", name="Golden")
    tiers = []
    for i in range(22):
        starts = recorder.fixed(START + timedelta(days=i, microseconds=i * 10))
        event = make.event(
            title=f"{ODD_TITLES[i % 4]} {i}",
            starts_at=starts,
            ends_at=recorder.fixed(starts + timedelta(hours=3)),
            venue_id=venue.id,
            category_id=category.id,
        )
        tiers.append(
            make.ticket_type(
                event, name=f'Tier "{i}" ø', price=ODD_PRICES[i % 4], capacity=5 + i,
                max_per_order=4, max_per_customer=6 if i == 3 else None,
            )
        )  # fmt: skip
    return tiers


def add(client, tier, quantity, headers=None, environ=None):
    return client.post(
        "/api/cart/items",
        json={"ticketTypeId": tier.id, "quantity": quantity},
        headers=headers or {},
        environ_base={"REMOTE_ADDR": environ} if environ else GUEST,
    )


def test_cart_answers_for_0_1_19_and_20_lines_are_as_on_main(
    client, make, auth, sql, recorder, catalogue
):
    tiers = catalogue
    user = make.user(email="golden-cart@example.com", name="Golden")
    me = auth.headers(user)
    note = recorder.note

    note("guest: no cart yet", client.get("/api/cart", environ_base=GUEST))
    first = add(client, tiers[0], 2)
    note("guest: first add", first)
    guest = {"X-Cart-Token": first.headers["X-Cart-Token"]}
    note("guest: second add", add(client, tiers[1], 1, guest))
    note("guest: over the address cap", add(client, tiers[21], 4, guest))
    note("guest: GET", client.get("/api/cart", headers=guest, environ_base=GUEST))
    note("guest: unknown token", client.get("/api/cart", headers={"X-Cart-Token": "nope"}))

    note("user: empty cart", client.get("/api/cart", headers=me))
    note("user: one line", add(client, tiers[2], 1, me))
    for tier in tiers[3:20]:
        add(client, tier, 1 + tier.id % 3, me)
    note("user: 18 lines GET", client.get("/api/cart", headers=me))
    note("user: the 19th line", add(client, tiers[20], 3, me))
    note("user: over maxPerOrder", add(client, tiers[4], 4, me))
    note("user: over maxPerCustomer", add(client, tiers[3], 6, me))
    note("user: more than is left", add(client, tiers[5], 0, me))
    note("user: 19 lines GET", client.get("/api/cart", headers=me))
    note("user: the 20th line", add(client, tiers[21], 1, me))
    note("user: a 21st line", add(client, tiers[0], 1, me))
    cart = client.get("/api/cart", headers=me).get_json()["data"]
    line_ids = [line["id"] for line in cart["items"]]
    note("user: PUT", client.put(f"/api/cart/items/{line_ids[1]}", json={"quantity": 4},
                                 headers=me))  # fmt: skip
    note("user: PUT over maxPerOrder", client.put(f"/api/cart/items/{line_ids[1]}",
                                                  json={"quantity": 9}, headers=me))  # fmt: skip
    note("user: PUT 0", client.put(f"/api/cart/items/{line_ids[2]}", json={"quantity": 0},
                                   headers=me))  # fmt: skip
    note("user: DELETE a line", client.delete(f"/api/cart/items/{line_ids[3]}", headers=me))
    note("user: DELETE it again", client.delete(f"/api/cart/items/{line_ids[3]}", headers=me))

    # What changed since: a price, a tier sold out, an event cancelled, a tier's sales closed.
    sql("UPDATE ticket_type SET price = price - 1.05 WHERE id = :id", id=tiers[6].id)
    sql("UPDATE ticket_type SET sold = capacity WHERE id = :id", id=tiers[7].id)
    sql("UPDATE event SET status = 'cancelled' WHERE id = :id", id=tiers[8].event_id)
    sql("UPDATE ticket_type SET sales_end = now() - interval '1 hour' WHERE id = :id",
        id=tiers[9].id)  # fmt: skip
    note("user: GET after changes", client.get("/api/cart", headers=me))
    note("user: add after changes", add(client, tiers[10], 1, me))
    # The hold lapses (the clock, no write): GET, then a change re-checks every line.
    sql("UPDATE cart SET hold_expires_at = now() - interval '1 minute' WHERE user_id = :u",
        u=user.id)  # fmt: skip
    note("user: GET lapsed", client.get("/api/cart", headers=me))
    note("user: add to lapsed", add(client, tiers[11], 1, me))
    note("user: GET after the re-check", client.get("/api/cart", headers=me))

    # Sign-in merges the guest cart.
    login = client.post(
        "/api/auth/login",
        json={"email": user.email, "password": "Correct-Horse-9"},
        headers=guest,
        environ_base=GUEST,
    )
    recorder.note("login with a guest cart", login)
    note("user: GET after the merge", client.get("/api/cart", headers=me))
    note("guest token after the merge", client.get("/api/cart", headers=guest))
    note("user: DELETE the cart", client.delete("/api/cart", headers=me))
    note("user: GET emptied", client.get("/api/cart", headers=me))
    check_against_main("cart", recorder)


def test_checkout_answers_and_refusals_are_as_on_main(client, make, auth, sql, recorder, catalogue):
    tiers = catalogue
    user = make.user(email="golden-buyer@example.com", name="Buyer")
    me = auth.headers(user)
    note = recorder.note

    def checkout(headers, body=None, key=None):
        extra = {"Idempotency-Key": key} if key else {}
        return client.post("/api/cart/checkout", json=body, headers={**headers, **extra})

    note("no sign-in", client.post("/api/cart/checkout"))
    note("bad token", client.post("/api/cart/checkout", headers={"Authorization": "Bearer x.y.z"}))
    note("empty cart", checkout(me))
    note("empty cart, keyed", checkout(me, key="golden-empty"))
    note("empty cart, keyed, replay", checkout(me, key="golden-empty"))

    add(client, tiers[0], 2, me)
    add(client, tiers[1], 3, me)
    note("bad body", checkout(me, {"expectedTotal": {"amount": "x", "currency": "DKK"}}))
    note("unknown field", checkout(me, {"nope": 1}))
    note("bad key", checkout(me, key="\u00e6"))
    note("price changed", checkout(me, {"expectedTotal": {"amount": "1.00", "currency": "DKK"}}))
    sql("UPDATE ticket_type SET sold = capacity - 1 WHERE id = :id", id=tiers[1].id)
    note("sold out", checkout(me))
    sql("UPDATE ticket_type SET sold = 0, sales_end = now() - interval '1 minute' WHERE id = :id",
        id=tiers[1].id)  # fmt: skip
    note("not on sale", checkout(me))
    sql("UPDATE ticket_type SET sales_end = NULL, max_per_order = 2 WHERE id = :id",
        id=tiers[1].id)  # fmt: skip
    note("over maxPerOrder", checkout(me))
    sql("UPDATE ticket_type SET max_per_order = 4, max_per_customer = 1 WHERE id = :id",
        id=tiers[1].id)  # fmt: skip
    note("over maxPerCustomer", checkout(me))
    sql("UPDATE ticket_type SET max_per_customer = NULL WHERE id = :id", id=tiers[1].id)

    guest = add(client, tiers[5], 1)
    with_guest = {**me, "X-Cart-Token": guest.headers["X-Cart-Token"]}
    note("cart merged", checkout(with_guest))
    total = client.get("/api/cart", headers=me).get_json()["data"]["subtotal"]
    body = {"expectedTotal": total}
    note("placed", checkout(me, body, key="golden-1"))
    note("replayed", checkout(me, body, key="golden-1"))
    note("same key, other body", checkout(me, {"expectedTotal": {**total, "amount": "9.99"}},
                                          key="golden-1"))  # fmt: skip
    note("after: empty", checkout(me))
    order_id = sql("SELECT max(id) AS id FROM customer_order")[0]["id"]
    note("the order", client.get(f"/api/orders/{order_id}", headers=me))
    add(client, tiers[3], 4, me)
    note("placed without key", checkout(me))
    add(client, tiers[3], 3, me)
    note("customer limit with an order", checkout(me))
    note("orders", client.get("/api/orders", headers=me))
    note("cancel", client.post(f"/api/orders/{order_id}/cancel", headers=me))
    # An order whose total passes NUMERIC(10, 2).
    note("empty the cart", client.delete("/api/cart", headers=me))
    add(client, tiers[2], 2, me)
    note("total too large", checkout(me))
    assert sql(
        "SELECT id - :base AS k, sold FROM ticket_type WHERE id = ANY(:ids) ORDER BY id",
        base=tiers[0].id, ids=[t.id for t in tiers[:4]],
    ) == [{"k": 0, "sold": 0}, {"k": 1, "sold": 0}, {"k": 2, "sold": 0},
          {"k": 3, "sold": 4}], recorder.answers  # fmt: skip
    check_against_main("checkout", recorder)


def test_merge_answers_with_a_full_cart_are_as_on_main(
    client, make, auth, sql, recorder, catalogue
):
    """A guest cart merged into a user's cart of 19 lines: one line of a tier both hold, lines
    past the 20-line cap left out with a warning, a tier sold out and an event cancelled since
    the guest added them; by GET with both headers, by an add with both, and at sign-in."""
    tiers = catalogue
    note = recorder.note
    sql("UPDATE ticket_type SET capacity = 100 WHERE id = ANY(:ids)", ids=[t.id for t in tiers])
    for who in range(3):
        user = make.user(email=f"golden-merge-{who}@example.com", name=f"Merger {who}")
        me = auth.headers(user)
        for tier in tiers[:19]:
            add(client, tier, 1, me)
        guest = add(client, tiers[0], 2, environ=f"198.51.100.{60 + who}")
        token = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
        for tier in tiers[19:22]:
            add(client, tier, 1, token, environ=f"198.51.100.{60 + who}")
        if who == 0:
            sql("UPDATE ticket_type SET sold = capacity WHERE id = :id", id=tiers[19].id)
            sql("UPDATE event SET status = 'cancelled' WHERE id = :id", id=tiers[20].event_id)
            note("merge by GET", client.get("/api/cart", headers={**me, **token}))
        elif who == 1:
            note("merge by an add", add(client, tiers[5], 1, {**me, **token}))
        else:
            login = client.post(
                "/api/auth/login",
                json={"email": user.email, "password": "Correct-Horse-9"},
                headers=token,
            )
            note("merge at sign-in", login)
        note(f"GET after merge {who}", client.get("/api/cart", headers=me))
        note(f"token after merge {who}", client.get("/api/cart", headers=token))
        note(f"checkout after merge {who}", client.post("/api/cart/checkout", headers=me))
    check_against_main("merge", recorder)
