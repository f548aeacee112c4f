"""Build the Postman collection (v2.1) and local environment in docs/postman/.

The collection is written from this file so its requests and test scripts stay readable and
reviewable; `tests/test_postman.py` fails when the committed JSON differs from what this script
writes, or when an OpenAPI operation has no request. Run: python scripts/build_postman.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "docs" / "postman"
COLLECTION = OUT / "shop.postman_collection.json"
ENVIRONMENT = OUT / "local.postman_environment.json"
RENDER_ENVIRONMENT = OUT / "render.postman_environment.json"

# Shared test snippets (JavaScript run by Postman/newman after each response).
IS_JSON = """
pm.test("body is JSON", () => pm.response.to.be.json);
"""
IS_PROBLEM = """
pm.test("error is application/problem+json", () => {
    pm.expect(pm.response.headers.get("Content-Type")).to.include("application/problem+json");
    const body = pm.response.json();
    ["type", "title", "status", "detail", "code"].forEach(k => pm.expect(body).to.have.property(k));
    pm.expect(body.status).to.eql(pm.response.code);
});
"""
PAGE_SHAPE = """
pm.test("list envelope with pagination maths", () => {
    const body = pm.response.json();
    pm.expect(body.data).to.be.an("array");
    const m = body.meta;
    pm.expect(m).to.have.all.keys("page", "pageSize", "totalItems", "totalPages");
    pm.expect(m.totalPages).to.eql(Math.ceil(m.totalItems / m.pageSize));
    pm.expect(body.data.length).to.be.at.most(m.pageSize);
    if (m.page < m.totalPages) pm.expect(body.data.length).to.eql(m.pageSize);
});
"""
HAS_REQUEST_ID = """
pm.test("response carries X-Request-ID", () => pm.expect(pm.response.headers.get("X-Request-ID")).to.be.a("string"));
"""


def problem_is(code_status: int, code: str) -> str:
    """Tests for a problem+json answer with this status and `code`."""
    return (
        status(code_status)
        + IS_PROBLEM
        + f'\npm.test("code {code}", () => pm.expect(pm.response.json().code).to.eql("{code}"));\n'
    )


def stores_id(variable: str) -> str:
    """Test that keeps the created resource's id in a collection variable for later requests."""
    return (
        f'\npm.test("created; id kept as {variable}", '
        f'() => pm.collectionVariables.set("{variable}", pm.response.json().data.id));\n'
    )


def status(code: int) -> str:
    return f'\npm.test("status is {code}", () => pm.response.to.have.status({code}));\n'


def request(
    name: str,
    method: str,
    path: str,
    tests: str,
    *,
    query: dict | None = None,
    body: dict | None = None,
    headers: dict | None = None,
    description: str = "",
) -> dict:
    raw = "{{baseUrl}}" + path
    url: dict = {"raw": raw, "host": ["{{baseUrl}}"], "path": [p for p in path.split("/") if p]}
    if query:
        url["query"] = [{"key": k, "value": str(v)} for k, v in query.items()]
        url["raw"] += "?" + "&".join(f"{k}={v}" for k, v in query.items())
    item: dict = {
        "name": name,
        "event": [
            {
                "listen": "test",
                "script": {"type": "text/javascript", "exec": tests.strip().splitlines()},
            }
        ],
        "request": {
            "method": method,
            "header": [{"key": k, "value": v} for k, v in (headers or {}).items()],
            "url": url,
            "description": description,
        },
    }
    if body is not None:
        item["request"]["header"].append({"key": "Content-Type", "value": "application/json"})
        # Numeric variables go in unquoted: {"ticketTypeId": {{ticketTypeId}}}.
        raw_body = re.sub(
            r'"({{(?:eventId|ticketTypeId|itemId|expectedTotal|venueId|categoryId|adminTicketTypeId)}})"',
            r"\1",
            json.dumps(body, indent=2),
        )
        item["request"]["body"] = {
            "mode": "raw",
            "raw": raw_body,
            "options": {"raw": {"language": "json"}},
        }
    return item


