"""The seats shown by the listing and the detail are exactly capacity - sold -
the live holds of every cart (signed-in or guest), never an expired, merged, abandoned or
checked-out cart's, never below zero, for every tier of every event on the page."""

from tests.factories import DEFAULT_PASSWORD


def test_shown_seats_left_are_exact_with_many_kinds_of_carts(client, make, sql):
    events = [make.event(title=f"Exact Seats {n}") for n in range(3)]
    tiers = [
        make.ticket_type(event, name=f"Tier {n}", capacity=20 + n, sold=n)
        for event in events
        for n in range(4)
    ]
    live = {tier.id: 0 for tier in tiers}
    for n, tier in enumerate(tiers):
        quantity = 1 + n % 3
        make.cart([(tier, quantity)], user=make.user() if n % 2 else None)
        live[tier.id] += quantity
        make.cart([(tier, 5)], hold_minutes=-1)
        for status in ("merged", "abandoned", "checked_out"):
            make.cart([(tier, 2)], status=status)
    # Two tiers more than fully held (an admin lowered capacity below the holds): 0, not less.
    sql("UPDATE ticket_type SET capacity = sold WHERE id = :id", id=tiers[1].id)
    sql("UPDATE ticket_type SET capacity = sold + 1 WHERE id = :id", id=tiers[5].id)
    rows = sql("SELECT id, event_id, capacity, sold FROM ticket_type ORDER BY id")
    expected = {r["id"]: max(r["capacity"] - r["sold"] - live[r["id"]], 0) for r in rows}

    for event in events:
        detail = client.get(f"/api/events/{event.id}").get_json()["data"]
        shown = {t["id"]: t["available"] for t in detail["ticketTypes"]}
        assert shown == {r["id"]: expected[r["id"]] for r in rows if r["event_id"] == event.id}
    for query in ("/api/events?q=exact", "/api/events", "/api/events?available=true"):
        listing = client.get(query).get_json()["data"]
        shown = {item["id"]: item["ticketsAvailable"] for item in listing}
        want = {
            event.id: sum(expected[r["id"]] for r in rows if r["event_id"] == event.id)
            for event in events
        }
        assert shown == want, query


def test_a_cart_sees_its_own_hold_as_its_own(client, make, auth):
    """The cart's `available` is seats left for that cart: its own live hold does not count
    against it, other carts' live holds do."""
    tier = make.ticket_type(capacity=10, sold=2)
    make.cart([(tier, 3)])  # another cart's live hold
    user = make.user()
    make.cart([(tier, 4)], user=user)
    cart = client.get("/api/cart", headers=auth.headers(user)).get_json()["data"]
    assert [item["available"] for item in cart["items"]] == [10 - 2 - 3]
    detail = client.get(f"/api/events/{tier.event_id}").get_json()["data"]
    assert [t["available"] for t in detail["ticketTypes"]] == [10 - 2 - 3 - 4]
    assert DEFAULT_PASSWORD


def test_shown_seats_follow_every_hold_change_across_prepared_executions(client, make, sql):
    """psycopg prepares a statement after a few executions and PostgreSQL may then run a generic
    plan: the seats shown must still follow every hold, lapse and sale at once."""
    event = make.event(title="Prepared Seats")
    tier = make.ticket_type(event, capacity=40)
    carts = []
    for round_ in range(9):
        carts.append(make.cart([(tier, 1 + round_ % 3)]))
        if round_ % 3 == 2:  # one hold lapses, one seat sells
            sql(
                "UPDATE cart SET hold_expires_at = now() - interval '1 second' WHERE id = :id",
                id=carts[round_ // 2].id,
            )
            sql("UPDATE ticket_type SET sold = sold + 1 WHERE id = :id", id=tier.id)
        [want] = sql(
            "SELECT t.capacity - t.sold - coalesce((SELECT sum(ci.quantity) FROM cart_item ci"
            " JOIN cart c ON c.id = ci.cart_id WHERE ci.ticket_type_id = t.id"
            " AND c.status = 'active' AND c.hold_expires_at > now()), 0) AS left"
            " FROM ticket_type t WHERE t.id = :id",
            id=tier.id,
        )
        detail = client.get(f"/api/events/{event.id}").get_json()["data"]
        assert [t["available"] for t in detail["ticketTypes"]] == [want["left"]], round_
        for query in ("/api/events?q=prepared", "/api/events", "/api/events?available=true"):
            items = client.get(query).get_json()["data"]
            assert [i["ticketsAvailable"] for i in items if i["id"] == event.id] == [
                want["left"]
            ], (round_, query)


def test_available_true_leaves_out_an_event_whose_seats_are_all_held_or_sold(client, make, sql):
    full = make.event(title="Held Out")
    tier = make.ticket_type(full, capacity=5, sold=2)
    cart = make.cart([(tier, 3)])
    roomy = make.event(title="Room Left")
    make.ticket_type(roomy, capacity=5, sold=4)

    def listed():
        return {i["id"] for i in client.get("/api/events?available=true").get_json()["data"]}

    assert listed() == {roomy.id}
    sql("UPDATE cart SET hold_expires_at = now() - interval '1 second' WHERE id = :id", id=cart.id)
    assert listed() == {full.id, roomy.id}
