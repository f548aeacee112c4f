"""Admin routes: every one needs a signed-in admin (401 without a token, 403 for customers).

The auth decorator sits on top of each method: a request is authenticated before its body or
query is even parsed, so anonymous callers learn nothing from validation errors.
"""

from __future__ import annotations

from flask import request
from flask.views import MethodView

from shop.admin.sales_csv import sales_csv
from shop.admin.schemas import (
    AdminEventCancelledEnvelopeSchema,
    AdminEventEnvelopeSchema,
    AdminEventPageSchema,
    AdminEventQuerySchema,
    AdminTicketTypeEnvelopeSchema,
    CategoryCreateSchema,
    CategoryEnvelopeSchema,
    CategoryUpdateSchema,
    CheckInEnvelopeSchema,
    EventCancelled,
    EventCreateSchema,
    EventUpdateSchema,
    OverviewEnvelopeSchema,
    SalesPageSchema,
    SalesQuerySchema,
    TicketTypeCreateSchema,
    TicketTypeUpdateSchema,
    VenueCreateSchema,
    VenueEnvelopeSchema,
    VenueUpdateSchema,
)
from shop.auth.guards import admin_required
from shop.extensions import db
from shop.openapi import ID, Blueprint
from shop.services import admin_catalog, checkin, reports

blp = Blueprint(
    "admin",
    __name__,
    url_prefix="/api/admin",
    description="Catalogue management, reports, check-in (admins)",
)

ADMIN = {"security": [{"bearerAuth": []}]}


def admin_doc(*codes: int):
    """Document the admin guard's 401/403 plus `codes` on a route."""
    names = {
        401: ("UNAUTHORIZED", "Not signed in"),
        403: ("FORBIDDEN", "Signed in, but not as an admin"),
        404: ("NOT_FOUND", "No such resource"),
        409: ("CONFLICT", "Refused by a rule (in use, has sales, status)"),
    }

    def decorate(view):
        view = blp.doc(**ADMIN)(view)
        for code in (401, 403, *codes):
            name, description = names[code]
            view = blp.alt_response(code, response=name, description=description)(view)
        return view

    return decorate


def committed(value):
    db.session.commit()
    return value


# --- categories ---------------------------------------------------------------------------------


@blp.route("/categories")
class AdminCategories(MethodView):
    @admin_required
    @admin_doc(409)
    @blp.arguments(CategoryCreateSchema)
    @blp.response(201, CategoryEnvelopeSchema)
    def post(self, body):
        """Create a category

        `slug` (lower-case words joined by hyphens) and `name` are unique.
        """
        return committed({"data": admin_catalog.create_category(db.session, body)})


@blp.route(f"/categories/<{ID}:categoryId>")
class AdminCategory(MethodView):
    @admin_required
    @admin_doc(404, 409)
    @blp.arguments(CategoryCreateSchema)
    @blp.response(200, CategoryEnvelopeSchema)
    def put(self, body, categoryId: int):  # path parameters are wire names, so camelCase
        """Replace a category

        Send both `slug` and `name`; each stays unique (409 when taken).
        """
        return committed({"data": admin_catalog.update_category(db.session, categoryId, body)})

    @admin_required
    @admin_doc(404, 409)
    @blp.arguments(CategoryUpdateSchema(partial=True))
    @blp.response(200, CategoryEnvelopeSchema)
    def patch(self, body, categoryId: int):
        """Change some fields of a category

        Send only what changes; `slug` and `name` stay unique (409 when taken).
        """
        return committed({"data": admin_catalog.update_category(db.session, categoryId, body)})

    @admin_required
    @admin_doc(404, 409)
    @blp.response(204)
    def delete(self, categoryId: int):
        """Delete a category

        Refused (409) while events use it.
        """
        admin_catalog.delete_category(db.session, categoryId)
        db.session.commit()


# --- venues ------------------------------------------------------------------------------------


@blp.route("/venues")
class AdminVenues(MethodView):
    @admin_required
    @admin_doc(409)
    @blp.arguments(VenueCreateSchema)
    @blp.response(201, VenueEnvelopeSchema)
    def post(self, body):
        """Create a venue

        A venue's name is unique within its city.
        """
        return committed({"data": admin_catalog.create_venue(db.session, body)})