def week3() -> dict:
    items = [
        request(
            "Health",
            "GET",
            "/api/health",
            status(200)
            + IS_JSON
            + HAS_REQUEST_ID
            + """
pm.test("app and database are ok", () => {
    pm.expect(pm.response.json().data).to.eql({status: "ok", database: "ok"});
});
""",
        ),
        request(
            "List events (page 1)",
            "GET",
            "/api/events",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("upcoming events, soonest first, course item shape", () => {
    const data = pm.response.json().data;
    pm.expect(data.length).to.be.above(0);
    const starts = data.map(e => Date.parse(e.startsAt));
    pm.expect(starts).to.eql([...starts].sort((a, b) => a - b));
    const e = data[0];
    ["id", "title", "startsAt", "endsAt", "venue", "category", "imageUrl", "priceFrom",
     "ticketsAvailable", "soldOut"].forEach(k => pm.expect(e).to.have.property(k));
    pm.expect(e.priceFrom.amount).to.match(/^\\d+\\.\\d{2}$/);
    pm.expect(Date.parse(e.startsAt)).to.be.above(Date.now());
    const open = data.find(x => !x.soldOut) || e;
    pm.collectionVariables.set("eventId", open.id);
    pm.collectionVariables.set("firstPageIds", JSON.stringify(data.map(x => x.id)));
});
""",
            query={"page": 1, "pageSize": 5},
        ),
        request(
            "List events (page 2)",
            "GET",
            "/api/events",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("page 2 continues page 1 without overlap", () => {
    const body = pm.response.json();
    pm.expect(body.meta.page).to.eql(2);
    const first = JSON.parse(pm.collectionVariables.get("firstPageIds"));
    body.data.forEach(e => pm.expect(first).to.not.include(e.id));
});
""",
            query={"page": 2, "pageSize": 5},
        ),
        request(
            "Page past the end is empty",
            "GET",
            "/api/events",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("no items, same totals", () => pm.expect(pm.response.json().data).to.eql([]));
""",
            query={"page": 100000, "pageSize": 100},
        ),
        request(
            "Search events (q)",
            "GET",
            "/api/events",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("finds jazz events in Copenhagen", () => {
    const data = pm.response.json().data;
    pm.expect(data.length).to.be.above(0);
    data.forEach(e => pm.expect(e.venue.city + " " + e.title + " " + e.category.name + " " + e.venue.name)
        .to.match(/copenhagen/i));
});
""",
            query={"q": "jazz copenhagen"},
        ),
        request(
            "Filter by category and city, cheapest first",
            "GET",
            "/api/events",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("only jazz in Copenhagen, sorted by price", () => {
    const data = pm.response.json().data;
    data.forEach(e => {
        pm.expect(e.category.slug).to.eql("jazz");
        pm.expect(e.venue.city).to.eql("Copenhagen");
    });
    const prices = data.map(e => parseFloat(e.priceFrom.amount));
    pm.expect(prices).to.eql([...prices].sort((a, b) => a - b));
});
""",
            query={"category": "jazz", "city": "Copenhagen", "sort": "price"},
        ),
        request(
            "Only events with seats left, price range",
            "GET",
            "/api/events",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("none sold out, priceFrom within range", () => {
    pm.response.json().data.forEach(e => {
        pm.expect(e.soldOut).to.eql(false);
        pm.expect(e.ticketsAvailable).to.be.above(0);
        const p = parseFloat(e.priceFrom.amount);
        pm.expect(p).to.be.within(100, 300);
    });
});
""",
            query={"available": "true", "minPrice": 100, "maxPrice": 300},
        ),
        request(
            "Event detail",
            "GET",
            "/api/events/{{eventId}}",
            status(200)
            + IS_JSON
            + """
pm.test("event with ticket types and availability", () => {
    const e = pm.response.json().data;
    pm.expect(e.id).to.eql(Number(pm.collectionVariables.get("eventId")));
    pm.expect(e).to.have.property("description");
    pm.expect(e.ticketTypes).to.be.an("array").that.is.not.empty;
    e.ticketTypes.forEach(t => {
        pm.expect(t.available).to.be.at.most(t.capacity);
        pm.expect(t.price.currency).to.eql("DKK");
        pm.expect(t).to.have.property("onSale");
    });
    const buyable = e.ticketTypes.find(t => t.onSale && t.available >= 2 && t.maxPerOrder >= 2);
    pm.expect(buyable, "a ticket type to buy in weeks 4 and 5").to.be.an("object");
    pm.collectionVariables.set("ticketTypeId", buyable.id);
});
""",
        ),
        request(
            "Unknown event is a 404 problem",
            "GET",
            "/api/events/999999999",
            status(404) + IS_PROBLEM,
        ),
        request(
            "Invalid pageSize is a 422 problem",
            "GET",
            "/api/events",
            status(422)
            + IS_PROBLEM
            + """
pm.test("names the parameter", () => pm.expect(pm.response.json().errors).to.have.property("pageSize"));
""",
            query={"pageSize": 0},
        ),
        request(
            "List categories",
            "GET",
            "/api/categories",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("categories have slug and name", () => {
    pm.response.json().data.forEach(c => pm.expect(c).to.have.all.keys("id", "slug", "name"));
});
""",
        ),
        request(
            "List venues in a city",
            "GET",
            "/api/venues",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("only venues in Aarhus", () => {
    const data = pm.response.json().data;
    pm.expect(data.length).to.be.above(0);
    data.forEach(v => pm.expect(v.city).to.eql("Aarhus"));
});
""",
            query={"city": "Aarhus"},
        ),
        request(
            "OpenAPI document",
            "GET",
            "/api/openapi.json",
            status(200)
            + """
pm.test("is OpenAPI 3", () => pm.expect(pm.response.json().openapi).to.match(/^3\\./));
""",
        ),
        request(
            "Swagger UI",
            "GET",
            "/api/docs",
            status(200)
            + """
pm.test("is the Swagger page", () => pm.expect(pm.response.text()).to.include("swagger-ui"));
""",
        ),
    ]
    return {
        "name": "Week 3 – public catalogue",
        "item": items,
        "description": "Public GET API: events with search, filters, sorting and pagination.",
    }


