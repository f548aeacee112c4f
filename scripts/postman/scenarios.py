"""The Postman collection as a table: one folder per course week, one `Step` per request.

A step names its operation by `operationId`; scripts/build_postman.py takes the method and the
path from the OpenAPI document, so a renamed route cannot leave the collection behind. The
JavaScript lives in the .js files next to this one; a step names the functions its scripts call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Step:
    """One request and the checks run on its answer."""

    name: str
    operation: str  # operationId in the OpenAPI document (or in DOCUMENTATION_ROUTES)
    status: int  # the expected status; an error status also expects a problem+json body
    code: str | None = None  # the problem's `code`, for an error status
    params: dict[str, Any] = field(default_factory=dict)  # every path parameter
    query: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    prerequest: tuple[str, ...] = ()  # functions run before the request is sent
    tests: tuple[str, ...] = ()  # functions run on the answer, after the status check
    saves: dict[str, str] = field(default_factory=dict)  # variable: dotted path in the body
    description: str = ""  # default: the operation's summary


@dataclass(frozen=True)
class Folder:
    name: str
    description: str
    steps: list[Step]


# Served beside the API but not described by the document itself.
DOCUMENTATION_ROUTES = {
    "getOpenApiDocument": ("GET", "/api/openapi.json"),
    "getSwaggerUi": ("GET", "/api/docs"),
}

# Operations of the document that no step exercises, each with the reason (none today).
NOT_EXERCISED: dict[str, str] = {}

CUSTOMER = {"Authorization": "Bearer {{accessToken}}"}
REFRESH = {"Authorization": "Bearer {{refreshToken}}"}
GUEST = {"X-Cart-Token": "{{cartToken}}"}
ADMIN = {"Authorization": "Bearer {{adminToken}}"}
IDEMPOTENT = {**CUSTOMER, "Idempotency-Key": "{{idempotencyKey}}"}
TOKENS = {"accessToken": "data.accessToken", "refreshToken": "data.refreshToken"}
NO_SUCH_ID = 999999999

FIND_BUYABLE_TICKET_TYPE = Step(
    "Setup: an event with seats on sale",
    "getEvent",
    200,
    params={"eventId": "{{eventId}}"},
    prerequest=("findBuyableTicketType",),
    tests=("expectBuyableTicketType",),
    description="Finds an event and ticket type to buy in its pre-request script.",
)


def sign_up_customer(label: str) -> Step:
    """Setup: a new customer, signed in (email, password, accessToken, refreshToken)."""
    return Step(
        f"Setup: sign up a customer for {label}",
        "signUp",
        201,
        body={"email": "{{email}}", "password": "{{password}}", "name": f"Postman {label}"},
        prerequest=("newCustomerCredentials",),
        tests=("expectNewCustomer",),
        saves=TOKENS,
    )


WEEK_3 = Folder(
    "Week 3 – public catalogue",
    "Public GET API: events with search, filters, sorting and pagination.",
    [
        Step("Health", "getHealth", 200, tests=("expectJson", "expectRequestId", "expectHealthy")),
        Step(
            "List events (page 1)",
            "listEvents",
            200,
            query={"page": 1, "pageSize": 5},
            tests=("expectListEnvelope", "expectUpcomingEventsSoonestFirst"),
        ),
        Step(
            "List events (page 2)",
            "listEvents",
            200,
            query={"page": 2, "pageSize": 5},
            tests=("expectListEnvelope", "expectSecondPageWithoutOverlap"),
        ),
        Step(
            "Page past the end is empty",
            "listEvents",
            200,
            query={"page": 100000, "pageSize": 100},
            tests=("expectListEnvelope", "expectNoItems"),
        ),
        Step(
            "Search events (q)",
            "listEvents",
            200,
            query={"q": "jazz copenhagen"},
            tests=("expectListEnvelope", "expectJazzInCopenhagen"),
        ),
        Step(
            "Filter by category and city, cheapest first",
            "listEvents",
            200,
            query={"category": "jazz", "city": "Copenhagen", "sort": "price"},
            tests=("expectListEnvelope", "expectOnlyJazzInCopenhagenCheapestFirst"),
        ),
        Step(
            "Only events with seats left, price range",
            "listEvents",
            200,
            query={"available": "true", "minPrice": 100, "maxPrice": 300},
            tests=("expectListEnvelope", "expectSeatsLeftWithinPriceRange"),
        ),
        Step(
            "Event detail",
            "getEvent",
            200,
            params={"eventId": "{{eventId}}"},
            tests=("expectJson", "expectEventWithTicketTypes"),
        ),
        Step(
            "Unknown event is a 404 problem",
            "getEvent",
            404,
            params={"eventId": NO_SUCH_ID},
        ),
        Step(
            "Invalid pageSize is a 422 problem",
            "listEvents",
            422,
            query={"pageSize": 0},
            tests=("expectPageSizeNamed",),
        ),
        Step(
            "List categories",
            "listCategories",
            200,
            tests=("expectListEnvelope", "expectCategories"),
        ),
        Step(
            "List venues in a city",
            "listVenues",
            200,
            query={"city": "Aarhus"},
            tests=("expectListEnvelope", "expectOnlyVenuesInAarhus"),
        ),
        Step(
            "OpenAPI document",
            "getOpenApiDocument",
            200,
            tests=("expectOpenApi3",),
            description="The OpenAPI document of this API.",
        ),
        Step(
            "Swagger UI",
            "getSwaggerUi",
            200,
            tests=("expectSwaggerPage",),
            description="The API's documentation, served offline.",
        ),
    ],
)

WEEK_4 = Folder(
    "Week 4 – auth and cart",
    "Signup, login, me, refresh, logout; a guest cart merged at login; cart lines.",
    [
        FIND_BUYABLE_TICKET_TYPE,
        Step(
            "Sign up (a fresh user per run)",
            "signUp",
            201,
            body={"email": "{{email}}", "password": "{{password}}", "name": "Postman Week 4"},
            prerequest=("newCustomerCredentials",),
            tests=("expectSignedUp",),
            saves=TOKENS,
        ),
        Step(
            "Sign up again: email taken",
            "signUp",
            409,
            code="email_taken",
            body={"email": "{{email}}", "password": "{{password}}", "name": "Again"},
        ),
        Step("Me", "getMe", 200, headers=CUSTOMER, tests=("expectMe",)),
        Step("Me without a token is a 401 problem", "getMe", 401, code="token_missing"),
        Step(
            "Refresh the access token",
            "refreshAccessToken",
            200,
            headers=REFRESH,
            tests=("expectBothTokens",),
            saves=TOKENS,
        ),
        Step(
            "Guest: add to a new cart",
            "addCartItem",
            201,
            body={"ticketTypeId": "{{ticketTypeId}}", "quantity": 1},
            tests=("expectCartShape", "expectGuestCartWithToken"),
            saves={"cartToken": "data.cartToken"},
        ),
        Step(
            "Guest: show the cart",
            "getCart",
            200,
            headers=GUEST,
            tests=("expectCartShape", "expectOneLineHeld"),
        ),
        Step(
            "Log in with the guest cart: it merges",
            "logIn",
            200,
            body={"email": "{{email}}", "password": "{{password}}"},
            headers=GUEST,
            tests=("expectGuestCartMerged",),
            saves=TOKENS,
        ),
        Step(
            "Merged guest token no longer works",
            "getCart",
            404,
            code="cart_not_found",
            headers=GUEST,
        ),
        Step(
            "My cart",
            "getCart",
            200,
            headers=CUSTOMER,
            tests=("expectCartShape", "expectMergedLineIsMine"),
            saves={"itemId": "data.items.0.id"},
        ),
        Step(
            "Change a line's quantity",
            "updateCartItem",
            200,
            params={"itemId": "{{itemId}}"},
            body={"quantity": 2},
            headers=CUSTOMER,
            tests=("expectCartShape", "expectQuantityTwo"),
        ),
        Step(
            "Quantity 0 is a 422 problem",
            "updateCartItem",
            422,
            params={"itemId": "{{itemId}}"},
            body={"quantity": 0},
            headers=CUSTOMER,
            tests=("expectQuantityNamed",),
        ),
        Step(
            "Someone else's line is a 404",
            "removeCartItem",
            404,
            params={"itemId": NO_SUCH_ID},
            headers=CUSTOMER,
        ),
        Step(
            "Remove the line",
            "removeCartItem",
            200,
            params={"itemId": "{{itemId}}"},
            headers=CUSTOMER,
            tests=("expectCartShape", "expectEmptyCartSeatsReleased"),
        ),
        Step(
            "Add by eventId and ticketTypeId",
            "addCartItem",
            201,
            body={"eventId": "{{eventId}}", "ticketTypeId": "{{ticketTypeId}}", "quantity": 1},
            headers=CUSTOMER,
            tests=("expectCartShape", "expectOneLine"),
            saves={"itemId": "data.items.0.id"},
        ),
        Step(
            "Empty the cart",
            "emptyCart",
            200,
            headers=CUSTOMER,
            tests=("expectCartShape", "expectEmptyCart"),
        ),
        Step(
            "Log out (revokes both tokens)",
            "logOut",
            204,
            body={"refreshToken": "{{refreshToken}}"},
            headers=CUSTOMER,
        ),
        Step(
            "Revoked token is a 401 problem",
            "getMe",
            401,
            code="token_revoked",
            headers=CUSTOMER,
        ),
    ],
)

WEEK_5 = Folder(
    "Week 5 – checkout and orders",
    "Checkout (idempotent), order history, order detail, tickets, cancellation.",
    [
        FIND_BUYABLE_TICKET_TYPE,
        sign_up_customer("week 5"),
        Step(
            "Log in",
            "logIn",
            200,
            body={"email": "{{email}}", "password": "{{password}}"},
            saves=TOKENS,
        ),
        Step(
            "Put two tickets in the cart",
            "addCartItem",
            201,
            body={"ticketTypeId": "{{ticketTypeId}}", "quantity": 2},
            headers=CUSTOMER,
            tests=("expectCartShape", "expectTwoTicketsHeld"),
            saves={"expectedTotal": "data.subtotal"},
        ),
        Step(
            "Check out (idempotent, with the expected total)",
            "checkout",
            201,
            body={"expectedTotal": "{{expectedTotal}}"},
            headers=IDEMPOTENT,
            prerequest=("newIdempotencyKey",),
            tests=("expectConfirmedOrder",),
            saves={"orderId": "data.id"},
        ),
        Step(
            "Retry with the same key: the same order, replayed",
            "checkout",
            201,
            body={"expectedTotal": "{{expectedTotal}}"},
            headers=IDEMPOTENT,
            tests=("expectReplayedOrder",),
        ),
        Step(
            "Check out an empty cart: 422",
            "checkout",
            422,
            code="cart_empty",
            headers=CUSTOMER,
        ),
        Step(
            "My orders",
            "listOrders",
            200,
            headers=CUSTOMER,
            tests=("expectListEnvelope", "expectNewestOrderFirst"),
        ),
        Step(
            "Order detail with tickets",
            "getOrder",
            200,
            params={"orderId": "{{orderId}}"},
            headers=CUSTOMER,
            tests=("expectOrderWithTickets",),
        ),
        Step(
            "My tickets",
            "listTickets",
            200,
            headers=CUSTOMER,
            tests=("expectListEnvelope", "expectOrderTicketsListed"),
        ),
        Step(
            "Someone else's (or no) order: 404",
            "getOrder",
            404,
            params={"orderId": NO_SUCH_ID},
            headers=CUSTOMER,
        ),
        Step(
            "Cancel the order",
            "cancelOrder",
            200,
            params={"orderId": "{{orderId}}"},
            headers=CUSTOMER,
            tests=("expectOrderCancelled",),
        ),
        Step(
            "Cancel twice: 409",
            "cancelOrder",
            409,
            code="order_not_cancellable",
            params={"orderId": "{{orderId}}"},
            headers=CUSTOMER,
        ),
    ],
)

EVENT = {
    "title": "Postman Live",
    "description": "Made by newman.",
    "startsAt": "{{startsAt}}",
    "endsAt": "{{endsAt}}",
    "venueId": "{{venueId}}",
    "categoryId": "{{categoryId}}",
}
ADMIN_EVENT = {"eventId": "{{adminEventId}}"}
ADMIN_TICKET_TYPE = {"ticketTypeId": "{{adminTicketTypeId}}"}

ADMIN_FOLDER = Folder(
    "Admin – catalogue, reports, check-in",
    "Admin routes with the demo admin (adminEmail/adminPassword in the environment).",
    [
        sign_up_customer("admin"),
        Step(
            "Admin: sign in (demo admin from the seed)",
            "logIn",
            200,
            body={"email": "{{adminEmail}}", "password": "{{adminPassword}}"},
            tests=("expectAdmin",),
            saves={"adminToken": "data.accessToken"},
        ),
        Step("Customers are refused: 403", "listAdminEvents", 403, headers=CUSTOMER),
        Step(
            "Create a category",
            "createCategory",
            201,
            body={"slug": "{{slug}}", "name": "Postman {{slug}}"},
            headers=ADMIN,
            prerequest=("newSlug",),
            saves={"categoryId": "data.id"},
        ),
        Step(
            "Duplicate category slug: 409",
            "createCategory",
            409,
            body={"slug": "{{slug}}", "name": "Another {{slug}}"},
            headers=ADMIN,
        ),
        Step(
            "Rename the category (PATCH)",
            "updateCategory",
            200,
            params={"categoryId": "{{categoryId}}"},
            body={"name": "Renamed {{slug}}"},
            headers=ADMIN,
            tests=("expectRenamed",),
        ),
        Step(
            "Replace the category (PUT)",
            "replaceCategory",
            200,
            params={"categoryId": "{{categoryId}}"},
            body={"slug": "{{slug}}", "name": "Replaced {{slug}}"},
            headers=ADMIN,
        ),
        Step(
            "Create a venue",
            "createVenue",
            201,
            body={"name": "Postman Hall {{slug}}", "address": "Testvej 1", "city": "Roskilde"},
            headers=ADMIN,
            saves={"venueId": "data.id"},
        ),
        Step(
            "Change the venue (PATCH)",
            "updateVenue",
            200,
            params={"venueId": "{{venueId}}"},
            body={"address": "Testvej 2"},
            headers=ADMIN,
        ),
        Step(
            "Replace the venue (PUT)",
            "replaceVenue",
            200,
            params={"venueId": "{{venueId}}"},
            body={"name": "Postman Hall {{slug}}", "address": "Testvej 3", "city": "Roskilde"},
            headers=ADMIN,
        ),
        Step(
            "Create an event (a draft)",
            "createEvent",
            201,
            body=EVENT,
            headers=ADMIN,
            prerequest=("eventDatesNextMonth",),
            tests=("expectDraft",),
            saves={"adminEventId": "data.id"},
        ),
        Step(
            "Ends before it starts: 422",
            "updateEvent",
            422,
            params=ADMIN_EVENT,
            body={"endsAt": "2020-01-01T00:00:00Z"},
            headers=ADMIN,
        ),
        Step(
            "Publish without ticket types: 409",
            "publishEvent",
            409,
            params=ADMIN_EVENT,
            headers=ADMIN,
        ),
        Step(
            "Add a ticket type",
            "createTicketType",
            201,
            params=ADMIN_EVENT,
            body={"name": "Standard", "price": "199.00", "capacity": 5, "maxPerOrder": 5},
            headers=ADMIN,
            tests=("expectPricedInDkk",),
            saves={"adminTicketTypeId": "data.id"},
        ),
        Step(
            "Change the ticket type (PATCH)",
            "updateTicketType",
            200,
            params=ADMIN_TICKET_TYPE,
            body={"capacity": 8, "maxPerCustomer": 4},
            headers=ADMIN,
            tests=("expectCapacityEightFourPerCustomer",),
        ),
        Step(
            "Replace the ticket type (PUT)",
            "replaceTicketType",
            200,
            params=ADMIN_TICKET_TYPE,
            body={"name": "Standard", "price": "199.00", "capacity": 8, "maxPerOrder": 4},
            headers=ADMIN,
        ),
        Step(
            "Change the event (PATCH)",
            "updateEvent",
            200,
            params=ADMIN_EVENT,
            body={"description": "Changed by newman."},
            headers=ADMIN,
        ),
        Step(
            "Replace the event (PUT)",
            "replaceEvent",
            200,
            params=ADMIN_EVENT,
            body={**EVENT, "title": "Postman Live!", "description": "Replaced."},
            headers=ADMIN,
        ),
        Step(
            "Publish the event",
            "publishEvent",
            200,
            params=ADMIN_EVENT,
            headers=ADMIN,
            tests=("expectPublished",),
        ),
        Step(
            "Show the event (admin view)",
            "getAdminEvent",
            200,
            params=ADMIN_EVENT,
            headers=ADMIN,
            tests=("expectNothingSold",),
        ),
        Step(
            "List every event (drafts too)",
            "listAdminEvents",
            200,
            query={"status": "draft", "pageSize": 5},
            headers=ADMIN,
            tests=("expectListEnvelope",),
        ),
        Step(
            "Customer buys two tickets (to have sales)",
            "addCartItem",
            201,
            body={"ticketTypeId": "{{adminTicketTypeId}}", "quantity": 2},
            headers=CUSTOMER,
        ),
        Step(
            "Customer checks out",
            "checkout",
            201,
            headers=CUSTOMER,
            saves={"ticketCode": "data.items.0.tickets.0.code"},
        ),
        Step(
            "Capacity below sold: 409",
            "updateTicketType",
            409,
            params=ADMIN_TICKET_TYPE,
            body={"capacity": 1},
            headers=ADMIN,
        ),
        Step(
            "Check a ticket in",
            "checkInTicket",
            200,
            params={"code": "{{ticketCode}}"},
            headers=ADMIN,
            tests=("expectTicketUsed",),
        ),
        Step(
            "Second scan: 409 saying when",
            "checkInTicket",
            409,
            params={"code": "{{ticketCode}}"},
            headers=ADMIN,
            tests=("expectFirstScanTime",),
        ),
        Step(
            "Sales report",
            "getSalesReport",
            200,
            query={"pageSize": 10},
            headers=ADMIN,
            tests=("expectListEnvelope", "expectSalesFiguresAddUp"),
        ),
        Step(
            "Sales report as CSV",
            "getSalesReport",
            200,
            query={"pageSize": 5},
            headers={**ADMIN, "Accept": "text/csv"},
            tests=("expectCsvWithHeaderRow",),
        ),
        Step(
            "Overview",
            "getSalesOverview",
            200,
            headers=ADMIN,
            tests=("expectOverview",),
        ),
        Step(
            "Deleting an event with sales: 409",
            "deleteEvent",
            409,
            params=ADMIN_EVENT,
            headers=ADMIN,
        ),
        Step(
            "Deleting a ticket type with sales: 409",
            "deleteTicketType",
            409,
            params=ADMIN_TICKET_TYPE,
            headers=ADMIN,
        ),
        Step(
            "Cancel the event",
            "cancelEvent",
            200,
            params=ADMIN_EVENT,
            headers=ADMIN,
            tests=("expectEventCancelled",),
        ),
        Step(
            "Venue in use cannot be deleted: 409",
            "deleteVenue",
            409,
            params={"venueId": "{{venueId}}"},
            headers=ADMIN,
        ),
        Step(
            "Category in use cannot be deleted: 409",
            "deleteCategory",
            409,
            params={"categoryId": "{{categoryId}}"},
            headers=ADMIN,
        ),
        Step(
            "Create a throwaway draft",
            "createEvent",
            201,
            body={
                "title": "Throwaway",
                "startsAt": "{{startsAt}}",
                "endsAt": "{{endsAt}}",
                "venueId": "{{venueId}}",
                "categoryId": "{{categoryId}}",
            },
            headers=ADMIN,
            saves={"draftId": "data.id"},
        ),
        Step(
            "Add a throwaway ticket type",
            "createTicketType",
            201,
            params={"eventId": "{{draftId}}"},
            body={"name": "Gone soon", "price": "0.00", "capacity": 1},
            headers=ADMIN,
            saves={"draftTicketTypeId": "data.id"},
        ),
        Step(
            "Delete a ticket type without sales",
            "deleteTicketType",
            204,
            params={"ticketTypeId": "{{draftTicketTypeId}}"},
            headers=ADMIN,
        ),
        Step(
            "Delete an event without sales",
            "deleteEvent",
            204,
            params={"eventId": "{{draftId}}"},
            headers=ADMIN,
        ),
        Step(
            "Create a throwaway venue",
            "createVenue",
            201,
            body={"name": "Spare {{slug}}", "address": "Nowhere 1", "city": "Roskilde"},
            headers=ADMIN,
            saves={"spareVenueId": "data.id"},
        ),
        Step(
            "Delete a venue without events",
            "deleteVenue",
            204,
            params={"venueId": "{{spareVenueId}}"},
            headers=ADMIN,
        ),
        Step(
            "Create a throwaway category",
            "createCategory",
            201,
            body={"slug": "{{slug}}-spare", "name": "Spare {{slug}}"},
            headers=ADMIN,
            saves={"spareCategoryId": "data.id"},
        ),
        Step(
            "Delete a category without events",
            "deleteCategory",
            204,
            params={"categoryId": "{{spareCategoryId}}"},
            headers=ADMIN,
        ),
    ],
)

FOLDERS = [WEEK_3, WEEK_4, WEEK_5, ADMIN_FOLDER]