@blp.route(f"/venues/<{ID}:venueId>")
class AdminVenue(MethodView):
    @admin_required
    @admin_doc(404, 409)
    @blp.arguments(VenueCreateSchema)
    @blp.response(200, VenueEnvelopeSchema)
    def put(self, body, venueId: int):
        """Replace a venue

        Send `name`, `address` and `city`; the name stays unique within its city.
        """
        return committed({"data": admin_catalog.update_venue(db.session, venueId, body)})

    @admin_required
    @admin_doc(404, 409)
    @blp.arguments(VenueUpdateSchema(partial=True))
    @blp.response(200, VenueEnvelopeSchema)
    def patch(self, body, venueId: int):
        """Change some fields of a venue

        Send only what changes; events at the venue see the change (and search finds it).
        """
        return committed({"data": admin_catalog.update_venue(db.session, venueId, body)})

    @admin_required
    @admin_doc(404, 409)
    @blp.response(204)
    def delete(self, venueId: int):
        """Delete a venue

        Refused (409) while events take place there.
        """
        admin_catalog.delete_venue(db.session, venueId)
        db.session.commit()


# --- events ------------------------------------------------------------------------------------


def event_with_tiers(event_id: int) -> dict:
    return {"data": admin_catalog.get_event(db.session, event_id)}


@blp.route("/events")
class AdminEvents(MethodView):
    @admin_required
    @admin_doc()
    @blp.arguments(AdminEventQuerySchema, location="query", as_kwargs=True)
    @blp.response(200, AdminEventPageSchema)
    def get(self, page: int, page_size: int, status: str | None = None):
        """List every event

        Drafts, published and cancelled events, soonest first, with their ticket types and
        seats sold; `status` narrows the list.
        """
        return admin_catalog.list_events(db.session, status, page, page_size).envelope()

    @admin_required
    @admin_doc()
    @blp.arguments(EventCreateSchema)
    @blp.response(201, AdminEventEnvelopeSchema)
    def post(self, body):
        """Create an event (as a draft)

        New events are drafts, invisible to the public, until published with
        POST /api/admin/events/{eventId}/publish (which needs at least one ticket type).
        """
        event = admin_catalog.create_event(db.session, body)
        db.session.commit()
        return event_with_tiers(event.id)


@blp.route(f"/events/<{ID}:eventId>")
class AdminEvent(MethodView):
    @admin_required
    @admin_doc(404)
    @blp.response(200, AdminEventEnvelopeSchema)
    def get(self, eventId: int):
        """Show an event with its ticket types and seats sold

        Any status, drafts included.
        """
        return event_with_tiers(eventId)

    @admin_required
    @admin_doc(404, 409)
    @blp.arguments(EventCreateSchema)
    @blp.response(200, AdminEventEnvelopeSchema)
    def put(self, body, eventId: int):
        """Replace an event's details

        Status changes go through publish and cancel; a cancelled event cannot be edited.
        """
        admin_catalog.update_event(db.session, eventId, body)
        db.session.commit()
        return event_with_tiers(eventId)

    @admin_required
    @admin_doc(404, 409)
    @blp.arguments(EventUpdateSchema(partial=True))
    @blp.response(200, AdminEventEnvelopeSchema)
    def patch(self, body, eventId: int):
        """Change some of an event's details

        The event must still end after it starts once the change is applied.
        """
        admin_catalog.update_event(db.session, eventId, body)
        db.session.commit()
        return event_with_tiers(eventId)

    @admin_required
    @admin_doc(404, 409)
    @blp.response(204)
    def delete(self, eventId: int):
        """Delete an event

        Only events with no sales (a 409 otherwise: cancel it instead). Its ticket types and
        the cart lines holding them go with it.
        """
        admin_catalog.delete_event(db.session, eventId)
        db.session.commit()


@blp.route(f"/events/<{ID}:eventId>/publish")
class AdminEventPublish(MethodView):
    @admin_required
    @admin_doc(404, 409)
    @blp.response(200, AdminEventEnvelopeSchema)
    def post(self, eventId: int):
        """Publish a draft event

        It appears in the public listing and its ticket types go on sale (within their sales
        windows). Only drafts with at least one ticket type can be published.
        """
        admin_catalog.publish_event(db.session, eventId)
        db.session.commit()
        return event_with_tiers(eventId)


@blp.route(f"/events/<{ID}:eventId>/cancel")
class AdminEventCancel(MethodView):
    @admin_required
    @admin_doc(404, 409)
    @blp.response(200, AdminEventCancelledEnvelopeSchema)
    def post(self, eventId: int):
        """Cancel an event

        Nothing more can be bought; every valid ticket for it becomes `void` and its seat
        leaves `sold`; orders containing only this event become `cancelled` (orders that also
        hold tickets for other events stay confirmed). `cancellation` says how many of each.
        Cancelling twice is a 409.
        """
        now = db.session.scalar(db.select(db.func.now()))
        effects = admin_catalog.cancel_event(db.session, eventId, now)
        db.session.commit()
        event = admin_catalog.get_event(db.session, eventId)
        return {"data": EventCancelled(event, effects)}