BEARER = {"Authorization": "Bearer {{accessToken}}"}
GUEST = {"X-Cart-Token": "{{cartToken}}"}
CART_SHAPE = """
pm.test("cart shape", () => {
    const c = pm.response.json().data;
    ["id", "items", "totalQuantity", "subtotal", "holdExpiresAt", "warnings", "updatedAt"]
        .forEach(k => pm.expect(c).to.have.property(k));
    const sum = c.items.reduce((n, i) => n + i.quantity, 0);
    pm.expect(c.totalQuantity).to.eql(sum);
    const subtotal = c.items.reduce((n, i) => n + parseFloat(i.lineTotal.amount), 0);
    if (c.items.length) pm.expect(parseFloat(c.subtotal.amount)).to.be.closeTo(subtotal, 0.001);
});
"""


def with_prerequest(item: dict, script: str) -> dict:
    item["event"].append(
        {
            "listen": "prerequest",
            "script": {"type": "text/javascript", "exec": script.strip().splitlines()},
        }
    )
    return item


# Every folder runs alone (`newman run … --folder NAME`) as well as in order: each one begins with
# setup requests that create or find what its later requests need, instead of relying on ids an
# earlier folder left in the collection variables.
FIND_BUYABLE_TIER = """
// Setup: walk the events with seats left until one has a ticket type on sale with at least two
// seats and maxPerOrder >= 2; keep its ids. Postman waits for these calls before the request.
const base = pm.variables.replaceIn("{{baseUrl}}");
pm.sendRequest(`${base}/api/events?available=true&pageSize=50`, (error, response) => {
    if (error) throw error;
    const ids = response.json().data.map(e => e.id);
    const tryNext = () => {
        const id = ids.shift();
        if (id === undefined) return;  // nothing to buy: the tests of this request fail
        pm.sendRequest(`${base}/api/events/${id}`, (error2, detail) => {
            if (error2) throw error2;
            const tier = detail.json().data.ticketTypes.find(
                t => t.onSale && t.available >= 2 && t.maxPerOrder >= 2);
            if (!tier) return tryNext();
            pm.collectionVariables.set("eventId", id);
            pm.collectionVariables.set("ticketTypeId", tier.id);
        });
    };
    tryNext();
});
"""


def setup_buyable_tier() -> dict:
    """Setup request: an event with a ticket type to buy (ids in eventId and ticketTypeId)."""
    return with_prerequest(
        request(
            "Setup: an event with seats on sale",
            "GET",
            "/api/events/{{eventId}}",
            status(200)
            + """
pm.test("ticketTypeId is on sale with seats left", () => {
    const e = pm.response.json().data;
    const tier = e.ticketTypes.find(t => t.id === Number(pm.collectionVariables.get("ticketTypeId")));
    pm.expect(tier, "a ticket type to buy").to.be.an("object");
    pm.expect(tier.onSale).to.eql(true);
    pm.expect(tier.available).to.be.at.least(2);
});
""",
            description="Finds an event and ticket type to buy in its pre-request script.",
        ),
        FIND_BUYABLE_TIER,
    )


def setup_customer(label: str) -> dict:
    """Setup request: sign up a fresh customer (email, password, accessToken, refreshToken)."""
    return with_prerequest(
        request(
            f"Setup: sign up a customer for {label}",
            "POST",
            "/api/auth/signup",
            status(201)
            + """
pm.test("signed in as a new customer", () => {
    const d = pm.response.json().data;
    pm.expect(d.user.role).to.eql("customer");
    pm.collectionVariables.set("accessToken", d.accessToken);
    pm.collectionVariables.set("refreshToken", d.refreshToken);
});
""",
            body={"email": "{{email}}", "password": "{{password}}", "name": "Postman " + label},
        ),
        f"""
pm.collectionVariables.set("email", `{label.lower().replace(" ", "")}-${{Date.now()}}-${{Math.floor(Math.random() * 1e6)}}@example.com`);
pm.collectionVariables.set("password", "Postman-Pass-2026");
""",
    )


