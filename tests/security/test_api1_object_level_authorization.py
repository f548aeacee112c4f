"""OWASP API1:2023 Broken Object Level Authorization.

Every route that takes the id of something a user owns (an order, a cart line) answers 404 to
anyone else — the same answer as for an id that does not exist — and changes nothing."""

from tests.security.helpers import assert_problem, operations

OWNED = {
    "/api/orders/{orderId}",
    "/api/orders/{orderId}/cancel",
    "/api/cart/items/{itemId}",
}


def test_every_owned_id_route_is_listed_here(client):
    id_routes = {
        path
        for _, path, _ in operations(client)
        if "{" in path and not path.startswith(("/api/admin", "/api/events"))
    }
    assert id_routes == OWNED


def test_another_users_order_and_cart_line_are_404_on_every_route(client, make, auth, sql):
    tier = make.ticket_type(make.event(), capacity=50)
    owner, stranger = auth.headers(make.user()), auth.headers(make.user())
    client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 2}, headers=owner)
    order_id = client.post("/api/cart/checkout", headers=owner).get_json()["data"]["id"]
    line_id = client.post(
        "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1}, headers=owner
    ).get_json()["data"]["items"][0]["id"]
    attempts = [
        ("get", "/api/orders/{}", order_id, None, "order_not_found"),
        ("post", "/api/orders/{}/cancel", order_id, None, "order_not_found"),
        ("put", "/api/cart/items/{}", line_id, {"quantity": 3}, "cart_item_not_found"),
        ("delete", "/api/cart/items/{}", line_id, None, "cart_item_not_found"),
    ]
    for method, template, object_id, body, code in attempts:
        theirs = getattr(client, method)(template.format(object_id), json=body, headers=stranger)
        nobodys = getattr(client, method)(template.format(2147483000), json=body, headers=stranger)
        # Someone else's object and a missing one get the very same answer.
        assert assert_problem(theirs, 404, code) == assert_problem(nobodys, 404, code)
    assert sql("SELECT status FROM customer_order") == [{"status": "confirmed"}]
    assert sql("SELECT quantity FROM cart_item WHERE id = :id", id=line_id) == [{"quantity": 1}]


def test_a_guest_cannot_reach_a_users_cart_line(client, make, auth):
    tier = make.ticket_type(make.event())
    owner = auth.headers(make.user())
    line_id = client.post(
        "/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1}, headers=owner
    ).get_json()["data"]["items"][0]["id"]
    guest = client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1})
    headers = {"X-Cart-Token": guest.headers["X-Cart-Token"]}
    assert_problem(
        client.delete(f"/api/cart/items/{line_id}", headers=headers), 404, "cart_item_not_found"
    )


def test_lists_show_only_your_own(client, make, auth):
    tier = make.ticket_type(make.event())
    owner, stranger = auth.headers(make.user()), auth.headers(make.user())
    client.post("/api/cart/items", json={"ticketTypeId": tier.id, "quantity": 1}, headers=owner)
    client.post("/api/cart/checkout", headers=owner)
    for path in ("/api/orders", "/api/tickets"):
        assert client.get(path, headers=stranger).get_json()["data"] == []
        assert len(client.get(path, headers=owner).get_json()["data"]) == 1