@blp.route(f"/events/<{ID}:eventId>/ticket-types")
class AdminTicketTypes(MethodView):
    @admin_required
    @admin_doc(404, 409)
    @blp.arguments(TicketTypeCreateSchema)
    @blp.response(201, AdminTicketTypeEnvelopeSchema)
    def post(self, body, eventId: int):
        """Add a ticket type to an event

        Priced in the event's currency; `price` >= 0, `capacity` >= 1; names are unique per event.
        """
        return committed({"data": admin_catalog.create_ticket_type(db.session, eventId, body)})


@blp.route(f"/ticket-types/<{ID}:ticketTypeId>")
class AdminTicketType(MethodView):
    @admin_required
    @admin_doc(404, 409)
    @blp.arguments(TicketTypeCreateSchema)
    @blp.response(200, AdminTicketTypeEnvelopeSchema)
    def put(self, body, ticketTypeId: int):
        """Replace a ticket type

        `capacity` can never go below the tickets already sold (409).
        """
        return committed({"data": admin_catalog.update_ticket_type(db.session, ticketTypeId, body)})

    @admin_required
    @admin_doc(404, 409)
    @blp.arguments(TicketTypeUpdateSchema(partial=True))
    @blp.response(200, AdminTicketTypeEnvelopeSchema)
    def patch(self, body, ticketTypeId: int):
        """Change some fields of a ticket type

        `capacity` can never go below the tickets already sold (409).
        """
        return committed({"data": admin_catalog.update_ticket_type(db.session, ticketTypeId, body)})

    @admin_required
    @admin_doc(404, 409)
    @blp.response(204)
    def delete(self, ticketTypeId: int):
        """Delete a ticket type

        Only without sales (a 409 otherwise: cancel the event instead).
        """
        admin_catalog.delete_ticket_type(db.session, ticketTypeId)
        db.session.commit()


# --- reports and check-in -----------------------------------------------------------------------


@blp.route("/reports/sales")
class SalesReport(MethodView):
    @admin_required
    @admin_doc()
    @blp.arguments(SalesQuerySchema, location="query", as_kwargs=True)
    @blp.response(
        200,
        SalesPageSchema,
        description="JSON, or CSV (one row per ticket type) with `Accept: text/csv`",
    )
    @blp.doc(
        responses={
            200: {
                "content": {
                    "text/csv": {
                        "schema": {"type": "string", "example": "event_id,event_title,..."}
                    }
                }
            }
        }
    )
    def get(self, page: int, page_size: int, starts_from=None, starts_to=None):
        """Sales per event and per ticket type

        For events starting between `from` and `to`: capacity, sold, held (in carts with a live
        hold), remaining, revenue of confirmed orders, sell-through (sold / capacity) and
        number of orders — per event and per ticket type, computed by PostgreSQL in one query.
        Send `Accept: text/csv` for a spreadsheet (one row per ticket type).
        """
        report = reports.sales_report(db.session, starts_from, starts_to, page, page_size)
        if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
            return sales_csv(report)
        return report.envelope()


@blp.route("/reports/overview")
class OverviewReport(MethodView):
    @admin_required
    @admin_doc()
    @blp.response(200, OverviewEnvelopeSchema)
    def get(self):
        """Sales overview

        Totals (confirmed and cancelled orders, tickets, revenue, upcoming events, customers),
        the five events with the most revenue, and orders, tickets and revenue per day
        (Copenhagen time) for the last 30 days.
        """
        return {"data": reports.overview(db.session)}


@blp.route("/tickets/<string:code>/check-in")
class CheckIn(MethodView):
    @admin_required
    @admin_doc(404, 409)
    @blp.response(200, CheckInEnvelopeSchema)
    def post(self, code: str):
        """Check a ticket in at the door

        Marks the ticket `used`. A second scan is a 409 saying when it was first scanned
        (`firstCheckedInAt`); a void ticket (order or event cancelled) is a 409 too.
        """
        now = db.session.scalar(db.select(db.func.now()))
        ticket, item = checkin.check_in(db.session, code, now)
        db.session.commit()
        return {
            "data": {
                "ticket_id": ticket.id,
                "code": ticket.code,
                "status": ticket.status,
                "checked_in_at": ticket.checked_in_at,
                "event_id": item.event_id,
                "event_title": item.event_title,
                "ticket_type_name": item.ticket_type_name,
                "order_id": item.order_id,
            }
        }