def week4() -> dict:
    items = [
        setup_buyable_tier(),
        with_prerequest(
            request(
                "Sign up (a fresh user per run)",
                "POST",
                "/api/auth/signup",
                status(201)
                + """
pm.test("signed in as the new user", () => {
    const d = pm.response.json().data;
    pm.expect(d.user.email).to.eql(pm.collectionVariables.get("email"));
    pm.expect(d.user).to.not.have.property("passwordHash");
    pm.collectionVariables.set("accessToken", d.accessToken);
    pm.collectionVariables.set("refreshToken", d.refreshToken);
});
""",
                body={"email": "{{email}}", "password": "{{password}}", "name": "Postman Week 4"},
            ),
            """
pm.collectionVariables.set("email", `week4-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`);
pm.collectionVariables.set("password", "Postman-Pass-2026");
""",
        ),
        request(
            "Sign up again: email taken",
            "POST",
            "/api/auth/signup",
            problem_is(409, "email_taken"),
            body={"email": "{{email}}", "password": "{{password}}", "name": "Again"},
        ),
        request(
            "Me",
            "GET",
            "/api/auth/me",
            status(200)
            + """
pm.test("it is me", () => pm.expect(pm.response.json().data.email).to.eql(pm.collectionVariables.get("email")));
""",
            headers=BEARER,
        ),
        request(
            "Me without a token is a 401 problem",
            "GET",
            "/api/auth/me",
            problem_is(401, "token_missing"),
        ),
        request(
            "Refresh the access token",
            "POST",
            "/api/auth/refresh",
            status(200)
            + """
pm.test("new access token and the next refresh token", () => {
    const d = pm.response.json().data;
    pm.expect(d.accessToken).to.be.a("string");
    pm.expect(d.refreshToken).to.be.a("string");
    pm.collectionVariables.set("accessToken", d.accessToken);
    pm.collectionVariables.set("refreshToken", d.refreshToken);
});
""",
            headers={"Authorization": "Bearer {{refreshToken}}"},
        ),
        request(
            "Guest: add to a new cart",
            "POST",
            "/api/cart/items",
            status(201)
            + CART_SHAPE
            + """
pm.test("guest cart with a token", () => {
    const c = pm.response.json().data;
    pm.expect(c.cartToken).to.be.a("string");
    pm.expect(pm.response.headers.get("X-Cart-Token")).to.eql(c.cartToken);
    pm.expect(c.items[0].ticketTypeId).to.eql(Number(pm.collectionVariables.get("ticketTypeId")));
    pm.collectionVariables.set("cartToken", c.cartToken);
});
""",
            body={"ticketTypeId": "{{ticketTypeId}}", "quantity": 1},
        ),
        request(
            "Guest: show the cart",
            "GET",
            "/api/cart",
            status(200)
            + CART_SHAPE
            + """
pm.test("one line, seats held", () => {
    const c = pm.response.json().data;
    pm.expect(c.items.length).to.eql(1);
    pm.expect(Date.parse(c.holdExpiresAt)).to.be.above(Date.now());
});
""",
            headers=GUEST,
        ),
        request(
            "Log in with the guest cart: it merges",
            "POST",
            "/api/auth/login",
            status(200)
            + """
pm.test("signed in, guest cart merged", () => {
    const d = pm.response.json().data;
    pm.expect(d.cart.totalQuantity).to.be.at.least(1);
    pm.collectionVariables.set("accessToken", d.accessToken);
    pm.collectionVariables.set("refreshToken", d.refreshToken);
});
""",
            body={"email": "{{email}}", "password": "{{password}}"},
            headers=GUEST,
        ),
        request(
            "Merged guest token no longer works",
            "GET",
            "/api/cart",
            problem_is(404, "cart_not_found"),
            headers=GUEST,
        ),
        request(
            "My cart",
            "GET",
            "/api/cart",
            status(200)
            + CART_SHAPE
            + """
pm.test("the merged line is mine", () => {
    const c = pm.response.json().data;
    pm.expect(c.cartToken).to.eql(null);
    pm.expect(c.items.length).to.eql(1);
    pm.collectionVariables.set("itemId", c.items[0].id);
});
""",
            headers=BEARER,
        ),
        request(
            "Change a line's quantity",
            "PUT",
            "/api/cart/items/{{itemId}}",
            status(200)
            + CART_SHAPE
            + """
pm.test("quantity is 2", () => pm.expect(pm.response.json().data.items[0].quantity).to.eql(2));
""",
            body={"quantity": 2},
            headers=BEARER,
        ),
        request(
            "Quantity 0 is a 422 problem",
            "PUT",
            "/api/cart/items/{{itemId}}",
            status(422)
            + IS_PROBLEM
            + """
pm.test("names quantity", () => pm.expect(pm.response.json().errors).to.have.property("quantity"));
""",
            body={"quantity": 0},
            headers=BEARER,
        ),
        request(
            "Someone else's line is a 404",
            "DELETE",
            "/api/cart/items/999999999",
            status(404) + IS_PROBLEM,
            headers=BEARER,
        ),
        request(
            "Remove the line",
            "DELETE",
            "/api/cart/items/{{itemId}}",
            status(200)
            + CART_SHAPE
            + """
pm.test("cart is empty, seats released", () => {
    const c = pm.response.json().data;
    pm.expect(c.items).to.eql([]);
    pm.expect(c.holdExpiresAt).to.eql(null);
});
""",
            headers=BEARER,
        ),
        request(
            "Add by eventId and ticketTypeId",
            "POST",
            "/api/cart/items",
            status(201)
            + CART_SHAPE
            + """
pm.test("one line again", () => {
    const c = pm.response.json().data;
    pm.expect(c.totalQuantity).to.eql(1);
    pm.collectionVariables.set("itemId", c.items[0].id);
});
""",
            body={"eventId": "{{eventId}}", "ticketTypeId": "{{ticketTypeId}}", "quantity": 1},
            headers=BEARER,
        ),
        request(
            "Empty the cart",
            "DELETE",
            "/api/cart",
            status(200)
            + CART_SHAPE
            + """
pm.test("empty", () => pm.expect(pm.response.json().data.items).to.eql([]));
""",
            headers=BEARER,
        ),
        request(
            "Log out (revokes both tokens)",
            "POST",
            "/api/auth/logout",
            status(204),
            body={"refreshToken": "{{refreshToken}}"},
            headers=BEARER,
        ),
        request(
            "Revoked token is a 401 problem",
            "GET",
            "/api/auth/me",
            problem_is(401, "token_revoked"),
            headers=BEARER,
        ),
    ]
    return {
        "name": "Week 4 – auth and cart",
        "item": items,
        "description": "Signup, login, me, refresh, logout; a guest cart merged at login; cart lines.",
    }


def week5() -> dict:
    idempotent = {**BEARER, "Idempotency-Key": "{{idempotencyKey}}"}
    items = [
        setup_buyable_tier(),
        setup_customer("week 5"),
        request(
            "Log in",
            "POST",
            "/api/auth/login",
            status(200)
            + """
pm.test("signed in", () => {
    const d = pm.response.json().data;
    pm.collectionVariables.set("accessToken", d.accessToken);
    pm.collectionVariables.set("refreshToken", d.refreshToken);
});
""",
            body={"email": "{{email}}", "password": "{{password}}"},
        ),
        request(
            "Put two tickets in the cart",
            "POST",
            "/api/cart/items",
            status(201)
            + CART_SHAPE
            + """
pm.test("two tickets held", () => {
    const c = pm.response.json().data;
    pm.expect(c.totalQuantity).to.eql(2);
    pm.collectionVariables.set("expectedTotal", JSON.stringify(c.subtotal));
});
""",
            body={"ticketTypeId": "{{ticketTypeId}}", "quantity": 2},
            headers=BEARER,
        ),
        with_prerequest(
            request(
                "Check out (idempotent, with the expected total)",
                "POST",
                "/api/cart/checkout",
                status(201)
                + """
pm.test("a confirmed order with one ticket per seat", () => {
    const o = pm.response.json().data;
    pm.expect(o.status).to.eql("confirmed");
    pm.expect(o.ticketCount).to.eql(2);
    pm.expect(o.total).to.eql(JSON.parse(pm.collectionVariables.get("expectedTotal")));
    const codes = o.items.flatMap(i => i.tickets.map(t => t.code));
    pm.expect(codes.length).to.eql(2);
    codes.forEach(c => pm.expect(c).to.match(/^[A-Z2-7]{32}$/));
    pm.expect(pm.response.headers.get("Location")).to.eql(`/api/orders/${o.id}`);
    pm.collectionVariables.set("orderId", o.id);
});
""",
                body={"expectedTotal": "{{expectedTotal}}"},
                headers=idempotent,
            ),
            'pm.collectionVariables.set("idempotencyKey", pm.variables.replaceIn("{{$guid}}"));',
        ),
        request(
            "Retry with the same key: the same order, replayed",
            "POST",
            "/api/cart/checkout",
            status(201)
            + """
pm.test("replayed, not a second order", () => {
    pm.expect(pm.response.headers.get("Idempotent-Replayed")).to.eql("true");
    pm.expect(pm.response.json().data.id).to.eql(Number(pm.collectionVariables.get("orderId")));
});
""",
            body={"expectedTotal": "{{expectedTotal}}"},
            headers=idempotent,
        ),
        request(
            "Check out an empty cart: 422",
            "POST",
            "/api/cart/checkout",
            problem_is(422, "cart_empty"),
            headers=BEARER,
        ),
        request(
            "My orders",
            "GET",
            "/api/orders",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("newest first: the order just placed", () => {
    pm.expect(pm.response.json().data[0].id).to.eql(Number(pm.collectionVariables.get("orderId")));
});
""",
            headers=BEARER,
        ),
        request(
            "Order detail with tickets",
            "GET",
            "/api/orders/{{orderId}}",
            status(200)
            + """
pm.test("lines, totals and tickets", () => {
    const o = pm.response.json().data;
    pm.expect(o.items[0].tickets.length).to.eql(2);
    pm.expect(o.items[0].eventTitle).to.be.a("string");
    pm.expect(parseFloat(o.total.amount)).to.eql(o.items.reduce((n, i) => n + parseFloat(i.lineTotal.amount), 0));
});
""",
            headers=BEARER,
        ),
        request(
            "My tickets",
            "GET",
            "/api/tickets",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("the order's tickets are listed", () => {
    const mine = pm.response.json().data.filter(t => t.orderId === Number(pm.collectionVariables.get("orderId")));
    pm.expect(mine.length).to.eql(2);
    mine.forEach(t => pm.expect(t).to.have.all.keys("id", "code", "status", "checkedInAt", "orderId", "event", "ticketType"));
});
""",
            headers=BEARER,
        ),
        request(
            "Someone else's (or no) order: 404",
            "GET",
            "/api/orders/999999999",
            status(404) + IS_PROBLEM,
            headers=BEARER,
        ),
        request(
            "Cancel the order",
            "POST",
            "/api/orders/{{orderId}}/cancel",
            status(200)
            + """
pm.test("cancelled, tickets void", () => {
    const o = pm.response.json().data;
    pm.expect(o.status).to.eql("cancelled");
    o.items.forEach(i => i.tickets.forEach(t => pm.expect(t.status).to.eql("void")));
});
""",
            headers=BEARER,
        ),
        request(
            "Cancel twice: 409",
            "POST",
            "/api/orders/{{orderId}}/cancel",
            problem_is(409, "order_not_cancellable"),
            headers=BEARER,
        ),
    ]
    return {
        "name": "Week 5 – checkout and orders",
        "item": items,
        "description": "Checkout (idempotent), order history, order detail, tickets, cancellation.",
    }


def admin() -> dict:
    a = {"Authorization": "Bearer {{adminToken}}"}
    items = [
        setup_customer("admin"),
        request(
            "Admin: sign in (demo admin from the seed)",
            "POST",
            "/api/auth/login",
            status(200)
            + """
pm.test("an admin", () => {
    const d = pm.response.json().data;
    pm.expect(d.user.role).to.eql("admin");
    pm.collectionVariables.set("adminToken", d.accessToken);
});
""",
            body={"email": "{{adminEmail}}", "password": "{{adminPassword}}"},
        ),
        request(
            "Customers are refused: 403",
            "GET",
            "/api/admin/events",
            status(403) + IS_PROBLEM,
            headers=BEARER,
        ),
        with_prerequest(
            request(
                "Create a category",
                "POST",
                "/api/admin/categories",
                status(201) + stores_id("categoryId"),
                body={"slug": "{{slug}}", "name": "Postman {{slug}}"},
                headers=a,
            ),
            'pm.collectionVariables.set("slug", `pm-${Date.now()}`);',
        ),
        request(
            "Duplicate category slug: 409",
            "POST",
            "/api/admin/categories",
            status(409) + IS_PROBLEM,
            body={"slug": "{{slug}}", "name": "Another {{slug}}"},
            headers=a,
        ),
        request(
            "Rename the category (PATCH)",
            "PATCH",
            "/api/admin/categories/{{categoryId}}",
            status(200)
            + """
pm.test("renamed", () => pm.expect(pm.response.json().data.name).to.match(/^Renamed pm-/));
""",
            body={"name": "Renamed {{slug}}"},
            headers=a,
        ),
        request(
            "Replace the category (PUT)",
            "PUT",
            "/api/admin/categories/{{categoryId}}",
            status(200),
            body={"slug": "{{slug}}", "name": "Replaced {{slug}}"},
            headers=a,
        ),
        request(
            "Create a venue",
            "POST",
            "/api/admin/venues",
            status(201) + stores_id("venueId"),
            body={"name": "Postman Hall {{slug}}", "address": "Testvej 1", "city": "Roskilde"},
            headers=a,
        ),
        request(
            "Change the venue (PATCH)",
            "PATCH",
            "/api/admin/venues/{{venueId}}",
            status(200),
            body={"address": "Testvej 2"},
            headers=a,
        ),
        request(
            "Replace the venue (PUT)",
            "PUT",
            "/api/admin/venues/{{venueId}}",
            status(200),
            body={"name": "Postman Hall {{slug}}", "address": "Testvej 3", "city": "Roskilde"},
            headers=a,
        ),
        with_prerequest(
            request(
                "Create an event (a draft)",
                "POST",
                "/api/admin/events",
                status(201)
                + """
pm.test("a draft", () => {
    const e = pm.response.json().data;
    pm.expect(e.status).to.eql("draft");
    pm.collectionVariables.set("adminEventId", e.id);
});
""",
                body={
                    "title": "Postman Live",
                    "description": "Made by newman.",
                    "startsAt": "{{startsAt}}",
                    "endsAt": "{{endsAt}}",
                    "venueId": "{{venueId}}",
                    "categoryId": "{{categoryId}}",
                },
                headers=a,
            ),
            """
const start = new Date(Date.now() + 40 * 24 * 3600 * 1000);
pm.collectionVariables.set("startsAt", start.toISOString());
pm.collectionVariables.set("endsAt", new Date(start.getTime() + 3 * 3600 * 1000).toISOString());
""",
        ),
        request(
            "Ends before it starts: 422",
            "PATCH",
            "/api/admin/events/{{adminEventId}}",
            status(422) + IS_PROBLEM,
            body={"endsAt": "2020-01-01T00:00:00Z"},
            headers=a,
        ),
        request(
            "Publish without ticket types: 409",
            "POST",
            "/api/admin/events/{{adminEventId}}/publish",
            status(409) + IS_PROBLEM,
            headers=a,
        ),
        request(
            "Add a ticket type",
            "POST",
            "/api/admin/events/{{adminEventId}}/ticket-types",
            status(201)
            + """
pm.test("priced in DKK", () => {
    const t = pm.response.json().data;
    pm.expect(t.price).to.eql({amount: "199.00", currency: "DKK"});
    pm.collectionVariables.set("adminTicketTypeId", t.id);
});
""",
            body={"name": "Standard", "price": "199.00", "capacity": 5, "maxPerOrder": 5},
            headers=a,
        ),
        request(
            "Change the ticket type (PATCH)",
            "PATCH",
            "/api/admin/ticket-types/{{adminTicketTypeId}}",
            status(200)
            + """
pm.test("capacity 8, at most 4 per customer", () => {
    const t = pm.response.json().data;
    pm.expect(t.capacity).to.eql(8);
    pm.expect(t.maxPerCustomer).to.eql(4);
});
""",
            body={"capacity": 8, "maxPerCustomer": 4},
            headers=a,
        ),
        request(
            "Replace the ticket type (PUT)",
            "PUT",
            "/api/admin/ticket-types/{{adminTicketTypeId}}",
            status(200),
            body={"name": "Standard", "price": "199.00", "capacity": 8, "maxPerOrder": 4},
            headers=a,
        ),
        request(
            "Change the event (PATCH)",
            "PATCH",
            "/api/admin/events/{{adminEventId}}",
            status(200),
            body={"description": "Changed by newman."},
            headers=a,
        ),
        request(
            "Replace the event (PUT)",
            "PUT",
            "/api/admin/events/{{adminEventId}}",
            status(200),
            body={
                "title": "Postman Live!",
                "description": "Replaced.",
                "startsAt": "{{startsAt}}",
                "endsAt": "{{endsAt}}",
                "venueId": "{{venueId}}",
                "categoryId": "{{categoryId}}",
            },
            headers=a,
        ),
        request(
            "Publish the event",
            "POST",
            "/api/admin/events/{{adminEventId}}/publish",
            status(200)
            + """
pm.test("published", () => pm.expect(pm.response.json().data.status).to.eql("published"));
""",
            headers=a,
        ),
        request(
            "Show the event (admin view)",
            "GET",
            "/api/admin/events/{{adminEventId}}",
            status(200)
            + """
pm.test("with sold counts", () => pm.expect(pm.response.json().data.ticketTypes[0].sold).to.eql(0));
""",
            headers=a,
        ),
        request(
            "List every event (drafts too)",
            "GET",
            "/api/admin/events",
            status(200) + PAGE_SHAPE,
            query={"status": "draft", "pageSize": 5},
            headers=a,
        ),
        request(
            "Customer buys two tickets (to have sales)",
            "POST",
            "/api/cart/items",
            status(201),
            body={"ticketTypeId": "{{adminTicketTypeId}}", "quantity": 2},
            headers=BEARER,
        ),
        request(
            "Customer checks out",
            "POST",
            "/api/cart/checkout",
            status(201)
            + """
pm.test("ticket code kept for check-in", () => {
    const o = pm.response.json().data;
    pm.collectionVariables.set("ticketCode", o.items[0].tickets[0].code);
});
""",
            headers=BEARER,
        ),
        request(
            "Capacity below sold: 409",
            "PATCH",
            "/api/admin/ticket-types/{{adminTicketTypeId}}",
            status(409) + IS_PROBLEM,
            body={"capacity": 1},
            headers=a,
        ),
        request(
            "Check a ticket in",
            "POST",
            "/api/admin/tickets/{{ticketCode}}/check-in",
            status(200)
            + """
pm.test("used now", () => pm.expect(pm.response.json().data.status).to.eql("used"));
""",
            headers=a,
        ),
        request(
            "Second scan: 409 saying when",
            "POST",
            "/api/admin/tickets/{{ticketCode}}/check-in",
            status(409)
            + IS_PROBLEM
            + """
pm.test("first scan time", () => pm.expect(pm.response.json().firstCheckedInAt).to.be.a("string"));
""",
            headers=a,
        ),
        request(
            "Sales report",
            "GET",
            "/api/admin/reports/sales",
            status(200)
            + PAGE_SHAPE
            + """
pm.test("figures add up", () => {
    pm.response.json().data.forEach(e => {
        pm.expect(e.remaining).to.eql(Math.max(e.capacity - e.sold - e.held, 0));
        const sold = e.ticketTypes.reduce((n, t) => n + t.sold, 0);
        pm.expect(e.sold).to.eql(sold);
    });
});
""",
            query={"pageSize": 10},
            headers=a,
        ),
        request(
            "Sales report as CSV",
            "GET",
            "/api/admin/reports/sales",
            status(200)
            + """
pm.test("CSV with a header row", () => {
    pm.expect(pm.response.headers.get("Content-Type")).to.include("text/csv");
    pm.expect(pm.response.text().split(String.fromCharCode(10))[0]).to.include("event_id,event_title");
});
""",
            query={"pageSize": 5},
            headers={**a, "Accept": "text/csv"},
        ),
        request(
            "Overview",
            "GET",
            "/api/admin/reports/overview",
            status(200)
            + """
pm.test("totals, top events, sales per day", () => {
    const d = pm.response.json().data;
    pm.expect(d.totals.orders).to.be.at.least(1);
    pm.expect(d.topEvents).to.be.an("array");
    pm.expect(d.salesPerDay).to.be.an("array");
});
""",
            headers=a,
        ),
        request(
            "Deleting an event with sales: 409",
            "DELETE",
            "/api/admin/events/{{adminEventId}}",
            status(409) + IS_PROBLEM,
            headers=a,
        ),
        request(
            "Deleting a ticket type with sales: 409",
            "DELETE",
            "/api/admin/ticket-types/{{adminTicketTypeId}}",
            status(409) + IS_PROBLEM,
            headers=a,
        ),
        request(
            "Cancel the event",
            "POST",
            "/api/admin/events/{{adminEventId}}/cancel",
            status(200)
            + """
pm.test("cancelled; the unscanned ticket voided, the customer's order cancelled", () => {
    const d = pm.response.json().data;
    pm.expect(d.status).to.eql("cancelled");
    pm.expect(d.cancellation).to.eql({ticketsVoided: 1, ordersCancelled: 1});
});
""",
            headers=a,
        ),
        request(
            "Venue in use cannot be deleted: 409",
            "DELETE",
            "/api/admin/venues/{{venueId}}",
            status(409) + IS_PROBLEM,
            headers=a,
        ),
        request(
            "Category in use cannot be deleted: 409",
            "DELETE",
            "/api/admin/categories/{{categoryId}}",
            status(409) + IS_PROBLEM,
            headers=a,
        ),
        request(
            "Create a throwaway draft",
            "POST",
            "/api/admin/events",
            status(201) + stores_id("draftId"),
            body={
                "title": "Throwaway",
                "startsAt": "{{startsAt}}",
                "endsAt": "{{endsAt}}",
                "venueId": "{{venueId}}",
                "categoryId": "{{categoryId}}",
            },
            headers=a,
        ),
        request(
            "Add a throwaway ticket type",
            "POST",
            "/api/admin/events/{{draftId}}/ticket-types",
            status(201) + stores_id("draftTierId"),
            body={"name": "Gone soon", "price": "0.00", "capacity": 1},
            headers=a,
        ),
        request(
            "Delete a ticket type without sales",
            "DELETE",
            "/api/admin/ticket-types/{{draftTierId}}",
            status(204),
            headers=a,
        ),
        request(
            "Delete an event without sales",
            "DELETE",
            "/api/admin/events/{{draftId}}",
            status(204),
            headers=a,
        ),
        request(
            "Create a throwaway venue",
            "POST",
            "/api/admin/venues",
            status(201) + stores_id("spareVenueId"),
            body={"name": "Spare {{slug}}", "address": "Nowhere 1", "city": "Roskilde"},
            headers=a,
        ),
        request(
            "Delete a venue without events",
            "DELETE",
            "/api/admin/venues/{{spareVenueId}}",
            status(204),
            headers=a,
        ),
        request(
            "Create a throwaway category",
            "POST",
            "/api/admin/categories",
            status(201) + stores_id("spareCategoryId"),
            body={"slug": "{{slug}}-spare", "name": "Spare {{slug}}"},
            headers=a,
        ),
        request(
            "Delete a category without events",
            "DELETE",
            "/api/admin/categories/{{spareCategoryId}}",
            status(204),
            headers=a,
        ),
    ]
    return {
        "name": "Admin – catalogue, reports, check-in",
        "item": items,
        "description": "Admin routes with the demo admin (adminEmail/adminPassword in the environment).",
    }


def collection() -> dict:
    return {
        "info": {
            "name": "shop",
            "description": "The shop API, one folder per course week. Set `baseUrl` in the "
            "environment (local: http://127.0.0.1:5000). Each folder runs alone (its first "
            "requests, named Setup, create or find what it needs) or in order with the others.",
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "item": [week3(), week4(), week5(), admin()],
        "variable": [
            {"key": key, "value": ""}
            for key in (
                "eventId",
                "ticketTypeId",
                "firstPageIds",
                "email",
                "password",
                "accessToken",
                "refreshToken",
                "cartToken",
                "itemId",
                "expectedTotal",
                "idempotencyKey",
                "orderId",
                "adminToken",
                "slug",
                "categoryId",
                "venueId",
                "startsAt",
                "endsAt",
                "adminEventId",
                "adminTicketTypeId",
                "ticketCode",
                "draftId",
                "draftTierId",
                "spareVenueId",
                "spareCategoryId",
            )
        ],
    }


def environment() -> dict:
    return {
        "name": "shop local",
        "values": [
            {"key": "baseUrl", "value": "http://127.0.0.1:5000", "enabled": True},
            # The demo admin `flask seed` creates (README); on Render use your own admin.
            {"key": "adminEmail", "value": "admin@example.com", "enabled": True},
            {"key": "adminPassword", "value": "Admin-Pass-2026", "enabled": True},
        ],
        "_postman_variable_scope": "environment",
    }


def render_environment() -> dict:
    """The deployed service: replace the host with your Render service's, and the admin with
    the one you created there (`flask create-admin` in the Render shell)."""
    return {
        "name": "shop on Render",
        "values": [
            {"key": "baseUrl", "value": "https://YOUR-SERVICE.onrender.com", "enabled": True},
            {"key": "adminEmail", "value": "you@example.com", "enabled": True},
            {"key": "adminPassword", "value": "", "enabled": True, "type": "secret"},
        ],
        "_postman_variable_scope": "environment",
    }


def render() -> dict[Path, str]:
    return {
        COLLECTION: json.dumps(collection(), indent=2, ensure_ascii=False) + "\n",
        ENVIRONMENT: json.dumps(environment(), indent=2) + "\n",
        RENDER_ENVIRONMENT: json.dumps(render_environment(), indent=2) + "\n",
    }


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for path, content in render().items():
        path.write_text(content)
        print(f"wrote {path.relative_to(OUT.parent.parent)}")
    sys.exit(0)
